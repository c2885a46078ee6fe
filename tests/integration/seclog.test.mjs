// A1/A2: logs/security.log through the real server: one JSON object per line for executions
// (the SHA-256 of the program, never the program), sessions, WebSocket joins and refusals,
// token refusals, sandbox violations; each line chained to the one before; `collabd audit
// verify` finds an edited, removed or swapped line; SIGHUP rotation continues the chain.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, renameSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, api, createSession, Client, bin } from './lib/server.mjs';

let srv;
before(async () => { srv = await startServer(['--py-token', 'tok-123']); });
after(async () => { await srv.stop(); });

const logPath = () => join(srv.logDir, 'security.log');
const lines = (p = logPath()) => readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const sha = (s) => createHash('sha256').update(s).digest('hex');
const auth = { authorization: 'Bearer tok-123' };

async function waitFor(pred, what) {
  const t0 = Date.now();
  for (;;) {
    const found = lines().filter(pred);
    if (found.length) return found;
    if (Date.now() - t0 > 5000) assert.fail(`no ${what} in the security log:\n${readFileSync(logPath(), 'utf8')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function verify(...files) {
  try {
    return { code: 0, out: execFileSync(bin, ['audit', 'verify', ...files], { encoding: 'utf8' }) };
  } catch (e) {
    return { code: e.status, out: String(e.stdout) };
  }
}

test('A1 an execution is logged with the hash of the program, never its text, with IP, user agent, timing and outcome', async () => {
  const code = 'secret_value = "do-not-log-me"\nprint(secret_value)';
  const r = await api(srv, 'POST', '/api/execute', { body: { code }, headers: { ...auth, 'user-agent': 'seclog-test/1.0' } });
  assert.equal(r.json.success, true);
  const [ev] = await waitFor((l) => l.event === 'code_executed' && l.codeSha256 === sha(code), 'code_executed');
  assert.equal(ev.ip, '127.0.0.1');
  assert.equal(ev.userAgent, 'seclog-test/1.0');
  assert.equal(ev.outcome, 'success');
  assert.equal(ev.codeBytes, Buffer.byteLength(code));
  assert.equal(typeof ev.durationMs, 'number');
  assert.match(ev.time, /^\d{4}-\d\d-\d\dT/);
  assert.doesNotMatch(readFileSync(logPath(), 'utf8'), /do-not-log-me/);
  assert.doesNotMatch(readFileSync(logPath(), 'utf8'), /tok-123/, 'the token is never logged');
});

test('A1 failures, sandbox violations and refused tokens are security events', async () => {
  await api(srv, 'POST', '/api/execute', { body: { code: 'import socket\nsocket.socket()' }, headers: auth });
  await waitFor((l) => l.event === 'code_execution_error' && l.outcome === 'sandbox', 'code_execution_error');
  await waitFor((l) => l.event === 'sandbox_violation', 'sandbox_violation');
  const refused = await api(srv, 'POST', '/api/execute', { body: { code: '1' }, headers: { 'user-agent': 'intruder' } });
  assert.equal(refused.status, 401);
  const [ev] = await waitFor((l) => l.event === 'execution_token_refused', 'execution_token_refused');
  assert.equal(ev.userAgent, 'intruder');
});

test('A1 sessions, WebSocket joins, refused upgrades and room runs are logged', async () => {
  const s = await createSession(srv);
  await waitFor((l) => l.event === 'session_created' && l.session === s.id, 'session_created');
  const c = await Client.open(srv, s.id, '?userId=ada&userName=Ada');
  await c.next('sync');
  await waitFor((l) => l.event === 'ws_join' && l.session === s.id && l.user === 'ada', 'ws_join');
  c.send({ type: 'run', code: 'print("room")', token: 'tok-123' });
  await c.next('run_done');
  await waitFor((l) => l.event === 'code_executed' && l.source === 'room' && l.session === s.id && l.codeSha256 === sha('print("room")'), 'room run');
  await c.close();
  await assert.rejects(Client.open(srv, '00000000-0000-4000-8000-000000000000'));
  await waitFor((l) => l.event === 'ws_refused' && l.status === 404, 'ws_refused');
  assert.equal((await api(srv, 'DELETE', `/sessions/${s.id}`)).status, 204);
  await waitFor((l) => l.event === 'session_deleted' && l.session === s.id, 'session_deleted');
});

test('A2 every line carries the hash of the line before; verify finds an edit, a deletion and a swap', async () => {
  await waitFor((l) => l.event === 'session_deleted', 'events');
  const text = readFileSync(logPath(), 'utf8');
  const raw = text.split('\n').filter(Boolean);
  assert.ok(raw.length >= 8);
  assert.equal(JSON.parse(raw[0]).event, 'chain_start');
  for (let i = 1; i < raw.length; i++) assert.equal(JSON.parse(raw[i]).prev, sha(raw[i - 1]), `line ${i + 1}`);
  // collabd may still be appending: work on a copy of what is there now
  const dir = mkdtempSync(join(tmpdir(), 'seclog-'));
  const copy = join(dir, 'copy.log');
  writeFileSync(copy, raw.join('\n') + '\n');
  assert.equal(verify(copy).code, 0);
  const tamper = (mutate) => { const l = raw.slice(); mutate(l); writeFileSync(copy, l.join('\n') + '\n'); return verify(copy); };
  const edited = tamper((l) => { l[3] = l[3].replace('"ip":"127.0.0.1"', '"ip":"10.0.0.1"'); });
  assert.equal(edited.code, 1);
  assert.match(edited.out, /line 5:/, edited.out);
  const deleted = tamper((l) => l.splice(4, 1));
  assert.equal(deleted.code, 1);
  assert.match(deleted.out, /line 5:/, deleted.out);
  const swapped = tamper((l) => { [l[4], l[5]] = [l[5], l[4]]; });
  assert.equal(swapped.code, 1);
  assert.match(swapped.out, /line 5:/, swapped.out);
});

test('A2 SIGHUP reopens the log for rotation and the chain continues in the new file', async () => {
  const old = join(srv.logDir, 'security.log.1');
  renameSync(logPath(), old);
  srv.proc.kill('SIGHUP');
  const t0 = Date.now();
  for (;;) {
    try { if (lines().length) break; } catch { /* not yet reopened */ }
    if (Date.now() - t0 > 5000) assert.fail('security.log was not reopened');
    await new Promise((r) => setTimeout(r, 50));
  }
  await createSession(srv);
  const fresh = await waitFor((l) => l.event === 'session_created', 'an event in the new file');
  assert.ok(fresh.length);
  const first = lines()[0];
  assert.equal(first.event, 'chain_start');
  assert.equal(first.reason, 'rotate');
  const oldLines = readFileSync(old, 'utf8').split('\n').filter(Boolean);
  assert.equal(first.prev, sha(oldLines[oldLines.length - 1]), 'the new file starts from the old one\'s last hash');
  const v = verify(old, logPath());
  assert.equal(v.code, 0, v.out);
});

test('A1 X-Forwarded-For names the client only when the peer is a trusted proxy', async () => {
  // this server trusts nobody: a client cannot choose the address it is logged (and limited) under
  await api(srv, 'POST', '/sessions', { body: {}, headers: { 'x-forwarded-for': '203.0.113.66' } });
  const [own] = await waitFor((l) => l.event === 'session_created' && l.ip === '127.0.0.1' && l.requestId, 'session_created');
  assert.ok(own);
  assert.doesNotMatch(readFileSync(logPath(), 'utf8'), /203\.0\.113\.66/);
  const t = await startServer(['--trusted-proxies', '127.0.0.0/8, ::1']);
  try {
    const r = await api(t, 'POST', '/api/execute', { body: { code: '1' }, headers: { 'x-forwarded-for': '6.6.6.6, 198.51.100.23' } });
    assert.equal(r.json.result, 1);
    const p = join(t.logDir, 'security.log');
    const t0 = Date.now();
    let ev;
    while (!(ev = readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.event === 'code_executed'))) {
      if (Date.now() - t0 > 5000) assert.fail('no event');
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.equal(ev.ip, '198.51.100.23', 'the rightmost address the trusted proxy appended');
    assert.equal(ev.context, 'ip:198.51.100.23', 'and the Python context is the client\'s, not the proxy\'s');
  } finally { await t.stop(); }
});
