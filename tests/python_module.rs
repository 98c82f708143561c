//! Runs examples/python/test_camb.py: the idiomatic Python module
//! examples/python/camb.py (ctypes over libcamb.so), tested against an in-process
//! emulator: exceptions per result code, context managers, the whole workflow,
//! threads, cancellation and callbacks.

mod common;

use std::ffi::OsString;
use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use camb_emulator::{Config, DEFAULT_API_KEY, Emulator};

/// The suite takes a few seconds; this only stops a hang from hanging `cargo test`.
const TIMEOUT: Duration = Duration::from_secs(120);

/// How a Python child process ended.
struct PythonRun {
    /// `None` when it was killed at the timeout.
    status: Option<ExitStatus>,
    stdout: String,
    stderr: String,
}

impl PythonRun {
    /// Both streams, for a failure message.
    fn output(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout, self.stderr
        )
    }
}

/// Runs `python3 <script> <args>` in the crate's directory with `env` added (and
/// `CAMB_API_KEY` removed, so a developer's real key neither changes the tests nor
/// reaches the emulator), killing it after `timeout`.
fn run_python(
    script: &Path,
    args: &[&str],
    env: &[(&str, OsString)],
    timeout: Duration,
) -> PythonRun {
    let mut command = Command::new("python3");
    command
        .arg(script)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("CAMB_API_KEY")
        // No __pycache__ next to the examples.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap_or_else(|e| {
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
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    PythonRun {
        status,
        stdout: stdout.join().expect("stdout reader does not panic"),
        stderr: stderr.join().expect("stderr reader does not panic"),
    }
}

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
fn python_module_suite_passes() {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let emulator = Emulator::start(Config {
        pending_ms: 0,
        ..Config::default()
    })
    .expect("the emulator starts");

    let run = run_python(
        &manifest_dir.join("examples/python/test_camb.py"),
        &["-v"],
        &[
            ("CAMB_LIB", common::lib_path().into_os_string()),
            ("CAMB_TEST_BASE_URL", emulator.base_url().into()),
            ("CAMB_TEST_API_KEY", DEFAULT_API_KEY.into()),
        ],
        TIMEOUT,
    );
    let Some(status) = run.status else {
        panic!(
            "test_camb.py did not finish within {} s and was killed\n{}",
            TIMEOUT.as_secs(),
            run.output()
        );
    };
    assert!(
        status.success(),
        "test_camb.py failed ({status})\n{}",
        run.output()
    );
    // unittest writes its report to stderr.
    assert!(
        run.stderr.lines().any(|line| line.starts_with("OK")),
        "test_camb.py exited 0 without unittest's OK line\n{}",
        run.output()
    );
    // Shown with `--nocapture`: the list of Python tests that ran.
    eprintln!("{}", run.stderr);
}
