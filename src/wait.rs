//! Waiting for a task to leave PENDING: polling with backoff under one deadline,
//! with progress reports and cancellation that wakes the waiter at once.

use std::time::{Duration, Instant};

use crate::cancel::CancelToken;
use crate::client::Client;
use crate::config::MAX_TIMEOUT;
use crate::engine::{Step, StepContext, Work};
use crate::error::{Error, ErrorKind};
use crate::retry::Plan;
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
        if self.deadline.is_zero() || self.deadline > MAX_TIMEOUT {
            return Err(Error::invalid(
                "the deadline must be between 1 ms and a day",
            ));
        }
        if self.max_interval > MAX_TIMEOUT {
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
    /// The pause before the next poll; `None` when this poll ended the wait: a final
    /// status, a failure that will not go away, or no time left for another poll.
    /// (When the wait returns a final status, the callback's answer is ignored.)
    pub next_poll_in: Option<Duration>,
}

/// Time kept back for the last poll: a pause is cut short so that the poll after
/// it still has this much before the deadline (a tenth of the wait, at most 2 s).
fn last_poll_budget(options: &WaitOptions) -> Duration {
    (options.deadline / 10).min(Duration::from_secs(2))
}

/// One wait between its polls: what [`Waiting`] keeps from one poll to the next.
pub(crate) struct WaitState {
    options: WaitOptions,
    started: Instant,
    deadline: Instant,
    budget: Duration,
    interval: Duration,
    polls: u32,
    last_status: Option<String>,
}

/// What comes after a poll: the wait's end, or the next poll's time.
pub(crate) enum AfterPoll {
    Done(Result<TaskInfo, Error>),
    PollAt(Instant),
}

impl WaitState {
    pub(crate) fn new(options: &WaitOptions) -> Result<WaitState, Error> {
        options.validate()?;
        let started = Instant::now();
        Ok(WaitState {
            options: *options,
            started,
            deadline: started + options.deadline,
            budget: last_poll_budget(options),
            interval: options.initial_interval,
            polls: 0,
            last_status: None,
        })
    }

    /// Starts the wait's clock now.
    fn start_now(&mut self) {
        self.started = Instant::now();
        self.deadline = self.started + self.options.deadline;
    }

    /// When the whole wait ends: each poll is bounded by it.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The error of a wait that its caller cancelled.
    pub(crate) fn cancelled(&self) -> Error {
        Error::new(
            ErrorKind::Cancelled,
            format!("the wait was cancelled after {} poll(s)", self.polls),
        )
    }

    /// Takes one poll's outcome: tells `progress` about it (returning false stops
    /// the wait unless this poll ended it) and says what comes next.
    pub(crate) fn after_poll(
        &mut self,
        outcome: Result<TaskInfo, Error>,
        progress: impl FnOnce(&Progress) -> bool,
    ) -> AfterPoll {
        self.polls = self.polls.saturating_add(1);
        let polls = self.polls;
        let (info, error) = match &outcome {
            Ok(info) => (Some(info), None),
            Err(error) => (None, Some(error)),
        };
        let final_status = info.is_some_and(|i| i.status.is_final());
        let fatal = error.is_some_and(|e| !is_transient(e));
        // The next pause: the interval, or longer if the server asked (Retry-After),
        // cut so that the next poll still has its budget before the deadline.
        let asked = error.and_then(Error::retry_after).unwrap_or_default();
        let room = self
            .deadline
            .saturating_duration_since(Instant::now())
            .saturating_sub(self.budget);
        let pause = self.interval.max(asked).min(room);
        let next_poll_in = (!final_status && !fatal && !room.is_zero()).then_some(pause);
        // Fixed before the callback runs, so the callback's own time counts.
        let wake_at = Instant::now() + pause;
        let status_changed =
            info.is_some_and(|i| self.last_status.as_deref() != Some(&i.status_text));
        let keep_going = progress(&Progress {
            polls,
            elapsed: self.started.elapsed(),
            info,
            error,
            status_changed,
            next_poll_in,
        });
        // A final status or a fatal error is the wait's result, whatever the callback said.
        if final_status || fatal {
            return AfterPoll::Done(outcome);
        }
        if let Some(info) = info {
            self.last_status = Some(info.status_text.clone());
        }
        let deadline_came = |state: &WaitState| {
            let status = state
                .last_status
                .as_deref()
                .unwrap_or("unknown (no poll succeeded)");
            let last_failure =
                error.map_or(String::new(), |e| format!("; the last poll failed: {e}"));
            Error::new(
                ErrorKind::Timeout,
                format!(
                    "the task was still {status} when the wait's deadline of {} ms came \
                     ({polls} poll(s)){last_failure}",
                    state.options.deadline.as_millis()
                ),
            )
        };
        // No time for another poll: the wait ended here, whatever the callback said.
        if next_poll_in.is_none() {
            return AfterPoll::Done(Err(deadline_came(self)));
        }
        if !keep_going {
            return AfterPoll::Done(Err(Error::new(
                ErrorKind::Cancelled,
                format!("the progress callback stopped the wait after {polls} poll(s)"),
            )));
        }
        // A slow callback may have used up the time left for another poll.
        let room = self
            .deadline
            .saturating_duration_since(Instant::now())
            .saturating_sub(self.budget);
        if room.is_zero() {
            return AfterPoll::Done(Err(deadline_came(self)));
        }
        let pause = wake_at.saturating_duration_since(Instant::now()).min(room);
        self.interval = self
            .interval
            .mul_f64(self.options.backoff_factor)
            .min(self.options.max_interval);
        AfterPoll::PollAt(Instant::now() + pause)
    }
}

/// Told of each poll of a wait; returning false stops the wait (`Cancelled`)
/// unless that poll ended it: a blocking wait's progress callback.
pub(crate) type Report<'a> = Box<dyn FnMut(&Progress) -> bool + Send + 'a>;

/// One poll: the status, within the wait's deadline, cancellable by the step's
/// token.
pub(crate) type PollFn<'a> =
    Box<dyn for<'cx> FnMut(Instant, &StepContext<'cx>) -> Result<TaskInfo, Error> + Send + 'a>;

/// A wait as work: one poll per step, the pause before the next poll between
/// steps. Every wait runs this, blocking ([`run_here`]) or as a job; the polls
/// are its own `poll`, separate from HTTP so that it can be tested on its own.
pub(crate) struct Waiting<'a> {
    poll: PollFn<'a>,
    state: WaitState,
    report: Option<Report<'a>>,
}

impl<'a> Waiting<'a> {
    /// Checks the options now.
    pub(crate) fn new(
        options: &WaitOptions,
        poll: PollFn<'a>,
        report: Option<Report<'a>>,
    ) -> Result<Self, Error> {
        Ok(Waiting {
            poll,
            state: WaitState::new(options)?,
            report,
        })
    }

    /// Polls once and says what comes next. The wait's clock starts at its
    /// first poll: a job made now and submitted later waits its whole deadline,
    /// as a blocking call made later would.
    pub(crate) fn poll_once(&mut self, cx: &StepContext<'_>) -> AfterPoll {
        if self.state.polls == 0 {
            self.state.start_now();
        }
        let outcome = (self.poll)(self.state.deadline(), cx);
        let report = &mut self.report;
        self.state.after_poll(outcome, |progress| {
            report.as_mut().is_none_or(|r| r(progress))
        })
    }
}

impl Work<TaskInfo> for Waiting<'_> {
    fn step(&mut self, cx: &StepContext<'_>) -> Step<TaskInfo> {
        match self.poll_once(cx) {
            AfterPoll::Done(result) => Step::Done(result),
            AfterPoll::PollAt(when) => Step::At(when),
        }
    }

    fn cancelled(&self) -> Error {
        self.state.cancelled()
    }
}

/// Failures that another poll may not repeat: the network, the server's load, a
/// single poll's timeout. 401, 404, 422 or a malformed reply end the wait at once.
fn is_transient(error: &Error) -> bool {
    !error.is_permanent()
        && (error.kind() == ErrorKind::Timeout || is_retryable(error.kind(), error.http_status()))
}

impl Client {
    /// One poll of a wait: a status query bounded by the client's timeout, cut
    /// short by the wait's deadline.
    pub(crate) fn poll_status(
        &self,
        url: &str,
        wait_deadline: Instant,
        cancel: Option<&CancelToken>,
    ) -> Result<TaskInfo, Error> {
        let plan = Plan {
            cancel,
            deadline: Some(wait_deadline.min(Instant::now() + self.retry.timeout)),
            ..Plan::new(true)
        };
        self.get_task_status_within(url, &plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::run_here;
    use crate::task::TaskStatus;

    /// A wait whose polls are `poll`'s answers, run on this thread.
    fn wait_until_final(
        options: &WaitOptions,
        cancel: Option<&CancelToken>,
        mut poll: impl FnMut(Instant) -> Result<TaskInfo, Error> + Send,
        progress: impl FnMut(&Progress) -> bool + Send,
    ) -> Result<TaskInfo, Error> {
        let mut waiting = Waiting::new(
            options,
            Box::new(move |deadline, _: &StepContext<'_>| poll(deadline)),
            Some(Box::new(progress)),
        )?;
        run_here(&mut waiting, cancel.unwrap_or(&CancelToken::new()))
    }

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
        // It stops once no poll fits before the deadline (a tenth is kept back
        // for the last one), not later than the deadline.
        assert!(started.elapsed() >= Duration::from_millis(90));
    }

    #[test]
    fn the_last_pause_leaves_room_for_a_last_poll() {
        // Deadline 100 ms, pauses of 60 ms, the task done at 70 ms: a pause that ran
        // to the deadline would lose the poll that sees SUCCESS.
        let options = WaitOptions {
            initial_interval: Duration::from_millis(60),
            backoff_factor: 1.0,
            max_interval: Duration::from_millis(60),
            deadline: Duration::from_millis(100),
        };
        let started = Instant::now();
        let done = wait_until_final(
            &options,
            None,
            |_| {
                Ok(info(if started.elapsed() >= Duration::from_millis(70) {
                    "SUCCESS"
                } else {
                    "PENDING"
                }))
            },
            |_| true,
        )
        .unwrap();
        assert_eq!(done.status, TaskStatus::Success);
    }

    #[test]
    fn every_poll_is_reported_and_retry_after_is_honoured() {
        // A fatal failure is reported to the callback before the wait ends.
        let mut reported = Vec::new();
        let err = wait_until_final(
            &fast(),
            None,
            |_| Err(Error::http(404, "gone")),
            |p| {
                reported.push((p.error.is_some(), p.next_poll_in));
                true
            },
        )
        .unwrap_err();
        assert_eq!(err.http_status(), Some(404));
        assert_eq!(reported, [(true, None)]);
        // A 429 asking for 200 ms makes the next pause at least that long.
        let mut pauses = Vec::new();
        let mut replies = vec![
            Ok(info("SUCCESS")),
            Err(Error::http(429, "slow down").with_retry_after(Some(Duration::from_millis(200)))),
        ];
        wait_until_final(
            &fast(),
            None,
            |_| replies.pop().unwrap(),
            |p| {
                pauses.extend(p.next_poll_in);
                true
            },
        )
        .unwrap();
        assert_eq!(pauses, [Duration::from_millis(200)]);
    }

    #[test]
    fn permanent_failures_and_the_deadline_end_the_wait_whatever_the_callback_says() {
        let tls = Error::new(ErrorKind::Connect, "TLS error").into_permanent();
        let mut polls = 0;
        let err = wait_until_final(
            &fast(),
            None,
            |_| {
                polls += 1;
                Err(tls.clone())
            },
            |_| true,
        )
        .unwrap_err();
        assert_eq!((err.kind(), polls), (ErrorKind::Connect, 1));
        let options = WaitOptions {
            deadline: Duration::from_millis(50),
            ..fast()
        };
        // A callback that stops when told the wait is over gets the wait's Timeout.
        let err = wait_until_final(
            &options,
            None,
            |_| Ok(info("PENDING")),
            |p| p.next_poll_in.is_some(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
    }

    #[test]
    fn a_slow_callback_does_not_push_the_wait_past_its_deadline() {
        let options = WaitOptions {
            initial_interval: Duration::from_millis(400),
            backoff_factor: 1.0,
            max_interval: Duration::from_millis(400),
            deadline: Duration::from_millis(1000),
        };
        let started = Instant::now();
        let mut first = true;
        let err = wait_until_final(
            &options,
            None,
            |_| Ok(info("PENDING")),
            |_| {
                if std::mem::take(&mut first) {
                    std::thread::sleep(Duration::from_millis(700));
                }
                true
            },
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert!(
            started.elapsed() < Duration::from_millis(1000),
            "{:?}",
            started.elapsed()
        );
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
