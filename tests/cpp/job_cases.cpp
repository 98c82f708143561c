// job_cases: jobs through camb.hpp: futures completed by a camb::JobQueue on the
// thread that drives it (dispatch() after poll(2) on its fd, dispatch_until(), get(),
// or the queue's own dispatcher thread), and camb::Job handles that follow and cancel
// a job in flight. All nine operations' job forms; each result is compared with the
// blocking call's; failures come out as the wrapper's Error subclasses with the job's
// own words. Under valgrind (tests/cpp.rs, nothing_leaks_under_valgrind) a job or a
// record freed twice or never would show.
//
//   usage: job_cases BASE_URL API_KEY TMPDIR    (run with CAMB_API_KEY unset)
//
// Built by tests/cpp/CMakeLists.txt and run by its ctest (through run_test.cmake).
// Prints "FAIL line N: ..." for each failed check, then "job checks: all N ok" and
// exits 0, or exits 1.

#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <future>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "camb.hpp"

static_assert(!std::is_copy_constructible_v<camb::Job<camb::TaskInfo>>);
static_assert(!std::is_copy_assignable_v<camb::Job<camb::TaskInfo>>);
static_assert(std::is_nothrow_move_constructible_v<camb::Job<camb::TaskInfo>>);
static_assert(std::is_nothrow_move_assignable_v<camb::Job<camb::TaskInfo>>);
static_assert(!std::is_copy_constructible_v<camb::JobQueue>);
static_assert(!std::is_copy_assignable_v<camb::JobQueue>);
static_assert(std::is_nothrow_move_constructible_v<camb::JobQueue>);
static_assert(std::is_nothrow_move_assignable_v<camb::JobQueue>);

// The future of each of the nine operations, and its Job.
#define q() std::declval<camb::JobQueue&>()
#define c() std::declval<const camb::Client&>()
static_assert(
    std::is_same_v<decltype(c().get_task_status_async("", q())), std::future<camb::TaskInfo>>);
static_assert(std::is_same_v<decltype(c().create_task_async("", q())), std::future<std::string>>);
static_assert(
    std::is_same_v<decltype(c().wait_for_task_async("", q())), std::future<camb::TaskInfo>>);
static_assert(std::is_same_v<decltype(c().download_audio_async(1, q())),
                             std::future<std::vector<std::uint8_t>>>);
static_assert(
    std::is_same_v<decltype(c().save_audio_async(1, "", q())), std::future<std::uint64_t>>);
static_assert(std::is_same_v<decltype(c().get_audio_url_async(1, q())), std::future<std::string>>);
static_assert(std::is_same_v<decltype(c().get_audio_urls_async({}, q())),
                             std::future<std::vector<camb::AudioUrl>>>);
static_assert(std::is_same_v<decltype(c().get_task_statuses_async({}, q())),
                             std::future<std::vector<camb::TaskResult>>>);
static_assert(
    std::is_same_v<decltype(c().generate_async("", "", q())), std::future<camb::Generation>>);
static_assert(std::is_same_v<decltype(c().job_generate("", "")), camb::Job<camb::Generation>>);
static_assert(
    std::is_same_v<decltype(c().job_download_audio(1)), camb::Job<std::vector<std::uint8_t>>>);
static_assert(std::is_same_v<decltype(c().job_get_task_statuses({})),
                             camb::Job<std::vector<camb::TaskResult>>>);
static_assert(
    std::is_same_v<decltype(c().job_get_task_status("").submit(q())), std::future<camb::TaskInfo>>);
static_assert(std::is_same_v<decltype(q().dispatch()), std::size_t>);
static_assert(std::is_same_v<decltype(q().fd()), int>);
#undef q
#undef c

static int checks = 0;
static int failures = 0;

#define CHECK(cond)                                             \
    do {                                                        \
        ++checks;                                               \
        if (!(cond)) {                                          \
            ++failures;                                         \
            std::printf("FAIL line %d: %s\n", __LINE__, #cond); \
        }                                                       \
    } while (0)

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// True when f throws exactly an E (or subclass) with this code (and HTTP status,
// unless http < 0, and words); prints what happened otherwise.
template <class E, class F>
static bool throws(F&& f, camb_result code, int http = -1, const char* contains = nullptr) {
    try {
        f();
    } catch (const E& e) {
        bool ok =
            e.code() == code && (http < 0 || e.http_status() == http) &&
            (contains == nullptr || std::string(e.what()).find(contains) != std::string::npos);
        if (!ok) {
            std::printf("  got %s (HTTP %u): %s\n", e.code_name(), unsigned(e.http_status()),
                        e.what());
        }
        return ok;
    } catch (const std::exception& e) {
        std::printf("  another exception: %s\n", e.what());
        return false;
    }
    std::printf("  nothing was thrown\n");
    return false;
}

// A future of `queue` is ready within a generous bound (valgrind is slow),
// dispatching meanwhile: a job that is never delivered fails a check instead
// of hanging the test.
template <class T>
static bool ready(camb::JobQueue& queue, const std::future<T>& f) {
    return queue.dispatch_until(f, seconds(60));
}

template <class T>
static bool ready_now(const std::future<T>& f) {
    return f.valid() && f.wait_for(seconds(0)) == std::future_status::ready;
}

static bool readable(int fd, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN) != 0;
}

static std::string file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

static bool exists(const std::string& path) { return std::ifstream(path).good(); }

static bool is_wav(const std::string& bytes) {
    return bytes.size() > 44 && bytes.compare(0, 4, "RIFF") == 0 &&
           bytes.compare(8, 4, "WAVE") == 0;
}

static bool same(const camb::TaskInfo& a, const camb::TaskInfo& b) {
    return a.task_id == b.task_id && a.status == b.status && a.status_text == b.status_text &&
           a.run_id == b.run_id && a.exception_reason == b.exception_reason &&
           a.message == b.message;
}

static camb::WaitOptions fast(int interval_ms, int deadline_ms = 30000) {
    camb::WaitOptions w;
    w.initial_interval = milliseconds(interval_ms);
    w.max_interval = milliseconds(interval_ms);
    w.deadline = milliseconds(deadline_ms);
    return w;
}

static long long ms_since(Clock::time_point start) {
    return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

template <class P>
static bool wait_for(P predicate, int timeout_ms = 30000) {
    const auto start = Clock::now();
    while (!predicate()) {
        if (ms_since(start) > timeout_ms) return false;
        std::this_thread::sleep_for(milliseconds(5));
    }
    return true;
}

static std::string download(const camb::Client& client, std::int64_t run_id) {
    std::string bytes;
    client.download_audio(run_id, [&](const std::uint8_t* d, std::size_t n) {
        bytes.append(reinterpret_cast<const char*>(d), n);
        return true;
    });
    return bytes;
}

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: job_cases BASE_URL API_KEY TMPDIR\n");
        return 2;
    }
    const std::string base = argv[1], key = argv[2], dir = argv[3];
    camb::ClientOptions opts;
    opts.base_url = base;
    opts.api_key = key;
    opts.timeout = seconds(10);
    // Declared before the clients: a client goes first and cancels its jobs.
    camb::JobQueue queue;
    const camb::Client client(opts);
    camb::CreateOptions one_second;
    one_second.duration_s = 1;

    // --- a status through a future equals the blocking call's ----------------
    for (const char* id :
         {"demo-success", "demo-error", "demo-pending", "demo-unknown", "nul-task"}) {
        std::future<camb::TaskInfo> f = client.get_task_status_async(id, queue);
        CHECK(ready(queue, f));
        if (ready_now(f)) {
            const camb::TaskInfo info = f.get();
            CHECK(same(info, client.get_task_status(id)));
            CHECK(info.task_id == id);
        }
    }
    CHECK(queue.in_flight() == 0);
    {
        CHECK(queue.get(client.get_task_status_async("nul-task", queue)).status_text ==
              std::string("DONE\0LATER", 10));
        // The job's own code, words and HTTP status, as the blocking call's.
        std::future<camb::TaskInfo> missing = client.get_task_status_async("no-such-task", queue);
        CHECK(ready(queue, missing));
        CHECK(throws<camb::NotFound>([&] { missing.get(); }, CAMB_RESULT_NOT_FOUND, 404,
                                     "HTTP 404 Not Found: Task not found: no-such-task"));
        camb::ClientOptions wrong_key = opts;
        wrong_key.api_key = "wrong-key";
        const camb::Client wrong(wrong_key);
        std::future<camb::TaskInfo> unauthorized =
            wrong.get_task_status_async("demo-success", queue);
        CHECK(ready(queue, unauthorized));
        CHECK(
            throws<camb::Unauthorized>([&] { unauthorized.get(); }, CAMB_RESULT_UNAUTHORIZED, 401));
    }

    // --- a future is completed by dispatch(), on this thread, and nowhere else --
    {
        camb::Job<camb::TaskInfo> job = client.job_get_task_status("demo-success");
        CHECK(job.kind() == camb::JobKind::GetTaskStatus && job.state() == camb::JobState::New &&
              !job.submitted());
        std::future<camb::TaskInfo> f = job.submit(queue);
        CHECK(job.submitted() && queue.in_flight() == 1);
        // Finished on libcamb's threads and put on the queue: the future waits
        // for this thread.
        CHECK(readable(queue.fd(), 20000));
        CHECK(wait_for([&] { return job.state() == camb::JobState::Done; }));
        std::this_thread::sleep_for(milliseconds(50));
        CHECK(!ready_now(f) && queue.in_flight() == 1);
        CHECK(queue.dispatch() == 1);
        CHECK(ready_now(f) && queue.in_flight() == 0 && !readable(queue.fd(), 0));
        CHECK(ready_now(f) && f.get().run_id == 4242);
        CHECK(job.state() == camb::JobState::Done && job.task_status() == camb::Status::Success);
        CHECK(queue.dispatch() == 0 && queue.dispatch(milliseconds(30)) == 0);
    }

    // --- refused jobs throw at once, with libcamb's words ------------------------
    {
        CHECK(throws<camb::Error>([&] { client.get_task_status_async("", queue); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0, "empty"));
        CHECK(throws<camb::Error>(
            [&] { client.get_task_status_async(std::string("demo\0x", 6), queue); },
            CAMB_RESULT_INVALID_PARAMETER, 0, "NUL byte"));
        camb::CreateOptions too_long;
        too_long.duration_s = 11;
        CHECK(throws<camb::Error>(
            [&] { client.generate_async("rain", dir + "/never.wav", too_long, fast(20), queue); },
            CAMB_RESULT_INVALID_PARAMETER, 0));
        // The path is checked before any task is created (and billed).
        CHECK(throws<camb::Error>([&] { client.job_generate("rain", dir + "/no-such-dir/x.wav"); },
                                  CAMB_RESULT_IO, 0, "does not exist"));
        CHECK(
            throws<camb::Error>([&] { client.wait_for_task_async("demo-success", fast(0), queue); },
                                CAMB_RESULT_INVALID_PARAMETER, 0));
        CHECK(throws<camb::Error>([&] { client.create_task_async("", queue); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0));
        CHECK(throws<camb::Error>(
            [&] { client.job_get_audio_urls(std::vector<std::int64_t>(1001, 4242)); },
            CAMB_RESULT_INVALID_PARAMETER, 0, "1001"));
        CHECK(throws<camb::Error>([&] { client.job_get_task_statuses({"demo-success"}, 33); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0));
        CHECK(throws<camb::Error>(
            [&] { client.save_audio_async(4242, dir + std::string("/a\0.wav", 7), queue); },
            CAMB_RESULT_INVALID_PARAMETER, 0, "NUL byte"));
        camb::Client moved(opts);
        const camb::Client taker(std::move(moved));
        CHECK(throws<camb::Error>([&] { moved.get_task_status_async("demo-success", queue); },
                                  CAMB_RESULT_NULL_PARAMETER, 0));
        CHECK(throws<camb::Error>([&] { moved.job_download_audio(4242); },
                                  CAMB_RESULT_NULL_PARAMETER, 0));
        CHECK(!exists(dir + "/never.wav"));
        CHECK(queue.in_flight() == 0);

        // A refused submit leaves the job to its Job, which may submit it again.
        camb::Job<camb::TaskInfo> job = client.job_get_task_status("demo-success");
        camb::JobQueue gone;
        camb::JobQueue other(std::move(gone));
        CHECK(throws<camb::Error>([&] { job.submit(gone); }, CAMB_RESULT_NULL_PARAMETER, 0));
        CHECK(!job.submitted() && job.state() == camb::JobState::New);
        std::future<camb::TaskInfo> f = job.submit(other);
        CHECK(throws<camb::Error>([&] { job.submit(other); }, CAMB_RESULT_INVALID_PARAMETER, 0,
                                  "submitted already"));
        CHECK(ready(other, f) && f.get().run_id == 4242);
        // A job whose client is gone cannot start; its Job frees it.
        std::optional<camb::Job<camb::TaskInfo>> orphan;
        {
            const camb::Client short_lived(opts);
            orphan.emplace(short_lived.job_get_task_status("demo-success"));
        }
        CHECK(throws<camb::Error>([&] { orphan->submit(queue); }, CAMB_RESULT_INVALID_PARAMETER, 0,
                                  "freed"));
        CHECK(queue.in_flight() == 0);
        // Never submitted: freed with its Job (valgrind checks).
        const camb::Job<camb::Generation> unused =
            client.job_generate("unused", dir + "/unused.wav");
    }

    // --- many futures at once, from several threads, each its own result --------
    {
        std::vector<std::future<camb::TaskInfo>> futures;
        for (int i = 0; i < 16; ++i) {
            futures.push_back(client.get_task_status_async(i % 3 == 0 ? "demo-success"
                                                           : i % 3 == 1
                                                               ? "demo-error"
                                                               : "missing-" + std::to_string(i),
                                                           queue));
        }
        for (int i = 0; i < 16; ++i) {
            CHECK(ready(queue, futures[i]));
            if (i % 3 == 0) {
                CHECK(futures[i].get().run_id == 4242);
            } else if (i % 3 == 1) {
                CHECK(futures[i].get().exception_reason == std::string("PROCESSING_ERROR"));
            } else {
                const std::string id = "missing-" + std::to_string(i);
                CHECK(throws<camb::NotFound>([&] { futures[i].get(); }, CAMB_RESULT_NOT_FOUND, 404,
                                             id.c_str()));
            }
        }
        // Four threads share the queue and all dispatch it: each job is taken
        // once, by one of them, and each future still gets its own result.
        int wrong = 0;
        std::vector<std::thread> threads;
        std::vector<int> wrong_per_thread(4, 0);
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&client, &queue, &wrong_per_thread, t] {
                std::vector<std::future<camb::TaskInfo>> mine;
                for (int i = 0; i < 5; ++i) {
                    mine.push_back(client.get_task_status_async(
                        i % 2 == 0 ? "demo-success" : "demo-unknown", queue));
                }
                for (int i = 0; i < 5; ++i) {
                    if (!ready(queue, mine[i])) {
                        ++wrong_per_thread[t];
                        continue;
                    }
                    const camb::TaskInfo info = mine[i].get();
                    if (info.status_text != (i % 2 == 0 ? "SUCCESS" : "QUEUED_FOR_GPU"))
                        ++wrong_per_thread[t];
                }
            });
        }
        for (auto& thread : threads) thread.join();
        for (int w : wrong_per_thread) wrong += w;
        CHECK(wrong == 0);
        CHECK(queue.in_flight() == 0);
    }

    // --- a queue with its own dispatcher thread: future.get() just works --------
    {
        camb::JobQueue threaded(camb::JobQueue::Dispatch::Thread);
        std::vector<std::future<camb::TaskInfo>> futures;
        for (int i = 0; i < 6; ++i) {
            futures.push_back(client.get_task_status_async(
                i % 2 == 0 ? "demo-success" : "no-such-task", threaded));
        }
        std::atomic<int> wrong{0};
        std::vector<std::thread> threads;
        for (int i = 0; i < 6; ++i) {
            threads.emplace_back([&futures, &wrong, i] {
                if (futures[i].wait_for(seconds(60)) != std::future_status::ready) {
                    ++wrong;
                    return;
                }
                try {
                    if (futures[i].get().run_id != 4242 || i % 2 != 0) ++wrong;
                } catch (const camb::NotFound&) {
                    if (i % 2 == 0) ++wrong;
                }
            });
        }
        for (auto& thread : threads) thread.join();
        CHECK(wrong == 0);
        CHECK(!readable(threaded.fd(), 0) && threaded.dispatch() == 0);
        // dispatch_until() and get() on such a queue wait for its thread.
        std::future<camb::TaskInfo> f = client.get_task_status_async("demo-error", threaded);
        CHECK(threaded.dispatch_until(f, seconds(60)) && f.get().run_id == 4243);
        CHECK(threaded.get(client.get_task_status_async("demo-unknown", threaded)).status ==
              camb::Status::Unknown);
        CHECK(wait_for([&] { return threaded.in_flight() == 0; }));
        // Destroyed with a job in flight: waits for it, which its Client's
        // destruction cancels.
        std::future<camb::TaskInfo> late;
        {
            const camb::Client doomed(opts);
            late = doomed.wait_for_task_async("demo-pending", fast(10000, 60000), threaded);
            std::this_thread::sleep_for(milliseconds(100));
        }
        CHECK(late.wait_for(seconds(60)) == std::future_status::ready);
        CHECK(throws<camb::Cancelled>([&] { late.get(); }, CAMB_RESULT_CANCELLED, 0));
    }

    // --- create, wait, save, batch as futures ---------------------------------
    {
        std::future<std::string> created =
            client.create_task_async("a kettle [pending_ms:300]", one_second, queue);
        CHECK(ready(queue, created));
        const std::string id = created.get();
        CHECK(!id.empty());
        std::future<camb::TaskInfo> waited = client.wait_for_task_async(id, fast(20), queue);
        CHECK(ready(queue, waited));
        const camb::TaskInfo info = waited.get();
        CHECK(info.status == camb::Status::Success && info.run_id.has_value());
        CHECK(same(info, client.get_task_status(id)));
        if (info.run_id) {
            std::future<std::uint64_t> saved =
                client.save_audio_async(*info.run_id, dir + "/saved.wav", queue);
            CHECK(ready(queue, saved));
            const std::uint64_t bytes = saved.get();
            CHECK(bytes == file(dir + "/saved.wav").size() && is_wav(file(dir + "/saved.wav")));
        }
        std::future<std::uint64_t> no_run =
            client.save_audio_async(999999, dir + "/no-run.wav", queue);
        CHECK(ready(queue, no_run));
        CHECK(throws<camb::NotFound>([&] { no_run.get(); }, CAMB_RESULT_NOT_FOUND, 404));
        CHECK(!exists(dir + "/no-run.wav"));
        std::future<camb::TaskInfo> late =
            client.wait_for_task_async("demo-pending", fast(20, 200), queue);
        CHECK(ready(queue, late));
        CHECK(throws<camb::Timeout>([&] { late.get(); }, CAMB_RESULT_TIMEOUT, 0));

        const std::vector<std::string> ids = {"demo-success", "no-such-task", "",
                                              std::string("x\0y", 3), "demo-error"};
        std::future<std::vector<camb::TaskResult>> batch =
            client.get_task_statuses_async(ids, 2, queue);
        CHECK(ready(queue, batch));
        const std::vector<camb::TaskResult> got = batch.get();
        const std::vector<camb::TaskResult> expected = client.get_task_statuses(ids, 2);
        CHECK(got.size() == ids.size() && expected.size() == ids.size());
        for (std::size_t i = 0; i < got.size() && i < expected.size(); ++i) {
            CHECK(got[i].task_id == ids[i]);
            CHECK(got[i].ok() == expected[i].ok());
            if (got[i].ok() && expected[i].ok()) CHECK(same(*got[i].info, *expected[i].info));
            if (!got[i].ok() && !expected[i].ok()) {
                CHECK(got[i].error->code() == expected[i].error->code());
                CHECK(std::string(got[i].error->what()) == expected[i].error->what());
                CHECK(got[i].error->http_status() == expected[i].error->http_status());
            }
        }
        CHECK(got.size() == 5 && got[1].error && got[1].error->code() == CAMB_RESULT_NOT_FOUND);
        CHECK(got.size() == 5 && got[3].error &&
              std::strstr(got[3].error->what(), "NUL byte") != nullptr);
        CHECK(queue.get(client.get_task_statuses_async({}, queue)).empty());
    }

    // --- the audio as futures: in memory, its URL, the URLs of many runs --------
    {
        const std::string expected = download(client, 4242);
        std::future<std::vector<std::uint8_t>> audio = client.download_audio_async(4242, queue);
        CHECK(ready(queue, audio));
        const std::vector<std::uint8_t> bytes = audio.get();
        CHECK(std::string(bytes.begin(), bytes.end()) == expected && is_wav(expected));
        std::future<std::vector<std::uint8_t>> no_run = client.download_audio_async(999999, queue);
        CHECK(ready(queue, no_run));
        CHECK(throws<camb::NotFound>([&] { no_run.get(); }, CAMB_RESULT_NOT_FOUND, 404));
        std::future<std::vector<std::uint8_t>> failed_run =
            client.download_audio_async(4243, queue);
        CHECK(ready(queue, failed_run));
        CHECK(throws<camb::Error>([&] { failed_run.get(); }, CAMB_RESULT_HTTP_STATUS, 400));

        std::future<std::string> url = client.get_audio_url_async(4242, queue);
        CHECK(ready(queue, url));
        CHECK(url.get().rfind(base + "/_emulator/files/4242.wav?signature=", 0) == 0);
        std::future<std::string> no_url = client.get_audio_url_async(999999, queue);
        CHECK(ready(queue, no_url));
        CHECK(throws<camb::NotFound>([&] { no_url.get(); }, CAMB_RESULT_NOT_FOUND, 404));

        std::future<std::vector<camb::AudioUrl>> urls =
            client.get_audio_urls_async({4242, 999999, 4242}, queue);
        CHECK(ready(queue, urls));
        const std::vector<camb::AudioUrl> got = urls.get();
        const std::vector<camb::AudioUrl> blocking = client.get_audio_urls({4242, 999999, 4242});
        CHECK(got.size() == 3 && blocking.size() == 3);
        CHECK(got.size() == 3 && got[0].run_id == 4242 && got[0].url &&
              got[0].url->rfind(base + "/_emulator/files/4242.wav", 0) == 0);
        CHECK(got.size() == 3 && got[1].run_id == 999999 && !got[1].url && !blocking[1].url);
        CHECK(got.size() == 3 && got[2].run_id == 4242 && got[2].url.has_value());
        CHECK(queue.get(client.get_audio_urls_async({}, queue)).empty());
    }

    // --- generate_async: prompt to WAV file in one job --------------------------
    {
        const std::string path = dir + "/generated.wav";
        std::future<camb::Generation> f = client.generate_async(
            "rain on a tin roof [pending_ms:300]", path, one_second, fast(20), queue);
        CHECK(ready(queue, f));
        const camb::Generation g = f.get();
        const std::string bytes = file(path);
        CHECK(g.task.status == camb::Status::Success && g.task.task_id == g.task_id &&
              g.task.run_id);
        CHECK(same(g.task, client.get_task_status(g.task_id)));
        CHECK(g.bytes == bytes.size() && is_wav(bytes));
        CHECK(g.polls >= 4);  // every 20 ms (not libcamb's default 2 s) for a task pending 300 ms
        if (g.task.run_id) {
            CHECK(download(client, *g.task.run_id) == bytes);
        }

        // A task that ends without audio: TASK_FAILED, and no file.
        std::future<camb::Generation> failed = client.generate_async(
            "glass [status:ERROR]", dir + "/failed.wav", one_second, fast(20), queue);
        CHECK(ready(queue, failed));
        CHECK(throws<camb::Error>(
            [&] { failed.get(); }, CAMB_RESULT_TASK_FAILED, 0,
            "ended ERROR: PROCESSING_ERROR (The audio model failed to render this prompt)"));
        CHECK(!exists(dir + "/failed.wav"));

        // A dropped future: the job runs to its end (the file appears), and the
        // queue's dispatch frees it; valgrind would see it leak or freed twice.
        const std::string dropped = dir + "/dropped.wav";
        static_cast<void>(
            client.generate_async("a bell [pending_ms:100]", dropped, one_second, fast(20), queue));
        const auto start = Clock::now();
        while (queue.in_flight() != 0 && ms_since(start) < 60000) {
            queue.dispatch(milliseconds(100));
        }
        CHECK(exists(dropped) && queue.in_flight() == 0);
    }

    // --- destroying the client cancels its jobs: their futures hold Cancelled ---
    {
        std::future<camb::TaskInfo> waiting;
        std::future<camb::Generation> generating;
        const auto start = Clock::now();
        {
            const camb::Client doomed(opts);
            waiting = doomed.wait_for_task_async("demo-pending", fast(10000, 60000), queue);
            generating = doomed.generate_async("a gong [pending_ms:60000]", dir + "/doomed.wav",
                                               one_second, fast(10000, 60000), queue);
            std::this_thread::sleep_for(milliseconds(100));
        }
        CHECK(ready(queue, waiting) && ready(queue, generating));
        CHECK(ms_since(start) < 20000);
        CHECK(throws<camb::Cancelled>([&] { waiting.get(); }, CAMB_RESULT_CANCELLED, 0));
        CHECK(throws<camb::Cancelled>([&] { generating.get(); }, CAMB_RESULT_CANCELLED, 0));
        CHECK(!exists(dir + "/doomed.wav"));
    }

    // --- Job handles and poll(2) on the queue's fd: the event loop's way --------
    {
        camb::Job<camb::TaskInfo> status = client.job_get_task_status("demo-success");
        camb::Job<camb::TaskInfo> missing = client.job_get_task_status("no-such-task");
        camb::Job<std::vector<camb::TaskResult>> batch =
            client.job_get_task_statuses({"demo-error", "missing-q"});
        camb::Job<camb::Generation> generate = client.job_generate(
            "waves [pending_ms:200]", dir + "/queued.wav", one_second, fast(20));
        camb::Job<std::string> create = client.job_create_task("a drum", one_second);
        camb::Job<std::uint64_t> save = client.job_save_audio(4242, dir + "/queued-save.wav");
        camb::Job<std::vector<std::uint8_t>> audio = client.job_download_audio(4242);
        camb::Job<std::string> url = client.job_get_audio_url(4242);
        camb::Job<std::vector<camb::AudioUrl>> urls = client.job_get_audio_urls({4242, 999999});
        camb::Job<camb::TaskInfo> wait = client.job_wait_for_task("demo-success", fast(20));
        CHECK(status.kind() == camb::JobKind::GetTaskStatus &&
              batch.kind() == camb::JobKind::GetTaskStatuses);
        CHECK(generate.kind() == camb::JobKind::Generate &&
              create.kind() == camb::JobKind::CreateTask);
        CHECK(save.kind() == camb::JobKind::SaveAudio &&
              audio.kind() == camb::JobKind::DownloadAudio);
        CHECK(url.kind() == camb::JobKind::GetAudioUrl &&
              urls.kind() == camb::JobKind::GetAudioUrls);
        CHECK(wait.kind() == camb::JobKind::WaitForTask && wait.state() == camb::JobState::New);

        CHECK(!readable(queue.fd(), 0));
        std::future<camb::TaskInfo> f_status = status.submit(queue);
        std::future<camb::TaskInfo> f_missing = missing.submit(queue);
        std::future<std::vector<camb::TaskResult>> f_batch = batch.submit(queue);
        std::future<camb::Generation> f_generate = generate.submit(queue);
        std::future<std::string> f_create = create.submit(queue);
        std::future<std::uint64_t> f_save = save.submit(queue);
        std::future<std::vector<std::uint8_t>> f_audio = audio.submit(queue);
        std::future<std::string> f_url = url.submit(queue);
        std::future<std::vector<camb::AudioUrl>> f_urls = urls.submit(queue);
        std::future<camb::TaskInfo> f_wait = wait.submit(queue);
        CHECK(queue.in_flight() == 10);

        // An event loop's turn: wait until the descriptor is readable, then
        // complete the futures on this thread.
        std::size_t taken = 0;
        const auto start = Clock::now();
        while (queue.in_flight() > 0 && ms_since(start) < 60000) {
            if (readable(queue.fd(), 100)) {
                taken += queue.dispatch();
            }
        }
        CHECK(taken == 10 && queue.in_flight() == 0);
        CHECK(!readable(queue.fd(), 0));
        CHECK(ready_now(f_status) && ready_now(f_missing) && ready_now(f_batch) &&
              ready_now(f_generate));
        CHECK(ready_now(f_create) && ready_now(f_save) && ready_now(f_audio) && ready_now(f_url));
        CHECK(ready_now(f_urls) && ready_now(f_wait));
        CHECK(status.state() == camb::JobState::Done && generate.state() == camb::JobState::Done);
        if (!ready_now(f_wait)) return 1;  // nothing below could finish

        CHECK(same(f_status.get(), client.get_task_status("demo-success")));
        CHECK(throws<camb::NotFound>([&] { f_missing.get(); }, CAMB_RESULT_NOT_FOUND, 404,
                                     "no-such-task"));
        const std::vector<camb::TaskResult> list = f_batch.get();
        CHECK(list.size() == 2 && list[0].ok() && list[0].info->status == camb::Status::Error);
        CHECK(list.size() == 2 && list[1].task_id == "missing-q" && list[1].error &&
              list[1].error->code() == CAMB_RESULT_NOT_FOUND);
        const camb::Generation g = f_generate.get();
        CHECK(g.task.status == camb::Status::Success &&
              g.bytes == file(dir + "/queued.wav").size());
        CHECK(generate.polls() == g.polls && generate.task_status() == camb::Status::Success);
        CHECK(!f_create.get().empty());
        CHECK(f_save.get() == file(dir + "/queued-save.wav").size() &&
              is_wav(file(dir + "/queued-save.wav")));
        const std::vector<std::uint8_t> bytes = f_audio.get();
        CHECK(std::string(bytes.begin(), bytes.end()) == file(dir + "/queued-save.wav"));
        CHECK(f_url.get().rfind(base + "/_emulator/files/4242.wav?signature=", 0) == 0);
        const std::vector<camb::AudioUrl> got = f_urls.get();
        CHECK(got.size() == 2 && got[0].url && !got[1].url);
        CHECK(same(f_wait.get(), client.get_task_status("demo-success")));
        CHECK(wait.polls() >= 1 && wait.task_status() == camb::Status::Success);
        // Done: cancelling it now changes nothing.
        status.cancel();
        CHECK(status.state() == camb::JobState::Done);

        // A waiting job: followed while it sleeps, cancelled at once.
        camb::Job<camb::TaskInfo> sleeper =
            client.job_wait_for_task("demo-pending", fast(10000, 60000));
        std::future<camb::TaskInfo> f_sleeper = sleeper.submit(queue);
        CHECK(wait_for([&] { return sleeper.state() == camb::JobState::Waiting; }));
        CHECK(sleeper.polls() == 1 && sleeper.task_status() == camb::Status::Pending);
        CHECK(queue.dispatch(milliseconds(50)) == 0 && !ready_now(f_sleeper));
        auto since = Clock::now();
        sleeper.cancel();
        CHECK(readable(queue.fd(), 20000));
        CHECK(queue.dispatch() == 1 && ready_now(f_sleeper));
        CHECK(ms_since(since) < 20000);
        CHECK(throws<camb::Cancelled>([&] { f_sleeper.get(); }, CAMB_RESULT_CANCELLED, 0));
        CHECK(sleeper.state() == camb::JobState::Done && sleeper.polls() == 1);
        CHECK(sleeper.task_status() == camb::Status::Pending);

        // Destroying a Job in flight cancels it: still delivered, its future
        // holding Cancelled, and freed by the dispatch.
        std::future<camb::TaskInfo> f_gone;
        since = Clock::now();
        {
            camb::Job<camb::TaskInfo> gone =
                client.job_wait_for_task("demo-pending", fast(20, 60000));
            f_gone = gone.submit(queue);
            std::this_thread::sleep_for(milliseconds(50));
        }
        CHECK(ready(queue, f_gone) && ms_since(since) < 20000);
        CHECK(throws<camb::Cancelled>([&] { f_gone.get(); }, CAMB_RESULT_CANCELLED, 0));

        // Cancelled before it was submitted: it ends as soon as it is.
        camb::Job<camb::TaskInfo> early = client.job_wait_for_task("demo-pending", fast(20, 60000));
        early.cancel();
        std::future<camb::TaskInfo> f_early = early.submit(queue);
        CHECK(ready(queue, f_early));
        CHECK(throws<camb::Cancelled>([&] { f_early.get(); }, CAMB_RESULT_CANCELLED, 0));

        // Detached: the Job lets go, the job runs to its end.
        std::future<camb::TaskInfo> f_detached;
        {
            camb::Job<camb::TaskInfo> detached = client.job_wait_for_task("demo-success", fast(20));
            f_detached = detached.submit(queue);
            detached.detach();
            CHECK(detached.kind() == camb::JobKind::None && !detached.submitted());
        }
        CHECK(ready(queue, f_detached) && f_detached.get().run_id == 4242);

        // Moved from: an empty Job and queue refuse, the new owners work.
        camb::Job<camb::TaskInfo> first = client.job_get_task_status("demo-success");
        camb::Job<camb::TaskInfo> moved = std::move(first);
        CHECK(first.kind() == camb::JobKind::None && first.state() == camb::JobState::Done &&
              first.polls() == 0);
        CHECK(throws<camb::Error>([&] { first.submit(queue); }, CAMB_RESULT_NULL_PARAMETER, 0));
        first.cancel();  // no effect, no crash
        camb::JobQueue other(std::move(queue));
        CHECK(queue.fd() == -1 && queue.dispatch() == 0 && queue.in_flight() == 0);
        CHECK(throws<camb::Error>([&] { client.get_task_status_async("demo-success", queue); },
                                  CAMB_RESULT_NULL_PARAMETER, 0));
        CHECK(other.fd() >= 0);
        std::future<camb::TaskInfo> f_moved = moved.submit(other);
        CHECK(ready(other, f_moved) && f_moved.get().run_id == 4242);
        queue = std::move(other);  // back, for the checks below
        CHECK(queue.fd() >= 0 && other.fd() == -1);
    }

    // --- destroying a queue waits for its jobs, completing their futures -------
    {
        std::optional<camb::Job<camb::TaskInfo>> job;
        std::future<camb::TaskInfo> f;
        std::thread canceller;
        const auto start = Clock::now();
        {
            camb::JobQueue short_queue;
            job.emplace(client.job_wait_for_task("demo-pending", fast(10000, 60000)));
            f = job->submit(short_queue);
            canceller = std::thread([&job] {
                std::this_thread::sleep_for(milliseconds(300));
                job->cancel();
            });
        }
        canceller.join();
        CHECK(ms_since(start) >= 250 && ms_since(start) < 20000);
        CHECK(ready_now(f));
        CHECK(throws<camb::Cancelled>([&] { f.get(); }, CAMB_RESULT_CANCELLED, 0));
        CHECK(job->state() == camb::JobState::Done);
        job->cancel();  // its job is gone: no effect
    }

    if (failures != 0) {
        std::printf("job checks: %d of %d FAILED\n", failures, checks);
        return 1;
    }
    std::printf("job checks: all %d ok\n", checks);
    return 0;
}
