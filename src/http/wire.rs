//! HTTP/1.1 on the wire: a reply's head (parsed by httparse) and its body,
//! framed by `Content-Length`, chunked transfer coding, or the connection's end.
//! Strict where a lax reading could be exploited (two different lengths, a
//! transfer coding other than chunked, an overlong chunk-size line).

use std::time::Instant;

use super::HttpError;
use super::conn::Connection;

/// Largest reply head accepted.
pub(crate) const MAX_HEAD_SIZE: usize = 64 << 10;
/// Most header lines in a reply head.
const MAX_HEADERS: usize = 100;
/// Longest chunk-size line (with extensions) and most trailer bytes.
const MAX_CHUNK_LINE: usize = 4 << 10;
const MAX_TRAILERS: usize = 16 << 10;

/// What the client uses of a reply's head.
#[derive(Debug, Default)]
pub(crate) struct Head {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<String>,
    pub(crate) location: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) framing: Framing,
    /// The connection may carry another request once the body is read.
    pub(crate) keep_alive: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    #[default]
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// Why a head could not be read.
pub(crate) enum HeadError {
    /// The connection ended before the first byte of a reply: on a reused
    /// connection, the server closed it while it was idle.
    ClosedBeforeReply,
    Failed(HttpError),
}

impl From<HttpError> for HeadError {
    fn from(error: HttpError) -> HeadError {
        HeadError::Failed(error)
    }
}

/// Reads the head of the reply to a request; informational (1xx) heads are
/// skipped. `expect_body` is false for the reply to CONNECT.
pub(crate) fn read_head(
    conn: &mut Connection,
    deadline: Instant,
    expect_body: bool,
) -> Result<Head, HeadError> {
    let mut received_any = false;
    // Bytes already parsed: httparse runs again only when new bytes complete a
    // line (which may end the head, or show it is malformed), so a head
    // trickled in byte by byte is not parsed once per byte. A head has at most
    // MAX_HEADERS lines, which bounds the number of parses.
    let mut searched: usize = 0;
    loop {
        // Empty lines before a status line are skipped (RFC 9112, 2.2) here, not
        // by httparse, so that a server trickling them cannot make each one a
        // parse of everything before it.
        let blank = blank_lines(conn.buffered());
        if blank > 0 {
            conn.consume(blank);
            searched = searched.saturating_sub(blank);
        }
        let complete = searched == 0 || conn.buffered()[searched..].contains(&b'\n');
        searched = conn.buffered().len();
        if complete {
            if let Some((head, used)) = parse_head(conn.buffered(), expect_body)? {
                conn.consume(used);
                searched = 0;
                if (100..200).contains(&head.status) && head.status != 101 {
                    received_any = true;
                    continue;
                }
                return Ok(head);
            }
        }
        if conn.buffered().len() >= MAX_HEAD_SIZE {
            return Err(HttpError::HeadersTooLarge(MAX_HEAD_SIZE).into());
        }
        received_any |= !conn.buffered().is_empty();
        let read = match conn.fill(MAX_HEAD_SIZE, deadline) {
            Err(HttpError::Network(_)) if !received_any => {
                return Err(HeadError::ClosedBeforeReply);
            }
            other => other?,
        };
        if read == 0 {
            return Err(if received_any || !conn.buffered().is_empty() {
                // A cut like any other (a reset here is one too): CONNECT, retried.
                HeadError::Failed(HttpError::Network(
                    "the connection closed in the middle of the reply's head".into(),
                ))
            } else {
                HeadError::ClosedBeforeReply
            });
        }
    }
}

/// The length of the complete empty lines (`\r\n` or `\n`) at the start of
/// `bytes`; a bare CR is not one (httparse refuses it).
fn blank_lines(bytes: &[u8]) -> usize {
    let mut at = 0;
    loop {
        match &bytes[at..] {
            [b'\r', b'\n', ..] => at += 2,
            [b'\n', ..] => at += 1,
            _ => return at,
        }
    }
}

/// A complete head at the start of `bytes`, and its length; `None` if more
/// bytes are needed.
fn parse_head(bytes: &[u8], expect_body: bool) -> Result<Option<(Head, usize)>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let used = match response.parse(bytes) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HttpError::Protocol(format!(
                "the reply has more than {MAX_HEADERS} header lines"
            )));
        }
        Err(e) => return Err(HttpError::Protocol(format!("{e} in the reply's head"))),
    };
    let status = response.code.unwrap_or_default();
    let mut head = Head {
        status,
        // HTTP/1.0 replies close unless they say otherwise; not worth the case.
        // After a 101 the connection speaks another protocol (never asked for).
        keep_alive: response.version == Some(1) && status != 101,
        ..Head::default()
    };
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut transfer_coded = false;
    for header in response.headers.iter() {
        let value = || String::from_utf8_lossy(header.value).into_owned();
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            // Digits between optional spaces or tabs: str::trim would also
            // strip Unicode spaces (U+00A0...), which are no part of HTTP.
            let text = std::str::from_utf8(header.value.trim_ascii()).unwrap_or("");
            let parsed = (!text.is_empty()
                && text.len() <= 19
                && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| HttpError::Protocol("a Content-Length that is not a number".into()))?;
            if length.is_some_and(|l| l != parsed) {
                return Err(HttpError::Protocol(
                    "two different Content-Length headers".into(),
                ));
            }
            length = Some(parsed);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_coded = true;
            for coding in header.value.split(|&b| b == b',') {
                let coding = coding.trim_ascii();
                if coding.eq_ignore_ascii_case(b"chunked") && !chunked {
                    chunked = true;
                } else if !coding.is_empty() {
                    // Quoted short: the server's text must not make a long message.
                    let shown = String::from_utf8_lossy(&coding[..coding.len().min(40)]);
                    return Err(HttpError::Protocol(format!(
                        "the transfer coding {shown:?}{} is not supported",
                        if coding.len() > 40 { "..." } else { "" }
                    )));
                }
            }
        } else if name.eq_ignore_ascii_case("connection") {
            for token in header.value.split(|&b| b == b',') {
                if token.trim_ascii().eq_ignore_ascii_case(b"close") {
                    head.keep_alive = false;
                }
            }
        } else if name.eq_ignore_ascii_case("retry-after") {
            head.retry_after = Some(value());
        } else if name.eq_ignore_ascii_case("location") {
            head.location = Some(value());
        } else if name.eq_ignore_ascii_case("content-type") {
            head.content_type = Some(value());
        }
    }
    // Both framings at once is how requests are smuggled: whatever this reply
    // is, trust neither for the next reply on this connection.
    if transfer_coded && length.is_some() {
        head.keep_alive = false;
    }
    let no_body = !expect_body || (100..200).contains(&status) || status == 204 || status == 304;
    head.framing = if no_body {
        Framing::Empty
    } else if transfer_coded {
        if !chunked {
            return Err(HttpError::Protocol("an empty Transfer-Encoding".into()));
        }
        Framing::Chunked
    } else {
        match length {
            Some(0) => Framing::Empty,
            Some(length) => Framing::Length(length),
            None => {
                head.keep_alive = false;
                Framing::UntilClose
            }
        }
    };
    Ok(Some((head, used)))
}

/// Where a body is in its framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyState {
    /// This many bytes of a `Content-Length` body are left.
    Length(u64),
    /// Chunked: a chunk-size line is next.
    ChunkSize,
    /// Chunked: this many bytes of the current chunk are left, then its CRLF.
    ChunkData(u64),
    /// Chunked: trailer lines (skipped), up to an empty line.
    Trailers(usize),
    /// Everything up to the end of the connection.
    UntilClose,
    Done,
}

impl BodyState {
    pub(crate) fn new(framing: Framing) -> BodyState {
        match framing {
            Framing::Empty => BodyState::Done,
            Framing::Length(length) => BodyState::Length(length),
            Framing::Chunked => BodyState::ChunkSize,
            Framing::UntilClose => BodyState::UntilClose,
        }
    }
}

/// Reads the next bytes of the body into `out`; 0 once it is complete.
pub(crate) fn read_body(
    conn: &mut Connection,
    state: &mut BodyState,
    out: &mut [u8],
    deadline: Instant,
) -> Result<usize, HttpError> {
    // An empty `out` would read 0 bytes, which means the end of the stream.
    debug_assert!(!out.is_empty());
    loop {
        match *state {
            BodyState::Done => return Ok(0),
            BodyState::Length(0) => *state = BodyState::Done,
            BodyState::Length(left) => {
                let read = read_counted(conn, out, left, deadline)?;
                *state = BodyState::Length(left - read as u64);
                return Ok(read);
            }
            BodyState::UntilClose => {
                let read = conn.read_into(out, deadline)?;
                if read == 0 {
                    // Only the end of the connection frames this body: over TLS
                    // an end without close_notify may be a cut (a truncation
                    // attack), so it is not taken as the end of the reply.
                    if conn.ended_uncleanly() {
                        return Err(HttpError::Network(
                            "the TLS connection ended without close_notify before the end of \
                             a reply framed by the connection's end"
                                .into(),
                        ));
                    }
                    *state = BodyState::Done;
                }
                return Ok(read);
            }
            BodyState::ChunkSize => {
                let line = read_line(conn, deadline)?;
                let size = parse_chunk_size(conn.buffered().get(..line).unwrap_or_default())?;
                conn.consume(line);
                *state = if size == 0 {
                    BodyState::Trailers(0)
                } else {
                    BodyState::ChunkData(size)
                };
            }
            BodyState::ChunkData(0) => {
                let line = read_line(conn, deadline)?;
                let ok = matches!(conn.buffered().get(..line), Some(b"\r\n" | b"\n"));
                if !ok {
                    return Err(HttpError::Protocol("a chunk longer than its size".into()));
                }
                conn.consume(line);
                *state = BodyState::ChunkSize;
            }
            BodyState::ChunkData(left) => {
                let read = read_counted(conn, out, left, deadline)?;
                *state = BodyState::ChunkData(left - read as u64);
                return Ok(read);
            }
            BodyState::Trailers(seen) => {
                let line = read_line(conn, deadline)?;
                let empty = matches!(conn.buffered().get(..line), Some(b"\r\n" | b"\n"));
                conn.consume(line);
                if seen + line > MAX_TRAILERS {
                    return Err(HttpError::Protocol(
                        "the reply's trailers are too large".into(),
                    ));
                }
                *state = if empty {
                    BodyState::Done
                } else {
                    BodyState::Trailers(seen + line)
                };
            }
        }
    }
}

/// Reads at most `left` (> 0) bytes of a body or chunk whose length is known:
/// the end of the stream before them is a cut.
fn read_counted(
    conn: &mut Connection,
    out: &mut [u8],
    left: u64,
    deadline: Instant,
) -> Result<usize, HttpError> {
    let want = out.len().min(usize::try_from(left).unwrap_or(usize::MAX));
    match conn.read_into(&mut out[..want], deadline)? {
        0 => Err(cut_short()),
        read => Ok(read),
    }
}

fn cut_short() -> HttpError {
    HttpError::Network("the connection closed before the end of the reply".into())
}

/// The length of the next line in the buffer, its `\n` included, reading more
/// as needed (at most [`MAX_CHUNK_LINE`] bytes).
fn read_line(conn: &mut Connection, deadline: Instant) -> Result<usize, HttpError> {
    let mut searched: usize = 0;
    loop {
        let buffered = conn.buffered();
        if let Some(at) = buffered[searched..].iter().position(|&b| b == b'\n') {
            return Ok(searched + at + 1);
        }
        searched = buffered.len();
        if searched > MAX_CHUNK_LINE {
            return Err(HttpError::Protocol("a chunk-size line is too long".into()));
        }
        if conn.fill(MAX_CHUNK_LINE * 2, deadline)? == 0 {
            return Err(cut_short());
        }
    }
}

/// `1a2b[;extensions]\r\n` → 0x1a2b.
fn parse_chunk_size(line: &[u8]) -> Result<u64, HttpError> {
    let bad = || HttpError::Protocol("a chunk size that is not a hexadecimal number".into());
    let line = line.strip_suffix(b"\n").ok_or_else(bad)?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let digits = line
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    if digits.is_empty() || digits.len() > 15 {
        return Err(bad());
    }
    let mut size = 0u64;
    for &b in digits {
        let digit = (b as char).to_digit(16).ok_or_else(bad)?;
        size = size * 16 + u64::from(digit);
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Result<Option<(Head, usize)>, HttpError> {
        parse_head(text.as_bytes(), true)
    }

    #[test]
    fn framing_of_heads() {
        let (h, used) = head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            .unwrap()
            .unwrap();
        assert_eq!(
            (h.status, h.framing, h.keep_alive, used),
            (200, Framing::Length(5), true, 38)
        );
        let (h, _) = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.framing, Framing::Chunked);
        let (h, _) =
            head("HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 1\r\n\r\n")
                .unwrap()
                .unwrap();
        assert!(!h.keep_alive);
        let (h, _) = head("HTTP/1.1 200 OK\r\n\r\n").unwrap().unwrap();
        assert_eq!((h.framing, h.keep_alive), (Framing::UntilClose, false));
        let (h, _) = head("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.keep_alive);
        let (h, _) = head("HTTP/1.1 204 No Content\r\n\r\n").unwrap().unwrap();
        assert_eq!((h.framing, h.keep_alive), (Framing::Empty, true));
        let (h, _) =
            head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n")
                .unwrap()
                .unwrap();
        assert_eq!((h.framing, h.keep_alive), (Framing::Chunked, false));
        let (h, _) = head(
            "HTTP/1.1 204 No Content\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!((h.framing, h.keep_alive), (Framing::Empty, false));
        let (h, _) =
            head("HTTP/1.1 429 x\r\nRetry-After: 3\r\nLocation: /y\r\nContent-Type: a/b\r\n\r\n")
                .unwrap()
                .unwrap();
        assert_eq!(h.retry_after.as_deref(), Some("3"));
        assert_eq!(h.location.as_deref(), Some("/y"));
        assert_eq!(h.content_type.as_deref(), Some("a/b"));
        assert!(head("HTTP/1.1 200 OK\r\nContent-Le").unwrap().is_none());
    }

    #[test]
    fn heads_that_are_refused() {
        for bad in [
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: \u{a0}5\r\n\r\nhello",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\u{85}\r\n\r\nhello",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n",
            "HTTP/2 200 OK\r\n\r\n",
            "SSH-2.0-OpenSSH\r\n\r\n",
        ] {
            assert!(head(bad).is_err(), "{bad:?}");
        }
        let many = format!(
            "HTTP/1.1 200 OK\r\n{}\r\n",
            "a: b\r\n".repeat(MAX_HEADERS + 1)
        );
        assert!(head(&many).is_err());
    }

    #[test]
    fn empty_lines_before_a_head() {
        assert_eq!(blank_lines(b"\r\n\nHTTP"), 3);
        assert_eq!(blank_lines(b"\r\r\nHTTP"), 0);
        assert_eq!(blank_lines(b"\r\n\r"), 2);
        assert_eq!(blank_lines(b""), 0);
    }

    #[test]
    fn chunk_sizes() {
        assert_eq!(parse_chunk_size(b"1a\r\n").unwrap(), 26);
        assert_eq!(parse_chunk_size(b"FF;name=value\r\n").unwrap(), 255);
        assert_eq!(parse_chunk_size(b"0\n").unwrap(), 0);
        for bad in [
            &b"\r\n"[..],
            b"g\r\n",
            b"-1\r\n",
            b"1",
            b"1000000000000000\r\n",
            b"0x1\r\n",
        ] {
            assert!(parse_chunk_size(bad).is_err(), "{bad:?}");
        }
    }
}
