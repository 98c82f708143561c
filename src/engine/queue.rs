//! Where finished jobs are delivered: a queue of events that the caller takes
//! on its own thread, by polling its readiness descriptor, by a pop, or by a
//! blocking wait.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::Payload;
use super::job::Job;
use super::sync::{Arc, Condvar, Mutex, lock, wait_timeout};
use crate::error::Error;
use crate::readiness::Readiness;

/// What happened to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// The job finished: its outcome is there, and it is the caller's again.
    Finished,
    /// The job, still running, has data for its caller to read (a stream's
    /// audio). It stays the engine's: the event holds a reference only until
    /// it is taken.
    Data,
}

/// Events waiting to be taken, and a descriptor that is readable while there
/// are any. Each event holds its job: the engine's reference, handed to the
/// caller when taken.
pub(crate) struct Queue<O: Payload, D: Payload> {
    state: Mutex<QueueState<O, D>>,
    /// Signalled when an event comes, for [`Queue::wait`].
    arrived: Condvar,
    readiness: Readiness,
}

struct QueueState<O: Payload, D: Payload> {
    events: VecDeque<(Event, Arc<Job<O, D>>)>,
    /// Threads in [`Queue::wait`]: only then is an event signalled to them.
    waiters: usize,
    /// Freed by the caller: nothing is put on it any more.
    closed: bool,
}

impl<O: Payload, D: Payload> std::fmt::Debug for Queue<O, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("readiness", &self.readiness)
            .finish_non_exhaustive()
    }
}

impl<O: Payload, D: Payload> Queue<O, D> {
    /// A queue with its descriptor; an error if the system has none to give
    /// (EMFILE, ENFILE).
    pub(crate) fn new() -> Result<Self, Error> {
        Ok(Queue {
            state: Mutex::new(QueueState {
                events: VecDeque::new(),
                waiters: 0,
                closed: false,
            }),
            arrived: Condvar::new(),
            readiness: Readiness::new()?,
        })
    }

    /// The descriptor (a socket on Windows) to watch for reading.
    pub(crate) fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// Puts an event on the queue; on a freed queue, the job is dropped.
    pub(super) fn push(&self, event: Event, job: Arc<Job<O, D>>) {
        let mut state = lock(&self.state);
        if state.closed {
            // Dropped outside the lock: the job's drop may free its client.
            drop(state);
            drop(job);
            return;
        }
        // The handle is raised when the queue stops being empty and lowered when
        // it becomes empty again (a system call each), not on every event.
        if state.events.is_empty() {
            self.readiness.raise();
        }
        state.events.push_back((event, job));
        if state.waiters > 0 {
            self.arrived.notify_one();
        }
    }

    /// The next event, or `None` when there is none (the descriptor is then no
    /// longer readable).
    pub(crate) fn pop(&self) -> Option<(Event, Arc<Job<O, D>>)> {
        let mut state = lock(&self.state);
        let event = state.events.pop_front();
        if state.events.is_empty() {
            self.readiness.lower();
        }
        event
    }

    /// The next event, waiting for one up to `timeout`; `None` if none came,
    /// or if the queue was freed meanwhile ([`Queue::is_closed`] tells).
    pub(crate) fn wait(&self, timeout: Duration) -> Option<(Event, Arc<Job<O, D>>)> {
        let until = Instant::now().checked_add(timeout);
        let mut state = lock(&self.state);
        loop {
            if state.closed {
                return None;
            }
            if let Some(event) = state.events.pop_front() {
                if state.events.is_empty() {
                    self.readiness.lower();
                }
                return Some(event);
            }
            let left = match until {
                Some(until) => until.saturating_duration_since(Instant::now()),
                None => Duration::MAX,
            };
            if left.is_zero() {
                return None;
            }
            state.waiters += 1;
            state = wait_timeout(&self.arrived, state, left);
            state.waiters -= 1;
        }
    }

    /// The caller freed the queue: the events on it are dropped with their
    /// jobs, and none is put on it any more.
    pub(crate) fn close(&self) {
        let dropped = {
            let mut state = lock(&self.state);
            state.closed = true;
            self.readiness.lower();
            // Threads waiting on it return.
            self.arrived.notify_all();
            std::mem::take(&mut state.events)
        };
        drop(dropped);
    }

    /// Whether the caller freed the queue.
    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }
}
