//! The engine on its own, with work that needs no server.

use std::time::{Duration, Instant};

use super::sync::{Arc, spawn_fault};
use super::*;
use crate::readiness;

/// Counts down: `steps` steps, each `pause` apart, then `value`.
struct Countdown {
    steps: u32,
    pause: Duration,
    value: u32,
}

impl Work<u32> for Countdown {
    fn step(&mut self, _: &StepContext<'_>) -> Step<u32> {
        if self.steps == 0 {
            return Step::Done(Ok(self.value));
        }
        self.steps -= 1;
        Step::At(Instant::now() + self.pause)
    }
}

fn countdown(steps: u32, pause_ms: u64, value: u32) -> Box<Countdown> {
    Box::new(Countdown {
        steps,
        pause: Duration::from_millis(pause_ms),
        value,
    })
}

type TestJob = Job<u32, ()>;

fn job(work: Box<Countdown>) -> Arc<TestJob> {
    Job::new(work, (), None)
}

fn next_event(queue: &Queue<u32, ()>) -> (Event, Arc<TestJob>) {
    queue
        .wait(Duration::from_secs(10))
        .expect("an event within 10 s")
}

#[test]
fn the_same_work_runs_here_and_on_a_pool() {
    let here = run_here(&mut *countdown(3, 1, 7), &CancelToken::new());
    assert_eq!(here.unwrap(), 7);
    let pool: Pool<u32, ()> = Pool::new(1, None);
    let queue = Arc::new(Queue::new().unwrap());
    let made = job(countdown(3, 1, 8));
    assert_eq!(made.phase(), Phase::New);
    pool.submit(Arc::clone(&made), Arc::clone(&queue)).unwrap();
    let (event, delivered) = next_event(&queue);
    assert_eq!(event, Event::Finished);
    assert!(Arc::ptr_eq(&delivered, &made));
    assert_eq!(made.phase(), Phase::Done);
    assert_eq!(*made.outcome().unwrap().as_ref().unwrap(), 8);
    assert!(queue.pop().is_none());
}

#[test]
fn a_job_is_submitted_once() {
    let pool: Pool<u32, ()> = Pool::new(1, None);
    let queue = Arc::new(Queue::new().unwrap());
    let made = job(countdown(0, 0, 1));
    pool.submit(Arc::clone(&made), Arc::clone(&queue)).unwrap();
    let (error, _) = pool
        .submit(Arc::clone(&made), Arc::clone(&queue))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidParameter);
    next_event(&queue);
}

#[test]
fn a_cancel_ends_a_blocking_run_between_its_steps() {
    let cancel = CancelToken::new();
    let canceller = {
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            cancel.cancel();
        })
    };
    let result = run_here(&mut *countdown(1, 60_000, 0), &cancel);
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Cancelled);
    canceller.join().unwrap();
}

#[test]
fn a_cancel_wakes_a_job_on_the_timer_and_delivers_it() {
    let pool: Pool<u32, ()> = Pool::new(1, None);
    let queue = Arc::new(Queue::new().unwrap());
    let made = job(countdown(1, 60_000, 0));
    pool.submit(Arc::clone(&made), Arc::clone(&queue)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while made.phase() != Phase::Waiting {
        assert!(Instant::now() < deadline, "never reached its pause");
        std::thread::sleep(Duration::from_millis(1));
    }
    made.cancel();
    let (_, delivered) = next_event(&queue);
    assert_eq!(
        delivered.outcome().unwrap().as_ref().unwrap_err().kind(),
        ErrorKind::Cancelled
    );
}

#[test]
fn shutting_a_pool_down_delivers_its_jobs_cancelled_and_ends_its_threads() {
    let pool: Pool<u32, ()> = Pool::new(2, None);
    let queue = Arc::new(Queue::new().unwrap());
    for _ in 0..10 {
        pool.submit(job(countdown(1, 60_000, 0)), Arc::clone(&queue))
            .unwrap();
    }
    pool.shut_down();
    pool.join();
    assert_eq!(pool.threads(), 0);
    let mut delivered = 0;
    while let Some((_, job)) = queue.pop() {
        assert_eq!(
            job.outcome().unwrap().as_ref().unwrap_err().kind(),
            ErrorKind::Cancelled
        );
        delivered += 1;
    }
    assert_eq!(delivered, 10);
    let (error, _) = pool
        .submit(job(countdown(0, 0, 0)), Arc::clone(&queue))
        .unwrap_err();
    assert!(error.message().contains("being freed"), "{error}");
}

#[test]
fn a_freed_queue_takes_no_more_jobs_and_drops_them() {
    let pool: Pool<u32, ()> = Pool::new(1, None);
    let queue = Arc::new(Queue::new().unwrap());
    let made = job(countdown(1, 50, 0));
    let watch = Arc::downgrade(&made);
    pool.submit(made, Arc::clone(&queue)).unwrap();
    queue.close();
    let deadline = Instant::now() + Duration::from_secs(10);
    while watch.upgrade().is_some() {
        assert!(Instant::now() < deadline, "the job was never dropped");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(queue.pop().is_none());
}

#[test]
fn a_pool_whose_threads_cannot_all_start_refuses_the_job_and_leaves_none() {
    let pool: Pool<u32, ()> = Pool::new(3, None);
    let queue = Arc::new(Queue::new().unwrap());
    // The timer and one worker start; the second worker does not.
    spawn_fault::fail_spawns_after(Some(2));
    let refused = pool.submit(job(countdown(0, 0, 1)), Arc::clone(&queue));
    spawn_fault::fail_spawns_after(None);
    let (error, given_back) = refused.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Io, "{error}");
    assert!(
        error.message().contains("cannot start a job thread"),
        "{error}"
    );
    assert_eq!(pool.threads(), 0, "threads were left");
    assert_eq!(given_back.phase(), Phase::New);
    // Once threads can start again, so can the same job.
    pool.submit(Arc::clone(&given_back), Arc::clone(&queue))
        .unwrap();
    let (_, delivered) = next_event(&queue);
    assert_eq!(*delivered.outcome().unwrap().as_ref().unwrap(), 1);
}

#[test]
fn a_queue_without_a_descriptor_is_a_clear_error() {
    readiness::fault::fail_new_handles(true);
    let made = Queue::<u32, ()>::new();
    readiness::fault::fail_new_handles(false);
    let error = made.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Io);
    assert!(
        error.message().contains("readiness descriptor") && error.message().contains("os error 24"),
        "{error}"
    );
}

#[test]
fn the_descriptor_is_readable_exactly_while_events_wait() {
    let readable = |queue: &Queue<u32, ()>| {
        let mut poll = libc::pollfd {
            fd: queue.readiness().handle() as i32,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut poll, 1, 0) == 1 }
    };
    let pool: Pool<u32, ()> = Pool::new(1, None);
    let queue = Arc::new(Queue::new().unwrap());
    assert!(!readable(&queue));
    for value in [1, 2] {
        pool.submit(job(countdown(0, 0, value)), Arc::clone(&queue))
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !readable(&queue) {
        assert!(Instant::now() < deadline, "never readable");
        std::thread::sleep(Duration::from_millis(1));
    }
    next_event(&queue);
    next_event(&queue);
    assert!(!readable(&queue), "readable once emptied");
    assert!(queue.wait(Duration::from_millis(10)).is_none());
}

/// A submit whose thread start fails, beside another submit at the same time:
/// the other's job is never stranded on threads told to retire, and the pool
/// still shuts down. Many rounds, to meet the moment the two overlap.
#[test]
fn a_failed_start_beside_another_submit_strands_no_job() {
    for round in 0..200 {
        let pool: Arc<Pool<u32, ()>> = Arc::new(Pool::new(2, None));
        let queue = Arc::new(Queue::new().unwrap());
        let failing = {
            let (pool, queue) = (Arc::clone(&pool), Arc::clone(&queue));
            std::thread::spawn(move || {
                spawn_fault::fail_spawns_after(Some(1));
                let refused = pool.submit(job(countdown(1, 1, 1)), queue).is_err();
                spawn_fault::fail_spawns_after(None);
                refused
            })
        };
        if round % 2 == 1 {
            std::thread::yield_now();
        }
        let other = job(countdown(1, 1, 2));
        pool.submit(Arc::clone(&other), Arc::clone(&queue)).unwrap();
        let refused = failing.join().unwrap();
        let expected = if refused { 1 } else { 2 };
        for _ in 0..expected {
            assert!(
                queue.wait(Duration::from_secs(10)).is_some(),
                "round {round}: a submitted job never came back"
            );
        }
        assert_eq!(*other.outcome().unwrap().as_ref().unwrap(), 2);
        pool.shut_down();
        pool.join();
    }
}
