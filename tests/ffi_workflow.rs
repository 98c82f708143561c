//! The workflow functions of the C ABI through the rlib: create, wait (progress,
//! cancellation), download, save, URLs, and every NULL and bad input.

mod common;

use std::ffi::{CStr, CString, c_char, c_void};
use std::ptr;
use std::time::{Duration, Instant};

use camb::ffi::audio::*;
use camb::ffi::builder::*;
use camb::ffi::cancel::*;
use camb::ffi::client::*;
use camb::ffi::create::*;
use camb::ffi::result_code::{camb_result, camb_status};
use camb::ffi::string::camb_string_free;
use camb::ffi::task::*;
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

/// The out-pointer of a call that makes a task: NULL until a call succeeds.
fn empty_info() -> *mut camb_task {
    ptr::null_mut()
}

fn quick_wait() -> camb_wait_options {
    camb_wait_options {
        initial_interval_ms: 20,
        backoff_factor: 1.5,
        max_interval_ms: 100,
        deadline_ms: 10_000,
        ..camb_wait_options_default()
    }
}

fn create(
    client: *const camb_client,
    prompt: &str,
    options: Option<&camb_create_options>,
) -> (camb_result, String) {
    let mut id: *mut c_char = ptr::null_mut();
    let mut len = usize::MAX;
    let options = options.map_or(ptr::null(), |o| o as *const _);
    let result = unsafe {
        camb_client_create_task(
            client,
            c(prompt).as_ptr(),
            options,
            ptr::null(),
            &mut id,
            &mut len,
        )
    };
    if result != camb_result::Ok {
        assert!(id.is_null(), "out_task_id written on failure");
        return (result, String::new());
    }
    let text = unsafe { CStr::from_ptr(id) }.to_str().unwrap().to_owned();
    assert_eq!(text.len(), len);
    unsafe { camb_string_free(id) };
    (result, text)
}

/// What the progress callback saw, collected through `user_data`.
#[derive(Default)]
struct Seen {
    polls: Vec<(u32, u32, bool, bool, String)>,
    http_statuses: Vec<u16>,
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
    seen.http_statuses.push(progress.http_status);
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
    let view = read_task(info);
    unsafe { camb_task_free(info) };
    assert_eq!(view.status, camb_status::Success);
    assert_eq!(view.task_id, task_id);
    let run_id = view.run_id.unwrap();
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
    let result =
        unsafe { camb_client_save_audio(client, run_id, c_path.as_ptr(), ptr::null(), &mut bytes) };
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
    let mut id: *mut c_char = ptr::null_mut();
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
        assert_eq!(
            camb_client_create_task(
                ptr::null(),
                prompt.as_ptr(),
                ptr::null(),
                ptr::null(),
                &mut id,
                ptr::null_mut()
            ),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_create_task(
                client,
                ptr::null(),
                ptr::null(),
                ptr::null(),
                &mut id,
                ptr::null_mut()
            ),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_create_task(
                client,
                prompt.as_ptr(),
                ptr::null(),
                ptr::null(),
                ptr::null_mut(),
                ptr::null_mut()
            ),
            camb_result::NullParameter
        );
        assert!(id.is_null());
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
        (result, started.elapsed(), last_error(), info.is_null())
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
    let (result, elapsed, message, untouched) = waiter.join().unwrap();
    assert_eq!(result, camb_result::Cancelled, "{message}");
    assert!(elapsed < Duration::from_secs(10), "woke after {elapsed:?}");
    assert!(untouched, "out_task untouched on failure");
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
        assert_eq!(read_task(info).status, camb_status::Error);
        camb_task_free(info);
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
        let result = camb_client_download_audio(
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
        let result = camb_client_download_audio(
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
            camb_client_download_audio(
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
            camb_client_download_audio(
                client,
                987_654,
                ptr::null(),
                Some(collect),
                (&mut audio as *mut Vec<u8>).cast(),
                ptr::null_mut()
            ),
            camb_result::NotFound
        );

        // The URL: a string the caller owns.
        let mut url_ptr: *mut c_char = ptr::null_mut();
        let mut len = 0usize;
        assert_eq!(
            camb_client_get_audio_url(client, 4242, ptr::null(), &mut url_ptr, &mut len),
            camb_result::Ok
        );
        let url = CStr::from_ptr(url_ptr).to_str().unwrap().to_owned();
        camb_string_free(url_ptr);
        assert_eq!(url.len(), len);
        assert!(url.starts_with(&emulator.base_url()), "{url}");
        let mut untouched: *mut c_char = ptr::null_mut();
        assert_eq!(
            camb_client_get_audio_url(
                client,
                987_654,
                ptr::null(),
                &mut untouched,
                ptr::null_mut()
            ),
            camb_result::NotFound
        );
        assert!(untouched.is_null());
        assert_eq!(
            camb_client_get_audio_url(client, 4242, ptr::null(), ptr::null_mut(), &mut len),
            camb_result::NullParameter
        );

        // Bulk, in input order, NULL for runs without a URL.
        let ids = [987_654i64, 4242];
        let mut list: *mut camb_audio_url_list = ptr::null_mut();
        assert_eq!(
            camb_client_get_audio_urls(client, ids.as_ptr(), ids.len(), ptr::null(), &mut list),
            camb_result::Ok
        );
        assert_eq!(camb_audio_url_list_len(list), 2);
        let (mut run_id, mut url_len) = (0i64, usize::MAX);
        let none = camb_audio_url_list_get(list, 0, &mut run_id, &mut url_len);
        assert_eq!((none.is_null(), run_id, url_len), (true, 987_654, 0));
        let bulk = camb_audio_url_list_get(list, 1, &mut run_id, &mut url_len);
        assert_eq!(run_id, 4242);
        assert_eq!(c_text(bulk, url_len).unwrap(), url);
        // Past the end: NULL, and the run id left alone.
        run_id = -1;
        assert!(camb_audio_url_list_get(list, 2, &mut run_id, ptr::null_mut()).is_null());
        assert_eq!(run_id, -1);
        camb_audio_url_list_free(list);
        // NULL lists read as empty, and freeing NULL does nothing.
        assert_eq!(camb_audio_url_list_len(ptr::null()), 0);
        assert!(
            camb_audio_url_list_get(ptr::null(), 0, ptr::null_mut(), ptr::null_mut()).is_null()
        );
        camb_audio_url_list_free(ptr::null_mut());
        // A run id asked for twice gets its URL twice.
        let twice = [4242i64, 987_654, 4242];
        let mut list: *mut camb_audio_url_list = ptr::null_mut();
        assert_eq!(
            camb_client_get_audio_urls(client, twice.as_ptr(), twice.len(), ptr::null(), &mut list),
            camb_result::Ok
        );
        for (index, expected) in [(0, Some(&url)), (1, None), (2, Some(&url))] {
            let got = camb_audio_url_list_get(list, index, ptr::null_mut(), &mut url_len);
            assert_eq!(c_text(got, url_len).as_ref(), expected, "entry {index}");
        }
        camb_audio_url_list_free(list);
        // None asked: an empty list, and no request.
        let requests = emulator.stats().requests_total;
        let mut list: *mut camb_audio_url_list = ptr::null_mut();
        assert_eq!(
            camb_client_get_audio_urls(client, ptr::null(), 0, ptr::null(), &mut list),
            camb_result::Ok
        );
        assert_eq!(camb_audio_url_list_len(list), 0);
        camb_audio_url_list_free(list);
        assert_eq!(emulator.stats().requests_total, requests);
        let mut list: *mut camb_audio_url_list = ptr::null_mut();
        assert_eq!(
            camb_client_get_audio_urls(client, ids.as_ptr(), 1001, ptr::null(), &mut list),
            camb_result::InvalidParameter
        );
        assert_eq!(
            camb_client_get_audio_urls(client, ptr::null(), 2, ptr::null(), &mut list),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_get_audio_urls(client, ids.as_ptr(), 2, ptr::null(), ptr::null_mut()),
            camb_result::NullParameter
        );
        assert!(list.is_null());
        camb_client_free(client);
    }
}

#[test]
fn save_audio_failures_leave_nothing_behind() {
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
            camb_client_save_audio(client, 4242, path.as_ptr(), ptr::null(), ptr::null_mut()),
            camb_result::ServerError
        );
        let token = camb_cancel_token_new();
        camb_cancel_token_cancel(token);
        assert_eq!(
            camb_client_save_audio(client, 4242, path.as_ptr(), token, ptr::null_mut()),
            camb_result::Cancelled
        );
        camb_cancel_token_free(token);
        let missing_dir = c(dir.join("no/such/dir.wav").to_str().unwrap());
        assert_eq!(
            camb_client_save_audio(
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
            camb_client_save_audio(client, 4242, c("").as_ptr(), ptr::null(), ptr::null_mut()),
            camb_result::InvalidParameter
        );
        assert_eq!(
            camb_client_save_audio(client, 4242, ptr::null(), ptr::null(), ptr::null_mut()),
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
fn save_audio_writes_through_symlinks_and_refuses_what_cannot_take_audio() {
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
            camb_client_save_audio(
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
            camb_client_save_audio(
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
            camb_client_save_audio(client, 4242, fifo_c.as_ptr(), ptr::null(), &mut bytes),
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

/// An older program sends a shorter options struct: the fields it has are read,
/// the others take their defaults (a field only partly inside counts as absent).
/// A newer program's longer struct is refused before anything is sent.
#[test]
fn options_of_another_size_are_read_by_their_struct_size() {
    use std::mem::{offset_of, size_of};
    let emulator = emulator();
    let client = client_for_url(&emulator.base_url(), 0);
    let mut task: *mut camb_task = ptr::null_mut();
    let done = c("demo-error");
    let wait = |options: &camb_wait_options, task: &mut *mut camb_task| unsafe {
        camb_client_wait_for_task(
            client,
            done.as_ptr(),
            options,
            ptr::null(),
            None,
            ptr::null_mut(),
            task,
        )
    };
    // A backoff factor of 0 is invalid when it is read...
    let mut options = quick_wait();
    options.backoff_factor = 0.0;
    assert_eq!(wait(&options, &mut task), camb_result::InvalidParameter);
    // ...and not read by a struct_size that ends before it (the default 1.5 then).
    options.struct_size = offset_of!(camb_wait_options, backoff_factor);
    assert_eq!(
        wait(&options, &mut task),
        camb_result::Ok,
        "{}",
        last_error()
    );
    unsafe { camb_task_free(task) };
    // A field cut in half by struct_size is not read either.
    options.struct_size = offset_of!(camb_wait_options, backoff_factor) + 4;
    task = ptr::null_mut();
    assert_eq!(
        wait(&options, &mut task),
        camb_result::Ok,
        "{}",
        last_error()
    );
    unsafe { camb_task_free(task) };
    // Larger than this library knows, or too small to be one: refused.
    for bad in [size_of::<camb_wait_options>() + 8, 0, 4] {
        options.struct_size = bad;
        task = ptr::null_mut();
        assert_eq!(wait(&options, &mut task), camb_result::InvalidParameter);
        assert!(task.is_null());
        assert!(
            last_error().contains("camb_wait_options.struct_size"),
            "{}",
            last_error()
        );
    }
    assert!(last_error().contains("camb_wait_options_default()"));
    let requests = emulator.stats().requests_total;
    assert_eq!(requests, 2, "only the two readable waits polled");

    // Create: an unknown audio type past struct_size is not read; the request goes
    // without it. Within struct_size it is refused.
    let mut create_options = camb_create_options_default();
    create_options.duration_s = 2.0;
    create_options.audio_type = 7;
    assert_eq!(
        create(client, "rain", Some(&create_options)).0,
        camb_result::InvalidParameter
    );
    create_options.struct_size = offset_of!(camb_create_options, audio_type);
    assert_eq!(
        create(client, "rain", Some(&create_options)).0,
        camb_result::Ok
    );
    let body = emulator.stats().requests.last().unwrap().body.clone();
    assert_eq!(body, r#"{"prompt":"rain","duration":2.0}"#);
    create_options.struct_size = size_of::<camb_create_options>() + 1;
    assert_eq!(
        create(client, "rain", Some(&create_options)).0,
        camb_result::InvalidParameter
    );
    assert!(last_error().contains("newer camb.h"), "{}", last_error());
    assert_eq!(emulator.stats().requests_total, requests + 1);
    assert_eq!(
        camb_create_options_default().struct_size,
        size_of::<camb_create_options>()
    );
    assert_eq!(
        camb_wait_options_default().struct_size,
        size_of::<camb_wait_options>()
    );
    unsafe { camb_client_free(client) };
}

/// `_init` fills a struct of the size the program passes: all of it for this
/// header's size, only the fields an older (smaller) struct has, and refuses a
/// size from a newer header or one too small to hold struct_size.
#[test]
fn options_init_fills_the_size_it_is_given() {
    use std::mem::{offset_of, size_of};
    unsafe {
        let mut wait: camb_wait_options = std::mem::zeroed();
        assert_eq!(
            camb_wait_options_init(&mut wait, size_of::<camb_wait_options>()),
            camb_result::Ok
        );
        let defaults = camb_wait_options_default();
        assert_eq!(
            (
                wait.struct_size,
                wait.initial_interval_ms,
                wait.backoff_factor
            ),
            (size_of::<camb_wait_options>(), 2_000, 1.5)
        );
        assert_eq!(
            (wait.max_interval_ms, wait.deadline_ms),
            (defaults.max_interval_ms, 600_000)
        );

        // An older, smaller struct: its fields, and not a byte past its end.
        let mut older: camb_wait_options = std::mem::zeroed();
        older.max_interval_ms = 77;
        older.deadline_ms = 88;
        let size = offset_of!(camb_wait_options, max_interval_ms);
        assert_eq!(camb_wait_options_init(&mut older, size), camb_result::Ok);
        assert_eq!(
            (
                older.struct_size,
                older.initial_interval_ms,
                older.backoff_factor
            ),
            (size, 2_000, 1.5)
        );
        assert_eq!((older.max_interval_ms, older.deadline_ms), (77, 88));

        for bad in [size_of::<camb_wait_options>() + 1, 0, 7] {
            assert_eq!(
                camb_wait_options_init(&mut wait, bad),
                camb_result::InvalidParameter,
                "{bad}"
            );
        }
        assert!(
            last_error().contains("cannot hold its struct_size"),
            "{}",
            last_error()
        );
        assert_eq!(
            camb_wait_options_init(ptr::null_mut(), 8),
            camb_result::NullParameter
        );

        let mut create_options: camb_create_options = std::mem::zeroed();
        create_options.retry = true;
        let size = offset_of!(camb_create_options, has_folder_id);
        assert_eq!(
            camb_create_options_init(&mut create_options, size),
            camb_result::Ok
        );
        assert_eq!(create_options.struct_size, size);
        assert_eq!(create_options.audio_type, camb_audio_type::Default as u32);
        assert!(create_options.retry, "past the size: left alone");
        assert_eq!(
            camb_create_options_init(&mut create_options, size_of::<camb_create_options>() + 8),
            camb_result::InvalidParameter
        );
        assert!(last_error().contains("newer camb.h"), "{}", last_error());
    }
}

/// The poll that ends a wait with an HTTP error says which status it was.
#[test]
fn progress_reports_the_http_status_of_a_failed_poll() {
    let emulator = emulator();
    let client = client_for_url(&emulator.base_url(), 0);
    let mut seen = Seen::default();
    let mut task = empty_info();
    let result = unsafe {
        camb_client_wait_for_task(
            client,
            c("no-such-task").as_ptr(),
            &quick_wait(),
            ptr::null(),
            Some(record_progress),
            (&mut seen as *mut Seen).cast(),
            &mut task,
        )
    };
    assert_eq!(result, camb_result::NotFound);
    assert!(task.is_null());
    assert_eq!(seen.http_statuses, [404]);
    let (polls, poll_result, _, done, _) = seen.polls[0].clone();
    assert_eq!(
        (polls, poll_result, done),
        (1, camb_result::NotFound as u32, true)
    );
    unsafe { camb_client_free(client) };
}
