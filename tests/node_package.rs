//! Node.js, as a user meets it: the npm package `libcamb` (bindings/node) that
//! scripts/package-node.sh packs as dist/libcamb-VERSION.tgz, with the release
//! libcamb.so inside, is installed with `npm install <tarball>` into a fresh Node
//! project whose PATH has no Rust toolchain, and everything below runs there:
//! - the tarball's contents: package.json's fields, index.d.ts and the library;
//! - the package's own suite (bindings/node/test/camb.test.js, copied into the
//!   project and run with `node --test`): it `require`s `libcamb` from
//!   node_modules, loads the libcamb.so the package ships and checks both, against
//!   an in-process emulator;
//! - index.d.ts, for real: `tsc --noEmit --strict` over bindings/node/test/types.ts
//!   (the API as the README shows it, and misuses that must be refused) and over
//!   the README's snippet as checked JavaScript, with a pinned TypeScript;
//! - the README's Node snippet, unchanged, with the emulator given the way a user
//!   gives a server: `CAMB_API_KEY` and `CAMB_BASE_URL`.
//!
//! The tarball and the project are made once per run (tests run in parallel; the
//! Node runs take turns, as the suite measures timings). npm fetches koffi (the
//! package's one dependency, pinned) and TypeScript from the registry or its cache;
//! koffi's native part comes prebuilt inside its npm packages, so no compiler is
//! needed, and its install script is not allowed to run.

mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};

use camb_emulator::{Config, DEFAULT_API_KEY, Emulator};
use common::process::{describe, run_bounded, run_ok};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const VERSION: &str = env!("CARGO_PKG_VERSION");
const LICENSE: &str = env!("CARGO_PKG_LICENSE");
/// The koffi that bindings/node/package.json pins, exactly.
const KOFFI: &str = "3.3.4";
/// The TypeScript that checks index.d.ts, and Node's types for it, pinned exactly.
const TYPESCRIPT: &str = "7.0.2";
const TYPES_NODE: &str = "20.19.43";
/// The tests of bindings/node/test/camb.test.js: none may go missing unseen (the
/// nine operations as Promises and Sync calls, cancelling, the queue, the log and
/// its finalizer, the library it loads and CAMB_LIB, the environment, the types).
const SUITE_TESTS: u64 = 72;
/// The tarball's name, and what it must hold, exactly.
const TARBALL_FILES: [&str; 5] = [
    "package/README.md",
    "package/index.d.ts",
    "package/index.js",
    "package/native/linux-x64/libcamb.so",
    "package/package.json",
];

/// A release build of libcamb from nothing (or waiting for another build's lock).
const PACKAGE_TIMEOUT: Duration = Duration::from_secs(900);
/// A few seconds with a warm cache; this only stops a hung registry connection.
const NPM_TIMEOUT: Duration = Duration::from_secs(300);
/// The suite takes several seconds (its async tests hold replies for a few hundred ms).
const SUITE_TIMEOUT: Duration = Duration::from_secs(180);
const TSC_TIMEOUT: Duration = Duration::from_secs(120);
const SNIPPET_TIMEOUT: Duration = Duration::from_secs(60);

fn root() -> &'static Path {
    Path::new(MANIFEST_DIR)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json_file(path: &Path) -> serde_json::Value {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Whether node and npm are here; if not, SKIP (a failure under CI).
fn node_present(test: &str) -> bool {
    for program in ["node", "npm"] {
        if !common::tool_available(program) {
            common::skip_without_tool(
                program,
                test,
                "the system's packages (Node.js 18 or later with npm; Node.js 20 is tested)",
            );
            return false;
        }
    }
    true
}

/// The Node runs take turns: the suite measures timings, and the machine is shared.
fn turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A Node command in the project: PATH without Rust, none of the developer's
/// settings that would change what is tested (a key, a server, a library, Node
/// options), nor the loader path `cargo test` gives its tests.
fn node_command(program: &str, project: &Project) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(&project.dir)
        .env("PATH", &project.path)
        .env("npm_config_update_notifier", "false")
        .env("npm_config_fund", "false")
        .env("npm_config_audit", "false");
    for name in [
        "CAMB_LIB",
        "CAMB_API_KEY",
        "CAMB_BASE_URL",
        "CAMB_LOG",
        "NODE_OPTIONS",
        "NODE_PATH",
        "LD_LIBRARY_PATH",
        "CARGO",
        "RUSTC",
        "RUSTUP_TOOLCHAIN",
    ] {
        command.env_remove(name);
    }
    command
}

/// dist/libcamb-VERSION.tgz, made by scripts/package-node.sh once per run.
fn tarball() -> &'static Path {
    static TARBALL: OnceLock<PathBuf> = OnceLock::new();
    TARBALL.get_or_init(|| {
        let output = run_ok(
            Command::new(root().join("scripts/package-node.sh")).current_dir(root()),
            "scripts/package-node.sh",
            PACKAGE_TIMEOUT,
        );
        let printed = text(&output.stdout);
        let last = printed.lines().last().unwrap_or_default().trim();
        let tarball = root().join(last);
        assert_eq!(
            tarball,
            root().join(format!("dist/libcamb-{VERSION}.tgz")),
            "scripts/package-node.sh made {last}\n{}",
            describe(&output)
        );
        assert!(tarball.is_file(), "{} is missing", tarball.display());
        tarball
    })
}

/// The README's Node snippet: the block between the node-snippet markers.
fn readme_snippet() -> String {
    let code = common::readme_block("node-snippet");
    assert!(code.contains("require('libcamb')"), "{code}");
    code
}

/// A folder of this run under the test's temporary directory, named with the
/// process id: `name-PID`. Those of earlier runs (whose process is gone) are
/// removed first; a run going on at the same time keeps its own.
fn scratch(name: &str) -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let prefix = format!("{name}-");
    for entry in std::fs::read_dir(tmp).into_iter().flatten().flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let dir = tmp.join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot make {}: {e}", dir.display()));
    dir
}

/// A fresh Node project with the tarball installed by npm, as a user installs it,
/// the package's tests copied in, and the README's snippet as readme.js.
struct Project {
    dir: PathBuf,
    /// The PATH its commands run with (no Rust toolchain on it).
    path: OsString,
}

fn project() -> &'static Project {
    static PROJECT: OnceLock<Project> = OnceLock::new();
    PROJECT.get_or_init(|| {
        let tarball = tarball();
        let dir = scratch("node-package");
        std::fs::create_dir_all(dir.join("test")).expect("the project's folder is made");
        let manifest = serde_json::json!({
            "name": "libcamb-user",
            "version": "1.0.0",
            "private": true,
            "devDependencies": { "typescript": TYPESCRIPT, "@types/node": TYPES_NODE },
            // koffi's native part is prebuilt in @koromix/koffi-linux-x64: its install
            // script is not needed (npm 12 runs none unless allowed).
            "allowScripts": { "koffi": false },
        });
        std::fs::write(
            dir.join("package.json"),
            serde_json::to_string_pretty(&manifest).unwrap(),
        )
        .unwrap();
        // The package's tests, kept with it but not shipped in it.
        for file in ["camb.test.js", "types.ts"] {
            std::fs::copy(
                root().join("bindings/node/test").join(file),
                dir.join("test").join(file),
            )
            .unwrap_or_else(|e| panic!("cannot copy bindings/node/test/{file}: {e}"));
        }
        std::fs::write(dir.join("readme.js"), readme_snippet()).unwrap();
        let speech = common::readme_block("node-speech-snippet");
        std::fs::write(dir.join("readme-speech.js"), speech).unwrap();

        let project = Project {
            dir,
            path: common::process::path_without_rust(),
        };
        let _turn = turn();
        // The README's install line, as written, with dist/ beside the project.
        std::os::unix::fs::symlink(
            tarball.parent().expect("the tarball is in dist/"),
            project.dir.join("dist"),
        )
        .expect("dist/ is linked into the project");
        let install = common::readme_block("node-install");
        assert!(
            install.contains(&format!("./dist/libcamb-{VERSION}.tgz")),
            "the README installs this version's tarball: {install}"
        );
        let mut npm = node_command("bash", &project);
        npm.args(["-euo", "pipefail", "-c", &install]);
        run_ok(&mut npm, "the README's npm install", NPM_TIMEOUT);

        let modules = project.dir.join("node_modules");
        let installed = json_file(&modules.join("libcamb/package.json"));
        assert_eq!(installed["version"], VERSION);
        assert_eq!(
            json_file(&modules.join("koffi/package.json"))["version"],
            KOFFI,
            "the pinned koffi"
        );
        assert!(
            modules
                .join("libcamb/native/linux-x64/libcamb.so")
                .is_file(),
            "the installed package has its libcamb.so"
        );
        assert!(
            !modules.join("libcamb/test").exists(),
            "the package's tests are not shipped"
        );
        project
    })
}

/// The number after `# NAME ` in TAP's closing summary.
fn summary_count(tap: &str, name: &str) -> Option<u64> {
    let prefix = format!("# {name} ");
    tap.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|n| n.trim().parse().ok())
}

#[test]
fn tarball_ships_the_library_its_types_and_says_what_it_is() {
    if !node_present("tarball_ships_the_library_its_types_and_says_what_it_is") {
        return;
    }
    let tarball = tarball();
    assert_eq!(
        tarball.file_name().unwrap().to_string_lossy(),
        format!("libcamb-{VERSION}.tgz")
    );
    // The source's version is Cargo.toml's: the package is versioned as its library.
    let source = json_file(&root().join("bindings/node/package.json"));
    assert_eq!(source["version"], VERSION, "bindings/node/package.json");

    let listed = run_ok(
        Command::new("tar").arg("-tzf").arg(tarball),
        "tar -tzf",
        Duration::from_secs(60),
    );
    let mut files: Vec<String> = text(&listed.stdout)
        .lines()
        .filter(|l| !l.ends_with('/'))
        .map(str::to_owned)
        .collect();
    files.sort();
    assert_eq!(files, TARBALL_FILES, "what the tarball holds");

    let unpacked = scratch("node-tarball");
    run_ok(
        Command::new("tar")
            .arg("-xzf")
            .arg(tarball)
            .arg("-C")
            .arg(&unpacked),
        "tar -xzf",
        Duration::from_secs(60),
    );
    let package = unpacked.join("package");
    let manifest = json_file(&package.join("package.json"));
    assert_eq!(manifest["name"], "libcamb");
    assert_eq!(manifest["version"], VERSION, "Cargo.toml's version");
    assert!(
        manifest
            .get("private")
            .is_none_or(|p| p.as_bool() == Some(false)),
        "the package is not private: {manifest}"
    );
    assert!(
        manifest["description"]
            .as_str()
            .is_some_and(|d| d.len() > 20),
        "a description: {manifest}"
    );
    assert_eq!(manifest["license"], LICENSE, "Cargo.toml's license");
    assert_eq!(manifest["main"], "index.js");
    assert_eq!(manifest["types"], "index.d.ts");
    assert_eq!(manifest["engines"]["node"], ">=18");
    assert_eq!(manifest["os"], serde_json::json!(["linux"]));
    assert_eq!(manifest["cpu"], serde_json::json!(["x64"]));
    assert_eq!(
        manifest["dependencies"],
        serde_json::json!({ "koffi": KOFFI }),
        "koffi pinned to an exact version"
    );
    let shipped: Vec<String> = manifest["files"]
        .as_array()
        .expect("package.json lists its files")
        .iter()
        .map(|f| format!("package/{}", f.as_str().expect("a file name")))
        .collect();
    for file in &shipped {
        assert!(files.contains(file), "{file} is listed but not packed");
    }
    assert!(
        !shipped.iter().any(|f| f.contains("test")),
        "the tests are not shipped: {shipped:?}"
    );
    let types = std::fs::read_to_string(package.join("index.d.ts")).unwrap();
    assert!(types.contains("export declare class Client"), "index.d.ts");

    // The release library, for the platform package.json names: an x86-64 ELF
    // shared object, the very file the script copied in.
    let library = std::fs::read(package.join("native/linux-x64/libcamb.so")).unwrap();
    assert_eq!(&library[..4], b"\x7fELF", "an ELF file");
    assert_eq!(library[4], 2, "64-bit");
    assert_eq!(u16::from_le_bytes([library[16], library[17]]), 3, "ET_DYN");
    assert_eq!(
        u16::from_le_bytes([library[18], library[19]]),
        62,
        "EM_X86_64, as cpu says"
    );
    let copied = std::fs::read(root().join("bindings/node/native/linux-x64/libcamb.so"))
        .expect("scripts/package-node.sh copied libcamb.so into bindings/node");
    assert!(
        library == copied,
        "the tarball holds the library the script copied"
    );
    eprintln!(
        "{}: {} bytes, {files:?}; libcamb.so {} bytes",
        tarball.display(),
        std::fs::metadata(tarball).unwrap().len(),
        library.len()
    );
    let _ = std::fs::remove_dir_all(&unpacked);
}

#[test]
fn package_script_does_nothing_when_nothing_changed() {
    if !node_present("package_script_does_nothing_when_nothing_changed") {
        return;
    }
    let tarball = tarball();
    let copy = root().join("bindings/node/native/linux-x64/libcamb.so");
    let modified =
        |path: &Path| -> SystemTime { std::fs::metadata(path).unwrap().modified().unwrap() };
    let (tarball_before, copy_before) = (modified(tarball), modified(&copy));
    let bytes_before = std::fs::read(&copy).unwrap();
    let _turn = turn();
    let output = run_ok(
        Command::new(root().join("scripts/package-node.sh")).current_dir(root()),
        "scripts/package-node.sh, again",
        PACKAGE_TIMEOUT,
    );
    // Another person's change to the sources may have rebuilt a different library
    // meanwhile: then the script rightly copies and packs again.
    if std::fs::read(&copy).unwrap() != bytes_before {
        eprintln!("libcamb.so changed between the runs: not checked");
        return;
    }
    assert_eq!(modified(&copy), copy_before, "the library was copied again");
    assert_eq!(
        modified(tarball),
        tarball_before,
        "the tarball was packed again\n{}",
        describe(&output)
    );
    assert!(
        text(&output.stderr).contains("is up to date"),
        "{}",
        describe(&output)
    );
}

#[test]
fn installed_package_passes_its_suite() {
    if !node_present("installed_package_passes_its_suite") {
        return;
    }
    let project = project();
    let emulator = Emulator::start(Config {
        pending_ms: 0,
        ..Config::default()
    })
    .expect("the emulator starts");
    let _turn = turn();
    let mut node = node_command("node", project);
    node.args(["--test", "--test-reporter=tap", "test/camb.test.js"])
        .env("CAMB_TEST_BASE_URL", emulator.base_url())
        .env("CAMB_TEST_API_KEY", DEFAULT_API_KEY)
        .env("CAMB_TEST_HEADER", root().join("include/camb.h"))
        // The suite checks that it runs the installed package, with the library it ships.
        .env("CAMB_TEST_INSTALLED", "1");
    let output = match run_bounded(&mut node, SUITE_TIMEOUT) {
        Ok(Some(output)) => output,
        Ok(None) => panic!(
            "node --test test/camb.test.js did not finish within {} s and was killed",
            SUITE_TIMEOUT.as_secs()
        ),
        Err(e) => panic!("cannot run node: {e}"),
    };
    let tap = text(&output.stdout);
    let report = describe(&output);
    assert!(
        output.status.success(),
        "node --test test/camb.test.js failed ({}) in {}\n{report}",
        output.status,
        project.dir.display()
    );
    let passed = summary_count(&tap, "pass");
    assert!(
        passed.is_some_and(|n| n >= SUITE_TESTS),
        "expected {SUITE_TESTS} tests to pass, got {passed:?}\n{report}"
    );
    assert_eq!(summary_count(&tap, "fail"), Some(0), "{report}");
    assert_eq!(summary_count(&tap, "cancelled"), Some(0), "{report}");
    assert_eq!(summary_count(&tap, "skipped"), Some(0), "{report}");
    // Shown with `--nocapture`.
    eprintln!("{tap}");
}

#[test]
fn index_d_ts_passes_tsc_strict() {
    if !node_present("index_d_ts_passes_tsc_strict") {
        return;
    }
    let project = project();
    let _turn = turn();
    let mut tsc = node_command("node", project);
    tsc.arg(project.dir.join("node_modules/typescript/bin/tsc"))
        .args([
            "--noEmit",
            "--strict",
            "--target",
            "es2022",
            "--module",
            "nodenext",
            "--moduleResolution",
            "nodenext",
            "--types",
            "node",
            // The README's snippet too, as JavaScript checked against index.d.ts.
            "--allowJs",
            "--checkJs",
            "test/types.ts",
            "readme.js",
        ]);
    let output = run_ok(&mut tsc, "tsc --noEmit --strict", TSC_TIMEOUT);
    eprintln!(
        "tsc {TYPESCRIPT}: index.d.ts checked\n{}",
        describe(&output)
    );
}

/// Runs the README block the project holds as `NAME.js`, unchanged, in a
/// folder of its own (so that what it writes is all there), with the emulator
/// given as a user gives it: libcamb reads both variables. Its output and that
/// folder.
fn run_readme_script(name: &str, emulator: &Emulator) -> (Output, PathBuf) {
    let project = project();
    let run_dir = project.dir.join(format!("{name}-run"));
    let _ = std::fs::remove_dir_all(&run_dir);
    std::fs::create_dir_all(&run_dir).unwrap();
    let _turn = turn();
    let mut node = node_command("node", project);
    node.arg(project.dir.join(format!("{name}.js")))
        .current_dir(&run_dir)
        .env("CAMB_API_KEY", DEFAULT_API_KEY)
        .env("CAMB_BASE_URL", emulator.base_url());
    let output = run_ok(
        &mut node,
        &format!("the README's {name}.js"),
        SNIPPET_TIMEOUT,
    );
    (output, run_dir)
}

#[test]
fn readme_snippet_runs_against_the_emulator() {
    if !node_present("readme_snippet_runs_against_the_emulator") {
        return;
    }
    let emulator = Emulator::start(Config {
        pending_ms: 0,
        ..Config::default()
    })
    .expect("the emulator starts");
    let (output, run_dir) = run_readme_script("readme", &emulator);
    let report = describe(&output);

    let wavs: Vec<PathBuf> = std::fs::read_dir(&run_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "wav"))
        .collect();
    assert_eq!(wavs.len(), 1, "one WAV file written: {wavs:?}\n{report}");
    let bytes = std::fs::read(&wavs[0]).unwrap();
    assert_eq!(&bytes[0..4], b"RIFF", "{report}");
    assert_eq!(&bytes[8..12], b"WAVE", "{report}");
    let (channels, _, _, frames) = common::parse_wav(&bytes);
    assert!(channels >= 1 && frames > 0);

    // What it asked the emulator: one task made, its audio, and the statuses
    // (one, the generation's polls, and the 20 gathered at once).
    let requests = emulator.stats().requests;
    let count = |method: &str, prefix: &str| {
        requests
            .iter()
            .filter(|r| r.method == method && r.path.starts_with(prefix))
            .count()
    };
    let created = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/text-to-sound")
        .count();
    assert_eq!(created, 1, "{report}");
    assert!(count("GET", "/text-to-sound-result/") >= 1, "{report}");
    assert!(count("GET", "/text-to-sound/") >= 22, "{report}");
    eprintln!("{report}");
}

/// The README's speech snippet, unchanged, against the emulator: it lists the
/// voices, streams raw PCM to a file and saves a WAV whose sizes are right.
#[test]
fn readme_speech_snippet_runs_against_the_emulator() {
    if !node_present("readme_speech_snippet_runs_against_the_emulator") {
        return;
    }
    let emulator = Emulator::start(Config {
        pending_ms: 0,
        tts_pace: 0.0,
        ..Config::default()
    })
    .expect("the emulator starts");
    let (output, run_dir) = run_readme_script("readme-speech", &emulator);
    let report = describe(&output);
    let pcm = std::fs::read(run_dir.join("hello.pcm")).unwrap();
    assert!(!pcm.is_empty() && pcm.len() % 2 == 0, "{report}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("hello.pcm: {} bytes at 22050 Hz", pcm.len())),
        "{report}"
    );
    let wav = std::fs::read(run_dir.join("hello.wav")).unwrap();
    let (channels, rate, _, frames) = common::parse_wav(&wav);
    assert_eq!((channels, rate), (1, 22_050), "{report}");
    assert_eq!(
        frames as usize * 2 + 44,
        wav.len(),
        "the header's sizes are the file's"
    );
    let streams = emulator.stats().tts_streams;
    assert_eq!(streams.len(), 2, "{streams:?}");
}
