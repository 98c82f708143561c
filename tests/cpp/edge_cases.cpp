// edge_cases: corners of camb.hpp, checked from C++: type properties at compile
// time; error mapping, the builder's remembered refusal, strings with NUL bytes,
// moves, cancellation (a token on every blocking network call), callbacks that
// return false or throw, the blocking generate, batches whose entries each carry
// their own result (intact after later calls), results read on another thread,
// and threads sharing a client at run time.
//
//   usage: edge_cases BASE_URL API_KEY TMPDIR    (run with CAMB_API_KEY unset)
//
// Built by tests/cpp/CMakeLists.txt and run by its ctest (through run_test.cmake)
// against camb-emulator with the task "nul-task" planted (tests/cpp.rs). Prints
// "FAIL line N: ..." for each failed check, then "edge checks: all N ok" and exits 0,
// or exits 1.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "camb.hpp"

static_assert(!std::is_copy_constructible_v<camb::Client>);
static_assert(!std::is_copy_assignable_v<camb::Client>);
static_assert(std::is_nothrow_move_constructible_v<camb::Client>);
static_assert(std::is_nothrow_move_assignable_v<camb::Client>);
static_assert(!std::is_copy_constructible_v<camb::CancelToken>);
static_assert(!std::is_copy_assignable_v<camb::CancelToken>);
static_assert(std::is_nothrow_move_constructible_v<camb::CancelToken>);
static_assert(std::is_nothrow_move_assignable_v<camb::CancelToken>);
static_assert(std::is_base_of_v<std::runtime_error, camb::Error>);
static_assert(std::is_base_of_v<camb::Error, camb::NotFound>);
static_assert(std::is_base_of_v<camb::Error, camb::Unauthorized>);
static_assert(std::is_base_of_v<camb::Error, camb::Timeout>);
static_assert(std::is_base_of_v<camb::Error, camb::Cancelled>);
static_assert(!std::is_copy_constructible_v<camb::ClientBuilder>);
static_assert(std::is_nothrow_move_constructible_v<camb::ClientBuilder>);
static_assert(std::is_copy_constructible_v<camb::TaskInfo>);
static_assert(std::is_copy_constructible_v<camb::TaskResult>);
static_assert(std::is_copy_constructible_v<camb::AudioUrl>);
static_assert(std::is_same_v<decltype(camb::TaskInfo::task_id), std::string>);
static_assert(std::is_same_v<decltype(camb::TaskInfo::run_id), std::optional<std::int64_t>>);
static_assert(std::is_same_v<decltype(camb::TaskResult::error), std::optional<camb::Error>>);
static_assert(std::is_same_v<decltype(std::declval<camb::Client>().get_task_statuses({})),
                             std::vector<camb::TaskResult>>);
static_assert(std::is_same_v<decltype(std::declval<camb::Client>().get_audio_urls({})),
                             std::vector<camb::AudioUrl>>);
static_assert(std::is_same_v<decltype(std::declval<camb::Error>().code()), camb_result>);
static_assert(std::is_same_v<decltype(std::declval<camb::Error>().http_status()), std::uint16_t>);

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

// True when f throws exactly an E (or subclass) with this code (and HTTP status,
// unless any_http); prints what happened otherwise.
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

// The camb::Error that f throws, or nothing (prints what else happened).
template <class F>
static std::optional<camb::Error> error_of(F&& f) {
    try {
        f();
    } catch (const camb::Error& e) {
        return e;
    } catch (const std::exception& e) {
        std::printf("  another exception: %s\n", e.what());
        return std::nullopt;
    }
    std::printf("  nothing was thrown\n");
    return std::nullopt;
}

static bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

static bool exists(const std::string& path) { return std::ifstream(path).good(); }

static std::uint64_t file_size(const std::string& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    return in ? static_cast<std::uint64_t>(in.tellg()) : 0;
}

struct Mine : std::runtime_error {
    using std::runtime_error::runtime_error;
};

static camb::WaitOptions fast(int interval_ms, int deadline_ms = 10000) {
    camb::WaitOptions w;
    w.initial_interval = std::chrono::milliseconds(interval_ms);
    w.max_interval = std::chrono::milliseconds(interval_ms);
    w.deadline = std::chrono::milliseconds(deadline_ms);
    return w;
}

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: edge_cases BASE_URL API_KEY TMPDIR\n");
        return 2;
    }
    const std::string base = argv[1], key = argv[2], dir = argv[3];
    camb::ClientOptions opts;
    opts.base_url = base;
    opts.api_key = key;
    opts.timeout = std::chrono::seconds(10);

    // --- construction ---------------------------------------------------
    CHECK(camb::version() == camb::header_version);
    {
        camb::ClientOptions no_key;
        no_key.base_url = base;
        CHECK(throws<camb::Error>([&] { camb::Client c(no_key); }, CAMB_RESULT_MISSING_API_KEY, 0));
        camb::ClientOptions bad = opts;
        bad.base_url = "not a url";
        CHECK(throws<camb::Error>([&] { camb::Client c(bad); }, CAMB_RESULT_INVALID_PARAMETER, 0,
                                  "camb_client_builder_set_base_url"));
        bad = opts;
        bad.api_key = std::string("ab\0cd", 5);
        CHECK(throws<camb::Error>([&] { camb::Client c(bad); }, CAMB_RESULT_INVALID_PARAMETER, 0,
                                  "the API key contains a NUL byte"));
        bad = opts;
        bad.timeout = std::chrono::milliseconds(-1);
        CHECK(throws<camb::Error>([&] { camb::Client c(bad); }, CAMB_RESULT_INVALID_PARAMETER, 0));
        bad = opts;
        bad.timeout = std::chrono::milliseconds(0);
        CHECK(throws<camb::Error>([&] { camb::Client c(bad); }, CAMB_RESULT_INVALID_PARAMETER, 0));
        bad = opts;
        bad.max_retries = 11;
        CHECK(throws<camb::Error>([&] { camb::Client c(bad); }, CAMB_RESULT_INVALID_PARAMETER));
        bad = opts;
        bad.proxy = "not a proxy";
        CHECK(throws<camb::Error>([&] { camb::Client c(bad); }, CAMB_RESULT_INVALID_PARAMETER));
        bad = opts;
        bad.ca_bundle_file = dir + "/missing.pem";
        CHECK(throws<camb::Error>([&] { camb::Client c(bad); }, CAMB_RESULT_INVALID_PARAMETER));
        bad = opts;
        bad.ca_bundle_pem = "not PEM";
        CHECK(throws<camb::Error>([&] { camb::Client c(bad); }, CAMB_RESULT_INVALID_PARAMETER));
        bad = opts;
        bad.api_key = "wrong-key";
        camb::Client wrong(bad);
        CHECK(throws<camb::Unauthorized>([&] { wrong.get_task_status("demo-success"); },
                                         CAMB_RESULT_UNAUTHORIZED, 401));
    }

    // --- the builder remembers its first refusal -------------------------
    {
        // Setters never throw a refusal; build() throws the first one, naming
        // the setter, even when later settings were fine or refused too.
        camb::ClientBuilder b;
        bool setter_threw = false;
        try {
            b.api_key(key).base_url("not a url").timeout(std::chrono::seconds(5)).max_retries(11);
        } catch (...) {
            setter_threw = true;
        }
        CHECK(!setter_threw);
        std::optional<camb::Error> e = error_of([&] { b.build(); });
        CHECK(e && e->code() == CAMB_RESULT_INVALID_PARAMETER && e->http_status() == 0);
        CHECK(e && contains(e->what(), "camb_client_builder_set_base_url"));
        CHECK(e && !contains(e->what(), "max_retries"));
        // build() consumed it, refused or not.
        CHECK(throws<camb::Error>([&] { b.build(); }, CAMB_RESULT_INVALID_PARAMETER, 0,
                                  "already built"));

        // A refused URL after a good one: not built with the good one.
        camb::ClientBuilder later;
        later.api_key(key).base_url(base).base_url("ftp://127.0.0.1/");
        CHECK(throws<camb::Error>([&] { later.build(); }, CAMB_RESULT_INVALID_PARAMETER, 0,
                                  "camb_client_builder_set_base_url"));

        // The wrapper's own refusals keep their place in the order.
        camb::ClientBuilder nul_first;
        nul_first.api_key(std::string("ab\0cd", 5)).base_url("not a url");
        e = error_of([&] { nul_first.build(); });
        CHECK(e && e->code() == CAMB_RESULT_INVALID_PARAMETER && e->http_status() == 0);
        CHECK(e && contains(e->what(), "camb_client_builder_set_api_key") &&
              contains(e->what(), "the API key contains a NUL byte") &&
              !contains(e->what(), "base_url"));
        camb::ClientBuilder url_first;
        url_first.base_url("not a url")
            .api_key(std::string("ab\0cd", 5))
            .timeout(std::chrono::milliseconds(-1));
        e = error_of([&] { url_first.build(); });
        CHECK(e && contains(e->what(), "camb_client_builder_set_base_url") &&
              !contains(e->what(), "NUL"));
        camb::ClientBuilder negative;
        negative.api_key(key).base_url(base).timeout(std::chrono::milliseconds(-1));
        CHECK(throws<camb::Error>([&] { negative.build(); }, CAMB_RESULT_INVALID_PARAMETER, 0,
                                  "camb_client_builder_set_timeout_ms"));

        // A builder that was fine builds a working client; moving it moves the handle.
        camb::ClientBuilder good;
        good.api_key(key).base_url(base).timeout(std::chrono::seconds(10)).max_retries(0);
        camb::ClientBuilder moved(std::move(good));
        camb::Client built = moved.build();
        CHECK(built.get_task_status("demo-success").run_id == 4242);
        CHECK(throws<camb::Error>([&] { good.build(); }, CAMB_RESULT_INVALID_PARAMETER, 0,
                                  "already built"));
        // Built, never built, and dropped: freed either way (valgrind checks).
        camb::ClientBuilder unused;
        unused.api_key(key);
    }

    const camb::Client client(opts);

    // --- statuses ---------------------------------------------------------
    {
        camb::TaskInfo s = client.get_task_status("demo-success");
        CHECK(s.task_id == "demo-success");
        CHECK(s.status == camb::Status::Success && s.status_text == "SUCCESS");
        CHECK(s.run_id == 4242 && s.is_final());
        CHECK(!s.exception_reason && !s.message);
        camb::TaskInfo p = client.get_task_status("demo-pending");
        CHECK(p.status == camb::Status::Pending && !p.run_id && !p.is_final());
        camb::TaskInfo u = client.get_task_status("demo-unknown");
        CHECK(u.status == camb::Status::Unknown && u.status_text == "QUEUED_FOR_GPU" &&
              u.is_final());
        CHECK(std::string(camb::status_name(u.status)) == "CAMB_STATUS_UNKNOWN");
        camb::TaskInfo e = client.get_task_status("demo-error");
        CHECK(e.status == camb::Status::Error &&
              e.exception_reason == std::string("PROCESSING_ERROR"));
        CHECK(e.message == std::string("The audio model failed to render this prompt"));
        // The server's text keeps its NUL bytes (copied by length).
        camb::TaskInfo n = client.get_task_status("nul-task");
        CHECK(n.status == camb::Status::Unknown);
        CHECK(n.status_text == std::string("DONE\0LATER", 10));
        CHECK(n.message && *n.message == std::string("a\0b", 3));
        // A NUL in an id is refused, not cut short to another id.
        CHECK(
            throws<camb::Error>([&] { client.get_task_status(std::string("demo-success\0x", 14)); },
                                CAMB_RESULT_INVALID_PARAMETER, 0));
        CHECK(throws<camb::NotFound>([&] { client.get_task_status("no-such-task"); },
                                     CAMB_RESULT_NOT_FOUND, 404, "Task not found: no-such-task"));
        CHECK(throws<camb::Error>([&] { client.get_task_status(""); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0));
    }

    // --- moves --------------------------------------------------------------
    {
        camb::Client a(opts);
        camb::Client b(std::move(a));
        CHECK(a.handle() == nullptr && b.handle() != nullptr);
        CHECK(throws<camb::Error>([&] { a.get_task_status("demo-success"); },
                                  CAMB_RESULT_NULL_PARAMETER, 0));
        CHECK(throws<camb::Error>([&] { a.get_task_statuses({"demo-success"}); },
                                  CAMB_RESULT_NULL_PARAMETER, 0));
        CHECK(throws<camb::Error>([&] { a.get_audio_url(4242); }, CAMB_RESULT_NULL_PARAMETER, 0));
        camb::Client c(opts);
        c = std::move(b);  // frees c's own client
        CHECK(c.get_task_status("demo-success").run_id == 4242);
        camb::CancelToken t1;
        camb::CancelToken t2(std::move(t1));
        CHECK(t1.handle() == nullptr && t2.handle() != nullptr);
        t1.cancel();  // no effect, no crash
        CHECK(!t1.is_cancelled());
        camb::CancelToken t3;
        t3 = std::move(t2);
        t3.cancel();
        CHECK(t3.is_cancelled());
    }

    // --- create and wait ----------------------------------------------------
    {
        camb::CreateOptions too_long;
        too_long.duration_s = 11;
        CHECK(throws<camb::Error>([&] { client.create_task("rain", too_long); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0));
        CHECK(
            throws<camb::Error>([&] { client.create_task(""); }, CAMB_RESULT_INVALID_PARAMETER, 0));

        camb::CreateOptions music;
        music.audio_type = camb::AudioType::Music;
        music.duration_s = 1;
        music.project_name = "edge";
        music.project_description = "edge cases";
        music.folder_id = 7;
        const std::string id = client.create_task("a drum loop", music);
        CHECK(!id.empty() && std::strlen(id.c_str()) == id.size());
        int polls = 0;
        bool saw_done = false;
        camb::TaskInfo done =
            client.wait_for_task(id, fast(20), nullptr, [&](const camb::Progress& p) {
                ++polls;
                CHECK(p.polls == static_cast<std::uint32_t>(polls));
                CHECK(p.poll_result == CAMB_RESULT_OK && p.error_message.empty() &&
                      p.http_status == 0);
                saw_done = p.done;
                return true;
            });
        CHECK(done.status == camb::Status::Success && done.run_id.has_value());
        CHECK(done.task_id == id && done.status_text == "SUCCESS");
        CHECK(saw_done && polls >= 1);

        const std::string failing = client.create_task("glass [status:ERROR]");
        camb::TaskInfo failed = client.wait_for_task(failing, fast(20));
        CHECK(failed.status == camb::Status::Error);
        CHECK(failed.exception_reason == std::string("PROCESSING_ERROR"));

        // The deadline passes while the task is pending.
        CHECK(throws<camb::Timeout>([&] { client.wait_for_task("demo-pending", fast(50, 300)); },
                                    CAMB_RESULT_TIMEOUT, 0));
        // Bad options are refused by the wrapper or the library, never sent.
        CHECK(throws<camb::Error>([&] { client.wait_for_task("demo-success", fast(-5)); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0));
        camb::WaitOptions zero = fast(20);
        zero.initial_interval = std::chrono::milliseconds(0);
        CHECK(throws<camb::Error>([&] { client.wait_for_task("demo-success", zero); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0));
        // The progress callback says stop.
        CHECK(throws<camb::Cancelled>(
            [&] {
                client.wait_for_task("demo-pending", fast(20), nullptr,
                                     [](const camb::Progress&) { return false; });
            },
            CAMB_RESULT_CANCELLED, 0));
        // A callback's own exception comes out unchanged, even a camb::Error from a
        // nested libcamb call (not the CANCELLED of the stopped wait).
        CHECK(throws<camb::NotFound>(
            [&] {
                client.wait_for_task("demo-pending", fast(20), nullptr,
                                     [&](const camb::Progress&) -> bool {
                                         client.get_task_status("nested-missing");
                                         return true;
                                     });
            },
            CAMB_RESULT_NOT_FOUND, 404, "nested-missing"));
        bool caught_mine = false;
        try {
            client.wait_for_task("demo-success", fast(20), nullptr,
                                 [](const camb::Progress&) -> bool { throw Mine("mine"); });
        } catch (const Mine& e) {
            caught_mine = std::string(e.what()) == "mine";
        }
        CHECK(caught_mine);

        // A token cancelled in advance stops the wait before it starts; reset, it serves again.
        camb::CancelToken token;
        token.cancel();
        CHECK(
            throws<camb::Cancelled>([&] { client.wait_for_task("demo-success", fast(20), &token); },
                                    CAMB_RESULT_CANCELLED, 0));
        token.reset();
        CHECK(!token.is_cancelled());
        CHECK(client.wait_for_task("demo-success", fast(20), &token).status ==
              camb::Status::Success);
    }

    // --- downloads, files and URLs -------------------------------------------
    {
        std::size_t chunks = 0;
        CHECK(throws<camb::Cancelled>(
            [&] {
                client.download_audio(4242, [&](const std::uint8_t*, std::size_t) {
                    ++chunks;
                    return false;
                });
            },
            CAMB_RESULT_CANCELLED, 0));
        CHECK(chunks == 1);
        CHECK(throws<camb::Error>([&] { client.download_audio(4242, {}); },
                                  CAMB_RESULT_NULL_PARAMETER, 0));
        camb::CancelToken token;
        token.cancel();
        CHECK(throws<camb::Cancelled>(
            [&] {
                client.download_audio(
                    4242, [](const std::uint8_t*, std::size_t) { return true; }, &token);
            },
            CAMB_RESULT_CANCELLED));
        CHECK(throws<camb::NotFound>(
            [&] {
                client.download_audio(999999,
                                      [](const std::uint8_t*, std::size_t) { return true; });
            },
            CAMB_RESULT_NOT_FOUND, 404));
        CHECK(throws<camb::Error>(
            [&] {
                client.download_audio(4243, [](const std::uint8_t*, std::size_t) { return true; });
            },
            CAMB_RESULT_HTTP_STATUS, 400));

        std::vector<std::uint8_t> audio;
        const std::uint64_t total =
            client.download_audio(4242, [&](const std::uint8_t* d, std::size_t n) {
                audio.insert(audio.end(), d, d + n);
                return true;
            });
        CHECK(total == audio.size() && audio.size() > 44);
        CHECK(client.save_audio(4242, dir + "/a.wav") == total);
        CHECK(throws<camb::Error>([&] { client.save_audio(4242, dir + "/no-such-dir/a.wav"); },
                                  CAMB_RESULT_IO, 0));
        CHECK(
            throws<camb::Error>([&] { client.save_audio(4242, dir + std::string("/a\0.wav", 7)); },
                                CAMB_RESULT_INVALID_PARAMETER, 0));

        const std::string url = client.get_audio_url(4242);
        CHECK(url.rfind(base + "/_emulator/files/4242.wav?signature=", 0) == 0);
        // One entry per run id, in order; a repeated id gets its URL each time.
        const std::vector<camb::AudioUrl> urls = client.get_audio_urls({4242, 999999, 4242});
        CHECK(urls.size() == 3);
        CHECK(urls.size() == 3 && urls[0].run_id == 4242 && urls[0].url &&
              urls[0].url->rfind(base + "/_emulator/files/4242.wav", 0) == 0);
        CHECK(urls.size() == 3 && urls[1].run_id == 999999 && !urls[1].url);
        CHECK(urls.size() == 3 && urls[2].run_id == 4242 && urls[2].url == urls[0].url);
        CHECK(client.get_audio_urls({}).empty());
        CHECK(throws<camb::NotFound>([&] { client.get_audio_url(999999); }, CAMB_RESULT_NOT_FOUND,
                                     404));
        CHECK(throws<camb::Error>(
            [&] { client.get_audio_urls(std::vector<std::int64_t>(1001, 4242)); },
            CAMB_RESULT_INVALID_PARAMETER, 0));
    }

    // --- every blocking network call takes a cancel token ----------------------
    {
        camb::CancelToken token;
        token.cancel();
        CHECK(throws<camb::Cancelled>([&] { client.get_task_status("demo-success", &token); },
                                      CAMB_RESULT_CANCELLED, 0));
        CHECK(throws<camb::Cancelled>([&] { client.create_task("rain", {}, &token); },
                                      CAMB_RESULT_CANCELLED, 0));
        CHECK(throws<camb::Cancelled>([&] { client.get_audio_url(4242, &token); },
                                      CAMB_RESULT_CANCELLED, 0));
        CHECK(throws<camb::Cancelled>([&] { client.get_audio_urls({4242}, &token); },
                                      CAMB_RESULT_CANCELLED, 0));
        CHECK(throws<camb::Cancelled>(
            [&] { client.save_audio(4242, dir + "/cancelled.wav", &token); }, CAMB_RESULT_CANCELLED,
            0));
        CHECK(throws<camb::Cancelled>(
            [&] {
                client.get_task_statuses({"demo-success", "demo-error"}, 0, &token);
            },
            CAMB_RESULT_CANCELLED, 0));
        CHECK(!exists(dir + "/cancelled.wav"));
        // A null token, or one reset, cancels nothing.
        token.reset();
        CHECK(client.get_task_status("demo-success", &token).run_id == 4242);
        CHECK(client.get_task_status("demo-success", nullptr).run_id == 4242);
        CHECK(!client.create_task("rain", {}, &token).empty());
        CHECK(client.get_audio_url(4242, &token).rfind(base + "/_emulator/files/4242.wav", 0) == 0);
        CHECK(client.get_audio_urls({4242}, &token).size() == 1);
        CHECK(client.get_task_statuses({"demo-success", "demo-error"}, 0, &token).size() == 2);

        // Cancelled from another thread while the call waits between polls.
        const auto start = std::chrono::steady_clock::now();
        std::thread canceller([&token] {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            token.cancel();
        });
        CHECK(throws<camb::Cancelled>(
            [&] {
                client.generate("a gong [pending_ms:60000]", dir + "/gong.wav", {},
                                fast(10000, 60000), &token);
            },
            CAMB_RESULT_CANCELLED, 0));
        canceller.join();
        CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
        CHECK(!exists(dir + "/gong.wav"));
    }

    // --- generate: prompt to WAV file, blocking --------------------------------
    {
        camb::CreateOptions one_second;
        one_second.duration_s = 1;
        const std::string path = dir + "/generated.wav";
        std::vector<std::string> seen;
        const auto progress = [&](const camb::Progress& p) {
            if (p.status_changed) seen.push_back(p.status_text);
            return true;
        };
        const camb::Generation g =
            client.generate("rain [pending_ms:200]", path, one_second, fast(20), nullptr, progress);
        CHECK(g.task.status == camb::Status::Success && g.task_id == g.task.task_id &&
              g.task.run_id);
        CHECK(seen.size() == 2 && seen[0] == "PENDING" && seen[1] == "SUCCESS");
        CHECK(g.polls >= 2);
        CHECK(g.bytes > 44 && g.bytes == file_size(path));
        const camb::TaskInfo now = client.get_task_status(g.task_id);
        CHECK(now.status == camb::Status::Success && now.run_id == g.task.run_id);
        std::uint64_t downloaded = 0;
        if (g.task.run_id) {
            downloaded = client.download_audio(
                *g.task.run_id, [](const std::uint8_t*, std::size_t) { return true; });
        }
        CHECK(downloaded == g.bytes);
        // The defaults: the server's duration, libcamb's polls.
        const camb::Generation d = client.generate("a click [pending_ms:0]", dir + "/default.wav");
        CHECK(d.task.status == camb::Status::Success &&
              d.bytes == file_size(dir + "/default.wav") && d.polls >= 1);

        // A task that ends without audio: TASK_FAILED, its words, and no file.
        CHECK(throws<camb::Error>(
            [&] {
                client.generate("glass [status:ERROR]", dir + "/failed.wav", one_second, fast(20));
            },
            CAMB_RESULT_TASK_FAILED, 0,
            "ended ERROR: PROCESSING_ERROR (The audio model failed to render this prompt)"));
        CHECK(!exists(dir + "/failed.wav"));
        // Refused before any task is created: a path that cannot be written, a
        // NUL byte, bad options, a moved-from client.
        CHECK(throws<camb::Error>([&] { client.generate("rain", dir + "/no-such-dir/a.wav"); },
                                  CAMB_RESULT_IO, 0, "does not exist"));
        CHECK(throws<camb::Error>([&] { client.generate("rain", dir + "/"); }, CAMB_RESULT_IO, 0));
        CHECK(
            throws<camb::Error>([&] { client.generate("rain", dir + std::string("/a\0.wav", 7)); },
                                CAMB_RESULT_INVALID_PARAMETER, 0, "NUL byte"));
        CHECK(throws<camb::Error>([&] { client.generate("", path); }, CAMB_RESULT_INVALID_PARAMETER,
                                  0));
        CHECK(throws<camb::Error>([&] { client.generate("rain", path, one_second, fast(-1)); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0, "negative"));
        // The progress callback stops it, or throws: its exception comes out unchanged.
        CHECK(throws<camb::Cancelled>(
            [&] {
                client.generate("rain [pending_ms:60000]", dir + "/stopped.wav", one_second,
                                fast(20), nullptr,
                                [](const camb::Progress& p) { return p.polls < 2; });
            },
            CAMB_RESULT_CANCELLED, 0));
        bool caught_mine = false;
        try {
            client.generate("rain [pending_ms:60000]", dir + "/stopped.wav", one_second, fast(20),
                            nullptr, [](const camb::Progress&) -> bool { throw Mine("mine"); });
        } catch (const Mine& e) {
            caught_mine = std::string(e.what()) == "mine";
        }
        CHECK(caught_mine);
        CHECK(!exists(dir + "/stopped.wav"));
        camb::Client a(opts);
        const camb::Client b(std::move(a));
        CHECK(
            throws<camb::Error>([&] { a.generate("rain", path); }, CAMB_RESULT_NULL_PARAMETER, 0));
    }

    // --- batch: each task its own result, intact after later calls -----------
    {
        const std::vector<std::string> ids = {
            "demo-success", "no-such-task", "",   std::string("demo-success\0x", 14),
            "demo-error",   "nul-task",     "..", "demo-pending",
        };
        const std::vector<camb::TaskResult> batch = client.get_task_statuses(ids, 4);

        // Meanwhile, on this thread: a status, a failed status (which sets
        // camb_last_error), and another batch, both of whose lists are freed.
        CHECK(client.get_task_status("demo-unknown").status_text == "QUEUED_FOR_GPU");
        CHECK(throws<camb::NotFound>([&] { client.get_task_status("meanwhile-missing"); },
                                     CAMB_RESULT_NOT_FOUND, 404));
        const std::vector<camb::TaskResult> second =
            client.get_task_statuses({"missing-2", "demo-timeout"});
        CHECK(second.size() == 2 && !second[0].ok() && second[1].ok());
        CHECK(second.size() == 2 && second[0].error &&
              contains(second[0].error->what(), "missing-2"));

        // The first batch, read now, field by field.
        CHECK(batch.size() == ids.size());
        if (batch.size() == ids.size()) {
            for (std::size_t i = 0; i < ids.size(); ++i) {
                CHECK(batch[i].task_id == ids[i]);
                CHECK(batch[i].ok() != batch[i].error.has_value());
            }
            const camb::TaskResult& ok = batch[0];
            CHECK(ok.ok() && ok.info->task_id == "demo-success" &&
                  ok.info->status == camb::Status::Success);
            CHECK(ok.ok() && ok.info->status_text == "SUCCESS" && ok.info->run_id == 4242);
            CHECK(ok.ok() && !ok.info->exception_reason && !ok.info->message);
            CHECK(ok.value().run_id == 4242);

            const camb::TaskResult& missing = batch[1];
            CHECK(!missing.ok() && missing.error->code() == CAMB_RESULT_NOT_FOUND);
            CHECK(!missing.ok() && missing.error->http_status() == 404);
            CHECK(!missing.ok() && std::string(missing.error->what()) ==
                                       "HTTP 404 Not Found: Task not found: no-such-task");
            CHECK(throws<camb::NotFound>([&] { missing.value(); }, CAMB_RESULT_NOT_FOUND, 404,
                                         "no-such-task"));

            // Invalid ids fail only their own entries, named by the caller's id.
            CHECK(!batch[2].ok() && batch[2].error->code() == CAMB_RESULT_INVALID_PARAMETER);
            CHECK(!batch[2].ok() && batch[2].error->http_status() == 0 &&
                  std::strlen(batch[2].error->what()) > 0);
            CHECK(!batch[3].ok() && batch[3].error->code() == CAMB_RESULT_INVALID_PARAMETER);
            CHECK(!batch[3].ok() && contains(batch[3].error->what(), "NUL byte"));
            CHECK(!batch[6].ok() && batch[6].error->code() == CAMB_RESULT_INVALID_PARAMETER);

            const camb::TaskResult& failed = batch[4];
            CHECK(failed.ok() && failed.info->status == camb::Status::Error &&
                  failed.info->status_text == "ERROR");
            CHECK(failed.ok() && failed.info->exception_reason == std::string("PROCESSING_ERROR"));
            CHECK(failed.ok() && failed.info->message ==
                                     std::string("The audio model failed to render this prompt"));
            CHECK(batch[5].ok() && batch[5].info->status_text == std::string("DONE\0LATER", 10));
            CHECK(batch[5].ok() && batch[5].info->message == std::string("a\0b", 3));
            CHECK(batch[7].ok() && batch[7].info->status == camb::Status::Pending &&
                  !batch[7].info->run_id);
        }

        // The C objects keep that promise themselves: a list's strings are the
        // same bytes at the same addresses after other calls on this thread.
        const char* raw_ids[] = {"demo-success", "no-such-task"};
        camb_task_list* raw = nullptr;
        CHECK(camb_client_get_task_statuses(client.handle(), raw_ids, 2, 0, nullptr, &raw) ==
              CAMB_RESULT_OK);
        const camb::detail::TaskListPtr list(raw);
        std::size_t text_len = 0, error_len = 0;
        const char* text = camb_task_status_text(camb_task_list_get(list.get(), 0), &text_len);
        const char* error = camb_task_error(camb_task_list_get(list.get(), 1), &error_len);
        CHECK(text != nullptr && error != nullptr);
        CHECK(throws<camb::NotFound>([&] { client.get_task_status("meanwhile-raw"); },
                                     CAMB_RESULT_NOT_FOUND));
        CHECK(client.get_task_statuses({"other-missing", "demo-error"}).size() == 2);
        std::size_t len_again = 0;
        CHECK(camb_task_status_text(camb_task_list_get(list.get(), 0), &len_again) == text &&
              len_again == text_len);
        CHECK(camb_task_error(camb_task_list_get(list.get(), 1), &len_again) == error &&
              len_again == error_len);
        CHECK(text != nullptr && std::string(text, text_len) == "SUCCESS");
        CHECK(error != nullptr &&
              std::string(error, error_len) == "HTTP 404 Not Found: Task not found: no-such-task");
        CHECK(camb_task_result(camb_task_list_get(list.get(), 1)) == CAMB_RESULT_NOT_FOUND);
        CHECK(camb_task_http_status(camb_task_list_get(list.get(), 1)) == 404);
        CHECK(camb_task_list_get(list.get(), 2) == nullptr);

        // An empty batch sends nothing and is empty; a refused batch throws.
        CHECK(client.get_task_statuses({}).empty());
        CHECK(throws<camb::Error>([&] { client.get_task_statuses({"demo-success"}, 33); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0));
    }

    // --- a result moved to another thread and read there ----------------------
    {
        camb::TaskInfo info = client.wait_for_task("demo-error", fast(20));
        std::vector<camb::TaskResult> batch =
            client.get_task_statuses({"demo-success", "no-such-task"});
        camb_task* raw = nullptr;
        CHECK(camb_client_get_task_status(client.handle(), "demo-error", nullptr, &raw) ==
              CAMB_RESULT_OK);
        camb::detail::TaskPtr task(raw);
        const camb_task* task_address = task.get();

        struct Seen {
            std::string info_id, info_text, info_reason, info_message;
            std::optional<std::int64_t> info_run_id;
            std::int64_t batch_run_id = 0;
            camb_result batch_code = CAMB_RESULT_OK;
            std::string batch_error;
            const camb_task* task_address = nullptr;
            std::string task_id, task_text, task_reason, task_message;
            camb_status task_status = CAMB_STATUS_UNKNOWN;
        } seen;
        std::thread reader([&seen, info = std::move(info), batch = std::move(batch),
                            task = std::move(task), &client] {
            // This thread's own calls first, a failure among them: nothing read
            // below may depend on the thread that made it, or on later calls.
            try {
                client.get_task_status("reader-missing");
            } catch (const camb::NotFound&) {
            }
            seen.info_id = info.task_id;
            seen.info_text = info.status_text;
            seen.info_reason = info.exception_reason.value_or("");
            seen.info_message = info.message.value_or("");
            seen.info_run_id = info.run_id;
            if (batch.size() == 2 && batch[0].ok() && batch[0].info->run_id && batch[1].error) {
                seen.batch_run_id = *batch[0].info->run_id;
                seen.batch_code = batch[1].error->code();
                seen.batch_error = batch[1].error->what();
            }
            seen.task_address = task.get();
            std::size_t len = 0;
            const char* t = camb_task_id(task.get(), &len);
            seen.task_id = std::string(t, len);
            t = camb_task_status_text(task.get(), &len);
            seen.task_text = t != nullptr ? std::string(t, len) : "(null)";
            t = camb_task_exception_reason(task.get(), &len);
            seen.task_reason = t != nullptr ? std::string(t, len) : "(null)";
            t = camb_task_message(task.get(), &len);
            seen.task_message = t != nullptr ? std::string(t, len) : "(null)";
            seen.task_status = camb_task_status(task.get());
            // The task is freed here, on this thread, when the lambda is destroyed.
        });
        // Meanwhile this thread makes calls of its own.
        CHECK(throws<camb::NotFound>([&] { client.get_task_status("main-missing"); },
                                     CAMB_RESULT_NOT_FOUND));
        reader.join();
        CHECK(seen.info_id == "demo-error" && seen.info_text == "ERROR" &&
              seen.info_run_id == 4243);
        CHECK(seen.info_reason == "PROCESSING_ERROR");
        CHECK(seen.info_message == "The audio model failed to render this prompt");
        CHECK(seen.batch_run_id == 4242 && seen.batch_code == CAMB_RESULT_NOT_FOUND);
        CHECK(seen.batch_error == "HTTP 404 Not Found: Task not found: no-such-task");
        CHECK(seen.task_address == task_address);
        CHECK(seen.task_id == "demo-error" && seen.task_text == "ERROR" &&
              seen.task_status == CAMB_STATUS_ERROR);
        CHECK(seen.task_reason == "PROCESSING_ERROR");
        CHECK(seen.task_message == "The audio model failed to render this prompt");
    }

    // --- threads: one client, concurrent calls, each thread's own errors -------
    {
        std::atomic<int> wrong{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < 25; ++i) {
                    try {
                        if ((t + i) % 2 == 0) {
                            if (client.get_task_status("demo-success").run_id != 4242) ++wrong;
                        } else {
                            const std::string id =
                                "missing-" + std::to_string(t) + "-" + std::to_string(i);
                            try {
                                client.get_task_status(id);
                                ++wrong;
                            } catch (const camb::NotFound& e) {
                                if (std::string(e.what()).find(id) == std::string::npos) ++wrong;
                            }
                        }
                    } catch (...) {
                        ++wrong;
                    }
                }
            });
        }
        for (auto& thread : threads) thread.join();
        CHECK(wrong == 0);
    }

    if (failures != 0) {
        std::printf("edge checks: %d of %d FAILED\n", failures, checks);
        return 1;
    }
    std::printf("edge checks: all %d ok\n", checks);
    return 0;
}
