// log_cases: the log function and headers of camb.hpp: lines arrive with their
// level and words, from this thread and from the job threads; the key and a secret
// header's value never appear; the level filters; an exception thrown by the
// function is swallowed; no line reaches the function once its Client is gone (its
// jobs are still delivered); the function is destroyed through libcamb's finalizer
// (with its client, its builder, or when replaced or refused); refused headers make
// build() throw why.
//
//   usage: log_cases BASE_URL API_KEY TMPDIR    (run with CAMB_API_KEY unset)
//
// Built by tests/cpp/CMakeLists.txt and run by its ctest (through run_test.cmake).
// Prints every log line it was given ("line: ..."), "FAIL line N: ..." for each
// failed check, then "log checks: all N ok" and exits 0, or exits 1.

#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "camb.hpp"

static_assert(
    std::is_same_v<camb::LogFunction, std::function<void(camb::LogLevel, std::string_view)>>);
static_assert(static_cast<std::uint32_t>(camb::LogLevel::Debug) == CAMB_LOG_LEVEL_DEBUG);
static_assert(std::is_nothrow_move_constructible_v<camb::ClientBuilder>);
static_assert(std::is_nothrow_move_assignable_v<camb::Client>);

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

struct Line {
    camb::LogLevel level;
    std::string text;
    std::thread::id thread;
};

// Every line a client's function was given, from any thread.
struct Lines {
    std::mutex mutex;
    std::vector<Line> lines;

    camb::LogFunction function() {
        return [this](camb::LogLevel level, std::string_view text) {
            const std::lock_guard<std::mutex> lock(mutex);
            lines.push_back({level, std::string(text), std::this_thread::get_id()});
            std::printf("line: %u %.*s\n", static_cast<unsigned>(level),
                        static_cast<int>(text.size()), text.data());
        };
    }
    std::vector<Line> copy() {
        const std::lock_guard<std::mutex> lock(mutex);
        return lines;
    }
    // A line at this level holding every one of these words.
    bool has(camb::LogLevel level, std::initializer_list<const char*> words) {
        for (const Line& line : copy()) {
            bool all = line.level == level;
            for (const char* word : words) {
                all = all && line.text.find(word) != std::string::npos;
            }
            if (all) return true;
        }
        return false;
    }
    bool any_contains(const std::string& text) {
        for (const Line& line : copy()) {
            if (line.text.find(text) != std::string::npos) return true;
        }
        return false;
    }
    std::size_t size() {
        const std::lock_guard<std::mutex> lock(mutex);
        return lines.size();
    }
};

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

static bool says(const std::optional<camb::Error>& e, camb_result code,
                 std::initializer_list<const char*> words) {
    if (!e) return false;
    bool ok = e->code() == code;
    for (const char* word : words) {
        ok = ok && std::string(e->what()).find(word) != std::string::npos;
    }
    if (!ok) std::printf("  got %s: %s\n", e->code_name(), e->what());
    return ok;
}

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s BASE_URL API_KEY TMPDIR\n", argv[0]);
        return 2;
    }
    const std::string url = argv[1];
    const std::string key = argv[2];
    const std::string secret = "tenant-secret-0123456789";
    const std::thread::id main_thread = std::this_thread::get_id();

    // --- a blocking call: its lines on this thread, with level and words -------
    {
        Lines lines;
        const camb::Client client =
            camb::ClientBuilder()
                .api_key(key)
                .base_url(url)
                .add_header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-01")
                .add_header("x-tenant-token", secret, true)
                .log(camb::LogLevel::Debug, lines.function())
                .build();
        CHECK(client.get_task_status("demo-success").status == camb::Status::Success);
        CHECK(lines.has(camb::LogLevel::Debug, {"GET", "demo-success", "sent", "attempt 1"}));
        CHECK(lines.has(camb::LogLevel::Debug, {"demo-success", "replied 200"}));
        CHECK(error_of([&] { client.get_task_status("no-such-task"); }).has_value());
        CHECK(lines.has(camb::LogLevel::Info, {"no-such-task", "replied 404"}));
        for (const Line& line : lines.copy()) {
            CHECK(line.thread == main_thread);
            CHECK(line.text.find('\n') == std::string::npos);
        }
        CHECK(!lines.any_contains(key));
        CHECK(!lines.any_contains(secret));

        // A job: its lines come from libcamb's pool threads.
        const std::size_t before = lines.size();
        camb::JobQueue queue;
        CHECK(queue.get(client.get_task_status_async("demo-success", queue)).status ==
              camb::Status::Success);
        CHECK(lines.has(camb::LogLevel::Debug, {"job", "started"}));
        CHECK(lines.has(camb::LogLevel::Info, {"job", "finished"}));
        bool from_pool = false;
        const std::vector<Line> all = lines.copy();
        for (std::size_t i = before; i < all.size(); ++i) {
            from_pool = from_pool || all[i].thread != main_thread;
        }
        CHECK(from_pool);
        CHECK(!lines.any_contains(key));
    }

    // --- the level filters; options carry the log and the headers --------------
    {
        Lines lines;
        camb::ClientOptions options;
        options.api_key = key;
        options.base_url = url;
        options.headers.push_back({"x-tenant-token", secret, true});
        options.log = lines.function();
        options.log_level = camb::LogLevel::Info;
        const camb::Client client(options);
        client.get_task_status("demo-success");
        CHECK(lines.size() == 0);  // a 200 is told at Debug only
        CHECK(error_of([&] { client.get_task_status("no-such-task"); }).has_value());
        CHECK(lines.has(camb::LogLevel::Info, {"replied 404"}));
        for (const Line& line : lines.copy()) CHECK(line.level <= camb::LogLevel::Info);
    }

    // --- a wrong key: refused, and it is never shown -------------------------------
    {
        Lines lines;
        const std::string wrong = "wrong-key-9f8e7d6c5b4a";
        const camb::Client client = camb::ClientBuilder()
                                        .api_key(wrong)
                                        .base_url(url)
                                        .log(camb::LogLevel::Debug, lines.function())
                                        .build();
        CHECK(says(error_of([&] { client.get_task_status("demo-success"); }),
                   CAMB_RESULT_UNAUTHORIZED, {}));
        CHECK(lines.has(camb::LogLevel::Info, {"replied 401"}));
        CHECK(!lines.any_contains(wrong));
    }

    // --- an exception thrown by the function is swallowed -----------------------
    {
        int calls = 0;
        const camb::Client client = camb::ClientBuilder()
                                        .api_key(key)
                                        .base_url(url)
                                        .log(camb::LogLevel::Debug,
                                             [&calls](camb::LogLevel, std::string_view) {
                                                 ++calls;
                                                 throw std::runtime_error("from the log function");
                                             })
                                        .build();
        CHECK(client.get_task_status("demo-success").status == camb::Status::Success);
        CHECK(calls >= 2);  // sent, replied: each threw, the call went on
    }

    // --- a second log() replaces the first --------------------------------------
    {
        Lines first;
        Lines second;
        const camb::Client client = camb::ClientBuilder()
                                        .api_key(key)
                                        .base_url(url)
                                        .log(camb::LogLevel::Debug, first.function())
                                        .log(camb::LogLevel::Debug, second.function())
                                        .build();
        client.get_task_status("demo-success");
        CHECK(first.size() == 0 && second.size() >= 2);
    }

    // --- no line once the Client is gone, though its jobs are delivered later ---
    {
        auto lines = std::make_unique<Lines>();
        camb::JobQueue queue;
        std::future<camb::TaskInfo> waiting;
        {
            const camb::Client client = camb::ClientBuilder()
                                            .api_key(key)
                                            .base_url(url)
                                            .log(camb::LogLevel::Debug, lines->function())
                                            .build();
            camb::WaitOptions slow;
            slow.initial_interval = std::chrono::milliseconds(10000);
            slow.deadline = std::chrono::milliseconds(60000);
            waiting = client.wait_for_task_async("demo-pending", slow, queue);
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            CHECK(lines->has(camb::LogLevel::Debug, {"job", "started"}));
        }
        const std::size_t at_destruction = lines->size();
        // Gone: a line for it now would touch freed memory (valgrind would see it).
        lines.reset();
        CHECK(says(error_of([&] { queue.get(std::move(waiting)); }), CAMB_RESULT_CANCELLED, {}));
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        CHECK(at_destruction >= 1);
    }

    // --- the function is destroyed through libcamb's finalizer -------------------
    {
        // With its Client, once the Client's threads have ended.
        auto token = std::make_shared<int>(0);
        const std::weak_ptr<int> watch = token;
        {
            const camb::Client client =
                camb::ClientBuilder()
                    .api_key(key)
                    .base_url(url)
                    .log(camb::LogLevel::Debug, [token](camb::LogLevel, std::string_view) {})
                    .build();
            token.reset();
            CHECK(!watch.expired());  // the client keeps it
            camb::JobQueue queue;
            CHECK(queue.get(client.get_task_status_async("demo-success", queue)).run_id == 4242);
            CHECK(!watch.expired());
        }
        CHECK(watch.expired());

        // With a builder never built, or one whose build fails.
        auto unbuilt = std::make_shared<int>(0);
        const std::weak_ptr<int> watch_unbuilt = unbuilt;
        {
            camb::ClientBuilder builder;
            builder.log(camb::LogLevel::Debug, [unbuilt](camb::LogLevel, std::string_view) {});
            unbuilt.reset();
            CHECK(!watch_unbuilt.expired());
        }
        CHECK(watch_unbuilt.expired());
        auto failed = std::make_shared<int>(0);
        const std::weak_ptr<int> watch_failed = failed;
        CHECK(says(error_of([&] {
                       camb::ClientBuilder builder;
                       builder.api_key(key).log(camb::LogLevel::Debug,
                                                [failed](camb::LogLevel, std::string_view) {});
                       failed.reset();
                       builder.base_url("not a url").build();
                   }),
                   CAMB_RESULT_INVALID_PARAMETER, {"camb_client_builder_set_base_url"}));
        CHECK(watch_failed.expired());

        // Replaced by a second log(), or refused (its level): destroyed then.
        auto first = std::make_shared<int>(0);
        auto refused = std::make_shared<int>(0);
        const std::weak_ptr<int> watch_first = first, watch_refused = refused;
        camb::ClientBuilder builder;
        builder.api_key(key).base_url(url).log(camb::LogLevel::Debug,
                                               [first](camb::LogLevel, std::string_view) {});
        first.reset();
        CHECK(!watch_first.expired());
        builder.log(camb::LogLevel::Info, [](camb::LogLevel, std::string_view) {});
        CHECK(watch_first.expired());
        builder.log(static_cast<camb::LogLevel>(9), [refused](camb::LogLevel, std::string_view) {});
        refused.reset();
        CHECK(watch_refused.expired());
    }

    // --- refused headers and log settings: build() throws why -------------------
    {
        CHECK(says(error_of([&] {
                       camb::ClientBuilder()
                           .api_key(key)
                           .base_url(url)
                           .add_header("x-api-key", "other")
                           .build();
                   }),
                   CAMB_RESULT_INVALID_PARAMETER,
                   {"camb_client_builder_add_header", "libcamb's own"}));
        CHECK(says(error_of([&] {
                       camb::ClientBuilder()
                           .api_key(key)
                           .base_url(url)
                           .add_header("x-ok", "a\r\nx-api-key: stolen")
                           .build();
                   }),
                   CAMB_RESULT_INVALID_PARAMETER, {"camb_client_builder_add_header", "a CR"}));
        const std::optional<camb::Error> stolen = error_of([&] {
            camb::ClientBuilder()
                .api_key(key)
                .base_url(url)
                .add_header("x-ok", "a\r\nx-api-key: stolen")
                .build();
        });
        CHECK(stolen && std::string(stolen->what()).find("stolen") == std::string::npos);
        CHECK(says(error_of([&] {
                       camb::ClientBuilder()
                           .api_key(key)
                           .base_url(url)
                           .add_header("bad name", "v")
                           .build();
                   }),
                   CAMB_RESULT_INVALID_PARAMETER, {"not an HTTP token"}));
        CHECK(says(error_of([&] {
                       camb::ClientBuilder()
                           .api_key(key)
                           .base_url(url)
                           .add_header("x-ok", std::string("a\0b", 3))
                           .build();
                   }),
                   CAMB_RESULT_INVALID_PARAMETER, {"camb_client_builder_add_header", "NUL byte"}));
        // The first refusal is the one reported.
        CHECK(says(error_of([&] {
                       camb::ClientBuilder()
                           .api_key(key)
                           .base_url(url)
                           .add_header("host", "x")
                           .add_header("x-ok", "\r")
                           .build();
                   }),
                   CAMB_RESULT_INVALID_PARAMETER, {"libcamb's own"}));
        CHECK(says(error_of([&] {
                       camb::ClientBuilder()
                           .api_key(key)
                           .base_url(url)
                           .log(camb::LogLevel::Debug, {})
                           .build();
                   }),
                   CAMB_RESULT_INVALID_PARAMETER, {"camb_client_builder_set_log", "empty"}));
        CHECK(says(error_of([&] {
                       camb::ClientBuilder()
                           .api_key(key)
                           .base_url(url)
                           .log(static_cast<camb::LogLevel>(9),
                                [](camb::LogLevel, std::string_view) {})
                           .build();
                   }),
                   CAMB_RESULT_INVALID_PARAMETER, {"camb_client_builder_set_log"}));
        // Accepted headers: the client works with them.
        const camb::Client client = camb::ClientBuilder()
                                        .api_key(key)
                                        .base_url(url)
                                        .add_header("traceparent", "00-abc-def-01")
                                        .add_header("x-tenant-token", secret, true)
                                        .build();
        CHECK(client.get_task_status("demo-success").status == camb::Status::Success);
    }

    if (failures != 0) {
        std::printf("log checks: %d of %d FAILED\n", failures, checks);
        return 1;
    }
    std::printf("log checks: all %d ok\n", checks);
    return 0;
}
