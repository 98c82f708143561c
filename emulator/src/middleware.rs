//! Layers around the emulated API: request recording, the configured reply delay and fault
//! injection (outermost, so they hit every API request, authenticated or not), and API key
//! checks.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::body::{CutBody, StallBody};
use crate::reply::detail;
use crate::state::Shared;
use crate::types::{Fault, FaultResponse, RecordedRequest};

/// Largest request body accepted (the same as axum's default limit).
const MAX_REQUEST_BODY: usize = 2 * 1024 * 1024;
/// How much of each body `Stats` keeps.
const MAX_RECORDED_BODY: usize = 64 * 1024;

/// A fault's instructions for the reply body (`Fault::cut_after_bytes`,
/// `Fault::declare_length`), handed to the handler in the request's extensions: a
/// streaming handler applies them itself, since it alone knows its length up front and
/// what it really sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct BodyFault {
    pub cut_after_bytes: Option<u64>,
    pub declare_length: bool,
}

impl BodyFault {
    fn of(fault: &Fault) -> Option<BodyFault> {
        (fault.cut_after_bytes.is_some() || fault.declare_length).then_some(BodyFault {
            cut_after_bytes: fault.cut_after_bytes,
            declare_length: fault.declare_length,
        })
    }
}

/// Marks a response whose body already applied the `BodyFault`.
#[derive(Debug, Clone, Copy)]
pub struct ShapedBody;

/// Records the request, waits `Config::request_delay_ms`, then applies the first matching
/// queued fault, if any (a fault's own delay comes on top of the configured one).
pub async fn record_and_fault(
    State(state): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    // The body is read up front so it can be recorded; handlers get it back unchanged.
    let body = to_bytes(body, MAX_REQUEST_BODY).await;
    let recorded_body = body
        .as_ref()
        .map_or(&[][..], |b| &b[..b.len().min(MAX_RECORDED_BODY)]);
    state.record(RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(recorded_body).into_owned(),
    });
    let Ok(body) = body else {
        configured_delay(&state).await;
        return detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large");
    };

    // Taken on arrival, so faults go to requests in the order they came, whatever the delay.
    let fault = state.take_fault(parts.uri.path());
    configured_delay(&state).await;
    let mut request = Request::from_parts(parts, Body::from(body));
    let Some(fault) = fault else {
        return next.run(request).await;
    };
    if fault.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
    }
    if let Some(canned) = fault.respond {
        return canned_response(canned);
    }
    let body_fault = BodyFault::of(&fault);
    if let Some(body_fault) = body_fault {
        request.extensions_mut().insert(body_fault);
    }
    let mut response = next.run(request).await;
    if let Some(body_fault) = body_fault {
        if response.extensions().get::<ShapedBody>().is_none() {
            response = shape_body(response, body_fault).await;
        }
    }
    if fault.body_delay_ms == 0 {
        return response;
    }
    stall_mid_body(response, Duration::from_millis(fault.body_delay_ms)).await
}

/// Waits `Config::request_delay_ms` on a timer: the task yields, so no thread is held and
/// concurrent requests wait at the same time.
async fn configured_delay(state: &Shared) {
    let delay_ms = state.config.request_delay_ms;
    if delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    }
}

/// Answers 401 unless `x-api-key` is one of the configured keys. The key is never echoed.
pub async fn require_api_key(
    State(state): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let key = request
        .headers()
        .get("x-api-key")
        .map(|v| v.as_bytes())
        .filter(|v| !v.is_empty());
    match key {
        None => detail(
            StatusCode::UNAUTHORIZED,
            "Missing API key: send it in the x-api-key header",
        ),
        Some(key) if state.config.api_keys.iter().any(|k| k.as_bytes() == key) => {
            next.run(request).await
        }
        Some(_) => detail(StatusCode::UNAUTHORIZED, "Invalid API key"),
    }
}

fn canned_response(canned: FaultResponse) -> Response {
    let status = StatusCode::from_u16(canned.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, canned.body).into_response();
    let headers = response.headers_mut();
    // Only what the fault asks for: axum's default text/plain would mislead clients.
    headers.remove(header::CONTENT_TYPE);
    if let Some(value) = canned
        .content_type
        .and_then(|ct| HeaderValue::from_str(&ct).ok())
    {
        headers.insert(header::CONTENT_TYPE, value);
    }
    for (name, value) in canned.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(name, value);
        }
    }
    response
}

/// Applies a `BodyFault` to a reply whose handler did not: a declared length needs the
/// body's size (buffered when it does not tell it), a cut wraps the body.
async fn shape_body(response: Response, fault: BodyFault) -> Response {
    let (mut parts, mut body) = response.into_parts();
    if fault.declare_length && http_body::Body::size_hint(&body).exact().is_none() {
        let Ok(bytes) = to_bytes(body, usize::MAX).await else {
            return detail(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Emulator could not buffer the body",
            );
        };
        body = Body::from(bytes);
    }
    if let Some(limit) = fault.cut_after_bytes {
        // Hyper takes the length from the body's size hint, which the cut keeps.
        parts.headers.remove(header::CONTENT_LENGTH);
        body = Body::new(CutBody::new(body, limit));
    }
    Response::from_parts(parts, body)
}

/// Re-sends a finished response so that it stalls halfway through its body.
async fn stall_mid_body(response: Response, stall: Duration) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(body) = to_bytes(body, usize::MAX).await else {
        return detail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Emulator could not buffer the body",
        );
    };
    // The new body states its own exact length.
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::new(StallBody::new(body, stall)))
}
