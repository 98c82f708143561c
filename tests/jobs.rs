//! Jobs through the C ABI: every operation made as a job, submitted to a
//! queue, delivered as an event on the caller's thread; cancelling, freeing in
//! flight, freeing the queue or the client under running jobs; the log
//! function's finalizer; bounded threads.

mod common;

use std::ffi::{c_char, c_void};
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use camb::ffi::audio::*;
use camb::ffi::builder::*;
use camb::ffi::client::*;
use camb::ffi::create::*;
use camb::ffi::job::*;
use camb::ffi::queue::*;
use camb::ffi::result_code::{camb_result, camb_status};
use camb::ffi::task::*;
use camb::ffi::wait::*;
use common::*;

fn client_with_threads(emulator: &Emulator, threads: u32) -> *mut camb_client {
    let builder = c_builder(DEFAULT_API_KEY, &emulator.base_url());
    let mut client = ptr::null_mut();
    unsafe {
        assert_eq!(
            camb_client_builder_set_job_threads(builder, threads),
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

fn new_queue() -> *mut camb_queue {
    let mut queue = ptr::null_mut();
    // SAFETY: a writable out-pointer.
    assert_eq!(unsafe { camb_queue_new(&mut queue) }, camb_result::Ok);
    queue
}

fn quick_wait() -> camb_wait_options {
    camb_wait_options {
        initial_interval_ms: 20,
        max_interval_ms: 50,
        ..camb_wait_options_default()
    }
}

fn slow_wait() -> camb_wait_options {
    camb_wait_options {
        initial_interval_ms: 60_000,
        max_interval_ms: 60_000,
        ..camb_wait_options_default()
    }
}

/// Makes a status job of `client` for `task_id`.
unsafe fn status_job(client: *mut camb_client, task_id: &str) -> *mut camb_job {
    let mut job = ptr::null_mut();
    let made = unsafe { camb_client_job_get_task_status(client, c(task_id).as_ptr(), &mut job) };
    assert_eq!(made, camb_result::Ok, "{}", last_error());
    job
}

/// Makes a wait job of `client` for `task_id`.
unsafe fn wait_job(
    client: *mut camb_client,
    task_id: &str,
    options: &camb_wait_options,
) -> *mut camb_job {
    let mut job = ptr::null_mut();
    let made =
        unsafe { camb_client_job_wait_for_task(client, c(task_id).as_ptr(), options, &mut job) };
    assert_eq!(made, camb_result::Ok, "{}", last_error());
    job
}

/// Submits `job` to `queue`, checked.
unsafe fn submit(job: *mut camb_job, queue: *mut camb_queue, user_data: usize) {
    let submitted = unsafe { camb_job_submit(job, queue, user_data as *mut c_void) };
    assert_eq!(submitted, camb_result::Ok, "{}", last_error());
}

/// The next event on `queue`, waited for up to GENEROUS.
unsafe fn next(queue: *mut camb_queue) -> (camb_event, *mut camb_job) {
    let mut event = camb_event::JobData;
    let mut job = ptr::null_mut();
    let waited =
        unsafe { camb_queue_wait(queue, GENEROUS.as_millis() as u32, &mut event, &mut job) };
    assert_eq!(waited, camb_result::Ok, "no event: {}", last_error());
    (event, job)
}

/// Waits until `fd` is readable, up to `limit`.
fn readable(fd: isize, limit: Duration) -> bool {
    let mut poll = libc::pollfd {
        fd: fd as i32,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let ready = unsafe { libc::poll(&mut poll, 1, limit.as_millis() as i32) };
    ready == 1 && poll.revents & libc::POLLIN != 0
}

fn job_error(job: *const camb_job) -> Option<String> {
    let mut len = 0;
    // SAFETY: a live job and a writable length.
    c_text(unsafe { camb_job_error(job, &mut len) }, len)
}

fn job_task_id(job: *const camb_job) -> Option<String> {
    let mut len = 0;
    // SAFETY: a live job and a writable length.
    c_text(unsafe { camb_job_task_id(job, &mut len) }, len)
}

#[test]
fn a_status_job_comes_back_through_its_queue_on_the_callers_thread() {
    let emulator = emulator();
    let client = client_with_threads(&emulator, 2);
    let queue = new_queue();
    unsafe {
        let job = status_job(client, "demo-success");
        assert_eq!(camb_job_get_state(job), camb_job_state::New);
        assert_eq!(camb_job_get_kind(job), camb_job_kind::GetTaskStatus);
        assert_eq!(camb_job_result(job), camb_result::NotReady);
        assert!(camb_job_user_data(job).is_null());
        submit(job, queue, 0x51);
        let (event, done) = next(queue);
        assert_eq!(event, camb_event::JobDone);
        assert_eq!(done, job, "the handle the constructor gave");
        assert_eq!(camb_job_user_data(done) as usize, 0x51);
        assert_eq!(camb_job_get_state(job), camb_job_state::Done);
        assert_eq!(camb_job_result(job), camb_result::Ok);
        assert!(job_error(job).is_none());
        let task = read_task(camb_job_task(job));
        assert_eq!(
            (task.status, task.run_id),
            (camb_status::Success, Some(4242))
        );
        assert_eq!(job_task_id(job).unwrap(), "demo-success");
        assert_eq!(camb_job_task_status(job), camb_status::Success);
        camb_job_free(job);

        // A failed query: its code, words and HTTP status are the job's own,
        // and it still tells which task it was about.
        let job = status_job(client, "no-such-task");
        submit(job, queue, 0);
        assert_eq!(next(queue).1, job);
        assert_eq!(camb_job_result(job), camb_result::NotFound);
        assert_eq!(camb_job_http_status(job), 404);
        assert!(job_error(job).unwrap().contains("Task not found"));
        assert_eq!(job_task_id(job).unwrap(), "no-such-task");
        assert!(camb_job_task(job).is_null());
        camb_job_free(job);
        // An empty queue: a pop is NOT_READY, a wait times out.
        let (mut event, mut none) = (camb_event::JobData, ptr::null_mut());
        assert_eq!(
            camb_queue_pop(queue, &mut event, &mut none),
            camb_result::NotReady
        );
        assert_eq!(
            camb_queue_wait(queue, 20, &mut event, &mut none),
            camb_result::Timeout
        );
        assert!(none.is_null(), "nothing written");
        camb_queue_free(queue);
        camb_client_free(client);
    }
}

#[test]
fn jobs_come_through_a_queue_whose_descriptor_says_when() {
    let emulator = emulator();
    let client = client_with_threads(&emulator, 4);
    let queue = new_queue();
    unsafe {
        let fd = camb_queue_fd(queue);
        assert!(fd >= 0);
        assert!(!readable(fd, Duration::ZERO), "readable while empty");
        let ids = ["demo-success", "demo-error", "no-such-task", "demo-pending"];
        let mut started = Vec::new();
        for (index, id) in ids.iter().enumerate() {
            let job = status_job(client, id);
            submit(job, queue, 0x100 + index);
            started.push(job as usize);
        }
        let mut taken = Vec::new();
        let deadline = Instant::now() + GENEROUS;
        while taken.len() < ids.len() && Instant::now() < deadline {
            if !readable(fd, Duration::from_millis(100)) {
                continue;
            }
            let (mut event, mut job) = (camb_event::JobData, ptr::null_mut());
            while camb_queue_pop(queue, &mut event, &mut job) == camb_result::Ok {
                assert_eq!(event, camb_event::JobDone);
                taken.push(job as usize);
            }
        }
        assert!(!readable(fd, Duration::ZERO), "still readable once emptied");
        taken.sort_unstable();
        let mut expected = started.clone();
        expected.sort_unstable();
        assert_eq!(taken, expected, "each job once, the handles made");
        let results: Vec<(camb_result, camb_status)> = started
            .iter()
            .map(|&job| {
                let job = job as *const camb_job;
                (camb_job_result(job), camb_task_status(camb_job_task(job)))
            })
            .collect();
        assert_eq!(
            results,
            [
                (camb_result::Ok, camb_status::Success),
                (camb_result::Ok, camb_status::Error),
                (camb_result::NotFound, camb_status::Unknown),
                (camb_result::Ok, camb_status::Pending),
            ]
        );
        for (index, &job) in started.iter().enumerate() {
            // The caller's own pointer, handed back: the way from a popped job
            // to the caller's record of it.
            assert_eq!(
                camb_job_user_data(job as *const camb_job) as usize,
                0x100 + index
            );
            camb_job_free(job as *mut camb_job);
        }
        camb_queue_free(queue);
        camb_client_free(client);
    }
}

#[test]
fn a_wait_holds_no_thread_between_polls_and_a_cancel_ends_it_at_once() {
    let emulator = emulator();
    let client = client_with_threads(&emulator, 2);
    let queue = new_queue();
    unsafe {
        // A task pending for 300 ms: several polls, then SUCCESS.
        let task_id = {
            let mut id: *mut c_char = ptr::null_mut();
            let prompt = c("a bell [pending_ms:300]");
            assert_eq!(
                camb_client_create_task(
                    client,
                    prompt.as_ptr(),
                    ptr::null(),
                    ptr::null(),
                    &mut id,
                    ptr::null_mut()
                ),
                camb_result::Ok
            );
            let text = std::ffi::CStr::from_ptr(id).to_str().unwrap().to_owned();
            camb::ffi::string::camb_string_free(id);
            text
        };
        let job = wait_job(client, &task_id, &quick_wait());
        submit(job, queue, 0);
        // Between polls it waits on the timer, holding no thread.
        let mut seen_waiting = false;
        let deadline = Instant::now() + GENEROUS;
        while camb_job_get_state(job) != camb_job_state::Done && Instant::now() < deadline {
            seen_waiting |= camb_job_get_state(job) == camb_job_state::Waiting;
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(next(queue).1, job);
        assert!(seen_waiting, "never seen between polls");
        assert_eq!(
            camb_job_result(job),
            camb_result::Ok,
            "{:?}",
            job_error(job)
        );
        assert_eq!(camb_task_status(camb_job_task(job)), camb_status::Success);
        assert!(camb_job_polls(job) >= 2, "{} polls", camb_job_polls(job));
        assert_eq!(camb_job_task_status(job), camb_status::Success);
        camb_job_free(job);

        // A wait that would go on for minutes, cancelled while it waits.
        let job = wait_job(client, "demo-pending", &slow_wait());
        submit(job, queue, 0);
        let deadline = Instant::now() + GENEROUS;
        while camb_job_get_state(job) != camb_job_state::Waiting && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(camb_job_get_state(job), camb_job_state::Waiting);
        assert_eq!(camb_job_task_status(job), camb_status::Pending);
        let cancelled_at = Instant::now();
        assert_eq!(camb_job_cancel(job), camb_result::Ok);
        assert_eq!(next(queue).1, job);
        assert!(
            cancelled_at.elapsed() < Duration::from_secs(2),
            "{:?}",
            cancelled_at.elapsed()
        );
        assert_eq!(camb_job_result(job), camb_result::Cancelled);
        assert!(job_error(job).unwrap().contains("cancelled after 1 poll"));
        // Cancelling a finished job changes nothing.
        assert_eq!(camb_job_cancel(job), camb_result::Ok);
        assert_eq!(camb_job_result(job), camb_result::Cancelled);
        camb_job_free(job);
        camb_queue_free(queue);
        camb_client_free(client);
    }
}

/// A job in flight is libcamb's: freeing it only cancels it, and it still comes
/// back, once, to be freed. A job cancelled before it is submitted ends as soon
/// as it is, sending nothing.
#[test]
fn a_job_freed_in_flight_is_cancelled_and_still_comes_back_once() {
    let emulator = emulator();
    let client = client_with_threads(&emulator, 2);
    let queue = new_queue();
    unsafe {
        let job = wait_job(client, "demo-pending", &slow_wait());
        submit(job, queue, 7);
        let deadline = Instant::now() + GENEROUS;
        while camb_job_get_state(job) != camb_job_state::Waiting && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        camb_job_free(job); // in flight: a cancel
        let (event, done) = next(queue);
        assert_eq!((event, done), (camb_event::JobDone, job));
        assert_eq!(camb_job_result(done), camb_result::Cancelled);
        assert_eq!(camb_job_user_data(done) as usize, 7);
        camb_job_free(done); // the caller's again: freed
        let (mut event, mut more) = (camb_event::JobData, ptr::null_mut());
        assert_eq!(
            camb_queue_wait(queue, 100, &mut event, &mut more),
            camb_result::Timeout,
            "delivered twice"
        );

        let sent = emulator.stats().requests_total;
        let job = status_job(client, "demo-success");
        assert_eq!(camb_job_cancel(job), camb_result::Ok);
        submit(job, queue, 0);
        assert_eq!(next(queue).1, job);
        assert_eq!(camb_job_result(job), camb_result::Cancelled);
        assert_eq!(
            emulator.stats().requests_total,
            sent,
            "a cancelled job sent"
        );
        camb_job_free(job);
        // A job made and freed unsubmitted sends nothing either.
        camb_job_free(status_job(client, "demo-success"));
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(emulator.stats().requests_total, sent);
        camb_queue_free(queue);
        camb_client_free(client);
    }
}

#[test]
fn freeing_the_client_cancels_its_jobs_and_delivers_them() {
    let emulator = emulator();
    let client = client_with_threads(&emulator, 2);
    let queue = new_queue();
    let mut jobs = Vec::new();
    unsafe {
        for _ in 0..5 {
            let job = wait_job(client, "demo-pending", &slow_wait());
            submit(job, queue, 0);
            jobs.push(job);
        }
        // Made, not submitted: it can no longer be, once the client is freed.
        let late = status_job(client, "demo-success");
        camb_client_free(client);
        let mut delivered = Vec::new();
        for _ in 0..jobs.len() {
            delivered.push(next(queue).1);
        }
        delivered.sort_unstable();
        jobs.sort_unstable();
        assert_eq!(delivered, jobs);
        for job in jobs {
            assert_eq!(camb_job_result(job), camb_result::Cancelled);
            camb_job_free(job);
        }
        assert_eq!(
            camb_job_submit(late, queue, ptr::null_mut()),
            camb_result::InvalidParameter
        );
        assert!(last_error().contains("freed"), "{}", last_error());
        assert_eq!(camb_job_get_state(late), camb_job_state::New);
        camb_job_free(late);
        camb_queue_free(queue);
    }
}

/// A queue freed while its jobs are in flight frees them when they end: nothing
/// leaks (memcheck runs this too) and nothing is delivered anywhere.
#[test]
fn a_queue_freed_under_running_jobs_takes_them_with_it() {
    let emulator = emulator();
    let client = client_with_threads(&emulator, 2);
    unsafe {
        let queue = new_queue();
        for _ in 0..3 {
            submit(wait_job(client, "demo-pending", &slow_wait()), queue, 0);
        }
        submit(status_job(client, "demo-success"), queue, 0);
        std::thread::sleep(Duration::from_millis(50));
        camb_queue_free(queue);
        // The waits are still on the timer: freeing the client ends them.
        camb_client_free(client);
    }
}

#[test]
fn a_batch_job_gives_each_task_its_own_result_in_order() {
    let emulator = emulator();
    let client = client_with_threads(&emulator, 3);
    let queue = new_queue();
    let ids = ["demo-success", "no-such-task", "", "demo-error"];
    let c_ids: Vec<_> = ids.iter().map(|id| c(id)).collect();
    let pointers: Vec<*const c_char> = c_ids.iter().map(|id| id.as_ptr()).collect();
    let mut job = ptr::null_mut();
    unsafe {
        assert_eq!(
            camb_client_job_get_task_statuses(
                client,
                pointers.as_ptr(),
                pointers.len(),
                2,
                &mut job,
            ),
            camb_result::Ok
        );
        drop(c_ids); // copied when the job was made
        submit(job, queue, 0);
        assert_eq!(next(queue).1, job);
        assert_eq!(camb_job_result(job), camb_result::Ok);
        let list = camb_job_task_list(job);
        assert_eq!(camb_task_list_len(list), 4);
        let entry = |i| read_task(camb_task_list_get(list, i));
        assert_eq!(
            (entry(0).task_id.as_str(), entry(0).status),
            ("demo-success", camb_status::Success)
        );
        assert_eq!(
            (entry(1).result, entry(1).http_status),
            (camb_result::NotFound, 404)
        );
        assert_eq!(entry(2).result, camb_result::InvalidParameter);
        assert_eq!(entry(3).status, camb_status::Error);
        assert_eq!(emulator.stats().requests_total, 3, "the bad id is not sent");
        camb_job_free(job);
        camb_queue_free(queue);
        camb_client_free(client);
    }
}

#[test]
fn audio_jobs_give_the_audio_in_memory_its_url_and_many_urls() {
    let emulator = emulator();
    let client = client_with_threads(&emulator, 2);
    let queue = new_queue();
    unsafe {
        let mut download = ptr::null_mut();
        assert_eq!(
            camb_client_job_download_audio(client, 4242, &mut download),
            camb_result::Ok
        );
        let mut url = ptr::null_mut();
        assert_eq!(
            camb_client_job_get_audio_url(client, 4242, &mut url),
            camb_result::Ok
        );
        let runs = [4242i64, 999_999, 4242];
        let mut urls = ptr::null_mut();
        assert_eq!(
            camb_client_job_get_audio_urls(client, runs.as_ptr(), runs.len(), &mut urls),
            camb_result::Ok
        );
        assert_eq!(
            [download, url, urls].map(|j| camb_job_get_kind(j)),
            [
                camb_job_kind::DownloadAudio,
                camb_job_kind::GetAudioUrl,
                camb_job_kind::GetAudioUrls
            ]
        );
        for job in [download, url, urls] {
            submit(job, queue, 0);
        }
        for _ in 0..3 {
            let (_, job) = next(queue);
            assert_eq!(
                camb_job_result(job),
                camb_result::Ok,
                "{:?}",
                job_error(job)
            );
        }
        let mut len = 0;
        let audio = camb_job_audio(download, &mut len);
        let audio = std::slice::from_raw_parts(audio, len).to_vec();
        assert_eq!(camb_job_bytes(download), len as u64);
        parse_wav(&audio);
        assert_eq!(
            audio,
            client_for(&emulator)
                .get_audio_url(4242)
                .map(|_| {
                    let mut direct = Vec::new();
                    client_for(&emulator)
                        .download_audio(4242, None, &mut |chunk| {
                            direct.extend_from_slice(chunk);
                            Ok(())
                        })
                        .unwrap();
                    direct
                })
                .unwrap()
        );
        let mut len = 0;
        let text = c_text(camb_job_audio_url(url, &mut len), len).unwrap();
        assert!(
            text.contains("/_emulator/files/4242.wav?signature="),
            "{text}"
        );
        let list = camb_job_audio_url_list(urls);
        assert_eq!(camb_audio_url_list_len(list), 3);
        let mut run = 0;
        let mut len = 0;
        let first = c_text(camb_audio_url_list_get(list, 0, &mut run, &mut len), len);
        assert_eq!((run, first.is_some()), (4242, true));
        let unknown = camb_audio_url_list_get(list, 1, &mut run, &mut len);
        assert_eq!((run, unknown.is_null()), (999_999, true));
        // What a job does not hold is NULL, not another job's kind of output.
        assert!(camb_job_audio(url, ptr::null_mut()).is_null());
        assert!(camb_job_audio_url(download, ptr::null_mut()).is_null());
        assert!(camb_job_audio_url_list(download).is_null());
        for job in [download, url, urls] {
            camb_job_free(job);
        }
        camb_queue_free(queue);
        camb_client_free(client);
    }
}

#[test]
fn a_generate_job_goes_from_prompt_to_file_and_reports_a_task_that_failed() {
    let emulator = emulator();
    let client = client_with_threads(&emulator, 2);
    let queue = new_queue();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("jobs-generate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bell.wav");
    unsafe {
        let mut options = camb_create_options_default();
        options.duration_s = 1.0;
        let mut job = ptr::null_mut();
        assert_eq!(
            camb_client_job_generate(
                client,
                c("a bell [pending_ms:100]").as_ptr(),
                &options,
                &quick_wait(),
                c(path.to_str().unwrap()).as_ptr(),
                &mut job,
            ),
            camb_result::Ok
        );
        assert_eq!(camb_job_get_kind(job), camb_job_kind::Generate);
        submit(job, queue, 0);
        assert_eq!(next(queue).1, job);
        assert_eq!(
            camb_job_result(job),
            camb_result::Ok,
            "{:?}",
            job_error(job)
        );
        let file = std::fs::read(&path).unwrap();
        assert_eq!(camb_job_bytes(job), file.len() as u64);
        assert_eq!(&file[..4], b"RIFF");
        assert!(camb_job_polls(job) >= 1);
        assert_eq!(camb_task_status(camb_job_task(job)), camb_status::Success);
        assert!(!job_task_id(job).unwrap().is_empty());
        camb_job_free(job);

        // A task that ends in ERROR: TASK_FAILED, with why; no file.
        let failed_path = dir.join("failed.wav");
        let mut job = ptr::null_mut();
        camb_client_job_generate(
            client,
            c("a bell [status:ERROR]").as_ptr(),
            ptr::null(),
            &quick_wait(),
            c(failed_path.to_str().unwrap()).as_ptr(),
            &mut job,
        );
        submit(job, queue, 0);
        assert_eq!(next(queue).1, job);
        assert_eq!(camb_job_result(job), camb_result::TaskFailed);
        let why = job_error(job).unwrap();
        assert!(why.contains("ended ERROR"), "{why}");
        assert!(!failed_path.exists());
        // The failed generation still tells its task, and how it ended.
        let task = read_task(camb_job_task(job));
        assert_eq!(task.status, camb_status::Error);
        assert!(task.exception_reason.is_some());
        assert_eq!(task.task_id, job_task_id(job).unwrap());
        assert_eq!(camb_job_task_status(job), camb_status::Error);
        camb_job_free(job);
        camb_queue_free(queue);
        camb_client_free(client);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_jobs_are_refused_with_a_code_and_nothing_runs() {
    let emulator = emulator();
    let client = client_with_threads(&emulator, 1);
    let queue = new_queue();
    unsafe {
        let id = c("demo-success");
        let mut job = ptr::null_mut();
        assert_eq!(
            camb_client_job_get_task_status(client, id.as_ptr(), ptr::null_mut()),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_job_get_task_status(ptr::null(), id.as_ptr(), &mut job),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_job_get_task_status(client, c("..").as_ptr(), &mut job),
            camb_result::InvalidParameter
        );
        let mut bad_wait = quick_wait();
        bad_wait.backoff_factor = 0.0;
        assert_eq!(
            camb_client_job_wait_for_task(client, id.as_ptr(), &bad_wait, &mut job),
            camb_result::InvalidParameter
        );
        assert_eq!(
            camb_client_job_create_task(client, c("").as_ptr(), ptr::null(), &mut job),
            camb_result::InvalidParameter
        );
        let many = vec![1i64; 1001];
        assert_eq!(
            camb_client_job_get_audio_urls(client, many.as_ptr(), many.len(), &mut job),
            camb_result::InvalidParameter
        );
        assert_eq!(
            camb_client_job_get_audio_urls(client, ptr::null(), 3, &mut job),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_job_get_task_statuses(client, ptr::null(), 0, 33, &mut job),
            camb_result::InvalidParameter
        );
        assert!(job.is_null(), "no job was made");
        // Submitting: a queue is needed; a job goes once.
        let job = status_job(client, "demo-success");
        assert_eq!(
            camb_job_submit(job, ptr::null_mut(), ptr::null_mut()),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_job_submit(ptr::null_mut(), queue, ptr::null_mut()),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_job_get_state(job),
            camb_job_state::New,
            "still the caller's"
        );
        assert_eq!(emulator.stats().requests_total, 0, "nothing was sent");
        submit(job, queue, 0);
        assert_eq!(next(queue).1, job);
        assert_eq!(
            camb_job_submit(job, queue, ptr::null_mut()),
            camb_result::InvalidParameter
        );
        assert!(
            last_error().contains("submitted already"),
            "{}",
            last_error()
        );
        camb_job_free(job);
        // NULL everywhere else: defined answers, no crash.
        let (mut event, mut out) = (camb_event::JobData, ptr::null_mut());
        assert_eq!(
            camb_queue_pop(ptr::null(), &mut event, &mut out),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_queue_pop(queue, ptr::null_mut(), &mut out),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_queue_wait(queue, 0, &mut event, ptr::null_mut()),
            camb_result::NullParameter
        );
        assert_eq!(camb_queue_fd(ptr::null()), -1);
        assert_eq!(camb_queue_new(ptr::null_mut()), camb_result::NullParameter);
        assert_eq!(camb_job_cancel(ptr::null()), camb_result::NullParameter);
        assert_eq!(camb_job_result(ptr::null()), camb_result::NullParameter);
        assert_eq!(camb_job_get_state(ptr::null()), camb_job_state::Done);
        assert_eq!(camb_job_get_kind(ptr::null()), camb_job_kind::None);
        assert!(camb_job_task(ptr::null()).is_null());
        assert!(camb_job_task_list(ptr::null()).is_null());
        assert!(camb_job_error(ptr::null(), ptr::null_mut()).is_null());
        assert!(camb_job_audio(ptr::null(), ptr::null_mut()).is_null());
        assert_eq!(
            (camb_job_bytes(ptr::null()), camb_job_polls(ptr::null())),
            (0, 0)
        );
        assert_eq!(camb_job_task_status(ptr::null()), camb_status::Unknown);
        camb_job_free(ptr::null_mut());
        camb_queue_free(ptr::null_mut());
        camb_queue_free(queue);
        camb_client_free(client);
    }
}

/// The log callback's lines and its finalizer: counted in the struct at
/// `user_data`.
#[derive(Default)]
struct LogRecord {
    lines: Mutex<Vec<String>>,
    finalized: AtomicUsize,
    /// Lines that came after the finalizer.
    late: AtomicUsize,
}

unsafe extern "C" fn keep_line(
    _level: u32,
    line: *const c_char,
    len: usize,
    user_data: *mut c_void,
) {
    // SAFETY: libcamb passes `len` bytes at `line`; the test a live LogRecord.
    let (bytes, record) = unsafe {
        (
            std::slice::from_raw_parts(line.cast::<u8>(), len),
            &*user_data.cast::<LogRecord>(),
        )
    };
    if record.finalized.load(Ordering::SeqCst) > 0 {
        record.late.fetch_add(1, Ordering::SeqCst);
    }
    record
        .lines
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(bytes).into_owned());
}

unsafe extern "C" fn count_finalizer(user_data: *mut c_void) {
    // SAFETY: the test passes a live LogRecord.
    let record = unsafe { &*user_data.cast::<LogRecord>() };
    record.finalized.fetch_add(1, Ordering::SeqCst);
}

fn record_pointer(record: &LogRecord) -> *mut c_void {
    ptr::from_ref(record).cast_mut().cast()
}

#[test]
fn freeing_the_client_stops_a_status_job_waiting_to_retry() {
    let emulator = emulator();
    emulator.push_fault(status_fault(1000, 503, &[], r#"{"detail":"busy"}"#));
    let builder = c_builder(DEFAULT_API_KEY, &emulator.base_url());
    let mut client = ptr::null_mut();
    let record = LogRecord::default();
    let queue = new_queue();
    unsafe {
        // Backoffs of 250 ms, 500 ms, 1 s, 2 s...: long enough to be in one.
        assert_eq!(
            camb_client_builder_set_max_retries(builder, 8),
            camb_result::Ok
        );
        assert_eq!(
            camb_client_builder_set_log(
                builder,
                camb_log_level::Warn as u32,
                Some(keep_line),
                record_pointer(&record),
                Some(count_finalizer),
            ),
            camb_result::Ok
        );
        assert_eq!(
            camb_client_builder_build(builder, &mut client),
            camb_result::Ok
        );
        let job = status_job(client, "demo-success");
        submit(job, queue, 0);
        let deadline = Instant::now() + GENEROUS;
        while status_requests(&emulator) < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(status_requests(&emulator) >= 2, "the job never retried");
        let before_free = record.lines.lock().unwrap().len();
        assert_eq!(record.finalized.load(Ordering::SeqCst), 0);
        camb_client_free(client);
        // The finalizer ran during the free, once, after the last line.
        assert_eq!(record.finalized.load(Ordering::SeqCst), 1);
        assert_eq!(
            record.late.load(Ordering::SeqCst),
            0,
            "a line after the finalizer"
        );
        assert_eq!(next(queue).1, job);
        // Cancelled, not the 503 after its last retry, nor a retry on the
        // connections the free shut.
        assert_eq!(camb_job_result(job), camb_result::Cancelled);
        let after_free = record.lines.lock().unwrap()[before_free..].to_vec();
        assert!(
            !after_free.iter().any(|line| line.contains("retried")),
            "retried after the free: {after_free:?}"
        );
        let sent = status_requests(&emulator);
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(status_requests(&emulator), sent, "a request after the free");
        camb_job_free(job);
        camb_queue_free(queue);
    }
    assert_eq!(record.finalized.load(Ordering::SeqCst), 1);
}

/// The finalizer runs once whatever becomes of the builder: freed, failed to
/// build, or given another log function (then the first one's runs at once).
#[test]
fn a_log_functions_finalizer_runs_once_whatever_becomes_of_the_builder() {
    let records: [LogRecord; 4] = Default::default();
    unsafe {
        let set = |builder, record: &LogRecord| {
            camb_client_builder_set_log(
                builder,
                camb_log_level::Debug as u32,
                Some(keep_line),
                record_pointer(record),
                Some(count_finalizer),
            )
        };
        let builder = camb_client_builder_new();
        assert_eq!(set(builder, &records[0]), camb_result::Ok);
        camb_client_builder_free(builder);
        assert_eq!(
            records[0].finalized.load(Ordering::SeqCst),
            1,
            "freed builder"
        );

        let builder = camb_client_builder_new();
        assert_eq!(set(builder, &records[1]), camb_result::Ok);
        camb_client_builder_set_base_url(builder, c("ftp://nowhere").as_ptr());
        let mut client = ptr::null_mut();
        assert_ne!(
            camb_client_builder_build(builder, &mut client),
            camb_result::Ok
        );
        assert_eq!(
            records[1].finalized.load(Ordering::SeqCst),
            1,
            "failed build"
        );

        let builder = c_builder(
            DEFAULT_API_KEY,
            &format!("http://127.0.0.1:{}", closed_port()),
        );
        assert_eq!(set(builder, &records[2]), camb_result::Ok);
        assert_eq!(set(builder, &records[3]), camb_result::Ok);
        assert_eq!(records[2].finalized.load(Ordering::SeqCst), 1, "replaced");
        // A refused setting finalizes nothing: user_data stays the caller's.
        assert_eq!(
            camb_client_builder_set_log(
                builder,
                9,
                Some(keep_line),
                ptr::null_mut(),
                Some(count_finalizer)
            ),
            camb_result::InvalidParameter
        );
        assert_eq!(
            camb_client_builder_build(builder, &mut client),
            camb_result::InvalidParameter
        );
        assert_eq!(records[3].finalized.load(Ordering::SeqCst), 1);
        // A client: at its free, after its lines.
        let builder = c_builder(
            DEFAULT_API_KEY,
            &format!("http://127.0.0.1:{}", closed_port()),
        );
        let record = LogRecord::default();
        assert_eq!(set(builder, &record), camb_result::Ok);
        assert_eq!(
            camb_client_builder_build(builder, &mut client),
            camb_result::Ok
        );
        let mut task = ptr::null_mut();
        assert_eq!(
            camb_client_get_task_status(client, c("t").as_ptr(), ptr::null(), &mut task),
            camb_result::Connect
        );
        assert!(!record.lines.lock().unwrap().is_empty());
        assert_eq!(record.finalized.load(Ordering::SeqCst), 0);
        camb_client_free(client);
        assert_eq!(record.finalized.load(Ordering::SeqCst), 1);
    }
    for record in &records {
        assert_eq!(record.finalized.load(Ordering::SeqCst), 1);
    }
}

/// A batch whose only id needs no request ends in its first step: 1000 in a
/// row, each delivered.
#[test]
fn a_batch_that_sends_nothing_is_always_delivered() {
    let builder = c_builder(
        DEFAULT_API_KEY,
        &format!("http://127.0.0.1:{}", closed_port()),
    );
    let mut client = ptr::null_mut();
    unsafe {
        assert_eq!(
            camb_client_builder_set_job_threads(builder, 8),
            camb_result::Ok
        );
        assert_eq!(
            camb_client_builder_build(builder, &mut client),
            camb_result::Ok,
            "{}",
            last_error()
        );
        let queue = new_queue();
        let fd = camb_queue_fd(queue);
        let empty = c("");
        let ids = [empty.as_ptr()];
        for round in 0..1000 {
            let mut job = ptr::null_mut();
            assert_eq!(
                camb_client_job_get_task_statuses(client, ids.as_ptr(), 1, 1, &mut job),
                camb_result::Ok
            );
            submit(job, queue, 0);
            assert!(readable(fd, GENEROUS), "batch {round} never delivered");
            let (mut event, mut done) = (camb_event::JobData, ptr::null_mut());
            assert_eq!(
                camb_queue_pop(queue, &mut event, &mut done),
                camb_result::Ok
            );
            assert_eq!(done, job);
            assert_eq!(camb_job_result(done), camb_result::Ok);
            camb_job_free(done);
        }
        camb_client_free(client);
        camb_queue_free(queue);
    }
}

/// Many threads wait on one queue at once: each job goes to exactly one.
#[test]
fn threads_waiting_on_one_queue_each_get_different_jobs() {
    let emulator = emulator();
    let client = client_with_threads(&emulator, 4);
    let queue = new_queue();
    let total = 200;
    let queue_address = queue as usize;
    unsafe {
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(move || {
                    let queue = queue_address as *mut camb_queue;
                    let mut got = Vec::new();
                    loop {
                        let (mut event, mut job) = (camb_event::JobData, ptr::null_mut());
                        // The queue outlives the threads (joined below).
                        match camb_queue_wait(queue, 500, &mut event, &mut job) {
                            camb_result::Ok => got.push(job as usize),
                            _ => return got,
                        }
                    }
                })
            })
            .collect();
        let mut made = Vec::new();
        for _ in 0..total {
            let job = status_job(client, "demo-success");
            submit(job, queue, 0);
            made.push(job as usize);
        }
        let mut got: Vec<usize> = waiters
            .into_iter()
            .flat_map(|waiter| waiter.join().unwrap())
            .collect();
        got.sort_unstable();
        made.sort_unstable();
        assert_eq!(got, made, "each job to one waiter, once");
        for job in made {
            assert_eq!(camb_job_result(job as *const camb_job), camb_result::Ok);
            camb_job_free(job as *mut camb_job);
        }
        camb_queue_free(queue);
        camb_client_free(client);
    }
}

/// Takes every job off `queue` as it comes, freeing each at once, until `count`
/// were taken or nothing came for a while; returns the handles taken.
unsafe fn drain_freeing(queue: *mut camb_queue, count: usize) -> Vec<usize> {
    let fd = unsafe { camb_queue_fd(queue) };
    let mut taken = Vec::new();
    let deadline = Instant::now() + GENEROUS * 4;
    while taken.len() < count && Instant::now() < deadline {
        if !readable(fd, Duration::from_millis(100)) {
            continue;
        }
        let (mut event, mut job) = (camb_event::JobData, ptr::null_mut());
        while unsafe { camb_queue_pop(queue, &mut event, &mut job) } == camb_result::Ok {
            taken.push(job as usize);
            unsafe { camb_job_free(job) };
        }
    }
    taken
}

/// Two clients share one queue. A job's identity on the queue is its own, not a
/// number counted per client: freeing one client's job takes nothing else off.
#[test]
fn a_queue_shared_by_two_clients_delivers_every_job() {
    let emulator = emulator();
    let clients = [
        client_with_threads(&emulator, 2),
        client_with_threads(&emulator, 2),
    ];
    unsafe {
        let queue = new_queue();
        // One job each, both done; pop one and free it: the other is still there.
        let mut jobs = [ptr::null_mut(); 2];
        for (client, job) in clients.iter().zip(jobs.iter_mut()) {
            assert_eq!(
                camb_client_job_get_task_status(*client, c("demo-success").as_ptr(), job),
                camb_result::Ok
            );
            submit(*job, queue, 0);
        }
        let deadline = Instant::now() + GENEROUS;
        while jobs
            .iter()
            .any(|&job| camb_job_get_state(job) != camb_job_state::Done)
        {
            assert!(Instant::now() < deadline, "the jobs did not finish");
            std::thread::sleep(Duration::from_millis(5));
        }
        let (mut event, mut first) = (camb_event::JobData, ptr::null_mut());
        assert_eq!(
            camb_queue_pop(queue, &mut event, &mut first),
            camb_result::Ok
        );
        camb_job_free(first);
        let mut second = ptr::null_mut();
        assert_eq!(
            camb_queue_pop(queue, &mut event, &mut second),
            camb_result::Ok,
            "the other client's job was lost"
        );
        assert_ne!(first, second);
        assert!(jobs.contains(&second));
        assert_eq!(camb_job_result(second), camb_result::Ok);
        camb_job_free(second);

        // 300 jobs alternating between the clients, each freed as soon as popped.
        let mut started = Vec::new();
        for n in 0..300 {
            let mut job = ptr::null_mut();
            assert_eq!(
                camb_client_job_get_task_status(
                    clients[n % 2],
                    c("demo-success").as_ptr(),
                    &mut job
                ),
                camb_result::Ok
            );
            submit(job, queue, 0);
            started.push(job as usize);
        }
        let mut taken = drain_freeing(queue, started.len());
        taken.sort_unstable();
        started.sort_unstable();
        assert_eq!(taken.len(), 300, "jobs were never delivered");
        assert_eq!(taken, started, "each job once");
        camb_queue_free(queue);
        for client in clients {
            camb_client_free(client);
        }
    }
}

/// A generation whose file could never be saved is refused at its start, before
/// a task is created (and paid for): a path in a directory that does not exist,
/// a directory, a path under a regular file, a path ending in '/'.
#[test]
fn a_generation_that_could_not_save_is_refused_before_creating_a_task() {
    let emulator = emulator();
    let client = client_with_threads(&emulator, 2);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("jobs-generate-refused-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("a-directory")).unwrap();
    std::fs::write(dir.join("a-file"), b"x").unwrap();
    std::os::unix::fs::symlink("a-directory", dir.join("link-to-directory")).unwrap();
    let refused = [
        (
            dir.join("missing/bell.wav"),
            camb_result::Io,
            "does not exist",
        ),
        (dir.join("a-directory"), camb_result::Io, "directory"),
        (dir.join("link-to-directory"), camb_result::Io, "directory"),
        (
            dir.join("a-file/bell.wav"),
            camb_result::Io,
            "not a directory",
        ),
        (
            dir.join("a-directory/bell.wav/"),
            camb_result::InvalidParameter,
            "names a directory",
        ),
    ];
    let queue = new_queue();
    unsafe {
        for (path, code, words) in refused {
            let mut job = ptr::null_mut();
            let result = camb_client_job_generate(
                client,
                c("a bell").as_ptr(),
                ptr::null(),
                &quick_wait(),
                c(path.to_str().unwrap()).as_ptr(),
                &mut job,
            );
            let error = last_error();
            assert_eq!(result, code, "{}: {error}", path.display());
            assert!(
                error.to_lowercase().contains(words),
                "{}: {error}",
                path.display()
            );
            assert!(job.is_null(), "no job for a refused start");
        }
        assert_eq!(
            emulator.stats().requests_total,
            0,
            "a request was sent: {:?}",
            emulator.stats().requests
        );

        // A FIFO is only looked at when the job starts (not opened, which would
        // wait for a reader): the start is accepted at once.
        let fifo = dir.join("fifo");
        let c_fifo = c(fifo.to_str().unwrap());
        assert_eq!(libc::mkfifo(c_fifo.as_ptr(), 0o600), 0);
        let mut job = ptr::null_mut();
        assert_eq!(
            camb_client_job_generate(
                client,
                c("a bell [pending_ms:60000]").as_ptr(),
                ptr::null(),
                &quick_wait(),
                c_fifo.as_ptr(),
                &mut job,
            ),
            camb_result::Ok,
            "{}",
            last_error()
        );
        submit(job, queue, 0);
        camb_job_free(job); // in flight: cancelled, and back through the queue
        assert_eq!(next(queue).1, job);
        camb_job_free(job);

        // The path is checked again when the audio is saved: a directory removed
        // while the task ran fails the job then, with no file left behind.
        let later = dir.join("removed-later");
        std::fs::create_dir(&later).unwrap();
        let mut job = ptr::null_mut();
        assert_eq!(
            camb_client_job_generate(
                client,
                c("a bell [pending_ms:300]").as_ptr(),
                ptr::null(),
                &quick_wait(),
                c(later.join("bell.wav").to_str().unwrap()).as_ptr(),
                &mut job,
            ),
            camb_result::Ok
        );
        submit(job, queue, 0);
        std::fs::remove_dir(&later).unwrap();
        assert_eq!(next(queue).1, job);
        assert_eq!(camb_job_result(job), camb_result::Io);
        let mut len = 0;
        let why = c_text(camb_job_error(job, &mut len), len).unwrap();
        assert!(why.contains("does not exist"), "{why}");
        assert!(!later.exists());
        camb_job_free(job);
        camb_queue_free(queue);
        camb_client_free(client);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A thread serving a queue with camb_queue_wait is stopped by freeing the
/// queue: the wait returns CANCELLED at once, whatever its timeout.
#[test]
fn freeing_a_queue_ends_a_wait_on_it() {
    let queue = new_queue();
    let address = queue as usize;
    let waiter = std::thread::spawn(move || {
        let (mut event, mut job) = (camb_event::JobData, ptr::null_mut());
        let started = Instant::now();
        // SAFETY: a live queue, freed on the other thread while this waits.
        let result =
            unsafe { camb_queue_wait(address as *mut camb_queue, u32::MAX, &mut event, &mut job) };
        (result, last_error(), job.is_null(), started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: the caller's queue, freed once.
    unsafe { camb_queue_free(queue) };
    let (result, words, nothing_written, waited) = waiter.join().unwrap();
    assert_eq!(result, camb_result::Cancelled, "{words}");
    assert!(words.contains("freed"), "{words}");
    assert!(nothing_written);
    assert!(waited < GENEROUS, "{waited:?}");
}

/// A wait's deadline runs from its first poll: a wait job made, then submitted
/// later than its deadline, still waits (and here finds the task done).
#[test]
fn a_wait_jobs_deadline_starts_when_it_runs() {
    let emulator = emulator();
    let client = client_with_threads(&emulator, 1);
    let queue = new_queue();
    let options = camb_wait_options {
        deadline_ms: 300,
        ..quick_wait()
    };
    unsafe {
        let job = wait_job(client, "demo-success", &options);
        std::thread::sleep(Duration::from_millis(500));
        submit(job, queue, 0);
        assert_eq!(next(queue).1, job);
        assert_eq!(
            camb_job_result(job),
            camb_result::Ok,
            "{:?}",
            job_error(job)
        );
        assert_eq!(camb_job_polls(job), 1);
        camb_job_free(job);
        camb_queue_free(queue);
        camb_client_free(client);
    }
}
