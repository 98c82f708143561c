//! Voices and languages: `camb_client_list_voices()` and
//! `camb_client_list_languages()`, their job forms, and the owned lists they
//! give, read through accessors.

use std::ffi::c_char;

use crate::ffi::boundary::{out_arg, result_call, value_call, void_call};
use crate::ffi::cancel::{camb_cancel_token, run_blocking};
use crate::ffi::client::{camb_client, client_arg};
use crate::ffi::result_code::camb_result;
use crate::ffi::speech::camb_flag;
use crate::ffi::string::OwnedText;
use crate::operations::{LanguagesWork, VoicesWork};
use crate::voices::{Language, Languages, Voice};

/// Which list of languages `camb_client_list_languages()` gets.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum camb_languages {
    /// `GET /source-languages`.
    Source = 1,
    /// `GET /target-languages`.
    Target = 2,
}

/// One voice of a `camb_voice_list`, owned by the list: valid until the list
/// is freed. Read it with `camb_voice_id()`, `camb_voice_name()`,
/// `camb_voice_gender()`, `camb_voice_age()`, `camb_voice_language()`,
/// `camb_voice_transcript()`, `camb_voice_description()`,
/// `camb_voice_is_published()`, `camb_voice_signed_url()`.
pub struct camb_voice {
    id: i64,
    name: OwnedText,
    gender: Option<i64>,
    age: Option<i64>,
    language: Option<i64>,
    transcript: Option<OwnedText>,
    description: Option<OwnedText>,
    is_published: Option<bool>,
    signed_url: Option<OwnedText>,
}

/// The voices of `camb_client_list_voices()`, in the server's order. The caller
/// owns it (unless a job's: `camb_job_voice_list()`) and frees it with
/// `camb_voice_list_free()`; its voices and their strings stay valid until then.
/// It never changes: any number of threads may read it at once.
///
/// Functions: `camb_voice_list_len()`, `camb_voice_list_get()`,
/// `camb_voice_list_free()`.
pub struct camb_voice_list {
    voices: Vec<camb_voice>,
}

/// One language of a `camb_language_list`, owned by the list. Read it with
/// `camb_language_id()`, `camb_language_name()`, `camb_language_short_name()`.
pub struct camb_language {
    id: i64,
    name: OwnedText,
    short_name: OwnedText,
}

/// The languages of `camb_client_list_languages()`, in the server's order.
/// Owned and freed like a `camb_voice_list`, with `camb_language_list_free()`.
///
/// Functions: `camb_language_list_len()`, `camb_language_list_get()`,
/// `camb_language_list_free()`.
pub struct camb_language_list {
    languages: Vec<camb_language>,
}

impl camb_voice_list {
    pub(crate) fn new(voices: &[Voice]) -> camb_voice_list {
        let text = |t: &Option<String>| t.as_deref().map(OwnedText::new);
        camb_voice_list {
            voices: voices
                .iter()
                .map(|v| camb_voice {
                    id: v.id,
                    name: OwnedText::new(&v.name),
                    gender: v.gender,
                    age: v.age,
                    language: v.language,
                    transcript: text(&v.transcript),
                    description: text(&v.description),
                    is_published: v.is_published,
                    signed_url: text(&v.signed_url),
                })
                .collect(),
        }
    }
}

impl camb_language_list {
    pub(crate) fn new(languages: &[Language]) -> camb_language_list {
        camb_language_list {
            languages: languages
                .iter()
                .map(|l| camb_language {
                    id: l.id,
                    name: OwnedText::new(&l.name),
                    short_name: OwnedText::new(&l.short_name),
                })
                .collect(),
        }
    }
}

/// A `camb_languages` value from C, taken as the number it is (a C enum may
/// hold any value).
pub(crate) fn languages_arg(which: u32) -> Result<Languages, crate::error::Error> {
    match which {
        w if w == camb_languages::Source as u32 => Ok(Languages::Source),
        w if w == camb_languages::Target as u32 => Ok(Languages::Target),
        other => Err(crate::error::Error::invalid(format!(
            "which is {other}, not a CAMB_LANGUAGES_* value"
        ))),
    }
}

/// Lists the voices a speech can use (`GET /list-voices`): on success
/// `*out_list` is a new list that the caller frees with
/// `camb_voice_list_free()`. A voice's `camb_voice_id()` is the `voice_id` of
/// `camb_client_speak()`. Keys the server adds are ignored, and a documented
/// optional key that is missing or null reads as not known; a voice without an
/// `id` or `voice_name` fails the call with `CAMB_RESULT_BAD_RESPONSE`.
///
/// Retried like any read. `cancel` (may be NULL) stops it from another thread.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER` (client, out_list);
/// `CAMB_RESULT_BAD_RESPONSE` (not a list of voices); and the errors of any
/// call (see `camb_client_get_task_status()`).
///
/// Thread-safety: any number of threads may call this on one client at once.
/// Its job form is `camb_client_job_list_voices()`.
// The caller's part: `client` is NULL or a live client; `cancel` is NULL or a live token;
// `out_list` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_list_voices(
    client: *const camb_client,
    cancel: *const camb_cancel_token,
    out_list: *mut *mut camb_voice_list,
) -> camb_result {
    result_call(|| {
        // SAFETY: for each argument, the caller's contract above.
        let client = unsafe { client_arg(client) }?;
        out_arg(out_list, "out_list")?;
        let mut work = VoicesWork { client };
        // SAFETY: NULL or a live token.
        let voices = unsafe { run_blocking(&mut work, cancel) }?.into_voices()?;
        let list = Box::new(camb_voice_list::new(&voices));
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out_list.write(Box::into_raw(list)) };
        Ok(())
    })
}

/// Lists the languages the API knows (`which`, a `camb_languages` value:
/// `CAMB_LANGUAGES_SOURCE` for
/// `GET /source-languages`, `CAMB_LANGUAGES_TARGET` for `GET
/// /target-languages`): on success `*out_list` is a new list that the caller
/// frees with `camb_language_list_free()`. A language's
/// `camb_language_short_name()` is a locale for `camb_client_speak()` (lower-case
/// it if the server does not). As `camb_client_list_voices()` otherwise, plus
/// `CAMB_RESULT_INVALID_PARAMETER` for an unknown `which`. Its job form is
/// `camb_client_job_list_languages()`.
// The caller's part: as for camb_client_list_voices().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_list_languages(
    client: *const camb_client,
    which: u32,
    cancel: *const camb_cancel_token,
    out_list: *mut *mut camb_language_list,
) -> camb_result {
    result_call(|| {
        // SAFETY: for each argument, the caller's contract above.
        let client = unsafe { client_arg(client) }?;
        out_arg(out_list, "out_list")?;
        let which = languages_arg(which)?;
        let mut work = LanguagesWork { client, which };
        // SAFETY: NULL or a live token.
        let languages = unsafe { run_blocking(&mut work, cancel) }?.into_languages()?;
        let list = Box::new(camb_language_list::new(&languages));
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out_list.write(Box::into_raw(list)) };
        Ok(())
    })
}

/// How many voices the list holds; 0 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_voice_list_len(list: *const camb_voice_list) -> usize {
    // SAFETY: the caller passes NULL or a live list.
    value_call(0, || unsafe { list.as_ref() }.map_or(0, |l| l.voices.len()))
}

/// The voice at `index` (from 0), owned by the list; NULL past the end or for
/// a NULL list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_voice_list_get(
    list: *const camb_voice_list,
    index: usize,
) -> *const camb_voice {
    value_call(std::ptr::null(), || {
        // SAFETY: the caller passes NULL or a live list.
        unsafe { list.as_ref() }
            .and_then(|l| l.voices.get(index))
            .map_or(std::ptr::null(), std::ptr::from_ref)
    })
}

/// Frees a list the caller owns and every voice in it. NULL is a no-op. Never
/// pass a job's list (`camb_job_voice_list()`): the job frees it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_voice_list_free(list: *mut camb_voice_list) {
    void_call(|| {
        if !list.is_null() {
            // SAFETY: a list libcamb made with Box::into_raw, freed once.
            drop(unsafe { Box::from_raw(list) });
        }
    })
}

/// Borrows the voice behind a handle.
///
/// # Safety
/// `voice` is NULL or a voice of a live list.
unsafe fn voice_ref<'a>(voice: *const camb_voice) -> Option<&'a camb_voice> {
    // SAFETY: per this function's contract.
    unsafe { voice.as_ref() }
}

/// Writes `value` to `out` when known; tells whether it was.
///
/// # Safety
/// `out` is NULL or writable.
unsafe fn known(value: Option<i64>, out: *mut i64) -> bool {
    match value {
        Some(value) if !out.is_null() => {
            // SAFETY: non-NULL, writable per this function's contract.
            unsafe { out.write(value) };
            true
        }
        Some(_) => true,
        None => false,
    }
}

/// The voice's id: the `voice_id` of `camb_client_speak()`. 0 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_voice_id(voice: *const camb_voice) -> i64 {
    // SAFETY: NULL or a voice of a live list.
    value_call(0, || unsafe { voice_ref(voice) }.map_or(0, |v| v.id))
}

/// The voice's name (`len` bytes in `*out_len` unless NULL), owned by its list.
/// NULL for a NULL voice.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_voice_name(
    voice: *const camb_voice,
    out_len: *mut usize,
) -> *const c_char {
    // SAFETY: NULL or a live voice; out_len NULL or writable (the caller's part).
    unsafe { voice_text(voice, out_len, |v| Some(&v.name)) }
}

/// Whether the voice's gender is known, and if so writes it to `*out` (unless
/// NULL): 0 not known, 1 male, 2 female, 9 not applicable (the API's codes).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_voice_gender(voice: *const camb_voice, out: *mut i64) -> bool {
    // SAFETY: NULL or a live voice; out NULL or writable.
    value_call(false, || unsafe {
        known(voice_ref(voice).and_then(|v| v.gender), out)
    })
}

/// Whether the voice's age is known, and if so writes it to `*out` (unless NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_voice_age(voice: *const camb_voice, out: *mut i64) -> bool {
    // SAFETY: NULL or a live voice; out NULL or writable.
    value_call(false, || unsafe {
        known(voice_ref(voice).and_then(|v| v.age), out)
    })
}

/// Whether the voice's language is known, and if so writes it to `*out`
/// (unless NULL): a language id, as `camb_language_id()` gives, not a locale.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_voice_language(voice: *const camb_voice, out: *mut i64) -> bool {
    // SAFETY: NULL or a live voice; out NULL or writable.
    value_call(false, || unsafe {
        known(voice_ref(voice).and_then(|v| v.language), out)
    })
}

/// One of a voice's optional texts, lent as `camb_voice_name()` lends the name.
///
/// # Safety
/// `voice` is NULL or a voice of a live list; `out_len` is NULL or writable.
unsafe fn voice_text(
    voice: *const camb_voice,
    out_len: *mut usize,
    pick: impl Fn(&camb_voice) -> Option<&OwnedText>,
) -> *const c_char {
    value_call(std::ptr::null(), || {
        // SAFETY: per this function's contract.
        unsafe { OwnedText::lend(voice_ref(voice).and_then(pick), out_len) }
    })
}

/// The voice's transcript, or NULL when the server gave none. As
/// `camb_voice_name()` otherwise.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_voice_transcript(
    voice: *const camb_voice,
    out_len: *mut usize,
) -> *const c_char {
    // SAFETY: NULL or a live voice; out_len NULL or writable (the caller's part).
    unsafe { voice_text(voice, out_len, |v| v.transcript.as_ref()) }
}

/// The voice's description, or NULL when the server gave none. As
/// `camb_voice_name()` otherwise.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_voice_description(
    voice: *const camb_voice,
    out_len: *mut usize,
) -> *const c_char {
    // SAFETY: NULL or a live voice; out_len NULL or writable (the caller's part).
    unsafe { voice_text(voice, out_len, |v| v.description.as_ref()) }
}

/// A URL of a sample of the voice, or NULL when the server gave none. As
/// `camb_voice_name()` otherwise.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_voice_signed_url(
    voice: *const camb_voice,
    out_len: *mut usize,
) -> *const c_char {
    // SAFETY: NULL or a live voice; out_len NULL or writable (the caller's part).
    unsafe { voice_text(voice, out_len, |v| v.signed_url.as_ref()) }
}

/// Whether the voice is published: `CAMB_FLAG_YES`, `CAMB_FLAG_NO`, or
/// `CAMB_FLAG_UNSET` when the server did not say (or for NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_voice_is_published(voice: *const camb_voice) -> camb_flag {
    value_call(camb_flag::Unset, || {
        // SAFETY: NULL or a live voice.
        match unsafe { voice_ref(voice) }.and_then(|v| v.is_published) {
            None => camb_flag::Unset,
            Some(false) => camb_flag::No,
            Some(true) => camb_flag::Yes,
        }
    })
}

/// How many languages the list holds; 0 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_language_list_len(list: *const camb_language_list) -> usize {
    // SAFETY: the caller passes NULL or a live list.
    value_call(0, || {
        unsafe { list.as_ref() }.map_or(0, |l| l.languages.len())
    })
}

/// The language at `index` (from 0), owned by the list; NULL past the end or
/// for a NULL list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_language_list_get(
    list: *const camb_language_list,
    index: usize,
) -> *const camb_language {
    value_call(std::ptr::null(), || {
        // SAFETY: the caller passes NULL or a live list.
        unsafe { list.as_ref() }
            .and_then(|l| l.languages.get(index))
            .map_or(std::ptr::null(), std::ptr::from_ref)
    })
}

/// Frees a list the caller owns and every language in it. NULL is a no-op.
/// Never pass a job's list (`camb_job_language_list()`): the job frees it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_language_list_free(list: *mut camb_language_list) {
    void_call(|| {
        if !list.is_null() {
            // SAFETY: a list libcamb made with Box::into_raw, freed once.
            drop(unsafe { Box::from_raw(list) });
        }
    })
}

/// The language's id (what the task-based text-to-speech flow takes); 0 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_language_id(language: *const camb_language) -> i64 {
    // SAFETY: NULL or a language of a live list.
    value_call(0, || unsafe { language.as_ref() }.map_or(0, |l| l.id))
}

/// The language's name, such as "English (United States)", owned by its list
/// (`len` bytes in `*out_len` unless NULL); NULL for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_language_name(
    language: *const camb_language,
    out_len: *mut usize,
) -> *const c_char {
    value_call(std::ptr::null(), || {
        // SAFETY: NULL or a live language; out_len NULL or writable.
        unsafe { OwnedText::lend(language.as_ref().map(|l| &l.name), out_len) }
    })
}

/// The language's locale, such as `en-us`, owned by its list; NULL for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_language_short_name(
    language: *const camb_language,
    out_len: *mut usize,
) -> *const c_char {
    value_call(std::ptr::null(), || {
        // SAFETY: NULL or a live language; out_len NULL or writable.
        unsafe { OwnedText::lend(language.as_ref().map(|l| &l.short_name), out_len) }
    })
}
