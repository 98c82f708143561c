//! `camb_client_get_task_statuses()`: many statuses in one call.

use std::ffi::c_char;

use crate::error::Error;
use crate::ffi::boundary::{null_parameter, result_call, str_arg};
use crate::ffi::client::{camb_client, client_arg};
use crate::ffi::result::camb_result;
use crate::ffi::task_info::{ReplyStrings, camb_task_info, to_c};
use crate::task::TaskInfo;

/// One task's outcome in `camb_client_get_task_statuses()`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct camb_task_status_entry {
    /// This task's `camb_result`: `CAMB_RESULT_OK`, or why its status is unknown
    /// (`CAMB_RESULT_NOT_FOUND`, `CAMB_RESULT_TIMEOUT`, ...).
    pub result: u32,
    /// The HTTP status behind a failed `result`, or 0.
    pub http_status: u16,
    /// The task's status, when `result` is `CAMB_RESULT_OK` (zeroed otherwise).
    pub info: camb_task_info,
    /// The failure in words, when `result` is not OK; NULL otherwise.
    pub error_message: *const c_char,
    pub error_message_len: usize,
}

/// Asks for the statuses of `count` tasks at once (`task_ids[i]` into
/// `out_entries[i]`), running up to `max_connections` requests at a time (0: 8;
/// at most 32) over the client's shared keep-alive connections. Each query is
/// retried and bounded like `camb_client_get_task_status()`, and succeeds or fails
/// on its own: look at each entry's `result`.
///
/// The call returns `CAMB_RESULT_OK` once every entry is filled, whatever the
/// entries say. Their strings (in `info` and `error_message`) live in this thread's
/// reply storage, as for `camb_task_info`. A NULL or invalid id fails only its entry
/// (`CAMB_RESULT_NULL_PARAMETER`, `CAMB_RESULT_INVALID_PARAMETER`).
///
/// Worker threads are started per call (not per task) and joined before it
/// returns. `count` may be 0 (then the arrays may be NULL).
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER` if `client`, or with `count` > 0
/// `task_ids` or `out_entries`, is NULL; `CAMB_RESULT_INVALID_PARAMETER` if
/// `count` is over 100000 or `max_connections` over 32. On failure `out_entries` is
/// unchanged.
///
/// # Safety
/// `client` is NULL or a live client; `task_ids` is NULL or points to `count`
/// pointers, each NULL or NUL-terminated; `out_entries` is NULL or valid for
/// writing `count` entries.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_get_task_statuses(
    client: *const camb_client,
    task_ids: *const *const c_char,
    count: usize,
    max_connections: u32,
    out_entries: *mut camb_task_status_entry,
) -> camb_result {
    result_call(|| {
        // SAFETY: for each argument, the caller's contract above.
        let client = unsafe { client_arg(client) }?;
        if count == 0 {
            return Ok(());
        }
        if task_ids.is_null() {
            return Err(null_parameter("task_ids"));
        }
        if out_entries.is_null() {
            return Err(null_parameter("out_entries"));
        }
        if count > crate::batch::MAX_BATCH_SIZE {
            return Err(Error::invalid(format!(
                "{count} task ids were given; the limit is {} per call",
                crate::batch::MAX_BATCH_SIZE
            )));
        }
        // SAFETY: non-NULL and `count` pointers long, per the contract.
        let pointers = unsafe { std::slice::from_raw_parts(task_ids, count) };
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
        let outcomes: Vec<Result<TaskInfo, Error>> = ids
            .into_iter()
            .map(|id| match id {
                Ok(_) => fetched
                    .next()
                    .unwrap_or_else(|| Err(Error::invalid("internal error: missing batch entry"))),
                Err(e) => Err(e),
            })
            .collect();
        let mut strings = ReplyStrings::default();
        let entries: Vec<camb_task_status_entry> = outcomes
            .iter()
            .map(|outcome| entry(outcome, &mut strings))
            .collect();
        strings.commit()?;
        // SAFETY: out_entries is non-NULL and holds `count` entries, per the contract.
        unsafe { std::ptr::copy_nonoverlapping(entries.as_ptr(), out_entries, entries.len()) };
        Ok(())
    })
}

fn entry(outcome: &Result<TaskInfo, Error>, strings: &mut ReplyStrings) -> camb_task_status_entry {
    match outcome {
        Ok(info) => camb_task_status_entry {
            result: camb_result::Ok as u32,
            http_status: 0,
            info: to_c(info, strings),
            error_message: std::ptr::null(),
            error_message_len: 0,
        },
        Err(error) => {
            let (error_message, error_message_len) = strings.keep(error.message());
            camb_task_status_entry {
                result: camb_result::from(error.kind()) as u32,
                http_status: error.http_status().unwrap_or(0),
                info: camb_task_info::empty(),
                error_message,
                error_message_len,
            }
        }
    }
}
