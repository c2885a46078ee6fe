// Server-side Python over REST (P3, P4, P6): /api/execute, /api/execute-raw, /api/reset,
// /api/packages, through the real collabd and its sandboxed CPython workers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, api, createSession, rawHttp } from './lib/server.mjs';
import { expectRest } from './lib/schema.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv.stop(); });

const run = (body, headers) => api(srv, 'POST', '/api/execute', { body, headers });

test('P3 execute: result of the final expression, stdout and stderr, the legacy shape', async () => {
  const r = await run({ code: 'import sys\nprint("hello")\nprint("warn", file=sys.stderr)\n6 * 7' });
  assert.equal(r.status, 200);
  expectRest('ExecuteResult', r.json);
  assert.equal(r.json.success, true);
  assert.equal(r.json.result, 42);
  assert.equal(r.json.stdout, 'hello\n');
  assert.equal(r.json.stderr, 'warn\n');
  assert.equal(r.json.error, null);
  assert.match(r.json.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(typeof r.json.executionTime, 'number');
});

test('P3 output written at the file-descriptor level is captured too', async () => {
  const r = await run({ code: 'import os\nos.write(1, b"raw out\\n")\nos.write(2, b"raw err\\n")' });
  assert.equal(r.json.stdout, 'raw out\n');
  assert.equal(r.json.stderr, 'raw err\n');
  // bytes that are not UTF-8 arrive repaired, never as broken JSON
  const bad = await run({ code: 'import os\nos.write(1, b"a\\xffb\\xe2\\x82")' });
  assert.equal(bad.json.stdout, 'a\ufffdb\ufffd');
});

test('P6 results converted to JSON: numbers, text, lists, dicts, None; others by str()', async () => {
  const cases = [
    ['None', null], ['True', true], ['3.5', 3.5], ['"héllo ✓"', 'héllo ✓'],
    ['(1, [2, 3])', [1, [2, 3]]], ['{"a": {1: None}}', { a: { 1: null } }],
    ['sorted({3, 1, 2})', [1, 2, 3]], ['2 ** 80', String(2n ** 80n)], ['float("nan")', 'nan'],
    ['class P:\n    def __str__(self): return "a P"\nP()', 'a P'],
    ['import datetime\ndatetime.date(2026, 12, 4)', '2026-12-04'],
    ['x = 1', null],
  ];
  for (const [code, want] of cases) {
    const r = await run({ code });
    expectRest('ExecuteResult', r.json);
    assert.equal(r.json.success, true, code);
    assert.deepEqual(r.json.result, want, code);
  }
});

test('P6 context entries become Python variables', async () => {
  const r = await run({
    code: 'print(f"Hello {name}! Your value is {value}")\ndata["list"][1] + value',
    context: { name: 'Alice', value: 42, data: { list: [1, 2] } },
  });
  assert.equal(r.json.stdout, 'Hello Alice! Your value is 42\n');
  assert.equal(r.json.result, 44);
  const bad = await run({ code: '1', context: { 'not a name': 1 } });
  expectRest('ExecuteResult', bad.json);
  assert.equal(bad.json.success, false);
  assert.equal(bad.json.errorType, 'invalid_context');
});

test('P3 errors come with the exception, a traceback of the user program and a category', async () => {
  const r = await run({ code: 'def f():\n    return undefined_name\nf()' });
  assert.equal(r.status, 200);
  expectRest('ExecuteResult', r.json);
  assert.equal(r.json.success, false);
  assert.equal(r.json.error, "NameError: name 'undefined_name' is not defined");
  assert.equal(r.json.errorType, 'runtime');
  assert.match(r.json.traceback, /File "<run>", line 3, in <module>\n.*File "<run>", line 2, in f/s);
  assert.doesNotMatch(r.json.traceback, /bootstrap|_collabd/, 'collabd frames are hidden');
  const s = await run({ code: 'def (' });
  assert.equal(s.json.errorType, 'syntax');
  assert.match(s.json.error, /SyntaxError/);
  const e = await run({ code: 'input("name? ")' });
  assert.equal(e.json.errorType, 'runtime');
  assert.match(e.json.error, /EOFError/, 'REST runs have no one to answer input()');
});

test('P3 timeouts interrupt the run; the context and its variables survive', async () => {
  await run({ code: 'kept = "yes"' });
  const t0 = Date.now();
  const r = await run({ code: 'while True:\n    pass', timeout: 400 });
  expectRest('ExecuteResult', r.json);
  assert.equal(r.json.success, false);
  assert.equal(r.json.errorType, 'timeout');
  assert.match(r.json.error, /400 ms/);
  assert.ok(Date.now() - t0 < 3000, 'stopped near its timeout');
  assert.equal((await run({ code: 'kept' })).json.result, 'yes');
  // a program that swallows the interrupt is killed after a grace period; its context is lost
  const k = await run({ code: 'import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass', timeout: 300 });
  expectRest('ExecuteResult', k.json);
  assert.equal(k.json.errorType, 'timeout');
  assert.equal(k.json.contextLost, true);
  assert.equal((await run({ code: '1 + 1' })).json.result, 2, 'a fresh worker took its place');
});

test('P4 variables persist between runs of a context until /api/reset', async () => {
  await run({ code: 'counter = 10' });
  assert.equal((await run({ code: 'counter += 1\ncounter' })).json.result, 11);
  const reset = await api(srv, 'POST', '/api/reset', { body: {} });
  assert.equal(reset.status, 200);
  expectRest('ResetResult', reset.json);
  assert.equal(reset.json.success, true);
  const after = await run({ code: 'counter' });
  assert.equal(after.json.success, false);
  assert.match(after.json.error, /NameError/);
});

test('P9 a session has its own context, shared by every run naming it and isolated from others', async () => {
  const a = await createSession(srv);
  const b = await createSession(srv);
  await run({ code: 'secret = 42', session: a.id });
  assert.equal((await run({ code: 'secret', session: a.id })).json.result, 42);
  const other = await run({ code: 'secret', session: b.id });
  assert.match(other.json.error, /NameError/, 'another session does not see it');
  const mine = await run({ code: 'secret' });
  assert.match(mine.json.error, /NameError/, 'nor does the caller\'s own context');
  const missing = await run({ code: '1', session: '00000000-0000-4000-8000-000000000000' });
  assert.equal(missing.status, 404);
  expectRest('Error', missing.json);
  assert.equal(missing.json.error.code, 'session_not_found');
  assert.equal((await api(srv, 'POST', '/api/reset', { body: { session: a.id } })).status, 200);
  assert.match((await run({ code: 'secret', session: a.id })).json.error, /NameError/);
});

test('P4 execute-raw takes the program as the body', async () => {
  const r = await api(srv, 'POST', '/api/execute-raw', { body: 'print("raw")\n1 + 2', raw: true, headers: { 'content-type': 'text/plain' } });
  assert.equal(r.status, 200);
  expectRest('ExecuteResult', r.json);
  assert.equal(r.json.result, 3);
  assert.equal(r.json.stdout, 'raw\n');
  const t = await api(srv, 'POST', '/api/execute-raw?timeout=300', { body: 'while True: pass', raw: true, headers: { 'content-type': 'text/plain' } });
  assert.equal(t.json.errorType, 'timeout');
  const empty = await api(srv, 'POST', '/api/execute-raw', { body: '', raw: true });
  assert.equal(empty.status, 400);
  expectRest('Error', empty.json);
  const badt = await api(srv, 'POST', '/api/execute-raw?timeout=soon', { body: '1', raw: true });
  assert.equal(badt.status, 400);
});

test('P4 /api/packages lists what the server\'s Python can import', async () => {
  const r = await api(srv, 'GET', '/api/packages');
  assert.equal(r.status, 200);
  expectRest('PackageList', r.json);
  assert.equal(r.json.success, true);
  for (const m of ['json', 'math', 'csv', 'collections']) assert.ok(r.json.packages.includes(m), m);
  assert.ok(!r.json.packages.some((p) => p.startsWith('_')));
});

test('P3 malformed requests get 400 with a JSON error', async () => {
  const cases = [
    [{}, /code/], [{ code: '' }, /code/], [{ code: 5 }, /code/], [{ code: '1', context: [1] }, /context/],
    [{ code: '1', timeout: -5 }, /timeout/], [{ code: '1', timeout: 'x' }, /timeout/], [{ code: '1', session: 7 }, /session/],
  ];
  for (const [body, re] of cases) {
    const r = await run(body);
    assert.equal(r.status, 400, JSON.stringify(body));
    expectRest('Error', r.json);
    assert.match(r.json.error.message, re);
  }
  const bad = await api(srv, 'POST', '/api/execute', { body: '{"code": ', raw: true, headers: { 'content-type': 'application/json' } });
  assert.equal(bad.status, 400);
  expectRest('Error', bad.json);
  assert.equal(bad.json.error.code, 'bad_json');
  const wrongType = await api(srv, 'POST', '/api/execute', { body: 'print(1)', raw: true, headers: { 'content-type': 'text/plain' } });
  assert.equal(wrongType.status, 415);
  expectRest('Error', wrongType.json);
});

test('R4 /health reports the Python pool and the sandbox layers in force', async () => {
  await run({ code: '1' });
  const h = (await api(srv, 'GET', '/health')).json;
  expectRest('Health', h);
  assert.equal(h.python.enabled, true);
  assert.equal(h.python.status, 'ok');
  assert.match(h.python.python, /^3\.\d+/);
  assert.ok(h.python.readyMs < 2000, `zygote ready in ${h.python.readyMs} ms`);
  assert.ok(h.python.workers >= 1);
  assert.equal(h.python.sandbox.seccomp, 1);
  assert.ok(h.python.sandbox.landlock >= 1, 'Landlock confines the file system');
  assert.ok(h.python.sandbox.uidDrop === 1 || h.python.sandbox.userns === 1);
});

test('P5 a client that hangs up mid-run does not disturb the server', async () => {
  const ctl = new AbortController();
  const p = fetch(`${srv.base}/api/execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'import time\ntime.sleep(10)' }), signal: ctl.signal }).catch((e) => e);
  await new Promise((r) => setTimeout(r, 300));
  ctl.abort();
  await p;
  const t0 = Date.now();
  const r = await run({ code: '"after"' });
  assert.equal(r.json.result, 'after');
  assert.ok(Date.now() - t0 < 4000, 'the abandoned run was interrupted, not waited for');
});

test('P5 an interrupt meant for an abandoned run never reaches the next run of the context', async () => {
  // a client that hangs up interrupts its own run; that interrupt crosses the zygote and may
  // arrive after the run ended: it must not hit the next run, nor the worker between runs
  await run({ code: 'x = 41' });
  const failures = [];
  for (let i = 0; i < 60; i++) {
    const ctl = new AbortController();
    const a = fetch(`${srv.base}/api/execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'print(1)' }), signal: ctl.signal }).catch(() => null);
    setTimeout(() => ctl.abort(), i % 3); // 0-2 ms: before, during or after the run
    const b = await run({ code: 'x + 1' });
    await a;
    if (b.json.result !== 42) failures.push(b.json);
  }
  assert.deepEqual(failures, []);
});

test('P5 the execution token: refused without it, accepted as Bearer or X-Execution-Token', async () => {
  const t = await startServer(['--py-token', 's3cret-token']);
  try {
    const no = await api(t, 'POST', '/api/execute', { body: { code: '1' } });
    assert.equal(no.status, 401);
    expectRest('Error', no.json);
    assert.equal(no.json.error.code, 'execution_token_required');
    const wrong = await api(t, 'POST', '/api/execute', { body: { code: '1' }, headers: { authorization: 'Bearer s3cret-tokex' } });
    assert.equal(wrong.status, 401);
    const bearer = await api(t, 'POST', '/api/execute', { body: { code: '1' }, headers: { authorization: 'Bearer s3cret-token' } });
    assert.equal(bearer.json.result, 1);
    const x = await api(t, 'POST', '/api/execute-raw', { body: '2', raw: true, headers: { 'x-execution-token': 's3cret-token' } });
    assert.equal(x.json.result, 2);
    // refused before the body is read: a client without the token cannot make collabd buffer it
    const early = await rawHttp(t, 'POST /api/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 5000000\r\n\r\n');
    assert.match(early.text, /^HTTP\/1\.1 401/);
    assert.doesNotMatch(t.log(), /s3cret-token/, 'the token is never logged');
    assert.match(t.log(), /execution token refused/);
  } finally { await t.stop(); }
});

test('P5 an unused address context gives back its worker, then its directory', async () => {
  const t = await startServer(['--py-idle-seconds', '1', '--py-context-ttl', '2']);
  try {
    const r = await api(t, 'POST', '/api/execute', { body: { code: 'open("notes.txt", "w").write("x")' } });
    assert.equal(r.json.success, true);
    const dir = join(t.logDir, 'sandbox', 'ip_127.0.0.1');
    assert.ok(existsSync(join(dir, 'notes.txt')));
    const t0 = Date.now();
    while (existsSync(dir) && Date.now() - t0 < 10000) await new Promise((res) => setTimeout(res, 200));
    assert.equal(existsSync(dir), false, 'the directory was removed');
    const h = (await api(t, 'GET', '/health')).json.python;
    assert.equal(h.workers, 0, 'the idle worker was given back first');
    assert.ok(h.contextDirsRemoved >= 1);
    assert.equal((await api(t, 'POST', '/api/execute', { body: { code: '"fresh"' } })).json.result, 'fresh');
  } finally { await t.stop(); }
});

test('P5 a sandbox directory the workers cannot reach is replaced by a private one in /tmp', { skip: process.getuid() !== 0 && 'only root drops the workers to another uid' }, async () => {
  const hidden = mkdtempSync(join(tmpdir(), 'collabd-hidden-')); // 0700: nobody cannot enter
  const t = await startServer(['--py-sandbox-dir', join(hidden, 'sandbox')]);
  try {
    const r = await api(t, 'POST', '/api/execute', { body: { code: 'import os\nos.getcwd()' } });
    assert.equal(r.json.success, true, r.text);
    assert.match(r.json.result, /^\/tmp\/collabd-sandbox-/);
    assert.match(t.log(), /cannot reach/);
  } finally { await t.stop(); rmSync(hidden, { recursive: true, force: true }); }
});

test('P5 switched off: 503 with a clear code, and /health says so', async () => {
  const t = await startServer(['--py-enabled', '0']);
  try {
    const r = await api(t, 'POST', '/api/execute', { body: { code: '1' } });
    assert.equal(r.status, 503);
    expectRest('Error', r.json);
    assert.equal(r.json.error.code, 'python_disabled');
    const h = (await api(t, 'GET', '/health')).json;
    expectRest('Health', h);
    assert.equal(h.python.enabled, false);
  } finally { await t.stop(); }
});

test('P5 a full pool queues runs and refuses past the queue limit with 503', async () => {
  const t = await startServer(['--py-workers', '1', '--py-queue-max', '1']);
  try {
    const [a, b, c] = [await createSession(t), await createSession(t), await createSession(t)];
    const slow = api(t, 'POST', '/api/execute', { body: { code: 'import time\ntime.sleep(1.0)\n"slow"', session: a.id } });
    await new Promise((r) => setTimeout(r, 300));
    const queued = api(t, 'POST', '/api/execute', { body: { code: '"queued"', session: b.id } });
    await new Promise((r) => setTimeout(r, 100));
    const refused = await api(t, 'POST', '/api/execute', { body: { code: '1', session: c.id } });
    assert.equal(refused.status, 503);
    expectRest('Error', refused.json);
    assert.equal(refused.json.error.code, 'python_busy');
    assert.equal((await slow).json.result, 'slow');
    assert.equal((await queued).json.result, 'queued', 'the queued run got the worker in its turn');
  } finally { await t.stop(); }
});
