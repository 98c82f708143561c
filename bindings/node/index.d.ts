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
  SPEAK: 10;
  SPEAK_TO_FILE: 11;
  LIST_VOICES: 12;
  LIST_LANGUAGES: 13;
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

/** camb's int64 ids (a voice's, a language's): a number when exact, else a bigint. */
export type Int64 = number | bigint;

/**
 * What a speech tells about its audio (camb_speech_info): from a SpeechStream's
 * info() at any time, and what speakToFile resolves to.
 */
export interface SpeechInfo {
  /** The format asked for, and so served: "wav" unless the options named another. */
  format: string;
  /**
   * Samples per second: a WAV or FLAC header's once it has arrived; before that,
   * and for raw PCM, the rate asked for, else the model's (48000 for mars-pro and
   * the mars-8.1 models, 22050 for mars-flash and mars-instruct); 0 when none of
   * these tells (raw PCM from an unnamed model: set `sampleRate` to be sure).
   */
  sampleRate: number;
  /** From a WAV or FLAC header (0 until it has arrived); 1 for raw PCM. */
  channels: number;
  /** What the request costs (the reply's X-Credits-Required); null until (unless) the reply said. */
  credits: number | null;
  /** Bytes of audio received so far; all of them at the end. */
  bytes: number;
}

/** A voice of listVoices(), copied out of libcamb's list: null for what the server did not say. */
export interface Voice {
  /** The `voiceId` of speak(). */
  id: Int64;
  name: string;
  /** The API's codes: 0 not known, 1 male, 2 female, 9 not applicable. */
  gender: Int64 | null;
  age: Int64 | null;
  /** A language id (as `Language.id`), not a locale. */
  language: Int64 | null;
  transcript: string | null;
  description: string | null;
  isPublished: boolean | null;
  /** A URL of a sample of the voice. */
  signedUrl: string | null;
}

/** A language of sourceLanguages() or targetLanguages(). */
export interface Language {
  /** The id the task-based flow takes (and `Voice.language` gives). */
  id: Int64;
  /** Such as "English (United States)". */
  name: string;
  /** A locale such as "en-us": the `language` of speak() (lower-case it if the server does not). */
  shortName: string;
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

/** The audio formats of the API; other names are passed through (the server's 422 says what it refuses). */
export type SpeechFormat =
  | 'wav'
  | 'flac'
  | 'mp3'
  | 'adts'
  | 'pcm_s16le'
  | 'pcm_s16be'
  | 'pcm_s32le'
  | 'pcm_s32be'
  | 'pcm_f32le'
  | 'pcm_f32be'
  | (string & {});

/** The speech models the sources name; others are passed through. */
export type SpeechModel =
  | 'mars-flash'
  | 'mars-pro'
  | 'mars-instruct'
  | 'mars-8.1-flash-beta'
  | 'mars-8.1-pro-beta'
  | 'auto'
  | (string & {});

/**
 * Options of a speech (camb_speech_options). Each one left undefined is not
 * sent, so the server's own default applies; the format is the exception: it is
 * always sent ("wav" unless given). Booleans are sent as they are.
 */
export interface SpeechOptions extends CallOptions {
  /** The audio format (default "wav"). Raw pcm_* formats have no header: the rate is in `info().sampleRate`. */
  format?: SpeechFormat;
  /** Samples per second (`output_configuration.sample_rate`); 0 or absent: the model's. */
  sampleRate?: number;
  /** Seconds of audio (`output_configuration.duration`); absent: the server decides from the text. */
  duration?: number;
  /** `output_configuration.apply_enhancement`. */
  applyEnhancement?: boolean;
  speechModel?: SpeechModel;
  /** How to speak (CAMB's docs: mars-instruct only). */
  userInstructions?: string;
  /** `enhance_named_entities_pronunciation`. */
  enhanceNamedEntities?: boolean;
  /** `voice_settings.enhance_reference_audio_quality`. */
  enhanceReferenceAudioQuality?: boolean;
  /** `voice_settings.maintain_source_accent`. */
  maintainSourceAccent?: boolean;
  /** `voice_settings.apply_ref_loudness_norm`. */
  applyRefLoudnessNorm?: boolean;
  /** `voice_settings.speaking_rate`. */
  speakingRate?: number;
  /** `inference_options.stability` (0 to 1). The inference options are for the MARS-8 models. */
  stability?: number;
  /** `inference_options.temperature` (0.01 to 4). */
  temperature?: number;
  /** `inference_options.inference_steps` (1 to 1000); 0 or absent: unset. */
  inferenceSteps?: number;
  /** `inference_options.speaker_similarity` (0 to 1). */
  speakerSimilarity?: number;
  /** `inference_options.localize_speaker_weight`. */
  localizeSpeakerWeight?: number;
  /** `inference_options.acoustic_quality_boost`. */
  acousticQualityBoost?: boolean;
}

// ---------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------

/**
 * A client of the CAMB API (text-to-sound, and streaming text-to-speech with its
 * voices and languages), owning a libcamb client. The plain
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

  /**
   * Speaks `text` in `language` (a lower-case locale such as "en-us") with the
   * voice `voiceId` (from listVoices()), streaming the audio: an async iterable
   * of Buffer chunks as they arrive. Its job starts at the first pull. Never
   * throws: bad arguments and every failure (a 422, a stream cut short) are
   * thrown by the iteration, after the audio that came before.
   */
  speak(text: string, language: string, voiceId: Int64, options?: SpeechOptions): SpeechStream;
  /**
   * Speaks and saves the audio at `path`, replaced atomically (a failed or cut
   * stream leaves what was there); a saved WAV gets its real sizes.
   */
  speakToFile(text: string, language: string, voiceId: Int64, path: string, options?: SpeechOptions): Promise<SpeechInfo>;
  /** The voices a speech can use, in the server's order. */
  listVoices(options?: CallOptions): Promise<Voice[]>;
  /** GET /source-languages. */
  sourceLanguages(options?: CallOptions): Promise<Language[]>;
  /** GET /target-languages: their `shortName`s are locales for speak(). */
  targetLanguages(options?: CallOptions): Promise<Language[]>;

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
  speakToFileSync(text: string, language: string, voiceId: Int64, path: string, options?: SpeechOptions): SpeechInfo;
  listVoicesSync(options?: CallOptions): Voice[];
  sourceLanguagesSync(options?: CallOptions): Language[];
  targetLanguagesSync(options?: CallOptions): Language[];
}

/**
 * The audio of client.speak(), as it arrives: `for await (const chunk of
 * stream)`. Pull-based: between pulls nothing is read, and libcamb's bounded
 * buffer (256 KiB) holds the network, so a slow consumer slows the server
 * rather than filling memory. Leaving the loop early cancels the job.
 */
export declare class SpeechStream implements AsyncIterableIterator<Buffer> {
  /** Made by client.speak() only. */
  private constructor();
  /**
   * The next chunk (a Buffer of whatever arrived, up to 256 KiB), the end, or
   * the stream's CambError (once: pulls after it are the end).
   */
  next(): Promise<IteratorResult<Buffer, undefined>>;
  /** Leaving a `for await` loop early: cancels the job, and ends. */
  return(value?: undefined): Promise<IteratorResult<Buffer, undefined>>;
  [Symbol.asyncIterator](): SpeechStream;
  /** What is known of the audio so far; at the end, what it was. Throws why a stream never started. */
  info(): SpeechInfo;
  /** Cancels the job; pulls waiting and later ones end. Resolves once libcamb handed the job back and it is freed. */
  cancel(): Promise<void>;
  /** The same audio as a web ReadableStream, read only when its reader asks. Read through one or the other. */
  toReadableStream(): ReadableStream<Uint8Array>;
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
  speechOptions: StructLayout;
  /** camb_speech_info has no _init to ask: its declared size only. */
  speechInfo: { declared: number };
};
