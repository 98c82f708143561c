//! Python, as a user meets it: the wheel that scripts/package-python.sh builds
//! (maturin, bindings/python) is installed into a fresh virtualenv whose PATH has
//! no Rust toolchain, and everything below runs there, against an in-process
//! emulator:
//! - bindings/python/tests: the package `libcamb` (exceptions per result code, the
//!   workflow, threads, cancelling, asyncio through the queue, the log function);
//!   the suite checks that it imported the installed package, not the sources;
//! - tests/python/test_ctypes.py: the C ABI through raw ctypes, from a caller that
//!   has only camb.h to go on, calling the libcamb.so the wheel installed;
//! - the README's Python snippet, unchanged, with the emulator given the way a
//!   user gives a server: `CAMB_API_KEY` and `CAMB_BASE_URL`.
//!
//! The wheel and the virtualenv are made once per run (tests run in parallel), the
//! virtualenv by the README's own install lines. pip fetches cffi, the package's one
//! dependency, from PyPI (or pip's cache).

mod common;

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use camb_emulator::{Config, DEFAULT_API_KEY, Emulator};
use common::process::{assert_python_suite_passes, describe, path_without_rust, run_ok};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const VERSION: &str = env!("CARGO_PKG_VERSION");
/// A suite takes a few seconds; this only stops a hang from hanging `cargo test`.
const SUITE_TIMEOUT: Duration = Duration::from_secs(180);
/// A release build of libcamb from nothing, or a slow package index.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// dist/libcamb-VERSION-py3-none-PLATFORM.whl, built once per run.
fn wheel() -> &'static Path {
    static WHEEL: OnceLock<PathBuf> = OnceLock::new();
    WHEEL.get_or_init(|| {
        let root = Path::new(MANIFEST_DIR);
        run_ok(
            Command::new(root.join("scripts/package-python.sh")).current_dir(root),
            "scripts/package-python.sh",
            BUILD_TIMEOUT,
        );
        let prefix = format!("libcamb-{VERSION}-py3-none-");
        let wheels: Vec<PathBuf> = std::fs::read_dir(root.join("dist"))
            .expect("scripts/package-python.sh made dist/")
            .map(|entry| entry.expect("dist/ lists").path())
            .filter(|path| {
                path.file_name()
                    .and_then(OsStr::to_str)
                    .is_some_and(|name| name.starts_with(&prefix) && name.ends_with(".whl"))
            })
            .collect();
        assert_eq!(
            wheels.len(),
            1,
            "one wheel for {VERSION} in dist/: {wheels:?}"
        );
        wheels.into_iter().next().unwrap()
    })
}

/// A fresh virtualenv with the wheel installed by pip, as a user installs it:
/// its python, and the PATH it runs with (no Rust toolchain on it).
struct Venv {
    python: PathBuf,
    path: OsString,
    /// Where the wheel put libcamb.so.
    library: PathBuf,
}

fn venv() -> &'static Venv {
    static VENV: OnceLock<Venv> = OnceLock::new();
    VENV.get_or_init(|| {
        let wheel = wheel();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-user");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the user's directory is made");
        // The README's install lines, as written, with dist/ beside them.
        std::os::unix::fs::symlink(wheel.parent().expect("in dist/"), dir.join("dist"))
            .expect("dist/ is linked");
        let install = common::readme_block("python-install");
        let path = path_without_rust();
        run_ok(
            Command::new("bash")
                .args(["-euo", "pipefail", "-c", &install])
                .current_dir(&dir)
                .env("PATH", &path)
                .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
                .env_remove("PYTHONPATH")
                .env_remove("VIRTUAL_ENV"),
            "the README's pip install",
            BUILD_TIMEOUT,
        );
        let bin = dir.join(".venv/bin");
        let mut venv_path = OsString::from(&bin);
        venv_path.push(":");
        venv_path.push(&path);
        let python = bin.join("python");
        let located = run_ok(
            Command::new(&python)
                .args([
                    "-c",
                    "import libcamb.camb as c, os; print(os.path.dirname(c.__file__))",
                ])
                .current_dir(&dir)
                .env("PATH", &venv_path)
                .env_remove("PYTHONPATH"),
            "import libcamb.camb",
            SUITE_TIMEOUT,
        );
        let package = PathBuf::from(text(&located.stdout).trim());
        assert!(
            package.starts_with(dir.join(".venv")),
            "libcamb was imported from {} rather than the virtualenv",
            package.display()
        );
        Venv {
            python,
            path: venv_path,
            library: package.join("libcamb.so"),
        }
    })
}

fn emulator() -> Emulator {
    Emulator::start(Config {
        pending_ms: 0,
        ..Config::default()
    })
    .expect("the emulator starts")
}

/// The wheel is what pip users expect: the library and its declarations in the
/// package, typed, named and versioned as the crate, cffi as its dependency.
#[test]
fn the_wheel_carries_the_library_its_declarations_and_types() {
    let listing = run_ok(
        Command::new("python3")
            .args(["-m", "zipfile", "-l"])
            .arg(wheel()),
        "python3 -m zipfile -l",
        SUITE_TIMEOUT,
    );
    let listing = text(&listing.stdout);
    for file in [
        "libcamb/__init__.py",
        "libcamb/py.typed",
        "libcamb/camb/__init__.py",
        "libcamb/camb/ffi.py",
        "libcamb/camb/libcamb.so",
        &format!("libcamb-{VERSION}.dist-info/METADATA"),
    ] {
        assert!(
            listing
                .lines()
                .any(|line| line.starts_with(&format!("{file} "))),
            "the wheel has no {file}:\n{listing}"
        );
    }
    let metadata = run_ok(
        Command::new("python3")
            .arg("-c")
            .arg(format!(
                "import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1])\
                 .read('libcamb-{VERSION}.dist-info/METADATA').decode())"
            ))
            .arg(wheel()),
        "reading the wheel's METADATA",
        SUITE_TIMEOUT,
    );
    let metadata = text(&metadata.stdout);
    for line in [
        "Name: libcamb".to_owned(),
        format!("Version: {VERSION}"),
        "Requires-Dist: cffi".to_owned(),
    ] {
        assert!(
            metadata.lines().any(|l| l.starts_with(&line)),
            "METADATA lacks {line:?}:\n{metadata}"
        );
    }
}

/// The declarations cffi generated at build time are camb.h's: every function
/// the header declares is on `lib`, and nothing else is.
#[test]
fn the_declarations_are_generated_from_camb_h() {
    let venv = venv();
    let header = std::fs::read_to_string(Path::new(MANIFEST_DIR).join("include/camb.h"))
        .expect("include/camb.h reads");
    let library_part = header.split("#ifndef CAMB_H_DEFAULTS").next().unwrap();
    let mut declared: Vec<&str> = library_part
        .lines()
        .filter(|line| !line.trim_start().starts_with('*') && !line.contains("/*"))
        .flat_map(|line| line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|word| word.starts_with("camb_"))
        .collect();
    declared.sort_unstable();
    declared.dedup();
    let functions = run_ok(
        Command::new(&venv.python)
            .args([
                "-c",
                "import libcamb.camb as c\n\
                 for n in sorted(dir(c.lib)):\n    print(n)",
            ])
            .env("PATH", &venv.path),
        "listing libcamb.camb.lib",
        SUITE_TIMEOUT,
    );
    let on_lib: Vec<String> = text(&functions.stdout)
        .lines()
        .filter(|name| name.starts_with("camb_"))
        .map(str::to_owned)
        .collect();
    assert!(on_lib.len() > 60, "too few functions on lib: {on_lib:?}");
    for name in &on_lib {
        assert!(
            declared.contains(&name.as_str()),
            "lib has {name}, which camb.h does not declare"
        );
    }
    let prototypes: Vec<&str> = declared
        .iter()
        .copied()
        .filter(|name| library_part.contains(&format!("{name}(")))
        .collect();
    for name in prototypes {
        assert!(
            on_lib.iter().any(|n| n == name),
            "camb.h declares {name}(), which the generated declarations lack"
        );
    }
}

#[test]
fn the_package_suite_passes_against_the_installed_wheel() {
    let venv = venv();
    let emulator = emulator();
    let tests = Path::new(MANIFEST_DIR).join("bindings/python/tests");
    // Run from a directory outside the sources, so that only the installed
    // package can be imported.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-package-suite");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the suite's directory is made");
    assert_python_suite_passes(
        &venv.python,
        &[
            OsStr::new("-m"),
            OsStr::new("unittest"),
            OsStr::new("discover"),
            OsStr::new("-s"),
            tests.as_os_str(),
            OsStr::new("-t"),
            tests.as_os_str(),
        ],
        &dir,
        &[
            ("PATH", venv.path.clone()),
            ("CAMB_TEST_BASE_URL", emulator.base_url().into()),
            ("CAMB_TEST_API_KEY", DEFAULT_API_KEY.into()),
        ],
        SUITE_TIMEOUT,
    );
}

#[test]
fn the_ctypes_abi_suite_passes_against_the_installed_library() {
    let venv = venv();
    let emulator = emulator();
    let root = Path::new(MANIFEST_DIR);
    assert_python_suite_passes(
        &venv.python,
        &[root.join("tests/python/test_ctypes.py").as_os_str()],
        root,
        &[
            ("PATH", venv.path.clone()),
            ("CAMB_LIB", venv.library.clone().into_os_string()),
            ("CAMB_TEST_BASE_URL", emulator.base_url().into()),
            ("CAMB_TEST_API_KEY", DEFAULT_API_KEY.into()),
            ("CAMB_HEADER", root.join("include/camb.h").into_os_string()),
            ("CAMB_CARGO_TOML", root.join("Cargo.toml").into_os_string()),
        ],
        SUITE_TIMEOUT,
    );
}

/// The README's Python snippet, run unchanged in a fresh directory of the
/// virtualenv, with the emulator's URL and key in the environment.
#[test]
fn the_readme_python_snippet_runs_as_written() {
    let venv = venv();
    let emulator = emulator();
    let snippet = common::readme_block("python-snippet");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-readme");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the snippet's directory is made");
    std::fs::write(dir.join("snippet.py"), &snippet).expect("snippet.py is written");
    let output = run_ok(
        Command::new(&venv.python)
            .arg("snippet.py")
            .current_dir(&dir)
            .env("PATH", &venv.path)
            .env("CAMB_API_KEY", DEFAULT_API_KEY)
            .env("CAMB_BASE_URL", emulator.base_url())
            .env_remove("CAMB_LIB")
            .env_remove("PYTHONPATH"),
        "the README's Python snippet",
        SUITE_TIMEOUT,
    );
    eprintln!("{}", describe(&output));
    let wavs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the directory lists")
        .map(|entry| entry.expect("lists").path())
        .filter(|path| path.extension() == Some(OsStr::new("wav")))
        .collect();
    assert_eq!(wavs.len(), 1, "the snippet saves one WAV file: {wavs:?}");
    let wav = std::fs::read(&wavs[0]).expect("the WAV reads");
    let (channels, rate, _, data) = common::parse_wav(&wav);
    assert!(
        channels >= 1 && rate > 0 && data > 0,
        "{wavs:?} is a WAV with audio"
    );
    // A status, the generation, and 20 statuses gathered concurrently.
    let stats = emulator.stats();
    let statuses = stats
        .requests
        .iter()
        .filter(|r| r.path.starts_with("/text-to-sound/"))
        .count();
    assert!(statuses >= 21, "the snippet asked for {statuses} statuses");
    assert!(
        stats.requests.iter().any(|r| r.method == "POST"),
        "the snippet created a task"
    );
}
