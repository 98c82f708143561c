//! A speech stream on the wire, against servers played with raw sockets
//! (tests/hostile_server): how a body ends (chunked, by length, by the
//! connection's close) and how it can be cut, which failures are sent again
//! (only those where the server cannot have started the paid work), a stalled
//! stream, and a streamed WAV's header learnt and, when saved, made right.

mod hostile_server;

use std::io;
use std::time::{Duration, Instant};

use camb::speech::SpeechRequest;
use camb::{Client, ClientConfig, Error, ErrorKind, SpeechInfo};
use hostile_server::{Conn, Server, response};

const KEY: &str = "sk-speech-SECRET-123";

fn client(server: &Server, timeout_ms: u64, max_retries: u32) -> Client {
    let mut config = ClientConfig::default();
    config.set_base_url(&server.base_url()).unwrap();
    config.set_api_key(KEY).unwrap();
    config.set_timeout_ms(timeout_ms).unwrap();
    config.set_max_retries(max_retries).unwrap();
    Client::new(config).unwrap()
}

fn request() -> SpeechRequest {
    SpeechRequest::new("Hello there, world.", "en-us", 147_320)
}

/// Speaks, keeping every chunk; the bytes and the outcome.
fn speak(client: &Client) -> (Vec<u8>, Result<SpeechInfo, Error>) {
    let mut audio = Vec::new();
    let outcome = client.speak(&request(), None, |chunk, info| {
        audio.extend_from_slice(chunk);
        assert_eq!(
            info.bytes,
            audio.len() as u64,
            "info.bytes counts this chunk"
        );
        Ok(())
    });
    (audio, outcome)
}

fn audio(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Reads the request (head and body) and answers with `head` then `body`
/// written as given: the script decides how the body ends.
fn serve(head: &'static str, body: Vec<u8>) -> impl Fn(&mut Conn) -> io::Result<()> {
    move |conn: &mut Conn| {
        conn.expect_request()?;
        conn.write(head.as_bytes())?;
        conn.write(&body)?;
        Ok(())
    }
}

fn chunked(body: &[u8], last_chunk: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in body.chunks(1000) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    if last_chunk {
        out.extend_from_slice(b"0\r\n\r\n");
    }
    out
}

const CHUNKED_HEAD: &str = "HTTP/1.1 200 OK\r\nContent-Type: audio/pcm\r\n\
    X-Credits-Required: 3\r\nTransfer-Encoding: chunked\r\n\r\n";

fn cut(outcome: Result<SpeechInfo, Error>) -> Error {
    let error = outcome.expect_err("a cut stream must fail, never succeed short");
    eprintln!("{error}");
    assert!(
        matches!(error.kind(), ErrorKind::Connect | ErrorKind::BadResponse),
        "{error:?}"
    );
    assert!(error.message().contains("stream broke after"), "{error}");
    assert!(!error.message().contains(KEY));
    error
}

#[test]
fn a_whole_chunked_stream_is_delivered_with_its_credits() {
    let body = audio(10_000);
    let server = Server::start(serve(CHUNKED_HEAD, chunked(&body, true)));
    let (got, outcome) = speak(&client(&server, 5_000, 2));
    let info = outcome.unwrap();
    assert_eq!(got, body);
    assert_eq!(info.bytes, 10_000);
    assert_eq!(info.credits, Some(3.0));
    assert_eq!(info.format, "wav");
    assert_eq!(info.content_type.as_deref(), Some("audio/pcm"));
}

#[test]
fn a_chunked_stream_without_its_last_chunk_is_an_error() {
    let server = Server::start(serve(CHUNKED_HEAD, chunked(&audio(5_000), false)));
    let (got, outcome) = speak(&client(&server, 5_000, 2));
    cut(outcome);
    assert_eq!(got.len(), 5_000, "what came was handed over");
    assert_eq!(
        server.requests(),
        1,
        "a stream that began is never sent again"
    );
}

#[test]
fn a_body_shorter_than_its_length_is_an_error() {
    let server = Server::start(serve(
        "HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nContent-Length: 9000\r\n\r\n",
        audio(4_000),
    ));
    let (_, outcome) = speak(&client(&server, 5_000, 2));
    cut(outcome);
    assert_eq!(server.requests(), 1);
}

#[test]
fn a_reset_mid_stream_is_an_error() {
    let server = Server::start(|conn: &mut Conn| {
        conn.expect_request()?;
        conn.write(CHUNKED_HEAD.as_bytes())?;
        conn.write(&chunked(&audio(3_000), false))?;
        conn.pause(Duration::from_millis(100))?;
        conn.reset();
        Ok(())
    });
    let (_, outcome) = speak(&client(&server, 5_000, 2));
    cut(outcome);
    assert_eq!(server.requests(), 1);
}

#[test]
fn a_body_that_ends_at_a_clean_close_is_complete() {
    // No length, not chunked: the connection's close is the body's end, and a
    // clean one cannot be told from a short clip (camb.h says so).
    let body = audio(7_000);
    let server = Server::start(serve(
        "HTTP/1.1 200 OK\r\nContent-Type: audio/pcm\r\nConnection: close\r\n\r\n",
        body.clone(),
    ));
    let (got, outcome) = speak(&client(&server, 5_000, 2));
    assert_eq!(outcome.unwrap().bytes, 7_000);
    assert_eq!(got, body);
}

#[test]
fn a_429_or_503_is_sent_again_after_its_retry_after() {
    for status in ["429 Too Many Requests", "503 Service Unavailable"] {
        let body = audio(2_000);
        let replies = std::sync::Mutex::new(0);
        let server = Server::start(move |conn: &mut Conn| {
            conn.expect_request()?;
            let first = {
                let mut seen = replies.lock().unwrap();
                *seen += 1;
                *seen == 1
            };
            if first {
                conn.write(&response(
                    status,
                    &[("Retry-After", "1"), ("Content-Type", "application/json")],
                    r#"{"detail":"later"}"#,
                ))
            } else {
                conn.write(CHUNKED_HEAD.as_bytes())?;
                conn.write(&chunked(&body, true))
            }
        });
        let started = Instant::now();
        let (got, outcome) = speak(&client(&server, 10_000, 2));
        assert_eq!(outcome.unwrap().bytes, 2_000, "{status}");
        assert_eq!(got.len(), 2_000);
        assert_eq!(server.requests(), 2, "{status}");
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "Retry-After honoured"
        );
    }
}

#[test]
fn a_500_or_a_reset_before_the_reply_is_not_sent_again() {
    let server = Server::start(|conn: &mut Conn| {
        conn.expect_request()?;
        conn.write(&response(
            "500 Internal Server Error",
            &[("Content-Type", "application/json")],
            r#"{"detail":"the model crashed"}"#,
        ))
    });
    let (_, outcome) = speak(&client(&server, 5_000, 3));
    let error = outcome.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ServerError);
    assert!(error.message().contains("the model crashed"), "{error}");
    assert_eq!(
        server.requests(),
        1,
        "the server may have started: paid work"
    );

    let server = Server::start(|conn: &mut Conn| {
        conn.expect_request()?;
        conn.reset();
        Ok(())
    });
    let (_, outcome) = speak(&client(&server, 5_000, 3));
    assert_eq!(outcome.unwrap_err().kind(), ErrorKind::Connect);
    assert_eq!(
        server.requests(),
        1,
        "a request that was sent is not sent again"
    );
}

#[test]
fn a_failed_connect_is_sent_again() {
    // A port with nothing on it: every attempt fails before anything is sent,
    // so each is tried (the log counts them).
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut config = ClientConfig::default();
    config
        .set_base_url(&format!("http://127.0.0.1:{port}"))
        .unwrap();
    config.set_api_key(KEY).unwrap();
    config.set_timeout_ms(10_000).unwrap();
    config.set_max_retries(2).unwrap();
    let sink = std::sync::Arc::clone(&lines);
    config.log = Some(camb::config::LogSink {
        level: camb::log::LogLevel::Warn,
        callback: std::sync::Arc::new(move |_, line: &str| {
            sink.lock().unwrap().push(line.to_owned());
        }),
    });
    let client = Client::new(config).unwrap();
    let outcome = client.speak(&request(), None, |_, _| Ok(()));
    let error = outcome.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Connect, "{error}");
    assert!(error.message().contains("after 3 attempts"), "{error}");
    let retries = lines
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("will be retried"))
        .count();
    assert_eq!(retries, 2);
}

#[test]
fn a_stalled_stream_times_out_per_read_not_as_a_whole() {
    // The whole stream takes far longer than the timeout, but no read waits
    // that long: it succeeds. Then a stall longer than the timeout fails.
    let body = audio(6_000);
    let pieces: Vec<Vec<u8>> = chunked(&body, true)
        .chunks(1500)
        .map(<[u8]>::to_vec)
        .collect();
    let server = Server::start(move |conn: &mut Conn| {
        conn.expect_request()?;
        conn.write(CHUNKED_HEAD.as_bytes())?;
        for piece in &pieces {
            conn.pause(Duration::from_millis(300))?;
            conn.write(piece)?;
        }
        Ok(())
    });
    let started = Instant::now();
    let (got, outcome) = speak(&client(&server, 700, 0));
    assert_eq!(outcome.unwrap().bytes, 6_000);
    assert_eq!(got, body);
    assert!(started.elapsed() > Duration::from_millis(700));

    let server = Server::start(|conn: &mut Conn| {
        conn.expect_request()?;
        conn.write(CHUNKED_HEAD.as_bytes())?;
        conn.write(&chunked(&audio(1_000), false))?;
        conn.hold()
    });
    let (_, outcome) = speak(&client(&server, 500, 0));
    let error = outcome.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(
        error.message().contains("no audio arrived for 500 ms"),
        "{error}"
    );
    assert!(error.message().contains("after 1000 bytes"), "{error}");
}

/// A streamed WAV as servers send it: placeholder sizes.
fn streamed_wav(samples: usize) -> Vec<u8> {
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00");
    wav.extend_from_slice(&24_000u32.to_le_bytes());
    wav.extend_from_slice(&48_000u32.to_le_bytes());
    wav.extend_from_slice(b"\x02\x00\x10\x00data\xff\xff\xff\xff");
    wav.extend((0..samples * 2).map(|i| (i % 7) as u8));
    wav
}

#[test]
fn a_streamed_wav_tells_its_rate_and_is_saved_with_its_real_sizes() {
    let wav = streamed_wav(5_000);
    let head = "HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nTransfer-Encoding: chunked\r\n\r\n";
    let server = Server::start(serve(head, chunked(&wav, true)));
    let client = client(&server, 5_000, 0);
    let mut rates = Vec::new();
    let info = client
        .speak(&request(), None, |_, info| {
            rates.push((info.sample_rate, info.channels));
            Ok(())
        })
        .unwrap();
    assert_eq!((info.sample_rate, info.channels), (24_000, 1));
    assert_eq!(rates[0], (24_000, 1), "known from the first chunk");

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("speech-wire-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("hello.wav");
    let info = client.speak_to_file(&request(), &path, None).unwrap();
    let saved = std::fs::read(&path).unwrap();
    assert_eq!(info.bytes, saved.len() as u64);
    assert_eq!(&saved[4..8], &(saved.len() as u32 - 8).to_le_bytes());
    assert_eq!(&saved[40..44], &(10_000u32).to_le_bytes());
    assert_eq!(&saved[44..], &wav[44..]);

    // A cut stream leaves the saved file as it was.
    let cut_server = Server::start(serve(head, chunked(&wav[..3_000], false)));
    let error = self::client(&cut_server, 5_000, 0)
        .speak_to_file(&request(), &path, None)
        .unwrap_err();
    assert!(error.message().contains("stream broke"), "{error}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        saved,
        "the old file is untouched"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn json_with_a_success_status_is_not_audio() {
    let server = Server::start(serve(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n",
        b"{}".to_vec(),
    ));
    let (got, outcome) = speak(&client(&server, 5_000, 2));
    assert_eq!(outcome.unwrap_err().kind(), ErrorKind::BadResponse);
    assert!(got.is_empty());
}

#[test]
fn a_success_without_any_audio_is_not_speech() {
    let server = Server::start(serve(
        "HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nContent-Length: 0\r\n\r\n",
        Vec::new(),
    ));
    let (_, outcome) = speak(&client(&server, 5_000, 2));
    let error = outcome.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::BadResponse, "{error}");
    assert!(error.message().contains("no audio"), "{error}");
    assert_eq!(server.requests(), 1);
}
