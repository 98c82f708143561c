//! Jobs: every network call started without blocking, finishing on the client's
//! pool of threads, and told of through a callback or a completion queue.

use std::ffi::{c_char, c_void};
use std::mem::ManuallyDrop;
use std::sync::Arc;

use crate::error::{Error, ErrorKind};
use crate::ffi::audio::camb_write_fn;
use crate::ffi::batch::id_pointers;
use crate::ffi::boundary::{
    null_parameter, out_arg, path_arg, result_call, str_arg, value_call, void_call,
};
use crate::ffi::client::{camb_client, handle_arg};
use crate::ffi::create::{camb_create_options, create_request};
use crate::ffi::result_code::{camb_result, camb_status};
use crate::ffi::task::{camb_task, camb_task_list};
use crate::ffi::wait::{camb_wait_options, wait_options as read_wait_options};
use crate::jobs::{self, Completion, Phase, Scheduler, Work};
use crate::operations::{
    BatchWork, CreateWork, DownloadWork, GenerateWork, Output, SaveWork, StatusWork, Tracker,
    WaitWork,
};
use crate::task::TaskStatus;

/// What the C layer keeps with each job: what the job has told so far, the
/// caller's pointer, and the C views of its outcome (made on first use).
pub(crate) struct JobData {
    tracker: Arc<Tracker>,
    /// The caller's pointer given at the start, handed back as it was.
    user_data: usize,
    view: std::sync::OnceLock<View>,
}

/// A job of the C ABI: the engine's job of an operation.
type Job = jobs::Job<Output, JobData>;
type CompletionQueue = jobs::CompletionQueue<Output, JobData>;
/// A client's pool of job threads.
pub(crate) type Pool = Scheduler<Output, JobData>;

/// A call running on the client's pool of threads: started by one of the
/// `camb_client_start_*` functions, which return at once. When it finishes, its
/// callback runs or it is put on its queue (the one given when it started).
///
/// The caller owns the job and frees it with `camb_job_free()`: at any time, from
/// any thread, from inside its own callback too. Freeing a job that is still
/// running cancels it, and a job freed before it finished is never delivered.
/// A finished job holds its own result, error text and output; reading them
/// never depends on the thread or on later calls.
///
/// Functions: the `camb_client_start_*` functions, `camb_job_get_state()`,
/// `camb_job_result()`, `camb_job_error()`, `camb_job_http_status()`,
/// `camb_job_task()`, `camb_job_task_list()`, `camb_job_task_id()`,
/// `camb_job_bytes()`, `camb_job_polls()`, `camb_job_status()`,
/// `camb_job_user_data()`,
/// `camb_job_cancel()`, `camb_job_free()`.
// Never made: a handle is the address of a job (or queue) of the jobs engine,
// which only libcamb reads. Not repr(C), so that camb.h declares it opaque.
pub struct camb_job {
    _private: (),
}

/// Finished jobs waiting to be taken, with a file descriptor that is readable
/// while there are any: watch it with epoll or poll, libuv's `uv_poll`, Qt's
/// `QSocketNotifier` or asyncio's `add_reader`, then take the jobs with
/// `camb_job_queue_pop()` on the loop's own thread. No libcamb callback ever runs
/// there. One queue may serve many jobs and many clients.
///
/// Functions: `camb_job_queue_new()`, `camb_job_queue_fd()`,
/// `camb_job_queue_pop()`, `camb_job_queue_free()`.
// Never made: a handle is the address of a job (or queue) of the jobs engine,
// which only libcamb reads. Not repr(C), so that camb.h declares it opaque.
pub struct camb_job_queue {
    _private: (),
}

/// Called once when a job finishes, on one of the client's pool threads, with
/// the job and the `user_data` given when it started. It may read the job, free
/// it, or start other jobs; it should return quickly (it holds a pool thread),
/// and must not unwind (C++ exceptions, longjmp) through libcamb. An FFI that
/// hands the call over to another thread and waits for it there (koffi's
/// registered callbacks do) must not free the job from that thread: the free
/// would wait for the very callback that waits for it, and so would freeing the
/// client. Use a queue instead.
pub type camb_job_fn = Option<unsafe extern "C" fn(job: *mut camb_job, user_data: *mut c_void)>;

/// Where a job is in its life.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum camb_job_state {
    /// Waiting for a pool thread.
    Queued = 0,
    /// Running on a pool thread (a request in flight).
    Running = 1,
    /// Between two steps, holding no thread (a wait's pause before its next poll).
    Waiting = 2,
    /// Finished: its result is there.
    Done = 3,
}

/// What the C accessors hand out, made from the job's outcome once.
struct View {
    error: Option<Box<[u8]>>,
    http_status: u16,
    task: Option<camb_task>,
    list: Option<camb_task_list>,
    task_id: Option<Box<[u8]>>,
}

fn c_text(text: &str) -> Box<[u8]> {
    let mut bytes = Vec::with_capacity(text.len() + 1);
    bytes.extend_from_slice(text.as_bytes());
    bytes.push(0);
    bytes.into_boxed_slice()
}

fn view_of(job: &Job) -> Option<&View> {
    let outcome = job.outcome()?;
    Some(job.data.view.get_or_init(|| {
        match outcome {
            // A failed job still tells which task it was about, and a
            // generation's task that ended without audio, its last status.
            Err(error) => {
                let tracked = job.data.tracker.get();
                let (task_id, info) = (tracked.task_id, tracked.ended);
                View {
                    error: Some(c_text(error.message())),
                    http_status: error.http_status().unwrap_or(0),
                    task: task_id
                        .as_deref()
                        .zip(info)
                        .map(|(id, info)| camb_task::from_outcome(id, Ok(info))),
                    list: None,
                    task_id: task_id.as_deref().map(c_text),
                }
            }
            Ok(output) => {
                let (task, list, task_id) = match output {
                    Output::Task { task_id, info } => (
                        Some(camb_task::from_outcome(task_id, Ok(info.clone()))),
                        None,
                        Some(task_id.as_str()),
                    ),
                    Output::Generated { task_id, info, .. } => (
                        Some(camb_task::from_outcome(task_id, Ok(info.clone()))),
                        None,
                        Some(task_id.as_str()),
                    ),
                    Output::TaskId(task_id) => (None, None, Some(task_id.as_str())),
                    Output::Statuses(statuses) => {
                        let tasks = statuses
                            .iter()
                            .map(|(id, outcome)| camb_task::from_outcome(id, outcome.clone()))
                            .collect();
                        (None, Some(camb_task_list::new(tasks)), None)
                    }
                    Output::Bytes(_) | Output::AudioUrl(_) | Output::AudioUrls(_) => {
                        (None, None, None)
                    }
                };
                View {
                    error: None,
                    http_status: 0,
                    task,
                    list,
                    task_id: task_id.map(c_text),
                }
            }
        }
    }))
}

/// Borrows the job behind a handle.
///
/// # Safety
/// `job` is NULL or a live job handle (from a start function, not yet freed).
unsafe fn job_ref<'a>(job: *const camb_job) -> Option<&'a Job> {
    // SAFETY: per this function's contract, the handle is Arc::into_raw of a Job.
    unsafe { job.cast::<Job>().as_ref() }
}

/// The C views of a finished job's outcome; None for NULL or a running job.
///
/// # Safety
/// As for [`job_ref`].
unsafe fn finished_view<'a>(job: *const camb_job) -> Option<&'a View> {
    // SAFETY: per this function's contract.
    unsafe { job_ref(job) }.and_then(view_of)
}

/// A new reference to the job behind a handle, leaving the caller's own.
///
/// # Safety
/// As for [`job_ref`], and `job` is not NULL.
unsafe fn job_arc(job: *const camb_job) -> Arc<Job> {
    // SAFETY: the handle is Arc::into_raw of a Job whose caller's reference is
    // alive; ManuallyDrop leaves it so while this clones it.
    let handle = ManuallyDrop::new(unsafe { Arc::from_raw(job.cast::<Job>()) });
    Arc::clone(&handle)
}

/// How the job that is starting will be delivered: exactly one of a queue and a
/// callback.
///
/// # Safety
/// `queue` is NULL or a live queue; `callback` is NULL or a function that may be
/// called with `user_data` on another thread.
unsafe fn completion(
    queue: *const camb_job_queue,
    callback: camb_job_fn,
    user_data: *mut c_void,
) -> Result<Completion<Output, JobData>, Error> {
    match (queue.is_null(), callback) {
        (true, None) => Err(null_parameter("queue and callback are both NULL: pass one")),
        (false, Some(_)) => Err(Error::invalid(
            "a queue and a callback were both given: pass one",
        )),
        (false, None) => {
            // SAFETY: a live queue (Arc::into_raw of a CompletionQueue); the job
            // gets a reference of its own.
            let queue = unsafe {
                let handle = ManuallyDrop::new(Arc::from_raw(queue.cast::<CompletionQueue>()));
                Arc::clone(&handle)
            };
            Ok(Completion::Queue(queue))
        }
        (true, Some(callback)) => {
            // The caller's pointer, passed back as it was given.
            let user_data = user_data as usize;
            Ok(Completion::Callback(Box::new(move |job: &Arc<Job>| {
                let handle = Arc::as_ptr(job).cast::<camb_job>().cast_mut();
                // SAFETY: the caller vouches that the callback may be called with
                // its user_data on a pool thread.
                unsafe { callback(handle, user_data as *mut c_void) }
            })))
        }
    }
}

/// Starts `work` on `client`'s pool and gives the caller its handle; `tracker`
/// is what the work tells as it runs.
///
/// # Safety
/// As for [`completion`]; `out_job` is valid for writing a pointer.
unsafe fn start(
    client: &camb_client,
    work: Box<dyn Work<Output> + Send>,
    tracker: Arc<Tracker>,
    queue: *const camb_job_queue,
    callback: camb_job_fn,
    user_data: *mut c_void,
    out_job: *mut *mut camb_job,
) -> Result<(), Error> {
    // SAFETY: per this function's contract.
    let completion = unsafe { completion(queue, callback, user_data) }?;
    let pool = client
        .jobs
        .get_or_init(|| Scheduler::new(client.inner.job_threads, client.inner.logger().cloned()));
    let data = JobData {
        tracker,
        user_data: user_data as usize,
        view: std::sync::OnceLock::new(),
    };
    let job = pool.start(work, completion, data)?;
    // SAFETY: writable per this function's contract. The caller's reference.
    unsafe { out_job.write(Arc::into_raw(job).cast::<camb_job>().cast_mut()) };
    Ok(())
}

/// The job functions' common arguments, checked: the client handle, and the
/// out-pointer first, so that a NULL is reported before any work.
///
/// # Safety
/// `client` is NULL or a live client.
unsafe fn starting<'a>(
    client: *const camb_client,
    out_job: *mut *mut camb_job,
) -> Result<&'a camb_client, Error> {
    // SAFETY: per this function's contract.
    let client = unsafe { handle_arg(client) }?;
    out_arg(out_job, "out_job")?;
    Ok(client)
}

/// Starts `camb_client_get_task_status()` as a job; its task is
/// `camb_job_task()`. Exactly one of `queue` and `callback` is given: the job is
/// put on the queue when it finishes, or `callback(job, user_data)` is called.
/// On success `*out_job` is the job, which the caller frees with `camb_job_free()`.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER` (client, task_id, out_job, or both queue
/// and callback); `CAMB_RESULT_INVALID_PARAMETER` (a bad id, both a queue and a
/// callback, or a client being freed). The call's own errors are the job's result.
// The caller's part: every pointer NULL or valid, as the header's conventions say.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_start_get_task_status(
    client: *const camb_client,
    task_id: *const c_char,
    queue: *const camb_job_queue,
    callback: camb_job_fn,
    user_data: *mut c_void,
    out_job: *mut *mut camb_job,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller's part, for each argument.
        let client = unsafe { starting(client, out_job) }?;
        // SAFETY: NULL or NUL-terminated.
        let task_id = unsafe { str_arg(task_id, "task_id") }?;
        let tracker = Arc::default();
        // Checked now: a bad id refuses the start.
        let work = StatusWork::new(Arc::clone(&client.inner), task_id, Arc::clone(&tracker))?;
        // SAFETY: the caller's part; out_job checked non-NULL.
        unsafe {
            start(
                client,
                Box::new(work),
                tracker,
                queue,
                callback,
                user_data,
                out_job,
            )
        }
    })
}

/// Starts `camb_client_create_task()` as a job; the new task's id is
/// `camb_job_task_id()`. The prompt and options are checked now (and copied):
/// a bad one refuses the start. Queue, callback and errors as for
/// `camb_client_start_get_task_status()`.
// The caller's part: every pointer NULL or valid, as the header's conventions say.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_start_create_task(
    client: *const camb_client,
    prompt: *const c_char,
    options: *const camb_create_options,
    queue: *const camb_job_queue,
    callback: camb_job_fn,
    user_data: *mut c_void,
    out_job: *mut *mut camb_job,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller's part, for each argument.
        let client = unsafe { starting(client, out_job) }?;
        // SAFETY: NULL or NUL-terminated.
        let prompt = unsafe { str_arg(prompt, "prompt") }?;
        // SAFETY: NULL or a camb_create_options of its struct_size bytes.
        let request = unsafe { create_request(prompt, options) }?;
        let tracker = Arc::default();
        let work = CreateWork::new(Arc::clone(&client.inner), request, Arc::clone(&tracker))?;
        // SAFETY: the caller's part; out_job checked non-NULL.
        unsafe {
            start(
                client,
                Box::new(work),
                tracker,
                queue,
                callback,
                user_data,
                out_job,
            )
        }
    })
}

/// Starts `camb_client_wait_for_task()` as a job; the final task is
/// `camb_job_task()`. Between polls the job holds no thread: its next poll is on
/// a timer, so a thousand waits on a pool of four threads is normal use.
/// `camb_job_cancel()` ends a waiting job at once. The id and options are checked
/// now. Queue, callback and errors as for `camb_client_start_get_task_status()`.
// The caller's part: every pointer NULL or valid, as the header's conventions say.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_start_wait_for_task(
    client: *const camb_client,
    task_id: *const c_char,
    options: *const camb_wait_options,
    queue: *const camb_job_queue,
    callback: camb_job_fn,
    user_data: *mut c_void,
    out_job: *mut *mut camb_job,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller's part, for each argument.
        let client = unsafe { starting(client, out_job) }?;
        // SAFETY: NULL or NUL-terminated.
        let task_id = unsafe { str_arg(task_id, "task_id") }?;
        // SAFETY: NULL or a camb_wait_options of its struct_size bytes.
        let options = unsafe { read_wait_options(options) }?;
        let tracker = Arc::default();
        let work = WaitWork::new(
            Arc::clone(&client.inner),
            task_id,
            &options,
            None,
            Arc::clone(&tracker),
        )?;
        // SAFETY: the caller's part; out_job checked non-NULL.
        unsafe {
            start(
                client,
                Box::new(work),
                tracker,
                queue,
                callback,
                user_data,
                out_job,
            )
        }
    })
}

/// Starts `camb_client_download_audio()` as a job: `write(data, len,
/// write_user_data)` is called for each chunk on a pool thread (never on two at
/// once). The byte count is `camb_job_bytes()`. Queue, callback and errors as for
/// `camb_client_start_get_task_status()`, plus `CAMB_RESULT_NULL_PARAMETER` for a
/// NULL `write`.
// The caller's part: every pointer NULL or valid, as the header's conventions say;
// `write` may be called with `write_user_data` on another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_start_download_audio(
    client: *const camb_client,
    run_id: i64,
    write: camb_write_fn,
    write_user_data: *mut c_void,
    queue: *const camb_job_queue,
    callback: camb_job_fn,
    user_data: *mut c_void,
    out_job: *mut *mut camb_job,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller's part, for each argument.
        let client = unsafe { starting(client, out_job) }?;
        let write = write.ok_or_else(|| null_parameter("write"))?;
        let write_user_data = write_user_data as usize;
        let sink = move |chunk: &[u8]| {
            // SAFETY: the caller vouches for the callback and its user_data; the
            // chunk is valid for its length during the call.
            if unsafe { write(chunk.as_ptr(), chunk.len(), write_user_data as *mut c_void) } {
                Ok(())
            } else {
                Err(Error::new(
                    ErrorKind::Cancelled,
                    "the write callback stopped the download",
                ))
            }
        };
        let work = DownloadWork {
            client: Arc::clone(&client.inner),
            run_id,
            sink,
        };
        // SAFETY: the caller's part; out_job checked non-NULL.
        unsafe {
            start(
                client,
                Box::new(work),
                Arc::default(),
                queue,
                callback,
                user_data,
                out_job,
            )
        }
    })
}

/// Starts `camb_client_save_audio()` as a job (the same rules for what is at
/// `path`); the byte count is `camb_job_bytes()`. Queue, callback and errors as
/// for `camb_client_start_get_task_status()`, plus those of a bad path.
// The caller's part: every pointer NULL or valid, as the header's conventions say.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_start_save_audio(
    client: *const camb_client,
    run_id: i64,
    path: *const c_char,
    queue: *const camb_job_queue,
    callback: camb_job_fn,
    user_data: *mut c_void,
    out_job: *mut *mut camb_job,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller's part, for each argument.
        let client = unsafe { starting(client, out_job) }?;
        // SAFETY: NULL or NUL-terminated.
        let path = unsafe { path_arg(path) }?;
        let work = SaveWork {
            client: Arc::clone(&client.inner),
            run_id,
            path,
        };
        // SAFETY: the caller's part; out_job checked non-NULL.
        unsafe {
            start(
                client,
                Box::new(work),
                Arc::default(),
                queue,
                callback,
                user_data,
                out_job,
            )
        }
    })
}

/// Starts `camb_client_get_task_statuses()` as a job: up to `max_connections`
/// queries at a time (0: 8; at most 32), each on a pool thread. The list is
/// `camb_job_task_list()`, one task per id in order, each with its own result. The
/// ids are copied now. Queue, callback and errors as for
/// `camb_client_start_get_task_status()`, plus the limits of the blocking call.
// The caller's part: every pointer NULL or valid, as the header's conventions say;
// `task_ids` holds `count` pointers, each NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_start_get_task_statuses(
    client: *const camb_client,
    task_ids: *const *const c_char,
    count: usize,
    max_connections: u32,
    queue: *const camb_job_queue,
    callback: camb_job_fn,
    user_data: *mut c_void,
    out_job: *mut *mut camb_job,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller's part, for each argument.
        let client = unsafe { starting(client, out_job) }?;
        // SAFETY: `count` pointers, per the caller's contract.
        let pointers = unsafe { id_pointers(task_ids, count) }?;
        let ids = pointers
            .iter()
            .map(|&id| {
                // SAFETY: NULL or NUL-terminated, per the contract.
                let id = unsafe { str_arg(id, "task_id") }?;
                client.inner.status_url(id)?;
                Ok(id.to_owned())
            })
            .collect();
        let work = BatchWork::new(Arc::clone(&client.inner), ids, max_connections as usize)?;
        // SAFETY: the caller's part; out_job checked non-NULL.
        unsafe {
            start(
                client,
                Box::new(work),
                Arc::default(),
                queue,
                callback,
                user_data,
                out_job,
            )
        }
    })
}

/// Starts a whole generation as one job: creates a task from `prompt` and
/// `create_options`, waits for it with `wait_options` (its pauses on a timer,
/// holding no thread), and saves its audio to `path` (the rules of
/// `camb_client_save_audio()`). `camb_job_polls()` and `camb_job_status()` follow
/// it. Its task is `camb_job_task()`, its id `camb_job_task_id()`, the bytes saved
/// `camb_job_bytes()`. A task that ends without audio fails the job with
/// `CAMB_RESULT_TASK_FAILED` (the message says why). Everything that can be
/// checked is checked now, before the task is created (and billed): the prompt,
/// both options, and `path`, which is refused with the words and code
/// `camb_client_save_audio()` would give (a missing or unwritable directory, a
/// directory, a socket, a symlink loop) without being opened: a FIFO is only
/// looked at, as its reader may come later. The save looks at `path` again, as
/// it may change while the task runs. Queue, callback and errors as for
/// `camb_client_start_get_task_status()`.
// The caller's part: every pointer NULL or valid, as the header's conventions say.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_start_generate(
    client: *const camb_client,
    prompt: *const c_char,
    create_options: *const camb_create_options,
    wait_options: *const camb_wait_options,
    path: *const c_char,
    queue: *const camb_job_queue,
    callback: camb_job_fn,
    user_data: *mut c_void,
    out_job: *mut *mut camb_job,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller's part, for each argument.
        let client = unsafe { starting(client, out_job) }?;
        // SAFETY: NULL or NUL-terminated.
        let prompt = unsafe { str_arg(prompt, "prompt") }?;
        // SAFETY: NULL or a camb_create_options of its struct_size bytes.
        let request = unsafe { create_request(prompt, create_options) }?;
        // SAFETY: NULL or a camb_wait_options of its struct_size bytes.
        let options = unsafe { read_wait_options(wait_options) }?;
        // SAFETY: NULL or NUL-terminated.
        let path = unsafe { path_arg(path) }?;
        let tracker = Arc::default();
        let work = GenerateWork::new(
            Arc::clone(&client.inner),
            request,
            &options,
            path,
            None,
            Arc::clone(&tracker),
        )?;
        // SAFETY: the caller's part; out_job checked non-NULL.
        unsafe {
            start(
                client,
                Box::new(work),
                tracker,
                queue,
                callback,
                user_data,
                out_job,
            )
        }
    })
}

/// Where the job is; `CAMB_JOB_STATE_DONE` for NULL.
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_get_state(job: *const camb_job) -> camb_job_state {
    value_call(camb_job_state::Done, || {
        // SAFETY: NULL or a live job.
        match unsafe { job_ref(job) }.map(Job::phase) {
            Some(Phase::Queued) => camb_job_state::Queued,
            Some(Phase::Running) => camb_job_state::Running,
            Some(Phase::Waiting) => camb_job_state::Waiting,
            Some(Phase::Done) | None => camb_job_state::Done,
        }
    })
}

/// The job's outcome: `CAMB_RESULT_OK`, or its failure (`camb_job_error()` says
/// why); `CAMB_RESULT_NOT_READY` while it runs; `CAMB_RESULT_NULL_PARAMETER` for
/// NULL. A cancelled job is `CAMB_RESULT_CANCELLED`.
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_result(job: *const camb_job) -> camb_result {
    value_call(camb_result::NullParameter, || {
        // SAFETY: NULL or a live job.
        match unsafe { job_ref(job) }.map(Job::outcome) {
            None => camb_result::NullParameter,
            Some(None) => camb_result::NotReady,
            Some(Some(Ok(_))) => camb_result::Ok,
            Some(Some(Err(error))) => camb_result::from(error.kind()),
        }
    })
}

/// Why the job failed, in words (the server's where it gave any; never the key),
/// owned by the job; NULL when it succeeded or has not finished.
// The caller's part: `job` is NULL or a live job; `out_len` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_error(
    job: *const camb_job,
    out_len: *mut usize,
) -> *const c_char {
    value_call(std::ptr::null(), || {
        // SAFETY: NULL or a live job.
        let error = unsafe { finished_view(job) }.and_then(|v| v.error.as_deref());
        // SAFETY: NULL or writable.
        unsafe { text_out(error, out_len) }
    })
}

/// The HTTP status behind a failed job, or 0.
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_http_status(job: *const camb_job) -> u16 {
    value_call(0, || {
        // SAFETY: NULL or a live job.
        unsafe { finished_view(job) }.map_or(0, |v| v.http_status)
    })
}

/// The task of a finished status, wait or generate job, owned by the job (valid
/// until it is freed; never free it on its own): also the task of a generation
/// that failed with `CAMB_RESULT_TASK_FAILED`, with the status it ended in; NULL
/// otherwise.
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_task(job: *const camb_job) -> *const camb_task {
    value_call(std::ptr::null(), || {
        // SAFETY: NULL or a live job.
        unsafe { finished_view(job) }
            .and_then(|v| v.task.as_ref())
            .map_or(std::ptr::null(), std::ptr::from_ref)
    })
}

/// The list of a finished batch job, owned by the job; NULL otherwise.
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_task_list(job: *const camb_job) -> *const camb_task_list {
    value_call(std::ptr::null(), || {
        // SAFETY: NULL or a live job.
        unsafe { finished_view(job) }
            .and_then(|v| v.list.as_ref())
            .map_or(std::ptr::null(), std::ptr::from_ref)
    })
}

/// The task id of a finished create or generate job (the new task's, also when a
/// generation failed after creating it), or of a status or wait job (also when it
/// failed), owned by the job; NULL otherwise.
// The caller's part: `job` is NULL or a live job; `out_len` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_task_id(
    job: *const camb_job,
    out_len: *mut usize,
) -> *const c_char {
    value_call(std::ptr::null(), || {
        // SAFETY: NULL or a live job.
        let id = unsafe { finished_view(job) }.and_then(|v| v.task_id.as_deref());
        // SAFETY: NULL or writable.
        unsafe { text_out(id, out_len) }
    })
}

/// The bytes a finished download, save or generate job delivered; 0 otherwise.
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_bytes(job: *const camb_job) -> u64 {
    value_call(0, || {
        // SAFETY: NULL or a live job.
        match unsafe { job_ref(job) }.and_then(Job::outcome) {
            Some(Ok(Output::Bytes(bytes) | Output::Generated { bytes, .. })) => *bytes,
            _ => 0,
        }
    })
}

/// Polls made so far by a wait or generate job (0 for other jobs and NULL). May
/// be read while the job runs, from any thread.
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_polls(job: *const camb_job) -> u32 {
    value_call(0, || {
        // SAFETY: NULL or a live job.
        unsafe { job_ref(job) }.map_or(0, |j| j.data.tracker.get().polls)
    })
}

/// The last status a wait or generate job's polls saw (a finished status job:
/// its task's), as a `CAMB_STATUS_*` value; `CAMB_STATUS_UNKNOWN` before the
/// first (check `camb_job_polls()` to tell it from a status this version does not
/// know) and for jobs about no task. May be read while the job runs, from any
/// thread: for a progress line.
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_status(job: *const camb_job) -> camb_status {
    value_call(camb_status::Unknown, || {
        // SAFETY: NULL or a live job.
        let Some(job) = (unsafe { job_ref(job) }) else {
            return camb_status::Unknown;
        };
        // The last poll's status, or a finished job's task's.
        let tracked = job.data.tracker.get();
        let text = tracked
            .last_polled
            .map(|info| info.status_text)
            .or_else(|| match job.outcome() {
                Some(Ok(Output::Task { info, .. } | Output::Generated { info, .. })) => {
                    Some(info.status_text.clone())
                }
                _ => tracked.ended.map(|info| info.status_text),
            });
        text.map_or(camb_status::Unknown, |t| {
            camb_status::from(TaskStatus::from_wire(&t))
        })
    })
}

/// The `user_data` given when the job started, as it was given (with a queue
/// too, where no callback gets it: a way back from a popped job to the caller's
/// own record of it). NULL for NULL.
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_user_data(job: *const camb_job) -> *mut c_void {
    value_call(std::ptr::null_mut(), || {
        // SAFETY: NULL or a live job.
        unsafe { job_ref(job) }.map_or(std::ptr::null_mut(), |j| j.data.user_data as *mut c_void)
    })
}

/// Cancels the job: a waiting job finishes at once, a running one at its next
/// check (a download between chunks, a retry before it is sent); it is then
/// delivered with `CAMB_RESULT_CANCELLED`. A finished job is left as it is.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER` for NULL.
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_cancel(job: *const camb_job) -> camb_result {
    result_call(|| {
        if job.is_null() {
            return Err(null_parameter("job"));
        }
        // SAFETY: a live job, not NULL.
        unsafe { job_arc(job) }.cancel();
        Ok(())
    })
}

/// Frees a job, at any time, from any thread, from inside its own callback too.
/// A job still running is cancelled, and a job freed before it was delivered is
/// never delivered. If its callback is running on another thread, this waits for
/// it to return, so that what the callback uses may be freed next; called from
/// inside any job's callback it does not wait (so that two callbacks freeing each
/// other's jobs cannot wait for each other): free a job's `user_data` in its own
/// callback, or outside every callback. A queue's job: free it on the thread that
/// pops the queue, or while no other thread pops it (a pop at that very moment
/// could hand out the handle being freed). What was read from the job is freed
/// with it. NULL is a no-op; never free a job twice.
// The caller's part: `job` is NULL or a live job, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_free(job: *mut camb_job) {
    void_call(|| {
        if !job.is_null() {
            // SAFETY: the caller's reference, given by a start function (Arc::into_raw).
            unsafe { Arc::from_raw(job.cast_const().cast::<Job>()) }.release();
        }
    })
}

/// Makes a completion queue. The caller owns it and frees it with
/// `camb_job_queue_free()`.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER`; `CAMB_RESULT_IO` if the system refuses a
/// file descriptor.
// The caller's part: `out_queue` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_queue_new(out_queue: *mut *mut camb_job_queue) -> camb_result {
    result_call(|| {
        out_arg(out_queue, "out_queue")?;
        let queue = Arc::new(CompletionQueue::new()?);
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out_queue.write(Arc::into_raw(queue).cast::<camb_job_queue>().cast_mut()) };
        Ok(())
    })
}

/// The queue's file descriptor, readable while it holds finished jobs (an eventfd
/// on Linux, a pipe elsewhere). Watch it for reading; never read, write or close
/// it yourself. -1 for NULL.
// The caller's part: `queue` is NULL or a live queue.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_queue_fd(queue: *const camb_job_queue) -> i32 {
    value_call(-1, || {
        // SAFETY: NULL or a live queue.
        unsafe { queue.cast::<CompletionQueue>().as_ref() }.map_or(-1, CompletionQueue::fd)
    })
}

/// Takes the next finished job off the queue into `*out_job`: the same handle its
/// start function gave (still the caller's to free). `CAMB_RESULT_NOT_READY` when
/// there is none; then the descriptor is no longer readable. Never blocks.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER`; `CAMB_RESULT_NOT_READY`.
// The caller's part: `queue` is NULL or a live queue; `out_job` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_queue_pop(
    queue: *const camb_job_queue,
    out_job: *mut *mut camb_job,
) -> camb_result {
    result_call(|| {
        // SAFETY: NULL or a live queue.
        let queue = unsafe { queue.cast::<CompletionQueue>().as_ref() }
            .ok_or_else(|| null_parameter("queue"))?;
        out_arg(out_job, "out_job")?;
        let job = queue
            .pop()
            .ok_or_else(|| Error::new(ErrorKind::NotReady, "no finished job is waiting"))?;
        // The caller's own reference keeps the job alive; the queue's goes here.
        let handle = Arc::as_ptr(&job).cast::<camb_job>().cast_mut();
        drop(job);
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out_job.write(handle) };
        Ok(())
    })
}

/// Frees a queue. Jobs that were to be put on it, or were on it, are still the
/// caller's (free them as usual); they are no longer put anywhere. Its file
/// descriptor is closed once those jobs are freed too. NULL is a no-op.
// The caller's part: `queue` is NULL or a live queue, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_queue_free(queue: *mut camb_job_queue) {
    void_call(|| {
        if !queue.is_null() {
            // SAFETY: the caller's reference (Arc::into_raw), freed once.
            let queue = unsafe { Arc::from_raw(queue.cast_const().cast::<CompletionQueue>()) };
            queue.close();
        }
    })
}

/// A string out of a view: its pointer (NULL when absent), its length.
///
/// # Safety
/// `out_len` is NULL or writable.
unsafe fn text_out(text: Option<&[u8]>, out_len: *mut usize) -> *const c_char {
    if !out_len.is_null() {
        // SAFETY: per this function's contract.
        unsafe { out_len.write(text.map_or(0, |t| t.len() - 1)) };
    }
    text.map_or(std::ptr::null(), |t| t.as_ptr().cast())
}
