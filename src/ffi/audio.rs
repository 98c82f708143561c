//! Fetching finished audio: streamed to a callback, saved to a file, or as URLs.

use std::collections::HashMap;
use std::ffi::{c_char, c_void};

use crate::client::check_bulk_count;
use crate::error::{Error, ErrorKind};
use crate::ffi::boundary::{null_parameter, out_arg, path_arg, result_call, value_call, void_call};
use crate::ffi::cancel::{camb_cancel_token, run_blocking};
use crate::ffi::client::{camb_client, client_arg};
use crate::ffi::result_code::camb_result;
use crate::ffi::string::{OwnedText, give_string};
use crate::operations::{AudioUrlWork, AudioUrlsWork, DownloadWork, SaveWork};

/// Receives the audio of `camb_client_download_audio()` chunk by chunk, in order,
/// on the calling thread: `len` bytes at `data`, valid only during the call.
/// Return true to continue, false to stop the download (`CAMB_RESULT_CANCELLED`).
/// It must not unwind (C++ exceptions, longjmp) through libcamb. It may call
/// libcamb, but must not free the client or token in use.
pub type camb_write_fn =
    Option<unsafe extern "C" fn(data: *const u8, len: usize, user_data: *mut c_void) -> bool>;

/// Downloads the audio of a successful run (`GET /text-to-sound-result/{run_id}`,
/// the WAV bytes) and hands it to `write` in chunks of up to 64 KiB, with
/// `user_data`. `*out_bytes` (may be NULL) receives the total on success.
///
/// Retried like any read (connection failures, 408, 429, 5xx) until the first
/// chunk reaches `write`; a failure after that is reported, and what `write`
/// received is then incomplete. The client's timeout bounds the whole download.
/// `cancel` (may be NULL) stops it between chunks.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER` (client or write); `CAMB_RESULT_NOT_FOUND`
/// (no such run); `CAMB_RESULT_HTTP_STATUS` with HTTP 400 when the run did not
/// succeed; `CAMB_RESULT_CANCELLED` (token, or `write` returned false);
/// `CAMB_RESULT_BAD_RESPONSE` if the server sent JSON instead of audio; and the
/// errors of any call.
// The caller's part: `client` is NULL or a live client; `cancel` is NULL or a live token; `write` is
// NULL or safe to call with `user_data`; `out_bytes` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_download_audio(
    client: *const camb_client,
    run_id: i64,
    cancel: *const camb_cancel_token,
    write: camb_write_fn,
    user_data: *mut c_void,
    out_bytes: *mut u64,
) -> camb_result {
    result_call(|| {
        // SAFETY: for each argument, the caller's contract above.
        let client = unsafe { client_arg(client) }?;
        let write = write.ok_or_else(|| null_parameter("write"))?;
        let sink = |chunk: &[u8]| {
            // SAFETY: the caller vouches for the callback and user_data; the chunk
            // is valid for its length during the call, on this thread.
            if unsafe { write(chunk.as_ptr(), chunk.len(), user_data) } {
                Ok(())
            } else {
                Err(Error::new(
                    ErrorKind::Cancelled,
                    "the write callback stopped the download",
                ))
            }
        };
        let mut work = DownloadWork {
            client,
            run_id,
            sink,
            kept: None,
        };
        // SAFETY: NULL or a live token.
        let total = unsafe { run_blocking(&mut work, cancel) }?.into_bytes()?;
        // SAFETY: NULL or writable.
        unsafe { write_optional(out_bytes, total) };
        Ok(())
    })
}

/// Downloads the audio of a successful run into `path`. `*out_bytes` (may be NULL)
/// receives the size on success. Symlinks are followed to the file at their end (a
/// relative target is relative to its link's directory; the links stay links), and
/// what is there decides how it is written:
/// - A regular file, or nothing: replaced atomically. The bytes go to a hidden
///   temporary file in that file's directory, which is flushed to disk and renamed
///   over it only when complete: on any failure (network, cancellation, disk full)
///   the temporary file is removed and an existing file is untouched, never partial.
///   A file that is replaced keeps its permissions (a 0640 file stays 0640, also
///   when reached through a symlink; set-user-ID and set-group-ID bits are not
///   carried over) and, where the process may set it (as root), its owner and
///   group, as `cp` over it would. A new file is created with `0666 & ~umask`.
///   On Windows the path is UTF-8 (drive letters, `\` or `/`, `\\?\` long paths),
///   the rename replaces the file as `MoveFileEx` does, and the new file takes the
///   permissions its directory gives (NTFS inheritance); nothing is carried over
///   from the file it replaces. A file another program holds open without
///   delete-sharing cannot be replaced there: `CAMB_RESULT_IO`, the old file kept.
/// - A device (`/dev/null`) or a FIFO: written in place, as `curl -o` does. A FIFO
///   needs a reader: one is waited for up to a second, then `CAMB_RESULT_IO`. After
///   a failure the reader may have received part of the audio. No SIGPIPE is
///   raised if the reader goes away: the call fails with `CAMB_RESULT_IO`.
/// - A directory, a socket, a symlink loop, or a parent directory that does not
///   exist or cannot be written to: refused with `CAMB_RESULT_IO` before any
///   request is sent.
///
/// On Unix the path may be any bytes (it need not be UTF-8).
///
/// Errors: as `camb_client_download_audio()`, plus `CAMB_RESULT_IO` as above and
/// when the file cannot be created, written or renamed, and
/// `CAMB_RESULT_INVALID_PARAMETER` for an empty path or one that names no file
/// (such as one ending in `/` where nothing exists).
// The caller's part: `client` is NULL or a live client; `path` is NULL or NUL-terminated; `cancel`
// is NULL or a live token; `out_bytes` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_save_audio(
    client: *const camb_client,
    run_id: i64,
    path: *const c_char,
    cancel: *const camb_cancel_token,
    out_bytes: *mut u64,
) -> camb_result {
    result_call(|| {
        // SAFETY: for each argument, the caller's contract above.
        let client = unsafe { client_arg(client) }?;
        // SAFETY: NULL or NUL-terminated.
        let path = unsafe { path_arg(path) }?;
        let mut work = SaveWork::new(client, run_id, path)?;
        // SAFETY: NULL or a live token.
        let total = unsafe { run_blocking(&mut work, cancel) }?.into_bytes()?;
        // SAFETY: NULL or writable.
        unsafe { write_optional(out_bytes, total) };
        Ok(())
    })
}

/// Asks for a pre-signed URL of a successful run's audio
/// (`GET /text-to-sound-result/{run_id}?output_type=FILE_URL`). On success
/// `*out_url` is a new NUL-terminated string that the caller frees with
/// `camb_string_free()`, its length in `*out_len` unless `out_len` is NULL.
///
/// `cancel` (may be NULL) stops the call from another thread.
///
/// Errors: as `camb_client_download_audio()`, plus `CAMB_RESULT_NULL_PARAMETER`
/// for a NULL `out_url`. Its job form is `camb_client_job_get_audio_url()`.
// The caller's part: `client` is NULL or a live client; `cancel` is NULL or a live token;
// `out_url` is NULL or valid for writing a pointer; `out_len` is NULL or valid for
// writing a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_get_audio_url(
    client: *const camb_client,
    run_id: i64,
    cancel: *const camb_cancel_token,
    out_url: *mut *mut c_char,
    out_len: *mut usize,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller passes NULL or a live client.
        let client = unsafe { client_arg(client) }?;
        out_arg(out_url, "out_url")?;
        let mut work = AudioUrlWork { client, run_id };
        // SAFETY: NULL or a live token.
        let url = unsafe { run_blocking(&mut work, cancel) }?.into_audio_url()?;
        // SAFETY: out_url checked non-NULL above; out_len NULL or writable.
        unsafe { give_string(out_url, out_len, url, "audio URL") }
    })
}

/// The outcome of `camb_client_get_audio_urls()`: for each run id asked for, in
/// order, the audio's URL or none. The caller owns it and frees it with
/// `camb_audio_url_list_free()`; its strings stay valid until then.
///
/// Functions: `camb_audio_url_list_len()`, `camb_audio_url_list_get()`,
/// `camb_audio_url_list_free()`.
pub struct camb_audio_url_list {
    entries: Vec<(i64, Option<OwnedText>)>,
}

/// Asks for the URLs of many runs' audio at once (`POST /text-to-sound-results`),
/// `count` run ids (at most 1000; a run id may be repeated). On success `*out_list`
/// is a new `camb_audio_url_list` with one entry per run id, in order; the caller
/// frees it with `camb_audio_url_list_free()`. `count` may be 0 (an empty list, no
/// request; `run_ids` may then be NULL). `cancel` (may be NULL) stops the call
/// from another thread.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER`; `CAMB_RESULT_INVALID_PARAMETER` for a
/// count over 1000; and the errors of any call. Its job form is
/// `camb_client_job_get_audio_urls()`.
// The caller's part: `client` is NULL or a live client; `run_ids` is NULL or points to `count`
// values; `cancel` is NULL or a live token; `out_list` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_get_audio_urls(
    client: *const camb_client,
    run_ids: *const i64,
    count: usize,
    cancel: *const camb_cancel_token,
    out_list: *mut *mut camb_audio_url_list,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller passes NULL or a live client.
        let client = unsafe { client_arg(client) }?;
        out_arg(out_list, "out_list")?;
        // SAFETY: NULL or `count` values.
        let run_ids = unsafe { run_ids_arg(run_ids, count) }?;
        let mut work = AudioUrlsWork::new(client, run_ids.to_vec())?;
        // SAFETY: NULL or a live token.
        let (run_ids, urls) = unsafe { run_blocking(&mut work, cancel) }?.into_audio_urls()?;
        let list = Box::into_raw(Box::new(audio_url_list(&run_ids, &urls)));
        // SAFETY: checked non-NULL above; the caller passes a writable pointer.
        unsafe { out_list.write(list) };
        Ok(())
    })
}

/// The run ids at `run_ids`, once `count` is within the limit and `run_ids` is
/// not NULL (it may be when `count` is 0).
///
/// # Safety
/// `run_ids` is NULL or points to `count` values.
pub(crate) unsafe fn run_ids_arg<'a>(
    run_ids: *const i64,
    count: usize,
) -> Result<&'a [i64], Error> {
    if count == 0 {
        return Ok(&[]);
    }
    if run_ids.is_null() {
        return Err(null_parameter("run_ids"));
    }
    // Checked before the slice is made, so no slice covers memory the caller
    // never promised.
    check_bulk_count(count)?;
    // SAFETY: non-NULL and `count` values long, per the contract.
    Ok(unsafe { std::slice::from_raw_parts(run_ids, count) })
}

/// The list of `run_ids`, in order, each with its URL from `urls` if it has
/// one. Looked up, not taken: a run id asked for twice gets its URL twice.
pub(crate) fn audio_url_list(run_ids: &[i64], urls: &HashMap<i64, String>) -> camb_audio_url_list {
    let entries = run_ids
        .iter()
        .map(|run_id| (*run_id, urls.get(run_id).map(|url| OwnedText::new(url))))
        .collect();
    camb_audio_url_list { entries }
}

/// How many entries the list holds (as many as run ids were asked for); 0 for NULL.
// The caller's part: `list` is NULL or a live list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_audio_url_list_len(list: *const camb_audio_url_list) -> usize {
    // SAFETY: the caller passes NULL or a live list.
    value_call(0, || {
        unsafe { list.as_ref() }.map_or(0, |l| l.entries.len())
    })
}

/// The entry at `index` (from 0): its run id into `*out_run_id` (unless NULL) and
/// its URL, owned by the list (valid until the list is freed), its length into
/// `*out_len` (unless NULL). The URL is NULL when the server returned none for
/// this run (unknown, or not successful); also when `index` is past the end or
/// the list is NULL, and then `*out_run_id` is left alone and `*out_len` is 0.
// The caller's part: `list` is NULL or a live list; `out_run_id` and `out_len` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_audio_url_list_get(
    list: *const camb_audio_url_list,
    index: usize,
    out_run_id: *mut i64,
    out_len: *mut usize,
) -> *const c_char {
    value_call(std::ptr::null(), || {
        // SAFETY: the caller passes NULL or a live list.
        let entry = unsafe { list.as_ref() }.and_then(|l| l.entries.get(index));
        if let Some((run_id, _)) = entry {
            // SAFETY: NULL or writable, per the contract.
            unsafe { write_optional(out_run_id, *run_id) };
        }
        let url = entry.and_then(|(_, url)| url.as_ref());
        // SAFETY: NULL or writable, per the contract.
        unsafe { OwnedText::lend(url, out_len) }
    })
}

/// Frees a list and its strings. NULL is a no-op.
// The caller's part: `list` is NULL or a list from `camb_client_get_audio_urls()`, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_audio_url_list_free(list: *mut camb_audio_url_list) {
    void_call(|| {
        if !list.is_null() {
            // SAFETY: made with Box::into_raw and freed once, per the contract.
            drop(unsafe { Box::from_raw(list) });
        }
    })
}

/// # Safety
/// `out` is NULL or writable.
unsafe fn write_optional<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: non-NULL and writable per the contract.
        unsafe { out.write(value) };
    }
}
