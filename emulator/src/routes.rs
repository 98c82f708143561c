//! The emulated CAMB API endpoints (and the pre-signed file downloads they hand out).
//!
//! Handlers read raw path segments from the URI and decode them themselves: axum's `Path`
//! extractor rejects ids that are not valid UTF-8 with a plain-text 400, whereas the emulator
//! must answer every request in the API's own JSON shapes.

use std::borrow::Cow;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

use crate::body::WavBody;
use crate::prompt;
use crate::reply::{detail, field_error, json, unprocessable};
use crate::state::{Audio, RunLookup, Shared};
use crate::validate::{self, MAX_TASK_ID_CHARS};
use crate::wav::{self, Synth};

type AppState = State<Arc<Shared>>;

/// `POST /text-to-sound`: validates the body and plants a task steered by its prompt.
pub async fn create(State(state): AppState, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut errors = Vec::new();
    if let Err(e) = validate::query_int(uri.query(), "run_id") {
        errors.push(e);
    }
    let request = match validate::create_request(content_type(&headers).as_deref(), &body) {
        Ok(request) => Some(request),
        Err(mut body_errors) => {
            errors.append(&mut body_errors);
            None
        }
    };
    match request {
        Some(request) if errors.is_empty() => {
            let spec = prompt::task_for(&request, state.config.pending_ms);
            let task_id = state.create_task(spec);
            json(StatusCode::OK, &json!({ "task_id": task_id }))
        }
        _ => unprocessable(errors),
    }
}

/// `GET /text-to-sound/{task_id}`.
pub async fn task_status(State(state): AppState, uri: Uri) -> Response {
    let id = decode(last_segment(uri.path()));
    let mut errors = Vec::new();
    if id.chars().count() > MAX_TASK_ID_CHARS {
        errors.push(field_error(
            json!(["path", "task_id"]),
            &format!("String should have at most {MAX_TASK_ID_CHARS} characters"),
            "string_too_long",
        ));
    }
    if let Err(e) = validate::query_int(uri.query(), "run_id") {
        errors.push(e);
    }
    if !errors.is_empty() {
        return unprocessable(errors);
    }
    match state.task_status(&id) {
        Some(status) => json(StatusCode::OK, &status),
        None => detail(StatusCode::NOT_FOUND, format!("Task not found: {id}")),
    }
}

/// `GET /text-to-sound-result/{run_id}?output_type=RAW_BYTES|FILE_URL`.
pub async fn result(State(state): AppState, uri: Uri) -> Response {
    let mut errors = Vec::new();
    let run_id = match validate::parse_int(&decode(last_segment(uri.path()))) {
        Ok(id) => Some(id),
        Err((msg, kind)) => {
            errors.push(field_error(json!(["path", "run_id"]), msg, kind));
            None
        }
    };
    let output_type = validate::query_param(uri.query(), "output_type");
    let want_url = match output_type.as_deref().unwrap_or("RAW_BYTES") {
        "RAW_BYTES" => false,
        "FILE_URL" => true,
        _ => {
            errors.push(field_error(
                json!(["query", "output_type"]),
                "Input should be 'RAW_BYTES' or 'FILE_URL'",
                "enum",
            ));
            false
        }
    };
    let Some(run_id) = run_id.filter(|_| errors.is_empty()) else {
        return unprocessable(errors);
    };
    match state.lookup_run(run_id) {
        RunLookup::Unknown => detail(StatusCode::NOT_FOUND, format!("Run not found: {run_id}")),
        RunLookup::NotSucceeded(status) => detail(
            StatusCode::BAD_REQUEST,
            format!("Task has not succeeded: {status}"),
        ),
        RunLookup::Ready(_) if want_url => json(
            StatusCode::OK,
            &json!({ "file_url": state.file_url(run_id) }),
        ),
        RunLookup::Ready(audio) => wav_response(&audio),
    }
}

/// `POST /text-to-sound-results`: file URLs for the known, successful runs among `run_ids`.
pub async fn bulk_results(State(state): AppState, headers: HeaderMap, body: Bytes) -> Response {
    let run_ids = match validate::run_ids(content_type(&headers).as_deref(), &body) {
        Ok(ids) => ids,
        Err(errors) => return unprocessable(errors),
    };
    let mut results = Map::new();
    for run_id in run_ids {
        if let RunLookup::Ready(_) = state.lookup_run(run_id) {
            results.insert(
                run_id.to_string(),
                json!({ "output_url": state.file_url(run_id) }),
            );
        }
    }
    json(StatusCode::OK, &Value::Object(results))
}

/// `GET /_emulator/files/{run_id}.wav?signature=...`: the pre-signed download. Like a cloud
/// bucket, it needs no API key but a valid signature, and answers errors in XML.
pub async fn file(State(state): AppState, uri: Uri) -> Response {
    let name = decode(last_segment(uri.path()));
    let Some(run_id) = name
        .strip_suffix(".wav")
        .and_then(|n| validate::parse_int(n).ok())
    else {
        return bucket_error(StatusCode::NOT_FOUND, "NoSuchKey");
    };
    if validate::query_param(uri.query(), "signature") != Some(state.signature(run_id)) {
        return bucket_error(StatusCode::FORBIDDEN, "SignatureDoesNotMatch");
    }
    match state.lookup_run(run_id) {
        RunLookup::Ready(audio) => wav_response(&audio),
        _ => bucket_error(StatusCode::NOT_FOUND, "NoSuchKey"),
    }
}

/// Unknown paths, in FastAPI's words.
pub async fn not_found() -> Response {
    detail(StatusCode::NOT_FOUND, "Not Found")
}

pub async fn method_not_allowed() -> Response {
    detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}

fn wav_response(audio: &Audio) -> Response {
    let synth = Synth::new(
        &audio.prompt,
        &audio.audio_type,
        wav::sample_count(audio.duration_s),
    );
    (
        [(header::CONTENT_TYPE, "audio/wav")],
        Body::new(WavBody::new(synth)),
    )
        .into_response()
}

fn bucket_error(status: StatusCode, code: &str) -> Response {
    let body =
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code></Error>\n");
    (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

/// The request's `Content-Type`, if any (lossy, so an odd header never means "absent").
pub(crate) fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// The final segment of a matched path: the route's single parameter.
fn last_segment(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or("")
}

/// Percent-decodes a path segment; invalid UTF-8 becomes U+FFFD, as in Starlette.
fn decode(segment: &str) -> Cow<'_, str> {
    percent_decode_str(segment).decode_utf8_lossy()
}
