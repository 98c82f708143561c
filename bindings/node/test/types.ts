// index.d.ts checked for real: tests/node_package.rs compiles this file with
// `tsc --noEmit --strict` in a fresh project where the packed tarball is
// installed (with the README's snippet, as JavaScript checked against the same
// types). It uses the API as the README shows it, and at the end it misuses
// it: each of those lines is marked as an expected error, so types that accepted
// anything would leave the marks unused, which tsc reports as an error. Never run.

import {
  AudioType,
  CambError,
  Client,
  JobKind,
  JobState,
  LibraryLoadError,
  LogLevel,
  Result,
  SpeechStream,
  Status,
  bundledLibrary,
  version,
} from 'libcamb';
import type {
  AudioUrlEntry,
  Generation,
  Language,
  LibraryOrigin,
  Progress,
  ResultCode,
  ResultName,
  SpeechInfo,
  SpeechOptions,
  StatusName,
  TaskInfo,
  TaskStatusEntry,
  Voice,
} from 'libcamb';

async function readme(): Promise<void> {
  const client = new Client(); // CAMB_API_KEY and CAMB_BASE_URL, read by libcamb
  try {
    const info: TaskInfo = await client.getTaskStatus('demo-success', { signal: AbortSignal.timeout(10_000) });
    const named: StatusName = info.statusName;
    const final: boolean = info.isFinal;
    if (info.status === Status.SUCCESS && info.runId !== null) {
      const size: number = await client.saveAudio(info.runId, 'task.wav');
      const audio: Buffer = await client.downloadAudio(info.runId);
      const url: string = await client.getAudioUrl(info.runId);
      console.log(named, final, size, audio.length, url);
    }

    const id: string = await client.createTask('rain on a tin roof', { durationS: 5, audioType: AudioType.SOUND });
    const waited: TaskInfo = await client.waitForTask(id, {
      initialIntervalMs: 500,
      deadlineMs: 60_000,
      progressIntervalMs: 50,
      onProgress: (p: Progress) => console.log(p.polls, p.status, p.statusName),
    });
    const made: Generation = await client.generate('rain on a tin roof', 'rain.wav', {
      durationS: 5,
      onProgress: (p) => p.statusName !== 'CAMB_STATUS_PAYMENT_REQUIRED',
    });
    console.log(waited.statusText, made.taskId, made.task.runId, made.bytes, made.polls);

    const all: TaskInfo[] = await Promise.all(Array.from({ length: 20 }, () => client.getTaskStatus(made.taskId)));
    console.log(all.filter((t) => t.status === Status.SUCCESS).length);

    const entries: TaskStatusEntry[] = await client.getTaskStatuses(['demo-success', 'nope'], { maxConnections: 4 });
    for (const entry of entries) {
      // Exactly one of info and error: the union narrows.
      if (entry.error !== null) console.log(entry.taskId, entry.error.code, entry.error.httpStatus);
      else console.log(entry.taskId, entry.info.statusText);
    }
    const urls: AudioUrlEntry[] = await client.getAudioUrls([4242, 4243n]);
    console.log(urls.map((u) => u.url ?? 'none'));

    // The blocking twins.
    const sync: TaskInfo = client.getTaskStatusSync('demo-success');
    const generated: Generation = client.generateSync('wind', 'wind.wav', { onProgress: (p) => p.polls < 100 });
    const bytes: Buffer = client.downloadAudioSync(4242);
    console.log(sync.taskId, generated.bytes, bytes.length);
  } catch (e) {
    if (e instanceof CambError) {
      const code: ResultCode = e.code;
      const name: ResultName = e.name;
      if (e.code === Result.NOT_FOUND) console.log('no such task', e.httpStatus);
      console.log(code, name, e.message, e.cause);
    } else if (e instanceof LibraryLoadError) {
      const origin: LibraryOrigin = e.origin;
      console.log(e.path, origin, e.message);
    }
  } finally {
    await client.close();
  }
}

async function speech(client: Client): Promise<void> {
  // The voices and languages, as plain objects.
  const voices: Voice[] = await client.listVoices({ signal: AbortSignal.timeout(10_000) });
  const targets: Language[] = await client.targetLanguages();
  const sources: Language[] = client.sourceLanguagesSync();
  const voice = voices[0];
  const published: boolean | null = voice.isPublished;
  const transcript: string | null = voice.transcript;
  const locale: string = targets.find((l) => l.shortName === 'en-us')?.shortName ?? 'en-us';
  console.log(published, transcript, sources.length, voice.gender === 2, voice.signedUrl ?? 'no sample');

  // A stream of Buffers, as the audio arrives.
  const options: SpeechOptions = { format: 'pcm_s16le', speechModel: 'mars-flash', sampleRate: 22050, speakingRate: 1.1 };
  const stream: SpeechStream = client.speak('Hello there', locale, voice.id, options);
  let bytes = 0;
  for await (const chunk of stream) {
    const piece: Buffer = chunk;
    bytes += piece.length;
    if (bytes > 1_000_000) break; // cancels the job
  }
  const info: SpeechInfo = stream.info();
  const credits: number | null = info.credits;
  console.log(info.format, info.sampleRate, info.channels, info.bytes, credits);

  // Pulled by hand, cancelled, or as a web ReadableStream.
  const other = client.speak('Hello again', 'en-us', 147320n, { duration: 2, applyRefLoudnessNorm: false, signal: AbortSignal.timeout(5000) });
  const first: IteratorResult<Buffer, undefined> = await other.next();
  if (!first.done) console.log(first.value.length);
  await other.cancel();
  const readable: ReadableStream<Uint8Array> = client.speak('Hello', 'en-us', 147320, { format: 'wav' }).toReadableStream();
  const reader = readable.getReader();
  const part = await reader.read();
  if (!part.done) console.log(part.value.byteLength);

  // To a file, as a job or blocking.
  const saved: SpeechInfo = await client.speakToFile('Hello there', 'en-us', 147320, 'hello.wav', {
    speechModel: 'mars-instruct',
    userInstructions: 'whisper',
    stability: 0.5,
    temperature: 0.7,
    inferenceSteps: 32,
    speakerSimilarity: 0.8,
    localizeSpeakerWeight: 0.2,
    acousticQualityBoost: true,
    enhanceNamedEntities: true,
    enhanceReferenceAudioQuality: false,
    maintainSourceAccent: true,
    applyEnhancement: true,
  });
  const blocking: SpeechInfo = client.speakToFileSync('Hello there', 'en-us', 147320, 'hello.flac', { format: 'flac' });
  const listed: Voice[] = client.listVoicesSync();
  console.log(saved.bytes, blocking.bytes, listed.length, client.targetLanguagesSync().length);
}

const logging = new Client({
  apiKey: 'key',
  baseUrl: 'http://127.0.0.1:8080',
  timeoutMs: 10_000,
  jobThreads: 8,
  log: (level, line) => console.error(level === LogLevel.DEBUG ? 'debug' : level, line),
  logLevel: 'debug',
  headers: [{ name: 'traceparent', value: '00-4bf9...-01', secret: false }],
});
const closed: Promise<void> = logging.closed;
const libraryVersion: string = logging.libraryVersion;
console.log(closed, libraryVersion, version(), bundledLibrary, JobKind.GENERATE, JobKind.SPEAK, JobState.WAITING, readme, speech);

// Wrong uses are refused.
// @ts-expect-error a task id is a string
void logging.getTaskStatus(42);
// @ts-expect-error the plain method returns a Promise, not the task
const notAwaited: TaskInfo = logging.getTaskStatus('demo-success');
// @ts-expect-error the Sync twin returns the task, not a Promise
const notAPromise: Promise<TaskInfo> = logging.getTaskStatusSync('demo-success');
// @ts-expect-error an option that does not exist
new Client({ apiKye: 'key' });
// @ts-expect-error log levels are error, warn, info and debug
new Client({ logLevel: 'verbose' });
// @ts-expect-error progress has one shape: polls, status, statusName (no statusText)
const statusText: string = ({} as Progress).statusText;
// @ts-expect-error a task's run id may be null: check it first
void logging.saveAudio(({} as TaskInfo).runId, 'x.wav');
// @ts-expect-error a status name is CAMB_STATUS_..., not the server's word
const word: StatusName = 'SUCCESS';
// @ts-expect-error CambError.code is a camb_result number
const notACode: ResultCode = 7000;
// @ts-expect-error generate needs a path
void logging.generate('rain');
// @ts-expect-error speak() returns a stream, not a Promise of the audio
const notAudio: Promise<Buffer> = logging.speak('Hello there', 'en-us', 147320);
// @ts-expect-error a voice id is a number (or a bigint), not a string
logging.speak('Hello there', 'en-us', '147320');
// @ts-expect-error flags are booleans
logging.speak('Hello there', 'en-us', 147320, { applyEnhancement: 'yes' });
// @ts-expect-error an option that does not exist
logging.speak('Hello there', 'en-us', 147320, { voiceSpeed: 2 });
// @ts-expect-error credits may be null: check them first
const cost: number = ({} as SpeechInfo).credits;
// @ts-expect-error a voice's transcript may be null
const said: string = ({} as Voice).transcript;
// @ts-expect-error speakToFile needs a path
void logging.speakToFile('Hello there', 'en-us', 147320);
// @ts-expect-error the Sync twin returns the voices, not a Promise
const voicesLater: Promise<Voice[]> = logging.listVoicesSync();
// @ts-expect-error a SpeechStream is made by client.speak()
new SpeechStream();
console.log(notAwaited, notAPromise, statusText, word, notACode, notAudio, cost, said, voicesLater);
