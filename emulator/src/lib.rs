//! A local emulator of CAMB.AI's text-to-sound ("Sound and Music") API.
//!
//! It serves the four API endpoints on `127.0.0.1` so that client tests, demos and
//! benchmarks run offline and cost no credits:
//!
//! - `POST /text-to-sound` creates a task; it is PENDING for `Config::pending_ms`, then
//!   SUCCESS with a fresh run id. Prompts can steer the outcome: `[status:ERROR]`,
//!   `[status:TIMEOUT]`, `[status:PAYMENT_REQUIRED]` or any other `[status:X]`, and
//!   `[pending_ms:N]`.
//! - `GET /text-to-sound/{task_id}` reports a task's status.
//! - `GET /text-to-sound-result/{run_id}` streams a real WAV synthesised from the prompt, or
//!   (`output_type=FILE_URL`) a pre-signed URL under `/_emulator/files/`.
//! - `POST /text-to-sound-results` maps run ids to such URLs.
//!
//! All of them need an `x-api-key` from `Config::api_keys`. Demo tasks (`demo-success` with
//! run 4242, `demo-error`, `demo-timeout`, `demo-payment-required`, `demo-unknown`, and
//! `demo-pending` which never finishes) exist from the start. `Config::request_delay_ms`
//! holds every API reply for a while, without holding a thread, as a distant server would.
//!
//! Tests steer it in-process through [`Emulator`], or over HTTP through the key-less control
//! API: `POST /_emulator/tasks` ([`TaskSpec`]), `POST /_emulator/faults` ([`Fault`]),
//! `GET /_emulator/stats` ([`Stats`]) and `POST /_emulator/reset`.
//!
//! ```no_run
//! use camb_emulator::{Config, Emulator, Fault, FaultResponse};
//!
//! let emulator = Emulator::start(Config { pending_ms: 50, ..Config::default() })?;
//! emulator.push_fault(Fault {
//!     respond: Some(FaultResponse { status: 503, ..FaultResponse::default() }),
//!     ..Fault::default()
//! });
//! println!("point the client at {}", emulator.base_url());
//! # Ok::<(), std::io::Error>(())
//! ```

mod body;
mod config;
mod control;
mod middleware;
mod prompt;
mod reply;
mod routes;
mod server;
mod state;
mod types;
mod validate;
pub mod wav;

pub use config::{Config, DEFAULT_API_KEY};
pub use server::Emulator;
pub use types::{Fault, FaultResponse, RecordedRequest, Stats, TaskSpec};
