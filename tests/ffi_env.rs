//! The API key and the base URL from the environment. One test in its own binary,
//! because it changes this process's environment (no other thread may read it
//! meanwhile).

mod common;

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

fn set_env(name: &str, value: Option<&str>) {
    // SAFETY: this binary has a single test, and the emulator it starts reads no
    // environment, so no other thread reads the environment while it changes.
    unsafe {
        match value {
            Some(value) => std::env::set_var(name, value),
            None => std::env::remove_var(name),
        }
    }
}

fn set_env_key(value: Option<&str>) {
    set_env("CAMB_API_KEY", value);
}

#[test]
fn the_key_and_the_base_url_come_from_the_environment_when_none_is_given() {
    set_env("CAMB_BASE_URL", None);
    the_key_comes_from_camb_api_key_when_none_is_given();
    the_base_url_comes_from_camb_base_url_when_none_is_given();
}

/// `CAMB_BASE_URL` points a client built without a base URL at the emulator,
/// under set_base_url's rules; a URL set on the builder wins.
fn the_base_url_comes_from_camb_base_url_when_none_is_given() {
    let emulator = common::emulator();
    let base = emulator.base_url().to_owned();
    let status = |client: *mut camb_client| {
        let id = CString::new("demo-success").unwrap();
        let mut task = ptr::null_mut();
        // SAFETY: a live client, a NUL-terminated id, a valid out-pointer.
        let result = unsafe {
            camb::ffi::task::camb_client_get_task_status(
                client,
                id.as_ptr(),
                ptr::null(),
                &mut task,
            )
        };
        // SAFETY: NULL or the task just returned.
        unsafe { camb::ffi::task::camb_task_free(task) };
        result
    };
    // SAFETY: the environment changes only through set_env (see there); every
    // handle passed is live or NULL, every string NUL-terminated and kept alive
    // over its call, every out-pointer valid; each client is freed once.
    unsafe {
        set_env_key(Some(camb_emulator::DEFAULT_API_KEY));

        // With a trailing slash, as a user may write it; the emulator answers.
        set_env("CAMB_BASE_URL", Some(&format!("{base}/")));
        let mut client = ptr::null_mut();
        assert_eq!(camb_client_new(ptr::null(), &mut client), camb_result::Ok);
        assert_eq!(status(client), camb_result::Ok, "{}", last_error());
        camb_client_free(client);
        let mut built = ptr::null_mut();
        assert_eq!(
            camb_client_builder_build(camb_client_builder_new(), &mut built),
            camb_result::Ok
        );
        assert_eq!(status(built), camb_result::Ok, "{}", last_error());
        assert_eq!(common::status_requests(&emulator), 2);
        camb_client_free(built);

        // Refused by the rules of set_base_url, and the message names the variable.
        for (bad, why) in [
            ("not a url", "CAMB_BASE_URL is set but unusable"),
            ("http://example.com/apis", "clear text"),
            (
                "http://127.0.0.1:8080/?q=1",
                "CAMB_BASE_URL is set but unusable",
            ),
        ] {
            set_env("CAMB_BASE_URL", Some(bad));
            let mut refused = ptr::null_mut();
            assert_eq!(
                camb_client_new(ptr::null(), &mut refused),
                camb_result::InvalidParameter,
                "{bad}"
            );
            assert!(last_error().contains(why), "{bad}: {}", last_error());
            assert!(refused.is_null());
        }

        // A URL on the builder wins over an unusable variable.
        set_env("CAMB_BASE_URL", Some("not a url"));
        let builder = camb_client_builder_new();
        let url = CString::new(base.as_str()).unwrap();
        assert_eq!(
            camb_client_builder_set_base_url(builder, url.as_ptr()),
            camb_result::Ok
        );
        let mut explicit = ptr::null_mut();
        assert_eq!(
            camb_client_builder_build(builder, &mut explicit),
            camb_result::Ok
        );
        assert_eq!(status(explicit), camb_result::Ok, "{}", last_error());
        camb_client_free(explicit);

        // Empty is unset: the default URL (https, accepted without a request).
        set_env("CAMB_BASE_URL", Some(""));
        let mut default = ptr::null_mut();
        assert_eq!(camb_client_new(ptr::null(), &mut default), camb_result::Ok);
        camb_client_free(default);
        set_env("CAMB_BASE_URL", None);
        set_env_key(None);
    }
}

fn the_key_comes_from_camb_api_key_when_none_is_given() {
    let mut client = ptr::null_mut();
    // SAFETY: as in the base-URL test above: the environment changes only through
    // set_env, and every pointer passed is valid or NULL.
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
