//! When and how long to wait before trying an idempotent request again.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime};

use crate::error::ErrorKind;

/// First backoff delay; each retry doubles it, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// The longest `Retry-After` honoured. A server asking for more gets its error
/// reported instead of a caller blocked for minutes.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Whether a failure of an idempotent request is worth another attempt: the
/// connection failed, or the server said "later" (408, 429) or failed (5xx).
/// 401, 403, 404 and 422 will not change on their own and are never retried.
pub fn is_retryable(kind: ErrorKind, http_status: Option<u16>) -> bool {
    match kind {
        ErrorKind::Connect | ErrorKind::RateLimited | ErrorKind::ServerError => true,
        ErrorKind::HttpStatus => http_status == Some(408),
        _ => false,
    }
}

/// The delay before retry number `retry` (0 for the first retry): exponential,
/// capped, with the top quarter jittered away so that clients do not retry in step.
pub fn backoff(retry: u32) -> Duration {
    let full = FIRST_BACKOFF
        .saturating_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX))
        .min(MAX_BACKOFF);
    full.mul_f64(0.75 + 0.25 * random_fraction())
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP date (RFC 9110 10.2.3).
/// A date in the past means "now". Unparseable values give `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim_matches([' ', '\t']);
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Digits only (RFC 9110): "+5" is not a delay. Too many digits: the cap applies.
        return Some(
            value
                .parse::<u64>()
                .map_or(Duration::MAX, Duration::from_secs),
        );
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A number in [0, 1), different on every call; good enough for jitter.
fn random_fraction() -> f64 {
    // RandomState is seeded randomly per thread and changes on every `new()`.
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(0x9e37_79b9);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_only_what_can_change() {
        assert!(is_retryable(ErrorKind::Connect, None));
        assert!(is_retryable(ErrorKind::RateLimited, Some(429)));
        assert!(is_retryable(ErrorKind::ServerError, Some(503)));
        assert!(is_retryable(ErrorKind::HttpStatus, Some(408)));
        assert!(!is_retryable(ErrorKind::HttpStatus, Some(400)));
        for kind in [
            ErrorKind::Unauthorized,
            ErrorKind::Forbidden,
            ErrorKind::NotFound,
            ErrorKind::Validation,
            ErrorKind::BadResponse,
            ErrorKind::Timeout,
            ErrorKind::PaymentRequired,
        ] {
            assert!(!is_retryable(kind, None), "{kind:?}");
        }
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        for retry in 0..40 {
            let full = FIRST_BACKOFF
                .saturating_mul(1 << retry.min(20))
                .min(MAX_BACKOFF);
            let d = backoff(retry);
            assert!(d <= full && d >= full.mul_f64(0.75), "retry {retry}: {d:?}");
        }
        let samples: std::collections::HashSet<_> = (0..20).map(|_| backoff(3)).collect();
        assert!(samples.len() > 1, "no jitter");
    }

    #[test]
    fn retry_after_both_forms() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("+5", now), None);
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::MAX)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
