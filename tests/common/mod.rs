//! Shared by the integration tests: a running emulator and clients pointed at it.
#![allow(dead_code, unused_imports)] // each test binary uses a different part of this module

pub mod process;

use std::path::PathBuf;
use std::time::Duration;

use camb::{Client, ClientConfig};
pub use camb_emulator::{
    Config, DEFAULT_API_KEY, Emulator, Fault, FaultResponse, RecordedRequest, TaskSpec,
};

/// An emulator on 127.0.0.1 whose demo tasks are already final.
pub fn emulator() -> Emulator {
    Emulator::start(Config {
        pending_ms: 0,
        ..Config::default()
    })
    .expect("the emulator starts on 127.0.0.1")
}

/// Client settings for `emulator` with a short timeout, so failing tests fail fast.
pub fn config_for(emulator: &Emulator) -> ClientConfig {
    let mut config = ClientConfig::default();
    config.set_base_url(&emulator.base_url()).unwrap();
    config.set_api_key(DEFAULT_API_KEY).unwrap();
    config.set_timeout_ms(10_000).unwrap();
    config
}

pub fn client_for(emulator: &Emulator) -> Client {
    Client::new(config_for(emulator)).unwrap()
}

/// A canned reply for the next `times` status requests.
pub fn status_fault(times: u32, status: u16, headers: &[(&str, &str)], body: &str) -> Fault {
    Fault {
        path_prefix: Some("/text-to-sound/".into()),
        times,
        respond: Some(FaultResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.into(),
            content_type: Some("application/json".into()),
        }),
        ..Fault::default()
    }
}

/// The number of status requests the emulator has seen.
pub fn status_requests(emulator: &Emulator) -> usize {
    emulator
        .stats()
        .requests
        .iter()
        .filter(|r| r.path.starts_with("/text-to-sound/"))
        .count()
}

pub fn header<'a>(request: &'a RecordedRequest, name: &str) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The directory holding the libcamb.so built for this test run. Cargo builds the
/// cdylib next to the test binaries, in target/<profile>/deps; `cargo build` copies
/// it up to target/<profile>, but `cargo test` does not, so look beside ourselves.
///
/// libcamb.so carries an SONAME (libcamb.so.0.MINOR before 1.0, libcamb.so.MAJOR
/// after; build.rs), which is the name a program linked with -lcamb asks for at run
/// time; build.rs makes that symlink beside libcamb.so.
pub fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its path");
    let dir = exe
        .parent()
        .expect("the test binary is in a directory")
        .to_path_buf();
    assert!(
        lib_path_in(&dir).is_file(),
        "{} is missing: run the tests with `cargo test`, which builds the cdylib",
        lib_path_in(&dir).display()
    );
    dir
}

/// The path of libcamb.so (or the platform's name for it) for this test run.
pub fn lib_path() -> PathBuf {
    lib_path_in(&lib_dir())
}

fn lib_path_in(dir: &std::path::Path) -> PathBuf {
    dir.join(format!(
        "{}camb{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ))
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

pub const GENEROUS: Duration = Duration::from_secs(5);

/// Checks a canonical PCM WAV header against the file's length; returns
/// (channels, sample rate, bits per sample, frames).
pub fn parse_wav(bytes: &[u8]) -> (u16, u32, u16, u32) {
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
    assert!(
        bytes.len() > 44,
        "too short for a WAV file: {} bytes",
        bytes.len()
    );
    assert_eq!(&bytes[0..4], b"RIFF");
    assert_eq!(u32_at(4) as usize, bytes.len() - 8, "RIFF size");
    assert_eq!(&bytes[8..12], b"WAVE");
    assert_eq!(&bytes[12..16], b"fmt ");
    assert_eq!(u16_at(20), 1, "PCM");
    let (channels, rate, bits) = (u16_at(22), u32_at(24), u16_at(34));
    assert_eq!(
        u32_at(28),
        rate * u32::from(channels) * u32::from(bits) / 8,
        "byte rate"
    );
    assert_eq!(&bytes[36..40], b"data");
    let data_len = u32_at(40);
    assert_eq!(data_len as usize, bytes.len() - 44, "data size");
    (
        channels,
        rate,
        bits,
        data_len / u32::from(channels * bits / 8),
    )
}

/// A C string for an argument (tests never pass interior NULs by accident).
pub fn c(text: &str) -> std::ffi::CString {
    std::ffi::CString::new(text).unwrap()
}

/// A C builder with `key` and `base_url` set, every call checked; callers add
/// their own settings.
pub fn c_builder(key: &str, base_url: &str) -> *mut camb::ffi::builder::camb_client_builder {
    use camb::ffi::builder::*;
    use camb::ffi::result_code::camb_result;
    let builder = camb_client_builder_new();
    assert!(!builder.is_null());
    // SAFETY: a live builder and NUL-terminated strings.
    unsafe {
        assert_eq!(
            camb_client_builder_set_api_key(builder, c(key).as_ptr()),
            camb_result::Ok
        );
        assert_eq!(
            camb_client_builder_set_base_url(builder, c(base_url).as_ptr()),
            camb_result::Ok
        );
    }
    builder
}

/// This thread's `camb_last_error()`, as a String.
pub fn last_error() -> String {
    // SAFETY: camb_last_error never returns NULL and its text is NUL-terminated.
    unsafe { std::ffi::CStr::from_ptr(camb::ffi::last_error::camb_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// Builds `builder` (consuming it), asks for the status of `task_id`, frees the
/// client; the result and the filled info (status u32::MAX when it failed).
pub fn c_build_and_query(
    builder: *mut camb::ffi::builder::camb_client_builder,
    task_id: &str,
) -> (
    camb::ffi::result_code::camb_result,
    camb::ffi::task_info::camb_task_info,
) {
    use camb::ffi::result_code::camb_result;
    let mut client = std::ptr::null_mut();
    // SAFETY: a live builder (consumed here) and a writable out-pointer.
    let built = unsafe { camb::ffi::builder::camb_client_builder_build(builder, &mut client) };
    assert_eq!(built, camb_result::Ok, "{}", last_error());
    let mut info = camb::ffi::task_info::camb_task_info {
        status: u32::MAX,
        has_run_id: false,
        run_id: 0,
        status_text: std::ptr::null(),
        status_text_len: 0,
        exception_reason: std::ptr::null(),
        exception_reason_len: 0,
        message: std::ptr::null(),
        message_len: 0,
    };
    // SAFETY: a live client, a NUL-terminated id, a writable info; the client is
    // freed once, after the call.
    let result = unsafe {
        let result =
            camb::ffi::client::camb_client_get_task_status(client, c(task_id).as_ptr(), &mut info);
        camb::ffi::client::camb_client_free(client);
        result
    };
    (result, info)
}
