//! Streaming text-to-speech: `camb_client_speak()` (audio to a callback on the
//! calling thread), `camb_client_speak_to_file()`, their job forms (a job whose
//! audio the caller reads with `camb_job_read_audio()`, and a job that saves),
//! their options and what the caller is told of the audio.

use std::ffi::{c_char, c_void};
use std::path::PathBuf;
use std::sync::Arc;

use crate::audio_pipe::AudioPipe;
use crate::engine::StepContext;
use crate::error::{Error, ErrorKind};
use crate::ffi::boundary::{
    null_parameter, optional_str_arg, out_arg, path_arg, result_call, str_arg,
};
use crate::ffi::cancel::{camb_cancel_token, run_blocking};
use crate::ffi::client::{camb_client, client_arg};
use crate::ffi::job::{Job, camb_job, camb_job_kind, job_ref, make_job, making};
use crate::ffi::options::{Field, field, init_sized, read_sized};
use crate::ffi::result_code::camb_result;
use crate::operations::{Output, SpeakToFileWork, SpeakWork};
use crate::speech::{
    InferenceOptions, MAX_FORMAT_BYTES, OutputConfiguration, SpeechInfo, SpeechRequest,
    VoiceSettings,
};

/// A yes/no option that may be left unset: not sent, so the server's own
/// default applies.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum camb_flag {
    /// Not sent (the default of every flag option).
    Unset = 0,
    /// Sent as `false`.
    No = 1,
    /// Sent as `true`.
    Yes = 2,
}

/// Options of `camb_client_speak()` and the other speech calls. Start from
/// `camb_speech_options_default()` (in C and C++; an FFI calls
/// `camb_speech_options_init()`) and set what you need: every option starts
/// unset, and an unset option is not sent, so the server's default applies.
/// Unset is NULL for a string, `CAMB_FLAG_UNSET` for a flag, 0 for an integer
/// and NaN for a number (`NAN` from math.h), which the defaults set. The
/// format is the exception: it is always sent (see `format`). Strings the
/// sources disagree on (models, formats) are passed through as given; the
/// server's 422 says what it does not take. The strings are borrowed for the
/// call only (a job copies them).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct camb_speech_options {
    /// The size of this struct in the camb.h the program was built with; set by
    /// `camb_speech_options_default()` or `camb_speech_options_init()`
    /// (docs/ABI.md).
    pub struct_size: usize,
    /// The audio format: `wav` (NULL, the default), `flac`, `mp3`, `adts`, or
    /// raw `pcm_s16le`, `pcm_s16be`, `pcm_s32le`, `pcm_s32be`, `pcm_f32le`,
    /// `pcm_f32be` (at most 31 bytes). Always sent, so the server's own
    /// default, which the sources disagree on, never applies.
    pub format: *const c_char,
    /// Samples per second (`output_configuration.sample_rate`); 0: unset (the
    /// model's rate).
    pub sample_rate: u32,
    /// Seconds of audio (`output_configuration.duration`); NaN: unset (the
    /// server decides from the text).
    pub duration_s: f64,
    /// `output_configuration.apply_enhancement`, a `camb_flag`.
    pub apply_enhancement: u32,
    /// `mars-flash`, `mars-pro`, `mars-instruct`, `mars-8.1-flash-beta`,
    /// `mars-8.1-pro-beta`... NULL: unset.
    pub speech_model: *const c_char,
    /// How to speak (CAMB's docs: `mars-instruct` only). NULL: unset.
    pub user_instructions: *const c_char,
    /// `enhance_named_entities_pronunciation`, a `camb_flag`.
    pub enhance_named_entities: u32,
    /// `voice_settings.enhance_reference_audio_quality`, a `camb_flag`.
    pub enhance_reference_audio_quality: u32,
    /// `voice_settings.maintain_source_accent`, a `camb_flag`.
    pub maintain_source_accent: u32,
    /// `voice_settings.apply_ref_loudness_norm`, a `camb_flag`. Unset is not
    /// sent (the official SDK sends false whenever any voice setting is given).
    pub apply_ref_loudness_norm: u32,
    /// `voice_settings.speaking_rate`; NaN: unset.
    pub speaking_rate: f64,
    /// `inference_options.stability` (0 to 1); NaN: unset. The inference
    /// options are for the MARS-8 models.
    pub stability: f64,
    /// `inference_options.temperature` (0.01 to 4); NaN: unset.
    pub temperature: f64,
    /// `inference_options.inference_steps` (1 to 1000); 0: unset.
    pub inference_steps: u32,
    /// `inference_options.speaker_similarity` (0 to 1); NaN: unset.
    pub speaker_similarity: f64,
    /// `inference_options.localize_speaker_weight`; NaN: unset.
    pub localize_speaker_weight: f64,
    /// `inference_options.acoustic_quality_boost`, a `camb_flag`.
    pub acoustic_quality_boost: u32,
}

/// The fields after `struct_size`, for reading and filling a caller's struct of
/// any size. (Every field's bit patterns are all valid: no bool, no enum.)
fn fields() -> [Field; 17] {
    [
        field!(camb_speech_options, format),
        field!(camb_speech_options, sample_rate),
        field!(camb_speech_options, duration_s),
        field!(camb_speech_options, apply_enhancement),
        field!(camb_speech_options, speech_model),
        field!(camb_speech_options, user_instructions),
        field!(camb_speech_options, enhance_named_entities),
        field!(camb_speech_options, enhance_reference_audio_quality),
        field!(camb_speech_options, maintain_source_accent),
        field!(camb_speech_options, apply_ref_loudness_norm),
        field!(camb_speech_options, speaking_rate),
        field!(camb_speech_options, stability),
        field!(camb_speech_options, temperature),
        field!(camb_speech_options, inference_steps),
        field!(camb_speech_options, speaker_similarity),
        field!(camb_speech_options, localize_speaker_weight),
        field!(camb_speech_options, acoustic_quality_boost),
    ]
}

/// The defaults as this library's struct (for Rust; C and C++ get the header's
/// `camb_speech_options_default()`, which calls `camb_speech_options_init()`).
pub fn camb_speech_options_default() -> camb_speech_options {
    let unset_flag = camb_flag::Unset as u32;
    camb_speech_options {
        struct_size: std::mem::size_of::<camb_speech_options>(),
        format: std::ptr::null(),
        sample_rate: 0,
        duration_s: f64::NAN,
        apply_enhancement: unset_flag,
        speech_model: std::ptr::null(),
        user_instructions: std::ptr::null(),
        enhance_named_entities: unset_flag,
        enhance_reference_audio_quality: unset_flag,
        maintain_source_accent: unset_flag,
        apply_ref_loudness_norm: unset_flag,
        speaking_rate: f64::NAN,
        stability: f64::NAN,
        temperature: f64::NAN,
        inference_steps: 0,
        speaker_similarity: f64::NAN,
        localize_speaker_weight: f64::NAN,
        acoustic_quality_boost: unset_flag,
    }
}

/// Fills `*options`, a struct of `struct_size` bytes (pass `sizeof` it), with
/// the defaults: every option unset, and `struct_size` itself. A struct from an
/// older camb.h (smaller) gets the fields it has. C and C++ programs may call
/// the header's `camb_speech_options_default()` instead.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER`; `CAMB_RESULT_INVALID_PARAMETER` if
/// `struct_size` is larger than this library's struct or smaller than a `size_t`.
// The caller's part: `options` is NULL or valid for writing `struct_size` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_speech_options_init(
    options: *mut camb_speech_options,
    struct_size: usize,
) -> camb_result {
    result_call(|| {
        // SAFETY: NULL or `struct_size` writable bytes (the caller's part); any
        // bit pattern of the struct's fields is valid.
        unsafe {
            init_sized(
                options,
                struct_size,
                camb_speech_options_default(),
                &fields(),
                "camb_speech_options",
            )
        }
    })
}

/// What a speech call tells about its audio. The caller sets `struct_size` to
/// `sizeof` the struct before passing it: libcamb writes only the fields that
/// lie within it, so a program built with an older camb.h keeps working.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct camb_speech_info {
    /// Set by the caller: `sizeof(camb_speech_info)`. In the info handed to a
    /// `camb_speech_fn`, this library's size.
    pub struct_size: usize,
    /// The format asked for (and so served), NUL-terminated: `wav` unless the
    /// options named another.
    pub format: [c_char; 32],
    /// Samples per second. For WAV and FLAC, what the audio's own header says
    /// once it has arrived; before that, and for raw PCM, the rate asked for,
    /// else the model's (48000 for `mars-pro` and the `mars-8.1` models, 22050
    /// for `mars-flash` and `mars-instruct`); 0 when none of these tells (raw
    /// PCM from an unnamed or unknown model: set `sample_rate` to be sure).
    pub sample_rate: u32,
    /// Channels: from a WAV or FLAC header (0 until it has arrived); 1 for raw
    /// PCM, which the API serves mono as far as any source shows.
    pub channels: u32,
    /// Whether the reply carried `X-Credits-Required` as a number.
    pub has_credits: bool,
    /// The credits the request costs (`X-Credits-Required`), when `has_credits`.
    pub credits: f64,
    /// Bytes of audio received so far (all of it, at the end).
    pub bytes: u64,
}

impl camb_speech_info {
    fn of(info: &SpeechInfo) -> camb_speech_info {
        let mut format = [0 as c_char; 32];
        for (to, from) in format
            .iter_mut()
            .zip(info.format.bytes().take(MAX_FORMAT_BYTES))
        {
            *to = from as c_char;
        }
        camb_speech_info {
            struct_size: std::mem::size_of::<camb_speech_info>(),
            format,
            sample_rate: info.sample_rate,
            channels: u32::from(info.channels),
            has_credits: info.credits.is_some(),
            credits: info.credits.unwrap_or(0.0),
            bytes: info.bytes,
        }
    }

    /// Refuses a caller's struct too small to hold its `struct_size`: checked
    /// before any request, so that a paid stream is never made for nothing.
    ///
    /// # Safety
    /// `out` is NULL or a `camb_speech_info` whose `struct_size` is readable.
    unsafe fn check(out: *const camb_speech_info) -> Result<(), Error> {
        if out.is_null() {
            return Ok(());
        }
        // SAFETY: non-NULL; starts with a size_t (the contract).
        let size = unsafe { out.cast::<usize>().read_unaligned() };
        if size < std::mem::size_of::<usize>() {
            return Err(Error::invalid(format!(
                "camb_speech_info.struct_size is {size}: set it to sizeof(camb_speech_info)"
            )));
        }
        Ok(())
    }

    /// Writes `info` into the caller's struct, as much of it as its
    /// `struct_size` holds (which is left as it is).
    ///
    /// # Safety
    /// `out` is NULL or a `camb_speech_info` whose `struct_size` bytes are
    /// writable.
    unsafe fn write_to(out: *mut camb_speech_info, info: &SpeechInfo) -> Result<(), Error> {
        if out.is_null() {
            return Ok(());
        }
        // SAFETY: non-NULL; starts with a size_t (the contract).
        let size = unsafe { out.cast::<usize>().read_unaligned() };
        let known = std::mem::size_of::<camb_speech_info>();
        if size < std::mem::size_of::<usize>() {
            return Err(Error::invalid(format!(
                "camb_speech_info.struct_size is {size}: set it to sizeof(camb_speech_info)"
            )));
        }
        let value = camb_speech_info::of(info);
        let from = std::ptr::from_ref(&value).cast::<u8>();
        let skip = std::mem::size_of::<usize>();
        // SAFETY: the bytes after struct_size, within both the caller's
        // struct_size and this library's struct.
        unsafe {
            std::ptr::copy_nonoverlapping(
                from.add(skip),
                out.cast::<u8>().add(skip),
                size.min(known) - skip,
            );
        }
        Ok(())
    }
}

/// Receives the audio of `camb_client_speak()` as it arrives, on the calling
/// thread: `len` bytes at `data` and what is known of the audio so far
/// (`info->bytes` includes this chunk), both valid only during the call.
/// Chunks are as the network delivers them, of any size. Return true to
/// continue, false to stop (`CAMB_RESULT_CANCELLED`). It must not unwind (C++
/// exceptions, longjmp) through libcamb. It may call libcamb, but must not
/// free the client or the token in use.
pub type camb_speech_fn = Option<
    unsafe extern "C" fn(
        data: *const u8,
        len: usize,
        info: *const camb_speech_info,
        user_data: *mut c_void,
    ) -> bool,
>;

/// The request the arguments ask for; checked, so that nothing is sent for a
/// bad one.
///
/// # Safety
/// `text` and `language` are NULL or NUL-terminated; `options` is NULL or a
/// `camb_speech_options` of its `struct_size` bytes whose strings are NULL or
/// NUL-terminated.
pub(crate) unsafe fn speech_request(
    text: *const c_char,
    language: *const c_char,
    voice_id: i64,
    options: *const camb_speech_options,
) -> Result<SpeechRequest, Error> {
    // SAFETY: NULL or NUL-terminated (the contract).
    let text = unsafe { str_arg(text, "text") }?;
    // SAFETY: as above.
    let language = unsafe { str_arg(language, "language") }?;
    // SAFETY: NULL or a camb_speech_options of its struct_size bytes; every bit
    // pattern of its fields is valid.
    let o = unsafe {
        read_sized(
            options,
            camb_speech_options_default(),
            &fields(),
            "camb_speech_options",
        )
    }?;
    // SAFETY: each string NULL or NUL-terminated (the contract).
    let text_option = |ptr, name| unsafe { optional_str_arg(ptr, name) };
    let request = SpeechRequest {
        text: text.to_owned(),
        language: language.to_owned(),
        voice_id,
        speech_model: text_option(o.speech_model, "speech_model")?,
        user_instructions: text_option(o.user_instructions, "user_instructions")?,
        enhance_named_entities_pronunciation: flag(
            o.enhance_named_entities,
            "enhance_named_entities",
        )?,
        output_configuration: OutputConfiguration {
            format: text_option(o.format, "format")?
                .unwrap_or_else(|| crate::speech::DEFAULT_FORMAT.to_owned()),
            sample_rate: (o.sample_rate != 0).then_some(o.sample_rate),
            duration: number(o.duration_s),
            apply_enhancement: flag(o.apply_enhancement, "apply_enhancement")?,
        },
        voice_settings: VoiceSettings {
            enhance_reference_audio_quality: flag(
                o.enhance_reference_audio_quality,
                "enhance_reference_audio_quality",
            )?,
            maintain_source_accent: flag(o.maintain_source_accent, "maintain_source_accent")?,
            apply_ref_loudness_norm: flag(o.apply_ref_loudness_norm, "apply_ref_loudness_norm")?,
            speaking_rate: number(o.speaking_rate),
        },
        inference_options: InferenceOptions {
            stability: number(o.stability),
            temperature: number(o.temperature),
            inference_steps: (o.inference_steps != 0).then_some(o.inference_steps),
            speaker_similarity: number(o.speaker_similarity),
            localize_speaker_weight: number(o.localize_speaker_weight),
            acoustic_quality_boost: flag(o.acoustic_quality_boost, "acoustic_quality_boost")?,
        },
    };
    request.validate()?;
    Ok(request)
}

/// NaN is unset; anything else is sent (an infinity is refused by the check).
fn number(value: f64) -> Option<f64> {
    (!value.is_nan()).then_some(value)
}

fn flag(value: u32, name: &str) -> Result<Option<bool>, Error> {
    match value {
        v if v == camb_flag::Unset as u32 => Ok(None),
        v if v == camb_flag::No as u32 => Ok(Some(false)),
        v if v == camb_flag::Yes as u32 => Ok(Some(true)),
        other => Err(Error::invalid(format!(
            "{name} is {other}, not a CAMB_FLAG_* value"
        ))),
    }
}

/// Speaks `text` in `language` (a lower-case locale such as `en-us`) with the
/// voice `voice_id` (from `camb_client_list_voices()`), streaming the audio
/// (`POST /tts-stream`) to `write` on this thread as it arrives. On success
/// `*out_info` (may be NULL; set its `struct_size` first) tells the format,
/// sample rate, channels, credits and bytes. `options` may be NULL: the
/// defaults send only the text, the language, the voice and the format (WAV).
///
/// **What arrives.** The bytes of the format asked for, as the server sends
/// them. A streamed WAV starts with a header whose sizes the server cannot know
/// when it begins: they are placeholders (often 0xFFFFFFFF), passed on as they
/// are; a player that streams WAV ignores them, and
/// `camb_client_speak_to_file()` writes the right ones. Raw `pcm_*` formats
/// have no header: take the rate from `info->sample_rate`.
///
/// **Errors before any audio** carry the server's words: a 422 says which
/// field it refused, and for a locale the model does not speak, the list of
/// those it does. **A stream cut in the middle** is an error, never a short
/// success (`CAMB_RESULT_CONNECT`, the message says after how many bytes): a
/// chunked body without its last chunk, a connection reset, or a body shorter
/// than its `Content-Length`. A body delimited only by the connection's close
/// that closes cleanly is taken as complete: nothing can tell it from a short
/// clip. If no audio arrives for the client's timeout, `CAMB_RESULT_TIMEOUT`;
/// the whole stream may last any time.
///
/// **Retries.** A stream is paid work: it is sent again only when the server
/// cannot have started it (the connection could not be made, or a 429 or 503,
/// after its `Retry-After`), up to the client's `max_retries`, and never once
/// the reply has begun.
///
/// `cancel` (may be NULL) stops it from another thread, between chunks
/// (`CAMB_RESULT_CANCELLED`).
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER` (client, text, language, write);
/// `CAMB_RESULT_INVALID_PARAMETER` (empty text or language, a format that is
/// not a short name, a number that is infinite, a flag that is not a
/// `CAMB_FLAG_*`, an options `struct_size` this library cannot read, or
/// `out_info->struct_size` under a `size_t`); `CAMB_RESULT_VALIDATION` (the
/// server's 422); `CAMB_RESULT_NOT_FOUND` (no such voice, per the server);
/// `CAMB_RESULT_CANCELLED`; and the errors of any call (see
/// `camb_client_get_task_status()`).
///
/// Thread-safety: any number of threads may call this on one client at once.
/// Its job form is `camb_client_job_speak()`.
// The caller's part: `client` is NULL or a live client; the strings are NULL or
// NUL-terminated; `options` is NULL or a `camb_speech_options`; `cancel` is NULL
// or a live token; `write` is NULL or safe to call with `user_data`; `out_info`
// is NULL or a `camb_speech_info` of its `struct_size` writable bytes.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn camb_client_speak(
    client: *const camb_client,
    text: *const c_char,
    language: *const c_char,
    voice_id: i64,
    options: *const camb_speech_options,
    cancel: *const camb_cancel_token,
    write: camb_speech_fn,
    user_data: *mut c_void,
    out_info: *mut camb_speech_info,
) -> camb_result {
    result_call(|| {
        // SAFETY: for each argument, the caller's contract above.
        let client = unsafe { client_arg(client) }?;
        // SAFETY: the caller's contract for the strings and the options.
        let request = unsafe { speech_request(text, language, voice_id, options) }?;
        let write = write.ok_or_else(|| null_parameter("write"))?;
        // SAFETY: NULL or a camb_speech_info (the contract).
        unsafe { camb_speech_info::check(out_info) }?;
        let sink = |chunk: &[u8], info: &SpeechInfo, _: &StepContext<'_>| {
            let view = camb_speech_info::of(info);
            // SAFETY: the caller vouches for the callback and user_data; the
            // chunk and the info are valid during the call, on this thread.
            if unsafe { write(chunk.as_ptr(), chunk.len(), &view, user_data) } {
                Ok(())
            } else {
                Err(Error::new(
                    ErrorKind::Cancelled,
                    "the write callback stopped the stream",
                ))
            }
        };
        let mut work = SpeakWork::new(client, request, sink)?;
        // SAFETY: NULL or a live token.
        let info = unsafe { run_blocking(&mut work, cancel) }?.into_speech()?;
        // SAFETY: NULL or a camb_speech_info of its struct_size writable bytes.
        unsafe { camb_speech_info::write_to(out_info, &info) }
    })
}

/// Speaks like `camb_client_speak()` and saves the audio to `path`, by the
/// rules of `camb_client_save_audio()`: a regular file there (or none) is
/// replaced atomically, so a stream that fails or is cut short leaves what was
/// there; a device or a FIFO is written as the audio comes. A saved WAV file's
/// header gets the real sizes (a device or FIFO gets the stream's bytes as
/// they are). On success `*out_info` (may be NULL) tells about the audio.
/// As `camb_client_speak()` otherwise, plus the errors of a bad path
/// (`CAMB_RESULT_IO`), checked before anything is sent. Its job form is
/// `camb_client_job_speak_to_file()`.
// The caller's part: as for camb_client_speak(); `path` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn camb_client_speak_to_file(
    client: *const camb_client,
    text: *const c_char,
    language: *const c_char,
    voice_id: i64,
    options: *const camb_speech_options,
    path: *const c_char,
    cancel: *const camb_cancel_token,
    out_info: *mut camb_speech_info,
) -> camb_result {
    result_call(|| {
        // SAFETY: for each argument, the caller's contract above.
        let client = unsafe { client_arg(client) }?;
        // SAFETY: the caller's contract for the strings and the options.
        let request = unsafe { speech_request(text, language, voice_id, options) }?;
        // SAFETY: NULL or NUL-terminated.
        let path: PathBuf = unsafe { path_arg(path) }?;
        // SAFETY: NULL or a camb_speech_info (the contract).
        unsafe { camb_speech_info::check(out_info) }?;
        let mut work = SpeakToFileWork::new(client, request, path)?;
        // SAFETY: NULL or a live token.
        let info = unsafe { run_blocking(&mut work, cancel) }?.into_speech()?;
        // SAFETY: NULL or a camb_speech_info of its struct_size writable bytes.
        unsafe { camb_speech_info::write_to(out_info, &info) }
    })
}

/// Makes a job of `camb_client_speak()` for real-time use: no callback runs
/// anywhere; the caller reads the audio on its own thread with
/// `camb_job_read_audio()` as it arrives. While the job runs, its queue
/// delivers a `CAMB_EVENT_JOB_DATA` event for it whenever new audio has come
/// and no such event is already waiting; the job stays libcamb's. Read until
/// `camb_job_read_audio()` gives 0 bytes; the next `CAMB_EVENT_JOB_DATA` comes
/// with more audio, and `CAMB_EVENT_JOB_DONE` at the end (audio may still be
/// waiting then: read it before freeing the job). `camb_job_speech_info()`
/// tells about the audio at any time.
///
/// Memory stays bounded: at most 256 KiB of audio waits to be read. When the
/// reader falls that far behind, the job stops reading the network until it
/// catches up (and the server's sending slows with it); meanwhile it holds one
/// of the client's job threads (`camb_client_builder_set_job_threads()`).
/// Cancelling it, or freeing its queue, ends such a wait within 100 ms; a
/// cancel of a job that is reading the network takes effect at the next
/// chunk (or when the client's timeout ends a read the server stalls).
///
/// The text and options are checked (and copied) now. On success `*out_job` is
/// the job, not started: submit it with `camb_job_submit()`, or free it.
/// As `camb_client_speak()` otherwise.
// The caller's part: `client` is NULL or a live client; the strings are NULL or
// NUL-terminated; `options` is NULL or a `camb_speech_options`; `out_job` is
// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_job_speak(
    client: *const camb_client,
    text: *const c_char,
    language: *const c_char,
    voice_id: i64,
    options: *const camb_speech_options,
    out_job: *mut *mut camb_job,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller's part, for each argument.
        let client = unsafe { making(client, out_job) }?;
        // SAFETY: the caller's contract for the strings and the options.
        let request = unsafe { speech_request(text, language, voice_id, options) }?;
        let pipe = Arc::new(AudioPipe::default());
        let work = SpeakWork::into_pipe(Arc::clone(&client.inner), request, Arc::clone(&pipe))?;
        // SAFETY: out_job checked non-NULL.
        unsafe {
            make_job(
                client,
                camb_job_kind::Speak,
                Box::new(work),
                Arc::default(),
                Some(pipe),
                out_job,
            )
        }
    })
}

/// Makes a job of `camb_client_speak_to_file()`; `camb_job_speech_info()` tells
/// about the audio once it is done, and `camb_job_bytes()` the bytes saved. The
/// text, options and path are checked (and copied) now, as
/// `camb_client_job_save_audio()` checks its path. As
/// `camb_client_job_speak()` otherwise, with no data events.
// The caller's part: as for camb_client_job_speak(); `path` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_job_speak_to_file(
    client: *const camb_client,
    text: *const c_char,
    language: *const c_char,
    voice_id: i64,
    options: *const camb_speech_options,
    path: *const c_char,
    out_job: *mut *mut camb_job,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller's part, for each argument.
        let client = unsafe { making(client, out_job) }?;
        // SAFETY: the caller's contract for the strings and the options.
        let request = unsafe { speech_request(text, language, voice_id, options) }?;
        // SAFETY: NULL or NUL-terminated.
        let path = unsafe { path_arg(path) }?;
        let work = SpeakToFileWork::new(Arc::clone(&client.inner), request, path)?;
        // SAFETY: out_job checked non-NULL.
        unsafe {
            make_job(
                client,
                camb_job_kind::SpeakToFile,
                Box::new(work),
                Arc::default(),
                None,
                out_job,
            )
        }
    })
}

/// Moves up to `capacity` bytes of a `camb_client_job_speak()` job's audio
/// into `buffer`, in order, and writes how many to `*out_read`: 0 when none is
/// waiting now. Never blocks. Call it from one thread at a time, while the job
/// runs (after a `CAMB_EVENT_JOB_DATA` event) or after it is done, until the
/// job is freed (see `CAMB_EVENT_JOB_DATA` for a queue shared by threads).
/// A reply with a success status but no audio at all fails the job with
/// `CAMB_RESULT_BAD_RESPONSE`.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER` (job, out_read, or buffer with a
/// non-zero capacity); `CAMB_RESULT_INVALID_PARAMETER` if the job is not a
/// `camb_client_job_speak()` job.
// The caller's part: `job` is NULL or a live job; `buffer` is NULL or valid for
// writing `capacity` bytes; `out_read` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_read_audio(
    job: *const camb_job,
    buffer: *mut u8,
    capacity: usize,
    out_read: *mut usize,
) -> camb_result {
    result_call(|| {
        // SAFETY: NULL or a live job.
        let job = unsafe { job_ref(job) }.ok_or_else(|| null_parameter("job"))?;
        out_arg(out_read, "out_read")?;
        if buffer.is_null() && capacity > 0 {
            return Err(null_parameter("buffer"));
        }
        let pipe = pipe_of(job)?;
        let read = if capacity == 0 {
            0
        } else {
            // SAFETY: non-NULL and valid for writing `capacity` bytes (the
            // caller's part); nothing else refers to it during the call.
            pipe.read(unsafe { std::slice::from_raw_parts_mut(buffer, capacity) })
        };
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out_read.write(read) };
        Ok(())
    })
}

/// Tells about a speech job's audio in `*out_info` (set its `struct_size`
/// first): for a `camb_client_job_speak()` job at any time, its bytes so far
/// and what is known of the format; for a `camb_client_job_speak_to_file()`
/// job, once it has succeeded.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER` (job, out_info);
/// `CAMB_RESULT_INVALID_PARAMETER` (not a speech job, or a `struct_size` under
/// a `size_t`); `CAMB_RESULT_NOT_READY` (a save job not done, or one that
/// failed: `camb_job_result()` says why).
// The caller's part: `job` is NULL or a live job; `out_info` is NULL or a
// `camb_speech_info` of its `struct_size` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_speech_info(
    job: *const camb_job,
    out_info: *mut camb_speech_info,
) -> camb_result {
    result_call(|| {
        // SAFETY: NULL or a live job.
        let job = unsafe { job_ref(job) }.ok_or_else(|| null_parameter("job"))?;
        out_arg(out_info, "out_info")?;
        let info = match (&job.data.pipe, job.outcome()) {
            (_, Some(Ok(Output::Speech(info)))) => info.clone(),
            (Some(pipe), _) => pipe.info(),
            (None, _) if job.data.kind == camb_job_kind::SpeakToFile => {
                return Err(Error::new(
                    ErrorKind::NotReady,
                    "the speech job has not saved its audio (not done, or failed)",
                ));
            }
            (None, _) => return Err(Error::invalid("the job is not a speech job")),
        };
        // SAFETY: non-NULL, with its struct_size writable bytes (the contract).
        unsafe { camb_speech_info::write_to(out_info, &info) }
    })
}

/// The pipe of a streaming job, or why there is none.
fn pipe_of(job: &Job) -> Result<&AudioPipe, Error> {
    job.data
        .pipe
        .as_deref()
        .ok_or_else(|| Error::invalid("the job is not a camb_client_job_speak() job"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_options_send_no_option() {
        let text = c"Hello there";
        let language = c"en-us";
        // SAFETY: NUL-terminated strings and NULL options.
        let request =
            unsafe { speech_request(text.as_ptr(), language.as_ptr(), 3, std::ptr::null()) }
                .unwrap();
        assert_eq!(request, SpeechRequest::new("Hello there", "en-us", 3));
        let defaults = camb_speech_options_default();
        // SAFETY: as above, with the defaults.
        let same = unsafe { speech_request(text.as_ptr(), language.as_ptr(), 3, &defaults) };
        assert_eq!(same.unwrap(), request);
    }

    #[test]
    fn a_flag_out_of_range_is_refused() {
        let mut options = camb_speech_options_default();
        options.apply_ref_loudness_norm = 7;
        // SAFETY: NUL-terminated strings; a whole options struct.
        let error = unsafe { speech_request(c"Hello".as_ptr(), c"en-us".as_ptr(), 1, &options) }
            .unwrap_err();
        assert!(
            error.message().contains("apply_ref_loudness_norm"),
            "{error}"
        );
    }
}
