'use strict';
/**
 * libcamb (CAMB.AI's text-to-sound and streaming text-to-speech API) from
 * Node.js, through koffi: the npm package `libcamb`. Types: index.d.ts.
 *
 *   const { Client, Status } = require('libcamb');
 *   const client = new Client();   // CAMB_API_KEY, and CAMB_BASE_URL when set (libcamb reads both)
 *   try {   // in an async function
 *     const id = await client.createTask('rain on a tin roof', { durationS: 5 });
 *     const task = await client.waitForTask(id, { onProgress: (p) => console.log(p.polls, p.statusName) });
 *     if (task.status === Status.SUCCESS) await client.saveAudio(task.runId, 'rain.wav');
 *   } finally {
 *     await client.close();
 *   }
 *
 * Or the whole generation as one call:
 *
 *   const { taskId, bytes } = await client.generate('rain on a tin roof', 'rain.wav', { durationS: 5 });
 *
 * Streaming text-to-speech, chunk by chunk as the audio arrives (see
 * "Speech streams" below):
 *
 *   for await (const chunk of client.speak('Hello there', 'en-us', 147320, { format: 'pcm_s16le' })) {
 *     player.write(chunk);
 *   }
 *
 * The nine text-to-sound operations (getTaskStatus, createTask, waitForTask,
 * downloadAudio, saveAudio, getAudioUrl, getAudioUrls, getTaskStatuses,
 * generate) and the four of speech (speakToFile, listVoices, sourceLanguages,
 * targetLanguages) return Promises and never block the event loop: each is a
 * libcamb job, run on the client's own threads (options.jobThreads, default 4;
 * a wait holds none between polls) and handed back through a libcamb queue
 * whose descriptor is watched on Node's event loop (see JobQueue); speak()'s
 * audio comes the same way. Each takes { signal }, an
 * AbortSignal that cancels the job (at its next check: a request already sent
 * runs to its end, and a job that finished first resolves); waitForTask and
 * generate also take onProgress. close() returns a Promise too.
 *
 * Each has a blocking twin with the `Sync` suffix, as in Node's fs
 * (getTaskStatusSync, ..., generateSync, speakToFileSync, listVoicesSync, ...):
 * it runs on the calling thread and blocks the event loop until it returns. A
 * Sync call's { signal } is passed to libcamb as a cancel token; as nothing
 * else runs meanwhile, it can be aborted only from a callback the call makes
 * (onProgress, log). speak() has no Sync twin: its stream is read as it comes.
 *
 * Progress has one shape in every form: { polls, status, statusName }, the
 * polls made so far and the task's status as last seen (a Status value and
 * its name, "CAMB_STATUS_PENDING"). A Sync wait reports after every poll; a job
 * is sampled on a timer (progressIntervalMs, default 100) and reports when
 * either changed, and once more before its Promise settles if it changed
 * since. Returning false stops the wait (CambError CANCELLED); an exception
 * thrown stops it and is the rejection (or is thrown).
 *
 * Every failure rejects with (or throws) a CambError: `code` is the
 * camb_result number (404 for CAMB_RESULT_NOT_FOUND), `name` its name,
 * `httpStatus` the reply's HTTP status (0 when there was none), `message`
 * libcamb's words. Aborting a signal rejects with CANCELLED, `cause` the
 * signal's reason.
 *
 * Logging and headers of your own (see "The log hook" below for threads):
 *
 *   const client = new Client({
 *     log: (level, line) => console.error(`libcamb[${level}] ${line}`),   // never holds the key
 *     logLevel: 'debug',
 *     headers: [{ name: 'traceparent', value: '00-4bf9...-01' }, { name: 'x-tenant', value: t, secret: true }],
 *   });
 *
 * Settings the client is not given are libcamb's to find, as in C: the key in
 * CAMB_API_KEY, the base URL in CAMB_BASE_URL (else CAMB.AI's service). This
 * module reads neither.
 *
 * The library: the package ships libcamb.so at native/<platform>-<arch>/
 * (linux-x64), and that copy is used unless $CAMB_LIB names another (or
 * options.library does, for one client). A library that cannot be loaded is a
 * LibraryLoadError naming the path, where it came from and what to do.
 */

const path = require('node:path');
const koffi = require('koffi');

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
koffi.opaque('camb_queue');
koffi.opaque('camb_voice');
koffi.opaque('camb_voice_list');
koffi.opaque('camb_language');
koffi.opaque('camb_language_list');

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

// Every option unset after camb_speech_options_init(): NULL strings,
// CAMB_FLAG_UNSET (0) flags, 0 integers and NaN numbers. See speechOptions().
const SpeechOptions = koffi.struct('camb_speech_options', {
  struct_size: 'size_t',
  format: 'const char *',
  sample_rate: 'uint32_t',
  duration_s: 'double',
  apply_enhancement: 'uint32_t',
  speech_model: 'const char *',
  user_instructions: 'const char *',
  enhance_named_entities: 'uint32_t',
  enhance_reference_audio_quality: 'uint32_t',
  maintain_source_accent: 'uint32_t',
  apply_ref_loudness_norm: 'uint32_t',
  speaking_rate: 'double',
  stability: 'double',
  temperature: 'double',
  inference_steps: 'uint32_t',
  speaker_similarity: 'double',
  localize_speaker_weight: 'double',
  acoustic_quality_boost: 'uint32_t',
});

// Passed _Inout_ with struct_size set (libcamb writes only the fields within it);
// the format is a NUL-terminated char[32], which koffi reads as a string.
const SpeechInfo = koffi.struct('camb_speech_info', {
  struct_size: 'size_t',
  format: koffi.array('char', 32, 'String'),
  sample_rate: 'uint32_t',
  channels: 'uint32_t',
  has_credits: 'bool',
  credits: 'double',
  bytes: 'uint64_t',
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
  http_status: 'uint16_t',
});

// Progress and write callbacks are passed as plain JS functions: koffi makes
// them transient, valid during the blocking call that runs them on this thread.
koffi.proto('bool camb_progress_fn(const camb_wait_progress *progress, void *user_data)');
koffi.proto('bool camb_write_fn(const uint8_t *data, size_t len, void *user_data)');
// The log hook's two are registered per client (see "The log hook").
const LogFn = koffi.proto('void camb_log_fn(uint32_t level, const void *line, size_t len, void *user_data)');
const FinalizerFn = koffi.proto('void camb_finalizer_fn(void *user_data)');

/** camb_result values (camb.h's CAMB_RESULT_*), without the prefix. */
const Result = Object.freeze({
  OK: 0,
  NULL_PARAMETER: 1,
  INVALID_PARAMETER: 2,
  MISSING_API_KEY: 3,
  CANCELLED: 5,
  PANIC: 6,
  IO: 7,
  NOT_READY: 8, // a job not finished yet, or an empty queue
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

/** Which operation a job runs (camb.h's CAMB_JOB_KIND_*). */
const JobKind = Object.freeze({
  NONE: 0,
  GET_TASK_STATUS: 1,
  CREATE_TASK: 2,
  WAIT_FOR_TASK: 3,
  DOWNLOAD_AUDIO: 4,
  SAVE_AUDIO: 5,
  GET_AUDIO_URL: 6,
  GET_AUDIO_URLS: 7,
  GET_TASK_STATUSES: 8,
  GENERATE: 9,
  SPEAK: 10,
  SPEAK_TO_FILE: 11,
  LIST_VOICES: 12,
  LIST_LANGUAGES: 13,
});

/** Where a job is in its life (camb.h's CAMB_JOB_STATE_*). */
const JobState = Object.freeze({ NEW: 0, QUEUED: 1, RUNNING: 2, WAITING: 3, DONE: 4 });

/** What a queue's event says (camb.h's CAMB_EVENT_*). */
const Event = Object.freeze({ JOB_DONE: 1, JOB_DATA: 2 });

/** camb_log_level values (camb.h's CAMB_LOG_LEVEL_*): each includes the ones before it. */
const LogLevel = Object.freeze({ ERROR: 1, WARN: 2, INFO: 3, DEBUG: 4 });

// camb.h's camb_flag (a yes/no option that may be left unset) and camb_languages.
const Flag = Object.freeze({ UNSET: 0, NO: 1, YES: 2 });
const Languages = Object.freeze({ SOURCE: 1, TARGET: 2 });

// ---------------------------------------------------------------------------
// The library's functions, bound once per path.
// ---------------------------------------------------------------------------

const bound = new Map();

/** This package's version, which is the version of the libcamb it ships. */
const PACKAGE_VERSION = require('./package.json').version;

/** Where the package keeps the libcamb.so it ships for this platform. */
const BUNDLED_LIBRARY = path.join(__dirname, 'native', `${process.platform}-${process.arch}`, 'libcamb.so');

/**
 * A libcamb.so that could not be loaded or is not one this package can use.
 * `path`: the path tried; `origin`: where that path came from ('options.library',
 * 'CAMB_LIB' or 'bundled'); `cause`: koffi's error, when it gave one.
 */
class LibraryLoadError extends Error {
  constructor(message, file, origin, cause) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'LibraryLoadError';
    this.path = file;
    this.origin = origin;
  }
}

// The library to load and where its path came from: options.library, else
// $CAMB_LIB, else the copy this package ships.
function libraryPath(options) {
  if (options.library) return { path: options.library, origin: 'options.library' };
  if (process.env.CAMB_LIB) return { path: process.env.CAMB_LIB, origin: 'CAMB_LIB' };
  return { path: BUNDLED_LIBRARY, origin: 'bundled' };
}

// Where the path came from, and what to do about it, for a LibraryLoadError.
function libraryAdvice(origin) {
  const platform = `${process.platform}-${process.arch}`;
  switch (origin) {
    case 'options.library':
      return ['given as options.library', 'Fix options.library, or leave it out to use $CAMB_LIB or the copy bundled with the libcamb package'];
    case 'CAMB_LIB':
      return ['named by the environment variable CAMB_LIB', `Point CAMB_LIB to a libcamb.so built for ${platform} ` +
        '(`cargo build --release -p camb-ffi` makes target/release/libcamb.so), or unset CAMB_LIB to use the copy ' +
        `bundled with the libcamb package (${BUNDLED_LIBRARY})`];
    default:
      return ['the copy bundled with the libcamb package (CAMB_LIB is not set)', 'The package ships libcamb.so for ' +
        `linux-x64 only (this is ${platform}): reinstall it (npm install libcamb-${PACKAGE_VERSION}.tgz), or set CAMB_LIB ` +
        'to the path of a libcamb.so built for this machine (`cargo build --release -p camb-ffi` makes target/release/libcamb.so)'];
  }
}

function loadFailure(where, why, cause) {
  const [from, todo] = libraryAdvice(where.origin);
  const reason = String(why).trim().replace(/\.$/, '');
  return new LibraryLoadError(`libcamb: cannot use ${where.path}, ${from}: ${reason}. ${todo}.`, where.path, where.origin, cause);
}

// The same 0.MINOR (or MAJOR, from 1.0) as this package: the ABI its
// declarations are written for.
function abiOf(version) {
  const [major, minor] = String(version).split('.');
  return major === '0' ? `0.${minor}` : major;
}

// Loads the library at `where.path` and binds its functions, once per path.
function bind(where) {
  let c = bound.get(where.path);
  if (c) return c;
  let lib;
  try {
    lib = koffi.load(where.path);
  } catch (e) {
    throw loadFailure(where, e.message, e);
  }
  let libraryVersion;
  try {
    libraryVersion = lib.func('const char *camb_version(void)')();
  } catch (e) {
    throw loadFailure(where, `it is not libcamb (${e.message})`, e);
  }
  if (abiOf(libraryVersion) !== abiOf(PACKAGE_VERSION)) {
    throw loadFailure(where, `it is libcamb ${libraryVersion}, and this package (libcamb ${PACKAGE_VERSION}) ` +
      `needs the ABI of libcamb ${abiOf(PACKAGE_VERSION)}`);
  }
  const f = (prototype) => lib.func(prototype);
  try {
    c = bindAll(f);
  } catch (e) {
    throw loadFailure(where, `a function is missing (${e.message})`, e);
  }
  bound.set(where.path, c);
  return c;
}

function bindAll(f) {
  return {
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
    setLog: f('uint32_t camb_client_builder_set_log(camb_client_builder *b, uint32_t level, camb_log_fn *callback, void *user_data, camb_finalizer_fn *finalizer)'),
    addHeader: f('uint32_t camb_client_builder_add_header(camb_client_builder *b, const char *name, const char *value, bool secret)'),
    build: f('uint32_t camb_client_builder_build(camb_client_builder *b, _Out_ camb_client **out)'),
    builderFree: f('void camb_client_builder_free(camb_client_builder *b)'),
    clientFree: f('void camb_client_free(camb_client *c)'),

    // Blocking calls.
    getTaskStatus: f('uint32_t camb_client_get_task_status(const camb_client *c, const char *id, const camb_cancel_token *t, _Out_ camb_task **out)'),
    createOptionsInit: f('uint32_t camb_create_options_init(_Out_ camb_create_options *o, size_t size)'),
    createTask: f('uint32_t camb_client_create_task(const camb_client *c, const char *prompt, const camb_create_options *o, const camb_cancel_token *t, _Out_ void **id, _Out_ size_t *len)'),
    waitOptionsInit: f('uint32_t camb_wait_options_init(_Out_ camb_wait_options *o, size_t size)'),
    waitForTask: f('uint32_t camb_client_wait_for_task(const camb_client *c, const char *id, const camb_wait_options *o, const camb_cancel_token *t, camb_progress_fn *progress, void *user_data, _Out_ camb_task **out)'),
    downloadAudio: f('uint32_t camb_client_download_audio(const camb_client *c, int64_t run_id, const camb_cancel_token *t, camb_write_fn *write, void *user_data, _Out_ uint64_t *bytes)'),
    saveAudio: f('uint32_t camb_client_save_audio(const camb_client *c, int64_t run_id, const char *path, const camb_cancel_token *t, _Out_ uint64_t *bytes)'),
    getAudioUrl: f('uint32_t camb_client_get_audio_url(const camb_client *c, int64_t run_id, const camb_cancel_token *t, _Out_ void **url, _Out_ size_t *len)'),
    getAudioUrls: f('uint32_t camb_client_get_audio_urls(const camb_client *c, const int64_t *run_ids, size_t count, const camb_cancel_token *t, _Out_ camb_audio_url_list **out)'),
    getTaskStatuses: f('uint32_t camb_client_get_task_statuses(const camb_client *c, const char **ids, size_t count, uint32_t max_connections, const camb_cancel_token *t, _Out_ camb_task_list **out)'),
    generate: f('uint32_t camb_client_generate(const camb_client *c, const char *prompt, const camb_create_options *co, const camb_wait_options *wo, const char *path, const camb_cancel_token *t, camb_progress_fn *progress, void *user_data, _Out_ camb_task **task, _Out_ uint64_t *bytes)'),

    // Results.
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
    audioUrlListLen: f('size_t camb_audio_url_list_len(const camb_audio_url_list *l)'),
    audioUrlListGet: f('const void *camb_audio_url_list_get(const camb_audio_url_list *l, size_t i, _Out_ int64_t *run_id, _Out_ size_t *len)'),
    audioUrlListFree: f('void camb_audio_url_list_free(camb_audio_url_list *l)'),
    stringFree: f('void camb_string_free(void *s)'),

    // Jobs.
    jobGetTaskStatus: f('uint32_t camb_client_job_get_task_status(const camb_client *c, const char *id, _Out_ camb_job **out)'),
    jobCreateTask: f('uint32_t camb_client_job_create_task(const camb_client *c, const char *prompt, const camb_create_options *o, _Out_ camb_job **out)'),
    jobWaitForTask: f('uint32_t camb_client_job_wait_for_task(const camb_client *c, const char *id, const camb_wait_options *o, _Out_ camb_job **out)'),
    jobDownloadAudio: f('uint32_t camb_client_job_download_audio(const camb_client *c, int64_t run_id, _Out_ camb_job **out)'),
    jobSaveAudio: f('uint32_t camb_client_job_save_audio(const camb_client *c, int64_t run_id, const char *path, _Out_ camb_job **out)'),
    jobGetAudioUrl: f('uint32_t camb_client_job_get_audio_url(const camb_client *c, int64_t run_id, _Out_ camb_job **out)'),
    jobGetAudioUrls: f('uint32_t camb_client_job_get_audio_urls(const camb_client *c, const int64_t *run_ids, size_t count, _Out_ camb_job **out)'),
    jobGetTaskStatuses: f('uint32_t camb_client_job_get_task_statuses(const camb_client *c, const char **ids, size_t count, uint32_t max_connections, _Out_ camb_job **out)'),
    jobGenerate: f('uint32_t camb_client_job_generate(const camb_client *c, const char *prompt, const camb_create_options *co, const camb_wait_options *wo, const char *path, _Out_ camb_job **out)'),
    jobSpeak: f('uint32_t camb_client_job_speak(const camb_client *c, const char *text, const char *language, int64_t voice_id, const camb_speech_options *o, _Out_ camb_job **out)'),
    jobSpeakToFile: f('uint32_t camb_client_job_speak_to_file(const camb_client *c, const char *text, const char *language, int64_t voice_id, const camb_speech_options *o, const char *path, _Out_ camb_job **out)'),
    jobListVoices: f('uint32_t camb_client_job_list_voices(const camb_client *c, _Out_ camb_job **out)'),
    jobListLanguages: f('uint32_t camb_client_job_list_languages(const camb_client *c, uint32_t which, _Out_ camb_job **out)'),
    jobSubmit: f('uint32_t camb_job_submit(camb_job *j, camb_queue *q, void *user_data)'),
    jobGetKind: f('uint32_t camb_job_get_kind(const camb_job *j)'),
    jobGetState: f('uint32_t camb_job_get_state(const camb_job *j)'),
    jobResult: f('uint32_t camb_job_result(const camb_job *j)'),
    jobError: f('const void *camb_job_error(const camb_job *j, _Out_ size_t *len)'),
    jobHttpStatus: f('uint16_t camb_job_http_status(const camb_job *j)'),
    jobTask: f('const camb_task *camb_job_task(const camb_job *j)'),
    jobTaskList: f('const camb_task_list *camb_job_task_list(const camb_job *j)'),
    jobTaskId: f('const void *camb_job_task_id(const camb_job *j, _Out_ size_t *len)'),
    jobBytes: f('uint64_t camb_job_bytes(const camb_job *j)'),
    jobAudio: f('const void *camb_job_audio(const camb_job *j, _Out_ size_t *len)'),
    jobAudioUrl: f('const void *camb_job_audio_url(const camb_job *j, _Out_ size_t *len)'),
    jobAudioUrlList: f('const camb_audio_url_list *camb_job_audio_url_list(const camb_job *j)'),
    jobVoiceList: f('const camb_voice_list *camb_job_voice_list(const camb_job *j)'),
    jobLanguageList: f('const camb_language_list *camb_job_language_list(const camb_job *j)'),
    // The buffer is a Buffer of this thread's, written in place.
    jobReadAudio: f('uint32_t camb_job_read_audio(const camb_job *j, void *buffer, size_t capacity, _Out_ size_t *read)'),
    jobSpeechInfo: f('uint32_t camb_job_speech_info(const camb_job *j, _Inout_ camb_speech_info *info)'),
    jobPolls: f('uint32_t camb_job_polls(const camb_job *j)'),
    jobTaskStatus: f('uint32_t camb_job_task_status(const camb_job *j)'),
    jobCancel: f('uint32_t camb_job_cancel(const camb_job *j)'),
    jobFree: f('void camb_job_free(camb_job *j)'),
    queueNew: f('uint32_t camb_queue_new(_Out_ camb_queue **q)'),
    queueFd: f('intptr_t camb_queue_fd(const camb_queue *q)'),
    queuePop: f('uint32_t camb_queue_pop(const camb_queue *q, _Out_ uint32_t *event, _Out_ camb_job **job)'),
    queueFree: f('void camb_queue_free(camb_queue *q)'),

    // Speech, voices and languages: blocking calls and the lists' accessors.
    speechOptionsInit: f('uint32_t camb_speech_options_init(_Out_ camb_speech_options *o, size_t size)'),
    speakToFile: f('uint32_t camb_client_speak_to_file(const camb_client *c, const char *text, const char *language, int64_t voice_id, const camb_speech_options *o, const char *path, const camb_cancel_token *t, _Inout_ camb_speech_info *info)'),
    listVoices: f('uint32_t camb_client_list_voices(const camb_client *c, const camb_cancel_token *t, _Out_ camb_voice_list **out)'),
    listLanguages: f('uint32_t camb_client_list_languages(const camb_client *c, uint32_t which, const camb_cancel_token *t, _Out_ camb_language_list **out)'),
    voiceListLen: f('size_t camb_voice_list_len(const camb_voice_list *l)'),
    voiceListGet: f('const camb_voice *camb_voice_list_get(const camb_voice_list *l, size_t i)'),
    voiceListFree: f('void camb_voice_list_free(camb_voice_list *l)'),
    voiceId: f('int64_t camb_voice_id(const camb_voice *v)'),
    voiceName: f('const void *camb_voice_name(const camb_voice *v, _Out_ size_t *len)'),
    voiceGender: f('bool camb_voice_gender(const camb_voice *v, _Out_ int64_t *out)'),
    voiceAge: f('bool camb_voice_age(const camb_voice *v, _Out_ int64_t *out)'),
    voiceLanguage: f('bool camb_voice_language(const camb_voice *v, _Out_ int64_t *out)'),
    voiceTranscript: f('const void *camb_voice_transcript(const camb_voice *v, _Out_ size_t *len)'),
    voiceDescription: f('const void *camb_voice_description(const camb_voice *v, _Out_ size_t *len)'),
    voiceSignedUrl: f('const void *camb_voice_signed_url(const camb_voice *v, _Out_ size_t *len)'),
    voiceIsPublished: f('uint32_t camb_voice_is_published(const camb_voice *v)'),
    languageListLen: f('size_t camb_language_list_len(const camb_language_list *l)'),
    languageListGet: f('const camb_language *camb_language_list_get(const camb_language_list *l, size_t i)'),
    languageListFree: f('void camb_language_list_free(camb_language_list *l)'),
    languageId: f('int64_t camb_language_id(const camb_language *l)'),
    languageName: f('const void *camb_language_name(const camb_language *l, _Out_ size_t *len)'),
    languageShortName: f('const void *camb_language_short_name(const camb_language *l, _Out_ size_t *len)'),

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
}

// ---------------------------------------------------------------------------
// Errors and conversions
// ---------------------------------------------------------------------------

/**
 * A failed libcamb call. `code`: the camb_result number (404 for NOT_FOUND);
 * `name`: its name ("CAMB_RESULT_NOT_FOUND"); `httpStatus`: the HTTP status of
 * the reply behind it, 0 when there was none; `message`: libcamb's words (never
 * the API key).
 */
class CambError extends Error {
  constructor(code, name, httpStatus, message) {
    super(message);
    this.code = code;
    this.name = name;
    this.httpStatus = httpStatus;
  }
}

// This thread's last failure: read at once, as the next libcamb call replaces it.
function lastFailure(c, result) {
  const message = c.lastError();
  return new CambError(result, c.resultName(result), c.lastHttpStatus(), message || c.resultName(result));
}

function check(c, result) {
  if (result !== Result.OK) throw lastFailure(c, result);
}

function cambError(c, code, httpStatus, message) {
  return new CambError(code, c.resultName(code), httpStatus, message);
}

function invalid(c, message) {
  return cambError(c, Result.INVALID_PARAMETER, 0, message);
}

function closedError(c) {
  return cambError(c, Result.NULL_PARAMETER, 0, 'the client is closed');
}

function abortedError(c, signal, polls) {
  const error = cambError(c, Result.CANCELLED, 0,
    `aborted through its signal${polls > 0 ? ` after ${polls} poll(s)` : ''}`);
  error.cause = signal.reason;
  return error;
}

function stoppedError(c, polls) {
  return cambError(c, Result.CANCELLED, 0, `onProgress returned false after ${polls} poll(s)`);
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

function runIdsArg(c, runIds) {
  if (!Array.isArray(runIds)) throw invalid(c, 'runIds must be an array of run ids');
  return runIds.map((r) => runIdArg(c, r));
}

// Task ids for a batch: an empty string is passed on (libcamb fails that entry alone).
function taskIdsArg(c, taskIds) {
  if (!Array.isArray(taskIds)) throw invalid(c, 'taskIds must be an array of strings');
  return taskIds.map((id, i) => cString(c, id, `taskIds[${i}]`));
}

function signalArg(c, signal) {
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid(c, 'signal must be an AbortSignal');
  return signal;
}

function onProgressArg(c, onProgress) {
  if (onProgress !== undefined && typeof onProgress !== 'function') throw invalid(c, 'onProgress must be a function');
  return onProgress;
}

function isNull(ptr) {
  return ptr === null || ptr === undefined || ptr === 0n;
}

// `len` bytes at `ptr` as UTF-8 text (NUL bytes kept); null for a NULL pointer.
function text(ptr, len) {
  if (isNull(ptr)) return null;
  if (Number(len) === 0) return '';
  // A view of libcamb's memory (no copy), decoded to a JS string at once.
  return Buffer.from(koffi.view(ptr, Number(len))).toString('utf8');
}

// `len` bytes at `ptr`, copied into a Buffer of their own.
function bytes(ptr, len) {
  if (isNull(ptr) || Number(len) === 0) return Buffer.alloc(0);
  // Buffer.from(Uint8Array) copies (Buffer.from(ArrayBuffer) would share the memory).
  return Buffer.from(new Uint8Array(koffi.view(ptr, Number(len))));
}

// A string accessor (pointer + length out) as a JS string or null.
function textOf(get, object) {
  const len = [0];
  return text(get(object, len), len[0]);
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
    taskId: textOf(c.taskId, task) ?? '',
    status,
    statusName: c.statusName(status),
    statusText: textOf(c.taskStatusText, task) ?? '',
    runId: hasRunId ? int64(runId[0]) : null,
    exceptionReason: textOf(c.taskExceptionReason, task),
    message: textOf(c.taskMessage, task),
    isFinal: c.statusIsFinal(status),
  };
}

// Why a camb_task has no status, from the task itself (its own code, words, HTTP status).
function taskFailure(c, task) {
  const code = c.taskResult(task);
  if (code === Result.OK) return null;
  const message = textOf(c.taskError, task);
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
      taskId: textOf(c.taskId, task) ?? '',
      info: error === null ? taskInfo(c, task) : null,
      error,
    });
  }
  return entries;
}

// Copies a camb_audio_url_list into [{ runId, url }] (the list is not freed).
function readAudioUrlList(c, list) {
  const entries = [];
  const count = Number(c.audioUrlListLen(list));
  for (let i = 0; i < count; i++) {
    const runId = [0];
    const len = [0];
    const url = c.audioUrlListGet(list, i, runId, len);
    entries.push({ runId: int64(runId[0]), url: text(url, len[0]) });
  }
  return entries;
}

// Copies a string handed over through a char ** (with its length), then frees it.
function takeString(c, ptr, len) {
  try {
    return text(ptr, len) ?? '';
  } finally {
    c.stringFree(ptr);
  }
}

/** The one shape of progress, for every form: { polls, status, statusName }. */
function progress(c, polls, status) {
  return { polls, status, statusName: c.statusName(status) };
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
// Speech: options, what a speech call tells, voices and languages
// ---------------------------------------------------------------------------

// A voice id for an int64_t argument: an integer Number or a BigInt.
function voiceIdArg(c, value) {
  if (typeof value === 'bigint' || Number.isSafeInteger(value)) return value;
  throw invalid(c, `a voice id must be an integer, not ${String(value)}`);
}

// The speech options, camelCase, and their fields in camb_speech_options, by kind.
const SPEECH_STRINGS = { format: 'format', speechModel: 'speech_model', userInstructions: 'user_instructions' };
const SPEECH_FLAGS = {
  applyEnhancement: 'apply_enhancement',
  enhanceNamedEntities: 'enhance_named_entities',
  enhanceReferenceAudioQuality: 'enhance_reference_audio_quality',
  maintainSourceAccent: 'maintain_source_accent',
  applyRefLoudnessNorm: 'apply_ref_loudness_norm',
  acousticQualityBoost: 'acoustic_quality_boost',
};
const SPEECH_NUMBERS = {
  duration: 'duration_s',
  speakingRate: 'speaking_rate',
  stability: 'stability',
  temperature: 'temperature',
  speakerSimilarity: 'speaker_similarity',
  localizeSpeakerWeight: 'localize_speaker_weight',
};
// Integers whose 0 means unset in C: 0 is taken as unset here too.
const SPEECH_INTEGERS = { sampleRate: 'sample_rate', inferenceSteps: 'inference_steps' };

/**
 * A camb_speech_options from `options`: started by camb_speech_options_init()
 * (every option unset), then each option given, undefined leaving it unset.
 * Flags are booleans (CAMB_FLAG_NO, CAMB_FLAG_YES). libcamb checks the values
 * (a format that is not a short name, a number that is infinite); the server
 * checks the ranges (its 422 says what it refused).
 */
function speechOptions(c, options) {
  if (options === null || typeof options !== 'object') throw invalid(c, 'options must be an object');
  const o = initOptions(c, c.speechOptionsInit, SpeechOptions);
  for (const [name, field] of Object.entries(SPEECH_STRINGS)) {
    if (options[name] !== undefined) o[field] = cString(c, options[name], name);
  }
  for (const [name, field] of Object.entries(SPEECH_FLAGS)) {
    const value = options[name];
    if (value === undefined) continue;
    if (typeof value !== 'boolean') throw invalid(c, `${name} must be a boolean, not ${String(value)}`);
    o[field] = value ? Flag.YES : Flag.NO;
  }
  for (const [name, field] of Object.entries(SPEECH_NUMBERS)) {
    const value = options[name];
    if (value === undefined) continue;
    if (typeof value !== 'number' || Number.isNaN(value)) throw invalid(c, `${name} must be a number, not ${String(value)}`);
    o[field] = value;
  }
  for (const [name, field] of Object.entries(SPEECH_INTEGERS)) {
    const value = options[name];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw invalid(c, `${name} must be an integer from 0 to 4294967295, not ${String(value)}`);
    }
    o[field] = value;
  }
  return o;
}

/** An empty camb_speech_info for libcamb to fill: its struct_size set, as camb.h asks. */
function speechInfoOut() {
  return { struct_size: koffi.sizeof(SpeechInfo) };
}

/** A camb_speech_info as { format, sampleRate, channels, credits, bytes }. */
function speechInfo(raw) {
  return {
    format: raw.format,
    sampleRate: raw.sample_rate,
    channels: raw.channels,
    credits: raw.has_credits ? raw.credits : null,
    bytes: Number(raw.bytes),
  };
}

// An optional integer of a voice: the accessor says whether it is known.
function optionalInt(get, object) {
  const out = [0];
  return get(object, out) ? int64(out[0]) : null;
}

// Copies a camb_voice_list into [{ id, name, gender, age, language, transcript,
// description, isPublished, signedUrl }], null for what the server did not say
// (the list is not freed).
function readVoiceList(c, list) {
  const voices = [];
  const count = Number(c.voiceListLen(list));
  for (let i = 0; i < count; i++) {
    const voice = c.voiceListGet(list, i); // owned by the list
    const published = c.voiceIsPublished(voice);
    voices.push({
      id: int64(c.voiceId(voice)),
      name: textOf(c.voiceName, voice) ?? '',
      gender: optionalInt(c.voiceGender, voice),
      age: optionalInt(c.voiceAge, voice),
      language: optionalInt(c.voiceLanguage, voice),
      transcript: textOf(c.voiceTranscript, voice),
      description: textOf(c.voiceDescription, voice),
      isPublished: published === Flag.UNSET ? null : published === Flag.YES,
      signedUrl: textOf(c.voiceSignedUrl, voice),
    });
  }
  return voices;
}

// Copies a camb_language_list into [{ id, name, shortName }] (the list is not freed).
function readLanguageList(c, list) {
  const languages = [];
  const count = Number(c.languageListLen(list));
  for (let i = 0; i < count; i++) {
    const language = c.languageListGet(list, i); // owned by the list
    languages.push({
      id: int64(c.languageId(language)),
      name: textOf(c.languageName, language) ?? '',
      shortName: textOf(c.languageShortName, language) ?? '',
    });
  }
  return languages;
}

// ---------------------------------------------------------------------------
// Jobs: how a finished one comes back to JavaScript
//
// Every Promise method makes a job (camb_client_job_*) and submits it to the
// client's queue (camb_queue). The queue's descriptor is watched on Node's own
// event loop with koffi.node.poll (libuv's uv_poll): when it turns readable,
// the main thread pops the finished jobs, copies each one's output into JS
// values, frees it and settles its Promise. No JavaScript runs on libcamb's
// threads for this, and no thread of Node's is held while a job runs.
//
// A job is libcamb's from camb_job_submit() until the queue hands it back, and
// is freed here only then; a cancel (AbortSignal, close()) only asks libcamb to
// end it, and it still comes back. The poll handle is referenced while jobs are
// in flight (they keep Node alive), and not otherwise.
//
// Progress: libcamb sends no event per poll, so onProgress samples
// camb_job_polls() and camb_job_task_status() on a timer.
//
// A speech stream's job (camb_client_job_speak) also sends CAMB_EVENT_JOB_DATA
// events while it runs: they go to its `data` function, and the job stays
// libcamb's. When its JOB_DONE comes, its `done` function may keep the job
// (audio may still wait in it, to be read as the consumer pulls): it is then
// freed later through release(), and counted as freed only then.
//
// koffi.node.poll exists since koffi 2.15 and is not yet documented ("might
// change"): package.json pins koffi 3.3.4.
// ---------------------------------------------------------------------------

class JobQueue {
  // `idle()` runs when the last job in flight has come back.
  constructor(c, idle) {
    if (typeof koffi.node?.poll !== 'function') {
      throw new Error(`koffi ${koffi.version} has no koffi.node.poll, which libcamb's Promises need ` +
        '(koffi 2.15 or later; this package is tested with 3.3.4)');
    }
    this._c = c;
    this._idle = idle;
    const out = [null];
    check(c, c.queueNew(out));
    this.handle = out[0];
    this._jobs = new Map(); // job address (a BigInt) -> { done, data }, for each job in flight
    this.started = 0; // jobs submitted, ...
    this.freed = 0; // ... and freed once back: equal when none is in flight
    this.wakes = 0; // times the descriptor woke the loop
    try {
      this._poll = koffi.node.poll(c.queueFd(this.handle), { readable: true }, () => this._drain());
    } catch (e) {
      c.queueFree(this.handle);
      throw e;
    }
    this._poll.unref();
  }

  get pending() {
    return this._jobs.size;
  }

  /** The jobs in flight, as { kind, state } (for tests). */
  inFlight() {
    return [...this._jobs.keys()].map((job) => ({ kind: this._c.jobGetKind(job), state: this._c.jobGetState(job) }));
  }

  // Submits a job made on this thread; `done(job)` runs on this thread once it
  // is back, and must not throw: it returns true to keep the job (to free it
  // with release() later), anything else to have it freed now. `data(job)`
  // (for a speech stream) runs on each of its JOB_DATA events. Recorded first:
  // a log line told during the submit may close the client, which cancels what
  // is recorded. A refused job is freed here, and the refusal thrown.
  submit(job, done, data = null) {
    const c = this._c;
    this._jobs.set(job, { done, data });
    if (this._jobs.size === 1) this._poll.ref();
    const result = c.jobSubmit(job, this.handle, null);
    if (result !== Result.OK) {
      const error = lastFailure(c, result);
      this._jobs.delete(job);
      if (this._jobs.size === 0) this._poll.unref();
      c.jobFree(job);
      throw error;
    }
    this.started += 1;
  }

  cancelAll() {
    for (const job of this._jobs.keys()) this._c.jobCancel(job);
  }

  /** Frees a job that its `done` kept. */
  release(job) {
    this._c.jobFree(job);
    this.freed += 1;
  }

  _drain() {
    const c = this._c;
    this.wakes += 1;
    const event = [0];
    const out = [null];
    while (this.handle !== null && c.queuePop(this.handle, event, out) === Result.OK) {
      const job = out[0];
      const entry = this._jobs.get(job);
      if (event[0] === Event.JOB_DATA) {
        // The job stays libcamb's: only its audio is read (or left, if nobody pulls).
        if (entry?.data) entry.data(job);
        continue;
      }
      if (event[0] !== Event.JOB_DONE) continue; // an event of a later libcamb: not ours to act on
      this._jobs.delete(job);
      let kept = false;
      try {
        if (entry !== undefined) kept = entry.done(job) === true;
      } finally {
        if (!kept) this.release(job);
      }
    }
    if (this.handle !== null && this._jobs.size === 0) {
      this._poll.unref();
      this._idle();
    }
  }

  close() {
    this._poll.close(); // stop watching before camb_queue_free closes the descriptor
    this._c.queueFree(this.handle);
    this.handle = null;
  }
}

// The Error of a failed job, in its own words (never another thread's).
function jobFailure(c, job, code) {
  const message = textOf(c.jobError, job);
  return cambError(c, code, c.jobHttpStatus(job), message || c.resultName(code));
}

// What a finished job produced, as JS values, by its kind.
function jobOutput(c, job) {
  const kind = c.jobGetKind(job);
  switch (kind) {
    case JobKind.GET_TASK_STATUS:
    case JobKind.WAIT_FOR_TASK:
      return taskInfo(c, c.jobTask(job));
    case JobKind.CREATE_TASK:
      return textOf(c.jobTaskId, job) ?? '';
    case JobKind.DOWNLOAD_AUDIO: {
      const len = [0];
      return bytes(c.jobAudio(job, len), len[0]);
    }
    case JobKind.SAVE_AUDIO:
      return Number(c.jobBytes(job));
    case JobKind.GET_AUDIO_URL:
      return textOf(c.jobAudioUrl, job) ?? '';
    case JobKind.GET_AUDIO_URLS:
      return readAudioUrlList(c, c.jobAudioUrlList(job));
    case JobKind.GET_TASK_STATUSES:
      return readTaskList(c, c.jobTaskList(job));
    case JobKind.GENERATE:
      return {
        taskId: textOf(c.jobTaskId, job) ?? '',
        task: taskInfo(c, c.jobTask(job)),
        bytes: Number(c.jobBytes(job)),
        polls: c.jobPolls(job),
      };
    case JobKind.SPEAK_TO_FILE: {
      const info = speechInfoOut();
      check(c, c.jobSpeechInfo(job, info));
      return speechInfo(info);
    }
    case JobKind.LIST_VOICES:
      return readVoiceList(c, c.jobVoiceList(job));
    case JobKind.LIST_LANGUAGES:
      return readLanguageList(c, c.jobLanguageList(job));
    default:
      throw new Error(`libcamb handed back a job of a kind this module does not know (${kind})`);
  }
}

// ---------------------------------------------------------------------------
// Speech streams (client.speak)
//
// A SpeechStream is one camb_client_job_speak() job, read as its consumer
// pulls. Made at once by client.speak() (so libcamb checks the arguments, in
// its own words), it is submitted to the client's queue at the first pull: no
// request is sent for a stream nobody reads. While it runs, each
// CAMB_EVENT_JOB_DATA event says audio is waiting in libcamb: if a pull waits,
// what is there is read (camb_job_read_audio until 0 bytes) and handed over as
// one Buffer; if none waits, nothing is read. The audio then stays in
// libcamb's bounded buffer (256 KiB), which, once full, stops the job reading
// the network, and the server's sending slows with it: this module holds no
// audio of its own between pulls, however slow the consumer.
//
// Its CAMB_EVENT_JOB_DONE hands the job back with audio possibly still in it:
// the stream keeps the job until that is read (it knows from
// camb_job_speech_info()'s byte count whether any is left), then frees it and
// ends, or throws the job's error. cancel(), or leaving a `for await` loop early
// (the iterator's return()), cancels the job; it is freed when its JOB_DONE
// comes (cancel()'s Promise resolves then). A stream dropped unread is
// cancelled and freed by a FinalizationRegistry once collected; one never
// started is freed by client.close() too.
//
// No JavaScript runs on libcamb's threads for any of this, and no thread of
// Node's is held: pulls are settled from the queue on the event loop.
// ---------------------------------------------------------------------------

/** The most audio handed over as one chunk: libcamb's own buffer holds at most 256 KiB. */
const MAX_CHUNK = 256 << 10;
/** What one camb_job_read_audio() call moves at most, into a stream's scratch buffer. */
const READ_SIZE = 64 << 10;

const RUN = Symbol('run'); // a SpeechStream's SpeechRun
const MAKE = Symbol('make'); // only Client#speak makes a SpeechStream

// A stream collected while its job is still libcamb's (or kept for its audio)
// cancels and frees it. The registry holds the run, never the stream.
const collected = typeof FinalizationRegistry === 'function'
  ? new FinalizationRegistry((run) => run.abandon())
  : null;

/**
 * The state of one stream, apart from the stream object itself (so that the
 * stream can be collected while its job runs). Phases: 'new' (made, not
 * submitted), 'running' (libcamb's), 'held' (back from the queue, kept for the
 * audio still in it), 'ended' (freed, or never made).
 */
class SpeechRun {
  constructor(client, make, options) {
    const c = client._c;
    this._client = client;
    this._c = c;
    this.job = null;
    this.phase = 'new';
    this.startError = null; // why the job could not be made
    this.error = null; // what the pull after the last audio throws, once
    this.waiters = []; // pulls waiting for audio, in order: { resolve, reject }
    this.owner = null; // the stream, kept reachable while pulls wait
    this.cancelled = false; // by the consumer: cancel(), return()
    this.abandoned = false; // the stream was collected
    this.broken = false; // reading failed: the stream ends with that error
    this.consumed = 0; // bytes handed over
    this.lastInfo = null; // camb_job_speech_info() as last read
    this.scratch = null;
    this.signal = undefined;
    this._abort = () => this._aborted();
    this.freed = new Promise((resolve) => {
      this._resolveFreed = resolve;
    });
    try {
      if (options === null || typeof options !== 'object') throw invalid(c, 'options must be an object');
      this.signal = signalArg(c, options.signal);
      if (this.signal?.aborted) throw abortedError(c, this.signal, 0);
      const out = [null];
      client._sync((h) => check(c, make(h, out)));
      this.job = out[0];
    } catch (e) {
      this.startError = e;
      this._discard(e);
      return;
    }
    client._unstarted.add(this);
    this.signal?.addEventListener('abort', this._abort, { once: true });
  }

  /** A pull: the next chunk, the end ({ done: true }), or the stream's error, once. */
  pull(owner) {
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.owner = owner;
      if (this.phase === 'new') this._start();
      this._serve();
    });
  }

  /** Cancels the job (or frees it if it is not libcamb's); pending pulls end. Resolves once it is freed. */
  cancel() {
    this.cancelled = true;
    this.error = null;
    if (this.phase === 'new') this._discard(null);
    else if (this.phase === 'running') this._c.jobCancel(this.job); // never blocks; JOB_DONE frees it
    else if (this.phase === 'held') this._finish();
    this._serve();
    return this.freed;
  }

  /** What is known of the audio so far; at the end, what it was. */
  info() {
    if (this.job !== null) this.lastInfo = this._info();
    if (this.lastInfo !== null) return { ...this.lastInfo };
    throw this.startError ?? cambError(this._c, Result.NOT_READY, 0, 'the stream has nothing to tell');
  }

  /** Its stream was collected: nobody will read the audio. */
  abandon() {
    this.abandoned = true;
    if (this.phase === 'new') this._discard(null);
    else if (this.phase === 'running') this._c.jobCancel(this.job);
    else if (this.phase === 'held') this._finish();
  }

  /** Frees a job never submitted (or notes that there was none), and ends. */
  _discard(error) {
    if (this.job !== null) {
      this._client._unstarted.delete(this);
      try {
        this.lastInfo = this._info(); // what info() tells from now on
      } catch {
        // Nothing to tell.
      }
      this._c.jobFree(this.job);
      this.job = null;
    }
    this.signal?.removeEventListener('abort', this._abort);
    if (error !== null) this.error = error;
    this._ended();
  }

  _ended() {
    this.phase = 'ended';
    collected?.unregister(this);
    this._resolveFreed();
  }

  // Submits the job to the client's queue: at the first pull.
  _start() {
    const client = this._client;
    const job = this.job;
    client._unstarted.delete(this);
    try {
      client._sync(() => {
        const queue = client._queueOf();
        this.phase = 'running';
        queue.submit(job, (back) => this._done(back), () => this._data());
      });
    } catch (e) {
      // Refused: a refused submit freed the job; otherwise it is still ours.
      if (this.phase === 'running') this.job = null;
      this._discard(e);
    }
  }

  // A JOB_DATA event: audio is waiting in libcamb, for the pulls that wait.
  _data() {
    this._serve();
  }

  // The job's JOB_DONE: it is ours again, with what it ended with and maybe audio still in it.
  _done(job) {
    this.signal?.removeEventListener('abort', this._abort);
    this.phase = 'held';
    const keepError = this.cancelled || this.broken;
    try {
      const outcome = this._outcome(job);
      if (!keepError) this.error = outcome;
      this.lastInfo = this._info();
    } catch (e) {
      if (!keepError) this.error = e;
    }
    // Nothing left to read (or nobody to read it): freed now.
    if (keepError || this.abandoned || this.lastInfo === null || this.lastInfo.bytes <= this.consumed) {
      this._finish();
    }
    this._serve();
    return true; // kept, and freed by _finish() (maybe already)
  }

  // What a finished job's stream ends with: null for the end, else the error to throw.
  _outcome(job) {
    const c = this._c;
    const result = c.jobResult(job);
    if (result === Result.OK) return null;
    if (result === Result.CANCELLED) {
      if (this.signal?.aborted) return abortedError(c, this.signal, 0);
      if (this.cancelled || this.abandoned) return null;
      if (this._client._handle === null) return cambError(c, result, 0, 'the client was closed: its job was cancelled');
    }
    return jobFailure(c, job, result);
  }

  // Frees the job the queue handed back (its audio read, or not wanted), and ends.
  _finish() {
    if (this.job !== null) {
      try {
        this.lastInfo = this._info();
      } catch {
        // Keep what was last read.
      }
      this._client._queue.release(this.job);
      this.job = null;
    }
    this._ended();
  }

  // The signal aborted: a job not yet submitted is freed; a running one cancelled (its JOB_DONE says so).
  _aborted() {
    if (this.phase === 'new') {
      this._discard(abortedError(this._c, this.signal, 0));
      this._serve();
    } else if (this.phase === 'running') {
      this._c.jobCancel(this.job);
    }
  }

  _info() {
    const raw = speechInfoOut();
    check(this._c, this._c.jobSpeechInfo(this.job, raw));
    return speechInfo(raw);
  }

  // Moves the audio waiting in libcamb into one Buffer; null when none waits.
  _read() {
    const c = this._c;
    if (this.scratch === null) this.scratch = Buffer.allocUnsafe(READ_SIZE);
    const pieces = [];
    let total = 0;
    const got = [0];
    while (total < MAX_CHUNK) {
      check(c, c.jobReadAudio(this.job, this.scratch, Math.min(READ_SIZE, MAX_CHUNK - total), got));
      const n = Number(got[0]);
      if (n === 0) break;
      pieces.push(Buffer.from(this.scratch.subarray(0, n))); // a copy: the scratch buffer is reused
      total += n;
    }
    this.consumed += total;
    if (total === 0) return null;
    return pieces.length === 1 ? pieces[0] : Buffer.concat(pieces, total);
  }

  // Settles the waiting pulls, in order, while it can: with audio that waits in
  // libcamb, or at the end. Leaves them waiting while the job runs and no audio
  // waits (the next JOB_DATA or JOB_DONE comes back here).
  _serve() {
    while (this.waiters.length > 0) {
      if (this.cancelled || this.broken || this.phase === 'ended') {
        const waiter = this.waiters.shift();
        const error = this.error;
        this.error = null; // thrown once; pulls after it are the end
        if (error !== null) waiter.reject(error);
        else waiter.resolve({ value: undefined, done: true });
        continue;
      }
      let chunk;
      try {
        chunk = this._read();
      } catch (e) {
        // Never expected (the job is a speech job): the stream ends with it.
        this.error = e;
        this.broken = true;
        if (this.phase === 'running') this._c.jobCancel(this.job);
        else this._finish();
        continue;
      }
      if (chunk !== null) {
        this.waiters.shift().resolve({ value: chunk, done: false });
      } else if (this.phase === 'held') {
        this._finish();
      } else {
        break;
      }
    }
    if (this.waiters.length === 0) this.owner = null;
  }
}

/**
 * The audio of client.speak(): an async iterable of Buffer chunks, as they
 * arrive (`for await (const chunk of stream)`), with backpressure: between
 * pulls nothing is read, and libcamb's bounded buffer holds the network.
 * info() tells about the audio; cancel() (or leaving the loop early) cancels
 * the job; toReadableStream() is the same audio as a web ReadableStream.
 */
class SpeechStream {
  constructor(token, client, make, options) {
    if (token !== MAKE) throw new TypeError('a SpeechStream is made by client.speak()');
    const run = new SpeechRun(client, make, options);
    this[RUN] = run;
    if (collected !== null && run.phase !== 'ended') collected.register(this, run, run);
  }

  /** The next chunk of audio (a Buffer), the end, or the stream's error (a CambError), once. */
  next() {
    return this[RUN].pull(this);
  }

  /** Leaving a `for await` loop early: cancels the job (freed once it is back), and ends. */
  return(value) {
    this[RUN].cancel();
    return Promise.resolve({ value, done: true });
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  /**
   * What is known of the audio: { format, sampleRate, channels, credits (null
   * until the reply said), bytes (received so far; all of them at the end) }.
   * Throws the stream's error if its job could not even be made.
   */
  info() {
    return this[RUN].info();
  }

  /**
   * Stops the stream: the job is cancelled (a request in flight at its next
   * chunk), pulls waiting and later ones end ({ done: true }). Resolves once
   * libcamb has handed the job back and it is freed.
   */
  cancel() {
    return this[RUN].cancel();
  }

  /**
   * The same audio as a web ReadableStream of Uint8Array chunks, pull-based (a
   * high-water mark of 0: audio is read only when its reader asks). Cancelling
   * it cancels this stream. Read the audio through one of the two, not both.
   */
  toReadableStream() {
    return new ReadableStream({
      pull: async (controller) => {
        const { value, done } = await this.next(); // a rejection errors the ReadableStream
        if (done) controller.close();
        else controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.length));
      },
      cancel: () => this.cancel(),
    }, { highWaterMark: 0 });
  }
}

if (typeof Symbol.asyncDispose === 'symbol') {
  SpeechStream.prototype[Symbol.asyncDispose] = SpeechStream.prototype.cancel;
}

// ---------------------------------------------------------------------------
// The log hook (options.log)
//
// libcamb calls the log function on the thread making each request: Node's
// main thread for a Sync call or a job's submit, the client's pool threads for
// a job's steps. koffi runs a JS callback called on the main thread at once;
// called on another thread, it queues the call to the event loop and blocks
// that thread until the JS has run. So:
//
// - Lines of Sync calls arrive before the call returns; lines of jobs arrive
//   through the event loop, each before its job's Promise settles (a job tells
//   its end before it is put on the queue).
// - A thread logging waits for the main thread. That is safe as long as the
//   main thread never blocks waiting for such a thread, else both wait forever.
//   Of the calls this module makes on the main thread, two could: a Sync batch
//   (getTaskStatusesSync) joins threads of its own, so with a log it runs on
//   one connection, on the calling thread alone; and camb_client_free() joins
//   the client's pool threads, so close() cancels the jobs in flight and frees
//   the client only once the queue has handed back the last of them: its
//   threads are then idle. Jobs, queues and cancels never wait for a pool
//   thread, and libcamb logs holding none of its locks. A long Sync call
//   stalls the pool threads that log meanwhile, until it returns.
// - An exception thrown by the log function is caught and dropped: it cannot
//   unwind through libcamb, and the request goes on.
// - Lifetime: each client registers its own two koffi callbacks, the log
//   function and its finalizer. libcamb calls the finalizer once it is done
//   with the log function (in camb_client_free(), or when the builder is freed
//   or fails to build), and the finalizer unregisters the log callback there;
//   This module unregisters the finalizer itself after the call that ran it.
//   Lines come until close()'s Promise resolves (the cancellations of its jobs
//   among them), none after.
// ---------------------------------------------------------------------------

// Registers a log callback and its finalizer for one builder; throws (and
// registers nothing) if libcamb refuses them.
function attachLog(c, builder, level, fn) {
  const hook = { finalized: false, finalizer: null };
  const line = koffi.register((lvl, ptr, len) => {
    try {
      fn(lvl, text(ptr, len) ?? '');
    } catch {
      // Dropped: see above.
    }
  }, koffi.pointer(LogFn));
  hook.finalizer = koffi.register(() => {
    koffi.unregister(line);
    hook.finalized = true;
  }, koffi.pointer(FinalizerFn));
  const result = c.setLog(builder, level, line, null, hook.finalizer);
  if (result !== Result.OK) {
    const error = lastFailure(c, result);
    // Refused: libcamb will call neither.
    koffi.unregister(line);
    koffi.unregister(hook.finalizer);
    throw error;
  }
  return hook;
}

// After the libcamb call that ran (or could have run) the finalizer: it is not called again.
function detachLog(hook) {
  if (hook !== null && hook.finalizer !== null) {
    koffi.unregister(hook.finalizer);
    hook.finalizer = null;
  }
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
// Blocking calls' progress
// ---------------------------------------------------------------------------

// The progress callback of a Sync wait or generation: it counts polls and keeps
// the status last seen (a failed poll leaves it), as a job does.
function syncProgress(c, onProgress) {
  const watch = { polls: 0, status: Status.UNKNOWN, stopped: false, thrown: null };
  watch.callback = (ptr) => {
    const p = koffi.decode(ptr, WaitProgress);
    watch.polls = p.polls;
    if (p.poll_result === Result.OK) watch.status = p.status;
    if (onProgress === undefined) return true;
    try {
      if (onProgress(progress(c, watch.polls, watch.status)) === false) {
        watch.stopped = true;
        return false;
      }
      return true;
    } catch (e) {
      watch.thrown = { error: e };
      return false;
    }
  };
  return watch;
}

// ---------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------

/**
 * A client for the CAMB API (text-to-sound, and streaming text-to-speech),
 * owning a libcamb client. Free it with close(): new calls are refused at
 * once (CambError NULL_PARAMETER), jobs in flight are cancelled, and the
 * libcamb client is freed once the last job is back and the last Sync call
 * has returned.
 */
class Client {
  /**
   * @param {object} [options]
   * @param {string} [options.apiKey]    default: $CAMB_API_KEY (read by libcamb)
   * @param {string} [options.baseUrl]   default: $CAMB_BASE_URL (read by libcamb), else https://client.camb.ai/apis
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
   * @param {string} [options.library]   path of libcamb.so (default: $CAMB_LIB, else the copy this package ships)
   */
  constructor(options = {}) {
    const c = bind(libraryPath(options));
    this._c = c;
    this._handle = null; // null once closed: new calls are refused
    this._calls = 0; // Sync calls (and job submits) in progress: a callback may close meanwhile
    this._freeLater = null; // the handle close() left to free once nothing uses it
    this._queue = null; // where this client's jobs come back, made with the first one
    this._unstarted = new Set(); // speech streams whose job is made, not yet submitted (SpeechRun)
    this._log = null; // the log hook, while libcamb may call it
    this.closed = new Promise((resolve) => {
      this._resolveClosed = resolve;
    });
    if (options.log !== undefined && typeof options.log !== 'function') {
      throw invalid(c, 'log must be a function (level, line)');
    }
    const level = options.log === undefined ? null : logLevelArg(c, options.logLevel);
    const builder = c.builderNew();
    if (builder === null) throw new Error('libcamb: out of memory');
    try {
      // First, so that every later refusal ends in the finalizer.
      if (level !== null) this._log = attachLog(c, builder, level, options.log);
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
    } catch (e) {
      c.builderFree(builder); // runs the log's finalizer
      detachLog(this._log);
      throw e;
    }
    const out = [null];
    const built = c.build(builder, out); // consumes the builder either way
    if (built !== Result.OK) {
      const error = lastFailure(c, built);
      detachLog(this._log); // the failed build ran the finalizer
      throw error;
    }
    this._handle = out[0];
  }

  /**
   * Closes the client, once; later calls do nothing more. New calls are refused
   * at once, and jobs in flight are cancelled: their Promises reject with
   * CambError CANCELLED (unless they finished first). A cancel stops a job at
   * its next check: a request already sent runs to its end (within timeoutMs),
   * as camb_client_free(), which would interrupt it, waits until no job is in
   * flight (see "The log hook"). Returns `closed`, a Promise that resolves once
   * libcamb has freed the client: its threads ended, its key wiped, its log
   * function released.
   */
  close() {
    if (this._handle !== null) {
      this._freeLater = this._handle;
      this._handle = null;
      // Streams never started: their jobs can no longer be submitted.
      for (const run of [...this._unstarted]) run._discard(closedError(this._c));
      if (this._queue !== null) this._queue.cancelAll();
      this._releaseIfUnused();
    }
    return this.closed;
  }

  _releaseIfUnused() {
    if (this._freeLater === null || this._calls > 0) return;
    if (this._queue !== null && this._queue.pending > 0) return;
    const handle = this._freeLater;
    this._freeLater = null;
    // No job in flight: the pool threads that camb_client_free() joins wait
    // for nothing of this thread's (see "The log hook").
    this._c.clientFree(handle);
    detachLog(this._log);
    if (this._queue !== null) this._queue.close();
    this._resolveClosed();
  }

  // Runs a call with the handle, keeping the client alive until it returns.
  _sync(call) {
    if (this._handle === null) throw closedError(this._c);
    this._calls += 1;
    try {
      return call(this._handle);
    } finally {
      this._calls -= 1;
      this._releaseIfUnused();
    }
  }

  /**
   * A blocking call with its cancel token: `call(handle, token)` returns a
   * camb_result, its failure read at once. `signal` aborting (from a callback
   * of the call) cancels the token. Throws the failure, or the abort.
   */
  _blocking(signal, call) {
    const c = this._c;
    signalArg(c, signal);
    if (signal?.aborted) throw abortedError(c, signal, 0);
    let token = null;
    const abort = () => c.cancelTokenCancel(token);
    if (signal !== undefined) {
      token = c.cancelTokenNew();
      signal.addEventListener('abort', abort, { once: true });
    }
    let failure = null;
    try {
      this._sync((h) => {
        const result = call(h, token);
        if (result !== Result.OK) failure = lastFailure(c, result);
      });
    } finally {
      if (token !== null) {
        signal.removeEventListener('abort', abort);
        c.cancelTokenFree(token); // the call has returned: nothing uses it now
      }
    }
    if (failure !== null) {
      if (failure.code === Result.CANCELLED && signal?.aborted) throw abortedError(c, signal, 0);
      throw failure;
    }
  }

  // A Sync wait or generation: as _blocking, with progress.
  _blockingWithProgress(options, call, freeOutput) {
    const c = this._c;
    const watch = syncProgress(c, onProgressArg(c, options.onProgress));
    try {
      this._blocking(options.signal, (h, token) => call(h, token, watch.callback));
    } catch (e) {
      if (watch.thrown !== null) throw watch.thrown.error;
      if (e.code === Result.CANCELLED && options.signal?.aborted) throw abortedError(c, options.signal, watch.polls);
      if (e.code === Result.CANCELLED && watch.stopped) throw stoppedError(c, watch.polls);
      throw e;
    }
    if (watch.thrown !== null) {
      freeOutput(); // thrown on the poll that ended the wait
      throw watch.thrown.error;
    }
    return watch;
  }

  // The queue this client's jobs come back through, made with the first job.
  _queueOf() {
    if (this._handle === null) throw closedError(this._c);
    if (this._queue === null) this._queue = new JobQueue(this._c, () => this._releaseIfUnused());
    return this._queue;
  }

  /**
   * Makes a job with `make(handle, out)` on this thread (so a refusal rejects
   * with libcamb's own words), submits it, and returns a Promise of its output.
   * Never throws: bad arguments reject. Options: `signal` (an AbortSignal:
   * cancels the job); with `progress`, onProgress and progressIntervalMs.
   */
  _job(make, options, withProgress = false) {
    return new Promise((resolve, reject) => {
      const c = this._c;
      const signal = signalArg(c, options.signal);
      const onProgress = withProgress ? onProgressArg(c, options.onProgress) : undefined;
      const interval = options.progressIntervalMs ?? 100;
      if (withProgress && !(Number.isFinite(interval) && interval > 0)) {
        throw invalid(c, `progressIntervalMs must be a positive number, not ${String(interval)}`);
      }
      if (signal?.aborted) throw abortedError(c, signal, 0);
      const queue = this._queueOf();

      let job = null;
      let timer = null;
      let last = null; // the last progress reported
      let stopped = false; // onProgress returned false
      let thrown = null; // what onProgress threw
      const report = (final) => {
        if (stopped || thrown !== null) return;
        const polls = c.jobPolls(job);
        const status = c.jobTaskStatus(job);
        if (polls === 0 || (last !== null && last.polls === polls && last.status === status)) return;
        last = progress(c, polls, status);
        try {
          if (onProgress(last) === false && !final) {
            stopped = true;
            c.jobCancel(job);
          }
        } catch (e) {
          thrown = { error: e };
          if (!final) c.jobCancel(job);
        }
      };
      const abort = () => c.jobCancel(job); // never blocks; the job then comes back CANCELLED
      const done = (finished) => {
        if (timer !== null) clearInterval(timer);
        signal?.removeEventListener('abort', abort);
        try {
          if (onProgress) report(true);
          if (thrown !== null) throw thrown.error;
          const result = c.jobResult(finished);
          if (result === Result.CANCELLED) {
            if (signal?.aborted) throw abortedError(c, signal, c.jobPolls(finished));
            if (stopped) throw stoppedError(c, last.polls);
            if (this._handle === null) throw cambError(c, result, 0, 'the client was closed: its job was cancelled');
          }
          if (result !== Result.OK) throw jobFailure(c, finished, result);
          resolve(jobOutput(c, finished));
        } catch (e) {
          reject(e);
        }
      };

      this._sync((h) => {
        const out = [null];
        check(c, make(h, out));
        job = out[0];
        queue.submit(job, done);
      });
      signal?.addEventListener('abort', abort, { once: true });
      if (signal?.aborted) abort(); // by a log line told during the submit
      if (onProgress) {
        timer = setInterval(() => report(false), interval);
        timer.unref(); // the queue keeps Node alive while the job runs
      }
    });
  }

  /** For tests: jobs submitted, freed once back, and in flight (null before the first job). */
  get _jobCounts() {
    const q = this._queue;
    return q === null ? null : { started: q.started, freed: q.freed, pending: q.pending };
  }

  /** For tests: the jobs in flight, as { kind, state } (JobKind, JobState). */
  _inFlight() {
    return this._queue === null ? [] : this._queue.inFlight();
  }

  /** For tests: how many times the queue's descriptor woke the event loop. */
  get _queueWakes() {
    return this._queue === null ? 0 : this._queue.wakes;
  }

  /** For tests: whether libcamb has called the log function's finalizer (null without a log). */
  get _logFinalized() {
    return this._log === null ? null : this._log.finalized;
  }

  /** The running library's version, such as "0.3.0". */
  get libraryVersion() {
    return this._c.version();
  }

  // -------------------------------------------------------------------------
  // Promises (jobs)
  // -------------------------------------------------------------------------

  /**
   * The task's current status: resolves to { taskId, status, statusName,
   * statusText, runId, exceptionReason, message, isFinal }; rejects with a
   * CambError (code 404 for an unknown id). Options: { signal }.
   */
  getTaskStatus(taskId, options = {}) {
    return this._job((h, out) => this._c.jobGetTaskStatus(h, cString(this._c, taskId, 'taskId'), out), options);
  }

  /**
   * Creates a task; resolves to its id. Options: { durationS, audioType
   * (AudioType.*), projectName, projectDescription, folderId, retry (off: a
   * retry could bill twice), signal }.
   */
  createTask(prompt, options = {}) {
    const c = this._c;
    return this._job((h, out) => c.jobCreateTask(h, cString(c, prompt, 'prompt'), createOptions(c, options), out), options);
  }

  /**
   * Polls until the task's status is final, on libcamb's timer (no thread is
   * held between polls), and resolves to it (as getTaskStatus); a final ERROR
   * or TIMEOUT resolves, check `status`. Rejects with CambError TIMEOUT when the
   * deadline passes while pending. Options: { initialIntervalMs, backoffFactor,
   * maxIntervalMs, deadlineMs, signal, onProgress, progressIntervalMs }.
   */
  waitForTask(taskId, options = {}) {
    const c = this._c;
    return this._job((h, out) => c.jobWaitForTask(h, cString(c, taskId, 'taskId'), waitOptions(c, options), out), options, true);
  }

  /** The audio of a successful run (the WAV file's bytes): resolves to a Buffer. Options: { signal }. */
  downloadAudio(runId, options = {}) {
    const c = this._c;
    return this._job((h, out) => c.jobDownloadAudio(h, runIdArg(c, runId), out), options);
  }

  /**
   * Saves a successful run's audio to `path`, following symlinks: a regular file
   * (or none) is replaced through a temporary file, so on failure no file is left;
   * a device or a FIFO is written in place; a directory or a socket is refused
   * before downloading. Resolves to the size in bytes. Options: { signal }.
   */
  saveAudio(runId, path, options = {}) {
    const c = this._c;
    return this._job((h, out) => c.jobSaveAudio(h, runIdArg(c, runId), cString(c, path, 'path'), out), options);
  }

  /** The pre-signed URL of a successful run's audio. Options: { signal }. */
  getAudioUrl(runId, options = {}) {
    const c = this._c;
    return this._job((h, out) => c.jobGetAudioUrl(h, runIdArg(c, runId), out), options);
  }

  /**
   * The URLs of many runs' audio in one request (0 to 1000 run ids): one entry
   * per run id, in order, { runId, url }, `url` null when the server had none
   * for that run (unknown, or not successful). Options: { signal }.
   */
  getAudioUrls(runIds, options = {}) {
    const c = this._c;
    return this._job((h, out) => {
      const runs = runIdsArg(c, runIds);
      return c.jobGetAudioUrls(h, runs, runs.length, out);
    }, options);
  }

  /**
   * The statuses of many tasks at once, up to `maxConnections` requests at a
   * time (0 or absent: 8; at most 32), bounded as a whole by the client's
   * timeout. Resolves to one entry per id, in order: { taskId, info, error },
   * `info` as getTaskStatus, `error` a CambError, exactly one of them not null.
   * An invalid id fails only its own entry. Options: { maxConnections, signal }.
   */
  getTaskStatuses(taskIds, options = {}) {
    const c = this._c;
    return this._job((h, out) => {
      const ids = taskIdsArg(c, taskIds);
      return c.jobGetTaskStatuses(h, ids, ids.length, options.maxConnections ?? 0, out);
    }, options);
  }

  /**
   * A whole generation: creates a task from `prompt`, waits for it and saves
   * its audio as a WAV file at `path`. Everything that can be checked is
   * checked before the task is created (and billed). Resolves to { taskId, task
   * (as getTaskStatus), bytes, polls }. A task that ends without audio rejects
   * with CambError TASK_FAILED (9), whose message names the task, its status
   * and reason; no file is left at `path` then. Options: those of createTask,
   * those of waitForTask.
   */
  generate(prompt, path, options = {}) {
    const c = this._c;
    return this._job((h, out) => c.jobGenerate(h, cString(c, prompt, 'prompt'), createOptions(c, options),
      waitOptions(c, options), cString(c, path, 'path'), out), options, true);
  }

  // -------------------------------------------------------------------------
  // Blocking calls (Sync): the same operations on the calling thread
  // -------------------------------------------------------------------------

  /** getTaskStatus, blocking: returns the task, throws a CambError. Options: { signal }. */
  getTaskStatusSync(taskId, options = {}) {
    const c = this._c;
    const id = cString(c, taskId, 'taskId');
    const out = [null];
    this._blocking(options.signal, (h, token) => c.getTaskStatus(h, id, token, out));
    return takeTask(c, out[0]);
  }

  /** createTask, blocking: returns the new task's id. */
  createTaskSync(prompt, options = {}) {
    const c = this._c;
    const o = createOptions(c, options);
    const p = cString(c, prompt, 'prompt');
    const id = [null];
    const len = [0];
    this._blocking(options.signal, (h, token) => c.createTask(h, p, o, token, id, len));
    return takeString(c, id[0], len[0]);
  }

  /**
   * waitForTask, blocking: the thread sleeps between polls, and onProgress runs
   * after every poll.
   */
  waitForTaskSync(taskId, options = {}) {
    const c = this._c;
    const o = waitOptions(c, options);
    const id = cString(c, taskId, 'taskId');
    const out = [null];
    this._blockingWithProgress(options,
      (h, token, callback) => c.waitForTask(h, id, o, token, callback, null, out),
      () => c.taskFree(out[0]));
    return takeTask(c, out[0]);
  }

  /** downloadAudio, blocking: the audio, streamed to this thread in chunks, as a Buffer. */
  downloadAudioSync(runId, options = {}) {
    const c = this._c;
    const run = runIdArg(c, runId);
    const chunks = [];
    let thrown = null;
    const write = (data, len) => {
      try {
        chunks.push(bytes(data, len)); // the chunk is valid during this call only
        return true;
      } catch (e) {
        thrown = { error: e };
        return false;
      }
    };
    const total = [null];
    try {
      this._blocking(options.signal, (h, token) => c.downloadAudio(h, run, token, write, null, total));
    } catch (e) {
      if (thrown !== null) throw thrown.error;
      throw e;
    }
    return Buffer.concat(chunks);
  }

  /** saveAudio, blocking: returns the size in bytes. */
  saveAudioSync(runId, path, options = {}) {
    const c = this._c;
    const run = runIdArg(c, runId);
    const file = cString(c, path, 'path');
    const total = [null];
    this._blocking(options.signal, (h, token) => c.saveAudio(h, run, file, token, total));
    return Number(total[0]);
  }

  /** getAudioUrl, blocking. */
  getAudioUrlSync(runId, options = {}) {
    const c = this._c;
    const run = runIdArg(c, runId);
    const url = [null];
    const len = [0];
    this._blocking(options.signal, (h, token) => c.getAudioUrl(h, run, token, url, len));
    return takeString(c, url[0], len[0]);
  }

  /** getAudioUrls, blocking. */
  getAudioUrlsSync(runIds, options = {}) {
    const c = this._c;
    const runs = runIdsArg(c, runIds);
    const out = [null];
    this._blocking(options.signal, (h, token) => c.getAudioUrls(h, runs, runs.length, token, out));
    try {
      return readAudioUrlList(c, out[0]);
    } finally {
      c.audioUrlListFree(out[0]);
    }
  }

  /**
   * getTaskStatuses, blocking. A client with a log runs it on one connection:
   * the batch's own threads would log, waiting for this thread, which waits
   * for them (see "The log hook").
   */
  getTaskStatusesSync(taskIds, options = {}) {
    const c = this._c;
    const ids = taskIdsArg(c, taskIds);
    const requested = options.maxConnections ?? 0;
    const connections = this._log !== null && requested >= 0 && requested <= 32 ? 1 : requested;
    const out = [null];
    this._blocking(options.signal, (h, token) => c.getTaskStatuses(h, ids, ids.length, connections, token, out));
    try {
      return readTaskList(c, out[0]);
    } finally {
      c.taskListFree(out[0]);
    }
  }

  /** generate, blocking: returns { taskId, task, bytes, polls }; onProgress runs after every poll. */
  generateSync(prompt, path, options = {}) {
    const c = this._c;
    const co = createOptions(c, options);
    const wo = waitOptions(c, options);
    const p = cString(c, prompt, 'prompt');
    const file = cString(c, path, 'path');
    const task = [null];
    const total = [null];
    const watch = this._blockingWithProgress(options,
      (h, token, callback) => c.generate(h, p, co, wo, file, token, callback, null, task, total),
      () => c.taskFree(task[0]));
    const info = takeTask(c, task[0]);
    return { taskId: info.taskId, task: info, bytes: Number(total[0]), polls: watch.polls };
  }

  // -------------------------------------------------------------------------
  // Speech, voices and languages
  // -------------------------------------------------------------------------

  /**
   * Speaks `text` in `language` (a lower-case locale such as 'en-us') with the
   * voice `voiceId` (from listVoices()), streaming the audio (POST /tts-stream):
   * returns a SpeechStream, an async iterable of Buffer chunks as they arrive.
   * Its job starts at the first pull; nothing is read between pulls (libcamb's
   * bounded buffer then holds the network). A streamed WAV's header carries
   * placeholder sizes (speakToFile writes the real ones); raw pcm_* formats
   * have none: take the rate from stream.info(). Never throws: bad arguments,
   * and every failure (a 422, a stream cut short: CONNECT), are thrown by the
   * iteration, after the audio that came before. Options: those of the
   * speech (SpeechOptions: format, sampleRate, duration, speechModel, ...), signal.
   */
  speak(text, language, voiceId, options = {}) {
    const c = this._c;
    return new SpeechStream(MAKE, this, (h, out) => c.jobSpeak(h, cString(c, text, 'text'),
      cString(c, language, 'language'), voiceIdArg(c, voiceId), speechOptions(c, options), out), options);
  }

  /**
   * Speaks as speak() and saves the audio to `path`, by saveAudio's rules: a
   * regular file there (or none) is replaced atomically, so a stream that fails
   * or is cut short leaves what was there; a saved WAV gets its real sizes.
   * The path is checked before anything is sent. Resolves to { format,
   * sampleRate, channels, credits, bytes }. Options: as speak().
   */
  speakToFile(text, language, voiceId, path, options = {}) {
    const c = this._c;
    return this._job((h, out) => c.jobSpeakToFile(h, cString(c, text, 'text'), cString(c, language, 'language'),
      voiceIdArg(c, voiceId), speechOptions(c, options), cString(c, path, 'path'), out), options);
  }

  /**
   * The voices a speech can use (GET /list-voices), in the server's order:
   * [{ id, name, gender, age, language, transcript, description, isPublished,
   * signedUrl }], null for what the server did not say. Options: { signal }.
   */
  listVoices(options = {}) {
    return this._job((h, out) => this._c.jobListVoices(h, out), options);
  }

  /** The source languages (GET /source-languages): [{ id, name, shortName }]. Options: { signal }. */
  sourceLanguages(options = {}) {
    return this._job((h, out) => this._c.jobListLanguages(h, Languages.SOURCE, out), options);
  }

  /**
   * The target languages (GET /target-languages): [{ id, name, shortName }];
   * `shortName` is a locale for speak(). Options: { signal }.
   */
  targetLanguages(options = {}) {
    return this._job((h, out) => this._c.jobListLanguages(h, Languages.TARGET, out), options);
  }

  /** speakToFile, blocking: returns { format, sampleRate, channels, credits, bytes }. */
  speakToFileSync(text, language, voiceId, path, options = {}) {
    const c = this._c;
    const t = cString(c, text, 'text');
    const l = cString(c, language, 'language');
    const v = voiceIdArg(c, voiceId);
    const o = speechOptions(c, options);
    const file = cString(c, path, 'path');
    const info = speechInfoOut();
    this._blocking(options.signal, (h, token) => c.speakToFile(h, t, l, v, o, file, token, info));
    return speechInfo(info);
  }

  /** listVoices, blocking. */
  listVoicesSync(options = {}) {
    const c = this._c;
    const out = [null];
    this._blocking(options.signal, (h, token) => c.listVoices(h, token, out));
    try {
      return readVoiceList(c, out[0]);
    } finally {
      c.voiceListFree(out[0]);
    }
  }

  /** sourceLanguages, blocking. */
  sourceLanguagesSync(options = {}) {
    return this._languagesSync(Languages.SOURCE, options);
  }

  /** targetLanguages, blocking. */
  targetLanguagesSync(options = {}) {
    return this._languagesSync(Languages.TARGET, options);
  }

  _languagesSync(which, options) {
    const c = this._c;
    const out = [null];
    this._blocking(options.signal, (h, token) => c.listLanguages(h, which, token, out));
    try {
      return readLanguageList(c, out[0]);
    } finally {
      c.languageListFree(out[0]);
    }
  }
}

if (typeof Symbol.dispose === 'symbol') {
  Client.prototype[Symbol.dispose] = Client.prototype.close;
}
if (typeof Symbol.asyncDispose === 'symbol') {
  Client.prototype[Symbol.asyncDispose] = Client.prototype.close;
}

/** The version of the libcamb at `library` (default: $CAMB_LIB, else the copy this package ships). */
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
    speechOptions: layout(c.speechOptionsInit, SpeechOptions),
    // No _init to ask: camb_speech_info is written up to the struct_size given.
    speechInfo: { declared: koffi.sizeof(SpeechInfo) },
  };
}

module.exports = {
  Client, SpeechStream, CambError, LibraryLoadError, Result, Status, AudioType, JobKind, JobState, Event, LogLevel,
  version, optionsLayout, bundledLibrary: BUNDLED_LIBRARY,
};
