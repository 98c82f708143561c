//! The one error type of the safe core, and the kinds the C layer maps to result codes.

use std::fmt;
use std::time::Duration;

/// What went wrong, at the granularity a caller needs to decide what to do next.
/// Each kind maps to exactly one `camb_result` code in the C layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A required pointer was NULL (only the C layer produces this).
    NullParameter,
    /// An argument was present but unusable: empty, too long, not UTF-8, out of range.
    InvalidParameter,
    /// No API key was given and `CAMB_API_KEY` is not set.
    MissingApiKey,
    /// The connection could not be made, or it failed before a complete reply arrived.
    Connect,
    /// The call's deadline passed.
    Timeout,
    /// HTTP 401.
    Unauthorized,
    /// HTTP 402.
    PaymentRequired,
    /// HTTP 403.
    Forbidden,
    /// HTTP 404.
    NotFound,
    /// HTTP 422: the server rejected the request's parameters.
    Validation,
    /// HTTP 429.
    RateLimited,
    /// HTTP 5xx.
    ServerError,
    /// Any other non-2xx HTTP status (including redirects, which are never followed).
    HttpStatus,
    /// The reply was malformed, oversized or not what the API documents.
    BadResponse,
    /// The caller cancelled the operation.
    Cancelled,
    /// A local file could not be written.
    Io,
    /// A panic was caught at the C boundary (a bug in this library).
    Panic,
    /// Not yet: a job that has not finished, a queue with no finished job.
    NotReady,
    /// A task ended without audio (ERROR, TIMEOUT, PAYMENT_REQUIRED...): a
    /// generation's outcome when the server could not make the sound.
    TaskFailed,
}

impl ErrorKind {
    /// The kind for a non-2xx HTTP status.
    pub fn from_http_status(status: u16) -> ErrorKind {
        match status {
            401 => ErrorKind::Unauthorized,
            402 => ErrorKind::PaymentRequired,
            403 => ErrorKind::Forbidden,
            404 => ErrorKind::NotFound,
            422 => ErrorKind::Validation,
            429 => ErrorKind::RateLimited,
            500..=599 => ErrorKind::ServerError,
            _ => ErrorKind::HttpStatus,
        }
    }
}

/// An error with a message in words a user can act on.
///
/// Messages never contain the API key or another secret: the client passes every
/// message through its list of secrets (`Client::scrub`) before handing it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    http_status: Option<u16>,
    /// How long the server asked to wait before trying again (`Retry-After`).
    retry_after: Option<Duration>,
    /// Another attempt would fail the same way (a certificate, a proxy's refusal),
    /// whatever the kind says.
    permanent: bool,
    /// The request never reached the server (no connection could be made), so
    /// no work can have started there: even paid work may be sent again.
    unsent: bool,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            http_status: None,
            retry_after: None,
            permanent: false,
            unsent: false,
        }
    }

    /// An error for an HTTP reply with a non-2xx status.
    pub fn http(status: u16, message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::from_http_status(status),
            message: message.into(),
            http_status: Some(status),
            retry_after: None,
            permanent: false,
            unsent: false,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidParameter, message)
    }

    pub fn bad_response(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::BadResponse, message)
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status of the reply that caused this error, if there was one.
    pub fn http_status(&self) -> Option<u16> {
        self.http_status
    }

    /// How long the server asked to wait before trying again, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The same error, remembering the server's `Retry-After`.
    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Error {
        self.retry_after = retry_after;
        self
    }

    /// True when another attempt would fail the same way.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }

    /// The same error, marked as one that another attempt would only repeat.
    pub fn into_permanent(mut self) -> Error {
        self.permanent = true;
        self
    }

    /// Whether the request never reached the server (see [`Error::into_unsent`]).
    pub fn is_unsent(&self) -> bool {
        self.unsent
    }

    /// Marks a failure that happened before anything was sent: the name could
    /// not be resolved or the connection could not be made.
    pub(crate) fn into_unsent(mut self) -> Error {
        self.unsent = true;
        self
    }

    /// The same error with another message.
    pub fn replace_message(mut self, message: String) -> Error {
        self.message = message;
        self
    }

    /// Adds context in front of the message ("while doing X: <message>").
    pub fn context(mut self, what: &str) -> Error {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
