//! How an emulator instance behaves: which keys it accepts and how slow its tasks and replies
//! are.

/// The API key every emulator accepts unless told otherwise.
pub const DEFAULT_API_KEY: &str = "camb-emulator-key";

/// Settings for one emulator instance.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            api_keys: vec![DEFAULT_API_KEY.to_string()],
            pending_ms: 3000,
            demo_tasks: true,
            request_delay_ms: 0,
        }
    }
}
