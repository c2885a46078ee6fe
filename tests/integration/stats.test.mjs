// A3-A7 through the real server: /api/stats in the older Pyodide server's shape, the
// dashboard's figures (recent runs with the program's SHA-256 and never its text, top
// addresses and user agents, error categories, the hourly trend, live collaboration figures),
// the admin-only clear (token from the environment, constant-time compare, security events,
// never logged), /metrics read by a real Prometheus text-format parser from npm, and the
// per-address REST rate limit (429, Retry-After, JSON error, recovery; static files exempt).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheus from 'parse-prometheus-text-format';
import { startServer, api, createSession, Client, bin } from './lib/server.mjs';
import { expectRest } from './lib/schema.mjs';

const ADMIN = 'adm-7f3c9e1b-token';
const UA = 'stats-test/1.0 (integration)';
let srv;
before(async () => { srv = await startServer([], { COLLABD_ADMIN_TOKEN: ADMIN }); });
after(async () => { await srv.stop(); });

const sha = (s) => createHash('sha256').update(s).digest('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const exec = (code, extra = {}) => api(srv, 'POST', '/api/execute', { body: { code, ...extra }, headers: { 'user-agent': UA } });
const secLines = (s = srv) => readFileSync(join(s.logDir, 'security.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

async function waitForEvent(s, pred, what, count = 1) {
  const t0 = Date.now();
  for (;;) {
    const found = secLines(s).filter(pred);
    if (found.length >= count) return found;
    if (Date.now() - t0 > 5000) assert.fail(`no ${what} in the security log`);
    await sleep(50);
  }
}

const programs = {
  ok1: 'print("hi")\n6 * 7',
  ok2: 'sum(range(1000))',
  syntax: 'def broken(:\n  pass',
  runtime: 'secret_marker_value = 1\n1 / 0',
  timeout: 'while True:\n    pass',
};

test('A3/A4 /api/stats: the older server shape, counted from real runs', async () => {
  assert.equal((await exec(programs.ok1)).json.success, true);
  assert.equal((await exec(programs.ok2)).json.success, true);
  assert.equal((await exec(programs.syntax)).json.errorType, 'syntax');
  assert.equal((await exec(programs.runtime)).json.errorType, 'runtime');
  assert.equal((await exec(programs.timeout, { timeout: 300 })).json.errorType, 'timeout');

  const r = await api(srv, 'GET', '/api/stats');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  const j = r.json;
  expectRest('LegacyStats', j);
  assert.equal(typeof j.uptime, 'number');
  assert.ok(j.uptime > 0);
  assert.equal(j.pythonReady, true);
  assert.equal(j.isReady, true);
  const x = j.executionStats;
  assert.equal(x.totalExecutions, 5);
  assert.equal(x.successfulExecutions, 2);
  assert.equal(x.failedExecutions, 3);
  assert.equal(x.successRate, 0.4);
  assert.ok(x.averageExecutionTime > 0);
  assert.deepEqual(x.errorCategories, { syntax: 1, runtime: 1, timeout: 1 });
  assert.equal(x.hourlyTrend.length, 24);
  assert.equal(x.hourlyTrend.reduce((a, b) => a + b, 0), 5);
  assert.equal(x.hourlyTrend[new Date().getUTCHours()], 5);
  assert.ok(x.executionTimePercentiles.p50 > 0 && x.executionTimePercentiles.p99 >= x.executionTimePercentiles.p50);
  assert.match(x.lastExecutionTime, /^\d{4}-\d\d-\d\dT/);
  assert.ok(!r.text.includes('secret_marker_value'));
  // HEAD is answered too
  assert.equal((await api(srv, 'HEAD', '/api/stats')).status, 200);
});

test('A4/A5 /api/dashboard/stats: overview, recent runs by hash, tops, trend, live collab figures', async () => {
  // collaboration: two editors, pushes, a run in the room
  const s = await createSession(srv);
  const a = await Client.open(srv, s.id, '?userId=a', { headers: { 'user-agent': 'room-editor/2.0' } });
  await a.next('sync');
  const b = await Client.open(srv, s.id, '?userId=b');
  await b.next('sync');
  for (let v = 0; v < 20; v++) {
    a.send({ type: 'push', version: v, updates: [{ clientID: 'ca', changes: v ? [v, [0, 'x']] : [[0, 'x']] }] });
    await b.next('update');
  }
  a.send({ type: 'run', code: 'raise MemoryError()' });
  const done = await a.next('run_done', 15000);
  assert.equal(done.errorType, 'memory');
  await sleep(1100); // one complete second has the messages

  const r = await api(srv, 'GET', '/api/dashboard/stats');
  assert.equal(r.status, 200);
  assert.equal(r.json.success, true);
  expectRest('DashboardStats', r.json);
  const st = r.json.stats;
  const o = st.overview;
  assert.equal(o.totalExecutions, 6);
  assert.equal(o.successfulExecutions, 2);
  assert.equal(o.failedExecutions, 4);
  assert.equal(o.successRate, 33.3);
  assert.ok(o.averageExecutionTime > 0);
  assert.equal(o.lastHourExecutions, 6);
  assert.equal(o.pythonReady, true);
  assert.equal(typeof o.uptimeSeconds, 'number');
  assert.match(o.uptimeHuman, /\d+m \d+s/);

  assert.equal(st.recent.length, 6);
  assert.deepEqual(st.recent.map((e) => e.outcome), ['memory', 'timeout', 'runtime', 'syntax', 'success', 'success']);
  assert.deepEqual(st.recent.map((e) => e.source), ['room', 'rest', 'rest', 'rest', 'rest', 'rest']);
  assert.equal(st.recent[2].codeSha256, sha(programs.runtime));
  assert.equal(st.recent[5].codeSha256, sha(programs.ok1));
  assert.equal(st.recent[5].ip, '127.0.0.1');
  assert.ok(st.recent.every((e) => typeof e.ms === 'number' && /T.*Z$/.test(e.time)));
  assert.ok(!r.text.includes('secret_marker_value') && !r.text.includes('MemoryError()'), 'never the code');

  assert.deepEqual(st.topIPs, [{ name: '127.0.0.1', count: 6 }]);
  assert.deepEqual(st.userAgents, [{ name: UA, count: 5 }, { name: 'room-editor/2.0', count: 1 }]);
  assert.deepEqual(st.topErrors.map((e) => e.name).sort(), ['memory', 'runtime', 'syntax', 'timeout']);
  assert.equal(st.hourlyTrend[new Date().getUTCHours()], 6);
  assert.equal(st.hourly.length, 24);
  assert.equal(st.hourly[23].executions, 6);
  assert.equal(st.hourly[23].failed, 4);
  assert.equal(new Date(st.hourly[23].hour).getUTCHours(), new Date().getUTCHours());

  const c = st.collab;
  assert.ok(c.sessions >= 1);
  assert.equal(c.connections, 2);
  assert.ok(c.messagesReceived >= 21, JSON.stringify(c));
  assert.ok(c.messagesPerSecond > 0, JSON.stringify(c));
  assert.equal(c.messageRate.length, 60);
  assert.ok(c.messageRate.reduce((x, y) => x + y, 0) >= 21);
  assert.equal(c.pushes, 20);
  assert.ok(c.pushLatencyMs.p50 > 0 && c.pushLatencyMs.p99 >= c.pushLatencyMs.p50 && c.pushLatencyMs.max < 1000);
  await Promise.all([a.close(), b.close()]);
  await sleep(100);
  const idle = (await api(srv, 'GET', '/api/dashboard/stats')).json;
  expectRest('DashboardStats', idle);
  assert.equal(idle.stats.collab.connections, 0);
});

test('A6 /metrics: Prometheus text parsed by parse-prometheus-text-format', async () => {
  const r = await api(srv, 'GET', '/metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const families = parsePrometheus(r.text);
  const byName = Object.fromEntries(families.map((f) => [f.name, f]));
  for (const f of families) {
    assert.match(f.name, /^collabd_[a-z_]+$/);
    assert.ok(f.help.length > 0, f.name);
    if (f.type === 'COUNTER') assert.match(f.name, /_total$/);
  }
  const expect = {
    collabd_build_info: 'GAUGE', collabd_uptime_seconds: 'GAUGE', collabd_sessions: 'GAUGE',
    collabd_ws_connections: 'GAUGE', collabd_ws_messages_per_second: 'GAUGE', collabd_python_ready: 'GAUGE',
    collabd_http_requests_total: 'COUNTER', collabd_sessions_created_total: 'COUNTER',
    collabd_ws_messages_received_total: 'COUNTER', collabd_ws_messages_sent_total: 'COUNTER',
    collabd_python_executions_total: 'COUNTER', collabd_python_errors_total: 'COUNTER',
    collabd_uploads_total: 'COUNTER', collabd_http_rate_limited_total: 'COUNTER',
    collabd_push_broadcast_seconds: 'HISTOGRAM', collabd_python_execution_seconds: 'HISTOGRAM',
  };
  for (const [name, type] of Object.entries(expect)) assert.equal(byName[name]?.type, type, name);
  const value = (name, labels = {}) => Number(byName[name].metrics.find((m) =>
    Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)).value);
  assert.equal(value('collabd_python_executions_total', { outcome: 'success' }), 2);
  assert.equal(value('collabd_python_executions_total', { outcome: 'failure' }), 4);
  assert.equal(value('collabd_python_errors_total', { type: 'timeout' }), 1);
  assert.equal(value('collabd_python_errors_total', { type: 'memory' }), 1);
  assert.equal(value('collabd_python_ready'), 1);
  assert.ok(value('collabd_ws_messages_received_total') >= 21);
  assert.equal(byName.collabd_build_info.metrics[0].labels.version, '0.1.0');
  for (const h of ['collabd_push_broadcast_seconds', 'collabd_python_execution_seconds']) {
    const m = byName[h].metrics[0];
    // the parser keeps buckets in an object (whose key order is JavaScript's, not the
    // text's): order them by le; the text's own order is checked in tests/unit/audit
    const le = (b) => (b === '+Inf' ? Infinity : Number(b));
    const bounds = Object.keys(m.buckets).sort((x, y) => le(x) - le(y));
    assert.ok(bounds.length >= 10 && bounds.every((b) => !Number.isNaN(le(b))), bounds.join());
    assert.equal(bounds.at(-1), '+Inf');
    const counts = bounds.map((b) => Number(m.buckets[b]));
    for (let i = 1; i < counts.length; i++) assert.ok(counts[i] >= counts[i - 1], `${h}: buckets monotone`);
    assert.equal(counts.at(-1), Number(m.count));
    assert.ok(Number(m.sum) > 0);
  }
  assert.equal(Number(byName.collabd_push_broadcast_seconds.metrics[0].count), 20);
  assert.equal(Number(byName.collabd_python_execution_seconds.metrics[0].count), 6);
});

test('A4/A7 clear needs the admin token: refusals and the clear are security events', async () => {
  const clear = (headers = {}) => api(srv, 'POST', '/api/dashboard/stats/clear', { headers });
  let r = await clear();
  assert.equal(r.status, 401);
  expectRest('Error', r.json);
  assert.equal(r.json.error.code, 'admin_token_required');
  assert.match(r.headers.get('www-authenticate'), /^Bearer/);
  r = await clear({ 'x-admin-token': ADMIN.slice(0, -1) });
  assert.equal(r.status, 401);
  r = await clear({ authorization: `Bearer ${ADMIN}x` });
  assert.equal(r.status, 401);
  const refused = await waitForEvent(srv, (e) => e.event === 'admin_token_refused', 'admin_token_refused', 3);
  assert.deepEqual(refused.map((e) => e.reason), ['missing', 'wrong', 'wrong']);
  assert.equal(refused[0].ip, '127.0.0.1');
  assert.equal((await api(srv, 'GET', '/api/stats')).json.executionStats.totalExecutions, 6, 'nothing cleared');

  r = await clear({ 'x-admin-token': ADMIN });
  assert.equal(r.status, 200);
  expectRest('StatsCleared', r.json);
  assert.equal(r.json.success, true);
  assert.match(r.json.clearedAt, /Z$/);
  await waitForEvent(srv, (e) => e.event === 'stats_cleared', 'stats_cleared');
  const after = (await api(srv, 'GET', '/api/stats')).json;
  expectRest('LegacyStats', after);
  assert.equal(after.executionStats.totalExecutions, 0);
  assert.deepEqual(after.executionStats.errorCategories, {});
  assert.equal(after.statsSince, r.json.clearedAt);
  const dashAll = (await api(srv, 'GET', '/api/dashboard/stats')).json;
  expectRest('DashboardStats', dashAll);
  const dash = dashAll.stats;
  assert.deepEqual([dash.recent, dash.topIPs, dash.userAgents], [[], [], []]);
  // /metrics counters only go up
  assert.match((await api(srv, 'GET', '/metrics')).text, /collabd_python_executions_total\{outcome="success"\} 2\n/);
  // Bearer works as well, and counting starts again
  await exec(programs.ok2);
  assert.equal((await api(srv, 'GET', '/api/stats')).json.executionStats.totalExecutions, 1);
  assert.equal((await clear({ authorization: `Bearer ${ADMIN}` })).status, 200);
  // the token is never written to a log
  assert.ok(!readFileSync(join(srv.logDir, 'security.log'), 'utf8').includes(ADMIN));
  assert.ok(!srv.log().includes(ADMIN));
  assert.ok(srv.log().includes('admin token refused'));
});

test('A7 rate limit per address: 429 with Retry-After and a JSON error, recovery, static exempt; admin disabled', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'collabd-static-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>x</title>');
  writeFileSync(join(dir, 'dashboard.html'), '<!doctype html><title>collabd dashboard</title>');
  const s2 = await startServer(['--http-rate-limit', '4', '--http-rate-burst', '6', '--static-dir', dir]);
  try {
    // static files never count
    const statics = await Promise.all(Array.from({ length: 30 }, () => api(s2, 'GET', '/index.html')));
    assert.ok(statics.every((x) => x.status === 200));
    const rs = await Promise.all(Array.from({ length: 20 }, () => api(s2, 'GET', '/api/stats')));
    const ok = rs.filter((x) => x.status === 200), limited = rs.filter((x) => x.status === 429);
    assert.ok(ok.length >= 6 && ok.length <= 8, `allowed ${ok.length}`);
    assert.ok(limited.length >= 12);
    for (const x of limited) {
      const ra = Number(x.headers.get('retry-after'));
      assert.ok(Number.isInteger(ra) && ra >= 1, x.headers.get('retry-after'));
      expectRest('Error', x.json);
      assert.equal(x.json.error.code, 'rate_limited');
      assert.match(x.json.error.message, /per second/);
    }
    // one security event for the streak, not one per refusal
    const ev = await waitForEvent(s2, (e) => e.event === 'rate_limited' && e.source === 'rest', 'rate_limited');
    assert.ok(ev.length >= 1 && ev.length < limited.length, `${ev.length} events`);
    assert.equal(ev[0].ip, '127.0.0.1');
    // the probes of a balancer and of Prometheus are never limited, even now
    const probes = await Promise.all(['/health', '/api/status', '/metrics', '/health'].map((p) => api(s2, 'GET', p)));
    assert.deepEqual(probes.map((x) => x.status), [200, 200, 200, 200]);
    // waiting as told is enough
    await sleep(Number(limited[0].headers.get('retry-after')) * 1000 + 50);
    assert.equal((await api(s2, 'GET', '/api/stats')).status, 200);
    // POSTs are limited too; a refused POST's body is not read and the connection closes
    await sleep(1600);
    const posts = await Promise.all(Array.from({ length: 12 }, () =>
      api(s2, 'POST', '/sessions', { body: { language: 'python' } })));
    assert.ok(posts.some((x) => x.status === 429) && posts.some((x) => x.status === 201));
    await sleep(2000);
    const m = await api(s2, 'GET', '/metrics');
    assert.equal(m.status, 200);
    const fam = parsePrometheus(m.text).find((f) => f.name === 'collabd_http_rate_limited_total');
    assert.ok(Number(fam.metrics[0].value) >= limited.length);
    // admin endpoints are off without a token
    await sleep(1000);
    const c = await api(s2, 'POST', '/api/dashboard/stats/clear', { headers: { authorization: 'Bearer anything' } });
    assert.equal(c.status, 403);
    expectRest('Error', c.json);
    assert.equal(c.json.error.code, 'admin_disabled');
    // the dashboard page is served from the static directory, under collabd's CSP
    for (const p of ['/api/dashboard/stats/dashboard', '/dashboard']) {
      const d = await api(s2, 'GET', p);
      assert.equal(d.status, 200);
      assert.match(d.headers.get('content-type'), /^text\/html/);
      assert.match(d.text, /collabd dashboard/);
      assert.match(d.headers.get('content-security-policy'), /script-src 'self'/);
    }
  } finally {
    await s2.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('A5 the dashboard page answers 404 with a hint when the frontend is not built', async () => {
  const r = await api(srv, 'GET', '/api/dashboard/stats/dashboard'); // frontend/public has none
  assert.equal(r.status, 404);
  expectRest('Error', r.json);
  assert.equal(r.json.error.code, 'dashboard_not_built');
});

test('A7 --help lists the new options; a bad rate value stops start-up', () => {
  const help = execFileSync(bin, ['--help'], { encoding: 'utf8' });
  for (const o of ['--http-rate-limit', '--http-rate-burst', '--admin-token']) assert.ok(help.includes(o), o);
  assert.throws(() => execFileSync(bin, ['--http-rate-limit', '-1'], { stdio: 'pipe' }), /http_rate_limit/);
});
