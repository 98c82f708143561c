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

/// What a `camb_task` says, read through its accessors into Rust values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskView {
    pub result: camb::ffi::result_code::camb_result,
    pub error: Option<String>,
    pub http_status: u16,
    pub task_id: String,
    pub status: camb::ffi::result_code::camb_status,
    pub status_text: Option<String>,
    pub run_id: Option<i64>,
    pub exception_reason: Option<String>,
    pub message: Option<String>,
}

/// The text at `ptr` of `len` bytes (None for NULL), checked to end in a NUL.
pub fn c_text(ptr: *const std::ffi::c_char, len: usize) -> Option<String> {
    if ptr.is_null() {
        assert_eq!(len, 0, "a NULL string with a length");
        return None;
    }
    // SAFETY: libcamb gives `len` bytes and a NUL at ptr.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len + 1) };
    assert_eq!(bytes[len], 0, "not NUL-terminated at its length");
    Some(String::from_utf8(bytes[..len].to_vec()).unwrap())
}

/// Reads every accessor of `task` (which stays the caller's to free).
pub fn read_task(task: *const camb::ffi::task::camb_task) -> TaskView {
    use camb::ffi::task::*;
    let mut len = usize::MAX;
    let mut run_id = 0;
    // SAFETY: a live task (or NULL), and writable lengths.
    unsafe {
        TaskView {
            result: camb_task_result(task),
            error: c_text(camb_task_error(task, &mut len), len),
            http_status: camb_task_http_status(task),
            task_id: c_text(camb_task_id(task, &mut len), len).unwrap(),
            status: camb_task_status(task),
            status_text: c_text(camb_task_status_text(task, &mut len), len),
            run_id: camb_task_run_id(task, &mut run_id).then_some(run_id),
            exception_reason: c_text(camb_task_exception_reason(task, &mut len), len),
            message: c_text(camb_task_message(task, &mut len), len),
        }
    }
}

/// Builds `builder` (consuming it), asks for the status of `task_id`, frees the
/// client and the task; the result and what the task said (None when it failed).
pub fn c_build_and_query(
    builder: *mut camb::ffi::builder::camb_client_builder,
    task_id: &str,
) -> (camb::ffi::result_code::camb_result, Option<TaskView>) {
    use camb::ffi::result_code::camb_result;
    let mut client = std::ptr::null_mut();
    // SAFETY: a live builder (consumed here) and a writable out-pointer.
    let built = unsafe { camb::ffi::builder::camb_client_builder_build(builder, &mut client) };
    assert_eq!(built, camb_result::Ok, "{}", last_error());
    let mut task = std::ptr::null_mut();
    // SAFETY: a live client, a NUL-terminated id, a writable out-pointer; the
    // client and the task are freed once, after the call.
    unsafe {
        let result = camb::ffi::task::camb_client_get_task_status(
            client,
            c(task_id).as_ptr(),
            std::ptr::null(),
            &mut task,
        );
        camb::ffi::client::camb_client_free(client);
        let view = (result == camb_result::Ok).then(|| read_task(task));
        camb::ffi::task::camb_task_free(task);
        (result, view)
    }
}

/// Whether `program` runs (`program --version` exits 0).
pub fn tool_available(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// A test that cannot run because `program` is missing: under CI (`CI` set) that
/// fails the test, since a skipped test proves nothing; elsewhere it prints a SKIP
/// line naming the test and what installs the tool, and the caller returns.
pub fn skip_without_tool(program: &str, test: &str, installed_by: &str) {
    let message = format!("{test}: {program} is not installed ({installed_by} installs it)");
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{message}; CI is set, so a missing tool is a failure, not a skip");
    }
    // Past the test harness's capture (which takes only the print macros), so
    // that it shows in `cargo test`'s output.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIP {message}");
}

/// The one code block (```LANG ... ```) between `<!-- NAME -->` and `<!-- /NAME -->`
/// in README.md: a snippet the tests run as written.
pub fn readme_block(name: &str) -> String {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .expect("README.md reads");
    let (open, close) = (format!("<!-- {name} -->"), format!("<!-- /{name} -->"));
    assert_eq!(readme.matches(&open).count(), 1, "one {open} in README.md");
    assert_eq!(
        readme.matches(&close).count(),
        1,
        "one {close} in README.md"
    );
    let start = readme.find(&open).unwrap() + open.len();
    let end = readme.find(&close).unwrap();
    assert!(start < end, "{open} comes before {close}");
    let block = readme[start..end].trim();
    block
        .strip_prefix("```")
        .and_then(|b| b.split_once('\n'))
        .and_then(|(_, b)| b.strip_suffix("```"))
        .filter(|code| !code.contains("```"))
        .unwrap_or_else(|| panic!("the {name} markers hold one code block, not:\n{block}"))
        .to_owned()
}

/// What examples/poll_status.c says of each of the emulator's final demo tasks
/// other than demo-success: on Linux (tests/c_examples.rs) and under Wine
/// (tests/windows.rs) alike.
pub const POLL_STATUS_ENDINGS: [(&str, &str); 4] = [
    (
        "demo-error",
        "ended in ERROR (PROCESSING_ERROR): The audio model failed to render this prompt",
    ),
    ("demo-timeout", "ended in TIMEOUT: Unknown error"),
    (
        "demo-payment-required",
        "ended in PAYMENT_REQUIRED (PAYMENT_REQUIRED): Not enough credits",
    ),
    ("demo-unknown", "ended in QUEUED_FOR_GPU: Unknown error"),
];
