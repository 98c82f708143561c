//! `camb_client_get_task_statuses()`: many statuses in one call.

use std::ffi::c_char;

use crate::error::Error;
use crate::ffi::boundary::{null_parameter, out_arg, result_call, str_arg};
use crate::ffi::client::{camb_client, client_arg};
use crate::ffi::result_code::camb_result;
use crate::ffi::task::{camb_task, camb_task_list};

/// Asks for the statuses of `count` tasks at once, running up to
/// `max_connections` requests at a time (0: 8; at most 32) over the client's
/// shared keep-alive connections. Each query is retried and bounded like
/// `camb_client_get_task_status()`, and succeeds or fails on its own.
///
/// On success `*out_list` is a new `camb_task_list` with one task per id, in
/// order (`camb_task_list_get(list, i)` is `task_ids[i]`'s); the caller frees it
/// with `camb_task_list_free()`. The call succeeds once every task is there,
/// whatever each says: check each one's `camb_task_result()`. A NULL or invalid id
/// fails only its own task (`CAMB_RESULT_NULL_PARAMETER`,
/// `CAMB_RESULT_INVALID_PARAMETER`; its `camb_task_id()` is then the id as given,
/// with U+FFFD for bytes that are not UTF-8, or "" for NULL).
///
/// Worker threads are started per call (not per task) and joined before it
/// returns. `count` may be 0 (an empty list; `task_ids` may then be NULL).
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER` if `client` or `out_list`, or with
/// `count` > 0 `task_ids`, is NULL; `CAMB_RESULT_INVALID_PARAMETER` if `count` is
/// over 100000 or `max_connections` over 32.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_get_task_statuses(
    client: *const camb_client,
    task_ids: *const *const c_char,
    count: usize,
    max_connections: u32,
    out_list: *mut *mut camb_task_list,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller passes NULL or a live client.
        let client = unsafe { client_arg(client) }?;
        out_arg(out_list, "out_list")?;
        // SAFETY: `count` pointers, per the caller's contract.
        let pointers = unsafe { id_pointers(task_ids, count) }?;
        // Each id is checked on its own; only the good ones are sent.
        let ids: Vec<Result<&str, Error>> = pointers
            .iter()
            // SAFETY: each pointer is NULL or NUL-terminated, per the contract.
            .map(|&id| unsafe { str_arg(id, "task_id") })
            .collect();
        let sendable: Vec<&str> = ids
            .iter()
            .filter_map(|id| id.as_ref().ok().copied())
            .collect();
        let connections = usize::try_from(max_connections).unwrap_or(usize::MAX);
        let mut fetched = client
            .get_task_statuses(&sendable, connections)?
            .into_iter();
        let tasks: Vec<camb_task> = ids
            .into_iter()
            .zip(pointers)
            .map(|(id, &pointer)| match id {
                Ok(id) => {
                    let outcome = fetched.next().unwrap_or_else(|| {
                        Err(Error::invalid("internal error: missing batch entry"))
                    });
                    camb_task::from_outcome(id, outcome)
                }
                Err(e) => {
                    // SAFETY: NULL or NUL-terminated, per the contract.
                    let as_given = unsafe { lossy_text(pointer) };
                    camb_task::from_outcome(&as_given, Err(e))
                }
            })
            .collect();
        let list = Box::into_raw(Box::new(camb_task_list::new(tasks)));
        // SAFETY: checked non-NULL above; the caller passes a writable pointer.
        unsafe { out_list.write(list) };
        Ok(())
    })
}

/// The `count` id pointers at `task_ids`, once `count` is within the limit and
/// `task_ids` is not NULL (it may be when `count` is 0).
///
/// # Safety
/// `task_ids` is NULL or points to `count` pointers.
pub(crate) unsafe fn id_pointers<'a>(
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
