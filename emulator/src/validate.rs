//! Request validation with FastAPI/pydantic-shaped errors, so a client's 422 handling meets
//! the same `{"loc", "msg", "type"}` entries the real service sends. All problems in a body
//! are reported together, as pydantic does.

use serde_json::{Map, Value, json};

use crate::reply::field_error;

/// Longest task id the status endpoint accepts.
pub const MAX_TASK_ID_CHARS: usize = 256;
/// The documented limit for `"sound"` durations (music is not limited by the real API).
pub const MAX_SOUND_SECONDS: f64 = 10.0;
/// The emulator's own limit for music, to bound the audio it renders.
pub const MAX_MUSIC_SECONDS: f64 = crate::wav::MAX_SECONDS;
/// The documented default duration.
pub const DEFAULT_SECONDS: f64 = 8.0;

const INT_PARSING: (&str, &str) = (
    "Input should be a valid integer, unable to parse string as an integer",
    "int_parsing",
);

/// A valid `POST /text-to-sound` body (the fields the emulator uses).
#[derive(Debug, Clone, PartialEq)]
pub struct CreateRequest {
    pub prompt: String,
    pub duration_s: f64,
    pub audio_type: String,
}

pub fn create_request(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<CreateRequest, Vec<Value>> {
    let fields = body_object(content_type, body)?;
    let mut errors = Vec::new();
    let loc = |name: &str| json!(["body", name]);

    let prompt = match fields.get("prompt") {
        None => {
            errors.push(field_error(loc("prompt"), "Field required", "missing"));
            String::new()
        }
        Some(Value::String(s)) if s.is_empty() => {
            errors.push(field_error(
                loc("prompt"),
                "String should have at least 1 character",
                "string_too_short",
            ));
            String::new()
        }
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            errors.push(field_error(
                loc("prompt"),
                "Input should be a valid string",
                "string_type",
            ));
            String::new()
        }
    };

    let audio_type = match fields.get("audio_type") {
        None | Some(Value::Null) => "sound".to_string(),
        Some(Value::String(s)) if s == "sound" || s == "music" => s.clone(),
        Some(_) => {
            errors.push(field_error(
                loc("audio_type"),
                "Input should be 'sound' or 'music'",
                "enum",
            ));
            "sound".to_string()
        }
    };

    let duration_s = match fields.get("duration").map(number_value) {
        None | Some(Ok(None)) => DEFAULT_SECONDS,
        Some(Ok(Some(d))) => {
            let max = if audio_type == "music" {
                MAX_MUSIC_SECONDS
            } else {
                MAX_SOUND_SECONDS
            };
            if d <= 0.0 {
                errors.push(field_error(
                    loc("duration"),
                    "Input should be greater than 0",
                    "greater_than",
                ));
            } else if d > max {
                errors.push(field_error(
                    loc("duration"),
                    &format!("Input should be less than or equal to {max}"),
                    "less_than_equal",
                ));
            }
            d
        }
        Some(Err((msg, kind))) => {
            errors.push(field_error(loc("duration"), msg, kind));
            DEFAULT_SECONDS
        }
    };

    for name in ["project_name", "project_description"] {
        if fields
            .get(name)
            .is_some_and(|v| !v.is_null() && !v.is_string())
        {
            errors.push(field_error(
                loc(name),
                "Input should be a valid string",
                "string_type",
            ));
        }
    }
    if let Some(Err((msg, kind))) = fields
        .get("folder_id")
        .filter(|v| !v.is_null())
        .map(int_value)
    {
        errors.push(field_error(loc("folder_id"), msg, kind));
    }

    if errors.is_empty() {
        Ok(CreateRequest {
            prompt,
            duration_s,
            audio_type,
        })
    } else {
        Err(errors)
    }
}

/// The `run_ids` of a `POST /text-to-sound-results` body.
pub fn run_ids(content_type: Option<&str>, body: &[u8]) -> Result<Vec<i64>, Vec<Value>> {
    let fields = body_object(content_type, body)?;
    let items = match fields.get("run_ids") {
        None => {
            return Err(vec![field_error(
                json!(["body", "run_ids"]),
                "Field required",
                "missing",
            )]);
        }
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(vec![field_error(
                json!(["body", "run_ids"]),
                "Input should be a valid list",
                "list_type",
            )]);
        }
    };
    let mut ids = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match int_value(item) {
            Ok(id) => ids.push(id),
            Err((msg, kind)) => errors.push(field_error(json!(["body", "run_ids", i]), msg, kind)),
        }
    }
    if errors.is_empty() {
        Ok(ids)
    } else {
        Err(errors)
    }
}

/// The last value of query parameter `name` (FastAPI takes the last one too), decoded.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    let query = query?;
    form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == name)
        .last()
        .map(|(_, v)| v.into_owned())
}

/// An optional integer query parameter.
pub fn query_int(query: Option<&str>, name: &str) -> Result<Option<i64>, Value> {
    match query_param(query, name) {
        None => Ok(None),
        Some(v) => parse_int(&v)
            .map(Some)
            .map_err(|(msg, kind)| field_error(json!(["query", name]), msg, kind)),
    }
}

/// An integer from a path or query string, as pydantic parses it.
pub fn parse_int(s: &str) -> Result<i64, (&'static str, &'static str)> {
    s.trim().parse::<i64>().map_err(|_| INT_PARSING)
}

/// An integer field in JSON, with pydantic's lax rules: whole floats and numeric strings pass.
pub fn int_value(v: &Value) -> Result<i64, (&'static str, &'static str)> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(i)
            } else {
                match n.as_f64() {
                    Some(f) if f.fract() != 0.0 => Err((
                        "Input should be a valid integer, got a number with a fractional part",
                        "int_from_float",
                    )),
                    Some(f) if f.abs() < 9.2e18 => Ok(f as i64),
                    _ => Err((
                        "Input should be a valid integer, unable to parse number as an integer",
                        "int_parsing_size",
                    )),
                }
            }
        }
        Value::String(s) => parse_int(s),
        _ => Err(("Input should be a valid integer", "int_type")),
    }
}

/// An optional number field in JSON (`null` is absent); numeric strings pass, as in pydantic.
pub fn number_value(v: &Value) -> Result<Option<f64>, (&'static str, &'static str)> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_f64()
            .map(Some)
            .ok_or(("Input should be a valid number", "float_type")),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or((
                "Input should be a valid number, unable to parse string as a number",
                "float_parsing",
            )),
        _ => Err(("Input should be a valid number", "float_type")),
    }
}

/// A boolean field in JSON, with pydantic's lax rules: 0/1 and words like "yes" or "off" pass.
pub fn bool_value(v: &Value) -> Result<bool, (&'static str, &'static str)> {
    const PARSING: (&str, &str) = (
        "Input should be a valid boolean, unable to interpret input",
        "bool_parsing",
    );
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) => match n.as_f64() {
            Some(0.0) => Ok(false),
            Some(1.0) => Ok(true),
            _ => Err(PARSING),
        },
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "0" | "off" | "f" | "false" | "n" | "no" => Ok(false),
            "1" | "on" | "t" | "true" | "y" | "yes" => Ok(true),
            _ => Err(PARSING),
        },
        _ => Err(("Input should be a valid boolean", "bool_type")),
    }
}

/// The JSON object of a request body, judged the way FastAPI does: no body is "missing", a
/// non-JSON content type or a non-object is not a model, bad JSON is `json_invalid`.
pub fn body_object(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Map<String, Value>, Vec<Value>> {
    let not_an_object = || {
        vec![field_error(
            json!(["body"]),
            "Input should be a valid dictionary or object to extract fields from",
            "model_attributes_type",
        )]
    };
    if body.is_empty() {
        return Err(vec![field_error(
            json!(["body"]),
            "Field required",
            "missing",
        )]);
    }
    if content_type.is_some_and(|ct| !is_json_type(ct)) {
        return Err(not_an_object());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(not_an_object()),
        Err(e) => Err(vec![field_error(
            json!(["body", byte_offset(body, e.line(), e.column())]),
            "JSON decode error",
            "json_invalid",
        )]),
    }
}

/// `application/json` or `application/<anything>+json`, parameters ignored.
fn is_json_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.strip_prefix("application/") {
        Some(subtype) => subtype == "json" || subtype.ends_with("+json"),
        None => false,
    }
}

/// Turns serde_json's 1-based line/column into a byte offset, as Python's `e.pos` reports.
fn byte_offset(body: &[u8], line: usize, column: usize) -> usize {
    let line_start: usize = body
        .split(|&b| b == b'\n')
        .take(line.saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum();
    (line_start + column.saturating_sub(1)).min(body.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        assert!(is_json_type("application/json"));
        assert!(is_json_type("Application/JSON; charset=utf-8"));
        assert!(is_json_type("application/vnd.api+json"));
        assert!(!is_json_type("text/plain"));
        assert!(!is_json_type("application/x-www-form-urlencoded"));
    }

    #[test]
    fn lax_integers() {
        assert_eq!(int_value(&json!(7)), Ok(7));
        assert_eq!(int_value(&json!(7.0)), Ok(7));
        assert_eq!(int_value(&json!("8")), Ok(8));
        assert_eq!(int_value(&json!(7.5)).unwrap_err().1, "int_from_float");
        assert_eq!(int_value(&json!("x")).unwrap_err().1, "int_parsing");
        assert_eq!(int_value(&json!(true)).unwrap_err().1, "int_type");
    }

    #[test]
    fn lax_booleans() {
        assert_eq!(bool_value(&json!(true)), Ok(true));
        assert_eq!(bool_value(&json!(0)), Ok(false));
        assert_eq!(bool_value(&json!("Yes")), Ok(true));
        assert_eq!(bool_value(&json!(2)).unwrap_err().1, "bool_parsing");
        assert_eq!(bool_value(&json!("maybe")).unwrap_err().1, "bool_parsing");
        assert_eq!(bool_value(&json!([])).unwrap_err().1, "bool_type");
    }

    #[test]
    fn query_params_are_decoded_and_last_wins() {
        assert_eq!(
            query_param(Some("a=1&b=x%20y&a=2"), "a").as_deref(),
            Some("2")
        );
        assert_eq!(query_param(Some("b=x%20y"), "b").as_deref(), Some("x y"));
        assert_eq!(query_param(None, "a"), None);
        assert!(query_int(Some("run_id=abc"), "run_id").is_err());
        assert_eq!(query_int(Some("run_id=12"), "run_id"), Ok(Some(12)));
    }

    #[test]
    fn create_defaults_and_errors() {
        let ok = create_request(None, br#"{"prompt":"rain"}"#).unwrap();
        assert_eq!(
            ok,
            CreateRequest {
                prompt: "rain".into(),
                duration_s: 8.0,
                audio_type: "sound".into()
            }
        );
        let errs = create_request(
            None,
            br#"{"duration":"x","audio_type":"speech","folder_id":1.5}"#,
        )
        .unwrap_err();
        let kinds: Vec<&str> = errs.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            ["missing", "enum", "float_parsing", "int_from_float"]
        );
        let errs = create_request(None, b"{\n  \"prompt\": }").unwrap_err();
        assert_eq!(errs[0]["loc"], json!(["body", 14]));
    }
}
