//! `camb::error_reply::error_for_status` on an arbitrary status, body and Location.
//!
//! Input framing (so seeds can be written by hand):
//!   bytes 0..2  the status, big-endian u16
//!   byte  2     L: 0 means no Location header; otherwise the next L-1 bytes are the
//!               Location value (invalid UTF-8 replaced by U+FFFD)
//!   the rest    the body
//!
//! Properties:
//! - never panics;
//! - the kind is `ErrorKind::from_http_status(status)` and `http_status()` is the status;
//! - the message starts with "HTTP <status>", has no control characters (so no NUL,
//!   CR or LF: it is one line, safe as a C string) and no other line breaks;
//! - the message is bounded (< 2048 bytes) whatever the body's or Location's size.
#![no_main]

use camb::ErrorKind;
use camb::error_reply::error_for_status;
use libfuzzer_sys::fuzz_target;

const MAX_MESSAGE_BYTES: usize = 2048;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let status = u16::from_be_bytes([data[0], data[1]]);
    let (location, body) = match data[2] as usize {
        0 => (None, &data[3..]),
        l => {
            let end = (3 + l - 1).min(data.len());
            (Some(String::from_utf8_lossy(&data[3..end])), &data[end..])
        }
    };
    let err = error_for_status(status, body, location.as_deref());
    assert_eq!(err.kind(), ErrorKind::from_http_status(status));
    assert_eq!(err.http_status(), Some(status));
    let message = err.message();
    assert!(std::str::from_utf8(message.as_bytes()).is_ok());
    assert!(
        message.starts_with(&format!("HTTP {status}")),
        "{message:?}"
    );
    if let Some(c) = message
        .chars()
        .find(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        panic!("message contains {c:?}: {message:?}");
    }
    assert!(
        message.len() < MAX_MESSAGE_BYTES,
        "message of {} bytes for a body of {} bytes (status {status}): {}...",
        message.len(),
        body.len(),
        message.chars().take(200).collect::<String>()
    );
});
