//! The safe, typed client: requests built from checked parts, sent with retries
//! within one deadline, replies decoded.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use zeroize::Zeroizing;

use crate::api_key::ApiKey;
use crate::audio_urls::{decode_file_url, decode_result_urls, result_urls_request};
use crate::cancel::CancelToken;
use crate::config::ClientConfig;
use crate::create::{CreateRequest, decode_create_reply};
use crate::error::Error;
use crate::error_reply::error_for_status_redacted;
use crate::log::{LogLevel, Logger, log_line};
use crate::path::push_segment;
use crate::retry::{Budget, Plan, RetryPolicy, parse_retry_after};
use crate::secrets::Secrets;
use crate::task::{TaskInfo, decode_status_reply};
pub(crate) use crate::transport::Method;
use crate::transport::{Request, Response, Transport, error_from_body_read};
use crate::url::{BaseUrl, ProxyUrl};

/// What a JSON call accepts.
const ACCEPT_JSON: &str = "application/json";

/// Largest JSON reply read. A status reply is ~100 bytes; anything near this is not one.
pub(crate) const MAX_JSON_BODY: u64 = 1 << 20;
/// Most run ids in one bulk results call.
pub(crate) const MAX_BULK_RUN_IDS: usize = 1000;
/// Longest error message, once its secrets are out: a decoder's message quotes
/// the server's value whole. Room for one quoted piece of server text and the
/// words around it.
const MAX_MESSAGE: usize = 2400;
/// Largest error body read for its `detail` text; the rest is left unread.
const MAX_ERROR_BODY: u64 = 64 << 10;

/// A client for the CAMB text-to-sound API. Immutable once built; share it between
/// threads freely (`&Client` is all a call needs).
#[derive(Debug)]
pub struct Client {
    transport: Transport,
    base: BaseUrl,
    /// `{base}/text-to-sound/`, the prefix of every status request.
    status_prefix: String,
    pub(crate) retry: RetryPolicy,
    /// Threads for this client's jobs.
    pub(crate) job_threads: usize,
    /// Where the client tells of its work; `None`: nowhere, and no line is made.
    log: Option<Logger>,
    /// The key, a proxy's password and secret header values, kept out of error
    /// messages and log lines.
    secrets: Arc<Secrets>,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Client, Error> {
        // The setters check each value; the fields are public, so check again.
        let base = config.validate()?;
        let api_key = match config.api_key {
            Some(key) => key,
            None => ApiKey::from_env()?,
        };
        let mut secrets = vec![Zeroizing::new(api_key.expose().to_owned())];
        secrets.extend(config.proxy.iter().flat_map(ProxyUrl::secrets));
        secrets.extend(
            config
                .headers
                .iter()
                .filter(|header| header.secret)
                .map(|header| header.value.clone()),
        );
        let secrets = Arc::new(Secrets::new(secrets));
        let log = Logger::new(
            config
                .log
                .as_ref()
                .map(|sink| (sink.level, Arc::clone(&sink.callback))),
            Arc::clone(&secrets),
        );
        let transport = Transport::new(
            config.proxy.as_ref(),
            &config.ca_certificates,
            &api_key,
            &config.headers,
            config.timeout,
        )?;
        let mut status_prefix = String::with_capacity(base.prefix.len() + 15);
        status_prefix.push_str(&base.prefix);
        status_prefix.push_str("/text-to-sound/");
        Ok(Client {
            transport,
            base,
            status_prefix,
            retry: RetryPolicy {
                timeout: config.timeout,
                max_retries: config.max_retries,
            },
            job_threads: config.job_threads as usize,
            log,
            secrets,
        })
    }

    /// The base URL every request starts with (scheme in lower case, no trailing `/`).
    pub fn base_url(&self) -> &str {
        &self.base.prefix
    }

    /// The URL of an endpoint: the base URL, then `path_and_query`.
    pub(crate) fn url(&self, path_and_query: &str) -> String {
        let mut url = String::with_capacity(self.base.prefix.len() + path_and_query.len());
        url.push_str(&self.base.prefix);
        url.push_str(path_and_query);
        url
    }

    /// TCP connections this client has opened (for tests and diagnostics).
    pub fn connections_opened(&self) -> u64 {
        self.transport.connections_opened()
    }

    /// Closes every connection, idle or in use (a call in flight fails at once),
    /// and refuses new ones: for freeing a client whose jobs are still running.
    pub(crate) fn shut_down(&self) {
        self.transport.shut_down();
    }

    /// The request target of a task's status: one encoded path segment after the prefix.
    pub(crate) fn status_url(&self, task_id: &str) -> Result<String, Error> {
        let mut url = String::with_capacity(self.status_prefix.len() + task_id.len());
        url.push_str(&self.status_prefix);
        push_segment(&mut url, "task id", task_id)?;
        Ok(url)
    }

    /// A status query under another deadline or cancellation (the wait, a batch).
    pub(crate) fn get_task_status_within(&self, url: &str, plan: &Plan) -> Result<TaskInfo, Error> {
        let body = self.call_json(Method::Get, url, None, plan)?;
        decode_status_reply(&body).map_err(|e| self.scrub(e))
    }

    /// `POST /text-to-sound`, the request of [`Client::create_task`]. Validated
    /// first; retried only if `request.retry` is set (a retry can create a second
    /// paid task); `cancel` stops it (a job's: freeing the client cancels it, and
    /// it must then not wait to retry).
    pub(crate) fn create_task_cancellable(
        &self,
        request: &CreateRequest,
        cancel: Option<&CancelToken>,
    ) -> Result<String, Error> {
        request.validate()?;
        let url = self.url("/text-to-sound");
        let plan = Plan {
            cancel,
            ..Plan::new(request.retry)
        };
        let body = self.call_json(Method::Post, &url, Some(&request.to_json()), &plan)?;
        decode_create_reply(&body).map_err(|e| self.scrub(e))
    }

    /// `GET /text-to-sound-result/{run_id}?output_type=FILE_URL`: a pre-signed URL
    /// of the audio, the request of [`Client::get_audio_url`].
    pub(crate) fn get_audio_url_cancellable(
        &self,
        run_id: i64,
        cancel: Option<&CancelToken>,
    ) -> Result<String, Error> {
        let url = self.url(&format!(
            "/text-to-sound-result/{run_id}?output_type=FILE_URL"
        ));
        let plan = Plan {
            cancel,
            ..Plan::new(true)
        };
        let body = self.call_json(Method::Get, &url, None, &plan)?;
        decode_file_url(&body).map_err(|e| self.scrub(e))
    }

    /// `POST /text-to-sound-results`: URLs for many runs at once, the request of
    /// [`Client::get_audio_urls`].
    pub(crate) fn get_audio_urls_cancellable(
        &self,
        run_ids: &[i64],
        cancel: Option<&CancelToken>,
    ) -> Result<HashMap<i64, String>, Error> {
        check_bulk_count(run_ids.len())?;
        let url = self.url("/text-to-sound-results");
        let request = result_urls_request(run_ids);
        let plan = Plan {
            cancel,
            ..Plan::new(true)
        };
        let body = self.call_json(Method::Post, &url, Some(&request), &plan)?;
        decode_result_urls(&body).map_err(|e| self.scrub(e))
    }

    /// A request whose 2xx reply is JSON, read up to [`MAX_JSON_BODY`], with retries.
    pub(crate) fn call_json(
        &self,
        method: Method,
        url: &str,
        body: Option<&[u8]>,
        plan: &Plan,
    ) -> Result<Vec<u8>, Error> {
        let request = Request {
            method,
            url,
            accept: ACCEPT_JSON,
            body,
            streaming: false,
        };
        self.with_retries(plan, &request, |budget| {
            let mut response = self.send_once(&request, budget)?;
            read_json_body(&mut response, budget)
        })
    }

    /// The client's retry policy over `attempt` (which sends `request`), the key
    /// scrubbed from the error.
    pub(crate) fn with_retries<T>(
        &self,
        plan: &Plan,
        request: &Request,
        attempt: impl FnMut(&Budget) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let what = || request.describe();
        self.retry
            .run(plan, self.log.as_ref(), &what, attempt)
            .map_err(|e| self.scrub(e))
    }

    /// Where this client tells of its work, if anywhere.
    pub(crate) fn logger(&self) -> Option<&Logger> {
        self.log.as_ref()
    }

    /// One request. A 2xx response is returned unread, for the caller to read as it
    /// needs; any other status becomes an error carrying the server's words and
    /// its `Retry-After`. All of it, the reply's head included, within `budget`.
    pub(crate) fn send_once(&self, request: &Request, budget: &Budget) -> Result<Response, Error> {
        let log = self.log.as_ref();
        log_line!(
            log,
            LogLevel::Debug,
            "{} sent (attempt {})",
            request.describe(),
            budget.attempt
        );
        let sent = Instant::now();
        let mut response = self.transport.send(request, budget)?;
        let level = if response.status().as_u16() >= 400 {
            LogLevel::Info
        } else {
            LogLevel::Debug
        };
        let connection = if response.opened_connection() {
            "a new connection"
        } else {
            "a reused connection"
        };
        log_line!(
            log,
            level,
            "{} replied {} in {} ms, on {connection}",
            request.describe(),
            response.status().as_u16(),
            sent.elapsed().as_millis()
        );
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Ok(response);
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after = header(ureq::http::header::RETRY_AFTER)
            .and_then(|v| parse_retry_after(&v, SystemTime::now()));
        let location = header(ureq::http::header::LOCATION);
        let body = read_up_to(&mut response, MAX_ERROR_BODY);
        let redact = |text: &str| self.redact(text);
        Err(
            error_for_status_redacted(status, &body, location.as_deref(), &redact)
                .with_retry_after(retry_after),
        )
    }

    /// Removes the API key (and every other secret) from an error's message,
    /// wherever it came from, then keeps it short: a decoder's message quotes
    /// the server's value whole, and is cut only once the secrets are out.
    pub(crate) fn scrub(&self, error: Error) -> Error {
        let clean = crate::json::shortened(self.redact(error.message()), MAX_MESSAGE);
        error.replace_message(clean)
    }

    /// `text` without the key, a proxy's password or the values of headers
    /// marked secret (a server may echo those too).
    fn redact(&self, text: &str) -> String {
        self.secrets.redact(text)
    }
}

/// The whole body of a JSON reply, refused past [`MAX_JSON_BODY`] (before any
/// of it is read when the reply declares its length).
fn read_json_body(response: &mut Response, budget: &Budget) -> Result<Vec<u8>, Error> {
    let too_large = || {
        Error::bad_response(format!(
            "the reply body is larger than its {MAX_JSON_BODY}-byte limit"
        ))
        .into_permanent()
    };
    let body = response.body_mut();
    let declared = body.content_length();
    if declared.is_some_and(|length| length > MAX_JSON_BODY) {
        return Err(too_large());
    }
    let mut json = Vec::with_capacity(declared.unwrap_or(0) as usize);
    body.with_config()
        .limit(MAX_JSON_BODY)
        .reader()
        .read_to_end(&mut json)
        .map_err(|e| error_from_body_read(e, budget))?;
    Ok(json)
}

/// Up to `limit` bytes of the body, best effort: what arrived before a failure
/// (an error reply's words are a courtesy; its status is what counts).
fn read_up_to(response: &mut Response, limit: u64) -> Vec<u8> {
    let mut body = Vec::new();
    // On an error, read_to_end keeps what it read before it.
    let _ = response
        .body_mut()
        .as_reader()
        .take(limit)
        .read_to_end(&mut body);
    body
}

/// Refuses a bulk URL request of no run or of more than [`MAX_BULK_RUN_IDS`].
pub(crate) fn check_bulk_count(count: usize) -> Result<(), Error> {
    if count == 0 || count > MAX_BULK_RUN_IDS {
        return Err(Error::invalid(format!(
            "between 1 and {MAX_BULK_RUN_IDS} run ids per call, not {count}"
        )));
    }
    Ok(())
}
