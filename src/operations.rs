//! Every operation of the API, each written once as a [`Work`]: a status query,
//! a create, a wait (one poll per step, its pauses between steps), a download, a
//! save, an audio URL, many audio URLs, a batch of statuses, and a whole
//! generation (create, wait, save). A blocking call runs the work on the calling
//! thread ([`crate::engine::run_here`]); a job runs the same work on the client's
//! pool. Only the blocking form can hand chunks or progress to the caller's own
//! code as they come, since only it runs on the caller's thread.
//!
//! The work borrows its client through `C: Borrow<Client>`: `&Client` for a
//! blocking call, `Arc<Client>` for a job that may outlive the call that
//! started it.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::audio_pipe::AudioPipe;
use crate::client::Client;
use crate::create::CreateRequest;
use crate::destination::Destination;
use crate::engine::{Step, StepContext, Work};
use crate::error::{Error, ErrorKind};
use crate::log::{LogLevel, log_line};
use crate::retry::Plan;
use crate::speech::{SpeechInfo, SpeechRequest};
use crate::task::{TaskInfo, TaskStatus};
use crate::voices::{Language, Languages, Voice};
use crate::wait::{PollFn, Report, WaitOptions, Waiting};

/// What a finished operation produced.
#[derive(Debug)]
pub(crate) enum Output {
    /// A task's status (a status query, a wait).
    Task {
        task_id: String,
        info: TaskInfo,
    },
    /// A created task's id.
    TaskId(String),
    /// Each task's status or failure, in the order asked.
    Statuses(Statuses),
    /// Bytes of audio delivered or saved.
    Bytes(u64),
    /// The audio itself, downloaded into memory.
    Audio(Vec<u8>),
    /// A pre-signed URL of a run's audio.
    AudioUrl(String),
    /// The URLs of many runs: the ids asked for, in order, and the URLs by run
    /// id (unknown runs absent).
    AudioUrls {
        run_ids: Vec<i64>,
        urls: HashMap<i64, String>,
    },
    /// A whole generation: the task created, its final status, the bytes saved.
    Generated {
        task_id: String,
        info: TaskInfo,
        bytes: u64,
    },
    /// A speech stream's audio, delivered or saved: what is known of it.
    Speech(SpeechInfo),
    Voices(Vec<Voice>),
    Languages(Vec<Language>),
}

/// A blocking call's work produced what another operation produces: a bug.
fn unexpected(output: &Output) -> Error {
    Error::new(
        ErrorKind::Panic,
        format!(
            "internal error: an operation produced {output:?} (a bug in libcamb; please report it)"
        ),
    )
}

/// What each blocking form takes out of its work's output.
impl Output {
    pub(crate) fn into_task(self) -> Result<(String, TaskInfo), Error> {
        match self {
            Output::Task { task_id, info } => Ok((task_id, info)),
            other => Err(unexpected(&other)),
        }
    }

    pub(crate) fn into_task_id(self) -> Result<String, Error> {
        match self {
            Output::TaskId(task_id) => Ok(task_id),
            other => Err(unexpected(&other)),
        }
    }

    pub(crate) fn into_bytes(self) -> Result<u64, Error> {
        match self {
            Output::Bytes(bytes) => Ok(bytes),
            other => Err(unexpected(&other)),
        }
    }

    pub(crate) fn into_audio_url(self) -> Result<String, Error> {
        match self {
            Output::AudioUrl(url) => Ok(url),
            other => Err(unexpected(&other)),
        }
    }

    pub(crate) fn into_audio_urls(self) -> Result<(Vec<i64>, HashMap<i64, String>), Error> {
        match self {
            Output::AudioUrls { run_ids, urls } => Ok((run_ids, urls)),
            other => Err(unexpected(&other)),
        }
    }

    pub(crate) fn into_statuses(self) -> Result<Statuses, Error> {
        match self {
            Output::Statuses(statuses) => Ok(statuses),
            other => Err(unexpected(&other)),
        }
    }

    pub(crate) fn into_speech(self) -> Result<SpeechInfo, Error> {
        match self {
            Output::Speech(info) => Ok(info),
            other => Err(unexpected(&other)),
        }
    }

    pub(crate) fn into_voices(self) -> Result<Vec<Voice>, Error> {
        match self {
            Output::Voices(voices) => Ok(voices),
            other => Err(unexpected(&other)),
        }
    }

    pub(crate) fn into_languages(self) -> Result<Vec<Language>, Error> {
        match self {
            Output::Languages(languages) => Ok(languages),
            other => Err(unexpected(&other)),
        }
    }

    pub(crate) fn into_generated(self) -> Result<(String, TaskInfo, u64), Error> {
        match self {
            Output::Generated {
                task_id,
                info,
                bytes,
            } => Ok((task_id, info, bytes)),
            other => Err(unexpected(&other)),
        }
    }
}

/// A batch's answers: each id as given, with its status or failure, in order.
pub(crate) type Statuses = Vec<(String, Result<TaskInfo, Error>)>;

/// What a running operation has told so far, readable from any thread while it
/// runs: the task it is about (as soon as it is known: asked for, or created)
/// with its last status, and the polls made. Kept when the operation fails too.
#[derive(Debug, Default)]
pub(crate) struct Tracker(Mutex<Tracked>);

#[derive(Debug, Default, Clone)]
pub(crate) struct Tracked {
    pub(crate) task_id: Option<String>,
    /// Polls made so far, and the last status one of them saw.
    pub(crate) polls: u32,
    pub(crate) last_polled: Option<TaskInfo>,
    /// How the task ended when that failed the operation (a generation whose
    /// task ended without audio).
    pub(crate) ended: Option<TaskInfo>,
}

impl Tracker {
    pub(crate) fn get(&self) -> Tracked {
        lock(&self.0).clone()
    }

    fn task(&self, task_id: &str) {
        lock(&self.0).task_id = Some(task_id.to_owned());
    }

    fn ended(&self, info: &TaskInfo) {
        lock(&self.0).ended = Some(info.clone());
    }

    /// Counts a poll, keeping its status if it had one; returns the count.
    fn poll(&self, info: Option<&TaskInfo>) -> u32 {
        let mut tracked = lock(&self.0);
        tracked.polls = tracked.polls.saturating_add(1);
        if let Some(info) = info {
            tracked.last_polled = Some(info.clone());
        }
        tracked.polls
    }
}

/// `GET /text-to-sound/{task_id}`.
pub(crate) struct StatusWork<C> {
    client: C,
    task_id: String,
    /// Built (and so checked) once, when the work is made.
    url: String,
}

impl<C: Borrow<Client>> StatusWork<C> {
    /// Checks the id now, so that a bad one refuses the call before any work.
    /// A job's `tracker` learns the task at once (a blocking call has none).
    pub(crate) fn new(client: C, task_id: &str, tracker: Option<&Tracker>) -> Result<Self, Error> {
        let url = client.borrow().status_url(task_id)?;
        if let Some(tracker) = tracker {
            tracker.task(task_id);
        }
        Ok(StatusWork {
            client,
            task_id: task_id.to_owned(),
            url,
        })
    }
}

impl<C: Borrow<Client>> Work<Output> for StatusWork<C> {
    fn step(&mut self, cx: &StepContext<'_>) -> Step<Output> {
        let plan = Plan {
            cancel: Some(cx.cancel),
            ..Plan::new(true)
        };
        let info = self
            .client
            .borrow()
            .get_task_status_within(&self.url, &plan);
        Step::Done(info.map(|info| Output::Task {
            task_id: std::mem::take(&mut self.task_id),
            info,
        }))
    }
}

/// `POST /text-to-sound`.
pub(crate) struct CreateWork<C> {
    client: C,
    request: CreateRequest,
    tracker: Arc<Tracker>,
}

impl<C: Borrow<Client>> CreateWork<C> {
    /// Checks the request now (nothing is sent for a bad one).
    pub(crate) fn new(
        client: C,
        request: CreateRequest,
        tracker: Arc<Tracker>,
    ) -> Result<Self, Error> {
        request.validate()?;
        Ok(CreateWork {
            client,
            request,
            tracker,
        })
    }
}

impl<C: Borrow<Client>> Work<Output> for CreateWork<C> {
    fn step(&mut self, cx: &StepContext<'_>) -> Step<Output> {
        let created = self
            .client
            .borrow()
            .create_task_cancellable(&self.request, Some(cx.cancel));
        if let Ok(task_id) = &created {
            self.tracker.task(task_id);
        }
        Step::Done(created.map(Output::TaskId))
    }
}

/// The polls of a wait for `task_id` on `client`: each noted in `tracker`, and
/// in the client's log when it is a job's.
fn status_polls<'a, C: Borrow<Client> + Send + 'a>(
    client: C,
    task_id: &str,
    tracker: Arc<Tracker>,
) -> Result<PollFn<'a>, Error> {
    let url = client.borrow().status_url(task_id)?;
    Ok(Box::new(move |deadline, cx: &StepContext<'_>| {
        let client = client.borrow();
        let outcome = client.poll_status(&url, deadline, Some(cx.cancel));
        let polls = tracker.poll(outcome.as_ref().ok());
        if let Some(id) = cx.job_id {
            log_line!(
                client.logger(),
                LogLevel::Debug,
                "job {id} polled ({polls} so far): {}",
                outcome
                    .as_ref()
                    .map_or("the poll failed", |info| info.status_text.as_str())
            );
        }
        outcome
    }))
}

/// A wait until the task's status is final.
pub(crate) struct WaitWork<'a> {
    task_id: String,
    waiting: Waiting<'a>,
}

impl<'a> WaitWork<'a> {
    /// Checks the id and the options now, so that a bad one refuses the call.
    pub(crate) fn new<C: Borrow<Client> + Send + 'a>(
        client: C,
        task_id: &str,
        options: &WaitOptions,
        report: Option<Report<'a>>,
        tracker: Arc<Tracker>,
    ) -> Result<Self, Error> {
        tracker.task(task_id);
        let polls = status_polls(client, task_id, tracker)?;
        Ok(WaitWork {
            task_id: task_id.to_owned(),
            waiting: Waiting::new(options, polls, report)?,
        })
    }
}

impl Work<Output> for WaitWork<'_> {
    fn step(&mut self, cx: &StepContext<'_>) -> Step<Output> {
        match self.waiting.step(cx) {
            Step::Done(result) => Step::Done(result.map(|info| Output::Task {
                task_id: std::mem::take(&mut self.task_id),
                info,
            })),
            Step::At(when) => Step::At(when),
            Step::Again => Step::Again,
        }
    }

    fn cancelled(&self) -> Error {
        self.waiting.cancelled()
    }
}

/// `GET /text-to-sound-result/{run_id}`, streamed to `sink` on the thread that
/// runs it.
pub(crate) struct DownloadWork<C, S> {
    pub(crate) client: C,
    pub(crate) run_id: i64,
    pub(crate) sink: S,
    /// Where `sink` keeps the audio, for a download into memory.
    pub(crate) kept: Option<Arc<Mutex<Vec<u8>>>>,
}

/// Where a download job keeps the audio: in memory, handed over at its end.
pub(crate) type InMemory = Box<dyn FnMut(&[u8]) -> Result<(), Error> + Send>;

impl<C: Borrow<Client>> DownloadWork<C, InMemory> {
    /// A download whose audio is kept in memory: [`Output::Audio`].
    pub(crate) fn into_memory(client: C, run_id: i64) -> Self {
        let audio = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&audio);
        DownloadWork {
            client,
            run_id,
            sink: Box::new(move |chunk: &[u8]| {
                lock(&sink).extend_from_slice(chunk);
                Ok(())
            }),
            kept: Some(audio),
        }
    }
}

impl<C: Borrow<Client>, S: FnMut(&[u8]) -> Result<(), Error>> Work<Output> for DownloadWork<C, S> {
    fn step(&mut self, cx: &StepContext<'_>) -> Step<Output> {
        let sink = &mut self.sink;
        let streamed =
            self.client
                .borrow()
                .stream_audio(self.run_id, Some(cx.cancel), &mut |chunk| sink(chunk));
        Step::Done(streamed.map(|bytes| match &self.kept {
            Some(kept) => Output::Audio(std::mem::take(&mut *lock(kept))),
            None => Output::Bytes(bytes),
        }))
    }
}

/// The audio saved to a path (`Client::save_audio`'s rules).
pub(crate) struct SaveWork<C> {
    client: C,
    run_id: i64,
    path: PathBuf,
}

impl<C: Borrow<Client>> SaveWork<C> {
    /// Checks the path now, without opening it (a FIFO is only looked at), so
    /// that a file that could never be saved refuses the call before any
    /// request. The save looks again.
    pub(crate) fn new(client: C, run_id: i64, path: PathBuf) -> Result<Self, Error> {
        Destination::check(&path)?;
        Ok(SaveWork {
            client,
            run_id,
            path,
        })
    }
}

impl<C: Borrow<Client>> Work<Output> for SaveWork<C> {
    fn step(&mut self, cx: &StepContext<'_>) -> Step<Output> {
        Step::Done(
            self.client
                .borrow()
                .save_audio_to(self.run_id, &self.path, Some(cx.cancel))
                .map(Output::Bytes),
        )
    }
}

/// `POST /tts-stream`: the audio handed to `sink` as it arrives, on the thread
/// that runs it (the caller's callback, or a job's [`AudioPipe`]).
pub(crate) struct SpeakWork<C, S> {
    client: C,
    request: SpeechRequest,
    sink: S,
}

/// Where a streaming job puts its audio for its caller to read.
pub(crate) type ToPipe =
    Box<dyn FnMut(&[u8], &SpeechInfo, &StepContext<'_>) -> Result<(), Error> + Send>;

impl<C: Borrow<Client>, S> SpeakWork<C, S> {
    /// Checks the request now (nothing is sent for a bad one).
    pub(crate) fn new(client: C, request: SpeechRequest, sink: S) -> Result<Self, Error> {
        request.validate()?;
        Ok(SpeakWork {
            client,
            request,
            sink,
        })
    }
}

impl<C: Borrow<Client>> SpeakWork<C, ToPipe> {
    /// A stream whose audio waits in `pipe` for its caller to read, on its
    /// own thread, through the job's data events.
    pub(crate) fn into_pipe(
        client: C,
        request: SpeechRequest,
        pipe: Arc<AudioPipe>,
    ) -> Result<Self, Error> {
        pipe.set_info(&SpeechInfo::at_start(&request));
        let sink: ToPipe = Box::new(move |chunk, info, cx| {
            let signal = cx.data.ok_or_else(|| {
                Error::new(
                    ErrorKind::Panic,
                    "internal error: a streaming job ran without its queue (a bug in libcamb)",
                )
            })?;
            pipe.write(chunk, info, cx.cancel, signal)
        });
        SpeakWork::new(client, request, sink)
    }
}

impl<C, S> Work<Output> for SpeakWork<C, S>
where
    C: Borrow<Client>,
    S: FnMut(&[u8], &SpeechInfo, &StepContext<'_>) -> Result<(), Error>,
{
    fn step(&mut self, cx: &StepContext<'_>) -> Step<Output> {
        let sink = &mut self.sink;
        let streamed = self.client.borrow().stream_speech(
            &self.request,
            Some(cx.cancel),
            &mut |chunk, info| sink(chunk, info, cx),
        );
        Step::Done(streamed.map(Output::Speech))
    }
}

/// `POST /tts-stream` saved to a path (the rules of a save; a WAV's sizes made
/// right).
pub(crate) struct SpeakToFileWork<C> {
    client: C,
    request: SpeechRequest,
    path: PathBuf,
}

impl<C: Borrow<Client>> SpeakToFileWork<C> {
    /// Checks the request and the path now, as [`SaveWork::new`] does.
    pub(crate) fn new(client: C, request: SpeechRequest, path: PathBuf) -> Result<Self, Error> {
        request.validate()?;
        Destination::check(&path)?;
        Ok(SpeakToFileWork {
            client,
            request,
            path,
        })
    }
}

impl<C: Borrow<Client>> Work<Output> for SpeakToFileWork<C> {
    fn step(&mut self, cx: &StepContext<'_>) -> Step<Output> {
        Step::Done(
            self.client
                .borrow()
                .save_speech_to(&self.request, &self.path, Some(cx.cancel))
                .map(Output::Speech),
        )
    }
}

/// `GET /list-voices`.
pub(crate) struct VoicesWork<C> {
    pub(crate) client: C,
}

impl<C: Borrow<Client>> Work<Output> for VoicesWork<C> {
    fn step(&mut self, cx: &StepContext<'_>) -> Step<Output> {
        Step::Done(
            self.client
                .borrow()
                .list_voices_cancellable(Some(cx.cancel))
                .map(Output::Voices),
        )
    }
}

/// `GET /source-languages` or `GET /target-languages`.
pub(crate) struct LanguagesWork<C> {
    pub(crate) client: C,
    pub(crate) which: Languages,
}

impl<C: Borrow<Client>> Work<Output> for LanguagesWork<C> {
    fn step(&mut self, cx: &StepContext<'_>) -> Step<Output> {
        Step::Done(
            self.client
                .borrow()
                .list_languages_cancellable(self.which, Some(cx.cancel))
                .map(Output::Languages),
        )
    }
}

/// `GET /text-to-sound-result/{run_id}?output_type=FILE_URL`.
pub(crate) struct AudioUrlWork<C> {
    pub(crate) client: C,
    pub(crate) run_id: i64,
}

impl<C: Borrow<Client>> Work<Output> for AudioUrlWork<C> {
    fn step(&mut self, cx: &StepContext<'_>) -> Step<Output> {
        Step::Done(
            self.client
                .borrow()
                .get_audio_url_cancellable(self.run_id, Some(cx.cancel))
                .map(Output::AudioUrl),
        )
    }
}

/// `POST /text-to-sound-results`.
pub(crate) struct AudioUrlsWork<C> {
    client: C,
    run_ids: Vec<i64>,
}

impl<C: Borrow<Client>> AudioUrlsWork<C> {
    /// Checks the count now (none is allowed: an empty answer, no request).
    pub(crate) fn new(client: C, run_ids: Vec<i64>) -> Result<Self, Error> {
        if !run_ids.is_empty() {
            crate::client::check_bulk_count(run_ids.len())?;
        }
        Ok(AudioUrlsWork { client, run_ids })
    }
}

impl<C: Borrow<Client>> Work<Output> for AudioUrlsWork<C> {
    fn step(&mut self, cx: &StepContext<'_>) -> Step<Output> {
        if self.run_ids.is_empty() {
            // Nothing to ask: no request.
            return Step::Done(Ok(Output::AudioUrls {
                run_ids: Vec::new(),
                urls: HashMap::new(),
            }));
        }
        let urls = self
            .client
            .borrow()
            .get_audio_urls_cancellable(&self.run_ids, Some(cx.cancel));
        Step::Done(urls.map(|urls| Output::AudioUrls {
            run_ids: std::mem::take(&mut self.run_ids),
            urls,
        }))
    }
}

/// Default and largest number of requests in flight at once in a batch (and so
/// of pooled connections used). The pool keeps up to 32 idle connections, so a
/// batch at or under that reuses its connections in the next batch.
pub(crate) const DEFAULT_BATCH_CONNECTIONS: usize = 8;
pub(crate) const MAX_BATCH_CONNECTIONS: usize = 32;
/// Largest batch accepted in one call.
pub(crate) const MAX_BATCH_SIZE: usize = 100_000;

/// Many statuses, each with its own result, in the order asked. Up to
/// `connections` queries run at once: the thread running the step and threads
/// of the batch's own (started for the step, joined before it ends), sharing the
/// client's keep-alive pool. The client's timeout bounds the whole batch, from
/// its start, as it bounds any one call: entries not answered by then fail with
/// `Timeout`, and a cancel fails those not yet asked.
pub(crate) struct BatchWork<C> {
    client: C,
    /// Each id as given, and why it cannot be asked for when it cannot (that
    /// entry alone fails).
    ids: Vec<(String, Option<Error>)>,
    lanes: usize,
}

impl<C: Borrow<Client> + Sync> BatchWork<C> {
    /// Checks the sizes now.
    pub(crate) fn new(
        client: C,
        ids: Vec<(String, Option<Error>)>,
        connections: usize,
    ) -> Result<Self, Error> {
        if ids.len() > MAX_BATCH_SIZE {
            return Err(Error::invalid(format!(
                "{} task ids were given; the limit is {MAX_BATCH_SIZE} per call",
                ids.len()
            )));
        }
        if connections > MAX_BATCH_CONNECTIONS {
            return Err(Error::invalid(format!(
                "at most {MAX_BATCH_CONNECTIONS} connections, not {connections}"
            )));
        }
        let lanes = match connections {
            0 => DEFAULT_BATCH_CONNECTIONS,
            n => n,
        };
        Ok(BatchWork { client, ids, lanes })
    }
}

impl<C: Borrow<Client> + Sync> Work<Output> for BatchWork<C> {
    fn step(&mut self, cx: &StepContext<'_>) -> Step<Output> {
        let client = self.client.borrow();
        let plan = Plan {
            deadline: Some(Instant::now() + client.retry.timeout),
            cancel: Some(cx.cancel),
            ..Plan::new(true)
        };
        let ids = &self.ids;
        let query = |(id, unusable): &(String, Option<Error>)| {
            if let Some(error) = unusable {
                return Err(error.clone());
            }
            client
                .status_url(id)
                .and_then(|url| client.get_task_status_within(&url, &plan))
        };
        let next = AtomicUsize::new(0);
        // Each lane takes the next index until none is left (or the batch is
        // cancelled), and keeps its own (index, result) pairs.
        let lane = || {
            let mut done = Vec::new();
            while !cx.cancel.is_cancelled() {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(id) = ids.get(index) else { break };
                done.push((index, query(id)));
            }
            done
        };
        let lanes = self.lanes.min(ids.len());
        let pairs = std::thread::scope(|scope| {
            // This thread is a lane too, so a failure to start threads (resource
            // limits) only slows the batch down.
            let helpers: Vec<_> = (1..lanes)
                .filter_map(|_| {
                    std::thread::Builder::new()
                        .name("camb-batch".into())
                        .spawn_scoped(scope, lane)
                        .ok()
                })
                .collect();
            let mut pairs = lane();
            for helper in helpers {
                // A lane that panicked re-raises here, to the step's guard.
                pairs.extend(
                    helper
                        .join()
                        .unwrap_or_else(|p| std::panic::resume_unwind(p)),
                );
            }
            pairs
        });
        let mut results: Vec<Option<Result<TaskInfo, Error>>> =
            (0..ids.len()).map(|_| None).collect();
        for (index, result) in pairs {
            results[index] = Some(result);
        }
        let statuses = std::mem::take(&mut self.ids)
            .into_iter()
            .zip(results)
            .map(|((id, _), result)| {
                let outcome = result.unwrap_or_else(|| {
                    Err(Error::new(ErrorKind::Cancelled, "the batch was cancelled"))
                });
                (id, outcome)
            })
            .collect();
        Step::Done(Ok(Output::Statuses(statuses)))
    }
}

/// Prompt to WAV file: create the task, wait for it (its pauses between steps),
/// save its audio.
pub(crate) struct GenerateWork<'a, C> {
    client: C,
    request: CreateRequest,
    options: WaitOptions,
    path: PathBuf,
    stage: Stage<'a>,
    tracker: Arc<Tracker>,
}

enum Stage<'a> {
    Create(Option<Report<'a>>),
    Wait {
        task_id: String,
        waiting: Waiting<'a>,
    },
    Save {
        task_id: String,
        info: TaskInfo,
    },
    Over,
}

impl<'a, C: Borrow<Client> + Clone + Send + 'a> GenerateWork<'a, C> {
    /// Checks what can be checked before anything is sent: the request, the
    /// options, and the path, so that a file that could never be saved costs no
    /// task. The save looks at the path again, as it may change meanwhile.
    pub(crate) fn new(
        client: C,
        request: CreateRequest,
        options: &WaitOptions,
        path: PathBuf,
        report: Option<Report<'a>>,
        tracker: Arc<Tracker>,
    ) -> Result<Self, Error> {
        request.validate()?;
        options.validate()?;
        Destination::check(&path)?;
        Ok(GenerateWork {
            client,
            request,
            options: *options,
            path,
            stage: Stage::Create(report),
            tracker,
        })
    }

    fn create(&mut self, report: Option<Report<'a>>, cx: &StepContext<'_>) -> Step<Output> {
        let created = self
            .client
            .borrow()
            .create_task_cancellable(&self.request, Some(cx.cancel));
        let task_id = match created {
            Ok(task_id) => task_id,
            Err(error) => return Step::Done(Err(error)),
        };
        self.tracker.task(&task_id);
        let waiting = status_polls(self.client.clone(), &task_id, Arc::clone(&self.tracker))
            .and_then(|polls| Waiting::new(&self.options, polls, report));
        match waiting {
            Ok(waiting) => {
                self.stage = Stage::Wait { task_id, waiting };
                Step::Again
            }
            Err(error) => Step::Done(Err(error)),
        }
    }
}

impl<'a, C: Borrow<Client> + Clone + Send + 'a> Work<Output> for GenerateWork<'a, C> {
    fn step(&mut self, cx: &StepContext<'_>) -> Step<Output> {
        match std::mem::replace(&mut self.stage, Stage::Over) {
            Stage::Create(report) => self.create(report, cx),
            Stage::Wait {
                task_id,
                mut waiting,
            } => match waiting.step(cx) {
                Step::Done(Ok(info)) if info.status == TaskStatus::Success => {
                    self.stage = Stage::Save { task_id, info };
                    Step::Again
                }
                Step::Done(Ok(info)) => {
                    self.tracker.ended(&info);
                    Step::Done(Err(task_failed(&task_id, &info)))
                }
                // The task was made (and billed): the words name it.
                Step::Done(Err(error)) => {
                    Step::Done(Err(error.context(&format!("task {task_id}"))))
                }
                Step::At(when) => {
                    self.stage = Stage::Wait { task_id, waiting };
                    Step::At(when)
                }
                Step::Again => {
                    self.stage = Stage::Wait { task_id, waiting };
                    Step::Again
                }
            },
            Stage::Save { task_id, info } => {
                let Some(run_id) = info.run_id else {
                    return Step::Done(Err(Error::bad_response(format!(
                        "task {task_id} succeeded without a run id"
                    ))));
                };
                let saved = self
                    .client
                    .borrow()
                    .save_audio_to(run_id, &self.path, Some(cx.cancel));
                Step::Done(match saved {
                    Ok(bytes) => Ok(Output::Generated {
                        task_id,
                        info,
                        bytes,
                    }),
                    Err(error) => Err(error.context(&format!("task {task_id}, run {run_id}"))),
                })
            }
            Stage::Over => Step::Done(Err(Error::new(
                ErrorKind::Panic,
                "internal error: a generation ran past its end",
            ))),
        }
    }

    fn cancelled(&self) -> Error {
        match &self.stage {
            Stage::Wait { waiting, task_id } => {
                waiting.cancelled().context(&format!("task {task_id}"))
            }
            _ => crate::engine::cancelled(),
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

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data that a panic cannot leave half-changed.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
