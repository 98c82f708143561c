//! `POST /tts-stream`: what may be asked for, and what the caller is told about
//! the audio that comes back.
//!
//! Every value whose allowed set the sources disagree on (models, locales,
//! formats) is passed through as the caller's string. Every optional field is
//! `None` unless the caller set it, and a `None` is not sent: the server's own
//! default applies. The format is the exception: it is always sent (WAV unless
//! the caller picks another), since the sources disagree on the server's default.

use serde::Serialize;

use crate::error::Error;

/// The format asked for when the caller names none.
pub(crate) const DEFAULT_FORMAT: &str = "wav";
/// Longest format name accepted: the C ABI reports it in a fixed buffer.
pub(crate) const MAX_FORMAT_BYTES: usize = 31;
/// A bound on the text, far above the API's 3,000 characters, so that a runaway
/// buffer is not sent (the server judges the real limit).
const MAX_TEXT_BYTES: usize = 64 << 10;

/// A request for speech, streamed as it is made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpeechRequest {
    pub text: String,
    /// A lowercase BCP-47 locale, such as `en-us` (passed through).
    pub language: String,
    /// An `id` from `GET /list-voices`.
    pub voice_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speech_model: Option<String>,
    /// Only supported with `mars-instruct`, per CAMB's docs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_instructions: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enhance_named_entities_pronunciation: Option<bool>,
    pub output_configuration: OutputConfiguration,
    #[serde(skip_serializing_if = "VoiceSettings::is_empty")]
    pub voice_settings: VoiceSettings,
    #[serde(skip_serializing_if = "InferenceOptions::is_empty")]
    pub inference_options: InferenceOptions,
}

/// The audio asked for. `format` is always sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputConfiguration {
    /// `wav`, `flac`, `mp3`, `adts`, `pcm_s16le`... (passed through).
    pub format: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
    /// Seconds of audio; `None`: the server decides from the text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply_enhancement: Option<bool>,
}

impl Default for OutputConfiguration {
    fn default() -> Self {
        OutputConfiguration {
            format: DEFAULT_FORMAT.to_owned(),
            sample_rate: None,
            duration: None,
            apply_enhancement: None,
        }
    }
}

/// `voice_settings`: sent only when one of them is set, and then only those set.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VoiceSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enhance_reference_audio_quality: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintain_source_accent: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply_ref_loudness_norm: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speaking_rate: Option<f64>,
}

impl VoiceSettings {
    fn is_empty(&self) -> bool {
        *self == VoiceSettings::default()
    }
}

/// `inference_options` (the MARS-8 family): sent only when one of them is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InferenceOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stability: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inference_steps: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speaker_similarity: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub localize_speaker_weight: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acoustic_quality_boost: Option<bool>,
}

impl InferenceOptions {
    fn is_empty(&self) -> bool {
        *self == InferenceOptions::default()
    }
}

impl SpeechRequest {
    /// Speech of `text` in `language` with the voice `voice_id`, everything
    /// else unset, as WAV.
    pub fn new(text: impl Into<String>, language: impl Into<String>, voice_id: i64) -> Self {
        SpeechRequest {
            text: text.into(),
            language: language.into(),
            voice_id,
            speech_model: None,
            user_instructions: None,
            enhance_named_entities_pronunciation: None,
            output_configuration: OutputConfiguration::default(),
            voice_settings: VoiceSettings::default(),
            inference_options: InferenceOptions::default(),
        }
    }

    /// Checks what no server could accept, so that it costs no request: empty
    /// text, language or format, a format name that is not a short token, a
    /// number that JSON cannot carry, a sample rate or step count of 0. Ranges
    /// the sources disagree on are left to the server, whose 422 says why.
    pub fn validate(&self) -> Result<(), Error> {
        if self.text.trim().is_empty() {
            return Err(Error::invalid("the text is empty"));
        }
        if self.text.len() > MAX_TEXT_BYTES {
            return Err(Error::invalid(format!(
                "the text is {} bytes long; the limit is {MAX_TEXT_BYTES}",
                self.text.len()
            )));
        }
        if self.language.trim().is_empty() {
            return Err(Error::invalid(
                "the language is empty (a locale such as en-us)",
            ));
        }
        let format = &self.output_configuration.format;
        if format.is_empty()
            || format.len() > MAX_FORMAT_BYTES
            || !format.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(Error::invalid(format!(
                "the format {format:?} is not a format name (wav, flac, pcm_s16le...)"
            )));
        }
        if self.output_configuration.sample_rate == Some(0) {
            return Err(Error::invalid("the sample rate is 0"));
        }
        if self.inference_options.inference_steps == Some(0) {
            return Err(Error::invalid("the number of inference steps is 0"));
        }
        let numbers = [
            ("duration", self.output_configuration.duration),
            ("speaking rate", self.voice_settings.speaking_rate),
            ("stability", self.inference_options.stability),
            ("temperature", self.inference_options.temperature),
            (
                "speaker similarity",
                self.inference_options.speaker_similarity,
            ),
            (
                "localize speaker weight",
                self.inference_options.localize_speaker_weight,
            ),
        ];
        for (what, value) in numbers {
            if value.is_some_and(|v| !v.is_finite()) {
                return Err(Error::invalid(format!(
                    "the {what} must be a finite number"
                )));
            }
        }
        if self
            .output_configuration
            .duration
            .is_some_and(|seconds| seconds <= 0.0)
        {
            return Err(Error::invalid(
                "the duration must be a positive number of seconds",
            ));
        }
        Ok(())
    }

    /// The JSON body.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        // Only strings, integers, finite floats and booleans: cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The sample rate the audio will have, as far as the request tells: the
    /// one asked for, else the model's (CAMB's table), else 0 (unknown).
    pub(crate) fn expected_sample_rate(&self) -> u32 {
        self.output_configuration
            .sample_rate
            .or_else(|| self.speech_model.as_deref().and_then(model_sample_rate))
            .unwrap_or(0)
    }
}

/// The sample rate each model speaks at, from CAMB's SDK README (jambonz and
/// pipecat agree). Unknown models: `None`.
pub fn model_sample_rate(model: &str) -> Option<u32> {
    match model {
        "mars-pro" | "mars-8.1-pro-beta" | "mars-8.1-flash-beta" => Some(48_000),
        "mars-flash" | "mars-instruct" => Some(22_050),
        _ => None,
    }
}

/// What the caller is told about a stream's audio, as it goes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpeechInfo {
    /// The format asked for (and so served).
    pub format: String,
    /// Samples per second: from a WAV or FLAC stream's own header once it has
    /// arrived; before that, or for raw PCM, the request's or its model's; 0
    /// when neither tells (raw PCM from an unnamed model).
    pub sample_rate: u32,
    /// From a WAV or FLAC header; 1 for raw PCM (the API's audio is mono as far
    /// as any source shows); 0 before a WAV or FLAC header has arrived.
    pub channels: u16,
    /// The reply's `X-Credits-Required`, when it had one that is a number.
    pub credits: Option<f64>,
    /// Bytes of audio handed over so far.
    pub bytes: u64,
    /// The reply's `Content-Type`, when it had one.
    pub content_type: Option<String>,
}

impl SpeechInfo {
    /// What is known before any audio: from the request and the reply's head.
    pub(crate) fn at_start(request: &SpeechRequest) -> Self {
        let format = &request.output_configuration.format;
        SpeechInfo {
            format: format.clone(),
            sample_rate: request.expected_sample_rate(),
            channels: if is_raw_pcm(format) { 1 } else { 0 },
            credits: None,
            bytes: 0,
            content_type: None,
        }
    }

    /// Becomes `other`, reusing its own strings' memory: for a copy kept up to
    /// date on every chunk.
    pub(crate) fn update_from(&mut self, other: &SpeechInfo) {
        self.format.clone_from(&other.format);
        self.sample_rate = other.sample_rate;
        self.channels = other.channels;
        self.credits = other.credits;
        self.bytes = other.bytes;
        self.content_type.clone_from(&other.content_type);
    }

    /// Learns what a WAV or FLAC header at the start of the audio says.
    pub(crate) fn learn_from_header(&mut self, start: &[u8]) {
        let format = self.format.to_ascii_lowercase();
        let header = match format.as_str() {
            "wav" => wav_header(start).map(|h| (h.sample_rate, h.channels)),
            "flac" => flac_stream_info(start),
            _ => None,
        };
        if let Some((sample_rate, channels)) = header {
            self.sample_rate = sample_rate;
            self.channels = channels;
        }
    }
}

/// Whether the format is headerless PCM (`pcm_s16le`, `pcm_f32be`...).
pub fn is_raw_pcm(format: &str) -> bool {
    format
        .get(..4)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("pcm_"))
}

/// A WAV file's header, as far as the audio needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavHeader {
    pub sample_rate: u32,
    pub channels: u16,
    /// Where the `data` chunk's size field is; its samples start 4 bytes later.
    pub data_size_at: usize,
}

/// Parses the RIFF chunks at the start of a WAV stream up to its `data`
/// chunk; `None` until all of that has arrived, or if it is not WAV.
pub fn wav_header(start: &[u8]) -> Option<WavHeader> {
    if start.len() < 12 || &start[..4] != b"RIFF" || &start[8..12] != b"WAVE" {
        return None;
    }
    let mut at = 12;
    let mut format = None;
    loop {
        let id = start.get(at..at + 4)?;
        let size = u32::from_le_bytes(start.get(at + 4..at + 8)?.try_into().ok()?);
        if id == b"data" {
            let (sample_rate, channels) = format?;
            return Some(WavHeader {
                sample_rate,
                channels,
                data_size_at: at + 4,
            });
        }
        if id == b"fmt " {
            let body = start.get(at + 8..at + 24)?;
            let channels = u16::from_le_bytes([body[2], body[3]]);
            let sample_rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
            format = Some((sample_rate, channels));
        }
        // Chunks are padded to an even size.
        let size = usize::try_from(size).ok()?;
        at = at
            .checked_add(8)?
            .checked_add(size)?
            .checked_add(size & 1)?;
    }
}

/// The sample rate and channels of a FLAC stream's STREAMINFO block, which
/// comes first; `None` until it has arrived, or if it is not FLAC.
fn flac_stream_info(start: &[u8]) -> Option<(u32, u16)> {
    // "fLaC", a 4-byte block header (type 0: STREAMINFO), then the block:
    // sample rate in 20 bits at byte 10, channels - 1 in the next 3.
    if start.len() < 8 + 13 || &start[..4] != b"fLaC" || start[4] & 0x7f != 0 {
        return None;
    }
    let info = &start[8..];
    let sample_rate =
        (u32::from(info[10]) << 12) | (u32::from(info[11]) << 4) | (u32::from(info[12]) >> 4);
    let channels = u16::from((info[12] >> 1) & 0x07) + 1;
    Some((sample_rate, channels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_request_sends_text_language_voice_and_format_only() {
        let request = SpeechRequest::new("Hello there", "en-us", 147_320);
        let json: serde_json::Value = serde_json::from_slice(&request.to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "text": "Hello there", "language": "en-us", "voice_id": 147_320,
                "output_configuration": {"format": "wav"}
            })
        );
    }

    #[test]
    fn one_voice_setting_sends_only_itself() {
        let mut request = SpeechRequest::new("Hello there", "en-us", 1);
        request.voice_settings.speaking_rate = Some(1.25);
        request.inference_options.inference_steps = Some(8);
        let json: serde_json::Value = serde_json::from_slice(&request.to_json()).unwrap();
        assert_eq!(
            json["voice_settings"],
            serde_json::json!({"speaking_rate": 1.25})
        );
        assert_eq!(
            json["inference_options"],
            serde_json::json!({"inference_steps": 8})
        );
    }

    #[test]
    fn nonsense_is_refused_before_sending() {
        let base = SpeechRequest::new("Hello there", "en-us", 1);
        let mut cases = Vec::new();
        cases.push(SpeechRequest {
            text: " ".into(),
            ..base.clone()
        });
        cases.push(SpeechRequest {
            language: String::new(),
            ..base.clone()
        });
        for format in ["", "a b", "x".repeat(32).as_str()] {
            let mut request = base.clone();
            request.output_configuration.format = format.into();
            cases.push(request);
        }
        let mut request = base.clone();
        request.inference_options.temperature = Some(f64::INFINITY);
        cases.push(request);
        let mut request = base.clone();
        request.output_configuration.duration = Some(0.0);
        cases.push(request);
        for case in cases {
            assert!(case.validate().is_err(), "{case:?}");
        }
        assert!(base.validate().is_ok());
    }

    #[test]
    fn sample_rate_from_request_then_model() {
        let mut request = SpeechRequest::new("Hello there", "en-us", 1);
        assert_eq!(request.expected_sample_rate(), 0);
        request.speech_model = Some("mars-pro".into());
        assert_eq!(request.expected_sample_rate(), 48_000);
        request.speech_model = Some("mars-flash".into());
        assert_eq!(request.expected_sample_rate(), 22_050);
        request.output_configuration.sample_rate = Some(16_000);
        assert_eq!(request.expected_sample_rate(), 16_000);
    }

    #[test]
    fn wav_header_is_found_past_other_chunks() {
        let mut wav = Vec::new();
        wav.extend_from_slice(b"RIFF\xff\xff\xff\xffWAVE");
        wav.extend_from_slice(b"LIST\x03\x00\x00\x00abc\x00");
        wav.extend_from_slice(b"fmt \x10\x00\x00\x00\x01\x00\x02\x00");
        wav.extend_from_slice(&24_000u32.to_le_bytes());
        wav.extend_from_slice(&[0; 8]);
        wav.extend_from_slice(b"data\xff\xff\xff\xff");
        let header = wav_header(&wav).unwrap();
        assert_eq!((header.sample_rate, header.channels), (24_000, 2));
        assert_eq!(header.data_size_at, wav.len() - 4);
        assert_eq!(wav_header(&wav[..wav.len() - 1]), None);
    }

    #[test]
    fn flac_stream_info_is_read() {
        let mut flac = b"fLaC\x80\x00\x00\x22".to_vec();
        let mut info = [0u8; 34];
        // 48000 Hz = 0x0BB80 in 20 bits; 1 channel (0 stored), 16 bits.
        info[10] = 0x0B;
        info[11] = 0xB8;
        info[12] = 0x00;
        flac.extend_from_slice(&info);
        assert_eq!(flac_stream_info(&flac), Some((48_000, 1)));
        assert_eq!(flac_stream_info(b"fLaC"), None);
    }
}
