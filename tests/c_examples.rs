//! The C examples, compiled as a C user would (strict C11, all warnings as errors)
//! against include/camb.h, linked against libcamb.so, and run against the emulator.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use common::*;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// Compiles examples/<name>.c once per test run and returns the program's path.
/// (Tests run in parallel: two writing the same executable would race.)
fn compile(name: &str) -> PathBuf {
    static COMPILED: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut compiled = COMPILED.lock().unwrap_or_else(|p| p.into_inner());
    compiled
        .entry(name.to_owned())
        .or_insert_with(|| compile_now(name))
        .clone()
}

fn compile_now(name: &str) -> PathBuf {
    let lib_dir = lib_dir();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let source = Path::new(MANIFEST_DIR)
        .join("examples")
        .join(format!("{name}.c"));
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let output = Command::new(&cc)
        .args([
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
            "-O1",
        ])
        .arg(format!("-I{MANIFEST_DIR}/include"))
        .arg(&source)
        .arg(format!("-L{}", lib_dir.display()))
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .args(["-lcamb", "-o"])
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc:?}: {e}"));
    assert!(
        output.status.success(),
        "{} does not compile cleanly:\n{}",
        source.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .env("CAMB_API_KEY", DEFAULT_API_KEY)
        .output()
        .expect("the example runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn task_status_prints_each_kind_of_task() {
    let program = compile("task_status");
    let emulator = emulator();
    let url = emulator.base_url();

    let success = run(&program, &["demo-success", &url]);
    assert!(success.status.success(), "{}", stderr(&success));
    assert_eq!(
        stdout(&success),
        "status: CAMB_STATUS_SUCCESS (SUCCESS)\nrun_id: 4242\nfinal: yes\n"
    );

    let error = run(&program, &["demo-error", &url]);
    assert!(error.status.success(), "{}", stderr(&error));
    assert_eq!(
        stdout(&error),
        "status: CAMB_STATUS_ERROR (ERROR)\nrun_id: 4243\nexception_reason: PROCESSING_ERROR\n\
         message: The audio model failed to render this prompt\nfinal: yes\n"
    );

    let unknown = run(&program, &["demo-unknown", &url]);
    assert!(stdout(&unknown).starts_with("status: CAMB_STATUS_UNKNOWN (QUEUED_FOR_GPU)\n"));

    let pending = run(&program, &["demo-pending", &url]);
    assert!(
        stdout(&pending).ends_with("run_id: none\nfinal: no\n"),
        "{}",
        stdout(&pending)
    );
}

#[test]
fn task_status_reports_failures_in_words() {
    let program = compile("task_status");
    let emulator = emulator();
    let url = emulator.base_url();

    let missing = run(&program, &["no-such-task", &url]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        stderr(&missing),
        "asking for the task's status failed: CAMB_RESULT_NOT_FOUND: \
         HTTP 404 Not Found: Task not found: no-such-task\n"
    );

    let bad_url = run(&program, &["demo-success", "not a url"]);
    assert_eq!(bad_url.status.code(), Some(2));
    assert!(stderr(&bad_url).contains("CAMB_RESULT_INVALID_PARAMETER"));

    let usage = run(&program, &[]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(stderr(&usage).starts_with("usage:"));

    let no_key = Command::new(&program)
        .args(["demo-success", &url])
        .env_remove("CAMB_API_KEY")
        .output()
        .unwrap();
    assert_eq!(no_key.status.code(), Some(1));
    assert!(stderr(&no_key).contains("CAMB_RESULT_MISSING_API_KEY"));
}
