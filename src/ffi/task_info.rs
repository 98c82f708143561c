//! `camb_task_info` and the per-thread storage its strings point into.

use std::cell::RefCell;
use std::ffi::c_char;

use crate::ffi::result::camb_status;
use crate::task::{TaskInfo, TaskStatus};

/// A task's status as the server reported it, filled in by
/// `camb_client_get_task_status()`.
///
/// The string fields point into memory that libcamb keeps for the calling thread:
/// the caller never frees them. They stay valid until the same thread's next
/// successful `camb_client_get_task_status()` (on any client) or until the thread
/// exits; copy them to keep them longer. Nothing is truncated: each string is
/// complete, NUL-terminated, and its length in bytes (without the NUL) is given
/// too, so text that itself contains a NUL byte (JSON allows "\u0000") can still be
/// read in full through the length.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct camb_task_info {
    /// A `CAMB_STATUS_*` value. Every value but `CAMB_STATUS_PENDING` is final.
    pub status: u32,
    /// False when the server sent `null` or no `run_id` (as it does while pending).
    pub has_run_id: bool,
    /// The run id, needed to fetch the audio; meaningful only when `has_run_id`.
    pub run_id: i64,
    /// The status exactly as the server sent it ("SUCCESS", or an unknown value
    /// such as "FAILED" when `status` is `CAMB_STATUS_UNKNOWN`). Never NULL.
    pub status_text: *const c_char,
    /// Length of `status_text` in bytes, without the terminating NUL.
    pub status_text_len: usize,
    /// Why the task failed, such as "PROCESSING_ERROR" or "HARMFUL_CONTENT_DETECTED";
    /// NULL when the server sent none.
    pub exception_reason: *const c_char,
    /// Length of `exception_reason` in bytes; 0 when it is NULL.
    pub exception_reason_len: usize,
    /// The server's message: its text when it sent a string, or compact JSON when
    /// it sent an object; NULL when it sent none.
    pub message: *const c_char,
    /// Length of `message` in bytes; 0 when it is NULL.
    pub message_len: usize,
}

thread_local! {
    /// The strings of this thread's last successful reply. Each is NUL-terminated.
    /// Replaced wholesale on the next success, never touched by a failure.
    static REPLY_STRINGS: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
}

/// Builds the C view of `info`, moving its strings into this thread's storage.
/// Returns `None` only if this thread's storage is gone (thread teardown).
pub(crate) fn to_c(infos: &[TaskInfo]) -> Option<Vec<camb_task_info>> {
    let mut storage: Vec<Box<[u8]>> = Vec::with_capacity(infos.len() * 3);
    let mut keep = |text: &str| -> (*const c_char, usize) {
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(0);
        let boxed = bytes.into_boxed_slice();
        // The heap block does not move when the Box moves into `storage`.
        let ptr = boxed.as_ptr().cast::<c_char>();
        storage.push(boxed);
        (ptr, text.len())
    };
    let mut out = Vec::with_capacity(infos.len());
    for info in infos {
        let (status_text, status_text_len) = match static_status_text(info.status) {
            Some(text) => (text.as_ptr(), text.count_bytes()),
            None => keep(&info.status_text),
        };
        let (exception_reason, exception_reason_len) = info
            .exception_reason
            .as_deref()
            .map_or((std::ptr::null(), 0), &mut keep);
        let (message, message_len) = info
            .message
            .as_deref()
            .map_or((std::ptr::null(), 0), &mut keep);
        out.push(camb_task_info {
            status: camb_status::from(info.status) as u32,
            has_run_id: info.run_id.is_some(),
            run_id: info.run_id.unwrap_or(0),
            status_text,
            status_text_len,
            exception_reason,
            exception_reason_len,
            message,
            message_len,
        });
    }
    REPLY_STRINGS
        .try_with(|slot| slot.try_borrow_mut().map(|mut s| *s = storage).ok())
        .ok()
        .flatten()
        .map(|()| out)
}

/// Known statuses point to static text, so the common case stores nothing.
fn static_status_text(status: TaskStatus) -> Option<&'static std::ffi::CStr> {
    Some(match status {
        TaskStatus::Pending => c"PENDING",
        TaskStatus::Success => c"SUCCESS",
        TaskStatus::Timeout => c"TIMEOUT",
        TaskStatus::Error => c"ERROR",
        TaskStatus::PaymentRequired => c"PAYMENT_REQUIRED",
        TaskStatus::Unknown => return None,
    })
}
