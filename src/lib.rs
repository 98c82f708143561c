//! libcamb: a client for CAMB.AI's text-to-sound ("Sound and Music") API with a
//! plain C ABI.
//!
//! The crate has two layers. The safe core ([`client::Client`] and the modules it
//! uses) does the JSON, retries and error mapping in ordinary Rust, and the HTTP
//! through ureq ([`transport`]). The [`ffi`] layer is a thin `extern "C"` surface
//! over it; `build.rs` turns that surface into `include/camb.h` with cbindgen.

pub mod api_key;
pub mod batch;
pub mod cancel;
pub mod client;
pub mod config;
pub mod create;
pub mod download;
pub mod error;
pub mod ffi;
pub mod http_error;
pub mod json;
pub mod path;
pub mod resolver;
pub mod results;
pub mod retry;
pub mod task;
pub(crate) mod transport;
pub(crate) mod url;
pub mod wait;

pub use cancel::CancelToken;
pub use client::Client;
pub use config::ClientConfig;
pub use create::{AudioType, CreateRequest};
pub use error::{Error, ErrorKind};
pub use task::{TaskInfo, TaskStatus};
pub use wait::{Progress, WaitOptions};
