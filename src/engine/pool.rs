//! A pool: worker threads that run jobs' steps, and a timer thread that brings
//! back a job whose step named a later time. A job between steps holds no
//! thread.

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use super::job::{Job, Phase};
use super::queue::Queue;
use super::sync::{self, Arc, Condvar, JoinHandle, Mutex, Weak, lock, wait, wait_timeout};
use super::{Payload, Step, StepContext, settle};
use crate::error::{Error, ErrorKind};
use crate::log::{LogLevel, Logger, log_line};

/// A pool of `workers` threads and one timer thread, started with the first job.
pub(crate) struct Pool<O: Payload, D: Payload> {
    shared: Arc<Shared<O, D>>,
}

impl<O: Payload, D: Payload> std::fmt::Debug for Pool<O, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.shared.workers)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Shared<O: Payload, D: Payload> {
    state: Mutex<PoolState<O, D>>,
    /// Worker threads to start with the first job.
    workers: usize,
    /// Where the jobs tell of their start.
    log: Option<Logger>,
    /// The pool's threads, joined when it is shut down ([`Pool::join`]).
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Held by the one submit that starts the threads (or rolls them back).
    starting: Mutex<()>,
    /// Workers wait on it for a job to run.
    work_ready: Condvar,
    /// The timer thread waits on it for an earlier timer.
    timers_changed: Condvar,
}

struct PoolState<O: Payload, D: Payload> {
    run: VecDeque<Arc<Job<O, D>>>,
    /// (when, job's timer_seq, job id), earliest first.
    timers: BinaryHeap<Reverse<(Instant, u64, u64)>>,
    /// Jobs between steps, by id: on the timer. Ordered maps, not hashed ones:
    /// the same jobs always go in the same order, which the loom model needs
    /// (it replays each interleaving).
    waiting: BTreeMap<u64, Arc<Job<O, D>>>,
    /// Every unfinished job, for shutting down.
    live: BTreeMap<u64, Weak<Job<O, D>>>,
    threads_started: bool,
    /// The threads are to end now: some of them could not be started.
    retiring: bool,
    closing: bool,
}

impl<O: Payload, D: Payload> PoolState<O, D> {
    /// Whether the threads are done: told to end, or shut down with no job left.
    fn over(&self) -> bool {
        self.retiring || (self.closing && self.live.is_empty())
    }
}

#[cfg(not(camb_loom))]
std::thread_local! {
    /// On a pool thread: the address of its pool (0 elsewhere), so that
    /// [`Pool::join`] can tell it runs on its own pool.
    static POOL: Cell<usize> = const { Cell::new(0) };
}
#[cfg(camb_loom)]
loom::thread_local! {
    static POOL: Cell<usize> = Cell::new(0);
}

impl<O: Payload, D: Payload> Pool<O, D> {
    /// A pool of `workers` threads (at least one) and a timer thread, which
    /// start with the first job; `log` tells of each job's start.
    pub(crate) fn new(workers: usize, log: Option<Logger>) -> Self {
        Pool {
            shared: Arc::new(Shared {
                state: Mutex::new(PoolState {
                    run: VecDeque::new(),
                    timers: BinaryHeap::new(),
                    waiting: BTreeMap::new(),
                    live: BTreeMap::new(),
                    threads_started: false,
                    retiring: false,
                    closing: false,
                }),
                workers: workers.max(1),
                log,
                threads: Mutex::new(Vec::new()),
                starting: Mutex::new(()),
                work_ready: Condvar::new(),
                timers_changed: Condvar::new(),
            }),
        }
    }

    /// Starts `job` (made by [`Job::new`], not submitted before); the pool's
    /// threads start with the first one. From here the job is the engine's
    /// until `queue` hands it back. Refused (and the job given back) if it was
    /// submitted before, if the pool is shutting down, or if its threads
    /// cannot start.
    pub(crate) fn submit(
        &self,
        job: Arc<Job<O, D>>,
        queue: Arc<Queue<O, D>>,
    ) -> Result<(), (Error, Arc<Job<O, D>>)> {
        self.shared.submit(job, queue)
    }

    /// For freeing the pool's owner: no job starts any more, and every
    /// unfinished one is cancelled (each is still delivered, with `Cancelled`).
    /// The threads end once the last job is done. A second call does nothing.
    pub(crate) fn shut_down(&self) {
        let jobs: Vec<Arc<Job<O, D>>> = {
            let mut state = lock(&self.shared.state);
            let again = std::mem::replace(&mut state.closing, true);
            // Shut down already, or no thread (so no job): nothing to cancel and
            // no one to wake. Threads being started now see `closing` with no
            // job live, and end by themselves. Freeing a client that ran no job
            // costs two locks.
            if again || lock(&self.shared.threads).is_empty() {
                return;
            }
            state.live.values().filter_map(Weak::upgrade).collect()
        };
        for job in &jobs {
            job.cancel();
        }
        self.shared.notify_threads();
    }

    /// After [`Pool::shut_down`]: waits until the pool's threads have ended,
    /// that is until every job was delivered (each was cancelled, so that is
    /// soon: a waiting job at once, a request when it is interrupted). So no
    /// thread outlives the pool's owner. Called on one of this pool's own
    /// threads (a log line's callback that frees the client, which the C
    /// contract forbids), it does not wait, as those threads would wait for it.
    pub(crate) fn join(&self) {
        let own = Arc::as_ptr(&self.shared) as *const () as usize;
        if POOL.with(Cell::get) == own {
            return;
        }
        let threads = std::mem::take(&mut *lock(&self.shared.threads));
        for thread in threads {
            // A thread's body catches every panic of a step.
            let _ = thread.join();
        }
    }

    /// Threads the pool has started and not joined (for tests).
    #[cfg(all(test, not(camb_loom)))]
    pub(crate) fn threads(&self) -> usize {
        lock(&self.shared.threads).len()
    }
}

impl<O: Payload, D: Payload> Shared<O, D> {
    fn submit(
        self: &Arc<Self>,
        job: Arc<Job<O, D>>,
        queue: Arc<Queue<O, D>>,
    ) -> Result<(), (Error, Arc<Job<O, D>>)> {
        let started = lock(&self.state).threads_started;
        if !started {
            if let Err(error) = self.start_threads_once() {
                return Err((error, job));
            }
        }
        let mut state = lock(&self.state);
        if state.closing {
            return Err((
                Error::invalid("the client is being freed: no job can start"),
                job,
            ));
        }
        let fresh = {
            let mut job_state = lock(&job.state);
            let fresh = job_state.phase == Phase::New;
            if fresh {
                job_state.phase = Phase::Queued;
            }
            fresh
        };
        if !fresh {
            return Err((Error::invalid("the job was submitted already"), job));
        }
        *lock(&job.queue) = Some(queue);
        *lock(&job.pool) = Arc::downgrade(self);
        state.live.insert(job.id, Arc::downgrade(&job));
        // The line is told outside the lock: a log callback may call libcamb.
        // The job is not runnable yet, so this stays its first line. Live
        // already: a pool shut down meanwhile cancels it, and its threads stay
        // until it is done.
        drop(state);
        log_line!(self.log.as_ref(), LogLevel::Debug, "job {} started", job.id);
        let mut state = lock(&self.state);
        state.run.push_back(job);
        self.work_ready.notify_one();
        Ok(())
    }

    /// Starts the pool's threads, unless another submit did meanwhile. One
    /// submit at a time does this, under `starting`: a start that fails stops
    /// and joins the threads it did start (they see `retiring`) before any
    /// other submit may try, so no thread is left behind and none of a later
    /// start is told to retire.
    fn start_threads_once(self: &Arc<Self>) -> Result<(), Error> {
        let _starting = lock(&self.starting);
        if lock(&self.state).threads_started {
            return Ok(());
        }
        match self.start_threads() {
            Ok(()) => {
                lock(&self.state).threads_started = true;
                Ok(())
            }
            Err(error) => {
                lock(&self.state).retiring = true;
                self.notify_threads();
                for thread in std::mem::take(&mut *lock(&self.threads)) {
                    let _ = thread.join();
                }
                lock(&self.state).retiring = false;
                Err(error)
            }
        }
    }

    /// Wakes every pool thread to look at the state again.
    fn notify_threads(&self) {
        let _state = lock(&self.state);
        self.work_ready.notify_all();
        self.timers_changed.notify_all();
    }

    fn start_threads(self: &Arc<Self>) -> Result<(), Error> {
        let own = Arc::as_ptr(self) as *const () as usize;
        let spawn = |name: String, body: Box<dyn FnOnce() + Send>| {
            let thread = sync::spawn(name, move || {
                POOL.with(|pool| pool.set(own));
                body();
            })
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start a job thread: {e}")))?;
            lock(&self.threads).push(thread);
            Ok::<(), Error>(())
        };
        let timer = Arc::clone(self);
        spawn("camb-timer".into(), Box::new(move || timer.timer_loop()))?;
        for n in 0..self.workers {
            let worker = Arc::clone(self);
            spawn(
                format!("camb-job-{n}"),
                Box::new(move || worker.worker_loop()),
            )?;
        }
        Ok(())
    }

    /// Moves a job that is between steps (on the timer) to the run queue now:
    /// for a cancel. A job that is running sees its cancel when its step ends.
    pub(super) fn wake(&self, job: &Arc<Job<O, D>>) {
        let mut state = lock(&self.state);
        if let Some(job) = state.waiting.remove(&job.id) {
            lock(&job.state).phase = Phase::Queued;
            state.run.push_back(job);
            self.work_ready.notify_one();
        }
    }

    /// Runs one step of `job` (on a pool thread) and files the job where the
    /// step said.
    fn run_step(&self, job: Arc<Job<O, D>>) {
        lock(&job.state).phase = Phase::Running;
        let work = lock(&job.work).take();
        let Some(mut work) = work else {
            // Cannot happen (one thread runs a job's step at a time); if it
            // did, the job is ended, not lost, so that shutdown still finishes.
            lock(&self.state).live.remove(&job.id);
            job.finish(Err(Error::new(
                ErrorKind::Panic,
                "internal error: a job ran without its work (a bug in libcamb; please report it)",
            )));
            return;
        };
        let step = if job.cancel.is_cancelled() {
            Step::Done(Err(work.cancelled()))
        } else {
            let cx = StepContext {
                cancel: &job.cancel,
                job_id: Some(job.id),
                data: Some(&job),
            };
            catch_unwind(AssertUnwindSafe(|| work.step(&cx))).unwrap_or_else(|_| {
                Step::Done(Err(Error::new(
                    ErrorKind::Panic,
                    "internal error: a job panicked (a bug in libcamb; please report it)",
                )))
            })
        };
        match step {
            Step::Done(outcome) => {
                let outcome = settle(outcome, &job.cancel, &*work);
                drop(work);
                lock(&self.state).live.remove(&job.id);
                job.finish(outcome);
                drop(job);
                // The last job of a closing pool: let the threads see it.
                let state = lock(&self.state);
                if state.over() {
                    self.work_ready.notify_all();
                    self.timers_changed.notify_all();
                }
            }
            Step::Again => {
                *lock(&job.work) = Some(work);
                let mut state = lock(&self.state);
                lock(&job.state).phase = Phase::Queued;
                state.run.push_back(job);
                self.work_ready.notify_one();
            }
            Step::At(when) => {
                *lock(&job.work) = Some(work);
                let mut state = lock(&self.state);
                // Checked under the pool's lock, which a cancel's wake takes
                // after raising the token: a cancel is never missed here.
                if job.cancel.is_cancelled() {
                    lock(&job.state).phase = Phase::Queued;
                    state.run.push_back(job);
                    self.work_ready.notify_one();
                    return;
                }
                let seq = {
                    let mut job_state = lock(&job.state);
                    job_state.phase = Phase::Waiting;
                    job_state.timer_seq += 1;
                    job_state.timer_seq
                };
                let earliest = state.timers.peek().map(|Reverse((at, _, _))| *at);
                state.timers.push(Reverse((when, seq, job.id)));
                state.waiting.insert(job.id, job);
                if earliest.is_none_or(|at| when < at) {
                    self.timers_changed.notify_one();
                }
            }
        }
    }

    fn worker_loop(&self) {
        loop {
            let job = {
                let mut state = lock(&self.state);
                loop {
                    if let Some(job) = state.run.pop_front() {
                        break job;
                    }
                    if state.over() {
                        return;
                    }
                    state = wait(&self.work_ready, state);
                }
            };
            self.run_step(job);
        }
    }

    fn timer_loop(&self) {
        let mut state = lock(&self.state);
        loop {
            if state.over() {
                return;
            }
            let now = Instant::now();
            // Every due timer moves its job to the run queue (unless the job was
            // woken early since: its timer_seq moved on).
            while let Some(Reverse((when, seq, id))) = state.timers.peek().copied() {
                if when > now {
                    break;
                }
                state.timers.pop();
                let current = state
                    .waiting
                    .get(&id)
                    .is_some_and(|job| lock(&job.state).timer_seq == seq);
                if current {
                    if let Some(job) = state.waiting.remove(&id) {
                        lock(&job.state).phase = Phase::Queued;
                        state.run.push_back(job);
                        self.work_ready.notify_one();
                    }
                }
            }
            state = match state.timers.peek() {
                Some(Reverse((when, _, _))) => {
                    let left = when.saturating_duration_since(Instant::now());
                    wait_timeout(&self.timers_changed, state, left)
                }
                None => wait(&self.timers_changed, state),
            };
        }
    }
}

impl<O: Payload, D: Payload> Drop for Pool<O, D> {
    /// A pool dropped without [`Pool::shut_down`] and [`Pool::join`] does both:
    /// its threads never outlive it.
    fn drop(&mut self) {
        self.shut_down();
        self.join();
    }
}
