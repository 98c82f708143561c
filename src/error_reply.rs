//! Turning a non-2xx reply into an error message that carries the server's own words.

use serde::Deserialize;

use crate::error::Error;

/// Longest piece of server text quoted in a message.
const MAX_QUOTED_CHARS: usize = 300;
/// Longest message of one 422 item: room for the list of the locales a speech
/// model allows, which the server gives in it (some models have over 150).
const MAX_ITEM_CHARS: usize = 2000;
/// Most 422 items listed; a message stays short however many the server sends.
const MAX_DETAIL_ITEMS: usize = 5;

/// FastAPI's error bodies: `{"detail": "text"}` or `{"detail": [{"loc": [...], "msg": "..."}]}`.
#[derive(Deserialize)]
struct ErrorBody {
    detail: Detail,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Detail {
    Text(String),
    Items(Vec<DetailItem>),
    Other(serde_json::Value),
}

#[derive(Deserialize)]
struct DetailItem {
    #[serde(default)]
    loc: Vec<serde_json::Value>,
    #[serde(default)]
    msg: Option<String>,
}

/// Removes secrets from server text before it is shortened for a message.
pub(crate) type Redact<'a> = &'a dyn Fn(&str) -> String;

/// The error for a reply with status `status` and body `body`; `location` is the
/// `Location` header of a redirect. Server text is quoted as is: see
/// [`error_for_status_redacted`] for text that may echo a secret.
pub fn error_for_status(status: u16, body: &[u8], location: Option<&str>) -> Error {
    error_for_status_redacted(status, body, location, &|text| text.to_owned())
}

/// [`error_for_status`], passing every piece of server text through `redact`
/// before it is cut to length, so a secret cannot survive in part.
pub(crate) fn error_for_status_redacted(
    status: u16,
    body: &[u8],
    location: Option<&str>,
    redact: Redact,
) -> Error {
    let reason = http_reason(status);
    let mut message = format!("HTTP {status}{reason}");
    let quote_item = |text: &str| quote(&redact(text), MAX_ITEM_CHARS);
    let quote = |text: &str| quote(&redact(text), MAX_QUOTED_CHARS);
    if (300..400).contains(&status) {
        let target = location.map_or("no Location".to_owned(), quote);
        message.push_str(&format!(
            " redirect to {target}: redirects are not followed, so the API key never reaches another origin"
        ));
        return Error::http(status, message);
    }
    match server_words(body, &quote, &quote_item) {
        Some(words) => {
            message.push_str(": ");
            message.push_str(&words);
        }
        None => message.push_str(" (empty reply body)"),
    }
    if status == 401 {
        message.push_str(" (check the API key)");
    }
    Error::http(status, message)
}

fn http_reason(status: u16) -> String {
    // The standard phrase, not the server's own: that could say anything.
    ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
        .map_or(String::new(), |reason| format!(" {reason}"))
}

/// The server's explanation: `detail` when the body is FastAPI's JSON, else a quote
/// of the body (an HTML page's title, or its first few hundred characters).
fn server_words(
    body: &[u8],
    quote: &dyn Fn(&str) -> String,
    quote_item: &dyn Fn(&str) -> String,
) -> Option<String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    // Lossy first: one invalid byte in a `detail` should not hide the rest of it.
    let text = String::from_utf8_lossy(body);
    if let Ok(parsed) = serde_json::from_str::<ErrorBody>(&text) {
        return Some(match parsed.detail {
            Detail::Text(text) => quote(&text),
            Detail::Items(items) if !items.is_empty() => {
                let mut shown: Vec<String> = items
                    .iter()
                    .take(MAX_DETAIL_ITEMS)
                    .map(|item| describe_item(item, quote_item))
                    .collect();
                if items.len() > MAX_DETAIL_ITEMS {
                    shown.push(format!("and {} more", items.len() - MAX_DETAIL_ITEMS));
                }
                shown.join("; ")
            }
            Detail::Items(_) => "(empty detail list)".to_owned(),
            Detail::Other(value) => quote(&value.to_string()),
        });
    }
    let quoted = html_title(&text).unwrap_or(&text);
    Some(format!("non-JSON reply: {}", quote(quoted)))
}

/// `"path.task_id: String should have at most 256 characters"`.
fn describe_item(item: &DetailItem, quote: &dyn Fn(&str) -> String) -> String {
    let location = item
        .loc
        .iter()
        .map(|part| match part {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".");
    let msg = item.msg.as_deref().unwrap_or("invalid");
    if location.is_empty() {
        quote(msg)
    } else {
        quote(&format!("{location}: {msg}"))
    }
}

fn html_title(text: &str) -> Option<&str> {
    let mut end = text.len().min(4096);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let lower = text[..end].to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower[start..].find("</title>")?;
    text.get(start..end).filter(|t| !t.trim().is_empty())
}

/// Server text made safe to show on one line: control characters become spaces,
/// runs of whitespace collapse, and the result is cut (with "...") at a fixed length.
fn quote(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars));
    let mut last_was_space = true;
    for (count, c) in text.chars().enumerate() {
        if count == max_chars {
            out.push_str("...");
            break;
        }
        let c = if c.is_control() || c.is_whitespace() || is_bidi_control(c) {
            ' '
        } else {
            c
        };
        if c == ' ' && last_was_space {
            continue;
        }
        last_was_space = c == ' ';
        out.push(c);
    }
    out.trim_end().to_owned()
}

/// Characters that reorder how a terminal shows the text around them: server text
/// must not be able to disguise a message.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn maps_each_status_class() {
        let cases = [
            (401, ErrorKind::Unauthorized),
            (402, ErrorKind::PaymentRequired),
            (403, ErrorKind::Forbidden),
            (404, ErrorKind::NotFound),
            (422, ErrorKind::Validation),
            (429, ErrorKind::RateLimited),
            (500, ErrorKind::ServerError),
            (503, ErrorKind::ServerError),
            (599, ErrorKind::ServerError),
            (400, ErrorKind::HttpStatus),
            (408, ErrorKind::HttpStatus),
            (302, ErrorKind::HttpStatus),
            (600, ErrorKind::HttpStatus),
        ];
        for (status, kind) in cases {
            let err = error_for_status(status, b"", None);
            assert_eq!(err.kind(), kind, "{status}");
            assert_eq!(err.http_status(), Some(status));
        }
    }

    #[test]
    fn quotes_the_detail_text() {
        let err = error_for_status(404, br#"{"detail":"Task not found: abc"}"#, None);
        assert_eq!(err.message(), "HTTP 404 Not Found: Task not found: abc");
        let err = error_for_status(401, br#"{"detail":"Invalid API key"}"#, None);
        assert_eq!(
            err.message(),
            "HTTP 401 Unauthorized: Invalid API key (check the API key)"
        );
    }

    #[test]
    fn lists_each_validation_item_with_its_location() {
        let body = br#"{"detail":[{"loc":["path","task_id"],"msg":"too long","type":"x"},
                                  {"loc":["query","run_id",0],"msg":"not an int","type":"y"}]}"#;
        let err = error_for_status(422, body, None);
        assert_eq!(
            err.message(),
            "HTTP 422 Unprocessable Entity: path.task_id: too long; query.run_id.0: not an int"
        );
    }

    #[test]
    fn html_and_odd_bodies_still_give_a_clean_message() {
        let html =
            b"<html><head><TITLE>502 Bad Gateway</TITLE></head><body>\n\n nginx</body></html>";
        let err = error_for_status(502, html, None);
        assert_eq!(
            err.message(),
            "HTTP 502 Bad Gateway: non-JSON reply: 502 Bad Gateway"
        );
        let err = error_for_status(500, b"boom\x00\xff\n\tline", None);
        assert_eq!(
            err.message(),
            "HTTP 500 Internal Server Error: non-JSON reply: boom \u{fffd} line"
        );
        let err = error_for_status(503, b"  \n", None);
        assert_eq!(
            err.message(),
            "HTTP 503 Service Unavailable (empty reply body)"
        );
        let err = error_for_status(500, br#"{"detail":{"code":7}}"#, None);
        assert_eq!(
            err.message(),
            r#"HTTP 500 Internal Server Error: {"code":7}"#
        );
        let long = "x".repeat(5000);
        let err = error_for_status(500, long.as_bytes(), None);
        assert!(
            err.message().ends_with("...") && err.message().len() < 400,
            "{}",
            err.message()
        );
    }

    #[test]
    fn secrets_are_redacted_before_the_text_is_cut() {
        let redact = |t: &str| t.replace("sk-SECRET-1", "[redacted]");
        let body = format!(r#"{{"detail":"{}sk-SECRET-1"}}"#, "x".repeat(290));
        let err = error_for_status_redacted(403, body.as_bytes(), None, &redact);
        assert!(!err.message().contains("sk-"), "{}", err.message());
        let spaced = r#"{"detail":"key  sk-SECRET-1"}"#;
        let err = error_for_status_redacted(401, spaced.as_bytes(), None, &redact);
        assert!(
            err.message().contains("key [redacted]"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn a_title_after_multibyte_text_and_invalid_utf8_in_json_are_handled() {
        let page = format!("<title>Bad Gateway</title>{}", "é".repeat(3000));
        let err = error_for_status(502, page.as_bytes(), None);
        assert_eq!(
            err.message(),
            "HTTP 502 Bad Gateway: non-JSON reply: Bad Gateway"
        );
        let err = error_for_status(404, b"{\"detail\":\"Task not found: caf\xe9\"}", None);
        assert_eq!(
            err.message(),
            "HTTP 404 Not Found: Task not found: caf\u{fffd}"
        );
    }

    #[test]
    fn many_validation_items_stay_a_short_message() {
        let items: Vec<String> = (0..1000)
            .map(|i| format!(r#"{{"loc":["body","f{i}"],"msg":"bad"}}"#))
            .collect();
        let body = format!(r#"{{"detail":[{}]}}"#, items.join(","));
        let err = error_for_status(422, body.as_bytes(), None);
        assert!(
            err.message().ends_with("body.f4: bad; and 995 more"),
            "{}",
            err.message()
        );
        assert!(err.message().len() < 200);
        let err = error_for_status(404, "{\"detail\":\"a\u{202e}b\"}".as_bytes(), None);
        assert_eq!(err.message(), "HTTP 404 Not Found: a b");
    }

    #[test]
    fn redirects_name_their_target() {
        let err = error_for_status(302, b"", Some("https://elsewhere.example/x"));
        assert_eq!(err.kind(), ErrorKind::HttpStatus);
        assert!(
            err.message()
                .starts_with("HTTP 302 Found redirect to https://elsewhere.example/x")
        );
    }
}
