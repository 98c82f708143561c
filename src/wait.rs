//! Waiting for a task to leave PENDING: polling with backoff under one deadline,
//! with progress reports and cancellation that wakes the waiter at once.

use std::time::{Duration, Instant};

use crate::cancel::{self, CancelToken};
use crate::client::{Client, Plan};
use crate::error::{Error, ErrorKind};
use crate::retry::is_retryable;
use crate::task::TaskInfo;

/// How to poll. CAMB's docs advise starting at 2-5 s, backing off, and setting an
/// overall deadline; the defaults follow that.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WaitOptions {
    /// Pause after the first poll.
    pub initial_interval: Duration,
    /// Each pause is the previous one times this (>= 1), up to `max_interval`.
    pub backoff_factor: f64,
    pub max_interval: Duration,
    /// The whole wait, every poll and pause included, ends by then.
    pub deadline: Duration,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            initial_interval: Duration::from_secs(2),
            backoff_factor: 1.5,
            max_interval: Duration::from_secs(15),
            deadline: Duration::from_secs(10 * 60),
        }
    }
}

const MAX_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

impl WaitOptions {
    pub fn validate(&self) -> Result<(), Error> {
        if self.initial_interval.is_zero() || self.initial_interval > self.max_interval {
            return Err(Error::invalid(format!(
                "the initial interval ({} ms) must be above 0 and at most the maximum interval ({} ms)",
                self.initial_interval.as_millis(),
                self.max_interval.as_millis()
            )));
        }
        if !(1.0..=10.0).contains(&self.backoff_factor) {
            return Err(Error::invalid(format!(
                "the backoff factor must be between 1 and 10, not {}",
                self.backoff_factor
            )));
        }
        if self.deadline.is_zero() || self.deadline > MAX_WAIT {
            return Err(Error::invalid(
                "the deadline must be between 1 ms and a day",
            ));
        }
        if self.max_interval > MAX_WAIT {
            return Err(Error::invalid("the maximum interval must be at most a day"));
        }
        Ok(())
    }
}

/// What a progress callback is told after each poll.
#[derive(Debug)]
pub struct Progress<'a> {
    /// Polls made so far, this one included.
    pub polls: u32,
    pub elapsed: Duration,
    /// This poll's reply, or `None` when it failed with `error`.
    pub info: Option<&'a TaskInfo>,
    /// A transient failure of this poll; the wait goes on.
    pub error: Option<&'a Error>,
    /// True when the status differs from the previous poll's (and on the first).
    pub status_changed: bool,
    /// The pause before the next poll; `None` when this poll ended the wait (the
    /// callback's answer is then ignored: the wait returns the final status).
    pub next_poll_in: Option<Duration>,
}

/// The polling loop, separate from HTTP so it can be tested on its own. `poll` is
/// given the wait's deadline. `progress` returning false stops the wait (Cancelled).
pub fn wait_until_final(
    options: &WaitOptions,
    cancel: Option<&CancelToken>,
    mut poll: impl FnMut(Instant) -> Result<TaskInfo, Error>,
    mut progress: impl FnMut(&Progress) -> bool,
) -> Result<TaskInfo, Error> {
    options.validate()?;
    let started = Instant::now();
    let deadline = started + options.deadline;
    let mut interval = options.initial_interval;
    let mut polls = 0u32;
    let mut last_status: Option<String> = None;
    let cancelled = |polls: u32| {
        Error::new(
            ErrorKind::Cancelled,
            format!("the wait was cancelled after {polls} poll(s)"),
        )
    };
    loop {
        if cancel.is_some_and(CancelToken::is_cancelled) {
            return Err(cancelled(polls));
        }
        polls = polls.saturating_add(1);
        let outcome = poll(deadline);
        let left = deadline.saturating_duration_since(Instant::now());
        let pause = interval.min(left);
        let (info, error) = match &outcome {
            Ok(info) => (Some(info), None),
            Err(error) if is_transient(error) && !left.is_zero() => (None, Some(error)),
            Err(_) => return outcome,
        };
        let done = info.is_some_and(|i| i.status.is_final());
        let status_changed = info.is_some_and(|i| last_status.as_deref() != Some(&i.status_text));
        let keep_going = progress(&Progress {
            polls,
            elapsed: started.elapsed(),
            info,
            error,
            status_changed,
            next_poll_in: (!done).then_some(pause),
        });
        // A final status is the wait's result even if the callback asks to stop.
        if done {
            return outcome;
        }
        if !keep_going {
            return Err(Error::new(
                ErrorKind::Cancelled,
                format!("the progress callback stopped the wait after {polls} poll(s)"),
            ));
        }
        if let Some(info) = info {
            last_status = Some(info.status_text.clone());
        }
        let deadline_passed = || {
            let status = last_status
                .as_deref()
                .unwrap_or("unknown (no poll succeeded)");
            Error::new(
                ErrorKind::Timeout,
                format!(
                    "the task was still {status} when the wait's deadline of {} ms passed ({polls} polls)",
                    options.deadline.as_millis()
                ),
            )
        };
        if pause.is_zero() {
            return Err(deadline_passed());
        }
        if cancel::sleep(cancel, pause) {
            return Err(cancelled(polls));
        }
        // The last pause ends at the deadline: no time is left for another poll.
        if Instant::now() >= deadline {
            return Err(deadline_passed());
        }
        interval = interval
            .mul_f64(options.backoff_factor)
            .min(options.max_interval);
    }
}

/// Failures that another poll may not repeat: the network, the server's load, a
/// single poll's timeout. 401, 404, 422 or a malformed reply end the wait at once.
fn is_transient(error: &Error) -> bool {
    error.kind() == ErrorKind::Timeout || is_retryable(error.kind(), error.http_status())
}

impl Client {
    /// Polls the task's status until it is final (any status but PENDING) and
    /// returns that status; `Timeout` if `options.deadline` passes first.
    pub fn wait_for_task(
        &self,
        task_id: &str,
        options: &WaitOptions,
        cancel: Option<&CancelToken>,
        progress: impl FnMut(&Progress) -> bool,
    ) -> Result<TaskInfo, Error> {
        // Refuse a bad id before the first poll rather than as its failure.
        self.url_with_segment("/", "task id", task_id)?;
        wait_until_final(
            options,
            cancel,
            |wait_deadline| {
                let plan = Plan {
                    idempotent: true,
                    // Each poll gets the client's timeout, cut short by the wait's deadline.
                    deadline: Some(wait_deadline.min(Instant::now() + self.timeout)),
                    cancel,
                };
                self.get_task_status_within(task_id, &plan)
            },
            progress,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskStatus;

    fn info(status: &str) -> TaskInfo {
        TaskInfo {
            status: TaskStatus::from_wire(status),
            status_text: status.into(),
            run_id: None,
            exception_reason: None,
            message: None,
        }
    }

    fn fast() -> WaitOptions {
        WaitOptions {
            initial_interval: Duration::from_millis(1),
            backoff_factor: 2.0,
            max_interval: Duration::from_millis(8),
            deadline: Duration::from_secs(10),
        }
    }

    #[test]
    fn stops_on_every_final_status() {
        for final_status in ["SUCCESS", "ERROR", "TIMEOUT", "PAYMENT_REQUIRED", "FAILED"] {
            let mut replies = vec![info(final_status), info("PENDING"), info("PENDING")];
            let result = wait_until_final(&fast(), None, |_| Ok(replies.pop().unwrap()), |_| true);
            assert_eq!(result.unwrap().status_text, final_status);
            assert!(replies.is_empty());
        }
    }

    #[test]
    fn backs_off_up_to_the_maximum_and_reports_changes() {
        let mut pauses = Vec::new();
        let mut changes = Vec::new();
        let mut polls = 0;
        wait_until_final(
            &fast(),
            None,
            |_| {
                polls += 1;
                Ok(info(if polls < 7 { "PENDING" } else { "SUCCESS" }))
            },
            |p| {
                pauses.extend(p.next_poll_in);
                changes.push(p.status_changed);
                true
            },
        )
        .unwrap();
        let millis: Vec<u128> = pauses.iter().map(Duration::as_millis).collect();
        assert_eq!(millis, [1, 2, 4, 8, 8, 8]);
        assert_eq!(changes, [true, false, false, false, false, false, true]);
    }

    #[test]
    fn transient_errors_are_polled_through_and_others_end_the_wait() {
        let mut replies = vec![
            Ok(info("SUCCESS")),
            Err(Error::http(503, "busy")),
            Err(Error::new(ErrorKind::Connect, "reset")),
            Ok(info("PENDING")),
        ];
        let mut errors = 0;
        let done = wait_until_final(
            &fast(),
            None,
            |_| replies.pop().unwrap(),
            |p| {
                errors += usize::from(p.error.is_some());
                true
            },
        );
        assert_eq!(done.unwrap().status, TaskStatus::Success);
        assert_eq!(errors, 2);
        for fatal in [401, 403, 404, 422] {
            let result =
                wait_until_final(&fast(), None, |_| Err(Error::http(fatal, "no")), |_| true);
            assert_eq!(result.unwrap_err().http_status(), Some(fatal));
        }
    }

    #[test]
    fn the_deadline_ends_a_wait_that_never_finishes() {
        let options = WaitOptions {
            deadline: Duration::from_millis(100),
            ..fast()
        };
        let started = Instant::now();
        let err = wait_until_final(&options, None, |_| Ok(info("PENDING")), |_| true).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert!(err.message().contains("still PENDING"), "{err}");
        assert!(started.elapsed() >= Duration::from_millis(100));
    }

    #[test]
    fn the_callback_and_the_token_can_stop_it() {
        let err =
            wait_until_final(&fast(), None, |_| Ok(info("PENDING")), |p| p.polls < 3).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled);
        // Stopping on the final poll still returns the final status.
        let done = wait_until_final(&fast(), None, |_| Ok(info("ERROR")), |_| false).unwrap();
        assert_eq!(done.status, TaskStatus::Error);
        let token = CancelToken::new();
        token.cancel();
        let mut polled = false;
        let err = wait_until_final(
            &fast(),
            Some(&token),
            |_| {
                polled = true;
                Ok(info("PENDING"))
            },
            |_| true,
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled);
        assert!(
            !polled,
            "a cancelled token must stop the wait before any poll"
        );
    }

    #[test]
    fn options_are_checked() {
        let bad = [
            WaitOptions {
                initial_interval: Duration::ZERO,
                ..fast()
            },
            WaitOptions {
                backoff_factor: 0.5,
                ..fast()
            },
            WaitOptions {
                backoff_factor: f64::NAN,
                ..fast()
            },
            WaitOptions {
                deadline: Duration::ZERO,
                ..fast()
            },
            WaitOptions {
                initial_interval: Duration::from_secs(9),
                max_interval: Duration::from_secs(1),
                ..fast()
            },
        ];
        for options in bad {
            assert_eq!(
                options.validate().unwrap_err().kind(),
                ErrorKind::InvalidParameter,
                "{options:?}"
            );
        }
        assert!(WaitOptions::default().validate().is_ok());
    }
}
