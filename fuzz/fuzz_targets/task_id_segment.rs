//! `camb::path::push_segment` on arbitrary text (the input bytes, invalid UTF-8
//! replaced by U+FFFD).
//!
//! Properties:
//! - it fails exactly for the ids that cannot be one segment: empty, ".", "..",
//!   containing NUL, longer than 1024 bytes; the error is `InvalidParameter` and the
//!   URL is left untouched;
//! - otherwise it appends, after the untouched prefix, a segment made only of RFC 3986
//!   unreserved characters and `%XX` (upper-case hex), so no '/', '?', '#' or anything
//!   else that could change the resource;
//! - the encoding is canonical (no unreserved byte is percent-encoded), is never "." or
//!   "..", and percent-decodes back to exactly the input's bytes.
#![no_main]

use camb::ErrorKind;
use camb::path::push_segment;
use libfuzzer_sys::fuzz_target;

const PREFIX: &str = "https://client.camb.ai/apis/text-to-sound/";
const MAX_LEN: usize = 1024;

fuzz_target!(|data: &[u8]| {
    let id = String::from_utf8_lossy(data);
    check(&id);
});

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None, // lower case is not what the encoder writes
    }
}

fn check(id: &str) {
    let mut url = String::from(PREFIX);
    let result = push_segment(&mut url, "task id", id);
    let must_fail =
        id.is_empty() || id == "." || id == ".." || id.contains('\0') || id.len() > MAX_LEN;
    match result {
        Err(err) => {
            assert!(must_fail, "refused a valid id {id:?}: {err}");
            assert_eq!(err.kind(), ErrorKind::InvalidParameter);
            assert_eq!(url, PREFIX, "a refused id changed the URL");
            assert!(!err.message().is_empty());
        }
        Ok(()) => {
            assert!(
                !must_fail,
                "accepted an id that cannot be a segment: {id:?}"
            );
            let segment = url.strip_prefix(PREFIX).expect("push_segment only appends");
            assert!(!segment.is_empty() && segment != "." && segment != "..");
            assert!(segment.len() <= 3 * MAX_LEN);
            let bytes = segment.as_bytes();
            let mut decoded = Vec::with_capacity(bytes.len());
            let mut i = 0;
            while i < bytes.len() {
                let b = bytes[i];
                if b == b'%' {
                    let (hi, lo) = match (bytes.get(i + 1), bytes.get(i + 2)) {
                        (Some(&h), Some(&l)) => (hex(h), hex(l)),
                        _ => (None, None),
                    };
                    let (Some(hi), Some(lo)) = (hi, lo) else {
                        panic!("bad percent escape at {i} in {segment:?}");
                    };
                    let byte = hi << 4 | lo;
                    assert!(
                        !unreserved(byte),
                        "{byte:#04x} needlessly escaped in {segment:?}"
                    );
                    decoded.push(byte);
                    i += 3;
                } else {
                    assert!(
                        unreserved(b),
                        "{:?} left unescaped in {segment:?}",
                        b as char
                    );
                    decoded.push(b);
                    i += 1;
                }
            }
            assert!(!segment.contains(['/', '?', '#']));
            assert_eq!(
                decoded,
                id.as_bytes(),
                "the segment does not decode to the id"
            );
        }
    }
}
