//! C++: include/camb.hpp, examples/cpp/demo.cpp and the programs of tests/cpp, built
//! as a C++ user builds them: libcamb installed into a temporary prefix
//! (scripts/install.sh, as `make install` does), then tests/cpp/CMakeLists.txt
//! configured against it (find_package(camb), camb::camb; C++17, every warning an
//! error) and built. ctest runs every program against an emulator of this process;
//! then the demo's output is checked line by line, the programs and the demo run
//! under valgrind, and every C++ file of the repository is checked against
//! .clang-format. One of the programs compiles camb.h itself as C++ and links it,
//! which proves its `extern "C"` guards: without them the names would be mangled
//! and the link would fail.
//!
//! CMake is required: without it the tests say SKIP, or fail when CI is set
//! (scripts/setup.sh, run by `make test`, installs it); so is clang-format for the
//! format check. The install builds libcamb in release, reusing target/release when
//! it is up to date; each run of this file builds in a directory of its own.

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Instant;

use common::*;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The prompt and duration examples/cpp/demo.cpp creates its task with.
const DEMO_PROMPT: &str = "rain on a tin roof [pending_ms:800]";
const DEMO_SECONDS: f64 = 2.0;

/// The tests tests/cpp/CMakeLists.txt gives ctest.
const CTEST_TESTS: [&str; 6] = [
    "camb_h_as_cpp",
    "cpp_demo",
    "edge_cases",
    "job_cases",
    "log_cases",
    "speech_cases",
];

// ---------------------------------------------------------------- helpers

/// Prints past the test harness's capture, so that it shows in `cargo test`'s output.
fn notice(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// This run's directory: the install prefix, the CMake build and scratch files.
/// Each run of this test binary has its own (runs at the same time never share a
/// build); the directories of earlier runs whose process is gone are removed.
fn work_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
        if Path::new("/proc/self").exists() {
            for entry in fs::read_dir(root).into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(pid) = name.strip_prefix("cpp-test-") else {
                    continue;
                };
                if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = root.join(format!("cpp-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    })
}

fn scratch(name: &str) -> PathBuf {
    work_dir().join(name)
}

/// A command with none of the loader settings `cargo test` gives its tests (its
/// LD_LIBRARY_PATH reaches target/debug/deps, where the build tree's libcamb is,
/// and comes before the RUNPATH that CMake gives the programs).
fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    command.env_remove("LD_LIBRARY_PATH");
    command
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

fn checked(command: &mut Command) -> Output {
    let output = run(command);
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}",
        output.status,
        both(&output)
    );
    output
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

// ---------------------------------------------------------------- the build

/// libcamb installed into this run's prefix, and tests/cpp built against it.
struct Build {
    prefix: PathBuf,
    dir: PathBuf,
}

impl Build {
    /// A program of tests/cpp/CMakeLists.txt.
    fn program(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// The build the tests share, made once per run; None (after a SKIP line, or a
/// panic when CI is set) when cmake is missing.
fn build(test: &str) -> Option<&'static Build> {
    if !tool_available("cmake") {
        skip_without_tool("cmake", &format!("cpp::{test}"), "scripts/setup.sh");
        return None;
    }
    static BUILD: OnceLock<Result<Build, String>> = OnceLock::new();
    // The error is kept, so that the other tests fail at once with it instead of
    // building again.
    let build = BUILD.get_or_init(|| {
        std::panic::catch_unwind(make_build).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the build panicked".into())
        })
    });
    match build {
        Ok(build) => Some(build),
        Err(e) => panic!("installing libcamb or building tests/cpp failed:\n{e}"),
    }
}

fn make_build() -> Build {
    let prefix = scratch("prefix");
    let started = Instant::now();
    let mut install = command(Path::new(MANIFEST_DIR).join("scripts/install.sh"));
    install
        .arg("install")
        .current_dir(MANIFEST_DIR)
        .env("PREFIX", &prefix);
    for name in ["DESTDIR", "LIBDIR", "INCLUDEDIR"] {
        install.env_remove(name);
    }
    common::process::without_cargo_test_env(&mut install);
    checked(&mut install);
    let installed = started.elapsed();
    // find_package(camb) gives camb.hpp with camb.h: the installed copy is this one.
    assert_eq!(
        fs::read(prefix.join("include/camb.hpp")).ok(),
        fs::read(Path::new(MANIFEST_DIR).join("include/camb.hpp")).ok(),
        "scripts/install.sh did not install include/camb.hpp as it is"
    );

    let dir = scratch("build");
    let started = Instant::now();
    let configure = checked(
        command("cmake")
            .arg("-S")
            .arg(Path::new(MANIFEST_DIR).join("tests/cpp"))
            .arg("-B")
            .arg(&dir)
            .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display()))
            .arg("-DCMAKE_BUILD_TYPE=RelWithDebInfo"),
    );
    let expected = format!(
        "camb {VERSION} from {}",
        prefix.join("lib/cmake/camb").display()
    );
    assert!(
        text(&configure.stdout).contains(&expected),
        "{expected} not in\n{}",
        text(&configure.stdout)
    );
    checked(
        command("cmake")
            .arg("--build")
            .arg(&dir)
            .args(["--parallel", "2"]),
    );
    notice(&format!(
        "cpp: libcamb installed in {:.1} s, tests/cpp configured and built in {:.1} s",
        installed.as_secs_f64(),
        started.elapsed().as_secs_f64()
    ));
    Build { prefix, dir }
}

/// The emulator the checks programs expect: the demo tasks, already final, a
/// task whose status and message carry NUL bytes, and speech streamed as fast as
/// the client takes it (speech_cases works at any pace; real time would make it
/// take a minute).
fn edge_emulator() -> Emulator {
    let emulator = Emulator::start(Config {
        pending_ms: 0,
        tts_pace: 0.0,
        ..Config::default()
    })
    .expect("the emulator starts on 127.0.0.1");
    emulator.add_task(TaskSpec {
        task_id: Some("nul-task".into()),
        final_status: "DONE\0LATER".into(),
        message: Some(serde_json::json!("a\u{0}b")),
        ..TaskSpec::default()
    });
    emulator
}

// ---------------------------------------------------------------- ctest

/// What ctest's log (Testing/Temporary/LastTest.log) says `test` printed.
fn ctest_output<'a>(log: &'a str, test: &str) -> &'a str {
    let start = log
        .find(&format!(" Testing: {test}\n"))
        .unwrap_or_else(|| panic!("no test {test} in ctest's log:\n{log}"));
    let section = &log[start..];
    let begin = section.find("\nOutput:\n").expect("an Output: line") + "\nOutput:\n".len();
    let body = &section[begin..];
    // A line of dashes, then the output up to its end marker.
    let body = &body[body.find('\n').map_or(0, |i| i + 1)..];
    &body[..body
        .find("<end of output>")
        .expect("an <end of output> line")]
}

#[test]
fn ctest_runs_every_cpp_program() {
    let Some(build) = build("ctest_runs_every_cpp_program") else {
        return;
    };
    // One emulator for all of them: ctest runs them one at a time.
    let emulator = edge_emulator();
    let started = Instant::now();
    let output = run(command("ctest")
        .arg("--output-on-failure")
        .current_dir(&build.dir)
        .env("CAMB_BASE_URL", emulator.base_url())
        .env("CAMB_API_KEY", DEFAULT_API_KEY));
    let summary = text(&output.stdout);
    assert!(output.status.success(), "ctest failed:\n{}", both(&output));
    notice(&format!(
        "cpp: ctest ran {} tests in {:.1} s",
        CTEST_TESTS.len(),
        started.elapsed().as_secs_f64()
    ));
    assert!(
        summary.contains(&format!(
            "100% tests passed, 0 tests failed out of {}",
            CTEST_TESTS.len()
        )),
        "{summary}"
    );
    for test in CTEST_TESTS {
        assert!(
            summary.contains(&format!(": {test} ")),
            "{test} did not run:\n{summary}"
        );
    }

    let log = fs::read_to_string(build.dir.join("Testing/Temporary/LastTest.log")).unwrap();
    for (test, line) in [
        ("edge_cases", "edge checks: all "),
        ("job_cases", "job checks: all "),
        ("log_cases", "log checks: all "),
        ("speech_cases", "speech checks: all "),
    ] {
        let out = ctest_output(&log, test);
        assert!(out.contains(line), "{test}:\n{out}");
        assert!(!out.contains("FAIL"), "{test}:\n{out}");
    }
    // The log program prints every line it was given: the key is in none.
    let logged = ctest_output(&log, "log_cases");
    assert!(logged.contains("line: "), "{logged}");
    assert!(!logged.contains(DEFAULT_API_KEY), "{logged}");
    let demo = ctest_output(&log, "cpp_demo");
    assert!(demo.ends_with("done\n"), "{demo}");
    assert!(!demo.contains("NOT "), "{demo}");
}

/// camb.h compiled as C++ (tests/cpp/camb_h_as_cpp.cpp) and linked with camb::camb:
/// the program needs libcamb (its calls were resolved there, unmangled) and runs.
#[test]
fn camb_h_compiles_as_cpp_and_links() {
    let Some(build) = build("camb_h_compiles_as_cpp_and_links") else {
        return;
    };
    let program = build.program("camb_h_as_cpp");
    let dynamic = checked(
        command("readelf")
            .args(["--dynamic", "--wide"])
            .arg(&program),
    );
    let dynamic = text(&dynamic.stdout);
    let soname = format!(
        "[libcamb.so.{}]",
        if env!("CARGO_PKG_VERSION_MAJOR") == "0" {
            format!("0.{}", env!("CARGO_PKG_VERSION_MINOR"))
        } else {
            env!("CARGO_PKG_VERSION_MAJOR").to_owned()
        }
    );
    assert!(
        dynamic
            .lines()
            .any(|l| l.contains("(NEEDED)") && l.contains(&soname)),
        "{soname} is not needed by {}:\n{dynamic}",
        program.display()
    );
    // Found through the RUNPATH CMake gives it: the installed copy.
    let lib = build.prefix.join("lib").display().to_string();
    assert!(dynamic.contains(&lib), "{lib} not in\n{dynamic}");
    let status = command(&program).status().expect("the program runs");
    assert!(status.success(), "{status}");
}

// ---------------------------------------------------------------- the demo

fn run_demo(build: &Build, args: &[&str], key: Option<&str>) -> Output {
    let mut command = command(build.program("cpp_demo"));
    command.args(args).env_remove("CAMB_API_KEY");
    if let Some(key) = key {
        command.env("CAMB_API_KEY", key);
    }
    command.output().expect("cpp_demo runs")
}

#[test]
fn the_cpp_demo_runs_every_behaviour() {
    let Some(build) = build("the_cpp_demo_runs_every_behaviour") else {
        return;
    };
    // A fresh emulator: the demo's task is the first, run 100001.
    let emulator = emulator();
    let url = emulator.base_url();
    let wav = scratch("cpp-demo.wav");
    let _ = fs::remove_file(&wav);

    let output = run_demo(build, &[&url, wav.to_str().unwrap()], Some(DEFAULT_API_KEY));
    let log = text(&output.stdout);
    assert!(output.status.success(), "{}", both(&output));
    assert!(output.stderr.is_empty(), "{}", both(&output));

    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines[0],
        format!("libcamb {VERSION} (header {VERSION})"),
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

    let bytes = fs::read(&wav).expect("the WAV file was saved");
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
    let generated = fs::read(&generated_path).expect("generate_async saved its WAV file");
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
    let _ = fs::remove_file(&wav);
    let _ = fs::remove_file(&generated_path);
}

#[test]
fn the_cpp_demo_reports_a_camb_error_by_name() {
    let Some(build) = build("the_cpp_demo_reports_a_camb_error_by_name") else {
        return;
    };
    let emulator = emulator();
    let url = emulator.base_url();
    let wav = scratch("cpp-demo-unused.wav");
    let wav = wav.to_str().unwrap();

    let no_key = run_demo(build, &[&url, wav], None);
    assert_eq!(no_key.status.code(), Some(1), "{}", both(&no_key));
    assert!(
        text(&no_key.stderr).starts_with("error: CAMB_RESULT_MISSING_API_KEY: "),
        "{}",
        both(&no_key)
    );

    let wrong_key = run_demo(build, &[&url, wav], Some("not-the-key"));
    assert_eq!(wrong_key.status.code(), Some(1), "{}", both(&wrong_key));
    assert!(
        text(&wrong_key.stderr).starts_with("error: CAMB_RESULT_UNAUTHORIZED: HTTP 401"),
        "{}",
        both(&wrong_key)
    );

    let bad_url = run_demo(build, &["not a url", wav], Some(DEFAULT_API_KEY));
    assert_eq!(bad_url.status.code(), Some(1), "{}", both(&bad_url));
    assert!(
        text(&bad_url.stderr).starts_with("error: CAMB_RESULT_INVALID_PARAMETER: "),
        "{}",
        both(&bad_url)
    );

    let nobody = format!("http://127.0.0.1:{}", closed_port());
    let refused = run_demo(build, &[&nobody, wav], Some(DEFAULT_API_KEY));
    assert_eq!(refused.status.code(), Some(1), "{}", both(&refused));
    assert!(
        text(&refused.stderr).starts_with("error: CAMB_RESULT_CONNECT: "),
        "{}",
        both(&refused)
    );

    let usage = run_demo(build, &[], Some(DEFAULT_API_KEY));
    assert_eq!(usage.status.code(), Some(2));
    assert!(text(&usage.stderr).starts_with("usage: "));
}

// ---------------------------------------------------------------- valgrind

/// Runs a checks program (BASE_URL API_KEY TMPDIR, CAMB_API_KEY unset) in a fresh
/// directory, under `wrapper` (valgrind).
fn run_checks(build: &Build, name: &str, emulator: &Emulator, wrapper: &[&str]) -> Output {
    let dir = scratch(&format!("valgrind-{name}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let output = run(command(wrapper[0])
        .args(&wrapper[1..])
        .arg(build.program(name))
        .arg(emulator.base_url())
        .arg(DEFAULT_API_KEY)
        .arg(&dir)
        .env_remove("CAMB_API_KEY"));
    let _ = fs::remove_dir_all(&dir);
    output
}

/// valgrind, when the machine has it: no leak and no memory error on any path the
/// demo and the checks programs take (exceptions from constructors, setters,
/// callbacks, moves, cancellations; jobs and log functions).
#[test]
fn nothing_leaks_under_valgrind() {
    if !tool_available("valgrind") {
        common::skip_without_tool(
            "valgrind",
            "cpp::nothing_leaks_under_valgrind",
            "scripts/memcheck.sh",
        );
        return;
    }
    let Some(build) = build("nothing_leaks_under_valgrind") else {
        return;
    };
    let valgrind = [
        "valgrind",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite,indirect",
        "--error-exitcode=99",
        "--quiet",
    ];
    let emulator = edge_emulator();
    let edge = run_checks(build, "edge_cases", &emulator, &valgrind);
    assert!(edge.status.success(), "{}", both(&edge));
    assert!(text(&edge.stdout).contains("edge checks: all "));
    // Jobs: each freed once, by its Job (never submitted) or by the dispatch that
    // completes its future; each record and log function freed once.
    let jobs = run_checks(build, "job_cases", &emulator, &valgrind);
    assert!(jobs.status.success(), "{}", both(&jobs));
    assert!(text(&jobs.stdout).contains("job checks: all "));
    // The log function: destroyed through libcamb's finalizer, after its last line.
    let logs = run_checks(build, "log_cases", &emulator, &valgrind);
    assert!(logs.status.success(), "{}", both(&logs));
    assert!(text(&logs.stdout).contains("log checks: all "));
    // Speech: a reader's job freed once, by the dispatch that takes it back, its
    // audio moved out before; lists and sinks on every path.
    let speech = run_checks(build, "speech_cases", &emulator, &valgrind);
    assert!(speech.status.success(), "{}", both(&speech));
    assert!(text(&speech.stdout).contains("speech checks: all "));

    let wav = scratch("cpp-demo-valgrind.wav");
    let demo_run = run(command(valgrind[0])
        .args(&valgrind[1..])
        .arg(build.program("cpp_demo"))
        .arg(emulator.base_url())
        .arg(&wav)
        .env("CAMB_API_KEY", DEFAULT_API_KEY));
    assert!(demo_run.status.success(), "{}", both(&demo_run));
    assert!(text(&demo_run.stdout).ends_with("done\n"));

    // The failure path: the exception thrown while building the client.
    let failed = run(command(valgrind[0])
        .args(&valgrind[1..])
        .arg(build.program("cpp_demo"))
        .arg(emulator.base_url())
        .arg(&wav)
        .env_remove("CAMB_API_KEY"));
    assert_eq!(failed.status.code(), Some(1), "{}", both(&failed));
    let _ = fs::remove_file(&wav);
    let _ = fs::remove_file(format!("{}.generated.wav", wav.display()));
}

// ---------------------------------------------------------------- clang-format

/// Every C++ source and header under `dir`, skipping build output (target/,
/// node_modules/, dist/) and hidden directories.
fn cpp_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if !name.starts_with('.')
                && !["target", "node_modules", "dist"].contains(&name.as_str())
            {
                cpp_files(&path, found);
            }
        } else if kind.is_file()
            && path.extension().is_some_and(|e| {
                ["cpp", "hpp", "cc", "cxx", "hh", "hxx"].contains(&e.to_string_lossy().as_ref())
            })
        {
            found.push(path);
        }
    }
}

/// `clang-format --dry-run --Werror` with the repository's .clang-format over every
/// C++ file: include/camb.hpp, examples/cpp, tests/cpp and any other. Fix a failure
/// with `clang-format -i FILE`.
#[test]
fn every_cpp_file_is_clang_format_clean() {
    if !tool_available("clang-format") {
        skip_without_tool(
            "clang-format",
            "cpp::every_cpp_file_is_clang_format_clean",
            "scripts/setup.sh",
        );
        return;
    }
    let root = Path::new(MANIFEST_DIR);
    assert!(
        root.join(".clang-format").is_file(),
        ".clang-format is missing"
    );
    let mut files = Vec::new();
    cpp_files(root, &mut files);
    files.sort();
    for expected in [
        "include/camb.hpp",
        "examples/cpp/demo.cpp",
        "tests/cpp/edge_cases.cpp",
        "tests/cpp/job_cases.cpp",
        "tests/cpp/log_cases.cpp",
        "tests/cpp/speech_cases.cpp",
    ] {
        assert!(
            files.contains(&root.join(expected)),
            "{expected} not in {files:?}"
        );
    }
    let version = text(&checked(command("clang-format").arg("--version")).stdout);
    let output = run(command("clang-format")
        .args(["--dry-run", "--Werror", "--style=file"])
        .args(&files)
        .current_dir(root));
    assert!(
        output.status.success(),
        "not formatted as .clang-format says ({}); run clang-format -i on these files:\n{}",
        version.trim(),
        text(&output.stderr)
    );
}
