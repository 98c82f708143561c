//! `camb_queue`: where submitted jobs come back, as events, on the caller's
//! own thread.

use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::{self, Event};
use crate::error::{Error, ErrorKind};
use crate::ffi::boundary::{null_parameter, out_arg, result_call, value_call, void_call};
use crate::ffi::job::{JobData, camb_job, handed_back};
use crate::ffi::result_code::camb_result;
use crate::operations::Output;

/// Where the jobs submitted to it come back, as events, to be taken on the
/// caller's own thread: no libcamb callback runs there for a job, and no code
/// of the caller's runs on libcamb's threads for one (the log callback is the
/// one exception, `camb_client_builder_set_log()`). Three ways to take them:
/// - watch `camb_queue_fd()` for reading in an event loop (epoll, poll, libuv's
///   `uv_poll`, Qt's `QSocketNotifier`, asyncio's `add_reader`), then
///   `camb_queue_pop()` until `CAMB_RESULT_NOT_READY`;
/// - `camb_queue_wait()` on a thread of the caller's, with a timeout;
/// - `camb_queue_pop()` whenever convenient.
///
/// One queue may serve many jobs and many clients, and may be used from any
/// number of threads at once.
///
/// Functions: `camb_queue_new()`, `camb_queue_fd()`, `camb_queue_pop()`,
/// `camb_queue_wait()`, `camb_queue_free()`.
// Never made: a handle is the address of the engine's queue, which only libcamb
// reads. Not repr(C), so that camb.h declares it opaque.
pub struct camb_queue {
    _private: (),
}

/// What an event on a queue says about its job.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum camb_event {
    /// The job finished (succeeded, failed or was cancelled): read its result
    /// and output, then free it. It is the caller's again.
    JobDone = 1,
    /// A running `camb_client_job_speak()` job has audio to read:
    /// `camb_job_read_audio()` until it gives 0 bytes. The job stays
    /// libcamb's: do not free it on this event; its `CAMB_EVENT_JOB_DONE`
    /// comes later, always after its data events. The handle stays valid
    /// until that done event is taken and the job freed: with several
    /// threads taking events from one queue, the thread that reads a job's
    /// audio must be the one that frees it, or be synchronised with it.
    JobData = 2,
}

/// The engine's queue of the C ABI's jobs.
pub(crate) type Queue = engine::Queue<Output, JobData>;

/// A new reference to the queue behind a handle, leaving the caller's own.
///
/// # Safety
/// `queue` is NULL or a live queue.
pub(crate) unsafe fn queue_arc(queue: *const camb_queue) -> Option<Arc<Queue>> {
    if queue.is_null() {
        return None;
    }
    // SAFETY: a live queue (Arc::into_raw of a Queue); ManuallyDrop leaves the
    // caller's reference as it is while this clones it.
    let handle = ManuallyDrop::new(unsafe { Arc::from_raw(queue.cast::<Queue>()) });
    Some(Arc::clone(&handle))
}

/// Borrows the queue behind a handle.
///
/// # Safety
/// `queue` is NULL or a live queue.
unsafe fn queue_ref<'a>(queue: *const camb_queue) -> Option<&'a Queue> {
    // SAFETY: per this function's contract.
    unsafe { queue.cast::<Queue>().as_ref() }
}

/// Makes a queue. The caller owns it and frees it with `camb_queue_free()`.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER`; `CAMB_RESULT_IO` if the system has no
/// descriptor to give (the process is at its limit of open files, EMFILE).
// The caller's part: `out_queue` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_queue_new(out_queue: *mut *mut camb_queue) -> camb_result {
    result_call(|| {
        out_arg(out_queue, "out_queue")?;
        let queue = Arc::new(Queue::new()?);
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out_queue.write(Arc::into_raw(queue).cast::<camb_queue>().cast_mut()) };
        Ok(())
    })
}

/// The queue's readiness handle (pointer-sized, as a Windows `SOCKET` is),
/// readable exactly while events wait: a file descriptor on Unix (an eventfd on Linux, a pipe elsewhere), a `SOCKET` on
/// Windows (for `select` and `WSAPoll`). Watch it for reading; never read,
/// write or close it yourself. -1 for NULL.
// The caller's part: `queue` is NULL or a live queue.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_queue_fd(queue: *const camb_queue) -> isize {
    value_call(-1, || {
        // SAFETY: NULL or a live queue.
        unsafe { queue_ref(queue) }.map_or(-1, |q| q.readiness().handle())
    })
}

/// The body of `camb_queue_pop()` and `camb_queue_wait()`: the arguments
/// checked, an event taken by `take` (which holds a reference to the queue of
/// its own, so that a free on another thread cannot pull it away), handed over.
///
/// # Safety
/// `queue` is NULL or a live queue; `out_event` and `out_job` are NULL or
/// writable.
unsafe fn take_event(
    queue: *const camb_queue,
    out_event: *mut camb_event,
    out_job: *mut *mut camb_job,
    take: impl FnOnce(&Queue) -> Result<(Event, Arc<engine::Job<Output, JobData>>), Error>,
) -> camb_result {
    result_call(|| {
        // SAFETY: NULL or a live queue.
        let queue = unsafe { queue_arc(queue) }.ok_or_else(|| null_parameter("queue"))?;
        out_arg(out_event, "out_event")?;
        out_arg(out_job, "out_job")?;
        let (event, job) = take(&queue)?;
        let (event, handle) = match event {
            // The queue's reference to the job becomes the caller's.
            Event::Finished => (camb_event::JobDone, handed_back(job)),
            // The job stays libcamb's, which holds it while it runs (a data
            // event always comes before its job's end): the caller gets its
            // handle, and this event's reference goes.
            Event::Data => {
                if let Some(pipe) = &job.data.pipe {
                    pipe.event_taken();
                }
                (
                    camb_event::JobData,
                    Arc::as_ptr(&job).cast::<camb_job>().cast_mut(),
                )
            }
        };
        // SAFETY: both checked non-NULL; writable per the contract.
        unsafe {
            out_event.write(event);
            out_job.write(handle);
        }
        Ok(())
    })
}

/// Takes the next event off the queue, never blocking: what happened into
/// `*out_event`, and the job it happened to into `*out_job`, the very handle
/// its `camb_client_job_*` function gave (`camb_job_user_data()` gives back
/// what was given to `camb_job_submit()`). After `CAMB_EVENT_JOB_DONE` the job
/// is the caller's again, to read and free.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER`; `CAMB_RESULT_NOT_READY` when no event
/// waits (the readiness handle is then not readable), and nothing is written.
// The caller's part: `queue` is NULL or a live queue; `out_event` and `out_job`
// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_queue_pop(
    queue: *const camb_queue,
    out_event: *mut camb_event,
    out_job: *mut *mut camb_job,
) -> camb_result {
    // SAFETY: the caller's part, as this function's.
    unsafe {
        take_event(queue, out_event, out_job, |queue| {
            queue
                .pop()
                .ok_or_else(|| Error::new(ErrorKind::NotReady, "no event is waiting"))
        })
    }
}

/// Takes the next event off the queue as `camb_queue_pop()` does, waiting up to
/// `timeout_ms` milliseconds for one (0: not at all; `UINT32_MAX`: about 50
/// days). For a thread of the caller's that serves the queue, or a program
/// with no event loop.
///
/// Freeing the queue from another thread ends the wait: the one call that may
/// overlap a use of the same queue, so that a thread serving the queue can be
/// stopped.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER`; `CAMB_RESULT_TIMEOUT` when no event
/// came in time; `CAMB_RESULT_CANCELLED` when the queue was freed meanwhile.
/// Nothing is written on an error.
// The caller's part: `queue` is NULL or a live queue; `out_event` and `out_job`
// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_queue_wait(
    queue: *const camb_queue,
    timeout_ms: u32,
    out_event: *mut camb_event,
    out_job: *mut *mut camb_job,
) -> camb_result {
    // SAFETY: the caller's part, as this function's.
    unsafe {
        take_event(queue, out_event, out_job, |queue| {
            queue
                .wait(Duration::from_millis(u64::from(timeout_ms)))
                .ok_or_else(|| {
                    if queue.is_closed() {
                        Error::new(ErrorKind::Cancelled, "the queue was freed")
                    } else {
                        Error::new(
                            ErrorKind::Timeout,
                            format!("no event came within {timeout_ms} ms"),
                        )
                    }
                })
        })
    }
}

/// Frees a queue, from any thread (threads waiting in `camb_queue_wait()` on it
/// return `CAMB_RESULT_CANCELLED`; no other call on it may overlap). The jobs on it are
/// freed with it, and so is each job submitted to it that is still in flight,
/// when it finishes (cancel them first to make that soon): the caller's
/// pointers to those jobs must not be used again. Its readiness handle is
/// closed once no job refers to the queue. NULL is a no-op.
// The caller's part: `queue` is NULL or a live queue, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_queue_free(queue: *mut camb_queue) {
    void_call(|| {
        if !queue.is_null() {
            // SAFETY: the caller's reference (Arc::into_raw), freed once.
            let queue = unsafe { Arc::from_raw(queue.cast_const().cast::<Queue>()) };
            queue.close();
        }
    })
}
