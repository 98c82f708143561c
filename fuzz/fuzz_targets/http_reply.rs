//! The HTTP/1.1 reply reader (`src/http/wire.rs`: `read_head`, then `read_body`
//! to the end) on arbitrary bytes from a server, through
//! `camb::http::fuzzing::read_reply`: the bytes go over a real loopback TCP
//! connection, the server then ends the stream, and the client reads them on a
//! real `Connection` with a 2-second deadline.
//!
//! Input framing: none. The whole input is what the server sends (so seeds are
//! plain HTTP replies).
//!
//! The checks compare the reader with an independent reading of the same bytes:
//! heads split by httparse (1xx heads skipped, except 101), framing and
//! keep-alive decided from the headers by RFC 9112's rules, and chunked bodies
//! decoded by a separate decoder. Properties:
//! - never panics, never hangs: all the input was sent and the stream ended
//!   before reading starts, so a `Timeout` error (the deadline reached) is a hang;
//! - an error is one of the `HttpError` kinds reading a plain TCP reply can
//!   give: `ClosedBeforeReply` (exactly when the input is empty or only empty
//!   lines, `\r\n` or `\n`, which a client skips before a status line),
//!   `Network`, `Protocol`,
//!   `HeadersTooLarge` (only for a head that does not fit in `max_head_size()`, 64 KiB);
//!   its text is not empty, one line, without control characters, and short
//!   (under 300 bytes: the server's bytes are quoted, if at all, in brief);
//! - the body (also the part given before an error) is never longer than the
//!   input, nor than what follows the final head;
//! - a head that the input ends inside is a `Network` or `Protocol` error (a
//!   cut); a head httparse refuses is a `Protocol` error (or `Network` if the
//!   input has no empty line to end it: a cut as well); so is a Content-Length that is not 1..=19 digits (the code's limit:
//!   it fits in a u64), two different Content-Lengths, a transfer coding other
//!   than one `chunked`, or a Transfer-Encoding without `chunked` on a reply with
//!   a body; in any head, 1xx included;
//! - otherwise the head is read: the status, and Retry-After, Location and
//!   Content-Type as their last header, are httparse's;
//! - framing: 1xx, 204 and 304 have no body; else Transfer-Encoding means
//!   chunked, a Content-Length the body's length (0: none), neither: until close;
//! - keep_alive is false whenever the final head has `Connection: close`,
//!   HTTP/1.0, both Content-Length and Transfer-Encoding (whatever the status),
//!   or no framing (read until close); true otherwise, except that a 101 may
//!   say either;
//! - a Content-Length body is exactly the bytes after the head, when the input
//!   has them all; else a `Network` error once all there are have been given;
//! - a body read until close is exactly the bytes after the head;
//! - a chunked body is a prefix of what the independent decoder gets (so its
//!   length is at most the input's); on success it is all of it, and (inside
//!   the limits, below) a truncated body is a `Network` error and a malformed
//!   one a `Protocol` error, with exactly the decoded bytes before the fault
//!   given first.
//!
//! The chunked grammar checked is the one the reader documents: a size line is
//! hex digits (1 to 15, the code's limit), ASCII whitespace around them
//! tolerated, anything after `;` (extensions) ignored; lines end with LF, CR
//! before it optional; chunk data is followed by an empty line; after the 0-size
//! chunk, trailer lines up to an empty one.
//!
//! The reader's limits (64 KiB of head, 100 header lines, 4 KiB chunk-size
//! lines, 16 KiB of trailers) may refuse what the grammar allows; how depends
//! on how the bytes arrive, so exact agreement is only asserted well inside
//! them (see `HEADERS_INSIDE` and the other `*_INSIDE`), and outside only the
//! one-way properties: whatever is accepted must be right.
#![no_main]

use camb::http::fuzzing::{ErrorKind, Framing, Reply, ReplyHead, max_head_size, read_reply};
use libfuzzer_sys::fuzz_target;

/// Header lines per head up to which the reader must accept a head (its limit is 100).
const HEADERS_INSIDE: usize = 64;
/// Header slots of the reference parse: a head with more is refused by both.
const REFERENCE_HEADERS: usize = 256;
/// Chunked-body line length (LF included) up to which the reader must agree exactly
/// (its limit is 4 KiB).
const LINE_INSIDE: usize = 1024;
/// Trailer bytes up to which the reader must agree exactly (its limit is 16 KiB).
const TRAILERS_INSIDE: usize = 8 << 10;

fuzz_target!(|data: &[u8]| {
    let reply = read_reply(data);
    check_always(data, &reply);
    check_against_reference(data, &reply);
});

fn show(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    if text.chars().count() > 600 {
        let start: String = text.chars().take(600).collect();
        format!("{start:?}... ({} bytes)", data.len())
    } else {
        format!("{text:?}")
    }
}

/// What holds whatever the input.
fn check_always(data: &[u8], reply: &Reply) {
    if let Some(error) = &reply.error {
        assert!(
            matches!(
                error.kind,
                ErrorKind::ClosedBeforeReply
                    | ErrorKind::Network
                    | ErrorKind::Protocol
                    | ErrorKind::HeadersTooLarge
            ),
            "error {:?} ({}) reading {}",
            error.kind,
            error.text,
            show(data)
        );
        // Empty lines before a status line are skipped, so only CR and LF
        // bytes (or nothing) before the end are "no reply at all".
        assert_eq!(
            error.kind == ErrorKind::ClosedBeforeReply,
            only_empty_lines(data),
            "{error:?} for {}",
            show(data)
        );
        if error.kind == ErrorKind::HeadersTooLarge {
            assert!(
                data.len() >= max_head_size(),
                "{error:?} for {}",
                show(data)
            );
        }
        assert!(!error.text.is_empty(), "an empty error text");
        assert!(error.text.len() < 300, "a {}-byte error text: {:?}", error.text.len(), error.text);
        if let Some(c) = error
            .text
            .chars()
            .find(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
        {
            panic!("error text contains {c:?}: {:?}", error.text);
        }
    }
    assert!(
        reply.head.is_some() || reply.error.is_some(),
        "no head and no error"
    );
    if reply.head.is_none() {
        assert!(reply.body.is_empty(), "a body without a head");
    }
    assert!(
        reply.body.len() <= data.len(),
        "a body of {} bytes from {} bytes of input",
        reply.body.len(),
        data.len()
    );
}

/// One head as httparse reads it.
struct RefHead {
    version: u8,
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
}

impl RefHead {
    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    fn last(&self, name: &str) -> Option<String> {
        self.values(name)
            .last()
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// The framing of this head as RFC 9112 (and the reader's strictness) has
    /// it, and whether the connection must close after it; `Err` when the
    /// reader must refuse the head.
    fn framing(&self) -> Result<(Framing, bool), String> {
        let mut length: Option<u64> = None;
        for value in self.values("content-length") {
            let digits = value.trim_ascii();
            if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
                return Err(format!(
                    "Content-Length {:?}",
                    String::from_utf8_lossy(value)
                ));
            }
            let parsed: u64 = std::str::from_utf8(digits).unwrap().parse().unwrap();
            if length.is_some_and(|l| l != parsed) {
                return Err("two different Content-Lengths".into());
            }
            length = Some(parsed);
        }
        let mut transfer_coded = false;
        let mut chunked = false;
        for value in self.values("transfer-encoding") {
            transfer_coded = true;
            for coding in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if coding.is_empty() {
                    continue;
                }
                if !coding.eq_ignore_ascii_case(b"chunked") || chunked {
                    return Err(format!(
                        "transfer coding {:?}",
                        String::from_utf8_lossy(coding)
                    ));
                }
                chunked = true;
            }
        }
        let close = self.values("connection").any(|value| {
            value
                .split(|&b| b == b',')
                .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close"))
        });
        let no_body = (100..200).contains(&self.status) || self.status == 204 || self.status == 304;
        let framing = if no_body {
            Framing::Empty
        } else if transfer_coded {
            if !chunked {
                return Err("a Transfer-Encoding without chunked".into());
            }
            Framing::Chunked
        } else {
            match length {
                Some(0) => Framing::Empty,
                Some(length) => Framing::Length(length),
                None => Framing::UntilClose,
            }
        };
        let must_close = self.version != 1
            || close
            || (transfer_coded && length.is_some())
            || framing == Framing::UntilClose;
        Ok((framing, must_close))
    }
}

/// The heads at the start of the input, as they should be read.
enum Heads {
    /// The final head, where the body starts, the most header lines in any head.
    Final {
        head: RefHead,
        body_at: usize,
        most_headers: usize,
    },
    /// The reader must refuse the heads: `at` is where the faulty one starts.
    Refused {
        at: usize,
        why: String,
        kind: ErrorKind,
        /// A head with more header lines than `HEADERS_INSIDE`, where the
        /// reader's own limit may refuse it first.
        many_headers: bool,
    },
}

fn reference_heads(data: &[u8]) -> Heads {
    let mut at = 0;
    let mut most_headers = 0;
    loop {
        let mut slots = vec![httparse::EMPTY_HEADER; REFERENCE_HEADERS];
        let mut response = httparse::Response::new(&mut slots);
        let refused = |why: String, kind, most_headers: usize| Heads::Refused {
            at,
            why,
            kind,
            many_headers: most_headers > HEADERS_INSIDE,
        };
        let used = match response.parse(&data[at..]) {
            Ok(httparse::Status::Complete(used)) => used,
            Ok(httparse::Status::Partial) if data.is_empty() => {
                return refused("empty".into(), ErrorKind::ClosedBeforeReply, most_headers);
            }
            Ok(httparse::Status::Partial) => {
                // A cut: Protocol is also accepted (see check_against_reference).
                let why = "the input ends in a head".into();
                return refused(why, ErrorKind::Network, most_headers);
            }
            Err(httparse::Error::TooManyHeaders) => {
                let why = "too many headers".into();
                return refused(why, ErrorKind::Protocol, REFERENCE_HEADERS + 1);
            }
            Err(e) => {
                return refused(format!("httparse: {e}"), ErrorKind::Protocol, most_headers);
            }
        };
        most_headers = most_headers.max(response.headers.len());
        if used > max_head_size() {
            let why = format!("a head of {used} bytes");
            return refused(why, ErrorKind::HeadersTooLarge, most_headers);
        }
        let head = RefHead {
            version: response.version.unwrap(),
            status: response.code.unwrap(),
            headers: response
                .headers
                .iter()
                .map(|h| (h.name.to_owned(), h.value.to_vec()))
                .collect(),
        };
        if let Err(why) = head.framing() {
            return refused(why, ErrorKind::Protocol, most_headers);
        }
        at += used;
        if (100..200).contains(&head.status) && head.status != 101 {
            continue;
        }
        return Heads::Final {
            head,
            body_at: at,
            most_headers,
        };
    }
}

/// Whether `bytes` has an empty line ending a head (after the empty lines
/// httparse skips before one).
fn has_head_end(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(bytes.len());
    let bytes = &bytes[start..];
    bytes.windows(2).any(|w| w == b"\n\n") || bytes.windows(3).any(|w| w == b"\n\r\n")
}

fn check_against_reference(data: &[u8], reply: &Reply) {
    let error = reply.error.as_ref();
    match reference_heads(data) {
        Heads::Refused {
            at,
            why,
            kind,
            many_headers,
        } => {
            let Some(error) = error.filter(|_| reply.head.is_none()) else {
                panic!(
                    "read a head that should be refused ({why}): {:?} from {}",
                    reply.head,
                    show(data)
                );
            };
            // The head limits may apply first: too many lines, or no head in
            // the first max_head_size() bytes.
            let limited = (many_headers && error.kind == ErrorKind::Protocol)
                || (data.len() - at >= max_head_size() && error.kind == ErrorKind::HeadersTooLarge);
            // A head that never ends is a cut, whether or not its bytes are
            // already wrong: either error will do (looked at only when needed:
            // a scan of the whole input is slow under the sanitizers).
            let cut = || {
                matches!(error.kind, ErrorKind::Network | ErrorKind::Protocol)
                    && matches!(kind, ErrorKind::Network | ErrorKind::Protocol)
                    && !has_head_end(&data[at..])
            };
            // Only empty lines and then the end: they are skipped, so no reply.
            let blank_only = at == 0
                && error.kind == ErrorKind::ClosedBeforeReply
                && only_empty_lines(data);
            assert!(
                error.kind == kind || limited || cut() || blank_only,
                "expected {kind:?} ({why}), got {error:?} for {}",
                show(data)
            );
        }
        Heads::Final {
            head,
            body_at,
            most_headers,
        } => {
            let Some(got) = &reply.head else {
                let error = error.unwrap();
                assert!(
                    most_headers > HEADERS_INSIDE && error.kind == ErrorKind::Protocol,
                    "refused a valid head with {error:?}: {}",
                    show(data)
                );
                return;
            };
            let (framing, must_close) = head.framing().unwrap();
            let keep_alive = match (must_close, head.status) {
                (true, _) => false,
                (false, 101) => got.keep_alive,
                (false, _) => true,
            };
            let expected = ReplyHead {
                status: head.status,
                framing,
                keep_alive,
                retry_after: head.last("retry-after"),
                location: head.last("location"),
                content_type: head.last("content-type"),
            };
            assert_eq!(got, &expected, "the head of {}", show(data));
            check_body(data, &data[body_at..], framing, reply);
        }
    }
}

fn check_body(data: &[u8], rest: &[u8], framing: Framing, reply: &Reply) {
    let body = &reply.body;
    let kind = reply.error.as_ref().map(|e| e.kind);
    assert!(
        body.len() <= rest.len(),
        "a body of {} bytes from {} bytes after the head: {}",
        body.len(),
        rest.len(),
        show(data)
    );
    match framing {
        Framing::Empty => {
            assert!(
                body.is_empty() && kind.is_none(),
                "{reply:?} for {}",
                show(data)
            );
        }
        Framing::UntilClose => {
            assert!(
                body == rest && kind.is_none(),
                "{reply:?} for {}",
                show(data)
            );
        }
        Framing::Length(length) => {
            if let Some(want) = usize::try_from(length).ok().filter(|&l| l <= rest.len()) {
                assert!(
                    body == &rest[..want] && kind.is_none(),
                    "{reply:?} for {}",
                    show(data)
                );
            } else {
                assert!(
                    body == rest && kind == Some(ErrorKind::Network),
                    "a {length}-byte body cut at {}: {reply:?} for {}",
                    rest.len(),
                    show(data)
                );
            }
        }
        Framing::Chunked => {
            let decoded = decode_chunked(rest);
            assert!(
                decoded.body.starts_with(body),
                "the chunked body read is not what it decodes to ({decoded:?}): {reply:?} for {}",
                show(data)
            );
            let expected = decoded.end.err();
            if kind.is_none() {
                assert!(
                    expected.is_none() && *body == decoded.body,
                    "a chunked body accepted, decoding to {decoded:?}: {reply:?} for {}",
                    show(data)
                );
            }
            let inside = decoded.longest_line <= LINE_INSIDE && decoded.trailers <= TRAILERS_INSIDE;
            if inside {
                assert!(
                    kind == expected && *body == decoded.body,
                    "decoding to {decoded:?}: {reply:?} for {}",
                    show(data)
                );
            }
        }
    }
}

/// What a chunked body decodes to.
#[derive(Debug)]
struct Decoded {
    /// The data of the chunks, up to the end or the fault.
    body: Vec<u8>,
    /// `Err(Network)`: the input ends first; `Err(Protocol)`: malformed.
    end: Result<(), ErrorKind>,
    /// The longest line met (LF included), or unterminated tail.
    longest_line: usize,
    /// The trailer lines' bytes, the final empty line included.
    trailers: usize,
}

fn decode_chunked(mut rest: &[u8]) -> Decoded {
    let mut decoded = Decoded {
        body: Vec::new(),
        end: Ok(()),
        longest_line: 0,
        trailers: 0,
    };
    // The next line, LF included; `None` at the end of the input.
    let next_line = |rest: &mut &[u8], longest: &mut usize| -> Option<Vec<u8>> {
        let Some(at) = rest.iter().position(|&b| b == b'\n') else {
            *longest = (*longest).max(rest.len());
            return None;
        };
        let (line, after) = rest.split_at(at + 1);
        *longest = (*longest).max(line.len());
        *rest = after;
        Some(line.to_vec())
    };
    let is_empty_line = |line: &[u8]| line == b"\r\n" || line == b"\n";
    loop {
        let Some(line) = next_line(&mut rest, &mut decoded.longest_line) else {
            decoded.end = Err(ErrorKind::Network);
            return decoded;
        };
        let Some(size) = chunk_size(&line) else {
            decoded.end = Err(ErrorKind::Protocol);
            return decoded;
        };
        if size == 0 {
            break;
        }
        let take = usize::try_from(size).unwrap_or(usize::MAX).min(rest.len());
        decoded.body.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        if (take as u64) < size {
            decoded.end = Err(ErrorKind::Network);
            return decoded;
        }
        match next_line(&mut rest, &mut decoded.longest_line) {
            None => {
                decoded.end = Err(ErrorKind::Network);
                return decoded;
            }
            Some(line) if !is_empty_line(&line) => {
                decoded.end = Err(ErrorKind::Protocol);
                return decoded;
            }
            Some(_) => {}
        }
    }
    loop {
        let Some(line) = next_line(&mut rest, &mut decoded.longest_line) else {
            decoded.end = Err(ErrorKind::Network);
            return decoded;
        };
        decoded.trailers += line.len();
        if is_empty_line(&line) {
            return decoded;
        }
    }
}

/// `1a2b[;extensions]\r\n` → 0x1a2b; `None` if it is not a size line.
fn chunk_size(line: &[u8]) -> Option<u64> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let digits = line.split(|&b| b == b';').next()?.trim_ascii();
    if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

/// Nothing but complete empty lines (`\r\n` or `\n`): what the reader skips
/// before a status line (a lone CR at the end is a cut line, not one of them).
fn only_empty_lines(data: &[u8]) -> bool {
    let mut rest = data;
    loop {
        match rest {
            [] => return true,
            [b'\r', b'\n', tail @ ..] | [b'\n', tail @ ..] => rest = tail,
            _ => return false,
        }
    }
}
