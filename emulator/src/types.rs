//! The public data types: what tests put into the emulator (tasks, faults) and what they read
//! back (stats). They double as the JSON bodies of the `/_emulator/*` control API, so every
//! field has a serde default and a JSON body may leave out whatever it does not care about.

use serde::{Deserialize, Serialize};

/// A task to plant in the emulator, as if it had been created through the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskSpec {
    /// The task id; `None` generates a fresh uuid-like id.
    pub task_id: Option<String>,
    /// The status reported once the task is final. Any string is sent verbatim, including
    /// ones the real API does not list (e.g. `"QUEUED_FOR_GPU"`); `"PENDING"` never finishes.
    pub final_status: String,
    /// The task reports PENDING until this many milliseconds after it was added.
    pub pending_ms: u64,
    /// The `run_id` sent once final; `None` sends JSON `null`. A `SUCCESS` task with a run id
    /// has a downloadable result under that id.
    pub run_id: Option<i64>,
    /// Leave the `run_id` key out of every status reply (some servers do).
    pub omit_run_id: bool,
    /// `exception_reason` sent once final, if set.
    pub exception_reason: Option<String>,
    /// `message` sent once final, if set: a string or any JSON value.
    pub message: Option<serde_json::Value>,
    /// Length in seconds of the rendered audio result.
    pub duration_s: f64,
    /// `"sound"` or `"music"`: selects the synthesis style of the audio result.
    pub audio_type: String,
    /// The prompt the audio result is synthesised from.
    pub prompt: String,
}

impl Default for TaskSpec {
    fn default() -> Self {
        TaskSpec {
            task_id: None,
            final_status: "SUCCESS".to_string(),
            pending_ms: 0,
            run_id: None,
            omit_run_id: false,
            exception_reason: None,
            message: None,
            duration_s: 2.0,
            audio_type: "sound".to_string(),
            prompt: String::new(),
        }
    }
}

/// A misbehaviour to inject into upcoming API requests (everything but the control endpoints).
///
/// Faults form a FIFO queue: each request takes the first queued fault whose `path_prefix`
/// matches and whose `times` is not used up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Fault {
    /// Match requests whose raw (still percent-encoded) path starts with this; `None` matches all.
    pub path_prefix: Option<String>,
    /// How many matching requests the fault applies to.
    pub times: u32,
    /// Sleep this long before answering (before any header is sent).
    pub delay_ms: u64,
    /// Answer with this instead of the normal reply.
    pub respond: Option<FaultResponse>,
    /// Send the headers and the first half of the normal body, then stall this long before
    /// the rest. 0 = off. Ignored when `respond` is set.
    pub body_delay_ms: u64,
    /// Send only this many bytes of the normal body, then close the connection abruptly:
    /// a chunked reply (e.g. `/tts-stream`'s) gets no terminating zero-length chunk, a
    /// reply with a Content-Length comes up short. A body no longer than this is sent
    /// whole. Ignored when `respond` is set.
    pub cut_after_bytes: Option<u64>,
    /// Send the normal body with a `Content-Length` of its full size instead of chunked
    /// encoding (`/tts-stream` computes it up front). With `cut_after_bytes`, the client
    /// gets fewer bytes than declared. Ignored when `respond` is set.
    pub declare_length: bool,
}

impl Default for Fault {
    fn default() -> Self {
        Fault {
            path_prefix: None,
            times: 1,
            delay_ms: 0,
            respond: None,
            body_delay_ms: 0,
            cut_after_bytes: None,
            declare_length: false,
        }
    }
}

/// A canned reply for a [`Fault`]. In JSON, `headers` is a list of `[name, value]` pairs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultResponse {
    /// HTTP status code; an invalid one (outside 100..=999) is sent as 500.
    pub status: u16,
    /// Extra headers, e.g. `("Retry-After", "2")`. Invalid names or values are skipped.
    pub headers: Vec<(String, String)>,
    /// The body, sent verbatim.
    pub body: String,
    /// The `Content-Type` header; `None` sends none (unless `headers` has one).
    pub content_type: Option<String>,
}

impl Default for FaultResponse {
    fn default() -> Self {
        FaultResponse {
            status: 500,
            headers: Vec::new(),
            body: String::new(),
            content_type: None,
        }
    }
}

/// What the emulator has seen since it started or was last reset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    /// TCP connections accepted (control-API connections included). Exact: tests use it to
    /// prove that a client reuses keep-alive connections.
    pub connections_accepted: u64,
    /// API requests received (control endpoints excluded; file downloads included).
    pub requests_total: u64,
    /// The most recent API requests, oldest first (at most 1000).
    pub requests: Vec<RecordedRequest>,
    /// The most recent `/tts-stream` replies that started streaming audio (status 200),
    /// oldest first (at most 1000), as they stand now: a stream still running shows its
    /// progress so far.
    pub tts_streams: Vec<TtsStream>,
}

/// One `/tts-stream` reply, for latency and throughput measurements.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TtsStream {
    /// The audio format served: `wav`, `flac`, `pcm_s16le`, ...
    pub format: String,
    /// Samples per second of the audio.
    pub sample_rate: u32,
    /// Body bytes handed to the HTTP layer so far (headers not counted).
    pub bytes_sent: u64,
    /// `clock_gettime(CLOCK_MONOTONIC)` in nanoseconds, taken right before the first
    /// audio chunk was handed to the HTTP layer for writing; the same clock as a C
    /// program's on this machine. `None` until then.
    pub first_chunk_at_ns: Option<u64>,
    /// The whole body was handed over (false while streaming, and for a cut or abandoned
    /// stream).
    pub completed: bool,
}

/// One API request as received.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The raw path, still percent-encoded, as on the wire.
    pub path: String,
    /// The raw query string (without `?`), if any.
    pub query: Option<String>,
    /// All headers in arrival order, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body as lossy UTF-8, cut at 64 KiB.
    pub body: String,
}
