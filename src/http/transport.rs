//! Sending a request to the API's origin: a pooled keep-alive connection or a new
//! one (resolved, connected, tunnelled through the proxy, TLS), the request
//! written in one piece, the reply's head read; the body is read through the
//! [`Response`], which puts its connection back in the pool once it is complete.

use std::net::TcpStream;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use zeroize::{Zeroize, Zeroizing};

use super::HttpError;
use super::conn::Connection;
use super::tls::{TlsSetup, server_name};
use super::url::{BaseUrl, ProxyUrl, is_target_byte};
use super::wire::{BodyState, Framing, Head, HeadError, read_body, read_head};
use crate::resolver::CachingResolver;

/// Idle keep-alive connections kept: enough for the threads sharing a client
/// (a batch uses up to 64 at once, but reconnects little beyond this).
const MAX_IDLE_CONNECTIONS: usize = 32;
/// An idle connection older than this is closed, not reused: servers and load
/// balancers drop idle connections after some seconds (ureq's default too).
const MAX_IDLE_AGE: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
}

/// One request to the API's origin.
pub(crate) struct Request<'a> {
    pub(crate) method: Method,
    /// Path and query, base path included, every byte already URL-safe.
    pub(crate) target: &'a str,
    pub(crate) accept: &'a str,
    /// A JSON body.
    pub(crate) body: Option<&'a [u8]>,
    /// May be sent again: a request that dies on a reused connection before any
    /// reply (the server closed it between the liveness probe and the request)
    /// is resent once on a new connection.
    pub(crate) idempotent: bool,
}

pub(crate) struct Transport {
    base: BaseUrl,
    proxy: Option<ProxyUrl>,
    tls: TlsSetup,
    resolver: CachingResolver,
    idle: Mutex<Vec<Connection>>,
    /// `Host`, `User-Agent` and the key's header lines of every request; zeroed
    /// when the client is freed.
    fixed_headers: Vec<u8>,
    opened: AtomicU64,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base", &self.base)
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        self.fixed_headers.zeroize();
    }
}

enum Exchange {
    /// The connection was found closed (or reset) before any reply: on a
    /// reused connection, resend elsewhere; on a new one, this error.
    Stale(HttpError),
    Failed(HttpError),
}

impl Transport {
    /// `key_header` is the full `name: value` line of the key, without CRLF.
    pub(crate) fn new(
        base: BaseUrl,
        proxy: Option<ProxyUrl>,
        tls: TlsSetup,
        user_agent: &str,
        key_header: &[u8],
    ) -> Transport {
        let mut fixed_headers = Vec::with_capacity(64 + base.authority.len() + key_header.len());
        for line in [
            b"Host: ".as_slice(),
            base.authority.as_bytes(),
            b"\r\nUser-Agent: ",
            user_agent.as_bytes(),
            b"\r\n",
            key_header,
            b"\r\n",
        ] {
            fixed_headers.extend_from_slice(line);
        }
        Transport {
            base,
            proxy,
            tls,
            resolver: CachingResolver::default(),
            idle: Mutex::new(Vec::new()),
            fixed_headers,
            opened: AtomicU64::new(0),
        }
    }

    /// The origin and base path every request goes to.
    pub(crate) fn base(&self) -> &BaseUrl {
        &self.base
    }

    /// Connections opened so far (for tests and diagnostics).
    pub(crate) fn connections_opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// Sends `request` and reads the reply's head, all by `deadline`.
    pub(crate) fn send(
        &self,
        request: &Request,
        deadline: Instant,
    ) -> Result<Response<'_>, HttpError> {
        // Targets are built from checked parts; this keeps a slip from ever
        // becoming a CR/LF in the request line.
        if !request.target.bytes().all(is_target_byte) {
            return Err(HttpError::InvalidRequest(
                "the request path has a character that cannot be sent".into(),
            ));
        }
        let mut pooled = self.take_idle();
        loop {
            let reused = pooled.is_some();
            let mut conn = match pooled.take() {
                Some(conn) => conn,
                None => self.connect(deadline)?,
            };
            match exchange(&mut conn, &self.fixed_headers, request, deadline) {
                Ok(head) => {
                    return Ok(Response {
                        transport: self,
                        body: BodyState::new(head.framing),
                        head,
                        conn: Some(conn),
                        deadline,
                    });
                }
                // Resent once, on a new connection (pooled stays None).
                Err(Exchange::Stale(_)) if reused && request.idempotent => {}
                Err(Exchange::Stale(error)) => return Err(error),
                Err(Exchange::Failed(error)) => return Err(error),
            }
        }
    }

    /// The most recently used idle connection that is young enough and looks
    /// alive: not closed by the server, and with no bytes it was not asked for
    /// (which would otherwise be read as the next reply). The probe is one
    /// non-blocking system call, made outside the lock.
    fn take_idle(&self) -> Option<Connection> {
        let now = Instant::now();
        loop {
            let conn = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()?;
            if now.duration_since(conn.idle_since) < MAX_IDLE_AGE && conn.looks_alive() {
                return Some(conn);
            }
        }
    }

    fn put_idle(&self, mut conn: Connection) {
        conn.idle_since = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE_CONNECTIONS {
            idle.push(conn);
        }
    }

    /// A new connection to the origin, through the proxy if there is one.
    fn connect(&self, deadline: Instant) -> Result<Connection, HttpError> {
        let (host, port) = match &self.proxy {
            Some(proxy) => (proxy.host.as_str(), proxy.port),
            None => (self.base.host.as_str(), self.base.port),
        };
        let addrs = self.resolver.resolve(host, port, deadline)?;
        let mut failures = Vec::new();
        let mut socket = None;
        for addr in &addrs {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(HttpError::Timeout);
            }
            match TcpStream::connect_timeout(addr, left) {
                Ok(connected) => {
                    socket = Some(connected);
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    return Err(HttpError::Timeout);
                }
                Err(e) => failures.push(format!("{addr}: {e}")),
            }
        }
        let socket = socket.ok_or_else(|| HttpError::Connect(failures.join("; ")))?;
        self.opened.fetch_add(1, Ordering::Relaxed);
        // Requests are written whole: nothing to gain from Nagle's delay.
        socket
            .set_nodelay(true)
            .map_err(|e| HttpError::Network(e.to_string()))?;
        let mut conn = Connection::new(socket);
        if let Some(proxy) = &self.proxy {
            self.tunnel(&mut conn, proxy, deadline)?;
        }
        if self.base.tls {
            let name = server_name(&self.base.host)?;
            conn.start_tls(self.tls.config()?, name, deadline)?;
        }
        Ok(conn)
    }

    /// Asks the proxy for a tunnel to the origin (HTTP CONNECT).
    fn tunnel(
        &self,
        conn: &mut Connection,
        proxy: &ProxyUrl,
        deadline: Instant,
    ) -> Result<(), HttpError> {
        let authority = ProxyUrl::authority_of(&self.base.host, self.base.port);
        let encoded = proxy
            .credentials
            .as_ref()
            .map(|credentials| Zeroizing::new(base64(credentials.as_bytes())));
        let auth_len = encoded.as_ref().map_or(0, |e| e.len() + 32);
        // All the room at once: growing would free a copy of the credentials
        // unzeroed. Zeroed when dropped.
        let mut request =
            Zeroizing::new(String::with_capacity(2 * authority.len() + 32 + auth_len));
        for part in [
            "CONNECT ",
            &authority,
            " HTTP/1.1\r\nHost: ",
            &authority,
            "\r\n",
        ] {
            request.push_str(part);
        }
        if let Some(encoded) = &encoded {
            request.push_str("Proxy-Authorization: Basic ");
            request.push_str(encoded);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        conn.write_all(request.as_bytes(), deadline)?;
        let head = match read_head(conn, deadline, false) {
            Ok(head) => head,
            Err(HeadError::ClosedBeforeReply) => {
                return Err(HttpError::Network(
                    "the proxy closed the connection without replying".into(),
                ));
            }
            Err(HeadError::Failed(e)) => return Err(e),
        };
        if !(200..300).contains(&head.status) {
            let reason = super::reason_phrase(head.status).unwrap_or_default();
            return Err(HttpError::ProxyRefused(format!(
                "HTTP {} {reason}",
                head.status
            )));
        }
        if !conn.buffered().is_empty() {
            return Err(HttpError::Protocol(
                "the proxy sent data before the tunnel was used".into(),
            ));
        }
        Ok(())
    }
}

/// Writes the request and reads the head of its reply.
fn exchange(
    conn: &mut Connection,
    fixed_headers: &[u8],
    request: &Request,
    deadline: Instant,
) -> Result<Head, Exchange> {
    let mut out = std::mem::take(&mut conn.request);
    out.clear();
    let method: &[u8] = match request.method {
        Method::Get => b"GET ",
        Method::Post => b"POST ",
    };
    // Room for all of it at once: growing would free a copy of the key unzeroed.
    let body_len = request.body.map_or(0, <[u8]>::len);
    out.reserve(
        method.len()
            + request.target.len()
            + fixed_headers.len()
            + request.accept.len()
            + body_len
            + 96,
    );
    for part in [
        method,
        request.target.as_bytes(),
        b" HTTP/1.1\r\n",
        fixed_headers,
        b"Accept: ",
        request.accept.as_bytes(),
        b"\r\n",
    ] {
        out.extend_from_slice(part);
    }
    if let Some(body) = request.body {
        out.extend_from_slice(b"Content-Type: application/json\r\nContent-Length: ");
        out.extend_from_slice(body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(body);
    } else {
        out.extend_from_slice(b"\r\n");
    }
    let written = conn.write_all(&out, deadline);
    // The buffer held the key: zeroed, and kept for the next request.
    out.zeroize();
    conn.request = out;
    match written {
        Ok(()) => {}
        // The peer had closed it: EPIPE or ECONNRESET.
        Err(e @ HttpError::Network(_)) => return Err(Exchange::Stale(e)),
        Err(e) => return Err(Exchange::Failed(e)),
    }
    match read_head(conn, deadline, true) {
        Ok(head) => Ok(head),
        Err(HeadError::ClosedBeforeReply) => Err(Exchange::Stale(HttpError::Network(
            "the server closed the connection without replying".into(),
        ))),
        Err(HeadError::Failed(e)) => Err(Exchange::Failed(e)),
    }
}

/// A reply whose head has been read. Its body is read on demand; once read to
/// its end, the connection goes back to the pool when the response is dropped.
pub(crate) struct Response<'t> {
    transport: &'t Transport,
    conn: Option<Connection>,
    pub(crate) head: Head,
    body: BodyState,
    deadline: Instant,
}

impl Response<'_> {
    pub(crate) fn status(&self) -> u16 {
        self.head.status
    }

    /// The next bytes of the body; 0 at its end.
    pub(crate) fn read(&mut self, out: &mut [u8]) -> Result<usize, HttpError> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(0);
        };
        let result = read_body(conn, &mut self.body, out, self.deadline);
        if result.is_err() {
            // Where the next reply would start is unknown now.
            self.conn = None;
        }
        result
    }

    /// The whole body, refused if it is longer than `limit` bytes.
    pub(crate) fn read_to_vec(&mut self, limit: u64) -> Result<Vec<u8>, HttpError> {
        let mut body = Vec::new();
        if let BodyState::Length(length) = self.body {
            if length > limit {
                self.conn = None;
                return Err(HttpError::BodyTooLarge(limit));
            }
            // Bounded by the limit just checked.
            body.reserve_exact(length as usize);
        }
        loop {
            let filled = body.len();
            let room = match self.body {
                BodyState::Length(left) => usize::try_from(left).unwrap_or(usize::MAX).max(1),
                _ => 8 << 10,
            };
            body.resize(filled + room, 0);
            let read = self.read(&mut body[filled..]);
            body.truncate(filled + *read.as_ref().unwrap_or(&0));
            if read? == 0 {
                return Ok(body);
            }
            if body.len() as u64 > limit {
                self.conn = None;
                return Err(HttpError::BodyTooLarge(limit));
            }
        }
    }

    /// Up to `limit` bytes of the body, best effort: what arrived before a
    /// failure (an error reply's words are a courtesy; its status is what counts).
    pub(crate) fn read_up_to(&mut self, limit: usize) -> Vec<u8> {
        let mut body = Vec::new();
        while body.len() < limit {
            let filled = body.len();
            // Grown as bytes come: error bodies are usually a few hundred bytes.
            body.resize((filled + (4 << 10)).min(limit), 0);
            match self.read(&mut body[filled..]) {
                Ok(0) | Err(_) => {
                    body.truncate(filled);
                    break;
                }
                Ok(read) => body.truncate(filled + read),
            }
        }
        body
    }

    /// The body's length as the head declared it (`Content-Length`), if it did.
    pub(crate) fn declared_length(&self) -> Option<u64> {
        match self.head.framing {
            Framing::Length(length) => Some(length),
            _ => None,
        }
    }
}

impl Drop for Response<'_> {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            // Bytes beyond the reply are not the next reply: never reuse those.
            if self.body == BodyState::Done && self.head.keep_alive && conn.is_clean() {
                self.transport.put_idle(conn);
            }
        }
    }
}

/// Standard base64 with padding (RFC 4648), for `Proxy-Authorization: Basic`.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648() {
        for (input, output) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("user:secret", "dXNlcjpzZWNyZXQ="),
            ("a@b:p:w%", "YUBiOnA6dyU="),
        ] {
            assert_eq!(base64(input.as_bytes()), output, "{input:?}");
        }
    }
}
