//! HTTP over a bare TcpStream, to see what a client library would hide: chunk framing,
//! a missing terminating chunk, a body shorter than its Content-Length, and when the
//! first body byte arrives.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

pub struct RawReply {
    pub status: u16,
    /// Header lines, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body bytes as they came off the socket (chunk framing included).
    pub raw_body: Vec<u8>,
    /// Since the request was written: the first body byte, and the end of the connection.
    pub first_body_byte: Option<Duration>,
    pub closed: Duration,
}

impl RawReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn is_chunked(&self) -> bool {
        self.header("transfer-encoding") == Some("chunked")
    }

    /// The body without chunk framing, and whether the terminating chunk came.
    pub fn dechunked(&self) -> (Vec<u8>, bool) {
        dechunk(&self.raw_body)
    }
}

/// POSTs `json` with the default key and `Connection: close`, then reads until the
/// server closes the connection (or resets it).
pub fn post(addr: SocketAddr, path: &str, json: &str) -> RawReply {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nx-api-key: {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        camb_emulator::DEFAULT_API_KEY,
        json.len()
    );
    let started = Instant::now();
    stream
        .write_all(request.as_bytes())
        .expect("request written");
    let mut received = Vec::new();
    let mut head_len = None;
    let mut first_body_byte = None;
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            // An abrupt close may arrive as a reset; what came before it counts.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read failed after {} bytes: {e}", received.len()),
        };
        received.extend_from_slice(&buf[..n]);
        if head_len.is_none() {
            head_len = find(&received, b"\r\n\r\n").map(|i| i + 4);
        }
        if first_body_byte.is_none() && head_len.is_some_and(|h| received.len() > h) {
            first_body_byte = Some(started.elapsed());
        }
    }
    let closed = started.elapsed();
    let head_len = head_len.expect("a complete response head");
    let head = String::from_utf8_lossy(&received[..head_len]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    RawReply {
        status,
        headers,
        raw_body: received[head_len..].to_vec(),
        first_body_byte,
        closed,
    }
}

/// Undoes chunked framing as far as the bytes go.
pub fn dechunk(mut raw: &[u8]) -> (Vec<u8>, bool) {
    let mut data = Vec::new();
    loop {
        let Some(line_end) = find(raw, b"\r\n") else {
            return (data, false);
        };
        let size = std::str::from_utf8(&raw[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
            .expect("a chunk size line");
        raw = &raw[line_end + 2..];
        if size == 0 {
            return (data, raw.starts_with(b"\r\n"));
        }
        let take = size.min(raw.len());
        data.extend_from_slice(&raw[..take]);
        if take < size || raw.len() < size + 2 {
            return (data, false);
        }
        raw = &raw[size + 2..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
