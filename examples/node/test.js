'use strict';
/**
 * Tests of camb.js against the emulator, with node's built-in runner:
 *
 *   CAMB_LIB=/path/to/libcamb.so CAMB_TEST_BASE_URL=http://127.0.0.1:PORT \
 *   CAMB_TEST_API_KEY=camb-emulator-key node --test test.js
 *
 * tests/node_example.rs runs it from `cargo test`, with an in-process emulator
 * whose demo tasks are already final.
 */

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const koffi = require('koffi');

const { Client, CambError, Result, Status, AudioType, version } = require('./camb');

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
  assert.ok(error instanceof CambError, `expected a CambError, got ${error}`);
  assert.equal(error.code, code, error.message);
  if (httpStatus !== undefined) assert.equal(error.httpStatus, httpStatus);
  return error;
}

let tmpDir;
test.before(() => {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'camb-node-'));
});
test.after(() => {
  fs.rmSync(tmpDir, { recursive: true, force: true });
});
test.afterEach(() => {
  // Every callback camb.js registered for a call was unregistered after it.
  assert.equal(koffi.stats().callbacks, 0, 'a koffi callback was left registered');
});

test('the library reports its version', () => {
  assert.match(version(), /^\d+\.\d+\.\d+/);
  const c = client();
  try {
    assert.equal(c.libraryVersion, version());
  } finally {
    c.close();
  }
});

test('statuses of the demo tasks', () => {
  const c = client();
  try {
    const success = c.getTaskStatus('demo-success');
    assert.equal(success.status, Status.SUCCESS);
    assert.equal(success.statusName, 'CAMB_STATUS_SUCCESS');
    assert.equal(success.statusText, 'SUCCESS');
    assert.equal(success.runId, 4242);
    assert.equal(success.isFinal, true);
    assert.equal(success.exceptionReason, null);

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
  const c = client();
  try {
    // A NUL would cut the id short in C: refused, not sent as another id.
    const e = throwsCamb(() => c.getTaskStatus('demo-success\0x'), Result.INVALID_PARAMETER, 0);
    assert.match(e.message, /NUL/);
    throwsCamb(() => c.getTaskStatus(''), Result.INVALID_PARAMETER, 0);
    throwsCamb(() => c.createTask('rain', { durationS: 11 }), Result.INVALID_PARAMETER, 0);
    throwsCamb(() => c.createTask(''), Result.INVALID_PARAMETER, 0);
    throwsCamb(() => c.waitForTask('demo-success', { initialIntervalMs: 0 }), Result.INVALID_PARAMETER, 0);
  } finally {
    c.close();
  }
});

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
    assert.equal(typeof info.runId, 'number');
    // Progress was seen: PENDING first, then the change to SUCCESS on the last poll.
    assert.ok(seen.length >= 2, `only ${seen.length} progress calls`);
    assert.equal(seen[0].statusText, 'PENDING');
    assert.equal(seen[0].statusChanged, true);
    const last = seen[seen.length - 1];
    assert.deepEqual([last.statusText, last.statusChanged, last.done, last.nextPollInMs], ['SUCCESS', true, true, 0]);
    assert.deepEqual(seen.filter((p) => p.statusChanged).map((p) => p.statusText), ['PENDING', 'SUCCESS']);

    const file = path.join(tmpDir, 'rain.wav');
    const size = c.saveResult(info.runId, file);
    const bytes = fs.readFileSync(file);
    assert.equal(bytes.length, size);
    assert.equal(bytes.subarray(0, 4).toString('latin1'), 'RIFF');
    assert.equal(bytes.subarray(8, 12).toString('latin1'), 'WAVE');
    assert.equal(bytes.readUInt32LE(4), bytes.length - 8, 'RIFF size');
    assert.ok(bytes.length > 44);

    // The same audio in memory, and its URL.
    assert.ok(c.downloadResult(info.runId).equals(bytes));
    assert.ok(c.resultUrl(info.runId).startsWith(`${baseUrl}/_emulator/files/${info.runId}.wav?signature=`));
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
    throwsCamb(() => c.saveResult(999999, path.join(tmpDir, 'none.wav')), Result.NOT_FOUND, 404);
    throwsCamb(() => c.downloadResult(4243), Result.HTTP_STATUS, 400);
    throwsCamb(() => c.saveResult(4242, path.join(tmpDir, 'no-such-dir', 'a.wav')), Result.IO, 0);
    assert.deepEqual(fs.readdirSync(tmpDir).filter((f) => f.startsWith('none')), []);
  } finally {
    c.close();
  }
});

test('close is idempotent, and a closed client refuses calls', () => {
  const c = client();
  c.close();
  c.close();
  throwsCamb(() => c.getTaskStatus('demo-success'), Result.NULL_PARAMETER, 0);
});
