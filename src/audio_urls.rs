//! Decoding the replies that point at finished audio: `FILE_URL` and the bulk call.

use std::collections::HashMap;

use serde::Deserialize;

use crate::error::Error;
use crate::json::decode_object;

/// CAMB's page for this endpoint shows `file_url`; the official SDK's neighbouring
/// models (the bulk reply, text-to-speech's FILE_URL reply) name the same thing
/// `output_url`. Either is accepted.
#[derive(Deserialize)]
struct FileUrlReply {
    #[serde(default)]
    file_url: Option<String>,
    #[serde(default)]
    output_url: Option<String>,
}

/// The URL of `{"file_url": "https://..."}` (or `{"output_url": ...}`; `file_url`
/// wins when both are there) from
/// `GET /text-to-sound-result/{run_id}?output_type=FILE_URL`. An empty `file_url`
/// is taken as absent, as a null one is.
pub fn decode_file_url(body: &[u8]) -> Result<String, Error> {
    let reply: FileUrlReply = decode_object(body, "FILE_URL reply")?;
    let file_url = reply.file_url.filter(|url| !url.is_empty());
    let url = file_url.or(reply.output_url).ok_or_else(|| {
        Error::bad_response("the FILE_URL reply has neither file_url nor output_url")
    })?;
    if url.is_empty() || url.contains('\0') {
        return Err(Error::bad_response(
            "the FILE_URL reply has an empty or NUL-containing URL",
        ));
    }
    Ok(url)
}

#[derive(Deserialize)]
struct OutputUrl {
    output_url: String,
}

/// `{"<run_id>": {"output_url": "..."}, ...}` from `POST /text-to-sound-results`.
pub fn decode_result_urls(body: &[u8]) -> Result<HashMap<i64, String>, Error> {
    let reply: HashMap<String, OutputUrl> = decode_object(body, "results reply")?;
    reply
        .into_iter()
        .map(|(key, value)| {
            let run_id = key.parse::<i64>().map_err(|_| {
                Error::bad_response(format!(
                    "the results reply has a key that is not a run id: {key:?}"
                ))
            })?;
            Ok((run_id, value.output_url))
        })
        .collect()
}

/// The body of the bulk call.
pub fn result_urls_request(run_ids: &[i64]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "run_ids": run_ids })).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn file_url() {
        assert_eq!(
            decode_file_url(br#"{"file_url":"https://x/y.wav"}"#).unwrap(),
            "https://x/y.wav"
        );
        assert_eq!(
            decode_file_url(br#"{"output_url":"https://x/o.wav"}"#).unwrap(),
            "https://x/o.wav"
        );
        assert_eq!(
            decode_file_url(br#"{"output_url":"https://x/o.wav","file_url":"https://x/f.wav"}"#)
                .unwrap(),
            "https://x/f.wav"
        );
        // An empty file_url is no URL: the output_url beside it is taken.
        assert_eq!(
            decode_file_url(br#"{"file_url":"","output_url":"https://x/o.wav"}"#).unwrap(),
            "https://x/o.wav"
        );
        for bad in [
            &br#"{"file_url":null}"#[..],
            br#"{}"#,
            br#"{"url":"https://x"}"#,
            br#"{"file_url":""}"#,
            br#"{"file_url":"","output_url":""}"#,
            br#"{"output_url":7}"#,
        ] {
            assert_eq!(
                decode_file_url(bad).unwrap_err().kind(),
                ErrorKind::BadResponse,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn result_urls() {
        let urls =
            decode_result_urls(br#"{"12":{"output_url":"u12"},"-3":{"output_url":"u3"}}"#).unwrap();
        assert_eq!(urls.get(&12).map(String::as_str), Some("u12"));
        assert_eq!(urls.get(&-3).map(String::as_str), Some("u3"));
        assert!(decode_result_urls(b"{}").unwrap().is_empty());
        for bad in [&br#"{"x":{"output_url":"u"}}"#[..], br#"{"1":{}}"#, b"[]"] {
            assert_eq!(
                decode_result_urls(bad).unwrap_err().kind(),
                ErrorKind::BadResponse
            );
        }
        assert_eq!(result_urls_request(&[1, 2]), br#"{"run_ids":[1,2]}"#);
    }
}
