//! The safe, typed client: request building, retries within one deadline, reply decoding.

use std::io::Read;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use ureq::Agent;
use ureq::unversioned::transport::DefaultConnector;

use crate::api_key::ApiKey;
use crate::config::ClientConfig;
use crate::error::{Error, ErrorKind};
use crate::http_error::error_for_status;
use crate::path::push_segment;
use crate::resolver::CachingResolver;
use crate::retry::{MAX_RETRY_AFTER, backoff, is_retryable, parse_retry_after};
use crate::task::{TaskInfo, decode_status_reply};

/// Sent on every request, so CAMB can tell this library's traffic apart.
pub(crate) const USER_AGENT: &str = concat!("libcamb/", env!("CARGO_PKG_VERSION"));

/// Largest JSON reply read. A status reply is ~100 bytes; anything near this is not one.
pub(crate) const MAX_JSON_BODY: u64 = 1 << 20;
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
    base_url: String,
    timeout: Duration,
    max_retries: u32,
}

/// One failed attempt, with what the server said about trying again.
struct Failure {
    error: Error,
    retry_after: Option<Duration>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure {
            error,
            retry_after: None,
        }
    }
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Client, Error> {
        let base_url = config.validated_base_url()?.to_owned();
        let api_key = match config.api_key {
            Some(key) => key,
            None => ApiKey::from_env()?,
        };
        let agent_config = Agent::config_builder()
            // Read non-2xx bodies (the server's words) and keep their connections.
            .http_status_as_error(false)
            // Proxies only when the caller says so: an environment variable must not
            // silently route the key through another host.
            .proxy(None)
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
        let mut url = String::with_capacity(self.base_url.len() + 16 + task_id.len());
        url.push_str(&self.base_url);
        url.push_str("/text-to-sound/");
        push_segment(&mut url, "task id", task_id)?;
        let body = self.with_retries(true, |remaining| self.get_json_once(&url, remaining))?;
        decode_status_reply(&body).map_err(|e| self.scrub(e))
    }

    /// Runs `attempt` until it succeeds, fails for good, or the call's deadline is
    /// near. `attempt` gets the time left for it (`None` on the first attempt, when
    /// the agent's own timeout is exactly the call's budget).
    fn with_retries<T>(
        &self,
        idempotent: bool,
        mut attempt: impl FnMut(Option<Duration>) -> Result<T, Failure>,
    ) -> Result<T, Error> {
        let deadline = Instant::now() + self.timeout;
        let mut retries = 0;
        loop {
            let time_left = if retries == 0 {
                None
            } else {
                Some(deadline.saturating_duration_since(Instant::now()))
            };
            let failure = match attempt(time_left) {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            let error = failure.error;
            let attempts = retries + 1;
            let retryable = idempotent && is_retryable(error.kind(), error.http_status());
            if !retryable || retries >= self.max_retries {
                return Err(self.scrub(with_attempts(error, attempts)));
            }
            let wait = match failure.retry_after {
                Some(asked) => asked.min(MAX_RETRY_AFTER),
                None => backoff(retries),
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if wait >= left {
                let why = format!(
                    "{} (not retried: waiting {} ms would pass the call's {} ms timeout)",
                    error.message(),
                    wait.as_millis(),
                    self.timeout.as_millis()
                );
                return Err(self.scrub(with_attempts(Error::replace_message(error, why), attempts)));
            }
            thread::sleep(wait);
            retries += 1;
        }
    }

    /// One GET whose 2xx reply is JSON, read up to [`MAX_JSON_BODY`].
    fn get_json_once(&self, url: &str, time_left: Option<Duration>) -> Result<Vec<u8>, Failure> {
        let mut request = self
            .agent
            .get(url)
            .header("x-api-key", self.api_key.expose());
        if let Some(time_left) = time_left {
            request = request.config().timeout_global(Some(time_left)).build();
        }
        let mut response = request.call().map_err(|e| self.transport_error(e))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return response
                .body_mut()
                .with_config()
                .limit(MAX_JSON_BODY)
                .read_to_vec()
                .map_err(|e| Failure::from(self.transport_error(e)));
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
        Err(Failure {
            error: error_for_status(status, &body, location.as_deref()),
            retry_after,
        })
    }

    fn transport_error(&self, error: ureq::Error) -> Error {
        use ureq::Error as E;
        let (kind, message) = match error {
            E::Timeout(_) => (
                ErrorKind::Timeout,
                format!(
                    "no complete reply within the client's timeout of {} ms",
                    self.timeout.as_millis()
                ),
            ),
            E::Io(e) => (ErrorKind::Connect, format!("network error: {e}")),
            E::HostNotFound => (
                ErrorKind::Connect,
                "the host name could not be resolved".to_owned(),
            ),
            E::ConnectionFailed => (
                ErrorKind::Connect,
                "the connection could not be made".to_owned(),
            ),
            E::Tls(e) => (ErrorKind::Connect, format!("TLS error: {e}")),
            E::Rustls(e) => (ErrorKind::Connect, format!("TLS error: {e}")),
            E::BodyExceedsLimit(limit) => (
                ErrorKind::BadResponse,
                format!("the reply body is larger than its {limit}-byte limit"),
            ),
            E::LargeResponseHeader(size, limit) => (
                ErrorKind::BadResponse,
                format!("the reply's headers ({size} bytes) exceed the {limit}-byte limit"),
            ),
            E::Protocol(e) => (
                ErrorKind::BadResponse,
                format!("the reply is not valid HTTP/1.1: {e}"),
            ),
            other => (ErrorKind::Connect, format!("HTTP error: {other}")),
        };
        Error::new(kind, message)
    }

    /// Removes the API key from an error's message, wherever it came from.
    fn scrub(&self, error: Error) -> Error {
        let clean = self.api_key.redact(error.message());
        Error::replace_message(error, clean)
    }
}

fn with_attempts(error: Error, attempts: u32) -> Error {
    if attempts == 1 {
        return error;
    }
    let message = format!("{} (after {attempts} attempts)", error.message());
    Error::replace_message(error, message)
}

/// Reads an error reply's body for its words, best effort: up to [`MAX_ERROR_BODY`],
/// and whatever arrived if the read fails (the status is what matters then).
fn read_error_body(body: &mut ureq::Body) -> Vec<u8> {
    let mut buf = Vec::new();
    let _ = body.as_reader().take(MAX_ERROR_BODY).read_to_end(&mut buf);
    buf
}
