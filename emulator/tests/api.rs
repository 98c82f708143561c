//! The emulated CAMB endpoints: auth, status, creation, results and downloads.

mod common;

use std::thread::sleep;
use std::time::Duration;

use camb_emulator::{Config, Emulator, TaskSpec};
use common::{Client, assert_422, assert_json_invalid, parse_wav, peak, start};
use serde_json::json;

#[test]
fn auth_requires_a_configured_key_and_never_echoes_it() {
    let emulator = start(0);
    let missing = Client::new(&emulator)
        .without_key()
        .get("/text-to-sound/demo-success");
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.json(),
        json!({"detail": "Missing API key: send it in the x-api-key header"})
    );

    let wrong = Client::new(&emulator)
        .with_key("sk-secret-123")
        .get("/text-to-sound/demo-success");
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json(), json!({"detail": "Invalid API key"}));
    assert!(!wrong.text().contains("sk-secret-123"));

    let empty = Client::new(&emulator)
        .with_key("")
        .get("/text-to-sound/demo-success");
    assert_eq!(empty.status, 401);

    let right = Client::new(&emulator).get("/text-to-sound/demo-success");
    assert_eq!(right.status, 200, "{}", right.text());

    // Every API route checks the key, not just the status one.
    let anon = Client::new(&emulator).without_key();
    assert_eq!(anon.get("/text-to-sound-result/4242").status, 401);
    assert_eq!(anon.post("/text-to-sound", r#"{"prompt":"x"}"#).status, 401);
    assert_eq!(
        anon.post("/text-to-sound-results", r#"{"run_ids":[]}"#)
            .status,
        401
    );
}

#[test]
fn configured_keys_replace_the_default() {
    let emulator = Emulator::start(Config {
        api_keys: vec!["k1".into(), "k2".into()],
        ..Config::default()
    })
    .unwrap();
    let path = "/text-to-sound/demo-pending";
    assert_eq!(Client::new(&emulator).with_key("k1").get(path).status, 200);
    assert_eq!(Client::new(&emulator).with_key("k2").get(path).status, 200);
    assert_eq!(Client::new(&emulator).get(path).status, 401);
}

#[test]
fn demo_tasks_are_pending_then_final() {
    let emulator = start(600);
    let client = Client::new(&emulator);
    let demos = [
        "demo-success",
        "demo-error",
        "demo-timeout",
        "demo-payment-required",
        "demo-unknown",
        "demo-pending",
    ];
    for id in demos {
        let reply = client.get(&format!("/text-to-sound/{id}"));
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.text(),
            r#"{"status":"PENDING","run_id":null}"#,
            "{id}"
        );
    }
    // A pending run has no result yet.
    let early = client.get("/text-to-sound-result/4242");
    assert_eq!(early.status, 400);
    assert_eq!(
        early.json(),
        json!({"detail": "Task has not succeeded: PENDING"})
    );

    sleep(Duration::from_millis(650));
    let status = |id: &str| client.get(&format!("/text-to-sound/{id}")).json();
    assert_eq!(
        status("demo-success"),
        json!({"status": "SUCCESS", "run_id": 4242})
    );
    assert_eq!(
        status("demo-error"),
        json!({"status": "ERROR", "run_id": 4243, "exception_reason": "PROCESSING_ERROR",
               "message": "The audio model failed to render this prompt"})
    );
    assert_eq!(
        status("demo-timeout"),
        json!({"status": "TIMEOUT", "run_id": null})
    );
    assert_eq!(
        status("demo-payment-required"),
        json!({"status": "PAYMENT_REQUIRED", "run_id": null,
               "exception_reason": "PAYMENT_REQUIRED", "message": "Not enough credits"})
    );
    assert_eq!(
        status("demo-unknown"),
        json!({"status": "QUEUED_FOR_GPU", "run_id": null})
    );
    assert_eq!(
        status("demo-pending"),
        json!({"status": "PENDING", "run_id": null})
    );
    // The status comes first on the wire, as in the real API.
    assert!(
        client
            .get("/text-to-sound/demo-success")
            .text()
            .starts_with(r#"{"status":"SUCCESS""#)
    );

    let wav = client.get("/text-to-sound-result/4242");
    assert_eq!(wav.status, 200);
    parse_wav(&wav.body);
}

#[test]
fn demo_tasks_can_be_left_out() {
    let emulator = Emulator::start(Config {
        demo_tasks: false,
        ..Config::default()
    })
    .unwrap();
    let reply = Client::new(&emulator).get("/text-to-sound/demo-success");
    assert_eq!(reply.status, 404);
    assert_eq!(
        Client::new(&emulator)
            .get("/text-to-sound-result/4242")
            .status,
        404
    );
}

#[test]
fn unknown_ids_404_with_the_decoded_id() {
    let emulator = start(0);
    let client = Client::new(&emulator);
    let reply = client.get("/text-to-sound/a%20b%2Fc");
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json(), json!({"detail": "Task not found: a b/c"}));
    let reply = client.get("/text-to-sound/%C3%A9t%C3%A9%3F%26");
    assert_eq!(reply.json(), json!({"detail": "Task not found: été?&"}));
    // Invalid UTF-8 still gets a JSON 404, never a crash or plain text.
    let reply = client.get("/text-to-sound/%FF");
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json(), json!({"detail": "Task not found: \u{FFFD}"}));
    // A literal slash is another (unknown) route.
    let reply = client.get("/text-to-sound/a/b");
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json(), json!({"detail": "Not Found"}));
}

#[test]
fn percent_encoded_ids_round_trip() {
    let emulator = start(0);
    let id = emulator.add_task(TaskSpec {
        task_id: Some("a b/c?d#é".into()),
        run_id: Some(77),
        ..TaskSpec::default()
    });
    assert_eq!(id, "a b/c?d#é");
    let reply = Client::new(&emulator).get("/text-to-sound/a%20b%2Fc%3Fd%23%C3%A9");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json(), json!({"status": "SUCCESS", "run_id": 77}));
    // With a literal slash it is a different route.
    let reply = Client::new(&emulator).get("/text-to-sound/a%20b/c%3Fd%23%C3%A9");
    assert_eq!(reply.json(), json!({"detail": "Not Found"}));
}

#[test]
fn task_ids_longer_than_256_characters_are_422() {
    let emulator = start(0);
    let client = Client::new(&emulator);
    let ok = client.get(&format!("/text-to-sound/{}", "x".repeat(256)));
    assert_eq!(ok.status, 404);
    let long = client.get(&format!("/text-to-sound/{}", "x".repeat(257)));
    assert_eq!(
        long.json(),
        json!({"detail": [{"loc": ["path", "task_id"],
            "msg": "String should have at most 256 characters", "type": "string_too_long"}]})
    );
    assert_eq!(long.status, 422);
}

#[test]
fn run_id_query_must_be_an_integer() {
    let emulator = start(0);
    let client = Client::new(&emulator);
    let bad = client.get("/text-to-sound/demo-success?run_id=abc");
    assert_eq!(bad.status, 422);
    assert_eq!(
        bad.json(),
        json!({"detail": [{"loc": ["query", "run_id"],
            "msg": "Input should be a valid integer, unable to parse string as an integer",
            "type": "int_parsing"}]})
    );
    assert_eq!(
        client.get("/text-to-sound/demo-success?run_id=4242").status,
        200
    );
    assert_422(
        &client.post("/text-to-sound?run_id=1.5", r#"{"prompt":"x"}"#),
        json!(["query", "run_id"]),
        "int_parsing",
    );
}

#[test]
fn create_validates_its_body() {
    let emulator = start(0);
    let client = Client::new(&emulator);
    let cases = [
        ("", json!(["body"]), "missing"),
        ("[1]", json!(["body"]), "model_attributes_type"),
        ("{}", json!(["body", "prompt"]), "missing"),
        (r#"{"prompt": 5}"#, json!(["body", "prompt"]), "string_type"),
        (
            r#"{"prompt": ""}"#,
            json!(["body", "prompt"]),
            "string_too_short",
        ),
        (
            r#"{"prompt":"x","audio_type":"speech"}"#,
            json!(["body", "audio_type"]),
            "enum",
        ),
        (
            r#"{"prompt":"x","duration":0}"#,
            json!(["body", "duration"]),
            "greater_than",
        ),
        (
            r#"{"prompt":"x","duration":-1}"#,
            json!(["body", "duration"]),
            "greater_than",
        ),
        (
            r#"{"prompt":"x","duration":10.5}"#,
            json!(["body", "duration"]),
            "less_than_equal",
        ),
        (
            r#"{"prompt":"x","duration":"long"}"#,
            json!(["body", "duration"]),
            "float_parsing",
        ),
        (
            r#"{"prompt":"x","duration":[]}"#,
            json!(["body", "duration"]),
            "float_type",
        ),
        (
            r#"{"prompt":"x","folder_id":"f"}"#,
            json!(["body", "folder_id"]),
            "int_parsing",
        ),
        (
            r#"{"prompt":"x","project_name":5}"#,
            json!(["body", "project_name"]),
            "string_type",
        ),
    ];
    for (body, loc, kind) in cases {
        assert_422(&client.post("/text-to-sound", body), loc, kind);
    }
    assert_json_invalid(&client.post("/text-to-sound", "{"));
    // FastAPI does not parse JSON sent under another content type.
    assert_422(
        &client.post_as("/text-to-sound", Some("text/plain"), r#"{"prompt":"x"}"#),
        json!(["body"]),
        "model_attributes_type",
    );
    // All problems are reported at once.
    let many = client.post("/text-to-sound", r#"{"audio_type":"speech","duration":0}"#);
    assert_eq!(many.json()["detail"].as_array().map(Vec::len), Some(3));

    // Valid variants: music may be long, optional fields may be null, no content type is JSON.
    for body in [
        r#"{"prompt":"x","audio_type":"music","duration":30}"#,
        r#"{"prompt":"x","duration":10,"project_name":"p","project_description":null,"folder_id":3}"#,
        r#"{"prompt":"x","audio_type":null,"duration":null,"extra":true}"#,
    ] {
        let reply = client.post("/text-to-sound", body);
        assert_eq!(reply.status, 200, "{body}: {}", reply.text());
    }
    let reply = client.post_as("/text-to-sound", None, r#"{"prompt":"x"}"#);
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[test]
fn created_tasks_succeed_after_pending_ms() {
    let emulator = start(400);
    let client = Client::new(&emulator);
    let create = |prompt: &str| {
        let reply = client.post("/text-to-sound", &json!({ "prompt": prompt }).to_string());
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()["task_id"]
            .as_str()
            .expect("task_id")
            .to_string()
    };
    let first = create("rain on a tin roof");
    let second = create("rain on a tin roof");
    assert_ne!(first, second);
    assert_eq!(first.len(), 36, "uuid-shaped: {first}");

    let status = |id: &str| client.get(&format!("/text-to-sound/{id}")).json();
    assert_eq!(status(&first), json!({"status": "PENDING", "run_id": null}));
    sleep(Duration::from_millis(450));
    let done = status(&first);
    assert_eq!(done["status"], "SUCCESS");
    let run = done["run_id"].as_i64().expect("integer run id");
    assert_ne!(Some(run), status(&second)["run_id"].as_i64());
    assert_eq!(done.as_object().map(|o| o.len()), Some(2), "{done}");

    let wav = client.get(&format!("/text-to-sound-result/{run}"));
    assert_eq!(wav.status, 200);
    assert!(
        (parse_wav(&wav.body).seconds() - 8.0).abs() < 1e-9,
        "default duration"
    );
}

#[test]
fn prompts_steer_the_outcome() {
    let emulator = start(0);
    let client = Client::new(&emulator);
    let outcome = |prompt: &str| {
        let created = client.post("/text-to-sound", &json!({ "prompt": prompt }).to_string());
        let id = created.json()["task_id"].as_str().unwrap().to_string();
        client.get(&format!("/text-to-sound/{id}")).json()
    };
    let error = outcome("boom [status:ERROR]");
    assert_eq!(error["status"], "ERROR");
    assert_eq!(error["exception_reason"], "PROCESSING_ERROR");
    assert!(error["message"].is_string());
    let run = error["run_id"].as_i64().expect("errors have a run id");
    let result = client.get(&format!("/text-to-sound-result/{run}"));
    assert_eq!(result.status, 400);
    assert_eq!(
        result.json(),
        json!({"detail": "Task has not succeeded: ERROR"})
    );

    assert_eq!(
        outcome("[status:TIMEOUT] slow"),
        json!({"status": "TIMEOUT", "run_id": null})
    );
    let payment = outcome("[status:PAYMENT_REQUIRED]");
    assert_eq!(payment["status"], "PAYMENT_REQUIRED");
    assert_eq!(payment["exception_reason"], "PAYMENT_REQUIRED");
    assert_eq!(
        outcome("[status:QUEUED_FOR_GPU]")["status"],
        "QUEUED_FOR_GPU"
    );
    assert_eq!(outcome("[pending_ms:60000] later")["status"], "PENDING");
    assert_eq!(outcome("fine")["status"], "SUCCESS");
}

#[test]
fn results_are_real_deterministic_wavs() {
    let emulator = start(0);
    let client = Client::new(&emulator);
    let render = |body: serde_json::Value| {
        let created = client.post("/text-to-sound", &body.to_string());
        let id = created.json()["task_id"].as_str().unwrap().to_string();
        let run = client.get(&format!("/text-to-sound/{id}")).json()["run_id"]
            .as_i64()
            .unwrap();
        let reply = client.get(&format!(
            "/text-to-sound-result/{run}?output_type=RAW_BYTES"
        ));
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("content-type"), Some("audio/wav"));
        assert_eq!(
            reply.header("content-length").and_then(|v| v.parse().ok()),
            Some(reply.body.len()),
        );
        reply.body
    };
    let rain = render(json!({"prompt": "rain", "duration": 1.5}));
    let info = parse_wav(&rain);
    assert_eq!((info.sample_rate, info.channels, info.bits), (22050, 1, 16));
    assert_eq!(info.samples, 33075);
    assert!((info.seconds() - 1.5).abs() < 1e-9);
    assert!(peak(&rain) > 5000, "audible");
    // Fades in from silence.
    assert_eq!(&rain[44..46], &[0, 0]);

    assert_eq!(rain, render(json!({"prompt": "rain", "duration": 1.5})));
    assert_ne!(rain, render(json!({"prompt": "thunder", "duration": 1.5})));

    let music = render(json!({"prompt": "lullaby", "duration": 12, "audio_type": "music"}));
    let info = parse_wav(&music);
    assert!((info.seconds() - 12.0).abs() < 1e-9);
    assert!(peak(&music) > 5000);
}

#[test]
fn result_errors() {
    let emulator = start(0);
    let client = Client::new(&emulator);
    assert_422(
        &client.get("/text-to-sound-result/abc"),
        json!(["path", "run_id"]),
        "int_parsing",
    );
    assert_422(
        &client.get("/text-to-sound-result/4242?output_type=MP3"),
        json!(["query", "output_type"]),
        "enum",
    );
    let unknown = client.get("/text-to-sound-result/999999");
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json(), json!({"detail": "Run not found: 999999"}));
    let failed = client.get("/text-to-sound-result/4243");
    assert_eq!(failed.status, 400);
    assert_eq!(
        failed.json(),
        json!({"detail": "Task has not succeeded: ERROR"})
    );
}

#[test]
fn file_urls_serve_the_same_wav_without_a_key() {
    let emulator = start(0);
    let client = Client::new(&emulator);
    let raw = client.get("/text-to-sound-result/4242");
    let reply = client.get("/text-to-sound-result/4242?output_type=FILE_URL");
    assert_eq!(reply.status, 200);
    let url = reply.json()["file_url"].as_str().unwrap().to_string();
    let prefix = format!(
        "{}/_emulator/files/4242.wav?signature=",
        emulator.base_url()
    );
    assert!(url.starts_with(&prefix), "{url}");

    let anon = Client::new(&emulator).without_key();
    let file = anon.get(&url);
    assert_eq!(file.status, 200);
    assert_eq!(file.header("content-type"), Some("audio/wav"));
    assert_eq!(file.body, raw.body);

    let forged = anon.get(&format!("{prefix}0000"));
    assert_eq!(forged.status, 403);
    assert!(forged.text().contains("SignatureDoesNotMatch"));
    assert_eq!(anon.get(&url.replace("4242.wav", "4243.wav")).status, 403);
    assert_eq!(anon.get("/_emulator/files/nope.wav").status, 404);
}

#[test]
fn bulk_results_list_successful_runs_only() {
    let emulator = start(0);
    let client = Client::new(&emulator);
    let created = client.post("/text-to-sound", r#"{"prompt":"bulk"}"#);
    let id = created.json()["task_id"].as_str().unwrap().to_string();
    let run = client.get(&format!("/text-to-sound/{id}")).json()["run_id"]
        .as_i64()
        .unwrap();

    let body = json!({ "run_ids": [4242, 4243, 31337, run] }).to_string();
    let reply = client.post("/text-to-sound-results", &body);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let results = reply.json();
    let map = results.as_object().unwrap();
    let mut keys: Vec<String> = map.keys().cloned().collect();
    keys.sort();
    let mut expected = ["4242".to_string(), run.to_string()];
    expected.sort();
    assert_eq!(keys, expected);
    let url = map["4242"]["output_url"].as_str().unwrap();
    let file = Client::new(&emulator).without_key().get(url);
    assert_eq!(file.status, 200);
    parse_wav(&file.body);

    assert_eq!(
        client
            .post("/text-to-sound-results", r#"{"run_ids":[]}"#)
            .json(),
        json!({})
    );
    assert_422(
        &client.post("/text-to-sound-results", "{}"),
        json!(["body", "run_ids"]),
        "missing",
    );
    assert_422(
        &client.post("/text-to-sound-results", r#"{"run_ids":"4242"}"#),
        json!(["body", "run_ids"]),
        "list_type",
    );
    assert_422(
        &client.post("/text-to-sound-results", r#"{"run_ids":[4242,"x"]}"#),
        json!(["body", "run_ids", 1]),
        "int_parsing",
    );
    assert_json_invalid(&client.post("/text-to-sound-results", "nope"));
}

#[test]
fn unknown_routes_and_methods_answer_in_json() {
    let emulator = start(0);
    let client = Client::new(&emulator);
    let reply = client.get("/no/such/route");
    assert_eq!(
        (reply.status, reply.json()),
        (404, json!({"detail": "Not Found"}))
    );
    let reply = client.post("/text-to-sound/demo-success", "{}");
    assert_eq!(reply.status, 405);
    assert_eq!(reply.json(), json!({"detail": "Method Not Allowed"}));
}
