//! The work of each kind of job, as steps for [`crate::jobs`]: a status query,
//! a create, a wait (one poll per step, its pauses on the timer), a download, a
//! save, a batch (lanes on the pool), and a whole generation (create, wait, save).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use crate::client::Client;
use crate::create::CreateRequest;
use crate::destination::Destination;
use crate::error::{Error, ErrorKind};
use crate::jobs::{Completion, Job, Output, Step, Work};
use crate::task::{TaskInfo, TaskStatus};
use crate::wait::{AfterPoll, WaitOptions, WaitState};

/// `GET /text-to-sound/{task_id}`.
pub(crate) struct StatusWork {
    pub(crate) client: Arc<Client>,
    pub(crate) task_id: String,
}

impl Work for StatusWork {
    fn step(&mut self, job: &Arc<Job>) -> Step {
        job.note_task(&self.task_id, None);
        Step::Done(
            self.client
                .get_task_status_cancellable(&self.task_id, &job.cancel)
                .map(|info| Output::Task {
                    task_id: std::mem::take(&mut self.task_id),
                    info,
                }),
        )
    }
}

/// `POST /text-to-sound`.
pub(crate) struct CreateWork {
    pub(crate) client: Arc<Client>,
    pub(crate) request: CreateRequest,
}

impl Work for CreateWork {
    fn step(&mut self, job: &Arc<Job>) -> Step {
        let created = self
            .client
            .create_task_cancellable(&self.request, Some(&job.cancel));
        if let Ok(task_id) = &created {
            job.note_task(task_id, None);
        }
        Step::Done(created.map(Output::TaskId))
    }
}

/// What one poll of a wait decided.
enum Polled {
    Final(TaskInfo),
    Failed(Error),
    Again(Instant),
}

/// The polls of one wait, each a step of its job.
struct Poller {
    url: String,
    state: WaitState,
}

impl Poller {
    fn new(client: &Client, task_id: &str, options: &WaitOptions) -> Result<Poller, Error> {
        Ok(Poller {
            url: client.status_url(task_id)?,
            state: WaitState::new(options)?,
        })
    }

    fn poll(&mut self, client: &Client, job: &Job) -> Polled {
        let outcome = client.poll_status(&self.url, self.state.deadline(), Some(&job.cancel));
        job.note_poll(outcome.as_ref().ok().map(|info| info.status_text.as_str()));
        match self.state.after_poll(outcome, |_| true) {
            AfterPoll::Done(Ok(info)) => Polled::Final(info),
            AfterPoll::Done(Err(error)) => Polled::Failed(error),
            AfterPoll::PollAt(when) => Polled::Again(when),
        }
    }
}

/// A wait until the task's status is final.
pub(crate) struct WaitWork {
    client: Arc<Client>,
    task_id: String,
    poller: Poller,
}

impl WaitWork {
    /// Checks the id and the options now, so that a bad one refuses the start.
    pub(crate) fn new(
        client: Arc<Client>,
        task_id: &str,
        options: &WaitOptions,
    ) -> Result<WaitWork, Error> {
        Ok(WaitWork {
            poller: Poller::new(&client, task_id, options)?,
            client,
            task_id: task_id.to_owned(),
        })
    }
}

impl Work for WaitWork {
    fn step(&mut self, job: &Arc<Job>) -> Step {
        job.note_task(&self.task_id, None);
        match self.poller.poll(&self.client, job) {
            Polled::Final(info) => Step::Done(Ok(Output::Task {
                task_id: std::mem::take(&mut self.task_id),
                info,
            })),
            Polled::Failed(error) => Step::Done(Err(error)),
            Polled::Again(when) => Step::At(when),
        }
    }
}

/// Where a download job's chunks go, on the pool thread.
pub(crate) type ChunkSink = Box<dyn FnMut(&[u8]) -> Result<(), Error> + Send>;

/// A download, its chunks handed to `sink` on the pool thread.
pub(crate) struct DownloadWork {
    pub(crate) client: Arc<Client>,
    pub(crate) run_id: i64,
    pub(crate) sink: ChunkSink,
}

impl Work for DownloadWork {
    fn step(&mut self, job: &Arc<Job>) -> Step {
        let sink = &mut self.sink;
        Step::Done(
            self.client
                .download_audio(self.run_id, Some(&job.cancel), &mut |chunk| sink(chunk))
                .map(Output::Bytes),
        )
    }
}

/// A save to a path.
pub(crate) struct SaveWork {
    pub(crate) client: Arc<Client>,
    pub(crate) run_id: i64,
    pub(crate) path: PathBuf,
}

impl Work for SaveWork {
    fn step(&mut self, job: &Arc<Job>) -> Step {
        Step::Done(
            self.client
                .save_audio(self.run_id, &self.path, Some(&job.cancel))
                .map(Output::Bytes),
        )
    }
}

/// What a batch's lanes share: the ids, the next one to take, the results.
struct BatchShared {
    client: Arc<Client>,
    ids: Vec<Result<String, Error>>,
    next: AtomicUsize,
    results: Mutex<Vec<Option<Result<TaskInfo, Error>>>>,
    lanes_left: AtomicUsize,
    batch: Mutex<Weak<Job>>,
}

/// Many statuses: up to `lanes` queries at a time, each lane a hidden job on the
/// pool taking the next id until none is left; the batch itself holds no thread
/// while its lanes run.
pub(crate) struct BatchWork {
    shared: Option<Arc<BatchShared>>,
    lanes: usize,
}

impl BatchWork {
    /// `ids` as the caller gave them: an id that is not usable fails only its own
    /// entry.
    pub(crate) fn new(
        client: Arc<Client>,
        ids: Vec<Result<String, Error>>,
        lanes: usize,
    ) -> BatchWork {
        let count = ids.len();
        BatchWork {
            shared: Some(Arc::new(BatchShared {
                client,
                results: Mutex::new((0..count).map(|_| None).collect()),
                ids,
                next: AtomicUsize::new(0),
                lanes_left: AtomicUsize::new(0),
                batch: Mutex::new(Weak::new()),
            })),
            lanes: lanes.max(1),
        }
    }
}

impl Work for BatchWork {
    fn step(&mut self, job: &Arc<Job>) -> Step {
        let Some(shared) = self.shared.as_ref() else {
            return Step::Done(Err(Error::new(
                ErrorKind::Panic,
                "internal error: batch ran twice",
            )));
        };
        let started = shared.lanes_left.load(Ordering::Acquire) > 0
            || shared.next.load(Ordering::Acquire) > 0;
        if !started && !shared.ids.is_empty() {
            *lock(&shared.batch) = Arc::downgrade(job);
            let lanes = self.lanes.min(shared.ids.len());
            shared.lanes_left.store(lanes, Ordering::Release);
            for _ in 0..lanes {
                let lane = LaneWork {
                    shared: Arc::clone(shared),
                    cancel: job.cancel.clone(),
                };
                let lane_shared = Arc::clone(shared);
                let done = Completion::Callback(Box::new(move |_| lane_finished(&lane_shared)));
                if let Err(error) = job.start_sibling(&shared.client, Box::new(lane), done) {
                    // No lane could start (the client is being freed): the batch
                    // fails; lanes already started finish on their own.
                    return Step::Done(Err(error));
                }
            }
            return Step::Park;
        }
        // Woken by the last lane (or cancelled): the results, in order.
        if shared.lanes_left.load(Ordering::Acquire) > 0 && !job.cancel.is_cancelled() {
            return Step::Park;
        }
        let shared = self.shared.take().unwrap_or_else(|| unreachable!());
        let results = std::mem::take(&mut *lock(&shared.results));
        let statuses = shared
            .ids
            .iter()
            .zip(results)
            .map(|(id, result)| {
                let text = id.as_ref().map_or_else(|_| String::new(), Clone::clone);
                let outcome = result.unwrap_or_else(|| {
                    Err(Error::new(ErrorKind::Cancelled, "the batch was cancelled"))
                });
                (text, outcome)
            })
            .collect();
        Step::Done(Ok(Output::Statuses(statuses)))
    }
}

/// One lane of a batch: a query per step, then the next id.
struct LaneWork {
    shared: Arc<BatchShared>,
    cancel: crate::cancel::CancelToken,
}

impl Work for LaneWork {
    fn step(&mut self, _: &Arc<Job>) -> Step {
        if self.cancel.is_cancelled() {
            return Step::Done(Ok(Output::Bytes(0)));
        }
        let index = self.shared.next.fetch_add(1, Ordering::AcqRel);
        let Some(id) = self.shared.ids.get(index) else {
            return Step::Done(Ok(Output::Bytes(0)));
        };
        let result = match id {
            Ok(id) => self
                .shared
                .client
                .get_task_status_cancellable(id, &self.cancel),
            Err(error) => Err(error.clone()),
        };
        lock(&self.shared.results)[index] = Some(result);
        Step::Again
    }
}

/// A lane ended: the last one wakes its batch.
fn lane_finished(shared: &BatchShared) {
    if shared.lanes_left.fetch_sub(1, Ordering::AcqRel) == 1 {
        if let Some(batch) = lock(&shared.batch).upgrade() {
            batch.wake();
        }
    }
}

/// Prompt to WAV file: create the task, wait for it (its pauses on the timer),
/// save its audio.
pub(crate) struct GenerateWork {
    client: Arc<Client>,
    request: CreateRequest,
    options: WaitOptions,
    path: PathBuf,
    stage: Stage,
}

enum Stage {
    Create,
    Wait { task_id: String, poller: Poller },
    Save { task_id: String, info: TaskInfo },
    Over,
}

impl GenerateWork {
    /// Checks what can be checked before anything is sent.
    pub(crate) fn new(
        client: Arc<Client>,
        request: CreateRequest,
        options: &WaitOptions,
        path: PathBuf,
    ) -> Result<GenerateWork, Error> {
        request.validate()?;
        options.validate()?;
        // Before the task is created (and billed): a file that could never be
        // saved refuses the start. The save looks again, as the path may change.
        Destination::check(&path)?;
        Ok(GenerateWork {
            client,
            request,
            options: *options,
            path,
            stage: Stage::Create,
        })
    }
}

impl Work for GenerateWork {
    fn step(&mut self, job: &Arc<Job>) -> Step {
        match std::mem::replace(&mut self.stage, Stage::Over) {
            Stage::Create => {
                let task_id = match self
                    .client
                    .create_task_cancellable(&self.request, Some(&job.cancel))
                {
                    Ok(task_id) => task_id,
                    Err(error) => return Step::Done(Err(error)),
                };
                job.note_task(&task_id, None);
                match Poller::new(&self.client, &task_id, &self.options) {
                    Ok(poller) => {
                        self.stage = Stage::Wait { task_id, poller };
                        Step::Again
                    }
                    Err(error) => Step::Done(Err(error)),
                }
            }
            Stage::Wait {
                task_id,
                mut poller,
            } => match poller.poll(&self.client, job) {
                Polled::Final(info) if info.status == TaskStatus::Success => {
                    self.stage = Stage::Save { task_id, info };
                    Step::Again
                }
                Polled::Final(info) => {
                    job.note_task(&task_id, Some(&info));
                    Step::Done(Err(task_failed(&task_id, &info)))
                }
                Polled::Failed(error) => Step::Done(Err(error)),
                Polled::Again(when) => {
                    self.stage = Stage::Wait { task_id, poller };
                    Step::At(when)
                }
            },
            Stage::Save { task_id, info } => {
                let Some(run_id) = info.run_id else {
                    return Step::Done(Err(Error::bad_response(format!(
                        "task {task_id} succeeded without a run id"
                    ))));
                };
                Step::Done(
                    self.client
                        .save_audio(run_id, &self.path, Some(&job.cancel))
                        .map(|bytes| Output::Generated {
                            task_id,
                            info,
                            bytes,
                        }),
                )
            }
            Stage::Over => Step::Done(Err(Error::new(
                ErrorKind::Panic,
                "internal error: a generation ran past its end",
            ))),
        }
    }
}

/// A task that ended without audio (ERROR, TIMEOUT, PAYMENT_REQUIRED...).
fn task_failed(task_id: &str, info: &TaskInfo) -> Error {
    let mut message = format!("task {task_id} ended {}", info.status_text);
    if let Some(reason) = &info.exception_reason {
        message.push_str(&format!(": {reason}"));
    }
    if let Some(text) = &info.message {
        message.push_str(&format!(" ({text})"));
    }
    Error::new(ErrorKind::TaskFailed, message)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
