//! Outcome directives in prompts. Tests steer tasks created through the real API path by
//! writing them into the prompt: `[status:ERROR]` ends the task in that status (any string),
//! `[pending_ms:N]` sets how long it stays PENDING.

use serde_json::json;

use crate::types::TaskSpec;
use crate::validate::CreateRequest;

/// The task `POST /text-to-sound` plants for this request. The run id is left for the state
/// to assign.
pub fn task_for(request: &CreateRequest, default_pending_ms: u64) -> TaskSpec {
    let final_status = directive(&request.prompt, "status").unwrap_or("SUCCESS");
    let pending_ms = directive(&request.prompt, "pending_ms")
        .and_then(|n| n.parse().ok())
        .unwrap_or(default_pending_ms);
    let (exception_reason, message) = match final_status {
        "ERROR" => (
            Some("PROCESSING_ERROR"),
            Some("The audio model failed to render this prompt"),
        ),
        "PAYMENT_REQUIRED" => (Some("PAYMENT_REQUIRED"), Some("Not enough credits")),
        _ => (None, None),
    };
    TaskSpec {
        task_id: None,
        final_status: final_status.to_string(),
        pending_ms,
        run_id: None,
        omit_run_id: false,
        exception_reason: exception_reason.map(str::to_string),
        message: message.map(|m| json!(m)),
        duration_s: request.duration_s,
        audio_type: request.audio_type.clone(),
        prompt: request.prompt.clone(),
    }
}

/// The trimmed value of the first `[name:value]` in the prompt, if non-empty.
fn directive<'a>(prompt: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("[{name}:");
    let start = prompt.find(&open)? + open.len();
    let len = prompt[start..].find(']')?;
    Some(prompt[start..start + len].trim()).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(prompt: &str) -> CreateRequest {
        CreateRequest {
            prompt: prompt.into(),
            duration_s: 3.0,
            audio_type: "music".into(),
        }
    }

    #[test]
    fn plain_prompts_succeed_after_the_default_wait() {
        let spec = task_for(&request("waves"), 3000);
        assert_eq!(spec.final_status, "SUCCESS");
        assert_eq!(spec.pending_ms, 3000);
        assert_eq!(spec.duration_s, 3.0);
        assert_eq!(spec.audio_type, "music");
    }

    #[test]
    fn directives_steer_the_outcome() {
        let spec = task_for(&request("x [status:ERROR] [pending_ms:5]"), 3000);
        assert_eq!(spec.final_status, "ERROR");
        assert_eq!(spec.pending_ms, 5);
        assert_eq!(spec.exception_reason.as_deref(), Some("PROCESSING_ERROR"));
        let spec = task_for(&request("[status:QUEUED_FOR_GPU][pending_ms:oops]"), 7);
        assert_eq!(spec.final_status, "QUEUED_FOR_GPU");
        assert_eq!(spec.pending_ms, 7);
        assert_eq!(spec.message, None);
        assert_eq!(task_for(&request("[status:]"), 0).final_status, "SUCCESS");
        assert_eq!(
            task_for(&request("[status:ERROR"), 0).final_status,
            "SUCCESS"
        );
    }
}
