'use strict';
/**
 * Tests of camb.js against the emulator, with node's built-in runner:
 *
 *   CAMB_LIB=/path/to/libcamb.so CAMB_TEST_BASE_URL=http://127.0.0.1:PORT \
 *   CAMB_TEST_API_KEY=camb-emulator-key node --test test.js
 *
 * tests/node_example.rs runs it from `cargo test`, with an in-process emulator
 * whose demo tasks are already final. The tests run one after another and plant
 * what they need through the emulator's key-less control API (/_emulator/*).
 */

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const {
  Client, CambError, Result, Status, AudioType, JobState, LogLevel, version, optionsLayout, logHookRegistered,
} = require('./camb');
// After camb.js, which sets koffi's async stack before any library is loaded.
const koffi = require('koffi');

for (const name of ['CAMB_LIB', 'CAMB_TEST_BASE_URL', 'CAMB_TEST_API_KEY']) {
  if (!process.env[name]) {
    throw new Error(`${name} is not set: see the comment at the top of test.js`);
  }
}
const baseUrl = process.env.CAMB_TEST_BASE_URL;
const apiKey = process.env.CAMB_TEST_API_KEY;

function client(options = {}) {
  return new Client({ baseUrl, apiKey, timeoutMs: 10000, ...options });
}

// Short pauses: the emulator's tasks finish in milliseconds.
const quick = { initialIntervalMs: 20, maxIntervalMs: 20, deadlineMs: 10000 };

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
  assert.ok(promise instanceof Promise, 'an async method returns a Promise, even for bad arguments');
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

/** Plants a task (a TaskSpec) and returns its id. */
async function plantTask(spec) {
  return (await control('tasks', spec)).task_id;
}

/** Delays the next `times` replies under `/text-to-sound/{prefix}` by `ms`. */
async function delayStatuses(prefix, ms, times) {
  await control('faults', { path_prefix: `/text-to-sound/${prefix}`, times, delay_ms: ms });
}

let tmpDir;
test.before(() => {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'camb-node-'));
});
test.after(() => {
  fs.rmSync(tmpDir, { recursive: true, force: true });
});
test.afterEach(() => {
  // Every callback camb.js registered for a call was unregistered after it; the
  // one log callback, once registered, stays for the process (see camb.js).
  assert.equal(koffi.stats().callbacks, logHookRegistered() ? 1 : 0, 'a koffi callback was left registered');
});

// ---------------------------------------------------------------------------
// The library and its structs
// ---------------------------------------------------------------------------

test('the library reports its version, 0.2', () => {
  assert.match(version(), /^0\.2\.\d+/);
  const c = client();
  try {
    assert.equal(c.libraryVersion, version());
  } finally {
    c.close();
  }
});

test('the options structs declared for koffi have the size libcamb gives them', () => {
  // struct_size is the declared size: a missing or extra field would make the
  // library's _init refuse it (too large) or take one byte more (too small).
  const layout = optionsLayout();
  for (const struct of [layout.createOptions, layout.waitOptions]) {
    assert.deepEqual([struct.takesDeclared, struct.takesOneMore], [true, false], JSON.stringify(struct));
  }
  // x86-64 / aarch64: 8 (struct_size) + 8 + 4 (+4) + 8 + 8 + 1 (+7) + 8 + 1 (+7); 8 + 8 + 8 + 8 + 8.
  if (process.arch === 'x64' || process.arch === 'arm64') {
    assert.deepEqual([layout.createOptions.declared, layout.waitOptions.declared], [64, 40]);
  }
});

test("koffi's async calls get a stack big enough for libcamb", () => {
  assert.ok(koffi.config().async_stack_size >= 2 * 1024 * 1024, JSON.stringify(koffi.config()));
});

test('async calls are refused, not run on a small stack, when koffi was configured first', () => {
  // Another library loaded through koffi before camb.js fixes koffi's settings.
  const script = `
    const koffi = require('koffi');
    koffi.load('libc.so.6');
    const { Client } = require('./camb');
    const c = new Client({ baseUrl: ${JSON.stringify(baseUrl)}, apiKey: ${JSON.stringify(apiKey)} });
    const sync = c.getTaskStatus('demo-success').statusText;
    c.getTaskStatusAsync('demo-success').then(
      () => { console.log(JSON.stringify({ sync, async: 'resolved' })); c.close(); },
      (e) => { console.log(JSON.stringify({ sync, async: e.message })); c.close(); });
  `;
  const run = spawnSync(process.execPath, ['-e', script], { cwd: __dirname, encoding: 'utf8', timeout: 30000 });
  assert.equal(run.status, 0, run.stderr);
  const seen = JSON.parse(run.stdout);
  assert.equal(seen.sync, 'SUCCESS');
  assert.match(seen.async, /async stack is \d+ bytes, too small/);
});

// ---------------------------------------------------------------------------
// Statuses
// ---------------------------------------------------------------------------

test('statuses of the demo tasks', () => {
  const c = client();
  try {
    const success = c.getTaskStatus('demo-success');
    assert.equal(success.taskId, 'demo-success');
    assert.equal(success.status, Status.SUCCESS);
    assert.equal(success.statusName, 'CAMB_STATUS_SUCCESS');
    assert.equal(success.statusText, 'SUCCESS');
    assert.equal(success.runId, 4242);
    assert.equal(success.isFinal, true);
    assert.equal(success.exceptionReason, null);
    assert.equal(success.message, null);

    const error = c.getTaskStatus('demo-error');
    assert.equal(error.status, Status.ERROR);
    assert.equal(error.runId, 4243);
    assert.equal(error.exceptionReason, 'PROCESSING_ERROR');
    assert.equal(error.message, 'The audio model failed to render this prompt');

    const pending = c.getTaskStatus('demo-pending');
    assert.equal(pending.status, Status.PENDING);
    assert.equal(pending.runId, null);
    assert.equal(pending.isFinal, false);

    const unknown = c.getTaskStatus('demo-unknown');
    assert.equal(unknown.status, Status.UNKNOWN);
    assert.equal(unknown.statusText, 'QUEUED_FOR_GPU');
    assert.equal(unknown.isFinal, true);
  } finally {
    c.close();
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
    assert.deepEqual(c.getTaskStatus(id), expected);
    assert.deepEqual(await c.getTaskStatusAsync(id), expected);
    assert.deepEqual(c.getTaskStatuses([id])[0].info, expected);
  } finally {
    c.close();
  }
});

test('a missing task is a CambError with code 404', () => {
  const c = client();
  try {
    const e = throwsCamb(() => c.getTaskStatus('no-such-task'), 404, 404);
    assert.equal(e.code, Result.NOT_FOUND);
    assert.equal(e.name, 'CAMB_RESULT_NOT_FOUND');
    assert.equal(e.message, 'HTTP 404 Not Found: Task not found: no-such-task');
    assert.ok(e instanceof Error);
  } finally {
    c.close();
  }
});

test('a wrong key is 401, no key is MISSING_API_KEY', () => {
  const wrong = client({ apiKey: 'not-the-key' });
  try {
    const e = throwsCamb(() => wrong.getTaskStatus('demo-success'), Result.UNAUTHORIZED, 401);
    assert.ok(!e.message.includes('not-the-key'), 'the key is never in a message');
  } finally {
    wrong.close();
  }
  const saved = process.env.CAMB_API_KEY;
  delete process.env.CAMB_API_KEY;
  try {
    throwsCamb(() => new Client({ baseUrl }), Result.MISSING_API_KEY, 0);
  } finally {
    if (saved !== undefined) process.env.CAMB_API_KEY = saved;
  }
});

test('bad arguments are refused before anything is sent', () => {
  throwsCamb(() => client({ baseUrl: 'not a url' }), Result.INVALID_PARAMETER, 0);
  throwsCamb(() => client({ timeoutMs: 0 }), Result.INVALID_PARAMETER, 0);
  const pem = throwsCamb(() => client({ caBundlePem: 'not a certificate' }), Result.INVALID_PARAMETER, 0);
  assert.match(pem.message, /PEM|certificate/i);
  const c = client();
  try {
    // A NUL would cut the id short in C: refused, not sent as another id.
    const e = throwsCamb(() => c.getTaskStatus('demo-success\0x'), Result.INVALID_PARAMETER, 0);
    assert.match(e.message, /NUL/);
    throwsCamb(() => c.getTaskStatus(''), Result.INVALID_PARAMETER, 0);
    throwsCamb(() => c.createTask('rain', { durationS: 11 }), Result.INVALID_PARAMETER, 0);
    throwsCamb(() => c.createTask(''), Result.INVALID_PARAMETER, 0);
    throwsCamb(() => c.waitForTask('demo-success', { initialIntervalMs: 0 }), Result.INVALID_PARAMETER, 0);
    throwsCamb(() => c.saveAudio(1.5, path.join(tmpDir, 'x.wav')), Result.INVALID_PARAMETER, 0);
  } finally {
    c.close();
  }
});

// ---------------------------------------------------------------------------
// Create, wait, audio
// ---------------------------------------------------------------------------

test('create, wait with progress, save: a WAV file', () => {
  const c = client();
  try {
    const id = c.createTask('rain on a tin roof [pending_ms:600]', { durationS: 1 });
    assert.match(id, /\S/);
    const seen = [];
    const info = c.waitForTask(id, {
      ...quick,
      onProgress: (p) => {
        assert.equal(p.pollResult, Result.OK);
        assert.equal(p.polls, seen.length + 1);
        seen.push(p);
      },
    });
    assert.equal(info.status, Status.SUCCESS);
    assert.equal(info.taskId, id);
    assert.equal(typeof info.runId, 'number');
    // Progress was seen: PENDING first, then the change to SUCCESS on the last poll.
    assert.ok(seen.length >= 2, `only ${seen.length} progress calls`);
    assert.equal(seen[0].statusText, 'PENDING');
    assert.equal(seen[0].statusChanged, true);
    const last = seen[seen.length - 1];
    assert.deepEqual([last.statusText, last.statusChanged, last.done, last.nextPollInMs], ['SUCCESS', true, true, 0]);
    assert.deepEqual(seen.filter((p) => p.statusChanged).map((p) => p.statusText), ['PENDING', 'SUCCESS']);

    const file = path.join(tmpDir, 'rain.wav');
    const size = c.saveAudio(info.runId, file);
    const bytes = fs.readFileSync(file);
    assert.equal(bytes.length, size);
    assert.equal(bytes.subarray(0, 4).toString('latin1'), 'RIFF');
    assert.equal(bytes.subarray(8, 12).toString('latin1'), 'WAVE');
    assert.equal(bytes.readUInt32LE(4), bytes.length - 8, 'RIFF size');
    assert.ok(bytes.length > 44);

    // The same audio in memory, and its URL, alone and in a batch.
    assert.ok(c.downloadAudio(info.runId).equals(bytes));
    const url = c.getAudioUrl(info.runId);
    assert.ok(url.startsWith(`${baseUrl}/_emulator/files/${info.runId}.wav?signature=`), url);
    assert.deepEqual(c.getAudioUrls([info.runId, 4243, 999999]), [
      { runId: info.runId, url },
      { runId: 4243, url: null }, // a run that did not succeed has no audio
      { runId: 999999, url: null }, // nor has an unknown one
    ]);
  } finally {
    c.close();
  }
});

test('music with project fields is accepted', () => {
  const c = client();
  try {
    const id = c.createTask('a drum loop', {
      durationS: 1, audioType: AudioType.MUSIC, projectName: 'node', projectDescription: 'tests', folderId: 7,
    });
    assert.equal(c.waitForTask(id, quick).status, Status.SUCCESS);
  } finally {
    c.close();
  }
});

test('a failed task is returned, not thrown', () => {
  const c = client();
  try {
    const info = c.waitForTask(c.createTask('glass [status:ERROR]'), quick);
    assert.equal(info.status, Status.ERROR);
    assert.equal(info.exceptionReason, 'PROCESSING_ERROR');
  } finally {
    c.close();
  }
});

test('returning false from onProgress stops the wait: CANCELLED', () => {
  const c = client();
  try {
    let calls = 0;
    const e = throwsCamb(() => c.waitForTask('demo-pending', {
      ...quick,
      onProgress: () => {
        calls += 1;
        return calls < 3;
      },
    }), Result.CANCELLED, 0);
    assert.equal(e.name, 'CAMB_RESULT_CANCELLED');
    assert.equal(calls, 3);
  } finally {
    c.close();
  }
});

test('an exception thrown in onProgress comes out of waitForTask unchanged', () => {
  const c = client();
  try {
    const mine = new RangeError('stop here');
    assert.throws(() => c.waitForTask('demo-pending', {
      ...quick,
      onProgress: () => {
        throw mine;
      },
    }), (e) => e === mine);
  } finally {
    c.close();
  }
});

test('a wait past its deadline is TIMEOUT', () => {
  const c = client();
  try {
    throwsCamb(() => c.waitForTask('demo-pending', { ...quick, deadlineMs: 200 }), Result.TIMEOUT, 0);
  } finally {
    c.close();
  }
});

test('a missing run, and a run that did not succeed', () => {
  const c = client();
  try {
    throwsCamb(() => c.saveAudio(999999, path.join(tmpDir, 'none.wav')), Result.NOT_FOUND, 404);
    throwsCamb(() => c.downloadAudio(4243), Result.HTTP_STATUS, 400);
    throwsCamb(() => c.getAudioUrl(999999), Result.NOT_FOUND, 404);
    throwsCamb(() => c.saveAudio(4242, path.join(tmpDir, 'no-such-dir', 'a.wav')), Result.IO, 0);
    assert.deepEqual(c.getAudioUrls([]), []);
    throwsCamb(() => c.getAudioUrls(new Array(1001).fill(4242)), Result.INVALID_PARAMETER, 0);
    assert.deepEqual(fs.readdirSync(tmpDir).filter((f) => f.startsWith('none')), []);
  } finally {
    c.close();
  }
});

// ---------------------------------------------------------------------------
// Batches
// ---------------------------------------------------------------------------

test('a batch gives each task its status or its own error, in order', () => {
  const c = client();
  try {
    const entries = c.getTaskStatuses(['demo-success', 'no-such-task', '', 'demo-error', 'demo-pending'], {
      maxConnections: 2,
    });
    assert.deepEqual(entries.map((e) => e.taskId), ['demo-success', 'no-such-task', '', 'demo-error', 'demo-pending']);
    assert.deepEqual(entries[0].info, c.getTaskStatus('demo-success'));
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

    assert.deepEqual(c.getTaskStatuses([]), []);
    throwsCamb(() => c.getTaskStatuses(['demo-success'], { maxConnections: 33 }), Result.INVALID_PARAMETER, 0);
    throwsCamb(() => c.getTaskStatuses(['demo\0success']), Result.INVALID_PARAMETER, 0);
  } finally {
    c.close();
  }
});

// ---------------------------------------------------------------------------
// Promise-returning calls (koffi's async API: the call runs on a libuv thread)
// ---------------------------------------------------------------------------

test('getTaskStatusAsync resolves to what getTaskStatus returns', async () => {
  const c = client();
  try {
    const promise = c.getTaskStatusAsync('demo-success');
    assert.ok(promise instanceof Promise);
    const info = await promise;
    assert.equal(info.status, Status.SUCCESS);
    assert.equal(info.statusText, 'SUCCESS');
    assert.equal(info.runId, 4242);
    assert.equal(info.taskId, 'demo-success');
    assert.deepEqual(info, c.getTaskStatus('demo-success'));
    const error = await c.getTaskStatusAsync('demo-error');
    assert.equal(error.message, 'The audio model failed to render this prompt');
  } finally {
    c.close();
  }
});

test('an async call leaves the event loop free while it runs', async () => {
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
      info = await c.getTaskStatusAsync(id);
    } finally {
      clearInterval(timer);
    }
    assert.ok(Date.now() - started >= 350, 'the delay fault was not applied');
    assert.equal(info.runId, 8001);
    // A blocking call would have let no timer run during the 400 ms.
    assert.ok(ticks >= 5, `only ${ticks} timer ticks ran during the call`);
  } finally {
    c.close();
  }
});

test('concurrent async calls each get their own result', async () => {
  const ids = [];
  for (let i = 0; i < 4; i++) {
    ids.push(await plantTask({
      task_id: `node-many-${i}`,
      final_status: i % 2 === 0 ? 'SUCCESS' : 'ERROR',
      run_id: 9000 + i,
      exception_reason: i % 2 === 0 ? null : `REASON_${i}`,
    }));
  }
  // Each reply is held 300 ms: one after another they would take 1.2 s or more.
  await delayStatuses('node-many-', 300, ids.length);
  const c = client();
  try {
    const started = Date.now();
    const all = await Promise.all([
      ...ids.map((id) => c.getTaskStatusAsync(id)),
      c.getTaskStatusAsync('demo-unknown'),
      c.getTaskStatusAsync('no-such-task').then(() => 'resolved', (e) => e),
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
    c.close();
  }
});

test('an async failure rejects with its code, name, HTTP status and message', async () => {
  const c = client();
  try {
    const e = await rejectsCamb(c.getTaskStatusAsync('no-such-task'), Result.NOT_FOUND, 404);
    assert.equal(e.name, 'CAMB_RESULT_NOT_FOUND');
    // The words of the failure, as the synchronous call gives them.
    assert.equal(e.message, throwsCamb(() => c.getTaskStatus('no-such-task'), 404).message);
    assert.equal(e.message, 'HTTP 404 Not Found: Task not found: no-such-task');

    const wrong = client({ apiKey: 'not-the-key' });
    try {
      const unauthorized = await rejectsCamb(wrong.getTaskStatusAsync('demo-success'), Result.UNAUTHORIZED, 401);
      assert.ok(!unauthorized.message.includes('not-the-key'), 'the key is never in a message');
    } finally {
      wrong.close();
    }

    // Bad arguments reject too (they do not throw).
    const nul = await rejectsCamb(c.getTaskStatusAsync('demo\0success'), Result.INVALID_PARAMETER, 0);
    assert.match(nul.message, /NUL/);
    await rejectsCamb(c.getTaskStatusAsync(''), Result.INVALID_PARAMETER, 0);
  } finally {
    c.close();
  }
});

test('getTaskStatusesAsync: a batch on a worker thread', async () => {
  const c = client();
  try {
    const ids = [];
    for (let i = 0; i < 40; i++) ids.push(i % 10 === 9 ? `missing-${i}` : ['demo-success', 'demo-error', 'demo-pending'][i % 3]);
    const entries = await c.getTaskStatusesAsync(ids, { maxConnections: 4 });
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
    // A refused batch rejects with its code; libcamb's words stayed on the worker thread.
    const refused = await rejectsCamb(c.getTaskStatusesAsync(['demo-success'], { maxConnections: 33 }), Result.INVALID_PARAMETER);
    assert.equal(refused.name, 'CAMB_RESULT_INVALID_PARAMETER');
    assert.equal(refused.httpStatus, null);
  } finally {
    c.close();
  }
});

test('waitForTaskAsync: progress on the main thread, then the final status', async () => {
  const c = client();
  try {
    const id = c.createTask('thunder [pending_ms:400]', { durationS: 1 });
    let ticks = 0;
    const timer = setInterval(() => {
      ticks += 1;
    }, 10);
    const seen = [];
    let info;
    try {
      info = await c.waitForTaskAsync(id, { ...quick, onProgress: (p) => seen.push(p) });
    } finally {
      clearInterval(timer);
    }
    assert.equal(info.taskId, id);
    assert.equal(info.status, Status.SUCCESS);
    assert.equal(typeof info.runId, 'number');
    assert.deepEqual(info, c.getTaskStatus(id));
    assert.ok(seen.length >= 2, `only ${seen.length} progress calls`);
    assert.deepEqual(seen.map((p) => p.polls), seen.map((_, i) => i + 1));
    assert.deepEqual(seen.filter((p) => p.statusChanged).map((p) => p.statusText), ['PENDING', 'SUCCESS']);
    assert.equal(seen[seen.length - 1].done, true);
    assert.ok(ticks >= 5, `only ${ticks} timer ticks ran during a 400 ms wait`);
  } finally {
    c.close();
  }
});

test('waitForTaskAsync failures reject with the right code', async () => {
  const c = client();
  try {
    // A 404 ends the wait; its words come from the progress report of that poll.
    const missing = await rejectsCamb(c.waitForTaskAsync('no-such-task', quick), Result.NOT_FOUND);
    assert.equal(missing.message, 'HTTP 404 Not Found: Task not found: no-such-task');
    const timeout = await rejectsCamb(c.waitForTaskAsync('demo-pending', { ...quick, deadlineMs: 200 }), Result.TIMEOUT);
    assert.match(timeout.message, /PENDING/);
    await rejectsCamb(c.waitForTaskAsync('demo-pending', { ...quick, initialIntervalMs: 0 }), Result.INVALID_PARAMETER);

    let calls = 0;
    await rejectsCamb(c.waitForTaskAsync('demo-pending', {
      ...quick,
      onProgress: () => {
        calls += 1;
        return calls < 2;
      },
    }), Result.CANCELLED, 0);
    assert.equal(calls, 2);

    const mine = new RangeError('stop here');
    await assert.rejects(c.waitForTaskAsync('demo-pending', {
      ...quick,
      onProgress: () => {
        throw mine;
      },
    }), (e) => e === mine);
  } finally {
    c.close();
  }
});

test('aborting its signal cancels a sleeping waitForTaskAsync at once', async () => {
  const c = client();
  try {
    const controller = new AbortController();
    const started = Date.now();
    const promise = c.waitForTaskAsync('demo-pending', {
      initialIntervalMs: 30000, maxIntervalMs: 30000, deadlineMs: 60000, signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 100);
    const e = await rejectsCamb(promise, Result.CANCELLED, 0);
    assert.ok(Date.now() - started < 5000, 'the wait slept on after the abort');
    assert.equal(e.cause, controller.signal.reason);
    // An already aborted signal: nothing starts.
    await rejectsCamb(c.waitForTaskAsync('demo-success', { signal: controller.signal }), Result.CANCELLED, 0);
  } finally {
    c.close();
  }
});

// ---------------------------------------------------------------------------
// Jobs: Promises of libcamb jobs, finished through a completion queue's
// descriptor watched on Node's event loop
// ---------------------------------------------------------------------------

/** Asserts every job the client started was freed, once, and none is pending. */
function allJobsFreed(c, started) {
  const counts = c._jobCounts;
  assert.notEqual(counts, null, 'no job was started');
  assert.deepEqual(counts, { started: counts.started, freed: counts.started, pending: 0 });
  if (started !== undefined) assert.equal(counts.started, started);
}

test('camb.js declares the result codes, statuses, audio types and job states of camb.h', () => {
  const header = fs.readFileSync(path.join(__dirname, '..', '..', 'include', 'camb.h'), 'utf8');
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
  assert.deepEqual({ ...Result }, results);
  assert.deepEqual({ ...Status }, declared('CAMB_STATUS_'));
  assert.deepEqual({ ...AudioType }, declared('CAMB_AUDIO_TYPE_'));
  assert.deepEqual({ ...JobState }, declared('CAMB_JOB_STATE_'));
  assert.equal(Object.keys(JobState).length, 4);
});

test('a status through a job equals the synchronous call, failures included', async () => {
  const id = await plantTask({
    task_id: 'node-job-nul', final_status: 'DONE\u0000LATER', run_id: 7008, message: 'half\u0000way',
  });
  const c = client();
  try {
    for (const taskId of ['demo-success', 'demo-error', 'demo-pending', 'demo-unknown', id]) {
      const promise = c.getTaskStatusJob(taskId);
      assert.ok(promise instanceof Promise);
      assert.deepEqual(await promise, c.getTaskStatus(taskId), taskId);
    }
    assert.equal((await c.getTaskStatusJob(id)).statusText, 'DONE\u0000LATER');
    // The job's own words and HTTP status, as the synchronous call gives them.
    const sync = throwsCamb(() => c.getTaskStatus('no-such-task'), Result.NOT_FOUND, 404);
    const job = await rejectsCamb(c.getTaskStatusJob('no-such-task'), Result.NOT_FOUND, 404);
    assert.equal(job.name, 'CAMB_RESULT_NOT_FOUND');
    assert.equal(job.message, sync.message);
    assert.equal(job.message, 'HTTP 404 Not Found: Task not found: no-such-task');
    const wrong = client({ apiKey: 'not-the-key' });
    try {
      const e = await rejectsCamb(wrong.getTaskStatusJob('demo-success'), Result.UNAUTHORIZED, 401);
      assert.ok(!e.message.includes('not-the-key'), 'the key is never in a message');
      allJobsFreed(wrong, 1);
    } finally {
      wrong.close();
    }
    allJobsFreed(c, 7);
  } finally {
    c.close();
  }
});

test('job Promises run at once, each with its own result, and leave the event loop free', async () => {
  const ids = [];
  for (let i = 0; i < 6; i++) {
    ids.push(await plantTask({
      task_id: `node-jobs-${i}`,
      final_status: i % 2 === 0 ? 'SUCCESS' : 'ERROR',
      run_id: 9100 + i,
      exception_reason: i % 2 === 0 ? null : `REASON_${i}`,
    }));
  }
  // Each status reply is held 300 ms: one after another they would take 1.8 s or more.
  await delayStatuses('node-jobs-', 300, ids.length);
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
        ...ids.map((id) => c.getTaskStatusJob(id)),
        c.getTaskStatusJob('no-such-task').then(() => 'resolved', (e) => e),
        c.getTaskStatusesJob(['demo-success', 'missing-in-batch', ''], { maxConnections: 2 }),
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
    assert.deepEqual(batch[0].info, c.getTaskStatus('demo-success'));
    isCamb(batch[1].error, Result.NOT_FOUND, 404);
    assert.equal(batch[1].error.message, 'HTTP 404 Not Found: Task not found: missing-in-batch');
    isCamb(batch[2].error, Result.INVALID_PARAMETER, 0);
    assert.ok(elapsed >= 250, `${elapsed} ms: the delay faults were not applied`);
    assert.ok(elapsed < 1500, `${elapsed} ms: the jobs did not overlap`);
    assert.ok(ticks >= 5, `only ${ticks} timer ticks ran while the jobs ran`);
    allJobsFreed(c, 8);
  } finally {
    c.close();
  }
});

test('createTaskJob, waitForTaskJob with progress, saveAudioJob', async () => {
  const c = client();
  try {
    const id = await c.createTaskJob('a kettle [pending_ms:300]', { durationS: 1 });
    assert.match(id, /\S/);
    const seen = [];
    const info = await c.waitForTaskJob(id, { ...quick, progressIntervalMs: 10, onProgress: (p) => seen.push(p) });
    assert.deepEqual(info, c.getTaskStatus(id));
    assert.equal(info.status, Status.SUCCESS);
    assert.ok(seen.some((p) => !p.done && p.status === Status.PENDING && p.polls >= 1), JSON.stringify(seen));
    const last = seen[seen.length - 1];
    assert.deepEqual([last.done, last.status, last.statusName, last.state], [true, Status.SUCCESS, 'CAMB_STATUS_SUCCESS', JobState.DONE]);
    assert.equal(seen.filter((p) => p.done).length, 1);
    seen.slice(1).forEach((p, i) => assert.ok(p.polls >= seen[i].polls, 'polls never go back'));

    const file = path.join(tmpDir, 'job-save.wav');
    const bytes = await c.saveAudioJob(info.runId, file);
    assert.equal(bytes, fs.statSync(file).size);
    assert.ok(c.downloadAudio(info.runId).equals(fs.readFileSync(file)));
    await rejectsCamb(c.saveAudioJob(999999, path.join(tmpDir, 'job-none.wav')), Result.NOT_FOUND, 404);
    // A final ERROR is the wait's result, not a rejection.
    assert.equal((await c.waitForTaskJob('demo-error', quick)).exceptionReason, 'PROCESSING_ERROR');
    const late = await rejectsCamb(c.waitForTaskJob('demo-pending', { ...quick, deadlineMs: 200 }), Result.TIMEOUT, 0);
    assert.match(late.message, /\S/);
    allJobsFreed(c, 6);
  } finally {
    c.close();
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
    assert.deepEqual(result.task, c.getTaskStatus(result.taskId));
    const bytes = fs.readFileSync(file);
    assert.equal(result.bytes, bytes.length);
    assert.equal(bytes.subarray(0, 4).toString('latin1'), 'RIFF');
    assert.equal(bytes.subarray(8, 12).toString('latin1'), 'WAVE');
    assert.equal(bytes.readUInt32LE(4), bytes.length - 8, 'RIFF size');
    assert.ok(bytes.length > 44);
    assert.ok(c.downloadAudio(result.task.runId).equals(bytes), 'the file is the run audio');
    // Polled every 20 ms (not libcamb's default 2 s) for a task pending 400 ms.
    assert.ok(result.polls >= 4, `${result.polls} polls for a task pending 400 ms`);
    assert.ok(seen.some((p) => !p.done && p.status === Status.PENDING), JSON.stringify(seen));
    const last = seen[seen.length - 1];
    assert.deepEqual([last.done, last.status, last.polls], [true, Status.SUCCESS, result.polls]);
    allJobsFreed(c, 1);
  } finally {
    c.close();
  }
});

test('a generation whose task fails rejects with TASK_FAILED and leaves no file', async () => {
  const c = client();
  try {
    const file = path.join(tmpDir, 'failed.wav');
    const e = await rejectsCamb(c.generate('glass [status:ERROR]', file, { durationS: 1, ...quick }), Result.TASK_FAILED, 0);
    assert.equal(e.code, 9);
    assert.equal(e.name, 'CAMB_RESULT_TASK_FAILED');
    assert.match(e.message, /^task \S+ ended ERROR: PROCESSING_ERROR \(The audio model failed to render this prompt\)$/);
    assert.equal(fs.existsSync(file), false);
    allJobsFreed(c, 1);
  } finally {
    c.close();
  }
});

test('aborting its signal cancels a waiting job at once', async () => {
  const c = client();
  try {
    const controller = new AbortController();
    const slow = { initialIntervalMs: 30000, maxIntervalMs: 30000, deadlineMs: 60000, signal: controller.signal };
    const states = [];
    const started = Date.now();
    const waiting = c.waitForTaskJob('demo-pending', {
      ...slow, progressIntervalMs: 10, onProgress: (p) => states.push(p.state),
    });
    const generating = c.generate('a gong [pending_ms:60000]', path.join(tmpDir, 'aborted.wav'), { durationS: 1, ...slow });
    setTimeout(() => controller.abort(new Error('enough')), 200);
    const [wait, generation] = await Promise.all([
      rejectsCamb(waiting, Result.CANCELLED, 0),
      rejectsCamb(generating, Result.CANCELLED, 0),
    ]);
    assert.ok(Date.now() - started < 5000, 'the jobs slept on after the abort');
    assert.equal(wait.cause, controller.signal.reason);
    assert.equal(generation.cause, controller.signal.reason);
    assert.match(wait.message, /aborted through its signal after 1 poll/);
    assert.ok(states.includes(JobState.WAITING), `the wait was never seen between polls: ${states}`);
    assert.equal(fs.existsSync(path.join(tmpDir, 'aborted.wav')), false);
    // An already aborted signal: nothing starts.
    await rejectsCamb(c.getTaskStatusJob('demo-success', { signal: controller.signal }), Result.CANCELLED, 0);
    allJobsFreed(c, 2);
  } finally {
    c.close();
  }
});

test('onProgress returning false, or throwing, cancels the job', async () => {
  const c = client();
  try {
    const stopped = await rejectsCamb(c.waitForTaskJob('demo-pending', {
      ...quick, progressIntervalMs: 10, onProgress: (p) => p.polls < 2,
    }), Result.CANCELLED, 0);
    assert.match(stopped.message, /onProgress returned false/);
    const mine = new RangeError('stop here');
    await assert.rejects(c.waitForTaskJob('demo-pending', {
      ...quick,
      progressIntervalMs: 10,
      onProgress: () => {
        throw mine;
      },
    }), (e) => e === mine);
    allJobsFreed(c, 2);
  } finally {
    c.close();
  }
});

test('bad arguments reject (never throw) with libcamb words, and start no job', async () => {
  const c = client();
  try {
    const empty = await rejectsCamb(c.createTaskJob(''), Result.INVALID_PARAMETER, 0);
    assert.notEqual(empty.message, 'CAMB_RESULT_INVALID_PARAMETER', 'libcamb said why');
    await rejectsCamb(c.getTaskStatusJob('demo\0success'), Result.INVALID_PARAMETER, 0);
    await rejectsCamb(c.getTaskStatusJob(''), Result.INVALID_PARAMETER, 0);
    await rejectsCamb(c.generate('rain', path.join(tmpDir, 'x.wav'), { durationS: 11 }), Result.INVALID_PARAMETER, 0);
    await rejectsCamb(c.waitForTaskJob('demo-success', { initialIntervalMs: 0 }), Result.INVALID_PARAMETER, 0);
    await rejectsCamb(c.waitForTaskJob('demo-success', { progressIntervalMs: 0, onProgress: () => {} }), Result.INVALID_PARAMETER, 0);
    await rejectsCamb(c.saveAudioJob(1.5, path.join(tmpDir, 'x.wav')), Result.INVALID_PARAMETER, 0);
    await rejectsCamb(c.getTaskStatusesJob(['demo-success'], { maxConnections: 33 }), Result.INVALID_PARAMETER, 0);
    throwsCamb(() => client({ jobThreads: 0 }), Result.INVALID_PARAMETER, 0);
    assert.deepEqual(c._jobCounts, { started: 0, freed: 0, pending: 0 });
  } finally {
    c.close();
  }
  await rejectsCamb(c.getTaskStatusJob('demo-success'), Result.NULL_PARAMETER, 0);
});

test('close cancels the running jobs: they reject with CANCELLED, and are freed', async () => {
  const c = client();
  const slow = { initialIntervalMs: 30000, maxIntervalMs: 30000, deadlineMs: 60000 };
  const waits = [c.waitForTaskJob('demo-pending', slow), c.waitForTaskJob('demo-pending', slow)];
  const started = Date.now();
  c.close();
  for (const e of await Promise.all(waits.map((wait) => rejectsCamb(wait, Result.CANCELLED, 0)))) {
    assert.match(e.message, /client was closed/);
  }
  assert.ok(Date.now() - started < 5000);
  allJobsFreed(c, 2);
  await rejectsCamb(c.generate('rain', path.join(tmpDir, 'closed.wav')), Result.NULL_PARAMETER, 0);
});

test('a pending job keeps Node alive; a client with none does not', () => {
  const file = path.join(tmpDir, 'alive.wav');
  const run = (body) => spawnSync(process.execPath, ['-e', `
    const { Client } = require('./camb');
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
  const idle = run(`c.getTaskStatusJob('demo-success').then((t) => console.log(t.statusText));`);
  assert.equal(idle.signal, null, `Node did not exit on its own: ${idle.stderr}`);
  assert.equal(idle.status, 0, idle.stderr);
  assert.equal(idle.stdout.trim(), 'SUCCESS');
});

// ---------------------------------------------------------------------------
// Closing
// ---------------------------------------------------------------------------

test('close is idempotent, and a closed client refuses calls', async () => {
  const c = client();
  c.close();
  c.close();
  throwsCamb(() => c.getTaskStatus('demo-success'), Result.NULL_PARAMETER, 0);
  throwsCamb(() => c.getTaskStatuses(['demo-success']), Result.NULL_PARAMETER, 0);
  throwsCamb(() => c.getAudioUrl(4242), Result.NULL_PARAMETER, 0);
  await rejectsCamb(c.getTaskStatusAsync('demo-success'), Result.NULL_PARAMETER, 0);
  await rejectsCamb(c.waitForTaskAsync('demo-success', quick), Result.NULL_PARAMETER, 0);
});

test('close during an async call frees the client only after the call', async () => {
  const id = await plantTask({ task_id: 'node-slow-close', final_status: 'SUCCESS', run_id: 8002 });
  await delayStatuses('node-slow-close', 300, 1);
  const c = client();
  const promise = c.getTaskStatusAsync(id);
  c.close(); // while the worker thread is still using the client
  // Freeing it now would pull it from under that thread (camb_client_free: "every
  // call on the client must have returned first"); a use after free need not
  // crash, so the wrapper's bookkeeping is checked too.
  assert.notEqual(c._freeLater, null, 'the libcamb client was freed during a call');
  await rejectsCamb(c.getTaskStatusAsync('demo-success'), Result.NULL_PARAMETER, 0);
  const info = await promise;
  assert.equal(info.runId, 8002);
  assert.equal(info.statusText, 'SUCCESS');
  assert.equal(c._freeLater, null, 'the libcamb client was not freed after the last call');
});

test('close from onProgress lets the wait finish, then frees the client', () => {
  const c = client();
  const id = c.createTask('hail [pending_ms:100]', { durationS: 1 });
  let heldDuringWait = null;
  const info = c.waitForTask(id, {
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
  throwsCamb(() => c.getTaskStatus(id), Result.NULL_PARAMETER, 0);
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

test('the log: lines of a synchronous call arrive before it returns, with level and words', () => {
  const { c, lines } = loggingClient({
    headers: [
      { name: 'traceparent', value: '00-4bf92f3577b34da6a3ce929d0e0e4736-01' },
      { name: 'x-tenant-token', value: SECRET_HEADER, secret: true },
    ],
  });
  try {
    assert.equal(c.getTaskStatus('demo-success').status, Status.SUCCESS);
    assert.ok(hasLine(lines, LogLevel.DEBUG, 'GET', 'demo-success', 'sent', 'attempt 1'), JSON.stringify(lines));
    assert.ok(hasLine(lines, LogLevel.DEBUG, 'demo-success', 'replied 200'), JSON.stringify(lines));
    throwsCamb(() => c.getTaskStatus('no-such-task'), Result.NOT_FOUND, 404);
    assert.ok(hasLine(lines, LogLevel.INFO, 'no-such-task', 'replied 404'), JSON.stringify(lines));
    for (const { level, line } of lines) {
      assert.ok(level >= LogLevel.ERROR && level <= LogLevel.DEBUG);
      assert.equal(typeof line, 'string');
      assert.ok(!line.includes('\n'));
      assert.ok(!line.includes(apiKey), line);
      assert.ok(!line.includes(SECRET_HEADER), line);
    }
  } finally {
    c.close();
  }
});

test('the log: job lines come from libcamb threads through the event loop, before the Promise', async () => {
  const { c, lines } = loggingClient();
  try {
    const info = await c.getTaskStatusJob('demo-success');
    assert.equal(info.status, Status.SUCCESS);
    assert.ok(hasLine(lines, LogLevel.DEBUG, 'job', 'started'), JSON.stringify(lines));
    assert.ok(hasLine(lines, LogLevel.DEBUG, 'replied 200'), JSON.stringify(lines));
    assert.ok(hasLine(lines, LogLevel.INFO, 'job', 'finished'), JSON.stringify(lines));
    // A batch job starts its lanes on a pool thread; the async form on a libuv thread.
    const entries = await c.getTaskStatusesJob(['demo-success', 'no-such-task'], { maxConnections: 2 });
    assert.equal(entries.length, 2);
    const viaLibuv = await c.getTaskStatusAsync('demo-error');
    assert.equal(viaLibuv.status, Status.ERROR);
    assert.ok(hasLine(lines, LogLevel.DEBUG, 'demo-error', 'replied 200'), JSON.stringify(lines));
    assert.ok(lines.every((l) => !l.line.includes(apiKey)));
  } finally {
    c.close();
  }
});

test('the log: the level filters, a wrong key is never shown, a throwing function is ignored', () => {
  const info = loggingClient({ logLevel: 'info' });
  try {
    info.c.getTaskStatus('demo-success');
    assert.deepEqual(info.lines, []); // a 200 is told at DEBUG only
    throwsCamb(() => info.c.getTaskStatus('no-such-task'), Result.NOT_FOUND, 404);
    assert.ok(hasLine(info.lines, LogLevel.INFO, 'replied 404'));
    assert.ok(info.lines.every((l) => l.level <= LogLevel.INFO));
  } finally {
    info.c.close();
  }

  const wrong = 'wrong-key-9f8e7d6c5b4a';
  const w = loggingClient({ apiKey: wrong });
  try {
    throwsCamb(() => w.c.getTaskStatus('demo-success'), Result.UNAUTHORIZED, 401);
    assert.ok(hasLine(w.lines, LogLevel.INFO, 'replied 401'), JSON.stringify(w.lines));
    assert.ok(w.lines.every((l) => !l.line.includes(wrong)));
  } finally {
    w.c.close();
  }

  let calls = 0;
  const throwing = client({ log: () => { calls += 1; throw new Error('from the log function'); } });
  try {
    assert.equal(throwing.getTaskStatus('demo-success').status, Status.SUCCESS);
    assert.ok(calls >= 2, `${calls} calls`);
  } finally {
    throwing.close();
  }
});

test('the log: no line once the client is closed, though its cancelled jobs end later', async () => {
  const { c, lines } = loggingClient();
  const job = c.waitForTaskJob('demo-pending', { initialIntervalMs: 10000, deadlineMs: 60000 });
  assert.ok(hasLine(lines, LogLevel.DEBUG, 'job', 'started')); // told on this thread, by the start
  const before = lines.length;
  c.close();
  await rejectsCamb(job, Result.CANCELLED);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(lines.length, before, JSON.stringify(lines.slice(before)));
});

test('the log cannot deadlock: batches, jobs started meanwhile, close; Node then exits', () => {
  // In a child process, with a time limit: a deadlock would hang it.
  const run = spawnSync(process.execPath, ['-e', `
    const { Client } = require('./camb');
    let count = 0;
    const c = new Client({ baseUrl: ${JSON.stringify(baseUrl)}, apiKey: ${JSON.stringify(apiKey)},
                           jobThreads: 4, log: () => { count += 1; } });
    const ids = Array.from({ length: 24 }, (_, i) => i % 3 === 0 ? 'no-such-task' : 'demo-success');
    // A synchronous batch asking for 8 connections: its threads would wait for
    // this thread, which waits for them; with a log it runs on one.
    const sync = c.getTaskStatuses(ids, { maxConnections: 8 });
    // Batch jobs start their lanes on pool threads while this thread starts more jobs.
    const jobs = [];
    for (let i = 0; i < 10; i += 1) {
      jobs.push(c.getTaskStatusesJob(ids, { maxConnections: 4 }));
      jobs.push(c.getTaskStatusJob('demo-success'));
    }
    Promise.all(jobs).then((all) => {
      // More jobs, closed at once: they are cancelled while their lanes log.
      const late = [c.getTaskStatusesJob(ids, { maxConnections: 4 }), c.getTaskStatusJob('demo-success')];
      c.close();
      return Promise.allSettled(late).then(() => {
        console.log(JSON.stringify({ sync: sync.length, jobs: all.length, lines: count > 100 }));
      });
    });
  `], { cwd: __dirname, encoding: 'utf8', timeout: 60000 });
  assert.equal(run.signal, null, `killed (a deadlock, or Node kept alive): ${run.stderr}`);
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), { sync: 24, jobs: 20, lines: true });
});

test('headers: refused ones are CambErrors that say why; accepted ones work', () => {
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
    assert.equal(c.getTaskStatus('demo-success').status, Status.SUCCESS);
  } finally {
    c.close();
  }
});
