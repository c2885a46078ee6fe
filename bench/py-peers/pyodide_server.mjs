// pyodide_server.mjs: peer (b) of bench/py_bench.sh, the older Express design without Express:
// Pyodide (the pinned npm package `pyodide`) is loaded once at start into one interpreter that
// every request shares (its globals are everyone's variables); POST /api/execute {code,
// context?} runs `runPython` with stdout/stderr captured through setStdout/setStderr({batched})
// and answers collabd's JSON shape {success, result, stdout, stderr, error, timestamp,
// executionTime}. As in that design, a last line without its newline stays in Pyodide's batch
// buffer and comes out with the next request's output (sys.stdout.flush() does not release it).
// Single-threaded by nature: runPython blocks the event loop, so requests run
// one after another whatever the number of connections. `timeout` is not enforced (interrupting
// needs a worker thread and an interrupt buffer, which the older design did not have).
// Until Pyodide has loaded, /api/execute answers 503.
//
//   node pyodide_server.mjs [--port N]    (prints "listening on http://127.0.0.1:PORT/")
import http from 'node:http';
import { loadPyodide } from 'pyodide';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
};
const PORT = Number(arg('--port', '0'));
const MAX_BODY = 1 << 20;

let pyodide = null;
let out = null; // the running request's captured output
const loading = loadPyodide().then((py) => {
  py.setStdout({ batched: (line) => { if (out) out.stdout.push(line + '\n'); } });
  py.setStderr({ batched: (line) => { if (out) out.stderr.push(line + '\n'); } });
  pyodide = py;
});
loading.catch((e) => { console.error('pyodide failed to load:', e); process.exit(1); });

function send(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function toJson(v) {
  if (v === undefined || v === null) return null;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  if (v && typeof v.toJs === 'function') { // a PyProxy
    try {
      const js = v.toJs({ dict_converter: Object.fromEntries, create_pyproxies: false });
      return JSON.parse(JSON.stringify(js, (k, x) => (typeof x === 'bigint' ? x.toString() : x)));
    } catch { return String(v); } finally { v.destroy(); }
  }
  return String(v);
}

function run(code, context) {
  out = { stdout: [], stderr: [] };
  const t0 = performance.now();
  let success = true, result = null, error = null;
  try {
    if (context) for (const [k, v] of Object.entries(context)) pyodide.globals.set(k, pyodide.toPy(v));
    result = toJson(pyodide.runPython(code));
  } catch (e) {
    success = false;
    const lines = String(e.message || e).trimEnd().split('\n');
    error = lines[lines.length - 1];
  }
  const executionTime = Math.round((performance.now() - t0) * 1000) / 1000;
  const o = out;
  out = null;
  return { success, result, stdout: o.stdout.join(''), stderr: o.stderr.join(''), error,
    timestamp: new Date().toISOString(), executionTime };
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') return send(res, 200, { status: pyodide ? 'ok' : 'loading' });
  if (req.method !== 'POST' || req.url.split('?')[0] !== '/api/execute') {
    return send(res, 404, { error: { code: 'not_found', message: 'POST /api/execute' } });
  }
  const chunks = [];
  let size = 0;
  req.on('data', (d) => {
    size += d.length;
    if (size > MAX_BODY) { send(res, 413, { error: { code: 'too_large' } }); req.destroy(); return; }
    chunks.push(d);
  });
  req.on('end', () => {
    if (res.headersSent) return;
    if (!pyodide) return send(res, 503, { success: false, error: 'Pyodide is still loading' });
    let body;
    try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { body = null; }
    if (!body || typeof body.code !== 'string' || !body.code) {
      return send(res, 400, { error: { code: 'bad_request', message: 'code must be a non-empty string' } });
    }
    send(res, 200, run(body.code, body.context && typeof body.context === 'object' ? body.context : null));
  });
});
server.keepAliveTimeout = 60000;
server.listen(PORT, '127.0.0.1', () => {
  console.log(`pyodide listening on http://127.0.0.1:${server.address().port}/`);
});
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));
