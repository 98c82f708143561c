//! The `/_emulator/*` control API: the HTTP twin of the `Emulator` methods, for tests
//! written in C or Python and for people poking at a running emulator. No API key needed.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::reply::{detail, json};
use crate::state::Shared;
use crate::types::{Fault, TaskSpec};

type AppState = State<Arc<Shared>>;

/// `POST /_emulator/tasks` with a `TaskSpec` (an empty body means all defaults).
pub async fn add_task(State(state): AppState, body: Bytes) -> Response {
    match parse::<TaskSpec>(&body) {
        Ok(spec) => json(StatusCode::OK, &json!({ "task_id": state.add_task(spec) })),
        Err(message) => detail(StatusCode::BAD_REQUEST, message),
    }
}

/// `POST /_emulator/faults` with a `Fault` -> 204.
pub async fn push_fault(State(state): AppState, body: Bytes) -> Response {
    match parse::<Fault>(&body) {
        Ok(fault) => {
            state.push_fault(fault);
            no_content()
        }
        Err(message) => detail(StatusCode::BAD_REQUEST, message),
    }
}

/// `GET /_emulator/stats`.
pub async fn stats(State(state): AppState) -> Response {
    match serde_json::to_value(state.stats()) {
        Ok(stats) => json(StatusCode::OK, &stats),
        Err(e) => detail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `POST /_emulator/reset` -> 204.
pub async fn reset(State(state): AppState) -> Response {
    state.reset();
    no_content()
}

fn parse<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| format!("Invalid control body: {e}"))
}

fn no_content() -> Response {
    let mut response = Response::default();
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}
