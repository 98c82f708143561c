//! `camb_client_builder`: collects settings, then builds a `camb_client`.

use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::client::Client;
use crate::config::{ClientConfig, LogSink, load_ca_bundle_file};
use crate::error::Error;
use crate::ffi::boundary::{
    handle_call, null_parameter, out_arg, path_arg, result_call, str_arg, void_call,
};
use crate::ffi::client::camb_client;
use crate::ffi::result_code::camb_result;
use crate::log::LogLevel;

/// Settings for a new client. Create it with `camb_client_builder_new()`, set what
/// you need, then `camb_client_builder_build()`, which always consumes it. If any
/// setter refused its value, the build fails with that refusal.
///
/// Functions: `camb_client_builder_new()`, `camb_client_builder_set_api_key()`,
/// `camb_client_builder_set_base_url()`, `camb_client_builder_set_timeout_ms()`,
/// `camb_client_builder_set_max_retries()`,
/// `camb_client_builder_set_allow_insecure_http()`,
/// `camb_client_builder_set_ca_bundle_file()`,
/// `camb_client_builder_set_ca_bundle_pem()`, `camb_client_builder_set_proxy()`,
/// `camb_client_builder_set_job_threads()`, `camb_client_builder_set_log()`,
/// `camb_client_builder_add_header()`, `camb_client_builder_build()`,
/// `camb_client_builder_free()`.
///
/// Thread-safety: use a builder from one thread at a time. Like every handle,
/// it must not be used after it was built or freed.
pub struct camb_client_builder {
    config: ClientConfig,
    /// The first setting that was refused, and why: building then fails with it,
    /// so that a program that did not check a setter's result cannot send its key
    /// (and paid calls) somewhere it did not name.
    refused: Option<Error>,
    /// The log function set, whose finalizer runs once libcamb is done with it.
    log_hook: Option<Arc<LogHook>>,
}

/// The caller's log function, its `user_data`, and the finalizer that is told
/// when libcamb will call neither again: when the client is freed, or when the
/// builder is freed, fails to build, or gets another log function.
pub(crate) struct LogHook {
    callback: unsafe extern "C" fn(u32, *const c_char, usize, *mut c_void),
    user_data: usize,
    finalizer: camb_finalizer_fn,
    /// Set once the finalizer ran: no line is passed on after it.
    finished: AtomicBool,
}

impl LogHook {
    fn line(&self, level: LogLevel, line: &str) {
        if self.finished.load(Ordering::Acquire) {
            return;
        }
        let mut text = Vec::with_capacity(line.len() + 1);
        text.extend_from_slice(line.as_bytes());
        text.push(0);
        // SAFETY: the caller vouches that the callback may be called with its
        // user_data on any thread until the finalizer runs; the line is valid
        // during the call.
        unsafe {
            (self.callback)(
                level as u32,
                text.as_ptr().cast(),
                line.len(),
                self.user_data as *mut c_void,
            );
        }
    }

    /// libcamb is done with the function: its finalizer runs, once, here.
    pub(crate) fn finish(&self) {
        if self.finished.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(finalizer) = self.finalizer {
            // SAFETY: the caller's finalizer, called once with its user_data.
            unsafe { finalizer(self.user_data as *mut c_void) };
        }
    }
}

impl Drop for LogHook {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Applies `change` to a builder, remembering the first refusal.
fn with_builder(
    builder: *mut camb_client_builder,
    setter: &str,
    change: impl FnOnce(&mut ClientConfig) -> Result<(), Error>,
) -> camb_result {
    result_call(|| change_builder(builder, setter, change))
}

/// The body of [`with_builder`], for calls that do slow work (file I/O) first,
/// outside the lock.
fn change_builder(
    builder: *mut camb_client_builder,
    setter: &str,
    change: impl FnOnce(&mut ClientConfig) -> Result<(), Error>,
) -> Result<(), Error> {
    // SAFETY: NULL or a live builder, used by one thread at a time (the
    // caller's part).
    let Some(builder) = (unsafe { builder.as_mut() }) else {
        return Err(null_parameter("builder"));
    };
    let changed = change(&mut builder.config);
    if let Err(error) = &changed {
        if builder.refused.is_none() {
            let why = format!("not built: {setter}() refused its value earlier");
            builder.refused = Some(error.clone().context(&why));
        }
    }
    changed
}

/// Creates a builder with the defaults: base URL `https://client.camb.ai/apis`
/// (or `CAMB_BASE_URL` unless one is set), a 60000 ms timeout, 2 retries, https
/// only (plain http to loopback hosts allowed when no proxy is set), and the key
/// from `CAMB_API_KEY` unless one is set.
///
/// Never returns NULL (out of memory aborts the process). The caller owns the builder
/// and passes it to `camb_client_builder_build()` or `camb_client_builder_free()`.
#[unsafe(no_mangle)]
pub extern "C" fn camb_client_builder_new() -> *mut camb_client_builder {
    handle_call(|| {
        Box::into_raw(Box::new(camb_client_builder {
            config: ClientConfig::default(),
            refused: None,
            log_hook: None,
        }))
    })
}

/// Sets the API key sent in the `x-api-key` header. The string is copied; the key
/// is kept by the client built from this builder. libcamb's copies are zeroed: the
/// client's when it is freed, each request's bytes once they are sent
/// (docs/SECURITY.md says what is not).
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER` if `builder` or `api_key` is NULL;
/// `CAMB_RESULT_INVALID_PARAMETER` if the key is empty, longer than 1024 bytes, has
/// leading or trailing whitespace or characters other than printable ASCII.
// The caller's part: `builder` is NULL or a builder from `camb_client_builder_new()`; `api_key` is
// NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_builder_set_api_key(
    builder: *mut camb_client_builder,
    api_key: *const c_char,
) -> camb_result {
    with_builder(builder, "camb_client_builder_set_api_key", |config| {
        // SAFETY: the caller passes NULL or a NUL-terminated string (see above).
        let key = unsafe { str_arg(api_key, "api_key") }?;
        config.set_api_key(key)
    })
}

/// Sets the API's base URL, such as `"https://client.camb.ai/apis"` (the default)
/// or an emulator's `"http://127.0.0.1:8080"`. Requests go to
/// `{base_url}/text-to-sound/...`; trailing slashes are ignored.
///
/// Without it, `camb_client_builder_build()` reads the environment variable
/// `CAMB_BASE_URL` (unset or empty: the default), under the same rules; so every
/// program and binding can be pointed at a gateway or the emulator without code.
/// A URL set here wins over the variable.
///
/// `http://` URLs are accepted for loopback hosts (127.0.0.0/8, ::1, localhost)
/// when no proxy is set; for any other host, or through a proxy (the tunnel then
/// crosses the network, and "localhost" would be the proxy's machine),
/// `camb_client_builder_build()` refuses them unless
/// `camb_client_builder_set_allow_insecure_http()` opted in, since the key would
/// travel in clear text.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER`; `CAMB_RESULT_INVALID_PARAMETER` if it is
/// not an absolute http(s) URL with a host, has a query, fragment or user info, a
/// port that is empty, 0 or over 65535, a host name with characters other than
/// letters, digits, `.`, `-` and `_` (international names go in punycode), a path
/// with bytes other than visible ASCII (escape them as `%XX`) or any of the
/// characters `"` `<` `>` `\` `^` `{` `|` `}` and the backquote, or is longer than
/// 2048 bytes.
// The caller's part: As for `camb_client_builder_set_api_key`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_builder_set_base_url(
    builder: *mut camb_client_builder,
    base_url: *const c_char,
) -> camb_result {
    with_builder(builder, "camb_client_builder_set_base_url", |config| {
        // SAFETY: the caller passes NULL or a NUL-terminated string (see above).
        let url = unsafe { str_arg(base_url, "base_url") }?;
        config.set_base_url(url)
    })
}

/// Sets the whole-call timeout in milliseconds (default 60000): it bounds each
/// call from start to end, including every retry and every wait between retries.
/// A download's bound includes the time its write callback takes. A wait has its
/// own deadline (`camb_wait_options`), each poll bounded by both; a batch of
/// statuses is bounded as a whole.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER`; `CAMB_RESULT_INVALID_PARAMETER` if it is 0
/// or more than 86400000 (a day).
// The caller's part: `builder` is NULL or a builder from `camb_client_builder_new()`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_builder_set_timeout_ms(
    builder: *mut camb_client_builder,
    timeout_ms: u64,
) -> camb_result {
    with_builder(builder, "camb_client_builder_set_timeout_ms", |config| {
        config.set_timeout_ms(timeout_ms)
    })
}

/// Sets how many threads run this client's jobs (those given to
/// `camb_job_submit()`; default 4, from 1 to 64). They start with the first job
/// and end when the client is freed. A job holds a thread while it sends or
/// reads (a retry's backoff included: it is part of its request), never while
/// it waits between polls, so a few threads serve many jobs; the client also
/// has one timer thread once it has had a job. A batch
/// (`camb_client_job_get_task_statuses()`) holds one of them while it runs, and
/// runs its other queries on threads of its own.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER`; `CAMB_RESULT_INVALID_PARAMETER` for 0 or
/// more than 64.
// The caller's part: `builder` is NULL or a builder from `camb_client_builder_new()`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_builder_set_job_threads(
    builder: *mut camb_client_builder,
    threads: u32,
) -> camb_result {
    with_builder(builder, "camb_client_builder_set_job_threads", |config| {
        config.set_job_threads(threads)
    })
}

/// How much a log callback is told, from the least to the most. Each level
/// includes the ones before it.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum camb_log_level {
    /// A call failed for good ("given up", and why).
    Error = 1,
    /// A retry was scheduled (why, and the wait).
    Warn = 2,
    /// A reply with an error status; a job finished, failed or was cancelled.
    Info = 3,
    /// Every request sent (method, URL, attempt), every reply (status, time, new
    /// or reused connection), every job started and polled.
    Debug = 4,
}

/// Receives one log line: its level, the text (`len` bytes and a NUL, valid only
/// during the call; one line, without a newline) and `user_data`. It runs on the
/// thread making the call (a pool thread for a job), possibly on several threads
/// at once. It must not unwind (C++ exceptions, longjmp) through libcamb. The
/// line never holds the API key, a proxy's password, or a header value marked
/// secret, even when a server echoes one back, raw or percent-encoded (each byte
/// as itself or as `%XX`, in either case); a key or password under 4 bytes is
/// not searched for (it could not be told from other text).
pub type camb_log_fn = Option<
    unsafe extern "C" fn(level: u32, line: *const c_char, len: usize, user_data: *mut c_void),
>;

/// Told, once, that libcamb will not use `user_data` again: for freeing what
/// it points to. Runs on the thread that made that so (the one freeing the
/// client or the builder, or setting another log function).
pub type camb_finalizer_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// Sends the client's log lines up to `level` (a `CAMB_LOG_LEVEL_*`) to
/// `callback` with `user_data`. Whatever the program sets, the environment
/// variable `CAMB_LOG` (`error`, `warn`, `info` or `debug`) also sends the lines
/// up to its level to stderr, for a user who cannot change the program. With
/// neither, nothing is formatted: logging then costs nothing measurable.
///
/// `callback` runs on the thread making the request: the caller's during a
/// blocking call, a pool thread for a job (the one place where libcamb runs the
/// caller's code on its own threads). It must return quickly, must not unwind
/// through libcamb, and must not free the client.
///
/// `finalizer` (may be NULL) is called once with `user_data` when libcamb is
/// done with both: during `camb_client_free()`, after the last line was passed
/// on and before it returns; or when the builder is freed or fails to build,
/// or this is called again on it (the previous function's finalizer runs
/// then). A wrapper can own its closure through `user_data` and free it there.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER` (builder, or callback);
/// `CAMB_RESULT_INVALID_PARAMETER` for a level that is not one of them. On an
/// error the finalizer is not called: `user_data` stays the caller's.
// The caller's part: `builder` is NULL or a live builder; `callback` may be
// called with `user_data` on any thread until `finalizer` is.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_builder_set_log(
    builder: *mut camb_client_builder,
    level: u32,
    callback: camb_log_fn,
    user_data: *mut c_void,
    finalizer: camb_finalizer_fn,
) -> camb_result {
    result_call(|| {
        // SAFETY: NULL or a live builder, used by one thread at a time.
        let Some(builder) = (unsafe { builder.as_mut() }) else {
            return Err(null_parameter("builder"));
        };
        let callback = callback.ok_or_else(|| null_parameter("callback"));
        let level = match level {
            1 => Ok(LogLevel::Error),
            2 => Ok(LogLevel::Warn),
            3 => Ok(LogLevel::Info),
            4 => Ok(LogLevel::Debug),
            other => Err(Error::invalid(format!(
                "log level {other} is not a CAMB_LOG_LEVEL_* value"
            ))),
        };
        let (callback, level) = match (callback, level) {
            (Ok(callback), Ok(level)) => (callback, level),
            (Err(error), _) | (_, Err(error)) => {
                if builder.refused.is_none() {
                    let why = "not built: camb_client_builder_set_log() refused its value earlier";
                    builder.refused = Some(error.clone().context(why));
                }
                return Err(error);
            }
        };
        let hook = Arc::new(LogHook {
            callback,
            // The caller's pointer, passed back as it was given.
            user_data: user_data as usize,
            finalizer,
            finished: AtomicBool::new(false),
        });
        let line_hook = Arc::clone(&hook);
        builder.config.log = Some(LogSink {
            level,
            callback: Arc::new(move |level: LogLevel, line: &str| line_hook.line(level, line)),
        });
        // The previous function, if any, is finished here.
        if let Some(previous) = builder.log_hook.replace(hook) {
            previous.finish();
        }
        Ok(())
    })
}

/// Adds a header sent with every request, for tracing (`traceparent`) or a
/// gateway's routing. Call it once per header. A `secret` value never appears in
/// a log line or an error message, and is zeroed when the client is freed. A
/// `user-agent` replaces libcamb's own.
///
/// Refused with `CAMB_RESULT_INVALID_PARAMETER`, with words saying why: a name
/// that is not an HTTP token, or that libcamb writes itself (`x-api-key`, `host`,
/// `content-length`, `transfer-encoding`, `connection`, `accept`,
/// `content-type`), or that changes how HTTP runs on the connection (`te`,
/// `upgrade`, `expect`, `keep-alive`, `trailer`, `proxy-connection`), or that was
/// added already (in any case); a value holding a CR, LF, NUL or another control
/// character (which could end the header early and inject another; TAB, which
/// RFC 9110 allows in a value and which cannot, is accepted); a value over 8 KiB; a secret value under 4 bytes (too short to be told from other text); a
/// 65th header. As with every setter, a refusal also makes the build fail.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER`; `CAMB_RESULT_INVALID_PARAMETER` (above,
/// text not UTF-8).
// The caller's part: `builder` is NULL or a live builder; `name` and `value` are
// NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_builder_add_header(
    builder: *mut camb_client_builder,
    name: *const c_char,
    value: *const c_char,
    secret: bool,
) -> camb_result {
    with_builder(builder, "camb_client_builder_add_header", |config| {
        // SAFETY: NULL or NUL-terminated, per the contract.
        let name = unsafe { str_arg(name, "name") }?;
        // SAFETY: as above.
        let value = unsafe { str_arg(value, "value") }?;
        config.add_header(name, value, secret)
    })
}

/// Sets how many extra attempts an idempotent request (a status query) may make
/// after a connection failure, a 408, a 429 or a 5xx reply (default 2; 0 disables
/// retries). Waits between attempts back off exponentially with jitter and honour
/// the server's `Retry-After`, all within the whole-call timeout. 401, 403, 404 and
/// 422 are never retried.
///
/// A kept-alive connection is checked before it is reused; one that the server
/// closes at the very moment a request goes out on it fails that attempt with
/// `CAMB_RESULT_CONNECT`, which these rules retry for a read. A create is not
/// retried (the server may have received it) unless its options allow it.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER`; `CAMB_RESULT_INVALID_PARAMETER` if it is
/// more than 10.
// The caller's part: `builder` is NULL or a builder from `camb_client_builder_new()`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_builder_set_max_retries(
    builder: *mut camb_client_builder,
    max_retries: u32,
) -> camb_result {
    with_builder(builder, "camb_client_builder_set_max_retries", |config| {
        config.set_max_retries(max_retries)
    })
}

/// Allows (`allow` true) a plain `http://` base URL to a host that is not loopback,
/// or to any host through a proxy.
/// The API key then travels in clear text: use it only on a network you trust,
/// such as a test host. Default false.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER`.
// The caller's part: `builder` is NULL or a builder from `camb_client_builder_new()`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_builder_set_allow_insecure_http(
    builder: *mut camb_client_builder,
    allow: bool,
) -> camb_result {
    with_builder(
        builder,
        "camb_client_builder_set_allow_insecure_http",
        |config| {
            config.allow_insecure_http = allow;
            Ok(())
        },
    )
}

/// Trusts the CA certificates of the PEM file at `path` instead of the built-in
/// roots (Mozilla's, compiled in), like curl's `CURLOPT_CAINFO`: use it behind a
/// corporate proxy that re-signs TLS. The file is read and checked now.
/// Server certificates are always verified; there is no way to turn that off.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER`; `CAMB_RESULT_INVALID_PARAMETER` if the
/// file cannot be read, is not a regular file, is over 16 MiB, is not PEM or holds
/// no certificate.
// The caller's part: `builder` is NULL or a builder from `camb_client_builder_new()`; `path` is NULL
// or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_builder_set_ca_bundle_file(
    builder: *mut camb_client_builder,
    path: *const c_char,
) -> camb_result {
    result_call(|| {
        if builder.is_null() {
            return Err(null_parameter("builder"));
        }
        // SAFETY: the caller passes NULL or a NUL-terminated string.
        let certificates = unsafe { path_arg(path) }.and_then(|path| load_ca_bundle_file(&path));
        change_builder(
            builder,
            "camb_client_builder_set_ca_bundle_file",
            |config| {
                config.ca_certificates = certificates?;
                Ok(())
            },
        )
    })
}

/// Like `camb_client_builder_set_ca_bundle_file()`, from PEM text in memory:
/// `len` bytes at `pem` (no NUL needed). The bytes are copied.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER`; `CAMB_RESULT_INVALID_PARAMETER` if it is
/// not PEM or holds no certificate.
// The caller's part: `builder` is NULL or a builder from `camb_client_builder_new()`; `pem` is NULL
// or points to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_builder_set_ca_bundle_pem(
    builder: *mut camb_client_builder,
    pem: *const u8,
    len: usize,
) -> camb_result {
    with_builder(builder, "camb_client_builder_set_ca_bundle_pem", |config| {
        if pem.is_null() {
            return Err(null_parameter("pem"));
        }
        // SAFETY: non-NULL and `len` readable bytes, per the contract.
        config.set_ca_bundle_pem(unsafe { std::slice::from_raw_parts(pem, len) })
    })
}

/// Sends every request through an HTTP proxy, `"http://host:port"`: an HTTP
/// CONNECT tunnel, so for https the proxy sees the host name only, never the key
/// or the data. Credentials may be given as `"http://user:password@host:port"`.
/// The proxy URL is plain http: credentials reach the proxy in clear (Basic
/// authentication), and a plain `http://` base URL through a proxy needs
/// `camb_client_builder_set_allow_insecure_http()`, even to a loopback name.
/// A proxy that refuses the tunnel (407, 403...) fails the call with
/// `CAMB_RESULT_CONNECT` without retries. SOCKS proxies are not supported.
/// Without this call libcamb connects directly: it never reads `HTTP_PROXY`,
/// `HTTPS_PROXY`, `ALL_PROXY` or `NO_PROXY`, so an environment cannot silently
/// route the key through another host.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER`; `CAMB_RESULT_INVALID_PARAMETER` if the URL
/// is not a proxy URL (the message never repeats it, as it may hold a password).
// The caller's part: As for `camb_client_builder_set_api_key`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_builder_set_proxy(
    builder: *mut camb_client_builder,
    proxy_url: *const c_char,
) -> camb_result {
    with_builder(builder, "camb_client_builder_set_proxy", |config| {
        // SAFETY: the caller passes NULL or a NUL-terminated string.
        config.set_proxy(unsafe { str_arg(proxy_url, "proxy_url") }?)
    })
}

/// Builds a client from the builder's settings and writes it to `*out_client`.
///
/// Always consumes `builder`, whether it succeeds or fails: do not use or free the
/// builder afterwards. On success the caller owns `*out_client` and frees it with
/// `camb_client_free()`; on failure `*out_client` is left unchanged.
///
/// Without a key set, the key is read from `CAMB_API_KEY` now; without a base URL
/// set, `CAMB_BASE_URL` is read now (see `camb_client_builder_set_base_url()`).
///
/// A builder on which any setter failed is not built: this returns the first
/// failure's code, and `camb_last_error()` names the setter and why it refused,
/// so that a program that did not check a setter's result cannot send its key
/// and its calls to a server it did not name.
///
/// Errors: the first refused setting's code (see above);
/// `CAMB_RESULT_NULL_PARAMETER` if `builder` or `out_client` is NULL (a
/// non-NULL builder is still consumed); `CAMB_RESULT_MISSING_API_KEY` if no key
/// was set and `CAMB_API_KEY` is unset or empty; `CAMB_RESULT_INVALID_PARAMETER`
/// for plain http to a non-loopback host (or through a proxy) without opt-in,
/// unusable CA certificates, an unusable `CAMB_API_KEY`, or a `CAMB_BASE_URL` that
/// the rules of `camb_client_builder_set_base_url()` refuse (the message says so).
// The caller's part: `builder` is NULL or a builder from `camb_client_builder_new()`; `out_client`
// is NULL or valid for a pointer-sized write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_builder_build(
    builder: *mut camb_client_builder,
    out_client: *mut *mut camb_client,
) -> camb_result {
    result_call(|| {
        if builder.is_null() {
            return Err(null_parameter("builder"));
        }
        // SAFETY: a live builder from camb_client_builder_new, consumed here once
        // (the caller's part). On any failure below it is dropped, and with it
        // the log function's reference: its finalizer runs.
        let builder = unsafe { Box::from_raw(builder) };
        out_arg(out_client, "out_client")?;
        if let Some(refused) = builder.refused {
            return Err(refused);
        }
        let client = Client::new(builder.config)?;
        let handle = Box::into_raw(Box::new(camb_client::new(client, builder.log_hook)));
        // SAFETY: checked non-NULL above; the caller guarantees it is writable.
        unsafe { out_client.write(handle) };
        Ok(())
    })
}

/// Frees a builder that was not built (its log function's finalizer runs).
/// NULL is ignored.
// The caller's part: `builder` is NULL or a live builder from
// `camb_client_builder_new()`, not built, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_builder_free(builder: *mut camb_client_builder) {
    void_call(|| {
        if !builder.is_null() {
            // SAFETY: a live builder, freed once (the caller's part).
            drop(unsafe { Box::from_raw(builder) });
        }
    })
}
