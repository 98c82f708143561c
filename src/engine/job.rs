//! A job: one operation's work, its state, and, once done, its outcome.

use std::sync::OnceLock;

use super::pool::Shared;
use super::queue::{Event, Queue};
use super::sync::{Arc, Mutex, Weak, lock};
use super::{DataSignal, Payload, Work};
use crate::cancel::CancelToken;
use crate::error::{Error, ErrorKind};
use crate::log::{LogLevel, Logger};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Made, not submitted.
    New,
    /// Waiting for a pool thread.
    Queued,
    /// A step is running on a pool thread.
    Running,
    /// Between steps, on the timer: holding no thread.
    Waiting,
    Done,
}

pub(super) struct JobState {
    pub(super) phase: Phase,
    /// Bumped each time the job goes on the timer, so that an old timer entry
    /// (the job was woken early, by a cancel) is recognised and skipped.
    pub(super) timer_seq: u64,
}

/// Job ids, unique in the process: a queue may carry the jobs of many pools, and
/// log lines name jobs by id. A plain counter, which synchronises nothing (so
/// the standard library's, also in the model).
static NEXT_JOB_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A job: its work, its state, its outcome once done, and the data its caller
/// keeps with it.
pub(crate) struct Job<O: Payload, D: Payload> {
    pub(super) id: u64,
    pub(crate) cancel: CancelToken,
    pub(super) state: Mutex<JobState>,
    /// Taken by the thread running a step, put back between steps.
    pub(super) work: Mutex<Option<Box<dyn Work<O> + Send>>>,
    /// Where the job goes when it finishes: set when it is submitted.
    pub(super) queue: Mutex<Option<Arc<Queue<O, D>>>>,
    /// The pool it was submitted to, for a cancel to wake it.
    pub(super) pool: Mutex<Weak<Shared<O, D>>>,
    outcome: OnceLock<Result<O, Error>>,
    /// Where the job tells of its start and end.
    pub(super) log: Option<Logger>,
    /// The caller's, kept with the job.
    pub(crate) data: D,
}

impl<O: Payload, D: Payload> std::fmt::Debug for Job<O, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl<O: Payload, D: Payload> Job<O, D> {
    /// A job of `work`, not started: the caller's until it submits it.
    pub(crate) fn new(work: Box<dyn Work<O> + Send>, data: D, log: Option<Logger>) -> Arc<Self> {
        Arc::new(Job {
            id: NEXT_JOB_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            cancel: CancelToken::new(),
            state: Mutex::new(JobState {
                phase: Phase::New,
                timer_seq: 0,
            }),
            work: Mutex::new(Some(work)),
            queue: Mutex::new(None),
            pool: Mutex::new(Weak::new()),
            outcome: OnceLock::new(),
            log,
            data,
        })
    }

    pub(crate) fn phase(&self) -> Phase {
        lock(&self.state).phase
    }

    /// The outcome, once the job is done.
    pub(crate) fn outcome(&self) -> Option<&Result<O, Error>> {
        self.outcome.get()
    }

    /// Cancels the job: a running step stops at its next check (a download
    /// between chunks, a request before it is sent), a job between steps
    /// finishes at once, and one not yet submitted finishes as soon as it is.
    /// A finished job is left as it is.
    pub(crate) fn cancel(self: &Arc<Self>) {
        if self.phase() == Phase::Done {
            return;
        }
        self.cancel.cancel();
        let pool = lock(&self.pool).upgrade();
        if let Some(pool) = pool {
            pool.wake(self);
        }
    }

    /// Stores the outcome and puts the job on its queue (which takes the
    /// engine's reference; a freed queue drops it).
    pub(super) fn finish(self: &Arc<Self>, outcome: Result<O, Error>) {
        if let Some(log) = &self.log {
            match &outcome {
                Ok(_) => log.line(LogLevel::Info, format_args!("job {} finished", self.id)),
                Err(error) if error.kind() == ErrorKind::Cancelled => {
                    log.line(LogLevel::Info, format_args!("job {} cancelled", self.id));
                }
                Err(error) => log.line(
                    LogLevel::Info,
                    format_args!("job {} failed: {}", self.id, error.message()),
                ),
            }
        }
        let _ = self.outcome.set(outcome);
        lock(&self.state).phase = Phase::Done;
        let queue = lock(&self.queue).take();
        if let Some(queue) = queue {
            queue.push(Event::Finished, Arc::clone(self));
        }
    }
}

/// A running job's data events: put on its queue while it runs (once it has
/// finished, its queue is gone and nothing is put).
impl<O: Payload, D: Payload> DataSignal for Arc<Job<O, D>> {
    fn ready(&self) {
        let queue = lock(&self.queue).clone();
        if let Some(queue) = queue {
            queue.push(Event::Data, Arc::clone(self));
        }
    }

    fn wanted(&self) -> bool {
        lock(&self.queue)
            .as_ref()
            .is_some_and(|queue| !queue.is_closed())
    }
}
