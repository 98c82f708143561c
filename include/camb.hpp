/*
 * camb.hpp: a header-only C++17 wrapper over camb.h, the C API of libcamb.
 *
 *     #include "camb.hpp"
 *
 *     camb::Client client;                               // key from CAMB_API_KEY
 *     std::string id = client.create_task("rain on a tin roof");
 *     camb::TaskInfo info = client.wait_for_task(id);
 *     if (info.status == camb::Status::Success)
 *         client.save_audio(*info.run_id, "rain.wav");
 *
 * Link with -lcamb, as for C. The sections below follow camb.h's order:
 * versioning and conventions, errors, builder, client, status, create, wait,
 * audio, batch, cancellation, then jobs. Everything camb.h promises holds here
 * too; the wrapper adds:
 * - Values: what libcamb returns (a camb_task, a camb_task_list, a
 *   camb_audio_url_list, a string freed with camb_string_free) is copied into
 *   plain C++ values (TaskInfo, TaskResult, AudioUrl, std::string) and the C
 *   object is freed before the call returns, by a std::unique_ptr, so that no
 *   path leaks one, exceptions included. The values are the caller's: copy
 *   them, move them to another thread, keep them across later calls.
 * - RAII: camb::Client, camb::ClientBuilder and camb::CancelToken own their
 *   handles (move-only); every handle is owned by an object before anything can
 *   throw.
 * - Exceptions: every failed call throws camb::Error (or a subclass for the
 *   common codes), with the code, the HTTP status and camb_last_error()'s words.
 *   A batch does not throw for one task: each TaskResult carries its own Error.
 * - std::string in and out. Strings are copied by length, so they keep any NUL
 *   byte the server sent. A string passed in that contains a NUL byte is refused
 *   (INVALID_PARAMETER) rather than silently cut short.
 * - std::function callbacks. An exception thrown by a callback never unwinds
 *   through libcamb (which camb.h forbids): the wrapper catches it, stops the
 *   operation, and rethrows it once libcamb has returned.
 * - Jobs (camb.h's camb_client_start_*), two ways; see the section "Jobs":
 *   - futures: client.get_task_status_async(id), wait_for_task_async(),
 *     generate_async(prompt, path), ... return a std::future at once; the call
 *     runs on libcamb's threads (holding none while a wait sleeps), and libcamb's
 *     callback copies the result into the future's promise and frees the job,
 *     whether or not anybody still holds the future;
 *   - for event loops: client.start_*(..., queue) returns a camb::Job (owning
 *     the camb_job), finished jobs come out of a camb::JobQueue whose fd() an
 *     event loop watches; no libcamb callback runs on the loop's thread.
 *     A Job can be cancelled, and followed (polls(), status()) while it runs.
 *
 * - Logging: ClientBuilder::log(level, function) hands each log line to a
 *   std::function, on whatever thread made the request (see "Log" below);
 *   ClientBuilder::add_header() adds headers of your own (a secret one is
 *   redacted from every line).
 *
 * Thread-safety is camb.h's: a Client may be used from many threads at once
 * (its methods are const), a CancelToken may be cancelled from any thread, a
 * ClientBuilder is for one thread at a time.
 */

#ifndef CAMB_HPP
#define CAMB_HPP

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "camb.h"

namespace camb {

// ---------------------------------------------------------------------------
// Versioning and conventions
// ---------------------------------------------------------------------------

/// The version of the libcamb that is running, such as "0.2.0".
inline std::string_view version() noexcept { return camb_version(); }

/// The version of camb.h this program was compiled with; compare with version().
inline constexpr std::string_view header_version = CAMB_VERSION_STRING;

namespace detail {

/// Frees a string libcamb handed over (a task id, an audio URL).
struct StringFree {
    void operator()(char* s) const noexcept { camb_string_free(s); }
};
using StringPtr = std::unique_ptr<char, StringFree>;

/// libcamb's text, copied by length (NUL bytes inside are kept); "" for NULL.
inline std::string copy(const char* text, std::size_t len) {
    return text == nullptr ? std::string() : std::string(text, len);
}

/// libcamb's text, copied by length; nullopt for NULL (absent).
inline std::optional<std::string> copy_optional(const char* text, std::size_t len) {
    if (text == nullptr) {
        return std::nullopt;
    }
    return std::string(text, len);
}

}  // namespace detail

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// The name of a result code, such as "CAMB_RESULT_NOT_FOUND" (static text).
inline const char* result_name(camb_result code) noexcept {
    return camb_result_name(static_cast<std::uint32_t>(code));
}

/// A failed libcamb call. what() is camb_last_error()'s text, read right after
/// the call (such as "HTTP 404 Not Found: Task not found: 1234"), or a batch
/// entry's own words; it never holds the API key.
///
/// Functions: code(), code_name(), http_status(), what().
/// Subclasses: NotFound, Unauthorized, Timeout, Cancelled.
class Error : public std::runtime_error {
public:
    /// An error with this code, HTTP status (0: none) and message.
    Error(camb_result code, std::uint16_t http_status, const std::string& message)
        : std::runtime_error(message), code_(code), http_status_(http_status) {}

    /// The result code, such as CAMB_RESULT_NOT_FOUND.
    camb_result code() const noexcept { return code_; }
    /// The code's name, such as "CAMB_RESULT_NOT_FOUND".
    const char* code_name() const noexcept { return result_name(code_); }
    /// The HTTP status of the reply behind the failure, or 0 when there was none
    /// (a timeout, a refused connection, a bad argument).
    std::uint16_t http_status() const noexcept { return http_status_; }

private:
    camb_result code_;
    std::uint16_t http_status_;
};

/// CAMB_RESULT_NOT_FOUND: HTTP 404, no such task or run.
///
/// Functions: those of Error.
class NotFound : public Error {
public:
    using Error::Error;
};

/// CAMB_RESULT_UNAUTHORIZED: HTTP 401, the API key is missing or not valid.
///
/// Functions: those of Error.
class Unauthorized : public Error {
public:
    using Error::Error;
};

/// CAMB_RESULT_TIMEOUT: the client's timeout, or a wait's deadline, passed.
///
/// Functions: those of Error.
class Timeout : public Error {
public:
    using Error::Error;
};

/// CAMB_RESULT_CANCELLED: a CancelToken was cancelled, or a callback returned false.
///
/// Functions: those of Error.
class Cancelled : public Error {
public:
    using Error::Error;
};

namespace detail {

/// Throws the Error subclass for `code`, with this status and message (the
/// code's name when the message is empty).
[[noreturn]] inline void throw_as(camb_result code, std::uint16_t http_status, std::string message) {
    if (message.empty()) {
        message = result_name(code);
    }
    switch (code) {
    case CAMB_RESULT_NOT_FOUND:
        throw NotFound(code, http_status, message);
    case CAMB_RESULT_UNAUTHORIZED:
        throw Unauthorized(code, http_status, message);
    case CAMB_RESULT_TIMEOUT:
        throw Timeout(code, http_status, message);
    case CAMB_RESULT_CANCELLED:
        throw Cancelled(code, http_status, message);
    default:
        throw Error(code, http_status, message);
    }
}

/// Throws the Error for a failed call. Must be called before any other libcamb
/// call on this thread, since that would replace camb_last_error().
[[noreturn]] inline void throw_error(camb_result code) {
    const std::uint16_t http_status = camb_last_http_status();
    throw_as(code, http_status, camb_last_error());
}

inline void check(camb_result code) {
    if (code != CAMB_RESULT_OK) {
        throw_error(code);
    }
}

/// The string as a C string, refusing one with a NUL byte inside: C would see
/// only the part before it (another task id, a shorter path).
inline const char* c_str(const std::string& s, const char* what) {
    if (s.find('\0') != std::string::npos) {
        throw Error(CAMB_RESULT_INVALID_PARAMETER, 0, std::string(what) + " contains a NUL byte");
    }
    return s.c_str();
}

inline std::uint64_t millis(std::chrono::milliseconds ms, const char* what) {
    if (ms.count() < 0) {
        throw Error(CAMB_RESULT_INVALID_PARAMETER, 0, std::string(what) + " is negative");
    }
    return static_cast<std::uint64_t>(ms.count());
}

}  // namespace detail

// ---------------------------------------------------------------------------
// Log
// ---------------------------------------------------------------------------

/// How much a log function is told (camb.h's CAMB_LOG_LEVEL_*), from the least to
/// the most; each level includes the ones before it.
enum class LogLevel : std::uint32_t {
    Error = CAMB_LOG_LEVEL_ERROR,  ///< a call failed for good
    Warn = CAMB_LOG_LEVEL_WARN,    ///< a retry was scheduled
    Info = CAMB_LOG_LEVEL_INFO,    ///< a reply with an error status; a job finished, failed or was cancelled
    Debug = CAMB_LOG_LEVEL_DEBUG,  ///< every request, reply, job start and poll
};

/// Receives one log line: its level and its text (one line, no newline; valid
/// only during the call). It runs on the thread making the request: the
/// caller's for a blocking call, one of libcamb's pool threads for a job, maybe
/// on several threads at once. The line never holds the API key, a proxy's
/// password or a secret header's value.
using LogFunction = std::function<void(LogLevel, std::string_view)>;

/// A header sent with every request (ClientOptions::headers; ClientBuilder::add_header()).
struct Header {
    std::string name;
    std::string value;
    /// Never shown in a log line or an error message; zeroed with the client.
    bool secret = false;
};

namespace detail {

/// A LogFunction and the calls of it in progress.
struct LogSink {
    explicit LogSink(LogFunction f) : function(std::move(f)) {}
    LogFunction function;
    std::mutex mutex;
    std::condition_variable idle;
    unsigned active = 0;  // calls running now
    bool closed = false;  // no call starts any more
};

/// The log sinks alive, by the number libcamb is given as user_data. libcamb's
/// last call of a log callback comes before camb_client_free() returns, except
/// for a client freed from inside a job's callback (its lines may come until its
/// last job has ended), so user_data is not a pointer: it is looked up here, and
/// a line for a sink already closed is dropped. Never destroyed (a pool thread may log while the program exits);
/// it stays reachable, so it is no leak.
struct LogRegistry {
    std::mutex mutex;
    std::uintptr_t last_id = 0;
    std::map<std::uintptr_t, std::shared_ptr<LogSink>> sinks;
};

inline LogRegistry& log_registry() {
    static LogRegistry* const registry = new LogRegistry();
    return *registry;
}

/// The sink whose function this thread is running, if any.
inline const LogSink*& current_log_sink() noexcept {
    thread_local const LogSink* sink = nullptr;
    return sink;
}

/// The camb_log_fn given to libcamb. Nothing unwinds out of it: an exception the
/// function throws is caught and dropped (the line is lost, the request goes
/// on), as is a failure to lock (std::system_error).
inline void log_trampoline(std::uint32_t level, const char* line, std::size_t len, void* user_data) noexcept {
    try {
        std::shared_ptr<LogSink> sink;
        {
            LogRegistry& registry = log_registry();
            const std::lock_guard<std::mutex> lock(registry.mutex);
            const auto found = registry.sinks.find(reinterpret_cast<std::uintptr_t>(user_data));
            if (found == registry.sinks.end()) {
                return;  // its Client is gone: the line is dropped
            }
            sink = found->second;
        }
        {
            const std::lock_guard<std::mutex> lock(sink->mutex);
            if (sink->closed) {
                return;
            }
            ++sink->active;
        }
        const LogSink* const outer = current_log_sink();
        current_log_sink() = sink.get();
        try {
            sink->function(static_cast<LogLevel>(level), std::string_view(line == nullptr ? "" : line, len));
        } catch (...) {
            // Swallowed: an exception must not unwind through libcamb.
        }
        current_log_sink() = outer;
        {
            const std::lock_guard<std::mutex> lock(sink->mutex);
            --sink->active;
        }
        sink->idle.notify_all();
    } catch (...) {
        // Out of memory or a lock refused: the line is dropped.
    }
}

/// Owns a LogSink's place in the registry (move-only). Closing it (destroying
/// it) stops new calls, then waits for the calls running on other threads, so
/// that nothing the function uses is touched after it returns.
class LogHandle {
public:
    LogHandle() noexcept = default;
    explicit LogHandle(LogFunction function) : sink_(std::make_shared<LogSink>(std::move(function))) {
        LogRegistry& registry = log_registry();
        const std::lock_guard<std::mutex> lock(registry.mutex);
        id_ = ++registry.last_id;
        registry.sinks.emplace(id_, sink_);
    }
    LogHandle(const LogHandle&) = delete;
    LogHandle& operator=(const LogHandle&) = delete;
    LogHandle(LogHandle&& other) noexcept
        : sink_(std::move(other.sink_)), id_(std::exchange(other.id_, 0)) {}
    LogHandle& operator=(LogHandle&& other) noexcept {
        if (this != &other) {
            close();
            sink_ = std::move(other.sink_);
            id_ = std::exchange(other.id_, 0);
        }
        return *this;
    }
    ~LogHandle() { close(); }

    /// What libcamb passes back to log_trampoline().
    void* user_data() const noexcept { return reinterpret_cast<void*>(id_); }

    void close() noexcept {
        if (!sink_) {
            return;
        }
        try {
            {
                LogRegistry& registry = log_registry();
                const std::lock_guard<std::mutex> lock(registry.mutex);
                registry.sinks.erase(id_);
            }
            std::unique_lock<std::mutex> lock(sink_->mutex);
            sink_->closed = true;
            // Closed from inside its own function (a Client destroyed by its
            // log function): this thread's call cannot end first; others are
            // not waited for.
            if (current_log_sink() != sink_.get()) {
                sink_->idle.wait(lock, [this] { return sink_->active == 0; });
            }
        } catch (...) {
            // A lock refused: nothing better to do than go on.
        }
        sink_.reset();
        id_ = 0;
    }

private:
    std::shared_ptr<LogSink> sink_;
    std::uintptr_t id_ = 0;
};

}  // namespace detail

// ---------------------------------------------------------------------------
// Builder
// ---------------------------------------------------------------------------

class Client;

/// Settings of a Client, all at once; anything left empty keeps libcamb's
/// default. Client(options) builds through a ClientBuilder.
///
/// Functions: none (a value); read by Client::Client() and ClientBuilder::ClientBuilder().
struct ClientOptions {
    /// The API key; empty: the environment variable CAMB_API_KEY.
    std::optional<std::string> api_key;
    /// The API's base URL; empty: "https://client.camb.ai/apis".
    std::optional<std::string> base_url;
    /// The whole-call timeout (default 60 s), retries included.
    std::optional<std::chrono::milliseconds> timeout;
    /// Extra attempts of a read after a transient failure (default 2, at most 10).
    std::optional<std::uint32_t> max_retries;
    /// A PEM file of CA certificates trusted instead of the built-in roots.
    std::optional<std::string> ca_bundle_file;
    /// PEM text of CA certificates trusted instead of the built-in roots.
    std::optional<std::string> ca_bundle_pem;
    /// A proxy URL such as "http://host:port" (see camb_client_builder_set_proxy);
    /// empty: connect directly (environment proxy variables are never read).
    std::optional<std::string> proxy;
    /// Allow plain http:// to a host that is not loopback, or through a proxy (the key travels in clear).
    bool allow_insecure_http = false;
    /// libcamb threads that run this client's jobs (default 4, from 1 to 64).
    std::optional<std::uint32_t> job_threads;
    /// Headers of your own, sent with every request (ClientBuilder::add_header()).
    std::vector<Header> headers;
    /// Receives the log lines up to log_level (ClientBuilder::log()); empty: none.
    LogFunction log;
    LogLevel log_level = LogLevel::Debug;
};

/// Settings for a new Client, set one by one (camb_client_builder). The setters
/// never throw a refusal: like camb.h's builder, it remembers the first setting
/// that was refused (by libcamb, or by the wrapper for a NUL byte or a negative
/// time), and build() throws that one, its message naming the setter. So a
/// chain of setters reports its first mistake, not a later consequence of it.
/// Move-only; for one thread at a time.
///
///     camb::Client client = camb::ClientBuilder().api_key(key).base_url(url).build();
///
/// Functions: ClientBuilder(), ClientBuilder(const ClientOptions&), api_key(),
/// base_url(), timeout(), max_retries(), allow_insecure_http(),
/// ca_bundle_file(), ca_bundle_pem(), proxy(), job_threads(), log(),
/// add_header(), build().
class ClientBuilder {
public:
    /// A builder with libcamb's defaults. Throws std::bad_alloc if libcamb is out
    /// of memory.
    ClientBuilder() : builder_(camb_client_builder_new()) {
        if (!builder_) {
            throw std::bad_alloc();
        }
    }

    /// A builder with every setting `options` holds.
    explicit ClientBuilder(const ClientOptions& options) : ClientBuilder() {
        if (options.api_key) {
            api_key(*options.api_key);
        }
        if (options.base_url) {
            base_url(*options.base_url);
        }
        if (options.timeout) {
            timeout(*options.timeout);
        }
        if (options.max_retries) {
            max_retries(*options.max_retries);
        }
        if (options.ca_bundle_file) {
            ca_bundle_file(*options.ca_bundle_file);
        }
        if (options.ca_bundle_pem) {
            ca_bundle_pem(*options.ca_bundle_pem);
        }
        if (options.proxy) {
            proxy(*options.proxy);
        }
        if (options.allow_insecure_http) {
            allow_insecure_http(true);
        }
        if (options.job_threads) {
            job_threads(*options.job_threads);
        }
        for (const Header& header : options.headers) {
            add_header(header.name, header.value, header.secret);
        }
        if (options.log) {
            log(options.log_level, options.log);
        }
    }

    ClientBuilder(const ClientBuilder&) = delete;
    ClientBuilder& operator=(const ClientBuilder&) = delete;
    ClientBuilder(ClientBuilder&&) noexcept = default;
    ClientBuilder& operator=(ClientBuilder&&) noexcept = default;
    ~ClientBuilder() = default;

    /// The API key sent in `x-api-key` (camb_client_builder_set_api_key).
    ClientBuilder& api_key(const std::string& key) {
        return set_string("camb_client_builder_set_api_key", key, "the API key",
                          &camb_client_builder_set_api_key);
    }
    /// The API's base URL (camb_client_builder_set_base_url).
    ClientBuilder& base_url(const std::string& url) {
        return set_string("camb_client_builder_set_base_url", url, "the base URL",
                          &camb_client_builder_set_base_url);
    }
    /// The whole-call timeout, retries included (camb_client_builder_set_timeout_ms).
    ClientBuilder& timeout(std::chrono::milliseconds ms) {
        if (ms.count() < 0) {
            return refuse("camb_client_builder_set_timeout_ms", "the timeout is negative");
        }
        return record(camb_client_builder_set_timeout_ms(builder_.get(), static_cast<std::uint64_t>(ms.count())));
    }
    /// Extra attempts of a read after a transient failure (camb_client_builder_set_max_retries).
    ClientBuilder& max_retries(std::uint32_t retries) {
        return record(camb_client_builder_set_max_retries(builder_.get(), retries));
    }
    /// Allow plain http:// beyond loopback, or through a proxy
    /// (camb_client_builder_set_allow_insecure_http).
    ClientBuilder& allow_insecure_http(bool allow) {
        return record(camb_client_builder_set_allow_insecure_http(builder_.get(), allow));
    }
    /// Trust the CA certificates of this PEM file (camb_client_builder_set_ca_bundle_file).
    ClientBuilder& ca_bundle_file(const std::string& path) {
        return set_string("camb_client_builder_set_ca_bundle_file", path, "the CA bundle path",
                          &camb_client_builder_set_ca_bundle_file);
    }
    /// Trust the CA certificates of this PEM text (camb_client_builder_set_ca_bundle_pem).
    ClientBuilder& ca_bundle_pem(const std::string& pem) {
        return record(camb_client_builder_set_ca_bundle_pem(
            builder_.get(), reinterpret_cast<const std::uint8_t*>(pem.data()), pem.size()));
    }
    /// Threads that run the client's jobs (camb_client_builder_set_job_threads).
    ClientBuilder& job_threads(std::uint32_t threads) {
        return record(camb_client_builder_set_job_threads(builder_.get(), threads));
    }
    /// Send every request through this HTTP proxy (camb_client_builder_set_proxy).
    ClientBuilder& proxy(const std::string& url) {
        return set_string("camb_client_builder_set_proxy", url, "the proxy URL", &camb_client_builder_set_proxy);
    }

    /// Sends the client's log lines up to `level` to `function`
    /// (camb_client_builder_set_log); a second call replaces the first.
    ///
    /// The function runs on the thread making each request: this thread for a
    /// blocking call, libcamb's pool threads for jobs and futures, possibly on
    /// several at once, so it must be thread-safe. An exception it throws is
    /// caught and dropped (it cannot unwind through libcamb): that line is lost
    /// and the request goes on.
    ///
    /// The built Client owns the function. Destroying the Client stops its lines
    /// and waits for calls still running on other threads, so the function's
    /// captures may go right after the Client (lines of its jobs that end later,
    /// such as "job 3 cancelled", are dropped). Hence the function must not wait
    /// for the thread destroying the Client. An empty function is refused.
    ClientBuilder& log(LogLevel level, LogFunction function) {
        if (!function) {
            return refuse("camb_client_builder_set_log", "the log function is empty");
        }
        detail::LogHandle handle(std::move(function));
        const camb_result result = camb_client_builder_set_log(builder_.get(), static_cast<std::uint32_t>(level),
                                                               &detail::log_trampoline, handle.user_data());
        if (result == CAMB_RESULT_OK) {
            log_ = std::move(handle);  // the previous one (if any) is closed
        }
        return record(result);
    }

    /// Adds a header sent with every request (camb_client_builder_add_header),
    /// such as "traceparent". A `secret` value never appears in a log line or an
    /// error message. libcamb refuses (and build() then throws, with why) a name
    /// it writes itself ("x-api-key", "host", ...), a name that is not an HTTP
    /// token, a value with CR, LF or another control character, over 8 KiB, a
    /// 65th header; the wrapper refuses a NUL byte.
    ClientBuilder& add_header(const std::string& name, const std::string& value, bool secret = false) {
        if (name.find('\0') != std::string::npos) {
            return refuse("camb_client_builder_add_header", "the header name contains a NUL byte");
        }
        if (value.find('\0') != std::string::npos) {
            return refuse("camb_client_builder_add_header", "the header value contains a NUL byte");
        }
        return record(camb_client_builder_add_header(builder_.get(), name.c_str(), value.c_str(), secret));
    }

    /// Builds the client (camb_client_builder_build), consuming the builder
    /// whatever the outcome. Throws the first refused setting's Error, or the
    /// build's own (CAMB_RESULT_MISSING_API_KEY, an insecure URL, ...); throws
    /// Error(CAMB_RESULT_INVALID_PARAMETER) on a builder already built.
    Client build();

private:
    struct BuilderFree {
        void operator()(camb_client_builder* b) const noexcept { camb_client_builder_free(b); }
    };

    using StringSetter = camb_result (*)(camb_client_builder*, const char*);

    ClientBuilder& set_string(const char* setter, const std::string& value, const char* what,
                              StringSetter set) {
        if (value.find('\0') != std::string::npos) {
            return refuse(setter, std::string(what) + " contains a NUL byte");
        }
        return record(set(builder_.get(), value.c_str()));
    }

    /// Notes a libcamb setter's result: libcamb remembers its own first refusal.
    ClientBuilder& record(camb_result result) {
        if (result != CAMB_RESULT_OK) {
            refused_ = true;
        }
        return *this;
    }

    /// A refusal by the wrapper itself, kept only if it is the first one (in
    /// libcamb's words for its own: "not built: SETTER() refused its value earlier").
    ClientBuilder& refuse(const char* setter, const std::string& why) {
        if (!refused_) {
            refused_ = true;
            own_refusal_.emplace(CAMB_RESULT_INVALID_PARAMETER, 0,
                                 std::string("not built: ") + setter + "() refused its value earlier: " + why);
        }
        return *this;
    }

    std::unique_ptr<camb_client_builder, BuilderFree> builder_;
    bool refused_ = false;
    std::optional<Error> own_refusal_;
    detail::LogHandle log_;  // handed to the Client by build()
};

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

struct TaskInfo;
struct CreateOptions;
struct WaitOptions;
struct Progress;
struct AudioUrl;
struct TaskResult;
class CancelToken;
struct Generation;
class Job;
class JobQueue;

/// A client for the CAMB text-to-sound API, owning a camb_client. Move-only.
///
/// Every method is const and thread-safe: share one Client between threads.
/// Every method throws camb::Error (or NotFound, Unauthorized, Timeout,
/// Cancelled) on failure, and std::bad_alloc when out of memory. A moved-from
/// Client throws Error(CAMB_RESULT_NULL_PARAMETER) from every method.
///
/// Functions: Client() (or ClientBuilder::build()), handle(),
/// get_task_status(), create_task(), wait_for_task(), download_audio(),
/// save_audio(), get_audio_url(), get_audio_urls(), get_task_statuses();
/// as futures: get_task_status_async(), create_task_async(),
/// wait_for_task_async(), save_audio_async(), get_task_statuses_async(),
/// generate_async(); as queue jobs: start_get_task_status(),
/// start_create_task(), start_wait_for_task(), start_save_audio(),
/// start_get_task_statuses(), start_generate().
class Client {
public:
    /// A client with these settings (see ClientBuilder). Throws Error when a
    /// setting is refused, or no key is set and CAMB_API_KEY is unset
    /// (CAMB_RESULT_MISSING_API_KEY).
    explicit Client(const ClientOptions& options = ClientOptions()) : Client(ClientBuilder(options).build()) {}

    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    Client(Client&& other) noexcept
        : client_(std::exchange(other.client_, nullptr)), log_(std::move(other.log_)) {}
    Client& operator=(Client&& other) noexcept {
        if (this != &other) {
            camb_client_free(client_);
            client_ = std::exchange(other.client_, nullptr);
            log_ = std::move(other.log_);  // after the free: the old log is closed last
        }
        return *this;
    }
    /// Frees the client and wipes its key. Every call on it must have returned.
    /// Then its log function (if any) gets no more lines: calls of it running on
    /// other threads are waited for.
    ~Client() { camb_client_free(client_); }  // then log_ closes

    /// The C handle (NULL after a move), for calls this wrapper does not cover.
    /// It stays owned by this Client.
    const camb_client* handle() const noexcept { return client_; }

    // --- status ---
    /// The task's current status (`GET /text-to-sound/{task_id}`, retried on
    /// transient failures). Throws NotFound for an unknown id.
    TaskInfo get_task_status(const std::string& task_id) const;

    // --- create ---
    /// Creates a text-to-sound task and returns its id. Checked before sending
    /// (an empty prompt or a bad duration costs nothing); not retried unless
    /// options.retry.
    std::string create_task(const std::string& prompt) const;
    std::string create_task(const std::string& prompt, const CreateOptions& options) const;

    // --- wait ---
    /// Polls until the task's status is final and returns it; a final status
    /// (SUCCESS, ERROR, TIMEOUT, ...) is a success of the wait: check info.status.
    ///
    /// `cancel` (may be null) stops the wait from any thread (throws Cancelled).
    /// `on_progress` (may be empty) is called on this thread after every poll;
    /// returning false stops the wait (throws Cancelled). An exception it throws
    /// stops the wait too and is rethrown from here, unchanged.
    /// Throws Timeout when the deadline passes while the task is still pending.
    TaskInfo wait_for_task(const std::string& task_id) const;
    TaskInfo wait_for_task(const std::string& task_id, const WaitOptions& options,
                           const CancelToken* cancel = nullptr,
                           std::function<bool(const Progress&)> on_progress = {}) const;

    // --- audio ---
    /// Downloads a successful run's audio (the WAV bytes), handing it to `write`
    /// in chunks of up to 64 KiB on this thread; returns the total bytes.
    /// `write` returning false, or `cancel` (may be null), stops it (throws
    /// Cancelled); an exception `write` throws stops it and is rethrown from here.
    /// After a failure, what `write` received is incomplete.
    std::uint64_t download_audio(std::int64_t run_id, std::function<bool(const std::uint8_t*, std::size_t)> write,
                                 const CancelToken* cancel = nullptr) const;

    /// Saves a successful run's audio to `path`, following symlinks: a regular file
    /// (or none) is replaced through a temporary file and a rename, so on failure
    /// no file is left and an existing one is untouched; a device or a FIFO is
    /// written in place; a directory or a socket is refused before downloading
    /// (camb_client_save_audio() has the rules). Returns the size in bytes.
    std::uint64_t save_audio(std::int64_t run_id, const std::string& path, const CancelToken* cancel = nullptr) const;

    /// The pre-signed URL of a successful run's audio.
    std::string get_audio_url(std::int64_t run_id) const;

    /// The URLs of many runs' audio in one request (1 to 1000 ids; none gives an
    /// empty vector without a request): one AudioUrl per run id, in order, whose
    /// url is empty when the server gave none (unknown run, or not successful).
    std::vector<AudioUrl> get_audio_urls(const std::vector<std::int64_t>& run_ids) const;

    // --- batch ---
    /// The statuses of many tasks at once, up to `max_connections` requests at a
    /// time (0: libcamb's 8; at most 32). One TaskResult per id, in order, each
    /// with its status or its own Error (a missing task, an invalid id, a
    /// timeout): one task's failure never throws. Throws only when the batch as a
    /// whole is refused (more than 100000 ids, max_connections over 32).
    std::vector<TaskResult> get_task_statuses(const std::vector<std::string>& task_ids,
                                              std::uint32_t max_connections = 0) const;

    // --- jobs: futures ---
    // Each starts a job and returns its future at once; the job runs on the
    // client's libcamb threads. The future holds the value, or the job's failure
    // as the Error subclass of the blocking call (NotFound, Timeout, Cancelled,
    // ...), with the job's own words and HTTP status. A start that libcamb
    // refuses (a bad argument, a moved-from client) throws at once instead.
    // Destroying the Client cancels its jobs: their futures then hold Cancelled.
    // A future may be dropped: the job still runs to its end and is freed then.
    // A future cannot cancel its job; a Job (start_*, below) can.

    /// get_task_status() as a job.
    std::future<TaskInfo> get_task_status_async(const std::string& task_id) const;
    /// create_task() as a job: the new task's id.
    std::future<std::string> create_task_async(const std::string& prompt) const;
    std::future<std::string> create_task_async(const std::string& prompt, const CreateOptions& options) const;
    /// wait_for_task() as a job: between polls it holds no thread.
    std::future<TaskInfo> wait_for_task_async(const std::string& task_id) const;
    std::future<TaskInfo> wait_for_task_async(const std::string& task_id, const WaitOptions& options) const;
    /// save_audio() as a job: the size in bytes.
    std::future<std::uint64_t> save_audio_async(std::int64_t run_id, const std::string& path) const;
    /// get_task_statuses() as a job: one TaskResult per id, as the blocking call.
    std::future<std::vector<TaskResult>> get_task_statuses_async(const std::vector<std::string>& task_ids,
                                                                 std::uint32_t max_connections = 0) const;
    /// A whole generation as one job: create a task from `prompt`, wait for it,
    /// save its audio as a WAV file at `path`. A task that ends without audio
    /// fails it with Error(CAMB_RESULT_TASK_FAILED), whose message names the
    /// task, its status and reason; no file is left at `path` then.
    std::future<Generation> generate_async(const std::string& prompt, const std::string& path) const;
    std::future<Generation> generate_async(const std::string& prompt, const std::string& path,
                                           const CreateOptions& create, const WaitOptions& wait) const;

    // --- jobs: for event loops ---
    // Each starts a job that is put on `queue` when it finishes, and returns the
    // Job that owns it (see Job and JobQueue). Refused starts throw.

    Job start_get_task_status(const std::string& task_id, const JobQueue& queue) const;
    Job start_create_task(const std::string& prompt, const CreateOptions& options, const JobQueue& queue) const;
    Job start_wait_for_task(const std::string& task_id, const WaitOptions& options, const JobQueue& queue) const;
    Job start_save_audio(std::int64_t run_id, const std::string& path, const JobQueue& queue) const;
    /// Unlike get_task_statuses(), an id with a NUL byte refuses the whole start
    /// (INVALID_PARAMETER): the Job's list holds only what libcamb was given.
    Job start_get_task_statuses(const std::vector<std::string>& task_ids, std::uint32_t max_connections,
                                const JobQueue& queue) const;
    Job start_generate(const std::string& prompt, const std::string& path, const CreateOptions& create,
                       const WaitOptions& wait, const JobQueue& queue) const;

private:
    friend class ClientBuilder;
    Client(camb_client* client, detail::LogHandle log) noexcept : client_(client), log_(std::move(log)) {}

    camb_client* client_ = nullptr;
    detail::LogHandle log_;  // after client_: closed once the client is freed
};

inline Client ClientBuilder::build() {
    if (!builder_) {
        throw Error(CAMB_RESULT_INVALID_PARAMETER, 0, "the ClientBuilder was already built (or moved from)");
    }
    if (own_refusal_) {
        builder_.reset();  // consumed, as camb_client_builder_build() would
        throw *own_refusal_;
    }
    camb_client* client = nullptr;
    // The log function goes to the client, or is closed if the build fails.
    detail::LogHandle log = std::move(log_);
    // Building consumes the builder whatever the outcome.
    detail::check(camb_client_builder_build(builder_.release(), &client));
    return Client(client, std::move(log));
}

// ---------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------

/// The status of a task (camb.h's `CAMB_STATUS_*`). A value this version does
/// not know may also arrive (the underlying value is kept); treat it as final.
///
/// Functions: status_name(), is_final().
enum class Status : std::uint32_t {
    Unknown = CAMB_STATUS_UNKNOWN,  ///< a status text libcamb does not know; see TaskInfo::status_text
    Pending = CAMB_STATUS_PENDING,  ///< still being generated; the only status that is not final
    Success = CAMB_STATUS_SUCCESS,  ///< done: fetch the audio with the run id
    Timeout = CAMB_STATUS_TIMEOUT,  ///< the generation took too long on the server
    Error = CAMB_STATUS_ERROR,      ///< the generation failed; see exception_reason and message
    PaymentRequired = CAMB_STATUS_PAYMENT_REQUIRED,  ///< the account ran out of credits
};

/// The name of a status, such as "CAMB_STATUS_SUCCESS" (static text).
inline const char* status_name(Status status) noexcept {
    return camb_status_name(static_cast<std::uint32_t>(status));
}

/// True for every status but Pending (including Unknown and unknown values).
inline bool is_final(Status status) noexcept {
    return camb_status_is_final(static_cast<std::uint32_t>(status));
}

/// A task's status as the server reported it: a copy of a camb_task that has
/// one, owned by the caller (the camb_task is freed before the call returns).
///
/// Functions: is_final(); made by Client::get_task_status(),
/// Client::wait_for_task(), and found in a TaskResult.
struct TaskInfo {
    /// The task id that was asked for.
    std::string task_id;
    /// The status; every value but Pending is final.
    Status status = Status::Unknown;
    /// The status exactly as the server sent it, such as "SUCCESS" or "QUEUED_FOR_GPU".
    std::string status_text;
    /// The run id, needed to fetch the audio; empty while pending or when the
    /// server sent none.
    std::optional<std::int64_t> run_id;
    /// Why the task failed, such as "PROCESSING_ERROR"; empty when the server sent none.
    std::optional<std::string> exception_reason;
    /// The server's message (its text, or compact JSON for an object); empty when none.
    std::optional<std::string> message;

    /// True unless the status is Pending.
    bool is_final() const noexcept { return camb::is_final(status); }
};

namespace detail {

/// Frees a task the caller owns (never one of a list).
struct TaskFree {
    void operator()(camb_task* t) const noexcept { camb_task_free(t); }
};
using TaskPtr = std::unique_ptr<camb_task, TaskFree>;

/// Copies a camb_task that has a status (camb_task_result() is OK), strings by
/// their lengths.
inline TaskInfo read_task(const camb_task* task) {
    TaskInfo info;
    std::size_t len = 0;
    const char* text = camb_task_id(task, &len);
    info.task_id = copy(text, len);
    info.status = static_cast<Status>(camb_task_status(task));
    text = camb_task_status_text(task, &len);
    info.status_text = copy(text, len);
    std::int64_t run_id = 0;
    if (camb_task_run_id(task, &run_id)) {
        info.run_id = run_id;
    }
    text = camb_task_exception_reason(task, &len);
    info.exception_reason = copy_optional(text, len);
    text = camb_task_message(task, &len);
    info.message = copy_optional(text, len);
    return info;
}

}  // namespace detail

inline TaskInfo Client::get_task_status(const std::string& task_id) const {
    camb_task* raw = nullptr;
    detail::check(camb_client_get_task_status(client_, detail::c_str(task_id, "the task id"), &raw));
    const detail::TaskPtr task(raw);
    return detail::read_task(task.get());
}

// ---------------------------------------------------------------------------
// Create
// ---------------------------------------------------------------------------

/// What kind of audio to generate (camb.h's `CAMB_AUDIO_TYPE_*`).
///
/// Functions: none; read by Client::create_task() through CreateOptions.
enum class AudioType : std::uint32_t {
    Default = CAMB_AUDIO_TYPE_DEFAULT,  ///< let the server choose (sound)
    Sound = CAMB_AUDIO_TYPE_SOUND,      ///< a sound effect, at most 10 seconds
    Music = CAMB_AUDIO_TYPE_MUSIC,      ///< music
};

/// Options of Client::create_task (camb_create_options, which the wrapper
/// builds from camb_create_options_default(), so its struct_size is set).
///
/// Functions: none (a value); read by Client::create_task().
struct CreateOptions {
    /// Seconds of audio; 0 lets the server choose. For sound, at most 10.
    double duration_s = 0;
    AudioType audio_type = AudioType::Default;
    std::optional<std::string> project_name;
    std::optional<std::string> project_description;
    std::optional<std::int64_t> folder_id;
    /// Retry after a transient failure. Off by default: a retry after a lost
    /// reply can create (and bill) a second task.
    bool retry = false;
};

inline std::string Client::create_task(const std::string& prompt) const {
    return create_task(prompt, CreateOptions());
}

namespace detail {

/// camb_create_options from `options`, whose strings it borrows.
inline camb_create_options create_options(const CreateOptions& options) {
    camb_create_options c = camb_create_options_default();
    c.duration_s = options.duration_s;
    c.audio_type = static_cast<std::uint32_t>(options.audio_type);
    if (options.project_name) {
        c.project_name = c_str(*options.project_name, "the project name");
    }
    if (options.project_description) {
        c.project_description = c_str(*options.project_description, "the project description");
    }
    if (options.folder_id) {
        c.has_folder_id = true;
        c.folder_id = *options.folder_id;
    }
    c.retry = options.retry;
    return c;
}

}  // namespace detail

inline std::string Client::create_task(const std::string& prompt, const CreateOptions& options) const {
    const camb_create_options c = detail::create_options(options);
    char* raw = nullptr;
    std::size_t len = 0;
    detail::check(camb_client_create_task(client_, detail::c_str(prompt, "the prompt"), &c, &raw, &len));
    const detail::StringPtr task_id(raw);
    return detail::copy(task_id.get(), len);
}

// ---------------------------------------------------------------------------
// Wait
// ---------------------------------------------------------------------------

/// How Client::wait_for_task polls (camb_wait_options, built from
/// camb_wait_options_default()). The defaults are libcamb's: first pause 2 s,
/// growing 1.5x up to 15 s, for at most 10 minutes.
///
/// Functions: WaitOptions() (libcamb's defaults); read by Client::wait_for_task().
struct WaitOptions {
    /// Pause after the first poll; > 0 and <= max_interval.
    std::chrono::milliseconds initial_interval;
    /// Each pause is the previous one times this, from 1 to 10.
    double backoff_factor;
    /// The longest pause.
    std::chrono::milliseconds max_interval;
    /// The whole wait ends by then (at most a day).
    std::chrono::milliseconds deadline;

    WaitOptions() noexcept {
        const camb_wait_options d = camb_wait_options_default();
        initial_interval = std::chrono::milliseconds(d.initial_interval_ms);
        backoff_factor = d.backoff_factor;
        max_interval = std::chrono::milliseconds(d.max_interval_ms);
        deadline = std::chrono::milliseconds(d.deadline_ms);
    }
};

/// What the progress callback of Client::wait_for_task is told after every poll
/// (a copy of camb_wait_progress, so it may be kept after the callback).
///
/// Functions: none (a value); passed to the callback of Client::wait_for_task().
struct Progress {
    /// Polls so far, this one included.
    std::uint32_t polls = 0;
    /// Time since the wait began.
    std::chrono::milliseconds elapsed{0};
    /// CAMB_RESULT_OK when this poll got a status; otherwise the transient failure
    /// the wait is riding out, or (when done) the one that ends it (see error_message).
    camb_result poll_result = CAMB_RESULT_OK;
    /// The status, when poll_result is OK.
    Status status = Status::Unknown;
    /// The status as sent, when poll_result is OK; empty otherwise.
    std::string status_text;
    /// The failure in words, when poll_result is not OK; empty otherwise.
    std::string error_message;
    /// The status differs from the previous poll's (always true on the first
    /// successful poll).
    bool status_changed = false;
    /// This poll ended the wait (the status is final).
    bool done = false;
    /// Time until the next poll; 0 when done.
    std::chrono::milliseconds next_poll_in{0};
};

namespace detail {

/// The C handle of a token, or NULL (defined after CancelToken, below).
inline const camb_cancel_token* token_handle(const CancelToken* token) noexcept;

struct ProgressContext {
    const std::function<bool(const Progress&)>* callback;
    std::exception_ptr error;
};

/// libcamb calls this after every poll. Nothing may unwind out of it.
inline bool progress_trampoline(const camb_wait_progress* p, void* user_data) noexcept {
    auto* context = static_cast<ProgressContext*>(user_data);
    try {
        Progress progress;
        progress.polls = p->polls;
        progress.elapsed = std::chrono::milliseconds(p->elapsed_ms);
        progress.poll_result = static_cast<camb_result>(p->poll_result);
        progress.status = static_cast<Status>(p->status);
        progress.status_text = copy(p->status_text, p->status_text_len);
        progress.error_message = copy(p->error_message, p->error_message_len);
        progress.status_changed = p->status_changed;
        progress.done = p->done;
        progress.next_poll_in = std::chrono::milliseconds(p->next_poll_in_ms);
        return (*context->callback)(progress);
    } catch (...) {
        context->error = std::current_exception();
        return false;
    }
}

}  // namespace detail

inline TaskInfo Client::wait_for_task(const std::string& task_id) const {
    return wait_for_task(task_id, WaitOptions());
}

namespace detail {

/// camb_wait_options from `options`.
inline camb_wait_options wait_options(const WaitOptions& options) {
    camb_wait_options c = camb_wait_options_default();
    c.initial_interval_ms = millis(options.initial_interval, "the initial interval");
    c.backoff_factor = options.backoff_factor;
    c.max_interval_ms = millis(options.max_interval, "the maximum interval");
    c.deadline_ms = millis(options.deadline, "the deadline");
    return c;
}

}  // namespace detail

inline TaskInfo Client::wait_for_task(const std::string& task_id, const WaitOptions& options,
                                      const CancelToken* cancel,
                                      std::function<bool(const Progress&)> on_progress) const {
    const camb_wait_options c = detail::wait_options(options);
    detail::ProgressContext context{&on_progress, nullptr};
    camb_task* raw = nullptr;
    const camb_result result = camb_client_wait_for_task(
        client_, detail::c_str(task_id, "the task id"), &c, detail::token_handle(cancel),
        on_progress ? &detail::progress_trampoline : nullptr, &context, &raw);
    // Owned before anything can throw. (When the callback threw, the wait
    // stopped with CANCELLED and made no task; freeing NULL is a no-op.)
    const detail::TaskPtr task(raw);
    if (context.error) {
        std::rethrow_exception(context.error);
    }
    detail::check(result);
    return detail::read_task(task.get());
}

// ---------------------------------------------------------------------------
// Audio
// ---------------------------------------------------------------------------

/// One entry of Client::get_audio_urls(): a run id asked for and its audio's
/// URL, if the server gave one.
///
/// Functions: none (a value); made by Client::get_audio_urls().
struct AudioUrl {
    /// The run id, as asked for.
    std::int64_t run_id = 0;
    /// The pre-signed URL; empty when the server gave none (unknown run, or not
    /// successful).
    std::optional<std::string> url;
};

namespace detail {

struct WriteContext {
    const std::function<bool(const std::uint8_t*, std::size_t)>* callback;
    std::exception_ptr error;
};

/// libcamb calls this with each chunk of a download. Nothing may unwind out of it.
inline bool write_trampoline(const std::uint8_t* data, std::size_t len, void* user_data) noexcept {
    auto* context = static_cast<WriteContext*>(user_data);
    try {
        return (*context->callback)(data, len);
    } catch (...) {
        context->error = std::current_exception();
        return false;
    }
}

/// Frees a camb_audio_url_list and its strings.
struct AudioUrlListFree {
    void operator()(camb_audio_url_list* l) const noexcept { camb_audio_url_list_free(l); }
};
using AudioUrlListPtr = std::unique_ptr<camb_audio_url_list, AudioUrlListFree>;

}  // namespace detail

inline std::uint64_t Client::download_audio(std::int64_t run_id,
                                            std::function<bool(const std::uint8_t*, std::size_t)> write,
                                            const CancelToken* cancel) const {
    if (!write) {
        throw Error(CAMB_RESULT_NULL_PARAMETER, 0, "the write callback is empty");
    }
    detail::WriteContext context{&write, nullptr};
    std::uint64_t bytes = 0;
    const camb_result result = camb_client_download_audio(client_, run_id, detail::token_handle(cancel),
                                                          &detail::write_trampoline, &context, &bytes);
    if (context.error) {
        std::rethrow_exception(context.error);
    }
    detail::check(result);
    return bytes;
}

inline std::uint64_t Client::save_audio(std::int64_t run_id, const std::string& path,
                                        const CancelToken* cancel) const {
    std::uint64_t bytes = 0;
    detail::check(
        camb_client_save_audio(client_, run_id, detail::c_str(path, "the path"), detail::token_handle(cancel), &bytes));
    return bytes;
}

inline std::string Client::get_audio_url(std::int64_t run_id) const {
    char* raw = nullptr;
    std::size_t len = 0;
    detail::check(camb_client_get_audio_url(client_, run_id, &raw, &len));
    const detail::StringPtr url(raw);
    return detail::copy(url.get(), len);
}

inline std::vector<AudioUrl> Client::get_audio_urls(const std::vector<std::int64_t>& run_ids) const {
    std::vector<AudioUrl> urls;
    if (run_ids.empty()) {
        return urls;
    }
    camb_audio_url_list* raw = nullptr;
    detail::check(camb_client_get_audio_urls(client_, run_ids.data(), run_ids.size(), &raw));
    const detail::AudioUrlListPtr list(raw);
    const std::size_t count = camb_audio_url_list_len(list.get());
    urls.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        AudioUrl entry;
        std::size_t len = 0;
        const char* url = camb_audio_url_list_get(list.get(), i, &entry.run_id, &len);
        entry.url = detail::copy_optional(url, len);
        urls.push_back(std::move(entry));
    }
    return urls;
}

// ---------------------------------------------------------------------------
// Batch
// ---------------------------------------------------------------------------

/// One task of Client::get_task_statuses(): its status, or why there is none.
/// Exactly one of info and error is set.
///
/// Functions: ok(), value(); made by Client::get_task_statuses().
struct TaskResult {
    /// The task id, as the caller passed it (also for an id that was refused).
    std::string task_id;
    /// The status, when the query succeeded.
    std::optional<TaskInfo> info;
    /// Why the query failed: its code (such as CAMB_RESULT_NOT_FOUND), its words
    /// and its HTTP status (0 when there was no reply).
    std::optional<Error> error;

    /// True when info holds the status.
    bool ok() const noexcept { return info.has_value(); }

    /// The status, or throws this task's error (as its subclass: NotFound, ...).
    const TaskInfo& value() const {
        if (!info) {
            if (error) {
                detail::throw_as(error->code(), error->http_status(), error->what());
            }
            throw Error(CAMB_RESULT_BAD_RESPONSE, 0, "the task has neither a status nor an error");
        }
        return *info;
    }
};

namespace detail {

/// Frees a camb_task_list and every task in it.
struct TaskListFree {
    void operator()(camb_task_list* l) const noexcept { camb_task_list_free(l); }
};
using TaskListPtr = std::unique_ptr<camb_task_list, TaskListFree>;

/// Copies one task of a list: its status, or its own error.
inline TaskResult read_result(const camb_task* task, const std::string& task_id) {
    TaskResult entry;
    entry.task_id = task_id;
    const camb_result code = camb_task_result(task);
    if (code == CAMB_RESULT_OK) {
        entry.info = read_task(task);
    } else {
        std::size_t len = 0;
        const char* text = camb_task_error(task, &len);
        std::string message = copy(text, len);
        if (message.empty()) {
            message = result_name(code);
        }
        entry.error.emplace(code, camb_task_http_status(task), message);
    }
    return entry;
}

}  // namespace detail

namespace detail {

/// The ids of a batch that are sent: those without a NUL byte.
inline std::vector<const char*> sent_ids(const std::vector<std::string>& task_ids) {
    std::vector<const char*> sent;
    sent.reserve(task_ids.size());
    for (const std::string& id : task_ids) {
        if (id.find('\0') == std::string::npos) {
            sent.push_back(id.c_str());
        }
    }
    return sent;
}

/// One TaskResult per id of `task_ids`, in order, from the list libcamb made for
/// the ids sent_ids() kept; an id with a NUL byte gets its own refusal.
inline std::vector<TaskResult> read_results(const camb_task_list* list, const std::vector<std::string>& task_ids) {
    std::size_t sent = 0;
    for (const std::string& id : task_ids) {
        sent += id.find('\0') == std::string::npos ? 1 : 0;
    }
    if (camb_task_list_len(list) != sent) {
        throw Error(CAMB_RESULT_BAD_RESPONSE, 0, "libcamb returned a list of another length than asked for");
    }
    std::vector<TaskResult> results;
    results.reserve(task_ids.size());
    std::size_t next = 0;
    for (const std::string& id : task_ids) {
        if (id.find('\0') != std::string::npos) {
            TaskResult refused;
            refused.task_id = id;
            refused.error.emplace(CAMB_RESULT_INVALID_PARAMETER, 0, "the task id contains a NUL byte");
            results.push_back(std::move(refused));
        } else {
            results.push_back(read_result(camb_task_list_get(list, next++), id));
        }
    }
    return results;
}

}  // namespace detail

inline std::vector<TaskResult> Client::get_task_statuses(const std::vector<std::string>& task_ids,
                                                         std::uint32_t max_connections) const {
    // An id with a NUL byte is refused here, on its own, as libcamb refuses an
    // invalid id: only the others are sent.
    const std::vector<const char*> sent = detail::sent_ids(task_ids);
    camb_task_list* raw = nullptr;
    detail::check(camb_client_get_task_statuses(client_, sent.empty() ? nullptr : sent.data(), sent.size(),
                                                max_connections, &raw));
    const detail::TaskListPtr list(raw);
    return detail::read_results(list.get(), task_ids);
}

// ---------------------------------------------------------------------------
// Cancellation
// ---------------------------------------------------------------------------

/// Cancels the waits and downloads it is passed to. cancel(), reset() and
/// is_cancelled() may be called from any thread at any time; move or destroy the
/// token only after every call it was passed to has returned. Move-only.
///
/// Functions: CancelToken(), cancel(), reset(), is_cancelled(), handle().
class CancelToken {
public:
    /// A token, not cancelled. Throws std::bad_alloc if libcamb is out of memory.
    CancelToken() : token_(camb_cancel_token_new()) {
        if (token_ == nullptr) {
            throw std::bad_alloc();
        }
    }
    CancelToken(const CancelToken&) = delete;
    CancelToken& operator=(const CancelToken&) = delete;
    CancelToken(CancelToken&& other) noexcept : token_(std::exchange(other.token_, nullptr)) {}
    CancelToken& operator=(CancelToken&& other) noexcept {
        if (this != &other) {
            camb_cancel_token_free(token_);
            token_ = std::exchange(other.token_, nullptr);
        }
        return *this;
    }
    ~CancelToken() { camb_cancel_token_free(token_); }

    /// Stops every wait or download using this token as soon as it can (a
    /// sleeping wait at once), and later ones before they start, until reset().
    /// No effect on a moved-from token.
    void cancel() const noexcept { (void)camb_cancel_token_cancel(token_); }
    /// Lowers the flag so the token can serve another operation.
    void reset() const noexcept { (void)camb_cancel_token_reset(token_); }
    /// True once cancel() was called (and not reset since).
    bool is_cancelled() const noexcept { return camb_cancel_token_is_cancelled(token_); }

    /// The C handle (NULL after a move), for calls this wrapper does not cover.
    const camb_cancel_token* handle() const noexcept { return token_; }

private:
    camb_cancel_token* token_;
};

inline const camb_cancel_token* detail::token_handle(const CancelToken* token) noexcept {
    return token != nullptr ? token->handle() : nullptr;
}

// ---------------------------------------------------------------------------
// Jobs
// ---------------------------------------------------------------------------

/// Where a job is in its life (camb.h's `CAMB_JOB_STATE_*`).
///
/// Functions: none; returned by Job::state().
enum class JobState : std::uint32_t {
    Queued = CAMB_JOB_STATE_QUEUED,    ///< waiting for a libcamb thread
    Running = CAMB_JOB_STATE_RUNNING,  ///< a request in flight on a libcamb thread
    Waiting = CAMB_JOB_STATE_WAITING,  ///< between two polls, holding no thread
    Done = CAMB_JOB_STATE_DONE,        ///< finished: its result is there
};

/// What a generation made: the task, its final status, the file's size.
///
/// Functions: none (a value); made by Client::generate_async() and Job::generation().
struct Generation {
    /// The id of the task the generation created.
    std::string task_id;
    /// Its final status (Success).
    TaskInfo task;
    /// The bytes saved to the file.
    std::uint64_t bytes = 0;
    /// The polls the wait made.
    std::uint32_t polls = 0;
};

namespace detail {

/// Frees a job (cancelling it if it still runs).
struct JobFree {
    void operator()(camb_job* j) const noexcept { camb_job_free(j); }
};
using JobPtr = std::unique_ptr<camb_job, JobFree>;

/// Throws the job's own failure (its code as the Error subclass, its words, its
/// HTTP status), or NOT_READY while it runs; returns when it succeeded.
inline void check_job(const camb_job* job) {
    if (job == nullptr) {
        throw Error(CAMB_RESULT_NULL_PARAMETER, 0, "the Job is empty (moved from)");
    }
    const camb_result code = camb_job_result(job);
    if (code == CAMB_RESULT_OK) {
        return;
    }
    if (code == CAMB_RESULT_NOT_READY) {
        throw Error(code, 0, "the job has not finished yet");
    }
    std::size_t len = 0;
    const char* text = camb_job_error(job, &len);
    throw_as(code, camb_job_http_status(job), copy(text, len));
}

[[noreturn]] inline void no_output(const char* what) {
    throw Error(CAMB_RESULT_INVALID_PARAMETER, 0, std::string("this job has no ") + what);
}

/// The task of a finished status, wait or generate job, copied.
inline TaskInfo job_task(const camb_job* job) {
    check_job(job);
    const camb_task* task = camb_job_task(job);  // the job's: not freed here
    if (task == nullptr) {
        no_output("task (only status, wait and generate jobs have one)");
    }
    return read_task(task);
}

/// The task id of a finished create, generate, status or wait job, copied.
inline std::string job_task_id(const camb_job* job) {
    check_job(job);
    std::size_t len = 0;
    const char* id = camb_job_task_id(job, &len);
    if (id == nullptr) {
        no_output("task id (only create, generate, status and wait jobs have one)");
    }
    return copy(id, len);
}

/// The bytes a finished save or generate job delivered.
inline std::uint64_t job_bytes(const camb_job* job) {
    check_job(job);
    return camb_job_bytes(job);
}

/// What a finished generate job made, copied.
inline Generation job_generation(const camb_job* job) {
    Generation generation;
    generation.task = job_task(job);
    generation.task_id = job_task_id(job);
    generation.bytes = camb_job_bytes(job);
    generation.polls = camb_job_polls(job);
    return generation;
}

/// A job started with a callback for a future: the promise, and how to copy
/// the job's result into it.
template <class T>
struct AsyncCall {
    std::promise<T> promise;
    std::function<T(const camb_job*)> read;
};

/// libcamb calls this once, on one of its threads, when the job is done. It
/// owns the job and the AsyncCall from here on: the result is copied into the
/// promise, then the job is freed (from inside its own callback, which
/// camb_job_free() allows), then the AsyncCall. Nothing may unwind out of it.
template <class T>
void async_done(camb_job* raw, void* user_data) noexcept {
    const std::unique_ptr<AsyncCall<T>> call(static_cast<AsyncCall<T>*>(user_data));
    const JobPtr job(raw);
    try {
        call->promise.set_value(call->read(job.get()));
    } catch (...) {
        try {
            call->promise.set_exception(std::current_exception());
        } catch (...) {
            // Only a promise already satisfied throws here, which cannot happen.
        }
    }
}

/// Starts a job whose result `read` copies into the returned future.
/// `start(callback, user_data, &job)` calls one camb_client_start_* function and
/// must do nothing else (it must not throw).
template <class T, class Start>
std::future<T> start_async(Start start, std::function<T(const camb_job*)> read) {
    auto call = std::make_unique<AsyncCall<T>>();
    call->read = std::move(read);
    std::future<T> future = call->promise.get_future();
    // The job is the callback's, which may have run and freed it by the time
    // start() returns: it is never touched here.
    camb_job* job = nullptr;
    const camb_result result = start(&async_done<T>, static_cast<void*>(call.get()), &job);
    if (result != CAMB_RESULT_OK) {
        throw_error(result);  // never started: `call` is still ours, and freed
    }
    // Started: the callback owns the AsyncCall now (it may already be gone;
    // release() does not touch it).
    static_cast<void>(call.release());
    return future;
}

}  // namespace detail

/// A job that its Client started with a JobQueue (Client::start_*), owning the
/// camb_job. Move-only; destroying it frees the job: a job still running is
/// cancelled and never put on its queue.
///
/// When it is done it is put on its JobQueue, and JobQueue::pop() returns its
/// handle() (the Job still owns it). Its result is read with task(), task_id(),
/// bytes(), task_list() or generation(), which copy it out and throw the job's
/// failure as the Error subclass of the blocking call (NotFound, Cancelled, ...),
/// or Error(CAMB_RESULT_NOT_READY) while it runs. Any method may be called from
/// any thread, also while the job runs (polls() and status() follow a wait).
///
/// Functions: handle(), state(), done(), result(), cancel(), polls(), status(),
/// check(), task(), task_id(), bytes(), task_list(), generation().
class Job {
public:
    Job(const Job&) = delete;
    Job& operator=(const Job&) = delete;
    Job(Job&& other) noexcept : job_(std::exchange(other.job_, nullptr)) {}
    Job& operator=(Job&& other) noexcept {
        if (this != &other) {
            camb_job_free(job_);
            job_ = std::exchange(other.job_, nullptr);
        }
        return *this;
    }
    /// Frees the job (camb_job_free): cancelled if it still runs.
    ~Job() { camb_job_free(job_); }

    /// The C handle, which JobQueue::pop() returns when the job is done (NULL
    /// after a move). It stays owned by this Job.
    const camb_job* handle() const noexcept { return job_; }

    JobState state() const noexcept { return static_cast<JobState>(camb_job_get_state(job_)); }
    /// True once the job has finished (also when moved from).
    bool done() const noexcept { return state() == JobState::Done; }
    /// CAMB_RESULT_OK, the failure, or CAMB_RESULT_NOT_READY while it runs.
    camb_result result() const noexcept { return camb_job_result(job_); }

    /// Cancels the job: a waiting job finishes at once, a running one at its next
    /// check; it is then delivered with Cancelled. A finished job is left as it is.
    void cancel() const noexcept { static_cast<void>(camb_job_cancel(job_)); }
    /// Polls a wait or generate job has made so far.
    std::uint32_t polls() const noexcept { return camb_job_polls(job_); }
    /// The last status a wait or generate job's polls saw (Unknown before the first).
    Status status() const noexcept { return static_cast<Status>(camb_job_status(job_)); }

    /// Returns if the job succeeded; throws its failure (or NOT_READY) otherwise.
    void check() const { detail::check_job(job_); }
    /// The task of a status, wait or generate job.
    TaskInfo task() const { return detail::job_task(job_); }
    /// The task id of a create or generate job (the new task's), or of a status or wait job.
    std::string task_id() const { return detail::job_task_id(job_); }
    /// The bytes a save or generate job wrote.
    std::uint64_t bytes() const { return detail::job_bytes(job_); }
    /// The entries of a batch job (one per id, in order, each its own result).
    std::vector<TaskResult> task_list() const {
        detail::check_job(job_);
        const camb_task_list* list = camb_job_task_list(job_);  // the job's
        if (list == nullptr) {
            detail::no_output("task list (only batch jobs have one)");
        }
        std::vector<TaskResult> results;
        const std::size_t count = camb_task_list_len(list);
        results.reserve(count);
        for (std::size_t i = 0; i < count; ++i) {
            const camb_task* task = camb_task_list_get(list, i);
            std::size_t len = 0;
            const char* id = camb_task_id(task, &len);
            results.push_back(detail::read_result(task, detail::copy(id, len)));
        }
        return results;
    }
    /// What a generate job made.
    Generation generation() const { return detail::job_generation(job_); }

private:
    friend class Client;
    explicit Job(camb_job* job) noexcept : job_(job) {}

    camb_job* job_;
};

/// A completion queue (camb_job_queue): jobs started with it are put on it when
/// they finish, and its file descriptor is readable while it holds any. Watch
/// fd() with your event loop (epoll, poll, Qt's QSocketNotifier, Asio's
/// posix::stream_descriptor, libuv's uv_poll), then pop() the finished jobs on
/// the loop's thread; no libcamb callback ever runs there. Move-only.
///
/// Destroying the queue while jobs are pending leaves those Jobs as they are
/// (still owned, still to be destroyed); they are just put on no queue.
///
/// Functions: JobQueue(), fd(), pop(), handle().
class JobQueue {
public:
    /// A queue. Throws Error(CAMB_RESULT_IO) if the system refuses a descriptor.
    JobQueue() {
        camb_job_queue* queue = nullptr;
        detail::check(camb_job_queue_new(&queue));
        queue_ = queue;
    }
    JobQueue(const JobQueue&) = delete;
    JobQueue& operator=(const JobQueue&) = delete;
    JobQueue(JobQueue&& other) noexcept : queue_(std::exchange(other.queue_, nullptr)) {}
    JobQueue& operator=(JobQueue&& other) noexcept {
        if (this != &other) {
            camb_job_queue_free(queue_);
            queue_ = std::exchange(other.queue_, nullptr);
        }
        return *this;
    }
    ~JobQueue() { camb_job_queue_free(queue_); }

    /// The descriptor to watch for reading; never read, write or close it
    /// yourself. -1 after a move.
    int fd() const noexcept { return camb_job_queue_fd(queue_); }

    /// Takes the next finished job off the queue: the handle() of the Job that
    /// owns it, or nullptr when none is left (fd() is then no longer readable).
    /// Never blocks.
    const camb_job* pop() const noexcept {
        camb_job* job = nullptr;
        return camb_job_queue_pop(queue_, &job) == CAMB_RESULT_OK ? job : nullptr;
    }

    /// The C handle (NULL after a move). It stays owned by this JobQueue.
    const camb_job_queue* handle() const noexcept { return queue_; }

private:
    camb_job_queue* queue_ = nullptr;
};

// --- futures ---

inline std::future<TaskInfo> Client::get_task_status_async(const std::string& task_id) const {
    const char* id = detail::c_str(task_id, "the task id");
    return detail::start_async<TaskInfo>(
        [&](camb_job_fn done, void* data, camb_job** job) {
            return camb_client_start_get_task_status(client_, id, nullptr, done, data, job);
        },
        &detail::job_task);
}

inline std::future<std::string> Client::create_task_async(const std::string& prompt) const {
    return create_task_async(prompt, CreateOptions());
}

inline std::future<std::string> Client::create_task_async(const std::string& prompt,
                                                          const CreateOptions& options) const {
    const camb_create_options c = detail::create_options(options);
    const char* text = detail::c_str(prompt, "the prompt");
    return detail::start_async<std::string>(
        [&](camb_job_fn done, void* data, camb_job** job) {
            return camb_client_start_create_task(client_, text, &c, nullptr, done, data, job);
        },
        &detail::job_task_id);
}

inline std::future<TaskInfo> Client::wait_for_task_async(const std::string& task_id) const {
    return wait_for_task_async(task_id, WaitOptions());
}

inline std::future<TaskInfo> Client::wait_for_task_async(const std::string& task_id,
                                                         const WaitOptions& options) const {
    const camb_wait_options c = detail::wait_options(options);
    const char* id = detail::c_str(task_id, "the task id");
    return detail::start_async<TaskInfo>(
        [&](camb_job_fn done, void* data, camb_job** job) {
            return camb_client_start_wait_for_task(client_, id, &c, nullptr, done, data, job);
        },
        &detail::job_task);
}

inline std::future<std::uint64_t> Client::save_audio_async(std::int64_t run_id, const std::string& path) const {
    const char* file = detail::c_str(path, "the path");
    return detail::start_async<std::uint64_t>(
        [&](camb_job_fn done, void* data, camb_job** job) {
            return camb_client_start_save_audio(client_, run_id, file, nullptr, done, data, job);
        },
        &detail::job_bytes);
}

inline std::future<std::vector<TaskResult>> Client::get_task_statuses_async(
    const std::vector<std::string>& task_ids, std::uint32_t max_connections) const {
    // As get_task_statuses(): an id with a NUL byte is refused on its own.
    const std::vector<const char*> sent = detail::sent_ids(task_ids);
    return detail::start_async<std::vector<TaskResult>>(
        [&](camb_job_fn done, void* data, camb_job** job) {
            return camb_client_start_get_task_statuses(client_, sent.empty() ? nullptr : sent.data(), sent.size(),
                                                       max_connections, nullptr, done, data, job);
        },
        [task_ids](const camb_job* job) {
            detail::check_job(job);
            const camb_task_list* list = camb_job_task_list(job);
            if (list == nullptr) {
                detail::no_output("task list");
            }
            return detail::read_results(list, task_ids);
        });
}

inline std::future<Generation> Client::generate_async(const std::string& prompt, const std::string& path) const {
    return generate_async(prompt, path, CreateOptions(), WaitOptions());
}

inline std::future<Generation> Client::generate_async(const std::string& prompt, const std::string& path,
                                                      const CreateOptions& create, const WaitOptions& wait) const {
    const camb_create_options c = detail::create_options(create);
    const camb_wait_options w = detail::wait_options(wait);
    const char* text = detail::c_str(prompt, "the prompt");
    const char* file = detail::c_str(path, "the path");
    return detail::start_async<Generation>(
        [&](camb_job_fn done, void* data, camb_job** job) {
            return camb_client_start_generate(client_, text, &c, &w, file, nullptr, done, data, job);
        },
        &detail::job_generation);
}

// --- jobs on a queue ---

inline Job Client::start_get_task_status(const std::string& task_id, const JobQueue& queue) const {
    camb_job* job = nullptr;
    detail::check(camb_client_start_get_task_status(client_, detail::c_str(task_id, "the task id"), queue.handle(),
                                                    nullptr, nullptr, &job));
    return Job(job);
}

inline Job Client::start_create_task(const std::string& prompt, const CreateOptions& options,
                                     const JobQueue& queue) const {
    const camb_create_options c = detail::create_options(options);
    camb_job* job = nullptr;
    detail::check(camb_client_start_create_task(client_, detail::c_str(prompt, "the prompt"), &c, queue.handle(),
                                                nullptr, nullptr, &job));
    return Job(job);
}

inline Job Client::start_wait_for_task(const std::string& task_id, const WaitOptions& options,
                                       const JobQueue& queue) const {
    const camb_wait_options c = detail::wait_options(options);
    camb_job* job = nullptr;
    detail::check(camb_client_start_wait_for_task(client_, detail::c_str(task_id, "the task id"), &c, queue.handle(),
                                                  nullptr, nullptr, &job));
    return Job(job);
}

inline Job Client::start_save_audio(std::int64_t run_id, const std::string& path, const JobQueue& queue) const {
    camb_job* job = nullptr;
    detail::check(camb_client_start_save_audio(client_, run_id, detail::c_str(path, "the path"), queue.handle(),
                                               nullptr, nullptr, &job));
    return Job(job);
}

inline Job Client::start_get_task_statuses(const std::vector<std::string>& task_ids, std::uint32_t max_connections,
                                           const JobQueue& queue) const {
    std::vector<const char*> ids;
    ids.reserve(task_ids.size());
    for (const std::string& id : task_ids) {
        ids.push_back(detail::c_str(id, "a task id"));
    }
    camb_job* job = nullptr;
    detail::check(camb_client_start_get_task_statuses(client_, ids.empty() ? nullptr : ids.data(), ids.size(),
                                                      max_connections, queue.handle(), nullptr, nullptr, &job));
    return Job(job);
}

inline Job Client::start_generate(const std::string& prompt, const std::string& path, const CreateOptions& create,
                                  const WaitOptions& wait, const JobQueue& queue) const {
    const camb_create_options c = detail::create_options(create);
    const camb_wait_options w = detail::wait_options(wait);
    camb_job* job = nullptr;
    detail::check(camb_client_start_generate(client_, detail::c_str(prompt, "the prompt"), &c, &w,
                                             detail::c_str(path, "the path"), queue.handle(), nullptr, nullptr, &job));
    return Job(job);
}

}  // namespace camb

#endif  // CAMB_HPP
