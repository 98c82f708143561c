//! The jobs engine: work that runs one step at a time, either to completion on
//! the calling thread ([`run_here`], a blocking call) or on a pool of threads
//! ([`Scheduler`], a job that returns at once). Each operation is written once, as
//! a [`Work`]; both forms run that same work. The engine knows no operation, no
//! client and no reply: what a job produces is its type parameter `O`, and what
//! the caller keeps with it is `D`.
//!
//! A step either finishes the job or names the time of its next step (a wait's
//! next poll). Between steps a pooled job holds no thread: it sits in a timer
//! heap, which one timer thread watches. So a pool runs on its worker threads plus
//! the timer thread, however many jobs it has.
//!
//! A finished job is delivered once: its callback runs on the pool thread that
//! finished it, or it is pushed onto a [`CompletionQueue`], whose file descriptor
//! becomes readable. The caller may free a job at any time ([`Job::release`]):
//! a job still running is cancelled, and a job freed before it was delivered is
//! never delivered (a free from another thread waits for a callback in progress).

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::thread::{JoinHandle, ThreadId};
use std::time::Instant;

use crate::cancel::CancelToken;
use crate::error::{Error, ErrorKind};
use crate::log::{LogLevel, Logger, log_line};

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
/// calling thread ([`run_here`]) or on a pool ([`Scheduler::start`], which also
/// needs it `Send`).
pub(crate) trait Work<O> {
    fn step(&mut self, cx: &StepContext<'_>) -> Step<O>;

    /// The error of this work when it is cancelled between or during its steps.
    fn cancelled(&self) -> Error {
        cancelled()
    }
}

/// What a step may use: the job's cancellation (raised by a cancel, by freeing
/// the job or its client, or by a blocking call's token), and the job's number
/// for log lines (`None` for a blocking call, which logs as a call).
pub(crate) struct StepContext<'a> {
    pub(crate) cancel: &'a CancelToken,
    pub(crate) job_id: Option<u64>,
}

/// Runs `work` to its end on this thread: the blocking form of every operation.
/// Its pauses sleep on `cancel`'s condition variable, so a cancel from another
/// thread ends them at once.
pub(crate) fn run_here<O>(work: &mut dyn Work<O>, cancel: &CancelToken) -> Result<O, Error> {
    let cx = StepContext {
        cancel,
        job_id: None,
    };
    loop {
        if cancel.is_cancelled() {
            return Err(work.cancelled());
        }
        match work.step(&cx) {
            // A step that a cancel cut short reports the cancel, not the failure
            // it caused (a closed connection, say).
            Step::Done(Err(error)) if cancel.is_cancelled() && error.kind() != ErrorKind::Panic => {
                return Err(work.cancelled());
            }
            Step::Done(outcome) => return outcome,
            Step::Again => {}
            Step::At(when) => {
                cancel.sleep(when.saturating_duration_since(Instant::now()));
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for a pool thread.
    Queued,
    /// A step is running on a pool thread.
    Running,
    /// Between steps, on a timer (or parked): holding no thread.
    Waiting,
    Done,
}

/// What a job produces and what its caller keeps with it: sendable, sharable,
/// owned.
pub(crate) trait Payload: Send + Sync + 'static {}
impl<T: Send + Sync + 'static> Payload for T {}

/// A job's callback, called once on the pool thread that finished it.
pub(crate) type JobCallback<O, D> = Box<dyn Fn(&Arc<Job<O, D>>) + Send + Sync>;

/// How a finished job is delivered.
pub(crate) enum Completion<O: Payload, D: Payload> {
    /// Called once on the pool thread that finished the job.
    Callback(JobCallback<O, D>),
    /// Pushed onto the queue.
    Queue(Arc<CompletionQueue<O, D>>),
}

enum Delivery {
    Pending,
    Delivering(ThreadId),
    Delivered,
    /// Freed before it was delivered: it never will be.
    Suppressed,
}

struct JobState {
    phase: Phase,
    /// Bumped each time the job goes on the timer, so that an old timer entry
    /// (the job was woken early, by a cancel) is recognised and skipped.
    timer_seq: u64,
    delivery: Delivery,
}

/// A job on a pool: its work, its state, its outcome once done, and the data
/// its caller keeps with it.
pub struct Job<O: Payload, D: Payload> {
    id: u64,
    pub(crate) cancel: CancelToken,
    state: Mutex<JobState>,
    /// Signalled when a delivery ends (for a free waiting on a callback).
    delivered: Condvar,
    work: Mutex<Option<Box<dyn Work<O> + Send>>>,
    completion: Completion<O, D>,
    outcome: OnceLock<Result<O, Error>>,
    scheduler: Weak<Shared<O, D>>,
    /// The logger of the pool's owner: started, finished, cancelled.
    log: Option<Logger>,
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

thread_local! {
    /// Set while a job's callback runs on this thread.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every lock here guards plain data that a panic cannot leave half-changed
    // (steps and callbacks run outside the locks).
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<O: Payload, D: Payload> Job<O, D> {
    pub(crate) fn phase(&self) -> Phase {
        lock(&self.state).phase
    }

    /// The outcome, once the job is done.
    pub(crate) fn outcome(&self) -> Option<&Result<O, Error>> {
        self.outcome.get()
    }

    /// Cancels the job: a running step stops at its next check (a download
    /// between chunks, a request before it is sent), a waiting job finishes at
    /// once. A finished job is left as it is.
    pub(crate) fn cancel(self: &Arc<Self>) {
        if self.phase() == Phase::Done {
            return;
        }
        self.cancel.cancel();
        if let Some(scheduler) = self.scheduler.upgrade() {
            scheduler.wake(self);
        }
    }

    /// The caller lets go of the job: it is cancelled if still running, and never
    /// delivered if it was not yet. If its callback is running on another thread,
    /// this waits for it to return (so that the caller may then free what the
    /// callback uses), except when called from inside a job's callback: two
    /// callbacks freeing each other's jobs must not wait for each other.
    pub(crate) fn release(self: Arc<Self>) {
        {
            let mut state = lock(&self.state);
            let in_callback = IN_CALLBACK.with(Cell::get);
            loop {
                match state.delivery {
                    Delivery::Pending => {
                        state.delivery = Delivery::Suppressed;
                        break;
                    }
                    Delivery::Delivering(thread)
                        if thread != std::thread::current().id() && !in_callback =>
                    {
                        state = self
                            .delivered
                            .wait(state)
                            .unwrap_or_else(|poisoned| poisoned.into_inner());
                    }
                    _ => break,
                }
            }
            // Under the job's lock, as in `finish`: the job is either never
            // pushed or taken off here. (A pop on another thread that took it a
            // moment before hands out the handle being freed: the C doc forbids
            // freeing a queue's job while another thread pops that queue.)
            if let Completion::Queue(queue) = &self.completion {
                queue.remove(&self);
            }
        }
        self.cancel();
    }

    /// Stores the outcome and delivers it, unless the job was freed.
    fn finish(self: &Arc<Self>, outcome: Result<O, Error>) {
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
        let callback = {
            let mut state = lock(&self.state);
            state.phase = Phase::Done;
            if !matches!(state.delivery, Delivery::Pending) {
                return;
            }
            match &self.completion {
                // Pushed under the job's lock, so that a free on another thread
                // either comes first (the job is never pushed) or finds it on the
                // queue to take off, without waiting.
                Completion::Queue(queue) => {
                    queue.push(Arc::clone(self));
                    state.delivery = Delivery::Delivered;
                    return;
                }
                Completion::Callback(callback) => {
                    state.delivery = Delivery::Delivering(std::thread::current().id());
                    callback
                }
            }
        };
        // A callback that panics (it is the caller's code behind the C layer's own
        // guard) must not take the pool thread down.
        IN_CALLBACK.with(|flag| flag.set(true));
        let _ = catch_unwind(AssertUnwindSafe(|| callback(self)));
        IN_CALLBACK.with(|flag| flag.set(false));
        lock(&self.state).delivery = Delivery::Delivered;
        self.delivered.notify_all();
    }
}

/// Finished jobs waiting to be taken, and a file descriptor that is readable
/// while there are any: an event loop watches it (epoll, poll, libuv's uv_poll,
/// asyncio's add_reader) and takes the jobs on its own thread.
pub struct CompletionQueue<O: Payload, D: Payload> {
    jobs: Mutex<VecDeque<Arc<Job<O, D>>>>,
    signal: Signal,
    /// Freed by the caller: nothing is put on it any more.
    closed: AtomicBool,
}

impl<O: Payload, D: Payload> std::fmt::Debug for CompletionQueue<O, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompletionQueue")
            .field("fd", &self.signal.fd())
            .finish_non_exhaustive()
    }
}

impl<O: Payload, D: Payload> CompletionQueue<O, D> {
    pub(crate) fn new() -> Result<Self, Error> {
        Ok(CompletionQueue {
            jobs: Mutex::new(VecDeque::new()),
            signal: Signal::new()?,
            closed: AtomicBool::new(false),
        })
    }

    /// The descriptor to watch for reading.
    pub(crate) fn fd(&self) -> i32 {
        self.signal.fd()
    }

    fn push(&self, job: Arc<Job<O, D>>) {
        let mut jobs = lock(&self.jobs);
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        jobs.push_back(job);
        self.signal.raise();
    }

    /// The caller freed the queue: the jobs on it are let go, and none is put on
    /// it any more (its descriptor closes when the last job started on it goes).
    pub(crate) fn close(&self) {
        let mut jobs = lock(&self.jobs);
        self.closed.store(true, Ordering::Release);
        jobs.clear();
        self.signal.lower();
    }

    /// The next finished job, or `None` when there is none (the descriptor is
    /// then no longer readable).
    pub(crate) fn pop(&self) -> Option<Arc<Job<O, D>>> {
        let mut jobs = lock(&self.jobs);
        let job = jobs.pop_front();
        if jobs.is_empty() {
            self.signal.lower();
        }
        job
    }

    /// Takes `job` off the queue if it is there. By identity, not by id: one
    /// queue serves the jobs of many clients.
    fn remove(&self, job: &Arc<Job<O, D>>) {
        let mut jobs = lock(&self.jobs);
        jobs.retain(|queued| !Arc::ptr_eq(queued, job));
        if jobs.is_empty() {
            self.signal.lower();
        }
    }
}
/// A readable-when-raised descriptor: an eventfd on Linux, a pipe elsewhere.
/// Raised and lowered under the queue's lock, so it is readable exactly while
/// the queue has jobs.
struct Signal {
    read: i32,
    write: i32,
}

impl Signal {
    #[cfg(target_os = "linux")]
    fn new() -> Result<Signal, Error> {
        // SAFETY: eventfd takes no pointers.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(os_error("cannot make an eventfd"));
        }
        Ok(Signal {
            read: fd,
            write: fd,
        })
    }

    #[cfg(not(target_os = "linux"))]
    fn new() -> Result<Signal, Error> {
        let mut fds = [0i32; 2];
        // SAFETY: `fds` has room for the two descriptors pipe writes.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return Err(os_error("cannot make a pipe"));
        }
        for fd in fds {
            // SAFETY: plain fcntl calls on descriptors this function owns.
            unsafe {
                libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK);
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
        Ok(Signal {
            read: fds[0],
            write: fds[1],
        })
    }

    fn fd(&self) -> i32 {
        self.read
    }

    /// Makes the descriptor readable (already readable: nothing changes).
    fn raise(&self) {
        let one: u64 = 1;
        // An eventfd takes 8 bytes and adds them to its counter; a pipe takes
        // one byte. A full pipe is readable already: a failed write is fine.
        let len = if self.read == self.write { 8 } else { 1 };
        // SAFETY: writes from a live local value, at most its 8 bytes.
        let _ = unsafe { libc::write(self.write, std::ptr::from_ref(&one).cast(), len) };
    }

    /// Empties the descriptor: it is no longer readable.
    fn lower(&self) {
        let mut buffer = [0u8; 64];
        loop {
            // SAFETY: reads into a live local buffer of its length.
            let read = unsafe { libc::read(self.read, buffer.as_mut_ptr().cast(), buffer.len()) };
            if read <= 0 || self.read == self.write {
                break;
            }
        }
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        // SAFETY: descriptors this value owns, closed once.
        unsafe {
            libc::close(self.read);
            if self.write != self.read {
                libc::close(self.write);
            }
        }
    }
}

fn os_error(what: &str) -> Error {
    Error::new(
        ErrorKind::Io,
        format!("{what}: {}", std::io::Error::last_os_error()),
    )
}

/// Job ids, unique in the process: a queue may carry the jobs of many clients,
/// and log lines name jobs by id.
static NEXT_JOB_ID: AtomicU64 = AtomicU64::new(1);

/// A pool: `threads` worker threads and one timer thread, started with the
/// first job.
pub(crate) struct Scheduler<O: Payload, D: Payload> {
    shared: Arc<Shared<O, D>>,
}

impl<O: Payload, D: Payload> std::fmt::Debug for Scheduler<O, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("threads", &self.shared.workers)
            .finish_non_exhaustive()
    }
}

struct Shared<O: Payload, D: Payload> {
    state: Mutex<SchedulerState<O, D>>,
    /// Worker threads to start with the first job.
    workers: usize,
    /// Where the jobs tell of their start and end.
    log: Option<Logger>,
    /// The pool's threads, joined when the client is freed ([`Scheduler::join`]).
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Workers wait on it for a job to run.
    work_ready: Condvar,
    /// The timer thread waits on it for an earlier timer.
    timers_changed: Condvar,
}

struct SchedulerState<O: Payload, D: Payload> {
    run: VecDeque<Arc<Job<O, D>>>,
    /// (when, job's timer_seq, job id), earliest first.
    timers: BinaryHeap<Reverse<(Instant, u64, u64)>>,
    /// Jobs between steps, by id: on the timer.
    waiting: HashMap<u64, Arc<Job<O, D>>>,
    /// Every unfinished job, for shutting down.
    live: HashMap<u64, Weak<Job<O, D>>>,
    threads_started: bool,
    /// The threads are to end now: some of them could not be started.
    retiring: bool,
    closing: bool,
}

impl<O: Payload, D: Payload> Scheduler<O, D> {
    /// A pool of `workers` threads (at least one) and a timer thread, which
    /// start with the first job; `log` tells of each job's start and end.
    pub(crate) fn new(workers: usize, log: Option<Logger>) -> Self {
        Scheduler {
            shared: Arc::new(Shared {
                state: Mutex::new(SchedulerState {
                    run: VecDeque::new(),
                    timers: BinaryHeap::new(),
                    waiting: HashMap::new(),
                    live: HashMap::new(),
                    threads_started: false,
                    retiring: false,
                    closing: false,
                }),
                workers: workers.max(1),
                log,
                threads: Mutex::new(Vec::new()),
                work_ready: Condvar::new(),
                timers_changed: Condvar::new(),
            }),
        }
    }

    /// Starts `work` as a new job; the pool's threads are started on the first
    /// one. Refused once the pool is shutting down. `data` is the caller's, kept
    /// with the job ([`Job::data`]).
    pub(crate) fn start(
        &self,
        work: Box<dyn Work<O> + Send>,
        completion: Completion<O, D>,
        data: D,
    ) -> Result<Arc<Job<O, D>>, Error> {
        self.shared.start(work, completion, data)
    }

    /// For freeing the client: no job starts any more, and every unfinished one
    /// is cancelled (each is still delivered, with `Cancelled`). The threads end
    /// once the last job is done.
    pub(crate) fn shut_down(&self) {
        let jobs: Vec<Arc<Job<O, D>>> = {
            let mut state = lock(&self.shared.state);
            state.closing = true;
            state.live.values().filter_map(Weak::upgrade).collect()
        };
        for job in &jobs {
            job.cancel();
        }
        let _state = lock(&self.shared.state);
        self.shared.work_ready.notify_all();
        self.shared.timers_changed.notify_all();
    }

    /// After [`Scheduler::shut_down`]: waits until the pool's threads have ended,
    /// that is until every job was delivered (each was cancelled, so that is
    /// soon: a waiting job at once, a request when it is interrupted, a callback
    /// when it returns). So no libcamb thread outlives the client: a program may
    /// exit, or unload libcamb, right after freeing it. Called on one of this
    /// pool's own threads (a callback freeing the client), it does not wait, as
    /// those threads would have to wait for it: they end by themselves after the
    /// last job, and then do outlive the free.
    pub(crate) fn join(&self) {
        let own = Arc::as_ptr(&self.shared) as *const () as usize;
        if POOL.with(Cell::get) == own {
            return;
        }
        let threads = std::mem::take(&mut *lock(&self.shared.threads));
        for thread in threads {
            // A thread's body catches every panic of a step or a callback.
            let _ = thread.join();
        }
    }
}

thread_local! {
    /// On a pool thread: the address of its pool's [`Shared`] (0 elsewhere), so
    /// that [`Scheduler::join`] can tell it runs on its own pool.
    static POOL: Cell<usize> = const { Cell::new(0) };
}

impl<O: Payload, D: Payload> Shared<O, D> {
    fn start(
        self: &Arc<Self>,
        work: Box<dyn Work<O> + Send>,
        completion: Completion<O, D>,
        data: D,
    ) -> Result<Arc<Job<O, D>>, Error> {
        let mut state = lock(&self.state);
        if state.closing {
            return Err(Error::invalid(
                "the client is being freed: no job can start",
            ));
        }
        if !state.threads_started {
            if let Err(error) = spawn_threads(self) {
                // Those that did start are stopped and joined: a failed start
                // leaves no thread behind, and the next start tries again.
                state.retiring = true;
                drop(state);
                self.work_ready.notify_all();
                self.timers_changed.notify_all();
                for thread in std::mem::take(&mut *lock(&self.threads)) {
                    let _ = thread.join();
                }
                lock(&self.state).retiring = false;
                return Err(error);
            }
            state.threads_started = true;
        }
        let job = Arc::new(Job {
            id: NEXT_JOB_ID.fetch_add(1, Ordering::Relaxed),
            cancel: CancelToken::new(),
            state: Mutex::new(JobState {
                phase: Phase::Queued,
                timer_seq: 0,
                delivery: Delivery::Pending,
            }),
            delivered: Condvar::new(),
            work: Mutex::new(Some(work)),
            completion,
            outcome: OnceLock::new(),
            scheduler: Arc::downgrade(self),
            log: self.log.clone(),
            data,
        });
        state.live.insert(job.id, Arc::downgrade(&job));
        // The line is told outside the lock: a log callback may call libcamb
        // (start or cancel a job), or wait for a thread that does (an FFI that
        // runs callbacks on its main thread, as Node's koffi does from a pool
        // thread starting a batch's lanes). The job is not runnable yet, so this
        // stays its first line. Live already: a client freed meanwhile cancels it,
        // and the pool's threads stay until it is done.
        drop(state);
        log_line!(job.log.as_ref(), LogLevel::Debug, "job {} started", job.id);
        let mut state = lock(&self.state);
        state.run.push_back(Arc::clone(&job));
        self.work_ready.notify_one();
        Ok(job)
    }

    /// Moves a job that is between steps (on the timer) to the run queue now:
    /// for a cancel. A job that is running sees its cancel when its step ends.
    fn wake(&self, job: &Arc<Job<O, D>>) {
        let mut state = lock(&self.state);
        if let Some(job) = state.waiting.remove(&job.id) {
            lock(&job.state).phase = Phase::Queued;
            state.run.push_back(job);
            self.work_ready.notify_one();
        }
    }

    /// Runs one step of `job` (on a pool thread) and files the job where the
    /// step said.
    fn run_step(self: &Arc<Self>, job: Arc<Job<O, D>>) {
        lock(&job.state).phase = Phase::Running;
        let work = lock(&job.work).take();
        let Some(mut work) = work else { return };
        let step = if job.cancel.is_cancelled() {
            Step::Done(Err(work.cancelled()))
        } else {
            let cx = StepContext {
                cancel: &job.cancel,
                job_id: Some(job.id),
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
                // A job cancelled while its step ran reports the cancel, not the
                // failure the cancel caused (a closed connection, say).
                let outcome = match outcome {
                    Err(error) if job.cancel.is_cancelled() && error.kind() != ErrorKind::Panic => {
                        Err(work.cancelled())
                    }
                    other => other,
                };
                drop(work);
                lock(&self.state).live.remove(&job.id);
                job.finish(outcome);
                // The last job of a closing pool: let the threads see it.
                let state = lock(&self.state);
                if state.closing && state.live.is_empty() {
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
                    // Cancelled while it ran: at once, not at its next poll.
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
}

/// The error of work cancelled with nothing more particular to say.
pub(crate) fn cancelled() -> Error {
    Error::new(ErrorKind::Cancelled, "the job was cancelled")
}

fn spawn_threads<O: Payload, D: Payload>(shared: &Arc<Shared<O, D>>) -> Result<(), Error> {
    let own = Arc::as_ptr(shared) as *const () as usize;
    let spawn = |name: String, body: Box<dyn FnOnce() + Send>| {
        let thread = spawn_thread(name, move || {
            POOL.with(|pool| pool.set(own));
            body();
        })
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start a job thread: {e}")))?;
        lock(&shared.threads).push(thread);
        Ok::<(), Error>(())
    };
    let timer = Arc::clone(shared);
    spawn("camb-timer".into(), Box::new(move || timer_loop(&timer)))?;
    for n in 0..shared.workers {
        let worker = Arc::clone(shared);
        spawn(
            format!("camb-job-{n}"),
            Box::new(move || worker_loop(&worker)),
        )?;
    }
    Ok(())
}

/// Starts a named thread; under test, [`fail_spawns_after`] makes it fail as a
/// process at its thread limit would.
pub(crate) fn spawn_thread(
    name: String,
    body: impl FnOnce() + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    #[cfg(test)]
    if spawn_fault::should_fail() {
        return Err(std::io::Error::from_raw_os_error(libc::EAGAIN));
    }
    std::thread::Builder::new().name(name).spawn(body)
}

fn worker_loop<O: Payload, D: Payload>(shared: &Arc<Shared<O, D>>) {
    loop {
        let job = {
            let mut state = lock(&shared.state);
            loop {
                if let Some(job) = state.run.pop_front() {
                    break job;
                }
                if state.retiring || (state.closing && state.live.is_empty()) {
                    return;
                }
                state = shared
                    .work_ready
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        };
        shared.run_step(job);
    }
}

fn timer_loop<O: Payload, D: Payload>(shared: &Shared<O, D>) {
    let mut state = lock(&shared.state);
    loop {
        if state.retiring || (state.closing && state.live.is_empty()) {
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
                    shared.work_ready.notify_one();
                }
            }
        }
        state = match state.timers.peek() {
            Some(Reverse((when, _, _))) => {
                let wait = when.saturating_duration_since(Instant::now());
                shared
                    .timers_changed
                    .wait_timeout(state, wait)
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .0
            }
            None => shared
                .timers_changed
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        };
    }
}

/// A switch for the tests: thread starts that fail, as at a thread limit (CI
/// runs as root, where RLIMIT_NPROC does not bind).
#[cfg(test)]
pub(crate) mod spawn_fault {
    use std::cell::Cell;

    thread_local! {
        /// Starts allowed before they fail; `None`: never fail.
        static ALLOWED: Cell<Option<usize>> = const { Cell::new(None) };
    }

    /// On this thread, the next `allowed` thread starts succeed and the ones
    /// after fail; `None` lifts it.
    pub(crate) fn fail_spawns_after(allowed: Option<usize>) {
        ALLOWED.with(|cell| cell.set(allowed));
    }

    pub(super) fn should_fail() -> bool {
        ALLOWED.with(|cell| match cell.get() {
            None => false,
            Some(0) => true,
            Some(n) => {
                cell.set(Some(n - 1));
                false
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Counts down: `steps` steps, each `pause` apart, then `value`.
    struct Countdown {
        steps: u32,
        pause: Duration,
        value: u32,
    }

    impl Work<u32> for Countdown {
        fn step(&mut self, _: &StepContext<'_>) -> Step<u32> {
            if self.steps == 0 {
                return Step::Done(Ok(self.value));
            }
            self.steps -= 1;
            Step::At(Instant::now() + self.pause)
        }
    }

    fn threads_named(prefix: &str) -> usize {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|name| name.starts_with(prefix))
            .count()
    }

    #[test]
    fn the_same_work_runs_here_and_on_a_pool() {
        let here = run_here(
            &mut Countdown {
                steps: 3,
                pause: Duration::from_millis(1),
                value: 7,
            },
            &CancelToken::new(),
        );
        assert_eq!(here.unwrap(), 7);
        let pool: Scheduler<u32, ()> = Scheduler::new(1, None);
        let queue = Arc::new(CompletionQueue::new().unwrap());
        let job = pool
            .start(
                Box::new(Countdown {
                    steps: 3,
                    pause: Duration::from_millis(1),
                    value: 8,
                }),
                Completion::Queue(Arc::clone(&queue)),
                (),
            )
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let popped = loop {
            if let Some(popped) = queue.pop() {
                break popped;
            }
            assert!(Instant::now() < deadline, "never delivered");
            std::thread::sleep(Duration::from_millis(1));
        };
        assert!(Arc::ptr_eq(&popped, &job));
        assert_eq!(*job.outcome().unwrap().as_ref().unwrap(), 8);
        pool.shut_down();
        pool.join();
    }

    #[test]
    fn a_cancel_ends_a_blocking_run_between_its_steps() {
        let cancel = CancelToken::new();
        let canceller = {
            let cancel = cancel.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                cancel.cancel();
            })
        };
        let result = run_here(
            &mut Countdown {
                steps: 1,
                pause: Duration::from_secs(60),
                value: 0,
            },
            &cancel,
        );
        assert_eq!(result.unwrap_err().kind(), ErrorKind::Cancelled);
        canceller.join().unwrap();
    }

    #[test]
    fn a_pool_whose_threads_cannot_all_start_refuses_the_job_and_leaves_none() {
        let pool: Scheduler<u32, ()> = Scheduler::new(3, None);
        let queue = Arc::new(CompletionQueue::new().unwrap());
        let countdown = || {
            Box::new(Countdown {
                steps: 0,
                pause: Duration::ZERO,
                value: 1,
            })
        };
        // The timer and one worker start; the second worker does not.
        spawn_fault::fail_spawns_after(Some(2));
        let err = pool
            .start(countdown(), Completion::Queue(Arc::clone(&queue)), ())
            .unwrap_err();
        spawn_fault::fail_spawns_after(None);
        assert_eq!(err.kind(), ErrorKind::Io, "{err}");
        assert!(err.message().contains("cannot start a job thread"), "{err}");
        assert!(lock(&pool.shared.threads).is_empty(), "threads were left");
        // Once threads can start again, so can jobs.
        let job = pool
            .start(countdown(), Completion::Queue(Arc::clone(&queue)), ())
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while queue.pop().is_none() {
            assert!(Instant::now() < deadline, "never delivered");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(*job.outcome().unwrap().as_ref().unwrap(), 1);
        pool.shut_down();
        pool.join();
        let _ = threads_named;
    }
}
