//! What a server sends around a speech stream, on arbitrary bytes: the voice and
//! language lists (`camb::voices::decode_voices`, `decode_languages`) and the header
//! at the start of a streamed WAV (`camb::speech::wav_header`).
//!
//! Properties, beyond "never panics":
//! - a list that fails is `BadResponse`, with no HTTP status;
//! - an accepted list came from a JSON array with as many items;
//! - a WAV header that is found lies within the bytes given: its `data` size field
//!   (4 bytes at `data_size_at`) is inside them, after the 12-byte RIFF preamble, and
//!   the same bytes with more appended give the same header.
#![no_main]

use camb::ErrorKind;
use camb::speech::wav_header;
use camb::voices::{decode_languages, decode_voices};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let items = serde_json::from_slice::<serde_json::Value>(data)
        .ok()
        .and_then(|v| v.as_array().map(Vec::len));
    match decode_voices(data) {
        Ok(voices) => assert_eq!(Some(voices.len()), items),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::BadResponse, "{e:?}");
            assert!(e.http_status().is_none());
        }
    }
    match decode_languages(data) {
        Ok(languages) => assert_eq!(Some(languages.len()), items),
        Err(e) => assert_eq!(e.kind(), ErrorKind::BadResponse, "{e:?}"),
    }
    if let Some(header) = wav_header(data) {
        assert!(header.data_size_at >= 12 + 4);
        assert!(header.data_size_at + 4 <= data.len());
        let mut longer = data.to_vec();
        longer.extend_from_slice(b"more audio");
        assert_eq!(wav_header(&longer), Some(header));
    }
});
