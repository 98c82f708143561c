// cpp_demo: libcamb from C++ through include/camb.hpp.
//
//   usage: cpp_demo BASE_URL OUT.wav
//
// Built with CMake against an installed libcamb (find_package(camb), camb::camb) by
// tests/cpp/CMakeLists.txt. The API key comes from CAMB_API_KEY. Against the
// emulator (`cargo run -p camb-emulator`), it:
// - creates a task, waits for it printing each change of status, saves the WAV;
// - fetches the same audio through a callback and the file URLs;
// - asks for several statuses in one batch, each with its own result;
// - catches camb::NotFound for a task that does not exist;
// - cancels a wait from another thread;
// - lets an exception thrown in a callback propagate out of libcamb's call;
// - generates a second sound as a std::future (a job: prompt to OUT.wav.generated.wav),
//   completed by a camb::JobQueue's own dispatcher thread;
// - runs status jobs on a camb::JobQueue that this thread drives, waiting on its
//   descriptor with poll(2) as an event loop would;
// - downloads the audio into memory as a job, and cancels a job through its camb::Job.
// (The task ids demo-error and demo-pending are the emulator's demo tasks.)
//
// Exit status: 0 when all went as described, 1 on a camb::Error (its code name
// and message are printed), 2 on bad usage.

#include <poll.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "camb.hpp"

namespace {

using Clock = std::chrono::steady_clock;

long long ms_since(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// Joins a thread on every way out of a scope, exceptions included
// (std::jthread is C++20).
class Joiner {
public:
    explicit Joiner(std::thread& thread) : thread_(thread) {}
    Joiner(const Joiner&) = delete;
    Joiner& operator=(const Joiner&) = delete;
    ~Joiner() {
        if (thread_.joinable()) {
            thread_.join();
        }
    }

private:
    std::thread& thread_;
};

// Thrown by the demo's own callbacks: not a camb::Error.
struct DemoStop : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Short pauses, for a demo against the emulator; CAMB advises 2-5 s in production.
camb::WaitOptions quick_polls(std::chrono::milliseconds interval) {
    camb::WaitOptions options;
    options.initial_interval = interval;
    options.max_interval = interval;
    options.deadline = std::chrono::seconds(30);
    return options;
}

// Returns the run id of the audio it saved.
std::int64_t the_workflow(const camb::Client& client, const std::string& out_path) {
    camb::CreateOptions create;
    create.duration_s = 2;
    const std::string task_id = client.create_task("rain on a tin roof [pending_ms:800]", create);
    std::cout << "created task " << task_id << "\n";

    const camb::TaskInfo info = client.wait_for_task(
        task_id, quick_polls(std::chrono::milliseconds(100)), nullptr, [](const camb::Progress& p) {
            if (p.status_changed) {
                std::cout << "status: " << p.status_text << " (poll " << p.polls << ")\n";
            }
            return true;  // keep waiting
        });
    if (info.status != camb::Status::Success || !info.run_id) {
        throw camb::Error(CAMB_RESULT_BAD_RESPONSE, 0, "the task ended in " + info.status_text);
    }
    const std::int64_t run_id = *info.run_id;
    std::cout << "task finished: " << camb::status_name(info.status) << ", run " << run_id << "\n";

    const std::uint64_t saved = client.save_audio(run_id, out_path);
    std::cout << "saved run " << run_id << " to " << out_path << " (" << saved << " bytes)\n";

    std::vector<std::uint8_t> audio;
    std::size_t chunks = 0;
    const std::uint64_t downloaded =
        client.download_audio(run_id, [&](const std::uint8_t* data, std::size_t len) {
            audio.insert(audio.end(), data, data + len);
            ++chunks;
            return true;
        });
    std::cout << "downloaded " << downloaded << " bytes in " << chunks << " chunks, "
              << (audio.size() == saved ? "same size as the file" : "NOT the file's size") << "\n";

    std::cout << "url: " << client.get_audio_url(run_id) << "\n";
    const std::vector<camb::AudioUrl> urls = client.get_audio_urls({run_id, 4242, 999999});
    std::size_t with_url = 0;
    for (const camb::AudioUrl& entry : urls) {
        with_url += entry.url ? 1 : 0;
    }
    std::cout << "urls: " << with_url << " of " << urls.size() << " runs have one\n";
    return run_id;
}

void a_batch_of_statuses(const camb::Client& client) {
    // One task's failure is its own entry's error, not an exception.
    const std::vector<camb::TaskResult> results =
        client.get_task_statuses({"demo-success", "no-such-task"});
    std::cout << "batch:";
    for (const camb::TaskResult& r : results) {
        if (r.ok()) {
            std::cout << " " << r.task_id << " " << r.info->status_text;
        } else {
            std::cout << " " << r.task_id << " " << r.error->code_name() << " (HTTP "
                      << r.error->http_status() << ")";
        }
    }
    std::cout << "\n";
}

void a_missing_task(const camb::Client& client) {
    try {
        client.get_task_status("no-such-task");
        std::cout << "not found: NOT THROWN\n";
    } catch (const camb::NotFound& e) {
        std::cout << "not found: " << e.code_name() << " (HTTP " << e.http_status()
                  << "): " << e.what() << "\n";
    }
}

void a_failed_task(const camb::Client& client) {
    const camb::TaskInfo info = client.get_task_status("demo-error");
    std::cout << "failed task: " << info.status_text << " ("
              << info.exception_reason.value_or("no reason")
              << "): " << info.message.value_or("no message") << "\n";
}

void a_wait_cancelled_from_another_thread(const camb::Client& client) {
    camb::CancelToken token;
    const auto start = Clock::now();
    std::thread canceller([&token] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        token.cancel();
    });
    Joiner joiner(canceller);
    try {
        // Polls every 10 s: the cancel must wake the sleeping wait, not the next poll.
        client.wait_for_task("demo-pending", quick_polls(std::chrono::seconds(10)), &token);
        std::cout << "cancelled: NOT THROWN\n";
    } catch (const camb::Cancelled& e) {
        std::cout << "cancelled from another thread after " << ms_since(start)
                  << " ms: " << e.code_name() << "\n";
    }
}

void an_exception_from_the_progress_callback(const camb::Client& client) {
    try {
        client.wait_for_task("demo-pending", quick_polls(std::chrono::milliseconds(20)), nullptr,
                             [](const camb::Progress& p) -> bool {
                                 if (p.polls == 3) {
                                     throw DemoStop("stopped by the progress callback at poll 3");
                                 }
                                 return true;
                             });
        std::cout << "progress exception: NOT THROWN\n";
    } catch (const DemoStop& e) {
        std::cout << "progress callback exception propagated: " << e.what() << "\n";
    }
}

void an_exception_from_the_write_callback(const camb::Client& client) {
    std::size_t chunks = 0;
    try {
        client.download_audio(4242, [&chunks](const std::uint8_t*, std::size_t) -> bool {
            ++chunks;
            throw DemoStop("stopped by the write callback");
        });
        std::cout << "write exception: NOT THROWN\n";
    } catch (const DemoStop& e) {
        std::cout << "write callback exception propagated after " << chunks
                  << " chunk: " << e.what() << "\n";
    }
}

void a_generation_as_a_future(const camb::Client& client, camb::JobQueue& queue,
                              const std::string& path) {
    camb::CreateOptions create;
    create.duration_s = 2;
    // Returns at once: the job creates the task, waits for it (holding no thread
    // between polls) and saves the file, on libcamb's threads; the queue's
    // dispatcher thread completes the future.
    std::future<camb::Generation> pending =
        client.generate_async("the sea at night [pending_ms:400]", path, create,
                              quick_polls(std::chrono::milliseconds(50)), queue);
    const camb::Generation generation = pending.get();  // throws the job's camb::Error, if any
    std::cout << "generate_async: task " << generation.task.status_text << ", " << generation.bytes
              << " bytes saved to " << path << "\n";
}

// An event loop's turn: wait until the queue's descriptor is readable, then
// complete the futures of the finished jobs on this thread.
void run_until_done(camb::JobQueue& queue) {
    while (queue.in_flight() > 0) {
        pollfd ready{queue.fd(), POLLIN, 0};
        if (::poll(&ready, 1, 10000) != 1) {
            throw camb::Error(CAMB_RESULT_TIMEOUT, 0, "no job finished within 10 s");
        }
        queue.dispatch();
    }
}

void jobs_on_a_queue(const camb::Client& client, camb::JobQueue& queue) {
    std::vector<std::future<camb::TaskInfo>> futures;
    for (const char* id : {"demo-success", "demo-error", "no-such-task"}) {
        futures.push_back(client.get_task_status_async(id, queue));
    }
    run_until_done(queue);
    std::cout << "queue:";
    for (std::future<camb::TaskInfo>& future : futures) {
        std::string outcome;
        try {
            outcome = future.get().status_text;  // throws the job's own failure
        } catch (const camb::Error& e) {
            outcome = e.code_name();
        }
        std::cout << " " << outcome;
    }
    std::cout << "\n";
}

void a_download_into_memory(const camb::Client& client, camb::JobQueue& queue, std::int64_t run_id,
                            const std::string& saved) {
    std::future<std::vector<std::uint8_t>> audio = client.download_audio_async(run_id, queue);
    run_until_done(queue);
    const std::vector<std::uint8_t> bytes = audio.get();
    std::ifstream file(saved, std::ios::binary);
    const std::vector<std::uint8_t> on_disk{std::istreambuf_iterator<char>(file),
                                            std::istreambuf_iterator<char>()};
    std::cout << "download job: " << bytes.size() << " bytes in memory, "
              << (bytes == on_disk ? "the same as the file" : "NOT the file") << "\n";
}

void a_job_cancelled(const camb::Client& client, camb::JobQueue& queue) {
    // A Job follows its job in flight and can cancel it; here a wait that would
    // poll every 10 s, cancelled while it sleeps.
    camb::Job<camb::TaskInfo> wait =
        client.job_wait_for_task("demo-pending", quick_polls(std::chrono::seconds(10)));
    std::future<camb::TaskInfo> result = wait.submit(queue);
    while (wait.polls() == 0 && wait.state() != camb::JobState::Done) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    wait.cancel();
    run_until_done(queue);
    try {
        result.get();
        std::cout << "cancelled job: NOT THROWN\n";
    } catch (const camb::Cancelled& e) {
        std::cout << "cancelled job after " << wait.polls() << " poll: " << e.code_name() << "\n";
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: " << argv[0]
                  << " BASE_URL OUT.wav\n(the API key is read from CAMB_API_KEY)\n";
        return 2;
    }
    std::cout << "libcamb " << camb::version() << " (header " << camb::header_version << ")\n";
    try {
        // Declared before the client: destroying the client first cancels its
        // jobs, so the queues' destructors need not wait for them.
        camb::JobQueue threaded(camb::JobQueue::Dispatch::Thread);
        camb::JobQueue loop;  // driven by this thread
        camb::ClientOptions options;
        options.base_url = argv[1];
        options.timeout = std::chrono::seconds(10);
        const camb::Client client(options);

        const std::int64_t run_id = the_workflow(client, argv[2]);
        a_batch_of_statuses(client);
        a_missing_task(client);
        a_failed_task(client);
        a_wait_cancelled_from_another_thread(client);
        an_exception_from_the_progress_callback(client);
        an_exception_from_the_write_callback(client);
        a_generation_as_a_future(client, threaded, std::string(argv[2]) + ".generated.wav");
        jobs_on_a_queue(client, loop);
        a_download_into_memory(client, loop, run_id, argv[2]);
        a_job_cancelled(client, loop);
    } catch (const camb::Error& e) {
        std::cout.flush();
        std::cerr << "error: " << e.code_name() << ": " << e.what() << "\n";
        return 1;
    }
    std::cout << "done\n";
    return 0;
}
