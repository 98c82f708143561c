'use strict';
/**
 * Tests of the libcamb package against the emulator, with node's built-in runner:
 *
 *   CAMB_TEST_BASE_URL=http://127.0.0.1:PORT CAMB_TEST_API_KEY=camb-emulator-key node --test test/
 *
 * They `require('libcamb')`: tests/node_package.rs copies them into a fresh
 * project where the packed tarball (dist/libcamb-VERSION.tgz) is installed, and
 * runs them there with an in-process emulator whose demo tasks are already
 * final, so what is tested is the installed package with the libcamb.so it
 * ships (CAMB_LIB unset). In bindings/node itself the name resolves to the
 * package's own index.js (its `exports`), with the library copied in by
 * scripts/package-node.sh or named by CAMB_LIB. CAMB_TEST_HEADER is camb.h
 * (default: the repository's include/camb.h); CAMB_TEST_INSTALLED=1 says the
 * package must be the installed one. The tests run one after another and
 * plant what they need through the emulator's key-less control API
 * (/_emulator/*).
 */

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const libcamb = require('libcamb');
const {
  Client, SpeechStream, CambError, LibraryLoadError, Result, Status, AudioType, JobKind, JobState, Event, LogLevel,
  version, optionsLayout, bundledLibrary,
} = libcamb;
const packageJson = require('libcamb/package.json');
// The package's folder, and the very koffi it loaded (koffi.stats() counts its callbacks).
const packageDir = path.dirname(require.resolve('libcamb/package.json'));
const koffi = require(require.resolve('koffi', { paths: [packageDir] }));

for (const name of ['CAMB_TEST_BASE_URL', 'CAMB_TEST_API_KEY']) {
  if (!process.env[name]) {
    throw new Error(`${name} is not set: see the comment at the top of camb.test.js`);
  }
}
const baseUrl = process.env.CAMB_TEST_BASE_URL;
const apiKey = process.env.CAMB_TEST_API_KEY;
const headerPath = process.env.CAMB_TEST_HEADER || path.join(__dirname, '..', '..', '..', 'include', 'camb.h');

function client(options = {}) {
  return new Client({ baseUrl, apiKey, timeoutMs: 10000, ...options });
}

// The voice CAMB's docs use, which the emulator lists first.
const VOICE = 147320;

// Short pauses: the emulator's tasks finish in milliseconds.
const quick = { initialIntervalMs: 20, maxIntervalMs: 20, deadlineMs: 10000 };
// Long pauses: a wait that sleeps between polls until something ends it.
const slow = { initialIntervalMs: 30000, maxIntervalMs: 30000, deadlineMs: 60000 };

const OPERATIONS = [
  'getTaskStatus', 'createTask', 'waitForTask', 'downloadAudio', 'saveAudio',
  'getAudioUrl', 'getAudioUrls', 'getTaskStatuses', 'generate',
];
// Speech's Promise methods, each with its Sync twin; speak() returns a SpeechStream.
const SPEECH_OPERATIONS = ['speakToFile', 'listVoices', 'sourceLanguages', 'targetLanguages'];

/** Asserts fn throws a CambError with this code (and HTTP status); returns it. */
function throwsCamb(fn, code, httpStatus) {
  let error = null;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  return isCamb(error, code, httpStatus);
}

/** Asserts the promise rejects with a CambError with this code (and HTTP status); returns it. */
async function rejectsCamb(promise, code, httpStatus) {
  assert.ok(promise instanceof Promise, 'a Promise method returns a Promise, even for bad arguments');
  let error = null;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  return isCamb(error, code, httpStatus);
}

function isCamb(error, code, httpStatus) {
  assert.ok(error instanceof CambError, `expected a CambError, got ${error}`);
  assert.equal(error.code, code, error.message);
  if (httpStatus !== undefined) assert.equal(error.httpStatus, httpStatus);
  return error;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits (on the event loop) until `condition()` holds; fails after `ms`. */
async function until(condition, what, ms = 5000) {
  const end = Date.now() + ms;
  while (!condition()) {
    assert.ok(Date.now() < end, `timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** POSTs to the emulator's control API (no key). */
async function control(what, body) {
  const reply = await fetch(`${baseUrl}/_emulator/${what}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.ok(reply.ok, `POST /_emulator/${what}: HTTP ${reply.status}`);
  return reply.status === 204 ? null : reply.json();
}

/** API requests the emulator has received so far. */
async function requestsSeen() {
  const reply = await fetch(`${baseUrl}/_emulator/stats`);
  assert.ok(reply.ok);
  return (await reply.json()).requests_total;
}

/** Plants a task (a TaskSpec) and returns its id. */
async function plantTask(spec) {
  return (await control('tasks', spec)).task_id;
}

/**
 * Plants `count` tasks named `${prefix}${i}`, SUCCESS (run `runBase + i`) and
 * ERROR (reason `REASON_${i}`) in turn, and holds each one's status reply `ms`.
 */
async function plantAlternating(prefix, count, runBase, ms) {
  const ids = [];
  for (let i = 0; i < count; i++) {
    ids.push(await plantTask({
      task_id: `${prefix}${i}`,
      final_status: i % 2 === 0 ? 'SUCCESS' : 'ERROR',
      run_id: runBase + i,
      exception_reason: i % 2 === 0 ? null : `REASON_${i}`,
    }));
  }
  await delayStatuses(prefix, ms, count);
  return ids;
}

/** Delays the next `times` replies under `/text-to-sound/{prefix}` by `ms`. */
async function delayStatuses(prefix, ms, times) {
  await control('faults', { path_prefix: `/text-to-sound/${prefix}`, times, delay_ms: ms });
}

/** Asserts every job the client submitted came back and was freed, once, and none is in flight. */
function allJobsFreed(c, started) {
  const counts = c._jobCounts;
  assert.notEqual(counts, null, 'no job was submitted');
  assert.deepEqual(counts, { started: counts.started, freed: counts.started, pending: 0 });
  if (started !== undefined) assert.equal(counts.started, started);
}

/** The statuses a progress sequence went through, each change once. */
function statusChanges(seen) {
  return seen.map((p) => p.statusName).filter((name, i, all) => i === 0 || all[i - 1] !== name);
}

function isWav(bytes) {
  assert.equal(bytes.subarray(0, 4).toString('latin1'), 'RIFF');
  assert.equal(bytes.subarray(8, 12).toString('latin1'), 'WAVE');
  assert.equal(bytes.readUInt32LE(4), bytes.length - 8, 'RIFF size');
  assert.ok(bytes.length > 44);
}

let tmpDir;
test.before(() => {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'camb-node-'));
});
test.after(() => {
  fs.rmSync(tmpDir, { recursive: true, force: true });
});
test.afterEach(() => {
  // No module-wide callback: a client's log function and finalizer are gone once
  // it is closed (or failed to build), and progress and write callbacks are transient.
  assert.equal(koffi.stats().callbacks, 0, 'a koffi callback was left registered');
});

// ---------------------------------------------------------------------------
// The library, its structs and constants, and the shape of the API
// ---------------------------------------------------------------------------

test("the library reports its version, the package's version", async () => {
  assert.match(version(), /^0\.3\.\d+/);
  // The package is versioned as the libcamb it ships (Cargo.toml's version).
  if (!process.env.CAMB_LIB) assert.equal(version(), packageJson.version);
  const c = client();
  try {
    assert.equal(c.libraryVersion, version());
  } finally {
    await c.close();
  }
});

test('the options structs declared for koffi have the size libcamb gives them', () => {
  // struct_size is the declared size: a missing or extra field would make the
  // library's _init refuse it (too large) or take one byte more (too small).
  const layout = optionsLayout();
  for (const struct of [layout.createOptions, layout.waitOptions, layout.speechOptions]) {
    assert.deepEqual([struct.takesDeclared, struct.takesOneMore], [true, false], JSON.stringify(struct));
  }
  // x86-64 / aarch64: 8 (struct_size) + 8 + 4 (+4) + 8 + 8 + 1 (+7) + 8 + 1 (+7); 8 + 8 + 8 + 8 + 8.
  // camb_speech_options: 8 + 8 + 4 (+4) + 8 + 4 (+4) + 8 + 8 + 4 * 4 + 8 * 4 + 4 (+4) + 8 + 8 + 4 (+4);
  // camb_speech_info (no _init to ask: checked against camb.h's layout): 8 + 32 + 4 + 4 + 1 (+7) + 8 + 8.
  if (process.arch === 'x64' || process.arch === 'arm64') {
    assert.deepEqual([layout.createOptions.declared, layout.waitOptions.declared], [64, 40]);
    assert.deepEqual([layout.speechOptions.declared, layout.speechInfo.declared], [128, 72]);
  }
});

test('the package declares the result codes, statuses, audio types, job kinds and states, events and log levels of camb.h', () => {
  const header = fs.readFileSync(headerPath, 'utf8');
  const declared = (prefix) => {
    const values = {};
    for (const [, name, value] of header.matchAll(new RegExp(`^\\s*${prefix}([A-Z_]+) = (\\d+),`, 'gm'))) {
      values[name] = Number(value);
    }
    return values;
  };
  const results = declared('CAMB_RESULT_');
  assert.equal(results.NOT_READY, 8);
  assert.equal(results.TASK_FAILED, 9);
  assert.equal(results.BUFFER_TOO_SMALL, undefined, 'gone in 0.3');
  assert.deepEqual({ ...Result }, results);
  assert.deepEqual({ ...Status }, declared('CAMB_STATUS_'));
  assert.deepEqual({ ...AudioType }, declared('CAMB_AUDIO_TYPE_'));
  assert.deepEqual({ ...JobKind }, declared('CAMB_JOB_KIND_'));
  assert.equal(Object.keys(JobKind).length, 14);
  assert.deepEqual([JobKind.SPEAK, JobKind.SPEAK_TO_FILE, JobKind.LIST_VOICES, JobKind.LIST_LANGUAGES], [10, 11, 12, 13]);
  assert.deepEqual({ ...JobState }, declared('CAMB_JOB_STATE_'));
  assert.deepEqual({ ...JobState }, { NEW: 0, QUEUED: 1, RUNNING: 2, WAITING: 3, DONE: 4 });
  assert.deepEqual({ ...Event }, declared('CAMB_EVENT_'));
  assert.deepEqual({ ...LogLevel }, declared('CAMB_LOG_LEVEL_'));
});

test('the thirteen operations are Promise methods, each with a blocking twin named ...Sync; speak gives a stream', async () => {
  const methods = Object.getOwnPropertyNames(Client.prototype).filter((name) => {
    const { value } = Object.getOwnPropertyDescriptor(Client.prototype, name);
    return typeof value === 'function' && name !== 'constructor' && !name.startsWith('_');
  });
  const promises = [...OPERATIONS, ...SPEECH_OPERATIONS];
  assert.deepEqual(methods.sort(), [...promises, ...promises.map((n) => `${n}Sync`), 'speak', 'close'].sort());
  const c = client();
  try {
    // Even refused at once, each returns a Promise (and throws nothing).
    const file = path.join(tmpDir, 'shape.wav');
    const refused = [
      c.getTaskStatus(''), c.createTask(''), c.waitForTask(''), c.downloadAudio(0.5), c.saveAudio(0.5, file),
      c.getAudioUrl(0.5), c.getAudioUrls(null), c.getTaskStatuses(null), c.generate('', file),
      c.speakToFile('', 'en-us', VOICE, file), c.listVoices({ signal: 'stop' }),
      c.sourceLanguages({ signal: 'stop' }), c.targetLanguages({ signal: 'stop' }),
    ];
    for (const promise of refused) await rejectsCamb(promise, Result.INVALID_PARAMETER, 0);
    // speak() throws nothing either: its stream does, when read.
    const stream = c.speak('', 'en-us', VOICE);
    assert.ok(stream instanceof SpeechStream);
    await rejectsCamb(stream.next(), Result.INVALID_PARAMETER, 0);
    assert.deepEqual(c._jobCounts, { started: 0, freed: 0, pending: 0 });
  } finally {
    await c.close();
  }
});

// ---------------------------------------------------------------------------
// The package: the library it ships, CAMB_LIB, the environment, its types
// ---------------------------------------------------------------------------

test('the package loads the libcamb.so it ships, unless CAMB_LIB names another', async () => {
  assert.equal(bundledLibrary, path.join(packageDir, 'native', `${process.platform}-${process.arch}`, 'libcamb.so'));
  if (process.env.CAMB_TEST_INSTALLED === '1') {
    // Installed from the tarball into node_modules: not the source tree.
    assert.equal(path.basename(packageDir), 'libcamb');
    assert.equal(path.basename(path.dirname(packageDir)), 'node_modules');
    assert.equal(process.env.CAMB_LIB, undefined, 'CAMB_LIB would hide the bundled copy');
    assert.ok(fs.statSync(bundledLibrary).isFile(), `${bundledLibrary} is missing`);
  }
  if (process.env.CAMB_LIB) return;
  const c = client();
  try {
    assert.equal((await c.getTaskStatus('demo-success')).runId, 4242);
  } finally {
    await c.close();
  }
  // What the loader mapped is the bundled file itself.
  const mapped = fs.readFileSync('/proc/self/maps', 'utf8').split('\n')
    .map((line) => line.split(/\s+/).slice(5).join(' '))
    .filter((file) => path.basename(file).startsWith('libcamb'));
  assert.deepEqual([...new Set(mapped)], [fs.realpathSync(bundledLibrary)]);
});

test("CAMB_LIB naming a missing file: a LibraryLoadError with the path, CAMB_LIB, what to do and koffi's reason", async () => {
  const missing = path.join(tmpDir, 'no-such-dir', 'libcamb.so');
  const saved = process.env.CAMB_LIB;
  process.env.CAMB_LIB = missing;
  try {
    for (const attempt of [() => new Client({ baseUrl, apiKey }), () => version()]) {
      assert.throws(attempt, (e) => {
        assert.ok(e instanceof LibraryLoadError, `not a LibraryLoadError: ${e}`);
        assert.ok(e instanceof Error);
        assert.equal(e.name, 'LibraryLoadError');
        assert.equal(e.path, missing);
        assert.equal(e.origin, 'CAMB_LIB');
        assert.ok(e.message.includes(missing), e.message);
        assert.match(e.message, /named by the environment variable CAMB_LIB/);
        assert.match(e.message, /unset CAMB_LIB to use the copy bundled/);
        // koffi's own reason, with the loader's words.
        assert.ok(e.cause instanceof Error, 'koffi error as the cause');
        assert.ok(e.message.includes(e.cause.message), e.message);
        assert.match(e.message, /No such file/);
        return true;
      });
    }
    // A library that loads but is not libcamb: the C library this process runs on.
    const libc = fs.readFileSync('/proc/self/maps', 'utf8').split('\n')
      .map((line) => line.split(/\s+/).slice(5).join(' '))
      .find((file) => path.basename(file) === 'libc.so.6');
    if (libc !== undefined) {
      process.env.CAMB_LIB = libc;
      assert.throws(() => version(), (e) => {
        assert.ok(e instanceof LibraryLoadError, `not a LibraryLoadError: ${e}`);
        assert.equal(e.path, libc);
        assert.ok(e.message.includes(`${libc}, named by the environment variable CAMB_LIB: it is not libcamb`), e.message);
        assert.match(e.message, /camb_version/);
        return true;
      });
    }
    // options.library is used over CAMB_LIB, for that client.
    if (fs.existsSync(bundledLibrary)) {
      assert.equal(version(bundledLibrary), packageJson.version);
      await client({ library: bundledLibrary }).close();
    }
  } finally {
    if (saved === undefined) delete process.env.CAMB_LIB;
    else process.env.CAMB_LIB = saved;
  }
});

test('a package without its bundled copy says so, and what to do', () => {
  // A copy of the package in a project of its own, with no native/ folder.
  const app = path.join(tmpDir, 'no-native');
  const copy = path.join(app, 'node_modules', 'libcamb');
  fs.mkdirSync(copy, { recursive: true });
  for (const file of ['index.js', 'package.json']) fs.copyFileSync(path.join(packageDir, file), path.join(copy, file));
  fs.symlinkSync(path.dirname(require.resolve('koffi', { paths: [packageDir] })), path.join(app, 'node_modules', 'koffi'));
  const env = { ...process.env };
  delete env.CAMB_LIB;
  const run = spawnSync(process.execPath, ['-e', `
    try {
      new (require('libcamb').Client)({ apiKey: 'k' });
      console.log('{}');
    } catch (e) {
      console.log(JSON.stringify({ name: e.name, path: e.path, origin: e.origin, message: e.message }));
    }
  `], { cwd: app, env, encoding: 'utf8', timeout: 30000 });
  assert.equal(run.status, 0, run.stderr);
  const e = JSON.parse(run.stdout);
  const expected = path.join(copy, 'native', `${process.platform}-${process.arch}`, 'libcamb.so');
  assert.deepEqual([e.name, e.path, e.origin], ['LibraryLoadError', expected, 'bundled']);
  assert.ok(e.message.includes(expected), e.message);
  assert.match(e.message, /the copy bundled with the libcamb package \(CAMB_LIB is not set\)/);
  assert.match(e.message, /reinstall it .* or set CAMB_LIB/);
});

test('new Client() with no options: libcamb takes CAMB_API_KEY and CAMB_BASE_URL from the environment', async () => {
  const saved = { CAMB_API_KEY: process.env.CAMB_API_KEY, CAMB_BASE_URL: process.env.CAMB_BASE_URL };
  const restore = () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  process.env.CAMB_API_KEY = apiKey;
  process.env.CAMB_BASE_URL = baseUrl;
  try {
    const c = new Client();
    try {
      assert.equal((await c.getTaskStatus('demo-success')).runId, 4242);
      assert.equal(c.getTaskStatusSync('demo-error').runId, 4243);
    } finally {
      await c.close();
    }
    // Under the rules of a base URL that is set: an unusable one is refused when
    // the client is built, in libcamb's words naming the variable.
    process.env.CAMB_BASE_URL = 'not a url';
    const refused = throwsCamb(() => new Client(), Result.INVALID_PARAMETER, 0);
    assert.match(refused.message, /CAMB_BASE_URL/);
    // What the client is given comes first.
    const given = new Client({ baseUrl });
    try {
      assert.equal((await given.getTaskStatus('demo-success')).runId, 4242);
    } finally {
      await given.close();
    }
    process.env.CAMB_BASE_URL = baseUrl;
    const wrong = new Client({ apiKey: 'not-the-key' });
    try {
      await rejectsCamb(wrong.getTaskStatus('demo-success'), Result.UNAUTHORIZED, 401);
    } finally {
      await wrong.close();
    }
    delete process.env.CAMB_API_KEY;
    throwsCamb(() => new Client(), Result.MISSING_API_KEY, 0);
  } finally {
    restore();
  }
});

test('index.d.ts ships with the package and declares every export and Client member', () => {
  assert.equal(packageJson.types, 'index.d.ts');
  const dts = fs.readFileSync(path.join(packageDir, packageJson.types), 'utf8');
  for (const name of Object.keys(libcamb)) {
    assert.match(dts, new RegExp(`^export declare (const|class|function) ${name}\\b`, 'm'), name);
  }
  const members = Object.getOwnPropertyNames(Client.prototype).filter((n) => n !== 'constructor' && !n.startsWith('_'));
  for (const name of [...members, 'closed']) {
    assert.match(dts, new RegExp(`^  (readonly )?${name}[(:]`, 'm'), `Client.${name}`);
  }
});

test('every Promise method leaves the event loop free while its request is held', async () => {
  const c = client();
  const calls = {
    getTaskStatus: () => c.getTaskStatus('demo-success'),
    createTask: () => c.createTask('rain', { durationS: 1 }),
    waitForTask: () => c.waitForTask('demo-success', quick),
    downloadAudio: () => c.downloadAudio(4242),
    saveAudio: () => c.saveAudio(4242, path.join(tmpDir, 'free-loop-save.wav')),
    getAudioUrl: () => c.getAudioUrl(4242),
    getAudioUrls: () => c.getAudioUrls([4242]),
    getTaskStatuses: () => c.getTaskStatuses(['demo-success', 'demo-error']),
    generate: () => c.generate('rain', path.join(tmpDir, 'free-loop-generate.wav'), { durationS: 1, ...quick }),
  };
  assert.deepEqual(Object.keys(calls).sort(), [...OPERATIONS].sort());
  try {
    for (const [name, call] of Object.entries(calls)) {
      // The first API request of the call is held 300 ms by the emulator.
      await control('faults', { path_prefix: '/text-to-sound', times: 1, delay_ms: 300 });
      let ticks = 0;
      const timer = setInterval(() => {
        ticks += 1;
      }, 10);
      const started = Date.now();
      try {
        await call();
      } finally {
        clearInterval(timer);
      }
      assert.ok(Date.now() - started >= 250, `${name}: the delay fault was not applied`);
      // A blocking call would have let no timer run meanwhile.
      assert.ok(ticks >= 5, `${name}: only ${ticks} timer ticks ran while its request was held`);
    }
    allJobsFreed(c, OPERATIONS.length);
  } finally {
    await c.close();
  }
});

// ---------------------------------------------------------------------------
// Statuses
// ---------------------------------------------------------------------------

test('statuses of the demo tasks', async () => {
  const c = client();
  try {
    const success = await c.getTaskStatus('demo-success');
    assert.equal(success.taskId, 'demo-success');
    assert.equal(success.status, Status.SUCCESS);
    assert.equal(success.statusName, 'CAMB_STATUS_SUCCESS');
    assert.equal(success.statusText, 'SUCCESS');
    assert.equal(success.runId, 4242);
    assert.equal(success.isFinal, true);
    assert.equal(success.exceptionReason, null);
    assert.equal(success.message, null);

    const error = await c.getTaskStatus('demo-error');
    assert.equal(error.status, Status.ERROR);
    assert.equal(error.runId, 4243);
    assert.equal(error.exceptionReason, 'PROCESSING_ERROR');
    assert.equal(error.message, 'The audio model failed to render this prompt');

    const pending = await c.getTaskStatus('demo-pending');
    assert.equal(pending.status, Status.PENDING);
    assert.equal(pending.runId, null);
    assert.equal(pending.isFinal, false);

    const unknown = await c.getTaskStatus('demo-unknown');
    assert.equal(unknown.status, Status.UNKNOWN);
    assert.equal(unknown.statusText, 'QUEUED_FOR_GPU');
    assert.equal(unknown.isFinal, true);

    // The blocking twin says the same.
    for (const [id, info] of [['demo-success', success], ['demo-error', error], ['demo-pending', pending], ['demo-unknown', unknown]]) {
      assert.deepEqual(c.getTaskStatusSync(id), info, id);
    }
  } finally {
    await c.close();
  }
});

test('strings are read by their length: a NUL byte inside is kept', async () => {
  const id = await plantTask({
    task_id: 'node-nul-text',
    final_status: 'DONE\u0000LATER',
    run_id: 7007,
    exception_reason: 'why\u0000not',
    message: 'half\u0000way',
  });
  const c = client();
  try {
    const expected = {
      taskId: id,
      status: Status.UNKNOWN,
      statusName: 'CAMB_STATUS_UNKNOWN',
      statusText: 'DONE\u0000LATER',
      runId: 7007,
      exceptionReason: 'why\u0000not',
      message: 'half\u0000way',
      isFinal: true,
    };
    assert.deepEqual(c.getTaskStatusSync(id), expected);
    assert.deepEqual(await c.getTaskStatus(id), expected);
    assert.deepEqual(c.getTaskStatusesSync([id])[0].info, expected);
    assert.deepEqual((await c.getTaskStatuses([id]))[0].info, expected);
  } finally {
    await c.close();
  }
});

test('a missing task is a CambError with code 404', async () => {
  const c = client();
  try {
    const e = throwsCamb(() => c.getTaskStatusSync('no-such-task'), 404, 404);
    assert.equal(e.code, Result.NOT_FOUND);
    assert.equal(e.name, 'CAMB_RESULT_NOT_FOUND');
    assert.equal(e.message, 'HTTP 404 Not Found: Task not found: no-such-task');
    assert.ok(e instanceof Error);
    const rejected = await rejectsCamb(c.getTaskStatus('no-such-task'), 404, 404);
    assert.equal(rejected.name, e.name);
    assert.equal(rejected.message, e.message);
  } finally {
    await c.close();
  }
});

test('a wrong key is 401, no key is MISSING_API_KEY', async () => {
  const wrong = client({ apiKey: 'not-the-key' });
  try {
    const e = throwsCamb(() => wrong.getTaskStatusSync('demo-success'), Result.UNAUTHORIZED, 401);
    assert.ok(!e.message.includes('not-the-key'), 'the key is never in a message');
    const rejected = await rejectsCamb(wrong.getTaskStatus('demo-success'), Result.UNAUTHORIZED, 401);
    assert.ok(!rejected.message.includes('not-the-key'), 'the key is never in a message');
  } finally {
    await wrong.close();
  }
  const saved = process.env.CAMB_API_KEY;
  delete process.env.CAMB_API_KEY;
  try {
    throwsCamb(() => new Client({ baseUrl }), Result.MISSING_API_KEY, 0);
  } finally {
    if (saved !== undefined) process.env.CAMB_API_KEY = saved;
  }
});

test('bad arguments of blocking calls are refused before anything is sent', async () => {
  throwsCamb(() => client({ baseUrl: 'not a url' }), Result.INVALID_PARAMETER, 0);
  throwsCamb(() => client({ timeoutMs: 0 }), Result.INVALID_PARAMETER, 0);
  throwsCamb(() => client({ jobThreads: 0 }), Result.INVALID_PARAMETER, 0);
  const pem = throwsCamb(() => client({ caBundlePem: 'not a certificate' }), Result.INVALID_PARAMETER, 0);
  assert.match(pem.message, /PEM|certificate/i);
  const c = client();
  try {
    const before = await requestsSeen();
    // A NUL would cut the id short in C: refused, not sent as another id.
    const e = throwsCamb(() => c.getTaskStatusSync('demo-success\0x'), Result.INVALID_PARAMETER, 0);
    assert.match(e.message, /NUL/);
    throwsCamb(() => c.getTaskStatusSync(''), Result.INVALID_PARAMETER, 0);
    throwsCamb(() => c.createTaskSync('rain', { durationS: 11 }), Result.INVALID_PARAMETER, 0);
    throwsCamb(() => c.createTaskSync(''), Result.INVALID_PARAMETER, 0);
    throwsCamb(() => c.waitForTaskSync('demo-success', { initialIntervalMs: 0 }), Result.INVALID_PARAMETER, 0);
    throwsCamb(() => c.saveAudioSync(1.5, path.join(tmpDir, 'x.wav')), Result.INVALID_PARAMETER, 0);
    throwsCamb(() => c.generateSync('rain', path.join(tmpDir, 'no-such-dir', 'x.wav'), { durationS: 1 }), Result.IO, 0);
    throwsCamb(() => c.getTaskStatusSync('demo-success', { signal: 'stop' }), Result.INVALID_PARAMETER, 0);
    assert.equal(await requestsSeen(), before, 'a refused call sent a request');
  } finally {
    await c.close();
  }
});

test('bad arguments of Promises reject (never throw) with libcamb words, and start no job', async () => {
  const c = client();
  try {
    const before = await requestsSeen();
    const empty = await rejectsCamb(c.createTask(''), Result.INVALID_PARAMETER, 0);
    assert.notEqual(empty.message, 'CAMB_RESULT_INVALID_PARAMETER', 'libcamb said why');
    await rejectsCamb(c.getTaskStatus('demo\0success'), Result.INVALID_PARAMETER, 0);
    await rejectsCamb(c.getTaskStatus(''), Result.INVALID_PARAMETER, 0);
    await rejectsCamb(c.generate('rain', path.join(tmpDir, 'x.wav'), { durationS: 11 }), Result.INVALID_PARAMETER, 0);
    // A generation's path is checked before a task is created (and billed).
    await rejectsCamb(c.generate('rain', path.join(tmpDir, 'no-such-dir', 'x.wav'), { durationS: 1 }), Result.IO, 0);
    await rejectsCamb(c.waitForTask('demo-success', { initialIntervalMs: 0 }), Result.INVALID_PARAMETER, 0);
    await rejectsCamb(c.waitForTask('demo-success', { progressIntervalMs: 0, onProgress: () => {} }), Result.INVALID_PARAMETER, 0);
    await rejectsCamb(c.waitForTask('demo-success', { onProgress: 'yes' }), Result.INVALID_PARAMETER, 0);
    await rejectsCamb(c.saveAudio(1.5, path.join(tmpDir, 'x.wav')), Result.INVALID_PARAMETER, 0);
    await rejectsCamb(c.downloadAudio('4242'), Result.INVALID_PARAMETER, 0);
    const batch = await rejectsCamb(c.getTaskStatuses(['demo-success'], { maxConnections: 33 }), Result.INVALID_PARAMETER, 0);
    assert.match(batch.message, /33/);
    const urls = await rejectsCamb(c.getAudioUrls(new Array(1001).fill(4242)), Result.INVALID_PARAMETER, 0);
    assert.match(urls.message, /1001/);
    await rejectsCamb(c.getTaskStatus('demo-success', { signal: {} }), Result.INVALID_PARAMETER, 0);
    assert.deepEqual(c._jobCounts, { started: 0, freed: 0, pending: 0 });
    assert.equal(await requestsSeen(), before, 'a refused job sent a request');
  } finally {
    await c.close();
  }
  await rejectsCamb(c.getTaskStatus('demo-success'), Result.NULL_PARAMETER, 0);
});

// ---------------------------------------------------------------------------
// Create, wait, audio
// ---------------------------------------------------------------------------

test('blocking: create, wait with progress, save, download, URLs', async () => {
  const c = client();
  try {
    const id = c.createTaskSync('rain on a tin roof [pending_ms:600]', { durationS: 1 });
    assert.match(id, /\S/);
    const seen = [];
    const info = c.waitForTaskSync(id, {
      ...quick,
      onProgress: (p) => {
        assert.deepEqual(Object.keys(p), ['polls', 'status', 'statusName']);
        assert.equal(p.polls, seen.length + 1, 'called after every poll');
        seen.push(p);
      },
    });
    assert.equal(info.status, Status.SUCCESS);
    assert.equal(info.taskId, id);
    assert.equal(typeof info.runId, 'number');
    // Progress was seen: PENDING first, then the change to SUCCESS on the last poll.
    assert.ok(seen.length >= 2, `only ${seen.length} progress calls`);
    assert.equal(seen[0].status, Status.PENDING);
    assert.equal(seen[0].statusName, 'CAMB_STATUS_PENDING');
    assert.deepEqual(seen[seen.length - 1], { polls: seen.length, status: Status.SUCCESS, statusName: 'CAMB_STATUS_SUCCESS' });
    assert.deepEqual(statusChanges(seen), ['CAMB_STATUS_PENDING', 'CAMB_STATUS_SUCCESS']);

    const file = path.join(tmpDir, 'rain.wav');
    const size = c.saveAudioSync(info.runId, file);
    const bytes = fs.readFileSync(file);
    assert.equal(bytes.length, size);
    isWav(bytes);

    // The same audio in memory, and its URL, alone and in a batch.
    assert.ok(c.downloadAudioSync(info.runId).equals(bytes));
    const url = c.getAudioUrlSync(info.runId);
    assert.ok(url.startsWith(`${baseUrl}/_emulator/files/${info.runId}.wav?signature=`), url);
    assert.deepEqual(c.getAudioUrlsSync([info.runId, 4243, 999999]), [
      { runId: info.runId, url },
      { runId: 4243, url: null }, // a run that did not succeed has no audio
      { runId: 999999, url: null }, // nor has an unknown one
    ]);
  } finally {
    await c.close();
  }
});

test('Promises: all nine operations, each as its blocking twin', async () => {
  const c = client();
  try {
    const id = await c.createTask('rain on a tin roof [pending_ms:300]', { durationS: 1 });
    assert.match(id, /\S/);
    const info = await c.waitForTask(id, quick);
    assert.equal(info.status, Status.SUCCESS);
    assert.deepEqual(info, c.getTaskStatusSync(id));
    assert.deepEqual(await c.getTaskStatus(id), info);

    const file = path.join(tmpDir, 'promise-rain.wav');
    const size = await c.saveAudio(info.runId, file);
    const bytes = fs.readFileSync(file);
    assert.equal(bytes.length, size);
    isWav(bytes);
    const audio = await c.downloadAudio(info.runId);
    assert.ok(Buffer.isBuffer(audio));
    assert.ok(audio.equals(bytes), 'the download is the saved file');
    assert.ok(audio.equals(c.downloadAudioSync(info.runId)));

    const url = await c.getAudioUrl(info.runId);
    assert.equal(url, c.getAudioUrlSync(info.runId));
    assert.deepEqual(await c.getAudioUrls([info.runId, 4243, 999999]), [
      { runId: info.runId, url },
      { runId: 4243, url: null },
      { runId: 999999, url: null },
    ]);
    assert.deepEqual(await c.getAudioUrls([]), []);
    const entries = await c.getTaskStatuses([id, 'demo-error']);
    assert.deepEqual(entries, c.getTaskStatusesSync([id, 'demo-error']));
    assert.deepEqual(entries[0].info, info);

    const generated = path.join(tmpDir, 'promise-generated.wav');
    const result = await c.generate('rain on a tin roof [pending_ms:100]', generated, { durationS: 1, ...quick });
    assert.deepEqual(Object.keys(result), ['taskId', 'task', 'bytes', 'polls']);
    assert.equal(result.bytes, fs.statSync(generated).size);
    allJobsFreed(c, 10);
  } finally {
    await c.close();
  }
});

test('music with project fields is accepted', async () => {
  const c = client();
  try {
    const music = { durationS: 1, audioType: AudioType.MUSIC, projectName: 'node', projectDescription: 'tests', folderId: 7 };
    assert.equal(c.waitForTaskSync(c.createTaskSync('a drum loop', music), quick).status, Status.SUCCESS);
    assert.equal((await c.waitForTask(await c.createTask('a drum loop', music), quick)).status, Status.SUCCESS);
  } finally {
    await c.close();
  }
});

test('a failed task is returned, not thrown', async () => {
  const c = client();
  try {
    const info = c.waitForTaskSync(c.createTaskSync('glass [status:ERROR]'), quick);
    assert.equal(info.status, Status.ERROR);
    assert.equal(info.exceptionReason, 'PROCESSING_ERROR');
    const resolved = await c.waitForTask(await c.createTask('glass [status:ERROR]'), quick);
    assert.equal(resolved.status, Status.ERROR);
    assert.equal(resolved.exceptionReason, 'PROCESSING_ERROR');
  } finally {
    await c.close();
  }
});

test('returning false from onProgress stops a blocking wait: CANCELLED', async () => {
  const c = client();
  try {
    let calls = 0;
    const e = throwsCamb(() => c.waitForTaskSync('demo-pending', {
      ...quick,
      onProgress: () => {
        calls += 1;
        return calls < 3;
      },
    }), Result.CANCELLED, 0);
    assert.equal(e.name, 'CAMB_RESULT_CANCELLED');
    assert.match(e.message, /onProgress returned false after 3 poll/);
    assert.equal(calls, 3);
  } finally {
    await c.close();
  }
});

test('an exception thrown in onProgress comes out of waitForTaskSync unchanged', async () => {
  const c = client();
  try {
    const mine = new RangeError('stop here');
    assert.throws(() => c.waitForTaskSync('demo-pending', {
      ...quick,
      onProgress: () => {
        throw mine;
      },
    }), (e) => e === mine);
    // Also when thrown on the poll that ended the wait.
    assert.throws(() => c.waitForTaskSync('demo-success', {
      ...quick,
      onProgress: () => {
        throw mine;
      },
    }), (e) => e === mine);
  } finally {
    await c.close();
  }
});

test('a blocking wait past its deadline is TIMEOUT', async () => {
  const c = client();
  try {
    const e = throwsCamb(() => c.waitForTaskSync('demo-pending', { ...quick, deadlineMs: 200 }), Result.TIMEOUT, 0);
    assert.match(e.message, /PENDING/);
  } finally {
    await c.close();
  }
});

test('a missing run, and a run that did not succeed', async () => {
  const c = client();
  try {
    throwsCamb(() => c.saveAudioSync(999999, path.join(tmpDir, 'none.wav')), Result.NOT_FOUND, 404);
    throwsCamb(() => c.downloadAudioSync(4243), Result.HTTP_STATUS, 400);
    throwsCamb(() => c.getAudioUrlSync(999999), Result.NOT_FOUND, 404);
    throwsCamb(() => c.saveAudioSync(4242, path.join(tmpDir, 'no-such-dir', 'a.wav')), Result.IO, 0);
    assert.deepEqual(c.getAudioUrlsSync([]), []);
    throwsCamb(() => c.getAudioUrlsSync(new Array(1001).fill(4242)), Result.INVALID_PARAMETER, 0);

    await rejectsCamb(c.saveAudio(999999, path.join(tmpDir, 'none-job.wav')), Result.NOT_FOUND, 404);
    await rejectsCamb(c.downloadAudio(4243), Result.HTTP_STATUS, 400);
    await rejectsCamb(c.downloadAudio(999999), Result.NOT_FOUND, 404);
    await rejectsCamb(c.getAudioUrl(999999), Result.NOT_FOUND, 404);
    await rejectsCamb(c.saveAudio(4242, path.join(tmpDir, 'no-such-dir', 'a.wav')), Result.IO, 0);
    assert.deepEqual(fs.readdirSync(tmpDir).filter((f) => f.startsWith('none')), []);
  } finally {
    await c.close();
  }
});

// ---------------------------------------------------------------------------
// Batches
// ---------------------------------------------------------------------------

test('a batch gives each task its status or its own error, in order', async () => {
  const c = client();
  try {
    const ids = ['demo-success', 'no-such-task', '', 'demo-error', 'demo-pending'];
    const entries = c.getTaskStatusesSync(ids, { maxConnections: 2 });
    assert.deepEqual(entries.map((e) => e.taskId), ids);
    assert.deepEqual(entries[0].info, c.getTaskStatusSync('demo-success'));
    assert.equal(entries[0].error, null);

    assert.equal(entries[1].info, null);
    isCamb(entries[1].error, Result.NOT_FOUND, 404);
    assert.equal(entries[1].error.name, 'CAMB_RESULT_NOT_FOUND');
    assert.equal(entries[1].error.message, 'HTTP 404 Not Found: Task not found: no-such-task');

    // An invalid id fails its own entry only, before anything is sent for it.
    assert.equal(entries[2].info, null);
    isCamb(entries[2].error, Result.INVALID_PARAMETER, 0);
    assert.match(entries[2].error.message, /empty/);

    assert.equal(entries[3].info.exceptionReason, 'PROCESSING_ERROR');
    assert.equal(entries[4].info.status, Status.PENDING);

    assert.deepEqual(await c.getTaskStatuses(ids, { maxConnections: 2 }), entries);

    assert.deepEqual(c.getTaskStatusesSync([]), []);
    throwsCamb(() => c.getTaskStatusesSync(['demo-success'], { maxConnections: 33 }), Result.INVALID_PARAMETER, 0);
    throwsCamb(() => c.getTaskStatusesSync(['demo\0success']), Result.INVALID_PARAMETER, 0);
  } finally {
    await c.close();
  }
});

test('getTaskStatuses: a batch job on libcamb threads', async () => {
  const c = client();
  try {
    const ids = [];
    for (let i = 0; i < 40; i++) ids.push(i % 10 === 9 ? `missing-${i}` : ['demo-success', 'demo-error', 'demo-pending'][i % 3]);
    const entries = await c.getTaskStatuses(ids, { maxConnections: 4 });
    assert.equal(entries.length, ids.length);
    entries.forEach((entry, i) => {
      assert.equal(entry.taskId, ids[i]);
      if (ids[i].startsWith('missing-')) {
        isCamb(entry.error, Result.NOT_FOUND, 404);
        assert.equal(entry.error.message, `HTTP 404 Not Found: Task not found: ${ids[i]}`);
      } else {
        assert.equal(entry.error, null);
        assert.equal(entry.info.statusText, { 'demo-success': 'SUCCESS', 'demo-error': 'ERROR', 'demo-pending': 'PENDING' }[ids[i]]);
      }
    });
    assert.deepEqual(await c.getTaskStatuses([]), []);
    // A refused batch rejects with its code and libcamb's words (read on this thread).
    const refused = await rejectsCamb(c.getTaskStatuses(['demo-success'], { maxConnections: 33 }), Result.INVALID_PARAMETER, 0);
    assert.equal(refused.name, 'CAMB_RESULT_INVALID_PARAMETER');
    assert.notEqual(refused.message, refused.name);
    await rejectsCamb(c.getTaskStatuses(['demo\0success']), Result.INVALID_PARAMETER, 0);
    allJobsFreed(c, 2);
  } finally {
    await c.close();
  }
});

// ---------------------------------------------------------------------------
// Promises: libcamb jobs, handed back through a queue whose descriptor is
// watched on Node's event loop
// ---------------------------------------------------------------------------

test('getTaskStatus resolves to what getTaskStatusSync returns', async () => {
  const c = client();
  try {
    const promise = c.getTaskStatus('demo-success');
    assert.ok(promise instanceof Promise);
    const info = await promise;
    assert.equal(info.status, Status.SUCCESS);
    assert.equal(info.statusText, 'SUCCESS');
    assert.equal(info.runId, 4242);
    assert.equal(info.taskId, 'demo-success');
    assert.deepEqual(info, c.getTaskStatusSync('demo-success'));
    const error = await c.getTaskStatus('demo-error');
    assert.equal(error.message, 'The audio model failed to render this prompt');
  } finally {
    await c.close();
  }
});

test('a Promise leaves the event loop free while its job runs', async () => {
  const id = await plantTask({ task_id: 'node-slow-1', final_status: 'SUCCESS', run_id: 8001 });
  await delayStatuses('node-slow-', 400, 1);
  const c = client();
  try {
    let ticks = 0;
    const timer = setInterval(() => {
      ticks += 1;
    }, 10);
    const started = Date.now();
    let info;
    try {
      info = await c.getTaskStatus(id);
    } finally {
      clearInterval(timer);
    }
    assert.ok(Date.now() - started >= 350, 'the delay fault was not applied');
    assert.equal(info.runId, 8001);
    // A blocking call would have let no timer run during the 400 ms.
    assert.ok(ticks >= 5, `only ${ticks} timer ticks ran during the call`);
  } finally {
    await c.close();
  }
});

test('concurrent Promises each get their own result', async () => {
  // Each reply is held 300 ms: one after another they would take 1.2 s or more.
  const ids = await plantAlternating('node-many-', 4, 9000, 300);
  const c = client();
  try {
    const started = Date.now();
    const all = await Promise.all([
      ...ids.map((id) => c.getTaskStatus(id)),
      c.getTaskStatus('demo-unknown'),
      c.getTaskStatus('no-such-task').then(() => 'resolved', (e) => e),
    ]);
    const elapsed = Date.now() - started;
    ids.forEach((id, i) => {
      const info = all[i];
      assert.equal(info.taskId, id);
      assert.equal(info.runId, 9000 + i);
      assert.equal(info.status, i % 2 === 0 ? Status.SUCCESS : Status.ERROR);
      assert.equal(info.exceptionReason, i % 2 === 0 ? null : `REASON_${i}`);
    });
    assert.equal(all[4].statusText, 'QUEUED_FOR_GPU');
    isCamb(all[5], Result.NOT_FOUND, 404);
    assert.equal(all[5].message, 'HTTP 404 Not Found: Task not found: no-such-task');
    assert.ok(elapsed >= 250, `${elapsed} ms: the delay faults were not applied`);
    assert.ok(elapsed < 1100, `${elapsed} ms: the calls did not overlap`);
  } finally {
    await c.close();
  }
});

test('a failed Promise rejects with its code, name, HTTP status and message', async () => {
  const c = client();
  try {
    const e = await rejectsCamb(c.getTaskStatus('no-such-task'), Result.NOT_FOUND, 404);
    assert.equal(e.name, 'CAMB_RESULT_NOT_FOUND');
    // The words of the failure, as the blocking call gives them.
    assert.equal(e.message, throwsCamb(() => c.getTaskStatusSync('no-such-task'), 404).message);
    assert.equal(e.message, 'HTTP 404 Not Found: Task not found: no-such-task');

    const wrong = client({ apiKey: 'not-the-key' });
    try {
      const unauthorized = await rejectsCamb(wrong.getTaskStatus('demo-success'), Result.UNAUTHORIZED, 401);
      assert.ok(!unauthorized.message.includes('not-the-key'), 'the key is never in a message');
    } finally {
      await wrong.close();
    }

    // Bad arguments reject too (they do not throw).
    const nul = await rejectsCamb(c.getTaskStatus('demo\0success'), Result.INVALID_PARAMETER, 0);
    assert.match(nul.message, /NUL/);
    await rejectsCamb(c.getTaskStatus(''), Result.INVALID_PARAMETER, 0);
  } finally {
    await c.close();
  }
});

test('a status through a job equals the blocking call, failures included', async () => {
  const id = await plantTask({
    task_id: 'node-job-nul', final_status: 'DONE\u0000LATER', run_id: 7008, message: 'half\u0000way',
  });
  const c = client();
  try {
    for (const taskId of ['demo-success', 'demo-error', 'demo-pending', 'demo-unknown', id]) {
      const promise = c.getTaskStatus(taskId);
      assert.ok(promise instanceof Promise);
      assert.deepEqual(await promise, c.getTaskStatusSync(taskId), taskId);
    }
    assert.equal((await c.getTaskStatus(id)).statusText, 'DONE\u0000LATER');
    // The job's own words and HTTP status, as the blocking call gives them.
    const sync = throwsCamb(() => c.getTaskStatusSync('no-such-task'), Result.NOT_FOUND, 404);
    const job = await rejectsCamb(c.getTaskStatus('no-such-task'), Result.NOT_FOUND, 404);
    assert.equal(job.name, 'CAMB_RESULT_NOT_FOUND');
    assert.equal(job.message, sync.message);
    assert.equal(job.message, 'HTTP 404 Not Found: Task not found: no-such-task');
    const wrong = client({ apiKey: 'not-the-key' });
    try {
      const e = await rejectsCamb(wrong.getTaskStatus('demo-success'), Result.UNAUTHORIZED, 401);
      assert.ok(!e.message.includes('not-the-key'), 'the key is never in a message');
      allJobsFreed(wrong, 1);
    } finally {
      await wrong.close();
    }
    allJobsFreed(c, 7);
  } finally {
    await c.close();
  }
});

test('job Promises run at once, each with its own result, and leave the event loop free', async () => {
  // Each status reply is held 300 ms: one after another they would take 1.8 s or more.
  const ids = await plantAlternating('node-jobs-', 6, 9100, 300);
  const c = client({ jobThreads: 8 });
  try {
    let ticks = 0;
    const timer = setInterval(() => {
      ticks += 1;
    }, 10);
    const started = Date.now();
    let all;
    try {
      all = await Promise.all([
        ...ids.map((id) => c.getTaskStatus(id)),
        c.getTaskStatus('no-such-task').then(() => 'resolved', (e) => e),
        c.getTaskStatuses(['demo-success', 'missing-in-batch', ''], { maxConnections: 2 }),
      ]);
    } finally {
      clearInterval(timer);
    }
    const elapsed = Date.now() - started;
    ids.forEach((id, i) => {
      assert.equal(all[i].taskId, id);
      assert.equal(all[i].runId, 9100 + i);
      assert.equal(all[i].status, i % 2 === 0 ? Status.SUCCESS : Status.ERROR);
      assert.equal(all[i].exceptionReason, i % 2 === 0 ? null : `REASON_${i}`);
    });
    isCamb(all[6], Result.NOT_FOUND, 404);
    const batch = all[7];
    assert.deepEqual(batch.map((e) => e.taskId), ['demo-success', 'missing-in-batch', '']);
    assert.deepEqual(batch[0].info, c.getTaskStatusSync('demo-success'));
    isCamb(batch[1].error, Result.NOT_FOUND, 404);
    assert.equal(batch[1].error.message, 'HTTP 404 Not Found: Task not found: missing-in-batch');
    isCamb(batch[2].error, Result.INVALID_PARAMETER, 0);
    assert.ok(elapsed >= 250, `${elapsed} ms: the delay faults were not applied`);
    assert.ok(elapsed < 1500, `${elapsed} ms: the jobs did not overlap`);
    assert.ok(ticks >= 5, `only ${ticks} timer ticks ran while the jobs ran`);
    allJobsFreed(c, 8);
  } finally {
    await c.close();
  }
});

test('jobs come back through the queue: one wake of its descriptor takes every finished job', async () => {
  const c = client();
  try {
    const promises = Array.from({ length: 8 }, (_, i) => c.getTaskStatus(i % 2 ? 'demo-success' : 'demo-error'));
    let settled = 0;
    for (const p of promises) p.then(() => { settled += 1; });
    assert.deepEqual(c._inFlight().map((j) => j.kind), new Array(8).fill(JobKind.GET_TASK_STATUS));
    // This thread stays busy until every job is done: they wait on the queue,
    // and nothing settles until the event loop turns.
    const end = Date.now() + 10000;
    while (!c._inFlight().every((j) => j.state === JobState.DONE)) {
      assert.ok(Date.now() < end, 'the jobs did not finish');
    }
    const busy = Date.now() + 200; // each is put on the queue just after it is DONE
    while (Date.now() < busy);
    await Promise.resolve();
    assert.equal(settled, 0, 'a Promise settled without the event loop');
    assert.deepEqual(c._jobCounts, { started: 8, freed: 0, pending: 8 });
    const wakes = c._queueWakes;
    const all = await Promise.all(promises);
    assert.equal(c._queueWakes - wakes, 1, 'the eight finished jobs were not taken in one wake');
    assert.deepEqual(all.map((t) => t.status), promises.map((_, i) => (i % 2 ? Status.SUCCESS : Status.ERROR)));
    allJobsFreed(c, 8);
  } finally {
    await c.close();
  }
});

test('waitForTask: progress on the main thread, then the final status', async () => {
  const c = client();
  try {
    const id = c.createTaskSync('thunder [pending_ms:400]', { durationS: 1 });
    let ticks = 0;
    const timer = setInterval(() => {
      ticks += 1;
    }, 10);
    const seen = [];
    let info;
    try {
      info = await c.waitForTask(id, { ...quick, progressIntervalMs: 10, onProgress: (p) => seen.push(p) });
    } finally {
      clearInterval(timer);
    }
    assert.equal(info.taskId, id);
    assert.equal(info.status, Status.SUCCESS);
    assert.equal(typeof info.runId, 'number');
    assert.deepEqual(info, c.getTaskStatusSync(id));
    assert.ok(seen.length >= 2, `only ${seen.length} progress calls`);
    seen.slice(1).forEach((p, i) => assert.ok(p.polls >= seen[i].polls, 'polls never go back'));
    assert.deepEqual(statusChanges(seen), ['CAMB_STATUS_PENDING', 'CAMB_STATUS_SUCCESS']);
    assert.equal(seen[seen.length - 1].status, Status.SUCCESS);
    assert.ok(ticks >= 5, `only ${ticks} timer ticks ran during a 400 ms wait`);
  } finally {
    await c.close();
  }
});

test('waitForTask failures reject with the right code', async () => {
  const c = client();
  try {
    // A 404 ends the wait, in the job's own words.
    const missing = await rejectsCamb(c.waitForTask('no-such-task', quick), Result.NOT_FOUND, 404);
    assert.equal(missing.message, 'HTTP 404 Not Found: Task not found: no-such-task');
    const timeout = await rejectsCamb(c.waitForTask('demo-pending', { ...quick, deadlineMs: 200 }), Result.TIMEOUT, 0);
    assert.match(timeout.message, /PENDING/);
    await rejectsCamb(c.waitForTask('demo-pending', { ...quick, initialIntervalMs: 0 }), Result.INVALID_PARAMETER);

    let calls = 0;
    await rejectsCamb(c.waitForTask('demo-pending', {
      ...quick,
      progressIntervalMs: 10,
      onProgress: () => {
        calls += 1;
        return calls < 2;
      },
    }), Result.CANCELLED, 0);
    assert.equal(calls, 2, 'no report after onProgress returned false');

    const mine = new RangeError('stop here');
    await assert.rejects(c.waitForTask('demo-pending', {
      ...quick,
      progressIntervalMs: 10,
      onProgress: () => {
        throw mine;
      },
    }), (e) => e === mine);
    allJobsFreed(c, 4);
  } finally {
    await c.close();
  }
});

test('createTask, waitForTask with progress, saveAudio as jobs', async () => {
  const c = client();
  try {
    const id = await c.createTask('a kettle [pending_ms:300]', { durationS: 1 });
    assert.match(id, /\S/);
    const seen = [];
    const info = await c.waitForTask(id, { ...quick, progressIntervalMs: 10, onProgress: (p) => seen.push(p) });
    assert.deepEqual(info, c.getTaskStatusSync(id));
    assert.equal(info.status, Status.SUCCESS);
    assert.ok(seen.some((p) => p.status === Status.PENDING && p.polls >= 1), JSON.stringify(seen));
    const last = seen[seen.length - 1];
    assert.deepEqual([last.status, last.statusName], [Status.SUCCESS, 'CAMB_STATUS_SUCCESS']);
    // Reported when something changed: never the same twice in a row.
    seen.slice(1).forEach((p, i) => {
      assert.ok(p.polls >= seen[i].polls, 'polls never go back');
      assert.notDeepEqual(p, seen[i]);
    });

    const file = path.join(tmpDir, 'job-save.wav');
    const bytes = await c.saveAudio(info.runId, file);
    assert.equal(bytes, fs.statSync(file).size);
    assert.ok(c.downloadAudioSync(info.runId).equals(fs.readFileSync(file)));
    await rejectsCamb(c.saveAudio(999999, path.join(tmpDir, 'job-none.wav')), Result.NOT_FOUND, 404);
    // A final ERROR is the wait's result, not a rejection.
    assert.equal((await c.waitForTask('demo-error', quick)).exceptionReason, 'PROCESSING_ERROR');
    const late = await rejectsCamb(c.waitForTask('demo-pending', { ...quick, deadlineMs: 200 }), Result.TIMEOUT, 0);
    assert.match(late.message, /\S/);
    allJobsFreed(c, 6);
  } finally {
    await c.close();
  }
});

test('generate: prompt to WAV file in one job, with progress', async () => {
  const c = client();
  try {
    const file = path.join(tmpDir, 'generated.wav');
    const seen = [];
    const result = await c.generate('rain on a tin roof [pending_ms:400]', file, {
      durationS: 1, ...quick, progressIntervalMs: 10, onProgress: (p) => seen.push(p),
    });
    assert.equal(result.task.status, Status.SUCCESS);
    assert.equal(result.task.taskId, result.taskId);
    assert.deepEqual(result.task, c.getTaskStatusSync(result.taskId));
    const bytes = fs.readFileSync(file);
    assert.equal(result.bytes, bytes.length);
    isWav(bytes);
    assert.ok(c.downloadAudioSync(result.task.runId).equals(bytes), 'the file is the run audio');
    // Polled every 20 ms (not libcamb's default 2 s) for a task pending 400 ms.
    assert.ok(result.polls >= 4, `${result.polls} polls for a task pending 400 ms`);
    assert.ok(seen.some((p) => p.status === Status.PENDING), JSON.stringify(seen));
    const last = seen[seen.length - 1];
    assert.deepEqual(last, { polls: result.polls, status: Status.SUCCESS, statusName: 'CAMB_STATUS_SUCCESS' });
    allJobsFreed(c, 1);
  } finally {
    await c.close();
  }
});

test('generateSync: prompt to WAV file on this thread, with progress after every poll', async () => {
  const c = client();
  try {
    const file = path.join(tmpDir, 'generated-sync.wav');
    const seen = [];
    const result = c.generateSync('rain on a tin roof [pending_ms:200]', file, {
      durationS: 1, ...quick, onProgress: (p) => seen.push(p),
    });
    assert.deepEqual(Object.keys(result), ['taskId', 'task', 'bytes', 'polls']);
    assert.equal(result.task.status, Status.SUCCESS);
    assert.equal(result.task.taskId, result.taskId);
    assert.deepEqual(result.task, c.getTaskStatusSync(result.taskId));
    const bytes = fs.readFileSync(file);
    assert.equal(result.bytes, bytes.length);
    isWav(bytes);
    assert.ok(result.polls >= 2, `${result.polls} polls for a task pending 200 ms`);
    assert.deepEqual(seen.map((p) => p.polls), seen.map((_, i) => i + 1));
    assert.equal(seen.length, result.polls);
    assert.deepEqual(statusChanges(seen), ['CAMB_STATUS_PENDING', 'CAMB_STATUS_SUCCESS']);
    assert.equal(c._jobCounts, null, 'a blocking call made no job');
  } finally {
    await c.close();
  }
});

test('a generation whose task fails is TASK_FAILED and leaves no file', async () => {
  const c = client();
  try {
    const file = path.join(tmpDir, 'failed.wav');
    const e = await rejectsCamb(c.generate('glass [status:ERROR]', file, { durationS: 1, ...quick }), Result.TASK_FAILED, 0);
    assert.equal(e.code, 9);
    assert.equal(e.name, 'CAMB_RESULT_TASK_FAILED');
    const words = /^task \S+ ended ERROR: PROCESSING_ERROR \(The audio model failed to render this prompt\)$/;
    assert.match(e.message, words);
    assert.equal(fs.existsSync(file), false);
    allJobsFreed(c, 1);
    const sync = throwsCamb(() => c.generateSync('glass [status:ERROR]', file, { durationS: 1, ...quick }), Result.TASK_FAILED, 0);
    assert.match(sync.message, words);
    assert.equal(fs.existsSync(file), false);
  } finally {
    await c.close();
  }
});

test('progress has one shape in every form: { polls, status, statusName }', async () => {
  const c = client();
  try {
    const forms = {
      waitForTaskSync: [], waitForTask: [], generateSync: [], generate: [],
    };
    const collect = (name) => ({ ...quick, durationS: 1, progressIntervalMs: 10, onProgress: (p) => forms[name].push(p) });
    c.waitForTaskSync(c.createTaskSync('wind [pending_ms:400]'), collect('waitForTaskSync'));
    await c.waitForTask(await c.createTask('wind [pending_ms:400]'), collect('waitForTask'));
    c.generateSync('wind [pending_ms:400]', path.join(tmpDir, 'shape-1.wav'), collect('generateSync'));
    await c.generate('wind [pending_ms:400]', path.join(tmpDir, 'shape-2.wav'), collect('generate'));
    // Each key with the type of its value, in order.
    const shape = (p) => Object.entries(p).map(([key, value]) => `${key}: ${typeof value}`);
    const withoutPolls = ({ polls, ...rest }) => rest;
    for (const [name, seen] of Object.entries(forms)) {
      assert.ok(seen.length >= 1, `${name} reported no progress`);
      for (const p of seen) {
        assert.deepEqual(shape(p), ['polls: number', 'status: number', 'statusName: string'], name);
        assert.ok(Number.isInteger(p.polls) && p.polls >= 1, name);
        assert.equal(p.statusName, `CAMB_STATUS_${Object.keys(Status).find((k) => Status[k] === p.status)}`);
      }
      // The same statuses, told the same way, whichever the form.
      assert.deepEqual(statusChanges(seen), ['CAMB_STATUS_PENDING', 'CAMB_STATUS_SUCCESS'], name);
      assert.deepEqual(withoutPolls(seen[0]), { status: Status.PENDING, statusName: 'CAMB_STATUS_PENDING' }, name);
      assert.deepEqual(withoutPolls(seen[seen.length - 1]), { status: Status.SUCCESS, statusName: 'CAMB_STATUS_SUCCESS' }, name);
    }
  } finally {
    await c.close();
  }
});

test('aborting its signal cancels a sleeping waitForTask at once', async () => {
  const c = client();
  try {
    const controller = new AbortController();
    const started = Date.now();
    const promise = c.waitForTask('demo-pending', { ...slow, signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const e = await rejectsCamb(promise, Result.CANCELLED, 0);
    assert.ok(Date.now() - started < 5000, 'the wait slept on after the abort');
    assert.equal(e.cause, controller.signal.reason);
    // An already aborted signal: nothing starts.
    await rejectsCamb(c.waitForTask('demo-success', { signal: controller.signal }), Result.CANCELLED, 0);
    allJobsFreed(c, 1);
  } finally {
    await c.close();
  }
});

test('aborting its signal cancels waiting jobs at once; they hold no thread between polls', async () => {
  const c = client();
  try {
    const controller = new AbortController();
    const options = { ...slow, signal: controller.signal };
    const states = [];
    const started = Date.now();
    const waiting = c.waitForTask('demo-pending', options);
    const generating = c.generate('a gong [pending_ms:60000]', path.join(tmpDir, 'aborted.wav'), { durationS: 1, ...options });
    await until(() => c._inFlight().every((j) => j.state === JobState.WAITING), 'both jobs to wait between polls');
    states.push(...c._inFlight());
    controller.abort(new Error('enough'));
    const [wait, generation] = await Promise.all([
      rejectsCamb(waiting, Result.CANCELLED, 0),
      rejectsCamb(generating, Result.CANCELLED, 0),
    ]);
    assert.ok(Date.now() - started < 5000, 'the jobs slept on after the abort');
    assert.equal(wait.cause, controller.signal.reason);
    assert.equal(generation.cause, controller.signal.reason);
    assert.match(wait.message, /aborted through its signal after 1 poll/);
    assert.deepEqual(states, [
      { kind: JobKind.WAIT_FOR_TASK, state: JobState.WAITING },
      { kind: JobKind.GENERATE, state: JobState.WAITING },
    ]);
    assert.equal(fs.existsSync(path.join(tmpDir, 'aborted.wav')), false);
    // An already aborted signal: nothing starts.
    await rejectsCamb(c.getTaskStatus('demo-success', { signal: controller.signal }), Result.CANCELLED, 0);
    allJobsFreed(c, 2);
  } finally {
    await c.close();
  }
});

test('an AbortSignal cancels a job of every kind; each still comes back through the queue and is freed', async () => {
  // One job thread, held by a slow status query: the nine jobs queue behind it
  // and are cancelled there, before any of them sends a request.
  const blocker = await plantTask({ task_id: 'node-abort-blocker', final_status: 'SUCCESS', run_id: 8101 });
  await delayStatuses('node-abort-blocker', 800, 1);
  const c = client({ jobThreads: 1 });
  try {
    const before = await requestsSeen();
    const first = c.getTaskStatus(blocker);
    const controller = new AbortController();
    const signal = controller.signal;
    const saved = path.join(tmpDir, 'abort-save.wav');
    const generated = path.join(tmpDir, 'abort-generate.wav');
    const jobs = [
      c.getTaskStatus('demo-success', { signal }),
      c.createTask('rain', { durationS: 1, signal }),
      c.waitForTask('demo-success', { ...quick, signal }),
      c.downloadAudio(4242, { signal }),
      c.saveAudio(4242, saved, { signal }),
      c.getAudioUrl(4242, { signal }),
      c.getAudioUrls([4242], { signal }),
      c.getTaskStatuses(['demo-success'], { signal }),
      c.generate('rain', generated, { durationS: 1, ...quick, signal }),
    ];
    const queued = c._inFlight().slice(1);
    assert.deepEqual(queued.map((j) => j.kind), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.ok(queued.every((j) => j.state === JobState.QUEUED), JSON.stringify(queued));
    controller.abort(new Error('not now'));
    const errors = await Promise.all(jobs.map((job) => rejectsCamb(job, Result.CANCELLED, 0)));
    for (const e of errors) {
      assert.equal(e.cause, signal.reason);
      assert.match(e.message, /aborted through its signal/);
    }
    assert.equal((await first).runId, 8101);
    assert.equal(await requestsSeen(), before + 1, 'only the blocker was answered');
    assert.equal(fs.existsSync(saved), false);
    assert.equal(fs.existsSync(generated), false);
    allJobsFreed(c, 10);
  } finally {
    await c.close();
  }
});

test("a blocking call's signal is its cancel token", async () => {
  const c = client();
  try {
    const controller = new AbortController();
    const seen = [];
    const wait = throwsCamb(() => c.waitForTaskSync('demo-pending', {
      ...quick,
      signal: controller.signal,
      onProgress: (p) => {
        seen.push(p);
        if (p.polls === 2) controller.abort(new Error('enough'));
      },
    }), Result.CANCELLED, 0);
    assert.equal(wait.cause, controller.signal.reason);
    assert.match(wait.message, /aborted through its signal after 2 poll/);
    assert.equal(seen.length, 2, 'the wait polled on after the abort');

    const file = path.join(tmpDir, 'aborted-sync.wav');
    const generation = new AbortController();
    const e = throwsCamb(() => c.generateSync('a gong [pending_ms:60000]', file, {
      durationS: 1, ...slow, signal: generation.signal, onProgress: () => generation.abort(),
    }), Result.CANCELLED, 0);
    assert.equal(e.cause, generation.signal.reason);
    assert.equal(fs.existsSync(file), false);

    // An already aborted signal: nothing is sent.
    const before = await requestsSeen();
    for (const call of [
      () => c.getTaskStatusSync('demo-success', { signal: controller.signal }),
      () => c.createTaskSync('rain', { signal: controller.signal }),
      () => c.downloadAudioSync(4242, { signal: controller.signal }),
      () => c.saveAudioSync(4242, file, { signal: controller.signal }),
      () => c.getAudioUrlSync(4242, { signal: controller.signal }),
      () => c.getAudioUrlsSync([4242], { signal: controller.signal }),
      () => c.getTaskStatusesSync(['demo-success'], { signal: controller.signal }),
    ]) {
      assert.equal(throwsCamb(call, Result.CANCELLED, 0).cause, controller.signal.reason);
    }
    assert.equal(await requestsSeen(), before);
    // A signal that is never aborted changes nothing.
    assert.equal(c.getTaskStatusSync('demo-success', { signal: new AbortController().signal }).runId, 4242);
  } finally {
    await c.close();
  }
});

test('onProgress returning false, or throwing, cancels the job', async () => {
  const c = client();
  try {
    const stopped = await rejectsCamb(c.waitForTask('demo-pending', {
      ...quick, progressIntervalMs: 10, onProgress: (p) => p.polls < 2,
    }), Result.CANCELLED, 0);
    assert.match(stopped.message, /onProgress returned false/);
    const mine = new RangeError('stop here');
    await assert.rejects(c.waitForTask('demo-pending', {
      ...quick,
      progressIntervalMs: 10,
      onProgress: () => {
        throw mine;
      },
    }), (e) => e === mine);
    allJobsFreed(c, 2);
  } finally {
    await c.close();
  }
});

test('close cancels the running jobs: they reject with CANCELLED, and are freed', async () => {
  const c = client();
  const waits = [c.waitForTask('demo-pending', slow), c.waitForTask('demo-pending', slow)];
  const started = Date.now();
  const closing = c.close();
  for (const e of await Promise.all(waits.map((wait) => rejectsCamb(wait, Result.CANCELLED, 0)))) {
    assert.match(e.message, /client was closed/);
  }
  await closing;
  assert.ok(Date.now() - started < 5000);
  allJobsFreed(c, 2);
  await rejectsCamb(c.generate('rain', path.join(tmpDir, 'closed.wav')), Result.NULL_PARAMETER, 0);
});

test('a pending job keeps Node alive; a client with none does not', () => {
  const file = path.join(tmpDir, 'alive.wav');
  const run = (body) => spawnSync(process.execPath, ['-e', `
    const { Client } = require('libcamb');
    const c = new Client({ baseUrl: ${JSON.stringify(baseUrl)}, apiKey: ${JSON.stringify(apiKey)} });
    ${body}
  `], { cwd: __dirname, encoding: 'utf8', timeout: 30000 });
  // Nothing but the job is left for the event loop: Node must wait for it.
  const waited = run(`c.generate('rain [pending_ms:300]', ${JSON.stringify(file)}, { durationS: 1, initialIntervalMs: 50, maxIntervalMs: 50 })
      .then((r) => console.log(JSON.stringify({ bytes: r.bytes })), (e) => console.log(JSON.stringify({ error: e.message })));`);
  assert.equal(waited.signal, null, waited.stderr);
  assert.equal(waited.status, 0, waited.stderr);
  assert.deepEqual(JSON.parse(waited.stdout), { bytes: fs.statSync(file).size });
  // After its last job, an open client holds nothing that keeps Node running.
  const idle = run(`c.getTaskStatus('demo-success').then((t) => console.log(t.statusText));`);
  assert.equal(idle.signal, null, `Node did not exit on its own: ${idle.stderr}`);
  assert.equal(idle.status, 0, idle.stderr);
  assert.equal(idle.stdout.trim(), 'SUCCESS');
});

// ---------------------------------------------------------------------------
// Speech: streams, files, voices and languages (POST /tts-stream, paced by the
// emulator in real time: a second of audio takes a second)
// ---------------------------------------------------------------------------

const SPEECH = 'Hello there, this is a test of the speech stream.';
const DONE = { value: undefined, done: true };

/** Reads a stream to its end: its chunks (Buffers), when each came (ms after `since`), and all its bytes. */
async function readAll(stream, since = Date.now(), pauseMs = 0) {
  const chunks = [];
  const times = [];
  for await (const chunk of stream) {
    assert.ok(Buffer.isBuffer(chunk), 'each chunk is a Buffer');
    assert.ok(chunk.length > 0, 'no empty chunk');
    chunks.push(chunk);
    times.push(Date.now() - since);
    if (pauseMs > 0) await sleep(pauseMs);
  }
  return { chunks, times, bytes: Buffer.concat(chunks) };
}

/** Reads a stream to its error: the bytes that came first, and the error. */
async function readToError(stream, code, httpStatus) {
  let received = 0;
  const error = await rejectsCamb((async () => {
    for await (const chunk of stream) received += chunk.length;
  })(), code, httpStatus);
  return { received, error };
}

/** A WAV file's fmt fields and where its data chunk starts (sizes as written, placeholders or not). */
function wavHeader(bytes) {
  assert.equal(bytes.subarray(0, 4).toString('latin1'), 'RIFF');
  assert.equal(bytes.subarray(8, 12).toString('latin1'), 'WAVE');
  const header = { riffSize: bytes.readUInt32LE(4) };
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const id = bytes.subarray(offset, offset + 4).toString('latin1');
    const size = bytes.readUInt32LE(offset + 4);
    if (id === 'fmt ') {
      header.format = bytes.readUInt16LE(offset + 8);
      header.channels = bytes.readUInt16LE(offset + 10);
      header.sampleRate = bytes.readUInt32LE(offset + 12);
      header.bitsPerSample = bytes.readUInt16LE(offset + 22);
    } else if (id === 'data') {
      return { ...header, dataOffset: offset + 8, dataSize: size };
    }
    offset += 8 + size + (size & 1);
  }
  assert.fail('no data chunk in the WAV header');
}

/** The emulator's record of what it was sent and what it streamed. */
async function emulatorStats() {
  const reply = await fetch(`${baseUrl}/_emulator/stats`);
  assert.ok(reply.ok);
  return reply.json();
}

/** The JSON body of the last POST /tts-stream. */
async function lastSpeechRequest() {
  const sent = (await emulatorStats()).requests.filter((r) => r.method === 'POST' && r.path === '/tts-stream');
  assert.ok(sent.length > 0, 'no /tts-stream request');
  return JSON.parse(sent[sent.length - 1].body);
}

/** Files libcamb would have left behind in tmpDir (its temporary files are hidden). */
function hiddenFiles() {
  return fs.readdirSync(tmpDir).filter((f) => f.startsWith('.'));
}

test("speak: a WAV stream comes chunk by chunk as it is made; its header says mars-flash's 22050 Hz; info() tells the rest", async () => {
  const c = client();
  try {
    const started = Date.now();
    const stream = c.speak(SPEECH, 'en-us', VOICE, { speechModel: 'mars-flash', duration: 1 });
    assert.ok(stream instanceof SpeechStream);
    assert.equal(stream[Symbol.asyncIterator](), stream);
    const { chunks, times, bytes } = await readAll(stream, started);
    // One second of audio, made in real time: it came in many chunks, over most of that second.
    assert.ok(chunks.length >= 5, `${chunks.length} chunk(s): the audio did not come as it was made`);
    assert.ok(times[times.length - 1] - times[0] >= 500, `chunks at ${times}`);
    const header = wavHeader(bytes);
    assert.deepEqual([header.format, header.channels, header.sampleRate, header.bitsPerSample], [1, 1, 22050, 16]);
    assert.equal(bytes.length - header.dataOffset, 22050 * 2, 'one second of 16-bit mono at 22050 Hz');
    const info = stream.info();
    assert.deepEqual(Object.keys(info), ['format', 'sampleRate', 'channels', 'credits', 'bytes']);
    assert.deepEqual(info, { format: 'wav', sampleRate: 22050, channels: 1, credits: info.credits, bytes: bytes.length });
    assert.equal(typeof info.credits, 'number');
    assert.ok(info.credits > 0, `credits ${info.credits}`);
    // The end is the end: the job is back and freed.
    assert.deepEqual(await stream.next(), DONE);
    allJobsFreed(c, 1);
  } finally {
    await c.close();
  }
});

test("speak: raw pcm_s16le has no header; its rate is the one asked for, else the model's; its samples are the WAV's", async () => {
  const c = client();
  try {
    const options = { speechModel: 'mars-flash', duration: 0.5 };
    const raw = c.speak(SPEECH, 'en-us', VOICE, { ...options, format: 'pcm_s16le' });
    const pcm = (await readAll(raw)).bytes;
    assert.notEqual(pcm.subarray(0, 4).toString('latin1'), 'RIFF');
    assert.equal(pcm.length, 11025 * 2, 'half a second of 16-bit mono at 22050 Hz');
    assert.deepEqual(raw.info(), { format: 'pcm_s16le', sampleRate: 22050, channels: 1, credits: raw.info().credits, bytes: pcm.length });
    // The same text, voice and rate as WAV: the same samples after its header.
    const wav = (await readAll(c.speak(SPEECH, 'en-us', VOICE, options))).bytes;
    assert.ok(wav.subarray(wavHeader(wav).dataOffset).equals(pcm));
    // A rate of its own.
    const resampled = c.speak(SPEECH, 'en-us', VOICE, { ...options, format: 'pcm_s16le', sampleRate: 16000 });
    assert.equal((await readAll(resampled)).bytes.length, 8000 * 2);
    assert.equal(resampled.info().sampleRate, 16000);
    allJobsFreed(c, 3);
  } finally {
    await c.close();
  }
});

test('speak: the options go on the wire as the API names them; those left undefined are not sent', async () => {
  const c = client();
  try {
    await readAll(c.speak('Hello there', 'en-us', VOICE));
    // Only the format is always sent (the sources disagree on the server's default).
    assert.deepEqual(await lastSpeechRequest(), {
      text: 'Hello there', language: 'en-us', voice_id: VOICE, output_configuration: { format: 'wav' },
    });
    const every = {
      format: 'pcm_s16le',
      sampleRate: 16000,
      duration: 0.5,
      applyEnhancement: false,
      speechModel: 'mars-instruct',
      userInstructions: 'calmly, with a smile',
      enhanceNamedEntities: true,
      enhanceReferenceAudioQuality: true,
      maintainSourceAccent: false,
      applyRefLoudnessNorm: true,
      speakingRate: 1.25,
      stability: 0.5,
      temperature: 0.7,
      inferenceSteps: 32,
      speakerSimilarity: 0.75,
      localizeSpeakerWeight: 0.25,
      acousticQualityBoost: true,
      signal: new AbortController().signal,
    };
    assert.equal((await readAll(c.speak('Hello there', 'en-us', VOICE, every))).bytes.length, 16000);
    assert.deepEqual(await lastSpeechRequest(), {
      text: 'Hello there',
      language: 'en-us',
      voice_id: VOICE,
      speech_model: 'mars-instruct',
      user_instructions: 'calmly, with a smile',
      enhance_named_entities_pronunciation: true,
      output_configuration: { format: 'pcm_s16le', sample_rate: 16000, duration: 0.5, apply_enhancement: false },
      voice_settings: {
        enhance_reference_audio_quality: true, maintain_source_accent: false, apply_ref_loudness_norm: true, speaking_rate: 1.25,
      },
      inference_options: {
        stability: 0.5, temperature: 0.7, inference_steps: 32, speaker_similarity: 0.75, localize_speaker_weight: 0.25, acoustic_quality_boost: true,
      },
    });
    // One voice setting alone sends that one only (the official SDK would add apply_ref_loudness_norm: false).
    await readAll(c.speak('Hello there', 'en-us', VOICE, { speakingRate: 1.5, duration: 0.2 }));
    const alone = await lastSpeechRequest();
    assert.deepEqual(alone.voice_settings, { speaking_rate: 1.5 });
    assert.equal(alone.inference_options, undefined);
    allJobsFreed(c, 3);
  } finally {
    await c.close();
  }
});

test('speech: bad arguments are refused in libcamb words before anything is sent; speak() never throws', async () => {
  const c = client();
  try {
    const before = await requestsSeen();
    const refused = [
      [c.speak('', 'en-us', VOICE), /text is empty/],
      [c.speak('Hello there', '', VOICE), /language is empty/],
      [c.speak('Hello there', 'en-us', 1.5), /voice id must be an integer/],
      [c.speak('Hello\0there', 'en-us', VOICE), /NUL/],
      [c.speak(42, 'en-us', VOICE), /text must be a string/],
      [c.speak('Hello there', 'en-us', VOICE, { format: 'w a v' }), /not a format name/],
      [c.speak('Hello there', 'en-us', VOICE, { temperature: Infinity }), /temperature must be a finite number/],
      [c.speak('Hello there', 'en-us', VOICE, { applyEnhancement: 'yes' }), /applyEnhancement must be a boolean/],
      [c.speak('Hello there', 'en-us', VOICE, { sampleRate: -1 }), /sampleRate must be an integer/],
      [c.speak('Hello there', 'en-us', VOICE, { inferenceSteps: 2.5 }), /inferenceSteps must be an integer/],
      [c.speak('Hello there', 'en-us', VOICE, { stability: 'high' }), /stability must be a number/],
      [c.speak('Hello there', 'en-us', VOICE, { signal: 'stop' }), /signal must be an AbortSignal/],
      [c.speak('Hello there', 'en-us', VOICE, null), /options must be an object/],
    ];
    for (const [stream, words] of refused) {
      const e = await rejectsCamb(stream.next(), Result.INVALID_PARAMETER, 0);
      assert.match(e.message, words);
      assert.throws(() => stream.info(), (thrown) => thrown === e, 'info() throws why the stream never started');
      assert.deepEqual(await stream.next(), DONE, 'the error is thrown once');
    }
    const file = path.join(tmpDir, 'refused-speech.wav');
    const nowhere = path.join(tmpDir, 'no-such-dir', 'speech.wav');
    await rejectsCamb(c.speakToFile('', 'en-us', VOICE, file), Result.INVALID_PARAMETER, 0);
    await rejectsCamb(c.speakToFile('Hello there', 'en-us', VOICE, file, { stability: 'high' }), Result.INVALID_PARAMETER, 0);
    await rejectsCamb(c.speakToFile('Hello there', 'en-us', '147320', file), Result.INVALID_PARAMETER, 0);
    // The path is checked before the speech is asked for (and billed).
    await rejectsCamb(c.speakToFile('Hello there', 'en-us', VOICE, nowhere), Result.IO, 0);
    throwsCamb(() => c.speakToFileSync('Hello there', 'en-us', VOICE, nowhere), Result.IO, 0);
    throwsCamb(() => c.speakToFileSync('Hello there', 'en-us', VOICE, file, { format: 'w a v' }), Result.INVALID_PARAMETER, 0);
    throwsCamb(() => c.listVoicesSync({ signal: 'stop' }), Result.INVALID_PARAMETER, 0);
    assert.equal(fs.existsSync(file), false);
    assert.equal(await requestsSeen(), before, 'a refused call sent a request');
    assert.deepEqual(c._jobCounts, { started: 0, freed: 0, pending: 0 });
    // A stream made and never read sends nothing either; cancel() frees its job at once.
    const unread = c.speak('Hello there', 'en-us', VOICE);
    assert.deepEqual(unread.info(), { format: 'wav', sampleRate: 0, channels: 0, credits: null, bytes: 0 });
    await sleep(200);
    assert.equal(await requestsSeen(), before, 'a stream nobody read sent a request');
    await unread.cancel();
    assert.deepEqual(await unread.next(), DONE);
    assert.equal(unread.info().bytes, 0, 'info() still tells what was known');
    assert.deepEqual(c._jobCounts, { started: 0, freed: 0, pending: 0 });
  } finally {
    await c.close();
  }
});

test('speakToFile: a WAV file with its real RIFF and data sizes, the streamed audio; the Sync twin writes the same', async () => {
  const c = client();
  try {
    const options = { speechModel: 'mars-flash', duration: 1 };
    const file = path.join(tmpDir, 'speech.wav');
    fs.writeFileSync(file, 'an older file, replaced');
    const info = await c.speakToFile(SPEECH, 'en-us', VOICE, file, options);
    const bytes = fs.readFileSync(file);
    isWav(bytes); // RIFF size = file size - 8
    const header = wavHeader(bytes);
    assert.equal(header.dataSize, bytes.length - header.dataOffset, 'the data chunk has its real size');
    assert.equal(header.dataSize, 22050 * 2);
    assert.deepEqual([header.channels, header.sampleRate, header.bitsPerSample], [1, 22050, 16]);
    assert.deepEqual(info, { format: 'wav', sampleRate: 22050, channels: 1, credits: info.credits, bytes: bytes.length });
    assert.ok(info.credits > 0);
    // The audio the stream gives, its header's sizes aside.
    const streamed = (await readAll(c.speak(SPEECH, 'en-us', VOICE, options))).bytes;
    assert.ok(streamed.subarray(wavHeader(streamed).dataOffset).equals(bytes.subarray(header.dataOffset)));

    const syncFile = path.join(tmpDir, 'speech-sync.wav');
    assert.deepEqual(c.speakToFileSync(SPEECH, 'en-us', VOICE, syncFile, options), info);
    assert.ok(fs.readFileSync(syncFile).equals(bytes));
    // Raw PCM is saved as it came.
    const raw = path.join(tmpDir, 'speech.pcm');
    const rawInfo = await c.speakToFile(SPEECH, 'en-us', VOICE, raw, { ...options, format: 'pcm_s16le' });
    assert.ok(fs.readFileSync(raw).equals(bytes.subarray(header.dataOffset)));
    assert.deepEqual([rawInfo.format, rawInfo.bytes], ['pcm_s16le', 22050 * 2]);
    assert.deepEqual(hiddenFiles(), []);
    allJobsFreed(c, 3);
  } finally {
    await c.close();
  }
});

test('a locale the model does not speak is a 422 whose message lists those it does', async () => {
  const c = client();
  try {
    const options = { speechModel: 'mars-flash' };
    const stream = c.speak('Hello there', 'zh-tw', VOICE, options);
    const { received, error } = await readToError(stream, Result.VALIDATION, 422);
    assert.equal(received, 0);
    assert.equal(error.name, 'CAMB_RESULT_VALIDATION');
    assert.match(error.message, /zh-tw/);
    assert.ok(error.message.includes('en-us'), error.message);
    assert.equal(stream.info().bytes, 0);
    assert.deepEqual(await stream.next(), DONE);
    const file = path.join(tmpDir, 'zh-tw.wav');
    const job = await rejectsCamb(c.speakToFile('Hello there', 'zh-tw', VOICE, file, options), Result.VALIDATION, 422);
    assert.ok(job.message.includes('en-us'), job.message);
    const sync = throwsCamb(() => c.speakToFileSync('Hello there', 'zh-tw', VOICE, file, options), Result.VALIDATION, 422);
    assert.equal(sync.message, job.message);
    assert.equal(fs.existsSync(file), false);
    // A voice the server does not know.
    const unknown = await readToError(c.speak('Hello there', 'en-us', 999999), Result.NOT_FOUND, 404);
    assert.match(unknown.error.message, /999999/);
    allJobsFreed(c, 3);
  } finally {
    await c.close();
  }
});

test('a stream cut short rejects after every byte that came; speakToFile leaves the file that was there', async () => {
  const c = client();
  try {
    // Chunked without its last chunk, then a body shorter than its Content-Length.
    for (const declareLength of [false, true]) {
      await control('faults', { path_prefix: '/tts-stream', times: 1, cut_after_bytes: 20000, declare_length: declareLength });
      const stream = c.speak(SPEECH, 'en-us', VOICE, { duration: 1 });
      const { received, error } = await readToError(stream, Result.CONNECT, 0);
      assert.equal(received, 20000, 'the audio that came was handed over before the error');
      assert.match(error.message, /20000 bytes/);
      assert.equal(stream.info().bytes, 20000);
      assert.deepEqual(await stream.next(), DONE);
    }
    const file = path.join(tmpDir, 'kept.wav');
    fs.writeFileSync(file, 'what was there');
    await control('faults', { path_prefix: '/tts-stream', times: 1, cut_after_bytes: 20000 });
    const e = await rejectsCamb(c.speakToFile(SPEECH, 'en-us', VOICE, file, { duration: 1 }), Result.CONNECT, 0);
    assert.match(e.message, /20000 bytes/);
    assert.equal(fs.readFileSync(file, 'utf8'), 'what was there');
    await control('faults', { path_prefix: '/tts-stream', times: 1, cut_after_bytes: 20000, declare_length: true });
    throwsCamb(() => c.speakToFileSync(SPEECH, 'en-us', VOICE, file, { duration: 1 }), Result.CONNECT, 0);
    assert.equal(fs.readFileSync(file, 'utf8'), 'what was there');
    assert.deepEqual(hiddenFiles(), [], 'a temporary file was left');
    allJobsFreed(c, 3);
  } finally {
    await c.close();
  }
});

test('a slow consumer receives every byte: between its pulls the audio waits in libcamb, at most 256 KiB of it', async () => {
  const c = client();
  try {
    // A consumer that waits for a timer after each chunk gets it all, in order.
    const options = { format: 'pcm_s16le', speechModel: 'mars-flash', duration: 1 };
    const slow = await readAll(c.speak(SPEECH, 'en-us', VOICE, options), Date.now(), 40);
    const quick = await readAll(c.speak(SPEECH, 'en-us', VOICE, options));
    assert.equal(slow.bytes.length, 22050 * 2);
    assert.ok(slow.bytes.equals(quick.bytes), 'the slow consumer got other bytes');

    // One that stops pulling: 3 s of 32-bit float at 48 kHz (576000 bytes) come
    // in real time; after 2.5 s without a pull, libcamb holds its bound and has
    // stopped reading the network. Nothing was read into JavaScript meanwhile.
    const stream = c.speak(SPEECH, 'en-us', VOICE, { format: 'pcm_f32le', speechModel: 'mars-pro', duration: 3 });
    const first = await stream.next();
    assert.equal(first.done, false);
    let consumed = first.value.length;
    await sleep(2500);
    const waiting = stream.info().bytes - consumed;
    assert.ok(waiting <= 256 * 1024, `${waiting} bytes waited in libcamb, over its bound`);
    assert.ok(waiting >= 200 * 1024, `${waiting} bytes waited: libcamb did not fill its buffer`);
    assert.equal(stream.info().sampleRate, 48000);
    for await (const chunk of stream) consumed += chunk.length;
    assert.equal(consumed, 3 * 48000 * 4, 'every byte arrived');
    assert.equal(stream.info().bytes, consumed);
    allJobsFreed(c, 3);
  } finally {
    await c.close();
  }
});

test('leaving a for-await loop early cancels the stream: its job ends and is freed, and Node may exit', async () => {
  const c = client();
  try {
    const started = Date.now();
    const stream = c.speak(SPEECH, 'en-us', VOICE, { duration: 30 });
    let chunks = 0;
    for await (const chunk of stream) {
      assert.ok(chunk.length > 0);
      chunks += 1;
      if (chunks === 2) break;
    }
    await until(() => c._jobCounts.pending === 0, 'the cancelled job to come back');
    allJobsFreed(c, 1);
    assert.ok(Date.now() - started < 5000, 'the 30 s stream was not cancelled');
    assert.deepEqual(await stream.next(), DONE);
    const streams = (await emulatorStats()).tts_streams;
    assert.equal(streams[streams.length - 1].completed, false, 'the server streamed to the end');

    // cancel(): a pull waiting then ends, and the Promise resolves once the job is freed.
    const other = c.speak(SPEECH, 'en-us', VOICE, { duration: 30 });
    assert.equal((await other.next()).done, false);
    const pulls = [other.next(), other.next(), other.next()];
    await other.cancel();
    allJobsFreed(c, 2);
    const ends = await Promise.all(pulls);
    assert.deepEqual(ends[ends.length - 1], DONE);
    assert.deepEqual(await other.next(), DONE);
  } finally {
    await c.close();
  }

  // In a process of its own: after the break, nothing keeps Node running.
  const begun = Date.now();
  const run = spawnSync(process.execPath, ['-e', `
    const { Client } = require('libcamb');
    const c = new Client({ baseUrl: ${JSON.stringify(baseUrl)}, apiKey: ${JSON.stringify(apiKey)} });
    (async () => {
      let bytes = 0;
      for await (const chunk of c.speak(${JSON.stringify(SPEECH)}, 'en-us', ${VOICE}, { duration: 30 })) {
        bytes += chunk.length;
        break;
      }
      console.log(JSON.stringify({ bytes: bytes > 0 }));
    })();
  `], { cwd: __dirname, encoding: 'utf8', timeout: 20000 });
  assert.equal(run.signal, null, `Node did not exit on its own: ${run.stderr}`);
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), { bytes: true });
  assert.ok(Date.now() - begun < 15000, 'Node waited for the audio it had left');
});

test('a stream dropped while its job runs is cancelled and freed once collected; Node then exits', () => {
  // In a process of its own, with gc(): without the collection, the job would
  // wait forever for its reader once libcamb's buffer is full, and keep Node alive.
  const run = spawnSync(process.execPath, ['--expose-gc', '-e', `
    const { Client } = require('libcamb');
    const c = new Client({ baseUrl: ${JSON.stringify(baseUrl)}, apiKey: ${JSON.stringify(apiKey)} });
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    (async () => {
      let stream = c.speak(${JSON.stringify(SPEECH)}, 'en-us', ${VOICE}, { duration: 30 });
      const first = await stream.next();
      stream = null;
      for (let i = 0; i < 40 && c._jobCounts.pending > 0; i += 1) {
        global.gc();
        await sleep(50);
      }
      // Made, never read, never collected: sends nothing and keeps nothing running.
      c.speak(${JSON.stringify(SPEECH)}, 'en-us', ${VOICE});
      console.log(JSON.stringify({ first: first.value.length > 0, counts: c._jobCounts }));
    })();
  `], { cwd: __dirname, encoding: 'utf8', timeout: 20000 });
  assert.equal(run.signal, null, `Node did not exit on its own: ${run.stderr}`);
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), { first: true, counts: { started: 1, freed: 1, pending: 0 } });
});

test('toReadableStream: the same audio as a web ReadableStream, read only when its reader asks', async () => {
  const c = client();
  try {
    const options = { format: 'pcm_s16le', speechModel: 'mars-flash', duration: 0.5 };
    const readable = c.speak(SPEECH, 'en-us', VOICE, options).toReadableStream();
    assert.ok(readable instanceof ReadableStream);
    const reader = readable.getReader();
    await sleep(200);
    assert.equal(c._jobCounts, null, 'nothing was read, yet a job started');
    const parts = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      assert.ok(value instanceof Uint8Array);
      parts.push(Buffer.from(value));
    }
    const bytes = Buffer.concat(parts);
    assert.equal(bytes.length, 11025 * 2);
    assert.ok(bytes.equals((await readAll(c.speak(SPEECH, 'en-us', VOICE, options))).bytes));
    allJobsFreed(c, 2);

    // Cancelling the ReadableStream cancels the job; its Promise resolves once it is freed.
    const long = c.speak(SPEECH, 'en-us', VOICE, { duration: 30 }).toReadableStream().getReader();
    assert.equal((await long.read()).done, false);
    await long.cancel();
    allJobsFreed(c, 3);
    // A failure errors it.
    const failing = c.speak('Hello there', 'zh-tw', VOICE, { speechModel: 'mars-flash' }).toReadableStream().getReader();
    const e = await rejectsCamb(failing.read(), Result.VALIDATION, 422);
    assert.ok(e.message.includes('en-us'), e.message);
    allJobsFreed(c, 4);
  } finally {
    await c.close();
  }
});

test('listVoices, sourceLanguages, targetLanguages: copies of the lists, null for what the server did not say', async () => {
  const c = client();
  try {
    const voices = await c.listVoices();
    assert.ok(voices.length >= 2, JSON.stringify(voices));
    for (const v of voices) {
      assert.deepEqual(Object.keys(v), ['id', 'name', 'gender', 'age', 'language', 'transcript', 'description', 'isPublished', 'signedUrl']);
      assert.ok(Number.isInteger(v.id), JSON.stringify(v));
      assert.equal(typeof v.name, 'string');
      for (const key of ['gender', 'age', 'language']) assert.ok(v[key] === null || Number.isInteger(v[key]), key);
      for (const key of ['transcript', 'description', 'signedUrl']) assert.ok(v[key] === null || typeof v[key] === 'string', key);
      assert.ok(v.isPublished === null || typeof v.isPublished === 'boolean');
    }
    const docs = voices.find((v) => v.id === VOICE);
    assert.ok(docs, `voice ${VOICE} is listed`);
    assert.equal(typeof docs.name, 'string');
    assert.equal(docs.isPublished, true);
    // A voice the server says little about reads as nulls, not zeros or empty strings.
    assert.ok(voices.some((v) => v.gender === null && v.age === null && v.transcript === null && v.isPublished === null),
      JSON.stringify(voices));
    assert.deepEqual(c.listVoicesSync(), voices);

    const source = await c.sourceLanguages();
    const target = await c.targetLanguages();
    for (const language of [...source, ...target]) {
      assert.deepEqual(Object.keys(language), ['id', 'name', 'shortName']);
      assert.ok(Number.isInteger(language.id));
      assert.ok(language.name.length > 0);
      assert.match(language.shortName, /^[a-z]{2,3}(-[a-z0-9]+)*$/);
    }
    assert.ok(source.some((l) => l.id === 1 && l.shortName === 'en-us'), JSON.stringify(source));
    assert.ok(target.some((l) => l.shortName === 'zh-tw'), 'zh-tw is a target language');
    assert.ok(!source.some((l) => l.shortName === 'zh-tw'), 'zh-tw is not a source language');
    assert.deepEqual(c.sourceLanguagesSync(), source);
    assert.deepEqual(c.targetLanguagesSync(), target);
    // Each listed voice id is one speak() takes.
    const { bytes } = await readAll(c.speak('Hello there', target.find((l) => l.id === 1).shortName, voices[0].id, { duration: 0.2 }));
    assert.ok(bytes.length > 0);
    allJobsFreed(c, 4);
  } finally {
    await c.close();
  }
});

test('the event loop runs during a stream and during each speech Promise', async () => {
  const c = client();
  try {
    let ticks = 0;
    const timer = setInterval(() => {
      ticks += 1;
    }, 10);
    let started = Date.now();
    try {
      await readAll(c.speak(SPEECH, 'en-us', VOICE, { duration: 1 }));
    } finally {
      clearInterval(timer);
    }
    assert.ok(Date.now() - started >= 900, 'a second of audio took under a second');
    assert.ok(ticks >= 10, `only ${ticks} timer ticks ran during a one-second stream`);

    const calls = {
      speakToFile: ['/tts-stream', () => c.speakToFile('Hello there', 'en-us', VOICE, path.join(tmpDir, 'free-loop.wav'), { duration: 0.1 })],
      listVoices: ['/list-voices', () => c.listVoices()],
      sourceLanguages: ['/source-languages', () => c.sourceLanguages()],
      targetLanguages: ['/target-languages', () => c.targetLanguages()],
    };
    assert.deepEqual(Object.keys(calls), SPEECH_OPERATIONS);
    for (const [name, [prefix, call]] of Object.entries(calls)) {
      await control('faults', { path_prefix: prefix, times: 1, delay_ms: 300 });
      ticks = 0;
      const loop = setInterval(() => {
        ticks += 1;
      }, 10);
      started = Date.now();
      try {
        await call();
      } finally {
        clearInterval(loop);
      }
      assert.ok(Date.now() - started >= 250, `${name}: the delay fault was not applied`);
      assert.ok(ticks >= 5, `${name}: only ${ticks} timer ticks ran while its request was held`);
    }
    allJobsFreed(c, 5);
  } finally {
    await c.close();
  }
});

test('an AbortSignal cancels a stream and a speakToFile; close() ends a stream with CANCELLED after its audio', async () => {
  const c = client();
  try {
    const controller = new AbortController();
    const stream = c.speak(SPEECH, 'en-us', VOICE, { duration: 30, signal: controller.signal });
    const e = await rejectsCamb((async () => {
      for await (const chunk of stream) {
        assert.ok(chunk.length > 0);
        controller.abort(new Error('enough'));
      }
    })(), Result.CANCELLED, 0);
    assert.equal(e.cause, controller.signal.reason);
    assert.match(e.message, /aborted through its signal/);
    // Already aborted: nothing is sent.
    const before = await requestsSeen();
    const file = path.join(tmpDir, 'aborted-speech.wav');
    await rejectsCamb(c.speak('Hello there', 'en-us', VOICE, { signal: controller.signal }).next(), Result.CANCELLED, 0);
    await rejectsCamb(c.speakToFile('Hello there', 'en-us', VOICE, file, { signal: controller.signal }), Result.CANCELLED, 0);
    await rejectsCamb(c.listVoices({ signal: controller.signal }), Result.CANCELLED, 0);
    throwsCamb(() => c.listVoicesSync({ signal: controller.signal }), Result.CANCELLED, 0);
    throwsCamb(() => c.targetLanguagesSync({ signal: controller.signal }), Result.CANCELLED, 0);
    throwsCamb(() => c.speakToFileSync('Hello there', 'en-us', VOICE, file, { signal: controller.signal }), Result.CANCELLED, 0);
    assert.equal(await requestsSeen(), before);
    // Aborted midway, a speakToFile leaves no file.
    const midway = new AbortController();
    const saving = c.speakToFile(SPEECH, 'en-us', VOICE, file, { duration: 30, signal: midway.signal });
    setTimeout(() => midway.abort(), 400);
    const started = Date.now();
    await rejectsCamb(saving, Result.CANCELLED, 0);
    assert.ok(Date.now() - started < 5000);
    assert.equal(fs.existsSync(file), false);
    assert.deepEqual(hiddenFiles(), []);
    allJobsFreed(c, 2); // those already aborted made no job
  } finally {
    await c.close();
  }

  // close() during a stream: its audio so far, then CANCELLED; the client is freed once its job is back.
  const d = client();
  const stream = d.speak(SPEECH, 'en-us', VOICE, { duration: 30 });
  assert.equal((await stream.next()).done, false);
  const unstarted = d.speak(SPEECH, 'en-us', VOICE);
  const closing = d.close();
  const { error } = await readToError(stream, Result.CANCELLED, 0);
  assert.match(error.message, /client was closed/);
  await closing;
  allJobsFreed(d, 1);
  // A stream never started cannot start on a closed client.
  await rejectsCamb(unstarted.next(), Result.NULL_PARAMETER, 0);
  await rejectsCamb(d.speak('Hello there', 'en-us', VOICE).next(), Result.NULL_PARAMETER, 0);
  await rejectsCamb(d.listVoices(), Result.NULL_PARAMETER, 0);
  throwsCamb(() => d.sourceLanguagesSync(), Result.NULL_PARAMETER, 0);
});

// ---------------------------------------------------------------------------
// Closing
// ---------------------------------------------------------------------------

test('close is idempotent, and a closed client refuses calls', async () => {
  const c = client();
  const first = c.close();
  assert.equal(c.close(), first, 'close() returns the one `closed` Promise');
  assert.equal(first, c.closed);
  await first;
  throwsCamb(() => c.getTaskStatusSync('demo-success'), Result.NULL_PARAMETER, 0);
  throwsCamb(() => c.getTaskStatusesSync(['demo-success']), Result.NULL_PARAMETER, 0);
  throwsCamb(() => c.getAudioUrlSync(4242), Result.NULL_PARAMETER, 0);
  throwsCamb(() => c.generateSync('rain', path.join(tmpDir, 'closed.wav')), Result.NULL_PARAMETER, 0);
  await rejectsCamb(c.getTaskStatus('demo-success'), Result.NULL_PARAMETER, 0);
  await rejectsCamb(c.waitForTask('demo-success', quick), Result.NULL_PARAMETER, 0);
  assert.equal(c._jobCounts, null, 'no job was made');
});

test('close during a job frees the client only once the job is back', async () => {
  const id = await plantTask({ task_id: 'node-slow-close', final_status: 'SUCCESS', run_id: 8002 });
  await delayStatuses('node-slow-close', 300, 1);
  const c = client();
  const promise = c.getTaskStatus(id);
  await until(() => c._inFlight()[0]?.state === JobState.RUNNING, 'the job to send its request');
  const closing = c.close(); // while a pool thread is still using the client
  // Freeing it now would pull it from under that thread; a use after free need
  // not crash, so the wrapper's bookkeeping is checked too.
  assert.notEqual(c._freeLater, null, 'the libcamb client was freed while its job was in flight');
  await rejectsCamb(c.getTaskStatus('demo-success'), Result.NULL_PARAMETER, 0);
  // A cancel stops a job at its next check: the request in flight runs to its end.
  const info = await promise;
  assert.equal(info.runId, 8002);
  assert.equal(info.statusText, 'SUCCESS');
  await closing;
  assert.equal(c._freeLater, null, 'the libcamb client was not freed after its last job');
  allJobsFreed(c, 1);
});

test('close from onProgress lets the blocking wait finish, then frees the client', async () => {
  const c = client();
  const id = c.createTaskSync('hail [pending_ms:100]', { durationS: 1 });
  let heldDuringWait = null;
  const info = c.waitForTaskSync(id, {
    ...quick,
    onProgress: (p) => {
      if (p.polls === 1) {
        c.close();
        heldDuringWait = c._freeLater !== null;
      }
    },
  });
  assert.equal(info.status, Status.SUCCESS);
  assert.equal(heldDuringWait, true, 'the libcamb client was freed during the wait');
  assert.equal(c._freeLater, null);
  throwsCamb(() => c.getTaskStatusSync(id), Result.NULL_PARAMETER, 0);
  await c.closed;
});

// ---------------------------------------------------------------------------
// The log hook and headers
// ---------------------------------------------------------------------------

const SECRET_HEADER = 'tenant-secret-0123456789';

/** A client whose log lines are collected, as { level, line }. */
function loggingClient(options = {}) {
  const lines = [];
  const c = client({ log: (level, line) => lines.push({ level, line }), ...options });
  return { c, lines };
}

function hasLine(lines, level, ...words) {
  return lines.some((l) => l.level === level && words.every((w) => l.line.includes(w)));
}

test('the log: lines of a blocking call arrive before it returns, with level and words', async () => {
  const { c, lines } = loggingClient({
    headers: [
      { name: 'traceparent', value: '00-4bf92f3577b34da6a3ce929d0e0e4736-01' },
      { name: 'x-tenant-token', value: SECRET_HEADER, secret: true },
    ],
  });
  try {
    assert.equal(c.getTaskStatusSync('demo-success').status, Status.SUCCESS);
    assert.ok(hasLine(lines, LogLevel.DEBUG, 'GET', 'demo-success', 'sent', 'attempt 1'), JSON.stringify(lines));
    assert.ok(hasLine(lines, LogLevel.DEBUG, 'demo-success', 'replied 200'), JSON.stringify(lines));
    throwsCamb(() => c.getTaskStatusSync('no-such-task'), Result.NOT_FOUND, 404);
    assert.ok(hasLine(lines, LogLevel.INFO, 'no-such-task', 'replied 404'), JSON.stringify(lines));
    for (const { level, line } of lines) {
      assert.ok(level >= LogLevel.ERROR && level <= LogLevel.DEBUG);
      assert.equal(typeof line, 'string');
      assert.ok(!line.includes('\n'));
      assert.ok(!line.includes(apiKey), line);
      assert.ok(!line.includes(SECRET_HEADER), line);
    }
  } finally {
    await c.close();
  }
});

test('the log: job lines come from libcamb threads through the event loop, before the Promise', async () => {
  const { c, lines } = loggingClient();
  try {
    const info = await c.getTaskStatus('demo-success');
    assert.equal(info.status, Status.SUCCESS);
    assert.ok(hasLine(lines, LogLevel.DEBUG, 'job', 'started'), JSON.stringify(lines));
    assert.ok(hasLine(lines, LogLevel.DEBUG, 'replied 200'), JSON.stringify(lines));
    assert.ok(hasLine(lines, LogLevel.INFO, 'job', 'finished'), JSON.stringify(lines));
    // A batch job starts its lanes on a pool thread; their lines come the same way.
    const entries = await c.getTaskStatuses(['demo-success', 'no-such-task'], { maxConnections: 2 });
    assert.equal(entries.length, 2);
    assert.ok(hasLine(lines, LogLevel.INFO, 'no-such-task', 'replied 404'), JSON.stringify(lines));
    const blocking = c.getTaskStatusSync('demo-error');
    assert.equal(blocking.status, Status.ERROR);
    assert.ok(hasLine(lines, LogLevel.DEBUG, 'demo-error', 'replied 200'), JSON.stringify(lines));
    assert.ok(lines.every((l) => !l.line.includes(apiKey)));
  } finally {
    await c.close();
  }
});

test('the log: the level filters, a wrong key is never shown, a throwing function is ignored', async () => {
  const info = loggingClient({ logLevel: 'info' });
  try {
    info.c.getTaskStatusSync('demo-success');
    assert.deepEqual(info.lines, []); // a 200 is told at DEBUG only
    throwsCamb(() => info.c.getTaskStatusSync('no-such-task'), Result.NOT_FOUND, 404);
    assert.ok(hasLine(info.lines, LogLevel.INFO, 'replied 404'));
    assert.ok(info.lines.every((l) => l.level <= LogLevel.INFO));
  } finally {
    await info.c.close();
  }

  const wrong = 'wrong-key-9f8e7d6c5b4a';
  const w = loggingClient({ apiKey: wrong });
  try {
    throwsCamb(() => w.c.getTaskStatusSync('demo-success'), Result.UNAUTHORIZED, 401);
    assert.ok(hasLine(w.lines, LogLevel.INFO, 'replied 401'), JSON.stringify(w.lines));
    await rejectsCamb(w.c.getTaskStatus('demo-success'), Result.UNAUTHORIZED, 401);
    assert.ok(w.lines.every((l) => !l.line.includes(wrong)));
  } finally {
    await w.c.close();
  }

  let calls = 0;
  const throwing = client({ log: () => { calls += 1; throw new Error('from the log function'); } });
  try {
    assert.equal(throwing.getTaskStatusSync('demo-success').status, Status.SUCCESS);
    assert.ok(calls >= 2, `${calls} calls`);
    const before = calls;
    assert.equal((await throwing.getTaskStatus('demo-success')).status, Status.SUCCESS);
    assert.ok(calls > before, 'lines of a job reached the throwing function');
  } finally {
    await throwing.close();
  }
});

test('the log: lines of cancelled jobs come until close() resolves, none after', async () => {
  const { c, lines } = loggingClient();
  const job = c.waitForTask('demo-pending', { initialIntervalMs: 10000, deadlineMs: 60000 });
  assert.ok(hasLine(lines, LogLevel.DEBUG, 'job', 'started')); // told on this thread, by the submit
  const closing = c.close();
  await rejectsCamb(job, Result.CANCELLED);
  assert.ok(hasLine(lines, LogLevel.INFO, 'job', 'cancelled'), JSON.stringify(lines));
  await closing;
  const after = lines.length;
  await sleep(100);
  assert.equal(lines.length, after, JSON.stringify(lines.slice(after)));
});

test("the log function is released by libcamb's finalizer: on close, on a refused setting, on a failed build", async () => {
  const { c } = loggingClient();
  assert.equal(koffi.stats().callbacks, 2, 'the log function and its finalizer');
  assert.equal(c._logFinalized, false);
  await c.getTaskStatus('demo-success');
  c.getTaskStatusSync('demo-success');
  const closing = c.close();
  assert.equal(c._logFinalized, true, 'nothing in flight: the client was freed at once');
  assert.equal(koffi.stats().callbacks, 0);
  await closing;

  // With a job in flight, only once it is back.
  const busy = loggingClient();
  const job = busy.c.waitForTask('demo-pending', slow);
  busy.c.close();
  assert.equal(busy.c._logFinalized, false);
  assert.equal(koffi.stats().callbacks, 2);
  await rejectsCamb(job, Result.CANCELLED, 0);
  await busy.c.closed;
  assert.equal(busy.c._logFinalized, true);
  assert.equal(koffi.stats().callbacks, 0);

  // A setting refused after the log: the builder is freed, which runs the finalizer.
  throwsCamb(() => client({ log: () => {}, timeoutMs: 0 }), Result.INVALID_PARAMETER, 0);
  assert.equal(koffi.stats().callbacks, 0, 'freeing the builder did not release the log function');
  throwsCamb(() => client({ log: () => {}, headers: [{ name: 'x-api-key', value: 'other' }] }), Result.INVALID_PARAMETER, 0);
  assert.equal(koffi.stats().callbacks, 0);
  // A build that fails (no key): the build runs it.
  const saved = process.env.CAMB_API_KEY;
  delete process.env.CAMB_API_KEY;
  try {
    throwsCamb(() => new Client({ baseUrl, log: () => {} }), Result.MISSING_API_KEY, 0);
  } finally {
    if (saved !== undefined) process.env.CAMB_API_KEY = saved;
  }
  assert.equal(koffi.stats().callbacks, 0, 'the failed build did not release the log function');
  // A log level libcamb refuses: it never takes the function, which the package releases itself.
  throwsCamb(() => client({ log: () => {}, logLevel: 9 }), Result.INVALID_PARAMETER, 0);
  assert.equal(koffi.stats().callbacks, 0);
  // Without a log, nothing is registered at all.
  const plain = client();
  assert.equal(plain._logFinalized, null);
  assert.equal(koffi.stats().callbacks, 0);
  await plain.close();
});

test('the log: close() while logging jobs run returns at once, and the client is freed', async () => {
  const { c, lines } = loggingClient({ jobThreads: 4 });
  const ids = Array.from({ length: 24 }, (_, i) => (i % 3 === 0 ? 'no-such-task' : 'demo-success'));
  const jobs = [];
  for (let i = 0; i < 6; i += 1) {
    jobs.push(c.getTaskStatuses(ids, { maxConnections: 4 }));
    jobs.push(c.getTaskStatus('demo-success'));
    jobs.push(c.waitForTask('demo-pending', quick));
  }
  await until(() => lines.length > 50, 'the jobs to log');
  const started = Date.now();
  const closing = c.close();
  assert.ok(Date.now() - started < 1000, 'close() waited for something');
  const outcomes = await Promise.allSettled(jobs);
  for (const outcome of outcomes) {
    if (outcome.status === 'rejected') isCamb(outcome.reason, Result.CANCELLED, 0);
  }
  const timer = setTimeout(() => assert.fail('the client was not freed'), 10000);
  await closing;
  clearTimeout(timer);
  assert.equal(c._logFinalized, true);
  allJobsFreed(c, 18);
});

test('the log cannot deadlock: batches, jobs started meanwhile, close; Node then exits', () => {
  // In a child process, with a time limit: a deadlock would hang it.
  const run = spawnSync(process.execPath, ['-e', `
    const { Client } = require('libcamb');
    let count = 0;
    const c = new Client({ baseUrl: ${JSON.stringify(baseUrl)}, apiKey: ${JSON.stringify(apiKey)},
                           jobThreads: 4, log: () => { count += 1; } });
    const ids = Array.from({ length: 24 }, (_, i) => i % 3 === 0 ? 'no-such-task' : 'demo-success');
    // A blocking batch asking for 8 connections: its threads would wait for
    // this thread, which waits for them; with a log it runs on one.
    const sync = c.getTaskStatusesSync(ids, { maxConnections: 8 });
    // Batch jobs start their lanes on pool threads while this thread starts more jobs.
    const jobs = [];
    for (let i = 0; i < 10; i += 1) {
      jobs.push(c.getTaskStatuses(ids, { maxConnections: 4 }));
      jobs.push(c.getTaskStatus('demo-success'));
    }
    Promise.all(jobs).then((all) => {
      // More jobs, closed at once: they are cancelled while their lanes log.
      const late = Promise.allSettled([c.getTaskStatuses(ids, { maxConnections: 4 }), c.getTaskStatus('demo-success')]);
      const closing = c.close();
      return late.then(() => closing).then(() => {
        console.log(JSON.stringify({ sync: sync.length, jobs: all.length, lines: count > 100 }));
      });
    });
  `], { cwd: __dirname, encoding: 'utf8', timeout: 60000 });
  assert.equal(run.signal, null, `killed (a deadlock, or Node kept alive): ${run.stderr}`);
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), { sync: 24, jobs: 20, lines: true });
});

test('headers: refused ones are CambErrors that say why; accepted ones work', async () => {
  const refused = (headers, ...words) => {
    const e = throwsCamb(() => client({ headers }), Result.INVALID_PARAMETER, 0);
    for (const w of words) assert.ok(e.message.includes(w), e.message);
    assert.ok(!e.message.includes('stolen'), e.message);
    return e;
  };
  refused([{ name: 'x-api-key', value: 'other' }], "libcamb's own");
  refused([{ name: 'Host', value: 'elsewhere.example' }], "libcamb's own");
  refused([{ name: 'bad name', value: 'v' }], 'not an HTTP token');
  refused([{ name: 'x-ok', value: 'a\r\nx-api-key: stolen' }], 'a CR');
  refused([{ name: 'x-ok', value: 'a\0b' }], 'NUL byte');
  refused(['traceparent'], 'each header');
  throwsCamb(() => client({ log: 'yes' }), Result.INVALID_PARAMETER, 0);
  const level = throwsCamb(() => client({ log: () => {}, logLevel: 9 }), Result.INVALID_PARAMETER, 0);
  assert.ok(level.message.includes('log level 9'), level.message);
  throwsCamb(() => client({ log: () => {}, logLevel: 'verbose' }), Result.INVALID_PARAMETER, 0);

  const c = client({ headers: [{ name: 'traceparent', value: '00-abc-def-01' }, { name: 'x-tenant', value: SECRET_HEADER, secret: true }] });
  try {
    assert.equal(c.getTaskStatusSync('demo-success').status, Status.SUCCESS);
    assert.equal((await c.getTaskStatus('demo-success')).status, Status.SUCCESS);
  } finally {
    await c.close();
  }
});
