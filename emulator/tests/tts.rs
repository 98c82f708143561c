//! Streaming text-to-speech: `/tts-stream` formats, rates, validation, pacing, faults and
//! stats, and the voice and language lists.

mod common;

use std::time::{Duration, Instant};

use camb_emulator::{Config, Emulator, Fault, FaultResponse, Stats, monotonic_ns};
use common::{Client, Reply, assert_422, raw};
use serde_json::{Value, json};

const STREAM: &str = "/tts-stream";
const VOICE: i64 = 147_320;

/// An emulator whose streams start at once and go as fast as they are read.
fn fast() -> Emulator {
    with_pacing(0, 0.0)
}

fn with_pacing(first_chunk_ms: u64, pace: f64) -> Emulator {
    Emulator::start(Config {
        tts_first_chunk_ms: first_chunk_ms,
        tts_pace: pace,
        ..Config::default()
    })
    .expect("emulator starts")
}

/// A valid body: `extra`'s keys added to (or replacing) the required ones.
fn body(extra: Value) -> String {
    let mut body =
        json!({"text": "Hello from the emulator.", "language": "en-us", "voice_id": VOICE});
    for (k, v) in extra.as_object().expect("an object") {
        body[k] = v.clone();
    }
    body.to_string()
}

fn stream(client: &Client, extra: Value) -> Reply {
    let reply = client.post(STREAM, &body(extra));
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply
}

/// `output_configuration` with this format and duration.
fn output(format: &str, duration: f64) -> Value {
    json!({"output_configuration": {"format": format, "duration": duration}})
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().unwrap())
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes(b[i..i + 2].try_into().unwrap())
}

/// Checks a streamed WAV's header (sizes unknown: 0xFFFFFFFF); returns (rate, samples).
fn parse_stream_wav(wav: &[u8]) -> (u32, usize) {
    assert!(wav.len() >= 44, "{} bytes", wav.len());
    assert_eq!(&wav[0..4], b"RIFF");
    assert_eq!(u32_at(wav, 4), u32::MAX, "RIFF size: unknown");
    assert_eq!(&wav[8..16], b"WAVEfmt ");
    assert_eq!(u32_at(wav, 16), 16);
    assert_eq!(u16_at(wav, 20), 1, "PCM");
    assert_eq!(u16_at(wav, 22), 1, "mono");
    let rate = u32_at(wav, 24);
    assert_eq!(u32_at(wav, 28), rate * 2, "byte rate");
    assert_eq!(u16_at(wav, 32), 2, "block align");
    assert_eq!(u16_at(wav, 34), 16, "bits");
    assert_eq!(&wav[36..40], b"data");
    assert_eq!(u32_at(wav, 40), u32::MAX, "data size: unknown");
    assert_eq!((wav.len() - 44) % 2, 0, "whole samples");
    (rate, (wav.len() - 44) / 2)
}

fn s16le(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|s| i16::from_le_bytes([s[0], s[1]]))
        .collect()
}

#[test]
fn wav_streams_chunked_with_open_ended_sizes() {
    let emulator = fast();
    let reply = stream(&Client::new(&emulator), output("wav", 1.0));
    assert_eq!(reply.header("content-type"), Some("audio/wav"));
    assert_eq!(reply.header("transfer-encoding"), Some("chunked"));
    assert_eq!(reply.header("content-length"), None);
    let (rate, samples) = parse_stream_wav(&reply.body);
    assert_eq!((rate, samples), (22_050, 22_050), "mars-flash, 1 s");
    let peak = s16le(&reply.body[44..])
        .iter()
        .map(|s| s.unsigned_abs())
        .max();
    assert!(peak > Some(5_000), "audible: {peak:?}");

    // Without a format the emulator sends WAV (it cannot make the SDK's default, MP3).
    let reply = stream(&Client::new(&emulator), json!({}));
    assert_eq!(reply.header("content-type"), Some("audio/wav"));
    let (_, samples) = parse_stream_wav(&reply.body);
    // 24 characters at 15 per second.
    assert_eq!(samples, (24.0 / 15.0 * 22_050.0f64).round() as usize);
}

#[test]
fn audio_is_deterministic_and_follows_text_and_voice() {
    let emulator = fast();
    let client = Client::new(&emulator);
    let a = stream(&client, output("pcm_s16le", 0.5)).body;
    assert_eq!(a, stream(&client, output("pcm_s16le", 0.5)).body);
    let mut other_text = output("pcm_s16le", 0.5);
    other_text["text"] = json!("Something else entirely");
    assert_ne!(a, stream(&client, other_text).body);
    let mut other_voice = output("pcm_s16le", 0.5);
    other_voice["voice_id"] = json!(147_321);
    assert_ne!(a, stream(&client, other_voice).body);
}

#[test]
fn flac_is_real_flac() {
    let emulator = fast();
    let mut extra = output("flac", 0.75);
    extra["speech_model"] = json!("mars-pro");
    let reply = stream(&Client::new(&emulator), extra);
    assert_eq!(reply.header("content-type"), Some("audio/flac"));
    assert_eq!(&reply.body[..4], b"fLaC");
    let mut reader = claxon::FlacReader::new(std::io::Cursor::new(&reply.body)).unwrap();
    let info = reader.streaminfo();
    assert_eq!(
        (info.sample_rate, info.channels, info.bits_per_sample),
        (48_000, 1, 16)
    );
    assert_eq!(info.samples, Some(36_000));
    let samples: Vec<i32> = reader.samples().map(Result::unwrap).collect();
    assert_eq!(samples.len(), 36_000);
    assert!(samples.iter().map(|s| s.abs()).max() > Some(5_000));

    // The same audio as 16-bit PCM at that rate: FLAC is lossless.
    let mut pcm = output("pcm_s16le", 0.75);
    pcm["speech_model"] = json!("mars-pro");
    let pcm = s16le(&stream(&Client::new(&emulator), pcm).body);
    assert!(samples.iter().zip(&pcm).all(|(f, p)| *f == i32::from(*p)));
}

#[test]
fn pcm_formats_are_headerless_samples_in_their_layout() {
    let emulator = fast();
    let client = Client::new(&emulator);
    let get = |format: &str| {
        let mut extra = output(format, 0.5);
        extra["output_configuration"]["sample_rate"] = json!(16_000);
        let reply = stream(&client, extra);
        assert_eq!(reply.header("content-type"), Some("audio/pcm"), "{format}");
        reply.body
    };
    let s16le = get("pcm_s16le");
    let s16be = get("pcm_s16be");
    let s32le = get("pcm_s32le");
    let s32be = get("pcm_s32be");
    let f32le = get("pcm_f32le");
    let f32be = get("pcm_f32be");
    assert_eq!(s16le.len(), 8_000 * 2);
    assert_eq!(s16be.len(), 8_000 * 2);
    for b in [&s32le, &s32be, &f32le, &f32be] {
        assert_eq!(b.len(), 8_000 * 4);
    }
    for i in 0..8_000 {
        let le = i16::from_le_bytes([s16le[2 * i], s16le[2 * i + 1]]);
        assert_eq!(le, i16::from_be_bytes([s16be[2 * i], s16be[2 * i + 1]]));
        let at = |b: &[u8]| -> [u8; 4] { b[4 * i..4 * i + 4].try_into().unwrap() };
        let wide = i32::from_le_bytes(at(&s32le));
        assert_eq!(wide, i32::from_be_bytes(at(&s32be)));
        let float = f32::from_le_bytes(at(&f32le));
        assert_eq!(float.to_bits(), f32::from_be_bytes(at(&f32be)).to_bits());
        // One signal, three resolutions.
        assert!((-1.0..=1.0).contains(&float));
        assert!((f64::from(float) * 32767.0 - f64::from(le)).abs() <= 1.0);
        let wide_as_s16 = f64::from(wide) / f64::from(i32::MAX) * 32767.0;
        assert!((wide_as_s16 - f64::from(le)).abs() <= 1.0);
    }
}

#[test]
fn each_model_has_its_rate_and_sample_rate_overrides_it() {
    let emulator = fast();
    let client = Client::new(&emulator);
    for (model, rate) in [
        ("mars-pro", 48_000),
        ("mars-flash", 22_050),
        ("mars-instruct", 22_050),
        ("mars-8.1-pro-beta", 48_000),
        ("mars-8.1-flash-beta", 48_000),
        ("auto", 22_050),
    ] {
        let mut extra = output("wav", 0.1);
        extra["speech_model"] = json!(model);
        let (got, samples) = parse_stream_wav(&stream(&client, extra).body);
        assert_eq!(got, rate, "{model}");
        assert_eq!(samples, (f64::from(rate) * 0.1).round() as usize, "{model}");
    }
    for rate in [8_000, 24_000, 44_100, 48_000] {
        let mut extra = output("wav", 0.1);
        extra["speech_model"] = json!("mars-pro");
        extra["output_configuration"]["sample_rate"] = json!(rate);
        let (got, _) = parse_stream_wav(&stream(&client, extra).body);
        assert_eq!(got, rate);
    }
    let stats = emulator.tts_streams();
    assert_eq!(stats.len(), 10);
    assert_eq!(stats[0].sample_rate, 48_000);
    assert_eq!(stats[9].sample_rate, 48_000);
    assert_eq!(stats[6].sample_rate, 8_000);
}

#[test]
fn credits_are_one_per_started_hundred_characters() {
    let emulator = fast();
    let client = Client::new(&emulator);
    for (chars, credits) in [(3, "1"), (100, "1"), (101, "2"), (250, "3"), (3000, "30")] {
        let mut extra = output("pcm_s16le", 0.05);
        extra["text"] = json!("é".repeat(chars));
        let reply = stream(&client, extra);
        assert_eq!(reply.header("x-credits-required"), Some(credits), "{chars}");
    }
}

#[test]
fn unsupported_locales_list_the_models_locales_in_full() {
    let emulator = fast();
    let client = Client::new(&emulator);
    let reply = client.post(STREAM, &body(json!({"language": "zh-tw"})));
    assert_422(&reply, json!(["body"]), "value_error");
    let msg = reply.json()["detail"][0]["msg"]
        .as_str()
        .unwrap()
        .to_string();
    let prefix = "Value error, Language 'zh-tw' is not supported by model 'mars-flash'. \
                  Allowed languages: en-us, en-uk, ";
    assert!(msg.starts_with(prefix), "{msg}");
    let allowed: Vec<&str> = msg
        .split_once("Allowed languages: ")
        .unwrap()
        .1
        .split(", ")
        .collect();
    assert_eq!(allowed.len(), 33, "{msg}");
    for locale in [
        "en-us", "en-uk", "fr-fr", "de-de", "es-es", "pt-br", "ja-jp", "zh-cn",
    ] {
        assert!(allowed.contains(&locale), "{locale}");
    }
    assert!(!allowed.contains(&"zh-tw"));
    assert!(
        allowed
            .iter()
            .all(|l| l.len() >= 5 && *l == l.to_ascii_lowercase())
    );
    // Every locale listed is accepted.
    for locale in &allowed {
        let mut extra = output("pcm_s16le", 0.02);
        extra["language"] = json!(locale);
        stream(&client, extra);
    }

    // Locales are case-sensitive; wider models speak zh-tw.
    let reply = client.post(STREAM, &body(json!({"language": "en-US"})));
    assert_422(&reply, json!(["body"]), "value_error");
    for model in [
        "mars-instruct",
        "mars-8.1-pro-beta",
        "mars-8.1-flash-beta",
        "auto",
    ] {
        let mut extra = output("pcm_s16le", 0.02);
        extra["language"] = json!("zh-tw");
        extra["speech_model"] = json!(model);
        stream(&client, extra);
    }
    let reply = client.post(
        STREAM,
        &body(json!({"language": "xx-yy", "speech_model": "mars-instruct"})),
    );
    let msg = reply.json()["detail"][0]["msg"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.contains("by model 'mars-instruct'") && msg.contains(", zh-tw, "));
    assert!(msg.split(", ").count() > 33);
}

#[test]
fn formats_the_emulator_cannot_make_are_422() {
    let emulator = fast();
    let client = Client::new(&emulator);
    for format in ["mp3", "adts"] {
        let reply = client.post(STREAM, &body(output(format, 1.0)));
        assert_422(
            &reply,
            json!(["body", "output_configuration", "format"]),
            "value_error",
        );
        assert_eq!(
            reply.json()["detail"][0]["msg"],
            format!("Format '{format}' is not offered by the emulator")
        );
    }
    let reply = client.post(STREAM, &body(output("ogg", 1.0)));
    assert_422(
        &reply,
        json!(["body", "output_configuration", "format"]),
        "enum",
    );
    let msg = reply.json()["detail"][0]["msg"].to_string();
    assert!(
        msg.contains("'wav'") && msg.contains("'pcm_f32be'"),
        "{msg}"
    );
}

#[test]
fn user_instructions_need_mars_instruct() {
    let emulator = fast();
    let client = Client::new(&emulator);
    let reply = client.post(
        STREAM,
        &body(json!({"user_instructions": "Whisper, please."})),
    );
    assert_422(&reply, json!(["body"]), "value_error");
    assert!(
        reply.json()["detail"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("only supported with mars-instruct")
    );
    let mut extra = output("wav", 0.1);
    extra["user_instructions"] = json!("Whisper, please.");
    extra["speech_model"] = json!("mars-instruct");
    stream(&client, extra);
}

#[test]
fn fields_are_validated_with_their_loc() {
    let emulator = fast();
    let client = Client::new(&emulator);
    let cases: &[(Value, Value, &str)] = &[
        (
            json!({"text": "hi"}),
            json!(["body", "text"]),
            "string_too_short",
        ),
        (
            json!({"text": "a".repeat(3001)}),
            json!(["body", "text"]),
            "string_too_long",
        ),
        (json!({"text": 5}), json!(["body", "text"]), "string_type"),
        (
            json!({"language": null}),
            json!(["body", "language"]),
            "string_type",
        ),
        (
            json!({"voice_id": "abc"}),
            json!(["body", "voice_id"]),
            "int_parsing",
        ),
        (
            json!({"voice_id": 1.5}),
            json!(["body", "voice_id"]),
            "int_from_float",
        ),
        (
            json!({"speech_model": "mars-7"}),
            json!(["body", "speech_model"]),
            "enum",
        ),
        (
            json!({"enhance_named_entities_pronunciation": "maybe"}),
            json!(["body", "enhance_named_entities_pronunciation"]),
            "bool_parsing",
        ),
        (
            json!({"output_configuration": "wav"}),
            json!(["body", "output_configuration"]),
            "model_type",
        ),
        (
            json!({"output_configuration": {"sample_rate": 7_999}}),
            json!(["body", "output_configuration", "sample_rate"]),
            "greater_than_equal",
        ),
        (
            json!({"output_configuration": {"sample_rate": 48_001}}),
            json!(["body", "output_configuration", "sample_rate"]),
            "less_than_equal",
        ),
        (
            json!({"output_configuration": {"duration": 0}}),
            json!(["body", "output_configuration", "duration"]),
            "greater_than",
        ),
        (
            json!({"output_configuration": {"apply_enhancement": []}}),
            json!(["body", "output_configuration", "apply_enhancement"]),
            "bool_type",
        ),
        (
            json!({"voice_settings": {"speaking_rate": 2.5}}),
            json!(["body", "voice_settings", "speaking_rate"]),
            "less_than_equal",
        ),
        (
            json!({"voice_settings": {"maintain_source_accent": "x"}}),
            json!(["body", "voice_settings", "maintain_source_accent"]),
            "bool_parsing",
        ),
        (
            json!({"inference_options": {"temperature": 4.5}}),
            json!(["body", "inference_options", "temperature"]),
            "less_than_equal",
        ),
        (
            json!({"inference_options": {"temperature": 0.001}}),
            json!(["body", "inference_options", "temperature"]),
            "greater_than_equal",
        ),
        (
            json!({"inference_options": {"stability": -0.1}}),
            json!(["body", "inference_options", "stability"]),
            "greater_than_equal",
        ),
        (
            json!({"inference_options": {"inference_steps": 1001}}),
            json!(["body", "inference_options", "inference_steps"]),
            "less_than_equal",
        ),
        (
            json!({"inference_options": {"speaker_similarity": "high"}}),
            json!(["body", "inference_options", "speaker_similarity"]),
            "float_parsing",
        ),
        (
            json!({"inference_options": {"localize_speaker_weight": 1.5}}),
            json!(["body", "inference_options", "localize_speaker_weight"]),
            "less_than_equal",
        ),
    ];
    for (extra, loc, kind) in cases {
        let reply = client.post(STREAM, &body(extra.clone()));
        assert_422(&reply, loc.clone(), kind);
    }

    // Missing fields are reported together; so is a body that is not JSON.
    let reply = client.post(STREAM, "{}");
    assert_eq!(reply.status, 422);
    let locs: Vec<Value> = reply.json()["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["loc"].clone())
        .collect();
    assert_eq!(
        locs,
        [
            json!(["body", "text"]),
            json!(["body", "language"]),
            json!(["body", "voice_id"])
        ]
    );
    common::assert_json_invalid(&client.post(STREAM, "{\"text\": "));

    // Nulls, every documented option at its limits, and unknown keys are all fine.
    let reply = client.post(
        STREAM,
        &body(json!({
            "speech_model": null,
            "user_instructions": null,
            "enhance_named_entities_pronunciation": true,
            "output_configuration": {"format": "pcm_s16le", "duration": 0.1, "sample_rate": 8000,
                                     "apply_enhancement": false, "bitrate": 128},
            "voice_settings": {"enhance_reference_audio_quality": true, "maintain_source_accent": false,
                               "apply_ref_loudness_norm": false, "speaking_rate": 0.5},
            "inference_options": {"stability": 0, "temperature": 4, "inference_steps": 1,
                                  "speaker_similarity": 1, "localize_speaker_weight": 0,
                                  "acoustic_quality_boost": true},
            "gender": 1,
        })),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.body.len(), 800 * 2);

    // The key is checked before the body.
    let reply = Client::new(&emulator).without_key().post(STREAM, "{}");
    assert_eq!(reply.status, 401);
}

#[test]
fn speaking_rate_and_duration_set_the_length() {
    let emulator = fast();
    let client = Client::new(&emulator);
    // 24 characters: 1.6 s at 15 per second, 0.8 s at twice the rate.
    let mut extra = output("pcm_s16le", 1.0);
    extra["output_configuration"]["duration"] = json!(null);
    extra["voice_settings"] = json!({"speaking_rate": 2.0});
    assert_eq!(stream(&client, extra).body.len(), 2 * 17_640);
    // A short text still makes half a second; long durations are capped at an hour
    // (checked by its declared length, without reading an hour of audio).
    let mut extra = output("pcm_s16le", 1.0);
    extra["text"] = json!("Hi!");
    extra["output_configuration"]["duration"] = json!(null);
    assert_eq!(stream(&client, extra).body.len(), 2 * 11_025);
    emulator.push_fault(Fault {
        declare_length: true,
        cut_after_bytes: Some(10),
        ..Fault::default()
    });
    let mut extra = output("pcm_s16le", 1e6);
    extra["output_configuration"]["sample_rate"] = json!(8_000);
    let reply = raw::post(emulator.addr(), STREAM, &body(extra));
    assert_eq!(
        reply.header("content-length"),
        Some((3600 * 8_000 * 2).to_string().as_str())
    );
}

#[test]
fn unknown_voices_are_404() {
    let emulator = fast();
    let reply = Client::new(&emulator).post(STREAM, &body(json!({"voice_id": 1})));
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json(), json!({"detail": "Voice not found: 1"}));
    // Validation comes first.
    let reply = Client::new(&emulator).post(STREAM, &body(json!({"voice_id": 1, "text": ""})));
    assert_eq!(reply.status, 422);
    assert!(emulator.tts_streams().is_empty(), "no stream started");
}

#[test]
fn the_first_chunk_waits_for_tts_first_chunk_ms() {
    let emulator = with_pacing(400, 0.0);
    let reply = raw::post(emulator.addr(), STREAM, &body(output("pcm_s16le", 2.0)));
    assert_eq!(reply.status, 200);
    let first = reply.first_body_byte.expect("a body");
    assert!(
        first >= Duration::from_millis(400),
        "first chunk after {first:?}"
    );
    // Pace 0: the rest follows as fast as it is read.
    let rest = reply.closed - first;
    assert!(rest < Duration::from_secs(2), "the rest took {rest:?}");
    let (audio, complete) = reply.dechunked();
    assert!(complete);
    assert_eq!(audio.len(), 2 * 44_100);
}

#[test]
fn pace_one_is_real_time_and_pace_two_twice_as_fast() {
    let emulator = with_pacing(0, 1.0);
    let client = Client::new(&emulator);
    let started = Instant::now();
    let reply = stream(&client, output("pcm_s16le", 1.0));
    let took = started.elapsed();
    assert_eq!(reply.body.len(), 2 * 22_050);
    // Generous bounds: the machine may be busy.
    assert!(
        took >= Duration::from_millis(800),
        "1 s of audio took {took:?}"
    );
    assert!(took < Duration::from_secs(5), "1 s of audio took {took:?}");

    let emulator = with_pacing(0, 2.0);
    let started = Instant::now();
    stream(&Client::new(&emulator), output("pcm_s16le", 2.0));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(800),
        "2 s at pace 2 took {took:?}"
    );
    assert!(took < Duration::from_secs(5), "2 s at pace 2 took {took:?}");
}

#[test]
fn a_cut_ends_a_chunked_stream_without_its_last_chunk() {
    let emulator = fast();
    emulator.push_fault(Fault {
        path_prefix: Some(STREAM.into()),
        cut_after_bytes: Some(1_000),
        ..Fault::default()
    });
    let reply = raw::post(emulator.addr(), STREAM, &body(output("wav", 1.0)));
    assert_eq!(reply.status, 200);
    assert!(reply.is_chunked());
    let (audio, complete) = reply.dechunked();
    assert_eq!(audio.len(), 1_000);
    assert!(!complete, "no terminating chunk");
    assert!(!reply.raw_body.ends_with(b"0\r\n\r\n"));
    assert_eq!(&audio[..4], b"RIFF");
    let record = &emulator.tts_streams()[0];
    assert_eq!((record.bytes_sent, record.completed), (1_000, false));

    // The fault was used up: the next stream is whole.
    let reply = raw::post(emulator.addr(), STREAM, &body(output("wav", 1.0)));
    let (audio, complete) = reply.dechunked();
    assert!(complete);
    assert_eq!(audio.len(), 44 + 2 * 22_050);
    assert!(reply.raw_body.ends_with(b"0\r\n\r\n"));
    assert!(emulator.tts_streams()[1].completed);

    // A cut at 0 sends the head only; a cut past the end changes nothing.
    for (cut, expect, whole) in [(0, 0, false), (1_000_000, 2 * 8_000, true)] {
        emulator.push_fault(Fault {
            cut_after_bytes: Some(cut),
            ..Fault::default()
        });
        let mut extra = output("pcm_s16le", 1.0);
        extra["output_configuration"]["sample_rate"] = json!(8_000);
        let reply = raw::post(emulator.addr(), STREAM, &body(extra));
        assert_eq!(reply.status, 200);
        let (audio, complete) = reply.dechunked();
        assert_eq!((audio.len(), complete), (expect, whole), "cut at {cut}");
    }
}

#[test]
fn a_cut_with_a_declared_length_comes_up_short() {
    let emulator = fast();
    emulator.push_fault(Fault {
        cut_after_bytes: Some(5_000),
        declare_length: true,
        ..Fault::default()
    });
    let reply = raw::post(emulator.addr(), STREAM, &body(output("wav", 1.0)));
    assert_eq!(reply.status, 200);
    assert!(!reply.is_chunked());
    assert_eq!(
        reply.header("content-length"),
        Some((44 + 2 * 22_050).to_string().as_str())
    );
    assert_eq!(reply.raw_body.len(), 5_000);

    // Declared without a cut: the whole body, FLAC included, matches its length.
    for format in ["flac", "pcm_f32be", "wav"] {
        emulator.push_fault(Fault {
            declare_length: true,
            ..Fault::default()
        });
        let reply = raw::post(emulator.addr(), STREAM, &body(output(format, 0.5)));
        let length: usize = reply.header("content-length").unwrap().parse().unwrap();
        assert_eq!(reply.raw_body.len(), length, "{format}");
        assert!(!reply.is_chunked());
    }
}

#[test]
fn cuts_and_declared_lengths_work_on_other_replies_too() {
    let emulator = Emulator::start(Config {
        pending_ms: 0,
        ..Config::default()
    })
    .unwrap();
    // The demo run's WAV download has a Content-Length of its own.
    emulator.push_fault(Fault {
        cut_after_bytes: Some(100),
        ..Fault::default()
    });
    let addr = emulator.addr();
    let mut socket = std::net::TcpStream::connect(addr).unwrap();
    let request = "GET /text-to-sound-result/4242 HTTP/1.1\r\nHost: x\r\n\
                   x-api-key: camb-emulator-key\r\nConnection: close\r\n\r\n";
    std::io::Write::write_all(&mut socket, request.as_bytes()).unwrap();
    let mut received = Vec::new();
    let _ = std::io::Read::read_to_end(&mut socket, &mut received);
    let text = String::from_utf8_lossy(&received);
    let head_end = text.find("\r\n\r\n").unwrap() + 4;
    let length: usize = text[..head_end]
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .expect("a Content-Length")
        .parse()
        .unwrap();
    assert_eq!(length, 44 + 2 * 44_100, "the whole 2 s WAV is declared");
    assert_eq!(received.len() - head_end, 100);

    // A declared length on a reply that has one already changes nothing.
    emulator.push_fault(Fault {
        declare_length: true,
        ..Fault::default()
    });
    let reply = Client::new(&emulator).get("/text-to-sound/demo-success");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["status"], "SUCCESS");
}

#[test]
fn respond_and_delay_faults_apply_to_streams() {
    let emulator = fast();
    emulator.push_fault(Fault {
        path_prefix: Some(STREAM.into()),
        respond: Some(FaultResponse {
            status: 429,
            headers: vec![("Retry-After".into(), "2".into())],
            body: r#"{"detail":"Too many requests"}"#.into(),
            content_type: Some("application/json".into()),
        }),
        ..Fault::default()
    });
    let client = Client::new(&emulator);
    let reply = client.post(STREAM, &body(output("wav", 0.1)));
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("retry-after"), Some("2"));
    assert_eq!(reply.json()["detail"], "Too many requests");
    assert!(emulator.tts_streams().is_empty());

    emulator.push_fault(Fault {
        delay_ms: 300,
        ..Fault::default()
    });
    let started = Instant::now();
    stream(&client, output("wav", 0.1));
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[test]
fn stats_record_each_stream_and_its_first_chunk_time() {
    let emulator = with_pacing(200, 0.0);
    let client = Client::new(&emulator);
    let before = monotonic_ns();
    let reply = stream(&client, output("flac", 0.5));
    let after = monotonic_ns();
    let streams = emulator.tts_streams();
    assert_eq!(streams.len(), 1);
    let record = &streams[0];
    assert_eq!(record.format, "flac");
    assert_eq!(record.sample_rate, 22_050);
    assert_eq!(record.bytes_sent, reply.body.len() as u64);
    assert!(record.completed);
    let first = record.first_chunk_at_ns.expect("a first chunk");
    assert!(
        first >= before + 200_000_000,
        "not before the first-chunk delay"
    );
    assert!(first <= after);

    // The same over the control API, and cleared by a reset.
    let stats: Stats = serde_json::from_slice(&client.get("/_emulator/stats").body).unwrap();
    assert_eq!(stats.tts_streams, streams);
    let json = client.get("/_emulator/stats").json();
    assert_eq!(json["tts_streams"][0]["first_chunk_at_ns"], first);
    emulator.reset();
    assert!(emulator.stats().tts_streams.is_empty());
}

#[test]
fn voices_list_the_valid_voice_ids() {
    let emulator = fast();
    let client = Client::new(&emulator);
    let reply = client.get("/list-voices");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let voices = reply.json();
    let voices = voices.as_array().expect("an array");
    assert!(voices.len() >= 5);
    let keys = [
        "id",
        "voice_name",
        "gender",
        "age",
        "language",
        "transcript",
        "description",
        "is_published",
        "signed_url",
    ];
    for voice in voices {
        assert!(
            voice["id"].is_i64() && voice["voice_name"].is_string(),
            "{voice}"
        );
        for key in keys {
            assert!(voice.get(key).is_some(), "{key} in {voice}");
        }
        let mut extra = output("pcm_s16le", 0.02);
        extra["voice_id"] = voice["id"].clone();
        stream(&client, extra);
    }
    assert!(voices.iter().any(|v| v["id"] == VOICE));
    assert!(
        voices
            .iter()
            .any(|v| v["tags"] == json!(["calm", "documentary"]))
    );
    let nulls = |v: &Value| keys.iter().filter(|k| v[**k].is_null()).count();
    assert!(voices.iter().any(|v| nulls(v) >= 5));

    assert_eq!(client.get("/list-voices?run_id=7").status, 200);
    assert_422(
        &client.get("/list-voices?run_id=x"),
        json!(["query", "run_id"]),
        "int_parsing",
    );
    assert_eq!(
        Client::new(&emulator)
            .without_key()
            .get("/list-voices")
            .status,
        401
    );
}

#[test]
fn languages_list_ids_names_and_stream_locales() {
    let emulator = fast();
    let client = Client::new(&emulator);
    let mut lists = Vec::new();
    for path in ["/source-languages", "/target-languages"] {
        let reply = client.get(path);
        assert_eq!(reply.status, 200, "{path}");
        let list = reply.json();
        let items = list.as_array().expect("an array").clone();
        assert!(items.len() >= 20, "{path}");
        assert_eq!(
            items[0],
            json!({"id": 1, "language": "English (United States)", "short_name": "en-us"})
        );
        for item in &items {
            assert_eq!(item.as_object().unwrap().len(), 3, "{item}");
            assert!(item["id"].is_i64() && item["language"].is_string());
            // Every short name is a locale /tts-stream takes (with the widest model).
            let mut extra = output("pcm_s16le", 0.02);
            extra["language"] = item["short_name"].clone();
            extra["speech_model"] = json!("mars-8.1-flash-beta");
            stream(&client, extra);
        }
        assert_422(
            &client.get(&format!("{path}?run_id=1.5")),
            json!(["query", "run_id"]),
            "int_parsing",
        );
        lists.push(list);
    }
    assert_ne!(lists[0], lists[1], "the lists differ a little");
}

#[test]
fn the_binary_takes_the_tts_flags() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let bin = env!("CARGO_BIN_EXE_camb-emulator");
    for args in [
        &["--tts-pace", "-1"][..],
        &["--tts-pace", "x"],
        &["--tts-chunk-ms", "0"],
        &["--tts-first-chunk-ms", "x"],
    ] {
        let out = Command::new(bin).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let help = Command::new(bin).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--tts-first-chunk-ms") && help.contains("--tts-pace"));

    let mut child = Command::new(bin)
        .args(["--tts-first-chunk-ms", "300", "--tts-pace", "0"])
        .args(["--tts-chunk-ms", "50"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let outcome = std::panic::catch_unwind(|| {
        let addr = line
            .trim_end()
            .strip_prefix("listening on http://")
            .expect("listening line")
            .parse()
            .unwrap();
        let reply = raw::post(addr, STREAM, &body(output("pcm_s16le", 3.0)));
        let first = reply.first_body_byte.unwrap();
        assert!(first >= Duration::from_millis(300), "{first:?}");
        assert!(
            reply.closed < Duration::from_secs(2),
            "pace 0: {:?}",
            reply.closed
        );
        // 50 ms chunks of 22050 Hz 16-bit audio: 1102 samples, 2204 bytes, 0x89C (hyper writes hex in capitals).
        assert!(
            reply.raw_body.starts_with(b"89C\r\n"),
            "{:?}",
            String::from_utf8_lossy(&reply.raw_body[..12])
        );
    });
    child.kill().unwrap();
    child.wait().unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
