//! `camb_task_info` and the per-thread storage its strings point into.

use std::cell::RefCell;
use std::ffi::c_char;

use crate::error::Error;
use crate::ffi::result::camb_status;
use crate::task::TaskInfo;

/// A task's status as the server reported it, filled in by
/// `camb_client_get_task_status()` and `camb_client_wait_for_task()`.
///
/// The string fields point into memory that libcamb keeps for the calling thread:
/// the caller never frees them. They stay valid until the same thread's next
/// successful call that returns such strings (`camb_client_get_task_status()`,
/// `camb_client_wait_for_task()`, `camb_client_get_task_statuses()` or
/// `camb_client_get_result_urls()`, on any client) or until the thread exits; copy them to keep them longer. A failed call
/// leaves them valid. (Go callers: run the call and the copy on one OS thread,
/// with `runtime.LockOSThread`.) Nothing is truncated: each string is
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

impl camb_task_info {
    /// All zeros and NULLs: what an entry without a status holds.
    pub(crate) fn empty() -> camb_task_info {
        camb_task_info {
            status: camb_status::Unknown as u32,
            has_run_id: false,
            run_id: 0,
            status_text: std::ptr::null(),
            status_text_len: 0,
            exception_reason: std::ptr::null(),
            exception_reason_len: 0,
            message: std::ptr::null(),
            message_len: 0,
        }
    }
}

thread_local! {
    /// The strings of this thread's last successful reply. Each is NUL-terminated.
    /// Replaced wholesale on the next success, never touched by a failure.
    static REPLY_STRINGS: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
}

/// Collects the strings of one reply; [`ReplyStrings::commit`] moves them into this
/// thread's storage, where the pointers handed out stay valid until the next commit.
#[derive(Default)]
pub(crate) struct ReplyStrings {
    strings: Vec<Box<[u8]>>,
}

impl ReplyStrings {
    /// A NUL-terminated copy of `text`: its pointer and its length without the NUL.
    pub(crate) fn keep(&mut self, text: &str) -> (*const c_char, usize) {
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(0);
        let boxed = bytes.into_boxed_slice();
        // The heap block does not move when the Box moves into `strings`.
        let ptr = boxed.as_ptr().cast::<c_char>();
        self.strings.push(boxed);
        (ptr, text.len())
    }

    pub(crate) fn keep_optional(&mut self, text: Option<&str>) -> (*const c_char, usize) {
        text.map_or((std::ptr::null(), 0), |t| self.keep(t))
    }

    /// Replaces this thread's stored strings with these. Fails only during thread
    /// teardown, when there is no storage left to keep them in.
    pub(crate) fn commit(self) -> Result<(), Error> {
        REPLY_STRINGS
            .try_with(|slot| slot.try_borrow_mut().map(|mut s| *s = self.strings).ok())
            .ok()
            .flatten()
            .ok_or_else(|| Error::invalid("called during thread teardown"))
    }
}

/// The C view of `info`, its strings kept in `strings`.
pub(crate) fn to_c(info: &TaskInfo, strings: &mut ReplyStrings) -> camb_task_info {
    let (status_text, status_text_len) = status_text(info, strings);
    let (exception_reason, exception_reason_len) =
        strings.keep_optional(info.exception_reason.as_deref());
    let (message, message_len) = strings.keep_optional(info.message.as_deref());
    camb_task_info {
        status: camb_status::from(info.status) as u32,
        has_run_id: info.run_id.is_some(),
        run_id: info.run_id.unwrap_or(0),
        status_text,
        status_text_len,
        exception_reason,
        exception_reason_len,
        message,
        message_len,
    }
}

/// Fills `*out` with `info`, its strings in this thread's storage.
///
/// # Safety
/// `out` is valid for writing one `camb_task_info`.
pub(crate) unsafe fn write_task_info(
    info: &TaskInfo,
    out: *mut camb_task_info,
) -> Result<(), Error> {
    let mut strings = ReplyStrings::default();
    let c_info = to_c(info, &mut strings);
    strings.commit()?;
    // SAFETY: the caller guarantees `out` is writable.
    unsafe { out.write(c_info) };
    Ok(())
}

/// The status text: static for the documented statuses, so the common case stores nothing.
pub(crate) fn status_text(info: &TaskInfo, strings: &mut ReplyStrings) -> (*const c_char, usize) {
    match info.status.wire_name() {
        Some(text) => (text.as_ptr(), text.count_bytes()),
        None => strings.keep(&info.status_text),
    }
}
