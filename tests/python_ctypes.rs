//! Runs tests/python/test_ctypes.py: libcamb.so loaded through Python's ctypes,
//! against an in-process emulator. It checks the C ABI from a caller that has only
//! the header's word to go on (types, struct layout, NULL handling, threads).

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use camb_emulator::{Config, DEFAULT_API_KEY, Emulator};

/// The Python suite takes a few seconds; this only stops a hang from hanging `cargo test`.
const TIMEOUT: Duration = Duration::from_secs(120);

/// Reads a child's pipe to the end on its own thread, so a chatty child never
/// blocks on a full pipe while we wait for it.
fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

#[test]
fn python_ctypes_suite_passes() {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let library = common::lib_path();
    let emulator = Emulator::start(Config {
        pending_ms: 0,
        ..Config::default()
    })
    .expect("the emulator starts");

    let mut child = Command::new("python3")
        .arg(manifest_dir.join("tests/python/test_ctypes.py"))
        .arg("-v")
        .current_dir(manifest_dir)
        .env("CAMB_LIB", &library)
        .env("CAMB_TEST_BASE_URL", emulator.base_url())
        .env("CAMB_TEST_API_KEY", DEFAULT_API_KEY)
        .env("CAMB_HEADER", manifest_dir.join("include/camb.h"))
        .env("CAMB_CARGO_TOML", manifest_dir.join("Cargo.toml"))
        // The suite checks what happens without a key in the environment; a
        // developer's real key must neither change that nor reach the emulator.
        .env_remove("CAMB_API_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("could not run python3 (is Python 3 installed and on PATH?): {e}")
        });
    let stdout = drain(child.stdout.take().expect("stdout is piped"));
    let stderr = drain(child.stderr.take().expect("stderr is piped"));

    // std has no wait-with-timeout: poll, and kill the child when time is up.
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("can poll python3") {
            break Some(status);
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    let stdout = stdout.join().expect("stdout reader does not panic");
    let stderr = stderr.join().expect("stderr reader does not panic");
    // unittest writes its report to stderr.
    let output = format!("--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}");

    let Some(status) = status else {
        panic!(
            "test_ctypes.py did not finish within {} s and was killed\n{output}",
            TIMEOUT.as_secs()
        );
    };
    assert!(
        status.success(),
        "test_ctypes.py failed ({status})\n{output}"
    );
    assert!(
        stderr.lines().any(|line| line.starts_with("OK")),
        "test_ctypes.py exited 0 without unittest's OK line\n{output}"
    );
    // Shown with `--nocapture`: the list of Python tests that ran.
    eprintln!("{stderr}");
}
