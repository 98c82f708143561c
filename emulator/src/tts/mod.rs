//! Streaming text-to-speech: `POST /tts-stream`, and the voices and languages it uses.
//!
//! One request, one reply: the body is the audio itself (WAV, FLAC or raw PCM, mono),
//! streamed with chunked transfer-encoding as it is "synthesised", with an
//! `X-Credits-Required` header. Errors come before any audio, as JSON.

pub mod encode;
pub mod fields;
pub mod languages;
pub mod models;
pub mod render;
pub mod request;
pub mod speech;
pub mod stream;
pub mod voices;

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use crate::middleware::{BodyFault, ShapedBody};
use crate::reply::{detail, unprocessable};
use crate::routes::content_type;
use crate::state::Shared;
use render::Renderer;
use stream::{Pacing, TtsBody};

/// `POST /tts-stream`.
pub async fn stream(
    State(state): State<Arc<Shared>>,
    fault: Option<Extension<BodyFault>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let request = match request::parse(content_type(&headers).as_deref(), &body) {
        Ok(request) => request,
        Err(errors) => return unprocessable(errors),
    };
    if !voices::exists(request.voice_id) {
        return detail(
            StatusCode::NOT_FOUND,
            format!("Voice not found: {}", request.voice_id),
        );
    }
    let config = &state.config;
    let fault = fault.map(|Extension(f)| f).unwrap_or_default();
    let declared = if fault.declare_length {
        // FLAC is encoded once to learn its length: off the async workers.
        let (request, chunk_ms) = (request.clone(), config.tts_chunk_ms);
        match tokio::task::spawn_blocking(move || Renderer::total_len(&request, chunk_ms)).await {
            Ok(Ok(total)) => Some(total),
            Ok(Err(e)) => return detail(StatusCode::INTERNAL_SERVER_ERROR, e),
            Err(e) => return detail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    } else {
        None
    };
    let render = match Renderer::new(&request, config.tts_chunk_ms) {
        Ok(render) => render,
        Err(e) => return detail(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let pacing = Pacing {
        first_at: started + Duration::from_millis(config.tts_first_chunk_ms),
        pace: config.tts_pace,
        sample_rate: request.sample_rate,
    };
    let progress = state.start_tts_stream(request.format.name(), request.sample_rate);
    let body = TtsBody::new(render, pacing, fault.cut_after_bytes, declared, progress);
    let mut response = (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(request.format.content_type()),
            ),
            (
                header::HeaderName::from_static("x-credits-required"),
                HeaderValue::from(request.credits()),
            ),
        ],
        Body::new(body),
    )
        .into_response();
    // The body applies the fault itself; the middleware must not wrap it again.
    response.extensions_mut().insert(ShapedBody);
    response
}
