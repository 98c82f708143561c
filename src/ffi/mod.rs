//! The C ABI: thin `extern "C"` functions over the safe core. Each one checks its
//! pointers, runs inside [`boundary`]'s panic guard, and maps errors to result codes.
//!
//! cbindgen writes include/camb.h from these modules in the order below, which is
//! the order a C user meets them: versioning, result codes and errors, strings
//! handed over, the builder, the client, a task's status, creating, waiting, the
//! audio, many statuses at once, generating, jobs (the same operations without
//! blocking) and the queue that delivers them, cancellation.
#![allow(non_camel_case_types)]
// Each function's contract on its pointers is stated in its doc in C's words (the
// header is the C documentation), not under a Rust-style `# Safety` heading.
#![allow(clippy::missing_safety_doc)]

pub mod version;
pub mod result_code;
pub mod last_error;
pub mod string;
pub mod builder;
pub mod client;
pub mod task;
pub mod create;
pub mod wait;
pub mod audio;
pub mod batch;
pub mod generate;
pub mod job;
pub mod queue;
pub mod cancel;
pub mod speech;
pub mod voices;

pub(crate) mod boundary;
pub(crate) mod options;
