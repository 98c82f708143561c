//! `GET /list-voices`, `GET /source-languages` and `GET /target-languages`:
//! the voices a speech can use and the languages the API knows, as typed lists.
//!
//! Each reply is a JSON array of objects. Keys the server adds are ignored; a
//! documented optional key that is missing, null, or of an unexpected type is
//! `None` (the SDK's own model of a voice is looser still). Only a missing or
//! mistyped required key (a voice's `id` and `voice_name`, each key of a
//! language) fails the whole list: without it an entry is of no use.

use serde_json::{Map, Value};

use crate::cancel::CancelToken;
use crate::client::{Client, Method};
use crate::error::Error;
use crate::retry::Plan;

/// A voice, from `GET /list-voices`.
#[derive(Debug, Clone, PartialEq)]
pub struct Voice {
    /// The `voice_id` to ask for.
    pub id: i64,
    pub name: String,
    /// 0 not known, 1 male, 2 female, 9 not applicable.
    pub gender: Option<i64>,
    pub age: Option<i64>,
    /// A language id (as in `/source-languages`), not a locale.
    pub language: Option<i64>,
    pub transcript: Option<String>,
    pub description: Option<String>,
    pub is_published: Option<bool>,
    /// A sample of the voice, when the server gives one.
    pub signed_url: Option<String>,
}

/// A language, from `GET /source-languages` or `GET /target-languages`.
#[derive(Debug, Clone, PartialEq)]
pub struct Language {
    pub id: i64,
    /// Its name, such as "English (United States)".
    pub name: String,
    /// Its locale, such as `en-us`.
    pub short_name: String,
}

/// Which list of languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Languages {
    /// `GET /source-languages`: what can be spoken from.
    Source,
    /// `GET /target-languages`: what can be spoken or translated to.
    Target,
}

impl Languages {
    fn path(self) -> &'static str {
        match self {
            Languages::Source => "/source-languages",
            Languages::Target => "/target-languages",
        }
    }
}

impl Client {
    /// `GET /list-voices`, retried like any read.
    pub(crate) fn list_voices_cancellable(
        &self,
        cancel: Option<&CancelToken>,
    ) -> Result<Vec<Voice>, Error> {
        let body = self.get_list("/list-voices", cancel)?;
        decode_voices(&body).map_err(|e| self.scrub(e))
    }

    /// `GET /source-languages` or `GET /target-languages`, retried like any read.
    pub(crate) fn list_languages_cancellable(
        &self,
        which: Languages,
        cancel: Option<&CancelToken>,
    ) -> Result<Vec<Language>, Error> {
        let body = self.get_list(which.path(), cancel)?;
        decode_languages(&body).map_err(|e| self.scrub(e))
    }

    fn get_list(&self, path: &str, cancel: Option<&CancelToken>) -> Result<Vec<u8>, Error> {
        let url = self.url(path);
        let plan = Plan {
            cancel,
            ..Plan::new(true)
        };
        self.call_json(Method::Get, &url, None, &plan)
    }
}

/// The items of a reply that must be an array of objects.
fn objects<'a>(reply: &'a Value, what: &str) -> Result<Vec<&'a Map<String, Value>>, Error> {
    let items = reply.as_array().ok_or_else(|| {
        Error::bad_response(format!(
            "the {what} is not the documented JSON: expected an array"
        ))
    })?;
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            item.as_object().ok_or_else(|| {
                Error::bad_response(format!(
                    "the {what} is not the documented JSON: item {index} is not an object"
                ))
            })
        })
        .collect()
}

fn parse(body: &[u8], what: &str) -> Result<Value, Error> {
    serde_json::from_slice(body)
        .map_err(|e| Error::bad_response(format!("the {what} is not JSON: {e}")))
}

/// A required key, or why the entry is of no use without it.
fn required<T>(
    item: &Map<String, Value>,
    key: &str,
    what: &str,
    index: usize,
    pick: impl Fn(&Value) -> Option<T>,
) -> Result<T, Error> {
    item.get(key).and_then(pick).ok_or_else(|| {
        Error::bad_response(format!(
            "the {what} is not the documented JSON: item {index} has no valid \"{key}\""
        ))
    })
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

/// A `GET /list-voices` reply as voices (see the module's rules).
pub fn decode_voices(body: &[u8]) -> Result<Vec<Voice>, Error> {
    const WHAT: &str = "voice list";
    let reply = parse(body, WHAT)?;
    objects(&reply, WHAT)?
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let optional_int = |key| item.get(key).and_then(Value::as_i64);
            let optional_text = |key| item.get(key).and_then(text);
            Ok(Voice {
                id: required(item, "id", WHAT, index, Value::as_i64)?,
                name: required(item, "voice_name", WHAT, index, text)?,
                gender: optional_int("gender"),
                age: optional_int("age"),
                language: optional_int("language"),
                transcript: optional_text("transcript"),
                description: optional_text("description"),
                is_published: item.get("is_published").and_then(Value::as_bool),
                signed_url: optional_text("signed_url"),
            })
        })
        .collect()
}

/// A `GET /source-languages` or `/target-languages` reply as languages.
pub fn decode_languages(body: &[u8]) -> Result<Vec<Language>, Error> {
    const WHAT: &str = "language list";
    let reply = parse(body, WHAT)?;
    objects(&reply, WHAT)?
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            Ok(Language {
                id: required(item, "id", WHAT, index, Value::as_i64)?,
                name: required(item, "language", WHAT, index, text)?,
                short_name: required(item, "short_name", WHAT, index, text)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn voices_tolerate_added_keys_nulls_and_odd_types() {
        let body = br#"[
            {"id": 147320, "voice_name": "Alice", "gender": 2, "age": 30, "language": 1,
             "transcript": null, "is_published": true, "tags": ["calm"], "new": {"x": 1}},
            {"id": 7, "voice_name": "Bob", "age": "<unknown>"}
        ]"#;
        let voices = decode_voices(body).unwrap();
        assert_eq!(voices.len(), 2);
        assert_eq!(voices[0].id, 147_320);
        assert_eq!(voices[0].name, "Alice");
        assert_eq!(
            (voices[0].gender, voices[0].age, voices[0].language),
            (Some(2), Some(30), Some(1))
        );
        assert_eq!(voices[0].transcript, None);
        assert_eq!(voices[0].is_published, Some(true));
        assert_eq!(voices[1].age, None);
        assert_eq!(decode_voices(b"[]").unwrap(), Vec::new());
    }

    #[test]
    fn a_voice_without_its_id_or_a_non_list_fails_in_words() {
        for body in [
            &br#"[{"voice_name": "Alice"}]"#[..],
            br#"{"voices": []}"#,
            br#"[1]"#,
            b"<html>",
        ] {
            let error = decode_voices(body).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::BadResponse, "{error}");
        }
    }

    #[test]
    fn languages_need_every_key() {
        let body =
            br#"[{"id": 1, "language": "English (United States)", "short_name": "en-us", "x": 0}]"#;
        let languages = decode_languages(body).unwrap();
        assert_eq!(
            languages,
            vec![Language {
                id: 1,
                name: "English (United States)".into(),
                short_name: "en-us".into()
            }]
        );
        let error = decode_languages(br#"[{"id": 1, "language": "English"}]"#).unwrap_err();
        assert!(error.message().contains("short_name"), "{error}");
    }
}
