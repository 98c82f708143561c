//! `camb_client_wait_for_task()`: poll until final, with progress and cancellation.

use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::ffi::boundary::{out_arg, result_call, str_arg};
use crate::ffi::cancel::camb_cancel_token;
use crate::ffi::cancel::run_blocking;
use crate::ffi::client::{camb_client, client_arg};
use crate::ffi::options::{Field, field, init_sized, read_sized};
use crate::ffi::result_code::{camb_result, camb_status};
use crate::ffi::task::{camb_task, give_task};
use crate::operations::WaitWork;
use crate::wait::Report;
use crate::wait::{Progress, WaitOptions};

/// How `camb_client_wait_for_task()` polls. Start from `camb_wait_options_default()`
/// (in C and C++; an FFI calls `camb_wait_options_init()`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct camb_wait_options {
    /// The size of this struct in the camb.h the program was built with; set by
    /// `camb_wait_options_default()` or `camb_wait_options_init()`. It lets a later
    /// libcamb add fields without breaking programs built before (docs/ABI.md).
    pub struct_size: usize,
    /// Pause after the first poll (default 2000). Must be > 0 and <= `max_interval_ms`.
    pub initial_interval_ms: u64,
    /// Each pause is the previous one times this, from 1 to 10 (default 1.5).
    pub backoff_factor: f64,
    /// The longest pause (default 15000; at most a day).
    pub max_interval_ms: u64,
    /// The whole wait ends by then, polls and pauses included (default 600000,
    /// ten minutes; from 1 to 86400000, a day).
    pub deadline_ms: u64,
}

/// The fields after `struct_size`, for reading and filling a caller's struct of
/// any size.
fn fields() -> [Field; 4] {
    [
        field!(camb_wait_options, initial_interval_ms),
        field!(camb_wait_options, backoff_factor),
        field!(camb_wait_options, max_interval_ms),
        field!(camb_wait_options, deadline_ms),
    ]
}

/// Fills `*options`, a struct of `struct_size` bytes (pass `sizeof` it), with the
/// defaults, which follow CAMB's advice (first pause 2 s, growing 1.5x up to 15 s,
/// for at most 10 minutes), and `struct_size` itself. A struct from an older
/// camb.h (smaller) gets the fields it has. C and C++ programs may call the
/// header's `camb_wait_options_default()` instead, which does this with the
/// header's size.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER`; `CAMB_RESULT_INVALID_PARAMETER` if
/// `struct_size` is larger than this library's struct (a program built with a newer
/// camb.h) or smaller than a `size_t`.
// The caller's part: `options` is NULL or valid for writing `struct_size` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_wait_options_init(
    options: *mut camb_wait_options,
    struct_size: usize,
) -> camb_result {
    result_call(|| {
        // SAFETY: NULL or `struct_size` writable bytes (the caller's part); the
        // struct's fields are integers and a float, valid whatever their bits.
        unsafe {
            init_sized(
                options,
                struct_size,
                camb_wait_options_default(),
                &fields(),
                "camb_wait_options",
            )
        }
    })
}

/// The defaults as this library's struct (for Rust; C and C++ get the header's
/// `camb_wait_options_default()`, which calls `camb_wait_options_init()`).
pub fn camb_wait_options_default() -> camb_wait_options {
    let defaults = WaitOptions::default();
    camb_wait_options {
        struct_size: std::mem::size_of::<camb_wait_options>(),
        initial_interval_ms: millis(defaults.initial_interval),
        backoff_factor: defaults.backoff_factor,
        max_interval_ms: millis(defaults.max_interval),
        deadline_ms: millis(defaults.deadline),
    }
}

/// What the progress callback is told after every poll. Everything it points to
/// is valid only during the callback.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct camb_wait_progress {
    /// Polls so far, this one included.
    pub polls: u32,
    /// Milliseconds since the wait began.
    pub elapsed_ms: u64,
    /// `CAMB_RESULT_OK` when this poll got a status; otherwise its failure: a
    /// transient one (connection, timeout, 429, 5xx) that the wait rides out, or,
    /// when `done` is set, the one that ends it.
    pub poll_result: u32,
    /// The `CAMB_STATUS_*` value, when `poll_result` is OK.
    pub status: u32,
    /// The status as sent, when `poll_result` is OK; NULL otherwise.
    pub status_text: *const c_char,
    /// Length of `status_text` in bytes, without its NUL.
    pub status_text_len: usize,
    /// The failure in words, when `poll_result` is not OK; NULL otherwise.
    pub error_message: *const c_char,
    /// Length of `error_message` in bytes, without its NUL.
    pub error_message_len: usize,
    /// True when the status differs from the previous poll's (always on the first
    /// successful poll): print a line when it is set.
    pub status_changed: bool,
    /// True when this poll ended the wait: the status is final, the failure will
    /// not go away, or no time is left for another poll before the deadline.
    pub done: bool,
    /// Milliseconds until the next poll; 0 when `done`.
    pub next_poll_in_ms: u64,
    /// The HTTP status behind a failed poll (`poll_result` not OK), or 0.
    pub http_status: u16,
}

/// Called after every poll of `camb_client_wait_for_task()` (and of
/// `camb_client_generate()`) on the waiting thread, the caller's own; a job
/// reports its progress through `camb_job_polls()` and `camb_job_task_status()`
/// instead.
/// Return true to keep waiting, false to stop the wait (it then fails with
/// `CAMB_RESULT_CANCELLED`); on the poll that ends the wait (`done`), the answer is
/// ignored and the wait returns the final status. It must not unwind (C++ exceptions, longjmp) through
/// libcamb, and must not free the client or token in use. It may call libcamb.
pub type camb_progress_fn = Option<
    unsafe extern "C" fn(progress: *const camb_wait_progress, user_data: *mut c_void) -> bool,
>;

/// Waits until a task's status is final (anything but PENDING: SUCCESS, ERROR,
/// TIMEOUT, PAYMENT_REQUIRED or a status this version does not know). On success
/// `*out_task` is a new `camb_task` with that status, which the caller frees with
/// `camb_task_free()`. A final status is a success of the wait: check
/// `camb_task_status()`. The wait never spins on ERROR or TIMEOUT.
///
/// Polls `GET /text-to-sound/{task_id}` with backoff per `options` (NULL: the
/// defaults). The thread sleeps between polls (no CPU is used); cancelling
/// `cancel` (may be NULL) from another thread wakes it at once. Transient failures
/// of a poll (connection, timeout, 408, 429, 5xx) are ridden out until the deadline;
/// others (401, 403, 404, 422, a malformed reply) end the wait with their code.
/// Each poll is bounded by the client's timeout and by the wait's deadline.
///
/// `progress` (may be NULL) is called after every poll with `user_data`.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER`; `CAMB_RESULT_INVALID_PARAMETER` (bad id or
/// options, or an options `struct_size` this library cannot read); `CAMB_RESULT_TIMEOUT` when the deadline passes while the task is
/// still pending (`camb_last_error()` names its last status);
/// `CAMB_RESULT_CANCELLED` (token or callback); and the non-transient errors of
/// `camb_client_get_task_status()`.
///
/// Thread-safety: any number of threads may wait on one client at once.
// The caller's part: `client` is NULL or a live client; `task_id` is NULL or NUL-terminated;
// `options` is NULL or a `camb_wait_options` of its `struct_size` bytes; `cancel` is NULL or a live
// token; `progress` is NULL or a function safe to call with `user_data`;
// `out_task` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_wait_for_task(
    client: *const camb_client,
    task_id: *const c_char,
    options: *const camb_wait_options,
    cancel: *const camb_cancel_token,
    progress: camb_progress_fn,
    user_data: *mut c_void,
    out_task: *mut *mut camb_task,
) -> camb_result {
    result_call(|| {
        // SAFETY: for each argument, the caller's contract above.
        let client = unsafe { client_arg(client) }?;
        // SAFETY: NULL or NUL-terminated.
        let task_id = unsafe { str_arg(task_id, "task_id") }?;
        out_arg(out_task, "out_task")?;
        // SAFETY: NULL or a camb_wait_options of its struct_size bytes (the
        // caller's contract); its fields are integers and a float, valid whatever
        // their bits.
        let options = unsafe { wait_options(options) }?;
        let report = progress_report(progress, user_data);
        let mut work = WaitWork::new(client, task_id, &options, report, Arc::default())?;
        // SAFETY: NULL or a live token.
        let (task_id, info) = unsafe { run_blocking(&mut work, cancel) }?.into_task()?;
        // SAFETY: checked non-NULL above; the caller passes a writable pointer.
        unsafe { give_task(out_task, camb_task::from_outcome(&task_id, Ok(info))) };
        Ok(())
    })
}

/// The caller's progress callback as a wait's report, called on this thread
/// only (the blocking call's): `None` without a callback.
pub(crate) fn progress_report<'a>(
    progress: camb_progress_fn,
    user_data: *mut c_void,
) -> Option<Report<'a>> {
    let callback = progress?;
    // Kept as an address so that the report is Send, as every wait's is; it is
    // only ever called on the thread of the blocking call that made it.
    let user_data = user_data as usize;
    Some(Box::new(move |step: &Progress| {
        // SAFETY: the caller vouches for the callback and its user_data.
        report(step, |c_progress| unsafe {
            callback(c_progress, user_data as *mut c_void)
        })
    }))
}

/// Builds the C view of one step (its strings owned here, for the callback's
/// duration only, so a callback calling libcamb cannot invalidate them) and calls.
/// The wait `options` ask for (NULL: the defaults), from an older or this camb.h.
///
/// # Safety
/// `options` is NULL or a `camb_wait_options` of its `struct_size` bytes.
pub(crate) unsafe fn wait_options(options: *const camb_wait_options) -> Result<WaitOptions, Error> {
    // SAFETY: per this function's contract; the struct's fields are integers and
    // a float, valid whatever their bits.
    let options = unsafe {
        read_sized(
            options,
            camb_wait_options_default(),
            &fields(),
            "camb_wait_options",
        )
    }?;
    Ok(WaitOptions {
        initial_interval: Duration::from_millis(options.initial_interval_ms),
        backoff_factor: options.backoff_factor,
        max_interval: Duration::from_millis(options.max_interval_ms),
        deadline: Duration::from_millis(options.deadline_ms),
    })
}

fn report(step: &Progress, call: impl FnOnce(*const camb_wait_progress) -> bool) -> bool {
    // NUL-terminated copies, alive until the callback returns.
    let c_text = |text: &str| {
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(0);
        bytes
    };
    let status_text = step.info.map(|info| c_text(&info.status_text));
    let error_text = step.error.map(|e| c_text(e.message()));
    let status =
        step.info
            .map_or(camb_status::Unknown, |info| camb_status::from(info.status)) as u32;
    let text_out = |text: &Option<Vec<u8>>| {
        text.as_ref().map_or((std::ptr::null(), 0), |t| {
            (t.as_ptr().cast::<c_char>(), t.len() - 1)
        })
    };
    let (status_text_ptr, status_text_len) = text_out(&status_text);
    let (error_message, error_message_len) = text_out(&error_text);
    let c_progress = camb_wait_progress {
        polls: step.polls,
        elapsed_ms: millis(step.elapsed),
        poll_result: step
            .error
            .map_or(camb_result::Ok, |e| camb_result::from(e.kind())) as u32,
        status,
        status_text: status_text_ptr,
        status_text_len,
        error_message,
        error_message_len,
        status_changed: step.status_changed,
        done: step.next_poll_in.is_none(),
        // Rounded up: a pause under 1 ms must not read as 0, which means "done".
        next_poll_in_ms: step.next_poll_in.map_or(0, |d| millis(d).max(1)),
        http_status: step.error.and_then(Error::http_status).unwrap_or(0),
    };
    call(&c_progress)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
