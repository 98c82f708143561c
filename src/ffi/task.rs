//! `camb_task`: one task's status (or why it could not be had), an object the
//! caller owns; and `camb_task_list`, the tasks of one batch call.

use std::ffi::c_char;

use crate::error::Error;
use crate::ffi::boundary::{out_arg, result_call, str_arg, value_call, void_call};
use crate::ffi::cancel::{camb_cancel_token, run_blocking};
use crate::ffi::client::{camb_client, client_arg};
use crate::ffi::result_code::{camb_result, camb_status};
use crate::ffi::string::OwnedText;
use crate::operations::StatusWork;
use crate::task::TaskInfo;

/// A task's status as the server reported it, or why it is not known. Made by
/// `camb_client_get_task_status()` and `camb_client_wait_for_task()` (the caller
/// owns it and frees it with `camb_task_free()`) and found in a
/// `camb_task_list` (owned by the list).
///
/// Everything it holds is its own: its strings stay valid until it is freed,
/// whatever the program calls meanwhile, on any thread. It never changes, so
/// any number of threads may read it at once; hand it to another thread freely.
///
/// Each string comes with its length in bytes (without the terminating NUL), so
/// text that holds a NUL byte (JSON allows "\u0000") can still be read in full.
/// Pass NULL as `out_len` when the length is not needed.
///
/// Functions: `camb_task_result()`, `camb_task_error()`,
/// `camb_task_http_status()`, `camb_task_id()`, `camb_task_status()`,
/// `camb_task_status_text()`, `camb_task_run_id()`,
/// `camb_task_exception_reason()`, `camb_task_message()`, `camb_task_free()`.
pub struct camb_task {
    task_id: OwnedText,
    outcome: Outcome,
}

enum Outcome {
    Status(Status),
    Failed {
        result: camb_result,
        http_status: u16,
        message: OwnedText,
    },
}

struct Status {
    status: camb_status,
    status_text: OwnedText,
    run_id: Option<i64>,
    exception_reason: Option<OwnedText>,
    message: Option<OwnedText>,
}

impl camb_task {
    pub(crate) fn from_outcome(task_id: &str, outcome: Result<TaskInfo, Error>) -> camb_task {
        let outcome = match outcome {
            Ok(info) => Outcome::Status(Status {
                status: camb_status::from(info.status),
                status_text: OwnedText::new(&info.status_text),
                run_id: info.run_id,
                exception_reason: info.exception_reason.as_deref().map(OwnedText::new),
                message: info.message.as_deref().map(OwnedText::new),
            }),
            Err(error) => Outcome::Failed {
                result: camb_result::from(error.kind()),
                http_status: error.http_status().unwrap_or(0),
                message: OwnedText::new(error.message()),
            },
        };
        camb_task {
            task_id: OwnedText::new(task_id),
            outcome,
        }
    }

    fn status(&self) -> Option<&Status> {
        match &self.outcome {
            Outcome::Status(status) => Some(status),
            Outcome::Failed { .. } => None,
        }
    }
}

/// Asks for the status of a text-to-sound task: `GET {base_url}/text-to-sound/{task_id}`.
///
/// `task_id` is the id returned when the task was created. It is sent as exactly
/// one URL path segment, percent-encoded (so "/", "?" or "%" in it cannot change
/// what is asked for). Transient failures (connection failures, 408, 429, 5xx) are
/// retried within the client's timeout.
///
/// On success `*out_task` is a new `camb_task` that the caller frees with
/// `camb_task_free()`; on failure it is left unchanged and `camb_last_error()`
/// says why, in the server's own words where it gave any.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER` if any pointer is NULL;
/// `CAMB_RESULT_INVALID_PARAMETER` if `task_id` is empty, not UTF-8, longer than
/// 1024 bytes, or "." or ".."; `CAMB_RESULT_UNAUTHORIZED` (401),
/// `CAMB_RESULT_PAYMENT_REQUIRED` (402), `CAMB_RESULT_FORBIDDEN` (403),
/// `CAMB_RESULT_NOT_FOUND` (404, no such task), `CAMB_RESULT_VALIDATION` (422),
/// `CAMB_RESULT_RATE_LIMITED` (429), `CAMB_RESULT_SERVER_ERROR` (5xx),
/// `CAMB_RESULT_HTTP_STATUS` (other non-2xx); `CAMB_RESULT_CONNECT`,
/// `CAMB_RESULT_TIMEOUT`; `CAMB_RESULT_BAD_RESPONSE` if the reply is not the
/// documented JSON or exceeds 1 MiB.
///
/// `cancel` (may be NULL) stops the call from another thread: a retry's wait
/// ends at once and no request is sent after it (`CAMB_RESULT_CANCELLED`).
///
/// Thread-safety: any number of threads may call this on one client at once.
/// Its job form is `camb_client_job_get_task_status()`.
// The caller's part: `client` is NULL or a live client; `task_id` is NULL or
// NUL-terminated; `cancel` is NULL or a live token; `out_task` is NULL or
// valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_get_task_status(
    client: *const camb_client,
    task_id: *const c_char,
    cancel: *const camb_cancel_token,
    out_task: *mut *mut camb_task,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller passes NULL or a live client.
        let client = unsafe { client_arg(client) }?;
        // SAFETY: the caller passes NULL or a NUL-terminated string.
        let task_id = unsafe { str_arg(task_id, "task_id") }?;
        out_arg(out_task, "out_task")?;
        let mut work = StatusWork::new(client, task_id, None)?;
        // SAFETY: NULL or a live token.
        let (task_id, info) = unsafe { run_blocking(&mut work, cancel) }?.into_task()?;
        // SAFETY: checked non-NULL above; the caller passes a writable pointer.
        unsafe { give_task(out_task, camb_task::from_outcome(&task_id, Ok(info))) };
        Ok(())
    })
}

/// Hands a new task to the caller through `out` (checked non-NULL by the caller).
///
/// # Safety
/// `out` is valid for writing one pointer.
pub(crate) unsafe fn give_task(out: *mut *mut camb_task, task: camb_task) {
    // SAFETY: per this function's contract.
    unsafe { out.write(Box::into_raw(Box::new(task))) };
}

/// Runs an accessor: `default` for a NULL task, and for a panic (which cannot
/// cross into C; accessors have no result code to report it with).
fn read<T>(task: *const camb_task, default: T, get: impl FnOnce(&camb_task) -> T) -> T {
    // SAFETY: the caller passes NULL or a live camb_task (the contract of every
    // accessor); it is only read.
    let Some(task) = (unsafe { task.as_ref() }) else {
        return default;
    };
    value_call(default, || get(task))
}

/// A string out: its pointer (NULL when absent), its length into `out_len`.
fn text_out(text: Option<&OwnedText>, out_len: *mut usize) -> *const c_char {
    // SAFETY: the caller of every accessor passes NULL or a writable size_t.
    unsafe { OwnedText::lend(text, out_len) }
}

/// Writes 0 to `out_len` (when not NULL) for a NULL task.
fn no_text(out_len: *mut usize) -> *const c_char {
    text_out(None, out_len)
}

/// `CAMB_RESULT_OK` when the task has a status; otherwise why it has none (in a
/// `camb_task_list`: `CAMB_RESULT_NOT_FOUND`, `CAMB_RESULT_TIMEOUT`, ...).
/// `CAMB_RESULT_NULL_PARAMETER` for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_task_result(task: *const camb_task) -> camb_result {
    read(task, camb_result::NullParameter, |t| match &t.outcome {
        Outcome::Status(_) => camb_result::Ok,
        Outcome::Failed { result, .. } => *result,
    })
}

/// Why the task has no status, in words (what `camb_last_error()` said when the
/// query failed); NULL when it has one, or for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_task_error(
    task: *const camb_task,
    out_len: *mut usize,
) -> *const c_char {
    read(task, no_text(out_len), |t| match &t.outcome {
        Outcome::Status(_) => text_out(None, out_len),
        Outcome::Failed { message, .. } => text_out(Some(message), out_len),
    })
}

/// The HTTP status behind a failed query, or 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_task_http_status(task: *const camb_task) -> u16 {
    read(task, 0, |t| match &t.outcome {
        Outcome::Status(_) => 0,
        Outcome::Failed { http_status, .. } => *http_status,
    })
}

/// The task id that was asked for. Never NULL for a task ("" for NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_task_id(
    task: *const camb_task,
    out_len: *mut usize,
) -> *const c_char {
    read(task, empty_text(out_len), |t| {
        text_out(Some(&t.task_id), out_len)
    })
}

fn empty_text(out_len: *mut usize) -> *const c_char {
    no_text(out_len);
    c"".as_ptr()
}

/// A `CAMB_STATUS_*` value; every one but `CAMB_STATUS_PENDING` is final.
/// `CAMB_STATUS_UNKNOWN` when the task has no status (see `camb_task_result()`)
/// or the server sent a status this version does not know (see
/// `camb_task_status_text()`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_task_status(task: *const camb_task) -> camb_status {
    read(task, camb_status::Unknown, |t| {
        t.status().map_or(camb_status::Unknown, |s| s.status)
    })
}

/// The status exactly as the server sent it ("SUCCESS", or an unknown value such
/// as "FAILED"); NULL when the task has no status.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_task_status_text(
    task: *const camb_task,
    out_len: *mut usize,
) -> *const c_char {
    read(task, no_text(out_len), |t| {
        text_out(t.status().map(|s| &s.status_text), out_len)
    })
}

/// The run id, needed to fetch the audio: true and `*out_run_id` set when the
/// server sent one (it sends none while the task is pending); false otherwise.
/// `out_run_id` may be NULL to ask only whether there is one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_task_run_id(task: *const camb_task, out_run_id: *mut i64) -> bool {
    read(task, false, |t| match t.status().and_then(|s| s.run_id) {
        Some(run_id) => {
            if !out_run_id.is_null() {
                // SAFETY: non-NULL, and the caller passes a writable int64_t.
                unsafe { out_run_id.write(run_id) };
            }
            true
        }
        None => false,
    })
}

/// Why the task failed, such as "PROCESSING_ERROR" or "HARMFUL_CONTENT_DETECTED";
/// NULL when the server sent none.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_task_exception_reason(
    task: *const camb_task,
    out_len: *mut usize,
) -> *const c_char {
    read(task, no_text(out_len), |t| {
        text_out(
            t.status().and_then(|s| s.exception_reason.as_ref()),
            out_len,
        )
    })
}

/// The server's message: its text when it sent a string, compact JSON when it
/// sent an object; NULL when it sent none.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_task_message(
    task: *const camb_task,
    out_len: *mut usize,
) -> *const c_char {
    read(task, no_text(out_len), |t| {
        text_out(t.status().and_then(|s| s.message.as_ref()), out_len)
    })
}

/// Frees a task made by `camb_client_get_task_status()` or
/// `camb_client_wait_for_task()`, and the strings read from it. NULL is a no-op.
/// Never pass a task found in a `camb_task_list` (the list owns those), nor a
/// task twice.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_task_free(task: *mut camb_task) {
    void_call(|| {
        if !task.is_null() {
            // SAFETY: the caller passes a task libcamb made with Box::into_raw and
            // gave away (not one of a list), freed once.
            drop(unsafe { Box::from_raw(task) });
        }
    })
}

/// The outcome of `camb_client_get_task_statuses()`: one `camb_task` per task id
/// asked for, in the same order, each with its own result. The caller owns the
/// list and frees it with `camb_task_list_free()`; the tasks in it, and their
/// strings, stay valid until then, whatever the program calls meanwhile.
///
/// Functions: `camb_task_list_len()`, `camb_task_list_get()`,
/// `camb_task_list_free()`.
pub struct camb_task_list {
    tasks: Vec<camb_task>,
}

impl camb_task_list {
    pub(crate) fn new(tasks: Vec<camb_task>) -> camb_task_list {
        camb_task_list { tasks }
    }
}

/// How many tasks the list holds (as many as task ids were asked for); 0 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_task_list_len(list: *const camb_task_list) -> usize {
    // SAFETY: the caller passes NULL or a live list.
    value_call(0, || unsafe { list.as_ref() }.map_or(0, |l| l.tasks.len()))
}

/// The task at `index` (from 0), owned by the list: valid until the list is
/// freed, and never freed on its own. NULL when `index` is past the end, or for
/// a NULL list. Check `camb_task_result()`: a task whose query failed is there
/// too, with the reason.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_task_list_get(
    list: *const camb_task_list,
    index: usize,
) -> *const camb_task {
    value_call(std::ptr::null(), || {
        // SAFETY: the caller passes NULL or a live list.
        unsafe { list.as_ref() }
            .and_then(|l| l.tasks.get(index))
            .map_or(std::ptr::null(), std::ptr::from_ref)
    })
}

/// Frees a list and every task in it. NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_task_list_free(list: *mut camb_task_list) {
    void_call(|| {
        if !list.is_null() {
            // SAFETY: the caller passes a list libcamb made with Box::into_raw,
            // freed once.
            drop(unsafe { Box::from_raw(list) });
        }
    })
}
