//! A local emulator of CAMB.AI's text-to-sound ("Sound and Music") and streaming
//! text-to-speech APIs.
//!
//! It serves the API endpoints on `127.0.0.1` so that client tests, demos and benchmarks
//! run offline and cost no credits.
//!
//! Text-to-sound (task based):
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
//! Text-to-speech (streaming):
//!
//! - `POST /tts-stream` validates its JSON body like the real (FastAPI) service, including
//!   the locales each speech model speaks, then streams speech-like audio synthesised from
//!   the text (WAV with open-ended sizes, FLAC, or raw PCM in six layouts; mono) with
//!   chunked transfer-encoding and an `X-Credits-Required` header. The first chunk comes
//!   after `Config::tts_first_chunk_ms`, the rest at `Config::tts_pace` times real time,
//!   `Config::tts_chunk_ms` of audio at a time. Each stream is recorded in
//!   [`Stats::tts_streams`] with the `CLOCK_MONOTONIC` time of its first chunk
//!   ([`monotonic_ns`]).
//! - `GET /list-voices` lists the voices (their ids are the valid `voice_id`s);
//!   `GET /source-languages` and `GET /target-languages` list language ids and locales.
//!
//! Where CAMB's sources disagree or say nothing, the emulator chooses: a request without a
//! `speech_model` gets `mars-flash`; without a format, WAV (the SDK documents MP3, which
//! the emulator cannot encode: `mp3` and `adts` are answered with a 422); `auto` runs at
//! 22.05 kHz; the per-model locale lists are its own (33 for mars-flash and mars-pro).
//!
//! All API calls need an `x-api-key` from `Config::api_keys`. Demo tasks (`demo-success`
//! with run 4242, `demo-error`, `demo-timeout`, `demo-payment-required`, `demo-unknown`,
//! and `demo-pending` which never finishes) exist from the start.
//! `Config::request_delay_ms` holds every API reply for a while, without holding a thread,
//! as a distant server would.
//!
//! Tests steer it in-process through [`Emulator`], or over HTTP through the key-less control
//! API: `POST /_emulator/tasks` ([`TaskSpec`]), `POST /_emulator/faults` ([`Fault`]: canned
//! replies, delays, stalls, and bodies cut mid-stream or with a declared length),
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
//! // The next speech stream stops after 4 KiB, without its terminating chunk.
//! emulator.push_fault(Fault {
//!     path_prefix: Some("/tts-stream".into()),
//!     cut_after_bytes: Some(4096),
//!     ..Fault::default()
//! });
//! println!("point the client at {}", emulator.base_url());
//! # Ok::<(), std::io::Error>(())
//! ```

mod body;
mod clock;
mod config;
mod control;
mod middleware;
mod prompt;
mod reply;
mod routes;
mod server;
mod state;
mod tts;
mod types;
mod validate;
pub mod wav;

pub use clock::monotonic_ns;
pub use config::{Config, DEFAULT_API_KEY};
pub use server::Emulator;
pub use types::{Fault, FaultResponse, RecordedRequest, Stats, TaskSpec, TtsStream};
