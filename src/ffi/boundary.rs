//! The one place where Rust meets C: panics are caught, errors become result codes
//! and `camb_last_error()` text, and raw arguments are checked before use.

use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use crate::error::{Error, ErrorKind};
use crate::ffi::last_error;
use crate::ffi::result_code::camb_result;

const PANIC_MESSAGE: &str =
    "internal error: a panic was caught at the C boundary (a bug in libcamb; please report it)";

/// Runs the body of an exported function that returns a `camb_result`.
pub(crate) fn result_call(body: impl FnOnce() -> Result<(), Error>) -> camb_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            last_error::clear();
            camb_result::Ok
        }
        Ok(Err(error)) => {
            last_error::set(&error);
            camb_result::from(error.kind())
        }
        Err(payload) => {
            // Dropping a panic payload can itself panic; contain that too.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            last_error::set_message(PANIC_MESSAGE);
            camb_result::Panic
        }
    }
}

/// Runs the body of an exported `_new` function: the handle it makes, or NULL if
/// it panicked (the panic is then in `camb_last_error()`).
pub(crate) fn handle_call<T>(make: impl FnOnce() -> *mut T) -> *mut T {
    let mut made = std::ptr::null_mut();
    let result = result_call(|| {
        made = make();
        Ok(())
    });
    if result == camb_result::Ok {
        made
    } else {
        std::ptr::null_mut()
    }
}

/// Runs the body of an exported function that returns no result code (`_free`);
/// a panic is swallowed, since the caller has nothing to check.
pub(crate) fn void_call(body: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(body)) {
        let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
    }
}

/// Runs the body of an exported function that returns a plain value and cannot
/// fail (an accessor): `default` if it panicked. `camb_last_error()` is left alone.
pub(crate) fn value_call<T>(default: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            default
        }
    }
}

pub(crate) fn null_parameter(name: &str) -> Error {
    Error::new(ErrorKind::NullParameter, format!("{name} is NULL"))
}

/// Borrows a NUL-terminated UTF-8 string argument for the duration of a call.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that stays valid and
/// unchanged while the returned borrow lives (the exported function's contract).
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(null_parameter(name));
    }
    // SAFETY: not NULL, and the caller guarantees a valid NUL-terminated string.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str().map_err(|e| {
        Error::invalid(format!(
            "{name} is not valid UTF-8 (the first {} bytes are)",
            e.valid_up_to()
        ))
    })
}

/// An optional string argument: NULL is `None` (an option left unset).
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string.
pub(crate) unsafe fn optional_str_arg(
    ptr: *const c_char,
    name: &str,
) -> Result<Option<String>, Error> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: not NULL, NUL-terminated per the contract.
    unsafe { str_arg(ptr, name) }.map(|s| Some(s.to_owned()))
}

/// Checks an out-pointer before any work is done, so that a NULL is reported
/// as such instead of after a network call.
pub(crate) fn out_arg<T>(ptr: *mut T, name: &str) -> Result<(), Error> {
    if ptr.is_null() {
        Err(null_parameter(name))
    } else {
        Ok(())
    }
}

/// A path argument: any bytes on Unix, UTF-8 elsewhere.
///
/// # Safety
/// `path` is NULL or NUL-terminated.
pub(crate) unsafe fn path_arg(path: *const c_char) -> Result<PathBuf, Error> {
    if path.is_null() {
        return Err(null_parameter("path"));
    }
    // SAFETY: non-NULL and NUL-terminated per the contract.
    let bytes = unsafe { CStr::from_ptr(path) }.to_bytes();
    if bytes.is_empty() {
        return Err(Error::invalid("the path is empty"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
    }
    #[cfg(not(unix))]
    {
        std::str::from_utf8(bytes)
            .map(PathBuf::from)
            .map_err(|_| Error::invalid("the path is not valid UTF-8"))
    }
}
