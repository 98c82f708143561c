//! Streaming speech, voices and languages through the C ABI, against the
//! emulator: one table of behaviour that both forms of each operation pass.
//! The blocking form hands the audio to a callback on the calling thread; the
//! job form is read by the caller with `camb_job_read_audio()` on
//! `CAMB_EVENT_JOB_DATA` events. For each case both must give the same result,
//! the same words and the same audio: a whole stream, a 422 that lists the
//! allowed locales, a stream cut in the middle, a slow reader, and a cancel
//! mid-stream. Then: the request libcamb sends, saving to a file, the lists.

mod common;

use std::ffi::c_void;
use std::ptr;
use std::time::{Duration, Instant};

use camb::ffi::builder::*;
use camb::ffi::cancel::*;
use camb::ffi::client::*;
use camb::ffi::job::*;
use camb::ffi::queue::*;
use camb::ffi::result_code::camb_result;
use camb::ffi::speech::*;
use camb::ffi::voices::*;
use camb_emulator::{Config, DEFAULT_API_KEY, Emulator, Fault};
use common::{c, c_builder, c_text, last_error, parse_wav};

/// A voice the emulator has.
const VOICE: i64 = 147_320;
const TEXT: &str = "Streaming speech from libcamb, one chunk at a time, as it is made.";

/// What one form gave.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    result: camb_result,
    /// The error's words (None on success).
    error: Option<String>,
    audio: Vec<u8>,
    /// The final info, on success: (format, sample rate, channels, credits, bytes).
    info: Option<(String, u32, u32, Option<f64>, u64)>,
}

/// How a case reads and whether it cancels.
#[derive(Clone, Copy, Default)]
struct Reader {
    /// Sleep this long after each chunk (a slow reader).
    pause: Duration,
    /// Cancel once this many bytes have been read.
    cancel_after: Option<u64>,
}

fn emulator(first_chunk_ms: u64, pace: f64) -> Emulator {
    Emulator::start(Config {
        pending_ms: 0,
        tts_first_chunk_ms: first_chunk_ms,
        tts_pace: pace,
        ..Config::default()
    })
    .unwrap()
}

fn client_for(emulator: &Emulator) -> *mut camb_client {
    let builder = c_builder(DEFAULT_API_KEY, &emulator.base_url());
    let mut client = ptr::null_mut();
    // SAFETY: a live builder, consumed by the build.
    unsafe {
        assert_eq!(
            camb_client_builder_set_max_retries(builder, 0),
            camb_result::Ok
        );
        assert_eq!(
            camb_client_builder_build(builder, &mut client),
            camb_result::Ok,
            "{}",
            last_error()
        );
    }
    client
}

fn info_tuple(info: &camb_speech_info) -> (String, u32, u32, Option<f64>, u64) {
    // SAFETY: a NUL-terminated array.
    let format = unsafe { std::ffi::CStr::from_ptr(info.format.as_ptr()) };
    (
        format.to_string_lossy().into_owned(),
        info.sample_rate,
        info.channels,
        info.has_credits.then_some(info.credits),
        info.bytes,
    )
}

fn empty_info() -> camb_speech_info {
    camb_speech_info {
        struct_size: std::mem::size_of::<camb_speech_info>(),
        format: [0; 32],
        sample_rate: 0,
        channels: 0,
        has_credits: false,
        credits: 0.0,
        bytes: 0,
    }
}

struct Sink {
    audio: Vec<u8>,
    reader: Reader,
    token: *mut camb_cancel_token,
    /// Each chunk's info.bytes counted that chunk.
    counts_right: bool,
}

unsafe extern "C" fn keep(
    data: *const u8,
    len: usize,
    info: *const camb_speech_info,
    user_data: *mut c_void,
) -> bool {
    // SAFETY: user_data is the Sink of the call; data holds len bytes; info is valid.
    unsafe {
        let sink = &mut *user_data.cast::<Sink>();
        sink.audio
            .extend_from_slice(std::slice::from_raw_parts(data, len));
        sink.counts_right &= (*info).bytes == sink.audio.len() as u64;
        if sink
            .reader
            .cancel_after
            .is_some_and(|n| sink.audio.len() as u64 >= n)
        {
            camb_cancel_token_cancel(sink.token);
        }
    }
    std::thread::sleep(sink_pause(user_data));
    true
}

fn sink_pause(user_data: *mut c_void) -> Duration {
    // SAFETY: user_data is the Sink of the call.
    unsafe { (*user_data.cast::<Sink>()).reader.pause }
}

fn blocking(
    client: *const camb_client,
    language: &str,
    options: &camb_speech_options,
    reader: Reader,
) -> Outcome {
    let token = camb_cancel_token_new();
    let mut sink = Sink {
        audio: Vec::new(),
        reader,
        token,
        counts_right: true,
    };
    let mut info = empty_info();
    // SAFETY: live client and token, NUL-terminated strings, a whole options
    // struct, a sink that lives through the call, a writable info.
    let result = unsafe {
        camb_client_speak(
            client,
            c(TEXT).as_ptr(),
            c(language).as_ptr(),
            VOICE,
            options,
            token,
            Some(keep),
            ptr::from_mut(&mut sink).cast(),
            &mut info,
        )
    };
    let error = (result != camb_result::Ok).then(last_error);
    // SAFETY: freed once, after the call.
    unsafe { camb_cancel_token_free(token) };
    assert!(sink.counts_right, "info.bytes must include each chunk");
    Outcome {
        result,
        error,
        info: (result == camb_result::Ok).then(|| info_tuple(&info)),
        audio: sink.audio,
    }
}

fn queued(
    client: *const camb_client,
    language: &str,
    options: &camb_speech_options,
    reader: Reader,
) -> Outcome {
    let mut job = ptr::null_mut();
    let mut queue = ptr::null_mut();
    let mut audio = Vec::new();
    let mut data_events = 0;
    // SAFETY: live handles throughout; the job is read while libcamb's (after
    // data events) and freed once it was handed back.
    unsafe {
        let made = camb_client_job_speak(
            client,
            c(TEXT).as_ptr(),
            c(language).as_ptr(),
            VOICE,
            options,
            &mut job,
        );
        assert_eq!(made, camb_result::Ok, "{}", last_error());
        assert_eq!(camb_queue_new(&mut queue), camb_result::Ok);
        assert_eq!(
            camb_job_submit(job, queue, ptr::null_mut()),
            camb_result::Ok
        );
        let mut buffer = vec![0u8; 4096];
        let mut cancelled = false;
        loop {
            let (mut event, mut which) = (camb_event::JobDone, ptr::null_mut());
            assert_eq!(
                camb_queue_wait(queue, 60_000, &mut event, &mut which),
                camb_result::Ok,
                "{}",
                last_error()
            );
            assert_eq!(which, job);
            if event == camb_event::JobData {
                data_events += 1;
            }
            loop {
                let mut read = 0;
                assert_eq!(
                    camb_job_read_audio(job, buffer.as_mut_ptr(), buffer.len(), &mut read),
                    camb_result::Ok
                );
                if read == 0 {
                    break;
                }
                audio.extend_from_slice(&buffer[..read]);
                // Bounded: what waits in the job is never more than its buffer.
                let mut info = empty_info();
                assert_eq!(camb_job_speech_info(job, &mut info), camb_result::Ok);
                assert!(
                    info.bytes - audio.len() as u64 <= 256 << 10,
                    "{} bytes waiting in the job",
                    info.bytes - audio.len() as u64
                );
                if !cancelled && reader.cancel_after.is_some_and(|n| audio.len() as u64 >= n) {
                    cancelled = true;
                    assert_eq!(camb_job_cancel(job), camb_result::Ok);
                }
                std::thread::sleep(reader.pause);
            }
            if event == camb_event::JobDone {
                break;
            }
        }
        let result = camb_job_result(job);
        let mut len = 0;
        let error = c_text(camb_job_error(job, &mut len), len);
        let mut info = empty_info();
        assert_eq!(camb_job_speech_info(job, &mut info), camb_result::Ok);
        camb_job_free(job);
        camb_queue_free(queue);
        if !audio.is_empty() {
            assert!(data_events > 0, "audio came without a data event");
        }
        Outcome {
            result,
            error,
            info: (result == camb_result::Ok).then(|| info_tuple(&info)),
            audio,
        }
    }
}

/// Runs the case in both forms, each against a fresh emulator set up alike.
fn both_forms(
    case: &str,
    pace: f64,
    faults: &[Fault],
    language: &str,
    options: camb_speech_options,
    reader: Reader,
) -> (Outcome, Outcome) {
    let run = |form: fn(*const camb_client, &str, &camb_speech_options, Reader) -> Outcome| {
        let emulator = emulator(20, pace);
        for fault in faults {
            emulator.push_fault(fault.clone());
        }
        let client = client_for(&emulator);
        let outcome = form(client, language, &options, reader);
        // SAFETY: freed once, after every call on it.
        unsafe { camb_client_free(client) };
        outcome
    };
    let here = run(blocking);
    let there = run(queued);
    eprintln!(
        "{case}: blocking {:?} {:?} ({} bytes); job {:?} {:?} ({} bytes)",
        here.result,
        here.error,
        here.audio.len(),
        there.result,
        there.error,
        there.audio.len()
    );
    (here, there)
}

fn flash(format: &str) -> (camb_speech_options, std::ffi::CString, std::ffi::CString) {
    let model = c("mars-flash");
    let format = c(format);
    let options = camb_speech_options {
        speech_model: model.as_ptr(),
        format: format.as_ptr(),
        ..camb_speech_options_default()
    };
    (options, model, format)
}

#[test]
fn a_whole_stream_is_the_same_in_both_forms() {
    let (options, _model, _format) = flash("wav");
    let (here, there) = both_forms("whole", 0.0, &[], "en-us", options, Reader::default());
    assert_eq!(here.result, camb_result::Ok, "{:?}", here.error);
    assert_eq!(here, there);
    let (channels, rate, bits, samples) = parse_wav(&fixed_sizes(&here.audio));
    assert_eq!((channels, rate, bits), (1, 22_050, 16));
    assert!(
        samples > 22_050,
        "about a second of speech or more: {samples}"
    );
    let (format, sample_rate, channels, credits, bytes) = here.info.unwrap();
    assert_eq!((format.as_str(), sample_rate, channels), ("wav", 22_050, 1));
    assert!(credits.is_some_and(|c| c >= 1.0), "{credits:?}");
    assert_eq!(bytes, here.audio.len() as u64);
}

/// A streamed WAV with its placeholder sizes replaced, for a WAV parser.
fn fixed_sizes(wav: &[u8]) -> Vec<u8> {
    let mut wav = wav.to_vec();
    let len = wav.len() as u32;
    wav[4..8].copy_from_slice(&(len - 8).to_le_bytes());
    wav[40..44].copy_from_slice(&(len - 44).to_le_bytes());
    wav
}

#[test]
fn a_locale_the_model_lacks_is_a_422_that_lists_the_allowed_ones() {
    let (options, _model, _format) = flash("wav");
    let (here, there) = both_forms("422", 0.0, &[], "zh-tw", options, Reader::default());
    assert_eq!(here, there);
    assert_eq!(here.result, camb_result::Validation);
    let words = here.error.unwrap();
    assert!(words.contains("HTTP 422"), "{words}");
    assert!(words.contains("zh-tw"), "{words}");
    for allowed in ["en-us", "fr-fr", "ja-jp"] {
        assert!(words.contains(allowed), "{allowed} missing from: {words}");
    }
    assert!(here.audio.is_empty());
}

#[test]
fn a_stream_cut_in_the_middle_is_an_error_in_both_forms() {
    let (options, _model, _format) = flash("pcm_s16le");
    for declare_length in [false, true] {
        let fault = Fault {
            path_prefix: Some("/tts-stream".into()),
            cut_after_bytes: Some(20_000),
            declare_length,
            ..Fault::default()
        };
        let (here, there) = both_forms("cut", 0.0, &[fault], "en-us", options, Reader::default());
        assert_eq!(here, there);
        assert_eq!(here.result, camb_result::Connect, "{:?}", here.error);
        let words = here.error.unwrap();
        assert!(words.contains("stream broke after 20000 bytes"), "{words}");
        assert_eq!(here.audio.len(), 20_000, "what came was handed over");
    }
}

#[test]
fn a_slow_reader_gets_every_byte_in_both_forms() {
    // 20 s of 22.05 kHz 16-bit audio (882 KB, over three times the job's
    // buffer), sent as fast as the socket takes it, read 4 KB at a time
    // with a pause: the job's buffer fills and holds the stream back.
    let (mut options, _model, _format) = flash("pcm_s16le");
    options.duration_s = 20.0;
    let reader = Reader {
        pause: Duration::from_millis(2),
        cancel_after: None,
    };
    let (here, there) = both_forms("slow", 0.0, &[], "en-us", options, reader);
    assert_eq!(here.result, camb_result::Ok, "{:?}", here.error);
    assert_eq!(here, there);
    assert_eq!(here.audio.len(), 20 * 22_050 * 2);
}

#[test]
fn a_cancel_mid_stream_ends_both_forms_soon() {
    // Real-time pace: 30 s of audio would take 30 s; the cancel after the
    // first 10 KB must end it long before.
    let (mut options, _model, _format) = flash("pcm_s16le");
    options.duration_s = 30.0;
    let reader = Reader {
        pause: Duration::ZERO,
        cancel_after: Some(10_000),
    };
    let started = Instant::now();
    let (here, there) = both_forms("cancel", 1.0, &[], "en-us", options, reader);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    for outcome in [&here, &there] {
        assert_eq!(
            outcome.result,
            camb_result::Cancelled,
            "{:?}",
            outcome.error
        );
        assert!(outcome.audio.len() >= 10_000);
        assert!(
            outcome.audio.len() < 30 * 22_050 * 2 / 2,
            "{}",
            outcome.audio.len()
        );
    }
}

#[test]
fn default_options_send_only_the_text_language_voice_and_format() {
    let emulator = emulator(0, 0.0);
    let client = client_for(&emulator);
    let here = blocking(
        client,
        "en-us",
        &camb_speech_options_default(),
        Reader::default(),
    );
    assert_eq!(here.result, camb_result::Ok, "{:?}", here.error);
    // NULL options are the defaults too.
    // SAFETY: a live client; NULL options, token and info; a sink that ignores.
    let result = unsafe {
        camb_client_speak(
            client,
            c(TEXT).as_ptr(),
            c("en-us").as_ptr(),
            VOICE,
            ptr::null(),
            ptr::null(),
            Some(ignore),
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(result, camb_result::Ok, "{}", last_error());
    // SAFETY: freed once.
    unsafe { camb_client_free(client) };
    let bodies: Vec<serde_json::Value> = emulator
        .stats()
        .requests
        .iter()
        .filter(|r| r.path.ends_with("/tts-stream"))
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    assert_eq!(bodies.len(), 2);
    for body in bodies {
        assert_eq!(
            body,
            serde_json::json!({
                "text": TEXT, "language": "en-us", "voice_id": VOICE,
                "output_configuration": {"format": "wav"}
            })
        );
    }
}

unsafe extern "C" fn ignore(
    _: *const u8,
    _: usize,
    _: *const camb_speech_info,
    _: *mut c_void,
) -> bool {
    true
}

#[test]
fn every_option_set_is_sent_and_only_those() {
    let emulator = emulator(0, 0.0);
    let client = client_for(&emulator);
    let (model, format, instructions) = (c("mars-instruct"), c("flac"), c("Warmly."));
    let options = camb_speech_options {
        speech_model: model.as_ptr(),
        format: format.as_ptr(),
        user_instructions: instructions.as_ptr(),
        sample_rate: 16_000,
        apply_enhancement: camb_flag::No as u32,
        apply_ref_loudness_norm: camb_flag::Yes as u32,
        speaking_rate: 1.25,
        stability: 0.0,
        inference_steps: 12,
        ..camb_speech_options_default()
    };
    let outcome = blocking(client, "en-us", &options, Reader::default());
    // SAFETY: freed once.
    unsafe { camb_client_free(client) };
    assert_eq!(outcome.result, camb_result::Ok, "{:?}", outcome.error);
    assert_eq!(&outcome.audio[..4], b"fLaC");
    let (_, rate, channels, _, _) = outcome.info.unwrap();
    assert_eq!(
        (rate, channels),
        (16_000, 1),
        "from the FLAC stream's own header"
    );
    let body: serde_json::Value = emulator
        .stats()
        .requests
        .iter()
        .find(|r| r.path.ends_with("/tts-stream"))
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "text": TEXT, "language": "en-us", "voice_id": VOICE,
            "speech_model": "mars-instruct", "user_instructions": "Warmly.",
            "output_configuration": {"format": "flac", "sample_rate": 16000, "apply_enhancement": false},
            "voice_settings": {"apply_ref_loudness_norm": true, "speaking_rate": 1.25},
            "inference_options": {"stability": 0.0, "inference_steps": 12}
        })
    );
}

#[test]
fn saving_speech_is_the_same_in_both_forms_and_fixes_the_wav() {
    let emulator = emulator(0, 0.0);
    let client = client_for(&emulator);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("speech-forms-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (options, _model, _format) = flash("wav");
    let here = dir.join("here.wav");
    let there = dir.join("there.wav");
    let mut info = empty_info();
    // SAFETY: live client, NUL-terminated strings, writable info; the job is
    // taken back from its queue and freed once.
    unsafe {
        assert_eq!(
            camb_client_speak_to_file(
                client,
                c(TEXT).as_ptr(),
                c("en-us").as_ptr(),
                VOICE,
                &options,
                c(here.to_str().unwrap()).as_ptr(),
                ptr::null(),
                &mut info,
            ),
            camb_result::Ok,
            "{}",
            last_error()
        );
        let mut job = ptr::null_mut();
        assert_eq!(
            camb_client_job_speak_to_file(
                client,
                c(TEXT).as_ptr(),
                c("en-us").as_ptr(),
                VOICE,
                &options,
                c(there.to_str().unwrap()).as_ptr(),
                &mut job,
            ),
            camb_result::Ok
        );
        let mut queue = ptr::null_mut();
        assert_eq!(camb_queue_new(&mut queue), camb_result::Ok);
        let job = finished(job, queue);
        let mut job_info = empty_info();
        assert_eq!(camb_job_speech_info(job, &mut job_info), camb_result::Ok);
        assert_eq!(info_tuple(&job_info), info_tuple(&info));
        assert_eq!(camb_job_bytes(job), info.bytes);
        camb_job_free(job);
        camb_queue_free(queue);
        camb_client_free(client);
    }
    let saved = std::fs::read(&here).unwrap();
    assert_eq!(saved, std::fs::read(&there).unwrap());
    assert_eq!(saved.len() as u64, info.bytes);
    let (channels, rate, _, samples) = parse_wav(&saved);
    assert_eq!((channels, rate), (1, 22_050));
    assert_eq!(
        samples as usize * 2 + 44,
        saved.len(),
        "the header's sizes are the file's"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn voices_and_languages_are_the_same_in_both_forms() {
    let emulator = emulator(0, 0.0);
    let client = client_for(&emulator);
    // SAFETY: live client; each list read then freed once; jobs taken back and freed.
    unsafe {
        let mut voices = ptr::null_mut();
        assert_eq!(
            camb_client_list_voices(client, ptr::null(), &mut voices),
            camb_result::Ok
        );
        let mut queue = ptr::null_mut();
        assert_eq!(camb_queue_new(&mut queue), camb_result::Ok);
        let mut job = ptr::null_mut();
        assert_eq!(
            camb_client_job_list_voices(client, &mut job),
            camb_result::Ok
        );
        let job_voices = finished(job, queue);
        assert_eq!(
            voice_names(voices),
            voice_names(camb_job_voice_list(job_voices))
        );
        let names = voice_names(voices);
        assert!(names.iter().any(|(id, _)| *id == VOICE), "{names:?}");
        assert!(camb_voice_list_get(voices, names.len()).is_null());
        camb_job_free(job_voices);
        camb_voice_list_free(voices);

        for which in [camb_languages::Source, camb_languages::Target] {
            let mut languages = ptr::null_mut();
            assert_eq!(
                camb_client_list_languages(client, which as u32, ptr::null(), &mut languages),
                camb_result::Ok
            );
            let mut job = ptr::null_mut();
            assert_eq!(
                camb_client_job_list_languages(client, which as u32, &mut job),
                camb_result::Ok
            );
            let job = finished(job, queue);
            let here = language_names(languages);
            assert_eq!(here, language_names(camb_job_language_list(job)));
            assert!(
                here.iter().any(|(id, short)| *id == 1 && short == "en-us"),
                "{here:?}"
            );
            camb_job_free(job);
            camb_language_list_free(languages);
        }
        let mut unused = ptr::null_mut();
        assert_eq!(
            camb_client_list_languages(client, 7, ptr::null(), &mut unused),
            camb_result::InvalidParameter
        );
        assert!(last_error().contains("CAMB_LANGUAGES_"), "{}", last_error());
        camb_queue_free(queue);
        camb_client_free(client);
    }
}

/// Submits `job` to `queue` and takes it back.
unsafe fn finished(job: *mut camb_job, queue: *mut camb_queue) -> *mut camb_job {
    // SAFETY: a job just made and a live queue (the caller's part).
    unsafe {
        assert_eq!(
            camb_job_submit(job, queue, ptr::null_mut()),
            camb_result::Ok
        );
        let (mut event, mut done) = (camb_event::JobData, ptr::null_mut());
        assert_eq!(
            camb_queue_wait(queue, 30_000, &mut event, &mut done),
            camb_result::Ok
        );
        assert_eq!((event, done), (camb_event::JobDone, job));
        assert_eq!(camb_job_result(job), camb_result::Ok);
    }
    job
}

unsafe fn voice_names(list: *const camb_voice_list) -> Vec<(i64, String)> {
    // SAFETY: a live list.
    unsafe {
        (0..camb_voice_list_len(list))
            .map(|i| {
                let voice = camb_voice_list_get(list, i);
                let mut len = 0;
                let name = c_text(camb_voice_name(voice, &mut len), len).unwrap();
                (camb_voice_id(voice), name)
            })
            .collect()
    }
}

unsafe fn language_names(list: *const camb_language_list) -> Vec<(i64, String)> {
    // SAFETY: a live list.
    unsafe {
        (0..camb_language_list_len(list))
            .map(|i| {
                let language = camb_language_list_get(list, i);
                let mut len = 0;
                let short = c_text(camb_language_short_name(language, &mut len), len).unwrap();
                (camb_language_id(language), short)
            })
            .collect()
    }
}

#[test]
fn reading_a_job_that_does_not_stream_is_refused_in_words() {
    let emulator = emulator(0, 0.0);
    let client = client_for(&emulator);
    // SAFETY: a live client; the job is made, never submitted, and freed.
    unsafe {
        let mut job = ptr::null_mut();
        assert_eq!(
            camb_client_job_list_voices(client, &mut job),
            camb_result::Ok
        );
        let (mut buffer, mut read) = ([0u8; 8], 0);
        assert_eq!(
            camb_job_read_audio(job, buffer.as_mut_ptr(), buffer.len(), &mut read),
            camb_result::InvalidParameter
        );
        assert!(
            last_error().contains("camb_client_job_speak"),
            "{}",
            last_error()
        );
        assert_eq!(
            camb_job_read_audio(job, ptr::null_mut(), 8, &mut read),
            camb_result::NullParameter
        );
        let mut info = empty_info();
        assert_eq!(
            camb_job_speech_info(job, &mut info),
            camb_result::InvalidParameter
        );
        assert!(
            last_error().contains("not a speech job"),
            "{}",
            last_error()
        );
        camb_job_free(job);
        camb_client_free(client);
    }
}

#[test]
fn a_cancel_ends_a_job_whose_reader_stopped_reading() {
    // The reader takes nothing: the job's buffer fills (256 KiB), its thread
    // waits for room, and a cancel must still end it promptly.
    let emulator = emulator(0, 0.0);
    let client = client_for(&emulator);
    let (mut options, _model, _format) = flash("pcm_s16le");
    options.duration_s = 60.0;
    // SAFETY: live handles; the job is freed once its queue handed it back.
    unsafe {
        let mut job = ptr::null_mut();
        assert_eq!(
            camb_client_job_speak(
                client,
                c(TEXT).as_ptr(),
                c("en-us").as_ptr(),
                VOICE,
                &options,
                &mut job
            ),
            camb_result::Ok
        );
        let mut queue = ptr::null_mut();
        assert_eq!(camb_queue_new(&mut queue), camb_result::Ok);
        assert_eq!(
            camb_job_submit(job, queue, ptr::null_mut()),
            camb_result::Ok
        );
        let started = Instant::now();
        let mut info = empty_info();
        loop {
            assert_eq!(camb_job_speech_info(job, &mut info), camb_result::Ok);
            if info.bytes >= 256 << 10 {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the buffer never filled: {}",
                info.bytes
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(camb_job_speech_info(job, &mut info), camb_result::Ok);
        assert_eq!(
            info.bytes,
            256 << 10,
            "the job holds no more than its buffer"
        );
        let cancelled_at = Instant::now();
        assert_eq!(camb_job_cancel(job), camb_result::Ok);
        let (mut event, mut which) = (camb_event::JobData, ptr::null_mut());
        while event != camb_event::JobDone {
            assert_eq!(
                camb_queue_wait(queue, 10_000, &mut event, &mut which),
                camb_result::Ok
            );
        }
        assert!(
            cancelled_at.elapsed() < Duration::from_secs(5),
            "{:?}",
            cancelled_at.elapsed()
        );
        assert_eq!(camb_job_result(job), camb_result::Cancelled);
        // What came before the cancel is still there to read.
        let mut buffer = vec![0u8; 512 << 10];
        let mut read = 0;
        assert_eq!(
            camb_job_read_audio(job, buffer.as_mut_ptr(), buffer.len(), &mut read),
            camb_result::Ok
        );
        assert_eq!(read, 256 << 10);
        camb_job_free(job);
        camb_queue_free(queue);
        camb_client_free(client);
    }
}

#[test]
fn speech_info_of_an_older_program_is_written_only_as_far_as_it_reaches() {
    let emulator = emulator(0, 0.0);
    let client = client_for(&emulator);
    let (options, _model, _format) = flash("wav");
    let speak = |info: *mut camb_speech_info| {
        // SAFETY: a live client, NUL-terminated strings, a sink that ignores, and
        // an info of its struct_size bytes (or more).
        unsafe {
            camb_client_speak(
                client,
                c(TEXT).as_ptr(),
                c("en-us").as_ptr(),
                VOICE,
                &options,
                ptr::null(),
                Some(ignore),
                ptr::null_mut(),
                info,
            )
        }
    };
    // An older camb.h whose struct ended before `bytes`: that field is the
    // caller's memory, left alone.
    let mut info = empty_info();
    info.struct_size = std::mem::offset_of!(camb_speech_info, bytes);
    info.bytes = 0xDEAD;
    assert_eq!(speak(&mut info), camb_result::Ok, "{}", last_error());
    assert_eq!(info.bytes, 0xDEAD);
    assert_eq!((info.sample_rate, info.channels), (22_050, 1));
    assert!(info.has_credits);
    // A struct_size too small for itself is refused before anything is sent.
    let mut info = empty_info();
    info.struct_size = 4;
    let before = emulator.stats().tts_streams.len();
    assert_eq!(speak(&mut info), camb_result::InvalidParameter);
    assert!(
        last_error().contains("sizeof(camb_speech_info)"),
        "{}",
        last_error()
    );
    assert_eq!(
        emulator.stats().tts_streams.len(),
        before,
        "no stream for a bad out-parameter"
    );
    // SAFETY: freed once.
    unsafe { camb_client_free(client) };
}
