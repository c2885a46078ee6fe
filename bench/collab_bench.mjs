// collab_bench.mjs: runs the same load (bench/loadgen) against collabd and the Node authority
// (bench/node-authority/server.mjs) in one run, prints a side-by-side table with ratios and
// writes bench/RESULTS.md. Started by bench/collab_bench.sh (which builds and raises ulimit -n).
//
//   node bench/collab_bench.mjs [--quick]     (--quick: 2 s per configuration, fewer steps)
//
// Every server runs on a free loopback port (--port 0), is started fresh for each section and
// killed by its own pid at the end of the section. Every step has a timeout.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const build = process.env.BUILD_DIR || path.join(root, 'build-release');
const collabdBin = path.join(build, 'server/collabd');
const loadgenBin = path.join(build, 'bench/loadgen');
const docBenchBin = path.join(build, 'bench/doc_bench');
const quick = process.argv.includes('--quick');
const SECS = quick ? 2 : 5;
const STEPS = quick ? [1000, 5000, 20000] : [1000, 2000, 5000, 10000, 20000, 40000, 80000, 100000];
const ROOMS4 = 100; // (a): 100 rooms of 4 editors = 400 connections
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'collab-bench-'));

function log(...a) { console.error('[bench]', ...a); }

function startServer(kind) {
  const args = kind === 'collabd'
    ? [collabdBin, ['--port', '0', '--log-dir', logDir, '--log-stderr', '0', '--rate-limit', '1000000',
                    '--rate-burst', '1000000', '--max-clients-per-room', '100000', '--max-body', '32m']]
    : [process.execPath, [path.join(here, 'node-authority/server.mjs'), '--port', '0', '--max-body', String(32 << 20)]];
  const p = spawn(args[0], args[1], { stdio: ['ignore', 'pipe', 'pipe'] });
  let errText = '';
  p.stderr.on('data', (d) => { errText += d; });
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`${kind} did not start: ${out}${errText}`)); }, 15000);
    p.stdout.on('data', (d) => {
      out += d;
      const m = /127\.0\.0\.1:(\d+)/.exec(out);
      if (m) { clearTimeout(t); resolve({ kind, proc: p, pid: p.pid, port: Number(m[1]), stderr: () => errText }); }
    });
    p.on('exit', (code, sig) => { p.exited = { code, sig }; });
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

function loadgen(server, args, timeoutS) {
  return new Promise((resolve) => {
    const p = spawn(loadgenBin, ['--url', `ws://127.0.0.1:${server.port}`, '--pid', String(server.pid), ...args],
                    { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutS * 1000);
    p.on('exit', (code) => {
      clearTimeout(t);
      const m = /^RESULT (.*)$/m.exec(out);
      if (err.trim()) log(`${server.kind}: ${err.trim()}`);
      resolve(m ? JSON.parse(m[1]) : { failed: true, code, err });
    });
  });
}

const ok = (r) => r && !r.failed;
const servers = ['collabd', 'node'];
const results = { a: {}, b: {}, c: {}, join: {}, crashes: [] };

async function section(name, fn) {
  for (const kind of servers) {
    const s = await startServer(kind);
    log(`${name}: ${kind} on port ${s.port} (pid ${s.pid})`);
    try { await fn(kind, s); } finally {
      const st = await stopServer(s);
      if (st.crashed) results.crashes.push({ section: name, kind, ...st });
    }
  }
}

// (a) rooms of 4 editors, stepping the total rate
await section('a', async (kind, s) => {
  results.a[kind] = [];
  for (const rate of STEPS) {
    const r = await loadgen(s, ['--rooms', String(ROOMS4), '--editors', '4', '--rate', String(rate), '--seconds', String(SECS)], SECS + 150);
    results.a[kind].push({ rate, ...r });
  }
});
// (b) one room of 1,000 editors at 200 and 62 pushes/s
const B_RATES = [200, 62];
await section('b', async (kind, s) => {
  results.b[kind] = {};
  for (const rate of B_RATES) {
    results.b[kind][rate] = await loadgen(s, ['--rooms', '1', '--editors', '1000', '--rate', String(rate), '--seconds', String(SECS * 2)], SECS * 2 + 150);
  }
});
// (c) 10,000 idle connections (100 rooms of 100)
await section('c', async (kind, s) => {
  results.c[kind] = await loadgen(s, ['--idle', '--rooms', '100', '--editors', '100'], 200);
});
// joining a room whose document is 10 MB
const docFile = path.join(logDir, 'doc10m.txt');
{
  let seed = 1, n = 0;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8);
  const alphabet = 'abcdefghij klmnopqrstuvwxyz(){}=+.,:';
  const lines = [];
  while (n < 10_000_000) {
    const len = 40 + (rnd() % 80);
    let l = '';
    for (let i = 0; i < len; i++) l += alphabet[rnd() % alphabet.length];
    lines.push(l);
    n += len + 1;
  }
  fs.writeFileSync(docFile, lines.join('\n').slice(0, 10_000_000));
}
await section('join', async (kind, s) => {
  results.join[kind] = await loadgen(s, ['--join', docFile, '--joins', '5'], 300);
});
// doc_bench (collabd's rope against a flat array)
let docBench = '';
try {
  docBench = execFileSync(docBenchBin, ['100000', '2000'], { timeout: 120000 }).toString();
} catch (e) { docBench = `doc_bench failed: ${e.message}`; }

// ---------- summary ----------
const LAT_LIMIT_US = 10000;
function sustained(rows) {
  let best = null;
  for (const r of rows || []) {
    if (!ok(r)) continue;
    const good = r.pushes_per_s >= 0.95 * r.rate && r.own_us.p99 < LAT_LIMIT_US && r.others_us.p99 < LAT_LIMIT_US &&
                 r.lost === 0 && r.connect_errors === 0 && r.closed_early === 0;
    if (good) best = r;
  }
  return best;
}
const fmt = (v, d = 0) => (v === undefined || v === null || Number.isNaN(v) || v < 0 ? 'n/a' : Number(v).toFixed(d));
const ratio = (c, n) => (c > 0 && n > 0 ? (c / n).toFixed(2) : 'n/a');
const rows = [];
const add = (name, c, n, d = 0) => rows.push([name, fmt(c, d), fmt(n, d), ratio(c, n)]);
const sa = { collabd: sustained(results.a.collabd), node: sustained(results.a.node) };
add('(a) sustained pushes/s, rooms of 4, p99 < 10 ms', sa.collabd?.pushes_per_s, sa.node?.pushes_per_s);
add('(a)   deliveries/s at that rate', sa.collabd?.deliveries_per_s, sa.node?.deliveries_per_s);
for (const rate of STEPS) {
  const c = results.a.collabd?.find((r) => r.rate === rate), n = results.a.node?.find((r) => r.rate === rate);
  add(`(a) ${rate}/s: own p99 us`, c?.own_us?.p99, n?.own_us?.p99);
}
for (const rate of B_RATES) {
  const c = results.b.collabd?.[rate], n = results.b.node?.[rate];
  add(`(b) 1 room x 1000 editors, ${rate} pushes/s: deliveries/s`, c?.deliveries_per_s, n?.deliveries_per_s);
  add(`(b)   push->delivery p50 us (others)`, c?.others_us?.p50, n?.others_us?.p50);
  add(`(b)   push->delivery p99 us (others)`, c?.others_us?.p99, n?.others_us?.p99);
  add(`(b)   push->own delivery p99 us`, c?.own_us?.p99, n?.own_us?.p99);
}
add('(c) RSS bytes per idle connection (10,000)', results.c.collabd?.bytes_per_conn, results.c.node?.bytes_per_conn);
add('(c)   connections established', results.c.collabd?.synced, results.c.node?.synced);
add('join a 10 MB room: upgrade -> sync, median ms', results.join.collabd?.median_ms, results.join.node?.median_ms, 1);

const w0 = Math.max(...rows.map((r) => r[0].length), 6);
const table = [['figure', 'collabd', 'node', 'collabd/node'], ...rows];
const md = ['| figure | collabd | node | collabd/node |', '|---|---:|---:|---:|',
  ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
console.log(table.map((r) => `${r[0].padEnd(w0)}  ${r[1].padStart(10)}  ${r[2].padStart(10)}  ${r[3].padStart(12)}`).join('\n'));

function stepTable(kind) {
  const lines = ['| target/s | pushes/s | deliveries/s | own p50 | own p99 | own p999 | others p99 | errors | lost | skipped | loadgen CPU | server CPU |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const r of results.a[kind] || []) {
    if (!ok(r)) { lines.push(`| ${r.rate} | failed (${r.code}) | | | | | | | | | | |`); continue; }
    lines.push(`| ${r.rate} | ${fmt(r.pushes_per_s)} | ${fmt(r.deliveries_per_s)} | ${r.own_us.p50} | ${r.own_us.p99} | ${r.own_us.p999} | ${r.others_us.p99} | ${r.errors} | ${r.lost} | ${r.skipped} | ${fmt(100 * r.loadgen_cpu_share)} % | ${fmt(100 * r.server_cpu_share)} % |`);
  }
  return lines.join('\n');
}
function bTable() {
  const lines = ['| server | target/s | pushes/s | deliveries/s | others p50 | others p99 | others p999 | own p99 | errors | lost | loadgen CPU | server CPU |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const kind of servers) for (const rate of B_RATES) {
    const r = results.b[kind]?.[rate];
    if (!ok(r)) { lines.push(`| ${kind} | ${rate} | failed | | | | | | | | | |`); continue; }
    lines.push(`| ${kind} | ${rate} | ${fmt(r.pushes_per_s)} | ${fmt(r.deliveries_per_s)} | ${r.others_us.p50} | ${r.others_us.p99} | ${r.others_us.p999} | ${r.own_us.p99} | ${r.errors} | ${r.lost} | ${fmt(100 * r.loadgen_cpu_share)} % | ${fmt(100 * r.server_cpu_share)} % |`);
  }
  return lines.join('\n');
}

let cpuModel = 'unknown';
try { cpuModel = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))[1]; } catch {}
const sh = (cmd, args) => { try { return execFileSync(cmd, args, { timeout: 10000 }).toString().trim(); } catch { return 'unknown'; } };
const pkgv = (p) => { try { return JSON.parse(fs.readFileSync(path.join(here, 'node-authority/node_modules', p, 'package.json'))).version; } catch { return '?'; } };
const versions = {
  collabd: sh(collabdBin, ['--version']).split('\n')[0],
  commit: sh('git', ['-C', root, 'rev-parse', '--short', 'HEAD']),
  node: process.version,
  libwebsockets: sh('pkg-config', ['--modversion', 'libwebsockets']),
  libuv: sh('pkg-config', ['--modversion', 'libuv']),
  ws: pkgv('ws'), '@codemirror/state': pkgv('@codemirror/state'), '@codemirror/collab': pkgv('@codemirror/collab'),
  kernel: sh('uname', ['-sr']),
};
const crashes = results.crashes.length ? results.crashes.map((c) => `- ${c.kind} in section ${c.section}: exit ${JSON.stringify(c)}`).join('\n') : 'none';
const out = `# collabd benchmark results

Written by \`bench/collab_bench.sh\`${quick ? ' (--quick)' : ''} on ${new Date().toISOString()}.
Read the ratios, not the absolute figures: see bench/README.md (a 2-vCPU VM, expensive syscalls).

- machine: ${os.cpus().length} CPUs reported by node, nproc ${sh('nproc', [])}, ${cpuModel}, ${Math.round(os.totalmem() / 2 ** 30)} GiB
- versions: ${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', ')}
- each load configuration runs ${SECS} s ((b): ${SECS * 2} s) after every editor has its \`sync\`; latencies in microseconds
- collabd: \`--rate-limit 1000000 --rate-burst 1000000 --max-clients-per-room 100000 --max-body 32m\`; Node: bench/node-authority/server.mjs
- server crashes or early exits: ${crashes}

## Side by side

${md}

"sustained" is the highest step whose achieved rate is at least 95 % of the target with own and others p99
under 10 ms and nothing lost (n/a: no step qualified).

## (a) ${ROOMS4} rooms of 4 editors, stepping the total push rate

### collabd

${stepTable('collabd')}

### node

${stepTable('node')}

## (b) one room of 1,000 editors

${bTable()}

## (c) 10,000 idle connections (100 rooms of 100)

| server | connected | RSS before kB | RSS after kB | bytes/connection |
|---|---:|---:|---:|---:|
${servers.map((k) => { const r = results.c[k] || {}; return `| ${k} | ${r.synced ?? 'n/a'} | ${r.rss_before_kb ?? ''} | ${r.rss_after_kb ?? ''} | ${fmt(r.bytes_per_conn)} |`; }).join('\n')}

## Joining a room whose document is 10 MB (10,000,000 ASCII characters)

| server | joins | sync bytes | min ms | median ms | max ms |
|---|---:|---:|---:|---:|---:|
${servers.map((k) => { const r = results.join[k] || {}; return `| ${k} | ${r.ok ?? 'n/a'} | ${r.sync_bytes ?? ''} | ${fmt(r.min_ms, 1)} | ${fmt(r.median_ms, 1)} | ${fmt(r.max_ms, 1)} |`; }).join('\n')}

## doc_bench (\`doc_bench 100000 2000\`)

\`\`\`
${docBench.trim()}
\`\`\`

## Raw results

<details><summary>loadgen RESULT lines</summary>

\`\`\`json
${JSON.stringify(results, null, 1)}
\`\`\`
</details>
`;
fs.writeFileSync(path.join(here, 'RESULTS.md'), out);
log(`wrote ${path.join(here, 'RESULTS.md')}`);
fs.rmSync(logDir, { recursive: true, force: true });
