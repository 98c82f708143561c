//! `camb::task::decode_status_reply` on arbitrary bytes.
//!
//! Properties, beyond "never panics":
//! - an error is always `BadResponse`, with no HTTP status;
//! - on success `status` is `TaskStatus::from_wire(status_text)`;
//! - on success the body was a JSON *object* and each documented field agrees with an
//!   independent reading of that object (documented fields read as generic
//!   `serde_json::Value`s, other fields skipped);
//! - conversely, an object whose documented fields have the documented types (and
//!   are not repeated) is accepted;
//! - round trip: the `TaskInfo` written back as JSON decodes to the same `TaskInfo`.
#![no_main]

use camb::task::{TaskStatus, decode_status_reply};
use camb::{ErrorKind, TaskInfo};
use libfuzzer_sys::fuzz_target;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Value, json};
use std::fmt;

const FIELDS: [&str; 4] = ["status", "run_id", "exception_reason", "message"];

fuzz_target!(|data: &[u8]| {
    let object = read_object(data);
    match decode_status_reply(data) {
        Ok(info) => {
            let body = String::from_utf8_lossy(data);
            assert_eq!(TaskStatus::from_wire(&info.status_text), info.status);
            let Some(object) = object else {
                panic!("accepted a reply that is not a JSON object: {body:?} -> {info:?}");
            };
            assert!(!object.duplicate, "accepted a repeated field: {body:?}");
            assert_eq!(object.expected(), Ok(info.clone()), "body: {body:?}");
            round_trip(&info);
        }
        Err(err) => {
            assert_eq!(err.kind(), ErrorKind::BadResponse, "{err:?}");
            assert!(err.http_status().is_none());
            if let Some(object) = object {
                assert!(
                    object.duplicate || object.expected().is_err(),
                    "a documented reply was refused: {err}\nbody: {:?}",
                    String::from_utf8_lossy(data)
                );
            }
        }
    }
});

/// The top-level object's documented fields, read independently of the decoder.
struct Object {
    fields: [Option<Value>; 4],
    duplicate: bool,
}

impl Object {
    /// What the decoder should give for this object, or why it should refuse it.
    fn expected(&self) -> Result<TaskInfo, String> {
        let [status, run_id, reason, message] = &self.fields;
        let status_text = match status {
            Some(Value::String(s)) => s.clone(),
            other => return Err(format!("status is {other:?}")),
        };
        let run_id = match run_id {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_i64().ok_or(format!("run_id is {v:?}"))?),
        };
        let exception_reason = match reason {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => return Err(format!("exception_reason is {v:?}")),
        };
        let message = match message {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => Some(v.to_string()),
        };
        Ok(TaskInfo {
            status: TaskStatus::from_wire(&status_text),
            status_text,
            run_id,
            exception_reason,
            message,
        })
    }
}

/// `Some` when the body is one JSON object (and nothing after it but whitespace).
fn read_object(data: &[u8]) -> Option<Object> {
    struct ObjectVisitor;
    impl<'de> Visitor<'de> for ObjectVisitor {
        type Value = Object;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object, A::Error> {
            let mut object = Object {
                fields: Default::default(),
                duplicate: false,
            };
            while let Some(key) = map.next_key::<String>()? {
                match FIELDS.iter().position(|f| *f == key) {
                    Some(i) => {
                        let value = map.next_value::<Value>()?;
                        object.duplicate |= object.fields[i].is_some();
                        object.fields[i] = Some(value);
                    }
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(object)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(data);
    let object = de.deserialize_map(ObjectVisitor).ok()?;
    de.end().ok()?;
    Some(object)
}

fn round_trip(info: &TaskInfo) {
    let encoded = json!({
        "status": info.status_text,
        "run_id": info.run_id,
        "exception_reason": info.exception_reason,
        "message": info.message,
    });
    let bytes = serde_json::to_vec(&encoded).expect("a Value always serializes");
    let again = decode_status_reply(&bytes)
        .unwrap_or_else(|e| panic!("re-encoded reply refused: {e}: {encoded}"));
    assert_eq!(&again, info, "round trip changed the TaskInfo: {encoded}");
}
