//! Shared helpers: a blocking client that returns every reply, 4xx included, fully read.
#![allow(dead_code)] // each test binary uses a different subset

pub mod raw;

use camb_emulator::{Config, DEFAULT_API_KEY, Emulator};
use serde_json::Value;

pub fn start(pending_ms: u64) -> Emulator {
    Emulator::start(Config {
        pending_ms,
        ..Config::default()
    })
    .expect("emulator starts")
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One agent = one connection pool, so keep-alive reuse is observable.
pub struct Client {
    pub agent: ureq::Agent,
    pub base: String,
    pub key: Option<String>,
}

impl Client {
    pub fn new(emulator: &Emulator) -> Client {
        Client::with_base(emulator.base_url())
    }

    pub fn with_base(base: String) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        Client {
            agent,
            base,
            key: Some(DEFAULT_API_KEY.to_string()),
        }
    }

    pub fn without_key(mut self) -> Client {
        self.key = None;
        self
    }

    pub fn with_key(mut self, key: &str) -> Client {
        self.key = Some(key.to_string());
        self
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    pub fn get(&self, path: &str) -> Reply {
        let mut request = self.agent.get(&self.url(path));
        if let Some(key) = &self.key {
            request = request.header("x-api-key", key);
        }
        read(request.call())
    }

    /// POST with `Content-Type: application/json`.
    pub fn post(&self, path: &str, body: &str) -> Reply {
        self.post_as(path, Some("application/json"), body)
    }

    pub fn post_as(&self, path: &str, content_type: Option<&str>, body: &str) -> Reply {
        let mut request = self.agent.post(&self.url(path));
        if let Some(key) = &self.key {
            request = request.header("x-api-key", key);
        }
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        read(request.send(body))
    }
}

fn read(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut response = result.expect("request completes");
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .expect("body reads");
    Reply {
        status,
        headers,
        body,
    }
}

/// Checks a 422 carries exactly one FastAPI error with this `loc` and `type`.
pub fn assert_422(reply: &Reply, loc: Value, kind: &str) {
    assert_eq!(reply.status, 422, "{}", reply.text());
    let detail = reply.json()["detail"].clone();
    let errors = detail.as_array().expect("detail is a list");
    assert_eq!(errors.len(), 1, "{detail}");
    assert_eq!(errors[0]["loc"], loc, "{detail}");
    assert_eq!(errors[0]["type"], kind, "{detail}");
    assert!(errors[0]["msg"].as_str().is_some_and(|m| !m.is_empty()));
}

/// Checks a 422 for unparsable JSON: FastAPI's loc is `["body", <byte position>]`.
pub fn assert_json_invalid(reply: &Reply) {
    assert_eq!(reply.status, 422, "{}", reply.text());
    let error = reply.json()["detail"][0].clone();
    assert_eq!(error["type"], "json_invalid", "{error}");
    assert_eq!(error["loc"][0], "body", "{error}");
    assert!(error["loc"][1].is_u64(), "{error}");
}

/// The fields of a PCM WAV header, checked for internal consistency with the byte length.
pub struct WavInfo {
    pub sample_rate: u32,
    pub channels: u16,
    pub bits: u16,
    pub samples: usize,
}

impl WavInfo {
    pub fn seconds(&self) -> f64 {
        self.samples as f64 / f64::from(self.sample_rate)
    }
}

pub fn parse_wav(bytes: &[u8]) -> WavInfo {
    let u32_at =
        |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    assert!(bytes.len() >= 44, "too short for a WAV: {}", bytes.len());
    assert_eq!(&bytes[0..4], b"RIFF");
    assert_eq!(u32_at(4) as usize, bytes.len() - 8, "RIFF size");
    assert_eq!(&bytes[8..12], b"WAVE");
    assert_eq!(&bytes[12..16], b"fmt ");
    assert_eq!(u32_at(16), 16, "fmt chunk size");
    assert_eq!(u16_at(20), 1, "PCM format");
    let channels = u16_at(22);
    let sample_rate = u32_at(24);
    let bits = u16_at(34);
    let block_align = u16_at(32);
    assert_eq!(block_align, channels * bits / 8);
    assert_eq!(
        u32_at(28),
        sample_rate * u32::from(block_align),
        "byte rate"
    );
    assert_eq!(&bytes[36..40], b"data");
    let data_len = u32_at(40) as usize;
    assert_eq!(data_len, bytes.len() - 44, "data size");
    WavInfo {
        sample_rate,
        channels,
        bits,
        samples: data_len / usize::from(block_align),
    }
}

/// Largest absolute sample value, to tell audio from silence.
pub fn peak(bytes: &[u8]) -> u16 {
    bytes[44..]
        .chunks_exact(2)
        .map(|s| i16::from_le_bytes([s[0], s[1]]).unsigned_abs())
        .max()
        .unwrap_or(0)
}

/// Sends one request on an open socket and reads one response (status, body); the
/// response must carry a Content-Length. Lets tests see exactly which connection is used.
pub fn raw_exchange(stream: &mut std::net::TcpStream, request: &str) -> (u16, String) {
    use std::io::{BufRead, BufReader, Read, Write};
    stream
        .write_all(request.as_bytes())
        .expect("request written");
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).expect("status line");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header line");
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        assert!(
            !lower.starts_with("connection: close"),
            "server closed keep-alive"
        );
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().expect("content-length");
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    // BufReader may only hold bytes of this response: requests are sent one at a time.
    assert!(reader.buffer().is_empty());
    (status, String::from_utf8_lossy(&body).into_owned())
}
