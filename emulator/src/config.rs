//! How an emulator instance behaves: which keys it accepts and how slow its tasks are.

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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            api_keys: vec![DEFAULT_API_KEY.to_string()],
            pending_ms: 3000,
            demo_tasks: true,
        }
    }
}
