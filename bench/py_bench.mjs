// py_bench.mjs: server-side Python over HTTP, `POST /api/execute {code}`, against two same-run
// peers: (a) a Node server that spawns Debian's /usr/bin/python3 per request and (b) a Node server
// that runs every request in one shared Pyodide interpreter (the older Express design). Prints a
// side-by-side table with ratios and writes bench/PYTHON_RESULTS.md. Started by bench/py_bench.sh
// (which builds collabd, installs bench/py-peers and wrk).
//
//   node bench/py_bench.mjs [--quick]     (--quick: one 2 s run per figure, 3 starts for readiness)
//
// Load comes from wrk (native, one thread, a Lua script for the POST bodies, keep-alive
// connections): sequential latency with 1 connection, throughput with 8 and 32. Every figure is run
// REPS times; the table shows the median and (min-max). All of wrk's requests come from 127.0.0.1,
// so on collabd they share ONE context, served by one worker, one run at a time; collabd is
// therefore also measured with the requests spread over 8 contexts (8 sessions created first,
// `session` rotated by the Lua script; --py-workers is 8 by default). The peers have no contexts.
// Every server runs on a free loopback port and is killed by its own pid. Every step has a timeout.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const build = process.env.BUILD_DIR || path.join(root, 'build-release');
const collabdBin = path.join(build, 'server/collabd');
const peers = path.join(here, 'py-peers');
const WRK = process.env.WRK || 'wrk';
const quick = process.argv.includes('--quick');
const SECS = quick ? 2 : 3;
const REPS = quick ? 1 : 3;
const STARTS = quick ? 3 : 5;
const CONNS = [8, 32];
const CONTEXTS = 8;
const SNIPPETS = [
  { id: 'print', label: 'print(1)', code: 'print(1)' },
  { id: 'cpu', label: 'sum(i*i for i in range(200000))', code: 'sum(i*i for i in range(200000))' },
];
const SERVERS = ['collabd', 'python3', 'pyodide'];
const NAMES = { collabd: 'collabd', python3: '(a) python3/request', pyodide: '(b) pyodide' };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'py-bench-'));
fs.chmodSync(tmp, 0o711); // collabd running as root drops its workers to nobody: they must traverse it

function log(...a) { console.error('[py-bench]', ...a); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------- servers ----------
let collabdStarts = 0;
function startServer(kind) {
  let cmd, args, logDir = null;
  if (kind === 'collabd') {
    logDir = path.join(tmp, `collabd-${++collabdStarts}`);
    fs.mkdirSync(logDir, { mode: 0o711 });
    fs.chmodSync(logDir, 0o711);
    cmd = collabdBin;
    // the per-address REST rate limit (200/s by default) would answer wrk's single address 429
    args = ['--port', '0', '--log-dir', logDir, '--log-stderr', '0', '--py-sandbox-dir', path.join(logDir, 'sandbox'),
      '--http-rate-limit', '0'];
  } else {
    cmd = process.execPath;
    args = [path.join(peers, kind === 'python3' ? 'spawn_server.mjs' : 'pyodide_server.mjs'), '--port', '0'];
  }
  const t0 = performance.now();
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let errText = '';
  p.stderr.on('data', (d) => { errText += d; });
  p.on('exit', (code, sig) => { p.exited = { code, sig }; });
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`${kind} did not start: ${out}${errText}`)); }, 20000);
    p.stdout.on('data', (d) => {
      out += d;
      const m = /127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve({ kind, proc: p, pid: p.pid, port: Number(m[1]), t0, logDir, stderr: () => errText });
      }
    });
  });
}

async function stopServer(s) {
  if (s.proc.exited) {
    log(`${s.kind} had already exited: ${JSON.stringify(s.proc.exited)} ${s.stderr()}`);
    return { crashed: true, ...s.proc.exited };
  }
  s.proc.kill('SIGTERM');
  const ok = await new Promise((r) => {
    const t = setTimeout(() => r(false), 8000);
    s.proc.on('exit', () => { clearTimeout(t); r(true); });
  });
  if (!ok) s.proc.kill('SIGKILL');
  return { crashed: false };
}

const agent = new http.Agent({ keepAlive: false });
function request(port, method, p, body, timeoutMs = 10000) {
  return new Promise((resolve) => {
    const data = body === undefined ? null : Buffer.from(JSON.stringify(body));
    const req = http.request({ host: '127.0.0.1', port, method, path: p, agent,
      headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {} }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(Buffer.concat(chunks).toString()); } catch {}
        resolve({ status: res.statusCode, json });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, error: e.code || e.message }));
    if (data) req.write(data);
    req.end();
  });
}

// Spawn, then POST print(1) until the first success: ms from spawn to that answer.
async function timeToReady(kind) {
  const s = await startServer(kind);
  let ms = null, tries = 0, health = null;
  try {
    const deadline = performance.now() + 30000;
    while (performance.now() < deadline) {
      tries++;
      const r = await request(s.port, 'POST', '/api/execute', { code: 'print(1)' });
      if (r.status === 200 && r.json?.success === true && r.json.stdout === '1\n') { ms = performance.now() - s.t0; break; }
      await sleep(2);
    }
    if (kind === 'collabd') health = (await request(s.port, 'GET', '/health')).json?.python ?? null;
  } finally {
    await stopServer(s);
  }
  return { ms, tries, zygoteReadyMs: health?.readyMs ?? null };
}

// ---------- wrk ----------
function luaScript(bodies) {
  const q = (s) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  return `-- written by bench/py_bench.mjs
bodies = { ${bodies.map(q).join(', ')} }
n = #bodies
i = 0
fails = 0
headers = { ["Content-Type"] = "application/json" }
local threads = {}
function setup(thread) table.insert(threads, thread) end
request = function()
  i = i % n + 1
  return wrk.format("POST", "/api/execute", headers, bodies[i])
end
response = function(status, hdrs, body)
  if status ~= 200 or not string.find(body, '"success":true', 1, true) then
    fails = fails + 1
    if fails <= 3 then io.stderr:write("wrk: failed answer " .. status .. ": " .. string.sub(body, 1, 300) .. "\\n") end
  end
end
done = function(summary, latency, requests)
  local f = 0
  for _, t in ipairs(threads) do f = f + t:get("fails") end
  local e = summary.errors
  io.write(string.format('RESULT {"requests":%d,"duration_us":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f,"fails":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, f, e.connect, e.read, e.write, e.status, e.timeout))
end
`;
}

let scriptN = 0;
function writeScript(code, sessions) {
  const bodies = sessions ? sessions.map((id) => JSON.stringify({ code, session: id })) : [JSON.stringify({ code })];
  const f = path.join(tmp, `s${++scriptN}.lua`);
  fs.writeFileSync(f, luaScript(bodies));
  return f;
}

function wrk(port, script, conns, secs) {
  return new Promise((resolve) => {
    const p = spawn(WRK, ['-t1', `-c${conns}`, `-d${secs}s`, '--timeout', '10s', '-s', script, `http://127.0.0.1:${port}/`],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), (secs + 30) * 1000);
    p.on('exit', (code) => {
      clearTimeout(t);
      if (err.trim()) log(err.trim());
      const m = /^RESULT (.*)$/m.exec(out);
      if (!m) { resolve({ failed: true, code, err }); return; }
      const r = JSON.parse(m[1]);
      r.rps = r.requests / (r.duration_us / 1e6);
      r.errors = r.fails + r.connect + r.read + r.write + r.timeout; // status errors are counted in fails
      resolve(r);
    });
  });
}

// Wait until a server is ready (print(1) answered with success) and idle: wrk closes its
// connections with requests in flight, and what they started must end before the next figure
// (Pyodide runs what it already read one after another; python3 processes run on; collabd
// interrupts the runs and drops the queued ones). Then a short pause.
function children(pid) {
  let n = 0;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === pid) n++;
    } catch {}
  }
  return n;
}
// On collabd the probe goes to every context the next figure uses (`sessions`, or the client
// address's), so that no worker is spawned inside a measured window, and no other context's worker
// is evicted (8 sessions + the address's context would be 9 contexts for 8 workers).
const probeFailures = [];
async function settle(s, sessions = null, timeoutMs = 60000) {
  const deadline = performance.now() + timeoutMs;
  for (const session of sessions || [null]) {
    while (performance.now() < deadline) {
      const body = session ? { code: 'print(1)', session } : { code: 'print(1)' };
      const r = await request(s.port, 'POST', '/api/execute', body, timeoutMs);
      if (r.status === 200 && r.json?.success === true) break;
      if (r.status === 200) { // an answered run that failed: not expected of print(1)
        probeFailures.push({ server: s.kind, session, errorType: r.json?.errorType, error: r.json?.error, executionTime: r.json?.executionTime });
      }
      await sleep(20);
    }
  }
  if (s.kind === 'python3') while (children(s.pid) > 0 && performance.now() < deadline) await sleep(20);
  await sleep(100);
}

// ---------- runs ----------
const loadStart = os.loadavg().map((x) => x.toFixed(2)).join(' ');
const busyAtStart = os.loadavg()[0] > 0.5 * os.cpus().length;
if (busyAtStart) log(`warning: load average ${loadStart} at the start: other processes share the CPUs, expect outliers`);
const results = { ready: {}, load: {}, notes: [], crashes: [], collabd: {} };
const key = (server, snip, mode, conns) => `${server}|${snip}|${mode}|${conns}`;

// Time to ready, STARTS times each, the servers taking turns (so that a busy spell of the machine
// does not fall on one server only).
for (const kind of SERVERS) results.ready[kind] = [];
for (let i = 0; i < STARTS; i++) for (const kind of SERVERS) results.ready[kind].push(await timeToReady(kind));
for (const kind of SERVERS) log(`ready ${kind}: ${results.ready[kind].map((r) => (r.ms === null ? 'never' : r.ms.toFixed(1))).join(', ')} ms`);

// The load: all three servers run for the whole section (an idle one uses no CPU) and take turns
// within every repetition of every figure, again so that noise is shared.
const versionsFromServers = {};
const live = {};
let sessions = null;
try {
  for (const kind of SERVERS) {
    const s = await startServer(kind);
    live[kind] = s;
    log(`load: ${kind} on port ${s.port} (pid ${s.pid})`);
    await settle(s);
    const v = await request(s.port, 'POST', '/api/execute', { code: 'import sys\nprint(sys.version.split()[0])' });
    versionsFromServers[kind] = (v.json?.stdout || '?').trim();
  }
  sessions = [];
  for (let i = 0; i < CONTEXTS; i++) {
    const r = await request(live.collabd.port, 'POST', '/sessions', { language: 'python' });
    if (!r.json?.id) throw new Error(`POST /sessions failed: ${r.status} ${JSON.stringify(r.json)}`);
    sessions.push(r.json.id);
  }
  for (const snip of SNIPPETS) {
    const one = writeScript(snip.code, null);
    const many = writeScript(snip.code, sessions);
    // [server, mode, script, settle probes]
    const cases = [['collabd', 'one', one, null], ['collabd', 'many', many, sessions],
      ['python3', 'one', one, null], ['pyodide', 'one', one, null]];
    for (const [kind, , script, probe] of cases) { // warm-up: workers spawned, JIT warm
      await settle(live[kind], probe);
      await wrk(live[kind].port, script, Math.max(...CONNS), 1);
      await settle(live[kind], probe);
    }
    for (const conns of [1, ...CONNS]) {
      for (let rep = 0; rep < REPS; rep++) {
        for (const [kind, mode, script, probe] of cases) {
          if (mode === 'many' && conns === 1) continue;
          const s = live[kind];
          await settle(s, probe);
          const r = await wrk(s.port, script, conns, SECS);
          await settle(s, probe); // what the closed connections left running ends before the next server's turn
          (results.load[key(kind, snip.id, mode, conns)] ||= []).push(r);
          log(`${kind} ${snip.id} ${mode === 'many' ? `${CONTEXTS} contexts` : '1 context'} c${conns} #${rep + 1}: ` +
            (r.failed ? `wrk failed (${r.code})` : `${r.rps.toFixed(1)} req/s p50 ${(r.p50 / 1000).toFixed(2)} p99 ${(r.p99 / 1000).toFixed(2)} ms${r.errors ? ` errors ${r.errors}` : ''}`));
        }
      }
    }
  }
  results.collabd.health = (await request(live.collabd.port, 'GET', '/health')).json?.python ?? null;
} finally {
  for (const kind of SERVERS) {
    if (!live[kind]) continue;
    const st = await stopServer(live[kind]);
    if (st.crashed) results.crashes.push({ kind, ...st });
  }
}
{
  // what collabd logged above info level, and the runs that failed
  let lines = [];
  try { lines = fs.readFileSync(path.join(live.collabd.logDir, 'server.log'), 'utf8').split('\n').filter(Boolean); } catch {}
  const notable = lines.filter((l) => !/"level":"info"/.test(l) && !/"level":"debug"/.test(l));
  const failedRuns = lines.filter((l) => /"msg":"python run"/.test(l) && /"success":false/.test(l));
  results.collabd.logLines = lines.length;
  results.collabd.notable = notable.slice(0, 20);
  results.collabd.notableCount = notable.length;
  results.collabd.failedRuns = failedRuns.slice(0, 10);
  results.collabd.failedRunCount = failedRuns.length;
}

// ---------- summary ----------
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const n = s.length; return n ? (n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2) : null; };
function num(v, unit) {
  if (v === null || v === undefined || Number.isNaN(v)) return 'n/a';
  if (unit === 'rps') return v >= 100 ? v.toFixed(0) : v.toFixed(1);
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3); // ms
}
// [median, min, max] of one field (rps, or latency converted to ms) over the repetitions
function stat(server, snip, mode, conns, field) {
  const all = results.load[key(server, snip, mode, conns)] || [];
  const runs = all.filter((r) => !r.failed && (field === 'rps' || r.requests > 0)); // no answer: no latency
  if (!runs.length) return null;
  const xs = runs.map((r) => (field === 'rps' ? r.rps : r[field] / 1000));
  return { med: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: runs.length,
    errors: runs.reduce((a, r) => a + r.errors, 0) + (all.length - runs.length) };
}
function cell(st, unit) {
  if (!st) return 'n/a';
  const base = num(st.med, unit);
  const range = st.n > 1 ? ` (${num(st.min, unit)}–${num(st.max, unit)})` : '';
  return base + range + (st.errors ? ` [${st.errors} err]` : '');
}
const ratio = (c, p) => (c && p && c.med > 0 && p.med > 0 ? (c.med / p.med).toFixed(2) : 'n/a');

const rows = [];
for (const snip of SNIPPETS) {
  rows.push({ section: snip.label });
  const add = (label, cmode, conns, field, unit) => {
    const c = stat('collabd', snip.id, cmode, conns, field);
    const a = stat('python3', snip.id, 'one', conns, field);
    const b = stat('pyodide', snip.id, 'one', conns, field);
    rows.push({ cells: [label, cell(c, unit), cell(a, unit), cell(b, unit), ratio(c, a), ratio(c, b)] });
  };
  add('sequential (1 conn) p50 ms', 'one', 1, 'p50', 'ms');
  add('sequential (1 conn) p99 ms', 'one', 1, 'p99', 'ms');
  add('sequential (1 conn) req/s', 'one', 1, 'rps', 'rps');
  for (const conns of CONNS) {
    add(`${conns} conns req/s, collabd ONE context`, 'one', conns, 'rps', 'rps');
    add(`${conns} conns req/s, collabd ${CONTEXTS} contexts`, 'many', conns, 'rps', 'rps');
    add(`${conns} conns p99 ms, collabd ONE context`, 'one', conns, 'p99', 'ms');
    add(`${conns} conns p99 ms, collabd ${CONTEXTS} contexts`, 'many', conns, 'p99', 'ms');
  }
}
const readyStat = (kind) => {
  const xs = results.ready[kind].map((r) => r.ms).filter((x) => x !== null);
  return xs.length ? { med: median(xs), min: Math.min(...xs), max: Math.max(...xs), errors: results.ready[kind].length - xs.length, n: xs.length } : null;
};
const rc = readyStat('collabd'), ra = readyStat('python3'), rb = readyStat('pyodide');
rows.push({ section: 'start' });
rows.push({ cells: [`time to ready ms (spawn -> first print(1) answered), median of ${STARTS}`, cell(rc, 'ms'), cell(ra, 'ms'), cell(rb, 'ms'), ratio(rc, ra), ratio(rc, rb)] });

// targets
const best = (server, snip, mode) => {
  let b = null;
  for (const conns of mode === 'one' && server !== 'collabd' ? [1, ...CONNS] : CONNS) {
    const st = stat(server, snip, mode, conns, 'rps');
    if (st && (!b || st.med > b.med)) b = { ...st, conns };
  }
  return b;
};
const targets = [];
{
  const p50 = stat('collabd', 'print', 'one', 1, 'p50');
  // a figure that includes failed requests proves nothing: such a target is not met
  targets.push([`collabd print(1) p50 through HTTP < 1 ms (sequential, 1 connection)`, p50 ? `${num(p50.med, 'ms')} ms` : 'n/a', p50 && !p50.errors && p50.med < 1]);
  for (const snip of SNIPPETS) {
    const pb = best('pyodide', snip.id, 'one');
    const cm = best('collabd', snip.id, 'many');
    const c1 = best('collabd', snip.id, 'one');
    const r = cm && pb ? cm.med / pb.med : null;
    const r1 = c1 && pb ? c1.med / pb.med : null;
    targets.push([`collabd throughput >= 2x Pyodide's, ${snip.label}`,
      `${r ? r.toFixed(2) : 'n/a'}x with ${CONTEXTS} contexts (collabd ${cm ? num(cm.med, 'rps') : 'n/a'} req/s at ${cm?.conns} conns, Pyodide best ${pb ? num(pb.med, 'rps') : 'n/a'} at ${pb?.conns}); one context: ${r1 ? r1.toFixed(2) : 'n/a'}x`,
      r !== null && r >= 2 && !cm.errors && !pb.errors]);
  }
  targets.push([`collabd ready < 200 ms (median of ${STARTS} starts)`, rc ? `${num(rc.med, 'ms')} ms` : 'n/a', rc && rc.med < 200]);
}

// versions, machine
let cpuModel = 'unknown';
try { cpuModel = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))[1]; } catch {}
const sh = (cmd, args) => {
  try { return execFileSync(cmd, args, { timeout: 10000, stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim(); } catch (e) {
    const o = `${e.stdout || ''}${e.stderr || ''}`.trim();
    return o || 'unknown';
  }
};
const pkgv = (p) => { try { return JSON.parse(fs.readFileSync(path.join(peers, 'node_modules', p, 'package.json'))).version; } catch { return '?'; } };
const versions = {
  collabd: sh(collabdBin, ['--version']).split('\n')[0].replace(/^collabd\s+/, ''),
  commit: sh('git', ['-C', root, 'rev-parse', '--short', 'HEAD']) + (sh('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no']) ? ' (+ uncommitted changes)' : ''),
  'collabd Python': results.collabd.health?.python ?? versionsFromServers.collabd,
  '/usr/bin/python3': versionsFromServers.python3 || sh('/usr/bin/python3', ['--version']),
  node: process.version,
  pyodide: pkgv('pyodide'),
  "Pyodide's Python": versionsFromServers.pyodide,
  wrk: sh(WRK, ['-v']).split('\n')[0].replace(/\s*Copyright.*/, '').replace(/^wrk\s+/, ''),
  kernel: sh('uname', ['-sr']),
};
const machine = `nproc ${sh('nproc', [])}, ${cpuModel}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
const loadavg = os.loadavg().map((x) => x.toFixed(2)).join(' ');

// console table
const header = ['figure', 'collabd', NAMES.python3, NAMES.pyodide, 'collabd/(a)', 'collabd/(b)'];
const allCells = rows.filter((r) => r.cells).map((r) => r.cells);
const widths = header.map((h, i) => Math.max(h.length, ...allCells.map((c) => c[i].length)));
const line = (c) => c.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ');
const consoleLines = [line(header)];
for (const r of rows) consoleLines.push(r.section ? `-- ${r.section}` : line(r.cells));
console.log(consoleLines.join('\n'));
console.log('\ntargets:');
for (const [t, v, met] of targets) console.log(`  ${met ? 'MET    ' : 'NOT MET'}  ${t}: ${v}`);
const health = results.collabd.health;
const problems = [];
if (results.crashes.length) problems.push(`server exits: ${JSON.stringify(results.crashes)}`);
const totalErrors = Object.values(results.load).flat().reduce((a, r) => a + (r.failed ? 1 : r.errors), 0);
if (totalErrors) problems.push(`${totalErrors} failed requests, wrk errors or runs without an answer (cells marked [N err])`);
const collabdProbeFailures = probeFailures.filter((f) => f.server === 'collabd');
if (collabdProbeFailures.length) {
  const by = {};
  for (const f of collabdProbeFailures) by[f.errorType] = (by[f.errorType] || 0) + 1;
  problems.push(`collabd failed ${collabdProbeFailures.length} print(1) probes sent right after wrk closed its connections (${Object.entries(by).map(([k, v]) => `${k} ${v}`).join(', ')})`);
}
if (results.collabd.notableCount) problems.push(`collabd logged ${results.collabd.notableCount} lines above info`);
if (health && (health.crashes || health.timeouts)) problems.push(`collabd /health: crashes ${health.crashes}, timeouts ${health.timeouts}`);
console.log(`\nproblems: ${problems.length ? problems.join('; ') : 'none'}`);
if (health) console.log(`collabd /health after the load: runs ${health.runs}, failures ${health.failures}, workersStarted ${health.workersStarted}, crashes ${health.crashes}, timeouts ${health.timeouts}`);

// PYTHON_RESULTS.md
const mdRow = (c) => `| ${c.join(' | ')} |`;
const mdTable = [mdRow(header), '|---|---:|---:|---:|---:|---:|',
  ...rows.map((r) => (r.section ? `| **${r.section}** | | | | | |` : mdRow(r.cells)))].join('\n');
const rawRuns = Object.fromEntries(Object.entries(results.load).map(([k, v]) => [k, v.map((r) => (r.failed ? r : {
  rps: Number(r.rps.toFixed(1)), p50_us: r.p50, p90_us: r.p90, p99_us: r.p99, max_us: r.max, requests: r.requests, errors: r.errors,
}))]));
const out = `# Server-side Python benchmark results

Written by \`bench/py_bench.sh\`${quick ? ' (--quick)' : ''} on ${new Date().toISOString()}.
Read the ratios more than the absolute figures: the servers, their Python processes and wrk share the
machine's CPUs (see bench/README.md).${busyAtStart ? `

**The machine was busy when this run started (1-minute load average ${loadStart.split(' ')[0]} on ${os.cpus().length} CPUs): other processes competed for the CPUs, so the p99 columns hold scheduling delays and the throughputs are low. Rerun on a quiet machine before quoting them.**` : ''}

- machine: ${machine}; load average (1, 5, 15 min) at the start ${loadStart}, at the end ${loadavg}
  (the end figure includes this benchmark's own processes)
- versions: ${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', ')}
- load: wrk, 1 thread, keep-alive connections, \`POST /api/execute {"code": ...}\` from a Lua script that
  counts an answer as failed unless it is 200 with \`"success":true\`; ${SECS} s per run, ${REPS} run${REPS > 1 ? 's' : ''} per figure
  (median (min–max)), after a 1 s warm-up per snippet and mode; latencies in milliseconds
- collabd: the Release build, memory store, defaults (\`--py-workers 8\`); "ONE context": every request
  from 127.0.0.1 without \`session\`, so all of them share one context, one worker, one run at a time;
  "${CONTEXTS} contexts": ${CONTEXTS} sessions created with \`POST /sessions\`, the Lua script rotates \`session\` over them
- (a) \`bench/py-peers/spawn_server.mjs\`: node:http, \`execFile('/usr/bin/python3', ['-c', code])\` per request,
  no sandbox, no kept variables, \`result\` always null; runs in parallel, one process per request
- (b) \`bench/py-peers/pyodide_server.mjs\`: node:http, Pyodide loaded once at start, one interpreter shared by
  every request, \`runPython\` with stdout/stderr through \`setStdout/setStderr({batched})\`. Single-threaded by
  nature: requests run one after another whatever the number of connections
- the peers have no contexts: their figure in a "collabd ${CONTEXTS} contexts" row is the same measurement as in
  the "ONE context" row above it
- ratios are collabd ÷ peer on the medians: above 1 is better for collabd in req/s rows, below 1 in ms rows
- time to ready: the server process is spawned, then \`print(1)\` is posted every 2 ms until one is answered
  with success; ms from spawn to that answer (collabd's zygote alone: /health \`readyMs\` ${results.ready.collabd.map((r) => r.zygoteReadyMs).join(', ')} ms)
- server exits during the load: ${results.crashes.length ? JSON.stringify(results.crashes) : 'none'}

## Side by side

${mdTable}

## Targets (from the issue)

| target | measured | met |
|---|---|---|
${targets.map(([t, v, met]) => `| ${t} | ${v} | ${met ? 'yes' : '**no**'} |`).join('\n')}

Throughput targets compare collabd with the requests spread over ${CONTEXTS} contexts (its best of ${CONNS.join(' and ')}
connections) against Pyodide's best at any connection count; the one-context ratio is given beside it.

## collabd during the load

- /health after the load: ${health ? `runs ${health.runs}, failures ${health.failures}, timeouts ${health.timeouts}, crashes ${health.crashes}, workersStarted ${health.workersStarted} (for ${CONTEXTS + 1} contexts), zygoteRestarts ${health.zygoteRestarts}` : 'n/a'}
  (wrk ends every run by closing its connections with requests in flight: collabd interrupts those runs,
  which /health counts as failures without a \`python run\` log line, since nobody is left to answer)
- print(1) probes between runs (sent once a run's connections are closed, retried until one succeeds,
  never counted in a figure) that collabd answered with a failure: ${collabdProbeFailures.length}${collabdProbeFailures.length ? `, e.g.
  ${[...new Map(collabdProbeFailures.map((f) => [f.errorType, f])).values()].map((f) => `\`${f.errorType}: ${f.error}\` (${f.executionTime} ms)`).join('; ')}` : ''}
- server.log: ${results.collabd.logLines ?? 'n/a'} lines, ${results.collabd.notableCount ?? 'n/a'} above info, ${results.collabd.failedRunCount ?? 'n/a'} \`python run\` lines with \`success:false\`
${results.collabd.notable?.length ? `\n\`\`\`\n${results.collabd.notable.join('\n')}\n\`\`\`\n` : ''}${results.collabd.failedRuns?.length ? `\nfailed runs:\n\n\`\`\`\n${results.collabd.failedRuns.join('\n')}\n\`\`\`\n` : ''}
## Raw runs

<details><summary>every wrk run (server|snippet|mode|connections)</summary>

\`\`\`json
${JSON.stringify({ ready: results.ready, load: rawRuns }, null, 1)}
\`\`\`
</details>
`;
fs.writeFileSync(path.join(here, 'PYTHON_RESULTS.md'), out);
log(`wrote ${path.join(here, 'PYTHON_RESULTS.md')}`);
fs.rmSync(tmp, { recursive: true, force: true });
