//! A task's status as the server reports it, and the decoding of the status reply.

use std::ffi::CStr;

use serde::Deserialize;

use crate::error::Error;
use crate::json::decode_object;

/// The status of a text-to-sound task. Every value but `Pending` is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    /// A status string this version does not know; [`TaskInfo::status_text`] keeps it.
    Unknown,
    Pending,
    Success,
    Timeout,
    Error,
    PaymentRequired,
}

impl TaskStatus {
    /// The documented statuses with their wire names (the seed's OpenAPI
    /// `TaskStatus` enum), NUL-terminated so the C layer can hand them out as is.
    pub const KNOWN: [(TaskStatus, &'static CStr); 5] = [
        (TaskStatus::Pending, c"PENDING"),
        (TaskStatus::Success, c"SUCCESS"),
        (TaskStatus::Timeout, c"TIMEOUT"),
        (TaskStatus::Error, c"ERROR"),
        (TaskStatus::PaymentRequired, c"PAYMENT_REQUIRED"),
    ];

    /// Exact, case-sensitive match on the wire name; anything else is `Unknown`.
    pub fn from_wire(text: &str) -> TaskStatus {
        TaskStatus::KNOWN
            .iter()
            .find(|(_, name)| name.to_bytes() == text.as_bytes())
            .map_or(TaskStatus::Unknown, |(status, _)| *status)
    }

    /// The wire name of a documented status; `None` for `Unknown`.
    pub fn wire_name(self) -> Option<&'static CStr> {
        TaskStatus::KNOWN
            .iter()
            .find(|(status, _)| *status == self)
            .map(|(_, name)| *name)
    }

    /// True for every status but `Pending`: the task will not change any more.
    pub fn is_final(self) -> bool {
        self != TaskStatus::Pending
    }
}

/// What `GET /text-to-sound/{task_id}` reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    pub status: TaskStatus,
    /// The status exactly as the server sent it.
    pub status_text: String,
    /// `None` when the server sent `null` or no `run_id`.
    pub run_id: Option<i64>,
    /// Why a task failed (`HARMFUL_CONTENT_DETECTED`, `PROCESSING_ERROR`, ...), when sent.
    pub exception_reason: Option<String>,
    /// The server's message: its text when it is a JSON string, else its compact JSON.
    pub message: Option<String>,
}

/// The reply's shape. Unknown fields are ignored; a wrong type anywhere is an error.
#[derive(Deserialize)]
struct StatusReply {
    status: String,
    #[serde(default)]
    run_id: Option<i64>,
    #[serde(default)]
    exception_reason: Option<String>,
    #[serde(default)]
    message: Option<serde_json::Value>,
}

/// Decodes the body of a 2xx status reply.
pub fn decode_status_reply(body: &[u8]) -> Result<TaskInfo, Error> {
    let reply: StatusReply = decode_object(body, "status reply")?;
    let message = match reply.message {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(text)) => Some(text),
        Some(other) => Some(other.to_string()),
    };
    Ok(TaskInfo {
        status: TaskStatus::from_wire(&reply.status),
        status_text: reply.status,
        run_id: reply.run_id,
        exception_reason: reply.exception_reason,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn decode(json: &str) -> Result<TaskInfo, Error> {
        decode_status_reply(json.as_bytes())
    }

    #[test]
    fn decodes_each_documented_status() {
        for (status, name) in TaskStatus::KNOWN {
            let name = name.to_str().unwrap();
            let info = decode(&format!(r#"{{"status":"{name}","run_id":7}}"#)).unwrap();
            assert_eq!(info.status, status);
            assert_eq!(info.status_text, name);
            assert_eq!(info.run_id, Some(7));
        }
    }

    #[test]
    fn keeps_unknown_status_text() {
        let info = decode(r#"{"status":"FAILED"}"#).unwrap();
        assert_eq!(info.status, TaskStatus::Unknown);
        assert_eq!(info.status_text, "FAILED");
        // Case matters: the API's values are upper case.
        assert_eq!(
            decode(r#"{"status":"success"}"#).unwrap().status,
            TaskStatus::Unknown
        );
    }

    #[test]
    fn run_id_null_missing_and_extremes() {
        assert_eq!(
            decode(r#"{"status":"PENDING","run_id":null}"#)
                .unwrap()
                .run_id,
            None
        );
        assert_eq!(decode(r#"{"status":"PENDING"}"#).unwrap().run_id, None);
        let max = decode(r#"{"status":"SUCCESS","run_id":9223372036854775807}"#).unwrap();
        assert_eq!(max.run_id, Some(i64::MAX));
        let min = decode(r#"{"status":"SUCCESS","run_id":-9223372036854775808}"#).unwrap();
        assert_eq!(min.run_id, Some(i64::MIN));
    }

    #[test]
    fn optional_fields_and_unknown_fields() {
        let info = decode(
            r#"{"status":"ERROR","run_id":1,"exception_reason":"PROCESSING_ERROR",
                "message":"model failed","extra":{"nested":[1,2]}}"#,
        )
        .unwrap();
        assert_eq!(info.exception_reason.as_deref(), Some("PROCESSING_ERROR"));
        assert_eq!(info.message.as_deref(), Some("model failed"));
        let object = decode(r#"{"status":"ERROR","message":{"code":3,"text":"x"}}"#).unwrap();
        assert_eq!(object.message.as_deref(), Some(r#"{"code":3,"text":"x"}"#));
        let null = decode(r#"{"status":"ERROR","message":null,"exception_reason":null}"#).unwrap();
        assert_eq!((null.message, null.exception_reason), (None, None));
    }

    #[test]
    fn rejects_what_is_not_the_documented_reply() {
        for bad in [
            "",
            "not json",
            "[]",
            "null",
            r#"{"run_id":1}"#,
            r#"{"status":null}"#,
            r#"{"status":3}"#,
            r#"{"status":"SUCCESS","run_id":"12"}"#,
            r#"{"status":"SUCCESS","run_id":1.5}"#,
            r#"{"status":"SUCCESS","run_id":9223372036854775808}"#,
            r#"{"status":"SUCCESS","run_id":1e400}"#,
            r#"{"status":"SUCCESS","exception_reason":5}"#,
            r#"{"status":"SUCCESS"} trailing"#,
        ] {
            let err = decode(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BadResponse, "{bad:?}");
        }
        assert_eq!(
            decode_status_reply(b"{\"status\":\"\xff\"}")
                .unwrap_err()
                .kind(),
            ErrorKind::BadResponse
        );
    }
}
