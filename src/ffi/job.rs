//! Jobs: every operation made as a job, submitted to run on the client's pool
//! of threads, and delivered through a queue (src/ffi/queue.rs).

use std::ffi::{c_char, c_void};
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::audio_pipe::AudioPipe;
use crate::engine::{self, Phase, Pool, Work};
use crate::error::Error;
use crate::ffi::audio::{audio_url_list, camb_audio_url_list, run_ids_arg};
use crate::ffi::batch::batch_ids;
use crate::ffi::boundary::{
    null_parameter, out_arg, path_arg, result_call, str_arg, value_call, void_call,
};
use crate::ffi::client::{camb_client, handle_arg};
use crate::ffi::create::{camb_create_options, create_request};
use crate::ffi::queue::{camb_queue, queue_arc};
use crate::ffi::result_code::{camb_result, camb_status};
use crate::ffi::string::OwnedText;
use crate::ffi::task::{camb_task, camb_task_list};
use crate::ffi::voices::{camb_language_list, camb_voice_list, languages_arg};
use crate::ffi::wait::{camb_wait_options, wait_options as read_wait_options};
use crate::operations::{
    AudioUrlWork, AudioUrlsWork, BatchWork, CreateWork, DownloadWork, GenerateWork, LanguagesWork,
    Output, SaveWork, StatusWork, Tracker, VoicesWork, WaitWork,
};
use crate::task::TaskStatus;

/// One operation as a job: made by a `camb_client_job_*` function, started by
/// `camb_job_submit()`, delivered through its queue, then read and freed.
///
/// Its life, and who owns it:
/// 1. Made (`CAMB_JOB_STATE_NEW`): the caller's. It does nothing until
///    submitted; free it with `camb_job_free()` if it never is.
/// 2. Submitted: libcamb's until its queue hands it back. Meanwhile the caller
///    may read its progress (`camb_job_polls()`, `camb_job_task_status()`,
///    `camb_job_get_state()`) and cancel it, from any thread, but not free it (a
///    `camb_job_free()` then only cancels it).
/// 3. Finished: put on its queue as a `CAMB_EVENT_JOB_DONE` event. Taken from
///    there (`camb_queue_pop()`, `camb_queue_wait()`), it is the caller's again:
///    read its result and output, then free it, on any thread. The thread that
///    takes it owns it from then on: a call on the job from another thread
///    (a cancel, a progress read) must not overlap that thread's free of it.
///
/// If its queue is freed first, the job is freed by libcamb when it finishes,
/// and the caller's pointer to it must not be used again.
///
/// Functions: the `camb_client_job_*` functions, `camb_job_submit()`,
/// `camb_job_get_kind()`, `camb_job_get_state()`, `camb_job_result()`,
/// `camb_job_error()`, `camb_job_http_status()`, `camb_job_task()`,
/// `camb_job_task_list()`, `camb_job_task_id()`, `camb_job_bytes()`,
/// `camb_job_audio()`, `camb_job_audio_url()`, `camb_job_audio_url_list()`,
/// `camb_job_polls()`, `camb_job_task_status()`, `camb_job_user_data()`,
/// `camb_job_cancel()`, `camb_job_free()`.
// Never made: a handle is the address of a job of the jobs engine, which only
// libcamb reads. Not repr(C), so that camb.h declares it opaque.
pub struct camb_job {
    _private: (),
}

/// Which operation a job runs.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum camb_job_kind {
    /// No job (what `camb_job_get_kind()` says of NULL).
    None = 0,
    /// `camb_client_job_get_task_status()`
    GetTaskStatus = 1,
    /// `camb_client_job_create_task()`
    CreateTask = 2,
    /// `camb_client_job_wait_for_task()`
    WaitForTask = 3,
    /// `camb_client_job_download_audio()`
    DownloadAudio = 4,
    /// `camb_client_job_save_audio()`
    SaveAudio = 5,
    /// `camb_client_job_get_audio_url()`
    GetAudioUrl = 6,
    /// `camb_client_job_get_audio_urls()`
    GetAudioUrls = 7,
    /// `camb_client_job_get_task_statuses()`
    GetTaskStatuses = 8,
    /// `camb_client_job_generate()`
    Generate = 9,
    /// `camb_client_job_speak()`
    Speak = 10,
    /// `camb_client_job_speak_to_file()`
    SpeakToFile = 11,
    /// `camb_client_job_list_voices()`
    ListVoices = 12,
    /// `camb_client_job_list_languages()`
    ListLanguages = 13,
}

/// Where a job is in its life.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum camb_job_state {
    /// Made, not submitted.
    New = 0,
    /// Submitted, waiting for a pool thread.
    Queued = 1,
    /// Running on a pool thread (a request in flight).
    Running = 2,
    /// Between two steps, holding no thread (a wait's pause before its next poll).
    Waiting = 3,
    /// Finished: its result is there.
    Done = 4,
}

/// What the C layer keeps with each job.
pub(crate) struct JobData {
    pub(crate) kind: camb_job_kind,
    /// What the job has told so far (its task, its polls).
    tracker: Arc<Tracker>,
    /// The caller's pointer given to `camb_job_submit()`, handed back as it was.
    user_data: AtomicUsize,
    /// Submitted and not yet handed back by its queue: libcamb's.
    in_flight: AtomicBool,
    /// The client's pool, which runs the job once submitted.
    pool: std::sync::Weak<JobPool>,
    /// The C views of the outcome, made on first use.
    view: OnceLock<View>,
    /// A streaming job's audio, waiting for its caller to read it.
    pub(crate) pipe: Option<Arc<AudioPipe>>,
}

/// A job of the C ABI: the engine's job of an operation.
pub(crate) type Job = engine::Job<Output, JobData>;
/// A client's pool of job threads.
pub(crate) type JobPool = Pool<Output, JobData>;

/// What the C accessors hand out, made from the job's outcome once.
struct View {
    error: Option<OwnedText>,
    http_status: u16,
    task: Option<camb_task>,
    list: Option<camb_task_list>,
    task_id: Option<OwnedText>,
    audio_url: Option<OwnedText>,
    audio_urls: Option<camb_audio_url_list>,
    voices: Option<camb_voice_list>,
    languages: Option<camb_language_list>,
}

impl View {
    fn of(job: &Job, outcome: &Result<Output, Error>) -> View {
        let mut view = View {
            error: None,
            http_status: 0,
            task: None,
            list: None,
            task_id: None,
            audio_url: None,
            audio_urls: None,
            voices: None,
            languages: None,
        };
        match outcome {
            // A failed job still tells which task it was about, and a
            // generation's task that ended without audio, how it ended.
            Err(error) => {
                let tracked = job.data.tracker.get();
                view.error = Some(OwnedText::new(error.message()));
                view.http_status = error.http_status().unwrap_or(0);
                view.task = tracked
                    .task_id
                    .as_deref()
                    .zip(tracked.ended)
                    .map(|(id, info)| camb_task::from_outcome(id, Ok(info)));
                view.task_id = tracked.task_id.as_deref().map(OwnedText::new);
            }
            Ok(Output::Task { task_id, info } | Output::Generated { task_id, info, .. }) => {
                view.task = Some(camb_task::from_outcome(task_id, Ok(info.clone())));
                view.task_id = Some(OwnedText::new(task_id));
            }
            Ok(Output::TaskId(task_id)) => view.task_id = Some(OwnedText::new(task_id)),
            Ok(Output::Statuses(statuses)) => {
                let tasks = statuses
                    .iter()
                    .map(|(id, outcome)| camb_task::from_outcome(id, outcome.clone()))
                    .collect();
                view.list = Some(camb_task_list::new(tasks));
            }
            Ok(Output::AudioUrl(url)) => view.audio_url = Some(OwnedText::new(url)),
            Ok(Output::AudioUrls { run_ids, urls }) => {
                view.audio_urls = Some(audio_url_list(run_ids, urls));
            }
            Ok(Output::Voices(voices)) => view.voices = Some(camb_voice_list::new(voices)),
            Ok(Output::Languages(languages)) => {
                view.languages = Some(camb_language_list::new(languages));
            }
            Ok(Output::Bytes(_) | Output::Audio(_) | Output::Speech(_)) => {}
        }
        view
    }
}

fn view_of(job: &Job) -> Option<&View> {
    let outcome = job.outcome()?;
    Some(job.data.view.get_or_init(|| View::of(job, outcome)))
}

/// Borrows the job behind a handle.
///
/// # Safety
/// `job` is NULL or a live job handle.
pub(crate) unsafe fn job_ref<'a>(job: *const camb_job) -> Option<&'a Job> {
    // SAFETY: per this function's contract, the handle is Arc::into_raw of a Job.
    unsafe { job.cast::<Job>().as_ref() }
}

/// The C views of a finished job's outcome; None for NULL or a running job.
///
/// # Safety
/// As for [`job_ref`].
unsafe fn finished_view<'a>(job: *const camb_job) -> Option<&'a View> {
    // SAFETY: per this function's contract.
    unsafe { job_ref(job) }.and_then(view_of)
}

/// The handle of a job: the caller's reference, as a pointer.
pub(crate) fn into_handle(job: Arc<Job>) -> *mut camb_job {
    Arc::into_raw(job).cast::<camb_job>().cast_mut()
}

/// A job handed back by its queue: the caller's again.
pub(crate) fn handed_back(job: Arc<Job>) -> *mut camb_job {
    job.data.in_flight.store(false, Ordering::Release);
    into_handle(job)
}

/// Makes a job of `work` for `client` and gives the caller its handle.
///
/// # Safety
/// `out_job` is valid for writing a pointer.
unsafe fn make(
    client: &camb_client,
    kind: camb_job_kind,
    work: Box<dyn Work<Output> + Send>,
    tracker: Arc<Tracker>,
    out_job: *mut *mut camb_job,
) -> Result<(), Error> {
    // SAFETY: per this function's contract.
    unsafe { make_job(client, kind, work, tracker, None, out_job) }
}

/// [`make`], for a job whose audio its caller reads from `pipe` as it runs.
///
/// # Safety
/// `out_job` is valid for writing a pointer.
pub(crate) unsafe fn make_job(
    client: &camb_client,
    kind: camb_job_kind,
    work: Box<dyn Work<Output> + Send>,
    tracker: Arc<Tracker>,
    pipe: Option<Arc<AudioPipe>>,
    out_job: *mut *mut camb_job,
) -> Result<(), Error> {
    let data = JobData {
        kind,
        tracker,
        user_data: AtomicUsize::new(0),
        in_flight: AtomicBool::new(false),
        pool: Arc::downgrade(&client.pool),
        view: OnceLock::new(),
        pipe,
    };
    let job = engine::Job::new(work, data, client.inner.logger().cloned());
    // SAFETY: writable per this function's contract. The caller's reference.
    unsafe { out_job.write(into_handle(job)) };
    Ok(())
}

/// The constructors' common arguments, checked: the client handle, and the
/// out-pointer first, so that a NULL is reported before any work.
///
/// # Safety
/// `client` is NULL or a live client.
pub(crate) unsafe fn making<'a>(
    client: *const camb_client,
    out_job: *mut *mut camb_job,
) -> Result<&'a camb_client, Error> {
    // SAFETY: per this function's contract.
    let client = unsafe { handle_arg(client) }?;
    out_arg(out_job, "out_job")?;
    Ok(client)
}

/// Makes a job of `camb_client_get_task_status()`; its task is
/// `camb_job_task()`. The id is checked (and copied) now. On success `*out_job`
/// is the job, not started: submit it with `camb_job_submit()`, or free it.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER` (client, task_id, out_job);
/// `CAMB_RESULT_INVALID_PARAMETER` (a bad id). The call's own errors are the
/// job's result.
// The caller's part: every pointer NULL or valid, as the header's conventions say.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_job_get_task_status(
    client: *const camb_client,
    task_id: *const c_char,
    out_job: *mut *mut camb_job,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller's part, for each argument.
        let client = unsafe { making(client, out_job) }?;
        // SAFETY: NULL or NUL-terminated.
        let task_id = unsafe { str_arg(task_id, "task_id") }?;
        let tracker = Arc::default();
        let work = StatusWork::new(Arc::clone(&client.inner), task_id, Some(&tracker))?;
        // SAFETY: out_job checked non-NULL.
        unsafe {
            make(
                client,
                camb_job_kind::GetTaskStatus,
                Box::new(work),
                tracker,
                out_job,
            )
        }
    })
}

/// Makes a job of `camb_client_create_task()`; the new task's id is
/// `camb_job_task_id()`. The prompt and options are checked (and copied) now.
/// As `camb_client_job_get_task_status()` otherwise.
// The caller's part: every pointer NULL or valid, as the header's conventions say.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_job_create_task(
    client: *const camb_client,
    prompt: *const c_char,
    options: *const camb_create_options,
    out_job: *mut *mut camb_job,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller's part, for each argument.
        let client = unsafe { making(client, out_job) }?;
        // SAFETY: NULL or NUL-terminated.
        let prompt = unsafe { str_arg(prompt, "prompt") }?;
        // SAFETY: NULL or a camb_create_options of its struct_size bytes.
        let request = unsafe { create_request(prompt, options) }?;
        let tracker = Arc::default();
        let work = CreateWork::new(Arc::clone(&client.inner), request, Arc::clone(&tracker))?;
        // SAFETY: out_job checked non-NULL.
        unsafe {
            make(
                client,
                camb_job_kind::CreateTask,
                Box::new(work),
                tracker,
                out_job,
            )
        }
    })
}

/// Makes a job of `camb_client_wait_for_task()`; the final task is
/// `camb_job_task()`, and `camb_job_polls()` and `camb_job_task_status()` follow
/// it while it runs. Between polls the job holds no thread: its next poll is on
/// a timer, so a thousand waits on a pool of four threads is normal use. The id
/// and options are checked now. As `camb_client_job_get_task_status()`
/// otherwise.
// The caller's part: every pointer NULL or valid, as the header's conventions say.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_job_wait_for_task(
    client: *const camb_client,
    task_id: *const c_char,
    options: *const camb_wait_options,
    out_job: *mut *mut camb_job,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller's part, for each argument.
        let client = unsafe { making(client, out_job) }?;
        // SAFETY: NULL or NUL-terminated.
        let task_id = unsafe { str_arg(task_id, "task_id") }?;
        // SAFETY: NULL or a camb_wait_options of its struct_size bytes.
        let options = unsafe { read_wait_options(options) }?;
        let tracker = Arc::default();
        let work = WaitWork::new(
            Arc::clone(&client.inner),
            task_id,
            &options,
            None,
            Arc::clone(&tracker),
        )?;
        // SAFETY: out_job checked non-NULL.
        unsafe {
            make(
                client,
                camb_job_kind::WaitForTask,
                Box::new(work),
                tracker,
                out_job,
            )
        }
    })
}

/// Makes a job of `camb_client_download_audio()` that keeps the audio in
/// memory: `camb_job_audio()` once it is done, `camb_job_bytes()` its size. As
/// `camb_client_job_get_task_status()` otherwise.
// The caller's part: every pointer NULL or valid, as the header's conventions say.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_job_download_audio(
    client: *const camb_client,
    run_id: i64,
    out_job: *mut *mut camb_job,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller's part, for each argument.
        let client = unsafe { making(client, out_job) }?;
        let work = DownloadWork::into_memory(Arc::clone(&client.inner), run_id);
        // SAFETY: out_job checked non-NULL.
        unsafe {
            make(
                client,
                camb_job_kind::DownloadAudio,
                Box::new(work),
                Arc::default(),
                out_job,
            )
        }
    })
}

/// Makes a job of `camb_client_save_audio()` (the same rules for what is at
/// `path`: what cannot take the audio is refused now, without opening it, and
/// `path` is looked at again when the job runs); the byte count is
/// `camb_job_bytes()`. As `camb_client_job_get_task_status()` otherwise, plus
/// the errors of a bad path.
// The caller's part: every pointer NULL or valid, as the header's conventions say.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_job_save_audio(
    client: *const camb_client,
    run_id: i64,
    path: *const c_char,
    out_job: *mut *mut camb_job,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller's part, for each argument.
        let client = unsafe { making(client, out_job) }?;
        // SAFETY: NULL or NUL-terminated.
        let path = unsafe { path_arg(path) }?;
        let work = SaveWork::new(Arc::clone(&client.inner), run_id, path)?;
        // SAFETY: out_job checked non-NULL.
        unsafe {
            make(
                client,
                camb_job_kind::SaveAudio,
                Box::new(work),
                Arc::default(),
                out_job,
            )
        }
    })
}

/// Makes a job of `camb_client_get_audio_url()`; the URL is
/// `camb_job_audio_url()`. As `camb_client_job_get_task_status()` otherwise.
// The caller's part: every pointer NULL or valid, as the header's conventions say.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_job_get_audio_url(
    client: *const camb_client,
    run_id: i64,
    out_job: *mut *mut camb_job,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller's part, for each argument.
        let client = unsafe { making(client, out_job) }?;
        let work = AudioUrlWork {
            client: Arc::clone(&client.inner),
            run_id,
        };
        // SAFETY: out_job checked non-NULL.
        unsafe {
            make(
                client,
                camb_job_kind::GetAudioUrl,
                Box::new(work),
                Arc::default(),
                out_job,
            )
        }
    })
}

/// Makes a job of `camb_client_get_audio_urls()`; the list is
/// `camb_job_audio_url_list()`. The run ids are checked and copied now. As
/// `camb_client_job_get_task_status()` otherwise, plus the limits of the
/// blocking call.
// The caller's part: every pointer NULL or valid, as the header's conventions say;
// `run_ids` holds `count` values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_job_get_audio_urls(
    client: *const camb_client,
    run_ids: *const i64,
    count: usize,
    out_job: *mut *mut camb_job,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller's part, for each argument.
        let client = unsafe { making(client, out_job) }?;
        // SAFETY: NULL or `count` values.
        let run_ids = unsafe { run_ids_arg(run_ids, count) }?;
        let work = AudioUrlsWork::new(Arc::clone(&client.inner), run_ids.to_vec())?;
        // SAFETY: out_job checked non-NULL.
        unsafe {
            make(
                client,
                camb_job_kind::GetAudioUrls,
                Box::new(work),
                Arc::default(),
                out_job,
            )
        }
    })
}

/// Makes a job of `camb_client_get_task_statuses()`: up to `max_connections`
/// queries at a time (0: 8; at most 32), bounded as a whole by the client's
/// timeout. The list is `camb_job_task_list()`, one task per id in order, each
/// with its own result. The ids are copied now. As
/// `camb_client_job_get_task_status()` otherwise, plus the limits of the
/// blocking call.
// The caller's part: every pointer NULL or valid, as the header's conventions say;
// `task_ids` holds `count` pointers, each NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_job_get_task_statuses(
    client: *const camb_client,
    task_ids: *const *const c_char,
    count: usize,
    max_connections: u32,
    out_job: *mut *mut camb_job,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller's part, for each argument.
        let client = unsafe { making(client, out_job) }?;
        // SAFETY: `count` pointers, each NULL or NUL-terminated.
        let ids = unsafe { batch_ids(task_ids, count) }?;
        let connections = usize::try_from(max_connections).unwrap_or(usize::MAX);
        let work = BatchWork::new(Arc::clone(&client.inner), ids, connections)?;
        // SAFETY: out_job checked non-NULL.
        unsafe {
            make(
                client,
                camb_job_kind::GetTaskStatuses,
                Box::new(work),
                Arc::default(),
                out_job,
            )
        }
    })
}

/// Makes a job of `camb_client_generate()`: creates a task from `prompt` and
/// `create_options`, waits for it with `wait_options` (its pauses on a timer,
/// holding no thread), and saves its audio to `path` (the rules of
/// `camb_client_save_audio()`). `camb_job_polls()` and `camb_job_task_status()`
/// follow it. Its task is `camb_job_task()`, its id `camb_job_task_id()`, the
/// bytes saved `camb_job_bytes()`. A task that ends without audio fails the job
/// with `CAMB_RESULT_TASK_FAILED` (the message says why, and `camb_job_task()`
/// tells how it ended).
///
/// Everything that can be checked is checked now, before any task is created
/// (and billed): the prompt, both options, and `path`, which is refused with the
/// words and code `camb_client_save_audio()` would give (a missing or
/// unwritable directory, a directory, a socket, a symlink loop) without being
/// opened: a FIFO is only looked at, as its reader may come later. The save
/// looks at `path` again, as it may change while the task runs. As
/// `camb_client_job_get_task_status()` otherwise.
// The caller's part: every pointer NULL or valid, as the header's conventions say.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_job_generate(
    client: *const camb_client,
    prompt: *const c_char,
    create_options: *const camb_create_options,
    wait_options: *const camb_wait_options,
    path: *const c_char,
    out_job: *mut *mut camb_job,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller's part, for each argument.
        let client = unsafe { making(client, out_job) }?;
        // SAFETY: NULL or NUL-terminated.
        let prompt = unsafe { str_arg(prompt, "prompt") }?;
        // SAFETY: NULL or a camb_create_options of its struct_size bytes.
        let request = unsafe { create_request(prompt, create_options) }?;
        // SAFETY: NULL or a camb_wait_options of its struct_size bytes.
        let options = unsafe { read_wait_options(wait_options) }?;
        // SAFETY: NULL or NUL-terminated.
        let path = unsafe { path_arg(path) }?;
        let tracker = Arc::default();
        let work = GenerateWork::new(
            Arc::clone(&client.inner),
            request,
            &options,
            path,
            None,
            Arc::clone(&tracker),
        )?;
        // SAFETY: out_job checked non-NULL.
        unsafe {
            make(
                client,
                camb_job_kind::Generate,
                Box::new(work),
                tracker,
                out_job,
            )
        }
    })
}

/// Makes a job of `camb_client_list_voices()`; the list is
/// `camb_job_voice_list()`. As `camb_client_job_get_task_status()` otherwise.
// The caller's part: `client` is NULL or a live client; `out_job` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_job_list_voices(
    client: *const camb_client,
    out_job: *mut *mut camb_job,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller's part, for each argument.
        let client = unsafe { making(client, out_job) }?;
        let work = VoicesWork {
            client: Arc::clone(&client.inner),
        };
        // SAFETY: out_job checked non-NULL.
        unsafe {
            make(
                client,
                camb_job_kind::ListVoices,
                Box::new(work),
                Arc::default(),
                out_job,
            )
        }
    })
}

/// Makes a job of `camb_client_list_languages()` (`which` is checked now); the
/// list is `camb_job_language_list()`. As `camb_client_job_get_task_status()`
/// otherwise.
// The caller's part: `client` is NULL or a live client; `out_job` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_client_job_list_languages(
    client: *const camb_client,
    which: u32,
    out_job: *mut *mut camb_job,
) -> camb_result {
    result_call(|| {
        // SAFETY: the caller's part, for each argument.
        let client = unsafe { making(client, out_job) }?;
        let work = LanguagesWork {
            client: Arc::clone(&client.inner),
            which: languages_arg(which)?,
        };
        // SAFETY: out_job checked non-NULL.
        unsafe {
            make(
                client,
                camb_job_kind::ListLanguages,
                Box::new(work),
                Arc::default(),
                out_job,
            )
        }
    })
}

/// Starts a job made by a `camb_client_job_*` function on its client's pool of
/// threads (started with the first job: `camb_client_builder_set_job_threads()`,
/// plus one timer thread). From here the job is libcamb's until `queue` hands it
/// back as a `CAMB_EVENT_JOB_DONE` event, with `camb_job_user_data()` giving
/// back `user_data` as it was (a way from the event to the caller's own record
/// of the job). One queue may serve many jobs and many clients.
///
/// Errors, after which the job is still the caller's (free it, or submit it
/// again once the cause is gone): `CAMB_RESULT_NULL_PARAMETER` (job, queue);
/// `CAMB_RESULT_INVALID_PARAMETER` (the job was submitted already, or its client
/// is being freed); `CAMB_RESULT_IO` (the pool's threads cannot start; none is
/// left behind).
// The caller's part: `job` is NULL or a live job of the caller's; `queue` is NULL
// or a live queue.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_submit(
    job: *mut camb_job,
    queue: *mut camb_queue,
    user_data: *mut c_void,
) -> camb_result {
    result_call(|| {
        // SAFETY: NULL or a live job.
        let Some(borrowed) = (unsafe { job_ref(job) }) else {
            return Err(null_parameter("job"));
        };
        // SAFETY: NULL or a live queue.
        let queue = unsafe { queue_arc(queue) }.ok_or_else(|| null_parameter("queue"))?;
        let Some(pool) = borrowed.data.pool.upgrade() else {
            return Err(Error::invalid(
                "the job's client was freed: no job can start",
            ));
        };
        // One submit wins, even two at once on two threads; a refused one
        // leaves the flag as the winner set it.
        let claimed = borrowed.phase() == Phase::New
            && borrowed
                .data
                .in_flight
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok();
        if !claimed {
            return Err(Error::invalid("the job was submitted already"));
        }
        borrowed
            .data
            .user_data
            .store(user_data as usize, Ordering::Relaxed);
        // SAFETY: a live job of the caller's: its reference goes to the engine,
        // which gives it back through the queue (or here, on failure).
        let job = unsafe { Arc::from_raw(job.cast_const().cast::<Job>()) };
        pool.submit(job, queue).map_err(|(error, job)| {
            job.data.in_flight.store(false, Ordering::Release);
            let _ = into_handle(job);
            error
        })
    })
}

/// Which operation the job runs; `CAMB_JOB_KIND_NONE` for NULL.
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_get_kind(job: *const camb_job) -> camb_job_kind {
    value_call(camb_job_kind::None, || {
        // SAFETY: NULL or a live job.
        unsafe { job_ref(job) }.map_or(camb_job_kind::None, |j| j.data.kind)
    })
}

/// Where the job is; `CAMB_JOB_STATE_DONE` for NULL.
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_get_state(job: *const camb_job) -> camb_job_state {
    value_call(camb_job_state::Done, || {
        // SAFETY: NULL or a live job.
        match unsafe { job_ref(job) }.map(Job::phase) {
            Some(Phase::New) => camb_job_state::New,
            Some(Phase::Queued) => camb_job_state::Queued,
            Some(Phase::Running) => camb_job_state::Running,
            Some(Phase::Waiting) => camb_job_state::Waiting,
            Some(Phase::Done) | None => camb_job_state::Done,
        }
    })
}

/// The job's outcome: `CAMB_RESULT_OK`, or its failure (`camb_job_error()` says
/// why); `CAMB_RESULT_NOT_READY` until it is done; `CAMB_RESULT_NULL_PARAMETER`
/// for NULL. A cancelled job is `CAMB_RESULT_CANCELLED`.
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_result(job: *const camb_job) -> camb_result {
    value_call(camb_result::NullParameter, || {
        // SAFETY: NULL or a live job.
        match unsafe { job_ref(job) }.map(Job::outcome) {
            None => camb_result::NullParameter,
            Some(None) => camb_result::NotReady,
            Some(Some(Ok(_))) => camb_result::Ok,
            Some(Some(Err(error))) => camb_result::from(error.kind()),
        }
    })
}

/// Why a finished job failed, in words (the server's own, where it gave any;
/// never the API key), owned by the job; its length into `*out_len` unless
/// NULL. NULL when the job succeeded, is not done, or is NULL.
// The caller's part: `job` is NULL or a live job; `out_len` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_error(
    job: *const camb_job,
    out_len: *mut usize,
) -> *const c_char {
    // SAFETY: NULL or a live job; `out_len` NULL or writable.
    unsafe { view_text(job, out_len, |v| v.error.as_ref()) }
}

/// The HTTP status behind a failed job, or 0.
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_http_status(job: *const camb_job) -> u16 {
    value_call(0, || {
        // SAFETY: NULL or a live job.
        unsafe { finished_view(job) }.map_or(0, |v| v.http_status)
    })
}

/// The task of a finished status, wait or generate job, owned by the job (valid
/// until it is freed; never free it on its own): also the task of a generation
/// that failed with `CAMB_RESULT_TASK_FAILED`, with the status it ended in; NULL
/// otherwise.
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_task(job: *const camb_job) -> *const camb_task {
    value_call(std::ptr::null(), || {
        // SAFETY: NULL or a live job.
        unsafe { finished_view(job) }
            .and_then(|v| v.task.as_ref())
            .map_or(std::ptr::null(), std::ptr::from_ref)
    })
}

/// The list of a finished `camb_client_job_get_task_statuses()` job, owned by
/// the job; NULL otherwise.
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_task_list(job: *const camb_job) -> *const camb_task_list {
    value_call(std::ptr::null(), || {
        // SAFETY: NULL or a live job.
        unsafe { finished_view(job) }
            .and_then(|v| v.list.as_ref())
            .map_or(std::ptr::null(), std::ptr::from_ref)
    })
}

/// The task id of a finished create or generate job (the new task's, also when
/// a generation failed after creating it), or of a status or wait job (also
/// when it failed), owned by the job; NULL otherwise.
// The caller's part: `job` is NULL or a live job; `out_len` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_task_id(
    job: *const camb_job,
    out_len: *mut usize,
) -> *const c_char {
    // SAFETY: NULL or a live job; `out_len` NULL or writable.
    unsafe { view_text(job, out_len, |v| v.task_id.as_ref()) }
}

/// The bytes a finished download, save, generate or speech job delivered; 0
/// otherwise.
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_bytes(job: *const camb_job) -> u64 {
    value_call(0, || {
        // SAFETY: NULL or a live job.
        match unsafe { job_ref(job) }.and_then(Job::outcome) {
            Some(Ok(Output::Bytes(bytes) | Output::Generated { bytes, .. })) => *bytes,
            Some(Ok(Output::Speech(info))) => info.bytes,
            Some(Ok(Output::Audio(audio))) => audio.len() as u64,
            _ => 0,
        }
    })
}

/// The audio of a finished `camb_client_job_download_audio()` job (the WAV
/// bytes), owned by the job; its length into `*out_len` unless NULL. NULL (and
/// 0) otherwise.
// The caller's part: `job` is NULL or a live job; `out_len` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_audio(job: *const camb_job, out_len: *mut usize) -> *const u8 {
    value_call(std::ptr::null(), || {
        // SAFETY: NULL or a live job.
        let audio = match unsafe { job_ref(job) }.and_then(Job::outcome) {
            Some(Ok(Output::Audio(audio))) => Some(audio.as_slice()),
            _ => None,
        };
        if !out_len.is_null() {
            // SAFETY: not NULL, and writable per the contract.
            unsafe { out_len.write(audio.map_or(0, <[u8]>::len)) };
        }
        audio.map_or(std::ptr::null(), <[u8]>::as_ptr)
    })
}

/// The URL of a finished `camb_client_job_get_audio_url()` job, owned by the
/// job; its length into `*out_len` unless NULL. NULL otherwise.
// The caller's part: `job` is NULL or a live job; `out_len` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_audio_url(
    job: *const camb_job,
    out_len: *mut usize,
) -> *const c_char {
    // SAFETY: NULL or a live job; `out_len` NULL or writable.
    unsafe { view_text(job, out_len, |v| v.audio_url.as_ref()) }
}

/// The list of a finished `camb_client_job_get_audio_urls()` job, owned by the
/// job; NULL otherwise.
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_audio_url_list(
    job: *const camb_job,
) -> *const camb_audio_url_list {
    value_call(std::ptr::null(), || {
        // SAFETY: NULL or a live job.
        unsafe { finished_view(job) }
            .and_then(|v| v.audio_urls.as_ref())
            .map_or(std::ptr::null(), std::ptr::from_ref)
    })
}

/// The voices of a finished `camb_client_job_list_voices()` job, owned by the
/// job: valid until it is freed; never free it yourself. NULL for other jobs,
/// a failed or unfinished one, and NULL.
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_voice_list(job: *const camb_job) -> *const camb_voice_list {
    value_call(std::ptr::null(), || {
        // SAFETY: NULL or a live job.
        unsafe { finished_view(job) }
            .and_then(|v| v.voices.as_ref())
            .map_or(std::ptr::null(), std::ptr::from_ref)
    })
}

/// The languages of a finished `camb_client_job_list_languages()` job, owned by
/// the job. As `camb_job_voice_list()` otherwise.
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_language_list(job: *const camb_job) -> *const camb_language_list {
    value_call(std::ptr::null(), || {
        // SAFETY: NULL or a live job.
        unsafe { finished_view(job) }
            .and_then(|v| v.languages.as_ref())
            .map_or(std::ptr::null(), std::ptr::from_ref)
    })
}

/// Polls made so far by a wait or generate job (0 for other jobs and NULL). May
/// be read while the job runs, from any thread.
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_polls(job: *const camb_job) -> u32 {
    value_call(0, || {
        // SAFETY: NULL or a live job.
        unsafe { job_ref(job) }.map_or(0, |j| j.data.tracker.get().polls)
    })
}

/// The status of the job's task as last seen: a wait or generate job's last
/// poll, or a finished status job's task; as a `CAMB_STATUS_*` value.
/// `CAMB_STATUS_UNKNOWN` before the first poll (check `camb_job_polls()` to
/// tell it from a status this version does not know) and for jobs about no
/// task. May be read while the job runs, from any thread: for a progress line.
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_task_status(job: *const camb_job) -> camb_status {
    value_call(camb_status::Unknown, || {
        // SAFETY: NULL or a live job.
        let Some(job) = (unsafe { job_ref(job) }) else {
            return camb_status::Unknown;
        };
        let tracked = job.data.tracker.get();
        let text = tracked
            .last_polled
            .map(|info| info.status_text)
            .or_else(|| match job.outcome() {
                Some(Ok(Output::Task { info, .. } | Output::Generated { info, .. })) => {
                    Some(info.status_text.clone())
                }
                _ => tracked.ended.map(|info| info.status_text),
            });
        text.map_or(camb_status::Unknown, |t| {
            camb_status::from(TaskStatus::from_wire(&t))
        })
    })
}

/// The `user_data` given to `camb_job_submit()`, as it was given (NULL before,
/// and for NULL).
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_user_data(job: *const camb_job) -> *mut c_void {
    value_call(std::ptr::null_mut(), || {
        // SAFETY: NULL or a live job.
        unsafe { job_ref(job) }.map_or(std::ptr::null_mut(), |j| {
            j.data.user_data.load(Ordering::Relaxed) as *mut c_void
        })
    })
}

/// Cancels the job, from any thread: a job between steps finishes at once, a
/// running one at its next check (a download between chunks, a retry before it
/// is sent; a request already sent runs to its end), one not submitted yet as
/// soon as it is; it is then delivered with `CAMB_RESULT_CANCELLED`, unless the
/// step that was running succeeded (a create whose task was made), and a batch
/// with the ids not yet asked marked `CAMB_RESULT_CANCELLED`. A finished job
/// is left as it is.
///
/// Errors: `CAMB_RESULT_NULL_PARAMETER` for NULL.
// The caller's part: `job` is NULL or a live job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_cancel(job: *const camb_job) -> camb_result {
    result_call(|| {
        if job.is_null() {
            return Err(null_parameter("job"));
        }
        // SAFETY: a live job, not NULL: borrowed for a new reference.
        let handle = ManuallyDrop::new(unsafe { Arc::from_raw(job.cast::<Job>()) });
        Arc::clone(&handle).cancel();
        Ok(())
    })
}

/// Frees a job that is the caller's: one made and never submitted, or one its
/// queue handed back; on any thread. What was read from it is freed with it.
/// A job still in flight (submitted, not yet handed back) is not the caller's
/// to free: this only cancels it, and it is delivered as usual, to be freed
/// then. NULL is a no-op; a job handed back is freed once.
// The caller's part: `job` is NULL or a live job, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn camb_job_free(job: *mut camb_job) {
    void_call(|| {
        // SAFETY: NULL or a live job.
        let Some(borrowed) = (unsafe { job_ref(job) }) else {
            return;
        };
        if borrowed.data.in_flight.load(Ordering::Acquire) {
            // SAFETY: a live job, borrowed for a new reference.
            let handle =
                ManuallyDrop::new(unsafe { Arc::from_raw(job.cast_const().cast::<Job>()) });
            Arc::clone(&handle).cancel();
            return;
        }
        // SAFETY: the caller's reference (Arc::into_raw), freed once.
        drop(unsafe { Arc::from_raw(job.cast_const().cast::<Job>()) });
    })
}

/// A string of a finished job's view, picked by `pick`: its pointer (NULL when
/// absent, the job not done, or NULL), its length into `*out_len`.
///
/// # Safety
/// `job` is NULL or a live job; `out_len` is NULL or writable.
unsafe fn view_text(
    job: *const camb_job,
    out_len: *mut usize,
    pick: impl FnOnce(&View) -> Option<&OwnedText>,
) -> *const c_char {
    value_call(std::ptr::null(), || {
        // SAFETY: per this function's contract.
        let text = unsafe { finished_view(job) }.and_then(pick);
        // SAFETY: per this function's contract.
        unsafe { OwnedText::lend(text, out_len) }
    })
}
