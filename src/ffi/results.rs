//! Fetching finished audio: streamed to a callback, saved to a file, or as URLs.

use std::ffi::{c_char, c_void};

use crate::client::check_bulk_count;
use crate::error::{Error, ErrorKind};
use crate::ffi::boundary::{null_parameter, path_arg, result_call};
use crate::ffi::cancel::{camb_cancel_token, token_arg};
use crate::ffi::client::{camb_client, client_arg};
use crate::ffi::result::camb_result;
use crate::ffi::task_info::ReplyStrings;

/// Receives the audio of `camb_client_download_result()` chunk by chunk, in order,
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
///
/// # Safety
/// `client` is NULL or a live client; `cancel` is NULL or a live token; `write` is
/// NULL or safe to call with `user_data`; `out_bytes` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_download_result(
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
        // SAFETY: NULL or a live token.
        let cancel = unsafe { token_arg(cancel) }.cloned();
        let total = client.download_result(run_id, cancel.as_ref(), &mut |chunk| {
            // SAFETY: the caller vouches for the callback and user_data; the chunk
            // is valid for its length during the call.
            if unsafe { write(chunk.as_ptr(), chunk.len(), user_data) } {
                Ok(())
            } else {
                Err(Error::new(
                    ErrorKind::Cancelled,
                    "the write callback stopped the download",
                ))
            }
        })?;
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
/// Errors: as `camb_client_download_result()`, plus `CAMB_RESULT_IO` as above and
/// when the file cannot be created, written or renamed, and
/// `CAMB_RESULT_INVALID_PARAMETER` for an empty path or one that names no file
/// (such as one ending in `/` where nothing exists).
///
/// # Safety
/// `client` is NULL or a live client; `path` is NULL or NUL-terminated; `cancel`
/// is NULL or a live token; `out_bytes` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_save_result(
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
        // SAFETY: NULL or a live token.
        let cancel = unsafe { token_arg(cancel) }.cloned();
        let total = client.save_result(run_id, &path, cancel.as_ref())?;
        // SAFETY: NULL or writable.
        unsafe { write_optional(out_bytes, total) };
        Ok(())
    })
}

/// Asks for a pre-signed URL of a successful run's audio
/// (`GET /text-to-sound-result/{run_id}?output_type=FILE_URL`) and copies it,
/// NUL-terminated, into `buffer`. `*out_len` (may be NULL) receives its length
/// without the NUL.
///
/// When `buffer_size` is too small (pass NULL and 0 to ask), returns
/// `CAMB_RESULT_BUFFER_TOO_SMALL` with the needed length (without the NUL) in
/// `*out_len`, and leaves `buffer` unchanged; call again with a larger buffer.
/// Each call is a request, and a URL's signature may differ in length from one
/// request to the next: start with a buffer of 4096 bytes (enough for CAMB's
/// URLs) and, on BUFFER_TOO_SMALL, grow and retry in a loop.
///
/// Errors: as `camb_client_download_result()`, plus `CAMB_RESULT_BUFFER_TOO_SMALL`
/// and `CAMB_RESULT_NULL_PARAMETER` for a NULL buffer with a nonzero size.
///
/// # Safety
/// `client` is NULL or a live client; `buffer` is NULL or valid for writing
/// `buffer_size` bytes; `out_len` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_get_result_url(
    client: *const camb_client,
    run_id: i64,
    buffer: *mut c_char,
    buffer_size: usize,
    out_len: *mut usize,
) -> camb_result {
    result_call(|| {
        // SAFETY: for each argument, the caller's contract above.
        let client = unsafe { client_arg(client) }?;
        if buffer.is_null() && buffer_size > 0 {
            return Err(null_parameter("buffer"));
        }
        let url = client.get_result_url(run_id)?;
        // SAFETY: NULL or writable.
        unsafe { write_optional(out_len, url.len()) };
        if url.len() >= buffer_size {
            return Err(Error::new(
                ErrorKind::BufferTooSmall,
                format!(
                    "the URL needs {} bytes with its NUL; the buffer has {buffer_size}",
                    url.len() + 1
                ),
            ));
        }
        // SAFETY: buffer is non-NULL (buffer_size > url.len() >= 0) and holds
        // buffer_size >= url.len() + 1 bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(url.as_ptr().cast::<c_char>(), buffer, url.len());
            buffer.add(url.len()).write(0);
        }
        Ok(())
    })
}

/// One entry of `camb_client_get_result_urls()`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct camb_result_url {
    /// The run id asked for (entries are in the order of the input).
    pub run_id: i64,
    /// The audio's URL; NULL when the server returned none for this run (unknown,
    /// or not successful). Valid until this thread's next successful call that
    /// returns such strings, as for `camb_task_info`.
    pub url: *const c_char,
    /// Length of `url` in bytes, without its NUL; 0 when it is NULL.
    pub url_len: usize,
}

/// Asks for the URLs of many runs' audio at once (`POST /text-to-sound-results`)
/// and fills `out_urls[i]` for each `run_ids[i]`, `count` entries (1 to 1000).
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER`; `CAMB_RESULT_INVALID_PARAMETER` for a
/// count of 0 or over 1000; and the errors of any call. On failure `out_urls` is
/// unchanged.
///
/// # Safety
/// `client` is NULL or a live client; `run_ids` is NULL or points to `count`
/// values; `out_urls` is NULL or valid for writing `count` entries.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_get_result_urls(
    client: *const camb_client,
    run_ids: *const i64,
    count: usize,
    out_urls: *mut camb_result_url,
) -> camb_result {
    result_call(|| {
        // SAFETY: for each argument, the caller's contract above.
        let client = unsafe { client_arg(client) }?;
        if run_ids.is_null() {
            return Err(null_parameter("run_ids"));
        }
        if out_urls.is_null() {
            return Err(null_parameter("out_urls"));
        }
        // Checked before the slice is made, so no slice covers memory the caller
        // never promised.
        check_bulk_count(count)?;
        // SAFETY: non-NULL and `count` values long, per the contract.
        let ids = unsafe { std::slice::from_raw_parts(run_ids, count) };
        let urls = client.get_result_urls(ids)?;
        let mut strings = ReplyStrings::default();
        let entries: Vec<camb_result_url> = ids
            .iter()
            .map(|&run_id| {
                let (url, url_len) = strings.keep_optional(urls.get(&run_id).map(String::as_str));
                camb_result_url {
                    run_id,
                    url,
                    url_len,
                }
            })
            .collect();
        strings.commit()?;
        // SAFETY: out_urls is non-NULL and holds `count` entries, per the contract.
        unsafe { std::ptr::copy_nonoverlapping(entries.as_ptr(), out_urls, entries.len()) };
        Ok(())
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
