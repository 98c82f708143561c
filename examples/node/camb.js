'use strict';
/**
 * camb.js: libcamb (CAMB.AI's text-to-sound API) from Node.js, through koffi.
 *
 *   const { Client, Status } = require('./camb');
 *   const client = new Client({ apiKey: 'your-key' });   // or CAMB_API_KEY
 *   try {
 *     const id = client.createTask('rain on a tin roof', { durationS: 5 });
 *     const info = client.waitForTask(id, { onProgress: (p) => console.log(p.statusText) });
 *     if (info.status === Status.SUCCESS) client.saveResult(info.runId, 'rain.wav');
 *   } finally {
 *     client.close();
 *   }
 *
 * Every failure throws a CambError: `code` is the camb_result number (404 for
 * CAMB_RESULT_NOT_FOUND), `name` its name, `httpStatus` the reply's HTTP status
 * (0 when there was none), `message` libcamb's words.
 *
 * The library is found at `options.library`, else $CAMB_LIB, else "libcamb.so"
 * on the loader's path.
 *
 * Calls are synchronous: they block the event loop while libcamb works (a wait
 * sleeps between polls). They are not offered as koffi `.async` calls on
 * purpose: libcamb keeps the last error and the strings of a reply per OS thread,
 * so they must be read on the thread that made the call, and koffi's async calls
 * run on pool threads. For a wait that must not block, run it in a
 * worker_threads Worker with a Client of its own.
 */

const koffi = require('koffi');

// ---------------------------------------------------------------------------
// Types of camb.h, declared once per process (koffi's type names are global).
// String fields that come with a length are 'void *' and read by that length:
// 'const char *' would stop at a NUL byte, which the server's text may contain.
// ---------------------------------------------------------------------------

koffi.opaque('camb_client');
koffi.opaque('camb_client_builder');
koffi.opaque('camb_cancel_token');

const TaskInfo = koffi.struct('camb_task_info', {
  status: 'uint32_t',
  has_run_id: 'bool',
  run_id: 'int64_t',
  status_text: 'void *',
  status_text_len: 'size_t',
  exception_reason: 'void *',
  exception_reason_len: 'size_t',
  message: 'void *',
  message_len: 'size_t',
});

koffi.struct('camb_create_options', {
  duration_s: 'double',
  audio_type: 'uint32_t',
  project_name: 'const char *',
  project_description: 'const char *',
  has_folder_id: 'bool',
  folder_id: 'int64_t',
  retry: 'bool',
});

koffi.struct('camb_wait_options', {
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

/** camb_result values (camb.h's CAMB_RESULT_*), without the prefix. */
const Result = Object.freeze({
  OK: 0,
  NULL_PARAMETER: 1,
  INVALID_PARAMETER: 2,
  MISSING_API_KEY: 3,
  BUFFER_TOO_SMALL: 4,
  CANCELLED: 5,
  PANIC: 6,
  IO: 7,
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

/** The longest task id plus its NUL (CAMB_TASK_ID_BUFFER_SIZE). */
const TASK_ID_BUFFER_SIZE = 1025;

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
    setProxy: f('uint32_t camb_client_builder_set_proxy(camb_client_builder *b, const char *url)'),
    setAllowInsecureHttp: f('uint32_t camb_client_builder_set_allow_insecure_http(camb_client_builder *b, bool allow)'),
    build: f('uint32_t camb_client_builder_build(camb_client_builder *b, _Out_ camb_client **out)'),
    builderFree: f('void camb_client_builder_free(camb_client_builder *b)'),
    clientFree: f('void camb_client_free(camb_client *c)'),
    getTaskStatus: f('uint32_t camb_client_get_task_status(const camb_client *c, const char *id, _Out_ camb_task_info *out)'),
    createOptionsDefault: f('camb_create_options camb_create_options_default(void)'),
    createTask: f('uint32_t camb_client_create_task(const camb_client *c, const char *prompt, const camb_create_options *o, _Out_ uint8_t *id, size_t size)'),
    waitOptionsDefault: f('camb_wait_options camb_wait_options_default(void)'),
    waitForTask: f('uint32_t camb_client_wait_for_task(const camb_client *c, const char *id, const camb_wait_options *o, const camb_cancel_token *t, camb_progress_fn *progress, void *user_data, _Out_ camb_task_info *out)'),
    downloadResult: f('uint32_t camb_client_download_result(const camb_client *c, int64_t run_id, const camb_cancel_token *t, camb_write_fn *write, void *user_data, _Out_ uint64_t *bytes)'),
    saveResult: f('uint32_t camb_client_save_result(const camb_client *c, int64_t run_id, const char *path, const camb_cancel_token *t, _Out_ uint64_t *bytes)'),
    getResultUrl: f('uint32_t camb_client_get_result_url(const camb_client *c, int64_t run_id, _Out_ uint8_t *buf, size_t size, _Out_ size_t *len)'),
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
 * the reply behind it, or 0; `message`: libcamb's words (never the API key).
 */
class CambError extends Error {
  constructor(code, name, httpStatus, message) {
    super(message);
    this.code = code;
    this.name = name;
    this.httpStatus = httpStatus;
  }
}

// Reads the thread's last error at once: the next libcamb call would replace it.
function check(c, result) {
  if (result === Result.OK) return;
  const message = c.lastError();
  const httpStatus = c.lastHttpStatus();
  throw new CambError(result, c.resultName(result), httpStatus, message || c.resultName(result));
}

function invalid(c, message) {
  return new CambError(Result.INVALID_PARAMETER, c.resultName(Result.INVALID_PARAMETER), 0, message);
}

// A JS string as a C string: one with a NUL inside would reach C cut short.
function cString(c, value, what) {
  if (typeof value !== 'string') throw invalid(c, `${what} must be a string`);
  if (value.includes('\0')) throw invalid(c, `${what} contains a NUL byte`);
  return value;
}

// `len` bytes at `ptr` as UTF-8 text (NUL bytes kept); null for a NULL pointer.
function text(ptr, len) {
  if (ptr === null || ptr === undefined || ptr === 0n) return null;
  if (len === 0) return '';
  // A view of libcamb's memory (no copy), decoded to a JS string at once.
  return Buffer.from(koffi.view(ptr, Number(len))).toString('utf8');
}

// int64 run ids: a Number when it is exact, else a BigInt.
function int64(value) {
  if (typeof value === 'bigint' && value >= BigInt(Number.MIN_SAFE_INTEGER) &&
      value <= BigInt(Number.MAX_SAFE_INTEGER)) {
    return Number(value);
  }
  return value;
}

function taskInfo(c, info) {
  return {
    status: info.status,
    statusName: c.statusName(info.status),
    statusText: text(info.status_text, info.status_text_len) ?? '',
    runId: info.has_run_id ? int64(info.run_id) : null,
    exceptionReason: text(info.exception_reason, info.exception_reason_len),
    message: text(info.message, info.message_len),
    isFinal: c.statusIsFinal(info.status),
  };
}

// ---------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------

/**
 * A client for the CAMB text-to-sound API, owning a libcamb client. Free it with
 * close() (idempotent); a closed client throws CambError NULL_PARAMETER.
 */
class Client {
  /**
   * @param {object} [options]
   * @param {string} [options.apiKey]    default: $CAMB_API_KEY
   * @param {string} [options.baseUrl]   default: https://client.camb.ai/apis
   * @param {number} [options.timeoutMs] whole-call timeout (default 60000)
   * @param {number} [options.maxRetries] extra attempts of reads (default 2)
   * @param {string} [options.caBundleFile] PEM file of CAs to trust instead of the built-in roots
   * @param {string} [options.proxy]     e.g. "http://host:port" (environment variables are ignored)
   * @param {boolean} [options.allowInsecureHttp] plain http to a non-loopback host, or through a proxy
   * @param {string} [options.library]   path of libcamb.so (default $CAMB_LIB)
   */
  constructor(options = {}) {
    const c = bind(libraryPath(options));
    this._c = c;
    this._handle = null;
    const builder = c.builderNew();
    if (builder === null) throw new Error('libcamb: out of memory');
    try {
      if (options.apiKey !== undefined) check(c, c.setApiKey(builder, cString(c, options.apiKey, 'apiKey')));
      if (options.baseUrl !== undefined) check(c, c.setBaseUrl(builder, cString(c, options.baseUrl, 'baseUrl')));
      if (options.timeoutMs !== undefined) check(c, c.setTimeoutMs(builder, options.timeoutMs));
      if (options.maxRetries !== undefined) check(c, c.setMaxRetries(builder, options.maxRetries));
      if (options.caBundleFile !== undefined) {
        check(c, c.setCaBundleFile(builder, cString(c, options.caBundleFile, 'caBundleFile')));
      }
      if (options.proxy !== undefined) check(c, c.setProxy(builder, cString(c, options.proxy, 'proxy')));
      if (options.allowInsecureHttp) check(c, c.setAllowInsecureHttp(builder, true));
    } catch (e) {
      c.builderFree(builder);
      throw e;
    }
    const out = [null];
    check(c, c.build(builder, out)); // consumes the builder either way
    this._handle = out[0];
  }

  /** Frees the client and wipes its key. Calling it again does nothing. */
  close() {
    if (this._handle !== null) {
      this._c.clientFree(this._handle);
      this._handle = null;
    }
  }

  /** The running library's version, such as "0.1.0". */
  get libraryVersion() {
    return this._c.version();
  }

  /**
   * The task's current status: { status, statusName, statusText, runId,
   * exceptionReason, message, isFinal }. Throws CambError (code 404) for an
   * unknown id.
   */
  getTaskStatus(taskId) {
    const c = this._c;
    const info = {};
    check(c, c.getTaskStatus(this._handle, cString(c, taskId, 'taskId'), info));
    return taskInfo(c, info);
  }

  /**
   * Creates a task and returns its id.
   * @param {string} prompt
   * @param {object} [options] { durationS, audioType (AudioType.*), projectName,
   *   projectDescription, folderId, retry (off: a retry could bill twice) }
   */
  createTask(prompt, options = {}) {
    const c = this._c;
    const o = c.createOptionsDefault();
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
    const id = Buffer.alloc(TASK_ID_BUFFER_SIZE);
    check(c, c.createTask(this._handle, cString(c, prompt, 'prompt'), o, id, id.length));
    return id.toString('utf8', 0, id.indexOf(0));
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
    const o = c.waitOptionsDefault();
    if (options.initialIntervalMs !== undefined) o.initial_interval_ms = options.initialIntervalMs;
    if (options.backoffFactor !== undefined) o.backoff_factor = options.backoffFactor;
    if (options.maxIntervalMs !== undefined) o.max_interval_ms = options.maxIntervalMs;
    if (options.deadlineMs !== undefined) o.deadline_ms = options.deadlineMs;
    const id = cString(c, taskId, 'taskId');

    const { onProgress } = options;
    let thrown = null;
    let callback = null;
    if (onProgress) {
      // Registered for this call only, and always unregistered after it.
      callback = koffi.register((ptr) => {
        try {
          const p = koffi.decode(ptr, WaitProgress);
          return onProgress({
            polls: p.polls,
            elapsedMs: Number(p.elapsed_ms),
            pollResult: p.poll_result,
            status: p.status,
            statusText: text(p.status_text, p.status_text_len),
            errorMessage: text(p.error_message, p.error_message_len),
            statusChanged: p.status_changed,
            done: p.done,
            nextPollInMs: Number(p.next_poll_in_ms),
          }) !== false;
        } catch (e) {
          thrown = { error: e };
          return false;
        }
      }, koffi.pointer(ProgressFn));
    }
    const info = {};
    let result;
    try {
      result = c.waitForTask(this._handle, id, o, null, callback, null, info);
    } finally {
      if (callback !== null) koffi.unregister(callback);
    }
    if (thrown !== null) throw thrown.error;
    check(c, result);
    return taskInfo(c, info);
  }

  /** The audio of a successful run (the WAV file's bytes), as a Buffer. */
  downloadResult(runId) {
    const c = this._c;
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
      result = c.downloadResult(this._handle, runId, null, callback, null, bytes);
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
  saveResult(runId, path) {
    const c = this._c;
    const bytes = [null];
    check(c, c.saveResult(this._handle, runId, cString(c, path, 'path'), null, bytes));
    return Number(bytes[0]);
  }

  /** The pre-signed URL of a successful run's audio. */
  resultUrl(runId) {
    const c = this._c;
    let buffer = Buffer.alloc(4096);
    for (let attempt = 0; ; attempt++) {
      const len = [0];
      const result = c.getResultUrl(this._handle, runId, buffer, buffer.length, len);
      if (result === Result.OK) return buffer.toString('utf8', 0, Number(len[0]));
      if (result !== Result.BUFFER_TOO_SMALL || attempt === 4) check(c, result);
      buffer = Buffer.alloc(Number(len[0]) + 1);
    }
  }
}

if (typeof Symbol.dispose === 'symbol') {
  Client.prototype[Symbol.dispose] = Client.prototype.close;
}

/** The version of the libcamb at `library` (default $CAMB_LIB). */
function version(library) {
  return bind(libraryPath({ library })).version();
}

module.exports = { Client, CambError, Result, Status, AudioType, version };
