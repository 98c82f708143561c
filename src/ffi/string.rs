//! Strings that libcamb hands over (a task id, an audio URL): the caller owns
//! each one and frees it with `camb_string_free()`.

use std::ffi::{CString, c_char};

use crate::error::Error;
use crate::ffi::boundary::void_call;

/// Gives `text` to the caller as a new NUL-terminated string in `*out`, its
/// length in `*out_len` when that is not NULL (the same as `strlen`: such text
/// never holds a NUL; one from the server is refused). `what` names it in the error for
/// a NUL byte inside (a server's text that C could not read whole).
///
/// # Safety
/// `out` is valid for writing one pointer (checked non-NULL by the caller);
/// `out_len` is NULL or valid for writing one `size_t`.
pub(crate) unsafe fn give_string(
    out: *mut *mut c_char,
    out_len: *mut usize,
    text: String,
    what: &str,
) -> Result<(), Error> {
    let len = text.len();
    let owned = CString::new(text)
        .map_err(|_| Error::bad_response(format!("the server's {what} has a NUL byte in it")))?;
    if !out_len.is_null() {
        // SAFETY: non-NULL, and writable per this function's contract.
        unsafe { out_len.write(len) };
    }
    // SAFETY: writable per this function's contract.
    unsafe { out.write(owned.into_raw()) };
    Ok(())
}

/// Frees a string that libcamb gave the caller (`camb_client_create_task()`'s
/// task id, `camb_client_get_audio_url()`'s URL). NULL is a no-op. Never pass
/// any other string (nor one of a `camb_task` or a list: their owners free those),
/// nor one twice.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_string_free(string: *mut c_char) {
    void_call(|| {
        if !string.is_null() {
            // SAFETY: the caller passes a string made by give_string (CString::into_raw),
            // freed once.
            drop(unsafe { CString::from_raw(string) });
        }
    })
}

/// Text owned by a libcamb object, handed out as a borrowed C string with its
/// length: NUL-terminated, and read whole through its length even when the
/// server's text holds a NUL.
#[derive(Debug, Clone)]
pub(crate) struct OwnedText(Box<[u8]>);

impl OwnedText {
    pub(crate) fn new(text: &str) -> OwnedText {
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(0);
        OwnedText(bytes.into_boxed_slice())
    }

    /// The C string, its length (without the NUL) written to `out_len` when
    /// that is not NULL; NULL and 0 for no text.
    ///
    /// # Safety
    /// `out_len` is NULL or valid for writing a `size_t`.
    pub(crate) unsafe fn lend(text: Option<&OwnedText>, out_len: *mut usize) -> *const c_char {
        if !out_len.is_null() {
            // SAFETY: non-NULL, writable per this function's contract.
            unsafe { out_len.write(text.map_or(0, |t| t.0.len() - 1)) };
        }
        text.map_or(std::ptr::null(), |t| t.0.as_ptr().cast())
    }
}
