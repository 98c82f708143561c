//! The settings a client is built from, and their validation.

use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use zeroize::Zeroizing;

use crate::api_key::ApiKey;
use crate::error::Error;
use crate::log::{LogCallback, LogLevel};
use crate::secrets::MIN_SECRET_LEN;
use crate::url::{BaseUrl, ProxyUrl};

pub(crate) const DEFAULT_BASE_URL: &str = "https://client.camb.ai/apis";
/// Read when no base URL is given, as `CAMB_API_KEY` is for the key, so that every
/// binding can be pointed at another server (a gateway, the emulator) without code.
pub(crate) const BASE_URL_ENV: &str = "CAMB_BASE_URL";
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
pub(crate) const DEFAULT_MAX_RETRIES: u32 = 2;
/// The longest any timeout, deadline or interval may be: a day.
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
pub(crate) const MAX_RETRIES_LIMIT: u32 = 10;
/// Jobs run on a few threads by default: a job holds one only while it sends or
/// reads, never while it waits between polls.
pub(crate) const DEFAULT_JOB_THREADS: u32 = 4;
pub(crate) const MAX_JOB_THREADS: u32 = 64;
const MAX_BASE_URL_LEN: usize = 2048;

/// Settings for a [`crate::client::Client`]. Setters check each value on its own;
/// [`ClientConfig::validated_base_url`] checks what depends on several (http vs. opt-in).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `None`: read `CAMB_API_KEY` when the client is built.
    pub api_key: Option<ApiKey>,
    /// `None`: read `CAMB_BASE_URL` when the client is built, and without it use
    /// CAMB.AI's service. The same rules hold for both (see `set_base_url`).
    pub base_url: Option<String>,
    /// Bounds a whole call: every attempt, every wait between attempts, every byte read.
    pub timeout: Duration,
    /// Extra attempts after the first for idempotent requests.
    pub max_retries: u32,
    /// Allow `http://` to a host that is not loopback, or through a proxy (the key
    /// then travels in clear).
    pub allow_insecure_http: bool,
    /// Trust these CA certificates (DER) instead of the built-in roots; empty: built-in.
    pub ca_certificates: Vec<Vec<u8>>,
    /// An HTTP CONNECT proxy; `None`: connect directly. Proxy environment
    /// variables are never read, so they cannot silently route the key elsewhere.
    pub proxy: Option<ProxyUrl>,
    /// Threads that run the client's jobs (started on its first job).
    pub job_threads: u32,
    /// Headers of the caller's own, sent with every request.
    pub headers: Vec<ExtraHeader>,
    /// Where the client tells of its work (besides `CAMB_LOG`).
    pub log: Option<LogSink>,
}

/// A header of the caller's own (tracing, gateway routing).
#[derive(Clone)]
pub struct ExtraHeader {
    pub(crate) name: String,
    pub(crate) value: Zeroizing<String>,
    /// Never written in a log line, and zeroed when freed.
    pub(crate) secret: bool,
}

impl std::fmt::Debug for ExtraHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value = if self.secret {
            "[redacted]"
        } else {
            self.value.as_str()
        };
        write!(f, "{}: {value}", self.name)
    }
}

/// The caller's log callback and the most detailed level it wants.
#[derive(Clone)]
pub struct LogSink {
    pub level: LogLevel,
    pub callback: LogCallback,
}

impl std::fmt::Debug for LogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSink")
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

/// Header names that libcamb writes itself: a caller's would contradict or
/// duplicate them (the key, the framing, the connection's handling).
const OWNED_HEADERS: [&str; 7] = [
    "x-api-key",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "accept",
    "content-type",
];

/// Hop-by-hop header names that change how HTTP runs between libcamb and the
/// server (an upgrade, a 100-continue wait, trailers): only libcamb's HTTP layer
/// may send them.
const PROTOCOL_HEADERS: [&str; 6] = [
    "te",
    "upgrade",
    "expect",
    "keep-alive",
    "trailer",
    "proxy-connection",
];

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            api_key: None,
            base_url: None,
            timeout: DEFAULT_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            allow_insecure_http: false,
            ca_certificates: Vec::new(),
            proxy: None,
            job_threads: DEFAULT_JOB_THREADS,
            headers: Vec::new(),
            log: None,
        }
    }
}

impl ClientConfig {
    pub fn set_api_key(&mut self, key: &str) -> Result<(), Error> {
        self.api_key = Some(ApiKey::new(key)?);
        Ok(())
    }

    pub fn set_base_url(&mut self, url: &str) -> Result<(), Error> {
        parse_base_url(url)?;
        self.base_url = Some(url.trim_end_matches('/').to_owned());
        Ok(())
    }

    pub fn set_timeout_ms(&mut self, timeout_ms: u64) -> Result<(), Error> {
        let timeout = Duration::from_millis(timeout_ms);
        check_timeout(timeout)?;
        self.timeout = timeout;
        Ok(())
    }

    /// Adds a header sent with every request. Refused: a name that is not an HTTP
    /// token or that libcamb writes itself, a value with CR, LF, NUL or another
    /// control character (header injection; TAB is allowed, as RFC 9110 does).
    /// `secret` values never appear in a log line.
    pub fn add_header(&mut self, name: &str, value: &str, secret: bool) -> Result<(), Error> {
        let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(Error::invalid(format!(
                "the header name {name:?} is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~)"
            )));
        }
        if OWNED_HEADERS
            .iter()
            .any(|owned| name.eq_ignore_ascii_case(owned))
        {
            return Err(Error::invalid(format!(
                "the header {name} is libcamb's own: it cannot be set"
            )));
        }
        if PROTOCOL_HEADERS
            .iter()
            .any(|hop| name.eq_ignore_ascii_case(hop))
        {
            return Err(Error::invalid(format!(
                "the header {name} changes how HTTP runs on the connection: it cannot be set"
            )));
        }
        if let Some(bad) = value
            .bytes()
            .find(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
        {
            let what = match bad {
                b'\r' => "a CR",
                b'\n' => "a LF",
                0 => "a NUL",
                _ => "a control character",
            };
            // The value may be secret: never quoted.
            return Err(Error::invalid(format!(
                "the value of the header {name} has {what}, which could end the header early"
            )));
        }
        if value.len() > 8 << 10 {
            return Err(Error::invalid(format!(
                "the value of the header {name} is {} bytes long; the limit is 8192",
                value.len()
            )));
        }
        if secret && value.len() < MIN_SECRET_LEN {
            return Err(Error::invalid(format!(
                "the value of the secret header {name} is under {MIN_SECRET_LEN} bytes: \
                 too short to be told from ordinary text and kept out of messages"
            )));
        }
        if self
            .headers
            .iter()
            .any(|header| header.name.eq_ignore_ascii_case(name))
        {
            return Err(Error::invalid(format!(
                "the header {name} was already added: give each header once"
            )));
        }
        if self.headers.len() >= 64 {
            return Err(Error::invalid("at most 64 headers of the caller's own"));
        }
        self.headers.push(ExtraHeader {
            name: name.to_ascii_lowercase(),
            value: Zeroizing::new(value.to_owned()),
            secret,
        });
        Ok(())
    }

    pub fn set_job_threads(&mut self, threads: u32) -> Result<(), Error> {
        check_job_threads(threads)?;
        self.job_threads = threads;
        Ok(())
    }

    pub fn set_max_retries(&mut self, max_retries: u32) -> Result<(), Error> {
        check_max_retries(max_retries)?;
        self.max_retries = max_retries;
        Ok(())
    }

    /// Checks every field again (they are public, so a Rust caller may have set
    /// them without the setters) and returns the base URL, parsed.
    pub(crate) fn validate(&self) -> Result<BaseUrl, Error> {
        check_timeout(self.timeout)?;
        check_max_retries(self.max_retries)?;
        check_job_threads(self.job_threads)?;
        self.checked_base_url().map(|(url, _)| url)
    }

    /// Trusts the CA certificates in the PEM text `pem` (for example a corporate
    /// proxy's CA) instead of the built-in roots, as curl's CAINFO does.
    pub fn set_ca_bundle_pem(&mut self, pem: &[u8]) -> Result<(), Error> {
        self.ca_certificates = parse_ca_bundle(pem)?;
        Ok(())
    }

    /// Reads a PEM CA bundle from a file; see [`ClientConfig::set_ca_bundle_pem`].
    pub fn set_ca_bundle_file(&mut self, path: &std::path::Path) -> Result<(), Error> {
        self.ca_certificates = load_ca_bundle_file(path)?;
        Ok(())
    }

    /// Sends every request through the HTTP proxy at `url` (`http://host:port`, an
    /// HTTP CONNECT tunnel: for https the proxy sees only the host, never the key);
    /// credentials may be given as `http://user:password@host:port`.
    pub fn set_proxy(&mut self, url: &str) -> Result<(), Error> {
        // The URL may hold a password: it is never repeated in a message.
        let invalid = || Error::invalid("the proxy URL is not valid: expected http://host:port");
        // SOCKS and https proxies are not supported: refused here rather than later.
        self.proxy = Some(ProxyUrl::parse(url).map_err(|_| invalid())?);
        Ok(())
    }

    /// The base URL, refused when it is plain http to a non-loopback host without
    /// the caller's explicit opt-in. Through a proxy no host is loopback: the
    /// tunnel's bytes (the key among them) cross the network to the proxy, and
    /// "localhost" would mean the proxy's own machine.
    pub fn validated_base_url(&self) -> Result<String, Error> {
        self.checked_base_url().map(|(_, url)| url)
    }

    /// The base URL given, else `CAMB_BASE_URL`, else CAMB.AI's service; parsed,
    /// with the text it was parsed from (no trailing `/`).
    fn chosen_base_url(&self) -> Result<(BaseUrl, String), Error> {
        if let Some(url) = &self.base_url {
            return Ok((parse_base_url(url)?, url.clone()));
        }
        match std::env::var(BASE_URL_ENV) {
            Ok(url) if !url.is_empty() => {
                let url = url.trim_end_matches('/').to_owned();
                let parsed = parse_base_url(&url)
                    .map_err(|e| e.context(&format!("{BASE_URL_ENV} is set but unusable")))?;
                Ok((parsed, url))
            }
            Ok(_) | Err(std::env::VarError::NotPresent) => Ok((
                parse_base_url(DEFAULT_BASE_URL)?,
                DEFAULT_BASE_URL.to_owned(),
            )),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::invalid(format!(
                "{BASE_URL_ENV} is set but is not valid UTF-8"
            ))),
        }
    }

    fn checked_base_url(&self) -> Result<(BaseUrl, String), Error> {
        let (url, text) = self.chosen_base_url()?;
        let local = url.is_loopback() && self.proxy.is_none();
        if !url.tls && !self.allow_insecure_http && !local {
            let why = if self.proxy.is_some() {
                " through a proxy"
            } else {
                ""
            };
            return Err(Error::invalid(format!(
                "refusing to send the API key in clear text to {}{why}: use https, or opt in \
                 with camb_client_builder_set_allow_insecure_http",
                text
            )));
        }
        Ok((url, text))
    }
}

/// The certificates (DER) of a PEM bundle; keys and other items are skipped.
pub(crate) fn parse_ca_bundle(pem: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    let mut certificates = Vec::new();
    // Keys and the like are skipped: they are not trust anchors.
    for item in CertificateDer::pem_slice_iter(pem) {
        match item {
            Ok(cert) => certificates.push(cert.to_vec()),
            Err(e) => {
                return Err(Error::invalid(format!(
                    "the CA bundle is not valid PEM: {e}"
                )));
            }
        }
    }
    if certificates.is_empty() {
        return Err(Error::invalid("the CA bundle has no certificate"));
    }
    Ok(certificates)
}

/// The certificates of the PEM bundle file at `path`.
pub(crate) fn load_ca_bundle_file(path: &std::path::Path) -> Result<Vec<Vec<u8>>, Error> {
    parse_ca_bundle(&read_ca_bundle(path)?)
        .map_err(|e| e.context(&format!("in {}", path.display())))
}

/// Reads a CA bundle: a regular file (not a FIFO that could block forever, nor a
/// device that never ends) of at most 16 MiB, never reading more than that.
fn read_ca_bundle(path: &std::path::Path) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    const MAX_BUNDLE: u64 = 16 << 20;
    let cannot = |e: std::io::Error| {
        Error::invalid(format!("cannot read the CA bundle {}: {e}", path.display()))
    };
    let mut options = std::fs::File::options();
    options.read(true);
    // Opening a FIFO for reading would block until a writer came; non-blocking,
    // it opens at once and is then refused below. No effect on regular files.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path).map_err(cannot)?;
    if !file.metadata().map_err(cannot)?.is_file() {
        return Err(Error::invalid(format!(
            "the CA bundle {} is not a regular file",
            path.display()
        )));
    }
    let mut pem = Vec::new();
    file.take(MAX_BUNDLE + 1)
        .read_to_end(&mut pem)
        .map_err(cannot)?;
    if pem.len() as u64 > MAX_BUNDLE {
        return Err(Error::invalid(format!(
            "the CA bundle {} is over 16 MiB",
            path.display()
        )));
    }
    Ok(pem)
}

fn check_timeout(timeout: Duration) -> Result<(), Error> {
    if timeout.is_zero() || timeout > MAX_TIMEOUT {
        return Err(Error::invalid(format!(
            "the timeout must be between 1 ms and {} ms, not {} ms",
            MAX_TIMEOUT.as_millis(),
            timeout.as_millis()
        )));
    }
    Ok(())
}

fn check_job_threads(threads: u32) -> Result<(), Error> {
    if threads == 0 || threads > MAX_JOB_THREADS {
        return Err(Error::invalid(format!(
            "job threads must be from 1 to {MAX_JOB_THREADS}, not {threads}"
        )));
    }
    Ok(())
}

fn check_max_retries(max_retries: u32) -> Result<(), Error> {
    if max_retries > MAX_RETRIES_LIMIT {
        return Err(Error::invalid(format!(
            "max_retries must be at most {MAX_RETRIES_LIMIT}, not {max_retries}"
        )));
    }
    Ok(())
}

fn parse_base_url(url: &str) -> Result<BaseUrl, Error> {
    if url.len() > MAX_BASE_URL_LEN {
        return Err(Error::invalid(format!(
            "the base URL is {} bytes long; the limit is {MAX_BASE_URL_LEN}",
            url.len()
        )));
    }
    BaseUrl::parse(url).map_err(|e| Error::invalid(format!("the base URL {url:?} {}", e.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn base_url_checks() {
        let mut config = ClientConfig::default();
        for good in [
            "https://client.camb.ai/apis/",
            "http://127.0.0.1:8080",
            "https://[::1]:1/x",
        ] {
            config.set_base_url(good).unwrap();
            assert!(!config.base_url.as_ref().unwrap().ends_with('/'));
        }
        for bad in [
            "",
            "client.camb.ai",
            "ftp://host/x",
            "https://",
            "https://host/x?y=1",
            "https://host/x#frag",
            "https://user:pw@host/x",
            "https://ho st/",
        ] {
            let err = config.set_base_url(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidParameter, "{bad:?}");
        }
    }

    #[test]
    fn plain_http_only_to_loopback_unless_opted_in() {
        let mut config = ClientConfig::default();
        for loopback in [
            "http://127.0.0.1:1",
            "http://127.9.9.9",
            "http://localhost:8",
            "http://[::1]:9",
        ] {
            config.set_base_url(loopback).unwrap();
            assert!(config.validated_base_url().is_ok(), "{loopback}");
        }
        config.set_base_url("http://example.com/apis").unwrap();
        assert_eq!(
            config.validated_base_url().unwrap_err().kind(),
            ErrorKind::InvalidParameter
        );
        config.allow_insecure_http = true;
        assert!(config.validated_base_url().is_ok());
    }

    #[test]
    fn plain_http_through_a_proxy_needs_the_opt_in_even_to_loopback() {
        let mut config = ClientConfig::default();
        config.set_base_url("http://localhost:8080/apis").unwrap();
        config.set_proxy("http://proxy.example:3128").unwrap();
        let err = config.validated_base_url().unwrap_err();
        assert!(err.message().contains("through a proxy"), "{err}");
        config.allow_insecure_http = true;
        assert!(config.validated_base_url().is_ok());
        config.allow_insecure_http = false;
        config.set_base_url("https://localhost:8443/apis").unwrap();
        assert!(config.validated_base_url().is_ok());
    }

    #[test]
    fn only_plain_http_proxy_urls() {
        let mut config = ClientConfig::default();
        for good in [
            "http://127.0.0.1:3128",
            "http://proxy.example:8080/",
            "http://u:p@h:1",
        ] {
            config.set_proxy(good).unwrap();
        }
        for bad in [
            "nope",
            "127.0.0.1:3128",
            "http://h:1/path",
            "http://h:1/?q=1",
            "socks5://h:1",
            "https://h:1",
            "http://",
        ] {
            assert_eq!(
                config.set_proxy(bad).unwrap_err().kind(),
                ErrorKind::InvalidParameter,
                "{bad}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_as_ca_bundle_is_refused_at_once() {
        let path = std::env::temp_dir().join(format!("camb-fifo-{}", std::process::id()));
        let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let err = ClientConfig::default()
            .set_ca_bundle_file(&path)
            .unwrap_err();
        assert!(err.message().contains("not a regular file"), "{err}");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn timeout_and_retry_bounds() {
        let mut config = ClientConfig::default();
        assert!(config.set_timeout_ms(0).is_err());
        assert!(config.set_timeout_ms(u64::MAX).is_err());
        config.set_timeout_ms(1).unwrap();
        assert_eq!(config.timeout, Duration::from_millis(1));
        assert!(config.set_max_retries(MAX_RETRIES_LIMIT + 1).is_err());
        config.set_max_retries(0).unwrap();
        assert_eq!(config.max_retries, 0);
    }
}
