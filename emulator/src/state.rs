//! Everything the emulator remembers: tasks and their runs, queued faults, and request stats.
//!
//! One `std::sync::Mutex` guards it all. No lock is ever held across an `.await`, so a plain
//! mutex is simpler and faster than an async one here.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use crate::config::Config;
use crate::tts::stream::Progress;
use crate::types::{Fault, RecordedRequest, Stats, TaskSpec, TtsStream};

/// How many recent requests `Stats::requests` keeps, and streams `Stats::tts_streams`.
const MAX_RECORDED: usize = 1000;
/// First run id handed to tasks created through the API; far from the demo ids (4242...).
const FIRST_RUN_ID: i64 = 100_001;

/// State shared by the server thread and the `Emulator` handle.
pub(crate) struct Shared {
    pub config: Config,
    /// `http://127.0.0.1:PORT`, used to build file URLs.
    pub base_url: String,
    /// Counted outside the mutex: the accept loop bumps it for every connection.
    connections: AtomicU64,
    /// Per-instance secret that file URL signatures are derived from.
    secret: u64,
    inner: Mutex<Inner>,
}

struct Inner {
    tasks: HashMap<String, Task>,
    /// run id -> task id, for the result endpoints. Checked against the task on lookup,
    /// since a task can be replaced by a later one with the same id.
    runs: HashMap<i64, String>,
    /// Demo tasks as seeded at start, restored by `reset`.
    demo: Vec<Task>,
    faults: VecDeque<Fault>,
    requests_total: u64,
    requests: VecDeque<RecordedRequest>,
    /// Shared with each stream's body, which updates its own record as it goes.
    tts_streams: VecDeque<Arc<Progress>>,
    next_id: u64,
    next_run_id: i64,
}

#[derive(Clone)]
struct Task {
    id: String,
    spec: TaskSpec,
    created: Instant,
}

impl Task {
    fn is_final(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.created) >= Duration::from_millis(self.spec.pending_ms)
    }

    fn current_status(&self, now: Instant) -> &str {
        if self.is_final(now) {
            &self.spec.final_status
        } else {
            "PENDING"
        }
    }
}

/// The audio a successful run renders.
#[derive(Debug, Clone)]
pub(crate) struct Audio {
    pub prompt: String,
    pub audio_type: String,
    pub duration_s: f64,
}

/// The body of `GET /text-to-sound/{task_id}`, fields in the real API's order.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StatusReply {
    pub status: String,
    /// Outer `None`: the key is left out; `Some(None)`: `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<Option<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<Value>,
}

/// Outcome of looking up a run id.
pub(crate) enum RunLookup {
    Unknown,
    NotSucceeded(String),
    Ready(Audio),
}

impl Shared {
    pub fn new(config: Config, base_url: String) -> Shared {
        let now = Instant::now();
        let demo = if config.demo_tasks {
            demo_tasks(config.pending_ms, now)
        } else {
            Vec::new()
        };
        let mut inner = Inner {
            tasks: HashMap::new(),
            runs: HashMap::new(),
            demo,
            faults: VecDeque::new(),
            requests_total: 0,
            requests: VecDeque::new(),
            tts_streams: VecDeque::new(),
            next_id: 0,
            next_run_id: FIRST_RUN_ID,
        };
        inner.restore_demo();
        Shared {
            config,
            base_url,
            connections: AtomicU64::new(0),
            secret: random_u64(),
            inner: Mutex::new(inner),
        }
    }

    /// A poisoned lock only means another request panicked mid-update; the data is still
    /// usable, and the emulator must keep answering.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn connection_accepted(&self) {
        self.connections.fetch_add(1, Ordering::SeqCst);
    }

    /// Plants a task; returns its id.
    pub fn add_task(&self, spec: TaskSpec) -> String {
        let mut inner = self.lock();
        let id = match &spec.task_id {
            Some(id) => id.clone(),
            None => inner.fresh_id(),
        };
        inner.insert(Task {
            id: id.clone(),
            spec,
            created: Instant::now(),
        });
        id
    }

    /// Creates a task as `POST /text-to-sound` does. Runs that end in SUCCESS or ERROR get a
    /// fresh run id (as the real API's do); other outcomes report `run_id: null`.
    pub fn create_task(&self, mut spec: TaskSpec) -> String {
        let mut inner = self.lock();
        if matches!(spec.final_status.as_str(), "SUCCESS" | "ERROR") {
            spec.run_id = Some(inner.fresh_run_id());
        }
        let id = inner.fresh_id();
        inner.insert(Task {
            id: id.clone(),
            spec,
            created: Instant::now(),
        });
        id
    }

    /// The status reply for a task, or `None` if it is unknown.
    pub fn task_status(&self, id: &str) -> Option<StatusReply> {
        let inner = self.lock();
        let task = inner.tasks.get(id)?;
        let spec = &task.spec;
        let run_id = |id: Option<i64>| if spec.omit_run_id { None } else { Some(id) };
        if !task.is_final(Instant::now()) {
            return Some(StatusReply {
                status: "PENDING".into(),
                run_id: run_id(None),
                exception_reason: None,
                message: None,
            });
        }
        Some(StatusReply {
            status: spec.final_status.clone(),
            run_id: run_id(spec.run_id),
            exception_reason: spec.exception_reason.clone(),
            message: spec.message.clone(),
        })
    }

    pub fn lookup_run(&self, run_id: i64) -> RunLookup {
        let inner = self.lock();
        let Some(task) = inner
            .runs
            .get(&run_id)
            .and_then(|id| inner.tasks.get(id))
            .filter(|t| t.spec.run_id == Some(run_id))
        else {
            return RunLookup::Unknown;
        };
        match task.current_status(Instant::now()) {
            "SUCCESS" => RunLookup::Ready(Audio {
                prompt: task.spec.prompt.clone(),
                audio_type: task.spec.audio_type.clone(),
                duration_s: task.spec.duration_s,
            }),
            other => RunLookup::NotSucceeded(other.to_string()),
        }
    }

    /// The query-string signature that makes a file URL valid, like a pre-signed URL's.
    pub fn signature(&self, run_id: i64) -> String {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.secret, run_id).hash(&mut h);
        format!("{:016x}", h.finish())
    }

    pub fn file_url(&self, run_id: i64) -> String {
        format!(
            "{}/_emulator/files/{run_id}.wav?signature={}",
            self.base_url,
            self.signature(run_id)
        )
    }

    pub fn push_fault(&self, fault: Fault) {
        // A fault that applies to no request would only sit in the queue.
        if fault.times > 0 {
            self.lock().faults.push_back(fault);
        }
    }

    /// Takes one use of the first queued fault matching `path`, if any.
    pub fn take_fault(&self, path: &str) -> Option<Fault> {
        let mut inner = self.lock();
        let index = inner.faults.iter().position(|f| {
            f.path_prefix
                .as_deref()
                .is_none_or(|prefix| path.starts_with(prefix))
        })?;
        let fault = inner.faults.get_mut(index)?;
        fault.times = fault.times.saturating_sub(1);
        let taken = fault.clone();
        if fault.times == 0 {
            inner.faults.remove(index);
        }
        Some(taken)
    }

    pub fn record(&self, request: RecordedRequest) {
        let mut inner = self.lock();
        inner.requests_total += 1;
        if inner.requests.len() == MAX_RECORDED {
            inner.requests.pop_front();
        }
        inner.requests.push_back(request);
    }

    /// Starts the record of a `/tts-stream` reply; its body keeps it up to date.
    pub fn start_tts_stream(&self, format: &'static str, sample_rate: u32) -> Arc<Progress> {
        let progress = Arc::new(Progress::new(format, sample_rate));
        let mut inner = self.lock();
        if inner.tts_streams.len() == MAX_RECORDED {
            inner.tts_streams.pop_front();
        }
        inner.tts_streams.push_back(Arc::clone(&progress));
        progress
    }

    pub fn tts_streams(&self) -> Vec<TtsStream> {
        let inner = self.lock();
        inner.tts_streams.iter().map(|p| p.snapshot()).collect()
    }

    pub fn stats(&self) -> Stats {
        let inner = self.lock();
        Stats {
            connections_accepted: self.connections.load(Ordering::SeqCst),
            requests_total: inner.requests_total,
            requests: inner.requests.iter().cloned().collect(),
            tts_streams: inner.tts_streams.iter().map(|p| p.snapshot()).collect(),
        }
    }

    /// Forgets faults, stats and every task but the demo ones (restored as seeded, with
    /// their original start time).
    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.faults.clear();
        inner.requests_total = 0;
        inner.requests.clear();
        inner.tts_streams.clear();
        inner.tasks.clear();
        inner.runs.clear();
        inner.restore_demo();
        self.connections.store(0, Ordering::SeqCst);
    }
}

impl Inner {
    fn insert(&mut self, task: Task) {
        if let Some(run_id) = task.spec.run_id {
            self.runs.insert(run_id, task.id.clone());
        }
        self.tasks.insert(task.id.clone(), task);
    }

    fn restore_demo(&mut self) {
        for task in self.demo.clone() {
            self.insert(task);
        }
    }

    /// A uuid-shaped id: random bits for realism, plus a counter so ids never repeat.
    fn fresh_id(&mut self) -> String {
        self.next_id += 1;
        let r = random_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            r >> 32,
            (r >> 16) & 0xffff,
            r & 0xfff,
            0x8000 | (random_u64() & 0x3fff),
            self.next_id & 0xffff_ffff_ffff
        )
    }

    fn fresh_run_id(&mut self) -> i64 {
        // Skip ids a planted task already uses, so a new run never shadows one.
        while self.runs.contains_key(&self.next_run_id) {
            self.next_run_id += 1;
        }
        self.next_run_id += 1;
        self.next_run_id - 1
    }
}

/// Random enough for ids and secrets, without a `rand` dependency: std seeds every
/// `RandomState` with fresh keys.
fn random_u64() -> u64 {
    RandomState::new().build_hasher().finish()
}

/// The tasks that exist from the start, so demos and manual tests have something to poll.
fn demo_tasks(pending_ms: u64, created: Instant) -> Vec<Task> {
    let task = |id: &str, spec: TaskSpec| Task {
        id: id.to_string(),
        spec: TaskSpec {
            task_id: Some(id.to_string()),
            pending_ms,
            prompt: format!("CAMB emulator demo: {id}"),
            ..spec
        },
        created,
    };
    vec![
        task(
            "demo-success",
            TaskSpec {
                run_id: Some(4242),
                ..TaskSpec::default()
            },
        ),
        task(
            "demo-error",
            TaskSpec {
                final_status: "ERROR".into(),
                run_id: Some(4243),
                exception_reason: Some("PROCESSING_ERROR".into()),
                message: Some(json!("The audio model failed to render this prompt")),
                ..TaskSpec::default()
            },
        ),
        task(
            "demo-timeout",
            TaskSpec {
                final_status: "TIMEOUT".into(),
                ..TaskSpec::default()
            },
        ),
        task(
            "demo-payment-required",
            TaskSpec {
                final_status: "PAYMENT_REQUIRED".into(),
                exception_reason: Some("PAYMENT_REQUIRED".into()),
                message: Some(json!("Not enough credits")),
                ..TaskSpec::default()
            },
        ),
        task(
            "demo-unknown",
            TaskSpec {
                final_status: "QUEUED_FOR_GPU".into(),
                ..TaskSpec::default()
            },
        ),
        // Never leaves PENDING: a final status of PENDING is reported as such forever.
        task(
            "demo-pending",
            TaskSpec {
                final_status: "PENDING".into(),
                ..TaskSpec::default()
            },
        ),
    ]
}
