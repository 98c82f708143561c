//! CAMB's official Python SDK (camb-sdk 1.6.6) against the emulator's streaming
//! text-to-speech, voices and languages: tests/sdk/tts_fidelity.py streams WAV, PCM and
//! FLAC, provokes a 422 and a 429, and lists voices and languages through the SDK's own
//! calls, so the emulator's wire format is checked by the client it imitates the server
//! for, not only by tests written against it.
//!
//! bench/setup_sdk.sh installs the SDK into a venv under the target directory (once; it
//! needs PyPI the first time). Without it the test is skipped, except under CI, where
//! that is a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use camb_emulator::{Config, DEFAULT_API_KEY, Emulator};
use common::process::{describe, run_bounded, without_cargo_test_env};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
/// A first install downloads the SDK and its dependencies from PyPI.
const SETUP_TIMEOUT: Duration = Duration::from_secs(900);
/// The script takes about a second; this only stops a hang from hanging `cargo test`.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// The SDK venv's python, or `None` (with the reason on stderr) if it cannot be set up.
fn sdk_python() -> Option<PathBuf> {
    let root = Path::new(MANIFEST_DIR);
    let mut command = Command::new(root.join("bench/setup_sdk.sh"));
    command.current_dir(root);
    without_cargo_test_env(&mut command);
    match run_bounded(&mut command, SETUP_TIMEOUT) {
        Ok(Some(output)) if output.status.success() => {
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            let python = stdout.lines().last().map(str::trim).map(PathBuf::from);
            if python.as_ref().is_none_or(|p| !p.is_file()) {
                eprintln!("bench/setup_sdk.sh named no python\n{}", describe(&output));
                return None;
            }
            python
        }
        Ok(Some(output)) => {
            eprintln!(
                "bench/setup_sdk.sh failed ({})\n{}",
                output.status,
                describe(&output)
            );
            None
        }
        Ok(None) => {
            eprintln!(
                "bench/setup_sdk.sh did not finish within {} s",
                SETUP_TIMEOUT.as_secs()
            );
            None
        }
        Err(e) => {
            eprintln!("cannot run bench/setup_sdk.sh: {e}");
            None
        }
    }
}

#[test]
fn the_official_python_sdk_accepts_the_emulated_tts() {
    let test = "sdk_fidelity::the_official_python_sdk_accepts_the_emulated_tts";
    let Some(python) = sdk_python() else {
        common::skip_without_tool("camb-sdk 1.6.6", test, "bench/setup_sdk.sh");
        return;
    };
    // Streams as fast as the SDK reads them: the script checks content, not timing.
    let emulator = Emulator::start(Config {
        tts_pace: 0.0,
        tts_first_chunk_ms: 5,
        ..Config::default()
    })
    .expect("the emulator starts on 127.0.0.1");
    let mut command = Command::new(&python);
    command
        .arg(Path::new(MANIFEST_DIR).join("tests/sdk/tts_fidelity.py"))
        .arg(emulator.base_url())
        .arg(DEFAULT_API_KEY)
        // A developer's settings must neither change the run nor reach the emulator.
        .env_remove("CAMB_API_KEY")
        .env_remove("CAMB_BASE_URL")
        .env_remove("PYTHONPATH")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let output = run_bounded(&mut command, SCRIPT_TIMEOUT)
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()))
        .unwrap_or_else(|| {
            panic!(
                "tts_fidelity.py did not finish within {} s",
                SCRIPT_TIMEOUT.as_secs()
            )
        });
    let report = describe(&output);
    assert!(
        output.status.success(),
        "tts_fidelity.py failed ({})\n{report}",
        output.status
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.lines().last(),
        Some("OK"),
        "no final OK line\n{report}"
    );

    // What the SDK sent, as the emulator saw it: its own headers, and a voice_settings
    // object with apply_ref_loudness_norm false that the caller never set (the SDK's
    // model default), which the emulator accepted.
    let stats = emulator.stats();
    let streams: Vec<_> = stats
        .requests
        .iter()
        .filter(|r| r.path == "/tts-stream")
        .collect();
    assert!(streams.len() > 20, "{} stream requests", streams.len());
    for request in &streams {
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("x-fern-language"), Some("Python"));
        assert_eq!(header("x-api-key"), Some(DEFAULT_API_KEY));
        assert_eq!(header("content-type"), Some("application/json"));
    }
    assert!(streams.iter().any(|r| {
        serde_json::from_str::<serde_json::Value>(&r.body)
            .is_ok_and(|b| b["voice_settings"]["apply_ref_loudness_norm"] == false)
    }));
    assert!(stats.tts_streams.iter().all(|s| s.completed));
    assert!(stats.tts_streams.iter().any(|s| s.format == "flac"));
    // Shown with `--nocapture`: what the script checked.
    eprintln!("{stdout}");
}
