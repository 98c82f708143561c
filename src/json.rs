//! Decoding the API's JSON replies, which are always objects.

use serde::de::DeserializeOwned;

use crate::error::Error;

/// Decodes a reply that must be a JSON object into `T`.
///
/// serde's derived structs also accept a JSON array, filling the fields in order
/// (`["SUCCESS", 5]` would read as a status reply); the API never sends one, so
/// anything but an object is refused first, with a cheap look at the first byte.
pub fn decode_object<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, Error> {
    let first = body.iter().copied().find(|b| !b.is_ascii_whitespace());
    if first != Some(b'{') {
        return Err(Error::bad_response(format!(
            "the {what} is not the documented JSON: expected an object"
        )));
    }
    // serde quotes the offending value whole: the message is cut to length by
    // whoever redacts it, after redacting.
    serde_json::from_slice(body)
        .map_err(|e| Error::bad_response(format!("the {what} is not the documented JSON: {e}")))
}

/// `text` cut to at most `max` bytes (on a character boundary), with "..."
/// where it was cut.
pub(crate) fn shortened(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[derive(serde::Deserialize, Debug)]
    struct Reply {
        #[allow(dead_code)]
        status: String,
    }

    #[test]
    fn only_objects() {
        assert!(decode_object::<Reply>(br#" {"status":"x"}"#, "reply").is_ok());
        for bad in [&br#"["x"]"#[..], b"", b"  ", b"null", b"\"x\""] {
            let err = decode_object::<Reply>(bad, "reply").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BadResponse);
        }
    }
}
