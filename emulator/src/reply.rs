//! Reply builders in the shapes the real (FastAPI) service uses.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

/// A JSON reply. Takes any `Serialize` so structs keep their field order on the wire.
pub fn json(status: StatusCode, value: &impl Serialize) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `{"detail": "..."}`, FastAPI's shape for every error but validation.
pub fn detail(status: StatusCode, message: impl Into<String>) -> Response {
    json(status, &json!({ "detail": message.into() }))
}

/// One entry of a 422 `detail` list. `loc` is e.g. `["body", "prompt"]`.
pub fn field_error(loc: Value, msg: &str, kind: &str) -> Value {
    json!({ "loc": loc, "msg": msg, "type": kind })
}

/// FastAPI's 422: `{"detail": [{"loc": [...], "msg": "...", "type": "..."}, ...]}`.
pub fn unprocessable(errors: Vec<Value>) -> Response {
    json(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({ "detail": errors }),
    )
}
