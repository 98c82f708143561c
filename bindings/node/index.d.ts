// Types of the npm package `libcamb` (index.js), written by hand. They use Node's
// own types (Buffer, AbortSignal): a TypeScript project has @types/node.
//
// index.js's header comment and the repository's README say how it behaves;
// include/camb.h is the reference for what each operation does.

/// <reference types="node" />

// ---------------------------------------------------------------------------
// Constants of camb.h
// ---------------------------------------------------------------------------

/** camb_result values (camb.h's CAMB_RESULT_*), without the prefix. */
export declare const Result: Readonly<{
  OK: 0;
  NULL_PARAMETER: 1;
  INVALID_PARAMETER: 2;
  MISSING_API_KEY: 3;
  CANCELLED: 5;
  PANIC: 6;
  IO: 7;
  /** A job not finished yet, or an empty queue. */
  NOT_READY: 8;
  /** A generation whose task ended without audio (ERROR, TIMEOUT, ...). */
  TASK_FAILED: 9;
  CONNECT: 100;
  TIMEOUT: 101;
  BAD_RESPONSE: 102;
  HTTP_STATUS: 103;
  UNAUTHORIZED: 401;
  PAYMENT_REQUIRED: 402;
  FORBIDDEN: 403;
  NOT_FOUND: 404;
  VALIDATION: 422;
  RATE_LIMITED: 429;
  SERVER_ERROR: 500;
}>;
/** A camb_result number: `CambError.code`. */
export type ResultCode = (typeof Result)[keyof typeof Result];
/** A camb_result's name, as camb_result_name() gives it: `CambError.name`. */
export type ResultName = `CAMB_RESULT_${keyof typeof Result}`;

/** Task statuses (camb.h's CAMB_STATUS_*). Every one but PENDING is final. */
export declare const Status: Readonly<{
  /** A status this version does not know: its text is in `TaskInfo.statusText`. */
  UNKNOWN: 0;
  PENDING: 1;
  SUCCESS: 2;
  TIMEOUT: 3;
  ERROR: 4;
  PAYMENT_REQUIRED: 5;
}>;
export type StatusCode = (typeof Status)[keyof typeof Status];
/** A status's name, as camb_status_name() gives it, such as "CAMB_STATUS_PENDING". */
export type StatusName = `CAMB_STATUS_${keyof typeof Status}`;

/** Audio types (camb.h's CAMB_AUDIO_TYPE_*). */
export declare const AudioType: Readonly<{ DEFAULT: 0; SOUND: 1; MUSIC: 2 }>;
export type AudioTypeCode = (typeof AudioType)[keyof typeof AudioType];

/** Which operation a job runs (camb.h's CAMB_JOB_KIND_*). */
export declare const JobKind: Readonly<{
  NONE: 0;
  GET_TASK_STATUS: 1;
  CREATE_TASK: 2;
  WAIT_FOR_TASK: 3;
  DOWNLOAD_AUDIO: 4;
  SAVE_AUDIO: 5;
  GET_AUDIO_URL: 6;
  GET_AUDIO_URLS: 7;
  GET_TASK_STATUSES: 8;
  GENERATE: 9;
}>;
export type JobKindCode = (typeof JobKind)[keyof typeof JobKind];

/** Where a job is in its life (camb.h's CAMB_JOB_STATE_*). */
export declare const JobState: Readonly<{ NEW: 0; QUEUED: 1; RUNNING: 2; WAITING: 3; DONE: 4 }>;
export type JobStateCode = (typeof JobState)[keyof typeof JobState];

/**
 * What a libcamb queue's event says (camb.h's CAMB_EVENT_*). Every Promise
 * method is a libcamb job handed back through its client's queue, whose
 * descriptor is watched on Node's event loop: these are that queue's events.
 */
export declare const Event: Readonly<{ JOB_DONE: 1; JOB_DATA: 2 }>;
export type EventCode = (typeof Event)[keyof typeof Event];

/** camb_log_level values (camb.h's CAMB_LOG_LEVEL_*): each includes the ones before it. */
export declare const LogLevel: Readonly<{ ERROR: 1; WARN: 2; INFO: 3; DEBUG: 4 }>;
export type LogLevelCode = (typeof LogLevel)[keyof typeof LogLevel];
/** A log level by name, in any of these cases. */
export type LogLevelName = keyof typeof LogLevel | Lowercase<keyof typeof LogLevel>;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/**
 * A failed libcamb call: every operation rejects with (or, in its Sync form,
 * throws) one. Bad arguments are CambErrors too (INVALID_PARAMETER), and so is a
 * call on a closed client (NULL_PARAMETER).
 */
export declare class CambError extends Error {
  /** The camb_result number: 404 for CAMB_RESULT_NOT_FOUND, `Result.NOT_FOUND`. */
  readonly code: ResultCode;
  /** Its name: "CAMB_RESULT_NOT_FOUND". */
  readonly name: ResultName;
  /** The HTTP status of the reply behind the failure; 0 when there was none. */
  readonly httpStatus: number;
  /** libcamb's words, never the API key: "HTTP 404 Not Found: Task not found: ...". */
  readonly message: string;
  /** For an aborted signal (code CANCELLED): the signal's reason. */
  cause?: unknown;
}

/** Where the path of a library came from. */
export type LibraryOrigin = 'options.library' | 'CAMB_LIB' | 'bundled';

/**
 * A libcamb.so that could not be loaded (or is not a libcamb this package can
 * use). The message names the path tried, where it came from (CAMB_LIB, the
 * bundled copy or options.library), what to do, and koffi's own reason.
 */
export declare class LibraryLoadError extends Error {
  readonly name: 'LibraryLoadError';
  /** The path tried. */
  readonly path: string;
  readonly origin: LibraryOrigin;
  /** koffi's error, when it gave one. */
  cause?: unknown;
}

// ---------------------------------------------------------------------------
// What the operations give
// ---------------------------------------------------------------------------

/** A run id (camb's int64): a number when exact, else a bigint. */
export type RunId = number | bigint;

/** A task's status, copied out of libcamb (it outlives the call). */
export interface TaskInfo {
  taskId: string;
  status: StatusCode;
  /** "CAMB_STATUS_SUCCESS", ... */
  statusName: StatusName;
  /** The server's own word: "SUCCESS", or for UNKNOWN the status it sent. */
  statusText: string;
  /** The run whose audio a successful task made; null when the server gave none. */
  runId: RunId | null;
  exceptionReason: string | null;
  message: string | null;
  /** Every status but PENDING is final. */
  isFinal: boolean;
}

/**
 * Progress of a wait or a generation, one shape in every form (Promise and
 * Sync): the polls made so far and the task's status as last seen. A Sync call
 * reports after every poll; a Promise samples its job every
 * `progressIntervalMs` and reports when either changed (and once more before it
 * settles, if it changed since).
 */
export interface Progress {
  /** Polls made so far (1 after the first). */
  polls: number;
  /** The status last seen; UNKNOWN until a poll has succeeded. */
  status: StatusCode;
  /** Its name: "CAMB_STATUS_PENDING", ... */
  statusName: StatusName;
}

/**
 * Called with each progress. Returning false stops the wait (CambError
 * CANCELLED); an exception thrown stops it and is the rejection (or is thrown).
 */
export type ProgressCallback = (progress: Progress) => boolean | void;

/** One task of a batch: its status, or its own error (exactly one is not null). */
export type TaskStatusEntry =
  | { taskId: string; info: TaskInfo; error: null }
  | { taskId: string; info: null; error: CambError };

/** One run of getAudioUrls: `url` is null when the server had none (unknown, or not successful). */
export interface AudioUrlEntry {
  runId: RunId;
  url: string | null;
}

/** A whole generation: the task, the size of the WAV file written, the polls it took. */
export interface Generation {
  taskId: string;
  task: TaskInfo;
  bytes: number;
  polls: number;
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/** A header sent with every request; a secret value never appears in a log line or an error. */
export interface Header {
  name: string;
  value: string;
  secret?: boolean;
}

/** Receives each log line (never holding the key): from a job, through the event loop. */
export type LogFunction = (level: LogLevelCode, line: string) => void;

export interface ClientOptions {
  /** Default: libcamb reads CAMB_API_KEY (a missing key is CambError MISSING_API_KEY). */
  apiKey?: string;
  /** Default: libcamb reads CAMB_BASE_URL, else uses https://client.camb.ai/apis. */
  baseUrl?: string;
  /** The whole-call timeout (default 60000). */
  timeoutMs?: number;
  /** Extra attempts of reads (default 2). */
  maxRetries?: number;
  /** A PEM file of CAs to trust instead of the built-in roots. */
  caBundleFile?: string;
  /** The same, as PEM text in memory. */
  caBundlePem?: string | Uint8Array;
  /** An explicit proxy, such as "http://host:port" (proxy environment variables are ignored). */
  proxy?: string;
  /** Plain http to a non-loopback host, or through a proxy. */
  allowInsecureHttp?: boolean;
  /** libcamb threads running this client's jobs (default 4, 1 to 64). */
  jobThreads?: number;
  /**
   * Sent with every request (such as traceparent). libcamb refuses names it writes
   * itself (x-api-key, host, ...), names that are not HTTP tokens and values with
   * control characters.
   */
  headers?: Header[];
  /** Gets each log line. */
  log?: LogFunction;
  /** The most detailed lines wanted (default 'debug'). */
  logLevel?: LogLevelCode | LogLevelName;
  /** Path of libcamb.so. Default: $CAMB_LIB, else the copy this package ships. */
  library?: string;
}

export interface CallOptions {
  /** Cancels the call: the Promise rejects with CambError CANCELLED, `cause` the signal's reason. */
  signal?: AbortSignal;
}

export interface CreateTaskOptions extends CallOptions {
  /** Seconds of audio. */
  durationS?: number;
  audioType?: AudioTypeCode;
  projectName?: string;
  projectDescription?: string;
  folderId?: number | bigint;
  /** Retry the create after a failure; off by default, as a retry could bill twice. */
  retry?: boolean;
}

/** How a wait polls; libcamb's defaults: 2000 ms, x1.5, up to 15000 ms, for 10 minutes. */
export interface WaitOptions {
  initialIntervalMs?: number;
  backoffFactor?: number;
  maxIntervalMs?: number;
  deadlineMs?: number;
}

export interface SyncProgressOptions {
  /** Called after every poll, on this thread. */
  onProgress?: ProgressCallback;
}

export interface ProgressOptions {
  /** Called on the event loop when the progress changed. */
  onProgress?: ProgressCallback;
  /** How often a job's progress is sampled (default 100). */
  progressIntervalMs?: number;
}

export interface WaitForTaskOptions extends WaitOptions, ProgressOptions, CallOptions {}
export interface WaitForTaskSyncOptions extends WaitOptions, SyncProgressOptions, CallOptions {}
export interface GenerateOptions extends CreateTaskOptions, WaitOptions, ProgressOptions {}
export interface GenerateSyncOptions extends CreateTaskOptions, WaitOptions, SyncProgressOptions {}

export interface GetTaskStatusesOptions extends CallOptions {
  /** Requests at a time (0 or absent: 8; at most 32). */
  maxConnections?: number;
}

// ---------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------

/**
 * A client of the CAMB text-to-sound API, owning a libcamb client. The plain
 * methods return Promises and never block the event loop (each runs as a libcamb
 * job); each has a blocking twin with the Sync suffix, as in Node's fs. Every
 * failure is a CambError. Free it with close().
 */
export declare class Client {
  /** Throws a CambError for a refused setting, a LibraryLoadError when libcamb cannot be loaded. */
  constructor(options?: ClientOptions);

  /** Resolves once libcamb has freed the client (its threads ended, its key wiped). */
  readonly closed: Promise<void>;
  /** The running library's version, such as "0.3.0". */
  readonly libraryVersion: string;

  /**
   * Closes the client, once: new calls are refused, jobs in flight are cancelled
   * (they reject with CANCELLED unless they finished first). Returns `closed`.
   */
  close(): Promise<void>;

  /** The task's current status; CambError 404 for an unknown id. */
  getTaskStatus(taskId: string, options?: CallOptions): Promise<TaskInfo>;
  /** Creates a task; resolves to its id. */
  createTask(prompt: string, options?: CreateTaskOptions): Promise<string>;
  /**
   * Polls until the task's status is final (no thread is held between polls) and
   * resolves to it: a final ERROR or TIMEOUT resolves, check `status`. CambError
   * TIMEOUT when the deadline passes while pending.
   */
  waitForTask(taskId: string, options?: WaitForTaskOptions): Promise<TaskInfo>;
  /** The WAV file's bytes of a successful run. */
  downloadAudio(runId: RunId, options?: CallOptions): Promise<Buffer>;
  /** Saves a successful run's WAV file at `path` (never a partial file); resolves to its size. */
  saveAudio(runId: RunId, path: string, options?: CallOptions): Promise<number>;
  /** The pre-signed URL of a successful run's audio. */
  getAudioUrl(runId: RunId, options?: CallOptions): Promise<string>;
  /** The URLs of up to 1000 runs in one request, one entry per run id, in order. */
  getAudioUrls(runIds: readonly RunId[], options?: CallOptions): Promise<AudioUrlEntry[]>;
  /** Many statuses at once, one entry per id, in order; an invalid id fails its own entry. */
  getTaskStatuses(taskIds: readonly string[], options?: GetTaskStatusesOptions): Promise<TaskStatusEntry[]>;
  /**
   * Prompt to WAV file: creates the task, waits for it, saves its audio at `path`.
   * A task that ends without audio is CambError TASK_FAILED, and leaves no file.
   */
  generate(prompt: string, path: string, options?: GenerateOptions): Promise<Generation>;

  /** getTaskStatus, blocking the event loop until it returns. */
  getTaskStatusSync(taskId: string, options?: CallOptions): TaskInfo;
  createTaskSync(prompt: string, options?: CreateTaskOptions): string;
  waitForTaskSync(taskId: string, options?: WaitForTaskSyncOptions): TaskInfo;
  downloadAudioSync(runId: RunId, options?: CallOptions): Buffer;
  saveAudioSync(runId: RunId, path: string, options?: CallOptions): number;
  getAudioUrlSync(runId: RunId, options?: CallOptions): string;
  getAudioUrlsSync(runIds: readonly RunId[], options?: CallOptions): AudioUrlEntry[];
  getTaskStatusesSync(taskIds: readonly string[], options?: GetTaskStatusesOptions): TaskStatusEntry[];
  generateSync(prompt: string, path: string, options?: GenerateSyncOptions): Generation;
}

// ---------------------------------------------------------------------------
// The library
// ---------------------------------------------------------------------------

/** The version of the libcamb at `library` (default: $CAMB_LIB, else the bundled copy). */
export declare function version(library?: string): string;

/** Where this package keeps the libcamb.so it ships for this platform. */
export declare const bundledLibrary: string;

/** One options struct as declared for koffi, and whether libcamb takes that size (for tests). */
export interface StructLayout {
  declared: number;
  takesDeclared: boolean;
  takesOneMore: boolean;
}

/** For tests: the options structs' sizes as declared here, checked against libcamb's. */
export declare function optionsLayout(library?: string): {
  createOptions: StructLayout;
  waitOptions: StructLayout;
};
