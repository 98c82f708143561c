//! The safe, typed client: request building, retries within one deadline, reply decoding.

use std::collections::HashMap;
use std::io::Read;
use std::time::{Duration, Instant, SystemTime};

use ureq::http::{HeaderName, HeaderValue};
use ureq::unversioned::transport::DefaultConnector;
use ureq::{Agent, RequestBuilder};

use crate::api_key::ApiKey;
use crate::cancel::{self, CancelToken};
use crate::config::ClientConfig;
use crate::create::{CreateRequest, decode_create_reply};
use crate::error::{Error, ErrorKind};
use crate::http_error::error_for_status_redacted;
use crate::path::push_segment;
use crate::resolver::CachingResolver;
use crate::results::{decode_file_url, decode_result_urls, result_urls_request};
use crate::retry::{MAX_RETRY_AFTER, backoff, is_retryable, parse_retry_after};
use crate::task::{TaskInfo, decode_status_reply};

/// The bare message of a timeout, before with_retries says which bound it hit.
const TIMED_OUT: &str = "timed out";

const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-api-key");

/// Sent on every request, so CAMB can tell this library's traffic apart.
pub(crate) const USER_AGENT: &str = concat!("libcamb/", env!("CARGO_PKG_VERSION"));

/// Largest JSON reply read. A status reply is ~100 bytes; anything near this is not one.
pub(crate) const MAX_JSON_BODY: u64 = 1 << 20;
/// Most run ids in one bulk results call.
pub(crate) const MAX_BULK_RUN_IDS: usize = 1000;
/// Largest error body read for its `detail` text; the rest is left unread.
const MAX_ERROR_BODY: u64 = 64 << 10;
/// Largest response header block accepted.
const MAX_HEADER_SIZE: usize = 64 << 10;
/// Idle keep-alive connections kept for the API host (ureq's default is 3, which
/// makes more than 3 threads sharing a client reconnect all the time).
const MAX_IDLE_CONNECTIONS: usize = 32;

/// A client for the CAMB text-to-sound API. Immutable once built; share it between
/// threads freely (`&Client` is all a call needs).
#[derive(Debug)]
pub struct Client {
    agent: Agent,
    api_key: ApiKey,
    /// The key as a header value, built once and marked sensitive (kept out of
    /// ureq's debug output). libcamb's own copy in `api_key` is the one zeroed.
    key_header: HeaderValue,
    base_url: String,
    /// `{base_url}/text-to-sound/`, the prefix of every status URL.
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
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
        let base_url = config.validate()?.to_owned();
        let api_key = match config.api_key {
            Some(key) => key,
            None => ApiKey::from_env()?,
        };
        let mut key_header = HeaderValue::from_str(api_key.expose())
            .map_err(|_| Error::invalid("the API key cannot be sent in an HTTP header"))?;
        key_header.set_sensitive(true);
        let tls = ureq::tls::TlsConfig::builder();
        let tls = if config.ca_certificates.is_empty() {
            tls
        } else {
            let certs: Vec<_> = config
                .ca_certificates
                .iter()
                .map(|der| ureq::tls::Certificate::from_der(der).to_owned())
                .collect();
            tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
        };
        let agent_config = Agent::config_builder()
            .tls_config(tls.build())
            // Read non-2xx bodies (the server's words) and keep their connections.
            .http_status_as_error(false)
            // Proxies only when the caller says so: an environment variable must not
            // silently route the key through another host.
            .proxy(config.proxy.clone())
            // Never follow a redirect: the key would go wherever it points.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(USER_AGENT)
            .accept("application/json")
            // The first attempt's bound; retries set the time that is left.
            .timeout_global(Some(config.timeout))
            .max_response_header_size(MAX_HEADER_SIZE)
            .max_idle_connections(MAX_IDLE_CONNECTIONS)
            .max_idle_connections_per_host(MAX_IDLE_CONNECTIONS)
            .build();
        let agent = Agent::with_parts(
            agent_config,
            DefaultConnector::default(),
            CachingResolver::default(),
        );
        Ok(Client {
            agent,
            api_key,
            key_header,
            status_prefix: format!("{base_url}/text-to-sound/"),
            base_url,
            timeout: config.timeout,
            max_retries: config.max_retries,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `GET /text-to-sound/{task_id}`: the task's status, retried on transient failures.
    pub fn get_task_status(&self, task_id: &str) -> Result<TaskInfo, Error> {
        self.get_task_status_within(&self.status_url(task_id)?, &Plan::new(true))
    }

    /// The URL of a task's status: one encoded path segment after the prefix.
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
        let url = format!("{}/text-to-sound", self.base_url);
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
            self.base_url
        );
        let body = self.call_json(Method::Get, &url, None, &Plan::new(true))?;
        decode_file_url(&body).map_err(|e| self.scrub(e))
    }

    /// `POST /text-to-sound-results`: URLs for many runs at once. Run ids the server
    /// does not know are absent from the map. A read, so it is retried like one.
    pub fn get_result_urls(&self, run_ids: &[i64]) -> Result<HashMap<i64, String>, Error> {
        check_bulk_count(run_ids.len())?;
        let url = format!("{}/text-to-sound-results", self.base_url);
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
        self.with_retries(plan, |time_left| {
            let mut response = self.send_once(method, url, body, time_left)?;
            response
                .body_mut()
                .with_config()
                .limit(MAX_JSON_BODY)
                .read_to_vec()
                .map_err(|e| self.transport_failure(e))
        })
    }

    /// Runs `attempt` until it succeeds, fails for good, or the deadline is near.
    /// `attempt` gets the time left for it, or `None` when the agent's own timeout
    /// is exactly the call's budget (the common case, which costs no extra config).
    pub(crate) fn with_retries<T>(
        &self,
        plan: &Plan,
        mut attempt: impl FnMut(Option<Duration>) -> Result<T, Failure>,
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
            let failure = match attempt(time_left) {
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
    pub(crate) fn send_once(
        &self,
        method: Method,
        url: &str,
        body: Option<&[u8]>,
        time_left: Option<Duration>,
    ) -> Result<ureq::http::Response<ureq::Body>, Failure> {
        let result = match method {
            Method::Get => self.prepare(self.agent.get(url), time_left).call(),
            Method::Post => self
                .prepare(self.agent.post(url), time_left)
                .header("content-type", "application/json")
                .send(body.unwrap_or_default()),
        };
        let mut response = result.map_err(|e| self.transport_failure(e))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after =
            header("retry-after").and_then(|v| parse_retry_after(&v, SystemTime::now()));
        let location = header("location");
        let body = read_error_body(response.body_mut());
        let redact = |text: &str| self.api_key.redact(text);
        Err(Failure {
            error: error_for_status_redacted(status, &body, location.as_deref(), &redact),
            retry_after,
            final_failure: false,
        })
    }

    /// Adds the key, and the time left when it is not the agent's own timeout.
    fn prepare<B>(
        &self,
        request: RequestBuilder<B>,
        time_left: Option<Duration>,
    ) -> RequestBuilder<B> {
        let request = request.header(API_KEY_HEADER, self.key_header.clone());
        match time_left {
            Some(time_left) => request.config().timeout_global(Some(time_left)).build(),
            None => request,
        }
    }

    /// Maps a ureq error to a failure: its kind, words, and whether another
    /// attempt could fare better (a network hiccup) or not (a bad certificate).
    pub(crate) fn transport_failure(&self, error: ureq::Error) -> Failure {
        use ureq::Error as E;
        let (kind, message, retryable) = match error {
            // with_retries puts the attempt's budget in front.
            E::Timeout(_) => (ErrorKind::Timeout, TIMED_OUT.to_owned(), true),
            // rustls reports certificate and handshake failures as InvalidData;
            // plain sockets never do. The server would present the same certificate.
            E::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                (ErrorKind::Connect, format!("TLS error: {e}"), false)
            }
            E::Io(e) => (ErrorKind::Connect, format!("network error: {e}"), true),
            E::HostNotFound => (
                ErrorKind::Connect,
                "the host name could not be resolved".to_owned(),
                true,
            ),
            E::ConnectionFailed => (
                ErrorKind::Connect,
                "the connection could not be made".to_owned(),
                true,
            ),
            E::BodyStalled => (ErrorKind::Connect, "the reply stalled".to_owned(), true),
            E::Tls(e) => (ErrorKind::Connect, format!("TLS error: {e}"), false),
            E::Rustls(e) => (ErrorKind::Connect, format!("TLS error: {e}"), false),
            E::TlsRequired => (
                ErrorKind::Connect,
                "TLS error: TLS was required".to_owned(),
                false,
            ),
            // A proxy that refuses the tunnel (407, 403...) will refuse it again.
            E::ConnectProxyFailed(e) => (
                ErrorKind::Connect,
                format!("the proxy refused the connection: {e}"),
                false,
            ),
            E::BodyExceedsLimit(limit) => (
                ErrorKind::BadResponse,
                format!("the reply body is larger than its {limit}-byte limit"),
                false,
            ),
            E::LargeResponseHeader(size, limit) => (
                ErrorKind::BadResponse,
                format!("the reply's headers ({size} bytes) exceed the {limit}-byte limit"),
                false,
            ),
            E::Protocol(e) => (
                ErrorKind::BadResponse,
                format!("the reply is not valid HTTP/1.1: {e}"),
                false,
            ),
            // The rest are local mistakes (a URL, a setting) that no retry mends.
            other => (
                ErrorKind::InvalidParameter,
                format!("HTTP error: {other}"),
                false,
            ),
        };
        let error = Error::new(kind, message);
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

/// Reads an error reply's body for its words, best effort: up to [`MAX_ERROR_BODY`],
/// and whatever arrived if the read fails (the status is what matters then).
fn read_error_body(body: &mut ureq::Body) -> Vec<u8> {
    let mut buf = Vec::new();
    let _ = body.as_reader().take(MAX_ERROR_BODY).read_to_end(&mut buf);
    buf
}
