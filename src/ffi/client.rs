//! `camb_client`: the handle, its creation and freeing, and its calls.

use std::ffi::c_char;
use std::sync::Arc;

use crate::client::Client;
use crate::config::ClientConfig;
use crate::error::Error;
use crate::ffi::boundary::{null_parameter, out_arg, result_call, str_arg, void_call};
use crate::ffi::builder::LogHook;
use crate::ffi::job::JobPool;
use crate::ffi::result_code::camb_result;

/// A client for the CAMB API: text-to-sound, and streaming text-to-speech.
///
/// Functions: `camb_client_new()` (or `camb_client_builder_build()`), the
/// blocking calls `camb_client_get_task_status()`, `camb_client_create_task()`,
/// `camb_client_wait_for_task()`, `camb_client_download_audio()`,
/// `camb_client_save_audio()`, `camb_client_get_audio_url()`,
/// `camb_client_get_audio_urls()`, `camb_client_get_task_statuses()`,
/// `camb_client_generate()`, `camb_client_speak()`,
/// `camb_client_speak_to_file()`, `camb_client_list_voices()`,
/// `camb_client_list_languages()`, each of which has a job form
/// (`camb_client_job_*`), and `camb_client_free()`.
///
/// Immutable once built: share one client between any number of threads and call
/// it concurrently; its keep-alive connections are shared. Free it once, with
/// `camb_client_free()`, after every blocking call on it has returned. Jobs may
/// still run then: freeing the client cancels them, each is still delivered to
/// its queue (with `CAMB_RESULT_CANCELLED`, or its result if it finished
/// first), and `camb_client_free()` returns once the client's pool threads have
/// ended. The client's memory (its key among it) goes with its last job.
///
/// After `fork()`, the child must not use any libcamb object made before the fork,
/// not even to free it: the child would share the parent's pooled connections
/// (two processes writing to one socket) and could inherit a lock that another
/// parent thread held at the moment of the fork. The child makes its own client;
/// the old one's memory goes when the child exits or calls `exec()` (libcamb's
/// sockets are close-on-exec). The parent is unaffected.
pub struct camb_client {
    /// Shared with the client's jobs, which may outlive the handle.
    pub(crate) inner: Arc<Client>,
    /// The pool that runs the client's jobs; its threads start with the first.
    pub(crate) pool: Arc<JobPool>,
    /// The caller's log function, finished when the client is freed.
    log_hook: Option<Arc<LogHook>>,
}

impl camb_client {
    pub(crate) fn new(inner: Client, log_hook: Option<Arc<LogHook>>) -> camb_client {
        let pool = Arc::new(JobPool::new(inner.job_threads, inner.logger().cloned()));
        camb_client {
            inner: Arc::new(inner),
            pool,
            log_hook,
        }
    }
}

/// Borrows the handle itself (for starting jobs, which need its pool).
///
/// # Safety
/// As for [`client_arg`].
pub(crate) unsafe fn handle_arg<'a>(client: *const camb_client) -> Result<&'a camb_client, Error> {
    // SAFETY: per the contract of client_arg.
    unsafe { client.as_ref() }.ok_or_else(|| null_parameter("client"))
}

/// Borrows the client behind a handle for the duration of a call.
///
/// # Safety
/// `client` is NULL or a live client (not freed, and not freed during the call).
pub(crate) unsafe fn client_arg<'a>(client: *const camb_client) -> Result<&'a Client, Error> {
    // SAFETY: per the contract above; a shared borrow, as calls never mutate a client.
    unsafe { client.as_ref() }
        .map(|handle| &*handle.inner)
        .ok_or_else(|| null_parameter("client"))
}

/// Creates a client with the defaults (see `camb_client_builder_new()`) and the
/// given API key, or the key in the environment variable `CAMB_API_KEY` when
/// `api_key` is NULL. The key is copied. The base URL is the one in `CAMB_BASE_URL`,
/// or the default when that is unset or empty.
///
/// On success the caller owns `*out_client` and frees it with `camb_client_free()`;
/// on failure `*out_client` is left unchanged.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER` if `out_client` is NULL;
/// `CAMB_RESULT_MISSING_API_KEY` if `api_key` is NULL and `CAMB_API_KEY` is unset
/// or empty; `CAMB_RESULT_INVALID_PARAMETER` if the key is unusable (see
/// `camb_client_builder_set_api_key()`) or `CAMB_BASE_URL` is (see
/// `camb_client_builder_set_base_url()`).
// The caller's part: `api_key` is NULL or a NUL-terminated string; `out_client` is NULL or valid for
// a pointer-sized write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_new(
    api_key: *const c_char,
    out_client: *mut *mut camb_client,
) -> camb_result {
    result_call(|| {
        out_arg(out_client, "out_client")?;
        let mut config = ClientConfig::default();
        if !api_key.is_null() {
            // SAFETY: not NULL, and the caller passes a NUL-terminated string.
            config.set_api_key(unsafe { str_arg(api_key, "api_key") }?)?;
        }
        let handle = Box::into_raw(Box::new(camb_client::new(Client::new(config)?, None)));
        // SAFETY: checked non-NULL above; the caller guarantees it is writable.
        unsafe { out_client.write(handle) };
        Ok(())
    })
}

/// Frees a client and wipes its API key from memory. NULL is ignored.
///
/// Every blocking call on the client must have returned first. Its jobs in
/// flight are cancelled (a waiting one ends at once, a request in flight is
/// interrupted) and each is delivered to its queue; this returns once the
/// client's pool threads have ended, so that none outlives the client (a
/// program may exit right after), and after its log callback was called for
/// the last time and its finalizer ran. One kind of thread is not waited for:
/// a host name's lookup (`getaddrinfo`) still in progress on a DNS server that
/// does not answer ends on its own, by the system's resolver timeout; a program
/// that unloads libcamb (`dlclose`) right after a failed lookup should allow
/// for that. Jobs made
/// and not submitted can no longer be submitted. Never call it from the
/// client's own log callback.
// The caller's part: `client` is NULL or a client from `camb_client_new()` or
// `camb_client_builder_build()` that was not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_free(client: *mut camb_client) {
    void_call(|| {
        if !client.is_null() {
            // SAFETY: the caller passes a live client that nobody else uses now.
            let handle = unsafe { Box::from_raw(client) };
            // Jobs still running are cancelled (each is still delivered, with
            // CAMB_RESULT_CANCELLED) and their requests interrupted; then the
            // pool's threads are joined, so that none outlives the client.
            handle.pool.shut_down();
            handle.inner.shut_down();
            handle.pool.join();
            // No libcamb thread of this client runs any more, and no blocking
            // call may: the log function is done with.
            if let Some(hook) = &handle.log_hook {
                hook.finish();
            }
            drop(handle);
        }
    })
}
