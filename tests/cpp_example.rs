//! C++: include/camb.hpp and examples/cpp_demo.cpp, compiled as a C++ user would
//! (C++17, all warnings as errors, pedantic), linked against libcamb.so and run
//! against the in-process emulator. Also compiles camb.h itself as C++ and links
//! it, which proves its `extern "C"` guards: without them the names would be
//! mangled and the link would fail.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::*;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// The prompt and duration cpp_demo.cpp creates its task with.
const DEMO_PROMPT: &str = "rain on a tin roof [pending_ms:800]";
const DEMO_SECONDS: f64 = 2.0;

fn tmp(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// Compiles and links one C++ source with the flags a strict C++17 user would use.
fn compile_cpp(source: &Path, out: &Path, extra: &[&str]) {
    let lib_dir = lib_dir();
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let output = Command::new(&cxx)
        .args([
            "-std=c++17",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-O1",
        ])
        .args(extra)
        .arg(format!("-I{MANIFEST_DIR}/include"))
        .arg(source)
        .arg(format!("-L{}", lib_dir.display()))
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        // DT_RPATH, searched before LD_LIBRARY_PATH (which cargo sets to include
        // target/debug, where a stale libcamb.so from `cargo build` may be).
        .arg("-Wl,--disable-new-dtags")
        .args(["-lcamb", "-pthread", "-o"])
        .arg(out)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C++ compiler {cxx:?}: {e}"));
    assert!(
        output.status.success(),
        "{} does not compile cleanly:\n{}",
        source.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// examples/cpp_demo.cpp, compiled once per test run (tests run in parallel).
fn demo() -> &'static Path {
    static DEMO: OnceLock<PathBuf> = OnceLock::new();
    DEMO.get_or_init(|| {
        let out = tmp("cpp_demo");
        compile_cpp(
            &Path::new(MANIFEST_DIR).join("examples/cpp_demo.cpp"),
            &out,
            &[],
        );
        out
    })
}

/// EDGE_CASES, compiled once per test run.
fn edge_cases() -> &'static Path {
    static EDGE: OnceLock<PathBuf> = OnceLock::new();
    EDGE.get_or_init(|| {
        let source = tmp("camb_hpp_edge_cases.cpp");
        std::fs::write(&source, EDGE_CASES).unwrap();
        let out = tmp("camb_hpp_edge_cases");
        compile_cpp(&source, &out, &[]);
        out
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn both(output: &Output) -> String {
    format!(
        "--- stdout ---\n{}--- stderr ---\n{}",
        text(&output.stdout),
        text(&output.stderr)
    )
}

fn run_demo(args: &[&str], key: Option<&str>) -> Output {
    let mut command = Command::new(demo());
    command.args(args).env_remove("CAMB_API_KEY");
    if let Some(key) = key {
        command.env("CAMB_API_KEY", key);
    }
    command.output().expect("cpp_demo runs")
}

#[test]
fn camb_h_compiles_as_cpp_and_links() {
    let source = tmp("camb_h_as_cpp.cpp");
    // The one line that matters is the first; main() calls into the library so
    // that the link checks the names are unmangled.
    std::fs::write(
        &source,
        "#include \"camb.h\"\n\
         int main() { return camb_status_is_final(CAMB_STATUS_SUCCESS) && \
         camb_version() != nullptr ? 0 : 1; }\n",
    )
    .unwrap();
    let out = tmp("camb_h_as_cpp");
    compile_cpp(&source, &out, &[]);
    let status = Command::new(&out).status().expect("the program runs");
    assert!(status.success(), "{status}");
}

#[test]
fn the_cpp_demo_runs_every_behaviour() {
    let emulator = emulator();
    let url = emulator.base_url();
    let wav = tmp(&format!("cpp-demo-{}.wav", std::process::id()));
    let _ = std::fs::remove_file(&wav);

    let output = run_demo(&[&url, wav.to_str().unwrap()], Some(DEFAULT_API_KEY));
    let log = text(&output.stdout);
    assert!(output.status.success(), "{}", both(&output));
    assert!(output.stderr.is_empty(), "{}", both(&output));

    let lines: Vec<&str> = log.lines().collect();
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        lines[0],
        format!("libcamb {version} (header {version})"),
        "{log}"
    );
    assert!(lines[1].starts_with("created task "), "{log}");
    // The progress lambda prints each change of status, once.
    assert_eq!(lines[2], "status: PENDING (poll 1)", "{log}");
    assert!(lines[3].starts_with("status: SUCCESS (poll "), "{log}");
    assert_eq!(
        lines[4], "task finished: CAMB_STATUS_SUCCESS, run 100001",
        "{log}"
    );

    let bytes = std::fs::read(&wav).expect("the WAV file was saved");
    assert_eq!(
        lines[5],
        format!(
            "saved run 100001 to {} ({} bytes)",
            wav.display(),
            bytes.len()
        ),
        "{log}"
    );
    let (channels, rate, bits, frames) = parse_wav(&bytes);
    assert_eq!((channels, rate, bits), (1, 22_050, 16));
    assert_eq!(frames, (DEMO_SECONDS * 22_050.0) as u32);
    assert_eq!(
        bytes,
        camb_emulator::wav::render(DEMO_PROMPT, "sound", DEMO_SECONDS),
        "the file is exactly what the server rendered"
    );
    // The same audio through the write callback (64 KiB chunks).
    let chunks = bytes.len().div_ceil(64 * 1024);
    assert_eq!(
        lines[6],
        format!(
            "downloaded {} bytes in {chunks} chunks, same size as the file",
            bytes.len()
        ),
        "{log}"
    );
    assert!(
        lines[7].starts_with(&format!("url: {url}/_emulator/files/100001.wav?signature=")),
        "{log}"
    );
    assert_eq!(lines[8], "urls: 2 of 3 runs have one", "{log}");
    // A batch: each task with its own result, the failed one with its own error.
    assert_eq!(
        lines[9], "batch: demo-success SUCCESS no-such-task CAMB_RESULT_NOT_FOUND (HTTP 404)",
        "{log}"
    );

    // camb::NotFound, caught as an exception, with the code, status and words.
    assert_eq!(
        lines[10],
        "not found: CAMB_RESULT_NOT_FOUND (HTTP 404): HTTP 404 Not Found: Task not found: no-such-task",
        "{log}"
    );
    assert_eq!(
        lines[11],
        "failed task: ERROR (PROCESSING_ERROR): The audio model failed to render this prompt",
        "{log}"
    );

    // Cancelled from another thread after 300 ms, while the wait slept for 10 s.
    let cancelled = lines[12]
        .strip_prefix("cancelled from another thread after ")
        .and_then(|rest| rest.strip_suffix(" ms: CAMB_RESULT_CANCELLED"))
        .unwrap_or_else(|| panic!("{log}"));
    let ms: u64 = cancelled.parse().unwrap();
    assert!((300..3_000).contains(&ms), "cancelled after {ms} ms\n{log}");

    // The callbacks' own exceptions come out of libcamb's calls unchanged.
    assert_eq!(
        lines[13],
        "progress callback exception propagated: stopped by the progress callback at poll 3",
        "{log}"
    );
    assert_eq!(
        lines[14],
        "write callback exception propagated after 1 chunk: stopped by the write callback",
        "{log}"
    );
    // A second sound, generated as a std::future (one job: create, wait, save).
    let generated_path = PathBuf::from(format!("{}.generated.wav", wav.display()));
    let generated = std::fs::read(&generated_path).expect("generate_async saved its WAV file");
    assert_eq!(
        lines[15],
        format!(
            "generate_async: task SUCCESS, {} bytes saved to {}",
            generated.len(),
            generated_path.display()
        ),
        "{log}"
    );
    assert_eq!(
        generated,
        camb_emulator::wav::render("the sea at night [pending_ms:400]", "sound", DEMO_SECONDS),
        "the generated file is what the server rendered for its prompt"
    );
    // Status futures completed by dispatch() after poll(2) on the queue's descriptor.
    assert_eq!(
        lines[16], "queue: SUCCESS ERROR CAMB_RESULT_NOT_FOUND",
        "{log}"
    );
    // The audio downloaded into memory by a job: the very bytes of the file.
    assert_eq!(
        lines[17],
        format!(
            "download job: {} bytes in memory, the same as the file",
            bytes.len()
        ),
        "{log}"
    );
    // A wait cancelled through its camb::Job while it slept between polls.
    assert_eq!(
        lines[18], "cancelled job after 1 poll: CAMB_RESULT_CANCELLED",
        "{log}"
    );
    assert_eq!(lines[19], "done", "{log}");
    assert_eq!(lines.len(), 20, "{log}");
    let _ = std::fs::remove_file(&wav);
    let _ = std::fs::remove_file(&generated_path);
}

#[test]
fn the_cpp_demo_reports_a_camb_error_by_name() {
    let emulator = emulator();
    let url = emulator.base_url();
    let wav = tmp("cpp-demo-unused.wav");
    let wav = wav.to_str().unwrap();

    let no_key = run_demo(&[&url, wav], None);
    assert_eq!(no_key.status.code(), Some(1), "{}", both(&no_key));
    assert!(
        text(&no_key.stderr).starts_with("error: CAMB_RESULT_MISSING_API_KEY: "),
        "{}",
        both(&no_key)
    );

    let wrong_key = run_demo(&[&url, wav], Some("not-the-key"));
    assert_eq!(wrong_key.status.code(), Some(1), "{}", both(&wrong_key));
    assert!(
        text(&wrong_key.stderr).starts_with("error: CAMB_RESULT_UNAUTHORIZED: HTTP 401"),
        "{}",
        both(&wrong_key)
    );

    let bad_url = run_demo(&["not a url", wav], Some(DEFAULT_API_KEY));
    assert_eq!(bad_url.status.code(), Some(1), "{}", both(&bad_url));
    assert!(
        text(&bad_url.stderr).starts_with("error: CAMB_RESULT_INVALID_PARAMETER: "),
        "{}",
        both(&bad_url)
    );

    let nobody = format!("http://127.0.0.1:{}", closed_port());
    let refused = run_demo(&[&nobody, wav], Some(DEFAULT_API_KEY));
    assert_eq!(refused.status.code(), Some(1), "{}", both(&refused));
    assert!(
        text(&refused.stderr).starts_with("error: CAMB_RESULT_CONNECT: "),
        "{}",
        both(&refused)
    );

    let usage = run_demo(&[], Some(DEFAULT_API_KEY));
    assert_eq!(usage.status.code(), Some(2));
    assert!(text(&usage.stderr).starts_with("usage: "));
}

/// Plants the tasks EDGE_CASES expects beyond the demo tasks.
fn edge_emulator() -> Emulator {
    let emulator = emulator();
    emulator.add_task(TaskSpec {
        task_id: Some("nul-task".into()),
        final_status: "DONE\0LATER".into(),
        message: Some(serde_json::json!("a\u{0}b")),
        ..TaskSpec::default()
    });
    emulator
}

/// JOB_CASES, compiled once per test run.
fn job_cases() -> &'static Path {
    static JOBS: OnceLock<PathBuf> = OnceLock::new();
    JOBS.get_or_init(|| {
        let source = tmp("camb_hpp_job_cases.cpp");
        std::fs::write(&source, JOB_CASES).unwrap();
        let out = tmp("camb_hpp_job_cases");
        compile_cpp(&source, &out, &[]);
        out
    })
}

fn run_edge_cases(emulator: &Emulator, wrapper: &[&str]) -> Output {
    run_checks(edge_cases(), "edge", emulator, wrapper)
}

fn run_job_cases(emulator: &Emulator, wrapper: &[&str]) -> Output {
    run_checks(job_cases(), "jobs", emulator, wrapper)
}

/// Runs a checks program (BASE_URL API_KEY TMPDIR) with a fresh directory.
fn run_checks(program: &Path, name: &str, emulator: &Emulator, wrapper: &[&str]) -> Output {
    let dir = tmp(&format!(
        "cpp-{name}-{}-{}",
        std::process::id(),
        wrapper.len()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // The program itself, or a wrapper (valgrind) running it.
    let mut command = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut command = Command::new(first);
            command.args(rest).arg(program);
            command
        }
        None => Command::new(program),
    };
    let output = command
        .arg(emulator.base_url())
        .arg(DEFAULT_API_KEY)
        .arg(&dir)
        .env_remove("CAMB_API_KEY")
        .output()
        .expect("the checks program runs");
    let _ = std::fs::remove_dir_all(&dir);
    output
}

#[test]
fn the_wrapper_handles_every_edge_case() {
    let emulator = edge_emulator();
    let output = run_edge_cases(&emulator, &[]);
    let log = text(&output.stdout);
    assert!(output.status.success(), "{}", both(&output));
    assert!(!log.contains("FAIL"), "{log}");
    assert!(log.contains("edge checks: all "), "{log}");
}

#[test]
fn the_wrapper_runs_jobs_as_futures_and_on_a_queue() {
    let emulator = edge_emulator();
    let output = run_job_cases(&emulator, &[]);
    let log = text(&output.stdout);
    assert!(output.status.success(), "{}", both(&output));
    assert!(!log.contains("FAIL"), "{log}");
    assert!(log.contains("job checks: all "), "{log}");
}

/// LOG_CASES, compiled once per test run.
fn log_cases() -> &'static Path {
    static LOG: OnceLock<PathBuf> = OnceLock::new();
    LOG.get_or_init(|| {
        let source = tmp("camb_hpp_log_cases.cpp");
        std::fs::write(&source, LOG_CASES).unwrap();
        let out = tmp("camb_hpp_log_cases");
        compile_cpp(&source, &out, &[]);
        out
    })
}

fn run_log_cases(emulator: &Emulator, wrapper: &[&str]) -> Output {
    run_checks(log_cases(), "log", emulator, wrapper)
}

#[test]
fn the_wrapper_logs_through_a_function_and_adds_headers() {
    let emulator = edge_emulator();
    let output = run_log_cases(&emulator, &[]);
    let log = text(&output.stdout);
    assert!(output.status.success(), "{}", both(&output));
    assert!(!log.contains("FAIL"), "{log}");
    assert!(log.contains("log checks: all "), "{log}");
    // The program prints every line it was given: the key is in none.
    assert!(log.contains("line: "), "{log}");
    assert!(!log.contains(DEFAULT_API_KEY), "{log}");
}

/// valgrind, when the machine has it: no leak and no memory error on any path the
/// demo and the edge cases take (exceptions from constructors, setters, callbacks,
/// moves, cancellations).
#[test]
fn nothing_leaks_under_valgrind() {
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("valgrind is not installed: skipped");
        return;
    }
    let valgrind = [
        "valgrind",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite,indirect",
        "--error-exitcode=99",
        "--quiet",
    ];
    let emulator = edge_emulator();
    let edge = run_edge_cases(&emulator, &valgrind);
    assert!(edge.status.success(), "{}", both(&edge));
    assert!(text(&edge.stdout).contains("edge checks: all "));
    // Jobs: each freed once, by its Job (never submitted) or by the dispatch that
    // completes its future; each record and log function freed once.
    let jobs = run_job_cases(&emulator, &valgrind);
    assert!(jobs.status.success(), "{}", both(&jobs));
    assert!(text(&jobs.stdout).contains("job checks: all "));
    // The log function: destroyed through libcamb's finalizer, after its last line.
    let logs = run_log_cases(&emulator, &valgrind);
    assert!(logs.status.success(), "{}", both(&logs));
    assert!(text(&logs.stdout).contains("log checks: all "));

    let wav = tmp(&format!("cpp-demo-valgrind-{}.wav", std::process::id()));
    let demo_run = Command::new(valgrind[0])
        .args(&valgrind[1..])
        .arg(demo())
        .arg(emulator.base_url())
        .arg(&wav)
        .env("CAMB_API_KEY", DEFAULT_API_KEY)
        .output()
        .unwrap();
    assert!(demo_run.status.success(), "{}", both(&demo_run));
    assert!(text(&demo_run.stdout).ends_with("done\n"));
    let _ = std::fs::remove_file(&wav);
    let _ = std::fs::remove_file(format!("{}.generated.wav", wav.display()));

    // The failure path: the exception thrown while building the client.
    let failed = Command::new(valgrind[0])
        .args(&valgrind[1..])
        .arg(demo())
        .arg(emulator.base_url())
        .arg(&wav)
        .env_remove("CAMB_API_KEY")
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1), "{}", both(&failed));
}

/// Corners of camb.hpp, checked from C++: type properties at compile time; error
/// mapping, the builder's remembered refusal, strings with NUL bytes, moves,
/// cancellation (a token on every blocking network call), callbacks that return
/// false or throw, the blocking generate, batches whose entries each carry their
/// own result (intact after later calls), results read on another thread, and
/// threads sharing a client at run time.
/// Arguments: BASE_URL API_KEY TMPDIR (run with CAMB_API_KEY unset).
const EDGE_CASES: &str = r##"
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "camb.hpp"

static_assert(!std::is_copy_constructible_v<camb::Client>);
static_assert(!std::is_copy_assignable_v<camb::Client>);
static_assert(std::is_nothrow_move_constructible_v<camb::Client>);
static_assert(std::is_nothrow_move_assignable_v<camb::Client>);
static_assert(!std::is_copy_constructible_v<camb::CancelToken>);
static_assert(!std::is_copy_assignable_v<camb::CancelToken>);
static_assert(std::is_nothrow_move_constructible_v<camb::CancelToken>);
static_assert(std::is_nothrow_move_assignable_v<camb::CancelToken>);
static_assert(std::is_base_of_v<std::runtime_error, camb::Error>);
static_assert(std::is_base_of_v<camb::Error, camb::NotFound>);
static_assert(std::is_base_of_v<camb::Error, camb::Unauthorized>);
static_assert(std::is_base_of_v<camb::Error, camb::Timeout>);
static_assert(std::is_base_of_v<camb::Error, camb::Cancelled>);
static_assert(!std::is_copy_constructible_v<camb::ClientBuilder>);
static_assert(std::is_nothrow_move_constructible_v<camb::ClientBuilder>);
static_assert(std::is_copy_constructible_v<camb::TaskInfo>);
static_assert(std::is_copy_constructible_v<camb::TaskResult>);
static_assert(std::is_copy_constructible_v<camb::AudioUrl>);
static_assert(std::is_same_v<decltype(camb::TaskInfo::task_id), std::string>);
static_assert(std::is_same_v<decltype(camb::TaskInfo::run_id), std::optional<std::int64_t>>);
static_assert(std::is_same_v<decltype(camb::TaskResult::error), std::optional<camb::Error>>);
static_assert(std::is_same_v<decltype(std::declval<camb::Client>().get_task_statuses({})),
                             std::vector<camb::TaskResult>>);
static_assert(std::is_same_v<decltype(std::declval<camb::Client>().get_audio_urls({})),
                             std::vector<camb::AudioUrl>>);
static_assert(std::is_same_v<decltype(std::declval<camb::Error>().code()), camb_result>);
static_assert(std::is_same_v<decltype(std::declval<camb::Error>().http_status()), std::uint16_t>);

static int checks = 0;
static int failures = 0;

#define CHECK(cond)                                                          \
    do {                                                                     \
        ++checks;                                                            \
        if (!(cond)) {                                                       \
            ++failures;                                                      \
            std::printf("FAIL line %d: %s\n", __LINE__, #cond);             \
        }                                                                    \
    } while (0)

// True when f throws exactly an E (or subclass) with this code (and HTTP status,
// unless any_http); prints what happened otherwise.
template <class E, class F>
static bool throws(F&& f, camb_result code, int http = -1, const char* contains = nullptr) {
    try {
        f();
    } catch (const E& e) {
        bool ok = e.code() == code && (http < 0 || e.http_status() == http) &&
                  (contains == nullptr || std::string(e.what()).find(contains) != std::string::npos);
        if (!ok) {
            std::printf("  got %s (HTTP %u): %s\n", e.code_name(), unsigned(e.http_status()), e.what());
        }
        return ok;
    } catch (const std::exception& e) {
        std::printf("  another exception: %s\n", e.what());
        return false;
    }
    std::printf("  nothing was thrown\n");
    return false;
}

// The camb::Error that f throws, or nothing (prints what else happened).
template <class F>
static std::optional<camb::Error> error_of(F&& f) {
    try {
        f();
    } catch (const camb::Error& e) {
        return e;
    } catch (const std::exception& e) {
        std::printf("  another exception: %s\n", e.what());
        return std::nullopt;
    }
    std::printf("  nothing was thrown\n");
    return std::nullopt;
}

static bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

static bool exists(const std::string& path) { return std::ifstream(path).good(); }

static std::uint64_t file_size(const std::string& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    return in ? static_cast<std::uint64_t>(in.tellg()) : 0;
}

struct Mine : std::runtime_error {
    using std::runtime_error::runtime_error;
};

static camb::WaitOptions fast(int interval_ms, int deadline_ms = 10000) {
    camb::WaitOptions w;
    w.initial_interval = std::chrono::milliseconds(interval_ms);
    w.max_interval = std::chrono::milliseconds(interval_ms);
    w.deadline = std::chrono::milliseconds(deadline_ms);
    return w;
}

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: edge BASE_URL API_KEY TMPDIR\n");
        return 2;
    }
    const std::string base = argv[1], key = argv[2], dir = argv[3];
    camb::ClientOptions opts;
    opts.base_url = base;
    opts.api_key = key;
    opts.timeout = std::chrono::seconds(10);

    // --- construction ---------------------------------------------------
    CHECK(camb::version() == camb::header_version);
    {
        camb::ClientOptions no_key;
        no_key.base_url = base;
        CHECK(throws<camb::Error>([&] { camb::Client c(no_key); }, CAMB_RESULT_MISSING_API_KEY, 0));
        camb::ClientOptions bad = opts;
        bad.base_url = "not a url";
        CHECK(throws<camb::Error>([&] { camb::Client c(bad); }, CAMB_RESULT_INVALID_PARAMETER, 0,
                                  "camb_client_builder_set_base_url"));
        bad = opts;
        bad.api_key = std::string("ab\0cd", 5);
        CHECK(throws<camb::Error>([&] { camb::Client c(bad); }, CAMB_RESULT_INVALID_PARAMETER, 0,
                                  "the API key contains a NUL byte"));
        bad = opts;
        bad.timeout = std::chrono::milliseconds(-1);
        CHECK(throws<camb::Error>([&] { camb::Client c(bad); }, CAMB_RESULT_INVALID_PARAMETER, 0));
        bad = opts;
        bad.timeout = std::chrono::milliseconds(0);
        CHECK(throws<camb::Error>([&] { camb::Client c(bad); }, CAMB_RESULT_INVALID_PARAMETER, 0));
        bad = opts;
        bad.max_retries = 11;
        CHECK(throws<camb::Error>([&] { camb::Client c(bad); }, CAMB_RESULT_INVALID_PARAMETER));
        bad = opts;
        bad.proxy = "not a proxy";
        CHECK(throws<camb::Error>([&] { camb::Client c(bad); }, CAMB_RESULT_INVALID_PARAMETER));
        bad = opts;
        bad.ca_bundle_file = dir + "/missing.pem";
        CHECK(throws<camb::Error>([&] { camb::Client c(bad); }, CAMB_RESULT_INVALID_PARAMETER));
        bad = opts;
        bad.ca_bundle_pem = "not PEM";
        CHECK(throws<camb::Error>([&] { camb::Client c(bad); }, CAMB_RESULT_INVALID_PARAMETER));
        bad = opts;
        bad.api_key = "wrong-key";
        camb::Client wrong(bad);
        CHECK(throws<camb::Unauthorized>([&] { wrong.get_task_status("demo-success"); },
                                         CAMB_RESULT_UNAUTHORIZED, 401));
    }

    // --- the builder remembers its first refusal -------------------------
    {
        // Setters never throw a refusal; build() throws the first one, naming
        // the setter, even when later settings were fine or refused too.
        camb::ClientBuilder b;
        bool setter_threw = false;
        try {
            b.api_key(key).base_url("not a url").timeout(std::chrono::seconds(5)).max_retries(11);
        } catch (...) {
            setter_threw = true;
        }
        CHECK(!setter_threw);
        std::optional<camb::Error> e = error_of([&] { b.build(); });
        CHECK(e && e->code() == CAMB_RESULT_INVALID_PARAMETER && e->http_status() == 0);
        CHECK(e && contains(e->what(), "camb_client_builder_set_base_url"));
        CHECK(e && !contains(e->what(), "max_retries"));
        // build() consumed it, refused or not.
        CHECK(throws<camb::Error>([&] { b.build(); }, CAMB_RESULT_INVALID_PARAMETER, 0, "already built"));

        // A refused URL after a good one: not built with the good one.
        camb::ClientBuilder later;
        later.api_key(key).base_url(base).base_url("ftp://127.0.0.1/");
        CHECK(throws<camb::Error>([&] { later.build(); }, CAMB_RESULT_INVALID_PARAMETER, 0,
                                  "camb_client_builder_set_base_url"));

        // The wrapper's own refusals keep their place in the order.
        camb::ClientBuilder nul_first;
        nul_first.api_key(std::string("ab\0cd", 5)).base_url("not a url");
        e = error_of([&] { nul_first.build(); });
        CHECK(e && e->code() == CAMB_RESULT_INVALID_PARAMETER && e->http_status() == 0);
        CHECK(e && contains(e->what(), "camb_client_builder_set_api_key") &&
              contains(e->what(), "the API key contains a NUL byte") &&
              !contains(e->what(), "base_url"));
        camb::ClientBuilder url_first;
        url_first.base_url("not a url").api_key(std::string("ab\0cd", 5)).timeout(std::chrono::milliseconds(-1));
        e = error_of([&] { url_first.build(); });
        CHECK(e && contains(e->what(), "camb_client_builder_set_base_url") && !contains(e->what(), "NUL"));
        camb::ClientBuilder negative;
        negative.api_key(key).base_url(base).timeout(std::chrono::milliseconds(-1));
        CHECK(throws<camb::Error>([&] { negative.build(); }, CAMB_RESULT_INVALID_PARAMETER, 0,
                                  "camb_client_builder_set_timeout_ms"));

        // A builder that was fine builds a working client; moving it moves the handle.
        camb::ClientBuilder good;
        good.api_key(key).base_url(base).timeout(std::chrono::seconds(10)).max_retries(0);
        camb::ClientBuilder moved(std::move(good));
        camb::Client built = moved.build();
        CHECK(built.get_task_status("demo-success").run_id == 4242);
        CHECK(throws<camb::Error>([&] { good.build(); }, CAMB_RESULT_INVALID_PARAMETER, 0, "already built"));
        // Built, never built, and dropped: freed either way (valgrind checks).
        camb::ClientBuilder unused;
        unused.api_key(key);
    }

    const camb::Client client(opts);

    // --- statuses ---------------------------------------------------------
    {
        camb::TaskInfo s = client.get_task_status("demo-success");
        CHECK(s.task_id == "demo-success");
        CHECK(s.status == camb::Status::Success && s.status_text == "SUCCESS");
        CHECK(s.run_id == 4242 && s.is_final());
        CHECK(!s.exception_reason && !s.message);
        camb::TaskInfo p = client.get_task_status("demo-pending");
        CHECK(p.status == camb::Status::Pending && !p.run_id && !p.is_final());
        camb::TaskInfo u = client.get_task_status("demo-unknown");
        CHECK(u.status == camb::Status::Unknown && u.status_text == "QUEUED_FOR_GPU" && u.is_final());
        CHECK(std::string(camb::status_name(u.status)) == "CAMB_STATUS_UNKNOWN");
        camb::TaskInfo e = client.get_task_status("demo-error");
        CHECK(e.status == camb::Status::Error && e.exception_reason == std::string("PROCESSING_ERROR"));
        CHECK(e.message == std::string("The audio model failed to render this prompt"));
        // The server's text keeps its NUL bytes (copied by length).
        camb::TaskInfo n = client.get_task_status("nul-task");
        CHECK(n.status == camb::Status::Unknown);
        CHECK(n.status_text == std::string("DONE\0LATER", 10));
        CHECK(n.message && *n.message == std::string("a\0b", 3));
        // A NUL in an id is refused, not cut short to another id.
        CHECK(throws<camb::Error>([&] { client.get_task_status(std::string("demo-success\0x", 14)); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0));
        CHECK(throws<camb::NotFound>([&] { client.get_task_status("no-such-task"); }, CAMB_RESULT_NOT_FOUND,
                                     404, "Task not found: no-such-task"));
        CHECK(throws<camb::Error>([&] { client.get_task_status(""); }, CAMB_RESULT_INVALID_PARAMETER, 0));
    }

    // --- moves --------------------------------------------------------------
    {
        camb::Client a(opts);
        camb::Client b(std::move(a));
        CHECK(a.handle() == nullptr && b.handle() != nullptr);
        CHECK(throws<camb::Error>([&] { a.get_task_status("demo-success"); }, CAMB_RESULT_NULL_PARAMETER, 0));
        CHECK(throws<camb::Error>([&] { a.get_task_statuses({"demo-success"}); }, CAMB_RESULT_NULL_PARAMETER, 0));
        CHECK(throws<camb::Error>([&] { a.get_audio_url(4242); }, CAMB_RESULT_NULL_PARAMETER, 0));
        camb::Client c(opts);
        c = std::move(b);  // frees c's own client
        CHECK(c.get_task_status("demo-success").run_id == 4242);
        camb::CancelToken t1;
        camb::CancelToken t2(std::move(t1));
        CHECK(t1.handle() == nullptr && t2.handle() != nullptr);
        t1.cancel();  // no effect, no crash
        CHECK(!t1.is_cancelled());
        camb::CancelToken t3;
        t3 = std::move(t2);
        t3.cancel();
        CHECK(t3.is_cancelled());
    }

    // --- create and wait ----------------------------------------------------
    {
        camb::CreateOptions too_long;
        too_long.duration_s = 11;
        CHECK(throws<camb::Error>([&] { client.create_task("rain", too_long); }, CAMB_RESULT_INVALID_PARAMETER, 0));
        CHECK(throws<camb::Error>([&] { client.create_task(""); }, CAMB_RESULT_INVALID_PARAMETER, 0));

        camb::CreateOptions music;
        music.audio_type = camb::AudioType::Music;
        music.duration_s = 1;
        music.project_name = "edge";
        music.project_description = "edge cases";
        music.folder_id = 7;
        const std::string id = client.create_task("a drum loop", music);
        CHECK(!id.empty() && std::strlen(id.c_str()) == id.size());
        int polls = 0;
        bool saw_done = false;
        camb::TaskInfo done = client.wait_for_task(id, fast(20), nullptr, [&](const camb::Progress& p) {
            ++polls;
            CHECK(p.polls == static_cast<std::uint32_t>(polls));
            CHECK(p.poll_result == CAMB_RESULT_OK && p.error_message.empty() && p.http_status == 0);
            saw_done = p.done;
            return true;
        });
        CHECK(done.status == camb::Status::Success && done.run_id.has_value());
        CHECK(done.task_id == id && done.status_text == "SUCCESS");
        CHECK(saw_done && polls >= 1);

        const std::string failing = client.create_task("glass [status:ERROR]");
        camb::TaskInfo failed = client.wait_for_task(failing, fast(20));
        CHECK(failed.status == camb::Status::Error);
        CHECK(failed.exception_reason == std::string("PROCESSING_ERROR"));

        // The deadline passes while the task is pending.
        CHECK(throws<camb::Timeout>([&] { client.wait_for_task("demo-pending", fast(50, 300)); },
                                    CAMB_RESULT_TIMEOUT, 0));
        // Bad options are refused by the wrapper or the library, never sent.
        CHECK(throws<camb::Error>([&] { client.wait_for_task("demo-success", fast(-5)); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0));
        camb::WaitOptions zero = fast(20);
        zero.initial_interval = std::chrono::milliseconds(0);
        CHECK(throws<camb::Error>([&] { client.wait_for_task("demo-success", zero); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0));
        // The progress callback says stop.
        CHECK(throws<camb::Cancelled>(
            [&] { client.wait_for_task("demo-pending", fast(20), nullptr, [](const camb::Progress&) { return false; }); },
            CAMB_RESULT_CANCELLED, 0));
        // A callback's own exception comes out unchanged, even a camb::Error from a
        // nested libcamb call (not the CANCELLED of the stopped wait).
        CHECK(throws<camb::NotFound>(
            [&] {
                client.wait_for_task("demo-pending", fast(20), nullptr, [&](const camb::Progress&) -> bool {
                    client.get_task_status("nested-missing");
                    return true;
                });
            },
            CAMB_RESULT_NOT_FOUND, 404, "nested-missing"));
        bool caught_mine = false;
        try {
            client.wait_for_task("demo-success", fast(20), nullptr,
                                 [](const camb::Progress&) -> bool { throw Mine("mine"); });
        } catch (const Mine& e) {
            caught_mine = std::string(e.what()) == "mine";
        }
        CHECK(caught_mine);

        // A token cancelled in advance stops the wait before it starts; reset, it serves again.
        camb::CancelToken token;
        token.cancel();
        CHECK(throws<camb::Cancelled>([&] { client.wait_for_task("demo-success", fast(20), &token); },
                                      CAMB_RESULT_CANCELLED, 0));
        token.reset();
        CHECK(!token.is_cancelled());
        CHECK(client.wait_for_task("demo-success", fast(20), &token).status == camb::Status::Success);
    }

    // --- downloads, files and URLs -------------------------------------------
    {
        std::size_t chunks = 0;
        CHECK(throws<camb::Cancelled>(
            [&] {
                client.download_audio(4242, [&](const std::uint8_t*, std::size_t) {
                    ++chunks;
                    return false;
                });
            },
            CAMB_RESULT_CANCELLED, 0));
        CHECK(chunks == 1);
        CHECK(throws<camb::Error>([&] { client.download_audio(4242, {}); }, CAMB_RESULT_NULL_PARAMETER, 0));
        camb::CancelToken token;
        token.cancel();
        CHECK(throws<camb::Cancelled>(
            [&] { client.download_audio(4242, [](const std::uint8_t*, std::size_t) { return true; }, &token); },
            CAMB_RESULT_CANCELLED));
        CHECK(throws<camb::NotFound>(
            [&] { client.download_audio(999999, [](const std::uint8_t*, std::size_t) { return true; }); },
            CAMB_RESULT_NOT_FOUND, 404));
        CHECK(throws<camb::Error>(
            [&] { client.download_audio(4243, [](const std::uint8_t*, std::size_t) { return true; }); },
            CAMB_RESULT_HTTP_STATUS, 400));

        std::vector<std::uint8_t> audio;
        const std::uint64_t total = client.download_audio(4242, [&](const std::uint8_t* d, std::size_t n) {
            audio.insert(audio.end(), d, d + n);
            return true;
        });
        CHECK(total == audio.size() && audio.size() > 44);
        CHECK(client.save_audio(4242, dir + "/a.wav") == total);
        CHECK(throws<camb::Error>([&] { client.save_audio(4242, dir + "/no-such-dir/a.wav"); }, CAMB_RESULT_IO, 0));
        CHECK(throws<camb::Error>([&] { client.save_audio(4242, dir + std::string("/a\0.wav", 7)); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0));

        const std::string url = client.get_audio_url(4242);
        CHECK(url.rfind(base + "/_emulator/files/4242.wav?signature=", 0) == 0);
        // One entry per run id, in order; a repeated id gets its URL each time.
        const std::vector<camb::AudioUrl> urls = client.get_audio_urls({4242, 999999, 4242});
        CHECK(urls.size() == 3);
        CHECK(urls.size() == 3 && urls[0].run_id == 4242 && urls[0].url &&
              urls[0].url->rfind(base + "/_emulator/files/4242.wav", 0) == 0);
        CHECK(urls.size() == 3 && urls[1].run_id == 999999 && !urls[1].url);
        CHECK(urls.size() == 3 && urls[2].run_id == 4242 && urls[2].url == urls[0].url);
        CHECK(client.get_audio_urls({}).empty());
        CHECK(throws<camb::NotFound>([&] { client.get_audio_url(999999); }, CAMB_RESULT_NOT_FOUND, 404));
        CHECK(throws<camb::Error>([&] { client.get_audio_urls(std::vector<std::int64_t>(1001, 4242)); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0));
    }

    // --- every blocking network call takes a cancel token ----------------------
    {
        camb::CancelToken token;
        token.cancel();
        CHECK(throws<camb::Cancelled>([&] { client.get_task_status("demo-success", &token); }, CAMB_RESULT_CANCELLED,
                                      0));
        CHECK(throws<camb::Cancelled>([&] { client.create_task("rain", {}, &token); }, CAMB_RESULT_CANCELLED, 0));
        CHECK(throws<camb::Cancelled>([&] { client.get_audio_url(4242, &token); }, CAMB_RESULT_CANCELLED, 0));
        CHECK(throws<camb::Cancelled>([&] { client.get_audio_urls({4242}, &token); }, CAMB_RESULT_CANCELLED, 0));
        CHECK(throws<camb::Cancelled>([&] { client.save_audio(4242, dir + "/cancelled.wav", &token); },
                                      CAMB_RESULT_CANCELLED, 0));
        CHECK(throws<camb::Cancelled>([&] { client.get_task_statuses({"demo-success", "demo-error"}, 0, &token); },
                                      CAMB_RESULT_CANCELLED, 0));
        CHECK(!exists(dir + "/cancelled.wav"));
        // A null token, or one reset, cancels nothing.
        token.reset();
        CHECK(client.get_task_status("demo-success", &token).run_id == 4242);
        CHECK(client.get_task_status("demo-success", nullptr).run_id == 4242);
        CHECK(!client.create_task("rain", {}, &token).empty());
        CHECK(client.get_audio_url(4242, &token).rfind(base + "/_emulator/files/4242.wav", 0) == 0);
        CHECK(client.get_audio_urls({4242}, &token).size() == 1);
        CHECK(client.get_task_statuses({"demo-success", "demo-error"}, 0, &token).size() == 2);

        // Cancelled from another thread while the call waits between polls.
        const auto start = std::chrono::steady_clock::now();
        std::thread canceller([&token] {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            token.cancel();
        });
        CHECK(throws<camb::Cancelled>(
            [&] { client.generate("a gong [pending_ms:60000]", dir + "/gong.wav", {}, fast(10000, 60000), &token); },
            CAMB_RESULT_CANCELLED, 0));
        canceller.join();
        CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
        CHECK(!exists(dir + "/gong.wav"));
    }

    // --- generate: prompt to WAV file, blocking --------------------------------
    {
        camb::CreateOptions one_second;
        one_second.duration_s = 1;
        const std::string path = dir + "/generated.wav";
        std::vector<std::string> seen;
        const camb::Generation g =
            client.generate("rain [pending_ms:200]", path, one_second, fast(20), nullptr, [&](const camb::Progress& p) {
                if (p.status_changed) seen.push_back(p.status_text);
                return true;
            });
        CHECK(g.task.status == camb::Status::Success && g.task_id == g.task.task_id && g.task.run_id);
        CHECK(seen.size() == 2 && seen[0] == "PENDING" && seen[1] == "SUCCESS");
        CHECK(g.polls >= 2);
        CHECK(g.bytes > 44 && g.bytes == file_size(path));
        const camb::TaskInfo now = client.get_task_status(g.task_id);
        CHECK(now.status == camb::Status::Success && now.run_id == g.task.run_id);
        std::uint64_t downloaded = 0;
        if (g.task.run_id) {
            downloaded = client.download_audio(*g.task.run_id, [](const std::uint8_t*, std::size_t) { return true; });
        }
        CHECK(downloaded == g.bytes);
        // The defaults: the server's duration, libcamb's polls.
        const camb::Generation d = client.generate("a click [pending_ms:0]", dir + "/default.wav");
        CHECK(d.task.status == camb::Status::Success && d.bytes == file_size(dir + "/default.wav") && d.polls >= 1);

        // A task that ends without audio: TASK_FAILED, its words, and no file.
        CHECK(throws<camb::Error>([&] { client.generate("glass [status:ERROR]", dir + "/failed.wav", one_second, fast(20)); },
                                  CAMB_RESULT_TASK_FAILED, 0,
                                  "ended ERROR: PROCESSING_ERROR (The audio model failed to render this prompt)"));
        CHECK(!exists(dir + "/failed.wav"));
        // Refused before any task is created: a path that cannot be written, a
        // NUL byte, bad options, a moved-from client.
        CHECK(throws<camb::Error>([&] { client.generate("rain", dir + "/no-such-dir/a.wav"); }, CAMB_RESULT_IO, 0,
                                  "does not exist"));
        CHECK(throws<camb::Error>([&] { client.generate("rain", dir + "/"); }, CAMB_RESULT_IO, 0));
        CHECK(throws<camb::Error>([&] { client.generate("rain", dir + std::string("/a\0.wav", 7)); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0, "NUL byte"));
        CHECK(throws<camb::Error>([&] { client.generate("", path); }, CAMB_RESULT_INVALID_PARAMETER, 0));
        CHECK(throws<camb::Error>([&] { client.generate("rain", path, one_second, fast(-1)); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0, "negative"));
        // The progress callback stops it, or throws: its exception comes out unchanged.
        CHECK(throws<camb::Cancelled>(
            [&] {
                client.generate("rain [pending_ms:60000]", dir + "/stopped.wav", one_second, fast(20), nullptr,
                                [](const camb::Progress& p) { return p.polls < 2; });
            },
            CAMB_RESULT_CANCELLED, 0));
        bool caught_mine = false;
        try {
            client.generate("rain [pending_ms:60000]", dir + "/stopped.wav", one_second, fast(20), nullptr,
                            [](const camb::Progress&) -> bool { throw Mine("mine"); });
        } catch (const Mine& e) {
            caught_mine = std::string(e.what()) == "mine";
        }
        CHECK(caught_mine);
        CHECK(!exists(dir + "/stopped.wav"));
        camb::Client a(opts);
        const camb::Client b(std::move(a));
        CHECK(throws<camb::Error>([&] { a.generate("rain", path); }, CAMB_RESULT_NULL_PARAMETER, 0));
    }

    // --- batch: each task its own result, intact after later calls -----------
    {
        const std::vector<std::string> ids = {
            "demo-success", "no-such-task", "", std::string("demo-success\0x", 14),
            "demo-error",   "nul-task",     "..", "demo-pending",
        };
        const std::vector<camb::TaskResult> batch = client.get_task_statuses(ids, 4);

        // Meanwhile, on this thread: a status, a failed status (which sets
        // camb_last_error), and another batch, both of whose lists are freed.
        CHECK(client.get_task_status("demo-unknown").status_text == "QUEUED_FOR_GPU");
        CHECK(throws<camb::NotFound>([&] { client.get_task_status("meanwhile-missing"); }, CAMB_RESULT_NOT_FOUND,
                                     404));
        const std::vector<camb::TaskResult> second = client.get_task_statuses({"missing-2", "demo-timeout"});
        CHECK(second.size() == 2 && !second[0].ok() && second[1].ok());
        CHECK(second.size() == 2 && second[0].error && contains(second[0].error->what(), "missing-2"));

        // The first batch, read now, field by field.
        CHECK(batch.size() == ids.size());
        if (batch.size() == ids.size()) {
            for (std::size_t i = 0; i < ids.size(); ++i) {
                CHECK(batch[i].task_id == ids[i]);
                CHECK(batch[i].ok() != batch[i].error.has_value());
            }
            const camb::TaskResult& ok = batch[0];
            CHECK(ok.ok() && ok.info->task_id == "demo-success" && ok.info->status == camb::Status::Success);
            CHECK(ok.ok() && ok.info->status_text == "SUCCESS" && ok.info->run_id == 4242);
            CHECK(ok.ok() && !ok.info->exception_reason && !ok.info->message);
            CHECK(ok.value().run_id == 4242);

            const camb::TaskResult& missing = batch[1];
            CHECK(!missing.ok() && missing.error->code() == CAMB_RESULT_NOT_FOUND);
            CHECK(!missing.ok() && missing.error->http_status() == 404);
            CHECK(!missing.ok() && std::string(missing.error->what()) ==
                                       "HTTP 404 Not Found: Task not found: no-such-task");
            CHECK(throws<camb::NotFound>([&] { missing.value(); }, CAMB_RESULT_NOT_FOUND, 404, "no-such-task"));

            // Invalid ids fail only their own entries, named by the caller's id.
            CHECK(!batch[2].ok() && batch[2].error->code() == CAMB_RESULT_INVALID_PARAMETER);
            CHECK(!batch[2].ok() && batch[2].error->http_status() == 0 && std::strlen(batch[2].error->what()) > 0);
            CHECK(!batch[3].ok() && batch[3].error->code() == CAMB_RESULT_INVALID_PARAMETER);
            CHECK(!batch[3].ok() && contains(batch[3].error->what(), "NUL byte"));
            CHECK(!batch[6].ok() && batch[6].error->code() == CAMB_RESULT_INVALID_PARAMETER);

            const camb::TaskResult& failed = batch[4];
            CHECK(failed.ok() && failed.info->status == camb::Status::Error && failed.info->status_text == "ERROR");
            CHECK(failed.ok() && failed.info->exception_reason == std::string("PROCESSING_ERROR"));
            CHECK(failed.ok() && failed.info->message == std::string("The audio model failed to render this prompt"));
            CHECK(batch[5].ok() && batch[5].info->status_text == std::string("DONE\0LATER", 10));
            CHECK(batch[5].ok() && batch[5].info->message == std::string("a\0b", 3));
            CHECK(batch[7].ok() && batch[7].info->status == camb::Status::Pending && !batch[7].info->run_id);
        }

        // The C objects keep that promise themselves: a list's strings are the
        // same bytes at the same addresses after other calls on this thread.
        const char* raw_ids[] = {"demo-success", "no-such-task"};
        camb_task_list* raw = nullptr;
        CHECK(camb_client_get_task_statuses(client.handle(), raw_ids, 2, 0, nullptr, &raw) == CAMB_RESULT_OK);
        const camb::detail::TaskListPtr list(raw);
        std::size_t text_len = 0, error_len = 0;
        const char* text = camb_task_status_text(camb_task_list_get(list.get(), 0), &text_len);
        const char* error = camb_task_error(camb_task_list_get(list.get(), 1), &error_len);
        CHECK(text != nullptr && error != nullptr);
        CHECK(throws<camb::NotFound>([&] { client.get_task_status("meanwhile-raw"); }, CAMB_RESULT_NOT_FOUND));
        CHECK(client.get_task_statuses({"other-missing", "demo-error"}).size() == 2);
        std::size_t len_again = 0;
        CHECK(camb_task_status_text(camb_task_list_get(list.get(), 0), &len_again) == text && len_again == text_len);
        CHECK(camb_task_error(camb_task_list_get(list.get(), 1), &len_again) == error && len_again == error_len);
        CHECK(text != nullptr && std::string(text, text_len) == "SUCCESS");
        CHECK(error != nullptr && std::string(error, error_len) == "HTTP 404 Not Found: Task not found: no-such-task");
        CHECK(camb_task_result(camb_task_list_get(list.get(), 1)) == CAMB_RESULT_NOT_FOUND);
        CHECK(camb_task_http_status(camb_task_list_get(list.get(), 1)) == 404);
        CHECK(camb_task_list_get(list.get(), 2) == nullptr);

        // An empty batch sends nothing and is empty; a refused batch throws.
        CHECK(client.get_task_statuses({}).empty());
        CHECK(throws<camb::Error>([&] { client.get_task_statuses({"demo-success"}, 33); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0));
    }

    // --- a result moved to another thread and read there ----------------------
    {
        camb::TaskInfo info = client.wait_for_task("demo-error", fast(20));
        std::vector<camb::TaskResult> batch = client.get_task_statuses({"demo-success", "no-such-task"});
        camb_task* raw = nullptr;
        CHECK(camb_client_get_task_status(client.handle(), "demo-error", nullptr, &raw) == CAMB_RESULT_OK);
        camb::detail::TaskPtr task(raw);
        const camb_task* task_address = task.get();

        struct Seen {
            std::string info_id, info_text, info_reason, info_message;
            std::optional<std::int64_t> info_run_id;
            std::int64_t batch_run_id = 0;
            camb_result batch_code = CAMB_RESULT_OK;
            std::string batch_error;
            const camb_task* task_address = nullptr;
            std::string task_id, task_text, task_reason, task_message;
            camb_status task_status = CAMB_STATUS_UNKNOWN;
        } seen;
        std::thread reader([&seen, info = std::move(info), batch = std::move(batch), task = std::move(task), &client] {
            // This thread's own calls first, a failure among them: nothing read
            // below may depend on the thread that made it, or on later calls.
            try {
                client.get_task_status("reader-missing");
            } catch (const camb::NotFound&) {
            }
            seen.info_id = info.task_id;
            seen.info_text = info.status_text;
            seen.info_reason = info.exception_reason.value_or("");
            seen.info_message = info.message.value_or("");
            seen.info_run_id = info.run_id;
            if (batch.size() == 2 && batch[0].ok() && batch[0].info->run_id && batch[1].error) {
                seen.batch_run_id = *batch[0].info->run_id;
                seen.batch_code = batch[1].error->code();
                seen.batch_error = batch[1].error->what();
            }
            seen.task_address = task.get();
            std::size_t len = 0;
            const char* t = camb_task_id(task.get(), &len);
            seen.task_id = std::string(t, len);
            t = camb_task_status_text(task.get(), &len);
            seen.task_text = t != nullptr ? std::string(t, len) : "(null)";
            t = camb_task_exception_reason(task.get(), &len);
            seen.task_reason = t != nullptr ? std::string(t, len) : "(null)";
            t = camb_task_message(task.get(), &len);
            seen.task_message = t != nullptr ? std::string(t, len) : "(null)";
            seen.task_status = camb_task_status(task.get());
            // The task is freed here, on this thread, when the lambda is destroyed.
        });
        // Meanwhile this thread makes calls of its own.
        CHECK(throws<camb::NotFound>([&] { client.get_task_status("main-missing"); }, CAMB_RESULT_NOT_FOUND));
        reader.join();
        CHECK(seen.info_id == "demo-error" && seen.info_text == "ERROR" && seen.info_run_id == 4243);
        CHECK(seen.info_reason == "PROCESSING_ERROR");
        CHECK(seen.info_message == "The audio model failed to render this prompt");
        CHECK(seen.batch_run_id == 4242 && seen.batch_code == CAMB_RESULT_NOT_FOUND);
        CHECK(seen.batch_error == "HTTP 404 Not Found: Task not found: no-such-task");
        CHECK(seen.task_address == task_address);
        CHECK(seen.task_id == "demo-error" && seen.task_text == "ERROR" && seen.task_status == CAMB_STATUS_ERROR);
        CHECK(seen.task_reason == "PROCESSING_ERROR");
        CHECK(seen.task_message == "The audio model failed to render this prompt");
    }

    // --- threads: one client, concurrent calls, each thread's own errors -------
    {
        std::atomic<int> wrong{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < 25; ++i) {
                    try {
                        if ((t + i) % 2 == 0) {
                            if (client.get_task_status("demo-success").run_id != 4242) ++wrong;
                        } else {
                            const std::string id = "missing-" + std::to_string(t) + "-" + std::to_string(i);
                            try {
                                client.get_task_status(id);
                                ++wrong;
                            } catch (const camb::NotFound& e) {
                                if (std::string(e.what()).find(id) == std::string::npos) ++wrong;
                            }
                        }
                    } catch (...) {
                        ++wrong;
                    }
                }
            });
        }
        for (auto& thread : threads) thread.join();
        CHECK(wrong == 0);
    }

    if (failures != 0) {
        std::printf("edge checks: %d of %d FAILED\n", failures, checks);
        return 1;
    }
    std::printf("edge checks: all %d ok\n", checks);
    return 0;
}
"##;

/// Jobs through camb.hpp: futures completed by a camb::JobQueue on the thread
/// that drives it (dispatch() after poll(2) on its fd, dispatch_until(), get(),
/// or the queue's own dispatcher thread), and camb::Job handles that follow and
/// cancel a job in flight. All nine operations' job forms; each result is
/// compared with the blocking call's; failures come out as the wrapper's Error
/// subclasses with the job's own words. Under valgrind (see
/// nothing_leaks_under_valgrind) a job or a record freed twice or never would show.
/// Arguments: BASE_URL API_KEY TMPDIR (run with CAMB_API_KEY unset).
const JOB_CASES: &str = r##"
#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <future>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "camb.hpp"

static_assert(!std::is_copy_constructible_v<camb::Job<camb::TaskInfo>>);
static_assert(!std::is_copy_assignable_v<camb::Job<camb::TaskInfo>>);
static_assert(std::is_nothrow_move_constructible_v<camb::Job<camb::TaskInfo>>);
static_assert(std::is_nothrow_move_assignable_v<camb::Job<camb::TaskInfo>>);
static_assert(!std::is_copy_constructible_v<camb::JobQueue>);
static_assert(!std::is_copy_assignable_v<camb::JobQueue>);
static_assert(std::is_nothrow_move_constructible_v<camb::JobQueue>);
static_assert(std::is_nothrow_move_assignable_v<camb::JobQueue>);

// The future of each of the nine operations, and its Job.
#define q() std::declval<camb::JobQueue&>()
#define c() std::declval<const camb::Client&>()
static_assert(std::is_same_v<decltype(c().get_task_status_async("", q())), std::future<camb::TaskInfo>>);
static_assert(std::is_same_v<decltype(c().create_task_async("", q())), std::future<std::string>>);
static_assert(std::is_same_v<decltype(c().wait_for_task_async("", q())), std::future<camb::TaskInfo>>);
static_assert(std::is_same_v<decltype(c().download_audio_async(1, q())), std::future<std::vector<std::uint8_t>>>);
static_assert(std::is_same_v<decltype(c().save_audio_async(1, "", q())), std::future<std::uint64_t>>);
static_assert(std::is_same_v<decltype(c().get_audio_url_async(1, q())), std::future<std::string>>);
static_assert(std::is_same_v<decltype(c().get_audio_urls_async({}, q())), std::future<std::vector<camb::AudioUrl>>>);
static_assert(std::is_same_v<decltype(c().get_task_statuses_async({}, q())),
                             std::future<std::vector<camb::TaskResult>>>);
static_assert(std::is_same_v<decltype(c().generate_async("", "", q())), std::future<camb::Generation>>);
static_assert(std::is_same_v<decltype(c().job_generate("", "")), camb::Job<camb::Generation>>);
static_assert(std::is_same_v<decltype(c().job_download_audio(1)), camb::Job<std::vector<std::uint8_t>>>);
static_assert(std::is_same_v<decltype(c().job_get_task_statuses({})), camb::Job<std::vector<camb::TaskResult>>>);
static_assert(std::is_same_v<decltype(c().job_get_task_status("").submit(q())), std::future<camb::TaskInfo>>);
static_assert(std::is_same_v<decltype(q().dispatch()), std::size_t>);
static_assert(std::is_same_v<decltype(q().fd()), int>);
#undef q
#undef c

static int checks = 0;
static int failures = 0;

#define CHECK(cond)                                                          \
    do {                                                                     \
        ++checks;                                                            \
        if (!(cond)) {                                                       \
            ++failures;                                                      \
            std::printf("FAIL line %d: %s\n", __LINE__, #cond);             \
        }                                                                    \
    } while (0)

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// True when f throws exactly an E (or subclass) with this code (and HTTP status,
// unless http < 0, and words); prints what happened otherwise.
template <class E, class F>
static bool throws(F&& f, camb_result code, int http = -1, const char* contains = nullptr) {
    try {
        f();
    } catch (const E& e) {
        bool ok = e.code() == code && (http < 0 || e.http_status() == http) &&
                  (contains == nullptr || std::string(e.what()).find(contains) != std::string::npos);
        if (!ok) {
            std::printf("  got %s (HTTP %u): %s\n", e.code_name(), unsigned(e.http_status()), e.what());
        }
        return ok;
    } catch (const std::exception& e) {
        std::printf("  another exception: %s\n", e.what());
        return false;
    }
    std::printf("  nothing was thrown\n");
    return false;
}

// A future of `queue` is ready within a generous bound (valgrind is slow),
// dispatching meanwhile: a job that is never delivered fails a check instead
// of hanging the test.
template <class T>
static bool ready(camb::JobQueue& queue, const std::future<T>& f) {
    return queue.dispatch_until(f, seconds(60));
}

template <class T>
static bool ready_now(const std::future<T>& f) {
    return f.valid() && f.wait_for(seconds(0)) == std::future_status::ready;
}

static bool readable(int fd, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN) != 0;
}

static std::string file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

static bool exists(const std::string& path) { return std::ifstream(path).good(); }

static bool is_wav(const std::string& bytes) {
    return bytes.size() > 44 && bytes.compare(0, 4, "RIFF") == 0 && bytes.compare(8, 4, "WAVE") == 0;
}

static bool same(const camb::TaskInfo& a, const camb::TaskInfo& b) {
    return a.task_id == b.task_id && a.status == b.status && a.status_text == b.status_text &&
           a.run_id == b.run_id && a.exception_reason == b.exception_reason && a.message == b.message;
}

static camb::WaitOptions fast(int interval_ms, int deadline_ms = 30000) {
    camb::WaitOptions w;
    w.initial_interval = milliseconds(interval_ms);
    w.max_interval = milliseconds(interval_ms);
    w.deadline = milliseconds(deadline_ms);
    return w;
}

static long long ms_since(Clock::time_point start) {
    return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

template <class P>
static bool wait_for(P predicate, int timeout_ms = 30000) {
    const auto start = Clock::now();
    while (!predicate()) {
        if (ms_since(start) > timeout_ms) return false;
        std::this_thread::sleep_for(milliseconds(5));
    }
    return true;
}

static std::string download(const camb::Client& client, std::int64_t run_id) {
    std::string bytes;
    client.download_audio(run_id, [&](const std::uint8_t* d, std::size_t n) {
        bytes.append(reinterpret_cast<const char*>(d), n);
        return true;
    });
    return bytes;
}

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: jobs BASE_URL API_KEY TMPDIR\n");
        return 2;
    }
    const std::string base = argv[1], key = argv[2], dir = argv[3];
    camb::ClientOptions opts;
    opts.base_url = base;
    opts.api_key = key;
    opts.timeout = seconds(10);
    // Declared before the clients: a client goes first and cancels its jobs.
    camb::JobQueue queue;
    const camb::Client client(opts);
    camb::CreateOptions one_second;
    one_second.duration_s = 1;

    // --- a status through a future equals the blocking call's ----------------
    for (const char* id : {"demo-success", "demo-error", "demo-pending", "demo-unknown", "nul-task"}) {
        std::future<camb::TaskInfo> f = client.get_task_status_async(id, queue);
        CHECK(ready(queue, f));
        if (ready_now(f)) {
            const camb::TaskInfo info = f.get();
            CHECK(same(info, client.get_task_status(id)));
            CHECK(info.task_id == id);
        }
    }
    CHECK(queue.in_flight() == 0);
    {
        CHECK(queue.get(client.get_task_status_async("nul-task", queue)).status_text ==
              std::string("DONE\0LATER", 10));
        // The job's own code, words and HTTP status, as the blocking call's.
        std::future<camb::TaskInfo> missing = client.get_task_status_async("no-such-task", queue);
        CHECK(ready(queue, missing));
        CHECK(throws<camb::NotFound>([&] { missing.get(); }, CAMB_RESULT_NOT_FOUND, 404,
                                     "HTTP 404 Not Found: Task not found: no-such-task"));
        camb::ClientOptions wrong_key = opts;
        wrong_key.api_key = "wrong-key";
        const camb::Client wrong(wrong_key);
        std::future<camb::TaskInfo> unauthorized = wrong.get_task_status_async("demo-success", queue);
        CHECK(ready(queue, unauthorized));
        CHECK(throws<camb::Unauthorized>([&] { unauthorized.get(); }, CAMB_RESULT_UNAUTHORIZED, 401));
    }

    // --- a future is completed by dispatch(), on this thread, and nowhere else --
    {
        camb::Job<camb::TaskInfo> job = client.job_get_task_status("demo-success");
        CHECK(job.kind() == camb::JobKind::GetTaskStatus && job.state() == camb::JobState::New && !job.submitted());
        std::future<camb::TaskInfo> f = job.submit(queue);
        CHECK(job.submitted() && queue.in_flight() == 1);
        // Finished on libcamb's threads and put on the queue: the future waits
        // for this thread.
        CHECK(readable(queue.fd(), 20000));
        CHECK(wait_for([&] { return job.state() == camb::JobState::Done; }));
        std::this_thread::sleep_for(milliseconds(50));
        CHECK(!ready_now(f) && queue.in_flight() == 1);
        CHECK(queue.dispatch() == 1);
        CHECK(ready_now(f) && queue.in_flight() == 0 && !readable(queue.fd(), 0));
        CHECK(ready_now(f) && f.get().run_id == 4242);
        CHECK(job.state() == camb::JobState::Done && job.task_status() == camb::Status::Success);
        CHECK(queue.dispatch() == 0 && queue.dispatch(milliseconds(30)) == 0);
    }

    // --- refused jobs throw at once, with libcamb's words ------------------------
    {
        CHECK(throws<camb::Error>([&] { client.get_task_status_async("", queue); }, CAMB_RESULT_INVALID_PARAMETER, 0,
                                  "empty"));
        CHECK(throws<camb::Error>([&] { client.get_task_status_async(std::string("demo\0x", 6), queue); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0, "NUL byte"));
        camb::CreateOptions too_long;
        too_long.duration_s = 11;
        CHECK(throws<camb::Error>(
            [&] { client.generate_async("rain", dir + "/never.wav", too_long, fast(20), queue); },
            CAMB_RESULT_INVALID_PARAMETER, 0));
        // The path is checked before any task is created (and billed).
        CHECK(throws<camb::Error>([&] { client.job_generate("rain", dir + "/no-such-dir/x.wav"); }, CAMB_RESULT_IO, 0,
                                  "does not exist"));
        CHECK(throws<camb::Error>([&] { client.wait_for_task_async("demo-success", fast(0), queue); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0));
        CHECK(throws<camb::Error>([&] { client.create_task_async("", queue); }, CAMB_RESULT_INVALID_PARAMETER, 0));
        CHECK(throws<camb::Error>([&] { client.job_get_audio_urls(std::vector<std::int64_t>(1001, 4242)); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0, "1001"));
        CHECK(throws<camb::Error>([&] { client.job_get_task_statuses({"demo-success"}, 33); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0));
        CHECK(throws<camb::Error>([&] { client.save_audio_async(4242, dir + std::string("/a\0.wav", 7), queue); },
                                  CAMB_RESULT_INVALID_PARAMETER, 0, "NUL byte"));
        camb::Client moved(opts);
        const camb::Client taker(std::move(moved));
        CHECK(throws<camb::Error>([&] { moved.get_task_status_async("demo-success", queue); },
                                  CAMB_RESULT_NULL_PARAMETER, 0));
        CHECK(throws<camb::Error>([&] { moved.job_download_audio(4242); }, CAMB_RESULT_NULL_PARAMETER, 0));
        CHECK(!exists(dir + "/never.wav"));
        CHECK(queue.in_flight() == 0);

        // A refused submit leaves the job to its Job, which may submit it again.
        camb::Job<camb::TaskInfo> job = client.job_get_task_status("demo-success");
        camb::JobQueue gone;
        camb::JobQueue other(std::move(gone));
        CHECK(throws<camb::Error>([&] { job.submit(gone); }, CAMB_RESULT_NULL_PARAMETER, 0));
        CHECK(!job.submitted() && job.state() == camb::JobState::New);
        std::future<camb::TaskInfo> f = job.submit(other);
        CHECK(throws<camb::Error>([&] { job.submit(other); }, CAMB_RESULT_INVALID_PARAMETER, 0, "submitted already"));
        CHECK(ready(other, f) && f.get().run_id == 4242);
        // A job whose client is gone cannot start; its Job frees it.
        std::optional<camb::Job<camb::TaskInfo>> orphan;
        {
            const camb::Client short_lived(opts);
            orphan.emplace(short_lived.job_get_task_status("demo-success"));
        }
        CHECK(throws<camb::Error>([&] { orphan->submit(queue); }, CAMB_RESULT_INVALID_PARAMETER, 0, "freed"));
        CHECK(queue.in_flight() == 0);
        // Never submitted: freed with its Job (valgrind checks).
        const camb::Job<camb::Generation> unused = client.job_generate("unused", dir + "/unused.wav");
    }

    // --- many futures at once, from several threads, each its own result --------
    {
        std::vector<std::future<camb::TaskInfo>> futures;
        for (int i = 0; i < 16; ++i) {
            futures.push_back(client.get_task_status_async(
                i % 3 == 0 ? "demo-success" : i % 3 == 1 ? "demo-error" : "missing-" + std::to_string(i), queue));
        }
        for (int i = 0; i < 16; ++i) {
            CHECK(ready(queue, futures[i]));
            if (i % 3 == 0) {
                CHECK(futures[i].get().run_id == 4242);
            } else if (i % 3 == 1) {
                CHECK(futures[i].get().exception_reason == std::string("PROCESSING_ERROR"));
            } else {
                const std::string id = "missing-" + std::to_string(i);
                CHECK(throws<camb::NotFound>([&] { futures[i].get(); }, CAMB_RESULT_NOT_FOUND, 404, id.c_str()));
            }
        }
        // Four threads share the queue and all dispatch it: each job is taken
        // once, by one of them, and each future still gets its own result.
        int wrong = 0;
        std::vector<std::thread> threads;
        std::vector<int> wrong_per_thread(4, 0);
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&client, &queue, &wrong_per_thread, t] {
                std::vector<std::future<camb::TaskInfo>> mine;
                for (int i = 0; i < 5; ++i) {
                    mine.push_back(client.get_task_status_async(i % 2 == 0 ? "demo-success" : "demo-unknown", queue));
                }
                for (int i = 0; i < 5; ++i) {
                    if (!ready(queue, mine[i])) {
                        ++wrong_per_thread[t];
                        continue;
                    }
                    const camb::TaskInfo info = mine[i].get();
                    if (info.status_text != (i % 2 == 0 ? "SUCCESS" : "QUEUED_FOR_GPU")) ++wrong_per_thread[t];
                }
            });
        }
        for (auto& thread : threads) thread.join();
        for (int w : wrong_per_thread) wrong += w;
        CHECK(wrong == 0);
        CHECK(queue.in_flight() == 0);
    }

    // --- a queue with its own dispatcher thread: future.get() just works --------
    {
        camb::JobQueue threaded(camb::JobQueue::Dispatch::Thread);
        std::vector<std::future<camb::TaskInfo>> futures;
        for (int i = 0; i < 6; ++i) {
            futures.push_back(client.get_task_status_async(i % 2 == 0 ? "demo-success" : "no-such-task", threaded));
        }
        std::atomic<int> wrong{0};
        std::vector<std::thread> threads;
        for (int i = 0; i < 6; ++i) {
            threads.emplace_back([&futures, &wrong, i] {
                if (futures[i].wait_for(seconds(60)) != std::future_status::ready) {
                    ++wrong;
                    return;
                }
                try {
                    if (futures[i].get().run_id != 4242 || i % 2 != 0) ++wrong;
                } catch (const camb::NotFound&) {
                    if (i % 2 == 0) ++wrong;
                }
            });
        }
        for (auto& thread : threads) thread.join();
        CHECK(wrong == 0);
        CHECK(!readable(threaded.fd(), 0) && threaded.dispatch() == 0);
        // dispatch_until() and get() on such a queue wait for its thread.
        std::future<camb::TaskInfo> f = client.get_task_status_async("demo-error", threaded);
        CHECK(threaded.dispatch_until(f, seconds(60)) && f.get().run_id == 4243);
        CHECK(threaded.get(client.get_task_status_async("demo-unknown", threaded)).status == camb::Status::Unknown);
        CHECK(wait_for([&] { return threaded.in_flight() == 0; }));
        // Destroyed with a job in flight: waits for it, which its Client's
        // destruction cancels.
        std::future<camb::TaskInfo> late;
        {
            const camb::Client doomed(opts);
            late = doomed.wait_for_task_async("demo-pending", fast(10000, 60000), threaded);
            std::this_thread::sleep_for(milliseconds(100));
        }
        CHECK(late.wait_for(seconds(60)) == std::future_status::ready);
        CHECK(throws<camb::Cancelled>([&] { late.get(); }, CAMB_RESULT_CANCELLED, 0));
    }

    // --- create, wait, save, batch as futures ---------------------------------
    {
        std::future<std::string> created = client.create_task_async("a kettle [pending_ms:300]", one_second, queue);
        CHECK(ready(queue, created));
        const std::string id = created.get();
        CHECK(!id.empty());
        std::future<camb::TaskInfo> waited = client.wait_for_task_async(id, fast(20), queue);
        CHECK(ready(queue, waited));
        const camb::TaskInfo info = waited.get();
        CHECK(info.status == camb::Status::Success && info.run_id.has_value());
        CHECK(same(info, client.get_task_status(id)));
        if (info.run_id) {
            std::future<std::uint64_t> saved = client.save_audio_async(*info.run_id, dir + "/saved.wav", queue);
            CHECK(ready(queue, saved));
            const std::uint64_t bytes = saved.get();
            CHECK(bytes == file(dir + "/saved.wav").size() && is_wav(file(dir + "/saved.wav")));
        }
        std::future<std::uint64_t> no_run = client.save_audio_async(999999, dir + "/no-run.wav", queue);
        CHECK(ready(queue, no_run));
        CHECK(throws<camb::NotFound>([&] { no_run.get(); }, CAMB_RESULT_NOT_FOUND, 404));
        CHECK(!exists(dir + "/no-run.wav"));
        std::future<camb::TaskInfo> late = client.wait_for_task_async("demo-pending", fast(20, 200), queue);
        CHECK(ready(queue, late));
        CHECK(throws<camb::Timeout>([&] { late.get(); }, CAMB_RESULT_TIMEOUT, 0));

        const std::vector<std::string> ids = {"demo-success", "no-such-task", "", std::string("x\0y", 3), "demo-error"};
        std::future<std::vector<camb::TaskResult>> batch = client.get_task_statuses_async(ids, 2, queue);
        CHECK(ready(queue, batch));
        const std::vector<camb::TaskResult> got = batch.get();
        const std::vector<camb::TaskResult> expected = client.get_task_statuses(ids, 2);
        CHECK(got.size() == ids.size() && expected.size() == ids.size());
        for (std::size_t i = 0; i < got.size() && i < expected.size(); ++i) {
            CHECK(got[i].task_id == ids[i]);
            CHECK(got[i].ok() == expected[i].ok());
            if (got[i].ok() && expected[i].ok()) CHECK(same(*got[i].info, *expected[i].info));
            if (!got[i].ok() && !expected[i].ok()) {
                CHECK(got[i].error->code() == expected[i].error->code());
                CHECK(std::string(got[i].error->what()) == expected[i].error->what());
                CHECK(got[i].error->http_status() == expected[i].error->http_status());
            }
        }
        CHECK(got.size() == 5 && got[1].error && got[1].error->code() == CAMB_RESULT_NOT_FOUND);
        CHECK(got.size() == 5 && got[3].error && std::strstr(got[3].error->what(), "NUL byte") != nullptr);
        CHECK(queue.get(client.get_task_statuses_async({}, queue)).empty());
    }

    // --- the audio as futures: in memory, its URL, the URLs of many runs --------
    {
        const std::string expected = download(client, 4242);
        std::future<std::vector<std::uint8_t>> audio = client.download_audio_async(4242, queue);
        CHECK(ready(queue, audio));
        const std::vector<std::uint8_t> bytes = audio.get();
        CHECK(std::string(bytes.begin(), bytes.end()) == expected && is_wav(expected));
        std::future<std::vector<std::uint8_t>> no_run = client.download_audio_async(999999, queue);
        CHECK(ready(queue, no_run));
        CHECK(throws<camb::NotFound>([&] { no_run.get(); }, CAMB_RESULT_NOT_FOUND, 404));
        std::future<std::vector<std::uint8_t>> failed_run = client.download_audio_async(4243, queue);
        CHECK(ready(queue, failed_run));
        CHECK(throws<camb::Error>([&] { failed_run.get(); }, CAMB_RESULT_HTTP_STATUS, 400));

        std::future<std::string> url = client.get_audio_url_async(4242, queue);
        CHECK(ready(queue, url));
        CHECK(url.get().rfind(base + "/_emulator/files/4242.wav?signature=", 0) == 0);
        std::future<std::string> no_url = client.get_audio_url_async(999999, queue);
        CHECK(ready(queue, no_url));
        CHECK(throws<camb::NotFound>([&] { no_url.get(); }, CAMB_RESULT_NOT_FOUND, 404));

        std::future<std::vector<camb::AudioUrl>> urls = client.get_audio_urls_async({4242, 999999, 4242}, queue);
        CHECK(ready(queue, urls));
        const std::vector<camb::AudioUrl> got = urls.get();
        const std::vector<camb::AudioUrl> blocking = client.get_audio_urls({4242, 999999, 4242});
        CHECK(got.size() == 3 && blocking.size() == 3);
        CHECK(got.size() == 3 && got[0].run_id == 4242 && got[0].url &&
              got[0].url->rfind(base + "/_emulator/files/4242.wav", 0) == 0);
        CHECK(got.size() == 3 && got[1].run_id == 999999 && !got[1].url && !blocking[1].url);
        CHECK(got.size() == 3 && got[2].run_id == 4242 && got[2].url.has_value());
        CHECK(queue.get(client.get_audio_urls_async({}, queue)).empty());
    }

    // --- generate_async: prompt to WAV file in one job --------------------------
    {
        const std::string path = dir + "/generated.wav";
        std::future<camb::Generation> f =
            client.generate_async("rain on a tin roof [pending_ms:300]", path, one_second, fast(20), queue);
        CHECK(ready(queue, f));
        const camb::Generation g = f.get();
        const std::string bytes = file(path);
        CHECK(g.task.status == camb::Status::Success && g.task.task_id == g.task_id && g.task.run_id);
        CHECK(same(g.task, client.get_task_status(g.task_id)));
        CHECK(g.bytes == bytes.size() && is_wav(bytes));
        CHECK(g.polls >= 4);  // every 20 ms (not libcamb's default 2 s) for a task pending 300 ms
        if (g.task.run_id) {
            CHECK(download(client, *g.task.run_id) == bytes);
        }

        // A task that ends without audio: TASK_FAILED, and no file.
        std::future<camb::Generation> failed =
            client.generate_async("glass [status:ERROR]", dir + "/failed.wav", one_second, fast(20), queue);
        CHECK(ready(queue, failed));
        CHECK(throws<camb::Error>([&] { failed.get(); }, CAMB_RESULT_TASK_FAILED, 0,
                                  "ended ERROR: PROCESSING_ERROR (The audio model failed to render this prompt)"));
        CHECK(!exists(dir + "/failed.wav"));

        // A dropped future: the job runs to its end (the file appears), and the
        // queue's dispatch frees it; valgrind would see it leak or freed twice.
        const std::string dropped = dir + "/dropped.wav";
        static_cast<void>(client.generate_async("a bell [pending_ms:100]", dropped, one_second, fast(20), queue));
        const auto start = Clock::now();
        while (queue.in_flight() != 0 && ms_since(start) < 60000) {
            queue.dispatch(milliseconds(100));
        }
        CHECK(exists(dropped) && queue.in_flight() == 0);
    }

    // --- destroying the client cancels its jobs: their futures hold Cancelled ---
    {
        std::future<camb::TaskInfo> waiting;
        std::future<camb::Generation> generating;
        const auto start = Clock::now();
        {
            const camb::Client doomed(opts);
            waiting = doomed.wait_for_task_async("demo-pending", fast(10000, 60000), queue);
            generating = doomed.generate_async("a gong [pending_ms:60000]", dir + "/doomed.wav", one_second,
                                               fast(10000, 60000), queue);
            std::this_thread::sleep_for(milliseconds(100));
        }
        CHECK(ready(queue, waiting) && ready(queue, generating));
        CHECK(ms_since(start) < 20000);
        CHECK(throws<camb::Cancelled>([&] { waiting.get(); }, CAMB_RESULT_CANCELLED, 0));
        CHECK(throws<camb::Cancelled>([&] { generating.get(); }, CAMB_RESULT_CANCELLED, 0));
        CHECK(!exists(dir + "/doomed.wav"));
    }

    // --- Job handles and poll(2) on the queue's fd: the event loop's way --------
    {
        camb::Job<camb::TaskInfo> status = client.job_get_task_status("demo-success");
        camb::Job<camb::TaskInfo> missing = client.job_get_task_status("no-such-task");
        camb::Job<std::vector<camb::TaskResult>> batch = client.job_get_task_statuses({"demo-error", "missing-q"});
        camb::Job<camb::Generation> generate =
            client.job_generate("waves [pending_ms:200]", dir + "/queued.wav", one_second, fast(20));
        camb::Job<std::string> create = client.job_create_task("a drum", one_second);
        camb::Job<std::uint64_t> save = client.job_save_audio(4242, dir + "/queued-save.wav");
        camb::Job<std::vector<std::uint8_t>> audio = client.job_download_audio(4242);
        camb::Job<std::string> url = client.job_get_audio_url(4242);
        camb::Job<std::vector<camb::AudioUrl>> urls = client.job_get_audio_urls({4242, 999999});
        camb::Job<camb::TaskInfo> wait = client.job_wait_for_task("demo-success", fast(20));
        CHECK(status.kind() == camb::JobKind::GetTaskStatus && batch.kind() == camb::JobKind::GetTaskStatuses);
        CHECK(generate.kind() == camb::JobKind::Generate && create.kind() == camb::JobKind::CreateTask);
        CHECK(save.kind() == camb::JobKind::SaveAudio && audio.kind() == camb::JobKind::DownloadAudio);
        CHECK(url.kind() == camb::JobKind::GetAudioUrl && urls.kind() == camb::JobKind::GetAudioUrls);
        CHECK(wait.kind() == camb::JobKind::WaitForTask && wait.state() == camb::JobState::New);

        CHECK(!readable(queue.fd(), 0));
        std::future<camb::TaskInfo> f_status = status.submit(queue);
        std::future<camb::TaskInfo> f_missing = missing.submit(queue);
        std::future<std::vector<camb::TaskResult>> f_batch = batch.submit(queue);
        std::future<camb::Generation> f_generate = generate.submit(queue);
        std::future<std::string> f_create = create.submit(queue);
        std::future<std::uint64_t> f_save = save.submit(queue);
        std::future<std::vector<std::uint8_t>> f_audio = audio.submit(queue);
        std::future<std::string> f_url = url.submit(queue);
        std::future<std::vector<camb::AudioUrl>> f_urls = urls.submit(queue);
        std::future<camb::TaskInfo> f_wait = wait.submit(queue);
        CHECK(queue.in_flight() == 10);

        // An event loop's turn: wait until the descriptor is readable, then
        // complete the futures on this thread.
        std::size_t taken = 0;
        const auto start = Clock::now();
        while (queue.in_flight() > 0 && ms_since(start) < 60000) {
            if (readable(queue.fd(), 100)) {
                taken += queue.dispatch();
            }
        }
        CHECK(taken == 10 && queue.in_flight() == 0);
        CHECK(!readable(queue.fd(), 0));
        CHECK(ready_now(f_status) && ready_now(f_missing) && ready_now(f_batch) && ready_now(f_generate));
        CHECK(ready_now(f_create) && ready_now(f_save) && ready_now(f_audio) && ready_now(f_url));
        CHECK(ready_now(f_urls) && ready_now(f_wait));
        CHECK(status.state() == camb::JobState::Done && generate.state() == camb::JobState::Done);
        if (!ready_now(f_wait)) return 1;  // nothing below could finish

        CHECK(same(f_status.get(), client.get_task_status("demo-success")));
        CHECK(throws<camb::NotFound>([&] { f_missing.get(); }, CAMB_RESULT_NOT_FOUND, 404, "no-such-task"));
        const std::vector<camb::TaskResult> list = f_batch.get();
        CHECK(list.size() == 2 && list[0].ok() && list[0].info->status == camb::Status::Error);
        CHECK(list.size() == 2 && list[1].task_id == "missing-q" && list[1].error &&
              list[1].error->code() == CAMB_RESULT_NOT_FOUND);
        const camb::Generation g = f_generate.get();
        CHECK(g.task.status == camb::Status::Success && g.bytes == file(dir + "/queued.wav").size());
        CHECK(generate.polls() == g.polls && generate.task_status() == camb::Status::Success);
        CHECK(!f_create.get().empty());
        CHECK(f_save.get() == file(dir + "/queued-save.wav").size() && is_wav(file(dir + "/queued-save.wav")));
        const std::vector<std::uint8_t> bytes = f_audio.get();
        CHECK(std::string(bytes.begin(), bytes.end()) == file(dir + "/queued-save.wav"));
        CHECK(f_url.get().rfind(base + "/_emulator/files/4242.wav?signature=", 0) == 0);
        const std::vector<camb::AudioUrl> got = f_urls.get();
        CHECK(got.size() == 2 && got[0].url && !got[1].url);
        CHECK(same(f_wait.get(), client.get_task_status("demo-success")));
        CHECK(wait.polls() >= 1 && wait.task_status() == camb::Status::Success);
        // Done: cancelling it now changes nothing.
        status.cancel();
        CHECK(status.state() == camb::JobState::Done);

        // A waiting job: followed while it sleeps, cancelled at once.
        camb::Job<camb::TaskInfo> sleeper = client.job_wait_for_task("demo-pending", fast(10000, 60000));
        std::future<camb::TaskInfo> f_sleeper = sleeper.submit(queue);
        CHECK(wait_for([&] { return sleeper.state() == camb::JobState::Waiting; }));
        CHECK(sleeper.polls() == 1 && sleeper.task_status() == camb::Status::Pending);
        CHECK(queue.dispatch(milliseconds(50)) == 0 && !ready_now(f_sleeper));
        auto since = Clock::now();
        sleeper.cancel();
        CHECK(readable(queue.fd(), 20000));
        CHECK(queue.dispatch() == 1 && ready_now(f_sleeper));
        CHECK(ms_since(since) < 20000);
        CHECK(throws<camb::Cancelled>([&] { f_sleeper.get(); }, CAMB_RESULT_CANCELLED, 0));
        CHECK(sleeper.state() == camb::JobState::Done && sleeper.polls() == 1);
        CHECK(sleeper.task_status() == camb::Status::Pending);

        // Destroying a Job in flight cancels it: still delivered, its future
        // holding Cancelled, and freed by the dispatch.
        std::future<camb::TaskInfo> f_gone;
        since = Clock::now();
        {
            camb::Job<camb::TaskInfo> gone = client.job_wait_for_task("demo-pending", fast(20, 60000));
            f_gone = gone.submit(queue);
            std::this_thread::sleep_for(milliseconds(50));
        }
        CHECK(ready(queue, f_gone) && ms_since(since) < 20000);
        CHECK(throws<camb::Cancelled>([&] { f_gone.get(); }, CAMB_RESULT_CANCELLED, 0));

        // Cancelled before it was submitted: it ends as soon as it is.
        camb::Job<camb::TaskInfo> early = client.job_wait_for_task("demo-pending", fast(20, 60000));
        early.cancel();
        std::future<camb::TaskInfo> f_early = early.submit(queue);
        CHECK(ready(queue, f_early));
        CHECK(throws<camb::Cancelled>([&] { f_early.get(); }, CAMB_RESULT_CANCELLED, 0));

        // Detached: the Job lets go, the job runs to its end.
        std::future<camb::TaskInfo> f_detached;
        {
            camb::Job<camb::TaskInfo> detached = client.job_wait_for_task("demo-success", fast(20));
            f_detached = detached.submit(queue);
            detached.detach();
            CHECK(detached.kind() == camb::JobKind::None && !detached.submitted());
        }
        CHECK(ready(queue, f_detached) && f_detached.get().run_id == 4242);

        // Moved from: an empty Job and queue refuse, the new owners work.
        camb::Job<camb::TaskInfo> first = client.job_get_task_status("demo-success");
        camb::Job<camb::TaskInfo> moved = std::move(first);
        CHECK(first.kind() == camb::JobKind::None && first.state() == camb::JobState::Done && first.polls() == 0);
        CHECK(throws<camb::Error>([&] { first.submit(queue); }, CAMB_RESULT_NULL_PARAMETER, 0));
        first.cancel();  // no effect, no crash
        camb::JobQueue other(std::move(queue));
        CHECK(queue.fd() == -1 && queue.dispatch() == 0 && queue.in_flight() == 0);
        CHECK(throws<camb::Error>([&] { client.get_task_status_async("demo-success", queue); },
                                  CAMB_RESULT_NULL_PARAMETER, 0));
        CHECK(other.fd() >= 0);
        std::future<camb::TaskInfo> f_moved = moved.submit(other);
        CHECK(ready(other, f_moved) && f_moved.get().run_id == 4242);
        queue = std::move(other);  // back, for the checks below
        CHECK(queue.fd() >= 0 && other.fd() == -1);
    }

    // --- destroying a queue waits for its jobs, completing their futures -------
    {
        std::optional<camb::Job<camb::TaskInfo>> job;
        std::future<camb::TaskInfo> f;
        std::thread canceller;
        const auto start = Clock::now();
        {
            camb::JobQueue short_queue;
            job.emplace(client.job_wait_for_task("demo-pending", fast(10000, 60000)));
            f = job->submit(short_queue);
            canceller = std::thread([&job] {
                std::this_thread::sleep_for(milliseconds(300));
                job->cancel();
            });
        }
        canceller.join();
        CHECK(ms_since(start) >= 250 && ms_since(start) < 20000);
        CHECK(ready_now(f));
        CHECK(throws<camb::Cancelled>([&] { f.get(); }, CAMB_RESULT_CANCELLED, 0));
        CHECK(job->state() == camb::JobState::Done);
        job->cancel();  // its job is gone: no effect
    }

    if (failures != 0) {
        std::printf("job checks: %d of %d FAILED\n", failures, checks);
        return 1;
    }
    std::printf("job checks: all %d ok\n", checks);
    return 0;
}
"##;

/// The log function and headers of camb.hpp: lines arrive with their level and
/// words, from this thread and from the job threads; the key and a secret
/// header's value never appear; the level filters; an exception thrown by the
/// function is swallowed; no line reaches the function once its Client is gone
/// (its jobs are still delivered); the function is destroyed through libcamb's
/// finalizer (with its client, its builder, or when replaced or refused);
/// refused headers make build() throw why.
/// Arguments: BASE_URL API_KEY TMPDIR (run with CAMB_API_KEY unset).
const LOG_CASES: &str = r##"
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "camb.hpp"

static_assert(std::is_same_v<camb::LogFunction, std::function<void(camb::LogLevel, std::string_view)>>);
static_assert(static_cast<std::uint32_t>(camb::LogLevel::Debug) == CAMB_LOG_LEVEL_DEBUG);
static_assert(std::is_nothrow_move_constructible_v<camb::ClientBuilder>);
static_assert(std::is_nothrow_move_assignable_v<camb::Client>);

static int checks = 0;
static int failures = 0;

#define CHECK(cond)                                                          \
    do {                                                                     \
        ++checks;                                                            \
        if (!(cond)) {                                                       \
            ++failures;                                                      \
            std::printf("FAIL line %d: %s\n", __LINE__, #cond);             \
        }                                                                    \
    } while (0)

struct Line {
    camb::LogLevel level;
    std::string text;
    std::thread::id thread;
};

// Every line a client's function was given, from any thread.
struct Lines {
    std::mutex mutex;
    std::vector<Line> lines;

    camb::LogFunction function() {
        return [this](camb::LogLevel level, std::string_view text) {
            const std::lock_guard<std::mutex> lock(mutex);
            lines.push_back({level, std::string(text), std::this_thread::get_id()});
            std::printf("line: %u %.*s\n", static_cast<unsigned>(level), static_cast<int>(text.size()), text.data());
        };
    }
    std::vector<Line> copy() {
        const std::lock_guard<std::mutex> lock(mutex);
        return lines;
    }
    // A line at this level holding every one of these words.
    bool has(camb::LogLevel level, std::initializer_list<const char*> words) {
        for (const Line& line : copy()) {
            bool all = line.level == level;
            for (const char* word : words) {
                all = all && line.text.find(word) != std::string::npos;
            }
            if (all) return true;
        }
        return false;
    }
    bool any_contains(const std::string& text) {
        for (const Line& line : copy()) {
            if (line.text.find(text) != std::string::npos) return true;
        }
        return false;
    }
    std::size_t size() {
        const std::lock_guard<std::mutex> lock(mutex);
        return lines.size();
    }
};

template <class F>
static std::optional<camb::Error> error_of(F&& f) {
    try {
        f();
    } catch (const camb::Error& e) {
        return e;
    } catch (const std::exception& e) {
        std::printf("  another exception: %s\n", e.what());
        return std::nullopt;
    }
    std::printf("  nothing was thrown\n");
    return std::nullopt;
}

static bool says(const std::optional<camb::Error>& e, camb_result code, std::initializer_list<const char*> words) {
    if (!e) return false;
    bool ok = e->code() == code;
    for (const char* word : words) {
        ok = ok && std::string(e->what()).find(word) != std::string::npos;
    }
    if (!ok) std::printf("  got %s: %s\n", e->code_name(), e->what());
    return ok;
}

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s BASE_URL API_KEY TMPDIR\n", argv[0]);
        return 2;
    }
    const std::string url = argv[1];
    const std::string key = argv[2];
    const std::string secret = "tenant-secret-0123456789";
    const std::thread::id main_thread = std::this_thread::get_id();

    // --- a blocking call: its lines on this thread, with level and words -------
    {
        Lines lines;
        const camb::Client client = camb::ClientBuilder()
                                        .api_key(key)
                                        .base_url(url)
                                        .add_header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-01")
                                        .add_header("x-tenant-token", secret, true)
                                        .log(camb::LogLevel::Debug, lines.function())
                                        .build();
        CHECK(client.get_task_status("demo-success").status == camb::Status::Success);
        CHECK(lines.has(camb::LogLevel::Debug, {"GET", "demo-success", "sent", "attempt 1"}));
        CHECK(lines.has(camb::LogLevel::Debug, {"demo-success", "replied 200"}));
        CHECK(error_of([&] { client.get_task_status("no-such-task"); }).has_value());
        CHECK(lines.has(camb::LogLevel::Info, {"no-such-task", "replied 404"}));
        for (const Line& line : lines.copy()) {
            CHECK(line.thread == main_thread);
            CHECK(line.text.find('\n') == std::string::npos);
        }
        CHECK(!lines.any_contains(key));
        CHECK(!lines.any_contains(secret));

        // A job: its lines come from libcamb's pool threads.
        const std::size_t before = lines.size();
        camb::JobQueue queue;
        CHECK(queue.get(client.get_task_status_async("demo-success", queue)).status == camb::Status::Success);
        CHECK(lines.has(camb::LogLevel::Debug, {"job", "started"}));
        CHECK(lines.has(camb::LogLevel::Info, {"job", "finished"}));
        bool from_pool = false;
        const std::vector<Line> all = lines.copy();
        for (std::size_t i = before; i < all.size(); ++i) {
            from_pool = from_pool || all[i].thread != main_thread;
        }
        CHECK(from_pool);
        CHECK(!lines.any_contains(key));
    }

    // --- the level filters; options carry the log and the headers --------------
    {
        Lines lines;
        camb::ClientOptions options;
        options.api_key = key;
        options.base_url = url;
        options.headers.push_back({"x-tenant-token", secret, true});
        options.log = lines.function();
        options.log_level = camb::LogLevel::Info;
        const camb::Client client(options);
        client.get_task_status("demo-success");
        CHECK(lines.size() == 0);  // a 200 is told at Debug only
        CHECK(error_of([&] { client.get_task_status("no-such-task"); }).has_value());
        CHECK(lines.has(camb::LogLevel::Info, {"replied 404"}));
        for (const Line& line : lines.copy()) CHECK(line.level <= camb::LogLevel::Info);
    }

    // --- a wrong key: refused, and it is never shown -------------------------------
    {
        Lines lines;
        const std::string wrong = "wrong-key-9f8e7d6c5b4a";
        const camb::Client client =
            camb::ClientBuilder().api_key(wrong).base_url(url).log(camb::LogLevel::Debug, lines.function()).build();
        CHECK(says(error_of([&] { client.get_task_status("demo-success"); }), CAMB_RESULT_UNAUTHORIZED, {}));
        CHECK(lines.has(camb::LogLevel::Info, {"replied 401"}));
        CHECK(!lines.any_contains(wrong));
    }

    // --- an exception thrown by the function is swallowed -----------------------
    {
        int calls = 0;
        const camb::Client client = camb::ClientBuilder()
                                        .api_key(key)
                                        .base_url(url)
                                        .log(camb::LogLevel::Debug,
                                             [&calls](camb::LogLevel, std::string_view) {
                                                 ++calls;
                                                 throw std::runtime_error("from the log function");
                                             })
                                        .build();
        CHECK(client.get_task_status("demo-success").status == camb::Status::Success);
        CHECK(calls >= 2);  // sent, replied: each threw, the call went on
    }

    // --- a second log() replaces the first --------------------------------------
    {
        Lines first;
        Lines second;
        const camb::Client client = camb::ClientBuilder()
                                        .api_key(key)
                                        .base_url(url)
                                        .log(camb::LogLevel::Debug, first.function())
                                        .log(camb::LogLevel::Debug, second.function())
                                        .build();
        client.get_task_status("demo-success");
        CHECK(first.size() == 0 && second.size() >= 2);
    }

    // --- no line once the Client is gone, though its jobs are delivered later ---
    {
        auto lines = std::make_unique<Lines>();
        camb::JobQueue queue;
        std::future<camb::TaskInfo> waiting;
        {
            const camb::Client client =
                camb::ClientBuilder().api_key(key).base_url(url).log(camb::LogLevel::Debug, lines->function()).build();
            camb::WaitOptions slow;
            slow.initial_interval = std::chrono::milliseconds(10000);
            slow.deadline = std::chrono::milliseconds(60000);
            waiting = client.wait_for_task_async("demo-pending", slow, queue);
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            CHECK(lines->has(camb::LogLevel::Debug, {"job", "started"}));
        }
        const std::size_t at_destruction = lines->size();
        // Gone: a line for it now would touch freed memory (valgrind would see it).
        lines.reset();
        CHECK(says(error_of([&] { queue.get(std::move(waiting)); }), CAMB_RESULT_CANCELLED, {}));
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        CHECK(at_destruction >= 1);
    }

    // --- the function is destroyed through libcamb's finalizer -------------------
    {
        // With its Client, once the Client's threads have ended.
        auto token = std::make_shared<int>(0);
        const std::weak_ptr<int> watch = token;
        {
            const camb::Client client = camb::ClientBuilder()
                                            .api_key(key)
                                            .base_url(url)
                                            .log(camb::LogLevel::Debug, [token](camb::LogLevel, std::string_view) {})
                                            .build();
            token.reset();
            CHECK(!watch.expired());  // the client keeps it
            camb::JobQueue queue;
            CHECK(queue.get(client.get_task_status_async("demo-success", queue)).run_id == 4242);
            CHECK(!watch.expired());
        }
        CHECK(watch.expired());

        // With a builder never built, or one whose build fails.
        auto unbuilt = std::make_shared<int>(0);
        const std::weak_ptr<int> watch_unbuilt = unbuilt;
        {
            camb::ClientBuilder builder;
            builder.log(camb::LogLevel::Debug, [unbuilt](camb::LogLevel, std::string_view) {});
            unbuilt.reset();
            CHECK(!watch_unbuilt.expired());
        }
        CHECK(watch_unbuilt.expired());
        auto failed = std::make_shared<int>(0);
        const std::weak_ptr<int> watch_failed = failed;
        CHECK(says(error_of([&] {
                       camb::ClientBuilder builder;
                       builder.api_key(key).log(camb::LogLevel::Debug, [failed](camb::LogLevel, std::string_view) {});
                       failed.reset();
                       builder.base_url("not a url").build();
                   }),
                   CAMB_RESULT_INVALID_PARAMETER, {"camb_client_builder_set_base_url"}));
        CHECK(watch_failed.expired());

        // Replaced by a second log(), or refused (its level): destroyed then.
        auto first = std::make_shared<int>(0);
        auto refused = std::make_shared<int>(0);
        const std::weak_ptr<int> watch_first = first, watch_refused = refused;
        camb::ClientBuilder builder;
        builder.api_key(key).base_url(url).log(camb::LogLevel::Debug, [first](camb::LogLevel, std::string_view) {});
        first.reset();
        CHECK(!watch_first.expired());
        builder.log(camb::LogLevel::Info, [](camb::LogLevel, std::string_view) {});
        CHECK(watch_first.expired());
        builder.log(static_cast<camb::LogLevel>(9), [refused](camb::LogLevel, std::string_view) {});
        refused.reset();
        CHECK(watch_refused.expired());
    }

    // --- refused headers and log settings: build() throws why -------------------
    {
        CHECK(says(error_of([&] { camb::ClientBuilder().api_key(key).base_url(url).add_header("x-api-key", "other").build(); }),
                   CAMB_RESULT_INVALID_PARAMETER, {"camb_client_builder_add_header", "libcamb's own"}));
        CHECK(says(error_of([&] {
                       camb::ClientBuilder().api_key(key).base_url(url).add_header("x-ok", "a\r\nx-api-key: stolen").build();
                   }),
                   CAMB_RESULT_INVALID_PARAMETER, {"camb_client_builder_add_header", "a CR"}));
        const std::optional<camb::Error> stolen = error_of(
            [&] { camb::ClientBuilder().api_key(key).base_url(url).add_header("x-ok", "a\r\nx-api-key: stolen").build(); });
        CHECK(stolen && std::string(stolen->what()).find("stolen") == std::string::npos);
        CHECK(says(error_of([&] { camb::ClientBuilder().api_key(key).base_url(url).add_header("bad name", "v").build(); }),
                   CAMB_RESULT_INVALID_PARAMETER, {"not an HTTP token"}));
        CHECK(says(error_of([&] {
                       camb::ClientBuilder().api_key(key).base_url(url).add_header("x-ok", std::string("a\0b", 3)).build();
                   }),
                   CAMB_RESULT_INVALID_PARAMETER, {"camb_client_builder_add_header", "NUL byte"}));
        // The first refusal is the one reported.
        CHECK(says(error_of([&] {
                       camb::ClientBuilder().api_key(key).base_url(url).add_header("host", "x").add_header("x-ok", "\r").build();
                   }),
                   CAMB_RESULT_INVALID_PARAMETER, {"libcamb's own"}));
        CHECK(says(error_of([&] { camb::ClientBuilder().api_key(key).base_url(url).log(camb::LogLevel::Debug, {}).build(); }),
                   CAMB_RESULT_INVALID_PARAMETER, {"camb_client_builder_set_log", "empty"}));
        CHECK(says(error_of([&] {
                       camb::ClientBuilder()
                           .api_key(key)
                           .base_url(url)
                           .log(static_cast<camb::LogLevel>(9), [](camb::LogLevel, std::string_view) {})
                           .build();
                   }),
                   CAMB_RESULT_INVALID_PARAMETER, {"camb_client_builder_set_log"}));
        // Accepted headers: the client works with them.
        const camb::Client client = camb::ClientBuilder()
                                        .api_key(key)
                                        .base_url(url)
                                        .add_header("traceparent", "00-abc-def-01")
                                        .add_header("x-tenant-token", secret, true)
                                        .build();
        CHECK(client.get_task_status("demo-success").status == camb::Status::Success);
    }

    if (failures != 0) {
        std::printf("log checks: %d of %d FAILED\n", failures, checks);
        return 1;
    }
    std::printf("log checks: all %d ok\n", checks);
    return 0;
}
"##;
