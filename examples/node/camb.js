'use strict';
/**
 * camb.js: libcamb (CAMB.AI's text-to-sound API) from Node.js, through koffi.
 *
 *   const { Client, Status } = require('./camb');
 *   const client = new Client({ apiKey: 'your-key' });   // or CAMB_API_KEY
 *   try {   // in an async function
 *     const id = client.createTask('rain on a tin roof', { durationS: 5 });
 *     const task = await client.waitForTaskAsync(id, { onProgress: (p) => console.log(p.statusText) });
 *     if (task.status === Status.SUCCESS) client.saveAudio(task.runId, 'rain.wav');
 *   } finally {
 *     client.close();
 *   }
 *
 * Every failure throws (or rejects with) a CambError: `code` is the camb_result
 * number (404 for CAMB_RESULT_NOT_FOUND), `name` its name, `httpStatus` the
 * reply's HTTP status (0 when there was none), `message` libcamb's words.
 *
 * Logging and headers of your own (see "The log hook" below for threads):
 *
 *   const client = new Client({
 *     log: (level, line) => console.error(`libcamb[${level}] ${line}`),   // never holds the key
 *     logLevel: 'debug',
 *     headers: [{ name: 'traceparent', value: '00-4bf9...-01' }, { name: 'x-tenant', value: t, secret: true }],
 *   });
 *
 * The library is found at `options.library`, else $CAMB_LIB, else "libcamb.so"
 * on the loader's path.
 *
 * Plain methods are synchronous: they block the event loop while libcamb works
 * (a wait sleeps between polls).
 *
 * The job methods return Promises and hold no thread of Node's: getTaskStatusJob,
 * getTaskStatusesJob, createTaskJob, waitForTaskJob, saveAudioJob and generate
 * (prompt to WAV file in one call). Each starts a libcamb job, which runs on
 * the client's own threads (options.jobThreads, default 4) and holds none while
 * it waits between polls; Node's event loop learns that it finished from the
 * descriptor of a libcamb completion queue (see Completions below). A rejection
 * carries the job's own code, words and HTTP status. Each takes an AbortSignal
 * (`signal`); waits and generations also take onProgress.
 *
 *   const { taskId, bytes } = await client.generate('rain on a tin roof', 'rain.wav', {
 *     durationS: 5, onProgress: (p) => console.log(p.polls, p.statusName),
 *   });
 *
 * The older *Async methods (getTaskStatusAsync, getTaskStatusesAsync,
 * waitForTaskAsync) return Promises too, built otherwise: koffi runs the
 * blocking call on a thread of libuv's pool, and since libcamb 0.2 what a call returns (a
 * camb_task, a camb_task_list) belongs to no thread, so it is read on the main
 * thread once the call is over. Only camb_last_error() and
 * camb_last_http_status() are still per thread: see waitForTaskAsync for what a
 * rejection can say. Each async call holds one of libuv's threads while it runs
 * (4 unless UV_THREADPOOL_SIZE says otherwise; fs and dns use them too), so a
 * program with many long waits should raise UV_THREADPOOL_SIZE.
 */

const koffi = require('koffi');

// ---------------------------------------------------------------------------
// koffi's settings, before any library is loaded (they are fixed after that).
//
// koffi runs a native call on a stack of its own, 128 KiB for an async call by
// default (2 MiB for a sync call). libcamb is Rust and states no stack need; it
// expects a thread's usual 2 MiB. Measured with koffi 3.3.4, a status query over
// TLS overflowed 128 KiB with a debug build of libcamb (it passed at 192 KiB;
// plain http to loopback passed at 96 KiB, failed at 64 KiB); a release build
// passed at 64 KiB. An overflow kills the process with SIGSEGV. So async calls
// get the same 2 MiB as sync ones (memory is committed only when touched). If
// another module loaded a library through koffi first, the setting can no
// longer change: async methods then refuse to run rather than risk a crash.
// ---------------------------------------------------------------------------

const ASYNC_STACK_SIZE = 2 * 1024 * 1024;
let asyncStackProblem = null;
if (koffi.config().async_stack_size < ASYNC_STACK_SIZE) {
  try {
    koffi.config({ async_stack_size: ASYNC_STACK_SIZE });
  } catch (e) {
    asyncStackProblem =
      `koffi's async stack is ${koffi.config().async_stack_size} bytes, too small for libcamb ` +
      `(it needs ${ASYNC_STACK_SIZE}), and cannot be raised once a library is loaded (${e.message}): ` +
      "require('camb') before anything else loads a library through koffi, or call " +
      `koffi.config({ async_stack_size: ${ASYNC_STACK_SIZE} }) first`;
  }
}

// ---------------------------------------------------------------------------
// Types of camb.h, declared once per process (koffi's type names are global).
// Strings that come with a length are returned as 'const void *' and read by
// that length: 'const char *' would stop at a NUL byte, which the server's text
// may contain.
// ---------------------------------------------------------------------------

koffi.opaque('camb_client');
koffi.opaque('camb_client_builder');
koffi.opaque('camb_cancel_token');
koffi.opaque('camb_task');
koffi.opaque('camb_task_list');
koffi.opaque('camb_audio_url_list');
koffi.opaque('camb_job');
koffi.opaque('camb_job_queue');

// struct_size first: see createOptions() for how it is set.
const CreateOptions = koffi.struct('camb_create_options', {
  struct_size: 'size_t',
  duration_s: 'double',
  audio_type: 'uint32_t',
  project_name: 'const char *',
  project_description: 'const char *',
  has_folder_id: 'bool',
  folder_id: 'int64_t',
  retry: 'bool',
});

const WaitOptions = koffi.struct('camb_wait_options', {
  struct_size: 'size_t',
  initial_interval_ms: 'uint64_t',
  backoff_factor: 'double',
  max_interval_ms: 'uint64_t',
  deadline_ms: 'uint64_t',
});

const WaitProgress = koffi.struct('camb_wait_progress', {
  polls: 'uint32_t',
  elapsed_ms: 'uint64_t',
  poll_result: 'uint32_t',
  status: 'uint32_t',
  status_text: 'void *',
  status_text_len: 'size_t',
  error_message: 'void *',
  error_message_len: 'size_t',
  status_changed: 'bool',
  done: 'bool',
  next_poll_in_ms: 'uint64_t',
});

const ProgressFn = koffi.proto(
  'bool camb_progress_fn(const camb_wait_progress *progress, void *user_data)'
);
const WriteFn = koffi.proto(
  'bool camb_write_fn(const uint8_t *data, size_t len, void *user_data)'
);
// Declared for the start functions' signatures only: camb.js always passes NULL
// here and takes its jobs from a completion queue instead (see Completions).
koffi.proto('void camb_job_fn(camb_job *job, void *user_data)');
// user_data as an integer: camb.js passes a number, never a pointer (see the log hook).
const LogFn = koffi.proto(
  'void camb_log_fn(uint32_t level, const void *line, size_t len, uintptr_t user_data)'
);

/** camb_result values (camb.h's CAMB_RESULT_*), without the prefix. */
const Result = Object.freeze({
  OK: 0,
  NULL_PARAMETER: 1,
  INVALID_PARAMETER: 2,
  MISSING_API_KEY: 3,
  BUFFER_TOO_SMALL: 4, // returned by no function since 0.2; the number stays reserved
  CANCELLED: 5,
  PANIC: 6,
  IO: 7,
  NOT_READY: 8, // a job not finished yet, or an empty completion queue
  TASK_FAILED: 9, // a generation whose task ended without audio (ERROR, TIMEOUT, ...)
  CONNECT: 100,
  TIMEOUT: 101,
  BAD_RESPONSE: 102,
  HTTP_STATUS: 103,
  UNAUTHORIZED: 401,
  PAYMENT_REQUIRED: 402,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  VALIDATION: 422,
  RATE_LIMITED: 429,
  SERVER_ERROR: 500,
});

/** Task statuses (camb.h's CAMB_STATUS_*). Every one but PENDING is final. */
const Status = Object.freeze({
  UNKNOWN: 0,
  PENDING: 1,
  SUCCESS: 2,
  TIMEOUT: 3,
  ERROR: 4,
  PAYMENT_REQUIRED: 5,
});

/** Audio types (camb.h's CAMB_AUDIO_TYPE_*). */
const AudioType = Object.freeze({ DEFAULT: 0, SOUND: 1, MUSIC: 2 });

/** Where a job is in its life (camb.h's CAMB_JOB_STATE_*), as onProgress reports it. */
const JobState = Object.freeze({ QUEUED: 0, RUNNING: 1, WAITING: 2, DONE: 3 });

/** camb_log_level values (camb.h's CAMB_LOG_LEVEL_*): each includes the ones before it. */
const LogLevel = Object.freeze({ ERROR: 1, WARN: 2, INFO: 3, DEBUG: 4 });

// ---------------------------------------------------------------------------
// The library's functions, bound once per path.
// ---------------------------------------------------------------------------

const bound = new Map();

function bind(path) {
  let c = bound.get(path);
  if (c) return c;
  const lib = koffi.load(path);
  const f = (prototype) => lib.func(prototype);
  c = {
    builderNew: f('camb_client_builder *camb_client_builder_new(void)'),
    setApiKey: f('uint32_t camb_client_builder_set_api_key(camb_client_builder *b, const char *key)'),
    setBaseUrl: f('uint32_t camb_client_builder_set_base_url(camb_client_builder *b, const char *url)'),
    setTimeoutMs: f('uint32_t camb_client_builder_set_timeout_ms(camb_client_builder *b, uint64_t ms)'),
    setMaxRetries: f('uint32_t camb_client_builder_set_max_retries(camb_client_builder *b, uint32_t n)'),
    setCaBundleFile: f('uint32_t camb_client_builder_set_ca_bundle_file(camb_client_builder *b, const char *path)'),
    setCaBundlePem: f('uint32_t camb_client_builder_set_ca_bundle_pem(camb_client_builder *b, const uint8_t *pem, size_t len)'),
    setProxy: f('uint32_t camb_client_builder_set_proxy(camb_client_builder *b, const char *url)'),
    setAllowInsecureHttp: f('uint32_t camb_client_builder_set_allow_insecure_http(camb_client_builder *b, bool allow)'),
    setJobThreads: f('uint32_t camb_client_builder_set_job_threads(camb_client_builder *b, uint32_t threads)'),
    setLog: f('uint32_t camb_client_builder_set_log(camb_client_builder *b, uint32_t level, camb_log_fn *callback, uintptr_t user_data)'),
    addHeader: f('uint32_t camb_client_builder_add_header(camb_client_builder *b, const char *name, const char *value, bool secret)'),
    build: f('uint32_t camb_client_builder_build(camb_client_builder *b, _Out_ camb_client **out)'),
    builderFree: f('void camb_client_builder_free(camb_client_builder *b)'),
    clientFree: f('void camb_client_free(camb_client *c)'),

    getTaskStatus: f('uint32_t camb_client_get_task_status(const camb_client *c, const char *id, _Out_ camb_task **out)'),
    getTaskStatuses: f('uint32_t camb_client_get_task_statuses(const camb_client *c, const char **ids, size_t count, uint32_t max_connections, _Out_ camb_task_list **out)'),
    taskResult: f('uint32_t camb_task_result(const camb_task *t)'),
    taskError: f('const void *camb_task_error(const camb_task *t, _Out_ size_t *len)'),
    taskHttpStatus: f('uint16_t camb_task_http_status(const camb_task *t)'),
    taskId: f('const void *camb_task_id(const camb_task *t, _Out_ size_t *len)'),
    taskStatus: f('uint32_t camb_task_status(const camb_task *t)'),
    taskStatusText: f('const void *camb_task_status_text(const camb_task *t, _Out_ size_t *len)'),
    taskRunId: f('bool camb_task_run_id(const camb_task *t, _Out_ int64_t *run_id)'),
    taskExceptionReason: f('const void *camb_task_exception_reason(const camb_task *t, _Out_ size_t *len)'),
    taskMessage: f('const void *camb_task_message(const camb_task *t, _Out_ size_t *len)'),
    taskFree: f('void camb_task_free(camb_task *t)'),
    taskListLen: f('size_t camb_task_list_len(const camb_task_list *l)'),
    taskListGet: f('const camb_task *camb_task_list_get(const camb_task_list *l, size_t i)'),
    taskListFree: f('void camb_task_list_free(camb_task_list *l)'),

    createOptionsInit: f('uint32_t camb_create_options_init(_Out_ camb_create_options *o, size_t size)'),
    createTask: f('uint32_t camb_client_create_task(const camb_client *c, const char *prompt, const camb_create_options *o, _Out_ void **id, _Out_ size_t *len)'),
    waitOptionsInit: f('uint32_t camb_wait_options_init(_Out_ camb_wait_options *o, size_t size)'),
    waitForTask: f('uint32_t camb_client_wait_for_task(const camb_client *c, const char *id, const camb_wait_options *o, const camb_cancel_token *t, camb_progress_fn *progress, void *user_data, _Out_ camb_task **out)'),

    downloadAudio: f('uint32_t camb_client_download_audio(const camb_client *c, int64_t run_id, const camb_cancel_token *t, camb_write_fn *write, void *user_data, _Out_ uint64_t *bytes)'),
    saveAudio: f('uint32_t camb_client_save_audio(const camb_client *c, int64_t run_id, const char *path, const camb_cancel_token *t, _Out_ uint64_t *bytes)'),
    getAudioUrl: f('uint32_t camb_client_get_audio_url(const camb_client *c, int64_t run_id, _Out_ void **url, _Out_ size_t *len)'),
    getAudioUrls: f('uint32_t camb_client_get_audio_urls(const camb_client *c, const int64_t *run_ids, size_t count, _Out_ camb_audio_url_list **out)'),
    audioUrlListLen: f('size_t camb_audio_url_list_len(const camb_audio_url_list *l)'),
    audioUrlListGet: f('const void *camb_audio_url_list_get(const camb_audio_url_list *l, size_t i, _Out_ int64_t *run_id, _Out_ size_t *len)'),
    audioUrlListFree: f('void camb_audio_url_list_free(camb_audio_url_list *l)'),
    stringFree: f('void camb_string_free(void *s)'),

    startGetTaskStatus: f('uint32_t camb_client_start_get_task_status(const camb_client *c, const char *id, const camb_job_queue *q, camb_job_fn *cb, void *user_data, _Out_ camb_job **out)'),
    startGetTaskStatuses: f('uint32_t camb_client_start_get_task_statuses(const camb_client *c, const char **ids, size_t count, uint32_t max_connections, const camb_job_queue *q, camb_job_fn *cb, void *user_data, _Out_ camb_job **out)'),
    startCreateTask: f('uint32_t camb_client_start_create_task(const camb_client *c, const char *prompt, const camb_create_options *o, const camb_job_queue *q, camb_job_fn *cb, void *user_data, _Out_ camb_job **out)'),
    startWaitForTask: f('uint32_t camb_client_start_wait_for_task(const camb_client *c, const char *id, const camb_wait_options *o, const camb_job_queue *q, camb_job_fn *cb, void *user_data, _Out_ camb_job **out)'),
    startSaveAudio: f('uint32_t camb_client_start_save_audio(const camb_client *c, int64_t run_id, const char *path, const camb_job_queue *q, camb_job_fn *cb, void *user_data, _Out_ camb_job **out)'),
    startGenerate: f('uint32_t camb_client_start_generate(const camb_client *c, const char *prompt, const camb_create_options *co, const camb_wait_options *wo, const char *path, const camb_job_queue *q, camb_job_fn *cb, void *user_data, _Out_ camb_job **out)'),
    jobGetState: f('uint32_t camb_job_get_state(const camb_job *j)'),
    jobResult: f('uint32_t camb_job_result(const camb_job *j)'),
    jobError: f('const void *camb_job_error(const camb_job *j, _Out_ size_t *len)'),
    jobHttpStatus: f('uint16_t camb_job_http_status(const camb_job *j)'),
    jobTask: f('const camb_task *camb_job_task(const camb_job *j)'),
    jobTaskList: f('const camb_task_list *camb_job_task_list(const camb_job *j)'),
    jobTaskId: f('const void *camb_job_task_id(const camb_job *j, _Out_ size_t *len)'),
    jobBytes: f('uint64_t camb_job_bytes(const camb_job *j)'),
    jobPolls: f('uint32_t camb_job_polls(const camb_job *j)'),
    jobStatus: f('uint32_t camb_job_status(const camb_job *j)'),
    jobCancel: f('uint32_t camb_job_cancel(const camb_job *j)'),
    jobFree: f('void camb_job_free(camb_job *j)'),
    queueNew: f('uint32_t camb_job_queue_new(_Out_ camb_job_queue **q)'),
    queueFd: f('int32_t camb_job_queue_fd(const camb_job_queue *q)'),
    queuePop: f('uint32_t camb_job_queue_pop(const camb_job_queue *q, _Out_ camb_job **out)'),
    queueFree: f('void camb_job_queue_free(camb_job_queue *q)'),

    cancelTokenNew: f('camb_cancel_token *camb_cancel_token_new(void)'),
    cancelTokenCancel: f('uint32_t camb_cancel_token_cancel(const camb_cancel_token *t)'),
    cancelTokenFree: f('void camb_cancel_token_free(camb_cancel_token *t)'),

    lastError: f('const char *camb_last_error(void)'),
    lastHttpStatus: f('uint16_t camb_last_http_status(void)'),
    resultName: f('const char *camb_result_name(uint32_t r)'),
    statusName: f('const char *camb_status_name(uint32_t s)'),
    statusIsFinal: f('bool camb_status_is_final(uint32_t s)'),
    version: f('const char *camb_version(void)'),
  };
  bound.set(path, c);
  return c;
}

function libraryPath(options) {
  return options.library || process.env.CAMB_LIB || 'libcamb.so';
}

// ---------------------------------------------------------------------------
// Errors and conversions
// ---------------------------------------------------------------------------

/**
 * A failed libcamb call. `code`: the camb_result number (404 for NOT_FOUND);
 * `name`: its name ("CAMB_RESULT_NOT_FOUND"); `httpStatus`: the HTTP status of
 * the reply behind it, 0 when there was none, null when it is not known (some
 * async failures: see waitForTaskAsync); `message`: libcamb's words (never the
 * API key).
 */
class CambError extends Error {
  constructor(code, name, httpStatus, message) {
    super(message);
    this.code = code;
    this.name = name;
    this.httpStatus = httpStatus;
  }
}

// Reads this thread's last error at once: the next libcamb call would replace
// it. Only for calls made on this (the main) thread.
function check(c, result) {
  if (result === Result.OK) return;
  const message = c.lastError();
  const httpStatus = c.lastHttpStatus();
  throw new CambError(result, c.resultName(result), httpStatus, message || c.resultName(result));
}

function cambError(c, code, httpStatus, message) {
  return new CambError(code, c.resultName(code), httpStatus, message);
}

function invalid(c, message) {
  return cambError(c, Result.INVALID_PARAMETER, 0, message);
}

// A JS string as a C string: one with a NUL inside would reach C cut short.
function cString(c, value, what) {
  if (typeof value !== 'string') throw invalid(c, `${what} must be a string`);
  if (value.includes('\0')) throw invalid(c, `${what} contains a NUL byte`);
  return value;
}

// A run id for an int64_t argument: an integer Number or a BigInt.
function runIdArg(c, value) {
  if (typeof value === 'bigint' || Number.isSafeInteger(value)) return value;
  throw invalid(c, `a run id must be an integer, not ${String(value)}`);
}

// `len` bytes at `ptr` as UTF-8 text (NUL bytes kept); null for a NULL pointer.
function text(ptr, len) {
  if (ptr === null || ptr === undefined || ptr === 0n) return null;
  if (Number(len) === 0) return '';
  // A view of libcamb's memory (no copy), decoded to a JS string at once.
  return Buffer.from(koffi.view(ptr, Number(len))).toString('utf8');
}

// A string accessor of camb_task (pointer + length out) as a JS string or null.
function taskText(get, task) {
  const len = [0];
  return text(get(task, len), len[0]);
}

// int64 run ids: a Number when it is exact, else a BigInt.
function int64(value) {
  if (typeof value === 'bigint' && value >= BigInt(Number.MIN_SAFE_INTEGER) &&
      value <= BigInt(Number.MAX_SAFE_INTEGER)) {
    return Number(value);
  }
  return value;
}

/**
 * A camb_task with a status as a plain object: { taskId, status, statusName,
 * statusText, runId, exceptionReason, message, isFinal }. Everything is copied
 * out: the object outlives the task.
 */
function taskInfo(c, task) {
  const status = c.taskStatus(task);
  const runId = [0];
  const hasRunId = c.taskRunId(task, runId);
  return {
    taskId: taskText(c.taskId, task) ?? '',
    status,
    statusName: c.statusName(status),
    statusText: taskText(c.taskStatusText, task) ?? '',
    runId: hasRunId ? int64(runId[0]) : null,
    exceptionReason: taskText(c.taskExceptionReason, task),
    message: taskText(c.taskMessage, task),
    isFinal: c.statusIsFinal(status),
  };
}

// Why a camb_task has no status, from the task itself: it carries its own
// code, words and HTTP status, so this is right on any thread.
function taskFailure(c, task) {
  const code = c.taskResult(task);
  if (code === Result.OK) return null;
  const message = taskText(c.taskError, task);
  return cambError(c, code, c.taskHttpStatus(task), message || c.resultName(code));
}

// Reads a camb_task the caller owns, then frees it whatever happens.
function takeTask(c, task) {
  try {
    return taskInfo(c, task);
  } finally {
    c.taskFree(task);
  }
}

// Copies a camb_task_list into [{ taskId, info, error }] (the list is not freed).
function readTaskList(c, list) {
  const entries = [];
  const count = Number(c.taskListLen(list));
  for (let i = 0; i < count; i++) {
    const task = c.taskListGet(list, i); // owned by the list: never freed alone
    const error = taskFailure(c, task);
    entries.push({
      taskId: taskText(c.taskId, task) ?? '',
      info: error === null ? taskInfo(c, task) : null,
      error,
    });
  }
  return entries;
}

// Reads a camb_task_list the caller owns, then frees it whatever happens.
function takeTaskList(c, list) {
  try {
    return readTaskList(c, list);
  } finally {
    c.taskListFree(list);
  }
}

// Copies a string handed over through a char ** (with its length), then frees it.
function takeString(c, ptr, len) {
  try {
    return text(ptr, len) ?? '';
  } finally {
    c.stringFree(ptr);
  }
}

// The progress struct as a plain object; valid strings only during the callback.
function progressInfo(ptr) {
  const p = koffi.decode(ptr, WaitProgress);
  return {
    polls: p.polls,
    elapsedMs: Number(p.elapsed_ms),
    pollResult: p.poll_result,
    status: p.status,
    statusText: text(p.status_text, p.status_text_len),
    errorMessage: text(p.error_message, p.error_message_len),
    statusChanged: p.status_changed,
    done: p.done,
    nextPollInMs: Number(p.next_poll_in_ms),
  };
}

/**
 * Options structs, filled with libcamb's defaults by its _init functions given
 * the size of the struct koffi passes, as declared above: what camb.h's static
 * inline _default() helpers do for C with the header's sizeof. An older library
 * refuses a larger struct with INVALID_PARAMETER instead of misreading it.
 */
function initOptions(c, init, type) {
  const o = {};
  check(c, init(o, koffi.sizeof(type)));
  return o;
}

function createOptions(c, options) {
  const o = initOptions(c, c.createOptionsInit, CreateOptions);
  if (options.durationS !== undefined) o.duration_s = options.durationS;
  if (options.audioType !== undefined) o.audio_type = options.audioType;
  if (options.projectName !== undefined) o.project_name = cString(c, options.projectName, 'projectName');
  if (options.projectDescription !== undefined) {
    o.project_description = cString(c, options.projectDescription, 'projectDescription');
  }
  if (options.folderId !== undefined) {
    o.has_folder_id = true;
    o.folder_id = options.folderId;
  }
  if (options.retry) o.retry = true;
  return o;
}

function waitOptions(c, options) {
  const o = initOptions(c, c.waitOptionsInit, WaitOptions);
  if (options.initialIntervalMs !== undefined) o.initial_interval_ms = options.initialIntervalMs;
  if (options.backoffFactor !== undefined) o.backoff_factor = options.backoffFactor;
  if (options.maxIntervalMs !== undefined) o.max_interval_ms = options.maxIntervalMs;
  if (options.deadlineMs !== undefined) o.deadline_ms = options.deadlineMs;
  return o;
}

// ---------------------------------------------------------------------------
// Jobs: how a finished one comes back to JavaScript
//
// A job (camb_client_start_*) runs on the client's own libcamb threads, and
// holds none while it waits between polls. camb.js starts every job with a
// completion queue (camb_job_queue), one per client, and watches the queue's
// file descriptor on Node's own event loop with koffi.node.poll (libuv's
// uv_poll). When it becomes readable, the main thread pops the finished jobs,
// copies each one's result into JS values, frees the job and settles its
// Promise. So no libcamb callback ever runs JavaScript, no libuv or libcamb
// thread is held for JavaScript, and completion is not polled on a timer.
//
// Why not the callback form (camb_job_fn): koffi can register a JS function
// that libcamb then calls on its pool thread, and koffi marshals such a call to
// the main thread (a blocking N-API thread-safe function: the calling thread
// waits until the event loop has run the function). Read in koffi 3.3.4's
// sources (src/koffi/src/call.cc, RelayAsync and InitAsyncBroker), that means:
//  - the libcamb pool thread stays blocked until the event loop gets round to
//    the call, so a busy loop stalls every job of the client (4 threads by
//    default);
//  - camb_job_free() waits for a callback in progress on another thread. The JS
//    function runs on the main thread while libcamb sees the callback on its
//    pool thread, which waits for the main thread: freeing the job from the JS
//    callback, or from an abort handler just as the job finishes, would deadlock;
//  - koffi's thread-safe function is unreferenced, so a pending job would not
//    keep Node alive, and a callback arriving while Node exits has no loop.
// A timer polling camb_job_result() would work, but it wakes the loop for
// nothing and adds up to a period of latency; libcamb's descriptor is made for
// event loops. (Progress is the exception: jobs report no event per poll, so
// onProgress samples camb_job_polls() and camb_job_status() on a timer.)
//
// koffi.node.poll exists since koffi 2.15 and is not yet documented ("might
// change"): camb.js pins koffi 3.3.4, and without it job methods reject with a
// message that says so.
// ---------------------------------------------------------------------------

class Completions {
  constructor(c) {
    if (typeof koffi.node?.poll !== 'function') {
      throw new Error(`koffi ${koffi.version} has no koffi.node.poll, which camb.js's job methods need ` +
        '(koffi 2.15 or later; camb.js is tested with 3.3.4)');
    }
    this._c = c;
    const out = [null];
    check(c, c.queueNew(out));
    this._queue = out[0];
    this._pending = new Map(); // job handle (its address, a BigInt) -> finished(job)
    this._closing = false;
    this.started = 0; // jobs handed to this queue, ...
    this.freed = 0; // ... and freed by it: equal when none is pending
    try {
      this._poll = koffi.node.poll(c.queueFd(this._queue), { readable: true }, () => this._drain());
    } catch (e) {
      c.queueFree(this._queue);
      throw e;
    }
    // Without pending jobs the queue must not keep Node alive; with them it must.
    this._poll.unref();
  }

  get handle() {
    return this._queue;
  }

  get pending() {
    return this._pending.size;
  }

  // Takes charge of a job started with this queue: `finished(job)` runs on the
  // main thread when it is done, and must copy out what it needs (it must not
  // throw); the job is freed right after it, here and nowhere else.
  add(job, finished) {
    this._pending.set(job, finished);
    this.started += 1;
    if (this._pending.size === 1) this._poll.ref();
  }

  // The descriptor is readable: take every finished job (popping the last one
  // makes it unreadable again).
  _drain() {
    const c = this._c;
    const out = [null];
    // _queue turns null if a finished() closed the client and nothing is pending.
    while (this._queue !== null && c.queuePop(this._queue, out) === Result.OK) {
      const job = out[0];
      const finished = this._pending.get(job);
      this._pending.delete(job);
      try {
        if (finished !== undefined) finished(job);
      } finally {
        c.jobFree(job);
        this.freed += 1;
      }
    }
    if (this._pending.size === 0) {
      if (this._closing) this._teardown();
      else if (this._queue !== null) this._poll.unref();
    }
  }

  // The client was closed: its jobs were cancelled and are still delivered
  // (CANCELLED); the queue goes once the last one is in.
  close() {
    this._closing = true;
    if (this._pending.size === 0) this._teardown();
  }

  _teardown() {
    if (this._queue === null) return;
    this._poll.close(); // stop watching before camb_job_queue_free closes the descriptor
    this._c.queueFree(this._queue);
    this._queue = null;
  }
}

// The Error of a failed job, in its own words (never another thread's).
function jobFailure(c, job, code) {
  const message = taskText(c.jobError, job);
  return cambError(c, code, c.jobHttpStatus(job), message || c.resultName(code));
}

function abortedJob(c, signal, polls) {
  const error = cambError(c, Result.CANCELLED, 0,
    `the job was aborted through its signal${polls > 0 ? ` after ${polls} poll(s)` : ''}`);
  error.cause = signal.reason;
  return error;
}

// ---------------------------------------------------------------------------
// The log hook (options.log)
//
// libcamb calls the log callback on the thread making each request: Node's main
// thread for a synchronous call or a job's start, a libuv thread for an *Async
// call, the client's pool threads for a job's steps. koffi runs a JS callback
// called on the main thread at once; called on another thread, it queues the
// call to the event loop and blocks that thread until the JS has run. So:
//
// - Lines of synchronous calls arrive synchronously, before the call returns;
//   lines of jobs and *Async calls arrive through the event loop, each before
//   its job's Promise settles (a job tells its end before it is delivered).
// - A thread logging waits for the main thread. That is safe as long as the main
//   thread never blocks waiting for such a thread, else both wait forever.
//   libcamb's calls that camb.js makes on the main thread do not, with one
//   exception handled here: a synchronous batch (getTaskStatuses) runs up to
//   maxConnections threads and joins them, so with a log it runs on one
//   connection, on the calling thread alone. camb_client_free() joins the
//   client's pool threads, so with a log close() runs it on a libuv thread.
//   camb_job_free() does not wait for pool threads (camb.js takes its jobs from
//   a completion queue, never through a callback), and libcamb logs holding
//   none of its locks. Do not call this client from other threads of your own that
//   wait for each other (worker_threads sharing a client is not supported anyway).
// - An exception thrown by the log function is caught and dropped: it cannot
//   unwind through libcamb, and the request goes on.
// - Lifetime: libcamb's last call comes before camb_client_free() returns, but
//   that is on a libuv thread, and close() drops a client's lines at once. So
//   there is one koffi callback for the whole process, registered with the first
//   client that logs and never unregistered, and user_data is a number looked up
//   in logSinks: once a client is closed its lines are dropped, and no call can
//   reach a callback that koffi has let go of.
// ---------------------------------------------------------------------------

const logSinks = new Map(); // user_data -> the client's log function
let lastLogId = 0;
let logTrampoline = null;

function logCallback() {
  if (logTrampoline === null) {
    logTrampoline = koffi.register((level, line, len, id) => {
      const sink = logSinks.get(Number(id));
      if (sink === undefined) return; // its client was freed
      try {
        sink(level, text(line, len) ?? '');
      } catch {
        // Dropped: see above.
      }
    }, koffi.pointer(LogFn));
  }
  return logTrampoline;
}

/** Whether camb.js's one log callback is registered with koffi (for tests counting callbacks). */
function logHookRegistered() {
  return logTrampoline !== null;
}

// options.logLevel: a LogLevel number or its name in any case; default DEBUG.
function logLevelArg(c, value) {
  if (value === undefined) return LogLevel.DEBUG;
  if (typeof value === 'string' && Object.hasOwn(LogLevel, value.toUpperCase())) {
    return LogLevel[value.toUpperCase()];
  }
  if (Number.isInteger(value) && value >= 0 && value <= 0xffffffff) return value; // libcamb checks it
  throw invalid(c, `logLevel must be a LogLevel or one of error, warn, info, debug, not ${String(value)}`);
}

// ---------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------

/**
 * A client for the CAMB text-to-sound API, owning a libcamb client. Free it with
 * close() (idempotent); a closed client throws CambError NULL_PARAMETER. close()
 * during a call (an async one, or from a callback) takes effect for new calls at
 * once, and the libcamb client is freed when the last call on it is over.
 */
class Client {
  /**
   * @param {object} [options]
   * @param {string} [options.apiKey]    default: $CAMB_API_KEY
   * @param {string} [options.baseUrl]   default: https://client.camb.ai/apis
   * @param {number} [options.timeoutMs] whole-call timeout (default 60000)
   * @param {number} [options.maxRetries] extra attempts of reads (default 2)
   * @param {string} [options.caBundleFile] PEM file of CAs to trust instead of the built-in roots
   * @param {string|Buffer} [options.caBundlePem] the same, as PEM text in memory
   * @param {string} [options.proxy]     e.g. "http://host:port" (environment variables are ignored)
   * @param {boolean} [options.allowInsecureHttp] plain http to a non-loopback host, or through a proxy
   * @param {number} [options.jobThreads] libcamb threads running this client's jobs (default 4, 1 to 64)
   * @param {Array<{name: string, value: string, secret?: boolean}>} [options.headers] sent with every
   *   request (such as traceparent); a secret value never appears in a log line or an error. libcamb
   *   refuses (CambError INVALID_PARAMETER, with why) names it writes itself (x-api-key, host, ...),
   *   names that are not HTTP tokens and values with CR, LF or other control characters.
   * @param {function(number, string)} [options.log] gets each log line: (level, line), level a
   *   LogLevel; the line never holds the key. See "The log hook" above for when lines arrive.
   * @param {number|string} [options.logLevel] the most detailed lines wanted: a LogLevel or
   *   'error', 'warn', 'info', 'debug' (default)
   * @param {string} [options.library]   path of libcamb.so (default $CAMB_LIB)
   */
  constructor(options = {}) {
    const c = bind(libraryPath(options));
    this._c = c;
    this._handle = null;
    this._calls = 0; // calls in progress on the handle (sync ones too: callbacks may close)
    this._freeLater = null; // the handle close() left to the last call to free
    this._completions = null; // where this client's jobs finish, made with the first one
    this._logId = null; // this client's key in logSinks, while it logs
    const builder = c.builderNew();
    if (builder === null) throw new Error('libcamb: out of memory');
    try {
      // Each setter is checked at once, so the error names it; libcamb would also
      // refuse to build after a refused setting.
      if (options.apiKey !== undefined) check(c, c.setApiKey(builder, cString(c, options.apiKey, 'apiKey')));
      if (options.baseUrl !== undefined) check(c, c.setBaseUrl(builder, cString(c, options.baseUrl, 'baseUrl')));
      if (options.timeoutMs !== undefined) check(c, c.setTimeoutMs(builder, options.timeoutMs));
      if (options.maxRetries !== undefined) check(c, c.setMaxRetries(builder, options.maxRetries));
      if (options.caBundleFile !== undefined) {
        check(c, c.setCaBundleFile(builder, cString(c, options.caBundleFile, 'caBundleFile')));
      }
      if (options.caBundlePem !== undefined) {
        const pem = Buffer.from(options.caBundlePem);
        check(c, c.setCaBundlePem(builder, pem, pem.length));
      }
      if (options.proxy !== undefined) check(c, c.setProxy(builder, cString(c, options.proxy, 'proxy')));
      if (options.allowInsecureHttp) check(c, c.setAllowInsecureHttp(builder, true));
      if (options.jobThreads !== undefined) check(c, c.setJobThreads(builder, options.jobThreads));
      for (const header of options.headers ?? []) {
        if (header === null || typeof header !== 'object') throw invalid(c, 'each header must be { name, value, secret }');
        check(c, c.addHeader(builder, cString(c, header.name, 'a header name'),
          cString(c, header.value, 'a header value'), Boolean(header.secret)));
      }
      if (options.log !== undefined) {
        if (typeof options.log !== 'function') throw invalid(c, 'log must be a function (level, line)');
        const level = logLevelArg(c, options.logLevel);
        this._logId = ++lastLogId;
        logSinks.set(this._logId, options.log);
        check(c, c.setLog(builder, level, logCallback(), this._logId));
      }
    } catch (e) {
      c.builderFree(builder);
      this._dropLog();
      throw e;
    }
    const out = [null];
    try {
      check(c, c.build(builder, out)); // consumes the builder either way
    } catch (e) {
      this._dropLog();
      throw e;
    }
    this._handle = out[0];
  }

  // Frees the libcamb client; its log lines from then on are dropped.
  _free(handle) {
    if (this._logId === null) {
      this._c.clientFree(handle);
      return;
    }
    // camb_client_free() waits for the client's pool threads, and a pool thread
    // that logs waits for this main thread (see "The log hook"): with a log, the
    // client is freed on a libuv thread. Its lines are dropped from now on.
    this._dropLog();
    this._c.clientFree.async(handle, () => {});
  }

  _dropLog() {
    if (this._logId !== null) logSinks.delete(this._logId);
    this._logId = null;
  }

  /**
   * Frees the client and wipes its key (once no call is using it). Calling it
   * again does nothing. Jobs still running are cancelled: their Promises reject
   * with CambError CANCELLED (unless they finished first).
   */
  close() {
    if (this._handle === null) return;
    const handle = this._handle;
    this._handle = null;
    if (this._calls === 0) {
      this._free(handle);
    } else {
      this._freeLater = handle;
    }
    if (this._completions !== null) this._completions.close();
  }

  // Runs a synchronous call with the handle (NULL once closed: libcamb then
  // fails with NULL_PARAMETER), keeping the client alive until it returns.
  _sync(call) {
    this._calls += 1;
    try {
      return call(this._handle);
    } finally {
      this._done();
    }
  }

  _done() {
    this._calls -= 1;
    if (this._calls === 0 && this._freeLater !== null) {
      const handle = this._freeLater;
      this._freeLater = null;
      this._free(handle);
    }
  }

  /**
   * Runs `fn` through koffi's async API with (handle, ...args) and returns a
   * Promise of finish(result), which runs on the main thread after the call.
   * The client stays alive until the call is over, even if closed meanwhile.
   */
  _async(fn, args, finish) {
    return new Promise((resolve, reject) => {
      const c = this._c;
      if (asyncStackProblem !== null) throw new Error(asyncStackProblem);
      const handle = this._handle;
      // Checked here: libcamb's words for a NULL client would stay on the worker thread.
      if (handle === null) throw cambError(c, Result.NULL_PARAMETER, 0, 'the client is closed');
      this._calls += 1;
      try {
        fn.async(handle, ...args, (err, result) => {
          try {
            if (err) throw err;
            resolve(finish(result));
          } catch (e) {
            reject(e);
          } finally {
            this._done();
          }
        });
      } catch (e) {
        this._done();
        throw e;
      }
    });
  }

  /** The running library's version, such as "0.2.0". */
  get libraryVersion() {
    return this._c.version();
  }

  /**
   * The task's current status: { taskId, status, statusName, statusText, runId,
   * exceptionReason, message, isFinal }. Throws CambError (code 404) for an
   * unknown id.
   */
  getTaskStatus(taskId) {
    const c = this._c;
    const id = cString(c, taskId, 'taskId');
    const out = [null];
    this._sync((h) => check(c, c.getTaskStatus(h, id, out)));
    return takeTask(c, out[0]);
  }

  /**
   * getTaskStatus as a Promise, the call made on a libuv thread: resolves to the
   * same object, rejects with a CambError with code, name, message and httpStatus.
   *
   * camb_client_get_task_status() leaves its failure in camb_last_error(), which
   * is per thread: on the worker thread, out of reach here. So this asks through
   * camb_client_get_task_statuses() with one id and one connection, whose
   * camb_task carries its own failure (code, words, HTTP status). For a single id
   * that batch runs on the calling thread alone and sends the same one request,
   * retried and bounded by the client's timeout like camb_client_get_task_status().
   */
  getTaskStatusAsync(taskId) {
    return this.getTaskStatusesAsync([taskId], { maxConnections: 1 }).then(([entry]) => {
      if (entry.error !== null) throw entry.error;
      return entry.info;
    });
  }

  /**
   * The statuses of many tasks at once, up to `maxConnections` requests at a time
   * (0 or absent: libcamb's default, 8; at most 32). Returns one entry per id, in
   * order: { taskId, info, error }, where `info` is what getTaskStatus returns and
   * `error` a CambError, exactly one of them not null. An invalid id fails only its
   * own entry (INVALID_PARAMETER). Throws only when the batch itself is refused.
   * A client with a log runs it on one connection (see "The log hook").
   */
  getTaskStatuses(taskIds, options = {}) {
    const c = this._c;
    const ids = this._ids(taskIds);
    const requested = options.maxConnections ?? 0;
    // Its extra threads would log, waiting for this thread, which waits for them.
    const connections = this._logId !== null && requested >= 0 && requested <= 32 ? 1 : requested;
    const out = [null];
    this._sync((h) => check(c, c.getTaskStatuses(h, ids, ids.length, connections, out)));
    return takeTaskList(c, out[0]);
  }

  /**
   * getTaskStatuses as a Promise, the call made on a libuv thread (the batch's own
   * extra threads, if any, are libcamb's). Every entry carries its own error.
   * A refused batch (closed client, too many ids or connections) rejects with a
   * CambError whose message names only the code: libcamb's words for it are kept
   * per thread, on the worker thread.
   */
  getTaskStatusesAsync(taskIds, options = {}) {
    const c = this._c;
    let ids;
    try {
      ids = this._ids(taskIds);
    } catch (e) {
      return Promise.reject(e);
    }
    const connections = options.maxConnections ?? 0;
    const out = [null];
    return this._async(c.getTaskStatuses, [ids, ids.length, connections, out], (result) => {
      if (result !== Result.OK) throw unreadableFailure(c, result, 'getTaskStatuses');
      return takeTaskList(c, out[0]);
    });
  }

  // Task ids for a batch: an array of strings without NUL bytes. An empty string
  // is passed on (libcamb fails that entry alone).
  _ids(taskIds) {
    const c = this._c;
    if (!Array.isArray(taskIds)) throw invalid(c, 'taskIds must be an array of strings');
    return taskIds.map((id, i) => cString(c, id, `taskIds[${i}]`));
  }

  /**
   * Creates a task and returns its id.
   * @param {string} prompt
   * @param {object} [options] { durationS, audioType (AudioType.*), projectName,
   *   projectDescription, folderId, retry (off: a retry could bill twice) }
   */
  createTask(prompt, options = {}) {
    const c = this._c;
    const o = createOptions(c, options);
    const text = cString(c, prompt, 'prompt');
    const id = [null];
    const len = [0];
    this._sync((h) => check(c, c.createTask(h, text, o, id, len)));
    return takeString(c, id[0], len[0]);
  }

  /**
   * Polls until the task's status is final and returns it (as getTaskStatus); a
   * final ERROR or TIMEOUT is returned, not thrown: check `status`.
   *
   * @param {string} taskId
   * @param {object} [options] { initialIntervalMs, backoffFactor, maxIntervalMs,
   *   deadlineMs, onProgress }. onProgress(progress) runs after every poll with
   *   { polls, elapsedMs, pollResult, status, statusText, errorMessage,
   *   statusChanged, done, nextPollInMs }; returning false stops the wait
   *   (CambError CANCELLED); an exception it throws stops the wait and is
   *   rethrown from here.
   * Throws CambError TIMEOUT (101) when the deadline passes while pending.
   */
  waitForTask(taskId, options = {}) {
    const c = this._c;
    const o = waitOptions(c, options);
    const id = cString(c, taskId, 'taskId');

    const { onProgress } = options;
    let thrown = null;
    let callback = null;
    if (onProgress) {
      // Registered for this call only, and always unregistered after it.
      callback = koffi.register((ptr) => {
        try {
          return onProgress(progressInfo(ptr)) !== false;
        } catch (e) {
          thrown = { error: e };
          return false;
        }
      }, koffi.pointer(ProgressFn));
    }
    const out = [null];
    let result;
    try {
      result = this._sync((h) => c.waitForTask(h, id, o, null, callback, null, out));
    } finally {
      if (callback !== null) koffi.unregister(callback);
    }
    if (thrown !== null) {
      if (result === Result.OK) c.taskFree(out[0]); // the poll that threw had ended the wait
      throw thrown.error;
    }
    check(c, result);
    return takeTask(c, out[0]);
  }

  /**
   * waitForTask as a Promise: the wait runs on a libuv thread and the event loop
   * stays free. Same options, plus `signal` (an AbortSignal): aborting it cancels
   * the wait at once (CambError CANCELLED, `cause` the signal's reason).
   * onProgress runs on the main thread (koffi queues each call there; the waiting
   * thread blocks until it returns), so the wait advances only while the event
   * loop runs.
   *
   * What a rejection can say: camb_last_error() and camb_last_http_status() are
   * per thread, and the wait ran on a worker thread, so its own words are out of
   * reach here. The rejection carries the right `code` and `name` always. Its
   * message is the one libcamb gave the progress report of the poll that ended
   * the wait when that poll failed (a 404, a 401...); for a deadline it says how
   * many polls were made and the last status seen; otherwise (a refused argument)
   * it names the code only: waitForTask() gives the words. `httpStatus` is null
   * (not known: the progress report has no HTTP status) unless the wait was
   * cancelled here (0).
   */
  waitForTaskAsync(taskId, options = {}) {
    const c = this._c;
    let o;
    let id;
    try {
      o = waitOptions(c, options);
      id = cString(c, taskId, 'taskId');
    } catch (e) {
      return Promise.reject(e);
    }
    const { onProgress, signal } = options;
    if (signal?.aborted) {
      return Promise.reject(aborted(c, signal, 0));
    }

    // Always registered: the last progress report is the only place where the
    // words of a failed poll can be had on this thread.
    let last = null;
    let thrown = null;
    let stopped = false;
    const callback = koffi.register((ptr) => {
      try {
        last = progressInfo(ptr);
        if (onProgress && onProgress(last) === false) {
          stopped = true;
          return false;
        }
        return true;
      } catch (e) {
        thrown = { error: e };
        return false;
      }
    }, koffi.pointer(ProgressFn));
    const token = c.cancelTokenNew();
    const abort = () => c.cancelTokenCancel(token); // thread-safe; wakes the wait at once
    signal?.addEventListener('abort', abort, { once: true });
    const cleanup = () => {
      signal?.removeEventListener('abort', abort);
      koffi.unregister(callback);
      c.cancelTokenFree(token); // the call has returned: nothing uses the token now
    };

    const out = [null];
    let promise;
    try {
      promise = this._async(c.waitForTask, [id, o, token, callback, null, out], (result) => {
        if (result === Result.OK) {
          const info = takeTask(c, out[0]);
          if (thrown !== null) throw thrown.error; // thrown on the poll that ended the wait
          return info;
        }
        if (thrown !== null) throw thrown.error;
        if (result === Result.CANCELLED && signal?.aborted) throw aborted(c, signal, last?.polls ?? 0);
        if (result === Result.CANCELLED && stopped) {
          throw cambError(c, result, 0, `onProgress returned false after ${last.polls} poll(s)`);
        }
        throw waitFailure(c, result, last);
      });
    } catch (e) {
      cleanup();
      return Promise.reject(e);
    }
    return promise.finally(cleanup);
  }

  /** The audio of a successful run (the WAV file's bytes), as a Buffer. */
  downloadAudio(runId) {
    const c = this._c;
    const run = runIdArg(c, runId);
    const chunks = [];
    let thrown = null;
    const callback = koffi.register((data, len) => {
      try {
        // koffi.view() is no copy, and the chunk is valid during this call only:
        // Buffer.from(Uint8Array) copies (Buffer.from(ArrayBuffer) would not).
        chunks.push(Buffer.from(new Uint8Array(koffi.view(data, Number(len)))));
        return true;
      } catch (e) {
        thrown = { error: e };
        return false;
      }
    }, koffi.pointer(WriteFn));
    const bytes = [null];
    let result;
    try {
      result = this._sync((h) => c.downloadAudio(h, run, null, callback, null, bytes));
    } finally {
      koffi.unregister(callback);
    }
    if (thrown !== null) throw thrown.error;
    check(c, result);
    return Buffer.concat(chunks);
  }

  /**
   * Saves a successful run's audio to `path`, following symlinks: a regular file
   * (or none) is replaced through a temporary file, so on failure no file is left;
   * a device or a FIFO is written in place; a directory or a socket is refused
   * before downloading. Returns the size in bytes.
   */
  saveAudio(runId, path) {
    const c = this._c;
    const run = runIdArg(c, runId);
    const file = cString(c, path, 'path');
    const bytes = [null];
    this._sync((h) => check(c, c.saveAudio(h, run, file, null, bytes)));
    return Number(bytes[0]);
  }

  /** The pre-signed URL of a successful run's audio. */
  getAudioUrl(runId) {
    const c = this._c;
    const run = runIdArg(c, runId);
    const url = [null];
    const len = [0];
    this._sync((h) => check(c, c.getAudioUrl(h, run, url, len)));
    return takeString(c, url[0], len[0]);
  }

  /**
   * The URLs of many runs' audio in one request (1 to 1000 run ids): one entry
   * per run id, in order, { runId, url }, `url` null when the server had none
   * for that run (unknown, or not successful).
   */
  getAudioUrls(runIds) {
    const c = this._c;
    if (!Array.isArray(runIds)) throw invalid(c, 'runIds must be an array of run ids');
    const runs = runIds.map((r) => runIdArg(c, r));
    const out = [null];
    this._sync((h) => check(c, c.getAudioUrls(h, runs, runs.length, out)));
    const list = out[0];
    try {
      const entries = [];
      const count = Number(c.audioUrlListLen(list));
      for (let i = 0; i < count; i++) {
        const runId = [0];
        const len = [0];
        const url = c.audioUrlListGet(list, i, runId, len);
        entries.push({ runId: int64(runId[0]), url: text(url, len[0]) });
      }
      return entries;
    } finally {
      c.audioUrlListFree(list);
    }
  }

  // -------------------------------------------------------------------------
  // Jobs: Promises of calls that run on libcamb's own threads
  // -------------------------------------------------------------------------

  /**
   * Starts a job and returns a Promise of finish(job), which runs on the main
   * thread once the job is done, before it is freed (see Completions).
   * `start(handle, queue, out)` calls a camb_client_start_* function on this
   * thread, so a refused start rejects with libcamb's own words. Options:
   * `signal` (an AbortSignal: cancels the job), `onProgress` and
   * `progressIntervalMs` (waits and generations; see waitForTaskJob).
   */
  _job(start, finish, options = {}) {
    return new Promise((resolve, reject) => {
      const c = this._c;
      const { signal, onProgress } = options;
      const interval = options.progressIntervalMs ?? 100;
      if (!(Number.isFinite(interval) && interval > 0)) {
        throw invalid(c, `progressIntervalMs must be a positive number, not ${String(interval)}`);
      }
      if (onProgress !== undefined && typeof onProgress !== 'function') {
        throw invalid(c, 'onProgress must be a function');
      }
      if (signal?.aborted) throw abortedJob(c, signal, 0);
      if (this._handle === null) throw cambError(c, Result.NULL_PARAMETER, 0, 'the client is closed');
      if (this._completions === null) this._completions = new Completions(c);
      const completions = this._completions;
      const out = [null];
      this._sync((h) => check(c, start(h, completions.handle, out)));
      const job = out[0];

      // From here on the job is the queue's: it frees it once it is delivered.
      let timer = null;
      let last = null; // the last progress reported
      let stopped = false; // onProgress returned false
      let thrown = null; // what onProgress threw
      const report = (done) => {
        const status = c.jobStatus(job);
        const progress = {
          polls: c.jobPolls(job),
          status,
          statusName: c.statusName(status),
          state: c.jobGetState(job),
          done,
        };
        if (!done && last !== null && progress.polls === last.polls && progress.status === last.status) return;
        last = progress;
        try {
          if (onProgress(progress) === false && !done) {
            stopped = true;
            c.jobCancel(job);
          }
        } catch (e) {
          if (thrown === null) thrown = { error: e };
          if (!done) c.jobCancel(job);
        }
      };
      const abort = () => c.jobCancel(job); // never blocks; the job is then delivered CANCELLED

      completions.add(job, (done) => {
        if (timer !== null) clearInterval(timer);
        signal?.removeEventListener('abort', abort);
        try {
          if (onProgress) report(true);
          if (thrown !== null) throw thrown.error;
          const result = c.jobResult(done);
          if (result === Result.CANCELLED && signal?.aborted) throw abortedJob(c, signal, c.jobPolls(done));
          if (result === Result.CANCELLED && stopped) {
            throw cambError(c, result, 0, `onProgress returned false after ${last.polls} poll(s)`);
          }
          if (result === Result.CANCELLED && this._handle === null) {
            throw cambError(c, result, 0, `the client was closed: ${taskText(c.jobError, done) ?? 'cancelled'}`);
          }
          if (result !== Result.OK) throw jobFailure(c, done, result);
          resolve(finish(done));
        } catch (e) {
          reject(e);
        }
      });
      signal?.addEventListener('abort', abort, { once: true });
      if (onProgress) {
        timer = setInterval(() => report(false), interval);
        timer.unref(); // the queue keeps Node alive while the job runs
      }
    });
  }

  /** For tests: jobs started and freed, and still pending (null before the first job). */
  get _jobCounts() {
    const q = this._completions;
    return q === null ? null : { started: q.started, freed: q.freed, pending: q.pending };
  }

  /**
   * getTaskStatus as a job: resolves to the same object, rejects with a
   * CambError carrying the job's own code, words and HTTP status. Options:
   * { signal } (an AbortSignal).
   */
  getTaskStatusJob(taskId, options = {}) {
    const c = this._c;
    return this._job(
      (h, queue, out) => c.startGetTaskStatus(h, cString(c, taskId, 'taskId'), queue, null, null, out),
      (job) => taskInfo(c, c.jobTask(job)),
      { signal: options.signal },
    );
  }

  /**
   * getTaskStatuses as a job: up to `maxConnections` queries at a time on
   * libcamb's threads. Resolves to the same entries, each with its own error.
   * Options: { maxConnections, signal }.
   */
  getTaskStatusesJob(taskIds, options = {}) {
    const c = this._c;
    return this._job(
      (h, queue, out) => {
        const ids = this._ids(taskIds);
        return c.startGetTaskStatuses(h, ids, ids.length, options.maxConnections ?? 0, queue, null, null, out);
      },
      (job) => readTaskList(c, c.jobTaskList(job)),
      { signal: options.signal },
    );
  }

  /** createTask as a job: resolves to the new task's id. Options: those of createTask, and signal. */
  createTaskJob(prompt, options = {}) {
    const c = this._c;
    return this._job(
      (h, queue, out) => c.startCreateTask(h, cString(c, prompt, 'prompt'), createOptions(c, options), queue, null, null, out),
      (job) => taskText(c.jobTaskId, job) ?? '',
      { signal: options.signal },
    );
  }

  /**
   * waitForTask as a job: polls on libcamb's timer, holding no thread between
   * polls, and resolves to the final status (a final ERROR is a status, not a
   * rejection). Options: those of waitForTask's timing, and
   * - signal: an AbortSignal; aborting it ends the wait at once (CambError
   *   CANCELLED, `cause` the signal's reason);
   * - onProgress(p): called on the main thread with { polls, status,
   *   statusName, state, done } when the polls or the status change (sampled
   *   every progressIntervalMs, default 100), and once more with done: true
   *   before the Promise settles. Returning false cancels the job (CANCELLED);
   *   an exception it throws cancels it too and is the rejection.
   */
  waitForTaskJob(taskId, options = {}) {
    const c = this._c;
    return this._job(
      (h, queue, out) => c.startWaitForTask(h, cString(c, taskId, 'taskId'), waitOptions(c, options), queue, null, null, out),
      (job) => taskInfo(c, c.jobTask(job)),
      options,
    );
  }

  /** saveAudio as a job: resolves to the size in bytes. Options: { signal }. */
  saveAudioJob(runId, path, options = {}) {
    const c = this._c;
    return this._job(
      (h, queue, out) => c.startSaveAudio(h, runIdArg(c, runId), cString(c, path, 'path'), queue, null, null, out),
      (job) => Number(c.jobBytes(job)),
      { signal: options.signal },
    );
  }

  /**
   * A whole generation as one job: creates a task from `prompt`, waits for it
   * (on libcamb's timer) and saves its audio as a WAV file at `path`. Resolves
   * to { taskId, task (as getTaskStatus), bytes, polls }. A task that ends
   * without audio rejects with CambError TASK_FAILED (9), whose message names
   * the task, its status and reason; no file is left at `path` then.
   * Options: those of createTask (durationS, audioType, ...), of waitForTask's
   * timing (initialIntervalMs, ..., deadlineMs), and signal, onProgress,
   * progressIntervalMs as for waitForTaskJob.
   */
  generate(prompt, path, options = {}) {
    const c = this._c;
    return this._job(
      (h, queue, out) => c.startGenerate(h, cString(c, prompt, 'prompt'), createOptions(c, options),
        waitOptions(c, options), cString(c, path, 'path'), queue, null, null, out),
      (job) => ({
        taskId: taskText(c.jobTaskId, job) ?? '',
        task: taskInfo(c, c.jobTask(job)),
        bytes: Number(c.jobBytes(job)),
        polls: c.jobPolls(job),
      }),
      options,
    );
  }
}

// An async call's failure whose words libcamb kept on the worker thread.
function unreadableFailure(c, code, what) {
  const name = c.resultName(code);
  return cambError(c, code, null,
    `${what} failed with ${name} (libcamb's words for it are kept per thread, on the ` +
    'worker thread that made the call)');
}

// An async wait's failure, in the words of the progress report that ended it
// when there was one.
function waitFailure(c, code, last) {
  if (last !== null && last.done && last.pollResult === code && last.errorMessage !== null) {
    return cambError(c, code, null, last.errorMessage);
  }
  if (code === Result.TIMEOUT && last !== null) {
    const seen = last.statusText === null ? '' : `; the last status seen was ${last.statusText}`;
    const failed = last.errorMessage === null ? '' : `; the last poll failed: ${last.errorMessage}`;
    return cambError(c, code, null,
      `the wait's deadline passed after ${last.polls} poll(s)${seen}${failed}`);
  }
  return unreadableFailure(c, code, 'waitForTaskAsync');
}

function aborted(c, signal, polls) {
  const error = cambError(c, Result.CANCELLED, 0, `the wait was aborted through its signal after ${polls} poll(s)`);
  error.cause = signal.reason;
  return error;
}

if (typeof Symbol.dispose === 'symbol') {
  Client.prototype[Symbol.dispose] = Client.prototype.close;
}

/** The version of the libcamb at `library` (default $CAMB_LIB). */
function version(library) {
  return bind(libraryPath({ library })).version();
}

/**
 * For tests: the sizes of the options structs as declared here (what is passed
 * as struct_size), and whether libcamb's _init takes that size, and one more
 * byte: it takes any size up to its own and refuses a larger one, so the
 * declaration is the library's size exactly when the first is taken and the
 * second refused.
 */
function optionsLayout(library) {
  const c = bind(libraryPath({ library }));
  const layout = (init, type) => {
    const declared = koffi.sizeof(type);
    return {
      declared,
      takesDeclared: init({}, declared) === 0,
      takesOneMore: init({}, declared + 1) === 0,
    };
  };
  return {
    createOptions: layout(c.createOptionsInit, CreateOptions),
    waitOptions: layout(c.waitOptionsInit, WaitOptions),
  };
}

module.exports = {
  Client, CambError, Result, Status, AudioType, JobState, LogLevel, version, optionsLayout, logHookRegistered,
};
