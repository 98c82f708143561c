//! The texts that never leave libcamb in a log line or an error message: the
//! API key, a proxy's password, the header values the caller marked secret.
//! A server may echo any of them, raw or percent-encoded (a 401 that quotes the
//! key, a redirect whose `Location` carries it), so each is searched for in
//! every spelling a URL encoder gives it.

use std::fmt;

use zeroize::Zeroizing;

/// Texts shorter than this are not searched for: replacing every occurrence of
/// a one-letter "secret" would garble the line and hide nothing. So a secret
/// header's value must be at least this long.
pub(crate) const MIN_SECRET_LEN: usize = 4;

/// What a secret is replaced by.
const REDACTED: &str = "[redacted]";

/// The secrets of one client, longest first, so that one holding another is
/// replaced whole. Zeroed when the client is freed.
#[derive(Default)]
pub(crate) struct Secrets(Vec<Zeroizing<String>>);

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets({} redacted)", self.0.len())
    }
}

impl Secrets {
    pub(crate) fn new(secrets: impl IntoIterator<Item = Zeroizing<String>>) -> Secrets {
        let mut secrets: Vec<_> = secrets
            .into_iter()
            .filter(|secret| secret.len() >= MIN_SECRET_LEN)
            .flat_map(|secret| {
                // A secret with a quote, a backslash or a control character (a
                // TAB in a header value) reaches a message re-escaped too: as a
                // JSON string (a server's detail shown as JSON) or as Rust shows
                // a string (a decoder's message). Each spelling is searched for.
                let escaped = [
                    serde_json::to_string(secret.as_str()).unwrap_or_default(),
                    format!("{:?}", secret.as_str()),
                ]
                .map(|quoted| Zeroizing::new(quoted[1..quoted.len().saturating_sub(1)].to_owned()));
                let mut spellings = vec![secret];
                for spelling in escaped {
                    if spelling.len() > 1 && !spellings.contains(&spelling) {
                        spellings.push(spelling);
                    }
                }
                spellings
            })
            .collect();
        secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
        Secrets(secrets)
    }

    /// `text` with every secret replaced by `[redacted]`, however it is
    /// spelled: each of its bytes as itself or as `%XX` in either case (so a
    /// partly encoded echo, such as Python's `quote()` leaving `/` raw, is found
    /// too), and a space also as `+`.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut clean = text.to_owned();
        for secret in &self.0 {
            if let Some(redacted) = replace_spellings(&clean, secret.as_bytes()) {
                clean = redacted;
            }
        }
        clean
    }
}

/// `text` with every spelling of `secret` replaced, or `None` when there is none.
fn replace_spellings(text: &str, secret: &[u8]) -> Option<String> {
    let bytes = text.as_bytes();
    let first = *secret.first()?;
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut at = 0;
    while at < bytes.len() {
        let may_start = bytes[at] == first || bytes[at] == b'%' || bytes[at] == b'+';
        match may_start
            .then(|| spelled_at(&bytes[at..], secret))
            .flatten()
        {
            Some(len) => {
                let out = out.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
                out.extend_from_slice(&bytes[copied..at]);
                out.extend_from_slice(REDACTED.as_bytes());
                at += len;
                copied = at;
            }
            None => at += 1,
        }
    }
    let mut out = out?;
    out.extend_from_slice(&bytes[copied..]);
    // A match starts on a secret's first byte or an ASCII escape and ends after
    // a secret's last byte, so it never splits a character of `text`.
    Some(
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    )
}

/// The length of the prefix of `text` that spells `secret`, if one does.
fn spelled_at(text: &[u8], secret: &[u8]) -> Option<usize> {
    let mut at = 0;
    for &byte in secret {
        at += match text.get(at..)? {
            [raw, ..] if *raw == byte => 1,
            [b'+', ..] if byte == b' ' => 1,
            [b'%', high, low, ..] if hex_byte(*high, *low) == Some(byte) => 3,
            _ => return None,
        };
    }
    Some(at)
}

fn hex_byte(high: u8, low: u8) -> Option<u8> {
    let digit = |c: u8| char::from(c).to_digit(16);
    Some((digit(high)? * 16 + digit(low)?) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(list: &[&str]) -> Secrets {
        Secrets::new(list.iter().map(|s| Zeroizing::new((*s).to_owned())))
    }

    #[test]
    fn every_spelling_of_a_secret_is_replaced() {
        let key = secrets(&["ab+c/d=e f"]);
        for spelled in [
            "ab+c/d=e f",
            "ab%2Bc%2Fd%3De%20f",
            "ab%2bc%2fd%3de%20f",
            "ab%2Bc/d%3De+f",
            "%61%62%2B%63%2F%64%3D%65%20%66",
            "ab%2Bc/d=e%20f",
        ] {
            assert_eq!(
                key.redact(&format!("key {spelled}: denied")),
                "key [redacted]: denied",
                "{spelled}"
            );
        }
        assert_eq!(
            key.redact("ab+c/d=e f and ab%2Bc%2Fd%3De%20f"),
            "[redacted] and [redacted]"
        );
    }

    #[test]
    fn other_text_is_left_as_it_is() {
        let key = secrets(&["ab+c/d=e"]);
        for text in [
            "",
            "nothing here",
            "ab+c/d=",
            "ab%2Bc%2Fd%3",
            "ab%2Bc%2Fd%3Dx",
            "100% caf\u{e9} %zz %",
            "ab%2Gc",
        ] {
            assert_eq!(key.redact(text), text);
        }
        // Too short to be told from other text: never searched for.
        assert_eq!(secrets(&["pw"]).redact("pw %70%77"), "pw %70%77");
    }

    #[test]
    fn non_ascii_secrets_and_text_keep_their_characters() {
        let key = secrets(&["cl\u{e9}-s\u{e9}cr\u{e8}te"]);
        assert_eq!(
            key.redact("\u{e9}t\u{e9} cl%C3%A9-s\u{e9}cr%c3%a8te \u{2603}"),
            "\u{e9}t\u{e9} [redacted] \u{2603}"
        );
    }

    #[test]
    fn a_secret_re_escaped_as_json_or_as_rust_shows_it_is_found() {
        let key = secrets(&["tok\"en\\12\t34"]);
        for shown in ["tok\"en\\12\t34", r#"tok\"en\\12\t34"#] {
            assert_eq!(
                key.redact(&format!("got {shown}!")),
                "got [redacted]!",
                "{shown}"
            );
        }
    }

    #[test]
    fn the_longest_secret_is_replaced_whole() {
        let list = secrets(&["SECRET", "SECRETKEY"]);
        assert_eq!(list.redact("SECRETKEY SECRET"), "[redacted] [redacted]");
    }
}
