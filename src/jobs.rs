//! Jobs: calls that return at once and finish on a client's own pool of threads.
//!
//! A job is a small state machine ([`Work`]): each step runs on a pool thread
//! and either finishes the job or names the time of its next step (a wait's next
//! poll). Between steps a job holds no thread: it sits in a timer heap, which one
//! timer thread watches. So a client runs on `job_threads` pool threads plus the
//! timer thread, however many jobs it has.
//!
//! A finished job is delivered once: its callback runs on the pool thread that
//! finished it, or it is pushed onto a [`CompletionQueue`], whose file descriptor
//! becomes readable. The caller may free a job at any time ([`Job::release`]):
//! a job still running is cancelled, and a job freed before it was delivered is
//! never delivered (a free from another thread waits for a callback in progress).

use std::any::Any;
use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::thread::{JoinHandle, ThreadId};
use std::time::Instant;

use crate::cancel::CancelToken;
use crate::client::Client;
use crate::error::{Error, ErrorKind};
use crate::log::{LogLevel, Logger, log_line};
use crate::task::TaskInfo;

/// What a finished job produced.
#[derive(Debug)]
pub(crate) enum Output {
    /// A task's status (a status query, a wait).
    Task { task_id: String, info: TaskInfo },
    /// A created task's id.
    TaskId(String),
    /// Each task's status or failure, in the order asked.
    Statuses(Vec<(String, Result<TaskInfo, Error>)>),
    /// Bytes of audio delivered or saved.
    Bytes(u64),
    /// A whole generation: the task created, its final status, the bytes saved.
    Generated {
        task_id: String,
        info: TaskInfo,
        bytes: u64,
    },
}

/// What a step of a job decided.
pub(crate) enum Step {
    Done(Result<Output, Error>),
    /// Step again at this time; no thread is held meanwhile.
    At(Instant),
    /// Step again at once, after the jobs already waiting for a thread.
    Again,
    /// Step again when [`Scheduler::wake`] is called for this job.
    Park,
}

/// A job's work, one step at a time. `step` runs on a pool thread; it may block
/// (a request), but never sleeps between requests: it returns [`Step::At`].
pub(crate) trait Work: Send {
    fn step(&mut self, job: &Arc<Job>) -> Step;
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

/// A job's callback, called once on the pool thread that finished it.
pub(crate) type JobCallback = Box<dyn Fn(&Arc<Job>) + Send + Sync>;

/// How a finished job is delivered.
pub(crate) enum Completion {
    /// Called once on the pool thread that finished the job.
    Callback(JobCallback),
    /// Pushed onto the queue.
    Queue(Arc<CompletionQueue>),
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
    /// Woken while it was not between steps (a batch's last lane ending while
    /// the batch still starts its lanes): its next park runs it again at once.
    woken: bool,
    polls: u32,
    status_text: Option<String>,
    delivery: Delivery,
}

pub struct Job {
    id: u64,
    pub(crate) cancel: CancelToken,
    state: Mutex<JobState>,
    /// Signalled when a delivery ends (for a free waiting on a callback).
    delivered: Condvar,
    work: Mutex<Option<Box<dyn Work>>>,
    completion: Completion,
    outcome: OnceLock<Result<Output, Error>>,
    scheduler: Weak<Shared>,
    /// The C layer's view of the outcome, made on first use.
    pub(crate) view: OnceLock<Box<dyn Any + Send + Sync>>,
    /// The client's logger: started, polled, finished, cancelled.
    log: Option<Logger>,
    /// The task the job is about, as soon as it is known (asked for, or created),
    /// and its last status: kept when the job fails too.
    task: Mutex<(Option<String>, Option<TaskInfo>)>,
    /// The caller's pointer given at the start, handed back as it was.
    pub(crate) user_data: usize,
}

impl std::fmt::Debug for Job {
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

impl Job {
    pub(crate) fn phase(&self) -> Phase {
        lock(&self.state).phase
    }

    /// The outcome, once the job is done.
    pub(crate) fn outcome(&self) -> Option<&Result<Output, Error>> {
        self.outcome.get()
    }

    /// Polls made so far and the last status seen (waits and generations).
    pub(crate) fn progress(&self) -> (u32, Option<String>) {
        let state = lock(&self.state);
        (state.polls, state.status_text.clone())
    }

    /// Records the task the job is about, and its status when known.
    pub(crate) fn note_task(&self, task_id: &str, info: Option<&TaskInfo>) {
        let mut task = lock(&self.task);
        task.0 = Some(task_id.to_owned());
        if let Some(info) = info {
            task.1 = Some(info.clone());
        }
    }

    /// The task the job is about and its last status, as far as known.
    pub(crate) fn task(&self) -> (Option<String>, Option<TaskInfo>) {
        lock(&self.task).clone()
    }

    /// Records a poll, for [`Job::progress`].
    pub(crate) fn note_poll(&self, status_text: Option<&str>) {
        let polls = {
            let mut state = lock(&self.state);
            state.polls = state.polls.saturating_add(1);
            if let Some(text) = status_text {
                state.status_text = Some(text.to_owned());
            }
            state.polls
        };
        log_line!(
            self.log.as_ref(),
            LogLevel::Debug,
            "job {} polled ({polls} so far): {}",
            self.id,
            status_text.unwrap_or("the poll failed")
        );
    }

    /// Starts another job on this job's pool (a batch's lanes).
    pub(crate) fn start_sibling(
        &self,
        client: &Arc<Client>,
        work: Box<dyn Work>,
        completion: Completion,
    ) -> Result<Arc<Job>, Error> {
        match self.scheduler.upgrade() {
            Some(shared) => shared.start(client, work, completion, 0),
            None => Err(Error::invalid(
                "the client is being freed: no job can start",
            )),
        }
    }

    /// Moves the job, if it is between steps, to the run queue now.
    pub(crate) fn wake(self: &Arc<Self>) {
        if let Some(scheduler) = self.scheduler.upgrade() {
            scheduler.wake(self);
        }
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
    fn finish(self: &Arc<Self>, outcome: Result<Output, Error>) {
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
pub struct CompletionQueue {
    jobs: Mutex<VecDeque<Arc<Job>>>,
    signal: Signal,
    /// Freed by the caller: nothing is put on it any more.
    closed: AtomicBool,
}

impl std::fmt::Debug for CompletionQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompletionQueue")
            .field("fd", &self.signal.fd())
            .finish_non_exhaustive()
    }
}

impl CompletionQueue {
    pub(crate) fn new() -> Result<CompletionQueue, Error> {
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

    fn push(&self, job: Arc<Job>) {
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
    pub(crate) fn pop(&self) -> Option<Arc<Job>> {
        let mut jobs = lock(&self.jobs);
        let job = jobs.pop_front();
        if jobs.is_empty() {
            self.signal.lower();
        }
        job
    }

    /// Takes `job` off the queue if it is there. By identity, not by id: one
    /// queue serves the jobs of many clients.
    fn remove(&self, job: &Arc<Job>) {
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

/// A client's pool: `threads` worker threads and one timer thread, started with
/// the first job.
#[derive(Debug)]
pub(crate) struct Scheduler {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<SchedulerState>,
    /// The pool's threads, joined when the client is freed ([`Scheduler::join`]).
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Workers wait on it for a job to run.
    work_ready: Condvar,
    /// The timer thread waits on it for an earlier timer.
    timers_changed: Condvar,
}

#[derive(Debug, Default)]
struct SchedulerState {
    run: VecDeque<Arc<Job>>,
    /// (when, job's timer_seq, job id), earliest first.
    timers: BinaryHeap<Reverse<(Instant, u64, u64)>>,
    /// Jobs between steps, by id: on the timer, or parked.
    waiting: HashMap<u64, Arc<Job>>,
    /// Every unfinished job, for shutting down.
    live: HashMap<u64, Weak<Job>>,
    threads_started: bool,
    closing: bool,
}

impl Scheduler {
    pub(crate) fn new() -> Scheduler {
        Scheduler {
            shared: Arc::new(Shared {
                state: Mutex::new(SchedulerState::default()),
                threads: Mutex::new(Vec::new()),
                work_ready: Condvar::new(),
                timers_changed: Condvar::new(),
            }),
        }
    }

    /// Starts `work` as a new job of `client`; the pool's threads are started on
    /// the first one. Refused once the client is being freed.
    /// `user_data` is the caller's, kept for [`Job::user_data`].
    pub(crate) fn start(
        &self,
        client: &Arc<Client>,
        work: Box<dyn Work>,
        completion: Completion,
        user_data: usize,
    ) -> Result<Arc<Job>, Error> {
        self.shared.start(client, work, completion, user_data)
    }

    /// For freeing the client: no job starts any more, and every unfinished one
    /// is cancelled (each is still delivered, with `Cancelled`). The threads end
    /// once the last job is done.
    pub(crate) fn shut_down(&self) {
        let jobs: Vec<Arc<Job>> = {
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
        let own = Arc::as_ptr(&self.shared) as usize;
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

impl Shared {
    fn start(
        self: &Arc<Self>,
        client: &Arc<Client>,
        work: Box<dyn Work>,
        completion: Completion,
        user_data: usize,
    ) -> Result<Arc<Job>, Error> {
        let mut state = lock(&self.state);
        if state.closing {
            return Err(Error::invalid(
                "the client is being freed: no job can start",
            ));
        }
        if !state.threads_started {
            spawn_threads(self, client.job_threads)?;
            state.threads_started = true;
        }
        let job = Arc::new(Job {
            id: NEXT_JOB_ID.fetch_add(1, Ordering::Relaxed),
            cancel: CancelToken::new(),
            state: Mutex::new(JobState {
                phase: Phase::Queued,
                timer_seq: 0,
                woken: false,
                polls: 0,
                status_text: None,
                delivery: Delivery::Pending,
            }),
            delivered: Condvar::new(),
            work: Mutex::new(Some(work)),
            completion,
            outcome: OnceLock::new(),
            scheduler: Arc::downgrade(self),
            view: OnceLock::new(),
            log: client.logger().cloned(),
            task: Mutex::new((None, None)),
            user_data,
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
    /// Moves a job that is between steps to the run queue now.
    /// A job that is running or queued is marked instead, so that the wake is
    /// not lost: it runs again as soon as its step parks it.
    fn wake(&self, job: &Arc<Job>) {
        let mut state = lock(&self.state);
        match state.waiting.remove(&job.id) {
            Some(job) => {
                lock(&job.state).phase = Phase::Queued;
                state.run.push_back(job);
                self.work_ready.notify_one();
            }
            None => lock(&job.state).woken = true,
        }
    }

    /// Runs one step of `job` (on a pool thread) and files the job where the
    /// step said.
    fn run_step(&self, job: Arc<Job>) {
        {
            // A wake from before this step is seen by the step itself.
            let mut job_state = lock(&job.state);
            job_state.phase = Phase::Running;
            job_state.woken = false;
        }
        let work = lock(&job.work).take();
        let Some(mut work) = work else { return };
        let step = if job.cancel.is_cancelled() {
            Step::Done(Err(cancelled()))
        } else {
            catch_unwind(AssertUnwindSafe(|| work.step(&job))).unwrap_or_else(|_| {
                Step::Done(Err(Error::new(
                    ErrorKind::Panic,
                    "internal error: a job panicked (a bug in libcamb; please report it)",
                )))
            })
        };
        match step {
            Step::Done(outcome) => {
                drop(work);
                // A job cancelled while its step ran reports the cancel, not the
                // failure the cancel caused (a closed connection, say).
                let outcome = match outcome {
                    Err(error) if job.cancel.is_cancelled() && error.kind() != ErrorKind::Panic => {
                        Err(cancelled())
                    }
                    other => other,
                };
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
                let woken = std::mem::take(&mut lock(&job.state).woken);
                if woken || job.cancel.is_cancelled() {
                    // Cancelled (or woken) while it ran: at once, not at its next poll.
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
            Step::Park => {
                *lock(&job.work) = Some(work);
                let mut state = lock(&self.state);
                let again = {
                    let mut job_state = lock(&job.state);
                    let again = std::mem::take(&mut job_state.woken) || job.cancel.is_cancelled();
                    job_state.phase = if again { Phase::Queued } else { Phase::Waiting };
                    again
                };
                if again {
                    state.run.push_back(job);
                    self.work_ready.notify_one();
                } else {
                    state.waiting.insert(job.id, job);
                }
            }
        }
    }
}

fn cancelled() -> Error {
    Error::new(ErrorKind::Cancelled, "the job was cancelled")
}

fn spawn_threads(shared: &Arc<Shared>, workers: usize) -> Result<(), Error> {
    let own = Arc::as_ptr(shared) as usize;
    let spawn = |name: String, body: Box<dyn FnOnce() + Send>| {
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                POOL.with(|pool| pool.set(own));
                body();
            })
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start a job thread: {e}")))?;
        lock(&shared.threads).push(thread);
        Ok::<(), Error>(())
    };
    let timer = Arc::clone(shared);
    spawn("camb-timer".into(), Box::new(move || timer_loop(&timer)))?;
    for n in 0..workers.max(1) {
        let worker = Arc::clone(shared);
        spawn(
            format!("camb-job-{n}"),
            Box::new(move || worker_loop(&worker)),
        )?;
    }
    Ok(())
}

fn worker_loop(shared: &Shared) {
    loop {
        let job = {
            let mut state = lock(&shared.state);
            loop {
                if let Some(job) = state.run.pop_front() {
                    break job;
                }
                if state.closing && state.live.is_empty() {
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

fn timer_loop(shared: &Shared) {
    let mut state = lock(&shared.state);
    loop {
        if state.closing && state.live.is_empty() {
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
