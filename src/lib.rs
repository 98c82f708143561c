//! libcamb: a client for CAMB.AI's text-to-sound ("Sound and Music") API with a
//! plain C ABI.
//!
//! The crate has two layers. The safe core ([`client::Client`] and the modules it
//! uses) does the JSON, retries and error mapping in ordinary Rust, and the HTTP
//! through ureq ([`transport`]). The [`ffi`] layer is a thin `extern "C"` surface
//! over it; `build.rs` turns that surface into `include/camb.h` with cbindgen.

// What the C layer, the tests, the fuzz targets and the benches use is public;
// the rest is the crate's own.
pub mod api_key;
pub(crate) mod audio_pipe;
pub(crate) mod audio_urls;
pub mod blocking;
pub mod cancel;
pub mod client;
pub mod config;
pub mod create;
pub(crate) mod destination;
pub(crate) mod download;
pub mod error;
pub mod error_reply;
pub mod ffi;
pub(crate) mod engine;
pub(crate) mod json;
pub(crate) mod operations;
pub mod log;
pub mod path;
pub(crate) mod readiness;
pub(crate) mod resolver;
pub mod retry;
pub mod speech;
pub(crate) mod speech_stream;
pub(crate) mod secrets;
pub mod task;
pub(crate) mod transport;
pub(crate) mod url;
pub mod voices;
pub mod wait;

pub use cancel::CancelToken;
pub use client::Client;
pub use config::ClientConfig;
pub use create::{AudioType, CreateRequest};
pub use error::{Error, ErrorKind};
pub use speech::{SpeechInfo, SpeechRequest};
pub use task::{TaskInfo, TaskStatus};
pub use voices::{Language, Languages, Voice};
pub use wait::{Progress, WaitOptions};
