//! Child processes with a time bound: the C, C++, Python and Node suites run as
//! children, and a hang must fail the test instead of hanging `cargo test`.

use std::ffi::OsString;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Runs `command` to the end, or kills it at `timeout` (`Ok(None)`). Both pipes
/// are drained on their own threads, so a chatty child never blocks on a full pipe.
pub fn run_bounded(command: &mut Command, timeout: Duration) -> std::io::Result<Option<Output>> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped")));
    // std has no wait-with-timeout: poll, and kill the child when time is up.
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    let stdout = stdout.join().expect("reader does not panic");
    let stderr = stderr.join().expect("reader does not panic");
    Ok(status.map(|status| Output {
        status,
        stdout,
        stderr,
    }))
}

/// Both streams of a child, for a failure message.
pub fn describe(output: &Output) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs a Python unittest file (`python3 SCRIPT -v`) with `env` added and
/// `CAMB_API_KEY` removed (a developer's real key must neither change the tests
/// nor reach the emulator), and asserts it passed.
pub fn assert_python_suite_passes(script: &Path, env: &[(&str, OsString)], timeout: Duration) {
    let mut command = Command::new("python3");
    command
        .arg(script)
        .arg("-v")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("CAMB_API_KEY")
        // No __pycache__ next to the sources.
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for (name, value) in env {
        command.env(name, value);
    }
    let name = script.display();
    let output = run_bounded(&mut command, timeout)
        .unwrap_or_else(|e| panic!("could not run python3 (is Python 3 on PATH?): {e}"))
        .unwrap_or_else(|| {
            panic!(
                "{name} did not finish within {} s and was killed",
                timeout.as_secs()
            )
        });
    let report = describe(&output);
    assert!(
        output.status.success(),
        "{name} failed ({})\n{report}",
        output.status
    );
    // unittest writes its report to stderr.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.lines().any(|line| line.starts_with("OK")),
        "{name} exited 0 without unittest's OK line\n{report}"
    );
    // Shown with `--nocapture`: the list of Python tests that ran.
    eprintln!("{stderr}");
}
