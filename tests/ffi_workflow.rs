//! The workflow functions of the C ABI through the rlib: create, wait (progress,
//! cancellation), download, save, URLs, and every NULL and bad input.

mod common;

use std::ffi::{CStr, CString, c_char, c_void};
use std::ptr;
use std::time::{Duration, Instant};

use camb::ffi::builder::*;
use camb::ffi::cancel::*;
use camb::ffi::client::*;
use camb::ffi::create::*;
use camb::ffi::result::{camb_result, camb_status};
use camb::ffi::results::*;
use camb::ffi::task_info::camb_task_info;
use camb::ffi::wait::*;
use common::*;

fn client_for_url(base_url: &str, max_retries: u32) -> *mut camb_client {
    let builder = camb_client_builder_new();
    let mut client = ptr::null_mut();
    unsafe {
        camb_client_builder_set_api_key(builder, c(DEFAULT_API_KEY).as_ptr());
        camb_client_builder_set_base_url(builder, c(base_url).as_ptr());
        camb_client_builder_set_max_retries(builder, max_retries);
        camb_client_builder_set_timeout_ms(builder, 10_000);
        assert_eq!(
            camb_client_builder_build(builder, &mut client),
            camb_result::Ok,
            "{}",
            last_error()
        );
    }
    client
}

fn empty_info() -> camb_task_info {
    camb_task_info {
        status: 0xdead,
        has_run_id: false,
        run_id: 0,
        status_text: ptr::null(),
        status_text_len: 0,
        exception_reason: ptr::null(),
        exception_reason_len: 0,
        message: ptr::null(),
        message_len: 0,
    }
}

fn quick_wait() -> camb_wait_options {
    camb_wait_options {
        initial_interval_ms: 20,
        backoff_factor: 1.5,
        max_interval_ms: 100,
        deadline_ms: 10_000,
    }
}

fn create(
    client: *const camb_client,
    prompt: &str,
    options: Option<&camb_create_options>,
) -> (camb_result, String) {
    let mut id = [0 as c_char; CAMB_TASK_ID_BUFFER_SIZE];
    let options = options.map_or(ptr::null(), |o| o as *const _);
    let result = unsafe {
        camb_client_create_task(
            client,
            c(prompt).as_ptr(),
            options,
            id.as_mut_ptr(),
            id.len(),
        )
    };
    let id = unsafe { CStr::from_ptr(id.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    (result, id)
}

/// What the progress callback saw, collected through `user_data`.
#[derive(Default)]
struct Seen {
    polls: Vec<(u32, u32, bool, bool, String)>,
    stop_after: Option<u32>,
}

unsafe extern "C" fn record_progress(
    progress: *const camb_wait_progress,
    user_data: *mut c_void,
) -> bool {
    // SAFETY: libcamb passes a valid progress; user_data is the test's &mut Seen.
    let (progress, seen) = unsafe { (&*progress, &mut *user_data.cast::<Seen>()) };
    let text = if progress.status_text.is_null() {
        String::new()
    } else {
        // SAFETY: pointer + length from libcamb, valid during the callback.
        let bytes = unsafe {
            std::slice::from_raw_parts(progress.status_text.cast::<u8>(), progress.status_text_len)
        };
        String::from_utf8_lossy(bytes).into_owned()
    };
    seen.polls.push((
        progress.polls,
        progress.poll_result,
        progress.status_changed,
        progress.done,
        text,
    ));
    seen.stop_after.is_none_or(|n| progress.polls < n)
}

#[test]
fn create_then_wait_with_progress_then_save() {
    let emulator = emulator();
    let client = client_for_url(&emulator.base_url(), 2);
    let mut options = camb_create_options_default();
    options.duration_s = 1.0;
    options.audio_type = camb_audio_type::Sound as u32;
    let project = c("my project");
    options.project_name = project.as_ptr();
    options.has_folder_id = true;
    options.folder_id = 17;
    let (result, task_id) = create(client, "a bell [pending_ms:100]", Some(&options));
    assert_eq!(result, camb_result::Ok, "{}", last_error());
    assert!(!task_id.is_empty());
    let body = emulator.stats().requests.last().unwrap().body.clone();
    assert_eq!(
        body,
        r#"{"prompt":"a bell [pending_ms:100]","duration":1.0,"audio_type":"sound","project_name":"my project","folder_id":17}"#
    );

    let mut seen = Seen::default();
    let mut info = empty_info();
    let result = unsafe {
        camb_client_wait_for_task(
            client,
            c(&task_id).as_ptr(),
            &quick_wait(),
            ptr::null(),
            Some(record_progress),
            (&mut seen as *mut Seen).cast(),
            &mut info,
        )
    };
    assert_eq!(result, camb_result::Ok, "{}", last_error());
    assert_eq!(info.status, camb_status::Success as u32);
    assert!(info.has_run_id);
    let first = &seen.polls[0];
    assert_eq!(
        (first.0, first.1, first.2, first.3, first.4.as_str()),
        (1, 0, true, false, "PENDING")
    );
    let last = seen.polls.last().unwrap();
    assert_eq!((last.2, last.3, last.4.as_str()), (true, true, "SUCCESS"));

    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ffi-save-{}.wav", std::process::id()));
    let mut bytes = 0u64;
    let c_path = c(path.to_str().unwrap());
    let result = unsafe {
        camb_client_save_result(
            client,
            info.run_id,
            c_path.as_ptr(),
            ptr::null(),
            &mut bytes,
        )
    };
    assert_eq!(result, camb_result::Ok, "{}", last_error());
    let file = std::fs::read(&path).unwrap();
    assert_eq!(file.len() as u64, bytes);
    assert_eq!(
        file,
        camb_emulator::wav::render("a bell [pending_ms:100]", "sound", 1.0)
    );
    std::fs::remove_file(&path).unwrap();
    unsafe { camb_client_free(client) };
}

#[test]
fn create_refuses_bad_input_before_sending() {
    let emulator = emulator();
    let client = client_for_url(&emulator.base_url(), 2);
    let mut id = [0 as c_char; CAMB_TASK_ID_BUFFER_SIZE];
    let prompt = c("a bell");
    unsafe {
        assert_eq!(create(client, "", None).0, camb_result::InvalidParameter);
        let mut long_sound = camb_create_options_default();
        long_sound.duration_s = 11.0;
        assert_eq!(
            create(client, "x", Some(&long_sound)).0,
            camb_result::InvalidParameter
        );
        assert!(last_error().contains("10"), "{}", last_error());
        let mut bad_type = camb_create_options_default();
        bad_type.audio_type = 7;
        assert_eq!(
            create(client, "x", Some(&bad_type)).0,
            camb_result::InvalidParameter
        );
        let mut nan = camb_create_options_default();
        nan.duration_s = f64::NAN;
        assert_eq!(
            create(client, "x", Some(&nan)).0,
            camb_result::InvalidParameter
        );
        let bad_utf8 = CString::new(vec![0xff]).unwrap();
        let mut bad_project = camb_create_options_default();
        bad_project.project_name = bad_utf8.as_ptr();
        assert_eq!(
            create(client, "x", Some(&bad_project)).0,
            camb_result::InvalidParameter
        );
        // A buffer too small for any id is refused up front: a paid task's id is never lost.
        assert_eq!(
            camb_client_create_task(client, prompt.as_ptr(), ptr::null(), id.as_mut_ptr(), 64),
            camb_result::InvalidParameter
        );
        assert!(last_error().contains("CAMB_TASK_ID_BUFFER_SIZE"));
        assert_eq!(
            camb_client_create_task(
                ptr::null(),
                prompt.as_ptr(),
                ptr::null(),
                id.as_mut_ptr(),
                id.len()
            ),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_create_task(client, ptr::null(), ptr::null(), id.as_mut_ptr(), id.len()),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_create_task(
                client,
                prompt.as_ptr(),
                ptr::null(),
                ptr::null_mut(),
                id.len()
            ),
            camb_result::NullParameter
        );
    }
    assert_eq!(emulator.stats().requests_total, 0);
    // The server's own validation comes back as VALIDATION with its words.
    let mut long_music = camb_create_options_default();
    long_music.audio_type = camb_audio_type::Music as u32;
    long_music.duration_s = 700.0;
    assert_eq!(
        create(client, "an opera", Some(&long_music)).0,
        camb_result::Validation
    );
    assert!(last_error().contains("body.duration"), "{}", last_error());
    unsafe { camb_client_free(client) };
}

#[test]
fn a_token_cancels_a_sleeping_wait_from_another_thread() {
    let emulator = emulator();
    let client = client_for_url(&emulator.base_url(), 2) as usize;
    let token = camb_cancel_token_new() as usize;
    let waiter = std::thread::spawn(move || {
        let options = camb_wait_options {
            initial_interval_ms: 60_000,
            max_interval_ms: 60_000,
            ..quick_wait()
        };
        let mut info = empty_info();
        let started = Instant::now();
        let result = unsafe {
            camb_client_wait_for_task(
                client as *const camb_client,
                c("demo-pending").as_ptr(),
                &options,
                token as *const camb_cancel_token,
                None,
                ptr::null_mut(),
                &mut info,
            )
        };
        (result, started.elapsed(), last_error(), info.status)
    });
    // Cancel once the first poll has been made and the waiter sleeps.
    let deadline = Instant::now() + GENEROUS;
    while emulator.stats().requests_total == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    unsafe {
        assert!(!camb_cancel_token_is_cancelled(
            token as *const camb_cancel_token
        ));
        assert_eq!(
            camb_cancel_token_cancel(token as *const camb_cancel_token),
            camb_result::Ok
        );
        assert!(camb_cancel_token_is_cancelled(
            token as *const camb_cancel_token
        ));
    }
    let (result, elapsed, message, status) = waiter.join().unwrap();
    assert_eq!(result, camb_result::Cancelled, "{message}");
    assert!(elapsed < Duration::from_secs(10), "woke after {elapsed:?}");
    assert_eq!(status, 0xdead, "out_info untouched on failure");
    unsafe {
        assert_eq!(
            camb_cancel_token_reset(token as *const camb_cancel_token),
            camb_result::Ok
        );
        assert!(!camb_cancel_token_is_cancelled(
            token as *const camb_cancel_token
        ));
        camb_cancel_token_free(token as *mut camb_cancel_token);
        camb_client_free(client as *mut camb_client);
    }
}

#[test]
fn the_progress_callback_can_stop_the_wait_and_the_deadline_ends_it() {
    let emulator = emulator();
    let client = client_for_url(&emulator.base_url(), 2);
    let mut seen = Seen {
        stop_after: Some(3),
        ..Seen::default()
    };
    let mut info = empty_info();
    let id = c("demo-pending");
    unsafe {
        let result = camb_client_wait_for_task(
            client,
            id.as_ptr(),
            &quick_wait(),
            ptr::null(),
            Some(record_progress),
            (&mut seen as *mut Seen).cast(),
            &mut info,
        );
        assert_eq!(result, camb_result::Cancelled);
        assert_eq!(seen.polls.len(), 3);
        let short = camb_wait_options {
            deadline_ms: 200,
            ..quick_wait()
        };
        let result = camb_client_wait_for_task(
            client,
            id.as_ptr(),
            &short,
            ptr::null(),
            None,
            ptr::null_mut(),
            &mut info,
        );
        assert_eq!(result, camb_result::Timeout);
        assert!(last_error().contains("still PENDING"), "{}", last_error());
        // Bad options and NULLs.
        let bad = camb_wait_options {
            backoff_factor: 0.0,
            ..quick_wait()
        };
        assert_eq!(
            camb_client_wait_for_task(
                client,
                id.as_ptr(),
                &bad,
                ptr::null(),
                None,
                ptr::null_mut(),
                &mut info
            ),
            camb_result::InvalidParameter
        );
        assert_eq!(
            camb_client_wait_for_task(
                client,
                id.as_ptr(),
                ptr::null(),
                ptr::null(),
                None,
                ptr::null_mut(),
                ptr::null_mut()
            ),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_wait_for_task(
                client,
                ptr::null(),
                ptr::null(),
                ptr::null(),
                None,
                ptr::null_mut(),
                &mut info
            ),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_wait_for_task(
                ptr::null(),
                id.as_ptr(),
                ptr::null(),
                ptr::null(),
                None,
                ptr::null_mut(),
                &mut info
            ),
            camb_result::NullParameter
        );
        // NULL options mean the defaults: a final task returns on the first poll.
        let done = c("demo-error");
        assert_eq!(
            camb_client_wait_for_task(
                client,
                done.as_ptr(),
                ptr::null(),
                ptr::null(),
                None,
                ptr::null_mut(),
                &mut info
            ),
            camb_result::Ok
        );
        assert_eq!(info.status, camb_status::Error as u32);
        camb_client_free(client);
    }
    let defaults = camb_wait_options_default();
    assert_eq!(
        (
            defaults.initial_interval_ms,
            defaults.max_interval_ms,
            defaults.deadline_ms
        ),
        (2_000, 15_000, 600_000)
    );
    assert_eq!(defaults.backoff_factor, 1.5);
}

unsafe extern "C" fn collect(data: *const u8, len: usize, user_data: *mut c_void) -> bool {
    // SAFETY: libcamb passes `len` valid bytes; user_data is the test's Vec.
    let (chunk, out) = unsafe {
        (
            std::slice::from_raw_parts(data, len),
            &mut *user_data.cast::<Vec<u8>>(),
        )
    };
    out.extend_from_slice(chunk);
    true
}

unsafe extern "C" fn refuse(_: *const u8, _: usize, _: *mut c_void) -> bool {
    false
}

#[test]
fn download_to_a_callback_and_urls() {
    let emulator = emulator();
    let client = client_for_url(&emulator.base_url(), 2);
    let mut audio: Vec<u8> = Vec::new();
    let mut total = 0u64;
    unsafe {
        let result = camb_client_download_result(
            client,
            4242,
            ptr::null(),
            Some(collect),
            (&mut audio as *mut Vec<u8>).cast(),
            &mut total,
        );
        assert_eq!(result, camb_result::Ok, "{}", last_error());
        assert_eq!(audio.len() as u64, total);
        assert_eq!(&audio[..4], b"RIFF");
        let result = camb_client_download_result(
            client,
            4242,
            ptr::null(),
            Some(refuse),
            ptr::null_mut(),
            ptr::null_mut(),
        );
        assert_eq!(result, camb_result::Cancelled);
        assert!(last_error().contains("write callback"), "{}", last_error());
        assert_eq!(
            camb_client_download_result(
                client,
                4242,
                ptr::null(),
                None,
                ptr::null_mut(),
                ptr::null_mut()
            ),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_download_result(
                client,
                987_654,
                ptr::null(),
                Some(collect),
                (&mut audio as *mut Vec<u8>).cast(),
                ptr::null_mut()
            ),
            camb_result::NotFound
        );

        // The URL, with the size-query protocol.
        let mut needed = 0usize;
        assert_eq!(
            camb_client_get_result_url(client, 4242, ptr::null_mut(), 0, &mut needed),
            camb_result::BufferTooSmall
        );
        assert!(needed > 10);
        let mut small = [0 as c_char; 8];
        small[0] = 42;
        assert_eq!(
            camb_client_get_result_url(
                client,
                4242,
                small.as_mut_ptr(),
                small.len(),
                ptr::null_mut()
            ),
            camb_result::BufferTooSmall
        );
        assert_eq!(small[0], 42, "buffer untouched");
        let mut buffer = vec![0 as c_char; needed + 1];
        let mut len = 0usize;
        assert_eq!(
            camb_client_get_result_url(client, 4242, buffer.as_mut_ptr(), buffer.len(), &mut len),
            camb_result::Ok
        );
        let url = CStr::from_ptr(buffer.as_ptr()).to_str().unwrap().to_owned();
        assert_eq!(url.len(), len);
        assert!(url.starts_with(&emulator.base_url()), "{url}");
        assert_eq!(
            camb_client_get_result_url(client, 4242, ptr::null_mut(), 5, &mut len),
            camb_result::NullParameter
        );

        // Bulk, in input order, NULL for runs without a URL.
        let ids = [987_654i64, 4242];
        let mut out = [camb_result_url {
            run_id: 0,
            url: ptr::null(),
            url_len: 0,
        }; 2];
        assert_eq!(
            camb_client_get_result_urls(client, ids.as_ptr(), ids.len(), out.as_mut_ptr()),
            camb_result::Ok
        );
        assert_eq!((out[0].run_id, out[0].url.is_null()), (987_654, true));
        assert_eq!(out[1].run_id, 4242);
        let bulk = std::slice::from_raw_parts(out[1].url.cast::<u8>(), out[1].url_len);
        assert_eq!(bulk, url.as_bytes());
        assert_eq!(
            camb_client_get_result_urls(client, ids.as_ptr(), 0, out.as_mut_ptr()),
            camb_result::InvalidParameter
        );
        assert_eq!(
            camb_client_get_result_urls(client, ptr::null(), 2, out.as_mut_ptr()),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_get_result_urls(client, ids.as_ptr(), 2, ptr::null_mut()),
            camb_result::NullParameter
        );
        camb_client_free(client);
    }
}

#[test]
fn save_result_failures_leave_nothing_behind() {
    let emulator = emulator();
    let client = client_for_url(&emulator.base_url(), 0);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ffi-save-fail-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = c(dir.join("x.wav").to_str().unwrap());
    unsafe {
        emulator.push_fault(Fault {
            path_prefix: Some("/text-to-sound-result/".into()),
            respond: Some(FaultResponse {
                status: 503,
                ..FaultResponse::default()
            }),
            ..Fault::default()
        });
        assert_eq!(
            camb_client_save_result(client, 4242, path.as_ptr(), ptr::null(), ptr::null_mut()),
            camb_result::ServerError
        );
        let token = camb_cancel_token_new();
        camb_cancel_token_cancel(token);
        assert_eq!(
            camb_client_save_result(client, 4242, path.as_ptr(), token, ptr::null_mut()),
            camb_result::Cancelled
        );
        camb_cancel_token_free(token);
        let missing_dir = c(dir.join("no/such/dir.wav").to_str().unwrap());
        assert_eq!(
            camb_client_save_result(
                client,
                4242,
                missing_dir.as_ptr(),
                ptr::null(),
                ptr::null_mut()
            ),
            camb_result::Io
        );
        assert!(last_error().contains("cannot create"), "{}", last_error());
        assert_eq!(
            camb_client_save_result(client, 4242, c("").as_ptr(), ptr::null(), ptr::null_mut()),
            camb_result::InvalidParameter
        );
        assert_eq!(
            camb_client_save_result(client, 4242, ptr::null(), ptr::null(), ptr::null_mut()),
            camb_result::NullParameter
        );
        camb_client_free(client);
    }
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "something was left behind"
    );
}

#[test]
fn save_result_writes_through_symlinks_and_refuses_what_cannot_take_audio() {
    use std::os::unix::fs::FileTypeExt;
    let emulator = emulator();
    let client = client_for_url(&emulator.base_url(), 0);
    let audio_requests = || {
        emulator
            .stats()
            .requests
            .iter()
            .filter(|r| r.path.starts_with("/text-to-sound-result/"))
            .count()
    };
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ffi-save-kinds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let target = dir.join("real.wav");
    std::fs::write(&target, b"old").unwrap();
    let link = dir.join("link.wav");
    std::os::unix::fs::symlink("real.wav", &link).unwrap();
    let fifo = dir.join("pipe");
    let fifo_c = c(fifo.to_str().unwrap());
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo_c.as_ptr(), 0o600) }, 0);
    let mut bytes = 0u64;
    unsafe {
        assert_eq!(
            camb_client_save_result(
                client,
                4242,
                c(link.to_str().unwrap()).as_ptr(),
                ptr::null(),
                &mut bytes
            ),
            camb_result::Ok,
            "{}",
            last_error()
        );
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        let saved = std::fs::read(&target).unwrap();
        assert_eq!(saved.len() as u64, bytes);
        assert_eq!(&saved[..4], b"RIFF");
        let asked = audio_requests();

        // Refused before any request; out_bytes untouched.
        bytes = 7;
        assert_eq!(
            camb_client_save_result(
                client,
                4242,
                c(dir.to_str().unwrap()).as_ptr(),
                ptr::null(),
                &mut bytes
            ),
            camb_result::Io
        );
        assert!(last_error().contains("is a directory"), "{}", last_error());
        let started = Instant::now();
        assert_eq!(
            camb_client_save_result(client, 4242, fifo_c.as_ptr(), ptr::null(), &mut bytes),
            camb_result::Io
        );
        assert!(last_error().contains("no reader"), "{}", last_error());
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(bytes, 7);
        assert_eq!(audio_requests(), asked);
        camb_client_free(client);
    }
    assert!(std::fs::metadata(&dir).unwrap().is_dir());
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["link.wav", "pipe", "real.wav"]);
}

#[test]
fn cancel_tokens_accept_null() {
    unsafe {
        assert_eq!(
            camb_cancel_token_cancel(ptr::null()),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_cancel_token_reset(ptr::null()),
            camb_result::NullParameter
        );
        assert!(!camb_cancel_token_is_cancelled(ptr::null()));
        camb_cancel_token_free(ptr::null_mut());
    }
}
