//! The safe, typed client: request building, retries within one deadline, reply decoding.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use zeroize::Zeroizing;

use crate::api_key::ApiKey;
use crate::cancel::{self, CancelToken};
use crate::config::ClientConfig;
use crate::create::{CreateRequest, decode_create_reply};
use crate::error::{Error, ErrorKind};
use crate::http::HttpError;
use crate::http::tls::TlsSetup;
pub(crate) use crate::http::transport::Method;
use crate::http::transport::{Request, Response, Transport};
use crate::http_error::error_for_status_redacted;
use crate::path::push_segment;
use crate::results::{decode_file_url, decode_result_urls, result_urls_request};
use crate::retry::{MAX_RETRY_AFTER, backoff, is_retryable, parse_retry_after};
use crate::task::{TaskInfo, decode_status_reply};

/// The bare message of a timeout, before with_retries says which bound it hit.
const TIMED_OUT: &str = "timed out";

const API_KEY_HEADER: &str = "x-api-key";
/// What a JSON call accepts.
const ACCEPT_JSON: &str = "application/json";

/// Sent on every request, so CAMB can tell this library's traffic apart.
pub(crate) const USER_AGENT: &str = concat!("libcamb/", env!("CARGO_PKG_VERSION"));

/// Largest JSON reply read. A status reply is ~100 bytes; anything near this is not one.
pub(crate) const MAX_JSON_BODY: u64 = 1 << 20;
/// Most run ids in one bulk results call.
pub(crate) const MAX_BULK_RUN_IDS: usize = 1000;
/// Largest error body read for its `detail` text; the rest is left unread.
const MAX_ERROR_BODY: usize = 64 << 10;

/// A client for the CAMB text-to-sound API. Immutable once built; share it between
/// threads freely (`&Client` is all a call needs).
#[derive(Debug)]
pub struct Client {
    transport: Transport,
    api_key: ApiKey,
    base_url: String,
    /// `{base_path}/text-to-sound/`, the prefix of every status request.
    status_prefix: String,
    pub(crate) timeout: Duration,
    max_retries: u32,
}

/// One failed attempt, with what the server said about trying again.
pub(crate) struct Failure {
    pub(crate) error: Error,
    pub(crate) retry_after: Option<Duration>,
    /// Not to be retried whatever its kind: a download that already delivered
    /// bytes, a certificate the server will present again, a proxy that refused.
    pub(crate) final_failure: bool,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure {
            error,
            retry_after: None,
            final_failure: false,
        }
    }
}

impl Failure {
    /// A failure that another attempt would only repeat.
    pub(crate) fn not_retryable(error: Error) -> Failure {
        Failure {
            final_failure: true,
            ..Failure::from(error)
        }
    }
}

/// How one call may spend its time: whether it may be retried, by when it must end
/// (`None`: the client's timeout from now), and what may cancel it.
pub(crate) struct Plan<'a> {
    pub(crate) idempotent: bool,
    pub(crate) deadline: Option<Instant>,
    pub(crate) cancel: Option<&'a CancelToken>,
}

impl Plan<'_> {
    pub(crate) fn new(idempotent: bool) -> Plan<'static> {
        Plan {
            idempotent,
            deadline: None,
            cancel: None,
        }
    }
}

/// A retry is started only if at least this much of the deadline is left for it
/// after its backoff: a retry with a sliver of time could only time out, and its
/// TIMEOUT would hide the server's real answer.
const MIN_ATTEMPT_TIME: Duration = Duration::from_millis(100);

impl Client {
    pub fn new(config: ClientConfig) -> Result<Client, Error> {
        // The setters check each value; the fields are public, so check again.
        let base = config.validate()?;
        let api_key = match config.api_key {
            Some(key) => key,
            None => ApiKey::from_env()?,
        };
        let tls = TlsSetup::new(&config.ca_certificates).map_err(Error::invalid)?;
        // Built with push_str, not format!: creating a client is meant to be cheap
        // (issue 6: create+free within 1 us), and fmt is most of a small format!.
        let mut key_header = Zeroizing::new(String::with_capacity(
            API_KEY_HEADER.len() + 2 + api_key.expose().len(),
        ));
        key_header.push_str(API_KEY_HEADER);
        key_header.push_str(": ");
        key_header.push_str(api_key.expose());
        let mut status_prefix = String::with_capacity(base.path.len() + 14);
        status_prefix.push_str(&base.path);
        status_prefix.push_str("/text-to-sound/");
        let transport = Transport::new(
            base,
            config.proxy.clone(),
            tls,
            USER_AGENT,
            key_header.as_bytes(),
        );
        Ok(Client {
            transport,
            api_key,
            status_prefix,
            base_url: config.base_url,
            timeout: config.timeout,
            max_retries: config.max_retries,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The base URL's path, which every request target starts with.
    pub(crate) fn base_path(&self) -> &str {
        &self.transport.base().path
    }

    /// TCP connections this client has opened (for tests and diagnostics).
    pub fn connections_opened(&self) -> u64 {
        self.transport.connections_opened()
    }

    /// `GET /text-to-sound/{task_id}`: the task's status, retried on transient failures.
    pub fn get_task_status(&self, task_id: &str) -> Result<TaskInfo, Error> {
        self.get_task_status_within(&self.status_url(task_id)?, &Plan::new(true))
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

    /// `POST /text-to-sound`: creates a task and returns its id. Validated first;
    /// retried only if `request.retry` is set (a retry can create a second paid task).
    pub fn create_task(&self, request: &CreateRequest) -> Result<String, Error> {
        request.validate()?;
        let url = format!("{}/text-to-sound", self.base_path());
        let body = self.call_json(
            Method::Post,
            &url,
            Some(&request.to_json()),
            &Plan::new(request.retry),
        )?;
        decode_create_reply(&body).map_err(|e| self.scrub(e))
    }

    /// `GET /text-to-sound-result/{run_id}?output_type=FILE_URL`: a pre-signed URL
    /// of the audio.
    pub fn get_result_url(&self, run_id: i64) -> Result<String, Error> {
        let url = format!(
            "{}/text-to-sound-result/{run_id}?output_type=FILE_URL",
            self.base_path()
        );
        let body = self.call_json(Method::Get, &url, None, &Plan::new(true))?;
        decode_file_url(&body).map_err(|e| self.scrub(e))
    }

    /// `POST /text-to-sound-results`: URLs for many runs at once. Run ids the server
    /// does not know are absent from the map. A read, so it is retried like one.
    pub fn get_result_urls(&self, run_ids: &[i64]) -> Result<HashMap<i64, String>, Error> {
        check_bulk_count(run_ids.len())?;
        let url = format!("{}/text-to-sound-results", self.base_path());
        let request = result_urls_request(run_ids);
        let body = self.call_json(Method::Post, &url, Some(&request), &Plan::new(true))?;
        decode_result_urls(&body).map_err(|e| self.scrub(e))
    }

    /// A request whose 2xx reply is JSON, read up to [`MAX_JSON_BODY`], with retries.
    fn call_json(
        &self,
        method: Method,
        url: &str,
        body: Option<&[u8]>,
        plan: &Plan,
    ) -> Result<Vec<u8>, Error> {
        let request = Request {
            method,
            target: url,
            accept: ACCEPT_JSON,
            body,
            idempotent: plan.idempotent,
        };
        self.with_retries(plan, |deadline| {
            self.send_once(&request, deadline)?
                .read_to_vec(MAX_JSON_BODY)
                .map_err(|e| self.transport_failure(e))
        })
    }

    /// Runs `attempt` until it succeeds, fails for good, or the deadline is near.
    /// `attempt` gets the deadline it must end by: the call's.
    pub(crate) fn with_retries<T>(
        &self,
        plan: &Plan,
        mut attempt: impl FnMut(Instant) -> Result<T, Failure>,
    ) -> Result<T, Error> {
        let deadline = plan
            .deadline
            .unwrap_or_else(|| Instant::now() + self.timeout);
        let cancelled = || {
            Error::new(
                ErrorKind::Cancelled,
                "cancelled before the request was sent",
            )
        };
        let mut retries = 0;
        loop {
            if plan.cancel.is_some_and(CancelToken::is_cancelled) {
                return Err(cancelled());
            }
            let time_left = match (retries, plan.deadline) {
                (0, None) => None,
                _ => Some(deadline.saturating_duration_since(Instant::now())),
            };
            if time_left.is_some_and(|t| t.is_zero()) {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    "the deadline passed before the request could be sent",
                ));
            }
            let failure = match attempt(deadline) {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            let mut error = failure.error.with_retry_after(failure.retry_after);
            if failure.final_failure {
                error = error.into_permanent();
            }
            if error.kind() == ErrorKind::Timeout {
                let budget = self.timeout_message(time_left);
                let message = match error.message() {
                    TIMED_OUT => budget,
                    context => format!("{budget} ({context})"),
                };
                error = error.replace_message(message);
            }
            let attempts = retries + 1;
            let retryable = plan.idempotent
                && !failure.final_failure
                && is_retryable(error.kind(), error.http_status());
            if !retryable || retries >= self.max_retries {
                return Err(self.scrub(with_attempts(error, attempts)));
            }
            let wait = failure.retry_after.unwrap_or_else(|| backoff(retries));
            let left = deadline.saturating_duration_since(Instant::now());
            let not_retried = if wait > MAX_RETRY_AFTER {
                Some(format!("the server asked to wait {} s", wait.as_secs()))
            } else if wait + MIN_ATTEMPT_TIME > left {
                Some(format!(
                    "waiting {} ms would leave no time before the deadline",
                    wait.as_millis()
                ))
            } else {
                None
            };
            if let Some(why) = not_retried {
                let message = format!("{} (not retried: {why})", error.message());
                return Err(self.scrub(with_attempts(error.replace_message(message), attempts)));
            }
            if cancel::sleep(plan.cancel, wait) {
                return Err(Error::new(
                    ErrorKind::Cancelled,
                    "cancelled while waiting to retry",
                ));
            }
            retries += 1;
        }
    }

    /// Says which bound an attempt that timed out had: the client's timeout, or
    /// what was left of the call's (or the wait's) deadline.
    fn timeout_message(&self, time_left: Option<Duration>) -> String {
        match time_left {
            None => format!(
                "no complete reply within the client's timeout of {} ms",
                self.timeout.as_millis()
            ),
            Some(left) => format!(
                "no complete reply within the {} ms left before the deadline",
                left.as_millis()
            ),
        }
    }

    /// One request. A 2xx response is returned unread, for the caller to read as it
    /// needs; any other status becomes a [`Failure`] carrying the server's words.
    /// All of it, the reply's head included, by `deadline`.
    pub(crate) fn send_once(
        &self,
        request: &Request,
        deadline: Instant,
    ) -> Result<Response<'_>, Failure> {
        let mut response = self
            .transport
            .send(request, deadline)
            .map_err(|e| self.transport_failure(e))?;
        let status = response.status();
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let retry_after = response
            .head
            .retry_after
            .as_deref()
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let location = response.head.location.take();
        let body = response.read_up_to(MAX_ERROR_BODY);
        let redact = |text: &str| self.api_key.redact(text);
        Err(Failure {
            error: error_for_status_redacted(status, &body, location.as_deref(), &redact),
            retry_after,
            final_failure: false,
        })
    }

    /// Maps a transport error to a failure: its kind, words, and whether another
    /// attempt could fare better (a network hiccup) or not (a bad certificate, a
    /// proxy that refused, a reply that breaks the protocol or a limit).
    pub(crate) fn transport_failure(&self, error: HttpError) -> Failure {
        let (kind, retryable) = match &error {
            HttpError::Timeout => (ErrorKind::Timeout, true),
            HttpError::Resolve(_) | HttpError::Connect(_) | HttpError::Network(_) => {
                (ErrorKind::Connect, true)
            }
            HttpError::Tls(_) | HttpError::ProxyRefused(_) => (ErrorKind::Connect, false),
            HttpError::Protocol(_) | HttpError::HeadersTooLarge(_) | HttpError::BodyTooLarge(_) => {
                (ErrorKind::BadResponse, false)
            }
            HttpError::InvalidRequest(_) => (ErrorKind::InvalidParameter, false),
        };
        // HttpError::Timeout reads TIMED_OUT: with_retries puts the budget in front.
        let error = Error::new(kind, error.to_string());
        if retryable {
            Failure::from(error)
        } else {
            Failure::not_retryable(error)
        }
    }

    /// Removes the API key from an error's message, wherever it came from.
    pub(crate) fn scrub(&self, error: Error) -> Error {
        let clean = self.api_key.redact(error.message());
        error.replace_message(clean)
    }
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

fn with_attempts(error: Error, attempts: u32) -> Error {
    if attempts == 1 {
        return error;
    }
    let message = format!("{} (after {attempts} attempts)", error.message());
    error.replace_message(message)
}
