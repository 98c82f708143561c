//! How an emulator instance behaves: which keys it accepts and how slow its tasks, replies
//! and speech streams are.

/// The API key every emulator accepts unless told otherwise.
pub const DEFAULT_API_KEY: &str = "camb-emulator-key";

/// Settings for one emulator instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Accepted `x-api-key` values. An empty list rejects every API call.
    pub api_keys: Vec<String>,
    /// How long (in milliseconds) a task created through `POST /text-to-sound` stays PENDING,
    /// unless its prompt says `[pending_ms:N]`. The demo tasks use it too, counted from start.
    pub pending_ms: u64,
    /// Seed the `demo-*` tasks (see the crate docs).
    pub demo_tasks: bool,
    /// How long (in milliseconds) every request to the emulated API waits before it is
    /// answered, as if the server were far away or busy: 0 (the default) adds nothing. The
    /// wait is a timer, not a blocked thread, so concurrent requests wait at the same time.
    /// The control API (`/_emulator/tasks`, `faults`, `stats`, `reset`) is never delayed.
    pub request_delay_ms: u64,
    /// How long (in milliseconds) `/tts-stream` takes to produce its first audio chunk,
    /// counted from when the request reaches the handler (after `request_delay_ms`). The
    /// status line and headers go out at once, as a streaming server's do.
    pub tts_first_chunk_ms: u64,
    /// How fast `/tts-stream` produces audio after the first chunk: 1.0 = real time (a
    /// second of audio takes a second), 2.0 = twice as fast, 0.0 = as fast as the client
    /// reads it.
    pub tts_pace: f64,
    /// Milliseconds of audio in each `/tts-stream` chunk (FLAC frames: at least 64 and at
    /// most 4096 samples). 0 counts as 1.
    pub tts_chunk_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            api_keys: vec![DEFAULT_API_KEY.to_string()],
            pending_ms: 3000,
            demo_tasks: true,
            request_delay_ms: 0,
            tts_first_chunk_ms: 150,
            tts_pace: 1.0,
            tts_chunk_ms: 20,
        }
    }
}
