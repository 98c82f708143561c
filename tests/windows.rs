//! libcamb as a Windows DLL: built for x86_64-pc-windows-gnu, linked by C programs
//! compiled with MinGW-w64, and run under Wine against the emulator, which runs
//! natively in this process on 127.0.0.1 (Wine's sockets are the host's).
//!
//! Only with `CAMB_TEST_WINDOWS=1`; otherwise each test prints a SKIP line and returns.
//! With it, nothing is skipped: a tool that is missing and cannot be installed, a DLL
//! that does not build, a program that does not compile or does not run, each fails.
//!
//! The first test that needs them prepares, once per run, for all:
//! 1. scripts/windows-setup.sh installs what is missing (the Rust target, MinGW-w64, Wine);
//! 2. `cargo build -p camb-ffi --target x86_64-pc-windows-gnu --release`;
//! 3. the DLL (the one its import library names), a Wine-only bcryptprimitives.dll
//!    (tests/windows/bcryptprimitives.c says why) and the programs, compiled with
//!    `-std=c11 -Wall -Wextra -Wpedantic -Werror` against the import library, go to
//!    target/tmp/windows/bin: tests/windows/conformance.c, and the examples that are
//!    portable C (task_status, demo, poll_status; jobs_epoll needs epoll, load and
//!    stress need POSIX sockets, poll.h and /proc);
//! 4. Wine runs with a prefix of its own, target/tmp/windows/wine-prefix (never ~/.wine;
//!    about 700 MiB), made by `wineboot -i` the first time and kept for later runs, with
//!    `WINEDEBUG=-all` and no display, under a wineserver that stays up 30 s after the
//!    last program (see `Windows::start_wine`).
//!
//! The emulator runs in this process, one per test; conformance.exe drives its faults
//! through the control API itself.
//!
//! Timings go to stderr as `windows: ...` lines (past the harness's capture).

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use camb_emulator::{Config, DEFAULT_API_KEY, Emulator};
use common::process::{describe, run_bounded, without_cargo_test_env};
use common::{Fault, FaultResponse, parse_wav};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const TARGET: &str = "x86_64-pc-windows-gnu";
const GCC: &str = "x86_64-w64-mingw32-gcc";
const OBJDUMP: &str = "x86_64-w64-mingw32-objdump";
const DLLTOOL: &str = "x86_64-w64-mingw32-dlltool";
/// The strict flags every C program here is compiled with, as on Linux.
const C_FLAGS: [&str; 6] = [
    "-std=c11",
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Werror",
    "-O1",
];
/// The examples that are portable C, compiled unchanged.
const EXAMPLES: [&str; 3] = ["task_status", "demo", "poll_status"];
/// One program under Wine: a few seconds; this only stops a hang.
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(180);

/// True when the Windows tests were asked for; otherwise prints the test's SKIP line.
fn enabled(test: &str) -> bool {
    if std::env::var("CAMB_TEST_WINDOWS").as_deref() == Ok("1") {
        return true;
    }
    // Past the test harness's capture, so that it shows in `cargo test`'s output.
    let _ = writeln!(
        std::io::stderr(),
        "SKIP windows::{test}: set CAMB_TEST_WINDOWS=1 (scripts/windows-setup.sh installs the toolchain)"
    );
    false
}

/// A line for the person running the tests (timings), past the harness's capture.
fn note(line: &str) {
    let _ = writeln!(std::io::stderr(), "windows: {line}");
}

fn seconds(since: Instant) -> String {
    format!("{:.1} s", since.elapsed().as_secs_f64())
}

// ------------------------------------------------------------------- setup

/// What the tests share: the DLL and the programs, and how to run them.
struct Windows {
    wine: PathBuf,
    /// The wineserver that goes with `wine`.
    wineserver: PathBuf,
    prefix: PathBuf,
    /// The DLL, the stand-in bcryptprimitives.dll and the programs.
    bin: PathBuf,
    /// The DLL as the build made it, in target/x86_64-pc-windows-gnu/release.
    dll: PathBuf,
}

/// Prepares once per run (the first test to ask does it; the others wait for it).
fn windows() -> &'static Windows {
    static SETUP: OnceLock<Result<Windows, String>> = OnceLock::new();
    let setup = SETUP.get_or_init(|| {
        std::panic::catch_unwind(prepare).map_err(|panic| {
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "a panic without a message".to_owned())
        })
    });
    match setup {
        Ok(windows) => windows,
        Err(why) => panic!("the Windows setup failed: {why}"),
    }
}

/// target/tmp/windows: everything of these tests, outside the repository's sources.
fn tmp_root() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("windows")
}

/// The target directory of this test run (CARGO_TARGET_TMPDIR is its `tmp`), where
/// the DLL is built too.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is inside the target directory")
        .to_path_buf()
}

fn prepare() -> Windows {
    let started = Instant::now();
    let root = Path::new(MANIFEST_DIR);

    let step = Instant::now();
    let mut setup = Command::new("bash");
    setup.arg(root.join("scripts/windows-setup.sh"));
    let output = bounded(
        &mut setup,
        Duration::from_secs(1200),
        "scripts/windows-setup.sh",
    );
    assert!(
        output.status.success(),
        "scripts/windows-setup.sh failed ({}): the Windows toolchain is missing\n{}",
        output.status,
        describe(&output)
    );
    note(&format!("scripts/windows-setup.sh: {}", seconds(step)));
    let wine = find_wine().unwrap_or_else(|| {
        panic!("no Wine after scripts/windows-setup.sh (/usr/lib/wine/wine64, wine64 or wine)")
    });

    let step = Instant::now();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(root)
        .args(["build", "-p", "camb-ffi", "--target", TARGET, "--release"])
        .arg("--target-dir")
        .arg(target_dir());
    without_cargo_test_env(&mut build);
    let output = bounded(&mut build, Duration::from_secs(2400), "cargo build");
    assert!(
        output.status.success(),
        "cargo build -p camb-ffi --target {TARGET} --release failed\n{}",
        describe(&output)
    );
    note(&format!(
        "cargo build -p camb-ffi --target {TARGET} --release: {}",
        seconds(step)
    ));

    let step = Instant::now();
    let release = target_dir().join(TARGET).join("release");
    let (import_lib, dll) = find_dll(&release);
    let dll_name = file_name(&dll);
    let bin = tmp_root().join("bin");
    let _ = std::fs::remove_dir_all(&bin);
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(&dll, bin.join(&dll_name))
        .unwrap_or_else(|e| panic!("cannot copy {} to {}: {e}", dll.display(), bin.display()));
    compile(
        Command::new(GCC)
            .args(["-shared", "-O1", "-Wall", "-Wextra", "-Werror", "-o"])
            .arg(bin.join("bcryptprimitives.dll"))
            .arg(root.join("tests/windows/bcryptprimitives.c"))
            .arg("-lbcrypt"),
        "bcryptprimitives.dll",
    );
    let programs = std::iter::once(("conformance", root.join("tests/windows/conformance.c")))
        .chain(EXAMPLES.map(|name| (name, root.join(format!("examples/{name}.c")))));
    for (name, source) in programs {
        let exe = bin.join(format!("{name}.exe"));
        let mut gcc = Command::new(GCC);
        gcc.args(C_FLAGS)
            .arg(format!("-I{}", root.join("include").display()))
            .arg(&source)
            // The import library itself: whatever the DLL is called, this is what a
            // program links against to load it.
            .arg(&import_lib)
            .arg("-o")
            .arg(&exe);
        if name == "conformance" {
            gcc.arg("-lws2_32");
        }
        compile(&mut gcc, &source.display().to_string());
        let imports = dll_imports(&exe);
        assert!(
            imports.iter().any(|i| i.eq_ignore_ascii_case(&dll_name)),
            "{} does not import {dll_name}, the DLL {} names; it imports {imports:?}",
            exe.display(),
            import_lib.display()
        );
    }
    note(&format!(
        "{dll_name} ({} KiB), the stand-in bcryptprimitives.dll and {} programs in {}: {}",
        std::fs::metadata(&dll).unwrap().len() / 1024,
        1 + EXAMPLES.len(),
        bin.display(),
        seconds(step)
    ));

    let prefix = tmp_root().join("wine-prefix");
    let windows = Windows {
        wineserver: find_wineserver(&wine),
        wine,
        prefix,
        bin,
        dll,
    };
    windows.start_wine();
    note(&format!("setup in all: {}", seconds(started)));
    windows
}

/// How long our wineserver, and with it Wine's own processes, stay up after the last
/// program ends: long enough to serve every test of a run.
const WINESERVER_PERSISTENCE_S: u32 = 30;

impl Windows {
    /// Makes the prefix the first time, and starts Wine for the programs to come.
    ///
    /// The wineserver that Wine's loader starts when none runs (`wineserver -p0`) ends
    /// with the program: Wine's own processes (services.exe, explorer.exe,
    /// winedevice.exe, ...) end some 2 s after it, and the next program starts them all
    /// again. They inherit the stdout and stderr of the program that started them, so
    /// its pipes also stay open for those 2 s after it ended: about 2.3 s a program in
    /// all. Instead a wineserver of ours stays up (`-p30`), Wine's processes are started
    /// once with their output going to a log file, and each program then starts in a
    /// few tens of milliseconds.
    fn start_wine(&self) {
        let step = Instant::now();
        // Written once wineboot -i succeeded. (Not system.reg: the wineserver writes
        // the registry out only when it exits, 30 s after a run.)
        let ready = self.prefix.join(".camb-prefix-ready");
        let created = !ready.is_file();
        if created {
            let _ = std::fs::remove_dir_all(&self.prefix);
        }
        std::fs::create_dir_all(&self.prefix).unwrap();
        let log = tmp_root().join("wine.log");
        let _ = std::fs::remove_file(&log);
        let mut server = self.wine_env(Command::new(&self.wineserver));
        server.arg(format!("-p{WINESERVER_PERSISTENCE_S}"));
        // Exits at once: it goes to the background (or finds one running already,
        // which is then used: ours from a run a moment ago, most likely).
        let ours = run_logged(&mut server, Duration::from_secs(60), &log).success();
        if created {
            let mut boot = self.wine_env(Command::new(&self.wine));
            boot.args(["wineboot", "-i"]);
            let status = run_logged(&mut boot, Duration::from_secs(600), &log);
            assert!(
                status.success(),
                "wineboot -i failed ({status}) to make the prefix {}; {} says:\n{}",
                self.prefix.display(),
                log.display(),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::fs::write(&ready, "made by tests/windows.rs with wineboot -i\n").unwrap();
            note(&format!(
                "Wine prefix {} ({} MiB) created by wineboot -i: {}",
                self.prefix.display(),
                disk_usage_mib(&self.prefix),
                seconds(step)
            ));
        } else {
            note(&format!("Wine prefix {} reused", self.prefix.display()));
        }
        // The first program starts Wine's own processes, its output in the log too.
        let step = Instant::now();
        let mut first = self.wine_env(Command::new(&self.wine));
        first
            .arg(self.bin.join("task_status.exe"))
            .current_dir(&self.bin);
        let status = run_logged(&mut first, PROGRAM_TIMEOUT, &log);
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            status.code() == Some(2) && said.contains("usage:"),
            "task_status.exe without arguments did not run under Wine ({status}; \
             exit code 53 is a DLL not found); {} says:\n{said}",
            log.display()
        );
        note(&format!(
            "the first program under Wine (with {}): {}",
            if ours {
                format!("a wineserver -p{WINESERVER_PERSISTENCE_S} of ours")
            } else {
                "the wineserver already running for the prefix".to_owned()
            },
            seconds(step)
        ));
    }

    /// The environment of every Wine command: our prefix, quiet, headless, and none of
    /// the developer's CAMB_ settings (Wine passes the Unix environment through).
    fn wine_env(&self, mut command: Command) -> Command {
        command
            .env("WINEPREFIX", &self.prefix)
            .env("WINEDEBUG", "-all")
            // No Mono or Gecko installer when the prefix is made.
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("CAMB_API_KEY")
            .env_remove("CAMB_BASE_URL")
            .env_remove("CAMB_LOG");
        command
    }

    /// Runs bin/<program>.exe under Wine with `args` and `env`, bounded in time.
    fn run(&self, program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let exe = self.bin.join(format!("{program}.exe"));
        let mut command = self.wine_env(Command::new(&self.wine));
        command.arg(&exe).args(args).current_dir(&self.bin);
        for (name, value) in env {
            command.env(name, value);
        }
        bounded(
            &mut command,
            PROGRAM_TIMEOUT,
            &format!("{program}.exe under Wine"),
        )
    }
}

/// Runs `command` to its end within `timeout`; a hang or a command that cannot start
/// fails the test.
fn bounded(command: &mut Command, timeout: Duration, what: &str) -> Output {
    run_bounded(command, timeout)
        .unwrap_or_else(|e| panic!("cannot run {what} ({:?}): {e}", command.get_program()))
        .unwrap_or_else(|| {
            panic!(
                "{what} did not finish within {} s and was killed",
                timeout.as_secs()
            )
        })
}

fn compile(command: &mut Command, what: &str) {
    let output = bounded(
        command,
        Duration::from_secs(300),
        &format!("{GCC} for {what}"),
    );
    assert!(
        output.status.success(),
        "{what} does not compile cleanly with {GCC}:\n{}",
        describe(&output)
    );
}

/// Runs `command` with its output appended to the file `log` (never to a pipe: Wine's
/// own processes, which may outlive it, inherit it), within `timeout`.
fn run_logged(command: &mut Command, timeout: Duration, log: &Path) -> std::process::ExitStatus {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", log.display()));
    let mut child = command
        .stdin(std::process::Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", command.get_program()));
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{:?} did not finish within {} s and was killed",
                command.get_program(),
                timeout.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The wineserver beside Wine's loader (Debian: /usr/lib/wine/wineserver64), else on
/// the PATH.
fn find_wineserver(wine: &Path) -> PathBuf {
    let beside = wine.parent().map(|dir| {
        let suffix = if file_name(wine).ends_with("64") {
            "64"
        } else {
            ""
        };
        (
            dir.join(format!("wineserver{suffix}")),
            dir.join("wineserver"),
        )
    });
    if let Some((first, second)) = beside {
        for candidate in [first, second] {
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("wineserver"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("no wineserver beside {} nor on the PATH", wine.display()))
}

/// The size of a directory tree, for a note.
fn disk_usage_mib(dir: &Path) -> u64 {
    fn walk(dir: &Path) -> u64 {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| match entry.file_type() {
                Ok(t) if t.is_dir() => walk(&entry.path()),
                Ok(t) if t.is_file() => entry.metadata().map_or(0, |m| m.len()),
                _ => 0,
            })
            .sum()
    }
    walk(dir) / (1024 * 1024)
}

/// Wine's loader: CAMB_WINE, else Debian's wine64 package's (outside the PATH), else
/// wine64 or wine on the PATH; the order of scripts/windows-setup.sh.
fn find_wine() -> Option<PathBuf> {
    if let Some(wine) = std::env::var_os("CAMB_WINE").filter(|w| !w.is_empty()) {
        return Some(PathBuf::from(wine));
    }
    let debian = Path::new("/usr/lib/wine/wine64");
    if debian.is_file() {
        return Some(debian.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    ["wine64", "wine"].iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// The newest import library of libcamb in `release` (rustc names it lib<name>.dll.a),
/// and the DLL it names (read with dlltool), which must be there.
fn find_dll(release: &Path) -> (PathBuf, PathBuf) {
    let mut import_libs: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(release)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", release.display()))
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = file_name(&path);
            let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
            (name.ends_with(".dll.a") && name.contains("camb")).then_some((modified, path))
        })
        .collect();
    import_libs.sort();
    let (_, import_lib) = import_libs.pop().unwrap_or_else(|| {
        panic!(
            "no import library (*camb*.dll.a) in {}: the build made no DLL",
            release.display()
        )
    });
    let output = Command::new(DLLTOOL)
        .arg("-I")
        .arg(&import_lib)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {DLLTOOL}: {e}"));
    assert!(
        output.status.success(),
        "{DLLTOOL} -I {} failed\n{}",
        import_lib.display(),
        describe(&output)
    );
    let dll_name = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let dll = release.join(&dll_name);
    assert!(
        !dll_name.is_empty() && dll.is_file(),
        "{} names the DLL {dll_name:?}, which is not in {}",
        import_lib.display(),
        release.display()
    );
    (import_lib, dll)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `objdump -p` of a PE file.
fn objdump(file: &Path) -> String {
    let output = Command::new(OBJDUMP)
        .arg("-p")
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {OBJDUMP}: {e}"));
    assert!(
        output.status.success(),
        "{OBJDUMP} -p {} failed\n{}",
        file.display(),
        describe(&output)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The DLLs a PE file imports ("\tDLL Name: KERNEL32.dll").
fn dll_imports(file: &Path) -> Vec<String> {
    objdump(file)
        .lines()
        .filter_map(|line| line.trim().strip_prefix("DLL Name: "))
        .map(str::to_owned)
        .collect()
}

// ------------------------------------------------------------ the programs

/// A program's stdout or stderr, with Windows' CRLF line ends made LF (the C runtime
/// writes "\r\n" for "\n" to a stream in text mode: Windows' own behaviour).
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace("\r\n", "\n")
}

/// The Windows name of a Unix path: Wine's drive Z: is the Unix root.
fn windows_path(path: &Path) -> String {
    assert!(path.is_absolute(), "{} is not absolute", path.display());
    format!("Z:{}", path.display()).replace('/', "\\")
}

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = tmp_root().join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An emulator whose demo tasks are final already.
fn emulator() -> Emulator {
    Emulator::start(Config {
        pending_ms: 0,
        tts_pace: 0.0,
        ..Config::default()
    })
    .expect("the emulator starts on 127.0.0.1")
}

/// The prompt conformance.c saves as its reference audio (2 s of sound).
const CONFORMANCE_PROMPT: &str = "rain on a tin roof [pending_ms:300]";
/// "café-日本-звук-🔊.wav", the non-ASCII name conformance.c saves under.
const UNICODE_NAME: &str = "caf\u{e9}-\u{65e5}\u{672c}-\u{437}\u{432}\u{443}\u{43a}-\u{1f50a}.wav";

#[test]
fn conformance_program_passes_under_wine() {
    if !enabled("conformance_program_passes_under_wine") {
        return;
    }
    let windows = windows();
    let emulator = emulator();
    let copies = scratch("conformance");
    let started = Instant::now();
    let output = windows.run(
        "conformance",
        &[
            &emulator.base_url(),
            DEFAULT_API_KEY,
            &windows_path(&copies),
        ],
        &[],
    );
    note(&format!("conformance.exe: {}", seconds(started)));
    let log = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "conformance.exe failed under Wine\n{}",
        describe(&output)
    );
    for section in [
        "version", "status", "workflow", "replace", "refusals", "errors", "jobs", "speech",
    ] {
        assert!(
            log.contains(&format!("\nok: {section} (")),
            "no \"ok: {section}\" line\n{}",
            describe(&output)
        );
    }
    let last = log.lines().last().unwrap_or_default();
    let checks: u32 = last
        .strip_prefix("conformance: PASS (")
        .and_then(|rest| rest.strip_suffix(" checks)"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no PASS line at the end\n{}", describe(&output)));
    assert!(
        checks >= 700,
        "only {checks} checks ran\n{}",
        describe(&output)
    );
    assert!(
        !text(&output.stderr).contains("FAIL"),
        "{}",
        describe(&output)
    );

    // What the program saved into a Unix directory through its Z: name: exactly the
    // audio the emulator renders for the prompt, and the non-ASCII name as UTF-8.
    let want = camb_emulator::wav::render(CONFORMANCE_PROMPT, "sound", 2.0);
    let copy = std::fs::read(copies.join("copy.wav")).expect("conformance.exe saved copy.wav");
    assert_eq!(parse_wav(&copy), (1, 22_050, 16, 2 * 22_050));
    assert!(
        copy == want,
        "copy.wav is not the emulator's audio for the prompt"
    );
    let unicode = std::fs::read(copies.join(UNICODE_NAME)).unwrap_or_else(|e| {
        let names: Vec<String> = std::fs::read_dir(&copies)
            .unwrap()
            .map(|e| format!("{:?}", e.unwrap().file_name()))
            .collect();
        panic!("no file named {UNICODE_NAME} ({e}); the directory holds {names:?}")
    });
    assert!(unicode == want, "{UNICODE_NAME} is not the same audio");
    assert_eq!(
        std::fs::read_dir(&copies).unwrap().count(),
        2,
        "files were left beside the two saved"
    );
    std::fs::remove_dir_all(&copies).unwrap();
}

#[test]
fn task_status_example_runs_under_wine() {
    if !enabled("task_status_example_runs_under_wine") {
        return;
    }
    let windows = windows();
    let emulator = emulator();
    let url = emulator.base_url();
    let key = [("CAMB_API_KEY", DEFAULT_API_KEY)];

    let success = windows.run("task_status", &["demo-success", &url], &key);
    assert!(success.status.success(), "{}", describe(&success));
    assert_eq!(
        text(&success.stdout),
        "status: CAMB_STATUS_SUCCESS (SUCCESS)\nrun_id: 4242\nfinal: yes\n"
    );

    let error = windows.run("task_status", &["demo-error", &url], &key);
    assert!(error.status.success(), "{}", describe(&error));
    assert_eq!(
        text(&error.stdout),
        "status: CAMB_STATUS_ERROR (ERROR)\nrun_id: 4243\nexception_reason: PROCESSING_ERROR\n\
         message: The audio model failed to render this prompt\nfinal: yes\n"
    );

    let unknown = windows.run("task_status", &["demo-unknown", &url], &key);
    assert!(
        text(&unknown.stdout).starts_with("status: CAMB_STATUS_UNKNOWN (QUEUED_FOR_GPU)\n"),
        "{}",
        describe(&unknown)
    );

    let pending = windows.run("task_status", &["demo-pending", &url], &key);
    assert!(
        text(&pending.stdout).ends_with("run_id: none\nfinal: no\n"),
        "{}",
        describe(&pending)
    );

    let missing = windows.run("task_status", &["no-such-task", &url], &key);
    assert_eq!(missing.status.code(), Some(1), "{}", describe(&missing));
    assert_eq!(
        text(&missing.stderr),
        "asking for the task's status failed: CAMB_RESULT_NOT_FOUND: \
         HTTP 404 Not Found: Task not found: no-such-task\n"
    );

    let bad_url = windows.run("task_status", &["demo-success", "not a url"], &key);
    assert_eq!(bad_url.status.code(), Some(2), "{}", describe(&bad_url));
    assert!(text(&bad_url.stderr).contains("CAMB_RESULT_INVALID_PARAMETER"));

    let usage = windows.run("task_status", &[], &key);
    assert_eq!(usage.status.code(), Some(2));
    assert!(
        text(&usage.stderr).starts_with("usage:"),
        "{}",
        describe(&usage)
    );

    // No key: the environment has none (Windows::run removes the developer's).
    let no_key = windows.run("task_status", &["demo-success", &url], &[]);
    assert_eq!(no_key.status.code(), Some(1), "{}", describe(&no_key));
    assert!(text(&no_key.stderr).contains("CAMB_RESULT_MISSING_API_KEY"));
}

#[test]
fn demo_example_turns_a_prompt_into_a_wav_file_under_wine() {
    if !enabled("demo_example_turns_a_prompt_into_a_wav_file_under_wine") {
        return;
    }
    let windows = windows();
    let emulator = emulator();
    let url = emulator.base_url();
    let env = [
        ("CAMB_API_KEY", DEFAULT_API_KEY),
        ("CAMB_BASE_URL", url.as_str()),
    ];
    let dir = scratch("demo");

    let out = dir.join("demo-test.wav");
    let output = windows.run(
        "demo",
        &[
            "--duration",
            "3",
            "--out",
            &windows_path(&out),
            "wind",
            "in",
            "pines",
        ],
        &env,
    );
    assert!(output.status.success(), "{}", describe(&output));
    let log = text(&output.stdout);
    assert!(log.contains(&format!("API: {url}\n")), "{log}");
    assert!(log.contains("created task "), "{log}");
    assert!(log.contains(": SUCCESS\n"), "{log}");
    let bytes = std::fs::read(&out).expect("the demo saved its file");
    assert!(
        log.contains(&format!(
            "to {} ({} bytes)\n",
            windows_path(&out),
            bytes.len()
        )),
        "{log}"
    );
    assert_eq!(parse_wav(&bytes), (1, 22_050, 16, 3 * 22_050));
    assert!(bytes == camb_emulator::wav::render("wind in pines", "sound", 3.0));
    std::fs::remove_file(&out).unwrap();

    // A task that fails: reported, and no file.
    let failed = windows.run(
        "demo",
        &["--out", &windows_path(&out), "glass [status:ERROR]"],
        &env,
    );
    assert_eq!(failed.status.code(), Some(1), "{}", describe(&failed));
    assert!(
        text(&failed.stderr).contains(
            "the task ended in ERROR (PROCESSING_ERROR): The audio model failed to render this prompt"
        ),
        "{}",
        describe(&failed)
    );

    // The download fails: no file, and no temporary file, is left in the directory.
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
    let broken = windows.run("demo", &["--out", &windows_path(&out), "glass"], &env);
    assert_eq!(broken.status.code(), Some(1), "{}", describe(&broken));
    assert!(
        text(&broken.stderr).contains("saving the audio failed: CAMB_RESULT_SERVER_ERROR"),
        "{}",
        describe(&broken)
    );
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "files were left behind: {left:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn poll_status_example_stops_on_every_final_status_under_wine() {
    if !enabled("poll_status_example_stops_on_every_final_status_under_wine") {
        return;
    }
    let windows = windows();
    let emulator = emulator();
    let url = emulator.base_url();
    let key = [("CAMB_API_KEY", DEFAULT_API_KEY)];

    let success = windows.run("poll_status", &["demo-success", &url, "0.05"], &key);
    assert!(success.status.success(), "{}", describe(&success));
    let log = text(&success.stdout);
    assert!(log.contains("Status: SUCCESS\n"), "{log}");
    assert!(log.contains("Run ID : 4242\n"), "{log}");
    assert!(
        log.contains(&format!("Audio URL : {url}/_emulator/files/4242.wav")),
        "{log}"
    );

    for (task, expected) in common::POLL_STATUS_ENDINGS {
        let output = windows.run("poll_status", &[task, &url, "0.05"], &key);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{task}: {}",
            describe(&output)
        );
        assert!(
            text(&output.stdout).contains(expected),
            "{task}: {}",
            describe(&output)
        );
    }

    let missing = windows.run("poll_status", &["no-such-task", &url, "0.05"], &key);
    assert_eq!(missing.status.code(), Some(1), "{}", describe(&missing));
    assert!(
        text(&missing.stderr).contains("CAMB_RESULT_NOT_FOUND"),
        "{}",
        describe(&missing)
    );
}

// ------------------------------------------------------------ the DLL itself

/// The names in the export table of `objdump -p` ("\t[   3] camb_cancel_token_cancel"
/// lines under "[Ordinal/Name Pointer] Table", up to the blank line after them).
fn dll_exports(dll: &Path) -> BTreeSet<String> {
    let dump = objdump(dll);
    let table = dump
        .split_once("[Ordinal/Name Pointer] Table")
        .unwrap_or_else(|| panic!("{} has no export table:\n{dump}", dll.display()))
        .1;
    table
        .lines()
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .map(|line| {
            let (_, name) = line
                .trim()
                .split_once(']')
                .unwrap_or_else(|| panic!("not an export line: {line:?}"));
            name.trim().to_owned()
        })
        .collect()
}

/// Text without its C comments (`/* */` and `//`); strings in camb.h hold neither.
fn without_comments(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, tail)| tail);
            out.push(' ');
        } else if let Some(after) = rest.strip_prefix("//") {
            rest = after.split_once('\n').map_or("", |(_, tail)| tail);
            out.push('\n');
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The functions include/camb.h declares for the library to define: every `camb_xxx(`
/// outside comments, before `#ifndef CAMB_H_DEFAULTS` (after it come the header's two
/// `static inline` helpers, which are not the library's). Whatever the header puts
/// before a name (a return type, an export macro), the name and its `(` are there.
fn header_functions() -> BTreeSet<String> {
    let header = std::fs::read_to_string(Path::new(MANIFEST_DIR).join("include/camb.h"))
        .expect("include/camb.h is readable");
    let declarations = header
        .split_once("#ifndef CAMB_H_DEFAULTS")
        .expect("camb.h has its CAMB_H_DEFAULTS block")
        .0;
    let code = without_comments(declarations);
    let bytes = code.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut names = BTreeSet::new();
    let mut at = 0;
    while let Some(found) = code[at..].find("camb_") {
        let start = at + found;
        let mut end = start;
        while end < bytes.len() && is_ident(bytes[end]) {
            end += 1;
        }
        let starts_a_word = start == 0 || !is_ident(bytes[start - 1]);
        let called = code[end..].trim_start().starts_with('(');
        if starts_a_word && called {
            names.insert(code[start..end].to_owned());
        }
        at = end.max(start + 1);
    }
    names
}

#[test]
fn the_dll_exports_exactly_the_functions_of_camb_h() {
    if !enabled("the_dll_exports_exactly_the_functions_of_camb_h") {
        return;
    }
    let windows = windows();
    let exported = dll_exports(&windows.dll);
    let declared = header_functions();
    assert!(
        declared.len() > 50
            && declared.contains("camb_version")
            && declared.contains("camb_queue_fd"),
        "include/camb.h did not parse: {declared:?}"
    );
    for helper in ["camb_create_options_default", "camb_wait_options_default"] {
        assert!(!declared.contains(helper), "{helper} is the header's own");
    }
    let missing: Vec<_> = declared.difference(&exported).collect();
    let extra: Vec<_> = exported.difference(&declared).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} does not export exactly camb.h's {} functions:\n  declared, not exported: {missing:?}\n  exported, not declared: {extra:?}",
        windows.dll.display(),
        declared.len()
    );

    // It ships alone: no MinGW runtime DLL (libgcc_s_seh-1.dll, libwinpthread-1.dll,
    // whose names start with "lib"; Windows' own never do) is needed beside it.
    let imports = dll_imports(&windows.dll);
    assert!(
        imports
            .iter()
            .any(|i| i.eq_ignore_ascii_case("KERNEL32.dll")),
        "{imports:?}"
    );
    let runtime: Vec<_> = imports
        .iter()
        .filter(|i| i.to_ascii_lowercase().starts_with("lib"))
        .collect();
    assert!(
        runtime.is_empty(),
        "{} needs MinGW runtime DLLs beside it: {runtime:?}",
        windows.dll.display()
    );
    note(&format!(
        "{} exports the {} functions of camb.h and imports {}",
        file_name(&windows.dll),
        exported.len(),
        imports.join(", ")
    ));
}

#[test]
fn windows_setup_does_nothing_when_all_is_present() {
    if !enabled("windows_setup_does_nothing_when_all_is_present") {
        return;
    }
    windows(); // ran it once already
    let started = Instant::now();
    let mut again = Command::new("bash");
    again.arg(Path::new(MANIFEST_DIR).join("scripts/windows-setup.sh"));
    let output = bounded(
        &mut again,
        Duration::from_secs(60),
        "scripts/windows-setup.sh",
    );
    assert!(output.status.success(), "{}", describe(&output));
    assert!(
        output.stdout.is_empty() && output.stderr.is_empty(),
        "scripts/windows-setup.sh did something with everything present\n{}",
        describe(&output)
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "scripts/windows-setup.sh took {} with everything present",
        seconds(started)
    );
}
