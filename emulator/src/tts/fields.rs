//! Field checks with pydantic's messages, for request bodies validated by hand: each one
//! records a FastAPI-shaped error (`loc` from `body` down) and returns the value only when
//! it is present and valid, so a handler collects every problem in one pass.

use serde_json::{Map, Value, json};

use crate::reply::field_error;
use crate::validate::{bool_value, int_value, number_value};

pub type Object = Map<String, Value>;

/// Collects field errors; each check returns the value when it is present and valid.
#[derive(Default)]
pub struct Checker {
    pub errors: Vec<Value>,
}

impl Checker {
    /// `path` is below `body`: `["inference_options", "temperature"]`.
    pub fn error(&mut self, path: &[&str], msg: &str, kind: &str) {
        let mut loc = vec!["body"];
        loc.extend_from_slice(path);
        self.errors.push(field_error(json!(loc), msg, kind));
    }

    pub fn required_string(&mut self, fields: &Object, name: &str) -> Option<String> {
        if !fields.contains_key(name) {
            self.error(&[name], "Field required", "missing");
            return None;
        }
        match fields.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => {
                self.error(&[name], "Input should be a valid string", "string_type");
                None
            }
        }
    }

    /// An optional string in `fields`, which sits at `parent` below the body.
    pub fn string(&mut self, fields: &Object, parent: &[&str], name: &str) -> Option<String> {
        match fields.get(name)? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            _ => {
                self.error(
                    &[parent, &[name]].concat(),
                    "Input should be a valid string",
                    "string_type",
                );
                None
            }
        }
    }

    pub fn bool(&mut self, fields: &Object, parent: &[&str], name: &str) -> Option<bool> {
        let value = fields.get(name).filter(|v| !v.is_null())?;
        bool_value(value)
            .map_err(|(msg, kind)| self.error(&[parent, &[name]].concat(), msg, kind))
            .ok()
    }

    /// An optional sub-object; anything but an object or `null` is a `model_type` error.
    pub fn object<'a>(
        &mut self,
        fields: &'a Object,
        name: &str,
        model: &str,
    ) -> Option<&'a Object> {
        match fields.get(name)? {
            Value::Null => None,
            Value::Object(o) => Some(o),
            _ => {
                self.error(
                    &[name],
                    &format!("Input should be a valid dictionary or instance of {model}"),
                    "model_type",
                );
                None
            }
        }
    }

    /// The field named by the last element of `path`, in `fields`.
    pub fn value<'a>(fields: &'a Object, path: &[&str]) -> Option<&'a Value> {
        let name = path.last()?;
        fields.get(*name).filter(|v| !v.is_null())
    }

    pub fn float(&mut self, fields: &Object, path: &[&str], min: f64, max: f64) -> Option<f64> {
        let value = match number_value(Self::value(fields, path)?) {
            Ok(v) => v?,
            Err((msg, kind)) => {
                self.error(path, msg, kind);
                return None;
            }
        };
        self.in_range(path, value, min, max)
    }

    /// `value` when it is within `min..=max`; else the error FastAPI gives.
    fn in_range<T: PartialOrd + std::fmt::Display>(
        &mut self,
        path: &[&str],
        value: T,
        min: T,
        max: T,
    ) -> Option<T> {
        if value < min {
            let msg = format!("Input should be greater than or equal to {min}");
            self.error(path, &msg, "greater_than_equal");
            None
        } else if value > max {
            let msg = format!("Input should be less than or equal to {max}");
            self.error(path, &msg, "less_than_equal");
            None
        } else {
            Some(value)
        }
    }

    pub fn positive(&mut self, fields: &Object, path: &[&str]) -> Option<f64> {
        let value = match number_value(Self::value(fields, path)?) {
            Ok(v) => v?,
            Err((msg, kind)) => {
                self.error(path, msg, kind);
                return None;
            }
        };
        if value > 0.0 && value.is_finite() {
            Some(value)
        } else {
            self.error(path, "Input should be greater than 0", "greater_than");
            None
        }
    }

    pub fn int(&mut self, fields: &Object, path: &[&str], min: i64, max: i64) -> Option<i64> {
        let value = match int_value(Self::value(fields, path)?) {
            Ok(v) => v,
            Err((msg, kind)) => {
                self.error(path, msg, kind);
                return None;
            }
        };
        self.in_range(path, value, min, max)
    }
}

/// pydantic's wording for a closed set: "Input should be 'a', 'b' or 'c'".
pub fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    match quoted.split_last() {
        Some((last, [])) => format!("Input should be {last}"),
        Some((last, rest)) => format!("Input should be {} or {last}", rest.join(", ")),
        None => "Input should be a known value".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_of_reads_like_pydantic() {
        assert_eq!(one_of(&["a"]), "Input should be 'a'");
        assert_eq!(one_of(&["a", "b", "c"]), "Input should be 'a', 'b' or 'c'");
    }

    #[test]
    fn ranges_and_locs() {
        let mut c = Checker::default();
        let o = json!({"t": 5, "n": "x", "s": null})
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(c.float(&o, &["opts", "t"], 0.0, 4.0), None);
        assert_eq!(c.int(&o, &["opts", "n"], 0, 1), None);
        assert_eq!(c.string(&o, &[], "s"), None);
        assert_eq!(c.int(&o, &["missing"], 0, 1), None);
        assert_eq!(c.errors.len(), 2);
        assert_eq!(c.errors[0]["loc"], json!(["body", "opts", "t"]));
        assert_eq!(c.errors[0]["type"], "less_than_equal");
        assert_eq!(c.errors[1]["type"], "int_parsing");
    }
}
