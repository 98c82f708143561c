//! `POST /text-to-sound`: what may be asked for, checked before anything is sent.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::json::decode_object;
use crate::path::push_segment;

/// The docs' limit for sound: "Maximum duration per request is 10 seconds".
pub(crate) const MAX_SOUND_SECONDS: f64 = 10.0;
/// A bound on prompts, far above any real one, so a runaway buffer is not sent.
const MAX_PROMPT_BYTES: usize = 64 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioType {
    Sound,
    Music,
}

/// A request to generate a sound or a piece of music from a text prompt.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CreateRequest {
    pub prompt: String,
    /// Seconds of audio; `None`: the server's default (8 s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// `None`: the server's default (sound).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_type: Option<AudioType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder_id: Option<i64>,
    /// Retry this call after a transient failure. Off by default: the create call
    /// is not idempotent, and a retry after a lost reply creates a second paid task.
    #[serde(skip)]
    pub retry: bool,
}

impl CreateRequest {
    pub fn new(prompt: impl Into<String>) -> CreateRequest {
        CreateRequest {
            prompt: prompt.into(),
            ..CreateRequest::default()
        }
    }

    /// Checks what the docs state, so a mistake costs no request and no credit.
    pub fn validate(&self) -> Result<(), Error> {
        if self.prompt.trim().is_empty() {
            return Err(Error::invalid("the prompt is empty"));
        }
        if self.prompt.len() > MAX_PROMPT_BYTES {
            return Err(Error::invalid(format!(
                "the prompt is {} bytes long; the limit is {MAX_PROMPT_BYTES}",
                self.prompt.len()
            )));
        }
        if let Some(duration) = self.duration {
            if !duration.is_finite() || duration <= 0.0 {
                return Err(Error::invalid(format!(
                    "the duration must be a positive number of seconds, not {duration}"
                )));
            }
            let is_sound = self.audio_type != Some(AudioType::Music);
            if is_sound && duration > MAX_SOUND_SECONDS {
                return Err(Error::invalid(format!(
                    "a sound lasts at most {MAX_SOUND_SECONDS} s (the API's limit), not {duration} s"
                )));
            }
        }
        for (what, text) in [
            ("project name", &self.project_name),
            ("project description", &self.project_description),
        ] {
            if text.as_ref().is_some_and(|t| t.len() > MAX_PROMPT_BYTES) {
                return Err(Error::invalid(format!("the {what} is too long")));
            }
        }
        Ok(())
    }

    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain strings and numbers cannot fail; NaN was refused by validate.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[derive(Deserialize)]
struct CreateReply {
    task_id: Option<String>,
}

/// Decodes `{"task_id": "..."}`. A null or unusable id is a bad response: the task
/// could never be asked about.
pub fn decode_create_reply(body: &[u8]) -> Result<String, Error> {
    let reply: CreateReply = decode_object(body, "create reply")?;
    let task_id = reply
        .task_id
        .ok_or_else(|| Error::bad_response("the server created the task but sent no task_id"))?;
    push_segment(&mut String::new(), "task id", &task_id)
        .map_err(|e| Error::bad_response(format!("the server sent an unusable task_id: {e}")))?;
    Ok(task_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn validates_what_the_docs_state() {
        let ok = |r: CreateRequest| r.validate().is_ok();
        assert!(ok(CreateRequest::new("rain on a tin roof")));
        assert!(!ok(CreateRequest::new("")));
        assert!(!ok(CreateRequest::new(" \n\t")));
        assert!(!ok(CreateRequest::new("x".repeat(MAX_PROMPT_BYTES + 1))));
        let with = |duration: f64, audio_type: Option<AudioType>| CreateRequest {
            duration: Some(duration),
            audio_type,
            ..CreateRequest::new("p")
        };
        assert!(ok(with(10.0, None)));
        assert!(ok(with(0.5, Some(AudioType::Sound))));
        assert!(!ok(with(10.01, None)));
        assert!(!ok(with(11.0, Some(AudioType::Sound))));
        assert!(ok(with(60.0, Some(AudioType::Music))));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(!ok(with(bad, Some(AudioType::Music))), "{bad}");
        }
    }

    #[test]
    fn sends_only_what_was_set() {
        let json = CreateRequest::new("birds").to_json();
        assert_eq!(json, br#"{"prompt":"birds"}"#);
        let full = CreateRequest {
            duration: Some(2.5),
            audio_type: Some(AudioType::Music),
            project_name: Some("p".into()),
            project_description: Some("d".into()),
            folder_id: Some(-3),
            retry: true,
            ..CreateRequest::new("birds")
        };
        assert_eq!(
            String::from_utf8(full.to_json()).unwrap(),
            r#"{"prompt":"birds","duration":2.5,"audio_type":"music","project_name":"p","project_description":"d","folder_id":-3}"#
        );
    }

    #[test]
    fn decodes_the_task_id() {
        assert_eq!(
            decode_create_reply(br#"{"task_id":"abc-1"}"#).unwrap(),
            "abc-1"
        );
        for bad in [
            &br#"{"task_id":null}"#[..],
            b"{}",
            b"[]",
            br#"{"task_id":5}"#,
            br#"{"task_id":".."}"#,
        ] {
            assert_eq!(
                decode_create_reply(bad).unwrap_err().kind(),
                ErrorKind::BadResponse
            );
        }
    }
}
