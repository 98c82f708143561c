//! Stats, reset, the control API, connection counting, lifecycle and the binary.

mod common;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use camb_emulator::{Config, Emulator, Fault, FaultResponse, Stats, TaskSpec};
use common::{Client, raw_exchange, start};
use serde_json::json;

const STATUS: &str = "/text-to-sound/demo-success";

#[test]
fn keep_alive_connections_are_counted_once() {
    let emulator = start(0);
    assert_eq!(emulator.stats().connections_accepted, 0);
    let client = Client::new(&emulator);
    assert_eq!(client.get(STATUS).status, 200);
    assert_eq!(client.get("/text-to-sound/nope").status, 404);
    assert_eq!(client.without_key().get(STATUS).status, 401);
    assert_eq!(
        emulator.stats().connections_accepted,
        1,
        "one agent, one connection"
    );

    Client::new(&emulator).get(STATUS);
    assert_eq!(
        emulator.stats().connections_accepted,
        2,
        "a new agent opens another"
    );
}

#[test]
fn keep_alive_survives_error_replies_on_one_socket() {
    let emulator = start(0);
    let mut stream = TcpStream::connect(emulator.addr()).unwrap();
    let get = |path: &str, key: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nx-api-key: {key}\r\n\r\n")
    };
    let key = camb_emulator::DEFAULT_API_KEY;
    let (status, _) = raw_exchange(&mut stream, &get("/text-to-sound/unknown", key));
    assert_eq!(status, 404);
    let (status, _) = raw_exchange(&mut stream, &get(STATUS, "wrong"));
    assert_eq!(status, 401);
    let (status, _) = raw_exchange(&mut stream, &get("/text-to-sound/x?run_id=x", key));
    assert_eq!(status, 422);
    let post = "POST /text-to-sound HTTP/1.1\r\nHost: x\r\nx-api-key: camb-emulator-key\r\n\
                content-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
    assert_eq!(raw_exchange(&mut stream, post).0, 422);
    let (status, body) = raw_exchange(&mut stream, &get(STATUS, key));
    assert_eq!(status, 200);
    assert!(body.contains("SUCCESS"));
    assert_eq!(emulator.stats().connections_accepted, 1);
    assert_eq!(emulator.stats().requests_total, 5);
}

#[test]
fn requests_are_recorded_as_sent() {
    let emulator = start(0);
    let client = Client::new(&emulator);
    client.get("/text-to-sound/a%20b?run_id=7");
    client.post("/text-to-sound", r#"{"prompt":"recorded"}"#);
    client.get("/_emulator/stats"); // control requests are not recorded

    let stats = emulator.stats();
    assert_eq!(stats.requests_total, 2);
    let [get, post] = &stats.requests[..] else {
        panic!("{:?}", stats.requests)
    };
    assert_eq!(get.method, "GET");
    assert_eq!(get.path, "/text-to-sound/a%20b");
    assert_eq!(get.query.as_deref(), Some("run_id=7"));
    let header = |name: &str| {
        get.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("x-api-key"), Some(camb_emulator::DEFAULT_API_KEY));
    assert!(get.headers.iter().all(|(k, _)| *k == k.to_lowercase()));
    assert_eq!(post.method, "POST");
    assert_eq!(post.path, "/text-to-sound");
    assert_eq!(post.query, None);
    assert_eq!(post.body, r#"{"prompt":"recorded"}"#);
}

#[test]
fn recording_is_bounded() {
    let emulator = start(0);
    let client = Client::new(&emulator);
    for i in 0..1005 {
        client.get(&format!("/text-to-sound/r{i}"));
    }
    let big = "x".repeat(100 * 1024);
    client.post("/text-to-sound", &big);

    let stats = emulator.stats();
    assert_eq!(stats.requests_total, 1006);
    assert_eq!(stats.requests.len(), 1000);
    assert_eq!(
        stats.requests[0].path, "/text-to-sound/r6",
        "oldest are dropped first"
    );
    assert_eq!(stats.requests[999].body.len(), 64 * 1024);
}

#[test]
fn stats_over_http_match_the_rust_api() {
    let emulator = start(0);
    let client = Client::new(&emulator);
    client.get(STATUS);
    let reply = client.get("/_emulator/stats");
    assert_eq!(reply.status, 200);
    let stats: Stats = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(stats, emulator.stats());
    assert_eq!(stats.requests_total, 1);
    assert_eq!(stats.connections_accepted, 1);
}

#[test]
fn tasks_can_be_planted_over_http() {
    let emulator = start(0);
    let client = Client::new(&emulator);
    let spec = json!({
        "task_id": "planted",
        "final_status": "ERROR",
        "omit_run_id": true,
        "exception_reason": "HARMFUL_CONTENT_DETECTED",
        "message": {"code": 7, "text": "nope"}
    });
    let reply = client.post("/_emulator/tasks", &spec.to_string());
    assert_eq!(reply.json(), json!({"task_id": "planted"}));
    let status = client.get("/text-to-sound/planted");
    assert_eq!(
        status.text(),
        r#"{"status":"ERROR","exception_reason":"HARMFUL_CONTENT_DETECTED","message":{"code":7,"text":"nope"}}"#
    );

    // An empty body plants a default task under a generated id.
    let reply = client.post_as("/_emulator/tasks", None, "");
    let id = reply.json()["task_id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36);
    let status = client.get(&format!("/text-to-sound/{id}")).json();
    assert_eq!(status, json!({"status": "SUCCESS", "run_id": null}));

    assert_eq!(client.post("/_emulator/tasks", "[").status, 400);
}

#[test]
fn planted_tasks_wait_and_serve_their_audio() {
    let emulator = start(0);
    let client = Client::new(&emulator);
    let id = emulator.add_task(TaskSpec {
        pending_ms: 300,
        run_id: Some(9001),
        duration_s: 0.5,
        prompt: "planted".into(),
        audio_type: "music".into(),
        ..TaskSpec::default()
    });
    assert_eq!(
        client.get(&format!("/text-to-sound/{id}")).json()["status"],
        "PENDING"
    );
    assert_eq!(client.get("/text-to-sound-result/9001").status, 400);
    std::thread::sleep(Duration::from_millis(350));
    assert_eq!(
        client.get(&format!("/text-to-sound/{id}")).json(),
        json!({"status": "SUCCESS", "run_id": 9001})
    );
    let wav = client.get("/text-to-sound-result/9001");
    assert_eq!(common::parse_wav(&wav.body).samples, 11025);
}

#[test]
fn reset_forgets_everything_but_the_demo_tasks() {
    let emulator = start(0);
    let client = Client::new(&emulator);
    let added = emulator.add_task(TaskSpec::default());
    emulator.add_task(TaskSpec {
        task_id: Some("demo-success".into()),
        final_status: "TIMEOUT".into(),
        ..TaskSpec::default()
    });
    emulator.push_fault(Fault {
        path_prefix: Some("/never-requested".into()),
        respond: Some(FaultResponse::default()),
        ..Fault::default()
    });
    client.get(STATUS);

    emulator.reset();
    assert_eq!(emulator.stats(), Stats::default());
    // The fault is gone: this request would have matched it.
    assert_eq!(client.get("/never-requested").status, 404);
    assert_eq!(client.get(&format!("/text-to-sound/{added}")).status, 404);
    assert_eq!(
        client.get(STATUS).json()["status"],
        "SUCCESS",
        "demo task restored"
    );

    // The same over HTTP.
    emulator.push_fault(Fault {
        respond: Some(FaultResponse::default()),
        ..Fault::default()
    });
    let reply = client.post("/_emulator/reset", "");
    assert_eq!(reply.status, 204);
    assert_eq!(client.get(STATUS).status, 200, "fault cleared");
    assert_eq!(emulator.stats().requests_total, 1);
}

#[test]
fn drop_frees_the_port_even_with_a_stalled_client() {
    let emulator = start(0);
    let addr = emulator.addr();
    assert!(addr.ip().is_loopback());
    assert_eq!(
        emulator.base_url(),
        format!("http://127.0.0.1:{}", addr.port())
    );
    emulator.push_fault(Fault {
        delay_ms: 30_000,
        ..Fault::default()
    });
    let mut stream = TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(
        &mut stream,
        b"GET /text-to-sound/x HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    // Let the request reach the fault's sleep.
    let deadline = Instant::now() + Duration::from_secs(2);
    while emulator.stats().requests_total == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(emulator.stats().requests_total, 1);

    let started = Instant::now();
    drop(emulator);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "drop waited on the client"
    );
    TcpListener::bind(addr).expect("port freed");
}

#[test]
fn only_loopback_addresses_are_accepted() {
    let public: SocketAddr = "0.0.0.0:0".parse().unwrap();
    let err = Emulator::start_on(Config::default(), public).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn start_on_a_taken_port_fails() {
    let emulator = start(0);
    assert!(Emulator::start_on(Config::default(), emulator.addr()).is_err());
}

#[test]
fn binary_prints_its_url_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_camb-emulator"))
        .args([
            "--api-key",
            "k1",
            "--api-key",
            "k2",
            "--pending-ms",
            "0",
            "--no-demo-tasks",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim_end()
        .strip_prefix("listening on http://127.0.0.1:")
        .map(|port| format!("http://127.0.0.1:{port}"));
    let outcome = std::panic::catch_unwind(|| {
        let base = base.expect("listening line");
        let client = Client::with_base(base).with_key("k2");
        assert_eq!(client.get(STATUS).status, 404, "no demo tasks");
        let created = client.post("/text-to-sound", r#"{"prompt":"cli"}"#).json();
        let id = created["task_id"].as_str().unwrap();
        let status = client.get(&format!("/text-to-sound/{id}")).json();
        assert_eq!(status["status"], "SUCCESS", "pending-ms 0");
        assert_eq!(client.with_key("camb-emulator-key").get(STATUS).status, 401);
    });
    child.kill().unwrap();
    child.wait().unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn binary_help_and_bad_arguments() {
    let bin = env!("CARGO_BIN_EXE_camb-emulator");
    let help = Command::new(bin).arg("--help").output().unwrap();
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--pending-ms") && help.contains("--delay-ms"));
    for args in [
        &["--bogus"][..],
        &["--port"],
        &["--port", "x"],
        &["--pending-ms", "-1"],
        &["--delay-ms", "x"],
        &["--delay-ms"],
    ] {
        let out = Command::new(bin).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("Usage"));
    }
}

#[test]
fn the_handle_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Emulator>();
}
