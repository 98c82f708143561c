//! `GET /source-languages` and `GET /target-languages`: `{"id", "language", "short_name"}`
//! items. Ids are the SDK's language table's (`types/language_enums.py`: 1 = en-us, ...);
//! `short_name` is a lowercase locale that `/tts-stream` accepts with mars-flash, except
//! where noted (CAMB's own format for it is unconfirmed). British English is `en-uk`, as
//! the SDK's stream locales spell it, under the table's EN_GB id (35).

use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde::Serialize;

use crate::reply::{json, unprocessable};
use crate::validate;

/// Languages both lists offer: (id, name, locale).
const COMMON: &[(i64, &str, &str)] = &[
    (1, "English (United States)", "en-us"),
    (35, "English (United Kingdom)", "en-uk"),
    (33, "English (Australia)", "en-au"),
    (76, "French (France)", "fr-fr"),
    (74, "French (Canada)", "fr-ca"),
    (31, "German (Germany)", "de-de"),
    (54, "Spanish (Spain)", "es-es"),
    (58, "Spanish (Mexico)", "es-mx"),
    (87, "Italian (Italy)", "it-it"),
    (111, "Portuguese (Brazil)", "pt-br"),
    (112, "Portuguese (Portugal)", "pt-pt"),
    (108, "Dutch (Netherlands)", "nl-nl"),
    (109, "Polish (Poland)", "pl-pl"),
    (114, "Russian (Russia)", "ru-ru"),
    (131, "Turkish (Turkey)", "tr-tr"),
    (16, "Arabic (Saudi Arabia)", "ar-sa"),
    (81, "Hindi (India)", "hi-in"),
    (88, "Japanese (Japan)", "ja-jp"),
    (94, "Korean (Korea)", "ko-kr"),
    (139, "Chinese (Mandarin, Simplified)", "zh-cn"),
];

/// Only in the source list.
const SOURCE_ONLY: &[(i64, &str, &str)] = &[(38, "English (India)", "en-in")];

/// Only in the target list. `zh-tw` needs mars-instruct or an 8.1 model.
const TARGET_ONLY: &[(i64, &str, &str)] = &[
    (132, "Ukrainian (Ukraine)", "uk-ua"),
    (136, "Vietnamese (Vietnam)", "vi-vn"),
    (146, "Chinese (Traditional, Taiwan)", "zh-tw"),
];

/// One item, its fields in the SDK model's order.
#[derive(Debug, Serialize)]
pub struct Language {
    pub id: i64,
    pub language: &'static str,
    pub short_name: &'static str,
}

fn items(extra: &[(i64, &'static str, &'static str)]) -> Vec<Language> {
    COMMON
        .iter()
        .chain(extra)
        .map(|&(id, language, short_name)| Language {
            id,
            language,
            short_name,
        })
        .collect()
}

pub fn source() -> Vec<Language> {
    items(SOURCE_ONLY)
}

pub fn target() -> Vec<Language> {
    items(TARGET_ONLY)
}

/// `GET /source-languages[?run_id=N]`.
pub async fn list_source(uri: Uri) -> Response {
    reply(&uri, source())
}

/// `GET /target-languages[?run_id=N]`.
pub async fn list_target(uri: Uri) -> Response {
    reply(&uri, target())
}

fn reply(uri: &Uri, list: Vec<Language>) -> Response {
    match validate::query_int(uri.query(), "run_id") {
        Ok(_) => json(StatusCode::OK, &list),
        Err(e) => unprocessable(vec![e]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tts::models;

    #[test]
    fn short_names_are_stream_locales() {
        let any_model = |l: &str| models::MODELS.iter().any(|m| m.speaks(l));
        for list in [source(), target()] {
            assert!(list.len() >= 20);
            for item in list {
                assert!(any_model(item.short_name), "{}", item.short_name);
            }
        }
        let first = &source()[0];
        assert_eq!((first.id, first.language), (1, "English (United States)"));
    }
}
