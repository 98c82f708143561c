//! The C ABI: thin `extern "C"` functions over the safe core. Each one checks its
//! pointers, runs inside [`boundary`]'s panic guard, and maps errors to result codes.
#![allow(non_camel_case_types)]

pub mod boundary;
pub mod builder;
pub mod client;
pub mod last_error;
pub mod result;
pub mod task_info;
pub mod version;
