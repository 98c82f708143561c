//! `GET /list-voices`: the voices a `/tts-stream` request may name by `voice_id`.
//!
//! The item shape is the SDK's `Voice` model: `id` and `voice_name`, then optional
//! fields that may be `null`. `gender` uses the docs' codes (0 not known, 1 male,
//! 2 female, 9 not applicable) and `language` is a language id, not a locale. One voice
//! carries a key the SDK does not know (`tags`), one is mostly nulls, as a user's fresh
//! clone might be: clients must take both. `signed_url` (a sample's URL in the real
//! API) is always `null`: the emulator serves no voice samples.

use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde::Serialize;

use crate::reply::{json, unprocessable};
use crate::validate;

/// The voice CAMB's docs use in their examples.
pub const DOCS_VOICE_ID: i64 = 147_320;

/// One voice, its fields in the SDK model's order (serde keeps struct order on the wire).
#[derive(Debug, Serialize)]
pub struct Voice {
    pub id: i64,
    pub voice_name: &'static str,
    pub gender: Option<i64>,
    pub age: Option<i64>,
    pub language: Option<i64>,
    pub transcript: Option<&'static str>,
    pub description: Option<&'static str>,
    pub is_published: Option<bool>,
    pub signed_url: Option<&'static str>,
    /// Not in the SDK's model: left out of the JSON when empty.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub tags: &'static [&'static str],
}

pub static VOICES: [Voice; 5] = [
    Voice {
        id: DOCS_VOICE_ID,
        voice_name: "Alice",
        gender: Some(2),
        age: Some(32),
        language: Some(1),
        transcript: Some("Hello, I'm Alice. I read stories, news and anything in between."),
        description: Some("Warm, clear American English narrator"),
        is_published: Some(true),
        signed_url: None,
        tags: &[],
    },
    Voice {
        id: 147_321,
        voice_name: "Bastien",
        gender: Some(1),
        age: Some(41),
        language: Some(76),
        transcript: Some("Bonjour, je m'appelle Bastien."),
        description: Some("Calm French documentary voice"),
        is_published: Some(true),
        signed_url: None,
        tags: &["calm", "documentary"],
    },
    Voice {
        id: 147_322,
        voice_name: "Mei",
        gender: Some(2),
        age: Some(27),
        language: Some(139),
        transcript: Some("你好，我是美。"),
        description: Some("Bright Mandarin voice for assistants"),
        is_published: Some(true),
        signed_url: None,
        tags: &[],
    },
    Voice {
        id: 147_323,
        voice_name: "Station Announcer",
        gender: Some(9),
        age: None,
        language: Some(1),
        transcript: None,
        description: Some("Synthetic voice for announcements"),
        is_published: Some(false),
        signed_url: None,
        tags: &[],
    },
    Voice {
        id: 20_299,
        voice_name: "My cloned voice",
        gender: None,
        age: None,
        language: None,
        transcript: None,
        description: None,
        is_published: None,
        signed_url: None,
        tags: &[],
    },
];

pub fn exists(id: i64) -> bool {
    VOICES.iter().any(|v| v.id == id)
}

/// `GET /list-voices[?run_id=N]`.
pub async fn list(uri: Uri) -> Response {
    if let Err(e) = validate::query_int(uri.query(), "run_id") {
        return unprocessable(vec![e]);
    }
    json(StatusCode::OK, &VOICES)
}
