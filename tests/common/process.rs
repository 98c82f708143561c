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

/// Runs `command` to its end within `timeout` and asserts it succeeded; `what`
/// names it in the failure.
pub fn run_ok(command: &mut Command, what: &str, timeout: Duration) -> Output {
    let output = run_bounded(command, timeout)
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"))
        .unwrap_or_else(|| panic!("{what} did not finish within {} s", timeout.as_secs()));
    assert!(
        output.status.success(),
        "{what} failed ({})\n{}",
        output.status,
        describe(&output)
    );
    output
}

/// Both streams of a child, for a failure message.
pub fn describe(output: &Output) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Removes from `command` the variables cargo gives a test about itself
/// (CARGO_MANIFEST_DIR, CARGO_PKG_NAME, OUT_DIR, ...). A cargo build run with them differs,
/// for ring's build script, from one run from a shell: each would redo the other's
/// release build (scripts/lib/target-dir.sh says more).
pub fn without_cargo_test_env(command: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let about_the_test = [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_NAME",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
            "CARGO_BIN_",
            "OUT_DIR",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix));
        if about_the_test {
            command.env_remove(name.as_ref());
        }
    }
    command
}

/// PATH without any directory holding a Rust toolchain (cargo, rustc, rustup,
/// ~/.cargo/bin, rustup's toolchains): a package installs and runs as it does for
/// a user without Rust. Asserts that `cargo` is not found on it.
pub fn path_without_rust() -> OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let kept: Vec<std::path::PathBuf> = std::env::split_paths(&path)
        .filter(|dir| {
            let named = dir.components().any(|c| {
                let c = c.as_os_str().to_string_lossy();
                c == ".cargo" || c == ".rustup" || c.contains("rustup")
            });
            let holds = ["cargo", "rustc", "rustup"]
                .iter()
                .any(|tool| dir.join(tool).exists());
            !named && !holds
        })
        .collect();
    let joined = std::env::join_paths(kept).expect("PATH's own entries join");
    let found = Command::new("/bin/sh")
        .args(["-c", "command -v cargo || command -v rustc"])
        .env("PATH", &joined)
        .output()
        .expect("/bin/sh runs");
    assert!(
        !found.status.success(),
        "cargo is still on the PATH made without Rust ({}): {joined:?}",
        String::from_utf8_lossy(&found.stdout).trim(),
    );
    joined
}

/// Runs a Python unittest suite (`PYTHON ARGS... -v`) in `dir` with `env` added
/// and `CAMB_API_KEY`, `CAMB_BASE_URL`, `CAMB_LIB` and `PYTHONPATH` removed (a
/// developer's settings must neither change the tests nor reach the emulator), and
/// asserts it passed.
pub fn assert_python_suite_passes(
    python: &Path,
    args: &[&std::ffi::OsStr],
    dir: &Path,
    env: &[(&str, OsString)],
    timeout: Duration,
) {
    let mut command = Command::new(python);
    command
        .args(args)
        .arg("-v")
        .current_dir(dir)
        .env_remove("CAMB_API_KEY")
        .env_remove("CAMB_BASE_URL")
        .env_remove("CAMB_LIB")
        .env_remove("PYTHONPATH")
        // No __pycache__ next to the sources.
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for (name, value) in env {
        command.env(name, value);
    }
    let name = format!("{} {args:?}", python.display());
    let output = run_bounded(&mut command, timeout)
        .unwrap_or_else(|e| panic!("could not run {}: {e}", python.display()))
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
    // "OK (skipped=N)": under CI a skipped test is a failure, as a missing tool is.
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        assert!(
            !stderr.lines().any(|line| line.starts_with("OK (skipped")),
            "{name} skipped tests, and CI is set\n{report}"
        );
    }
    // Shown with `--nocapture`: the list of Python tests that ran.
    eprintln!("{stderr}");
}
