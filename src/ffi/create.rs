//! `camb_client_create_task()` and its options.

use std::ffi::c_char;
use std::sync::Arc;

use crate::create::{AudioType, CreateRequest};
use crate::error::Error;
use crate::ffi::boundary::{optional_str_arg, out_arg, result_call, str_arg};
use crate::ffi::cancel::{camb_cancel_token, run_blocking};
use crate::ffi::client::{camb_client, client_arg};
use crate::ffi::options::{Field, field, init_sized, read_sized};
use crate::ffi::result_code::camb_result;
use crate::ffi::string::give_string;
use crate::operations::CreateWork;

/// What kind of audio to generate.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum camb_audio_type {
    /// Let the server choose (sound).
    Default = 0,
    /// A sound effect: at most 10 seconds.
    Sound = 1,
    /// Music.
    Music = 2,
}

/// Options of `camb_client_create_task()`. Start from `camb_create_options_default()`
/// (in C and C++; an FFI calls `camb_create_options_init()`) and change what you
/// need; the strings are borrowed for the call only.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct camb_create_options {
    /// The size of this struct in the camb.h the program was built with; set by
    /// `camb_create_options_default()` or `camb_create_options_init()`. It lets a
    /// later libcamb add fields without breaking programs built before
    /// (docs/ABI.md).
    pub struct_size: usize,
    /// Seconds of audio; 0 lets the server choose (8 s). For sound, at most 10.
    pub duration_s: f64,
    /// A `CAMB_AUDIO_TYPE_*` value.
    pub audio_type: u32,
    /// NULL: none.
    pub project_name: *const c_char,
    /// NULL: none.
    pub project_description: *const c_char,
    /// Whether `folder_id` is sent.
    pub has_folder_id: bool,
    /// The folder to file the task in, when `has_folder_id`.
    pub folder_id: i64,
    /// Retry the call after a connection failure, 408, 429 or 5xx. Off by default:
    /// creating is not idempotent, so a retry after a lost reply can create (and
    /// bill) a second task. Turn it on only if duplicates are acceptable.
    pub retry: bool,
}

/// `camb_create_options` as libcamb reads it: the same layout with the `bool`
/// fields as bytes, any value of which is defined (non-zero is true).
#[repr(C)]
#[derive(Clone, Copy)]
struct RawCreateOptions {
    struct_size: usize,
    duration_s: f64,
    audio_type: u32,
    project_name: *const c_char,
    project_description: *const c_char,
    has_folder_id: u8,
    folder_id: i64,
    retry: u8,
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<RawCreateOptions>() == size_of::<camb_create_options>());
    assert!(
        offset_of!(RawCreateOptions, duration_s) == offset_of!(camb_create_options, duration_s)
    );
    assert!(align_of::<RawCreateOptions>() == align_of::<camb_create_options>());
    assert!(
        offset_of!(RawCreateOptions, has_folder_id)
            == offset_of!(camb_create_options, has_folder_id)
    );
    assert!(offset_of!(RawCreateOptions, folder_id) == offset_of!(camb_create_options, folder_id));
    assert!(offset_of!(RawCreateOptions, retry) == offset_of!(camb_create_options, retry));
};

impl From<camb_create_options> for RawCreateOptions {
    fn from(options: camb_create_options) -> RawCreateOptions {
        RawCreateOptions {
            struct_size: options.struct_size,
            duration_s: options.duration_s,
            audio_type: options.audio_type,
            project_name: options.project_name,
            project_description: options.project_description,
            has_folder_id: u8::from(options.has_folder_id),
            folder_id: options.folder_id,
            retry: u8::from(options.retry),
        }
    }
}

/// The fields after `struct_size`, for reading and filling a caller's struct of
/// any size.
fn fields() -> [Field; 7] {
    [
        field!(RawCreateOptions, duration_s),
        field!(RawCreateOptions, audio_type),
        field!(RawCreateOptions, project_name),
        field!(RawCreateOptions, project_description),
        field!(RawCreateOptions, has_folder_id),
        field!(RawCreateOptions, folder_id),
        field!(RawCreateOptions, retry),
    ]
}

/// Fills `*options`, a struct of `struct_size` bytes (pass `sizeof` it), with the
/// defaults: server-chosen duration and type, no project, no folder, no retry,
/// and `struct_size` itself. A struct from an older camb.h (smaller) gets the
/// fields it has. C and C++ programs may call the header's
/// `camb_create_options_default()` instead, which does this with the header's size.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER`; `CAMB_RESULT_INVALID_PARAMETER` if
/// `struct_size` is larger than this library's struct (a program built with a newer
/// camb.h) or smaller than a `size_t`.
// The caller's part: `options` is NULL or valid for writing `struct_size` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_create_options_init(
    options: *mut camb_create_options,
    struct_size: usize,
) -> camb_result {
    result_call(|| {
        let defaults = RawCreateOptions::from(camb_create_options_default());
        // SAFETY: NULL or `struct_size` writable bytes (the caller's part); the
        // mirror shares the layout, and any of its bit patterns is valid.
        unsafe {
            init_sized(
                options.cast::<RawCreateOptions>(),
                struct_size,
                defaults,
                &fields(),
                "camb_create_options",
            )
        }
    })
}

/// The defaults as this library's struct (for Rust; C and C++ get the header's
/// `camb_create_options_default()`, which calls `camb_create_options_init()`).
pub fn camb_create_options_default() -> camb_create_options {
    camb_create_options {
        struct_size: std::mem::size_of::<camb_create_options>(),
        duration_s: 0.0,
        audio_type: camb_audio_type::Default as u32,
        project_name: std::ptr::null(),
        project_description: std::ptr::null(),
        has_folder_id: false,
        folder_id: 0,
        retry: false,
    }
}

/// Creates a text-to-sound task (`POST /text-to-sound`). On success `*out_task_id`
/// is its id, a new NUL-terminated string that the caller frees with
/// `camb_string_free()` (its length in `*out_len`, unless `out_len` is NULL);
/// pass it to `camb_client_wait_for_task()`.
///
/// `options` may be NULL for the defaults. The prompt and options are checked
/// before anything is sent: an empty prompt, or a duration that is negative, not
/// finite, or over 10 s for sound, fail with `CAMB_RESULT_INVALID_PARAMETER` and
/// cost nothing (a duration of 0 means the server's default).
///
/// Not retried unless `options->retry` is set. After `CAMB_RESULT_CONNECT`,
/// `CAMB_RESULT_TIMEOUT` or `CAMB_RESULT_SERVER_ERROR` the server may still have
/// created (and billed) the task; the API offers no way to tell, so retrying the
/// create is the caller's choice.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER`; `CAMB_RESULT_INVALID_PARAMETER` (see
/// above, an unknown `audio_type`, or an options `struct_size` this library cannot
/// read); `CAMB_RESULT_VALIDATION`
/// when the server rejects the request (the message lists each field);
/// `CAMB_RESULT_PAYMENT_REQUIRED`; and the errors of any call
/// (see `camb_client_get_task_status()`).
///
/// `cancel` (may be NULL) stops the call from another thread before its
/// request is sent, or during a retry's wait (`CAMB_RESULT_CANCELLED`).
///
/// Thread-safety: any number of threads may call this on one client at once.
/// Its job form is `camb_client_job_create_task()`.
// The caller's part: `client` is NULL or a live client; `prompt` and the options' strings are NULL
// or NUL-terminated; `options` is NULL or points to a `camb_create_options`;
// `cancel` is NULL or a live token; `out_task_id` is NULL or valid for writing
// a pointer; `out_len` is NULL or valid for writing a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_create_task(
    client: *const camb_client,
    prompt: *const c_char,
    options: *const camb_create_options,
    cancel: *const camb_cancel_token,
    out_task_id: *mut *mut c_char,
    out_len: *mut usize,
) -> camb_result {
    result_call(|| {
        // SAFETY: for each argument, the caller's contract above.
        let client = unsafe { client_arg(client) }?;
        // SAFETY: NULL or NUL-terminated.
        let prompt = unsafe { str_arg(prompt, "prompt") }?;
        out_arg(out_task_id, "out_task_id")?;
        // SAFETY: NULL or a camb_create_options of its struct_size bytes whose
        // strings are NULL or NUL-terminated (the caller's part).
        let request = unsafe { create_request(prompt, options) }?;
        let mut work = CreateWork::new(client, request, Arc::default())?;
        // SAFETY: NULL or a live token.
        let task_id = unsafe { run_blocking(&mut work, cancel) }?.into_task_id()?;
        // SAFETY: out_task_id checked non-NULL above; out_len NULL or writable.
        unsafe { give_string(out_task_id, out_len, task_id, "task id") }
    })
}

/// The request `prompt` and `options` ask for (the options may be NULL, from an
/// older or this camb.h); not yet checked against the API's rules.
///
/// # Safety
/// `options` is NULL or a `camb_create_options` of its `struct_size` bytes, whose
/// strings are NULL or NUL-terminated.
pub(crate) unsafe fn create_request(
    prompt: &str,
    options: *const camb_create_options,
) -> Result<CreateRequest, Error> {
    // Read through a mirror whose flags are bytes: a C caller's `bool` may hold
    // any byte (an uninitialised struct, an FFI that writes uint8_t), and such a
    // byte read as a Rust bool would be undefined behaviour.
    // SAFETY: NULL or a camb_create_options of its struct_size bytes, whose
    // layout the mirror shares (asserted next to RawCreateOptions); every bit
    // pattern of the mirror is valid.
    let options = unsafe {
        read_sized(
            options.cast::<RawCreateOptions>(),
            RawCreateOptions::from(camb_create_options_default()),
            &fields(),
            "camb_create_options",
        )
    }?;
    Ok(CreateRequest {
        prompt: prompt.to_owned(),
        duration: (options.duration_s != 0.0).then_some(options.duration_s),
        audio_type: match options.audio_type {
            0 => None,
            1 => Some(AudioType::Sound),
            2 => Some(AudioType::Music),
            other => {
                return Err(Error::invalid(format!(
                    "audio_type {other} is not a CAMB_AUDIO_TYPE_* value"
                )));
            }
        },
        // SAFETY: NULL or NUL-terminated, per the contract.
        project_name: unsafe { optional_str_arg(options.project_name, "project_name") }?,
        // SAFETY: as above.
        project_description: unsafe {
            optional_str_arg(options.project_description, "project_description")
        }?,
        folder_id: (options.has_folder_id != 0).then_some(options.folder_id),
        retry: options.retry != 0,
    })
}
