// P5 sandbox suite: hostile programs sent to /api/execute, each contained. After each one the
// server must still answer /health and a normal run in another context, and what the program
// tried (a file written outside its directory, a process started, collabd signalled) must not
// have happened. The layers are seccomp (EPERM), Landlock (EACCES), rlimits, an empty network
// namespace, the uid drop and collabd's own timeouts and output cap.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, api, createSession, bin } from './lib/server.mjs';

let srv, bystander;
const marker = `/tmp/collabd-pwned-${process.pid}`;

before(async () => {
  srv = await startServer(['--py-output-max', '65536']);
  bystander = (await createSession(srv)).id;
});
after(async () => { await srv.stop(); });

const run = (code, extra = {}) => api(srv, 'POST', '/api/execute', { body: { code, ...extra } });

// Every hostile run is followed by this: the server serves, and another user's run works.
async function stillServing() {
  const h = await api(srv, 'GET', '/health');
  assert.equal(h.status, 200);
  const r = await run('21 * 2', { session: bystander });
  assert.equal(r.json.result, 42, 'another context still runs');
}

const hostile = [
  // [name, code, check(json)] — check asserts containment from the response
  ['open a socket', 'import socket\nsocket.socket(socket.AF_INET, socket.SOCK_STREAM)', (j) => assert.equal(j.errorType, 'sandbox')],
  ['connect to collabd itself', () => `import socket\nsocket.create_connection(("127.0.0.1", ${srv.port}), timeout=1)`, (j) => assert.equal(j.success, false)],
  ['fetch a URL', () => `import urllib.request\nurllib.request.urlopen("http://127.0.0.1:${srv.port}/health", timeout=1).read()`, (j) => assert.equal(j.success, false)],
  ['a Unix socket pair', 'import socket\nsocket.socketpair()', (j) => assert.equal(j.errorType, 'sandbox')],
  ['os.system', `import os\nos.system("touch ${marker}")`, (j) => assert.notEqual(j.result, 0)],
  ['subprocess', 'import subprocess\nsubprocess.run(["id"], capture_output=True)', (j) => assert.equal(j.errorType, 'sandbox')],
  ['exec a shell', 'import os\nos.execv("/bin/sh", ["sh", "-c", "true"])', (j) => assert.equal(j.errorType, 'sandbox')],
  ['fork', 'import os\nos.fork()', (j) => assert.equal(j.errorType, 'sandbox')],
  ['fork bomb', 'import os\nwhile True:\n    os.fork()', (j) => assert.equal(j.errorType, 'sandbox')],
  ['read /etc/shadow', 'open("/etc/shadow").read()', (j) => assert.equal(j.errorType, 'sandbox')],
  ['read /etc/passwd', 'open("/etc/passwd").read()', (j) => assert.equal(j.errorType, 'sandbox')],
  ["read collabd's log", () => `open(${JSON.stringify(join(srv.logDir, 'server.log'))}).read()`, (j) => assert.equal(j.errorType, 'sandbox')],
  ["read collabd's binary", () => `open(${JSON.stringify(bin)}, "rb").read(4)`, (j) => assert.equal(j.errorType, 'sandbox')],
  ["read collabd's environment", () => `open("/proc/${srv.proc.pid}/environ").read()`, (j) => assert.equal(j.success, false)],
  ['list the root home', 'import os\nos.listdir("/root")', (j) => assert.equal(j.success, false)],
  ['write outside the working directory', `open("${marker}", "w").write("x")`, (j) => assert.equal(j.errorType, 'sandbox')],
  ["write into another context's directory", () => `import os\nd = ${JSON.stringify(join(srv.logDir, 'sandbox'))}\nopen(os.path.join(d, "s_${bystander}", "planted.py"), "w").write("x")`, (j) => assert.equal(j.success, false)],
  ['kill the parent', 'import os, signal\nos.kill(os.getppid(), signal.SIGKILL)', (j) => assert.equal(j.errorType, 'sandbox')],
  ['kill collabd', () => `import os, signal\nos.kill(${srv.proc.pid}, signal.SIGTERM)`, (j) => assert.equal(j.errorType, 'sandbox')],
  ['kill every process', 'import os, signal\nos.kill(-1, signal.SIGKILL)', (j) => assert.equal(j.errorType, 'sandbox')],
  ['read the environment', 'import os\nassert dict(os.environ) == {}, dict(os.environ)\nraise PermissionError("nothing to read")', (j) => assert.match(j.error, /nothing to read/)],
  ['become root', 'import os\nos.setuid(0)', (j) => assert.equal(j.errorType, 'sandbox')],
  ['memory bomb at once', 'b = bytearray(64 * 1024 ** 3)', (j) => assert.equal(j.errorType, 'memory')],
  ['memory bomb by growth', 'l = []\nwhile True:\n    l.append(bytearray(50 * 1024 ** 2))', (j) => assert.equal(j.errorType, 'memory')],
  ['infinite loop', 'while True:\n    pass', (j) => assert.equal(j.errorType, 'timeout'), { timeout: 500 }],
  ['sleep forever', 'import time\ntime.sleep(10 ** 6)', (j) => assert.equal(j.errorType, 'timeout'), { timeout: 500 }],
  ['huge output', 'while True:\n    print("spam" * 1000)', (j) => {
    assert.equal(j.errorType, 'output_limit');
    assert.equal(j.truncated, true);
    assert.match(j.stdout, /\[output truncated: over 65536 bytes\]\n$/);
    assert.ok(j.stdout.length < 65536 + 200);
  }],
  ['huge output at the fd level', 'import os\nwhile True:\n    os.write(2, b"x" * 65536)', (j) => assert.equal(j.errorType, 'output_limit')],
  ['deep recursion', 'import sys\nsys.setrecursionlimit(10 ** 7)\ndef f(n):\n    return f(n + 1) + 1\nf(0)', (j) => assert.ok(['recursion', 'crash', 'memory', 'timeout'].includes(j.errorType), j.errorType), { timeout: 3000 }],
  ['deep recursion in C', 'import json\njson.loads("[" * 10 ** 6 + "]" * 10 ** 6)', (j) => assert.ok(['recursion', 'crash', 'memory'].includes(j.errorType), j.errorType)],
  ['ctypes null dereference', 'import ctypes\nctypes.string_at(0)', (j) => assert.equal(j.errorType, 'crash')],
  ['ctypes raw socket syscall', 'import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nr = libc.syscall(41, 2, 1, 0)\n(r, ctypes.get_errno())', (j) => assert.deepEqual(j.result, [-1, 1])],
  ['ctypes system()', `import ctypes\nctypes.CDLL(None).system(b"touch ${marker}")`, (j) => assert.notEqual(j.result, 0)],
  ['ctypes ptrace', 'import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n(libc.ptrace(16, 1, 0, 0), ctypes.get_errno())', (j) => assert.deepEqual(j.result, [-1, 1])],
  ['ctypes mount', 'import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None), ctypes.get_errno())', (j) => assert.deepEqual(j.result, [-1, 1])],
  ['thread bomb', 'import threading, time\nts = []\ntry:\n    for i in range(100000):\n        t = threading.Thread(target=time.sleep, args=(30,), daemon=True)\n        t.start()\n        ts.append(t)\nexcept Exception as e:\n    print(type(e).__name__)\nlen(ts) < 100000', (j) => assert.equal(j.result, true), { timeout: 10000 }],
  // the thread bomb's sleeping threads fill the address space: this ends its context
  ['exit the interpreter', 'import os\nos._exit(3)', (j) => { assert.equal(j.success, false); assert.equal(j.contextLost, true); }],
  ['exhaust file descriptors', 'fs = [open("/dev/null") for _ in range(100000)]', (j) => assert.match(j.error, /Too many open files/)],
  ['a file bigger than the limit', 'with open("big.bin", "wb") as f:\n    for i in range(64):\n        f.write(b"x" * 1024 ** 2)', (j) => assert.match(j.error, /File too large/)],
  ['abort()', 'import os\nos.abort()', (j) => assert.equal(j.errorType, 'crash')],
];

// these end normally, with a result that shows the attempt failed (checked by each entry)
const returnsNormally = new Set(['os.system', 'ctypes raw socket syscall', 'ctypes system()', 'ctypes ptrace',
  'ctypes mount', 'thread bomb']);

for (const [name, code, check, extra] of hostile) {
  test(`P5 hostile: ${name}`, async () => {
    const src = typeof code === 'function' ? code() : code;
    const r = await run(src, extra || {});
    assert.equal(r.status, 200, r.text);
    if (!returnsNormally.has(name)) assert.equal(r.json.success, false, `contained: ${r.text.slice(0, 300)}`);
    check(r.json);
    assert.equal(existsSync(marker), false, 'nothing was written outside the sandbox');
    await stillServing();
  });
}

test('P5 a hostile run does not hold up other users: a loop in one context, quick runs in another', async () => {
  const hog = run('while True:\n    pass', { timeout: 3000 });
  await new Promise((r) => setTimeout(r, 200));
  const t0 = Date.now();
  for (let i = 0; i < 5; i++) assert.equal((await run(`${i} + 1`, { session: bystander })).json.result, i + 1);
  assert.ok(Date.now() - t0 < 2000, `quick runs took ${Date.now() - t0} ms beside the hog`);
  assert.equal((await hog).json.errorType, 'timeout');
});

test('P5 the sandbox directory holds one directory per context and nothing escaped it', async () => {
  const dirs = readdirSync(join(srv.logDir, 'sandbox'));
  assert.ok(dirs.includes(`s_${bystander}`), dirs.join(','));
  assert.ok(dirs.some((d) => d.startsWith('ip_')), dirs.join(','));
  assert.ok(!dirs.includes('planted.py'));
  assert.ok(!readdirSync(join(srv.logDir, 'sandbox', `s_${bystander}`)).includes('planted.py'));
});
