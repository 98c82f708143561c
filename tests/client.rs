//! The safe core client against the emulator: decoding, errors, retries, timeouts,
//! keep-alive and threads.

mod common;

use std::time::{Duration, Instant};

use camb::{Client, ErrorKind, TaskStatus};
use common::*;

#[test]
fn reports_each_demo_status() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let cases = [
        ("demo-success", TaskStatus::Success, "SUCCESS", Some(4242)),
        ("demo-error", TaskStatus::Error, "ERROR", Some(4243)),
        ("demo-timeout", TaskStatus::Timeout, "TIMEOUT", None),
        (
            "demo-payment-required",
            TaskStatus::PaymentRequired,
            "PAYMENT_REQUIRED",
            None,
        ),
        ("demo-unknown", TaskStatus::Unknown, "QUEUED_FOR_GPU", None),
        ("demo-pending", TaskStatus::Pending, "PENDING", None),
    ];
    for (id, status, text, run_id) in cases {
        let info = client.get_task_status(id).unwrap();
        assert_eq!(info.status, status, "{id}");
        assert_eq!(info.status_text, text, "{id}");
        assert_eq!(info.run_id, run_id, "{id}");
        assert_eq!(info.status.is_final(), status != TaskStatus::Pending);
    }
    let error = client.get_task_status("demo-error").unwrap();
    assert_eq!(error.exception_reason.as_deref(), Some("PROCESSING_ERROR"));
    assert_eq!(
        error.message.as_deref(),
        Some("The audio model failed to render this prompt")
    );
}

#[test]
fn a_task_moves_from_pending_to_final() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let id = emulator.add_task(TaskSpec {
        final_status: "SUCCESS".into(),
        pending_ms: 300,
        run_id: Some(77),
        ..TaskSpec::default()
    });
    let first = client.get_task_status(&id).unwrap();
    assert_eq!((first.status, first.run_id), (TaskStatus::Pending, None));
    std::thread::sleep(Duration::from_millis(400));
    let later = client.get_task_status(&id).unwrap();
    assert_eq!(
        (later.status, later.run_id),
        (TaskStatus::Success, Some(77))
    );
}

#[test]
fn keeps_what_the_server_sends_exactly() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let big = emulator.add_task(TaskSpec {
        run_id: Some(i64::MAX),
        message: Some(serde_json::json!({"code": 7, "text": "nul\u{0}inside"})),
        ..TaskSpec::default()
    });
    let info = client.get_task_status(&big).unwrap();
    assert_eq!(info.run_id, Some(i64::MAX));
    assert_eq!(
        info.message.as_deref(),
        Some(r#"{"code":7,"text":"nul\u0000inside"}"#)
    );
    let omitted = emulator.add_task(TaskSpec {
        omit_run_id: true,
        final_status: "FAILED".into(),
        exception_reason: Some("HARMFUL_CONTENT_DETECTED".into()),
        ..TaskSpec::default()
    });
    let info = client.get_task_status(&omitted).unwrap();
    assert_eq!(
        (info.status, info.status_text.as_str()),
        (TaskStatus::Unknown, "FAILED")
    );
    assert_eq!(info.run_id, None);
    assert_eq!(
        info.exception_reason.as_deref(),
        Some("HARMFUL_CONTENT_DETECTED")
    );
}

#[test]
fn sends_the_documented_request() {
    let emulator = emulator();
    client_for(&emulator)
        .get_task_status("demo-success")
        .unwrap();
    let stats = emulator.stats();
    let request = stats.requests.last().unwrap();
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, "/text-to-sound/demo-success");
    assert_eq!(header(request, "x-api-key"), Some(DEFAULT_API_KEY));
    assert_eq!(header(request, "accept"), Some("application/json"));
    let agent = format!("libcamb/{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(header(request, "user-agent"), Some(agent.as_str()));
}

#[test]
fn the_task_id_travels_as_one_encoded_segment() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let id = "a b/c?d#e%f..";
    let err = client.get_task_status(id).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.http_status(), Some(404));
    // The server decoded exactly the id that was sent.
    assert!(
        err.message().contains(&format!("Task not found: {id}")),
        "{err}"
    );
    let stats = emulator.stats();
    assert_eq!(
        stats.requests.last().unwrap().path,
        "/text-to-sound/a%20b%2Fc%3Fd%23e%25f.."
    );
    // And a task whose id needs encoding is found.
    let planted = emulator.add_task(TaskSpec {
        task_id: Some("weird id/with?chars".into()),
        run_id: Some(5),
        ..TaskSpec::default()
    });
    assert_eq!(client.get_task_status(&planted).unwrap().run_id, Some(5));
}

#[test]
fn refuses_ids_that_cannot_be_sent_without_a_request() {
    let emulator = emulator();
    let client = client_for(&emulator);
    for bad in ["", ".", "..", "nul\0inside", &"x".repeat(1025)] {
        let err = client.get_task_status(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidParameter, "{bad:?}");
    }
    assert_eq!(emulator.stats().requests_total, 0);
}

#[test]
fn a_wrong_key_is_unauthorized_and_never_quoted() {
    let emulator = emulator();
    let mut config = config_for(&emulator);
    config.set_api_key("sk-wrong-key-123").unwrap();
    let err = Client::new(config)
        .unwrap()
        .get_task_status("demo-success")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(err.message().contains("Invalid API key"), "{err}");
    assert!(!err.message().contains("sk-wrong-key-123"));
    // Not retried: a 401 will not change on its own.
    assert_eq!(status_requests(&emulator), 1);
}

#[test]
fn a_server_that_echoes_the_key_has_it_redacted() {
    let emulator = emulator();
    let body = format!(r#"{{"detail":"key {DEFAULT_API_KEY} is not allowed"}}"#);
    emulator.push_fault(status_fault(1, 403, &[], &body));
    let err = client_for(&emulator)
        .get_task_status("demo-success")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(
        err.message(),
        "HTTP 403 Forbidden: key [redacted] is not allowed"
    );
}

#[test]
fn validation_errors_list_each_location_and_message() {
    let emulator = emulator();
    let err = client_for(&emulator)
        .get_task_status(&"x".repeat(300))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert!(
        err.message()
            .contains("path.task_id: String should have at most 256 characters"),
        "{err}"
    );
}

#[test]
fn each_http_status_class_gives_its_kind() {
    let emulator = emulator();
    let mut config = config_for(&emulator);
    config.set_max_retries(0).unwrap();
    let client = Client::new(config).unwrap();
    let cases = [
        (400, ErrorKind::HttpStatus),
        (402, ErrorKind::PaymentRequired),
        (403, ErrorKind::Forbidden),
        (404, ErrorKind::NotFound),
        (409, ErrorKind::HttpStatus),
        (429, ErrorKind::RateLimited),
        (500, ErrorKind::ServerError),
        (503, ErrorKind::ServerError),
    ];
    for (status, kind) in cases {
        emulator.push_fault(status_fault(1, status, &[], r#"{"detail":"told to fail"}"#));
        let err = client.get_task_status("demo-success").unwrap_err();
        assert_eq!((err.kind(), err.http_status()), (kind, Some(status)));
        assert!(err.message().ends_with(": told to fail"), "{err}");
    }
}

#[test]
fn an_html_error_page_still_gives_a_clean_error() {
    let emulator = emulator();
    let mut fault = status_fault(
        3,
        502,
        &[],
        "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
    );
    fault.respond.as_mut().unwrap().content_type = Some("text/html".into());
    emulator.push_fault(fault);
    let err = client_for(&emulator)
        .get_task_status("demo-success")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerError);
    assert_eq!(
        err.message(),
        "HTTP 502 Bad Gateway: non-JSON reply: 502 Bad Gateway (after 3 attempts)"
    );
}

#[test]
fn malformed_and_oversized_replies_are_bad_responses() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let huge = format!(r#"{{"status":"SUCCESS","pad":"{}"}}"#, "x".repeat(2 << 20));
    for body in [
        "not json",
        r#"{"status":5}"#,
        r#"{"run_id":1}"#,
        huge.as_str(),
    ] {
        emulator.push_fault(status_fault(1, 200, &[], body));
        let err = client.get_task_status("demo-success").unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::BadResponse,
            "{}",
            &body[..body.len().min(40)]
        );
    }
    // Not retried: the same server would send the same reply.
    assert_eq!(status_requests(&emulator), 4);
}

#[test]
fn transient_failures_are_retried_until_success() {
    let emulator = emulator();
    emulator.push_fault(status_fault(2, 503, &[], r#"{"detail":"busy"}"#));
    let info = client_for(&emulator)
        .get_task_status("demo-success")
        .unwrap();
    assert_eq!(info.status, TaskStatus::Success);
    assert_eq!(status_requests(&emulator), 3);
}

#[test]
fn retries_stop_at_max_retries() {
    let emulator = emulator();
    emulator.push_fault(status_fault(10, 500, &[], r#"{"detail":"down"}"#));
    let mut config = config_for(&emulator);
    config.set_max_retries(1).unwrap();
    let err = Client::new(config)
        .unwrap()
        .get_task_status("demo-success")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerError);
    assert!(err.message().ends_with("down (after 2 attempts)"), "{err}");
    assert_eq!(status_requests(&emulator), 2);
}

#[test]
fn never_retries_what_cannot_change() {
    let emulator = emulator();
    let client = client_for(&emulator);
    for status in [401, 403, 404, 422] {
        emulator.reset();
        emulator.push_fault(status_fault(5, status, &[], r#"{"detail":"no"}"#));
        client.get_task_status("demo-success").unwrap_err();
        assert_eq!(status_requests(&emulator), 1, "{status}");
    }
}

#[test]
fn retry_after_seconds_is_honoured() {
    let emulator = emulator();
    emulator.push_fault(status_fault(
        1,
        429,
        &[("Retry-After", "1")],
        r#"{"detail":"slow down"}"#,
    ));
    let started = Instant::now();
    let info = client_for(&emulator)
        .get_task_status("demo-success")
        .unwrap();
    assert_eq!(info.status, TaskStatus::Success);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(status_requests(&emulator), 2);
}

#[test]
fn retry_after_as_an_http_date_is_honoured() {
    let emulator = emulator();
    let when = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2));
    emulator.push_fault(status_fault(1, 503, &[("Retry-After", &when)], "{}"));
    let started = Instant::now();
    client_for(&emulator)
        .get_task_status("demo-success")
        .unwrap();
    // HTTP dates have one-second resolution, so the wait is 1 to 2 seconds.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(status_requests(&emulator), 2);
}

#[test]
fn a_retry_after_past_the_deadline_fails_now_instead_of_waiting() {
    let emulator = emulator();
    emulator.push_fault(status_fault(
        1,
        429,
        &[("Retry-After", "30")],
        r#"{"detail":"later"}"#,
    ));
    let mut config = config_for(&emulator);
    config.set_timeout_ms(2_000).unwrap();
    let started = Instant::now();
    let err = Client::new(config)
        .unwrap()
        .get_task_status("demo-success")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(err.message().contains("not retried"), "{err}");
    assert!(
        started.elapsed() < Duration::from_millis(1_500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(status_requests(&emulator), 1);
}

#[test]
fn a_server_that_never_answers_times_out_within_the_bound() {
    let emulator = emulator();
    emulator.push_fault(Fault {
        times: 10,
        delay_ms: 5_000,
        ..Fault::default()
    });
    let mut config = config_for(&emulator);
    config.set_timeout_ms(300).unwrap();
    let started = Instant::now();
    let err = Client::new(config)
        .unwrap()
        .get_task_status("demo-success")
        .unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.message().contains("300 ms"), "{err}");
    assert!(elapsed >= Duration::from_millis(290), "{elapsed:?}");
    assert!(elapsed < GENEROUS, "{elapsed:?}");
}

#[test]
fn a_stall_mid_body_times_out() {
    let emulator = emulator();
    emulator.push_fault(Fault {
        times: 10,
        body_delay_ms: 5_000,
        ..Fault::default()
    });
    let mut config = config_for(&emulator);
    config.set_timeout_ms(400).unwrap();
    let started = Instant::now();
    let err = Client::new(config)
        .unwrap()
        .get_task_status("demo-success")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(started.elapsed() < GENEROUS);
}

#[test]
fn a_refused_connection_is_a_connect_error() {
    let mut config = camb::ClientConfig::default();
    config
        .set_base_url(&format!("http://127.0.0.1:{}", closed_port()))
        .unwrap();
    config.set_api_key("k").unwrap();
    config.set_max_retries(0).unwrap();
    let err = Client::new(config)
        .unwrap()
        .get_task_status("x")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect);
    assert!(err.message().contains("refused"), "{err}");
    assert_eq!(err.http_status(), None);
}

#[test]
fn redirects_are_not_followed() {
    let emulator = emulator();
    emulator.push_fault(status_fault(
        1,
        302,
        &[("Location", "http://127.0.0.2:9/steal")],
        "",
    ));
    let err = client_for(&emulator)
        .get_task_status("demo-success")
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.http_status()),
        (ErrorKind::HttpStatus, Some(302))
    );
    assert!(err.message().contains("http://127.0.0.2:9/steal"), "{err}");
    assert_eq!(status_requests(&emulator), 1);
}

#[test]
fn keep_alive_survives_error_replies() {
    let emulator = emulator();
    let client = client_for(&emulator);
    for i in 0..30 {
        if i % 3 == 0 {
            assert_eq!(
                client.get_task_status("no-such-task").unwrap_err().kind(),
                ErrorKind::NotFound
            );
        } else {
            client.get_task_status("demo-success").unwrap();
        }
    }
    assert_eq!(emulator.stats().connections_accepted, 1);
}

#[test]
fn many_threads_share_one_client() {
    let emulator = emulator();
    let client = client_for(&emulator);
    std::thread::scope(|scope| {
        for t in 0..8 {
            let client = &client;
            scope.spawn(move || {
                for i in 0..25 {
                    if (t + i) % 4 == 0 {
                        let err = client
                            .get_task_status(&format!("missing-{t}-{i}"))
                            .unwrap_err();
                        assert!(err.message().contains(&format!("missing-{t}-{i}")));
                    } else {
                        assert_eq!(
                            client.get_task_status("demo-success").unwrap().run_id,
                            Some(4242)
                        );
                    }
                }
            });
        }
    });
    let stats = emulator.stats();
    assert_eq!(stats.requests_total, 200);
    assert!(
        stats.connections_accepted <= 8,
        "{}",
        stats.connections_accepted
    );
}

#[test]
fn a_retry_after_beyond_the_cap_is_reported_not_retried_early() {
    let emulator = emulator();
    emulator.push_fault(status_fault(
        1,
        503,
        &[("Retry-After", "120")],
        r#"{"detail":"down for maintenance"}"#,
    ));
    let err = client_for(&emulator)
        .get_task_status("demo-success")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerError);
    assert!(
        err.message()
            .contains("not retried: the server asked to wait 120 s"),
        "{err}"
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(status_requests(&emulator), 1);
}

#[test]
fn a_tls_failure_is_not_retried() {
    // https to a port that speaks plain HTTP: the handshake fails the same way each time.
    let emulator = emulator();
    let mut config = config_for(&emulator);
    config
        .set_base_url(&emulator.base_url().replace("http://", "https://"))
        .unwrap();
    let err = Client::new(config)
        .unwrap()
        .get_task_status("demo-success")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect);
    assert!(err.message().starts_with("TLS error"), "{err}");
    assert!(!err.message().contains("attempts"), "{err}");
}
