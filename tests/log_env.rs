//! `CAMB_LOG` sends a client's log lines to stderr, for a user who cannot change
//! the program: run in a child process (this test binary again), whose stderr the
//! test reads.

mod common;

use std::process::Command;

use common::*;

/// Set in the child: the emulator's URL to make one status call against.
const CHILD_ENV: &str = "CAMB_LOG_TEST_CHILD_URL";

/// The child's stderr for one status call under `CAMB_LOG=log` (unset: None).
fn child_stderr(url: &str, log: Option<&str>) -> String {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", "camb_log_sends_lines_to_stderr", "--nocapture"])
        .env(CHILD_ENV, url);
    match log {
        Some(value) => command.env("CAMB_LOG", value),
        None => command.env_remove("CAMB_LOG"),
    };
    let output = command.output().unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn camb_log_sends_lines_to_stderr() {
    if let Ok(url) = std::env::var(CHILD_ENV) {
        let mut config = camb::ClientConfig::default();
        config.set_base_url(&url).unwrap();
        config.set_api_key(DEFAULT_API_KEY).unwrap();
        let client = camb::Client::new(config).unwrap();
        client.get_task_status("demo-success").unwrap();
        assert!(client.get_task_status("no-such-task").is_err());
        return;
    }
    let emulator = emulator();
    let url = emulator.base_url();
    let debug = child_stderr(&url, Some("debug"));
    assert!(
        debug.contains("libcamb debug: GET ")
            && debug.contains("/text-to-sound/demo-success sent (attempt 1)"),
        "{debug}"
    );
    assert!(debug.contains("replied 200"), "{debug}");
    assert!(
        debug.contains("libcamb error: GET ") && debug.contains("failed: HTTP 404"),
        "{debug}"
    );
    assert!(!debug.contains(DEFAULT_API_KEY), "{debug}");
    let errors_only = child_stderr(&url, Some("ERROR"));
    assert!(errors_only.contains("libcamb error: "), "{errors_only}");
    assert!(
        !errors_only.contains("libcamb debug") && !errors_only.contains("libcamb info"),
        "{errors_only}"
    );
    for quiet in [None, Some("verbose")] {
        let silent = child_stderr(&url, quiet);
        assert!(!silent.contains("libcamb "), "{quiet:?}: {silent}");
    }
}
