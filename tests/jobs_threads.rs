//! Many jobs on a small pool: the process's thread count stays at most the pool
//! and its timer thread over what it was, however many jobs wait; a cancel
//! delivers them all. (A binary of its own: the thread count is the process's.)

mod common;

use std::ptr;
use std::time::{Duration, Instant};

use camb::ffi::builder::*;
use camb::ffi::client::*;
use camb::ffi::job::*;
use camb::ffi::queue::*;
use camb::ffi::result_code::camb_result;
use camb::ffi::wait::*;
use common::*;

/// Makes and submits a wait job for `demo-pending`.
unsafe fn submit_wait(
    client: *mut camb_client,
    options: &camb_wait_options,
    queue: *mut camb_queue,
) -> usize {
    let mut job = ptr::null_mut();
    unsafe {
        assert_eq!(
            camb_client_job_wait_for_task(client, c("demo-pending").as_ptr(), options, &mut job),
            camb_result::Ok
        );
        assert_eq!(
            camb_job_submit(job, queue, ptr::null_mut()),
            camb_result::Ok
        );
    }
    job as usize
}

/// Every event now on `queue` (its jobs), without waiting.
unsafe fn drain(queue: *mut camb_queue) -> Vec<usize> {
    let mut taken = Vec::new();
    let (mut event, mut job) = (camb_event::JobData, ptr::null_mut());
    while unsafe { camb_queue_pop(queue, &mut event, &mut job) } == camb_result::Ok {
        taken.push(job as usize);
    }
    taken
}

fn threads_now() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn many_waiting_jobs_share_a_small_pool_and_cancel_together() {
    let emulator = emulator();
    let threads_before = threads_now();
    let builder = c_builder(DEFAULT_API_KEY, &emulator.base_url());
    let mut client = ptr::null_mut();
    unsafe {
        assert_eq!(
            camb_client_builder_set_job_threads(builder, 4),
            camb_result::Ok
        );
        assert_eq!(
            camb_client_builder_build(builder, &mut client),
            camb_result::Ok
        );
    }
    let mut queue = ptr::null_mut();
    // SAFETY: a writable out-pointer.
    assert_eq!(unsafe { camb_queue_new(&mut queue) }, camb_result::Ok);
    let count = 1000;
    let mut jobs = Vec::new();
    unsafe {
        let options = camb_wait_options {
            initial_interval_ms: 30_000,
            max_interval_ms: 30_000,
            ..camb_wait_options_default()
        };
        for _ in 0..count {
            jobs.push(submit_wait(client, &options, queue));
        }
        // Every one has polled once and waits on the timer.
        let deadline = Instant::now() + GENEROUS;
        while jobs
            .iter()
            .any(|&j| camb_job_get_state(j as *const camb_job) != camb_job_state::Waiting)
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            jobs.iter()
                .all(|&j| camb_job_get_state(j as *const camb_job) == camb_job_state::Waiting)
        );
        // The pool's 4 threads and its timer thread (the emulator's own are in
        // `threads_before`), never a thread per job.
        let added = threads_now() - threads_before;
        assert!(added <= 4 + 2, "{added} threads for {count} jobs");
        let started = Instant::now();
        for &job in &jobs {
            camb_job_cancel(job as *const camb_job);
        }
        for _ in 0..count {
            let (mut event, mut job) = (camb_event::JobData, ptr::null_mut());
            assert_eq!(
                camb_queue_wait(queue, GENEROUS.as_millis() as u32, &mut event, &mut job),
                camb_result::Ok,
                "every one delivered"
            );
        }
        let all_delivered = started.elapsed();
        assert!(all_delivered < Duration::from_secs(5), "{all_delivered:?}");
        for &job in &jobs {
            assert_eq!(
                camb_job_result(job as *const camb_job),
                camb_result::Cancelled
            );
            camb_job_free(job as *mut camb_job);
        }

        // The client freed under 200 waiting jobs: before it returns, every job
        // was delivered (cancelled) and the pool's threads have ended, so no
        // libcamb thread outlives the client.
        let mut jobs = Vec::new();
        for _ in 0..200 {
            jobs.push(submit_wait(client, &options, queue));
        }
        let deadline = Instant::now() + GENEROUS;
        while jobs
            .iter()
            .any(|&j| camb_job_get_state(j as *const camb_job) != camb_job_state::Waiting)
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(camb_thread_names().len() >= 5, "{:?}", camb_thread_names());
        camb_client_free(client);
        let left = camb_thread_names();
        let mut delivered = drain(queue);
        delivered.sort_unstable();
        jobs.sort_unstable();
        assert_eq!(delivered, jobs, "delivered before the free returned");
        assert!(
            left.is_empty(),
            "threads left after the client was freed: {left:?}"
        );
        for &job in &jobs {
            assert_eq!(
                camb_job_result(job as *const camb_job),
                camb_result::Cancelled
            );
            camb_job_free(job as *mut camb_job);
        }
        camb_queue_free(queue);
    }
}

/// The names of this process's libcamb threads (camb-job-N, camb-timer).
fn camb_thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .filter(|name| name.starts_with("camb-job-") || name == "camb-timer")
        .collect()
}
