//! The Python suites, run against an in-process emulator:
//! - tests/python/test_ctypes.py: libcamb.so through raw ctypes, checking the C ABI
//!   from a caller that has only the header's word to go on (types, struct layout,
//!   NULL handling, threads);
//! - examples/python/test_camb.py: the idiomatic module examples/python/camb.py
//!   (exceptions per result code, context managers, the workflow, threads,
//!   cancellation, asyncio jobs through the queue, the log function).

mod common;

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use camb_emulator::{Config, DEFAULT_API_KEY, Emulator};
use common::process::assert_python_suite_passes;

/// Each suite takes a few seconds; this only stops a hang from hanging `cargo test`.
const TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `script` (relative to the crate) with the library, an emulator and `extra`.
fn run_suite(script: &str, extra: &[(&str, OsString)]) {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let emulator = Emulator::start(Config {
        pending_ms: 0,
        ..Config::default()
    })
    .expect("the emulator starts");
    let mut env = vec![
        ("CAMB_LIB", common::lib_path().into_os_string()),
        ("CAMB_TEST_BASE_URL", emulator.base_url().into()),
        ("CAMB_TEST_API_KEY", DEFAULT_API_KEY.into()),
    ];
    env.extend(extra.iter().cloned());
    assert_python_suite_passes(&manifest_dir.join(script), &env, TIMEOUT);
}

#[test]
fn python_ctypes_suite_passes() {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    run_suite(
        "tests/python/test_ctypes.py",
        &[
            (
                "CAMB_HEADER",
                manifest_dir.join("include/camb.h").into_os_string(),
            ),
            (
                "CAMB_CARGO_TOML",
                manifest_dir.join("Cargo.toml").into_os_string(),
            ),
        ],
    );
}

/// examples/python/camb.py declares no function by hand: its prototypes are
/// written from include/camb.h by scripts/python_abi.py, and must be camb.h's.
#[test]
fn the_python_modules_prototypes_are_camb_hs() {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let checked = std::process::Command::new("python3")
        .arg(manifest_dir.join("scripts/python_abi.py"))
        .arg("--check")
        .output()
        .expect("python3 runs");
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[test]
fn python_module_suite_passes() {
    run_suite("examples/python/test_camb.py", &[]);
}
