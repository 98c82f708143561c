//! TLS against a real https server on loopback: a private CA made here, trusted only
//! through `set_ca_bundle_pem` / `set_ca_bundle_file` (and their C functions). Proves
//! that verification is on by default and stays on with a bundle: an unknown issuer,
//! another CA or a certificate for another name all fail before a byte of HTTP (and so
//! before the key) is sent. And that what TLS adds to a reply's framing is honoured:
//! bytes a server leaves inside rustls after a reply are never read as the next reply,
//! and a reply framed by the connection's end is whole only after a close_notify.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::ptr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use camb::ffi::builder::*;
use camb::ffi::result_code::{camb_result, camb_status};
use camb::{Client, ClientConfig, Error, ErrorKind, TaskStatus};
use common::{c, last_error};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const KEY: &str = "tls-test-key-0123456789";
const REPLY_BODY: &str = r#"{"status":"SUCCESS","run_id":7}"#;

/// A certificate authority made for one test.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(common_name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A server certificate for `names` (IP addresses become IP SANs), and its key.
    fn issue(&self, names: &[&str]) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, names[0].as_str());
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        let key = PrivatePkcs8KeyDer::from(key.serialize_der());
        (cert.der().clone(), PrivateKeyDer::Pkcs8(key))
    }
}

/// What the server saw.
#[derive(Debug, Default)]
struct Seen {
    /// TCP connections accepted.
    connections: usize,
    /// Each HTTP request's `x-api-key` (None: the header was absent).
    api_keys: Vec<Option<String>>,
    /// Each HTTP request's first line (`GET /path HTTP/1.1`).
    requests: Vec<String>,
    /// Connections that ended in an error (a failed handshake, for instance).
    errors: Vec<String>,
}

/// What the server sends for one request, and how it goes on afterwards.
struct Reply {
    /// Written in one go: a reply, or more (a reply and a forged second one).
    bytes: Vec<u8>,
    end: End,
}

/// How the server goes on after a reply.
#[derive(Debug, Clone, Copy)]
enum End {
    /// It waits for the next request on the same connection.
    KeepAlive,
    /// It sends TLS's close_notify, then closes the TCP connection.
    CloseNotify,
    /// It closes the TCP connection without a close_notify, as a cut would.
    Cut,
}

impl Reply {
    /// A 200 keep-alive reply with a JSON body.
    fn json(body: &str) -> Reply {
        Reply {
            bytes: json_reply(body),
            end: End::KeepAlive,
        }
    }
}

/// The bytes of a 200 keep-alive reply with a JSON body.
fn json_reply(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: keep-alive\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The server's reply to its `n`th request (from 0, over all its connections).
type Script = Arc<dyn Fn(usize) -> Reply + Send + Sync>;

/// An https server on 127.0.0.1 that answers every request with a SUCCESS status, or
/// as its script says. Its threads are detached; they end with the test process.
struct TlsServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
}

impl TlsServer {
    fn start(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> TlsServer {
        TlsServer::start_scripted(cert, key, Arc::new(|_| Reply::json(REPLY_BODY)))
    }

    /// A server for loopback, certified by `ca`, that replies as `script` says.
    fn scripted(ca: &Ca, script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> TlsServer {
        let (cert, key) = ca.issue(&["127.0.0.1", "localhost"]);
        TlsServer::start_scripted(cert, key, Arc::new(script))
    }

    fn start_scripted(
        cert: CertificateDer<'static>,
        key: PrivateKeyDer<'static>,
        script: Script,
    ) -> TlsServer {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let shared = Arc::clone(&seen);
        std::thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(tcp) = tcp else { return };
                shared.lock().unwrap().connections += 1;
                let config = Arc::clone(&config);
                let seen = Arc::clone(&shared);
                let script = Arc::clone(&script);
                std::thread::spawn(move || {
                    if let Err(e) = serve(tcp, config, &seen, &*script) {
                        seen.lock().unwrap().errors.push(e.to_string());
                    }
                });
            }
        });
        TlsServer { addr, seen }
    }

    /// A server with a certificate for 127.0.0.1 and localhost issued by `ca`.
    fn for_loopback(ca: &Ca) -> TlsServer {
        let (cert, key) = ca.issue(&["127.0.0.1", "localhost"]);
        TlsServer::start(cert, key)
    }

    fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    fn api_keys(&self) -> Vec<Option<String>> {
        self.seen.lock().unwrap().api_keys.clone()
    }

    fn connections(&self) -> usize {
        self.seen.lock().unwrap().connections
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().requests.clone()
    }
}

/// One connection: TLS, then keep-alive HTTP/1.1 requests until the client closes or
/// a reply's script ends the connection.
fn serve(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    seen: &Mutex<Seen>,
    script: &(dyn Fn(usize) -> Reply + Send + Sync),
) -> std::io::Result<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let connection = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    let mut buffer = Vec::new();
    loop {
        let head_end = loop {
            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut chunk = [0u8; 4096];
            let n = tls.read(&mut chunk)?;
            if n == 0 {
                return Ok(()); // the client closed the connection
            }
            buffer.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        buffer.drain(..head_end);
        let api_key = head.lines().skip(1).find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("x-api-key")
                .then(|| value.trim().to_owned())
        });
        let request_line = head.lines().next().unwrap_or_default().to_owned();
        let n = {
            let mut seen = seen.lock().unwrap();
            seen.api_keys.push(api_key);
            seen.requests.push(request_line);
            seen.requests.len() - 1
        };
        let reply = script(n);
        tls.write_all(&reply.bytes)?;
        tls.flush()?;
        match reply.end {
            End::KeepAlive => {}
            End::CloseNotify => {
                tls.conn.send_close_notify();
                tls.flush()?;
                return Ok(()); // dropping `tls` closes the TCP connection
            }
            End::Cut => return Ok(()),
        }
    }
}

/// Settings for `server`'s URL, with no retries so that failures are quick and the
/// server's connection count is exact.
fn config_for(url: &str) -> ClientConfig {
    let mut config = ClientConfig::default();
    config.set_base_url(url).unwrap();
    config.set_api_key(KEY).unwrap();
    config.set_timeout_ms(5_000).unwrap();
    config.set_max_retries(0).unwrap();
    config
}

fn status(config: ClientConfig) -> Result<camb::TaskInfo, Error> {
    Client::new(config).unwrap().get_task_status("task-1")
}

/// The call failed with Connect, the client rejected the server's certificate, and the
/// server never got an HTTP request, so it never saw the key.
fn assert_refused(result: Result<camb::TaskInfo, Error>, server: &TlsServer, why: &str) {
    let err = result.expect_err("the certificate must be refused");
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert!(
        err.message().contains("certificate"),
        "the message should say the certificate was refused: {err}"
    );
    assert!(err.message().contains(why), "expected {why:?} in: {err}");
    assert!(!err.message().contains(KEY), "{err}");
    // The client did reach the server: the refusal was the certificate's, not the network's.
    assert_eq!(server.connections(), 1);
    assert_eq!(server.api_keys(), Vec::<Option<String>>::new());
}

fn assert_success(info: camb::TaskInfo) {
    assert_eq!(info.status, TaskStatus::Success);
    assert_eq!(info.status_text, "SUCCESS");
    assert_eq!(info.run_id, Some(7));
}

fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tls-tests");
    std::fs::create_dir_all(&dir).unwrap();
    // Unique per process, so concurrent runs of this suite do not collide.
    let path = dir.join(format!("{}-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn the_built_in_roots_refuse_a_private_ca() {
    let ca = Ca::new("libcamb test CA");
    let server = TlsServer::for_loopback(&ca);
    let result = status(config_for(&server.url()));
    assert_refused(result, &server, "UnknownIssuer");
}

#[test]
fn a_pem_bundle_with_the_ca_is_trusted() {
    let ca = Ca::new("libcamb test CA");
    let server = TlsServer::for_loopback(&ca);
    let mut config = config_for(&server.url());
    config.set_ca_bundle_pem(ca.pem().as_bytes()).unwrap();
    assert_eq!(config.ca_certificates.len(), 1);
    let client = Client::new(config).unwrap();
    assert_success(client.get_task_status("task-1").unwrap());
    assert_success(client.get_task_status("task-2").unwrap());
    assert_eq!(server.api_keys(), vec![Some(KEY.to_owned()); 2]);
    // Both calls on one TLS connection: keep-alive works over TLS too.
    assert_eq!(server.connections(), 1);
}

#[test]
fn the_dns_name_in_the_certificate_is_verified_too() {
    // `localhost` is a DNS SAN (127.0.0.1 above is an IP SAN).
    let ca = Ca::new("libcamb test CA");
    let server = TlsServer::for_loopback(&ca);
    let mut config = config_for(&format!("https://localhost:{}", server.addr.port()));
    config.set_ca_bundle_pem(ca.pem().as_bytes()).unwrap();
    assert_success(status(config).unwrap());
    assert_eq!(server.api_keys(), vec![Some(KEY.to_owned())]);
}

#[test]
fn a_bundle_file_with_the_ca_is_trusted() {
    let ca = Ca::new("libcamb test CA");
    let server = TlsServer::for_loopback(&ca);
    let path = temp_file("ca.pem", ca.pem().as_bytes());
    let mut config = config_for(&server.url());
    config.set_ca_bundle_file(&path).unwrap();
    assert_success(status(config).unwrap());
    assert_eq!(server.api_keys(), vec![Some(KEY.to_owned())]);
}

#[test]
fn a_bundle_of_several_certificates_and_a_key_trusts_each_certificate() {
    // A real-world bundle: several CAs, and a stray private key, which is skipped.
    let ca = Ca::new("libcamb test CA");
    let other = Ca::new("another CA");
    let server = TlsServer::for_loopback(&ca);
    let stray_key = KeyPair::generate().unwrap().serialize_pem();
    let bundle = format!("{}{stray_key}{}", other.pem(), ca.pem());
    let mut config = config_for(&server.url());
    config.set_ca_bundle_pem(bundle.as_bytes()).unwrap();
    assert_eq!(config.ca_certificates.len(), 2);
    assert_success(status(config).unwrap());
    assert_eq!(server.api_keys(), vec![Some(KEY.to_owned())]);
}

#[test]
fn a_bundle_with_another_ca_is_refused() {
    let ca = Ca::new("libcamb test CA");
    let server = TlsServer::for_loopback(&ca);
    let other = Ca::new("another CA");
    let mut config = config_for(&server.url());
    config.set_ca_bundle_pem(other.pem().as_bytes()).unwrap();
    assert_refused(status(config), &server, "UnknownIssuer");
}

#[test]
fn a_ca_with_the_same_name_but_another_key_is_refused() {
    // An impostor CA that copies the real one's name: the issuer name matches, the
    // signature cannot.
    let ca = Ca::new("libcamb test CA");
    let server = TlsServer::for_loopback(&ca);
    let impostor = Ca::new("libcamb test CA");
    let mut config = config_for(&server.url());
    config.set_ca_bundle_pem(impostor.pem().as_bytes()).unwrap();
    assert_refused(status(config), &server, "BadSignature");
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let ca = Ca::new("libcamb test CA");
    let (cert, key) = ca.issue(&["example.com"]);
    let server = TlsServer::start(cert, key);
    let mut config = config_for(&server.url());
    config.set_ca_bundle_pem(ca.pem().as_bytes()).unwrap();
    assert_refused(status(config), &server, "not valid for name");
}

#[test]
fn unusable_bundles_are_refused_when_set() {
    let ca = Ca::new("libcamb test CA");
    let key_only = KeyPair::generate().unwrap().serialize_pem();
    let broken_base64 =
        "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n";
    let bad: [(&str, &[u8]); 5] = [
        ("not PEM", b"this is not a certificate\n"),
        ("empty", b""),
        ("only a key", key_only.as_bytes()),
        ("broken base64", broken_base64.as_bytes()),
        ("DER, not PEM", ca.cert.der().as_ref()),
    ];
    let mut config = config_for("https://127.0.0.1:1");
    for (what, pem) in bad {
        let err = config.set_ca_bundle_pem(pem).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidParameter, "{what}: {err}");
        let path = temp_file("bad.pem", pem);
        let err = config.set_ca_bundle_file(&path).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::InvalidParameter,
            "{what} (file): {err}"
        );
        assert!(err.message().contains("bad.pem"), "{err}");
    }
    let missing = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("no-such-dir/ca.pem");
    let err = config.set_ca_bundle_file(&missing).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidParameter, "{err}");
    assert!(err.message().contains("no-such-dir"), "{err}");
    // A refused bundle changes nothing: the built-in roots are still in use.
    assert!(config.ca_certificates.is_empty());

    // And a refused bundle does not replace an accepted one.
    config.set_ca_bundle_pem(ca.pem().as_bytes()).unwrap();
    assert!(config.set_ca_bundle_pem(b"junk").is_err());
    assert_eq!(config.ca_certificates, vec![ca.cert.der().to_vec()]);
}

// ---- what TLS adds to a reply's framing ----

/// A client for `server` that trusts `ca`.
fn trusting_client(ca: &Ca, server: &TlsServer) -> Client {
    let mut config = config_for(&server.url());
    config.set_ca_bundle_pem(ca.pem().as_bytes()).unwrap();
    Client::new(config).unwrap()
}

/// A new, empty directory for one test's files.
fn empty_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("tls-tests")
        .join(format!("{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// A SUCCESS status body for `run_id`, padded to exactly `len` bytes with a field the
/// decoder ignores.
fn padded_status(run_id: i64, len: usize) -> String {
    let head = format!(r#"{{"status":"SUCCESS","run_id":{run_id},"pad":""#);
    let pad = len - head.len() - r#""}"#.len();
    format!(r#"{head}{}"}}"#, "x".repeat(pad))
}

#[test]
fn a_reply_hidden_inside_tls_after_a_reply_is_never_read_as_the_next_one() {
    // The first reply's body is twice the connection's 16 KiB read buffer, so its last
    // bytes go straight from rustls into the caller's buffer; the forged reply sent in
    // the same write is then left decrypted inside rustls, not in that buffer.
    let ca = Ca::new("libcamb test CA");
    let server = TlsServer::scripted(&ca, |n| match n {
        0 => {
            let mut bytes = json_reply(&padded_status(1, 32 << 10));
            bytes.extend_from_slice(&json_reply(r#"{"status":"SUCCESS","run_id":666}"#));
            Reply {
                bytes,
                end: End::KeepAlive,
            }
        }
        _ => Reply::json(&format!(r#"{{"status":"SUCCESS","run_id":{}}}"#, n + 1)),
    });
    let client = trusting_client(&ca, &server);

    let first = client.get_task_status("task-1").unwrap();
    assert_eq!(first.status, TaskStatus::Success);
    assert_eq!(first.run_id, Some(1));

    let second = client.get_task_status("task-2").unwrap();
    assert_ne!(
        second.run_id,
        Some(666),
        "the bytes left after the first reply were taken as the second"
    );
    // The server's own reply to the second request (n = 1): run id 2.
    assert_eq!(second.run_id, Some(2));
    assert_eq!(
        server.requests(),
        [
            "GET /text-to-sound/task-1 HTTP/1.1",
            "GET /text-to-sound/task-2 HTTP/1.1"
        ]
    );
    // The first connection was not reused: the second request had a new one.
    assert_eq!(server.connections(), 2);
    assert_eq!(client.connections_opened(), 2);
}

/// A 200 audio reply framed by the connection's end alone: no Content-Length and no
/// chunked coding.
fn audio_until_close(audio: &[u8], end: End) -> Reply {
    let mut bytes =
        b"HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nConnection: close\r\n\r\n".to_vec();
    bytes.extend_from_slice(audio);
    Reply { bytes, end }
}

/// 100,000 bytes of "audio": more than one 64 KiB chunk of a download, and than one
/// TLS record.
fn test_audio() -> Vec<u8> {
    (0..100_000u32).map(|i| (i % 251) as u8).collect()
}

const RAW_BYTES_REQUEST: &str = "GET /text-to-sound-result/42?output_type=RAW_BYTES HTTP/1.1";

#[test]
fn a_download_framed_by_the_connection_end_is_refused_without_close_notify() {
    let ca = Ca::new("libcamb test CA");
    let audio = test_audio();
    let sent = audio.clone();
    let server = TlsServer::scripted(&ca, move |_| audio_until_close(&sent, End::Cut));
    let client = trusting_client(&ca, &server);

    let mut received = Vec::new();
    let err = client
        .download_audio(42, None, &mut |chunk| {
            received.extend_from_slice(chunk);
            Ok(())
        })
        .expect_err("a TCP close without close_notify must not pass for the end of the audio");
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert!(err.message().contains("close_notify"), "{err}");
    // Not more than was sent, and never all of it as if complete.
    assert!(received.len() < audio.len());
    assert_eq!(received[..], audio[..received.len()]);

    let dir = empty_dir("truncated");
    let path = dir.join("sound.wav");
    let err = client
        .save_audio(42, &path, None)
        .expect_err("a truncated download must not be saved");
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert!(!path.exists(), "{} was saved", path.display());
    // Nor is its temporary file left behind.
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);

    assert_eq!(server.requests(), [RAW_BYTES_REQUEST; 2]);
    assert_eq!(server.connections(), 2);
}

#[test]
fn a_download_framed_by_the_connection_end_is_whole_after_close_notify() {
    let ca = Ca::new("libcamb test CA");
    let audio = test_audio();
    let sent = audio.clone();
    let server = TlsServer::scripted(&ca, move |_| audio_until_close(&sent, End::CloseNotify));
    let client = trusting_client(&ca, &server);

    let mut received = Vec::new();
    let count = client
        .download_audio(42, None, &mut |chunk| {
            received.extend_from_slice(chunk);
            Ok(())
        })
        .unwrap();
    assert_eq!(count, audio.len() as u64);
    assert!(
        received == audio,
        "the bytes received differ from those sent"
    );

    let dir = empty_dir("whole");
    let path = dir.join("sound.wav");
    assert_eq!(
        client.save_audio(42, &path, None).unwrap(),
        audio.len() as u64
    );
    assert!(fs::read(&path).unwrap() == audio);

    assert_eq!(server.requests(), [RAW_BYTES_REQUEST; 2]);
    assert_eq!(server.connections(), 2);
}

// ---- through the C ABI ----

fn builder_for(url: &str) -> *mut camb_client_builder {
    let builder = common::c_builder(KEY, url);
    // SAFETY: a live builder.
    let set = unsafe { camb_client_builder_set_max_retries(builder, 0) };
    assert_eq!(set, camb_result::Ok);
    builder
}

/// Builds `builder` and asks for a status; the result and the run id (if any).
fn c_status(builder: *mut camb_client_builder) -> (camb_result, Option<i64>) {
    let (result, task) = common::c_build_and_query(builder, "task-1");
    match task {
        Some(task) => {
            assert_eq!(task.status, camb_status::Success);
            assert!(task.run_id.is_some());
            (result, task.run_id)
        }
        None => (result, None),
    }
}

#[test]
fn c_abi_pem_bundle() {
    let ca = Ca::new("libcamb test CA");
    let server = TlsServer::for_loopback(&ca);
    let pem = ca.pem();

    // Without the bundle: refused, and the key never left.
    let (result, _) = c_status(builder_for(&server.url()));
    assert_eq!(result, camb_result::Connect);
    assert!(last_error().contains("certificate"), "{}", last_error());
    assert!(server.api_keys().is_empty());

    let builder = builder_for(&server.url());
    // SAFETY: a live builder; `pem` is readable for its length (no NUL needed).
    let set = unsafe { camb_client_builder_set_ca_bundle_pem(builder, pem.as_ptr(), pem.len()) };
    assert_eq!(set, camb_result::Ok, "{}", last_error());
    assert_eq!(c_status(builder), (camb_result::Ok, Some(7)));
    assert_eq!(server.api_keys(), vec![Some(KEY.to_owned())]);

    let builder = builder_for(&server.url());
    // SAFETY: a live builder; a NULL pem is the case under test.
    let null = unsafe { camb_client_builder_set_ca_bundle_pem(builder, ptr::null(), 10) };
    assert_eq!(null, camb_result::NullParameter);
    let junk = b"junk";
    // SAFETY: a live builder and 4 readable bytes.
    let bad = unsafe { camb_client_builder_set_ca_bundle_pem(builder, junk.as_ptr(), junk.len()) };
    assert_eq!(bad, camb_result::InvalidParameter);
    // SAFETY: the builder is live and freed once.
    unsafe { camb_client_builder_free(builder) };
}

#[test]
fn c_abi_bundle_file() {
    let ca = Ca::new("libcamb test CA");
    let server = TlsServer::for_loopback(&ca);
    let path = temp_file("c-abi-ca.pem", ca.pem().as_bytes());
    let path = c(path.to_str().unwrap());

    let builder = builder_for(&server.url());
    // SAFETY: a live builder and a NUL-terminated path.
    let set = unsafe { camb_client_builder_set_ca_bundle_file(builder, path.as_ptr()) };
    assert_eq!(set, camb_result::Ok, "{}", last_error());
    assert_eq!(c_status(builder), (camb_result::Ok, Some(7)));
    assert_eq!(server.api_keys(), vec![Some(KEY.to_owned())]);

    let builder = builder_for(&server.url());
    // SAFETY: a live builder; NULL and a missing path are the cases under test.
    unsafe {
        assert_eq!(
            camb_client_builder_set_ca_bundle_file(builder, ptr::null()),
            camb_result::NullParameter
        );
        let missing = c(concat!(env!("CARGO_TARGET_TMPDIR"), "/no-such-dir/ca.pem"));
        assert_eq!(
            camb_client_builder_set_ca_bundle_file(builder, missing.as_ptr()),
            camb_result::InvalidParameter
        );
        camb_client_builder_free(builder);
    }
}
