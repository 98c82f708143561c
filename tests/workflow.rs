//! The whole journey through the safe core against the emulator: create, wait,
//! fetch the audio; cancellation, deadlines, transient failures, no partial files.

mod common;

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use camb::{AudioType, CancelToken, Client, CreateRequest, ErrorKind, TaskStatus, WaitOptions};
use camb_emulator::wav;
use common::*;

fn quick_wait() -> WaitOptions {
    WaitOptions {
        initial_interval: Duration::from_millis(20),
        backoff_factor: 1.5,
        max_interval: Duration::from_millis(100),
        deadline: Duration::from_secs(10),
    }
}

fn sound(prompt: &str, duration: f64) -> CreateRequest {
    CreateRequest {
        duration: Some(duration),
        audio_type: Some(AudioType::Sound),
        ..CreateRequest::new(prompt)
    }
}

fn requests_to(emulator: &Emulator, method: &str, path: &str) -> usize {
    emulator
        .stats()
        .requests
        .iter()
        .filter(|r| r.method == method && r.path.starts_with(path))
        .count()
}

/// Files in `dir`, to prove no temporary file was left behind.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("workflow-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn create_wait_download_gives_the_servers_exact_audio() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let prompt = "rain on a tin roof [pending_ms:150]";
    let task_id = client.create_task(&sound(prompt, 1.5)).unwrap();
    let mut statuses = Vec::new();
    let info = client
        .wait_for_task(&task_id, &quick_wait(), None, |p| {
            statuses.extend(p.info.filter(|_| p.status_changed).map(|i| i.status));
            true
        })
        .unwrap();
    assert_eq!(info.status, TaskStatus::Success);
    assert_eq!(statuses, [TaskStatus::Pending, TaskStatus::Success]);
    let run_id = info.run_id.expect("a successful task has a run id");

    let mut audio = Vec::new();
    let mut chunks = 0;
    let total = client
        .download_audio(run_id, None, &mut |chunk| {
            chunks += 1;
            audio.extend_from_slice(chunk);
            Ok(())
        })
        .unwrap();
    assert_eq!(total as usize, audio.len());
    assert_eq!(
        audio,
        wav::render(prompt, "sound", 1.5),
        "not the server's audio, byte for byte"
    );
    assert!(
        chunks == audio.len().div_ceil(64 << 10),
        "full 64 KiB chunks and a shorter last one expected for {} bytes",
        audio.len()
    );

    // The request carried what the docs describe.
    let stats = emulator.stats();
    let create = stats.requests.iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(create.path, "/text-to-sound");
    assert_eq!(header(create, "content-type"), Some("application/json"));
    assert_eq!(
        create.body,
        r#"{"prompt":"rain on a tin roof [pending_ms:150]","duration":1.5,"audio_type":"sound"}"#
    );
}

#[test]
fn every_final_status_ends_the_wait() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let cases = [
        (
            "[status:ERROR]",
            TaskStatus::Error,
            Some("PROCESSING_ERROR"),
        ),
        ("[status:TIMEOUT]", TaskStatus::Timeout, None),
        (
            "[status:PAYMENT_REQUIRED]",
            TaskStatus::PaymentRequired,
            Some("PAYMENT_REQUIRED"),
        ),
        ("[status:FAILED]", TaskStatus::Unknown, None),
    ];
    for (directive, status, reason) in cases {
        let prompt = format!("a door slams {directive} [pending_ms:60]");
        let id = client.create_task(&CreateRequest::new(prompt)).unwrap();
        let info = client
            .wait_for_task(&id, &quick_wait(), None, |_| true)
            .unwrap();
        assert_eq!(info.status, status, "{directive}");
        assert_eq!(info.exception_reason.as_deref(), reason, "{directive}");
    }
    let unknown = client
        .wait_for_task("demo-unknown", &quick_wait(), None, |_| true)
        .unwrap();
    assert_eq!(unknown.status_text, "QUEUED_FOR_GPU");
}

#[test]
fn bad_requests_cost_no_request() {
    let emulator = emulator();
    let client = client_for(&emulator);
    for request in [
        CreateRequest::new(""),
        CreateRequest::new("   "),
        sound("too long a sound", 10.5),
        sound("negative", -1.0),
    ] {
        let err = client.create_task(&request).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidParameter, "{request:?}");
    }
    assert_eq!(emulator.stats().requests_total, 0);
    // What only the server knows comes back as a validation error in its words.
    let long_music = CreateRequest {
        duration: Some(601.0),
        audio_type: Some(AudioType::Music),
        ..CreateRequest::new("an opera")
    };
    let err = client.create_task(&long_music).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert!(err.message().contains("body.duration"), "{err}");
}

#[test]
fn create_is_not_retried_unless_asked() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let fault = |times| Fault {
        path_prefix: Some("/text-to-sound".into()),
        times,
        respond: Some(FaultResponse {
            status: 503,
            body: r#"{"detail":"overloaded"}"#.into(),
            content_type: Some("application/json".into()),
            ..FaultResponse::default()
        }),
        ..Fault::default()
    };
    emulator.push_fault(fault(1));
    let err = client
        .create_task(&CreateRequest::new("thunder"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerError);
    assert_eq!(requests_to(&emulator, "POST", "/text-to-sound"), 1);

    emulator.reset();
    emulator.push_fault(fault(1));
    let retried = CreateRequest {
        retry: true,
        ..CreateRequest::new("thunder")
    };
    assert!(client.create_task(&retried).is_ok());
    assert_eq!(requests_to(&emulator, "POST", "/text-to-sound"), 2);
}

#[test]
fn a_wait_past_its_deadline_times_out() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let options = WaitOptions {
        deadline: Duration::from_millis(300),
        ..quick_wait()
    };
    let started = Instant::now();
    let err = client
        .wait_for_task("demo-pending", &options, None, |_| true)
        .unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.message().contains("still PENDING"), "{err}");
    // It ends when no poll fits before the deadline any more (a tenth of the wait
    // is kept for the last poll), and never after the deadline by much.
    assert!(
        elapsed >= Duration::from_millis(270) && elapsed < GENEROUS,
        "{elapsed:?}"
    );
}

#[test]
fn cancelling_wakes_a_sleeping_wait_at_once() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let token = CancelToken::new();
    let options = WaitOptions {
        initial_interval: Duration::from_secs(60),
        max_interval: Duration::from_secs(60),
        ..quick_wait()
    };
    let (polled_tx, polled_rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| {
            let started = Instant::now();
            let result = client.wait_for_task("demo-pending", &options, Some(&token), |_| {
                let _ = polled_tx.send(());
                true
            });
            (result, started.elapsed())
        });
        polled_rx.recv().unwrap(); // the first poll happened; the waiter now sleeps 60 s
        token.cancel();
        let (result, elapsed) = waiter.join().unwrap();
        assert_eq!(result.unwrap_err().kind(), ErrorKind::Cancelled);
        assert!(
            elapsed < Duration::from_secs(10),
            "woke only after {elapsed:?}"
        );
    });
    assert_eq!(requests_to(&emulator, "GET", "/text-to-sound/"), 1);
}

#[test]
fn waiting_costs_next_to_no_cpu() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let options = WaitOptions {
        initial_interval: Duration::from_millis(500),
        max_interval: Duration::from_millis(500),
        deadline: Duration::from_millis(1_600),
        ..quick_wait()
    };
    let cpu_before = thread_cpu_time();
    let started = Instant::now();
    let err = client
        .wait_for_task("demo-pending", &options, None, |_| true)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    let cpu = thread_cpu_time() - cpu_before;
    // About 1.6 s of waiting and 4 polls; a busy loop would burn the whole 1.6 s.
    assert!(
        cpu < Duration::from_millis(200),
        "{cpu:?} of CPU over {:?}",
        started.elapsed()
    );
}

fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a writable timespec.
    assert_eq!(
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) },
        0
    );
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

#[test]
fn transient_failures_during_a_wait_are_ridden_out() {
    let emulator = emulator();
    let mut config = config_for(&emulator);
    config.set_max_retries(0).unwrap();
    let client = Client::new(config).unwrap();
    emulator.push_fault(status_fault(3, 503, &[], r#"{"detail":"busy"}"#));
    let mut failed_polls = 0;
    let info = client
        .wait_for_task("demo-success", &quick_wait(), None, |p| {
            failed_polls += usize::from(p.error.is_some());
            true
        })
        .unwrap();
    assert_eq!(info.status, TaskStatus::Success);
    assert_eq!(failed_polls, 3);
    // But a 404 ends the wait at once.
    let err = client
        .wait_for_task("no-such-task", &quick_wait(), None, |_| true)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(
        requests_to(&emulator, "GET", "/text-to-sound/no-such-task"),
        1
    );
}

#[test]
fn save_result_writes_the_whole_file() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let dir = temp_dir("save");
    let path = dir.join("sound.wav");
    let written = client.save_audio(4242, &path, None).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(written as usize, bytes.len());
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(&bytes[8..12], b"WAVE");
    assert_eq!(files_in(&dir), ["sound.wav"]);
}

#[test]
fn a_failed_download_leaves_no_file_and_keeps_the_old_one() {
    let emulator = emulator();
    let mut config = config_for(&emulator);
    config.set_max_retries(0).unwrap();
    config.set_timeout_ms(500).unwrap();
    let client = Client::new(config).unwrap();
    let dir = temp_dir("fail");
    let path = dir.join("out.wav");

    // A server error before any byte.
    emulator.push_fault(Fault {
        path_prefix: Some("/text-to-sound-result/".into()),
        respond: Some(FaultResponse {
            status: 500,
            ..FaultResponse::default()
        }),
        ..Fault::default()
    });
    assert_eq!(
        client.save_audio(4242, &path, None).unwrap_err().kind(),
        ErrorKind::ServerError
    );
    assert!(files_in(&dir).is_empty(), "{:?}", files_in(&dir));

    // A stall halfway through the body: the timeout fires after bytes were written.
    std::fs::write(&path, b"the previous file").unwrap();
    emulator.push_fault(Fault {
        path_prefix: Some("/text-to-sound-result/".into()),
        body_delay_ms: 5_000,
        ..Fault::default()
    });
    let err = client.save_audio(4242, &path, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(files_in(&dir), ["out.wav"]);
    assert_eq!(std::fs::read(&path).unwrap(), b"the previous file");

    // A run that did not succeed, and a run that does not exist.
    let err = client.save_audio(4243, &path, None).unwrap_err();
    assert_eq!(
        (err.kind(), err.http_status()),
        (ErrorKind::HttpStatus, Some(400))
    );
    assert_eq!(
        client.save_audio(987_654, &path, None).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    // A directory that does not exist.
    let err = client
        .save_audio(4242, &dir.join("missing/out.wav"), None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert_eq!(files_in(&dir), ["out.wav"]);
}

#[test]
fn a_download_can_be_stopped_by_its_sink_or_its_token() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let err = client
        .download_audio(4242, None, &mut |_| {
            Err(camb::Error::new(ErrorKind::Cancelled, "enough"))
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    let token = CancelToken::new();
    let mut chunks = 0;
    let err = client
        .download_audio(4242, Some(&token), &mut |_| {
            chunks += 1;
            token.cancel();
            Ok(())
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert_eq!(chunks, 1);
}

#[test]
fn result_urls_single_and_bulk() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let url = client.get_audio_url(4242).unwrap();
    assert!(url.starts_with(&emulator.base_url()), "{url}");
    // The pre-signed URL serves the same audio, without the key.
    let mut from_url = Vec::new();
    ureq::get(&url)
        .call()
        .unwrap()
        .body_mut()
        .as_reader()
        .read_to_end(&mut from_url)
        .unwrap();
    let mut direct = Vec::new();
    client
        .download_audio(4242, None, &mut |c| {
            direct.extend_from_slice(c);
            Ok(())
        })
        .unwrap();
    assert_eq!(from_url, direct);

    let urls = client.get_audio_urls(&[4242, 987_654]).unwrap();
    assert_eq!(urls.get(&4242), Some(&url));
    assert!(!urls.contains_key(&987_654));
    assert_eq!(
        client.get_audio_urls(&[]).unwrap_err().kind(),
        ErrorKind::InvalidParameter
    );
    let too_many: Vec<i64> = (0..1001).collect();
    assert_eq!(
        client.get_audio_urls(&too_many).unwrap_err().kind(),
        ErrorKind::InvalidParameter
    );
}
