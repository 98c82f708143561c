//! Runs tests/python/test_ctypes.py: libcamb.so loaded through Python's ctypes,
//! against an in-process emulator. It checks the C ABI from a caller that has only
//! the header's word to go on (types, struct layout, NULL handling, threads).

mod common;

use std::path::Path;
use std::time::Duration;

use camb_emulator::{Config, DEFAULT_API_KEY, Emulator};
use common::process::assert_python_suite_passes;

/// The Python suite takes a few seconds; this only stops a hang from hanging `cargo test`.
const TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn python_ctypes_suite_passes() {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let emulator = Emulator::start(Config {
        pending_ms: 0,
        ..Config::default()
    })
    .expect("the emulator starts");
    assert_python_suite_passes(
        &manifest_dir.join("tests/python/test_ctypes.py"),
        &[
            ("CAMB_LIB", common::lib_path().into_os_string()),
            ("CAMB_TEST_BASE_URL", emulator.base_url().into()),
            ("CAMB_TEST_API_KEY", DEFAULT_API_KEY.into()),
            (
                "CAMB_HEADER",
                manifest_dir.join("include/camb.h").into_os_string(),
            ),
            (
                "CAMB_CARGO_TOML",
                manifest_dir.join("Cargo.toml").into_os_string(),
            ),
        ],
        TIMEOUT,
    );
}
