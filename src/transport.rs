//! HTTP, done by ureq. One [`ureq::Agent`] per client, set up for this API:
//!
//! - no redirect is followed, so the key never reaches another origin; every
//!   status comes back as a reply, for [`crate::error_reply`] to put into words;
//! - a proxy only when the caller names one (ureq's default would read the
//!   proxy environment variables and could route the key through them);
//! - TLS by rustls with verification always on, trusting the caller's CA
//!   bundle or the Mozilla roots;
//! - names looked up by [`CachingResolver`]: no lookup and no thread per call;
//! - through ureq's connector chain: TCP connections counted, the bytes of each
//!   request (the key among them) zeroed once sent, and a connection cut short
//!   never taken for the end of a reply ([`Guard`]).
//!
//! A call's deadline is ureq's global timeout, set for each attempt to what is
//! left of it ([`Budget`]). [`error_from_ureq`] is the one place where ureq's
//! errors become libcamb's.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ureq::config::AutoHeaderValue;
use ureq::http::{self, HeaderValue, header};
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
use ureq::unversioned::transport::{
    Buffers, ConnectProxyConnector, ConnectionDetails, Connector, Either, NextTimeout,
    RustlsConnector, TcpConnector, Transport as UreqTransport,
};
use zeroize::{Zeroize, Zeroizing};

use crate::api_key::ApiKey;
use crate::config::ExtraHeader;
use crate::error::{Error, ErrorKind};
use crate::resolver::{CachingResolver, LookupError};
use crate::retry::Budget;
use crate::url::ProxyUrl;

/// Sent on every request, so CAMB can tell this library's traffic apart.
pub(crate) const USER_AGENT: &str = concat!("libcamb/", env!("CARGO_PKG_VERSION"));
const API_KEY_HEADER: &str = "x-api-key";
/// Largest reply head accepted: a status reply's head is a few hundred bytes.
pub(crate) const MAX_HEADER_BYTES: usize = 64 << 10;
/// Idle keep-alive connections kept: enough for the threads sharing a client
/// (a batch uses up to 64 at once, but reconnects little beyond this).
const MAX_IDLE_CONNECTIONS: usize = 32;
/// An idle connection older than this is closed, not reused: servers and load
/// balancers drop idle connections after some seconds.
const MAX_IDLE_AGE: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
}

/// One request to the API.
pub(crate) struct Request<'a> {
    pub(crate) method: Method,
    /// The whole URL: the base URL's prefix, then a path of checked parts.
    pub(crate) url: &'a str,
    pub(crate) accept: &'static str,
    /// A JSON body.
    pub(crate) body: Option<&'a [u8]>,
    /// A reply that lasts as long as its audio (a speech stream): only the
    /// wait for its head is bounded by the deadline; after that, each read is
    /// bounded by the client's timeout, however long the whole body takes.
    pub(crate) streaming: bool,
}

impl Request<'_> {
    /// "GET https://host/path", for log lines (a URL holds no secret: the base
    /// URL can have no user name or password).
    pub(crate) fn describe(&self) -> String {
        let method = match self.method {
            Method::Get => "GET",
            Method::Post => "POST",
        };
        format!("{method} {}", self.url)
    }
}

/// A reply whose head has been read; its body is read through ureq's reader,
/// which puts the connection back in the pool once the body is read to its end.
/// (A struct, not a type alias: cbindgen reads every item of the crate and
/// cannot follow a generic alias.)
pub(crate) struct Response {
    reply: http::Response<ureq::Body>,
    /// Whether the request went out on a connection made for it.
    opened_connection: bool,
}

impl Response {
    pub(crate) fn opened_connection(&self) -> bool {
        self.opened_connection
    }
}

impl std::ops::Deref for Response {
    type Target = http::Response<ureq::Body>;

    fn deref(&self) -> &Self::Target {
        &self.reply
    }
}

impl std::ops::DerefMut for Response {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.reply
    }
}

pub(crate) struct Transport {
    agent: ureq::Agent,
    /// The key's header value, built once; its bytes are zeroed when the client is freed.
    key: HeaderValue,
    /// The caller's own headers, built once (secret values zeroed like the key's).
    extra: Vec<(http::HeaderName, HeaderValue)>,
    opened: Arc<AtomicU64>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport").finish_non_exhaustive()
    }
}

impl Transport {
    /// `timeout` bounds a call that has no deadline of its own (ureq's global timeout).
    pub(crate) fn new(
        proxy: Option<&ProxyUrl>,
        ca_certificates: &[Vec<u8>],
        api_key: &ApiKey,
        headers: &[ExtraHeader],
        timeout: Duration,
    ) -> Result<Transport, Error> {
        let proxy = proxy
            .map(ProxyUrl::to_ureq)
            .transpose()
            .map_err(|e| Error::invalid(format!("the proxy URL {}", e.0)))?;
        let root_certs = if ca_certificates.is_empty() {
            RootCerts::WebPki
        } else {
            RootCerts::new_with_certs(
                &ca_certificates
                    .iter()
                    .map(|der| Certificate::from_der(der).to_owned())
                    .collect::<Vec<_>>(),
            )
        };
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(root_certs)
            .build();
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(proxy)
            .tls_config(tls)
            .user_agent(USER_AGENT)
            // No compression: replies are small JSON or WAV, which gains nothing.
            .accept_encoding(AutoHeaderValue::None)
            .max_response_header_size(MAX_HEADER_BYTES)
            .max_idle_connections(MAX_IDLE_CONNECTIONS)
            .max_idle_connections_per_host(MAX_IDLE_CONNECTIONS)
            .max_idle_age(MAX_IDLE_AGE)
            .timeout_global(Some(timeout))
            .build();
        let opened = Arc::new(AtomicU64::new(0));
        // The order ureq's default chain has, less SOCKS and native-tls.
        let connector = ()
            .chain(ConnectProxyConnector::default())
            .chain(CountedTcpConnector {
                tcp: TcpConnector::default(),
                opened: Arc::clone(&opened),
            })
            .chain(RustlsConnector::default())
            .chain(Guard);
        let agent = ureq::Agent::with_parts(config, connector, CachingResolver::default());
        let extra = headers
            .iter()
            .map(|header| {
                let name = http::HeaderName::from_bytes(header.name.as_bytes()).map_err(|_| {
                    Error::invalid(format!("the header name {} cannot be sent", header.name))
                })?;
                let value =
                    secret_header_value(header.value.as_bytes(), header.secret).map_err(|_| {
                        Error::invalid(format!(
                            "the value of the header {} cannot be sent",
                            header.name
                        ))
                    })?;
                Ok((name, value))
            })
            .collect::<Result<_, Error>>()?;
        Ok(Transport {
            agent,
            key: secret_header_value(api_key.expose().as_bytes(), true)
                .map_err(|_| Error::invalid("the API key cannot be sent in an HTTP header"))?,
            extra,
            opened,
        })
    }

    /// TCP connections opened so far (for tests and diagnostics).
    pub(crate) fn connections_opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// ureq's shutdown: every connection closed, a call blocked on one woken with
    /// an error, new ones refused.
    pub(crate) fn shut_down(&self) {
        self.agent.clone().shutdown();
    }

    /// Sends `request` and reads the reply's head, within `budget`.
    pub(crate) fn send(&self, request: &Request, budget: &Budget) -> Result<Response, Error> {
        let method = match request.method {
            Method::Get => http::Method::GET,
            Method::Post => http::Method::POST,
        };
        let mut builder = http::Request::builder()
            .method(method)
            .uri(request.url)
            .header(header::ACCEPT, request.accept)
            .header(API_KEY_HEADER, self.key.clone());
        for (name, value) in &self.extra {
            builder = builder.header(name, value.clone());
        }
        match request.body {
            Some(body) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(body)
                .map_err(invalid_request)
                .and_then(|built| self.run(built, budget, request.streaming)),
            None => builder
                .body(())
                .map_err(invalid_request)
                .and_then(|built| self.run(built, budget, request.streaming)),
        }
    }

    fn run(
        &self,
        request: http::Request<impl ureq::AsSendBody>,
        budget: &Budget,
        streaming: bool,
    ) -> Result<Response, Error> {
        OPENED_HERE.with(|opened| opened.set(false));
        CONNECT_FAILED.with(|failed| failed.set(false));
        let result = match budget.time_left() {
            _ if streaming => {
                // ureq's phases up to the reply's head share the deadline; the
                // body has no total bound, only one per read (a stalled stream).
                let left = Some(budget.deadline.saturating_duration_since(Instant::now()));
                let request = self
                    .agent
                    .configure_request(request)
                    .timeout_global(None)
                    .timeout_resolve(left)
                    .timeout_connect(left)
                    .timeout_send_request(left)
                    .timeout_send_body(left)
                    .timeout_recv_response(left)
                    .timeout_per_read(Some(budget.client_timeout()))
                    .build();
                self.agent.run(request)
            }
            // The agent's own timeout is the client's: no per-request configuration.
            None => self.agent.run(request),
            Some(left) => {
                let request = self
                    .agent
                    .configure_request(request)
                    .timeout_global(Some(left))
                    .build();
                self.agent.run(request)
            }
        };
        result
            .map(|reply| Response {
                reply,
                opened_connection: OPENED_HERE.with(Cell::get),
            })
            .map_err(|e| {
                let error = error_from_ureq(e, budget);
                // The connector saw its connect fail: nothing was sent.
                if CONNECT_FAILED.with(Cell::get) {
                    error.into_unsent()
                } else {
                    error
                }
            })
    }
}

/// A request the `http` crate refused to build: a bug of libcamb's (every part
/// of a URL is checked before it gets here), reported, never sent.
fn invalid_request(error: http::Error) -> Error {
    Error::invalid(format!("invalid request: {error}")).into_permanent()
}

/// A header value; a secret one (the key, a caller's secret header) in memory
/// that is zeroed when its last copy (the client's, or a request's in flight) is
/// dropped.
fn secret_header_value(
    value: &[u8],
    secret: bool,
) -> Result<HeaderValue, http::header::InvalidHeaderValue> {
    if !secret {
        return HeaderValue::from_bytes(value);
    }
    let bytes = Zeroizing::new(value.to_vec());
    let mut value = HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(bytes))?;
    value.set_sensitive(true);
    Ok(value)
}

thread_local! {
    /// Set by the connector when it opens a connection on this thread: a request
    /// runs its connector on the calling thread, so this tells whether the
    /// request got a new connection or reused one.
    static OPENED_HERE: Cell<bool> = const { Cell::new(false) };
    /// Set by the connector when a connection it tried to make on this thread
    /// could not be made: the request of that attempt never left.
    static CONNECT_FAILED: Cell<bool> = const { Cell::new(false) };
}

/// The one conversion from ureq's error to libcamb's: its kind, its words, and
/// whether another attempt could fare better (a network hiccup) or not (a bad
/// certificate, a proxy that refused, a reply that breaks the protocol or a limit).
/// A timeout says which bound it hit, from `budget`.
pub(crate) fn error_from_ureq(error: ureq::Error, budget: &Budget) -> Error {
    use ureq::Error as U;
    // Failures before any byte could be sent: no connection was made.
    let unsent = matches!(
        error,
        U::HostNotFound
            | U::ConnectionFailed
            | U::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect)
    ) || matches!(&error, U::Other(e) if e.downcast_ref::<LookupError>().is_some());
    let (kind, message, retryable) = match error {
        U::Timeout(_) => (ErrorKind::Timeout, budget.timeout_message(), true),
        U::Io(e) => return network_error(&e, budget),
        U::HostNotFound => (
            ErrorKind::Connect,
            "the host name could not be resolved".to_owned(),
            true,
        ),
        U::ConnectionFailed => (
            ErrorKind::Connect,
            "the connection could not be made".to_owned(),
            true,
        ),
        U::Tls(text) => (ErrorKind::Connect, format!("TLS error: {text}"), false),
        U::Rustls(e) => (ErrorKind::Connect, format!("TLS error: {e}"), false),
        U::ConnectProxyFailed(text) => (
            ErrorKind::Connect,
            format!("the proxy refused the connection: {text}"),
            false,
        ),
        U::LargeResponseHeader(_, limit) => (
            ErrorKind::BadResponse,
            format!("the reply's headers exceed the {limit}-byte limit"),
            false,
        ),
        U::BodyExceedsLimit(limit) => (
            ErrorKind::BadResponse,
            format!("the reply body is larger than its {limit}-byte limit"),
            false,
        ),
        U::Protocol(e) => (
            ErrorKind::BadResponse,
            format!("the reply is not valid HTTP/1.1: {e}"),
            false,
        ),
        U::BodyStalled => (
            ErrorKind::Connect,
            "the reply body stopped before its end".to_owned(),
            true,
        ),
        U::Other(e) => match e.downcast_ref::<LookupError>() {
            Some(lookup) => (
                ErrorKind::Connect,
                format!("the host name could not be resolved: {lookup}"),
                true,
            ),
            None => (ErrorKind::Connect, format!("HTTP error: {e}"), false),
        },
        U::Http(e) => (
            ErrorKind::InvalidParameter,
            format!("invalid request: {e}"),
            false,
        ),
        U::BadUri(text) => (
            ErrorKind::InvalidParameter,
            format!("invalid URL: {text}"),
            false,
        ),
        other => (ErrorKind::Connect, format!("HTTP error: {other}"), false),
    };
    let mut error = Error::new(kind, message);
    if unsent {
        error = error.into_unsent();
    }
    if retryable {
        error
    } else {
        error.into_permanent()
    }
}

/// An error from reading a reply's body: ureq's body reader wraps its own
/// errors in an I/O error; unwrapped, they are converted like any other.
pub(crate) fn error_from_body_read(error: std::io::Error, budget: &Budget) -> Error {
    error_from_ureq(ureq::Error::from(error), budget)
}

/// An I/O error: a rustls error inside it (from the handshake) is a TLS
/// failure that would only repeat; anything else is the network.
fn network_error(error: &std::io::Error, budget: &Budget) -> Error {
    use std::io::ErrorKind as Io;
    let inner = error.get_ref();
    if let Some(tls) = inner.and_then(|e| e.downcast_ref::<rustls::Error>()) {
        return Error::new(ErrorKind::Connect, format!("TLS error: {tls}")).into_permanent();
    }
    if let Some(cut) = inner.and_then(|e| e.downcast_ref::<CutShort>()) {
        return Error::new(ErrorKind::Connect, cut.to_string());
    }
    let message = match error.kind() {
        Io::TimedOut | Io::WouldBlock => {
            return Error::new(ErrorKind::Timeout, budget.timeout_message());
        }
        Io::ConnectionRefused
        | Io::HostUnreachable
        | Io::NetworkUnreachable
        | Io::NetworkDown
        | Io::AddrNotAvailable => format!("the connection could not be made: {error}"),
        Io::UnexpectedEof => {
            "the server closed the connection before the reply was complete".to_owned()
        }
        _ => format!("network error: {error}"),
    };
    Error::new(ErrorKind::Connect, message)
}

/// ureq's TCP connector, counting the connections it makes.
#[derive(Debug)]
struct CountedTcpConnector {
    tcp: TcpConnector,
    opened: Arc<AtomicU64>,
}

impl<In: UreqTransport> Connector<In> for CountedTcpConnector {
    type Out = <TcpConnector as Connector<In>>::Out;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let out = self.tcp.connect(details, chained).inspect_err(|_| {
            CONNECT_FAILED.with(|failed| failed.set(true));
        })?;
        if let Some(Either::B(_)) = &out {
            self.opened.fetch_add(1, Ordering::Relaxed);
            OPENED_HERE.with(|opened| opened.set(true));
        }
        Ok(out)
    }
}

/// The last link of the chain, with two jobs ureq's own transports do not do:
///
/// - Requests carry the key, and ureq keeps a connection's output buffer for
///   its whole life, then frees it: what was sent is zeroed as soon as it is sent.
/// - ureq reads a reset, or a TLS connection closed without `close_notify`, as
///   the end of a body that lasts until the connection closes: over TLS that
///   lets a network attacker cut the audio short unnoticed. Those are reported
///   as the errors they are.
#[derive(Debug)]
struct Guard;

impl<In: UreqTransport> Connector<In> for Guard {
    type Out = GuardedTransport<In>;

    fn connect(
        &self,
        _: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        Ok(chained.map(GuardedTransport))
    }
}

#[derive(Debug)]
struct GuardedTransport<T>(T);

/// A connection that ended in a way that is not a body's end (see [`Guard`]).
#[derive(Debug)]
struct CutShort {
    tls: bool,
    cause: std::io::Error,
}

impl std::fmt::Display for CutShort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.tls && self.cause.kind() == std::io::ErrorKind::UnexpectedEof {
            f.write_str(
                "the server closed the TLS connection without close_notify, so the reply \
                 may have been cut short",
            )
        } else {
            write!(f, "the connection was cut short: {}", self.cause)
        }
    }
}

impl std::error::Error for CutShort {}

impl<T: UreqTransport> UreqTransport for GuardedTransport<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.0.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let sent = self.0.transmit_output(amount, timeout);
        self.0.buffers().output()[..amount].zeroize();
        sent
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        use std::io::ErrorKind as Io;
        match self.0.await_input(timeout) {
            Err(ureq::Error::Io(cause))
                if matches!(
                    cause.kind(),
                    Io::UnexpectedEof | Io::ConnectionReset | Io::ConnectionAborted
                ) =>
            {
                let tls = self.0.is_tls();
                Err(ureq::Error::Io(std::io::Error::other(CutShort {
                    tls,
                    cause,
                })))
            }
            other => other,
        }
    }

    fn is_open(&mut self) -> bool {
        self.0.is_open()
    }

    fn is_tls(&self) -> bool {
        self.0.is_tls()
    }
}
