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
fn save_audio_writes_the_whole_file() {
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
    // None asked, none given, nothing sent: as the C call does.
    let sent = emulator.stats().requests_total;
    assert!(client.get_audio_urls(&[]).unwrap().is_empty());
    assert_eq!(emulator.stats().requests_total, sent);
    let too_many: Vec<i64> = (0..1001).collect();
    assert_eq!(
        client.get_audio_urls(&too_many).unwrap_err().kind(),
        ErrorKind::InvalidParameter
    );
}

// Saving onto what is already at the path: the file at the end of any symlinks is
// replaced atomically when it is a regular file or absent; a device or a FIFO is
// written in place; anything else is refused before any request is sent.

/// The audio of `run_id` as the server sends it.
fn audio_of(client: &Client, run_id: i64) -> Vec<u8> {
    let mut audio = Vec::new();
    client
        .download_audio(run_id, None, &mut |chunk| {
            audio.extend_from_slice(chunk);
            Ok(())
        })
        .unwrap();
    audio
}

fn audio_requests(emulator: &Emulator) -> usize {
    requests_to(emulator, "GET", "/text-to-sound-result/")
}

fn symlink(target: impl AsRef<Path>, link: impl AsRef<Path>) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
}

fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).unwrap().ino()
}

/// Runs `save_audio` on a thread of its own and fails the test, instead of hanging
/// it, when the call has not returned within `limit`.
fn save_within(
    client: Client,
    path: &Path,
    limit: Duration,
) -> (Result<u64, camb::Error>, Duration) {
    let (tx, rx) = std::sync::mpsc::channel();
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        let started = Instant::now();
        let result = client.save_audio(4242, &path, None);
        let _ = tx.send((result, started.elapsed()));
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("save_audio did not return within {limit:?}"))
}

/// Asserts that saving to `path` fails with an I/O error mentioning `words`, and
/// that no audio was asked for: the refusal came before the request.
fn assert_refused_before_download(emulator: &Emulator, client: &Client, path: &Path, words: &str) {
    let err = client.save_audio(4242, path, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(err.message().contains(words), "{err}");
    assert_eq!(
        audio_requests(emulator),
        0,
        "{}: the audio was downloaded before the refusal",
        path.display()
    );
}

#[test]
fn saving_replaces_a_regular_file_atomically() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let dir = temp_dir("save-regular");
    let path = dir.join("sound.wav");
    std::fs::write(&path, b"the previous file, longer than nothing").unwrap();
    let before = inode(&path);
    // A reader that opened the old file keeps the old file: it was replaced, not
    // overwritten in place.
    let mut old = std::fs::File::open(&path).unwrap();
    let written = client.save_audio(4242, &path, None).unwrap();
    let audio = audio_of(&client, 4242);
    assert_eq!(std::fs::read(&path).unwrap(), audio);
    assert_eq!(written as usize, audio.len());
    parse_wav(&audio);
    assert_ne!(inode(&path), before, "written in place, not replaced");
    let mut kept = Vec::new();
    old.read_to_end(&mut kept).unwrap();
    assert_eq!(kept, b"the previous file, longer than nothing");
    assert!(std::fs::symlink_metadata(&path).unwrap().is_file());
    assert_eq!(files_in(&dir), ["sound.wav"]);
}

#[test]
fn saving_creates_an_absent_file() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let dir = temp_dir("save-absent");
    let path = dir.join("new.wav");
    let written = client.save_audio(4242, &path, None).unwrap();
    let audio = audio_of(&client, 4242);
    assert_eq!(written as usize, audio.len());
    assert_eq!(std::fs::read(&path).unwrap(), audio);
    assert!(std::fs::symlink_metadata(&path).unwrap().is_file());
    assert_eq!(files_in(&dir), ["new.wav"]);
}

#[test]
fn saving_through_a_symlink_replaces_its_target_and_keeps_the_link() {
    let emulator = emulator();
    let mut config = config_for(&emulator);
    config.set_max_retries(0).unwrap();
    let client = Client::new(config).unwrap();
    let dir = temp_dir("save-symlink");
    let store = dir.join("store");
    std::fs::create_dir(&store).unwrap();
    let target = store.join("real.wav");
    std::fs::write(&target, b"old").unwrap();
    let link = dir.join("link.wav");
    symlink(&target, &link);

    let written = client.save_audio(4242, &link, None).unwrap();
    let audio = audio_of(&client, 4242);
    assert_eq!(written as usize, audio.len());
    assert!(
        std::fs::symlink_metadata(&link).unwrap().is_symlink(),
        "the link was replaced by a file"
    );
    assert_eq!(std::fs::read_link(&link).unwrap(), target);
    assert_eq!(std::fs::read(&target).unwrap(), audio);
    assert_eq!(files_in(&dir), ["link.wav", "store"]);
    assert_eq!(files_in(&store), ["real.wav"]);

    // A failed download through the link leaves the target and the link as they
    // were, and no temporary file beside either.
    std::fs::write(&target, b"old").unwrap();
    emulator.push_fault(Fault {
        path_prefix: Some("/text-to-sound-result/".into()),
        respond: Some(FaultResponse {
            status: 500,
            ..FaultResponse::default()
        }),
        ..Fault::default()
    });
    let err = client.save_audio(4242, &link, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerError, "{err}");
    assert_eq!(std::fs::read(&target).unwrap(), b"old");
    assert_eq!(std::fs::read_link(&link).unwrap(), target);
    assert_eq!(files_in(&dir), ["link.wav", "store"]);
    assert_eq!(files_in(&store), ["real.wav"]);
}

#[test]
fn saving_through_a_dangling_symlink_creates_its_target() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let dir = temp_dir("save-dangling");
    let store = dir.join("store");
    std::fs::create_dir(&store).unwrap();
    let target = store.join("made.wav");
    let link = dir.join("link.wav");
    symlink(&target, &link);

    client.save_audio(4242, &link, None).unwrap();
    let audio = audio_of(&client, 4242);
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(std::fs::read_link(&link).unwrap(), target);
    assert_eq!(std::fs::read(&target).unwrap(), audio);
    assert_eq!(
        std::fs::read(&link).unwrap(),
        audio,
        "the link now resolves"
    );
    assert_eq!(files_in(&dir), ["link.wav", "store"]);
    assert_eq!(files_in(&store), ["made.wav"]);
}

#[test]
fn saving_follows_a_chain_of_symlinks_relative_to_each_links_directory() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let dir = temp_dir("save-chain");
    for sub in ["links", "final"] {
        std::fs::create_dir(dir.join(sub)).unwrap();
    }
    // first.wav -> <dir>/links/second.wav (absolute) -> ../final/end.wav (relative
    // to links/, so <dir>/final/end.wav; relative to <dir> or to the working
    // directory it would name a directory that does not exist).
    let first = dir.join("first.wav");
    let second = dir.join("links/second.wav");
    symlink(&second, &first);
    symlink("../final/end.wav", &second);
    let end = dir.join("final/end.wav");

    client.save_audio(4242, &first, None).unwrap();
    let audio = audio_of(&client, 4242);
    assert_eq!(std::fs::read(&end).unwrap(), audio);
    assert_eq!(std::fs::read_link(&first).unwrap(), second);
    assert_eq!(
        std::fs::read_link(&second).unwrap(),
        Path::new("../final/end.wav")
    );
    assert_eq!(files_in(&dir), ["final", "first.wav", "links"]);
    assert_eq!(files_in(&dir.join("links")), ["second.wav"]);
    assert_eq!(files_in(&dir.join("final")), ["end.wav"]);

    // Once the end exists, the chain leads to it again and it is replaced.
    std::fs::write(&end, b"old").unwrap();
    let before = inode(&end);
    client.save_audio(4242, &first, None).unwrap();
    assert_eq!(std::fs::read(&end).unwrap(), audio);
    assert_ne!(inode(&end), before);
    assert_eq!(files_in(&dir.join("final")), ["end.wav"]);
}

#[test]
fn a_symlink_loop_is_refused_before_downloading() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let dir = temp_dir("save-loop");
    symlink("b.wav", dir.join("a.wav"));
    symlink("a.wav", dir.join("b.wav"));
    symlink("self.wav", dir.join("self.wav"));
    for name in ["a.wav", "b.wav", "self.wav"] {
        assert_refused_before_download(&emulator, &client, &dir.join(name), "symbolic links");
    }
    assert_eq!(files_in(&dir), ["a.wav", "b.wav", "self.wav"]);
    assert_eq!(
        std::fs::read_link(dir.join("a.wav")).unwrap(),
        Path::new("b.wav")
    );
    assert_eq!(
        std::fs::read_link(dir.join("self.wav")).unwrap(),
        Path::new("self.wav")
    );
}

#[test]
fn a_directory_is_refused_before_downloading() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let dir = temp_dir("save-dir");
    let sub = dir.join("sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("keep.txt"), b"kept").unwrap();
    symlink(&sub, dir.join("to-sub"));
    for path in [sub.clone(), dir.join("to-sub"), dir.clone()] {
        assert_refused_before_download(&emulator, &client, &path, "is a directory");
    }
    assert_eq!(files_in(&dir), ["sub", "to-sub"]);
    assert_eq!(files_in(&sub), ["keep.txt"]);
}

#[test]
fn a_missing_parent_directory_is_refused_before_downloading() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let dir = temp_dir("save-no-parent");
    assert_refused_before_download(
        &emulator,
        &client,
        &dir.join("missing/out.wav"),
        "does not exist",
    );
    // Through a dangling link into a directory that does not exist.
    symlink(dir.join("gone/out.wav"), dir.join("link.wav"));
    assert_refused_before_download(&emulator, &client, &dir.join("link.wav"), "does not exist");
    // A parent that is a file.
    std::fs::write(dir.join("file"), b"x").unwrap();
    let err = client
        .save_audio(4242, &dir.join("file/out.wav"), None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert_eq!(audio_requests(&emulator), 0);
    assert_eq!(files_in(&dir), ["file", "link.wav"]);
}

#[test]
fn a_fifo_with_a_reader_gets_every_byte() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let audio = audio_of(&client, 4242);
    assert!(audio.len() > 64 << 10, "more than a pipe's buffer");
    let dir = temp_dir("save-fifo");
    let fifo = dir.join("pipe");
    mkfifo(&fifo);
    let (tx, rx) = std::sync::mpsc::channel();
    let reader_path = fifo.clone();
    std::thread::spawn(move || {
        let mut got = Vec::new();
        let result = std::fs::File::open(&reader_path).and_then(|mut f| f.read_to_end(&mut got));
        let _ = tx.send(result.map(|_| got));
    });
    let (result, _) = save_within(client, &fifo, Duration::from_secs(30));
    assert_eq!(result.unwrap() as usize, audio.len());
    let got = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the reader got its end of file")
        .unwrap();
    assert_eq!(got, audio);
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    assert_eq!(files_in(&dir), ["pipe"]);
}

#[test]
fn a_fifo_without_a_reader_fails_fast() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let dir = temp_dir("save-fifo-alone");
    let fifo = dir.join("pipe");
    mkfifo(&fifo);
    let (result, elapsed) = save_within(client, &fifo, Duration::from_secs(30));
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(err.message().contains("no reader"), "{err}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert_eq!(audio_requests(&emulator), 0);
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    assert_eq!(files_in(&dir), ["pipe"]);
}

/// The thread saving in `a_fifo_reader_that_leaves_early_gives_an_error_not_a_signal`.
static SAVING_THREAD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);
static SIGPIPE_ON_SAVING_THREAD: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

extern "C" fn note_sigpipe(_: libc::c_int) {
    use std::sync::atomic::Ordering::SeqCst;
    // SAFETY: gettid has no preconditions; atomics are signal-safe.
    if unsafe { libc::gettid() } == SAVING_THREAD.load(SeqCst) {
        SIGPIPE_ON_SAVING_THREAD.store(true, SeqCst);
    }
}

#[test]
fn a_fifo_reader_that_leaves_early_gives_an_error_not_a_signal() {
    use std::sync::atomic::Ordering::SeqCst;
    // Rust programs ignore SIGPIPE; C programs mostly do not, and there a write to a
    // pipe whose reader has gone kills the process. Instead of the default action
    // (which would end this whole test binary), a handler notes whether the signal
    // reached the saving thread; other threads' signals are harmless to it.
    // SAFETY: a handler that only calls gettid and touches atomics.
    let previous = unsafe {
        libc::signal(
            libc::SIGPIPE,
            note_sigpipe as *const () as libc::sighandler_t,
        )
    };
    let emulator = emulator();
    let client = client_for(&emulator);
    let dir = temp_dir("save-fifo-early");
    let fifo = dir.join("pipe");
    mkfifo(&fifo);
    let (read_tx, read_rx) = std::sync::mpsc::channel();
    let reader_path = fifo.clone();
    std::thread::spawn(move || {
        let mut file = std::fs::File::open(&reader_path).unwrap();
        let mut first = [0u8; 4];
        file.read_exact(&mut first).unwrap();
        drop(file); // gone, with most of the audio unread
        let _ = read_tx.send(first);
    });
    let (saved_tx, saved_rx) = std::sync::mpsc::channel();
    let save_path = fifo.clone();
    std::thread::spawn(move || {
        // SAFETY: no preconditions.
        SAVING_THREAD.store(unsafe { libc::gettid() }, SeqCst);
        let _ = saved_tx.send(client.save_audio(4242, &save_path, None));
    });
    let result = saved_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("save_audio returned");
    let first = read_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the reader read from the FIFO");
    // SAFETY: restoring the disposition this test replaced.
    unsafe { libc::signal(libc::SIGPIPE, previous) };
    assert_eq!(&first, b"RIFF");
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(
        !SIGPIPE_ON_SAVING_THREAD.load(SeqCst),
        "SIGPIPE was delivered to the saving thread"
    );
    assert_eq!(files_in(&dir), ["pipe"]);
}

#[test]
fn dev_null_is_written_in_place() {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let null = Path::new("/dev/null");
    let before = std::fs::metadata(null).unwrap();
    assert!(before.file_type().is_char_device());
    let emulator = emulator();
    let client = client_for(&emulator);
    let written = client.save_audio(4242, null, None).unwrap();
    assert_eq!(written as usize, audio_of(&client, 4242).len());
    let after = std::fs::symlink_metadata(null).unwrap();
    assert!(
        after.file_type().is_char_device(),
        "/dev/null was replaced by a file"
    );
    assert_eq!((after.ino(), after.rdev()), (before.ino(), before.rdev()));
    let leftovers: Vec<String> = files_in(Path::new("/dev"))
        .into_iter()
        .filter(|n| n.starts_with(".null."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // /dev/full takes no byte: the device's error comes back, and it stays a device.
    let full = Path::new("/dev/full");
    if let Ok(before) = std::fs::metadata(full) {
        let err = client.save_audio(4242, full, None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io, "{err}");
        assert!(err.message().contains("/dev/full"), "{err}");
        let after = std::fs::symlink_metadata(full).unwrap();
        assert!(after.file_type().is_char_device(), "/dev/full was replaced");
        assert_eq!((after.ino(), after.rdev()), (before.ino(), before.rdev()));
    }
}

#[test]
fn a_unix_socket_is_refused_before_downloading() {
    use std::os::unix::fs::FileTypeExt;
    let emulator = emulator();
    let client = client_for(&emulator);
    let dir = temp_dir("save-socket");
    let socket = dir.join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    assert_refused_before_download(&emulator, &client, &socket, "socket");
    assert!(
        std::fs::symlink_metadata(&socket)
            .unwrap()
            .file_type()
            .is_socket()
    );
    assert_eq!(files_in(&dir), ["sock"]);
}

fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// This process's umask, read without changing it (tests run on many threads).
fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("Umask:"))
        .expect("Linux tells the umask in /proc/self/status");
    u32::from_str_radix(line.trim(), 8).unwrap()
}

/// A replaced file keeps its mode, as `cp` over it or an editor would keep it,
/// also when it is reached through a symlink; a new file gets `0666 & ~umask`.
#[test]
fn saving_over_a_file_keeps_its_mode() {
    let emulator = emulator();
    let client = client_for(&emulator);
    let dir = temp_dir("save-mode");
    let audio = audio_of(&client, 4242);
    for mode in [0o640, 0o600, 0o604, 0o755] {
        let path = dir.join(format!("private-{mode:o}.wav"));
        std::fs::write(&path, b"old").unwrap();
        set_mode(&path, mode);
        client.save_audio(4242, &path, None).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), audio);
        assert_eq!(mode_of(&path), mode, "{mode:o} was not kept");
    }

    let target = dir.join("target.wav");
    std::fs::write(&target, b"old").unwrap();
    set_mode(&target, 0o640);
    let link = dir.join("link.wav");
    symlink(&target, &link);
    client.save_audio(4242, &link, None).unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), audio);
    assert_eq!(mode_of(&target), 0o640, "through the link");
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());

    let new = dir.join("new.wav");
    client.save_audio(4242, &new, None).unwrap();
    assert_eq!(mode_of(&new), 0o666 & !umask(), "a new file");
}

/// A replaced file keeps its owner where the process may set it (root may; CI
/// runs as root): a root program saving over a user's file leaves it the user's.
#[test]
fn saving_over_a_file_keeps_its_owner_where_allowed() {
    use std::os::unix::fs::MetadataExt;
    let emulator = emulator();
    let client = client_for(&emulator);
    let dir = temp_dir("save-owner");
    let path = dir.join("theirs.wav");
    std::fs::write(&path, b"old").unwrap();
    // SAFETY: no arguments.
    let root = unsafe { libc::geteuid() } == 0;
    let owner = if root {
        std::os::unix::fs::chown(&path, Some(4321), Some(4322)).unwrap();
        (4321, 4322)
    } else {
        let metadata = std::fs::metadata(&path).unwrap();
        (metadata.uid(), metadata.gid())
    };
    client.save_audio(4242, &path, None).unwrap();
    let metadata = std::fs::metadata(&path).unwrap();
    assert_eq!((metadata.uid(), metadata.gid()), owner);
    assert_eq!(std::fs::read(&path).unwrap(), audio_of(&client, 4242));
}
