//! The API key: validated once, never printed, wiped from memory when dropped.

use std::fmt;

use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind};

/// The environment variable read when no key is given (the official SDKs read the same one).
pub(crate) const API_KEY_ENV: &str = "CAMB_API_KEY";

/// Longest key accepted; real keys are a few dozen characters.
const MAX_KEY_LEN: usize = 1024;

/// A CAMB API key. Its bytes are zeroed when it is dropped, its `Debug` form is
/// `ApiKey([redacted])`; the client keeps it out of every error message and log
/// line (a hostile or buggy server may echo it back).
#[derive(Clone)]
pub struct ApiKey(Zeroizing<String>);

impl ApiKey {
    /// Checks that `key` can travel in an HTTP header as given.
    pub fn new(key: &str) -> Result<ApiKey, Error> {
        if key.is_empty() {
            return Err(Error::invalid("the API key is empty"));
        }
        if key.len() > MAX_KEY_LEN {
            return Err(Error::invalid(format!(
                "the API key is {} bytes long; the limit is {MAX_KEY_LEN}",
                key.len()
            )));
        }
        if key.trim() != key {
            return Err(Error::invalid(
                "the API key has leading or trailing whitespace (copied with a newline?)",
            ));
        }
        if let Some(bad) = key.bytes().position(|b| !(0x20..0x7f).contains(&b)) {
            return Err(Error::invalid(format!(
                "the API key has a character that cannot be sent in an HTTP header (at byte {bad}); \
                 keys are printable ASCII"
            )));
        }
        Ok(ApiKey(Zeroizing::new(key.to_owned())))
    }

    /// The key from `CAMB_API_KEY`; `MissingApiKey` when it is unset or empty.
    pub fn from_env() -> Result<ApiKey, Error> {
        match std::env::var(API_KEY_ENV) {
            Ok(value) if !value.is_empty() => {
                let value = Zeroizing::new(value);
                ApiKey::new(&value)
                    .map_err(|e| e.context(&format!("{API_KEY_ENV} is set but unusable")))
            }
            Ok(_) | Err(std::env::VarError::NotPresent) => Err(Error::new(
                ErrorKind::MissingApiKey,
                format!("no API key was given and {API_KEY_ENV} is not set"),
            )),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::invalid(format!(
                "{API_KEY_ENV} is set but is not valid UTF-8"
            ))),
        }
    }

    /// The key as it goes into the `x-api-key` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_keys_that_cannot_be_sent() {
        for bad in [
            "",
            " sk-1",
            "sk-1\n",
            "sk\u{7f}1",
            "sk-é1",
            &"k".repeat(1025),
        ] {
            let err = ApiKey::new(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidParameter, "{bad:?}");
            assert!(!err.message().contains(bad) || bad.is_empty(), "{err}");
        }
        assert!(ApiKey::new("abc-DEF_123.xyz").is_ok());
    }

    #[test]
    fn never_shows_itself() {
        let key = ApiKey::new("sk-secret-123").unwrap();
        assert_eq!(format!("{key:?}"), "ApiKey([redacted])");
    }
}
