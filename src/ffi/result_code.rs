//! Result codes and task statuses as they cross the C boundary, and their names.

use std::ffi::{CStr, c_char};

use crate::error::ErrorKind;
use crate::task::TaskStatus;

/// The outcome of every fallible call. `CAMB_RESULT_OK` is 0; every other value
/// is a failure whose words are in `camb_last_error()`.
///
/// Values are explicit and stable: a value is never reused for another meaning
/// (4, a buffer too small until 0.2, stays unused).
/// Callers should treat values they do not know as failures (new ones may be added).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum camb_result {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullParameter = 1,
    /// An argument was unusable: empty, too long, not UTF-8, out of range, or a
    /// handle in the wrong state (a job submitted twice).
    InvalidParameter = 2,
    /// No API key was given and the environment variable `CAMB_API_KEY` is not set.
    MissingApiKey = 3,
    /// The operation was cancelled by the caller.
    Cancelled = 5,
    /// A bug in libcamb was caught at the boundary (a Rust panic); nothing crashed.
    Panic = 6,
    /// A local file could not be created, written or renamed (disk full, no permission).
    Io = 7,
    /// Not yet: a job that has not finished (`camb_job_result()`), or a queue with
    /// no event waiting (`camb_queue_pop()`).
    NotReady = 8,
    /// A generation's task ended without audio (ERROR, TIMEOUT, PAYMENT_REQUIRED,
    /// or a status this version does not know); the message says which and why.
    TaskFailed = 9,
    /// The connection could not be made (refused, DNS, TLS), or it failed before a
    /// complete reply arrived (reset, closed early, body cut short).
    Connect = 100,
    /// The call's timeout (`camb_client_builder_set_timeout_ms`) or a wait's
    /// deadline (`camb_wait_options.deadline_ms`) passed.
    Timeout = 101,
    /// The reply was malformed, oversized, or not what the API documents.
    BadResponse = 102,
    /// A non-2xx HTTP status without a code of its own (400, 408, 3xx, ...);
    /// `camb_last_http_status()` tells which.
    HttpStatus = 103,
    /// HTTP 401: the API key is missing or not valid.
    Unauthorized = 401,
    /// HTTP 402: the account has no credits left.
    PaymentRequired = 402,
    /// HTTP 403: the key may not do this.
    Forbidden = 403,
    /// HTTP 404: no such task (or run).
    NotFound = 404,
    /// HTTP 422: the server rejected the request's parameters; the message lists each.
    Validation = 422,
    /// HTTP 429: too many requests (retried first, honouring `Retry-After`).
    RateLimited = 429,
    /// HTTP 5xx: the server failed (retried first).
    ServerError = 500,
}

impl From<ErrorKind> for camb_result {
    fn from(kind: ErrorKind) -> camb_result {
        match kind {
            ErrorKind::NullParameter => camb_result::NullParameter,
            ErrorKind::InvalidParameter => camb_result::InvalidParameter,
            ErrorKind::MissingApiKey => camb_result::MissingApiKey,
            ErrorKind::Connect => camb_result::Connect,
            ErrorKind::Timeout => camb_result::Timeout,
            ErrorKind::Unauthorized => camb_result::Unauthorized,
            ErrorKind::PaymentRequired => camb_result::PaymentRequired,
            ErrorKind::Forbidden => camb_result::Forbidden,
            ErrorKind::NotFound => camb_result::NotFound,
            ErrorKind::Validation => camb_result::Validation,
            ErrorKind::RateLimited => camb_result::RateLimited,
            ErrorKind::ServerError => camb_result::ServerError,
            ErrorKind::HttpStatus => camb_result::HttpStatus,
            ErrorKind::BadResponse => camb_result::BadResponse,
            ErrorKind::Cancelled => camb_result::Cancelled,
            ErrorKind::Panic => camb_result::Panic,
            ErrorKind::Io => camb_result::Io,
            ErrorKind::NotReady => camb_result::NotReady,
            ErrorKind::TaskFailed => camb_result::TaskFailed,
        }
    }
}

/// Every code with its C name, the single list the name lookup and the tests use.
pub(crate) const RESULT_NAMES: [(camb_result, &CStr); 20] = [
    (camb_result::Ok, c"CAMB_RESULT_OK"),
    (camb_result::NullParameter, c"CAMB_RESULT_NULL_PARAMETER"),
    (
        camb_result::InvalidParameter,
        c"CAMB_RESULT_INVALID_PARAMETER",
    ),
    (camb_result::MissingApiKey, c"CAMB_RESULT_MISSING_API_KEY"),
    (camb_result::Cancelled, c"CAMB_RESULT_CANCELLED"),
    (camb_result::Panic, c"CAMB_RESULT_PANIC"),
    (camb_result::Io, c"CAMB_RESULT_IO"),
    (camb_result::NotReady, c"CAMB_RESULT_NOT_READY"),
    (camb_result::TaskFailed, c"CAMB_RESULT_TASK_FAILED"),
    (camb_result::Connect, c"CAMB_RESULT_CONNECT"),
    (camb_result::Timeout, c"CAMB_RESULT_TIMEOUT"),
    (camb_result::BadResponse, c"CAMB_RESULT_BAD_RESPONSE"),
    (camb_result::HttpStatus, c"CAMB_RESULT_HTTP_STATUS"),
    (camb_result::Unauthorized, c"CAMB_RESULT_UNAUTHORIZED"),
    (
        camb_result::PaymentRequired,
        c"CAMB_RESULT_PAYMENT_REQUIRED",
    ),
    (camb_result::Forbidden, c"CAMB_RESULT_FORBIDDEN"),
    (camb_result::NotFound, c"CAMB_RESULT_NOT_FOUND"),
    (camb_result::Validation, c"CAMB_RESULT_VALIDATION"),
    (camb_result::RateLimited, c"CAMB_RESULT_RATE_LIMITED"),
    (camb_result::ServerError, c"CAMB_RESULT_SERVER_ERROR"),
];

/// The status of a text-to-sound task, as `camb_task_status()` reports it.
/// Every value but `CAMB_STATUS_PENDING` is final: the task will not change again.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum camb_status {
    /// The server sent a status this version does not know (for example "FAILED");
    /// `camb_task_status_text()` has its text. Treat it as final.
    Unknown = 0,
    /// Still being generated: ask again later.
    Pending = 1,
    /// Done: the audio can be fetched with `run_id`.
    Success = 2,
    /// The generation took too long on the server and was stopped.
    Timeout = 3,
    /// The generation failed; see `exception_reason` and `message`.
    Error = 4,
    /// The account ran out of credits for this task.
    PaymentRequired = 5,
}

impl From<TaskStatus> for camb_status {
    fn from(status: TaskStatus) -> camb_status {
        match status {
            TaskStatus::Unknown => camb_status::Unknown,
            TaskStatus::Pending => camb_status::Pending,
            TaskStatus::Success => camb_status::Success,
            TaskStatus::Timeout => camb_status::Timeout,
            TaskStatus::Error => camb_status::Error,
            TaskStatus::PaymentRequired => camb_status::PaymentRequired,
        }
    }
}

pub(crate) const STATUS_NAMES: [(camb_status, &CStr); 6] = [
    (camb_status::Unknown, c"CAMB_STATUS_UNKNOWN"),
    (camb_status::Pending, c"CAMB_STATUS_PENDING"),
    (camb_status::Success, c"CAMB_STATUS_SUCCESS"),
    (camb_status::Timeout, c"CAMB_STATUS_TIMEOUT"),
    (camb_status::Error, c"CAMB_STATUS_ERROR"),
    (
        camb_status::PaymentRequired,
        c"CAMB_STATUS_PAYMENT_REQUIRED",
    ),
];

/// The name of a result code, such as `"CAMB_RESULT_NOT_FOUND"`, for any value:
/// a value this version does not know gives `"CAMB_RESULT_UNKNOWN_VALUE"`.
///
/// The returned string is static: never free it. Never NULL. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn camb_result_name(result: u32) -> *const c_char {
    lookup_name(&RESULT_NAMES, result, c"CAMB_RESULT_UNKNOWN_VALUE")
}

/// The name of a task status, such as `"CAMB_STATUS_SUCCESS"`, for any value:
/// a value this version does not know gives `"CAMB_STATUS_UNKNOWN_VALUE"`.
///
/// The returned string is static: never free it. Never NULL. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn camb_status_name(status: u32) -> *const c_char {
    lookup_name(&STATUS_NAMES, status, c"CAMB_STATUS_UNKNOWN_VALUE")
}

/// True when `status` is final: every status but `CAMB_STATUS_PENDING`, including
/// `CAMB_STATUS_UNKNOWN` and values this version does not know. A polling loop that
/// stops on `camb_status_is_final` never spins forever on ERROR or TIMEOUT.
#[unsafe(no_mangle)]
pub extern "C" fn camb_status_is_final(status: u32) -> bool {
    status != camb_status::Pending as u32
}

fn lookup_name<T: Copy + Into<u32>>(
    names: &[(T, &'static CStr)],
    value: u32,
    fallback: &'static CStr,
) -> *const c_char {
    names
        .iter()
        .find(|(known, _)| (*known).into() == value)
        .map_or(fallback, |(_, name)| name)
        .as_ptr()
}

impl From<camb_result> for u32 {
    fn from(value: camb_result) -> u32 {
        value as u32
    }
}

impl From<camb_status> for u32 {
    fn from(value: camb_status) -> u32 {
        value as u32
    }
}
