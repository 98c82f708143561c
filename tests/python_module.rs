//! Runs examples/python/test_camb.py: the idiomatic Python module
//! examples/python/camb.py (ctypes over libcamb.so), tested against an in-process
//! emulator: exceptions per result code, context managers, the whole workflow,
//! threads, cancellation and callbacks.

mod common;

use std::path::Path;
use std::time::Duration;

use camb_emulator::{Config, DEFAULT_API_KEY, Emulator};
use common::process::assert_python_suite_passes;

/// The suite takes a few seconds; this only stops a hang from hanging `cargo test`.
const TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn python_module_suite_passes() {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let emulator = Emulator::start(Config {
        pending_ms: 0,
        ..Config::default()
    })
    .expect("the emulator starts");

    assert_python_suite_passes(
        &manifest_dir.join("examples/python/test_camb.py"),
        &[
            ("CAMB_LIB", common::lib_path().into_os_string()),
            ("CAMB_TEST_BASE_URL", emulator.base_url().into()),
            ("CAMB_TEST_API_KEY", DEFAULT_API_KEY.into()),
        ],
        TIMEOUT,
    );
}
