// Graceful shutdown (D7 basics for issue 2): SIGTERM makes /health fail readiness, tells
// every WebSocket client (server_shutdown, close 1001), refuses new upgrades with 503,
// waits for clients within the grace period, and exits 0 (under ASan: leak-free).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, createSession, Client } from './lib/server.mjs';
import { expectMessage } from './lib/schema.mjs';

test('SIGTERM: clients told and closed with 1001, exit 0', async () => {
  const srv = await startServer(['--shutdown-grace-ms', '3000']);
  const s = await createSession(srv);
  const a = await Client.open(srv, s.id, '?userId=a');
  const b = await Client.open(srv, s.id, '?userId=b');
  await a.next('sync'); await b.next('sync');
  const t0 = Date.now();
  srv.proc.kill('SIGTERM');
  for (const c of [a, b]) {
    const m = await c.next('server_shutdown');
    expectMessage('server', m);
    assert.equal((await c.closed).code, 1001);
  }
  const e = await srv.exited;
  assert.equal(e.code, 0, srv.stderr);
  assert.ok(Date.now() - t0 < 2500, 'exits as soon as the clients are gone, not at the end of the grace');
  await srv.stop();
});

test('while draining: /health is 503 and new upgrades are refused before clients are told', async () => {
  const srv = await startServer(['--drain-delay-ms', '1000', '--shutdown-grace-ms', '1000']);
  const s = await createSession(srv);
  const c = await Client.open(srv, s.id, '?userId=c');
  await c.next('sync');
  const t0 = Date.now();
  srv.proc.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  const h = await api(srv, 'GET', '/health');
  assert.equal(h.status, 503, 'readiness fails first');
  assert.equal(h.json.status, 'draining');
  await assert.rejects(Client.open(srv, s.id), (err) => err.status === 503 && /shutting_down/.test(err.body));
  assert.equal(c.messages.filter((m) => m.type === 'server_shutdown').length, 0, 'clients are told only after the delay');
  await c.next('server_shutdown', 3000);
  assert.ok(Date.now() - t0 >= 900);
  assert.equal((await c.closed).code, 1001);
  const e = await srv.exited;
  assert.equal(e.code, 0, srv.stderr);
  await srv.stop();
});

test('SIGHUP reopens the log file (rotation)', async () => {
  const { renameSync, readFileSync, existsSync } = await import('node:fs');
  const { join } = await import('node:path');
  const srv = await startServer();
  await api(srv, 'GET', '/health');
  const log = join(srv.logDir, 'server.log');
  renameSync(log, log + '.1');
  srv.proc.kill('SIGHUP');
  // the reopen is asynchronous: poll until a request made after it lands in the new file
  let lines = [];
  for (let i = 0; i < 50 && !lines.some((l) => l.msg === 'http' && l.path === '/api/status'); i++) {
    await new Promise((r) => setTimeout(r, 100));
    await api(srv, 'GET', '/api/status');
    lines = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
  }
  assert.ok(existsSync(log), 'a new server.log was opened');
  assert.ok(lines.some((l) => l.msg === 'http' && l.path === '/api/status' && l.req), 'JSON lines with request ids');
  assert.ok(readFileSync(log + '.1', 'utf8').includes('"/health"'), 'the old file kept what was written before');
  await srv.stop();
});

test('--help, --version and bad options', async () => {
  const { spawnSync } = await import('node:child_process');
  const { bin } = await import('./lib/server.mjs');
  const h = spawnSync(bin, ['--help'], { encoding: 'utf8' });
  assert.equal(h.status, 0);
  assert.match(h.stdout, /--max-body/);
  assert.match(h.stdout, /COLLABD_/);
  const v = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^collabd \d+\.\d+\.\d+/);
  const bad = spawnSync(bin, ['--port', 'eighty'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /port/);
  const env = spawnSync(bin, ['--version'], { encoding: 'utf8', env: { ...process.env, COLLABD_PORT: 'x' } });
  assert.equal(env.status, 0, '--version does not need a valid configuration');
});
