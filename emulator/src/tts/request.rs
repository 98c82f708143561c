//! The `POST /tts-stream` body, validated the way the real (FastAPI/pydantic) service
//! does: every field problem is reported at once with its `loc`; cross-field rules (the
//! locale for the model, `user_instructions` for mars-instruct) are model validators,
//! run only once the fields are valid, and reported at `["body"]` as `value_error`s.
//! `null` counts as absent for optional fields; unknown keys are ignored.

use serde_json::{Value, json};

use super::encode::Format;
use super::fields::{Checker, Object, one_of};
use super::models::{self, DEFAULT_MODEL, Model};
use crate::reply::field_error;
use crate::validate::{body_object, int_value};

/// Documented text length limits, in characters (Unicode scalar values, as Python counts).
pub const MIN_TEXT_CHARS: usize = 3;
pub const MAX_TEXT_CHARS: usize = 3000;
/// Longest audio rendered; longer `duration`s are cut to it.
pub const MAX_SECONDS: f64 = 3600.0;
/// Shortest audio derived from the text.
pub const MIN_AUTO_SECONDS: f64 = 0.5;
/// How fast the emulated voices speak, at `speaking_rate` 1.0.
pub const CHARS_PER_SECOND: f64 = 15.0;
pub const MIN_SAMPLE_RATE: i64 = 8_000;
pub const MAX_SAMPLE_RATE: i64 = 48_000;

/// A valid request: what the emulator needs to render and describe the audio.
#[derive(Debug, Clone)]
pub struct TtsRequest {
    pub text: String,
    pub voice_id: i64,
    pub format: Format,
    pub sample_rate: u32,
    /// Seconds of audio, already capped.
    pub duration_s: f64,
}

impl TtsRequest {
    /// `X-Credits-Required`: a credit per started 100 characters, at least one.
    pub fn credits(&self) -> u64 {
        (self.text.chars().count() as u64).div_ceil(100).max(1)
    }
}

pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<TtsRequest, Vec<Value>> {
    let fields = body_object(content_type, body)?;
    let mut c = Checker::default();
    let text = c.required_string(&fields, "text");
    if let Some(text) = &text {
        let n = text.chars().count();
        if n < MIN_TEXT_CHARS {
            c.error(
                &["text"],
                &format!("String should have at least {MIN_TEXT_CHARS} characters"),
                "string_too_short",
            );
        } else if n > MAX_TEXT_CHARS {
            c.error(
                &["text"],
                &format!("String should have at most {MAX_TEXT_CHARS} characters"),
                "string_too_long",
            );
        }
    }
    let language = c.required_string(&fields, "language");
    let voice_id = match fields.get("voice_id") {
        None => {
            c.error(&["voice_id"], "Field required", "missing");
            None
        }
        Some(v) => int_value(v)
            .map_err(|(msg, kind)| c.error(&["voice_id"], msg, kind))
            .ok(),
    };
    let model = speech_model(&mut c, &fields);
    let user_instructions = c.string(&fields, &[], "user_instructions");
    c.bool(&fields, &[], "enhance_named_entities_pronunciation");

    let output = c.object(
        &fields,
        "output_configuration",
        "StreamTtsOutputConfiguration",
    );
    let format = output.map_or(Some(Format::DEFAULT), |o| output_format(&mut c, o));
    let sample_rate = output.and_then(|o| {
        c.int(
            o,
            &["output_configuration", "sample_rate"],
            MIN_SAMPLE_RATE,
            MAX_SAMPLE_RATE,
        )
    });
    let duration = output.and_then(|o| c.positive(o, &["output_configuration", "duration"]));
    if let Some(o) = output {
        c.bool(o, &["output_configuration"], "apply_enhancement");
    }

    let voice = c.object(&fields, "voice_settings", "StreamTtsVoiceSettings");
    let speaking_rate = voice.and_then(|v| {
        for name in [
            "enhance_reference_audio_quality",
            "maintain_source_accent",
            "apply_ref_loudness_norm",
        ] {
            c.bool(v, &["voice_settings"], name);
        }
        c.float(v, &["voice_settings", "speaking_rate"], 0.5, 2.0)
    });

    if let Some(o) = c.object(&fields, "inference_options", "StreamTtsInferenceOptions") {
        for (name, min, max) in [
            ("stability", 0.0, 1.0),
            ("temperature", 0.01, 4.0),
            ("speaker_similarity", 0.0, 1.0),
            ("localize_speaker_weight", 0.0, 1.0),
        ] {
            c.float(o, &["inference_options", name], min, max);
        }
        c.int(o, &["inference_options", "inference_steps"], 1, 1000);
        c.bool(o, &["inference_options"], "acoustic_quality_boost");
    }

    let (Some(text), Some(language), Some(voice_id), Some(model), Some(format)) =
        (text, language, voice_id, model, format)
    else {
        return Err(c.errors);
    };
    if !c.errors.is_empty() {
        return Err(c.errors);
    }
    // Model validators: the first failing one is reported, as pydantic does.
    if !model.speaks(&language) {
        let allowed: Vec<&str> = model.locales().collect();
        return Err(vec![model_error(&format!(
            "Language '{language}' is not supported by model '{}'. Allowed languages: {}",
            model.name,
            allowed.join(", ")
        ))]);
    }
    if user_instructions.is_some() && model.name != "mars-instruct" {
        return Err(vec![model_error(&format!(
            "user_instructions is only supported with mars-instruct, not with model '{}'",
            model.name
        ))]);
    }
    let duration_s = match duration {
        Some(d) => d,
        None => {
            let rate = speaking_rate.unwrap_or(1.0);
            (text.chars().count() as f64 / (CHARS_PER_SECOND * rate)).max(MIN_AUTO_SECONDS)
        }
    }
    .min(MAX_SECONDS);
    Ok(TtsRequest {
        text,
        voice_id,
        format,
        // Range-checked above.
        sample_rate: sample_rate.map_or(model.sample_rate, |r| r as u32),
        duration_s,
    })
}

/// A model validator's error: pydantic prefixes the message with "Value error, ".
fn model_error(message: &str) -> Value {
    field_error(
        json!(["body"]),
        &format!("Value error, {message}"),
        "value_error",
    )
}

/// `speech_model`: absent or `null` is the default model.
fn speech_model(c: &mut Checker, fields: &Object) -> Option<&'static Model> {
    let name = match fields.get("speech_model") {
        None | Some(Value::Null) => DEFAULT_MODEL,
        Some(Value::String(s)) => s,
        Some(_) => {
            c.error(
                &["speech_model"],
                "Input should be a valid string",
                "string_type",
            );
            return None;
        }
    };
    let found = models::find(name);
    if found.is_none() {
        let names: Vec<&str> = models::MODELS.iter().map(|m| m.name).collect();
        c.error(&["speech_model"], &one_of(&names), "enum");
    }
    found
}

/// `output_configuration.format`: absent or `null` is the emulator's default.
fn output_format(c: &mut Checker, output: &Object) -> Option<Format> {
    let path = ["output_configuration", "format"];
    let name = match output.get("format") {
        None | Some(Value::Null) => return Some(Format::DEFAULT),
        Some(Value::String(s)) => s,
        Some(_) => {
            c.error(&path, "Input should be a valid string", "string_type");
            return None;
        }
    };
    if let Some(format) = Format::parse(name) {
        return Some(format);
    }
    if Format::UNOFFERED.contains(&name.as_str()) {
        let msg = format!("Format '{name}' is not offered by the emulator");
        c.error(&path, &msg, "value_error");
    } else {
        let mut names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
        names.extend(Format::UNOFFERED);
        c.error(&path, &one_of(&names), "enum");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_json(body: Value) -> Result<TtsRequest, Vec<Value>> {
        parse(Some("application/json"), body.to_string().as_bytes())
    }

    fn base() -> Value {
        json!({"text": "Hello there, world", "language": "en-us", "voice_id": 147320})
    }

    #[test]
    fn defaults_follow_the_model() {
        let r = parse_json(base()).unwrap();
        assert_eq!(r.format, Format::Wav);
        assert_eq!(r.sample_rate, 22_050);
        assert!((r.duration_s - 18.0 / 15.0).abs() < 1e-9);
        assert_eq!(r.credits(), 1);

        let mut body = base();
        body["speech_model"] = json!("mars-pro");
        body["text"] = json!("abc");
        body["voice_settings"] = json!({"speaking_rate": 2.0});
        let r = parse_json(body).unwrap();
        assert_eq!(r.sample_rate, 48_000);
        assert_eq!(r.duration_s, MIN_AUTO_SECONDS);
    }

    #[test]
    fn field_errors_are_reported_together() {
        let errors = parse_json(json!({
            "text": "hi",
            "voice_id": "x",
            "speech_model": "mars-7",
            "output_configuration": {"format": "ogg", "sample_rate": 96000, "duration": 0},
            "inference_options": {"temperature": 9, "inference_steps": 0},
        }))
        .unwrap_err();
        let locs: Vec<String> = errors.iter().map(|e| e["loc"].to_string()).collect();
        assert_eq!(
            locs,
            [
                r#"["body","text"]"#,
                r#"["body","language"]"#,
                r#"["body","voice_id"]"#,
                r#"["body","speech_model"]"#,
                r#"["body","output_configuration","format"]"#,
                r#"["body","output_configuration","sample_rate"]"#,
                r#"["body","output_configuration","duration"]"#,
                r#"["body","inference_options","temperature"]"#,
                r#"["body","inference_options","inference_steps"]"#,
            ]
        );
        assert!(
            errors[3]["msg"]
                .as_str()
                .unwrap()
                .ends_with("'mars-8.1-flash-beta' or 'auto'")
        );
    }
}
