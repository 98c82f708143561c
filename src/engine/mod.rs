//! The jobs engine: work that runs one step at a time, either to its end on the
//! calling thread ([`run_here`], a blocking call) or on a pool of threads
//! ([`Pool`], a job). Each operation is written once, as a [`Work`]; both forms
//! run that same work. The engine knows no operation, no client and no reply:
//! what a job produces is its type parameter `O`, and what its caller keeps with
//! it is `D`.
//!
//! A step either finishes the work or names the time of its next step (a wait's
//! next poll). Between steps a pooled job holds no thread: it sits in a timer
//! heap, which one timer thread watches. So a pool runs on its worker threads
//! plus the timer thread, however many jobs it has.
//!
//! No caller's code runs on the pool's threads. A finished job is delivered
//! through the [`Queue`] it was submitted to, whose readiness descriptor an event
//! loop watches; the caller takes it there, on its own thread.
//!
//! Ownership: [`Job::new`] gives the caller the job. [`Pool::submit`] hands it to
//! the engine until it is delivered: then the queue's pop hands it back. A job
//! whose queue was freed is dropped by the engine when it ends.

mod job;
mod pool;
mod queue;
mod sync;

#[cfg(all(test, not(camb_loom)))]
mod tests;
#[cfg(all(test, camb_loom))]
mod model;

pub(crate) use job::{Job, Phase};
pub(crate) use pool::Pool;
pub(crate) use queue::{Event, Queue};

use std::time::Instant;

use crate::cancel::CancelToken;
use crate::error::{Error, ErrorKind};

/// What a step of a job decided.
pub(crate) enum Step<O> {
    Done(Result<O, Error>),
    /// Step again at this time; no thread is held meanwhile.
    At(Instant),
    /// Step again at once (on a pool: after the jobs already waiting for a thread).
    Again,
}

/// A job's work, one step at a time. A step may block (a request), but never
/// sleeps between requests: it returns [`Step::At`]. The same work runs on the
/// calling thread ([`run_here`]) or on a pool ([`Pool::submit`], which also needs
/// it `Send`).
pub(crate) trait Work<O> {
    fn step(&mut self, cx: &StepContext<'_>) -> Step<O>;

    /// The error of this work when it is cancelled between or during its steps.
    fn cancelled(&self) -> Error {
        cancelled()
    }
}

/// What a step may use: the job's cancellation (raised by a cancel, by freeing
/// its pool, or by a blocking call's token), the job's number for log lines
/// (`None` for a blocking call, which logs as a call), and, for a job, a way to
/// tell its caller that it has data to read (a stream's audio) while it runs.
pub(crate) struct StepContext<'a> {
    pub(crate) cancel: &'a CancelToken,
    pub(crate) job_id: Option<u64>,
    /// The job's way to its caller while it runs (`None` for a blocking call,
    /// whose work hands its data to the caller directly).
    pub(crate) data: Option<&'a dyn DataSignal>,
}

/// How a running job tells its caller that it has data to read.
pub(crate) trait DataSignal {
    /// Puts an [`Event::Data`] for the job on its queue.
    fn ready(&self);
    /// Whether anyone can still read it: false once its queue was freed.
    fn wanted(&self) -> bool;
}

/// Runs `work` to its end on this thread: the blocking form of every operation.
/// Its pauses sleep on `cancel`'s condition variable, so a cancel from another
/// thread ends them at once.
pub(crate) fn run_here<O>(work: &mut dyn Work<O>, cancel: &CancelToken) -> Result<O, Error> {
    let cx = StepContext {
        cancel,
        job_id: None,
        data: None,
    };
    loop {
        if cancel.is_cancelled() {
            return Err(work.cancelled());
        }
        match work.step(&cx) {
            Step::Done(outcome) => return settle(outcome, cancel, work),
            Step::Again => {}
            Step::At(when) => {
                cancel.sleep(when.saturating_duration_since(Instant::now()));
            }
        }
    }
}

/// A step that a cancel cut short reports the cancel, not the failure it
/// caused (a closed connection, say). A panic stays a panic.
fn settle<O>(
    outcome: Result<O, Error>,
    cancel: &CancelToken,
    work: &dyn Work<O>,
) -> Result<O, Error> {
    match outcome {
        Err(error) if cancel.is_cancelled() && error.kind() != ErrorKind::Panic => {
            Err(work.cancelled())
        }
        other => other,
    }
}

/// The error of work cancelled with nothing more particular to say.
pub(crate) fn cancelled() -> Error {
    Error::new(ErrorKind::Cancelled, "cancelled before it finished")
}

/// What a job produces and what its caller keeps with it: sendable, sharable,
/// owned.
pub(crate) trait Payload: Send + Sync + 'static {}
impl<T: Send + Sync + 'static> Payload for T {}
