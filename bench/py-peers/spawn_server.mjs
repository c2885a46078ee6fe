// spawn_server.mjs: peer (a) of bench/py_bench.sh. POST /api/execute {code, context?, timeout?}
// answered by a fresh Debian /usr/bin/python3 per request (execFile, the program in -c), in
// collabd's JSON shape {success, result, stdout, stderr, error, timestamp, executionTime}.
// No sandbox, no variables kept between runs; `result` is always null (computing the value of a
// last expression would need a wrapper that imports ast; leaving it out favours this peer).
// Requests run concurrently, one process each.
//
//   node spawn_server.mjs [--port N] [--python /usr/bin/python3]    (prints "listening on http://127.0.0.1:PORT/")
import http from 'node:http';
import { execFile } from 'node:child_process';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
};
const PORT = Number(arg('--port', '0'));
const PYTHON = arg('--python', '/usr/bin/python3');
const MAX_BODY = 1 << 20;
const TIMEOUT_MS = 30000;
const OUTPUT_MAX = 1 << 20;

function send(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function run(code, context, timeoutMs, res) {
  let program = code;
  if (context && Object.keys(context).length) {
    program = `globals().update(__import__('json').loads(${JSON.stringify(JSON.stringify(context))}))\n${code}`;
  }
  const t0 = performance.now();
  execFile(PYTHON, ['-c', program], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: OUTPUT_MAX, encoding: 'utf8' },
    (err, stdout, stderr) => {
      const executionTime = Math.round((performance.now() - t0) * 1000) / 1000;
      let error = null;
      if (err) {
        if (err.killed) error = `TimeoutError: the run took longer than ${timeoutMs} ms`;
        else {
          const lines = String(stderr).trimEnd().split('\n');
          error = lines[lines.length - 1] || String(err.message);
        }
      }
      send(res, 200, { success: !err, result: null, stdout: String(stdout), stderr: String(stderr), error,
        timestamp: new Date().toISOString(), executionTime });
    });
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') return send(res, 200, { status: 'ok' });
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
    let body;
    try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { body = null; }
    if (!body || typeof body.code !== 'string' || !body.code) {
      return send(res, 400, { error: { code: 'bad_request', message: 'code must be a non-empty string' } });
    }
    const t = Number.isFinite(body.timeout) && body.timeout > 0 ? Math.min(body.timeout, 120000) : TIMEOUT_MS;
    run(body.code, body.context && typeof body.context === 'object' ? body.context : null, t, res);
  });
});
server.keepAliveTimeout = 60000;
server.listen(PORT, '127.0.0.1', () => {
  console.log(`python3-per-request listening on http://127.0.0.1:${server.address().port}/`);
});
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));
