//! Each thread's last failure, in words, for `camb_last_error()`.

use std::cell::RefCell;
use std::ffi::c_char;

use crate::error::Error;

struct LastError {
    /// The message with a terminating NUL (and no other NUL), or just the NUL.
    text: Vec<u8>,
    http_status: u16,
}

thread_local! {
    static LAST_ERROR: RefCell<LastError> = RefCell::new(LastError { text: vec![0], http_status: 0 });
}

/// Records `error` as this thread's last failure.
pub(crate) fn set(error: &Error) {
    store(error.message(), error.http_status().unwrap_or(0));
}

/// Records a failure that has no `Error` value (a caught panic).
pub(crate) fn set_message(message: &str) {
    store(message, 0);
}

/// Marks this thread's last call as a success.
pub(crate) fn clear() {
    store("", 0);
}

fn store(message: &str, http_status: u16) {
    // `try_with`: during thread teardown the slot may be gone; losing the message
    // then is better than a panic.
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut last) = slot.try_borrow_mut() {
            last.text.clear();
            last.text
                .extend(message.bytes().map(|b| if b == 0 { b' ' } else { b }));
            last.text.push(0);
            last.http_status = http_status;
        }
    });
}

/// This thread's last failure in words, for showing to a person or a log, such as
/// `"HTTP 404 Not Found: Task not found: 1234"`, or `""` when this thread's last
/// libcamb call succeeded (or it has made none).
///
/// Every libcamb call that can fail (those that return a `camb_result`, and the
/// `_new` functions that return a handle) sets it, clearing it on success; the
/// others leave it alone: the accessors of results (`camb_task_*`, the lists'
/// `_len` and `_get`), the `_free` functions, the names, `camb_version` and
/// `camb_cancel_token_is_cancelled`.
/// The string belongs to libcamb: never free it. It stays valid until this thread's
/// next libcamb call that sets it; copy it to keep it. Never NULL.
/// It never contains the API key (keys of 4 characters or more are searched for
/// and replaced by "[redacted]"). Each thread has its own, so threads sharing a
/// client cannot see each other's errors; read it on the thread that made the call
/// (an FFI that runs calls on a pool of threads, such as Node's koffi `.async` or
/// Go's goroutines, must read it within the same OS-thread-bound step).
#[unsafe(no_mangle)]
pub extern "C" fn camb_last_error() -> *const c_char {
    LAST_ERROR
        .try_with(|slot| match slot.try_borrow() {
            Ok(last) => last.text.as_ptr().cast::<c_char>(),
            Err(_) => c"".as_ptr(),
        })
        .unwrap_or(c"".as_ptr())
}

/// The HTTP status of the reply behind this thread's last failure (for example 404,
/// or 400 behind `CAMB_RESULT_HTTP_STATUS`), or 0 when that failure had no HTTP
/// reply (a timeout, a refused connection, a bad argument) or the last call succeeded.
#[unsafe(no_mangle)]
pub extern "C" fn camb_last_http_status() -> u16 {
    LAST_ERROR
        .try_with(|slot| slot.try_borrow().map_or(0, |last| last.http_status))
        .unwrap_or(0)
}
