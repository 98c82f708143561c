//! Fault injection: delays, canned replies, mid-body stalls, counting and matching.

mod common;

use std::time::{Duration, Instant};

use camb_emulator::{Fault, FaultResponse};
use common::{Client, parse_wav, start};
use serde_json::json;

const STATUS: &str = "/text-to-sound/demo-success";

fn canned(status: u16) -> Option<FaultResponse> {
    Some(FaultResponse {
        status,
        ..FaultResponse::default()
    })
}

#[test]
fn delay_holds_the_reply_once() {
    let emulator = start(0);
    let client = Client::new(&emulator);
    emulator.push_fault(Fault {
        delay_ms: 300,
        ..Fault::default()
    });
    let started = Instant::now();
    let slow = client.get(STATUS);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(slow.status, 200, "a delay alone keeps the normal reply");
    assert_eq!(slow.json()["status"], "SUCCESS");

    let started = Instant::now();
    client.get(STATUS);
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "times defaults to 1"
    );
}

#[test]
fn respond_replaces_the_reply_with_headers_and_any_body() {
    let emulator = start(0);
    emulator.push_fault(Fault {
        respond: Some(FaultResponse {
            status: 503,
            headers: vec![
                ("Retry-After".into(), "2".into()),
                ("bad header name".into(), "skipped".into()),
            ],
            body: "<html><body>Service Unavailable</body></html>".into(),
            content_type: Some("text/html".into()),
        }),
        ..Fault::default()
    });
    // Faults come before auth, as a proxy in front of the API would.
    let reply = Client::new(&emulator).without_key().get(STATUS);
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), Some("2"));
    assert_eq!(reply.header("content-type"), Some("text/html"));
    assert_eq!(
        reply.text(),
        "<html><body>Service Unavailable</body></html>"
    );
    assert!(reply.header("bad header name").is_none());

    // Without a content type the reply has none; an invalid status becomes 500.
    emulator.push_fault(Fault {
        respond: Some(FaultResponse {
            status: 42,
            ..FaultResponse::default()
        }),
        ..Fault::default()
    });
    let reply = Client::new(&emulator).get(STATUS);
    assert_eq!(reply.status, 500);
    assert_eq!(reply.header("content-type"), None);
    assert_eq!(Client::new(&emulator).get(STATUS).status, 200);
}

#[test]
fn times_counts_matching_requests() {
    let emulator = start(0);
    let client = Client::new(&emulator);
    emulator.push_fault(Fault {
        times: 3,
        respond: canned(429),
        ..Fault::default()
    });
    let statuses: Vec<u16> = (0..4).map(|_| client.get(STATUS).status).collect();
    assert_eq!(statuses, [429, 429, 429, 200]);

    // A fault that can never apply is ignored.
    emulator.push_fault(Fault {
        times: 0,
        respond: canned(500),
        ..Fault::default()
    });
    assert_eq!(client.get(STATUS).status, 200);
}

#[test]
fn prefixes_match_raw_paths_first_in_first_out() {
    let emulator = start(0);
    let client = Client::new(&emulator);
    emulator.push_fault(Fault {
        path_prefix: Some("/text-to-sound-result/".into()),
        respond: canned(502),
        ..Fault::default()
    });
    emulator.push_fault(Fault {
        path_prefix: Some("/text-to-sound/a%2F".into()),
        respond: canned(504),
        ..Fault::default()
    });
    emulator.push_fault(Fault {
        respond: canned(500),
        ..Fault::default()
    });
    // The status request skips the result fault and the encoded-path fault, and takes the
    // catch-all queued after them.
    assert_eq!(client.get(STATUS).status, 500);
    assert_eq!(client.get(STATUS).status, 200);
    // The prefix is compared with the path as sent, still percent-encoded.
    assert_eq!(client.get("/text-to-sound/a%2Fb").status, 504);
    assert_eq!(client.get("/text-to-sound/a%2Fb").status, 404);
    assert_eq!(client.get("/text-to-sound-result/4242").status, 502);
    assert_eq!(client.get("/text-to-sound-result/4242").status, 200);
}

#[test]
fn body_delay_stalls_halfway_through_the_body() {
    let emulator = start(0);
    let client = Client::new(&emulator);
    let normal = client.get("/text-to-sound-result/4242").body;
    emulator.push_fault(Fault {
        path_prefix: Some("/text-to-sound-result/".into()),
        body_delay_ms: 500,
        ..Fault::default()
    });

    let started = Instant::now();
    let mut response = client
        .agent
        .get(&format!("{}/text-to-sound-result/4242", client.base))
        .header("x-api-key", camb_emulator::DEFAULT_API_KEY)
        .call()
        .unwrap();
    let headers_after = started.elapsed();
    assert!(
        headers_after < Duration::from_millis(400),
        "headers came at once: {headers_after:?}"
    );
    assert_eq!(response.status(), 200);
    let length: usize = response.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(length, normal.len());

    // The first half is readable before the stall ends.
    let mut reader = response.body_mut().as_reader();
    let mut first = vec![0; normal.len() / 2];
    std::io::Read::read_exact(&mut reader, &mut first).unwrap();
    assert!(started.elapsed() < Duration::from_millis(400));
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut reader, &mut rest).unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "the rest waited"
    );
    first.extend(rest);
    assert_eq!(first, normal, "the stalled body is the normal body");
    parse_wav(&first);
}

#[test]
fn body_delay_works_on_json_replies() {
    let emulator = start(0);
    emulator.push_fault(Fault {
        body_delay_ms: 200,
        ..Fault::default()
    });
    let started = Instant::now();
    let reply = Client::new(&emulator).get(STATUS);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(reply.json(), json!({"status": "SUCCESS", "run_id": 4242}));
}

#[test]
fn faults_skip_the_control_api_but_hit_file_downloads() {
    let emulator = start(0);
    let client = Client::new(&emulator);
    let url = client
        .get("/text-to-sound-result/4242?output_type=FILE_URL")
        .json()["file_url"]
        .as_str()
        .unwrap()
        .to_string();
    emulator.push_fault(Fault {
        respond: canned(500),
        ..Fault::default()
    });
    assert_eq!(client.get("/_emulator/stats").status, 200);
    assert_eq!(client.post("/_emulator/tasks", "{}").status, 200);
    assert_eq!(client.get(&url).status, 500);
    assert_eq!(client.get(&url).status, 200);
}

#[test]
fn faults_can_be_queued_over_http() {
    let emulator = start(0);
    let client = Client::new(&emulator);
    let body = json!({
        "path_prefix": "/text-to-sound/",
        "times": 2,
        "respond": {"status": 429, "headers": [["Retry-After", "1"]], "body": "{\"detail\":\"slow down\"}",
                    "content_type": "application/json"}
    });
    let queued = client.post("/_emulator/faults", &body.to_string());
    assert_eq!(queued.status, 204);
    for _ in 0..2 {
        let reply = client.get(STATUS);
        assert_eq!(reply.status, 429);
        assert_eq!(reply.header("retry-after"), Some("1"));
        assert_eq!(reply.json(), json!({"detail": "slow down"}));
    }
    assert_eq!(client.get(STATUS).status, 200);

    let bad = client.post("/_emulator/faults", r#"{"times": "many"}"#);
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["detail"]
            .as_str()
            .unwrap()
            .contains("invalid type")
    );
}
