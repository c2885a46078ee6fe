// collab_bench.mjs: runs the same load (bench/loadgen) against collabd (memory store, Redis
// store) and its peers in one run: the Node authority (bench/node-authority/server.mjs, the
// CodeMirror collab example), a y-websocket server and a Hocuspocus server (bench/yjs-peers),
// prints side-by-side tables with ratios and writes bench/RESULTS.md. Started by
// bench/collab_bench.sh (which builds, installs the peers and raises ulimit -n).
//
//   node bench/collab_bench.mjs [--quick] [--runs N] [--only kind,kind] [--sections s,s] [--out FILE]
//   sections: pair, class, storm, big, idle, store (all by default); --out: instead of RESULTS.md
//
// Load shapes (bench/README.md says what each figure means): pair programming (rooms of 2-4
// editors typing 8 keys/s each, more rooms until p99 > 10 ms), a classroom (one room of 100 and
// one of 400 editors, rate stepped), a reconnect storm (2,000 clients), big documents (1 MB and
// 10 MB rooms joined, then edited), idle memory (per connection, per room), and the store
// (collabd in memory, on Redis and on Redis over two instances at 5,000 pushes/s, with the
// deliveries that cross instances apart, and issue 7's targets checked). Every figure is
// the median of N runs (3 in full mode) with min-max; runs interleave the servers.
//
// Every server runs on a free loopback port (--port 0), is started fresh for each section and
// killed by its own pid at the end of it. With two or more CPUs the servers (and redis-server)
// are pinned to CPU 0 and the load generator to CPU 1. Every step has a timeout.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedis } from '../tests/integration/lib/redis-server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const build = process.env.BUILD_DIR || path.join(root, 'build-release');
const collabdBin = path.join(build, 'server/collabd');
const loadgenBin = path.join(build, 'bench/loadgen');
const docBenchBin = path.join(build, 'bench/doc_bench');
const argv = process.argv.slice(2);
const argOf = (n) => { const i = argv.indexOf(n); return i >= 0 ? argv[i + 1] : undefined; };
const quick = argv.includes('--quick');
const RUNS = Number(argOf('--runs') || (quick ? 1 : 3));
const SECS = quick ? 2 : 3;
const KEYS_PER_S = 8; // one editor typing at human speed
const PAIR_ROOMS = quick ? [100, 400, 800, 1200, 1600] : [100, 200, 400, 600, 800, 1000, 1200, 1400, 1600]; // rooms of 2, 3, 4 editors in turn
const STORE_RATE = 5000; // issue 7: cross-instance p99 under 5 ms at 5,000 pushes/s
const STORE_KINDS = ['collabd', 'collabd-redis', 'collabd-redis-2x'];
const CLASS = quick ? { 100: [100, 1000], 400: [50, 400] } : { 100: [100, 300, 1000], 400: [50, 150, 400] };
const STORM = { rooms: 500, editors: 4 }; // 2,000 clients
const BIG = [['1 MB', 1_000_000], ['10 MB', 10_000_000]];
const BIG_EDITORS = 4;
const IDLE_CONNS = { rooms: 100, editors: 100 }; // 10,000 connections
const IDLE_ROOMS = 2000; // rooms of one editor: memory per room
const LAT_LIMIT_US = 10000;
const Y_CHARS = 58; // characters per Yjs insert: its Update frame as long as collabd's update (~75 bytes)
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'collab-bench-'));
const pin = os.cpus().length >= 2;
const SERVER_CPU = '0', LOADGEN_CPU = '1';

const tStart = Date.now();
function log(...a) { console.error(`[bench ${((Date.now() - tStart) / 1000).toFixed(0)}s]`, ...a); }

// ---------- the servers ----------
// proto: what loadgen speaks to it; yjs: the server only relays Yjs updates (no authority).
// 'collabd-redis-2x': two collabd on one Redis, every room's editors split over both (loadgen
// --url2: odd editors on the second), so every update crosses Redis pub/sub to reach half the
// room. Both instances share CPU 0 with redis-server; their CPU and RSS are summed.
const KINDS = {
  collabd: { proto: 'collab', label: 'collabd' },
  'collabd-redis': { proto: 'collab', label: 'collabd Redis', redis: true },
  'collabd-redis-2x': { proto: 'collab', label: 'collabd Redis, 2 instances', redis: true, two: true },
  node: { proto: 'collab', label: 'Node authority' },
  'y-websocket': { proto: 'ywebsocket', label: 'y-websocket', yjs: true },
  hocuspocus: { proto: 'hocuspocus', label: 'Hocuspocus', yjs: true },
};
const only = argOf('--only')?.split(',');
const SECTIONS = ['pair', 'class', 'storm', 'big', 'idle', 'store'];
const sections = argOf('--sections')?.split(',') || SECTIONS;
for (const x of sections) if (!SECTIONS.includes(x)) throw new Error(`--sections: no section ${x} (${SECTIONS.join(', ')})`);
const outFile = path.resolve(argOf('--out') || path.join(here, 'RESULTS.md'));
const servers = Object.keys(KINDS).filter((k) => !KINDS[k].disabled && (!only || only.includes(k)));
const peers = servers.filter((k) => k !== 'collabd');

const COLLABD_ARGS = ['--log-stderr', '0', '--rate-limit', '1000000', '--rate-burst', '1000000',
  '--http-rate-limit', '0', '--max-sessions', '1000000', '--max-clients-per-room', '100000', '--max-body', '32m'];

function pinned(cmd, args, cpu) {
  return pin ? ['taskset', ['-c', cpu, cmd, ...args]] : [cmd, args];
}

function spawnListening(name, cmd, args) {
  const [c, a] = pinned(cmd, args, SERVER_CPU);
  const p = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'] });
  let errText = '';
  p.stderr.on('data', (d) => { errText += d; if (errText.length > 20000) errText = errText.slice(-10000); });
  p.on('exit', (code, sig) => { p.exited = { code, sig }; });
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`${name} did not start: ${out}${errText}`)); }, 15000);
    p.stdout.on('data', (d) => {
      out += d;
      const m = /127\.0\.0\.1:(\d+)/.exec(out);
      if (m) { clearTimeout(t); resolve({ proc: p, pid: p.pid, port: Number(m[1]), stderr: () => errText }); }
    });
  });
}

async function startServer(kind) {
  const k = KINDS[kind];
  const s = { kind, procs: [], redis: null };
  if (k.redis) {
    s.redis = await startRedis();
    if (pin) execFileSync('taskset', ['-pc', SERVER_CPU, String(s.redis.proc.pid)], { stdio: 'ignore' });
  }
  const collabd = (n) => spawnListening(`${kind}#${n}`, collabdBin, ['--port', '0', '--log-dir', path.join(logDir, `${kind}-${n}`),
    ...COLLABD_ARGS, ...(k.redis ? ['--store', 'redis', '--redis-url', s.redis.url] : [])]);
  if (kind === 'node') s.procs.push(await spawnListening(kind, process.execPath, [path.join(here, 'node-authority/server.mjs'), '--port', '0', '--max-body', String(32 << 20)]));
  else if (kind === 'y-websocket') s.procs.push(await spawnListening(kind, process.execPath, [path.join(here, 'yjs-peers/ywebsocket_server.mjs'), '--port', '0']));
  else if (kind === 'hocuspocus') s.procs.push(await spawnListening(kind, process.execPath, [path.join(here, 'yjs-peers/hocuspocus_server.mjs'), '--port', '0']));
  else {
    s.procs.push(await collabd(1));
    if (k.two) s.procs.push(await collabd(2));
  }
  s.port = s.procs[0].port;
  s.pids = [...s.procs.map((p) => p.pid), ...(s.redis ? [s.redis.proc.pid] : [])];
  return s;
}

async function stopServer(s) {
  let crashed = null;
  for (const p of s.procs) {
    if (p.proc.exited) {
      log(`${s.kind} had already exited: ${JSON.stringify(p.proc.exited)} ${p.stderr()}`);
      crashed = p.proc.exited;
      continue;
    }
    p.proc.kill('SIGTERM');
    const ok = await new Promise((r) => {
      const t = setTimeout(() => r(false), 8000);
      p.proc.on('exit', () => { clearTimeout(t); r(true); });
    });
    if (!ok) p.proc.kill('SIGKILL');
  }
  if (s.redis) { await s.redis.stop(); s.redis.cleanup(); }
  return crashed;
}

// ---------- the load generator ----------
let framesFile = null;
function loadgen(s, args, timeoutS) {
  const k = KINDS[s.kind];
  const extra = k.proto === 'collab' ? [] : ['--yjs', framesFile, '--proto', k.proto];
  if (k.two) extra.push('--url2', `ws://127.0.0.1:${s.procs[1].port}`);
  const [c, a] = pinned(loadgenBin, ['--url', `ws://127.0.0.1:${s.port}`, '--pid', s.pids.join(','), ...extra, ...args], LOADGEN_CPU);
  return new Promise((resolve) => {
    const p = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutS * 1000);
    p.on('exit', (code) => {
      clearTimeout(t);
      const m = /^RESULT (.*)$/m.exec(out);
      if (err.trim()) log(`${s.kind}: ${err.trim().split('\n').slice(-3).join(' | ')}`);
      resolve(m ? JSON.parse(m[1]) : { failed: true, code, err: err.slice(-500) });
    });
  });
}

const ok = (r) => r && !r.failed;
const passes = (r) => ok(r) && r.pushes_per_s >= 0.95 * r.target_rate && r.own_us.p99 < LAT_LIMIT_US &&
  r.others_us.p99 < LAT_LIMIT_US && r.lost === 0 && r.connect_errors === 0 && r.closed_early === 0 && r.errors === 0;

// results[section][kind] = [one entry per run]
const results = { pair: {}, class100: {}, class400: {}, storm: {}, big: {}, idle: {}, store: {}, crashes: [] };
for (const sec of ['pair', 'class100', 'class400', 'storm', 'big', 'idle', 'store']) for (const k of servers) results[sec][k] = [];

async function section(name, fn, kinds = servers) {
  for (const kind of kinds) {
    let s;
    try { s = await startServer(kind); } catch (e) {
      log(`${name}: ${kind} did not start: ${e.message}`);
      results.crashes.push({ section: name, kind, start: e.message.slice(0, 300) });
      continue;
    }
    log(`${name}: ${kind} on port ${s.port} (pids ${s.pids.join(',')})`);
    try { await fn(kind, s); } finally {
      const st = await stopServer(s);
      if (st) results.crashes.push({ section: name, kind, ...st });
    }
  }
}

// (1) pair programming: more rooms until a step fails
const pairRate = (rooms) => Math.round(rooms * 3 * KEYS_PER_S); // rooms of 2, 3, 4: 3 editors on average
// A JIT-compiled peer is measured warm: 1 s of the first step's load, not recorded, first.
const warmUp = (s, args) => loadgen(s, [...args, '--seconds', '1'], 150);
// One step; a failing step is tried once more before the stepping stops, since on a shared
// machine one scheduling hiccup of a few hundred ms is enough to miss p99 < 10 ms. The second
// result is kept (and marked retried).
async function stepOnce(s, args) {
  const r = await loadgen(s, args, SECS + 150);
  if (passes(r)) return r;
  return { ...(await loadgen(s, args, SECS + 150)), retried: true, first: { pushes_per_s: r.pushes_per_s, others_p99: r.others_us?.p99 } };
}
async function pair() {
  await section('pair', async (kind, s) => {
    await warmUp(s, ['--rooms', String(PAIR_ROOMS[0]), '--editors', '4', '--mix', '--rate', String(pairRate(PAIR_ROOMS[0]))]);
    const steps = [];
    for (const rooms of PAIR_ROOMS) {
      const r = await stepOnce(s, ['--rooms', String(rooms), '--editors', '4', '--mix', '--rate', String(pairRate(rooms)), '--seconds', String(SECS)]);
      steps.push({ step: rooms, ...r });
      if (!passes(r)) break;
    }
    results.pair[kind].push(steps);
  });
}
// (2) a classroom: one room, rate stepped until a step fails
async function classroom(size) {
  const sec = `class${size}`;
  await section(sec, async (kind, s) => {
    await warmUp(s, ['--rooms', '1', '--editors', String(size), '--rate', String(CLASS[size][0])]);
    const steps = [];
    for (const rate of CLASS[size]) {
      const r = await stepOnce(s, ['--rooms', '1', '--editors', String(size), '--rate', String(rate), '--seconds', String(SECS)]);
      steps.push({ step: rate, ...r });
      if (!passes(r)) break;
    }
    results[sec][kind].push(steps);
  });
}
// (3) a reconnect storm
async function storm() {
  await section('storm', async (kind, s) => {
    results.storm[kind].push(await loadgen(s, ['--storm', '--rooms', String(STORM.rooms), '--editors', String(STORM.editors)], 200));
  });
}
// (4) big documents: join 5 times in turn, then 4 editors type in the room
const docFiles = {}, seedFiles = {};
function makeDoc(label, size) {
  const f = path.join(logDir, `doc-${size}.txt`);
  let seed = 1, n = 0;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8);
  const alphabet = 'abcdefghij klmnopqrstuvwxyz(){}=+.,:';
  const lines = [];
  while (n < size) {
    const len = 40 + (rnd() % 80);
    let l = '';
    for (let i = 0; i < len; i++) l += alphabet[rnd() % alphabet.length];
    lines.push(l);
    n += len + 1;
  }
  fs.writeFileSync(f, lines.join('\n').slice(0, size));
  docFiles[label] = f;
  seedFiles[label] = path.join(logDir, `seed-${size}.bin`);
  execFileSync(process.execPath, [path.join(here, 'yjs-peers/frames.mjs'), 'seed', '--content', f, '--out', seedFiles[label]], { timeout: 120000 });
}
async function big() {
  await section('big', async (kind, s) => {
    const one = {};
    for (const [label] of BIG) {
      const file = KINDS[kind].proto === 'collab' ? docFiles[label] : seedFiles[label];
      one[label] = await loadgen(s, ['--join', file, '--joins', '5', '--editors', String(BIG_EDITORS), '--rate', String(BIG_EDITORS * KEYS_PER_S), '--seconds', String(SECS)], SECS + 300);
    }
    results.big[kind].push(one);
  });
}
// (5) idle memory: per connection (100 rooms of 100), per room (2,000 rooms of 1)
async function idle() {
  const one = Object.fromEntries(servers.map((k) => [k, {}]));
  await section('idle', async (kind, s) => {
    one[kind].conns = await loadgen(s, ['--idle', '--rooms', String(IDLE_CONNS.rooms), '--editors', String(IDLE_CONNS.editors)], 200);
  });
  await section('idle-rooms', async (kind, s) => {
    one[kind].rooms = await loadgen(s, ['--idle', '--rooms', String(IDLE_ROOMS), '--editors', '1'], 200);
  });
  for (const k of servers) results.idle[k].push(one[k]);
}

// (6) the store: the same pair rooms at a fixed 5,000 pushes/s on collabd in memory, on Redis,
// and on Redis over two instances (odd editors on the second: half of every room's deliveries
// cross instances through Redis, reported apart as cross_us)
async function store() {
  const rooms = Math.round(STORE_RATE / (3 * KEYS_PER_S));
  await section('store', async (kind, s) => {
    await warmUp(s, ['--rooms', String(rooms), '--editors', '4', '--mix', '--rate', String(STORE_RATE)]);
    results.store[kind].push(await loadgen(s, ['--rooms', String(rooms), '--editors', '4', '--mix', '--rate', String(STORE_RATE), '--seconds', String(2 * SECS)], 2 * SECS + 150));
  }, servers.filter((k) => STORE_KINDS.includes(k)));
}

// ---------- the run ----------
const t0 = Date.now();
const maxClients = Math.max(PAIR_ROOMS[PAIR_ROOMS.length - 1] * 4, 400, STORM.rooms * STORM.editors) + 16;
const maxFrames = Math.ceil(Math.max(KEYS_PER_S, ...Object.entries(CLASS).map(([n, r]) => Math.max(...r) / n)) * SECS * 1.5) + 8;
framesFile = path.join(logDir, 'frames.bin');
if (servers.some((k) => KINDS[k].yjs)) {
log(`precomputing Yjs frames: ${maxClients} clients x ${maxFrames} inserts of ${Y_CHARS} characters`);
execFileSync(process.execPath, [path.join(here, 'yjs-peers/frames.mjs'), 'edits', '--clients', String(maxClients), '--frames', String(maxFrames),
  '--chars', String(Y_CHARS), '--base', '1000', '--out', framesFile], { timeout: 300000 });
}
if (sections.includes('big')) for (const [label, size] of BIG) makeDoc(label, size);
for (let run = 1; run <= RUNS; run++) {
  log(`run ${run} of ${RUNS}`);
  if (sections.includes('pair')) await pair();
  if (sections.includes('class')) { await classroom(100); await classroom(400); }
  if (sections.includes('storm')) await storm();
  if (sections.includes('big')) await big();
  if (sections.includes('idle')) await idle();
  if (sections.includes('store')) await store();
}
let docBench = '';
try {
  docBench = execFileSync(docBenchBin, ['100000', '2000'], { timeout: 120000 }).toString();
} catch (e) { docBench = `doc_bench failed: ${e.message}`; }
const elapsedMin = ((Date.now() - t0) / 60000).toFixed(1);

// ---------- summary ----------
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN; };
const valid = (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
function stat(values) {
  const v = values.filter(valid);
  return v.length ? { med: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length } : null;
}
const num = (v, d = 0) => (valid(v) ? (d ? Number(v).toFixed(d) : Math.round(v).toLocaleString('en-US').replace(/,/g, ' ')) : 'n/a');
function cell(st, d = 0) {
  if (!st) return 'n/a';
  if (st.n === 1 || st.min === st.max) return num(st.med, d);
  return `${num(st.med, d)} (${num(st.min, d)}–${num(st.max, d)})`;
}
const ratio = (c, p) => (c && p && c.med > 0 && p.med > 0 ? (c.med / p.med).toFixed(2) : 'n/a');

// figure(kind) -> the per-run values of one figure
const perRun = (sec, kind, f) => (results[sec][kind] || []).map((x) => { try { return f(x); } catch { return undefined; } });
const bestPassing = (steps, f) => { let best = 0; for (const r of steps) if (passes(r)) best = Math.max(best, f(r)); return best; };
const firstStep = (steps) => steps.find((r) => ok(r));
const atBest = (steps, f) => { let best = null; for (const r of steps) if (passes(r) && (!best || r.pushes_per_s > best.pushes_per_s)) best = r; return best ? f(best) : undefined; };
const usPerDelivery = (r) => (1e6 * r.server_cpu_share) / r.deliveries_per_s;
// redis-server is the last --pid of a Redis kind
const redisUsPerPush = (r) => (r.server_cpu_s_by_pid?.length > 1 ? (1e6 * r.server_cpu_s_by_pid.at(-1)) / r.pushes : undefined);
const classFigs = (n) => [
  [`(2) classroom of ${n}: pushes/s at p99 < 10 ms`, `class${n}`, (st) => bestPassing(st, (r) => r.pushes_per_s)],
  ['(2)   deliveries/s at that rate', `class${n}`, (st) => bestPassing(st, (r) => r.deliveries_per_s)],
  ['(2)   loadgen CPU % at that rate', `class${n}`, (st) => bestPassing(st, (r) => 100 * r.loadgen_cpu_share)],
  ['(2)   server CPU us per delivered message at that rate', `class${n}`, (st) => atBest(st, usPerDelivery)],
  [`(2)   at ${CLASS[n][0]} pushes/s: p50 us, others`, `class${n}`, (st) => firstStep(st).others_us.p50],
  ['(2)   p99 us, others', `class${n}`, (st) => firstStep(st).others_us.p99],
  ['(2)   p999 us, others', `class${n}`, (st) => firstStep(st).others_us.p999],
  ['(2)   server CPU %', `class${n}`, (st) => 100 * firstStep(st).server_cpu_share],
];
const FIGS = [
  ['(1) pair programming: pushes/s at p99 < 10 ms (higher is better)', 'pair', (st) => bestPassing(st, (r) => r.pushes_per_s)],
  ['(1)   deliveries/s at that rate', 'pair', (st) => bestPassing(st, (r) => r.deliveries_per_s)],
  ['(1)   editors connected at that rate', 'pair', (st) => bestPassing(st, (r) => r.synced)],
  ['(1)   server CPU % at that rate', 'pair', (st) => bestPassing(st, (r) => 100 * r.server_cpu_share)],
  ['(1)   loadgen CPU % at that rate (not the bottleneck while < 100)', 'pair', (st) => bestPassing(st, (r) => 100 * r.loadgen_cpu_share)],
  ['(1)   server CPU us per delivered message at that rate', 'pair', (st) => atBest(st, usPerDelivery)],
  ['(1)   of which redis-server: CPU us per push (Redis kinds)', 'pair', (st) => atBest(st, redisUsPerPush)],
  [`(1) ${PAIR_ROOMS[0]} rooms (${pairRate(PAIR_ROOMS[0])} pushes/s): p50 us, others`, 'pair', (st) => firstStep(st).others_us.p50],
  ['(1)   p99 us, others', 'pair', (st) => firstStep(st).others_us.p99],
  ['(1)   p999 us, others', 'pair', (st) => firstStep(st).others_us.p999],
  ['(1)   server CPU %', 'pair', (st) => 100 * firstStep(st).server_cpu_share],
  ['(1)   server RSS MB', 'pair', (st) => firstStep(st).server_rss_kb / 1024],
  ...[100, 400].flatMap(classFigs),
  [`(3) reconnect storm, ${STORM.rooms * STORM.editors} clients: ms until all synced`, 'storm', (r) => r.all_ms],
  ['(3)   p50 ms to synced', 'storm', (r) => r.p50_ms],
  ['(3)   clients not synced again (failures)', 'storm', (r) => r.failed],
  ['(3)   server CPU ms spent on the storm', 'storm', (r) => 1000 * r.server_cpu_s],
  ['(3)   server CPU % during the storm', 'storm', (r) => 100 * r.server_cpu_share],
  ['(3)   loadgen CPU % during the storm', 'storm', (r) => 100 * r.loadgen_cpu_share],
  ...BIG.flatMap(([label]) => [
    [`(4) ${label} room: join (upgrade -> whole sync) median ms`, 'big', (x) => x[label].median_ms],
    [`(4)   then ${BIG_EDITORS} editors typing: p50 us, others`, 'big', (x) => x[label].others_us.p50],
    ['(4)   p99 us, others', 'big', (x) => x[label].others_us.p99],
    ['(4)   server RSS MB', 'big', (x) => x[label].server_rss_kb / 1024],
  ]),
  [`(5) RSS bytes per idle connection (${IDLE_CONNS.rooms * IDLE_CONNS.editors})`, 'idle', (x) => x.conns.bytes_per_conn],
  [`(5) RSS bytes per room (${IDLE_ROOMS} rooms of 1, minus a connection)`, 'idle', (x) => x.rooms.bytes_per_conn_from_start - x.conns.bytes_per_conn],
  [`(6) store, pair rooms at ${STORE_RATE} pushes/s: p50 us, others`, 'store', (r) => r.others_us.p50],
  ['(6)   p99 us, others', 'store', (r) => r.others_us.p99],
  ['(6)   p99 us, deliveries across instances (through Redis)', 'store', (r) => r.cross_us.p99],
  ['(6)   p999 us, others', 'store', (r) => r.others_us.p999],
  ['(6)   server CPU % (collabd and redis-server)', 'store', (r) => 100 * r.server_cpu_share],
  ['(6)   server CPU us per push', 'store', (r) => (1e6 * r.server_cpu_share) / r.pushes_per_s],
].filter(([, sec]) => results[sec] && servers.some((k) => results[sec][k]?.length));
const statOf = (sec, kind, f) => stat(perRun(sec, kind, f));
const shortName = { 'collabd-redis': 'redis', 'collabd-redis-2x': 'redis 2 inst.', node: 'node', 'y-websocket': 'y-ws†', hocuspocus: 'hocus†' };
const header = ['figure', ...servers.map((k) => KINDS[k].label + (KINDS[k].yjs ? ' †' : '')), ...peers.map((k) => `collabd ÷ ${shortName[k]}`)];
const mdRows = FIGS.map(([name, sec, f]) => {
  const st = Object.fromEntries(servers.map((k) => [k, statOf(sec, k, f)]));
  return [name, ...servers.map((k) => cell(st[k], /CPU %|MB|us per/.test(name) ? 1 : 0)), ...peers.map((k) => ratio(st.collabd, st[k]))];
});
const mdTable = (h, rows) => [`| ${h.join(' | ')} |`, `|---|${h.slice(1).map(() => '---:').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
const summary = mdTable(header, mdRows);
console.log(summary);

// Issue 7's targets, from the pair and store sections: Redis at least half the memory store's
// throughput; across two instances, p99 under 5 ms at 5,000 pushes/s. The memory store's
// throughput is a floor when the load generator is the bottleneck, so the same ratio is also
// given from CPU: pushes/s per server CPU share at the best passing step (the capacity of the
// server's core if it scaled linearly).
function targetsTable() {
  const have = (k) => servers.includes(k);
  if (!have('collabd') || !have('collabd-redis')) return '';
  const rows = [];
  const verdict = (ok) => (ok === undefined ? 'n/a' : ok ? '**met**' : '**not met**');
  if (sections.includes('pair')) {
    const tput = (k) => statOf('pair', k, (st) => bestPassing(st, (r) => r.pushes_per_s));
    const cap = (k) => statOf('pair', k, (st) => atBest(st, (r) => r.pushes_per_s / r.server_cpu_share));
    const lg = statOf('pair', 'collabd', (st) => bestPassing(st, (r) => 100 * r.loadgen_cpu_share));
    for (const k of ['collabd-redis', 'collabd-redis-2x'].filter(have)) {
      const r = ratio(tput(k), tput('collabd')), c = ratio(cap(k), cap('collabd'));
      const target = k === 'collabd-redis' ? '≥ 0.50' : '(none)';
      rows.push([`${KINDS[k].label} ÷ collabd: pushes/s at p99 < 10 ms, pair rooms`, `${cell(tput(k))} ÷ ${cell(tput('collabd'))} = ${r}` +
        (lg ? ` (collabd's loadgen at ${cell(lg)} % CPU)` : ''), target, k === 'collabd-redis' && r !== 'n/a' ? verdict(Number(r) >= 0.5) : 'n/a']);
      rows.push([`${KINDS[k].label} ÷ collabd: pushes/s per server CPU at that step`, `${cell(cap(k))} ÷ ${cell(cap('collabd'))} = ${c}`, target,
        k === 'collabd-redis' && c !== 'n/a' ? verdict(Number(c) >= 0.5) : 'n/a']);
    }
  }
  if (sections.includes('store') && have('collabd-redis-2x')) {
    const p = statOf('store', 'collabd-redis-2x', (r) => r.cross_us.p99);
    rows.push([`${KINDS['collabd-redis-2x'].label}: p99 us of deliveries across instances at ${STORE_RATE} pushes/s`, cell(p), '< 5 000', p ? verdict(p.med < 5000) : 'n/a']);
  }
  return mdTable(['issue 7 target', 'measured (median, min–max)', 'target', 'verdict'], rows);
}
const targets = targetsTable();
if (targets) console.log(`\n${targets}`);

function stepTable(sec, unit) {
  const lines = [];
  for (const kind of servers) {
    const runs = results[sec][kind] || [];
    const stepsSeen = [...new Set(runs.flatMap((st) => st.map((r) => r.step)))];
    for (const step of stepsSeen) {
      const rs = runs.map((st) => st.find((r) => r.step === step)).filter(Boolean);
      const okr = rs.filter(ok);
      const s = (f, d = 0) => cell(stat(okr.map(f)), d);
      const retried = rs.filter((r) => r.retried).length;
      lines.push([KINDS[kind].label, `${step} ${unit}`, `${rs.filter(passes).length}/${rs.length}${retried ? ` (${retried} retried)` : ''}`, s((r) => r.synced), s((r) => r.target_rate),
        s((r) => r.pushes_per_s), s((r) => r.deliveries_per_s), s((r) => r.delivery_bytes), s((r) => r.own_us.p50), s((r) => r.others_us.p50), s((r) => r.others_us.p99),
        s((r) => r.others_us.p999), s((r) => r.own_us.p99), s((r) => r.lost + r.errors + r.connect_errors + r.closed_early),
        s((r) => 100 * r.loadgen_cpu_share), s((r) => 100 * r.server_cpu_share), s((r) => r.server_rss_kb / 1024, 1)]);
    }
  }
  return mdTable(['server', 'step', 'passed', 'editors', 'target/s', 'pushes/s', 'deliveries/s', 'bytes/delivery', 'own p50', 'others p50', 'others p99', 'others p999',
    'own p99', 'lost+errors', 'loadgen CPU %', 'server CPU %', 'server RSS MB'], lines);
}
function stormTable() {
  return mdTable(['server', 'resynced', 'failed', 'retries', 'all synced ms', 'p50 ms', 'p99 ms', 'loadgen CPU %', 'server CPU ms', 'server CPU %', 'server RSS MB'],
    servers.map((k) => { const rs = (results.storm[k] || []).filter(ok); const s = (f, d = 0) => cell(stat(rs.map(f)), d);
      return [KINDS[k].label, s((r) => r.resynced), s((r) => r.failed), s((r) => r.retries), s((r) => r.all_ms), s((r) => r.p50_ms), s((r) => r.p99_ms),
        s((r) => 100 * r.loadgen_cpu_share), s((r) => 1000 * r.server_cpu_s), s((r) => 100 * r.server_cpu_share), s((r) => r.server_rss_kb / 1024, 1)]; }));
}
function bigTable() {
  const lines = [];
  for (const [label] of BIG) for (const k of servers) {
    const rs = (results.big[k] || []).map((x) => x[label]).filter(ok);
    const s = (f, d = 0) => cell(stat(rs.map(f)), d);
    lines.push([label, KINDS[k].label, s((r) => r.ok), s((r) => r.sync_bytes), s((r) => r.min_ms, 1), s((r) => r.median_ms, 1), s((r) => r.max_ms, 1),
      s((r) => r.pushes_per_s), s((r) => r.others_us.p50), s((r) => r.others_us.p99), s((r) => r.own_us.p99), s((r) => r.lost + r.errors), s((r) => r.server_rss_kb / 1024, 1)]);
  }
  return mdTable(['document', 'server', 'joins ok', 'sync bytes', 'join min ms', 'join median ms', 'join max ms', 'pushes/s', 'others p50', 'others p99', 'own p99', 'lost+errors', 'server RSS MB'], lines);
}
function idleTable() {
  return mdTable(['server', 'connections', 'RSS start kB', 'RSS after kB', 'bytes/connection', `${IDLE_ROOMS} rooms: RSS start kB`, 'RSS after kB', 'bytes/(room+connection)', 'bytes/room'],
    servers.map((k) => { const rs = (results.idle[k] || []).filter((x) => ok(x.conns) && ok(x.rooms)); const s = (f) => cell(stat(rs.map(f)));
      return [KINDS[k].label, s((x) => x.conns.synced), s((x) => x.conns.rss_start_kb), s((x) => x.conns.rss_after_kb), s((x) => x.conns.bytes_per_conn),
        s((x) => x.rooms.rss_start_kb), s((x) => x.rooms.rss_after_kb), s((x) => x.rooms.bytes_per_conn_from_start),
        s((x) => x.rooms.bytes_per_conn_from_start - x.conns.bytes_per_conn)]; }));
}

function storeTable() {
  return mdTable(['server', 'editors', 'pushes/s', 'deliveries/s', 'own p50', 'own p99', 'others p50', 'others p99', 'others p999', 'across instances p50', 'across p99', 'across p999',
    'lost+errors', 'loadgen CPU %', 'server CPU %', 'redis-server CPU us per push'],
  servers.filter((k) => STORE_KINDS.includes(k)).map((k) => { const rs = (results.store[k] || []).filter(ok); const s = (f, d = 0) => cell(stat(rs.map(f)), d);
    return [KINDS[k].label, s((r) => r.synced), s((r) => r.pushes_per_s), s((r) => r.deliveries_per_s), s((r) => r.own_us.p50), s((r) => r.own_us.p99),
      s((r) => r.others_us.p50), s((r) => r.others_us.p99), s((r) => r.others_us.p999), s((r) => r.cross_us?.p50), s((r) => r.cross_us?.p99), s((r) => r.cross_us?.p999),
      s((r) => r.lost + r.errors + r.connect_errors + r.closed_early), s((r) => 100 * r.loadgen_cpu_share, 1), s((r) => 100 * r.server_cpu_share, 1), s(redisUsPerPush, 1)]; }));
}
const TARGETS_NOTE = `The first throughput ratio compares the highest passing steps of section (1); collabd's in
memory is a floor while the load generator's CPU is near 100 %, so the second ratio divides each
server's pushes/s by the CPU share it used at that step (collabd plus redis-server; both on one
core here), which is what one core could carry if it scaled linearly. "Across instances": the
deliveries from an editor on one instance to an editor on the other, through Redis pub/sub.`;

let cpuModel = 'unknown';
try { cpuModel = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))[1]; } catch {}
const sh = (cmd, args) => { try { return execFileSync(cmd, args, { timeout: 10000 }).toString().trim(); } catch { return 'unknown'; } };
const pkgv = (dir, p) => { try { return JSON.parse(fs.readFileSync(path.join(here, dir, 'node_modules', p, 'package.json'))).version; } catch { return '?'; } };
const versions = {
  collabd: sh(collabdBin, ['--version']).split('\n')[0],
  commit: sh('git', ['-C', root, 'rev-parse', '--short', 'HEAD']),
  node: process.version,
  'redis-server': sh('redis-server', ['--version']).replace(/^Redis server /, '').split(' ')[0],
  libwebsockets: sh('pkg-config', ['--modversion', 'libwebsockets']),
  libuv: sh('pkg-config', ['--modversion', 'libuv']),
  ws: pkgv('node-authority', 'ws'), '@codemirror/state': pkgv('node-authority', '@codemirror/state'), '@codemirror/collab': pkgv('node-authority', '@codemirror/collab'),
  '@y/websocket-server': pkgv('yjs-peers', '@y/websocket-server'), '@hocuspocus/server': pkgv('yjs-peers', '@hocuspocus/server'),
  yjs: pkgv('yjs-peers', 'yjs'), 'y-protocols': pkgv('yjs-peers', 'y-protocols'),
  kernel: sh('uname', ['-sr']),
};
const disabled = Object.entries(KINDS).filter(([, k]) => k.disabled).map(([n, k]) => `${n} (${k.disabled})`);
const crashes = results.crashes.length ? results.crashes.map((c) => `${c.kind} in ${c.section}: ${JSON.stringify(c)}`).join('; ') : 'none';
const bytesOf = (kind) => cell(stat((results.pair[kind] || []).map((st) => firstStep(st)?.delivery_bytes)));
const out = `# collabd benchmark results

Written by \`bench/collab_bench.sh${quick ? ' --quick' : ''}\` on ${new Date().toISOString()} (${elapsedMin} minutes).
Read the ratios, not the absolute figures: see bench/README.md (a 2-vCPU VM shared with other jobs,
expensive syscalls).

- machine: ${os.cpus().length} CPUs reported by node, nproc ${sh('nproc', [])}, ${cpuModel}, ${Math.round(os.totalmem() / 2 ** 30)} GiB; ${pin ? `servers (and redis-server) pinned to CPU ${SERVER_CPU}, loadgen to CPU ${LOADGEN_CPU} (taskset)` : 'no pinning (one CPU)'}
- versions: ${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', ')}
- every figure: the median of ${RUNS} run${RUNS > 1 ? 's' : ''} (min–max in brackets); each load step runs ${SECS} s after every editor has its sync; latencies in microseconds
- collabd: \`${COLLABD_ARGS.join(' ')}\`; collabd Redis: the same with \`--store redis\` on a fresh redis-server (no persistence), whose CPU and RSS are added to collabd's
- not run: ${disabled.length ? disabled.join('; ') : 'nothing'}
- server crashes, failed starts or early exits: ${crashes}

† **y-websocket and Hocuspocus only relay Yjs updates**: they apply each update to their Y.Doc and
broadcast it; there is no authority, no version check, no rebase. Their rows compare **raw fan-out
of a same-sized message to a room**: a Yjs Update of ${Y_CHARS} characters typed at one cursor,
${bytesOf('y-websocket')} bytes per delivered message to y-websocket (Hocuspocus adds the document name:
${bytesOf('hocuspocus')}), against collabd's one-character \`update\` of ${bytesOf('collabd')} bytes. See bench/README.md.

## Side by side

${summary}

"at p99 < 10 ms": the highest step whose achieved rate is at least 95 % of its target with own and
others p99 under 10 ms and nothing lost, no error, no connection failed (0: no step qualified; a
server is not stepped further after its first failing step; a failing step is tried once more
first, its second result counts). Ratios are collabd's median ÷ the
peer's median: above 1 is better for collabd in throughput, below 1 in latency, time and memory.

${[
  ['pair', `## (1) Pair programming: rooms of 2, 3 and 4 editors in turn, each editor ${KEYS_PER_S} keys/s`, () => stepTable('pair', 'rooms')],
  ['class', '## (2) A classroom: one room of 100 editors', () => stepTable('class100', 'pushes/s')],
  ['class', '## (2) A classroom: one room of 400 editors', () => stepTable('class400', 'pushes/s')],
  ['storm', `## (3) Reconnect storm: ${STORM.rooms} rooms of ${STORM.editors}, every connection dropped at once and reopened at once`, stormTable],
  ['big', `## (4) Big documents: 5 joins in turn, then ${BIG_EDITORS} editors type ${KEYS_PER_S} keys/s each`, bigTable],
  ['idle', '## (5) Idle memory', idleTable],
  ['store', `## (6) The store: pair rooms at ${STORE_RATE} pushes/s; issue 7's targets`, () => `${storeTable()}\n\n${targets}\n\n${TARGETS_NOTE}`],
].filter(([sec]) => sections.includes(sec)).map(([, h, f]) => `${h}\n\n${f()}\n\n`).join('')}## doc_bench (\`doc_bench 100000 2000\`)

\`\`\`
${docBench.trim()}
\`\`\`

## Raw results

<details><summary>loadgen RESULT lines, per section, server and run</summary>

\`\`\`json
${JSON.stringify(results)}
\`\`\`
</details>
`;
fs.writeFileSync(outFile, out);
log(`wrote ${outFile} after ${elapsedMin} minutes`);
fs.rmSync(logDir, { recursive: true, force: true });
