//! The API key from the environment. One test in its own binary, because it
//! changes this process's environment (no other thread may read it meanwhile).

use std::ffi::{CStr, CString};
use std::ptr;

use camb::ffi::builder::*;
use camb::ffi::client::*;
use camb::ffi::last_error::camb_last_error;
use camb::ffi::result_code::camb_result;

fn last_error() -> String {
    // SAFETY: never NULL, NUL-terminated.
    unsafe { CStr::from_ptr(camb_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn set_env_key(value: Option<&str>) {
    // SAFETY: this binary has a single test and it starts no other thread, so no
    // other thread reads the environment while it changes.
    unsafe {
        match value {
            Some(value) => std::env::set_var("CAMB_API_KEY", value),
            None => std::env::remove_var("CAMB_API_KEY"),
        }
    }
}

#[test]
fn the_key_comes_from_camb_api_key_when_none_is_given() {
    let mut client = ptr::null_mut();
    unsafe {
        set_env_key(None);
        assert_eq!(
            camb_client_new(ptr::null(), &mut client),
            camb_result::MissingApiKey
        );
        assert!(last_error().contains("CAMB_API_KEY"), "{}", last_error());
        let builder = camb_client_builder_new();
        assert_eq!(
            camb_client_builder_build(builder, &mut client),
            camb_result::MissingApiKey
        );
        assert!(client.is_null());

        set_env_key(Some(""));
        assert_eq!(
            camb_client_new(ptr::null(), &mut client),
            camb_result::MissingApiKey
        );

        set_env_key(Some("sk-from-env\n"));
        assert_eq!(
            camb_client_new(ptr::null(), &mut client),
            camb_result::InvalidParameter
        );
        assert!(
            last_error().contains("CAMB_API_KEY is set but unusable"),
            "{}",
            last_error()
        );
        assert!(!last_error().contains("sk-from-env"));

        set_env_key(Some("sk-from-env"));
        assert_eq!(camb_client_new(ptr::null(), &mut client), camb_result::Ok);
        assert!(!client.is_null());
        camb_client_free(client);

        // An explicit key wins over the environment, even when the variable is unusable.
        set_env_key(Some("bad\nvalue"));
        let key = CString::new("sk-explicit").unwrap();
        let mut explicit = ptr::null_mut();
        assert_eq!(
            camb_client_new(key.as_ptr(), &mut explicit),
            camb_result::Ok
        );
        camb_client_free(explicit);
        set_env_key(None);
    }
}
