//! Trying a call again: when (the policy), how long to wait (backoff and
//! `Retry-After`), and the loop that runs a call's attempts within one deadline.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant, SystemTime};

use crate::cancel::{self, CancelToken};
use crate::error::{Error, ErrorKind};
use crate::log::{LogLevel, Logger, log_line};

/// First backoff delay; each retry doubles it, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// The longest `Retry-After` honoured. A server asking for more gets its error
/// reported instead of a caller blocked for minutes.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A retry is started only if at least this much of the deadline is left for it
/// after its backoff: a retry with a sliver of time could only time out, and its
/// TIMEOUT would hide the server's real answer.
const MIN_ATTEMPT_TIME: Duration = Duration::from_millis(100);

/// How one call may spend its time: whether it may be retried, by when it must end
/// (`None`: the client's timeout from now), and what may cancel it.
pub(crate) struct Plan<'a> {
    pub(crate) idempotent: bool,
    pub(crate) deadline: Option<Instant>,
    pub(crate) cancel: Option<&'a CancelToken>,
}

impl Plan<'_> {
    pub(crate) fn new(idempotent: bool) -> Plan<'static> {
        Plan {
            idempotent,
            deadline: None,
            cancel: None,
        }
    }
}

/// What one attempt may spend, and how to say so when it runs out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    /// When the attempt must be over, its reply read.
    pub(crate) deadline: Instant,
    /// 1 for the first attempt, 2 for the first retry...
    pub(crate) attempt: u32,
    client_timeout: Duration,
    /// `None`: the first attempt of a call with no deadline of its own, which has
    /// the whole of the client's timeout. Else what was left when it began.
    left_at_start: Option<Duration>,
}

impl Budget {
    /// The time left, for the HTTP layer; `None` when it is the client's whole
    /// timeout (which the HTTP layer is set up with).
    pub(crate) fn time_left(&self) -> Option<Duration> {
        self.left_at_start
            .map(|_| self.deadline.saturating_duration_since(Instant::now()))
    }

    /// The client's timeout: what bounds each read of a stream.
    pub(crate) fn client_timeout(&self) -> Duration {
        self.client_timeout
    }

    /// Says which bound an attempt that timed out had: the client's timeout, or
    /// what was left of the call's (or the wait's) deadline.
    pub(crate) fn timeout_message(&self) -> String {
        match self.left_at_start {
            None => format!(
                "no complete reply within the client's timeout of {} ms",
                self.client_timeout.as_millis()
            ),
            Some(left) => format!(
                "no complete reply within the {} ms left before the deadline",
                left.as_millis()
            ),
        }
    }
}

/// A client's retry settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    /// Bounds a call with no deadline of its own: every attempt and every wait.
    pub(crate) timeout: Duration,
    /// Extra attempts after the first, for idempotent requests.
    pub(crate) max_retries: u32,
}

impl RetryPolicy {
    /// Runs `attempt` until it succeeds, fails for good, or the deadline is near.
    /// `attempt` gets the budget it must end within. An error another attempt
    /// would only repeat (`Error::is_permanent`) is never retried, nor is a
    /// call that is not idempotent.
    /// `log` is told of each retry and of the call's failure, `what` naming the call.
    pub(crate) fn run<T>(
        &self,
        plan: &Plan,
        log: Option<&Logger>,
        what: &dyn Fn() -> String,
        mut attempt: impl FnMut(&Budget) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let deadline = plan
            .deadline
            .unwrap_or_else(|| Instant::now() + self.timeout);
        let mut retries = 0;
        loop {
            if plan.cancel.is_some_and(CancelToken::is_cancelled) {
                return Err(Error::new(
                    ErrorKind::Cancelled,
                    "cancelled before the request was sent",
                ));
            }
            let left_at_start = match (retries, plan.deadline) {
                (0, None) => None,
                _ => Some(deadline.saturating_duration_since(Instant::now())),
            };
            if left_at_start.is_some_and(|t| t.is_zero()) {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    "the deadline passed before the request could be sent",
                ));
            }
            let budget = Budget {
                deadline,
                attempt: retries + 1,
                client_timeout: self.timeout,
                left_at_start,
            };
            let error = match attempt(&budget) {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            // A cancel (freeing a client shuts its connections) is what failed
            // the attempt, or made its failure moot: no retry, no wait.
            if plan.cancel.is_some_and(CancelToken::is_cancelled) {
                return Err(Error::new(
                    ErrorKind::Cancelled,
                    "cancelled while the request was in flight",
                ));
            }
            let attempts = retries + 1;
            let retryable = plan.idempotent
                && !error.is_permanent()
                && is_retryable(error.kind(), error.http_status());
            if !retryable || retries >= self.max_retries {
                let error = with_attempts(error, attempts);
                log_line!(
                    log,
                    LogLevel::Error,
                    "{} failed: {}",
                    what(),
                    error.message()
                );
                return Err(error);
            }
            let wait = error.retry_after().unwrap_or_else(|| backoff(retries));
            let left = deadline.saturating_duration_since(Instant::now());
            let not_retried = if wait > MAX_RETRY_AFTER {
                Some(format!("the server asked to wait {} s", wait.as_secs()))
            } else if wait + MIN_ATTEMPT_TIME > left {
                Some(format!(
                    "waiting {} ms would leave no time before the deadline",
                    wait.as_millis()
                ))
            } else {
                None
            };
            if let Some(why) = not_retried {
                let message = format!("{} (not retried: {why})", error.message());
                let error = with_attempts(error.replace_message(message), attempts);
                log_line!(
                    log,
                    LogLevel::Error,
                    "{} failed: {}",
                    what(),
                    error.message()
                );
                return Err(error);
            }
            log_line!(
                log,
                LogLevel::Warn,
                "{} will be retried in {} ms (attempt {} of at most {}): {}",
                what(),
                wait.as_millis(),
                attempts + 1,
                self.max_retries + 1,
                error.message()
            );
            if cancel::sleep(plan.cancel, wait) {
                return Err(Error::new(
                    ErrorKind::Cancelled,
                    "cancelled while waiting to retry",
                ));
            }
            retries += 1;
        }
    }
}

fn with_attempts(error: Error, attempts: u32) -> Error {
    if attempts == 1 {
        return error;
    }
    let message = format!("{} (after {attempts} attempts)", error.message());
    error.replace_message(message)
}

/// Whether a failure of an idempotent request is worth another attempt: the
/// connection failed, or the server said "later" (408, 429) or failed (5xx).
/// 401, 403, 404 and 422 will not change on their own and are never retried.
pub(crate) fn is_retryable(kind: ErrorKind, http_status: Option<u16>) -> bool {
    match kind {
        ErrorKind::Connect | ErrorKind::RateLimited | ErrorKind::ServerError => true,
        ErrorKind::HttpStatus => http_status == Some(408),
        _ => false,
    }
}

/// The delay before retry number `retry` (0 for the first retry): exponential,
/// capped, with the top quarter jittered away so that clients do not retry in step.
pub(crate) fn backoff(retry: u32) -> Duration {
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
