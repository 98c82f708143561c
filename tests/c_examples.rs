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

    for (task, expected) in common::POLL_STATUS_ENDINGS {
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

/// The status jobs jobs_epoll starts for `--statuses n`, in order: the demo tasks
/// in turn, and the missing id at n / 2 (the example's own rule).
fn jobs_epoll_expected_lines(n: usize) -> Vec<String> {
    const DEMO: [(&str, &str); 6] = [
        (
            "demo-success",
            "CAMB_RESULT_OK CAMB_STATUS_SUCCESS (SUCCESS) run_id=4242",
        ),
        (
            "demo-error",
            "CAMB_RESULT_OK CAMB_STATUS_ERROR (ERROR) run_id=4243",
        ),
        (
            "demo-timeout",
            "CAMB_RESULT_OK CAMB_STATUS_TIMEOUT (TIMEOUT)",
        ),
        (
            "demo-payment-required",
            "CAMB_RESULT_OK CAMB_STATUS_PAYMENT_REQUIRED (PAYMENT_REQUIRED)",
        ),
        (
            "demo-unknown",
            "CAMB_RESULT_OK CAMB_STATUS_UNKNOWN (QUEUED_FOR_GPU)",
        ),
        (
            "demo-pending",
            "CAMB_RESULT_OK CAMB_STATUS_PENDING (PENDING)",
        ),
    ];
    (0..n)
        .map(|i| {
            let (id, outcome) = if i == n / 2 {
                (
                    "no-such-task-jobs-epoll",
                    "CAMB_RESULT_NOT_FOUND (HTTP 404): HTTP 404 Not Found: \
                     Task not found: no-such-task-jobs-epoll",
                )
            } else {
                DEMO[i % DEMO.len()]
            };
            format!("done: #{:02} status {id} -> {outcome}", i + 1)
        })
        .collect()
}

/// Runs jobs_epoll with the key, bounded in time (a hang fails the test).
fn run_jobs_epoll(args: &[&str]) -> Output {
    let program = compile("jobs_epoll");
    let mut command = Command::new(&program);
    command.args(args).env("CAMB_API_KEY", DEFAULT_API_KEY);
    common::process::run_bounded(&mut command, std::time::Duration::from_secs(180))
        .expect("jobs_epoll runs")
        .expect("jobs_epoll ends by itself within 180 s")
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn jobs_epoll_runs_many_jobs_and_a_generation_from_one_epoll_loop() {
    let emulator = emulator();
    let dir = scratch_dir("jobs-epoll");
    let out = dir.join("rain.wav");
    // PENDING for a second: the wait polls several times (every 100-500 ms),
    // long enough for progress lines, short enough for a test.
    let prompt = "rain on a tin roof [pending_ms:1000]";
    let output = run_jobs_epoll(&[
        &emulator.base_url(),
        out.to_str().unwrap(),
        "--prompt",
        prompt,
        "--duration",
        "2",
        "--timeout-s",
        "60",
    ]);
    let log = stdout(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        common::process::describe(&output)
    );
    assert_eq!(stderr(&output), "", "nothing unexpected is reported");

    // Every status job, once each, with its own outcome (in the order they
    // finished, which the pool decides).
    let mut done: Vec<&str> = log.lines().filter(|l| l.starts_with("done: #")).collect();
    done.sort_unstable();
    assert_eq!(done, jobs_epoll_expected_lines(50), "{log}");

    // The generation: its line, the file it saved, and exactly the audio the
    // emulator renders for the prompt.
    let bytes = std::fs::read(&out).unwrap();
    let generate: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("done: generate "))
        .collect();
    assert_eq!(generate.len(), 1, "{log}");
    let line = generate[0];
    assert!(
        line.starts_with("done: generate -> CAMB_RESULT_OK task ")
            && line.contains(" CAMB_STATUS_SUCCESS run_id=")
            && line.ends_with(&format!(
                " bytes={} saved to {}",
                bytes.len(),
                out.display()
            )),
        "{line}"
    );
    let polls: u32 = line
        .split(" polls=")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no polls in {line}"));
    assert!(polls >= 2, "a task pending for 1 s polled {polls} times");
    assert_eq!(parse_wav(&bytes), (1, 22_050, 16, 2 * 22_050));
    assert_eq!(bytes, camb_emulator::wav::render(prompt, "sound", 2.0));

    // Progress, read while the generation ran: a line that saw it pending after
    // a poll, before the line that reports it done.
    let generate_at = log.find("done: generate ").unwrap();
    let progress: Vec<&str> = log[..generate_at]
        .lines()
        .filter(|l| l.starts_with("progress: generate "))
        .collect();
    assert!(
        progress
            .iter()
            .any(|l| l.contains(" status=CAMB_STATUS_PENDING ") && !l.contains(" polls=0 ")),
        "no progress line saw the task pending: {progress:?}"
    );
    assert!(
        !log[generate_at..].contains("progress: "),
        "a progress line after the generation was done:\n{log}"
    );

    let summary = log
        .lines()
        .find(|l| l.starts_with("jobs_epoll: "))
        .unwrap_or_else(|| panic!("no summary: {log}"));
    assert!(
        summary.starts_with("jobs_epoll: 51 jobs (50 status, 1 generate), 51 delivered, "),
        "{summary}"
    );
    assert!(
        summary.contains(&format!(" {} progress lines,", progress.len())),
        "{summary}"
    );
    assert!(summary.ends_with(", 0 unexpected: PASS"), "{summary}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn jobs_epoll_exits_non_zero_when_anything_is_unexpected() {
    let dir = scratch_dir("jobs-epoll-fail");

    // A generation whose task ends in ERROR: reported, and no file is left.
    let emulator = emulator();
    let out = dir.join("failed.wav");
    let failed = run_jobs_epoll(&[
        &emulator.base_url(),
        out.to_str().unwrap(),
        "--statuses",
        "3",
        "--prompt",
        "glass [status:ERROR]",
    ]);
    assert_eq!(
        failed.status.code(),
        Some(1),
        "{}",
        common::process::describe(&failed)
    );
    assert!(
        stderr(&failed).contains("unexpected: the generate job failed: CAMB_RESULT_TASK_FAILED"),
        "{}",
        stderr(&failed)
    );
    let log = stdout(&failed);
    assert!(
        log.contains("done: generate -> CAMB_RESULT_TASK_FAILED: task ")
            && log.contains(" ended ERROR: PROCESSING_ERROR"),
        "{log}"
    );
    assert!(log.contains(", 1 unexpected: FAIL\n"), "{log}");
    assert!(!out.exists(), "a failed generation left a file");

    // Demo tasks still PENDING (an emulator started a minute ago, as it were):
    // every status job is reported against what it should have been.
    let slow = Emulator::start(Config {
        pending_ms: 600_000,
        ..Config::default()
    })
    .unwrap();
    let pending = run_jobs_epoll(&[
        &slow.base_url(),
        dir.join("pending.wav").to_str().unwrap(),
        "--statuses",
        "3",
        "--prompt",
        "bell [pending_ms:0]",
    ]);
    assert_eq!(pending.status.code(), Some(1));
    // Jobs #1 and #3 ask for demo-success and demo-timeout; #2, the missing id,
    // is as expected. (In the order they finished.)
    let errors = stderr(&pending);
    let mut errors: Vec<&str> = errors.lines().collect();
    errors.sort_unstable();
    assert_eq!(
        errors,
        [
            "unexpected: status job #1 (demo-success): status CAMB_STATUS_PENDING (PENDING), \
             want CAMB_STATUS_SUCCESS (SUCCESS)",
            "unexpected: status job #3 (demo-timeout): status CAMB_STATUS_PENDING (PENDING), \
             want CAMB_STATUS_TIMEOUT (TIMEOUT)",
        ]
    );
    assert!(
        stdout(&pending).contains(", 2 unexpected: FAIL\n"),
        "{}",
        stdout(&pending)
    );

    // Out of time: the generation's wait ends at its deadline, and says so.
    let late = run_jobs_epoll(&[
        &emulator.base_url(),
        dir.join("late.wav").to_str().unwrap(),
        "--statuses",
        "2",
        "--prompt",
        "bell [pending_ms:600000]",
        "--timeout-s",
        "1",
    ]);
    assert_eq!(late.status.code(), Some(1));
    // The words name the task that was made (and billed).
    let words = stderr(&late);
    assert!(
        words.starts_with(
            "unexpected: the generate job failed: CAMB_RESULT_TIMEOUT (HTTP 0): task "
        ) && words
            .contains(": the task was still PENDING when the wait's deadline of 1000 ms came"),
        "{}",
        words
    );
    let log = stdout(&late);
    assert!(log.contains("progress: generate state=WAITING "), "{log}");
    assert!(log.contains(", 1 unexpected: FAIL\n"), "{log}");

    let usage = run_jobs_epoll(&[]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(stderr(&usage).starts_with("usage:"), "{}", stderr(&usage));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs examples/speak with the key and CAMB_BASE_URL, bounded in time.
fn run_speak(args: &[&str], base_url: &str) -> Output {
    let mut command = Command::new(compile("speak"));
    command
        .args(args)
        .env("CAMB_API_KEY", DEFAULT_API_KEY)
        .env("CAMB_BASE_URL", base_url);
    common::process::run_bounded(&mut command, std::time::Duration::from_secs(120))
        .expect("speak runs")
        .expect("speak ends by itself within 120 s")
}

/// The files in `dir`, by name.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn speak_streams_text_to_a_valid_wav_file() {
    // Paced like a real server: the first audio after 150 ms, then real time.
    let emulator = emulator();
    let dir = scratch_dir("speak");
    let out = dir.join("hello.wav");
    let output = run_speak(
        &["Hello from the speak example", out.to_str().unwrap()],
        &emulator.base_url(),
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        common::process::describe(&output)
    );
    assert_eq!(stderr(&output), "");
    let log = stdout(&output);
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 3, "{log}");

    // The time to the first audio: no less than the emulator waits before it.
    let first_ms: u64 = lines[0]
        .strip_prefix("first audio after ")
        .and_then(|rest| rest.strip_suffix(" ms"))
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("no first-audio line: {log}"));
    assert!((140..30_000).contains(&first_ms), "{first_ms} ms\n{log}");

    // A WAV whose header has the real sizes (parse_wav checks the RIFF and data
    // sizes against the file's length), at mars-flash's rate: every byte the
    // server sent, the header's placeholders replaced.
    let bytes = std::fs::read(&out).unwrap();
    let (channels, rate, bits, frames) = parse_wav(&bytes);
    assert_eq!((channels, rate, bits), (1, 22_050, 16));
    assert!(frames > 22_050 / 2, "{frames} frames");
    let streams = emulator.tts_streams();
    assert_eq!(streams.len(), 1, "{streams:?}");
    assert!(streams[0].completed, "{streams:?}");
    assert_eq!(streams[0].bytes_sent, bytes.len() as u64);
    assert_eq!(
        (streams[0].format.as_str(), streams[0].sample_rate),
        ("wav", 22_050)
    );

    let saved = lines[1]
        .strip_prefix(&format!(
            "saved {}: {} bytes of wav, 22050 Hz, 1 channel, in ",
            out.display(),
            bytes.len()
        ))
        .and_then(|rest| rest.strip_suffix(" ms"))
        .unwrap_or_else(|| panic!("{log}"));
    let total_ms: u64 = saved.parse().unwrap();
    assert!(total_ms >= first_ms, "{log}");
    assert_eq!(lines[2], "credits: 1", "{log}");
    assert_eq!(files_in(&dir), ["hello.wav"], "a temporary file was left");

    // Raw PCM from mars-pro: no header to fix, 48 kHz.
    let raw = dir.join("hello.pcm");
    let output = run_speak(
        &[
            "Hello again",
            raw.to_str().unwrap(),
            "147320",
            "en-us",
            "pcm_s16le",
            "mars-pro",
        ],
        &emulator.base_url(),
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        common::process::describe(&output)
    );
    let pcm = std::fs::read(&raw).unwrap();
    assert!(!pcm.is_empty() && pcm.len() % 2 == 0, "{} bytes", pcm.len());
    assert!(
        stdout(&output).contains(&format!(
            "saved {}: {} bytes of pcm_s16le, 48000 Hz, 1 channel, in ",
            raw.display(),
            pcm.len()
        )),
        "{}",
        stdout(&output)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn speak_fails_in_the_servers_words_and_leaves_no_partial_file() {
    let emulator = emulator();
    let url = emulator.base_url();
    let dir = scratch_dir("speak-fail");
    let out = dir.join("out.wav");
    let out = out.to_str().unwrap();

    // No such voice: the 404's words.
    let missing = run_speak(&["Hello there", out, "999"], &url);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        stderr(&missing),
        "speak: speaking failed: CAMB_RESULT_NOT_FOUND: HTTP 404 Not Found: Voice not found: 999\n"
    );
    assert_eq!(stdout(&missing), "", "no audio, no first-audio line");
    assert!(files_in(&dir).is_empty(), "{:?}", files_in(&dir));

    // A locale mars-flash does not speak: the 422 lists those it does.
    let refused = run_speak(&["Hello there", out, "147320", "zh-tw"], &url);
    assert_eq!(refused.status.code(), Some(1));
    let words = stderr(&refused);
    assert!(
        words.starts_with("speak: speaking failed: CAMB_RESULT_VALIDATION: HTTP 422")
            && words.contains("'zh-tw'")
            && words.contains("en-us"),
        "{words}"
    );
    assert!(files_in(&dir).is_empty(), "{:?}", files_in(&dir));

    // Cut in the middle: an error, and the file that was there stays as it was.
    std::fs::write(dir.join("out.wav"), b"the file that was there").unwrap();
    emulator.push_fault(Fault {
        path_prefix: Some("/tts-stream".into()),
        cut_after_bytes: Some(5000),
        ..Fault::default()
    });
    let cut = run_speak(&["Hello from a stream that breaks", out], &url);
    assert_eq!(cut.status.code(), Some(1));
    let words = stderr(&cut);
    assert!(
        words.starts_with("speak: speaking failed: CAMB_RESULT_CONNECT: ")
            && words.contains("5000"),
        "{words}"
    );
    assert!(
        stdout(&cut).starts_with("first audio after "),
        "{}",
        stdout(&cut)
    );
    assert_eq!(
        std::fs::read(dir.join("out.wav")).unwrap(),
        b"the file that was there"
    );
    assert_eq!(files_in(&dir), ["out.wav"]);

    // A directory that does not exist: said before anything is sent.
    let nowhere = dir.join("no-such-dir").join("x.wav");
    let requests = emulator.stats().requests_total;
    let bad_path = run_speak(&["Hello there", nowhere.to_str().unwrap()], &url);
    assert_eq!(bad_path.status.code(), Some(1));
    assert!(
        stderr(&bad_path).starts_with("speak: cannot create a file beside "),
        "{}",
        stderr(&bad_path)
    );
    assert_eq!(emulator.stats().requests_total, requests);

    let usage = run_speak(&[], &url);
    assert_eq!(usage.status.code(), Some(2));
    assert!(stderr(&usage).starts_with("usage:"), "{}", stderr(&usage));
    let not_a_voice = run_speak(&["Hello there", out, "alice"], &url);
    assert_eq!(not_a_voice.status.code(), Some(2));
    let no_key = Command::new(compile("speak"))
        .args(["Hello there", out])
        .env_remove("CAMB_API_KEY")
        .env("CAMB_BASE_URL", &url)
        .output()
        .unwrap();
    assert_eq!(no_key.status.code(), Some(1));
    assert!(
        stderr(&no_key)
            .starts_with("speak: creating the client failed: CAMB_RESULT_MISSING_API_KEY: "),
        "{}",
        stderr(&no_key)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
