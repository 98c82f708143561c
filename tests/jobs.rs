//! Jobs through the C ABI: every kind started without blocking, delivered by a
//! callback on a pool thread or through a queue's file descriptor; cancelling,
//! freeing at any time, freeing the client under running jobs; bounded threads.

mod common;

use std::ffi::{c_char, c_void};
use std::ptr;
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use camb::ffi::builder::*;
use camb::ffi::client::*;
use camb::ffi::create::*;
use camb::ffi::job::*;
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

fn quick_wait() -> camb_wait_options {
    camb_wait_options {
        initial_interval_ms: 20,
        max_interval_ms: 50,
        ..camb_wait_options_default()
    }
}

/// What a callback saw: the job, the thread it ran on.
struct Delivered {
    job: usize,
    thread: std::thread::ThreadId,
}

/// A callback that sends each finished job down the channel in `user_data`.
unsafe extern "C" fn send_done(job: *mut camb_job, user_data: *mut c_void) {
    // SAFETY: the tests pass a live Mutex<Sender> as user_data.
    let sender = unsafe { &*user_data.cast::<Mutex<Sender<Delivered>>>() };
    let _ = sender.lock().unwrap().send(Delivered {
        job: job as usize,
        thread: std::thread::current().id(),
    });
}

/// A callback that frees its own job, then reports.
unsafe extern "C" fn free_self(job: *mut camb_job, user_data: *mut c_void) {
    // SAFETY: as for send_done; the job is the caller's, freed once, here.
    unsafe {
        let result = camb_job_result(job);
        camb_job_free(job);
        let sender = &*user_data.cast::<Mutex<Sender<camb_result>>>();
        let _ = sender.lock().unwrap().send(result);
    }
}

fn channel_for<T>() -> (Box<Mutex<Sender<T>>>, Receiver<T>) {
    let (sender, receiver) = channel();
    (Box::new(Mutex::new(sender)), receiver)
}

fn user_data<T>(sender: &Mutex<Sender<T>>) -> *mut c_void {
    ptr::from_ref(sender).cast_mut().cast()
}

/// Waits until `fd` is readable, up to `limit`.
fn readable(fd: i32, limit: Duration) -> bool {
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let ready = unsafe { libc::poll(&mut poll, 1, limit.as_millis() as i32) };
    ready == 1 && poll.revents & libc::POLLIN != 0
}

#[test]
fn a_status_job_is_delivered_by_its_callback_on_a_pool_thread() {
    let emulator = emulator();
    let client = client_with_threads(&emulator, 2);
    let (sender, receiver) = channel_for::<Delivered>();
    let mut job = ptr::null_mut();
    unsafe {
        assert_eq!(
            camb_client_start_get_task_status(
                client,
                c("demo-success").as_ptr(),
                ptr::null(),
                Some(send_done),
                user_data(&sender),
                &mut job,
            ),
            camb_result::Ok
        );
        let done = receiver.recv_timeout(GENEROUS).expect("delivered");
        assert_eq!(done.job, job as usize, "the handle the start gave");
        assert_ne!(done.thread, std::thread::current().id());
        assert_eq!(camb_job_get_state(job), camb_job_state::Done);
        assert_eq!(camb_job_result(job), camb_result::Ok);
        assert!(camb_job_error(job, ptr::null_mut()).is_null());
        let task = read_task(camb_job_task(job));
        assert_eq!(
            (task.status, task.run_id),
            (camb_status::Success, Some(4242))
        );
        let mut len = 0;
        assert_eq!(
            c_text(camb_job_task_id(job, &mut len), len).unwrap(),
            "demo-success"
        );
        camb_job_free(job);
        // A failed query: its code, words and HTTP status are the job's own.
        let mut job = ptr::null_mut();
        camb_client_start_get_task_status(
            client,
            c("no-such-task").as_ptr(),
            ptr::null(),
            Some(send_done),
            user_data(&sender),
            &mut job,
        );
        receiver.recv_timeout(GENEROUS).expect("delivered");
        assert_eq!(camb_job_result(job), camb_result::NotFound);
        assert_eq!(camb_job_http_status(job), 404);
        let mut len = 0;
        let error = c_text(camb_job_error(job, &mut len), len).unwrap();
        assert!(error.contains("no-such-task"), "{error}");
        assert!(camb_job_task(job).is_null());
        let mut len = 0;
        assert_eq!(
            c_text(camb_job_task_id(job, &mut len), len).unwrap(),
            "no-such-task"
        );
        camb_job_free(job);
        camb_client_free(client);
    }
}

#[test]
fn jobs_come_through_a_queue_whose_descriptor_says_when() {
    let emulator = emulator();
    let client = client_with_threads(&emulator, 4);
    let mut queue = ptr::null_mut();
    unsafe {
        assert_eq!(camb_job_queue_new(&mut queue), camb_result::Ok);
        let fd = camb_job_queue_fd(queue);
        assert!(fd >= 0);
        assert!(!readable(fd, Duration::ZERO), "readable while empty");
        let mut out = ptr::null_mut();
        assert_eq!(camb_job_queue_pop(queue, &mut out), camb_result::NotReady);
        let ids = ["demo-success", "demo-error", "no-such-task", "demo-pending"];
        let mut started = Vec::new();
        for (index, id) in ids.iter().enumerate() {
            let mut job = ptr::null_mut();
            assert_eq!(
                camb_client_start_get_task_status(
                    client,
                    c(id).as_ptr(),
                    queue,
                    None,
                    (0x100 + index) as *mut c_void,
                    &mut job
                ),
                camb_result::Ok
            );
            started.push(job as usize);
        }
        let mut taken = Vec::new();
        let deadline = Instant::now() + GENEROUS;
        while taken.len() < ids.len() && Instant::now() < deadline {
            if !readable(fd, Duration::from_millis(100)) {
                continue;
            }
            let mut job = ptr::null_mut();
            while camb_job_queue_pop(queue, &mut job) == camb_result::Ok {
                taken.push(job as usize);
            }
        }
        assert!(!readable(fd, Duration::ZERO), "still readable once emptied");
        taken.sort_unstable();
        let mut expected = started.clone();
        expected.sort_unstable();
        assert_eq!(
            taken, expected,
            "each job once, the handles the starts gave"
        );
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
        }
        // A finished status job tells its task's status as its progress too.
        assert_eq!(
            camb_job_status(started[0] as *const camb_job),
            camb_status::Success
        );
        for job in started {
            camb_job_free(job as *mut camb_job);
        }
        camb_job_queue_free(queue);
        camb_client_free(client);
    }
}

#[test]
fn a_wait_holds_no_thread_between_polls_and_a_cancel_ends_it_at_once() {
    let emulator = emulator();
    let client = client_with_threads(&emulator, 2);
    let (sender, receiver) = channel_for::<Delivered>();
    unsafe {
        // A task pending for 300 ms: several polls, then SUCCESS.
        let mut job = ptr::null_mut();
        let task_id = {
            let mut id: *mut c_char = ptr::null_mut();
            let prompt = c("a bell [pending_ms:300]");
            assert_eq!(
                camb_client_create_task(
                    client,
                    prompt.as_ptr(),
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
        assert_eq!(
            camb_client_start_wait_for_task(
                client,
                c(&task_id).as_ptr(),
                &quick_wait(),
                ptr::null(),
                Some(send_done),
                user_data(&sender),
                &mut job,
            ),
            camb_result::Ok
        );
        // Between polls it waits on the timer, holding no thread.
        let mut seen_waiting = false;
        let deadline = Instant::now() + GENEROUS;
        while camb_job_get_state(job) != camb_job_state::Done && Instant::now() < deadline {
            seen_waiting |= camb_job_get_state(job) == camb_job_state::Waiting;
            std::thread::sleep(Duration::from_millis(2));
        }
        receiver.recv_timeout(GENEROUS).expect("delivered");
        assert!(seen_waiting, "never seen between polls");
        assert_eq!(camb_job_result(job), camb_result::Ok, "{}", last_error());
        assert_eq!(camb_task_status(camb_job_task(job)), camb_status::Success);
        assert!(camb_job_polls(job) >= 2, "{} polls", camb_job_polls(job));
        assert_eq!(camb_job_status(job), camb_status::Success);
        camb_job_free(job);

        // A wait that would go on for minutes, cancelled while it waits.
        let slow = camb_wait_options {
            initial_interval_ms: 60_000,
            max_interval_ms: 60_000,
            ..camb_wait_options_default()
        };
        let mut job = ptr::null_mut();
        camb_client_start_wait_for_task(
            client,
            c("demo-pending").as_ptr(),
            &slow,
            ptr::null(),
            Some(send_done),
            user_data(&sender),
            &mut job,
        );
        let deadline = Instant::now() + GENEROUS;
        while camb_job_get_state(job) != camb_job_state::Waiting && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(camb_job_get_state(job), camb_job_state::Waiting);
        let cancelled_at = Instant::now();
        assert_eq!(camb_job_cancel(job), camb_result::Ok);
        receiver.recv_timeout(GENEROUS).expect("delivered");
        assert!(
            cancelled_at.elapsed() < Duration::from_secs(2),
            "{:?}",
            cancelled_at.elapsed()
        );
        assert_eq!(camb_job_result(job), camb_result::Cancelled);
        // Cancelling a finished job changes nothing.
        assert_eq!(camb_job_cancel(job), camb_result::Ok);
        assert_eq!(camb_job_result(job), camb_result::Cancelled);
        camb_job_free(job);
        camb_client_free(client);
    }
}

#[test]
fn a_job_may_free_itself_in_its_callback_and_a_freed_job_is_never_delivered() {
    let emulator = emulator();
    let client = client_with_threads(&emulator, 2);
    unsafe {
        let (sender, receiver) = channel_for::<camb_result>();
        let mut job = ptr::null_mut();
        camb_client_start_get_task_status(
            client,
            c("demo-success").as_ptr(),
            ptr::null(),
            Some(free_self),
            user_data(&sender),
            &mut job,
        );
        assert_eq!(receiver.recv_timeout(GENEROUS).unwrap(), camb_result::Ok);

        // Freed while it waits: cancelled, and its callback never runs.
        let (sender, receiver) = channel_for::<Delivered>();
        let mut job = ptr::null_mut();
        let slow = camb_wait_options {
            initial_interval_ms: 60_000,
            max_interval_ms: 60_000,
            ..camb_wait_options_default()
        };
        camb_client_start_wait_for_task(
            client,
            c("demo-pending").as_ptr(),
            &slow,
            ptr::null(),
            Some(send_done),
            user_data(&sender),
            &mut job,
        );
        camb_job_free(job);
        assert!(receiver.recv_timeout(Duration::from_millis(500)).is_err());
        camb_client_free(client);
    }
}

#[test]
fn freeing_the_client_cancels_its_jobs_and_delivers_them() {
    let emulator = emulator();
    let client = client_with_threads(&emulator, 2);
    let (sender, receiver) = channel_for::<Delivered>();
    let slow = camb_wait_options {
        initial_interval_ms: 60_000,
        max_interval_ms: 60_000,
        ..camb_wait_options_default()
    };
    let mut jobs = Vec::new();
    unsafe {
        for _ in 0..5 {
            let mut job = ptr::null_mut();
            camb_client_start_wait_for_task(
                client,
                c("demo-pending").as_ptr(),
                &slow,
                ptr::null(),
                Some(send_done),
                user_data(&sender),
                &mut job,
            );
            jobs.push(job as usize);
        }
        camb_client_free(client);
        for _ in 0..jobs.len() {
            receiver
                .recv_timeout(GENEROUS)
                .expect("delivered after the free");
        }
        for job in jobs {
            assert_eq!(
                camb_job_result(job as *const camb_job),
                camb_result::Cancelled
            );
            camb_job_free(job as *mut camb_job);
        }
    }
}

#[test]
fn a_batch_job_gives_each_task_its_own_result_in_order() {
    let emulator = emulator();
    let client = client_with_threads(&emulator, 3);
    let (sender, receiver) = channel_for::<Delivered>();
    let ids = ["demo-success", "no-such-task", "", "demo-error"];
    let c_ids: Vec<_> = ids.iter().map(|id| c(id)).collect();
    let pointers: Vec<*const c_char> = c_ids.iter().map(|id| id.as_ptr()).collect();
    let mut job = ptr::null_mut();
    unsafe {
        assert_eq!(
            camb_client_start_get_task_statuses(
                client,
                pointers.as_ptr(),
                pointers.len(),
                2,
                ptr::null(),
                Some(send_done),
                user_data(&sender),
                &mut job,
            ),
            camb_result::Ok
        );
        drop(c_ids); // copied when the job started
        receiver.recv_timeout(GENEROUS).expect("delivered");
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
        camb_client_free(client);
    }
}

#[test]
fn a_generate_job_goes_from_prompt_to_file_and_reports_a_task_that_failed() {
    let emulator = emulator();
    let client = client_with_threads(&emulator, 2);
    let (sender, receiver) = channel_for::<Delivered>();
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
            camb_client_start_generate(
                client,
                c("a bell [pending_ms:100]").as_ptr(),
                &options,
                &quick_wait(),
                c(path.to_str().unwrap()).as_ptr(),
                ptr::null(),
                Some(send_done),
                user_data(&sender),
                &mut job,
            ),
            camb_result::Ok
        );
        receiver.recv_timeout(GENEROUS).expect("delivered");
        assert_eq!(camb_job_result(job), camb_result::Ok, "{:?}", {
            let mut len = 0;
            c_text(camb_job_error(job, &mut len), len)
        });
        let file = std::fs::read(&path).unwrap();
        assert_eq!(camb_job_bytes(job), file.len() as u64);
        assert_eq!(&file[..4], b"RIFF");
        assert!(camb_job_polls(job) >= 1);
        assert_eq!(camb_task_status(camb_job_task(job)), camb_status::Success);
        let mut len = 0;
        assert!(
            !c_text(camb_job_task_id(job, &mut len), len)
                .unwrap()
                .is_empty()
        );
        camb_job_free(job);

        // A task that ends in ERROR: TASK_FAILED, with why; no file.
        let failed_path = dir.join("failed.wav");
        let mut job = ptr::null_mut();
        camb_client_start_generate(
            client,
            c("a bell [status:ERROR]").as_ptr(),
            ptr::null(),
            &quick_wait(),
            c(failed_path.to_str().unwrap()).as_ptr(),
            ptr::null(),
            Some(send_done),
            user_data(&sender),
            &mut job,
        );
        receiver.recv_timeout(GENEROUS).expect("delivered");
        assert_eq!(camb_job_result(job), camb_result::TaskFailed);
        let mut len = 0;
        let why = c_text(camb_job_error(job, &mut len), len).unwrap();
        assert!(why.contains("ended ERROR"), "{why}");
        assert!(!failed_path.exists());
        // The failed generation still tells its task, and how it ended.
        let task = read_task(camb_job_task(job));
        assert_eq!(task.status, camb_status::Error);
        assert!(task.exception_reason.is_some());
        let mut len = 0;
        let id = c_text(camb_job_task_id(job, &mut len), len).unwrap();
        assert_eq!(task.task_id, id);
        camb_job_free(job);
        camb_client_free(client);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_starts_are_refused_with_a_code_and_nothing_runs() {
    let emulator = emulator();
    let client = client_with_threads(&emulator, 1);
    let (sender, _receiver) = channel_for::<Delivered>();
    let mut queue = ptr::null_mut();
    unsafe {
        camb_job_queue_new(&mut queue);
        let id = c("demo-success");
        let mut job = ptr::null_mut();
        let start = |queue, callback, job: *mut *mut camb_job| {
            camb_client_start_get_task_status(
                client,
                id.as_ptr(),
                queue,
                callback,
                user_data(&sender),
                job,
            )
        };
        assert_eq!(
            start(ptr::null(), None, &mut job),
            camb_result::NullParameter
        );
        assert!(
            last_error().contains("queue and callback"),
            "{}",
            last_error()
        );
        assert_eq!(
            start(queue, Some(send_done), &mut job),
            camb_result::InvalidParameter
        );
        assert_eq!(
            start(queue, None, ptr::null_mut()),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_start_get_task_status(
                ptr::null(),
                id.as_ptr(),
                queue,
                None,
                ptr::null_mut(),
                &mut job
            ),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_client_start_get_task_status(
                client,
                c("..").as_ptr(),
                queue,
                None,
                ptr::null_mut(),
                &mut job
            ),
            camb_result::InvalidParameter
        );
        let mut bad_wait = quick_wait();
        bad_wait.backoff_factor = 0.0;
        assert_eq!(
            camb_client_start_wait_for_task(
                client,
                id.as_ptr(),
                &bad_wait,
                queue,
                None,
                ptr::null_mut(),
                &mut job
            ),
            camb_result::InvalidParameter
        );
        assert_eq!(
            camb_client_start_create_task(
                client,
                c("").as_ptr(),
                ptr::null(),
                queue,
                None,
                ptr::null_mut(),
                &mut job
            ),
            camb_result::InvalidParameter
        );
        assert!(job.is_null(), "no job was made");
        assert_eq!(emulator.stats().requests_total, 0, "nothing was sent");
        // NULL everywhere else: defined answers, no crash.
        let mut out = ptr::null_mut();
        assert_eq!(
            camb_job_queue_pop(ptr::null(), &mut out),
            camb_result::NullParameter
        );
        assert_eq!(
            camb_job_queue_pop(queue, ptr::null_mut()),
            camb_result::NullParameter
        );
        assert_eq!(camb_job_queue_fd(ptr::null()), -1);
        assert_eq!(
            camb_job_queue_new(ptr::null_mut()),
            camb_result::NullParameter
        );
        assert_eq!(camb_job_cancel(ptr::null()), camb_result::NullParameter);
        assert_eq!(camb_job_result(ptr::null()), camb_result::NullParameter);
        assert_eq!(camb_job_get_state(ptr::null()), camb_job_state::Done);
        assert!(camb_job_task(ptr::null()).is_null());
        assert!(camb_job_task_list(ptr::null()).is_null());
        assert!(camb_job_error(ptr::null(), ptr::null_mut()).is_null());
        assert_eq!(
            (camb_job_bytes(ptr::null()), camb_job_polls(ptr::null())),
            (0, 0)
        );
        camb_job_free(ptr::null_mut());
        camb_job_queue_free(ptr::null_mut());
        camb_job_queue_free(queue);
        camb_client_free(client);
    }
}

/// A callback that says it started, takes 300 ms, then says it ended.
unsafe extern "C" fn slow_callback(_: *mut camb_job, user_data: *mut c_void) {
    // SAFETY: the test passes a live (Mutex<Sender<&str>>) as user_data.
    let sender = unsafe { &*user_data.cast::<Mutex<Sender<&'static str>>>() };
    let _ = sender.lock().unwrap().send("started");
    std::thread::sleep(Duration::from_millis(300));
    let _ = sender.lock().unwrap().send("ended");
}

/// Freeing a job whose callback is running on a pool thread waits for it to
/// return: what the callback uses may be freed right after.
#[test]
fn freeing_a_job_waits_for_its_running_callback() {
    let emulator = emulator();
    let client = client_with_threads(&emulator, 1);
    let (sender, receiver) = channel_for::<&'static str>();
    let mut job = ptr::null_mut();
    unsafe {
        camb_client_start_get_task_status(
            client,
            c("demo-success").as_ptr(),
            ptr::null(),
            Some(slow_callback),
            user_data(&sender),
            &mut job,
        );
        assert_eq!(receiver.recv_timeout(GENEROUS).unwrap(), "started");
        camb_job_free(job);
        // The callback had ended by the time the free returned.
        assert_eq!(receiver.try_recv().unwrap(), "ended");
        camb_client_free(client);
    }
}

#[test]
fn freeing_the_client_stops_a_status_job_waiting_to_retry() {
    let emulator = emulator();
    emulator.push_fault(status_fault(1000, 503, &[], r#"{"detail":"busy"}"#));
    let builder = c_builder(DEFAULT_API_KEY, &emulator.base_url());
    let mut client = ptr::null_mut();
    let (sender, receiver) = channel_for::<Delivered>();
    let lines = Mutex::new(Vec::<String>::new());
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
                ptr::from_ref(&lines).cast_mut().cast(),
            ),
            camb_result::Ok
        );
        assert_eq!(
            camb_client_builder_build(builder, &mut client),
            camb_result::Ok
        );
        let mut job = ptr::null_mut();
        assert_eq!(
            camb_client_start_get_task_status(
                client,
                c("demo-success").as_ptr(),
                ptr::null(),
                Some(send_done),
                user_data(&sender),
                &mut job,
            ),
            camb_result::Ok
        );
        let deadline = Instant::now() + GENEROUS;
        while status_requests(&emulator) < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(status_requests(&emulator) >= 2, "the job never retried");
        let before_free = lines.lock().unwrap().len();
        camb_client_free(client);
        let delivered = receiver.recv_timeout(GENEROUS).expect("delivered");
        assert_eq!(delivered.job, job as usize);
        // Cancelled, not the 503 after its last retry, nor a retry on the
        // connections the free shut.
        assert_eq!(camb_job_result(job), camb_result::Cancelled);
        let after_free = lines.lock().unwrap()[before_free..].to_vec();
        assert!(
            !after_free.iter().any(|line| line.contains("retried")),
            "retried after the free: {after_free:?}"
        );
        let sent = status_requests(&emulator);
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(status_requests(&emulator), sent, "a request after the free");
        camb_job_free(job);
    }
}

/// A log callback that keeps each line in the `Mutex<Vec<String>>` at `user_data`.
unsafe extern "C" fn keep_line(
    _level: u32,
    line: *const c_char,
    len: usize,
    user_data: *mut c_void,
) {
    // SAFETY: libcamb passes `len` bytes at `line`; the test a live Mutex<Vec>.
    let (bytes, lines) = unsafe {
        (
            std::slice::from_raw_parts(line.cast::<u8>(), len),
            &*user_data.cast::<Mutex<Vec<String>>>(),
        )
    };
    lines
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(bytes).into_owned());
}

/// A batch whose only lane ends before the batch has parked (an invalid id
/// needs no request) must still be woken: 1000 in a row, each delivered.
#[test]
fn a_batch_whose_lanes_end_at_once_is_always_delivered() {
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
        let mut queue = ptr::null_mut();
        assert_eq!(camb_job_queue_new(&mut queue), camb_result::Ok);
        let fd = camb_job_queue_fd(queue);
        let empty = c("");
        let ids = [empty.as_ptr()];
        for round in 0..1000 {
            let mut job = ptr::null_mut();
            assert_eq!(
                camb_client_start_get_task_statuses(
                    client,
                    ids.as_ptr(),
                    1,
                    1,
                    queue,
                    None,
                    ptr::null_mut(),
                    &mut job,
                ),
                camb_result::Ok
            );
            assert!(readable(fd, GENEROUS), "batch {round} never delivered");
            let mut done = ptr::null_mut();
            assert_eq!(camb_job_queue_pop(queue, &mut done), camb_result::Ok);
            assert_eq!(done, job);
            assert_eq!(camb_job_result(done), camb_result::Ok);
            camb_job_free(done);
        }
        camb_client_free(client);
        camb_job_queue_free(queue);
    }
}

/// Takes every job off `queue` as it comes, freeing each at once, until `count`
/// were taken or nothing came for a while; returns the handles taken.
unsafe fn drain_freeing(queue: *mut camb_job_queue, count: usize) -> Vec<usize> {
    let fd = unsafe { camb_job_queue_fd(queue) };
    let mut taken = Vec::new();
    let deadline = Instant::now() + GENEROUS * 4;
    while taken.len() < count && Instant::now() < deadline {
        if !readable(fd, Duration::from_millis(100)) {
            continue;
        }
        let mut job = ptr::null_mut();
        while unsafe { camb_job_queue_pop(queue, &mut job) } == camb_result::Ok {
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
    let mut queue = ptr::null_mut();
    unsafe {
        assert_eq!(camb_job_queue_new(&mut queue), camb_result::Ok);
        // One job each, both done; pop one and free it: the other is still there.
        let mut jobs = [ptr::null_mut(); 2];
        for (client, job) in clients.iter().zip(jobs.iter_mut()) {
            assert_eq!(
                camb_client_start_get_task_status(
                    *client,
                    c("demo-success").as_ptr(),
                    queue,
                    None,
                    ptr::null_mut(),
                    job,
                ),
                camb_result::Ok
            );
        }
        let deadline = Instant::now() + GENEROUS;
        while jobs
            .iter()
            .any(|&job| camb_job_get_state(job) != camb_job_state::Done)
        {
            assert!(Instant::now() < deadline, "the jobs did not finish");
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut first = ptr::null_mut();
        assert_eq!(camb_job_queue_pop(queue, &mut first), camb_result::Ok);
        camb_job_free(first);
        let mut second = ptr::null_mut();
        assert_eq!(
            camb_job_queue_pop(queue, &mut second),
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
                camb_client_start_get_task_status(
                    clients[n % 2],
                    c("demo-success").as_ptr(),
                    queue,
                    None,
                    ptr::null_mut(),
                    &mut job,
                ),
                camb_result::Ok
            );
            started.push(job as usize);
        }
        let mut taken = drain_freeing(queue, started.len());
        taken.sort_unstable();
        started.sort_unstable();
        assert_eq!(taken.len(), 300, "jobs were never delivered");
        assert_eq!(taken, started, "each job once");
        camb_job_queue_free(queue);
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
    let (sender, _receiver) = channel_for::<Delivered>();
    unsafe {
        for (path, code, words) in refused {
            let mut job = ptr::null_mut();
            let result = camb_client_start_generate(
                client,
                c("a bell").as_ptr(),
                ptr::null(),
                &quick_wait(),
                c(path.to_str().unwrap()).as_ptr(),
                ptr::null(),
                Some(send_done),
                user_data(&sender),
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
            camb_client_start_generate(
                client,
                c("a bell [pending_ms:60000]").as_ptr(),
                ptr::null(),
                &quick_wait(),
                c_fifo.as_ptr(),
                ptr::null(),
                Some(send_done),
                user_data(&sender),
                &mut job,
            ),
            camb_result::Ok,
            "{}",
            last_error()
        );
        camb_job_free(job);

        // The path is checked again when the audio is saved: a directory removed
        // while the task ran fails the job then, with no file left behind.
        let later = dir.join("removed-later");
        std::fs::create_dir(&later).unwrap();
        let mut job = ptr::null_mut();
        let (sender, receiver) = channel_for::<Delivered>();
        assert_eq!(
            camb_client_start_generate(
                client,
                c("a bell [pending_ms:300]").as_ptr(),
                ptr::null(),
                &quick_wait(),
                c(later.join("bell.wav").to_str().unwrap()).as_ptr(),
                ptr::null(),
                Some(send_done),
                user_data(&sender),
                &mut job,
            ),
            camb_result::Ok
        );
        std::fs::remove_dir(&later).unwrap();
        receiver.recv_timeout(GENEROUS).expect("delivered");
        assert_eq!(camb_job_result(job), camb_result::Io);
        let mut len = 0;
        let why = c_text(camb_job_error(job, &mut len), len).unwrap();
        assert!(why.contains("does not exist"), "{why}");
        assert!(!later.exists());
        camb_job_free(job);
        camb_client_free(client);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
