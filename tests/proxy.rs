//! The explicit proxy (`set_proxy`, `camb_client_builder_set_proxy`) against a small
//! HTTP CONNECT proxy written here with raw sockets: what the proxy sees (the target,
//! the credentials, for https never the key), tunnel reuse, and each way a proxy fails.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::ptr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use camb::ffi::builder::*;
use camb::ffi::result_code::{camb_result, camb_status};
use camb::{Client, ErrorKind, TaskStatus};
use common::*;

/// One CONNECT request as the proxy received it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Connect {
    /// `host:port` from the request line.
    target: String,
    proxy_authorization: Option<String>,
}

#[derive(Debug, Default)]
struct ProxyLog {
    /// TCP connections accepted from clients.
    connections: usize,
    connects: Vec<Connect>,
    /// Every byte the client sent into its tunnels, for checking what the proxy could read.
    tunnelled: Vec<u8>,
}

/// How the proxy answers a CONNECT.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// Connect to the target, answer 200 and relay both ways.
    Tunnel,
    /// Answer with this status line and headers (no body) and close.
    Refuse(&'static str),
}

/// A CONNECT proxy on 127.0.0.1. Its threads are detached; they end with the process.
struct Proxy {
    addr: SocketAddr,
    log: Arc<Mutex<ProxyLog>>,
}

impl Proxy {
    fn start(mode: Mode) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(ProxyLog::default()));
        let shared = Arc::clone(&log);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                shared.lock().unwrap().connections += 1;
                let log = Arc::clone(&shared);
                std::thread::spawn(move || {
                    let _ = handle(client, mode, &log);
                });
            }
        });
        Proxy { addr, log }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn connects(&self) -> Vec<Connect> {
        self.log.lock().unwrap().connects.clone()
    }

    fn connections(&self) -> usize {
        self.log.lock().unwrap().connections
    }

    fn tunnelled(&self) -> Vec<u8> {
        self.log.lock().unwrap().tunnelled.clone()
    }
}

/// Reads a request head byte by byte, so nothing after it (tunnel data) is consumed.
fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

fn handle(mut client: TcpStream, mode: Mode, log: &Arc<Mutex<ProxyLog>>) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    let head = read_head(&mut client)?;
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default();
    let mut words = request_line.split(' ');
    let (method, target) = (words.next(), words.next().unwrap_or_default().to_owned());
    let proxy_authorization = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("proxy-authorization")
            .then(|| value.trim().to_owned())
    });
    log.lock().unwrap().connects.push(Connect {
        target: target.clone(),
        proxy_authorization,
    });
    if method != Some("CONNECT") {
        return client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
    }
    if let Mode::Refuse(reply) = mode {
        return client.write_all(reply.as_bytes());
    }
    let Ok(upstream) = TcpStream::connect(&target) else {
        return client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
    };
    client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    client.set_read_timeout(None)?;
    // client -> target on a second thread, recording what passes; target -> client here.
    let (mut from_client, mut to_upstream) = (client.try_clone()?, upstream.try_clone()?);
    let log = Arc::clone(log);
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n @ 1..) = from_client.read(&mut buf) {
            log.lock().unwrap().tunnelled.extend_from_slice(&buf[..n]);
            if to_upstream.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to_upstream.shutdown(Shutdown::Write);
    });
    let (mut from_upstream, mut to_client) = (upstream, client);
    let _ = std::io::copy(&mut from_upstream, &mut to_client);
    let _ = to_client.shutdown(Shutdown::Write);
    Ok(())
}

fn proxied_client(emulator: &Emulator, proxy_url: &str) -> Client {
    let mut config = config_for(emulator);
    config.set_proxy(proxy_url).unwrap();
    // The emulator speaks plain http: through a proxy that needs the opt-in
    // even on loopback (tested below).
    config.allow_insecure_http = true;
    config.set_max_retries(0).unwrap();
    Client::new(config).unwrap()
}

#[test]
fn requests_go_through_the_proxy_and_reuse_the_tunnel() {
    let emulator = emulator();
    let proxy = Proxy::start(Mode::Tunnel);
    let client = proxied_client(&emulator, &proxy.url());

    let info = client.get_task_status("demo-success").unwrap();
    assert_eq!(
        (info.status, info.run_id),
        (TaskStatus::Success, Some(4242))
    );
    let expected = Connect {
        target: emulator.addr().to_string(),
        proxy_authorization: None,
    };
    assert_eq!(proxy.connects(), vec![expected.clone()]);
    // The request really travelled through the tunnel (an http target: in clear).
    let tunnelled = String::from_utf8_lossy(&proxy.tunnelled()).into_owned();
    assert!(
        tunnelled.starts_with("GET /text-to-sound/demo-success HTTP/1.1\r\n"),
        "{tunnelled}"
    );
    let stats = emulator.stats();
    assert_eq!(stats.requests_total, 1);
    let request = stats.requests.last().unwrap();
    assert_eq!(header(request, "x-api-key"), Some(DEFAULT_API_KEY));
    assert_eq!(header(request, "proxy-authorization"), None);

    // The second call reuses the pooled tunnel: no new CONNECT, no new connection.
    let info = client.get_task_status("demo-error").unwrap();
    assert_eq!(info.status, TaskStatus::Error);
    assert_eq!(proxy.connects(), vec![expected]);
    assert_eq!(proxy.connections(), 1);
    let stats = emulator.stats();
    assert_eq!(stats.requests_total, 2);
    assert_eq!(stats.connections_accepted, 1);
}

#[test]
fn proxy_credentials_go_to_the_proxy_only() {
    let emulator = emulator();
    let proxy = Proxy::start(Mode::Tunnel);
    let url = format!("http://user:secret@{}", proxy.addr);
    let client = proxied_client(&emulator, &url);
    client.get_task_status("demo-success").unwrap();
    let connects = proxy.connects();
    assert_eq!(connects.len(), 1);
    assert_eq!(
        connects[0].proxy_authorization.as_deref(),
        Some("Basic dXNlcjpzZWNyZXQ=") // base64("user:secret")
    );
    // The proxy's credentials are not sent on to the API.
    let stats = emulator.stats();
    let request = stats.requests.last().unwrap();
    assert_eq!(header(request, "proxy-authorization"), None);
    assert!(
        !request
            .headers
            .iter()
            .any(|(_, v)| v.contains("dXNlcjpzZWNyZXQ=") || v.contains("secret")),
        "{:?}",
        request.headers
    );
}

#[test]
fn percent_encoded_credentials_are_decoded_once() {
    let emulator = emulator();
    let proxy = Proxy::start(Mode::Tunnel);
    // user "a@b", password "p:w%"
    let url = format!("http://a%40b:p%3Aw%25@{}", proxy.addr);
    proxied_client(&emulator, &url)
        .get_task_status("demo-success")
        .unwrap();
    assert_eq!(
        proxy.connects()[0].proxy_authorization.as_deref(),
        Some("Basic YUBiOnA6dyU=") // base64("a@b:p:w%")
    );
}

#[test]
fn invalid_proxy_urls_are_refused_without_repeating_them() {
    let mut config = camb::ClientConfig::default();
    for bad in [
        "not a url",
        "",
        "ftp://x",
        "bogus://user:secret@h:1",
        "http://user:secret@",
        "http://user:secret@/",
        "http://user:secret@ho st:1",
        "http://user:%ff%fe@h:1", // credentials that are not UTF-8
    ] {
        let err = config.set_proxy(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidParameter, "{bad:?}: {err}");
        assert!(!err.message().contains("secret"), "{bad:?}: {err}");
        assert!(!err.message().contains("user"), "{bad:?}: {err}");
    }
    // A refused URL leaves no proxy behind.
    assert!(config.proxy.is_none());
}

#[test]
fn a_proxy_that_refuses_connections_is_a_connect_error() {
    let emulator = emulator();
    let client = proxied_client(&emulator, &format!("http://127.0.0.1:{}", closed_port()));
    let err = client.get_task_status("demo-success").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    // No fallback to a direct connection.
    assert_eq!(emulator.stats().connections_accepted, 0);
}

#[test]
fn a_proxy_demanding_authentication_is_a_connect_error() {
    // A non-2xx answer to CONNECT is Connect (not HttpStatus: the API never
    // answered; camb_last_http_status stays unset), with the proxy's status in the
    // message, and is not retried.
    let emulator = emulator();
    let proxy = Proxy::start(Mode::Refuse(
        "HTTP/1.1 407 Proxy Authentication Required\r\n\
         Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n",
    ));
    let client = proxied_client(&emulator, &proxy.url());
    let err = client.get_task_status("demo-success").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert_eq!(err.http_status(), None, "{err}");
    assert!(err.message().contains("407"), "{err}");
    assert_eq!(proxy.connects().len(), 1);
    assert_eq!(emulator.stats().connections_accepted, 0);
}

#[test]
fn a_proxy_that_cannot_reach_the_target_is_a_connect_error() {
    let proxy = Proxy::start(Mode::Tunnel);
    let mut config = camb::ClientConfig::default();
    let port = closed_port();
    config
        .set_base_url(&format!("http://127.0.0.1:{port}"))
        .unwrap();
    config.set_api_key(DEFAULT_API_KEY).unwrap();
    config.set_max_retries(0).unwrap();
    config.set_proxy(&proxy.url()).unwrap();
    config.allow_insecure_http = true;
    let err = Client::new(config)
        .unwrap()
        .get_task_status("demo-success")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert!(err.message().contains("502"), "{err}");
    assert_eq!(proxy.connects()[0].target, format!("127.0.0.1:{port}"));
}

#[test]
fn socks_proxies_are_refused_when_set() {
    // libcamb speaks HTTP CONNECT only: refusing SOCKS up front beats failing later.
    let emulator = emulator();
    let mut config = config_for(&emulator);
    for scheme in ["socks4", "socks4a", "socks5", "socks5h"] {
        let url = format!("{scheme}://127.0.0.1:{}", closed_port());
        let err = config.set_proxy(&url).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidParameter, "{scheme}");
    }
    assert!(config.proxy.is_none());
}

// ---- through the C ABI ----

fn builder_for(emulator: &Emulator) -> *mut camb_client_builder {
    let builder = c_builder(DEFAULT_API_KEY, &emulator.base_url());
    // SAFETY: a live builder.
    let set = unsafe { camb_client_builder_set_max_retries(builder, 0) };
    assert_eq!(set, camb_result::Ok);
    builder
}

#[test]
fn c_abi_set_proxy() {
    let emulator = emulator();
    let proxy = Proxy::start(Mode::Tunnel);
    // SAFETY: live builders; NULL and NUL-terminated strings.
    unsafe {
        // Refused proxies: the builder remembers, and will not build.
        let refused = builder_for(&emulator);
        assert_eq!(
            camb_client_builder_set_proxy(refused, ptr::null()),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_builder_set_proxy(refused, c("http://user:secret@").as_ptr()),
            camb_result::InvalidParameter
        );
        assert!(!last_error().contains("secret"), "{}", last_error());
        let mut client = ptr::null_mut();
        assert_eq!(
            camb_client_builder_build(refused, &mut client),
            camb_result::NullParameter
        );
        assert!(last_error().contains("set_proxy"), "{}", last_error());
    }
    let builder = builder_for(&emulator);
    // SAFETY: a live builder; NUL-terminated strings.
    unsafe {
        assert_eq!(
            camb_client_builder_set_proxy(builder, c(&proxy.url()).as_ptr()),
            camb_result::Ok
        );
        // The emulator speaks plain http, which through a proxy needs the opt-in.
        assert_eq!(
            camb_client_builder_set_allow_insecure_http(builder, true),
            camb_result::Ok
        );
    }
    let (result, task) = common::c_build_and_query(builder, "demo-success");
    assert_eq!(result, camb_result::Ok, "{}", last_error());
    let task = task.unwrap();
    assert_eq!(task.status, camb_status::Success);
    assert_eq!(task.run_id, Some(4242));
    assert_eq!(proxy.connects().len(), 1);
    assert_eq!(proxy.connects()[0].target, emulator.addr().to_string());
    assert_eq!(emulator.stats().requests_total, 1);
}

/// Through a proxy, "loopback" is the proxy's machine and the tunnel crosses
/// the network: plain http needs the explicit opt-in there, and without it
/// nothing is sent, not even to the proxy.
#[test]
fn plain_http_through_a_proxy_is_refused_without_the_opt_in() {
    let emulator = emulator();
    let proxy = Proxy::start(Mode::Tunnel);
    let mut config = config_for(&emulator);
    config.set_proxy(&proxy.url()).unwrap();
    let err = Client::new(config).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidParameter, "{err}");
    assert!(err.message().contains("clear text"), "{err}");
    assert_eq!(proxy.connects().len(), 0);
    assert_eq!(emulator.stats().connections_accepted, 0);
}

#[test]
fn c_abi_socks_proxy_is_refused() {
    let emulator = emulator();
    let builder = builder_for(&emulator);
    let url = c(&format!("socks5://127.0.0.1:{}", closed_port()));
    // SAFETY: a live builder and a NUL-terminated string; freed once below.
    unsafe {
        assert_eq!(
            camb_client_builder_set_proxy(builder, url.as_ptr()),
            camb_result::InvalidParameter
        );
        camb_client_builder_free(builder);
    }
}

// ---- https through the proxy: the tunnel carries TLS, the proxy never sees the key ----

mod https {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    const KEY: &str = "key-that-the-proxy-must-not-see";

    /// A CA's PEM, and an https server on 127.0.0.1 with a certificate it issued,
    /// answering every request with a SUCCESS status; the x-api-key values it saw.
    fn server() -> (String, SocketAddr, Arc<Mutex<Vec<String>>>) {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let keys = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&keys);
        std::thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(tcp) = tcp else { return };
                let (config, seen) = (Arc::clone(&config), Arc::clone(&seen));
                std::thread::spawn(move || {
                    let Ok(connection) = rustls::ServerConnection::new(config) else {
                        return;
                    };
                    let mut tls = rustls::StreamOwned::new(connection, tcp);
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while let Ok(1) = tls.read(&mut byte) {
                        head.push(byte[0]);
                        if !head.ends_with(b"\r\n\r\n") {
                            continue;
                        }
                        let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
                        if let Some(line) = text.lines().find(|l| l.starts_with("x-api-key:")) {
                            seen.lock().unwrap().push(line[10..].trim().to_owned());
                        }
                        head.clear();
                        let body = r#"{"status":"SUCCESS","run_id":7}"#;
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if tls.write_all(reply.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (ca.pem(), addr, keys)
    }

    #[test]
    fn https_through_the_proxy_hides_the_key_from_it() {
        let (ca_pem, addr, keys) = server();
        let proxy = Proxy::start(Mode::Tunnel);
        let mut config = camb::ClientConfig::default();
        config.set_base_url(&format!("https://{addr}")).unwrap();
        config.set_api_key(KEY).unwrap();
        config.set_max_retries(0).unwrap();
        config.set_ca_bundle_pem(ca_pem.as_bytes()).unwrap();
        config.set_proxy(&proxy.url()).unwrap();
        let info = Client::new(config)
            .unwrap()
            .get_task_status("secret-task-id")
            .unwrap();
        assert_eq!((info.status, info.run_id), (TaskStatus::Success, Some(7)));
        // The server got the key; the proxy saw only where to connect.
        assert_eq!(*keys.lock().unwrap(), vec![KEY.to_owned()]);
        assert_eq!(proxy.connects()[0].target, addr.to_string());
        let tunnelled = proxy.tunnelled();
        assert!(!tunnelled.is_empty());
        let window = |needle: &[u8]| tunnelled.windows(needle.len()).any(|w| w == needle);
        assert!(!window(KEY.as_bytes()), "the proxy saw the key");
        assert!(!window(b"secret-task-id"), "the proxy saw the path");
        assert!(!window(b"x-api-key"), "the proxy saw the headers");
    }
}
