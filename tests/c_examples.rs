//! The C examples, compiled as a C user would (strict C11, all warnings as errors)
//! against include/camb.h, linked against libcamb.so, and run against the emulator.
//! (stress and load run here with small counts; scripts/memcheck.sh runs them again
//! under valgrind and AddressSanitizer, and scripts/load.sh with 100,000 calls.)

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
            "-pthread",
        ])
        .arg(format!("-I{MANIFEST_DIR}/include"))
        .arg(&source)
        .arg(format!("-L{}", lib_dir.display()))
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        // DT_RPATH, searched before LD_LIBRARY_PATH (which cargo sets to include
        // target/debug, where a stale libcamb.so from `cargo build` may be).
        .arg("-Wl,--disable-new-dtags")
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

fn run_with_env(program: &Path, args: &[&str], base_url: &str) -> Output {
    Command::new(program)
        .args(args)
        .env("CAMB_API_KEY", DEFAULT_API_KEY)
        .env("CAMB_BASE_URL", base_url)
        .output()
        .expect("the example runs")
}

#[test]
fn the_demo_turns_a_prompt_into_a_valid_wav_file() {
    let program = compile("demo");
    let emulator = emulator();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("demo-test.wav");
    let _ = std::fs::remove_file(&out);
    let output = run_with_env(
        &program,
        &[
            "--duration",
            "3",
            "--out",
            out.to_str().unwrap(),
            "wind",
            "in",
            "pines",
        ],
        &emulator.base_url(),
    );
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let log = stdout(&output);
    assert!(log.contains("created task "), "{log}");
    assert!(log.contains(": SUCCESS\n"), "{log}");
    let bytes = std::fs::read(&out).unwrap();
    assert!(log.contains(&format!("({} bytes)", bytes.len())), "{log}");
    let (channels, rate, bits, frames) = parse_wav(&bytes);
    assert_eq!(
        (channels, rate, bits),
        (1, 22_050, 16),
        "mono 16-bit 22.05 kHz"
    );
    assert_eq!(frames, 3 * 22_050, "3 seconds of audio");
    // Not silence: real audio has a meaningful peak.
    let peak = bytes[44..]
        .chunks_exact(2)
        .map(|s| i16::from_le_bytes([s[0], s[1]]).unsigned_abs())
        .max()
        .unwrap();
    assert!(peak > 1_000, "peak {peak}");
    // And it is exactly what the server rendered for this prompt.
    assert_eq!(
        bytes,
        camb_emulator::wav::render("wind in pines", "sound", 3.0)
    );
}

#[test]
fn the_demo_reports_a_failed_task_and_leaves_no_file() {
    let program = compile("demo");
    let emulator = emulator();
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("demo-fail-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("out.wav");

    let failed = run_with_env(
        &program,
        &["--out", out.to_str().unwrap(), "glass [status:ERROR]"],
        &emulator.base_url(),
    );
    assert_eq!(failed.status.code(), Some(1));
    assert!(
        stderr(&failed).contains(
            "the task ended in ERROR (PROCESSING_ERROR): The audio model failed to render this prompt"
        ),
        "{}",
        stderr(&failed)
    );

    // The download fails mid-way: no partial file may remain.
    emulator.push_fault(Fault {
        path_prefix: Some("/text-to-sound-result/".into()),
        times: 5,
        respond: Some(FaultResponse {
            status: 500,
            body: r#"{"detail":"storage unavailable"}"#.into(),
            content_type: Some("application/json".into()),
            ..FaultResponse::default()
        }),
        ..Fault::default()
    });
    let broken = run_with_env(
        &program,
        &["--out", out.to_str().unwrap(), "glass"],
        &emulator.base_url(),
    );
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        stderr(&broken).contains("saving the audio failed: CAMB_RESULT_SERVER_ERROR"),
        "{}",
        stderr(&broken)
    );
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "a file was left behind"
    );
}

#[test]
fn poll_status_stops_on_every_final_status() {
    let program = compile("poll_status");
    let emulator = emulator();
    let url = emulator.base_url();

    let success = run(&program, &["demo-success", &url, "0.05"]);
    assert!(success.status.success(), "{}", stderr(&success));
    let log = stdout(&success);
    assert!(log.contains("Status: SUCCESS\n"), "{log}");
    assert!(log.contains("Run ID : 4242\n"), "{log}");
    assert!(
        log.contains(&format!("Audio URL : {url}/_emulator/files/4242.wav")),
        "{log}"
    );

    for (task, expected) in [
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
    ] {
        let output = run(&program, &[task, &url, "0.05"]);
        assert_eq!(output.status.code(), Some(1), "{task}");
        assert!(
            stdout(&output).contains(expected),
            "{task}: {}",
            stdout(&output)
        );
    }

    let missing = run(&program, &["no-such-task", &url, "0.05"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("CAMB_RESULT_NOT_FOUND"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn stress_passes_every_check_of_lifetimes_and_threads() {
    let program = compile("stress");
    let emulator = emulator();
    let url = emulator.base_url();
    let output = run(
        &program,
        &[
            &url,
            "--clients",
            "4",
            "--threads",
            "4",
            "--calls",
            "20",
            "--workflows",
            "1",
        ],
    );
    let log = stdout(&output);
    assert!(output.status.success(), "{log}{}", stderr(&output));
    let summary = log
        .lines()
        .find(|line| line.starts_with("stress: "))
        .unwrap_or_else(|| panic!("no summary line: {log}"));
    // 4 threads x 20 calls, rotating over 3 demo tasks and a missing id.
    assert!(
        summary.contains("calls=80 ok=60 not_found=20 other=0"),
        "{summary}"
    );
    assert!(summary.ends_with("failures=0: PASS"), "{summary}");
}

#[test]
fn load_stays_flat_and_reuses_its_connections() {
    let program = compile("load");
    let emulator = emulator();
    let output = run(&program, &[&emulator.base_url(), "--calls", "2000"]);
    let log = stdout(&output);
    assert!(output.status.success(), "{log}{}", stderr(&output));
    let verdict = log
        .lines()
        .find(|line| line.starts_with("verdict: "))
        .unwrap_or_else(|| panic!("no verdict: {log}"));
    assert!(verdict.contains("2000 calls in "), "{verdict}");
    assert!(verdict.contains(", 0 failed;"), "{verdict}");
    assert!(verdict.ends_with("=> PASS"), "{verdict}");
}
