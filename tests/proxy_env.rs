//! Proxy environment variables cannot route the key: with every proxy variable
//! pointing at a decoy listener, a client built without `set_proxy` connects
//! directly. A plain ureq agent, which does read them, is the control.
//!
//! This binary holds a single test because it changes the process environment.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use camb::{Client, TaskStatus};
use common::*;

/// Accepts every connection waiting on the (non-blocking) decoy; their number.
fn drain(decoy: &TcpListener) -> usize {
    let mut accepted = 0;
    // A connection the kernel completed is in the backlog by now: the client under
    // test connected (or not) before its call returned.
    while decoy.accept().is_ok() {
        accepted += 1;
    }
    accepted
}

#[test]
fn proxy_environment_variables_are_ignored() {
    let decoy = TcpListener::bind("127.0.0.1:0").unwrap();
    decoy.set_nonblocking(true).unwrap();
    let decoy_url = format!("http://{}", decoy.local_addr().unwrap());
    for name in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        // SAFETY: this binary has a single test, and it changes the environment before
        // starting any thread of its own (the emulator's runtime starts below), so no
        // other thread reads the environment while it is changed.
        unsafe { std::env::set_var(name, &decoy_url) };
    }
    for name in ["NO_PROXY", "no_proxy"] {
        // SAFETY: as above.
        unsafe { std::env::remove_var(name) };
    }

    let emulator = emulator();
    let mut config = config_for(&emulator);
    config.set_timeout_ms(2_000).unwrap();
    config.set_max_retries(0).unwrap();
    assert!(config.proxy.is_none());
    // Had the client used the decoy, the call would hang on its silent CONNECT and
    // time out; either way the decoy would count the connection.
    let info = Client::new(config)
        .unwrap()
        .get_task_status("demo-success")
        .unwrap();
    assert_eq!(
        (info.status, info.run_id),
        (TaskStatus::Success, Some(4242))
    );
    assert_eq!(
        drain(&decoy),
        0,
        "libcamb connected to the environment's proxy"
    );
    assert_eq!(emulator.stats().requests_total, 1);
    assert_eq!(emulator.stats().connections_accepted, 1);

    // Control: a default ureq agent reads the same variables and goes to the decoy,
    // so the variables above are set in a way that would have taken effect.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_millis(500)))
        .build()
        .into();
    let url = format!("{}/text-to-sound/demo-success", emulator.base_url());
    assert!(agent.get(&url).call().is_err(), "the decoy never answers");
    assert_eq!(drain(&decoy), 1, "the control did not use the decoy");
    assert_eq!(emulator.stats().requests_total, 1);
}
