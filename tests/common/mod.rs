//! Shared by the integration tests: a running emulator and clients pointed at it.
#![allow(dead_code, unused_imports)] // each test binary uses a different part of this module

use std::path::PathBuf;
use std::time::Duration;

use camb::{Client, ClientConfig};
pub use camb_emulator::{
    Config, DEFAULT_API_KEY, Emulator, Fault, FaultResponse, RecordedRequest, TaskSpec,
};

/// An emulator on 127.0.0.1 whose demo tasks are already final.
pub fn emulator() -> Emulator {
    Emulator::start(Config {
        pending_ms: 0,
        ..Config::default()
    })
    .expect("the emulator starts on 127.0.0.1")
}

/// Client settings for `emulator` with a short timeout, so failing tests fail fast.
pub fn config_for(emulator: &Emulator) -> ClientConfig {
    let mut config = ClientConfig::default();
    config.set_base_url(&emulator.base_url()).unwrap();
    config.set_api_key(DEFAULT_API_KEY).unwrap();
    config.set_timeout_ms(10_000).unwrap();
    config
}

pub fn client_for(emulator: &Emulator) -> Client {
    Client::new(config_for(emulator)).unwrap()
}

/// A canned reply for the next `times` status requests.
pub fn status_fault(times: u32, status: u16, headers: &[(&str, &str)], body: &str) -> Fault {
    Fault {
        path_prefix: Some("/text-to-sound/".into()),
        times,
        respond: Some(FaultResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.into(),
            content_type: Some("application/json".into()),
        }),
        ..Fault::default()
    }
}

/// The number of status requests the emulator has seen.
pub fn status_requests(emulator: &Emulator) -> usize {
    emulator
        .stats()
        .requests
        .iter()
        .filter(|r| r.path.starts_with("/text-to-sound/"))
        .count()
}

pub fn header<'a>(request: &'a RecordedRequest, name: &str) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// target/debug (or target/release): where cargo put libcamb.so for this test run.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its path");
    // target/debug/deps/<test binary>
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary is in target/<profile>/deps")
        .to_path_buf();
    assert!(
        dir.join("libcamb.so").exists(),
        "libcamb.so is not in {}: run the tests with `cargo test`, which builds it",
        dir.display()
    );
    dir
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

pub const GENEROUS: Duration = Duration::from_secs(5);
