//! A small HTTP/1.1 client made for this API: one origin, keep-alive connections
//! in a pool, TLS by rustls, an optional CONNECT proxy, one deadline per call.
//!
//! Why not a general HTTP client: a status poll is ~100 bytes each way, and what
//! a general client does around it (per-request configuration, typestate
//! buffers, header maps, a liveness probe of four system calls and two socket
//! option changes per call) cost several times the network time on loopback
//! (BENCHMARKS.md, "run 3": ureq 3.5 spent ~33,000 instructions and 10 system
//! calls on each call). Here a request is one `write` of a head built in place
//! and a reply is parsed by httparse from one buffer; with the one-`recv` liveness
//! probe of a pooled connection, three system calls per call.
//!
//! - [`url`]: the base and proxy URLs, parsed strictly.
//! - [`conn`]: one connection (TCP, maybe TLS) with deadline-bound reads and writes.
//! - [`wire`]: writing requests and reading replies: heads, bodies, their framing.
//! - [`transport`]: the pool, the proxy tunnel, and sending a request.
//! - [`tls`]: the rustls configuration, built on first use.

pub(crate) mod conn;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod tls;
pub(crate) mod transport;
pub mod url;
pub(crate) mod wire;

use std::fmt;
use std::io;

/// What went wrong below HTTP status codes. The client maps each to an
/// [`crate::ErrorKind`], a message, and whether another attempt may succeed.
#[derive(Debug)]
pub(crate) enum HttpError {
    /// The call's deadline passed.
    Timeout,
    /// The host name could not be resolved.
    Resolve(String),
    /// No TCP connection could be made (refused, unreachable...).
    Connect(String),
    /// The connection failed after it was made (reset, closed early).
    Network(String),
    /// The TLS handshake or a TLS record failed: the same server would fail again.
    Tls(String),
    /// The proxy refused to open the tunnel (its status in the message).
    ProxyRefused(String),
    /// The reply is not HTTP/1.1 as this client accepts it.
    Protocol(String),
    HeadersTooLarge(usize),
    BodyTooLarge(u64),
    /// A request this client must not send (a bug of libcamb's, not the server's).
    InvalidRequest(String),
}

impl HttpError {
    /// An I/O error of a connection already made. A socket timeout only fires
    /// once the deadline has passed (see [`conn`]), so it is the deadline.
    pub(crate) fn from_io(error: io::Error) -> HttpError {
        match error.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => HttpError::Timeout,
            _ => HttpError::Network(error.to_string()),
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Timeout => f.write_str("timed out"),
            HttpError::Resolve(text) => write!(f, "the host name could not be resolved: {text}"),
            HttpError::Connect(text) => write!(f, "the connection could not be made: {text}"),
            HttpError::Network(text) => write!(f, "network error: {text}"),
            HttpError::Tls(text) => write!(f, "TLS error: {text}"),
            HttpError::ProxyRefused(text) => write!(f, "the proxy refused the connection: {text}"),
            HttpError::Protocol(text) => write!(f, "the reply is not valid HTTP/1.1: {text}"),
            HttpError::HeadersTooLarge(limit) => {
                write!(f, "the reply's headers exceed the {limit}-byte limit")
            }
            HttpError::BodyTooLarge(limit) => {
                write!(f, "the reply body is larger than its {limit}-byte limit")
            }
            HttpError::InvalidRequest(text) => write!(f, "invalid request: {text}"),
        }
    }
}

/// The reason phrase of the common status codes, for messages (the server's
/// own phrase is not trusted: it could say anything).
pub(crate) fn reason_phrase(status: u16) -> Option<&'static str> {
    Some(match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Entity",
        423 => "Locked",
        424 => "Failed Dependency",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => return None,
    })
}
