/*
 * camb.hpp: a header-only C++17 wrapper over camb.h, the C API of libcamb.
 *
 *     #include "camb.hpp"
 *
 *     camb::Client client;                               // key from CAMB_API_KEY
 *     std::string id = client.create_task("rain on a tin roof");
 *     camb::TaskInfo info = client.wait_for_task(id);
 *     if (info.status == camb::Status::Success)
 *         client.save_result(*info.run_id, "rain.wav");
 *
 * Link with -lcamb, as for C. Everything camb.h promises holds here too; the
 * wrapper adds:
 * - RAII: camb::Client and camb::CancelToken own their handles (move-only); every
 *   handle is owned by an object before anything can throw, so nothing leaks.
 * - Exceptions: every failed call throws camb::Error (or a subclass for the
 *   common codes), with the code, the HTTP status and camb_last_error()'s words.
 * - std::string in and out. Strings are copied out of libcamb's per-thread storage
 *   at once, by length, so they stay valid and keep any NUL byte the server sent.
 *   A string passed in that contains a NUL byte is refused (INVALID_PARAMETER)
 *   rather than silently cut short.
 * - std::function callbacks. An exception thrown by a callback never unwinds
 *   through libcamb (which camb.h forbids): the wrapper catches it, stops the
 *   operation, and rethrows it once libcamb has returned.
 *
 * Thread-safety is camb.h's: a Client may be used from many threads at once
 * (its methods are const), a CancelToken may be cancelled from any thread.
 */

#ifndef CAMB_HPP
#define CAMB_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "camb.h"

/// The size of the first buffer Client::result_url() tries. Pre-signed URLs are
/// often over 1000 bytes; a longer one costs a second request. (Tests define it
/// small to exercise that path.)
#ifndef CAMB_HPP_URL_BUFFER_SIZE
#define CAMB_HPP_URL_BUFFER_SIZE 4096
#endif

namespace camb {

/// The status of a task (camb.h's `CAMB_STATUS_*`). A value this version does
/// not know may also arrive (the underlying value is kept); treat it as final.
enum class Status : std::uint32_t {
    Unknown = CAMB_STATUS_UNKNOWN,  ///< a status text libcamb does not know; see TaskInfo::status_text
    Pending = CAMB_STATUS_PENDING,  ///< still being generated; the only status that is not final
    Success = CAMB_STATUS_SUCCESS,  ///< done: fetch the audio with the run id
    Timeout = CAMB_STATUS_TIMEOUT,  ///< the generation took too long on the server
    Error = CAMB_STATUS_ERROR,      ///< the generation failed; see exception_reason and message
    PaymentRequired = CAMB_STATUS_PAYMENT_REQUIRED,  ///< the account ran out of credits
};

/// What kind of audio to generate (camb.h's `CAMB_AUDIO_TYPE_*`).
enum class AudioType : std::uint32_t {
    Default = CAMB_AUDIO_TYPE_DEFAULT,  ///< let the server choose (sound)
    Sound = CAMB_AUDIO_TYPE_SOUND,      ///< a sound effect, at most 10 seconds
    Music = CAMB_AUDIO_TYPE_MUSIC,      ///< music
};

/// The name of a status, such as "CAMB_STATUS_SUCCESS" (static text).
inline const char* status_name(Status status) noexcept {
    return camb_status_name(static_cast<std::uint32_t>(status));
}

/// True for every status but Pending (including Unknown and unknown values).
inline bool is_final(Status status) noexcept {
    return camb_status_is_final(static_cast<std::uint32_t>(status));
}

/// The name of a result code, such as "CAMB_RESULT_NOT_FOUND" (static text).
inline const char* result_name(camb_result code) noexcept {
    return camb_result_name(static_cast<std::uint32_t>(code));
}

/// The version of the libcamb that is running, such as "0.1.0".
inline std::string_view version() noexcept { return camb_version(); }

/// The version of camb.h this program was compiled with; compare with version().
inline constexpr std::string_view header_version = CAMB_VERSION_STRING;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// A failed libcamb call. what() is camb_last_error()'s text, read right after
/// the call (such as "HTTP 404 Not Found: Task not found: 1234"); it never holds
/// the API key.
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
class NotFound : public Error {
public:
    using Error::Error;
};

/// CAMB_RESULT_UNAUTHORIZED: HTTP 401, the API key is missing or not valid.
class Unauthorized : public Error {
public:
    using Error::Error;
};

/// CAMB_RESULT_TIMEOUT: the client's timeout, or a wait's deadline, passed.
class Timeout : public Error {
public:
    using Error::Error;
};

/// CAMB_RESULT_CANCELLED: a CancelToken was cancelled, or a callback returned false.
class Cancelled : public Error {
public:
    using Error::Error;
};

namespace detail {

/// Throws the Error for a failed call. Must be called before any other libcamb
/// call on this thread, since that would replace camb_last_error().
[[noreturn]] inline void throw_error(camb_result code) {
    const std::uint16_t http_status = camb_last_http_status();
    std::string message = camb_last_error();
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

inline void check(camb_result code) {
    if (code != CAMB_RESULT_OK) {
        throw_error(code);
    }
}

/// The string as a C string, refusing one with a NUL byte inside: C would see
/// only the part before it (another task id, a shorter path).
inline const char* c_str(const std::string& s, const char* what) {
    if (s.find('\0') != std::string::npos) {
        throw Error(CAMB_RESULT_INVALID_PARAMETER, 0,
                    std::string(what) + " contains a NUL byte");
    }
    return s.c_str();
}

inline std::string copy(const char* text, std::size_t len) {
    return text == nullptr ? std::string() : std::string(text, len);
}

inline std::optional<std::string> copy_optional(const char* text, std::size_t len) {
    if (text == nullptr) {
        return std::nullopt;
    }
    return std::string(text, len);
}

inline std::uint64_t millis(std::chrono::milliseconds ms, const char* what) {
    if (ms.count() < 0) {
        throw Error(CAMB_RESULT_INVALID_PARAMETER, 0, std::string(what) + " is negative");
    }
    return static_cast<std::uint64_t>(ms.count());
}

}  // namespace detail

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

/// A task's status as the server reported it: an owning copy of camb_task_info.
struct TaskInfo {
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

    /// Copies a camb_task_info (strings by their lengths).
    static TaskInfo from_c(const camb_task_info& info) {
        TaskInfo out;
        out.status = static_cast<Status>(info.status);
        out.status_text = detail::copy(info.status_text, info.status_text_len);
        if (info.has_run_id) {
            out.run_id = info.run_id;
        }
        out.exception_reason = detail::copy_optional(info.exception_reason, info.exception_reason_len);
        out.message = detail::copy_optional(info.message, info.message_len);
        return out;
    }
};

/// Settings of a Client; anything left empty keeps libcamb's default.
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
};

/// Options of Client::create_task.
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

/// How Client::wait_for_task polls. The defaults are libcamb's: first pause 2 s,
/// growing 1.5x up to 15 s, for at most 10 minutes.
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

/// What the progress callback of Client::wait_for_task is told after every poll.
struct Progress {
    /// Polls so far, this one included.
    std::uint32_t polls = 0;
    /// Time since the wait began.
    std::chrono::milliseconds elapsed{0};
    /// CAMB_RESULT_OK when this poll got a status; otherwise the transient failure
    /// the wait is riding out (see error_message).
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

// ---------------------------------------------------------------------------
// Cancellation
// ---------------------------------------------------------------------------

/// Cancels the waits and downloads it is passed to. cancel(), reset() and
/// is_cancelled() may be called from any thread at any time; move or destroy the
/// token only after every call it was passed to has returned. Move-only.
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

// ---------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------

namespace detail {

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

}  // namespace detail

/// A client for the CAMB text-to-sound API, owning a camb_client. Move-only.
///
/// Every method is const and thread-safe: share one Client between threads.
/// Every method throws camb::Error (or NotFound, Unauthorized, Timeout,
/// Cancelled) on failure, and std::bad_alloc when out of memory. A moved-from
/// Client throws Error(CAMB_RESULT_NULL_PARAMETER) from every method.
class Client {
public:
    /// A client with these settings. Throws Error when a setting is refused or
    /// no key is set and CAMB_API_KEY is unset (CAMB_RESULT_MISSING_API_KEY).
    explicit Client(const ClientOptions& options = ClientOptions()) {
        struct BuilderFree {
            void operator()(camb_client_builder* b) const noexcept { camb_client_builder_free(b); }
        };
        std::unique_ptr<camb_client_builder, BuilderFree> builder(camb_client_builder_new());
        if (!builder) {
            throw std::bad_alloc();
        }
        camb_client_builder* b = builder.get();
        if (options.api_key) {
            detail::check(camb_client_builder_set_api_key(b, detail::c_str(*options.api_key, "the API key")));
        }
        if (options.base_url) {
            detail::check(camb_client_builder_set_base_url(b, detail::c_str(*options.base_url, "the base URL")));
        }
        if (options.timeout) {
            detail::check(camb_client_builder_set_timeout_ms(b, detail::millis(*options.timeout, "the timeout")));
        }
        if (options.max_retries) {
            detail::check(camb_client_builder_set_max_retries(b, *options.max_retries));
        }
        if (options.ca_bundle_file) {
            detail::check(camb_client_builder_set_ca_bundle_file(
                b, detail::c_str(*options.ca_bundle_file, "the CA bundle path")));
        }
        if (options.ca_bundle_pem) {
            const std::string& pem = *options.ca_bundle_pem;
            detail::check(camb_client_builder_set_ca_bundle_pem(
                b, reinterpret_cast<const std::uint8_t*>(pem.data()), pem.size()));
        }
        if (options.proxy) {
            detail::check(camb_client_builder_set_proxy(b, detail::c_str(*options.proxy, "the proxy URL")));
        }
        if (options.allow_insecure_http) {
            detail::check(camb_client_builder_set_allow_insecure_http(b, true));
        }
        camb_client* client = nullptr;
        // Building consumes the builder whatever the outcome.
        detail::check(camb_client_builder_build(builder.release(), &client));
        client_ = client;
    }

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
    /// Frees the client and wipes its key. Every call on it must have returned.
    ~Client() { camb_client_free(client_); }

    /// The C handle (NULL after a move), for calls this wrapper does not cover.
    /// It stays owned by this Client.
    const camb_client* handle() const noexcept { return client_; }

    /// The task's current status (`GET /text-to-sound/{task_id}`, retried on
    /// transient failures). Throws NotFound for an unknown id.
    TaskInfo get_task_status(const std::string& task_id) const {
        camb_task_info info{};
        detail::check(camb_client_get_task_status(client_, detail::c_str(task_id, "the task id"), &info));
        return TaskInfo::from_c(info);
    }

    /// Creates a text-to-sound task and returns its id. Checked before sending
    /// (an empty prompt or a bad duration costs nothing); not retried unless
    /// options.retry.
    std::string create_task(const std::string& prompt, const CreateOptions& options = CreateOptions()) const {
        camb_create_options c = camb_create_options_default();
        c.duration_s = options.duration_s;
        c.audio_type = static_cast<std::uint32_t>(options.audio_type);
        if (options.project_name) {
            c.project_name = detail::c_str(*options.project_name, "the project name");
        }
        if (options.project_description) {
            c.project_description = detail::c_str(*options.project_description, "the project description");
        }
        if (options.folder_id) {
            c.has_folder_id = true;
            c.folder_id = *options.folder_id;
        }
        c.retry = options.retry;
        char task_id[CAMB_TASK_ID_BUFFER_SIZE];
        detail::check(camb_client_create_task(client_, detail::c_str(prompt, "the prompt"), &c, task_id,
                                              sizeof task_id));
        return std::string(task_id);
    }

    /// Polls until the task's status is final and returns it; a final status
    /// (SUCCESS, ERROR, TIMEOUT, ...) is a success of the wait: check info.status.
    ///
    /// `cancel` (may be null) stops the wait from any thread (throws Cancelled).
    /// `on_progress` (may be empty) is called on this thread after every poll;
    /// returning false stops the wait (throws Cancelled). An exception it throws
    /// stops the wait too and is rethrown from here, unchanged.
    /// Throws Timeout when the deadline passes while the task is still pending.
    TaskInfo wait_for_task(const std::string& task_id, const WaitOptions& options = WaitOptions(),
                           const CancelToken* cancel = nullptr,
                           std::function<bool(const Progress&)> on_progress = {}) const {
        camb_wait_options c = camb_wait_options_default();
        c.initial_interval_ms = detail::millis(options.initial_interval, "the initial interval");
        c.backoff_factor = options.backoff_factor;
        c.max_interval_ms = detail::millis(options.max_interval, "the maximum interval");
        c.deadline_ms = detail::millis(options.deadline, "the deadline");
        detail::ProgressContext context{&on_progress, nullptr};
        camb_task_info info{};
        const camb_result result = camb_client_wait_for_task(
            client_, detail::c_str(task_id, "the task id"), &c, cancel != nullptr ? cancel->handle() : nullptr,
            on_progress ? &detail::progress_trampoline : nullptr, &context, &info);
        if (context.error) {
            std::rethrow_exception(context.error);
        }
        detail::check(result);
        return TaskInfo::from_c(info);
    }

    /// Downloads a successful run's audio (the WAV bytes), handing it to `write`
    /// in chunks of up to 64 KiB on this thread; returns the total bytes.
    /// `write` returning false, or `cancel` (may be null), stops it (throws
    /// Cancelled); an exception `write` throws stops it and is rethrown from here.
    /// After a failure, what `write` received is incomplete.
    std::uint64_t download_result(std::int64_t run_id, std::function<bool(const std::uint8_t*, std::size_t)> write,
                                  const CancelToken* cancel = nullptr) const {
        if (!write) {
            throw Error(CAMB_RESULT_NULL_PARAMETER, 0, "the write callback is empty");
        }
        detail::WriteContext context{&write, nullptr};
        std::uint64_t bytes = 0;
        const camb_result result =
            camb_client_download_result(client_, run_id, cancel != nullptr ? cancel->handle() : nullptr,
                                        &detail::write_trampoline, &context, &bytes);
        if (context.error) {
            std::rethrow_exception(context.error);
        }
        detail::check(result);
        return bytes;
    }

    /// Saves a successful run's audio to `path`, following symlinks: a regular file
    /// (or none) is replaced through a temporary file and a rename, so on failure
    /// no file is left and an existing one is untouched; a device or a FIFO is
    /// written in place; a directory or a socket is refused before downloading
    /// (camb_client_save_result() has the rules). Returns the size in bytes.
    std::uint64_t save_result(std::int64_t run_id, const std::string& path,
                              const CancelToken* cancel = nullptr) const {
        std::uint64_t bytes = 0;
        detail::check(camb_client_save_result(client_, run_id, detail::c_str(path, "the path"),
                                              cancel != nullptr ? cancel->handle() : nullptr, &bytes));
        return bytes;
    }

    /// The pre-signed URL of a successful run's audio.
    std::string result_url(std::int64_t run_id) const {
        // Most URLs fit at once; a longer one is asked again with the size libcamb
        // reported (a new signature may differ in length, hence the loop).
        std::string buffer(CAMB_HPP_URL_BUFFER_SIZE, '\0');
        for (int attempt = 0;; ++attempt) {
            std::size_t len = 0;
            const camb_result result =
                camb_client_get_result_url(client_, run_id, buffer.data(), buffer.size(), &len);
            if (result == CAMB_RESULT_OK) {
                buffer.resize(len);
                return buffer;
            }
            if (result != CAMB_RESULT_BUFFER_TOO_SMALL || attempt == 4) {
                detail::throw_error(result);
            }
            buffer.assign(len + 1, '\0');
        }
    }

    /// The URLs of many runs' audio in one request (1 to 1000 ids; none gives an
    /// empty map without a request). A run the server gave no URL for (unknown,
    /// or not successful) is absent from the map.
    std::map<std::int64_t, std::string> result_urls(const std::vector<std::int64_t>& run_ids) const {
        std::map<std::int64_t, std::string> urls;
        if (run_ids.empty()) {
            return urls;
        }
        std::vector<camb_result_url> out(run_ids.size());
        detail::check(camb_client_get_result_urls(client_, run_ids.data(), run_ids.size(), out.data()));
        for (const camb_result_url& entry : out) {
            if (entry.url != nullptr) {
                urls[entry.run_id] = std::string(entry.url, entry.url_len);
            }
        }
        return urls;
    }

private:
    camb_client* client_ = nullptr;
};

}  // namespace camb

#endif  // CAMB_HPP
