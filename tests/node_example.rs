//! Node.js: examples/node/camb.js (libcamb through the koffi FFI package) and its
//! tests (examples/node/test.js, node's built-in runner) against an in-process
//! emulator. koffi is pinned in examples/node/package.json and package-lock.json
//! and installed here with `npm ci` when examples/node/node_modules lacks it
//! (node_modules is not committed); koffi ships its native part prebuilt inside
//! the npm packages, so no compiler is needed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use camb_emulator::{Config, DEFAULT_API_KEY, Emulator};

/// `npm ci` takes a few seconds with a warm cache; this only stops a hung
/// registry connection from hanging `cargo test`.
const NPM_TIMEOUT: Duration = Duration::from_secs(300);
/// The suite takes a few seconds (its async tests hold replies for a few hundred ms).
const NODE_TIMEOUT: Duration = Duration::from_secs(120);

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/node")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json_file(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Installs the pinned koffi unless node_modules already holds that version.
fn install_dependencies(dir: &Path) {
    let pinned = json_file(&dir.join("package.json"))
        .and_then(|p| p["dependencies"]["koffi"].as_str().map(str::to_owned))
        .expect("examples/node/package.json pins koffi");
    let installed = json_file(&dir.join("node_modules/koffi/package.json"))
        .and_then(|p| p["version"].as_str().map(str::to_owned));
    if installed.as_deref() == Some(pinned.as_str()) {
        return;
    }
    let mut npm = Command::new("npm");
    npm.args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .env("npm_config_update_notifier", "false");
    let started = Instant::now();
    let output = match common::process::run_bounded(&mut npm, NPM_TIMEOUT) {
        Ok(Some(output)) => output,
        Ok(None) => panic!(
            "`npm ci` in {} did not finish within {} s (is the npm registry reachable?)",
            dir.display(),
            NPM_TIMEOUT.as_secs()
        ),
        Err(e) => panic!("cannot run npm (are Node.js and npm installed and on PATH?): {e}"),
    };
    assert!(
        output.status.success(),
        "`npm ci` in {} failed ({}), so koffi {pinned} could not be installed:\n{}{}",
        dir.display(),
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    eprintln!(
        "npm ci installed koffi {pinned} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The number after `# NAME ` in TAP's closing summary.
fn summary_count(tap: &str, name: &str) -> Option<u64> {
    let prefix = format!("# {name} ");
    tap.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|n| n.trim().parse().ok())
}

#[test]
fn node_koffi_suite_passes() {
    let dir = node_dir();
    let library = common::lib_path();
    install_dependencies(&dir);

    let emulator = Emulator::start(Config {
        pending_ms: 0,
        ..Config::default()
    })
    .expect("the emulator starts");
    let mut node = Command::new("node");
    node.args(["--test", "--test-reporter=tap", "test.js"])
        .current_dir(&dir)
        .env("CAMB_LIB", &library)
        .env("CAMB_TEST_BASE_URL", emulator.base_url())
        .env("CAMB_TEST_API_KEY", DEFAULT_API_KEY)
        // The suite checks what happens without a key in the environment; a
        // developer's real key must neither change that nor reach the emulator.
        .env_remove("CAMB_API_KEY");
    let output = match common::process::run_bounded(&mut node, NODE_TIMEOUT) {
        Ok(Some(output)) => output,
        Ok(None) => panic!(
            "node --test test.js did not finish within {} s and was killed",
            NODE_TIMEOUT.as_secs()
        ),
        Err(e) => panic!("cannot run node (is Node.js installed and on PATH?): {e}"),
    };
    let tap = text(&output.stdout);
    let report = format!(
        "--- stdout ---\n{tap}--- stderr ---\n{}",
        text(&output.stderr)
    );
    assert!(
        output.status.success(),
        "node --test test.js failed ({})\n{report}",
        output.status
    );
    let passed = summary_count(&tap, "pass");
    assert!(
        // 52 tests in test.js (the nine operations as Promises and Sync calls, cancelling,
        // the queue, the log and its finalizer): none may go missing unseen.
        passed.is_some_and(|n| n >= 52),
        "expected the suite's tests to pass, got {passed:?}\n{report}"
    );
    assert_eq!(summary_count(&tap, "fail"), Some(0), "{report}");
    assert_eq!(summary_count(&tap, "cancelled"), Some(0), "{report}");
    // Shown with `--nocapture`.
    eprintln!("{tap}");
}
