//! The engine's lifecycle, model-checked with loom: every interleaving loom
//! explores (preemptions bounded, so that it runs on 2 cores) must deliver each
//! job that was not dropped exactly once, deliver nothing to a freed queue, and
//! never deadlock (loom fails a model in which every thread waits). Run by
//! scripts/loom.sh:
//! `RUSTFLAGS="--cfg camb_loom" cargo test --lib engine::model`.
//! The reference counts are std's (loom has no `Weak`): the model checks the
//! locks, condition variables and threads that order them.

use std::time::{Duration, Instant};

use super::sync::Arc;
use super::*;

/// `steps` more steps (each [`Step::Again`], or a pause far off when `pause`),
/// then `value`.
struct Steps {
    steps: u32,
    pause: bool,
    value: u32,
}

impl Work<u32> for Steps {
    fn step(&mut self, _: &StepContext<'_>) -> Step<u32> {
        if self.steps == 0 {
            return Step::Done(Ok(self.value));
        }
        self.steps -= 1;
        if self.pause {
            Step::At(Instant::now() + Duration::from_secs(3600))
        } else {
            Step::Again
        }
    }
}

type ModelJob = Job<u32, ()>;

fn job(steps: u32, pause: bool, value: u32) -> Arc<ModelJob> {
    Job::new(
        Box::new(Steps {
            steps,
            pause,
            value,
        }),
        (),
        None,
    )
}

/// Explores `body` with at most `preemptions` preemptions per interleaving
/// (LOOM_MAX_PREEMPTIONS, when set, takes precedence).
fn model(preemptions: usize, body: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(preemptions);
    }
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&runs);
    builder.check(move || {
        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        body();
    });
    let runs = runs.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("loom explored {runs} interleavings");
    // One would mean loom saw no point to choose at: the model would prove nothing.
    assert!(runs > 1, "loom explored a single interleaving");
}

/// Takes `count` events off `queue`, waiting for each.
fn take(queue: &Queue<u32, ()>, count: usize) -> Vec<Arc<ModelJob>> {
    (0..count)
        .map(|_| {
            loop {
                if let Some((Event::Finished, job)) = queue.wait(Duration::from_secs(3600)) {
                    break job;
                }
            }
        })
        .collect()
}

/// Two jobs submitted, one cancelled from another thread while they run: each
/// comes back exactly once, the cancelled one finished or cancelled.
#[test]
fn submitted_jobs_come_back_once_even_when_cancelled_meanwhile() {
    model(2, || {
        let pool: Pool<u32, ()> = Pool::new(1, None);
        let queue = Arc::new(Queue::new().unwrap());
        let (a, b) = (job(1, false, 1), job(1, false, 2));
        pool.submit(Arc::clone(&a), Arc::clone(&queue)).unwrap();
        pool.submit(Arc::clone(&b), Arc::clone(&queue)).unwrap();
        let canceller = {
            let b = Arc::clone(&b);
            loom::thread::spawn(move || b.cancel())
        };
        let delivered = take(&queue, 2);
        canceller.join().unwrap();
        assert!(queue.pop().is_none(), "delivered twice");
        assert!(delivered.iter().any(|j| Arc::ptr_eq(j, &a)));
        assert!(delivered.iter().any(|j| Arc::ptr_eq(j, &b)));
        assert_eq!(*a.outcome().unwrap().as_ref().unwrap(), 1);
        match b.outcome().unwrap() {
            Ok(value) => assert_eq!(*value, 2),
            Err(error) => assert_eq!(error.kind(), ErrorKind::Cancelled),
        }
        drop(delivered);
        pool.shut_down();
        pool.join();
    });
}

/// A queue freed while its job finishes: the job is dropped by the engine
/// (never left behind, never delivered after the free), whichever comes first.
#[test]
fn a_queue_freed_while_its_job_finishes_delivers_nothing_after() {
    model(2, || {
        let pool: Pool<u32, ()> = Pool::new(1, None);
        let queue = Arc::new(Queue::new().unwrap());
        let made = job(1, false, 1);
        let watch = Arc::downgrade(&made);
        pool.submit(made, Arc::clone(&queue)).unwrap();
        queue.close();
        pool.shut_down();
        pool.join();
        assert!(queue.pop().is_none(), "delivered to a freed queue");
        assert!(watch.upgrade().is_none(), "the job was left behind");
    });
}

/// The pool shut down (its client freed) with one job on the timer and one
/// running: both are delivered, cancelled or finished, and the join returns.
#[test]
fn shutting_down_under_running_jobs_delivers_them_and_ends_the_threads() {
    model(2, || {
        let pool: Pool<u32, ()> = Pool::new(1, None);
        let queue = Arc::new(Queue::new().unwrap());
        let (waiting, running) = (job(1, true, 1), job(1, false, 2));
        pool.submit(Arc::clone(&waiting), Arc::clone(&queue))
            .unwrap();
        pool.submit(Arc::clone(&running), Arc::clone(&queue))
            .unwrap();
        pool.shut_down();
        pool.join();
        let delivered = take(&queue, 2);
        assert!(queue.pop().is_none(), "delivered twice");
        assert!(delivered.iter().any(|j| Arc::ptr_eq(j, &waiting)));
        assert!(delivered.iter().any(|j| Arc::ptr_eq(j, &running)));
        assert_eq!(
            waiting.outcome().unwrap().as_ref().unwrap_err().kind(),
            ErrorKind::Cancelled
        );
    });
}

/// Tells its caller twice that it has data, then finishes: a stream's shape.
struct Streams;

impl Work<u32> for Streams {
    fn step(&mut self, cx: &StepContext<'_>) -> Step<u32> {
        for _ in 0..2 {
            if let Some(data) = cx.data {
                data.ready();
            }
        }
        Step::Done(Ok(7))
    }
}

/// A streaming job's data events, taken while it runs or after: both come, in
/// order, before the job's one finished event, and nothing after it. This
/// is what lets the C layer hand out a data event's job without a reference of
/// its own: the engine still holds the job until its finished event is taken.
#[test]
fn data_events_come_before_the_job_is_finished_and_never_after() {
    model(2, || {
        let pool: Pool<u32, ()> = Pool::new(1, None);
        let queue = Arc::new(Queue::new().unwrap());
        let streaming = Job::new(Box::new(Streams), (), None);
        pool.submit(Arc::clone(&streaming), Arc::clone(&queue))
            .unwrap();
        let mut events = Vec::new();
        loop {
            let (event, job) = queue.wait(Duration::from_secs(3600)).unwrap();
            assert!(Arc::ptr_eq(&job, &streaming));
            events.push(event);
            if event == Event::Finished {
                break;
            }
        }
        assert_eq!(events, [Event::Data, Event::Data, Event::Finished]);
        assert!(queue.pop().is_none(), "an event after the finished one");
        pool.shut_down();
        pool.join();
    });
}
