//! The library's version at run time.

use std::ffi::c_char;

const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
) {
    Ok(version) => version,
    Err(_) => panic!("the package version contains a NUL"),
};

/// The version of the libcamb that is running, such as "0.3.0" (Cargo.toml's
/// version). Compare it with `CAMB_VERSION_STRING` to detect a header/library
/// mismatch. Static: never free it. Never NULL. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn camb_version() -> *const c_char {
    VERSION.as_ptr()
}
