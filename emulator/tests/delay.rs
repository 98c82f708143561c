//! `Config::request_delay_ms` (`--delay-ms`): every API reply waits, concurrent waits overlap,
//! the control API never waits, and 0 (the default) changes nothing.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use camb_emulator::{Config, Emulator};
use common::Client;

const STATUS: &str = "/text-to-sound/demo-success";
const CONCURRENT: usize = 8;

fn start(request_delay_ms: u64) -> Emulator {
    Emulator::start(Config {
        pending_ms: 0,
        request_delay_ms,
        ..Config::default()
    })
    .expect("emulator starts")
}

/// Sends `CONCURRENT` status requests at once, each from its own client (so its own
/// connection). Returns the time from the start to the last reply, and each request's
/// (time, status, body).
fn concurrent_statuses(base: &str) -> (Duration, Vec<(Duration, u16, String)>) {
    let barrier = Arc::new(Barrier::new(CONCURRENT + 1));
    let threads: Vec<_> = (0..CONCURRENT)
        .map(|_| {
            let client = Client::with_base(base.to_string());
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let started = Instant::now();
                let reply = client.get(STATUS);
                (started.elapsed(), reply.status, reply.text())
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let replies = threads
        .into_iter()
        .map(|t| t.join().expect("request thread"))
        .collect();
    (started.elapsed(), replies)
}

#[test]
fn the_default_is_no_delay() {
    assert_eq!(Config::default().request_delay_ms, 0);
}

#[test]
fn concurrent_requests_wait_at_the_same_time() {
    let delay = Duration::from_millis(200);
    let emulator = start(200);
    let (total, replies) = concurrent_statuses(&emulator.base_url());

    // The reply itself is the one an undelayed emulator gives.
    let plain = start(0);
    let expected = Client::new(&plain).get(STATUS).text();
    for (elapsed, status, body) in &replies {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(*body, expected);
        assert!(
            *elapsed >= delay,
            "a request took {elapsed:?}, under the delay"
        );
    }
    // Back to back, 8 delays would take 1600 ms. A delay that held one of the emulator's
    // two worker threads would let only 2 wait at once: at least 4 x 200 = 800 ms. Waiting
    // together takes about 200 ms; the bound leaves room for a busy machine.
    assert!(
        total < Duration::from_millis(700),
        "{CONCURRENT} concurrent requests took {total:?}: the delays did not overlap"
    );
    let stats = emulator.stats();
    assert_eq!(stats.requests_total, CONCURRENT as u64);
    assert_eq!(stats.connections_accepted, CONCURRENT as u64);
}

#[test]
fn with_no_delay_nothing_waits() {
    let emulator = start(0);
    let (total, replies) = concurrent_statuses(&emulator.base_url());
    for (_, status, body) in &replies {
        assert_eq!(*status, 200, "{body}");
        assert!(body.contains(r#""SUCCESS""#), "{body}");
    }
    // Far below what even one 200 ms delay would take.
    assert!(
        total < Duration::from_millis(150),
        "{CONCURRENT} undelayed requests took {total:?}"
    );
    assert_eq!(emulator.stats().requests_total, CONCURRENT as u64);
}

#[test]
fn every_api_reply_waits_but_the_control_api_does_not() {
    let delay = Duration::from_millis(1000);
    let emulator = start(1000);
    let client = Client::new(&emulator);
    let timed = |f: &dyn Fn() -> u16| {
        let started = Instant::now();
        let status = f();
        (started.elapsed(), status)
    };

    // Errors, unknown paths and file downloads are API replies too.
    for (path, expected) in [
        ("/text-to-sound/nope", 404),
        ("/no-such-endpoint", 404),
        ("/_emulator/files/4242.wav?signature=wrong", 403),
    ] {
        let (elapsed, status) = timed(&|| client.get(path).status);
        assert_eq!(status, expected, "{path}");
        assert!(elapsed >= delay, "{path} took {elapsed:?}");
    }
    let (elapsed, status) = timed(&|| Client::new(&emulator).without_key().get(STATUS).status);
    assert_eq!(status, 401);
    assert!(elapsed >= delay, "401 took {elapsed:?}");

    let control = Client::new(&emulator).without_key();
    let calls: [(&str, &dyn Fn() -> u16); 4] = [
        ("stats", &|| control.get("/_emulator/stats").status),
        ("tasks", &|| {
            control
                .post("/_emulator/tasks", r#"{"task_id":"t1"}"#)
                .status
        }),
        ("faults", &|| control.post("/_emulator/faults", "{}").status),
        ("reset", &|| control.post("/_emulator/reset", "").status),
    ];
    for (name, call) in calls {
        let (elapsed, status) = timed(call);
        assert!((200..300).contains(&status), "{name}: {status}");
        assert!(
            elapsed < delay / 2,
            "the control call {name} took {elapsed:?}"
        );
    }
}

#[test]
fn the_binary_takes_delay_ms() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_camb-emulator"))
        .args(["--delay-ms", "300", "--pending-ms", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim_end()
        .strip_prefix("listening on ")
        .map(str::to_string);
    let outcome = std::panic::catch_unwind(|| {
        let client = Client::with_base(base.expect("listening line"));
        let started = Instant::now();
        let reply = client.get(STATUS);
        let elapsed = started.elapsed();
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert!(elapsed >= Duration::from_millis(300), "took {elapsed:?}");
    });
    child.kill().unwrap();
    child.wait().unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
