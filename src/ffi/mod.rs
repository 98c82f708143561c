//! The C ABI: thin `extern "C"` functions over the safe core. Each one checks its
//! pointers, runs inside [`boundary`]'s panic guard, and maps errors to result codes.
#![allow(non_camel_case_types)]

pub mod batch;
pub mod boundary;
pub mod builder;
pub mod cancel;
pub mod client;
pub mod create;
pub mod last_error;
pub mod result;
pub mod results;
pub mod task_info;
pub mod version;
pub mod wait;
