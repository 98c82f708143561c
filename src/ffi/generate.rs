//! `camb_client_generate()`: prompt to WAV file in one call.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use crate::ffi::boundary::{path_arg, result_call, str_arg};
use crate::ffi::cancel::{camb_cancel_token, run_blocking};
use crate::ffi::client::{camb_client, client_arg};
use crate::ffi::create::{camb_create_options, create_request};
use crate::ffi::result_code::camb_result;
use crate::ffi::task::{camb_task, give_task};
use crate::ffi::wait::{
    camb_progress_fn, camb_wait_options, progress_report, wait_options as read_wait_options,
};
use crate::operations::GenerateWork;

/// Prompt to WAV file: creates a task from `prompt` and `create_options` (as
/// `camb_client_create_task()`), waits for it with `wait_options`, telling
/// `progress` of each poll (as `camb_client_wait_for_task()`), and saves its
/// audio to `path` (the rules of `camb_client_save_audio()`).
///
/// Everything that can be checked is checked before any task is created (and
/// billed): the prompt, both options, and `path`, which is refused with the
/// words and code `camb_client_save_audio()` would give (a missing or
/// unwritable directory, a directory, a socket, a symlink loop) without being
/// opened: a FIFO is only looked at. The save looks at `path` again, as it may
/// change while the task runs.
///
/// On success `*out_task` (unless NULL) is a new `camb_task` with the task's id
/// and final status, for the caller to free, and `*out_bytes` (unless NULL) the
/// bytes saved. A task that ends without audio (ERROR, TIMEOUT,
/// PAYMENT_REQUIRED...) fails with `CAMB_RESULT_TASK_FAILED`, and
/// `camb_last_error()` says how it ended and why. `cancel` (may be NULL) stops
/// it from another thread, at once while it waits.
///
/// Errors: those of the create, the wait and the save, and
/// `CAMB_RESULT_TASK_FAILED`. Its job form is `camb_client_job_generate()`.
// The caller's part: `client` is NULL or a live client; `prompt` and `path` are NULL or
// NUL-terminated; each options pointer is NULL or a struct of its `struct_size`;
// `cancel` is NULL or a live token; `progress` is NULL or safe to call with
// `user_data`; `out_task` and `out_bytes` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_generate(
    client: *const camb_client,
    prompt: *const c_char,
    create_options: *const camb_create_options,
    wait_options: *const camb_wait_options,
    path: *const c_char,
    cancel: *const camb_cancel_token,
    progress: camb_progress_fn,
    user_data: *mut c_void,
    out_task: *mut *mut camb_task,
    out_bytes: *mut u64,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller passes NULL or a live client.
        let client = unsafe { client_arg(client) }?;
        // SAFETY: NULL or NUL-terminated.
        let prompt = unsafe { str_arg(prompt, "prompt") }?;
        // SAFETY: NULL or a camb_create_options of its struct_size bytes.
        let request = unsafe { create_request(prompt, create_options) }?;
        // SAFETY: NULL or a camb_wait_options of its struct_size bytes.
        let options = unsafe { read_wait_options(wait_options) }?;
        // SAFETY: NULL or NUL-terminated.
        let path = unsafe { path_arg(path) }?;
        let report = progress_report(progress, user_data);
        let mut work = GenerateWork::new(client, request, &options, path, report, Arc::default())?;
        // SAFETY: NULL or a live token.
        let (task_id, info, bytes) =
            unsafe { run_blocking(&mut work, cancel) }?.into_generated()?;
        if !out_task.is_null() {
            // SAFETY: not NULL, and writable per the contract.
            unsafe { give_task(out_task, camb_task::from_outcome(&task_id, Ok(info))) };
        }
        if !out_bytes.is_null() {
            // SAFETY: not NULL, and writable per the contract.
            unsafe { out_bytes.write(bytes) };
        }
        Ok(())
    })
}
