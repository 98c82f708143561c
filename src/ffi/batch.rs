//! `camb_client_get_task_statuses()`: many statuses in one call.

use std::ffi::c_char;

use crate::error::Error;
use crate::ffi::boundary::{null_parameter, out_arg, result_call, str_arg};
use crate::ffi::cancel::{camb_cancel_token, run_blocking};
use crate::ffi::client::{camb_client, client_arg};
use crate::ffi::result_code::camb_result;
use crate::ffi::task::{camb_task, camb_task_list};
use crate::operations::{BatchWork, Statuses};

/// Asks for the statuses of `count` tasks at once, running up to
/// `max_connections` requests at a time (0: 8; at most 32) over the client's
/// shared keep-alive connections. Each query is retried like
/// `camb_client_get_task_status()`, and succeeds or fails on its own; the
/// client's timeout bounds the batch as a whole (entries not answered by then
/// fail with `CAMB_RESULT_TIMEOUT`).
///
/// On success `*out_list` is a new `camb_task_list` with one task per id, in
/// order (`camb_task_list_get(list, i)` is `task_ids[i]`'s); the caller frees it
/// with `camb_task_list_free()`. The call succeeds once every task is there,
/// whatever each says: check each one's `camb_task_result()`. A NULL or invalid id
/// fails only its own task (`CAMB_RESULT_NULL_PARAMETER`,
/// `CAMB_RESULT_INVALID_PARAMETER`; its `camb_task_id()` is then the id as given,
/// with U+FFFD for bytes that are not UTF-8, or "" for NULL). `cancel` (may be
/// NULL) stops it from another thread: ids not yet asked for then fail with
/// `CAMB_RESULT_CANCELLED`; a token cancelled before the call cancels it whole.
///
/// The calling thread and threads of the batch's own run the queries; those
/// are started per call (not per task) and joined before it returns. `count`
/// may be 0 (an empty list; `task_ids` may then be NULL).
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER` if `client` or `out_list`, or with
/// `count` > 0 `task_ids`, is NULL; `CAMB_RESULT_INVALID_PARAMETER` if `count` is
/// over 100000 or `max_connections` over 32. Its job form is
/// `camb_client_job_get_task_statuses()`.
// The caller's part: `client` is NULL or a live client; `task_ids` is NULL or holds
// `count` pointers, each NULL or NUL-terminated; `cancel` is NULL or a live token;
// `out_list` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_get_task_statuses(
    client: *const camb_client,
    task_ids: *const *const c_char,
    count: usize,
    max_connections: u32,
    cancel: *const camb_cancel_token,
    out_list: *mut *mut camb_task_list,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller passes NULL or a live client.
        let client = unsafe { client_arg(client) }?;
        out_arg(out_list, "out_list")?;
        // SAFETY: `count` pointers, each NULL or NUL-terminated.
        let ids = unsafe { batch_ids(task_ids, count) }?;
        let connections = usize::try_from(max_connections).unwrap_or(usize::MAX);
        let mut work = BatchWork::new(client, ids, connections)?;
        // SAFETY: NULL or a live token.
        let statuses = unsafe { run_blocking(&mut work, cancel) }?.into_statuses()?;
        let list = Box::into_raw(Box::new(task_list(statuses)));
        // SAFETY: checked non-NULL above; the caller passes a writable pointer.
        unsafe { out_list.write(list) };
        Ok(())
    })
}

/// The list of a batch's statuses, in order.
pub(crate) fn task_list(statuses: Statuses) -> camb_task_list {
    camb_task_list::new(
        statuses
            .into_iter()
            .map(|(id, outcome)| camb_task::from_outcome(&id, outcome))
            .collect(),
    )
}

/// The ids of a batch, each as given, with why it cannot be asked for when it
/// cannot (NULL, not UTF-8): that entry alone fails.
///
/// # Safety
/// `task_ids` is NULL or points to `count` pointers, each NULL or NUL-terminated.
pub(crate) unsafe fn batch_ids(
    task_ids: *const *const c_char,
    count: usize,
) -> Result<Vec<(String, Option<Error>)>, Error> {
    // SAFETY: per this function's contract.
    let pointers = unsafe { id_pointers(task_ids, count) }?;
    Ok(pointers
        .iter()
        .map(|&pointer| {
            // SAFETY: NULL or NUL-terminated, per the contract.
            match unsafe { str_arg(pointer, "task_id") } {
                Ok(id) => (id.to_owned(), None),
                // SAFETY: as above.
                Err(error) => (unsafe { lossy_text(pointer) }, Some(error)),
            }
        })
        .collect())
}

/// The `count` id pointers at `task_ids`, once `count` is within the limit and
/// `task_ids` is not NULL (it may be when `count` is 0).
///
/// # Safety
/// `task_ids` is NULL or points to `count` pointers.
unsafe fn id_pointers<'a>(
    task_ids: *const *const c_char,
    count: usize,
) -> Result<&'a [*const c_char], Error> {
    if count == 0 {
        return Ok(&[]);
    }
    if task_ids.is_null() {
        return Err(null_parameter("task_ids"));
    }
    if count > crate::operations::MAX_BATCH_SIZE {
        return Err(Error::invalid(format!(
            "{count} task ids were given; the limit is {} per call",
            crate::operations::MAX_BATCH_SIZE
        )));
    }
    // SAFETY: non-NULL and `count` pointers long, per this function's contract.
    Ok(unsafe { std::slice::from_raw_parts(task_ids, count) })
}

/// The text at `pointer` as given, bytes that are not UTF-8 replaced; "" for NULL.
///
/// # Safety
/// `pointer` is NULL or NUL-terminated.
unsafe fn lossy_text(pointer: *const c_char) -> String {
    if pointer.is_null() {
        return String::new();
    }
    // SAFETY: non-NULL and NUL-terminated, per this function's contract.
    let bytes = unsafe { std::ffi::CStr::from_ptr(pointer) }.to_bytes();
    String::from_utf8_lossy(bytes).into_owned()
}
