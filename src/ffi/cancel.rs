//! `camb_cancel_token`: lets one thread stop another's wait or download.

use crate::cancel::CancelToken;
use crate::engine::Work;
use crate::error::Error;
use crate::ffi::boundary::{handle_call, null_parameter, result_call, void_call};
use crate::ffi::result_code::camb_result;
use crate::operations::Output;

/// A flag that cancels the blocking calls it is passed to, from any thread: a
/// wait's pause or a retry's wait ends at once, a download stops between
/// chunks, and no request is sent after it. (A job is cancelled with
/// `camb_job_cancel()`.)
///
/// Functions: `camb_cancel_token_new()`, `camb_cancel_token_cancel()`,
/// `camb_cancel_token_reset()`, `camb_cancel_token_is_cancelled()`,
/// `camb_cancel_token_free()`.
///
/// Thread-safety: every function on a token may be called from any thread, at the
/// same time. Free it only after every call it was passed to has returned.
pub struct camb_cancel_token {
    token: CancelToken,
}

/// Borrows the token behind a nullable handle: NULL means "not cancellable".
///
/// # Safety
/// `token` is NULL or a live token.
pub(crate) unsafe fn token_arg<'a>(token: *const camb_cancel_token) -> Option<&'a CancelToken> {
    // SAFETY: per the contract above.
    unsafe { token.as_ref() }.map(|t| &t.token)
}

/// Runs a blocking call's `work` on this thread, under the caller's `cancel`
/// token (NULL: none). The same work a job runs on the pool.
///
/// # Safety
/// `cancel` is NULL or a live token.
pub(crate) unsafe fn run_blocking(
    work: &mut dyn Work<Output>,
    cancel: *const camb_cancel_token,
) -> Result<Output, Error> {
    // SAFETY: per this function's contract.
    crate::blocking::run(work, unsafe { token_arg(cancel) })
}

/// # Safety
/// `token` is NULL or a live token.
unsafe fn token_ref<'a>(token: *const camb_cancel_token) -> Result<&'a CancelToken, Error> {
    // SAFETY: per the contract above.
    unsafe { token_arg(token) }.ok_or_else(|| null_parameter("token"))
}

/// Creates a token, not cancelled. Free it with `camb_cancel_token_free()`.
/// Never returns NULL (out of memory aborts the process, as in Rust and C++).
#[unsafe(no_mangle)]
pub extern "C" fn camb_cancel_token_new() -> *mut camb_cancel_token {
    handle_call(|| {
        Box::into_raw(Box::new(camb_cancel_token {
            token: CancelToken::new(),
        }))
    })
}

/// Cancels: every wait or download using this token stops as soon as it can (a
/// sleeping wait at once; a request in flight when it returns) with
/// `CAMB_RESULT_CANCELLED`, and later ones stop before they start, until
/// `camb_cancel_token_reset()`. Not async-signal-safe.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER` if `token` is NULL.
// The caller's part: `token` is NULL or a live token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_cancel_token_cancel(token: *const camb_cancel_token) -> camb_result {
    result_call(|| {
        // SAFETY: the caller passes NULL or a live token.
        unsafe { token_ref(token) }?.cancel();
        Ok(())
    })
}

/// Lowers the flag so the token can serve another operation.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER` if `token` is NULL.
// The caller's part: `token` is NULL or a live token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_cancel_token_reset(token: *const camb_cancel_token) -> camb_result {
    result_call(|| {
        // SAFETY: the caller passes NULL or a live token.
        unsafe { token_ref(token) }?.reset();
        Ok(())
    })
}

/// True once `camb_cancel_token_cancel()` was called (and not reset since).
/// False for NULL.
// The caller's part: `token` is NULL or a live token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_cancel_token_is_cancelled(token: *const camb_cancel_token) -> bool {
    let mut cancelled = false;
    // SAFETY: the caller passes NULL or a live token.
    void_call(|| cancelled = unsafe { token_ref(token) }.is_ok_and(CancelToken::is_cancelled));
    cancelled
}

/// Frees a token. NULL is ignored. Every call the token was passed to must have
/// returned first. Freeing a token twice is a bug in the caller that libcamb
/// cannot detect.
// The caller's part: `token` is NULL or a token from `camb_cancel_token_new()` not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_cancel_token_free(token: *mut camb_cancel_token) {
    void_call(|| {
        if !token.is_null() {
            // SAFETY: the caller passes a live token that nobody uses any more.
            drop(unsafe { Box::from_raw(token) });
        }
    })
}
