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
 *     // Or all at once: client.generate("rain on a tin roof", "rain.wav");
 *
 *     // Text-to-speech, streamed: to a file, to a callback, or read as it comes.
 *     client.speak_to_file("Hello there", "en-us", 147320, "hello.wav");
 *     camb::SpeechReader reader(client, "Hello there", "en-us", 147320);
 *     std::uint8_t buffer[4096];
 *     while (std::size_t n = reader.read_some(buffer, sizeof buffer)) play(buffer, n);
 *
 * Link with -lcamb, as for C. The sections below follow camb.h's order:
 * versioning and conventions, errors, log, builder, client, status, create,
 * wait, audio, batch, cancellation, generate, speech (with voices and
 * languages), then jobs (with SpeechReader). Everything camb.h promises holds
 * here too; the wrapper adds:
 * - Values: what libcamb returns (a camb_task, a camb_task_list, a
 *   camb_audio_url_list, a voice or language list, a camb_speech_info, a string
 *   freed with camb_string_free) is copied into plain C++ values (TaskInfo,
 *   TaskResult, AudioUrl, Voice, Language, SpeechInfo, std::string) and the C
 *   object is freed before the call returns, by a std::unique_ptr, so that no
 *   path leaks one, exceptions included. The values are the caller's: copy
 *   them, move them to another thread, keep them across later calls.
 * - RAII: camb::Client, camb::ClientBuilder, camb::CancelToken, camb::JobQueue,
 *   camb::Job and camb::SpeechReader own their handles (move-only); every
 *   handle is owned by an object before anything can throw.
 * - Exceptions: every failed call throws camb::Error (or a subclass for the
 *   common codes), with the code, the HTTP status and camb_last_error()'s words.
 *   A batch does not throw for one task: each TaskResult carries its own Error.
 * - std::string in and out. Strings are copied by length, so they keep any NUL
 *   byte the server sent. A string passed in that contains a NUL byte is refused
 *   (INVALID_PARAMETER) rather than silently cut short.
 * - std::function callbacks (progress, write, a speech's sink) on the calling
 *   thread. An exception thrown by a callback never unwinds through libcamb
 *   (which camb.h forbids): the wrapper catches it, stops the operation, and
 *   rethrows it once libcamb has returned.
 * - Blocking calls take an optional `const CancelToken*` that stops them from
 *   another thread.
 * - Jobs: every operation also runs on the client's pool of libcamb threads,
 *   as a std::future completed through a camb::JobQueue; see "Jobs" below:
 *
 *       camb::JobQueue queue(camb::JobQueue::Dispatch::Thread);
 *       std::future<camb::Generation> g = client.generate_async("rain", "rain.wav", queue);
 *       g.get();
 *
 *   No code of the program runs on libcamb's threads: a future is completed on
 *   the thread that drives its JobQueue (its own dispatcher thread, or the
 *   program's through dispatch(), for event loops watching fd()).
 * - Logging: ClientBuilder::log(level, function) hands each log line to a
 *   std::function, on whatever thread made the request (see "Log" below);
 *   ClientBuilder::add_header() adds headers of your own (a secret one is
 *   redacted from every line).
 *
 * Thread-safety is camb.h's: a Client may be used from many threads at once
 * (its methods are const), a CancelToken may be cancelled from any thread, a
 * JobQueue may be submitted to and dispatched from any thread, a ClientBuilder
 * is for one thread at a time.
 */

#ifndef CAMB_HPP
#define CAMB_HPP

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <future>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "camb.h"

namespace camb {

// ---------------------------------------------------------------------------
// Versioning and conventions
// ---------------------------------------------------------------------------

/// The version of the libcamb that is running, such as "0.3.0".
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
/// the call (such as "HTTP 404 Not Found: Task not found: 1234"), or a job's or
/// a batch entry's own words; it never holds the API key.
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

/// CAMB_RESULT_CANCELLED: a CancelToken or a Job was cancelled, a callback
/// returned false, or the job's Client was destroyed.
///
/// Functions: those of Error.
class Cancelled : public Error {
public:
    using Error::Error;
};

namespace detail {

/// Throws the Error subclass for `code`, with this status and message (the
/// code's name when the message is empty).
[[noreturn]] inline void throw_as(camb_result code, std::uint16_t http_status,
                                  std::string message) {
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
    /// A call failed for good.
    Error = CAMB_LOG_LEVEL_ERROR,
    /// A retry was scheduled.
    Warn = CAMB_LOG_LEVEL_WARN,
    /// A reply with an error status; a job finished, failed or was cancelled.
    Info = CAMB_LOG_LEVEL_INFO,
    /// Every request, reply, job start and poll.
    Debug = CAMB_LOG_LEVEL_DEBUG,
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

/// The camb_log_fn given to libcamb; `user_data` is the LogFunction. Nothing
/// unwinds out of it: an exception the function throws is dropped with its line.
inline void log_trampoline(std::uint32_t level, const char* line, std::size_t len,
                           void* user_data) noexcept {
    try {
        (*static_cast<const LogFunction*>(user_data))(
            static_cast<LogLevel>(level), std::string_view(line == nullptr ? "" : line, len));
    } catch (...) {
        // Swallowed: an exception must not unwind through libcamb.
    }
}

/// The camb_finalizer_fn: libcamb is done with the LogFunction.
inline void log_finalizer(void* user_data) noexcept { delete static_cast<LogFunction*>(user_data); }

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
    /// Allow plain http:// to a host that is not loopback, or through a proxy (the
    /// key travels in clear).
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
        return record(camb_client_builder_set_timeout_ms(builder_.get(),
                                                         static_cast<std::uint64_t>(ms.count())));
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
        return set_string("camb_client_builder_set_proxy", url, "the proxy URL",
                          &camb_client_builder_set_proxy);
    }

    /// Sends the client's log lines up to `level` to `function`
    /// (camb_client_builder_set_log); a second call replaces the first.
    ///
    /// The function runs on the thread making each request: this thread for a
    /// blocking call, libcamb's pool threads for jobs, possibly on several at
    /// once, so it must be thread-safe, return quickly, and never destroy the
    /// Client. An exception it throws is caught and dropped (it cannot unwind
    /// through libcamb): that line is lost and the request goes on.
    ///
    /// libcamb keeps the function with the client and destroys it through the
    /// log finalizer: when the Client is destroyed, after its last line (the
    /// destructor returns once the client's threads have ended, so the
    /// function's captures may go right after the Client), or with this builder
    /// if it is never built, or when log() is called again. An empty function
    /// is refused.
    ClientBuilder& log(LogLevel level, LogFunction function) {
        if (!function) {
            return refuse("camb_client_builder_set_log", "the log function is empty");
        }
        auto owned = std::make_unique<LogFunction>(std::move(function));
        const camb_result result = camb_client_builder_set_log(
            builder_.get(), static_cast<std::uint32_t>(level), &detail::log_trampoline, owned.get(),
            &detail::log_finalizer);
        if (result == CAMB_RESULT_OK) {
            static_cast<void>(owned.release());  // libcamb's now, until the finalizer
        }
        return record(result);
    }

    /// Adds a header sent with every request (camb_client_builder_add_header),
    /// such as "traceparent". A `secret` value never appears in a log line or an
    /// error message. libcamb refuses (and build() then throws, with why) a name
    /// it writes itself ("x-api-key", "host", ...), a name that is not an HTTP
    /// token, a value with CR, LF or another control character, over 8 KiB, a
    /// 65th header; the wrapper refuses a NUL byte.
    ClientBuilder& add_header(const std::string& name, const std::string& value,
                              bool secret = false) {
        if (name.find('\0') != std::string::npos) {
            return refuse("camb_client_builder_add_header", "the header name contains a NUL byte");
        }
        if (value.find('\0') != std::string::npos) {
            return refuse("camb_client_builder_add_header", "the header value contains a NUL byte");
        }
        return record(
            camb_client_builder_add_header(builder_.get(), name.c_str(), value.c_str(), secret));
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
            own_refusal_.emplace(
                CAMB_RESULT_INVALID_PARAMETER, 0,
                std::string("not built: ") + setter + "() refused its value earlier: " + why);
        }
        return *this;
    }

    std::unique_ptr<camb_client_builder, BuilderFree> builder_;
    bool refused_ = false;
    std::optional<Error> own_refusal_;
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
struct SpeechOptions;
struct SpeechInfo;
struct Voice;
struct Language;
enum class Languages : std::uint32_t;
class JobQueue;
template <class T>
class Job;

/// Receives the audio of Client::speak() as it arrives, on the calling thread:
/// `len` bytes at `data` (valid only during the call; chunks of any size, as the
/// network delivers them) and what is known of the audio so far (its bytes
/// include this chunk). Return true to go on, false to stop (Client::speak()
/// then throws Cancelled).
using SpeechSink = std::function<bool(const std::uint8_t*, std::size_t, const SpeechInfo&)>;

/// A client for the CAMB text-to-sound and text-to-speech API, owning a
/// camb_client. Move-only.
///
/// Every method is const and thread-safe: share one Client between threads.
/// Every method throws camb::Error (or NotFound, Unauthorized, Timeout,
/// Cancelled) on failure, and std::bad_alloc when out of memory. A moved-from
/// Client throws Error(CAMB_RESULT_NULL_PARAMETER) from every method.
///
/// Each operation comes in three forms with one meaning (same arguments,
/// timeouts, retries and errors):
/// - blocking, on the calling thread: get_task_status(), create_task(),
///   wait_for_task(), download_audio(), save_audio(), get_audio_url(),
///   get_audio_urls(), get_task_statuses(), generate(), speak(),
///   speak_to_file(), list_voices(), list_languages(); each takes an optional
///   CancelToken;
/// - a future, the job submitted at once to a JobQueue: the same names with
///   _async (download_audio_async() keeps the audio in memory);
/// - a Job, made and not yet submitted, to follow or cancel it: the same names
///   with job_ in front (job_get_task_status(), ...); Job::submit() gives its
///   future. (speak() has none: its job form is a SpeechReader, which reads
///   the audio as it comes.)
///
/// Functions: Client() (or ClientBuilder::build()), handle(), and the three
/// forms of each operation above.
class Client {
public:
    /// A client with these settings (see ClientBuilder). Throws Error when a
    /// setting is refused, or no key is set and CAMB_API_KEY is unset
    /// (CAMB_RESULT_MISSING_API_KEY).
    explicit Client(const ClientOptions& options = ClientOptions())
        : Client(ClientBuilder(options).build()) {}

    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    Client(Client&& other) noexcept : client_(std::exchange(other.client_, nullptr)) {}
    Client& operator=(Client&& other) noexcept {
        if (this != &other) {
            camb_client_free(client_);
            client_ = std::exchange(other.client_, nullptr);
        }
        return *this;
    }
    /// Frees the client and wipes its key. Every blocking call on it must have
    /// returned. Its jobs in flight are cancelled: each is still delivered to
    /// its JobQueue, whose future then holds Cancelled (or its result, if it
    /// finished first). Returns once the client's threads have ended and its
    /// log function (if any) was destroyed.
    ~Client() { camb_client_free(client_); }

    /// The C handle (NULL after a move), for calls this wrapper does not cover.
    /// It stays owned by this Client.
    const camb_client* handle() const noexcept { return client_; }

    // --- status ---
    /// The task's current status (`GET /text-to-sound/{task_id}`, retried on
    /// transient failures). Throws NotFound for an unknown id. `cancel` (may be
    /// null) stops it from another thread (throws Cancelled).
    TaskInfo get_task_status(const std::string& task_id, const CancelToken* cancel = nullptr) const;

    // --- create ---
    /// Creates a text-to-sound task and returns its id. Checked before sending
    /// (an empty prompt or a bad duration costs nothing); not retried unless
    /// options.retry.
    std::string create_task(const std::string& prompt) const;
    std::string create_task(const std::string& prompt, const CreateOptions& options,
                            const CancelToken* cancel = nullptr) const;

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
    std::uint64_t download_audio(std::int64_t run_id,
                                 std::function<bool(const std::uint8_t*, std::size_t)> write,
                                 const CancelToken* cancel = nullptr) const;

    /// Saves a successful run's audio to `path`, following symlinks: a regular file
    /// (or none) is replaced through a temporary file and a rename, so on failure
    /// no file is left and an existing one is untouched; a device or a FIFO is
    /// written in place; a directory or a socket is refused before downloading
    /// (camb_client_save_audio() has the rules). Returns the size in bytes.
    std::uint64_t save_audio(std::int64_t run_id, const std::string& path,
                             const CancelToken* cancel = nullptr) const;

    /// The pre-signed URL of a successful run's audio.
    std::string get_audio_url(std::int64_t run_id, const CancelToken* cancel = nullptr) const;

    /// The URLs of many runs' audio in one request (up to 1000 ids; none gives an
    /// empty vector without a request): one AudioUrl per run id, in order, whose
    /// url is empty when the server gave none (unknown run, or not successful).
    std::vector<AudioUrl> get_audio_urls(const std::vector<std::int64_t>& run_ids,
                                         const CancelToken* cancel = nullptr) const;

    // --- batch ---
    /// The statuses of many tasks at once, up to `max_connections` requests at a
    /// time (0: libcamb's 8; at most 32), bounded as a whole by the client's
    /// timeout. One TaskResult per id, in order, each with its status or its own
    /// Error (a missing task, an invalid id, a timeout): one task's failure never
    /// throws. Throws only when the batch as a whole is refused (more than 100000
    /// ids, max_connections over 32). `cancel` stops it: once started, the ids
    /// not yet answered hold Cancelled; cancelled before, it throws Cancelled.
    std::vector<TaskResult> get_task_statuses(const std::vector<std::string>& task_ids,
                                              std::uint32_t max_connections = 0,
                                              const CancelToken* cancel = nullptr) const;

    // --- generate ---
    /// Prompt to WAV file: creates a task from `prompt`, waits for it (telling
    /// `on_progress` of each poll, as wait_for_task()), and saves its audio at
    /// `path` (the rules of save_audio()). Everything that can be checked is
    /// checked before the task is created (and billed), `path` included. A task
    /// that ends without audio throws Error(CAMB_RESULT_TASK_FAILED), whose
    /// message says how it ended and why; no file is left at `path` then.
    Generation generate(const std::string& prompt, const std::string& path) const;
    Generation generate(const std::string& prompt, const std::string& path,
                        const CreateOptions& create, const WaitOptions& wait,
                        const CancelToken* cancel = nullptr,
                        std::function<bool(const Progress&)> on_progress = {}) const;

    // --- speech ---
    /// Speaks `text` in `language` (a lower-case locale such as "en-us") with
    /// the voice `voice_id` (from list_voices()), streaming the audio
    /// (`POST /tts-stream`) to `sink` on this thread as it arrives; returns
    /// what is known of the audio at the end (format, sample rate, channels,
    /// credits, bytes). The bytes are the format's as the server sends them: a
    /// streamed WAV's header has placeholder sizes (speak_to_file() writes the
    /// right ones); raw `pcm_*` has no header (take the rate from the info).
    ///
    /// Errors before any audio carry the server's words: a 422 (Error with
    /// CAMB_RESULT_VALIDATION) names the field it refused, and for a locale the
    /// model does not speak, those it does; an unknown voice throws NotFound. A
    /// stream cut in the middle throws Error(CAMB_RESULT_CONNECT), never a short
    /// success. `sink` returning false, or `cancel` (may be null), stops it
    /// (throws Cancelled); an exception `sink` throws stops it and is rethrown
    /// from here, unchanged. A stream is paid work: it is retried only when the
    /// server cannot have started it.
    SpeechInfo speak(const std::string& text, const std::string& language, std::int64_t voice_id,
                     SpeechSink sink) const;
    SpeechInfo speak(const std::string& text, const std::string& language, std::int64_t voice_id,
                     const SpeechOptions& options, SpeechSink sink,
                     const CancelToken* cancel = nullptr) const;

    /// Speaks like speak() and saves the audio at `path`, by the rules of
    /// save_audio(): a regular file there (or none) is replaced atomically, so
    /// a stream that fails or is cut short leaves what was there. A WAV file's
    /// header gets the real sizes. Returns what is known of the audio (its
    /// bytes are the file's size). A bad path throws before anything is sent.
    SpeechInfo speak_to_file(const std::string& text, const std::string& language,
                             std::int64_t voice_id, const std::string& path) const;
    SpeechInfo speak_to_file(const std::string& text, const std::string& language,
                             std::int64_t voice_id, const SpeechOptions& options,
                             const std::string& path, const CancelToken* cancel = nullptr) const;

    /// The voices a speech can use (`GET /list-voices`), in the server's order.
    std::vector<Voice> list_voices(const CancelToken* cancel = nullptr) const;
    /// The languages the API knows: Languages::Source (`GET /source-languages`)
    /// or Languages::Target (`GET /target-languages`), in the server's order.
    std::vector<Language> list_languages(Languages which,
                                         const CancelToken* cancel = nullptr) const;
    /// list_languages(Languages::Source).
    std::vector<Language> source_languages(const CancelToken* cancel = nullptr) const;
    /// list_languages(Languages::Target).
    std::vector<Language> target_languages(const CancelToken* cancel = nullptr) const;

    // --- jobs: made, not submitted ---
    // Each makes a Job of the operation; arguments are checked (and copied) now,
    // so a refusal throws here. Job::submit(queue) starts it and gives its
    // future. The future holds what the blocking call returns, or the job's
    // failure as the Error subclass the blocking call throws (NotFound,
    // Timeout, Cancelled, ...), with the job's own words and HTTP status.

    Job<TaskInfo> job_get_task_status(const std::string& task_id) const;
    Job<std::string> job_create_task(const std::string& prompt) const;
    Job<std::string> job_create_task(const std::string& prompt, const CreateOptions& options) const;
    /// Between polls the job holds no thread: a thousand waits on four threads is normal.
    Job<TaskInfo> job_wait_for_task(const std::string& task_id) const;
    Job<TaskInfo> job_wait_for_task(const std::string& task_id, const WaitOptions& options) const;
    /// The audio in memory (the WAV bytes).
    Job<std::vector<std::uint8_t>> job_download_audio(std::int64_t run_id) const;
    /// The size saved, in bytes.
    Job<std::uint64_t> job_save_audio(std::int64_t run_id, const std::string& path) const;
    Job<std::string> job_get_audio_url(std::int64_t run_id) const;
    Job<std::vector<AudioUrl>> job_get_audio_urls(const std::vector<std::int64_t>& run_ids) const;
    /// As get_task_statuses(): an id with a NUL byte is refused in its own entry.
    Job<std::vector<TaskResult>> job_get_task_statuses(const std::vector<std::string>& task_ids,
                                                       std::uint32_t max_connections = 0) const;
    Job<Generation> job_generate(const std::string& prompt, const std::string& path) const;
    Job<Generation> job_generate(const std::string& prompt, const std::string& path,
                                 const CreateOptions& create, const WaitOptions& wait) const;
    /// What is known of the audio saved (its bytes are the file's size). A
    /// speech read as it arrives is a SpeechReader, not a Job.
    Job<SpeechInfo> job_speak_to_file(const std::string& text, const std::string& language,
                                      std::int64_t voice_id, const std::string& path) const;
    Job<SpeechInfo> job_speak_to_file(const std::string& text, const std::string& language,
                                      std::int64_t voice_id, const SpeechOptions& options,
                                      const std::string& path) const;
    Job<std::vector<Voice>> job_list_voices() const;
    Job<std::vector<Language>> job_list_languages(Languages which) const;

    // --- jobs: futures ---
    // Each makes the job, submits it to `queue` and returns its future, with no
    // Job handle: the job runs to its end (or until the Client is destroyed,
    // which cancels it). Use the job_ forms to cancel or follow one.

    std::future<TaskInfo> get_task_status_async(const std::string& task_id, JobQueue& queue) const;
    std::future<std::string> create_task_async(const std::string& prompt, JobQueue& queue) const;
    std::future<std::string> create_task_async(const std::string& prompt,
                                               const CreateOptions& options, JobQueue& queue) const;
    std::future<TaskInfo> wait_for_task_async(const std::string& task_id, JobQueue& queue) const;
    std::future<TaskInfo> wait_for_task_async(const std::string& task_id,
                                              const WaitOptions& options, JobQueue& queue) const;
    std::future<std::vector<std::uint8_t>> download_audio_async(std::int64_t run_id,
                                                                JobQueue& queue) const;
    std::future<std::uint64_t> save_audio_async(std::int64_t run_id, const std::string& path,
                                                JobQueue& queue) const;
    std::future<std::string> get_audio_url_async(std::int64_t run_id, JobQueue& queue) const;
    std::future<std::vector<AudioUrl>> get_audio_urls_async(
        const std::vector<std::int64_t>& run_ids, JobQueue& queue) const;
    std::future<std::vector<TaskResult>> get_task_statuses_async(
        const std::vector<std::string>& task_ids, JobQueue& queue) const;
    std::future<std::vector<TaskResult>> get_task_statuses_async(
        const std::vector<std::string>& task_ids, std::uint32_t max_connections,
        JobQueue& queue) const;
    std::future<Generation> generate_async(const std::string& prompt, const std::string& path,
                                           JobQueue& queue) const;
    std::future<Generation> generate_async(const std::string& prompt, const std::string& path,
                                           const CreateOptions& create, const WaitOptions& wait,
                                           JobQueue& queue) const;
    std::future<SpeechInfo> speak_to_file_async(const std::string& text,
                                                const std::string& language, std::int64_t voice_id,
                                                const std::string& path, JobQueue& queue) const;
    std::future<SpeechInfo> speak_to_file_async(const std::string& text,
                                                const std::string& language, std::int64_t voice_id,
                                                const SpeechOptions& options,
                                                const std::string& path, JobQueue& queue) const;
    std::future<std::vector<Voice>> list_voices_async(JobQueue& queue) const;
    std::future<std::vector<Language>> list_languages_async(Languages which, JobQueue& queue) const;

private:
    friend class ClientBuilder;
    explicit Client(camb_client* client) noexcept : client_(client) {}

    camb_client* client_ = nullptr;
};

inline Client ClientBuilder::build() {
    if (!builder_) {
        throw Error(CAMB_RESULT_INVALID_PARAMETER, 0,
                    "the ClientBuilder was already built (or moved from)");
    }
    if (own_refusal_) {
        builder_.reset();  // consumed, as camb_client_builder_build() would
        throw *own_refusal_;
    }
    camb_client* client = nullptr;
    // Building consumes the builder whatever the outcome (its log function goes
    // to the client, or to its finalizer).
    detail::check(camb_client_builder_build(builder_.release(), &client));
    return Client(client);
}

// ---------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------

/// The status of a task (camb.h's `CAMB_STATUS_*`). A value this version does
/// not know may also arrive (the underlying value is kept); treat it as final.
///
/// Functions: status_name(), is_final().
enum class Status : std::uint32_t {
    /// A status text libcamb does not know; see TaskInfo::status_text.
    Unknown = CAMB_STATUS_UNKNOWN,
    /// Still being generated; the only status that is not final.
    Pending = CAMB_STATUS_PENDING,
    /// Done: fetch the audio with the run id.
    Success = CAMB_STATUS_SUCCESS,
    /// The generation took too long on the server.
    Timeout = CAMB_STATUS_TIMEOUT,
    /// The generation failed; see exception_reason and message.
    Error = CAMB_STATUS_ERROR,
    /// The account ran out of credits.
    PaymentRequired = CAMB_STATUS_PAYMENT_REQUIRED,
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
/// Client::wait_for_task(), and found in a TaskResult and a Generation.
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

/// Frees a task the caller owns (never one of a list or a job).
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

/// The C handle of a token, or NULL (defined after CancelToken, below).
inline const camb_cancel_token* token_handle(const CancelToken* token) noexcept;

}  // namespace detail

inline TaskInfo Client::get_task_status(const std::string& task_id,
                                        const CancelToken* cancel) const {
    camb_task* raw = nullptr;
    detail::check(camb_client_get_task_status(client_, detail::c_str(task_id, "the task id"),
                                              detail::token_handle(cancel), &raw));
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
/// Functions: none (a value); read by Client::create_task() and generate().
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

inline std::string Client::create_task(const std::string& prompt, const CreateOptions& options,
                                       const CancelToken* cancel) const {
    const camb_create_options c = detail::create_options(options);
    char* raw = nullptr;
    std::size_t len = 0;
    detail::check(camb_client_create_task(client_, detail::c_str(prompt, "the prompt"), &c,
                                          detail::token_handle(cancel), &raw, &len));
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
/// Functions: WaitOptions() (libcamb's defaults); read by Client::wait_for_task() and generate().
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

/// What the progress callback of Client::wait_for_task and generate is told
/// after every poll (a copy of camb_wait_progress, so it may be kept).
///
/// Functions: none (a value); passed to the progress callbacks.
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
    /// The HTTP status behind a failed poll, or 0.
    std::uint16_t http_status = 0;
    /// The status differs from the previous poll's (always true on the first
    /// successful poll).
    bool status_changed = false;
    /// This poll ended the wait (the status is final).
    bool done = false;
    /// Time until the next poll; 0 when done.
    std::chrono::milliseconds next_poll_in{0};
};

namespace detail {

struct ProgressContext {
    const std::function<bool(const Progress&)>* callback;
    std::exception_ptr error;
};

/// libcamb calls this after every poll, on the waiting thread. Nothing may
/// unwind out of it.
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
        progress.http_status = p->http_status;
        progress.status_changed = p->status_changed;
        progress.done = p->done;
        progress.next_poll_in = std::chrono::milliseconds(p->next_poll_in_ms);
        return (*context->callback)(progress);
    } catch (...) {
        context->error = std::current_exception();
        return false;
    }
}

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

inline TaskInfo Client::wait_for_task(const std::string& task_id) const {
    return wait_for_task(task_id, WaitOptions());
}

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

/// Copies every entry of a list (the caller's or a job's).
inline std::vector<AudioUrl> read_urls(const camb_audio_url_list* list) {
    std::vector<AudioUrl> urls;
    const std::size_t count = camb_audio_url_list_len(list);
    urls.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        AudioUrl entry;
        std::size_t len = 0;
        const char* url = camb_audio_url_list_get(list, i, &entry.run_id, &len);
        entry.url = copy_optional(url, len);
        urls.push_back(std::move(entry));
    }
    return urls;
}

}  // namespace detail

inline std::uint64_t Client::download_audio(
    std::int64_t run_id, std::function<bool(const std::uint8_t*, std::size_t)> write,
    const CancelToken* cancel) const {
    if (!write) {
        throw Error(CAMB_RESULT_NULL_PARAMETER, 0, "the write callback is empty");
    }
    detail::WriteContext context{&write, nullptr};
    std::uint64_t bytes = 0;
    const camb_result result = camb_client_download_audio(
        client_, run_id, detail::token_handle(cancel), &detail::write_trampoline, &context, &bytes);
    if (context.error) {
        std::rethrow_exception(context.error);
    }
    detail::check(result);
    return bytes;
}

inline std::uint64_t Client::save_audio(std::int64_t run_id, const std::string& path,
                                        const CancelToken* cancel) const {
    std::uint64_t bytes = 0;
    detail::check(camb_client_save_audio(client_, run_id, detail::c_str(path, "the path"),
                                         detail::token_handle(cancel), &bytes));
    return bytes;
}

inline std::string Client::get_audio_url(std::int64_t run_id, const CancelToken* cancel) const {
    char* raw = nullptr;
    std::size_t len = 0;
    detail::check(
        camb_client_get_audio_url(client_, run_id, detail::token_handle(cancel), &raw, &len));
    const detail::StringPtr url(raw);
    return detail::copy(url.get(), len);
}

inline std::vector<AudioUrl> Client::get_audio_urls(const std::vector<std::int64_t>& run_ids,
                                                    const CancelToken* cancel) const {
    camb_audio_url_list* raw = nullptr;
    detail::check(camb_client_get_audio_urls(client_, run_ids.empty() ? nullptr : run_ids.data(),
                                             run_ids.size(), detail::token_handle(cancel), &raw));
    const detail::AudioUrlListPtr list(raw);
    return detail::read_urls(list.get());
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
inline std::vector<TaskResult> read_results(const camb_task_list* list,
                                            const std::vector<std::string>& task_ids) {
    std::size_t sent = 0;
    for (const std::string& id : task_ids) {
        sent += id.find('\0') == std::string::npos ? 1 : 0;
    }
    if (camb_task_list_len(list) != sent) {
        throw Error(CAMB_RESULT_BAD_RESPONSE, 0,
                    "libcamb returned a list of another length than asked for");
    }
    std::vector<TaskResult> results;
    results.reserve(task_ids.size());
    std::size_t next = 0;
    for (const std::string& id : task_ids) {
        if (id.find('\0') != std::string::npos) {
            TaskResult refused;
            refused.task_id = id;
            refused.error.emplace(CAMB_RESULT_INVALID_PARAMETER, 0,
                                  "the task id contains a NUL byte");
            results.push_back(std::move(refused));
        } else {
            results.push_back(read_result(camb_task_list_get(list, next++), id));
        }
    }
    return results;
}

}  // namespace detail

inline std::vector<TaskResult> Client::get_task_statuses(const std::vector<std::string>& task_ids,
                                                         std::uint32_t max_connections,
                                                         const CancelToken* cancel) const {
    // An id with a NUL byte is refused here, on its own, as libcamb refuses an
    // invalid id: only the others are sent.
    const std::vector<const char*> sent = detail::sent_ids(task_ids);
    camb_task_list* raw = nullptr;
    detail::check(camb_client_get_task_statuses(client_, sent.empty() ? nullptr : sent.data(),
                                                sent.size(), max_connections,
                                                detail::token_handle(cancel), &raw));
    const detail::TaskListPtr list(raw);
    return detail::read_results(list.get(), task_ids);
}

// ---------------------------------------------------------------------------
// Cancellation
// ---------------------------------------------------------------------------

/// Cancels the blocking calls it is passed to. cancel(), reset() and
/// is_cancelled() may be called from any thread at any time; move or destroy the
/// token only after every call it was passed to has returned. Move-only.
/// (A job is cancelled through its Job: Job::cancel().)
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

    /// Stops every call using this token as soon as it can (a sleeping wait at
    /// once), and later ones before they start, until reset(). No effect on a
    /// moved-from token.
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
// Generate
// ---------------------------------------------------------------------------

/// What a generation made: the task, its final status, the file's size.
///
/// Functions: none (a value); made by Client::generate() and its job forms.
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

inline Generation Client::generate(const std::string& prompt, const std::string& path) const {
    return generate(prompt, path, CreateOptions(), WaitOptions());
}

inline Generation Client::generate(const std::string& prompt, const std::string& path,
                                   const CreateOptions& create, const WaitOptions& wait,
                                   const CancelToken* cancel,
                                   std::function<bool(const Progress&)> on_progress) const {
    const camb_create_options c = detail::create_options(create);
    const camb_wait_options w = detail::wait_options(wait);
    const char* text = detail::c_str(prompt, "the prompt");
    const char* file = detail::c_str(path, "the path");
    // Always told of each poll, to count them.
    std::uint32_t polls = 0;
    const std::function<bool(const Progress&)> counting = [&](const Progress& p) {
        polls = p.polls;
        return on_progress ? on_progress(p) : true;
    };
    detail::ProgressContext context{&counting, nullptr};
    camb_task* raw = nullptr;
    std::uint64_t bytes = 0;
    const camb_result result =
        camb_client_generate(client_, text, &c, &w, file, detail::token_handle(cancel),
                             &detail::progress_trampoline, &context, &raw, &bytes);
    const detail::TaskPtr task(raw);
    if (context.error) {
        std::rethrow_exception(context.error);
    }
    detail::check(result);
    Generation generation;
    generation.task = detail::read_task(task.get());
    generation.task_id = generation.task.task_id;
    generation.bytes = bytes;
    generation.polls = polls;
    return generation;
}

// ---------------------------------------------------------------------------
// Speech
// ---------------------------------------------------------------------------

/// Options of the speech calls (camb_speech_options, which the wrapper builds
/// from camb_speech_options_default()). Every option starts unset, and an unset
/// option is not sent, so the server's default applies; the format is the
/// exception: WAV unless set, always sent. Strings are passed through as given
/// (the server's 422 says what it does not take). A value that would read as
/// unset in C (a sample rate or inference steps of 0, a NaN) is refused with
/// Error(CAMB_RESULT_INVALID_PARAMETER) rather than silently not sent.
///
/// Functions: none (a value); read by Client::speak(), speak_to_file(), their
/// job forms and SpeechReader.
struct SpeechOptions {
    /// "wav" (unset), "flac", "mp3", "adts", or raw "pcm_s16le", "pcm_s16be",
    /// "pcm_s32le", "pcm_s32be", "pcm_f32le", "pcm_f32be".
    std::optional<std::string> format;
    /// Samples per second (`output_configuration.sample_rate`); unset: the model's.
    std::optional<std::uint32_t> sample_rate;
    /// Seconds of audio (`output_configuration.duration`); unset: from the text.
    std::optional<double> duration_s;
    /// `output_configuration.apply_enhancement`.
    std::optional<bool> apply_enhancement;
    /// "mars-flash" (22050 Hz), "mars-pro" (48000 Hz), "mars-instruct",
    /// "mars-8.1-flash-beta", "mars-8.1-pro-beta"...
    std::optional<std::string> speech_model;
    /// How to speak (mars-instruct only).
    std::optional<std::string> user_instructions;
    /// `enhance_named_entities_pronunciation`.
    std::optional<bool> enhance_named_entities;
    /// `voice_settings.enhance_reference_audio_quality`.
    std::optional<bool> enhance_reference_audio_quality;
    /// `voice_settings.maintain_source_accent`.
    std::optional<bool> maintain_source_accent;
    /// `voice_settings.apply_ref_loudness_norm`.
    std::optional<bool> apply_ref_loudness_norm;
    /// `voice_settings.speaking_rate`.
    std::optional<double> speaking_rate;
    /// `inference_options.stability` (0 to 1; the inference options are for
    /// the MARS-8 models).
    std::optional<double> stability;
    /// `inference_options.temperature` (0.01 to 4).
    std::optional<double> temperature;
    /// `inference_options.inference_steps` (1 to 1000).
    std::optional<std::uint32_t> inference_steps;
    /// `inference_options.speaker_similarity` (0 to 1).
    std::optional<double> speaker_similarity;
    /// `inference_options.localize_speaker_weight`.
    std::optional<double> localize_speaker_weight;
    /// `inference_options.acoustic_quality_boost`.
    std::optional<bool> acoustic_quality_boost;
};

/// What a speech call tells about its audio (a copy of camb_speech_info).
///
/// Functions: none (a value); returned by Client::speak(), speak_to_file(),
/// SpeechReader::info(), and passed to a SpeechSink.
struct SpeechInfo {
    /// The format asked for (and so served): "wav" unless the options named another.
    std::string format;
    /// Samples per second: for WAV and FLAC, what the audio's header says once
    /// it has arrived; before that, and for raw PCM, the rate asked for, else
    /// the model's; 0 when none of these tells.
    std::uint32_t sample_rate = 0;
    /// Channels: from a WAV or FLAC header (0 until it has arrived); 1 for raw PCM.
    std::uint32_t channels = 0;
    /// The credits the request costs (`X-Credits-Required`); empty when the
    /// server did not say.
    std::optional<double> credits;
    /// Bytes of audio received so far (all of it, at the end).
    std::uint64_t bytes = 0;
};

/// Which list Client::list_languages() gets (camb.h's `CAMB_LANGUAGES_*`).
enum class Languages : std::uint32_t {
    Source = CAMB_LANGUAGES_SOURCE,  ///< `GET /source-languages`
    Target = CAMB_LANGUAGES_TARGET,  ///< `GET /target-languages`
};

/// One voice of Client::list_voices() (a copy of a camb_voice). The optional
/// fields are empty when the server did not say.
///
/// Functions: none (a value); made by Client::list_voices().
struct Voice {
    /// The `voice_id` of Client::speak().
    std::int64_t id = 0;
    std::string name;
    /// 0 not known, 1 male, 2 female, 9 not applicable (the API's codes).
    std::optional<std::int64_t> gender;
    std::optional<std::int64_t> age;
    /// A language id (Language::id), not a locale.
    std::optional<std::int64_t> language;
    std::optional<std::string> transcript;
    std::optional<std::string> description;
    /// A URL of a sample of the voice.
    std::optional<std::string> signed_url;
    std::optional<bool> is_published;
};

/// One language of Client::list_languages() (a copy of a camb_language).
///
/// Functions: none (a value); made by Client::list_languages().
struct Language {
    /// What the task-based text-to-speech flow takes.
    std::int64_t id = 0;
    /// Such as "English (United States)".
    std::string name;
    /// A locale such as "en-us", for Client::speak() (lower-case it if the
    /// server did not).
    std::string short_name;
};

namespace detail {

inline std::uint32_t flag(const std::optional<bool>& value) noexcept {
    if (!value) {
        return CAMB_FLAG_UNSET;
    }
    return *value ? CAMB_FLAG_YES : CAMB_FLAG_NO;
}

/// A number option: NaN is what C reads as unset, so a NaN set here is refused.
inline double number(const std::optional<double>& value, const char* what) {
    if (!value) {
        return std::numeric_limits<double>::quiet_NaN();
    }
    if (*value != *value) {
        throw Error(CAMB_RESULT_INVALID_PARAMETER, 0,
                    std::string(what) + " is NaN: leave it unset to let the server choose");
    }
    return *value;
}

/// A count option: 0 is what C reads as unset, so a 0 set here is refused.
inline std::uint32_t count(const std::optional<std::uint32_t>& value, const char* what) {
    if (!value) {
        return 0;
    }
    if (*value == 0) {
        throw Error(CAMB_RESULT_INVALID_PARAMETER, 0,
                    std::string(what) + " is 0: leave it unset to let the server choose");
    }
    return *value;
}

/// camb_speech_options from `options`, whose strings it borrows.
inline camb_speech_options speech_options(const SpeechOptions& options) {
    camb_speech_options c = camb_speech_options_default();
    if (options.format) {
        c.format = c_str(*options.format, "the format");
    }
    c.sample_rate = count(options.sample_rate, "the sample rate");
    c.duration_s = number(options.duration_s, "the duration");
    c.apply_enhancement = flag(options.apply_enhancement);
    if (options.speech_model) {
        c.speech_model = c_str(*options.speech_model, "the speech model");
    }
    if (options.user_instructions) {
        c.user_instructions = c_str(*options.user_instructions, "the user instructions");
    }
    c.enhance_named_entities = flag(options.enhance_named_entities);
    c.enhance_reference_audio_quality = flag(options.enhance_reference_audio_quality);
    c.maintain_source_accent = flag(options.maintain_source_accent);
    c.apply_ref_loudness_norm = flag(options.apply_ref_loudness_norm);
    c.speaking_rate = number(options.speaking_rate, "the speaking rate");
    c.stability = number(options.stability, "the stability");
    c.temperature = number(options.temperature, "the temperature");
    c.inference_steps = count(options.inference_steps, "the inference steps");
    c.speaker_similarity = number(options.speaker_similarity, "the speaker similarity");
    c.localize_speaker_weight =
        number(options.localize_speaker_weight, "the localize speaker weight");
    c.acoustic_quality_boost = flag(options.acoustic_quality_boost);
    return c;
}

/// A camb_speech_info for libcamb to fill, its struct_size set.
inline camb_speech_info speech_info_out() noexcept {
    camb_speech_info info;
    std::memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    return info;
}

/// Copies a camb_speech_info, reading only the fields within its struct_size
/// (the one handed to a camb_speech_fn has the library's size).
inline SpeechInfo read_speech_info(const camb_speech_info& c) {
#define CAMB_HPP_HAS(field) (c.struct_size >= offsetof(camb_speech_info, field) + sizeof(c.field))
    SpeechInfo info;
    if (CAMB_HPP_HAS(format)) {
        const void* nul = std::memchr(c.format, '\0', sizeof c.format);
        info.format.assign(
            c.format, nul != nullptr ? static_cast<const char*>(nul) - c.format : sizeof c.format);
    }
    if (CAMB_HPP_HAS(sample_rate)) {
        info.sample_rate = c.sample_rate;
    }
    if (CAMB_HPP_HAS(channels)) {
        info.channels = c.channels;
    }
    if (CAMB_HPP_HAS(credits) && c.has_credits) {
        info.credits = c.credits;
    }
    if (CAMB_HPP_HAS(bytes)) {
        info.bytes = c.bytes;
    }
#undef CAMB_HPP_HAS
    return info;
}

struct SpeechContext {
    const SpeechSink* sink;
    std::exception_ptr error;
};

/// libcamb calls this with each chunk of a speech. Nothing may unwind out of it.
inline bool speech_trampoline(const std::uint8_t* data, std::size_t len,
                              const camb_speech_info* info, void* user_data) noexcept {
    auto* context = static_cast<SpeechContext*>(user_data);
    try {
        SpeechInfo copy;
        if (info != nullptr) {
            copy = read_speech_info(*info);
        }
        return (*context->sink)(data, len, copy);
    } catch (...) {
        context->error = std::current_exception();
        return false;
    }
}

/// Frees a camb_voice_list and every voice in it (never a job's).
struct VoiceListFree {
    void operator()(camb_voice_list* l) const noexcept { camb_voice_list_free(l); }
};
using VoiceListPtr = std::unique_ptr<camb_voice_list, VoiceListFree>;

/// Frees a camb_language_list and every language in it (never a job's).
struct LanguageListFree {
    void operator()(camb_language_list* l) const noexcept { camb_language_list_free(l); }
};
using LanguageListPtr = std::unique_ptr<camb_language_list, LanguageListFree>;

/// Copies every voice of a list (the caller's or a job's).
inline std::vector<Voice> read_voices(const camb_voice_list* list) {
    std::vector<Voice> voices;
    const std::size_t count = camb_voice_list_len(list);
    voices.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        const camb_voice* v = camb_voice_list_get(list, i);
        Voice voice;
        voice.id = camb_voice_id(v);
        std::size_t len = 0;
        const char* text = camb_voice_name(v, &len);
        voice.name = copy(text, len);
        std::int64_t number = 0;
        if (camb_voice_gender(v, &number)) {
            voice.gender = number;
        }
        if (camb_voice_age(v, &number)) {
            voice.age = number;
        }
        if (camb_voice_language(v, &number)) {
            voice.language = number;
        }
        text = camb_voice_transcript(v, &len);
        voice.transcript = copy_optional(text, len);
        text = camb_voice_description(v, &len);
        voice.description = copy_optional(text, len);
        text = camb_voice_signed_url(v, &len);
        voice.signed_url = copy_optional(text, len);
        const camb_flag published = camb_voice_is_published(v);
        if (published != CAMB_FLAG_UNSET) {
            voice.is_published = published == CAMB_FLAG_YES;
        }
        voices.push_back(std::move(voice));
    }
    return voices;
}

/// Copies every language of a list (the caller's or a job's).
inline std::vector<Language> read_languages(const camb_language_list* list) {
    std::vector<Language> languages;
    const std::size_t count = camb_language_list_len(list);
    languages.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        const camb_language* l = camb_language_list_get(list, i);
        Language language;
        language.id = camb_language_id(l);
        std::size_t len = 0;
        const char* text = camb_language_name(l, &len);
        language.name = copy(text, len);
        text = camb_language_short_name(l, &len);
        language.short_name = copy(text, len);
        languages.push_back(std::move(language));
    }
    return languages;
}

}  // namespace detail

inline SpeechInfo Client::speak(const std::string& text, const std::string& language,
                                std::int64_t voice_id, SpeechSink sink) const {
    return speak(text, language, voice_id, SpeechOptions(), std::move(sink));
}

inline SpeechInfo Client::speak(const std::string& text, const std::string& language,
                                std::int64_t voice_id, const SpeechOptions& options,
                                SpeechSink sink, const CancelToken* cancel) const {
    if (!sink) {
        throw Error(CAMB_RESULT_NULL_PARAMETER, 0, "the sink is empty");
    }
    const camb_speech_options c = detail::speech_options(options);
    const char* words = detail::c_str(text, "the text");
    const char* locale = detail::c_str(language, "the language");
    detail::SpeechContext context{&sink, nullptr};
    camb_speech_info info = detail::speech_info_out();
    const camb_result result =
        camb_client_speak(client_, words, locale, voice_id, &c, detail::token_handle(cancel),
                          &detail::speech_trampoline, &context, &info);
    if (context.error) {
        std::rethrow_exception(context.error);
    }
    detail::check(result);
    return detail::read_speech_info(info);
}

inline SpeechInfo Client::speak_to_file(const std::string& text, const std::string& language,
                                        std::int64_t voice_id, const std::string& path) const {
    return speak_to_file(text, language, voice_id, SpeechOptions(), path);
}

inline SpeechInfo Client::speak_to_file(const std::string& text, const std::string& language,
                                        std::int64_t voice_id, const SpeechOptions& options,
                                        const std::string& path, const CancelToken* cancel) const {
    const camb_speech_options c = detail::speech_options(options);
    const char* words = detail::c_str(text, "the text");
    const char* locale = detail::c_str(language, "the language");
    const char* file = detail::c_str(path, "the path");
    camb_speech_info info = detail::speech_info_out();
    detail::check(camb_client_speak_to_file(client_, words, locale, voice_id, &c, file,
                                            detail::token_handle(cancel), &info));
    return detail::read_speech_info(info);
}

inline std::vector<Voice> Client::list_voices(const CancelToken* cancel) const {
    camb_voice_list* raw = nullptr;
    detail::check(camb_client_list_voices(client_, detail::token_handle(cancel), &raw));
    const detail::VoiceListPtr list(raw);
    return detail::read_voices(list.get());
}

inline std::vector<Language> Client::list_languages(Languages which,
                                                    const CancelToken* cancel) const {
    camb_language_list* raw = nullptr;
    detail::check(camb_client_list_languages(client_, static_cast<std::uint32_t>(which),
                                             detail::token_handle(cancel), &raw));
    const detail::LanguageListPtr list(raw);
    return detail::read_languages(list.get());
}

inline std::vector<Language> Client::source_languages(const CancelToken* cancel) const {
    return list_languages(Languages::Source, cancel);
}

inline std::vector<Language> Client::target_languages(const CancelToken* cancel) const {
    return list_languages(Languages::Target, cancel);
}

// ---------------------------------------------------------------------------
// Jobs
// ---------------------------------------------------------------------------
//
// A job runs an operation on the client's pool of libcamb threads and comes
// back through a JobQueue, which completes its std::future:
//
//     camb::JobQueue queue;                                   // driven by this thread
//     std::future<camb::TaskInfo> f = client.wait_for_task_async(id, queue);
//     ...
//     queue.dispatch(std::chrono::seconds(1));                // or when queue.fd() is readable
//     if (f.wait_for(std::chrono::seconds(0)) == std::future_status::ready) ...
//
// Who completes the futures is the JobQueue's choice, made when it is built:
// - JobQueue() (Dispatch::Caller): the program, calling dispatch() when it
//   suits it, typically when its event loop sees fd() readable (epoll, poll,
//   Asio's posix::stream_descriptor, Qt's QSocketNotifier, libuv's uv_poll).
//   A future of such a queue becomes ready only in a dispatch(): calling
//   future.get() with nobody dispatching waits forever; queue.get(future) and
//   dispatch_until() dispatch while they wait.
// - JobQueue(Dispatch::Thread): a thread owned by the JobQueue, waiting in
//   camb_queue_wait(); future.get() then just works, from any thread.
// Either way a promise is completed on the thread that drives the queue, never
// on a libcamb thread, and no code of the program runs on libcamb's threads.
//
// Ownership follows camb.h: a job made by Client::job_*() is the Job's until
// submitted; from submit() it is libcamb's until its JobQueue takes it back,
// completes its future and frees it. A Job handle never frees a job in flight:
// destroying it only cancels the job (its future then holds Cancelled);
// detach() lets it run. A JobQueue's destructor waits for the jobs submitted
// to it, completing their futures, so none outlives it: cancel them first, or
// destroy their Client first (which cancels them), to make that quick. Hence
// declare a JobQueue before the Clients that submit to it.

/// Where a job is in its life (camb.h's `CAMB_JOB_STATE_*`).
///
/// Functions: none; returned by Job::state().
enum class JobState : std::uint32_t {
    New = CAMB_JOB_STATE_NEW,          ///< made, not submitted
    Queued = CAMB_JOB_STATE_QUEUED,    ///< waiting for a libcamb thread
    Running = CAMB_JOB_STATE_RUNNING,  ///< a request in flight on a libcamb thread
    Waiting = CAMB_JOB_STATE_WAITING,  ///< between two polls, holding no thread
    Done = CAMB_JOB_STATE_DONE,        ///< finished: its future is completed at the next dispatch
};

/// Which operation a job runs (camb.h's `CAMB_JOB_KIND_*`).
///
/// Functions: none; returned by Job::kind().
enum class JobKind : std::uint32_t {
    None = CAMB_JOB_KIND_NONE,  ///< no job (a moved-from Job)
    GetTaskStatus = CAMB_JOB_KIND_GET_TASK_STATUS,
    CreateTask = CAMB_JOB_KIND_CREATE_TASK,
    WaitForTask = CAMB_JOB_KIND_WAIT_FOR_TASK,
    DownloadAudio = CAMB_JOB_KIND_DOWNLOAD_AUDIO,
    SaveAudio = CAMB_JOB_KIND_SAVE_AUDIO,
    GetAudioUrl = CAMB_JOB_KIND_GET_AUDIO_URL,
    GetAudioUrls = CAMB_JOB_KIND_GET_AUDIO_URLS,
    GetTaskStatuses = CAMB_JOB_KIND_GET_TASK_STATUSES,
    Generate = CAMB_JOB_KIND_GENERATE,
    Speak = CAMB_JOB_KIND_SPEAK,  ///< a SpeechReader's
    SpeakToFile = CAMB_JOB_KIND_SPEAK_TO_FILE,
    ListVoices = CAMB_JOB_KIND_LIST_VOICES,
    ListLanguages = CAMB_JOB_KIND_LIST_LANGUAGES,
};

namespace detail {

/// Frees a job that is the caller's (made and never submitted, or handed back).
struct JobFree {
    void operator()(camb_job* j) const noexcept { camb_job_free(j); }
};
using JobPtr = std::unique_ptr<camb_job, JobFree>;

/// Throws the job's own failure (its code as the Error subclass, its words, its
/// HTTP status); returns when it succeeded.
inline void check_job(const camb_job* job) {
    const camb_result code = camb_job_result(job);
    if (code == CAMB_RESULT_OK) {
        return;
    }
    std::size_t len = 0;
    const char* text = camb_job_error(job, &len);
    throw_as(code, camb_job_http_status(job), copy(text, len));
}

[[noreturn]] inline void no_output(const char* what) {
    throw Error(CAMB_RESULT_BAD_RESPONSE, 0, std::string("the finished job has no ") + what);
}

// What a finished job of each kind gives its future.

inline TaskInfo job_task(const camb_job* job) {
    check_job(job);
    const camb_task* task = camb_job_task(job);  // the job's: not freed here
    if (task == nullptr) {
        no_output("task");
    }
    return read_task(task);
}

inline std::string job_task_id(const camb_job* job) {
    check_job(job);
    std::size_t len = 0;
    const char* id = camb_job_task_id(job, &len);
    if (id == nullptr) {
        no_output("task id");
    }
    return copy(id, len);
}

inline std::uint64_t job_bytes(const camb_job* job) {
    check_job(job);
    return camb_job_bytes(job);
}

inline std::vector<std::uint8_t> job_audio(const camb_job* job) {
    check_job(job);
    std::size_t len = 0;
    const std::uint8_t* data = camb_job_audio(job, &len);
    return data == nullptr ? std::vector<std::uint8_t>()
                           : std::vector<std::uint8_t>(data, data + len);
}

inline std::string job_audio_url(const camb_job* job) {
    check_job(job);
    std::size_t len = 0;
    const char* url = camb_job_audio_url(job, &len);
    if (url == nullptr) {
        no_output("audio URL");
    }
    return copy(url, len);
}

inline std::vector<AudioUrl> job_audio_urls(const camb_job* job) {
    check_job(job);
    const camb_audio_url_list* list = camb_job_audio_url_list(job);
    if (list == nullptr) {
        no_output("list of audio URLs");
    }
    return read_urls(list);
}

inline Generation job_generation(const camb_job* job) {
    Generation generation;
    generation.task = job_task(job);
    generation.task_id = job_task_id(job);
    generation.bytes = camb_job_bytes(job);
    generation.polls = camb_job_polls(job);
    return generation;
}

inline SpeechInfo job_speech_info(const camb_job* job) {
    check_job(job);
    camb_speech_info info = speech_info_out();
    check(camb_job_speech_info(job, &info));
    return read_speech_info(info);
}

inline std::vector<Voice> job_voices(const camb_job* job) {
    check_job(job);
    const camb_voice_list* list = camb_job_voice_list(job);  // the job's
    if (list == nullptr) {
        no_output("list of voices");
    }
    return read_voices(list);
}

inline std::vector<Language> job_languages(const camb_job* job) {
    check_job(job);
    const camb_language_list* list = camb_job_language_list(job);  // the job's
    if (list == nullptr) {
        no_output("list of languages");
    }
    return read_languages(list);
}

/// The wrapper's side of one job, shared by its Job handle (if any) and, from
/// submit() until its future is completed, by libcamb's user_data (a heap
/// std::shared_ptr<JobRecord>, taken back by the dispatch that pops the job).
class JobRecord {
public:
    explicit JobRecord(JobPtr job) noexcept
        : job_(job.release()), kind_(static_cast<JobKind>(camb_job_get_kind(job_))) {}
    JobRecord(const JobRecord&) = delete;
    JobRecord& operator=(const JobRecord&) = delete;
    /// Frees a job never submitted; one submitted was handed back and freed
    /// before the last reference to this record could go.
    virtual ~JobRecord() {
        if (!submitted_) {
            camb_job_free(job_);
        }
    }

    JobKind kind() const noexcept { return kind_; }

    JobState state() const noexcept {
        const std::lock_guard<std::mutex> lock(mutex_);
        return job_ != nullptr ? static_cast<JobState>(camb_job_get_state(job_)) : JobState::Done;
    }
    std::uint32_t polls() const noexcept {
        const std::lock_guard<std::mutex> lock(mutex_);
        return job_ != nullptr ? camb_job_polls(job_) : polls_;
    }
    Status task_status() const noexcept {
        const std::lock_guard<std::mutex> lock(mutex_);
        return job_ != nullptr ? static_cast<Status>(camb_job_task_status(job_)) : status_;
    }
    bool submitted() const noexcept {
        const std::lock_guard<std::mutex> lock(mutex_);
        return submitted_;
    }
    /// Cancels the job while it is still there (camb_job_cancel works on a job
    /// in flight, and on one not yet submitted).
    void cancel() const noexcept {
        const std::lock_guard<std::mutex> lock(mutex_);
        if (job_ != nullptr) {
            static_cast<void>(camb_job_cancel(job_));
        }
    }

    /// Submits the job with `user_data`; `begin()` is called first and `end()`
    /// on a refusal, which is thrown. The lock keeps a dispatch of the job,
    /// which can come before camb_job_submit() returns, waiting until this
    /// record knows it was submitted.
    template <class Begin, class End>
    void submit(camb_queue* queue, void* user_data, Begin begin, End end) {
        const std::lock_guard<std::mutex> lock(mutex_);
        if (submitted_) {
            throw Error(CAMB_RESULT_INVALID_PARAMETER, 0, "the job was submitted already");
        }
        begin();
        const camb_result result = camb_job_submit(job_, queue, user_data);
        if (result != CAMB_RESULT_OK) {
            const std::uint16_t http_status = camb_last_http_status();
            std::string message = camb_last_error();
            end();
            throw_as(result, http_status, std::move(message));
        }
        submitted_ = true;
    }

    /// The job is back from its queue (popped on this thread): keep what the
    /// handle may still ask, forget the job, complete the future. The caller
    /// frees the job afterwards.
    void deliver(const camb_job* job) noexcept {
        {
            const std::lock_guard<std::mutex> lock(mutex_);
            polls_ = camb_job_polls(job);
            status_ = static_cast<Status>(camb_job_task_status(job));
            job_ = nullptr;
        }
        complete(job);
    }

private:
    virtual void complete(const camb_job* job) noexcept = 0;

    mutable std::mutex mutex_;
    camb_job* job_;  // NULL once handed back
    const JobKind kind_;
    bool submitted_ = false;
    std::uint32_t polls_ = 0;
    Status status_ = Status::Unknown;
};

/// A JobRecord with its promise, and how to read its result.
template <class T>
class TypedJobRecord final : public JobRecord {
public:
    TypedJobRecord(JobPtr job, std::function<T(const camb_job*)> read)
        : JobRecord(std::move(job)), read_(std::move(read)) {}

    std::future<T> future() { return promise_.get_future(); }

private:
    void complete(const camb_job* job) noexcept override {
        try {
            promise_.set_value(read_(job));
        } catch (...) {
            try {
                promise_.set_exception(std::current_exception());
            } catch (...) {
                // Only a promise already satisfied throws here, which cannot happen.
            }
        }
    }

    std::promise<T> promise_;
    std::function<T(const camb_job*)> read_;
};

}  // namespace detail

/// A camb_queue that completes the futures of the jobs submitted to it (see
/// "Jobs" above for who drives it). Move-only; it may be submitted to and
/// dispatched from any number of threads at once.
///
/// Destroying it (or assigning to it) first waits for every job submitted to
/// it to come back, and completes their futures: cancel them, or destroy their
/// Client, to make that quick. It must not be destroyed while another thread
/// is inside one of its methods.
///
/// Functions: JobQueue(), fd(), dispatch(), dispatch_until(), get(), in_flight().
class JobQueue {
public:
    /// Who completes the futures of this queue's jobs.
    enum class Dispatch {
        Caller,  ///< the program, through dispatch(), get() and dispatch_until()
        Thread,  ///< a thread the JobQueue owns (dispatch() is then never needed)
    };

    /// A queue. Throws Error(CAMB_RESULT_IO) if the system refuses it a
    /// descriptor, std::system_error if its thread cannot start.
    explicit JobQueue(Dispatch dispatch = Dispatch::Caller) : state_(std::make_unique<State>()) {
        detail::check(camb_queue_new(&state_->queue));
        if (dispatch == Dispatch::Thread) {
            State* const state = state_.get();
            state_->thread = std::thread([state] { state->run(); });
        }
    }
    JobQueue(const JobQueue&) = delete;
    JobQueue& operator=(const JobQueue&) = delete;
    JobQueue(JobQueue&& other) noexcept = default;
    JobQueue& operator=(JobQueue&& other) noexcept {
        if (this != &other) {
            close();
            state_ = std::move(other.state_);
        }
        return *this;
    }
    ~JobQueue() { close(); }

    /// The readiness handle: a file descriptor on Unix (a SOCKET on Windows),
    /// readable exactly while finished jobs wait for dispatch(). Watch it for
    /// reading; never read, write or close it. -1 after a move.
#if defined(_WIN32)
    using Handle = std::uintptr_t;
#else
    using Handle = int;
#endif
    Handle fd() const noexcept {
        return state_ ? static_cast<Handle>(camb_queue_fd(state_->queue)) : static_cast<Handle>(-1);
    }

    /// Completes, on this thread, the future of each job that came back:
    /// waits up to `timeout` for the first (0: not at all), then takes every
    /// one waiting. Returns how many events it took (0 after a move): a
    /// SpeechReader's news of audio counts too, though it completes no future
    /// (the reader reads the audio itself).
    std::size_t dispatch(
        std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) noexcept {
        return state_ ? state_->dispatch(timeout) : 0;
    }

    /// Dispatches until `future` (a std::future or std::shared_future of this
    /// queue's) is ready, or `timeout` passes; true when it is ready.
    template <class Future>
    bool dispatch_until(const Future& future, std::chrono::milliseconds timeout) {
        if (!future.valid()) {
            return false;
        }
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (future.wait_for(std::chrono::milliseconds(0)) == std::future_status::ready) {
                return true;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                return false;
            }
            if (!state_ || state_->thread.joinable()) {
                return future.wait_for(left) == std::future_status::ready;
            }
            // Short slices: another thread may take the job meanwhile.
            dispatch(std::min(left, std::chrono::milliseconds(20)));
        }
    }

    /// future.get(), dispatching while it waits: the result, or the job's
    /// failure thrown.
    template <class T>
    T get(std::future<T> future) {
        while (!dispatch_until(future, std::chrono::hours(24))) {
        }
        return future.get();
    }

    /// How many jobs submitted to it have not had their futures completed yet.
    std::size_t in_flight() const noexcept {
        if (!state_) {
            return 0;
        }
        const std::lock_guard<std::mutex> lock(state_->mutex);
        return state_->in_flight;
    }

private:
    template <class T>
    friend class Job;
    friend class SpeechReader;

    struct State {
        camb_queue* queue = nullptr;
        std::mutex mutex;
        std::condition_variable changed;
        std::size_t in_flight = 0;
        /// Events taken so far (data and done), for a SpeechReader waiting on
        /// a queue that its dispatcher thread drives.
        std::uint64_t events = 0;
        bool stopping = false;
        std::thread thread;

        State() = default;
        State(const State&) = delete;
        State& operator=(const State&) = delete;
        ~State() { camb_queue_free(queue); }

        void begin() {
            {
                const std::lock_guard<std::mutex> lock(mutex);
                ++in_flight;
            }
            changed.notify_all();
        }
        void end() noexcept {
            {
                const std::lock_guard<std::mutex> lock(mutex);
                --in_flight;
            }
            changed.notify_all();
        }

        /// Notes that an event was taken, for SpeechReaders waiting in wait_event().
        void taken() noexcept {
            {
                const std::lock_guard<std::mutex> lock(mutex);
                ++events;
            }
            changed.notify_all();
        }

        /// Waits up to `timeout` for an event to be taken after the `seen`th.
        void wait_event(std::uint64_t seen, std::chrono::milliseconds timeout) {
            std::unique_lock<std::mutex> lock(mutex);
            changed.wait_for(lock, timeout, [&] { return events != seen; });
        }

        std::uint64_t events_taken() {
            const std::lock_guard<std::mutex> lock(mutex);
            return events;
        }

        /// Takes one event, waiting up to `timeout_ms`; false when none came.
        bool take(std::uint32_t timeout_ms) noexcept {
            camb_event event = CAMB_EVENT_JOB_DONE;
            camb_job* raw = nullptr;
            const camb_result result = timeout_ms == 0
                                           ? camb_queue_pop(queue, &event, &raw)
                                           : camb_queue_wait(queue, timeout_ms, &event, &raw);
            if (result != CAMB_RESULT_OK) {
                return false;
            }
            if (event != CAMB_EVENT_JOB_DONE) {
                // CAMB_EVENT_JOB_DATA: a SpeechReader's job has audio to read.
                // The job stays libcamb's (and may be handed back and freed by
                // another thread at any moment): it is not touched here.
                taken();
                return true;
            }
            const detail::JobPtr job(raw);  // the caller's again: freed last
            {
                const std::unique_ptr<std::shared_ptr<detail::JobRecord>> record(
                    static_cast<std::shared_ptr<detail::JobRecord>*>(camb_job_user_data(raw)));
                if (record && *record) {
                    (*record)->deliver(raw);
                }
            }
            end();
            taken();
            return true;
        }

        /// JobQueue::dispatch().
        std::size_t dispatch(std::chrono::milliseconds timeout) noexcept {
            const auto limit =
                std::chrono::milliseconds(std::numeric_limits<std::uint32_t>::max() - 1);
            const auto ms = std::clamp(timeout, std::chrono::milliseconds(0), limit);
            std::size_t count = 0;
            if (take(static_cast<std::uint32_t>(ms.count()))) {
                ++count;
                while (take(0)) {
                    ++count;
                }
            }
            return count;
        }

        /// The dispatcher thread: sleeps while no job is out, and ends once
        /// stopping with none out.
        void run() noexcept {
            for (;;) {
                {
                    std::unique_lock<std::mutex> lock(mutex);
                    changed.wait(lock, [this] { return stopping || in_flight > 0; });
                    if (in_flight == 0) {
                        return;
                    }
                }
                // Bounded, so that a job another thread dispatched cannot keep
                // this one waiting long after the last one came back.
                static_cast<void>(take(200));
            }
        }

        /// Waits for every job out to come back, completing their futures.
        void drain() noexcept {
            if (thread.joinable()) {
                {
                    const std::lock_guard<std::mutex> lock(mutex);
                    stopping = true;
                }
                changed.notify_all();
                thread.join();
                return;
            }
            for (;;) {
                {
                    const std::lock_guard<std::mutex> lock(mutex);
                    if (in_flight == 0) {
                        return;
                    }
                }
                static_cast<void>(take(100));
            }
        }
    };

    /// Submits a record's job; on success libcamb holds a reference to it.
    void submit(const std::shared_ptr<detail::JobRecord>& record) {
        if (!state_) {
            throw Error(CAMB_RESULT_NULL_PARAMETER, 0, "the JobQueue is empty (moved from)");
        }
        auto user_data = std::make_unique<std::shared_ptr<detail::JobRecord>>(record);
        State* const state = state_.get();
        record->submit(
            state->queue, user_data.get(), [state] { state->begin(); }, [state] { state->end(); });
        static_cast<void>(user_data.release());  // the dispatch that pops the job frees it
    }

    void close() noexcept {
        if (state_) {
            state_->drain();
            state_.reset();
        }
    }

    std::unique_ptr<State> state_;
};

/// One operation as a job, made by a Client::job_*() function and not yet
/// started: submit() starts it on the client's libcamb threads and gives its
/// future, which its JobQueue completes. Move-only. Until then the job does
/// nothing, and destroying the Job frees it.
///
/// Once submitted, the job is libcamb's until its queue takes it back. The Job
/// then only follows it (state(), polls(), task_status(), from any thread) and
/// may cancel() it; destroying the Job cancels the job (its future then holds
/// Cancelled, unless it finished first), and detach() lets it run to its end.
///
/// Functions: submit(), cancel(), detach(), kind(), state(), submitted(),
/// polls(), task_status().
template <class T>
class Job {
public:
    Job(const Job&) = delete;
    Job& operator=(const Job&) = delete;
    Job(Job&& other) noexcept = default;
    Job& operator=(Job&& other) noexcept {
        if (this != &other) {
            release();
            record_ = std::move(other.record_);
        }
        return *this;
    }
    /// Frees a job never submitted; cancels one in flight.
    ~Job() { release(); }

    /// Starts the job; its future is completed on the thread that drives
    /// `queue`. Throws Error(CAMB_RESULT_INVALID_PARAMETER) for a job submitted
    /// already or whose Client was destroyed, NULL_PARAMETER for a moved-from
    /// Job or JobQueue; after a refusal the job is still this Job's.
    std::future<T> submit(JobQueue& queue) {
        if (!record_) {
            throw Error(CAMB_RESULT_NULL_PARAMETER, 0, "the Job is empty (moved from)");
        }
        queue.submit(record_);
        return record_->future();
    }

    /// Cancels the job, from any thread: a waiting job finishes at once, a
    /// running one at its next check, one not submitted yet as soon as it is;
    /// its future then holds Cancelled. No effect once its future is completed.
    void cancel() const noexcept {
        if (record_) {
            record_->cancel();
        }
    }

    /// Lets go of the job without cancelling it: it runs to its end and
    /// completes its future (a job never submitted is freed). The Job is then
    /// empty, as after a move.
    void detach() noexcept { record_.reset(); }

    /// Which operation it runs (None for a moved-from Job).
    JobKind kind() const noexcept { return record_ ? record_->kind() : JobKind::None; }
    /// Where it is: New until submitted, then Queued, Running or Waiting; Done
    /// once it finished (its future is completed when its queue is dispatched),
    /// and for a moved-from Job.
    JobState state() const noexcept { return record_ ? record_->state() : JobState::Done; }
    /// True once submit() succeeded.
    bool submitted() const noexcept { return record_ && record_->submitted(); }
    /// Polls made so far by a wait or generate job.
    std::uint32_t polls() const noexcept { return record_ ? record_->polls() : 0; }
    /// The status of the job's task as last seen (a wait's or generate's last
    /// poll, a status job's result); Unknown before the first poll.
    Status task_status() const noexcept {
        return record_ ? record_->task_status() : Status::Unknown;
    }

private:
    friend class Client;
    Job(detail::JobPtr job, std::function<T(const camb_job*)> read)
        : record_(std::make_shared<detail::TypedJobRecord<T>>(std::move(job), std::move(read))) {}

    void release() noexcept {
        if (record_ && record_->submitted()) {
            record_->cancel();  // never freed here: libcamb's until handed back
        }
        record_.reset();
    }

    std::shared_ptr<detail::TypedJobRecord<T>> record_;
};

namespace detail {

/// Owns a job just made by a camb_client_job_* function, or throws its refusal.
inline JobPtr made(camb_result result, camb_job* job) {
    JobPtr owned(job);
    check(result);
    return owned;
}

/// Submits `job` and lets it run with no handle.
template <class T>
std::future<T> submit_detached(Job<T> job, JobQueue& queue) {
    std::future<T> future = job.submit(queue);
    job.detach();
    return future;
}

}  // namespace detail

namespace detail {

/// The wrapper's side of a SpeechReader's job: the job's audio is read from
/// the job while it is libcamb's, and from `rest_` once it was handed back
/// (deliver() moves what was left there before the job is freed).
class SpeechRecord final : public JobRecord {
public:
    /// `live` is `job.get()`.
    SpeechRecord(camb_job* live, JobPtr job) noexcept : JobRecord(std::move(job)), live_(live) {}

    /// Moves up to `capacity` bytes of audio into `buffer`; 0 when none waits
    /// now. Once the job is back and every byte was read, throws its failure.
    std::size_t read(std::uint8_t* buffer, std::size_t capacity) {
        const std::lock_guard<std::mutex> lock(mutex_);
        if (live_ != nullptr) {
            std::size_t n = 0;
            check(camb_job_read_audio(live_, buffer, capacity, &n));
            return n;
        }
        if (next_ < rest_.size()) {
            if (buffer == nullptr && capacity > 0) {
                throw Error(CAMB_RESULT_NULL_PARAMETER, 0, "the buffer is NULL");
            }
            const std::size_t n = std::min(capacity, rest_.size() - next_);
            if (n > 0) {
                std::memcpy(buffer, rest_.data() + next_, n);
            }
            next_ += n;
            if (next_ == rest_.size()) {
                std::vector<std::uint8_t>().swap(rest_);
                next_ = 0;
            }
            return n;
        }
        if (error_) {
            std::rethrow_exception(error_);
        }
        return 0;
    }

    /// The job is back and every byte of its audio was read.
    bool done() const {
        const std::lock_guard<std::mutex> lock(mutex_);
        return live_ == nullptr && next_ >= rest_.size();
    }

    /// The job is back (its audio may still wait in rest_).
    bool back() const {
        const std::lock_guard<std::mutex> lock(mutex_);
        return live_ == nullptr;
    }

    SpeechInfo info() const {
        const std::lock_guard<std::mutex> lock(mutex_);
        if (live_ == nullptr) {
            return info_;
        }
        camb_speech_info info = speech_info_out();
        check(camb_job_speech_info(live_, &info));
        return read_speech_info(info);
    }

private:
    void complete(const camb_job* job) noexcept override {
        const std::lock_guard<std::mutex> lock(mutex_);
        try {
            // At most the job's bound (256 KiB) waits: moved here before the
            // job is freed.
            std::uint8_t chunk[16 * 1024];
            std::size_t n = 0;
            while (camb_job_read_audio(job, chunk, sizeof chunk, &n) == CAMB_RESULT_OK && n > 0) {
                rest_.insert(rest_.end(), chunk, chunk + n);
            }
            camb_speech_info info = speech_info_out();
            if (camb_job_speech_info(job, &info) == CAMB_RESULT_OK) {
                info_ = read_speech_info(info);
            }
            check_job(job);
        } catch (...) {
            error_ = std::current_exception();
        }
        live_ = nullptr;
    }

    mutable std::mutex mutex_;
    const camb_job* live_;  // NULL once handed back
    std::vector<std::uint8_t> rest_;
    std::size_t next_ = 0;
    SpeechInfo info_;
    std::exception_ptr error_;
};

}  // namespace detail

/// A speech read as it arrives (a camb_client_job_speak() job): the audio
/// comes on libcamb's threads and waits (at most 256 KiB; beyond that the
/// stream slows down to the reader's pace) until this reader takes it, on the
/// program's own thread, with no callback anywhere. For a player's thread, an
/// event loop, or any reader that sets its own pace. Move-only.
///
/// Two ways to read:
/// - read_some(buffer, capacity): blocks until some audio has come (or the
///   stream ended, or the timeout passed), then moves what it can.
/// - From an event loop: watch fd() for reading; when it is readable, call
///   read() until it gives 0 (on a JobQueue of the program's, dispatch() it
///   first, as for any job), and stop once done().
///
///     camb::SpeechReader reader(client, "Hello there", "en-us", 147320);
///     std::uint8_t buffer[4096];
///     while (std::size_t n = reader.read_some(buffer, sizeof buffer)) play(buffer, n);
///
/// The stream starts when the reader is made: on its own queue, or on a
/// JobQueue of the program's (which must outlive the reader; a queue with
/// its own dispatcher thread works too). Errors come out of read() and
/// read_some() as the Error subclass Client::speak() throws, once the audio
/// that came before them has been read: a 422 or an unknown voice before any
/// audio, Error(CAMB_RESULT_CONNECT) for a stream cut short, Cancelled after
/// cancel(). Destroying the reader cancels the stream (it returns once the job
/// ended, when it owns its queue: at the stream's next chunk, or when the
/// client's timeout ends a read the server stalls).
///
/// read() and read_some() are for one thread at a time; cancel(), done(),
/// info() and fd() may be called from any thread.
///
/// Functions: SpeechReader(), read(), read_some(), done(), info(), cancel(), fd().
class SpeechReader {
public:
    /// Starts speaking on a queue of the reader's own. Throws what
    /// Client::speak() throws for arguments refused before anything is sent.
    SpeechReader(const Client& client, const std::string& text, const std::string& language,
                 std::int64_t voice_id)
        : SpeechReader(client, text, language, voice_id, SpeechOptions()) {}
    SpeechReader(const Client& client, const std::string& text, const std::string& language,
                 std::int64_t voice_id, const SpeechOptions& options)
        : own_(std::make_unique<JobQueue>()) {
        start(client, text, language, voice_id, options, *own_);
    }
    /// Starts speaking on `queue`, which must outlive the reader.
    SpeechReader(const Client& client, const std::string& text, const std::string& language,
                 std::int64_t voice_id, const SpeechOptions& options, JobQueue& queue) {
        start(client, text, language, voice_id, options, queue);
    }

    SpeechReader(const SpeechReader&) = delete;
    SpeechReader& operator=(const SpeechReader&) = delete;
    SpeechReader(SpeechReader&& other) noexcept
        : own_(std::move(other.own_)),
          state_(std::exchange(other.state_, nullptr)),
          record_(std::move(other.record_)) {}
    SpeechReader& operator=(SpeechReader&& other) noexcept {
        if (this != &other) {
            release();
            own_ = std::move(other.own_);
            state_ = std::exchange(other.state_, nullptr);
            record_ = std::move(other.record_);
        }
        return *this;
    }
    /// Cancels the stream if it is still running; with a queue of its own,
    /// waits for the job to end.
    ~SpeechReader() { release(); }

    /// Moves up to `capacity` bytes of audio, in order, into `buffer`, and
    /// returns how many: 0 when none is waiting now (never blocks). Throws the
    /// stream's failure once the audio before it has been read; after the
    /// last byte of a stream that succeeded, gives 0 and done() is true.
    std::size_t read(std::uint8_t* buffer, std::size_t capacity) {
        detail::SpeechRecord& record = this->record();
        pump();
        return record.read(buffer, capacity);
    }

    /// Waits until audio has come, the stream has ended or `timeout` passed,
    /// then reads as read() does: 0 only at the end of the stream (done()) or
    /// when the time ran out (!done()).
    std::size_t read_some(std::uint8_t* buffer, std::size_t capacity,
                          std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            const std::uint64_t seen = state_ != nullptr ? state_->events_taken() : 0;
            const std::size_t n = read(buffer, capacity);
            if (n > 0 || capacity == 0 || done()) {
                return n;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                return 0;
            }
            if (state_->thread.joinable()) {
                // Its dispatcher thread takes the events; bounded, in case it
                // took ours just before `seen` was read.
                state_->wait_event(seen, std::min(left, std::chrono::milliseconds(100)));
            } else if (own_) {
                // Nobody else takes this queue's events.
                state_->dispatch(left);
            } else {
                // Short slices: another thread may take the event meanwhile.
                state_->dispatch(std::min(left, std::chrono::milliseconds(20)));
            }
        }
    }
    /// read_some() with no time limit: 0 only at the end of the stream.
    std::size_t read_some(std::uint8_t* buffer, std::size_t capacity) {
        for (;;) {
            const std::size_t n = read_some(buffer, capacity, std::chrono::hours(24));
            if (n > 0 || capacity == 0 || done()) {
                return n;
            }
        }
    }

    /// True once the stream has ended (succeeded, failed or was cancelled) and
    /// every byte of its audio was read: read() gives nothing more (it throws
    /// the failure, if any). True for a moved-from reader.
    bool done() const noexcept {
        if (!record_) {
            return true;
        }
        pump();
        return record_->done();
    }

    /// What is known of the audio so far: its format, rate, channels and
    /// credits once they are known, and the bytes received (all of them at the
    /// end, read or not).
    SpeechInfo info() const { return record().info(); }

    /// Stops the stream, from any thread (at its next chunk); read() then
    /// throws Cancelled once the audio that came before has been read (unless
    /// the stream had ended already). No effect once it has ended.
    void cancel() const noexcept {
        if (record_) {
            record_->cancel();
        }
    }

    /// The readiness handle of the reader's queue (its own, or the JobQueue
    /// given): readable when there is news of the stream (audio, or its end).
    /// For a reader on its own queue or on a JobQueue the caller dispatches; a
    /// JobQueue with a dispatcher thread takes the events itself. -1 for a
    /// moved-from reader.
    JobQueue::Handle fd() const noexcept {
        return state_ != nullptr ? static_cast<JobQueue::Handle>(camb_queue_fd(state_->queue))
                                 : static_cast<JobQueue::Handle>(-1);
    }

private:
    void start(const Client& client, const std::string& text, const std::string& language,
               std::int64_t voice_id, const SpeechOptions& options, JobQueue& queue) {
        if (!queue.state_) {
            throw Error(CAMB_RESULT_NULL_PARAMETER, 0, "the JobQueue is empty (moved from)");
        }
        const camb_speech_options c = detail::speech_options(options);
        const char* words = detail::c_str(text, "the text");
        const char* locale = detail::c_str(language, "the language");
        camb_job* job = nullptr;
        const camb_result result =
            camb_client_job_speak(client.handle(), words, locale, voice_id, &c, &job);
        detail::JobPtr owned = detail::made(result, job);
        camb_job* const live = owned.get();
        record_ = std::make_shared<detail::SpeechRecord>(live, std::move(owned));
        queue.submit(record_);
        state_ = queue.state_.get();
    }

    detail::SpeechRecord& record() const {
        if (!record_) {
            throw Error(CAMB_RESULT_NULL_PARAMETER, 0, "the SpeechReader is empty (moved from)");
        }
        return *record_;
    }

    /// Takes the events of a queue of its own (nobody else does).
    void pump() const noexcept {
        if (own_) {
            static_cast<void>(own_->dispatch());
        }
    }

    void release() noexcept {
        if (record_ && !record_->back()) {
            record_->cancel();  // never freed here: libcamb's until handed back
        }
        own_.reset();  // waits for the job, cancelled above
        record_.reset();
        state_ = nullptr;
    }

    std::unique_ptr<JobQueue> own_;
    JobQueue::State* state_ = nullptr;
    std::shared_ptr<detail::SpeechRecord> record_;
};

// --- jobs: made, not submitted ---

inline Job<TaskInfo> Client::job_get_task_status(const std::string& task_id) const {
    camb_job* job = nullptr;
    const camb_result result =
        camb_client_job_get_task_status(client_, detail::c_str(task_id, "the task id"), &job);
    return Job<TaskInfo>(detail::made(result, job), &detail::job_task);
}

inline Job<std::string> Client::job_create_task(const std::string& prompt) const {
    return job_create_task(prompt, CreateOptions());
}

inline Job<std::string> Client::job_create_task(const std::string& prompt,
                                                const CreateOptions& options) const {
    const camb_create_options c = detail::create_options(options);
    camb_job* job = nullptr;
    const camb_result result =
        camb_client_job_create_task(client_, detail::c_str(prompt, "the prompt"), &c, &job);
    return Job<std::string>(detail::made(result, job), &detail::job_task_id);
}

inline Job<TaskInfo> Client::job_wait_for_task(const std::string& task_id) const {
    return job_wait_for_task(task_id, WaitOptions());
}

inline Job<TaskInfo> Client::job_wait_for_task(const std::string& task_id,
                                               const WaitOptions& options) const {
    const camb_wait_options c = detail::wait_options(options);
    camb_job* job = nullptr;
    const camb_result result =
        camb_client_job_wait_for_task(client_, detail::c_str(task_id, "the task id"), &c, &job);
    return Job<TaskInfo>(detail::made(result, job), &detail::job_task);
}

inline Job<std::vector<std::uint8_t>> Client::job_download_audio(std::int64_t run_id) const {
    camb_job* job = nullptr;
    const camb_result result = camb_client_job_download_audio(client_, run_id, &job);
    return Job<std::vector<std::uint8_t>>(detail::made(result, job), &detail::job_audio);
}

inline Job<std::uint64_t> Client::job_save_audio(std::int64_t run_id,
                                                 const std::string& path) const {
    camb_job* job = nullptr;
    const camb_result result =
        camb_client_job_save_audio(client_, run_id, detail::c_str(path, "the path"), &job);
    return Job<std::uint64_t>(detail::made(result, job), &detail::job_bytes);
}

inline Job<std::string> Client::job_get_audio_url(std::int64_t run_id) const {
    camb_job* job = nullptr;
    const camb_result result = camb_client_job_get_audio_url(client_, run_id, &job);
    return Job<std::string>(detail::made(result, job), &detail::job_audio_url);
}

inline Job<std::vector<AudioUrl>> Client::job_get_audio_urls(
    const std::vector<std::int64_t>& run_ids) const {
    camb_job* job = nullptr;
    const camb_result result = camb_client_job_get_audio_urls(
        client_, run_ids.empty() ? nullptr : run_ids.data(), run_ids.size(), &job);
    return Job<std::vector<AudioUrl>>(detail::made(result, job), &detail::job_audio_urls);
}

inline Job<std::vector<TaskResult>> Client::job_get_task_statuses(
    const std::vector<std::string>& task_ids, std::uint32_t max_connections) const {
    // As get_task_statuses(): an id with a NUL byte is refused on its own.
    const std::vector<const char*> sent = detail::sent_ids(task_ids);
    camb_job* job = nullptr;
    const camb_result result = camb_client_job_get_task_statuses(
        client_, sent.empty() ? nullptr : sent.data(), sent.size(), max_connections, &job);
    detail::JobPtr owned = detail::made(result, job);
    return Job<std::vector<TaskResult>>(std::move(owned), [task_ids](const camb_job* done) {
        detail::check_job(done);
        const camb_task_list* list = camb_job_task_list(done);  // the job's
        if (list == nullptr) {
            detail::no_output("task list");
        }
        return detail::read_results(list, task_ids);
    });
}

inline Job<Generation> Client::job_generate(const std::string& prompt,
                                            const std::string& path) const {
    return job_generate(prompt, path, CreateOptions(), WaitOptions());
}

inline Job<Generation> Client::job_generate(const std::string& prompt, const std::string& path,
                                            const CreateOptions& create,
                                            const WaitOptions& wait) const {
    const camb_create_options c = detail::create_options(create);
    const camb_wait_options w = detail::wait_options(wait);
    const char* text = detail::c_str(prompt, "the prompt");
    const char* file = detail::c_str(path, "the path");
    camb_job* job = nullptr;
    const camb_result result = camb_client_job_generate(client_, text, &c, &w, file, &job);
    return Job<Generation>(detail::made(result, job), &detail::job_generation);
}

inline Job<SpeechInfo> Client::job_speak_to_file(const std::string& text,
                                                 const std::string& language, std::int64_t voice_id,
                                                 const std::string& path) const {
    return job_speak_to_file(text, language, voice_id, SpeechOptions(), path);
}

inline Job<SpeechInfo> Client::job_speak_to_file(const std::string& text,
                                                 const std::string& language, std::int64_t voice_id,
                                                 const SpeechOptions& options,
                                                 const std::string& path) const {
    const camb_speech_options c = detail::speech_options(options);
    const char* words = detail::c_str(text, "the text");
    const char* locale = detail::c_str(language, "the language");
    const char* file = detail::c_str(path, "the path");
    camb_job* job = nullptr;
    const camb_result result =
        camb_client_job_speak_to_file(client_, words, locale, voice_id, &c, file, &job);
    return Job<SpeechInfo>(detail::made(result, job), &detail::job_speech_info);
}

inline Job<std::vector<Voice>> Client::job_list_voices() const {
    camb_job* job = nullptr;
    const camb_result result = camb_client_job_list_voices(client_, &job);
    return Job<std::vector<Voice>>(detail::made(result, job), &detail::job_voices);
}

inline Job<std::vector<Language>> Client::job_list_languages(Languages which) const {
    camb_job* job = nullptr;
    const camb_result result =
        camb_client_job_list_languages(client_, static_cast<std::uint32_t>(which), &job);
    return Job<std::vector<Language>>(detail::made(result, job), &detail::job_languages);
}

// --- jobs: futures ---

inline std::future<TaskInfo> Client::get_task_status_async(const std::string& task_id,
                                                           JobQueue& queue) const {
    return detail::submit_detached(job_get_task_status(task_id), queue);
}

inline std::future<std::string> Client::create_task_async(const std::string& prompt,
                                                          JobQueue& queue) const {
    return detail::submit_detached(job_create_task(prompt), queue);
}

inline std::future<std::string> Client::create_task_async(const std::string& prompt,
                                                          const CreateOptions& options,
                                                          JobQueue& queue) const {
    return detail::submit_detached(job_create_task(prompt, options), queue);
}

inline std::future<TaskInfo> Client::wait_for_task_async(const std::string& task_id,
                                                         JobQueue& queue) const {
    return detail::submit_detached(job_wait_for_task(task_id), queue);
}

inline std::future<TaskInfo> Client::wait_for_task_async(const std::string& task_id,
                                                         const WaitOptions& options,
                                                         JobQueue& queue) const {
    return detail::submit_detached(job_wait_for_task(task_id, options), queue);
}

inline std::future<std::vector<std::uint8_t>> Client::download_audio_async(std::int64_t run_id,
                                                                           JobQueue& queue) const {
    return detail::submit_detached(job_download_audio(run_id), queue);
}

inline std::future<std::uint64_t> Client::save_audio_async(std::int64_t run_id,
                                                           const std::string& path,
                                                           JobQueue& queue) const {
    return detail::submit_detached(job_save_audio(run_id, path), queue);
}

inline std::future<std::string> Client::get_audio_url_async(std::int64_t run_id,
                                                            JobQueue& queue) const {
    return detail::submit_detached(job_get_audio_url(run_id), queue);
}

inline std::future<std::vector<AudioUrl>> Client::get_audio_urls_async(
    const std::vector<std::int64_t>& run_ids, JobQueue& queue) const {
    return detail::submit_detached(job_get_audio_urls(run_ids), queue);
}

inline std::future<std::vector<TaskResult>> Client::get_task_statuses_async(
    const std::vector<std::string>& task_ids, JobQueue& queue) const {
    return detail::submit_detached(job_get_task_statuses(task_ids), queue);
}

inline std::future<std::vector<TaskResult>> Client::get_task_statuses_async(
    const std::vector<std::string>& task_ids, std::uint32_t max_connections,
    JobQueue& queue) const {
    return detail::submit_detached(job_get_task_statuses(task_ids, max_connections), queue);
}

inline std::future<Generation> Client::generate_async(const std::string& prompt,
                                                      const std::string& path,
                                                      JobQueue& queue) const {
    return detail::submit_detached(job_generate(prompt, path), queue);
}

inline std::future<Generation> Client::generate_async(const std::string& prompt,
                                                      const std::string& path,
                                                      const CreateOptions& create,
                                                      const WaitOptions& wait,
                                                      JobQueue& queue) const {
    return detail::submit_detached(job_generate(prompt, path, create, wait), queue);
}

inline std::future<SpeechInfo> Client::speak_to_file_async(const std::string& text,
                                                           const std::string& language,
                                                           std::int64_t voice_id,
                                                           const std::string& path,
                                                           JobQueue& queue) const {
    return detail::submit_detached(job_speak_to_file(text, language, voice_id, path), queue);
}

inline std::future<SpeechInfo> Client::speak_to_file_async(
    const std::string& text, const std::string& language, std::int64_t voice_id,
    const SpeechOptions& options, const std::string& path, JobQueue& queue) const {
    return detail::submit_detached(job_speak_to_file(text, language, voice_id, options, path),
                                   queue);
}

inline std::future<std::vector<Voice>> Client::list_voices_async(JobQueue& queue) const {
    return detail::submit_detached(job_list_voices(), queue);
}

inline std::future<std::vector<Language>> Client::list_languages_async(Languages which,
                                                                       JobQueue& queue) const {
    return detail::submit_detached(job_list_languages(which), queue);
}

}  // namespace camb

#endif  // CAMB_HPP
