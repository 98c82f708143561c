//! `camb::retry::parse_retry_after` on arbitrary text and an arbitrary "now".
//!
//! Input framing: bytes 0..8 give "now" as seconds after the Unix epoch (big-endian
//! u64, reduced to before the year 10000); the rest, invalid UTF-8 replaced by U+FFFD,
//! is the header value.
//!
//! Properties:
//! - never panics, also for "now" far in the past or future;
//! - delay-seconds (after trimming spaces and tabs, one or more ASCII digits and
//!   nothing else, per RFC 9110) gives exactly that many seconds, or the longest
//!   duration when the number overflows (the caller caps it);
//! - any other accepted value is an HTTP date, and gives the time from "now" to it
//!   (zero when it is past);
//! - a later "now" never gives a longer wait (monotonic), and the epoch as "now"
//!   gives the date's full distance.
#![no_main]

use camb::retry::parse_retry_after;
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, UNIX_EPOCH};

/// 9999-12-31T23:59:59Z, the last second an HTTP date can name.
const MAX_NOW: u64 = 253_402_300_799;

fuzz_target!(|data: &[u8]| {
    let mut head = [0u8; 8];
    let n = data.len().min(8);
    head[..n].copy_from_slice(&data[..n]);
    let now = UNIX_EPOCH + Duration::from_secs(u64::from_be_bytes(head) % (MAX_NOW + 1));
    let value = String::from_utf8_lossy(&data[n..]);

    let got = parse_retry_after(&value, now);
    let trimmed = value.trim_matches([' ', '\t']);
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        let expected = trimmed.parse::<u64>().map_or(Duration::MAX, Duration::from_secs);
        assert_eq!(got, Some(expected), "{value:?}");
        return;
    }
    let date = httpdate::parse_http_date(trimmed).ok();
    match (got, date) {
        (None, None) => {}
        (Some(wait), Some(when)) => {
            let expected = when.duration_since(now).unwrap_or(Duration::ZERO);
            assert_eq!(wait, expected, "{value:?} at {now:?}");
            // Monotonic in "now": from the epoch the wait is at least as long.
            let from_epoch = parse_retry_after(&value, UNIX_EPOCH).expect("same value");
            assert!(from_epoch >= wait);
            assert_eq!(from_epoch, when.duration_since(UNIX_EPOCH).unwrap());
            // And from the end of time it is zero.
            let end = UNIX_EPOCH + Duration::from_secs(MAX_NOW + 1);
            assert_eq!(parse_retry_after(&value, end), Some(Duration::ZERO));
        }
        (got, date) => panic!("{value:?}: parse_retry_after {got:?}, httpdate {date:?}"),
    }
});
