// Test harness: starts the real collabd binary on a free loopback port, with its own log
// directory, and stops it (SIGTERM, expecting exit 0, which under ASan also means no leaks).
// With --tls-cert the server speaks https/wss: pass { ca } (the PEM to trust) as the third
// argument and api() and Client.open() use it. { wrap: ['strace', ...] } runs collabd under
// that command (proc is then the wrapper).
import { spawn } from 'node:child_process';
import https from 'node:https';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import WebSocket from 'ws';
import { startRedis } from './redis.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = join(here, '..', '..', '..');
export const bin = process.env.COLLABD_BIN || join(repo, 'build', 'server', 'collabd');

// STORE=redis runs the server on the Redis store, each server with its own fresh redis-server
// (stopped with it), unless the test chose a store itself.
export async function startServer(args = [], env = {}, { ca, wrap = [] } = {}) {
  let redis = null;
  if (process.env.STORE === 'redis' && !args.includes('--store')) {
    redis = await startRedis();
    args = ['--store', 'redis', '--redis-url', redis.url, ...args];
  }
  const logDir = mkdtempSync(join(tmpdir(), 'collabd-test-'));
  chmodSync(logDir, 0o711); // the Python workers (uid nobody under root) reach sandbox/ below it
  const proc = spawn(wrap[0] || bin, [...wrap.slice(1), ...(wrap.length ? [bin] : []), '--port', '0', '--log-dir', logDir, '--log-stderr', '0',
    '--py-sandbox-dir', join(logDir, 'sandbox'),
    '--static-dir', join(repo, 'frontend', 'public'), '--protocol-dir', join(repo, 'protocol'),
    ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  let scheme = 'http';
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`collabd did not start: ${out} ${stderr}`)), 10000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (https?):\/\/[^:]+:(\d+)\//);
      if (m) { clearTimeout(timer); scheme = m[1]; resolve(Number(m[2])); }
    });
    exited.then((e) => { clearTimeout(timer); reject(new Error(`collabd exited ${JSON.stringify(e)}: ${stderr}`)); });
  });
  const base = `${scheme}://127.0.0.1:${port}`;
  const srv = {
    port, base, ws: `${scheme === 'https' ? 'wss' : 'ws'}://127.0.0.1:${port}`, ca, proc, logDir, exited,
    get stderr() { return stderr; },
    log() { try { return readFileSync(join(logDir, 'server.log'), 'utf8'); } catch { return ''; } },
    async stop({ expectCode = 0 } = {}) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const e = await Promise.race([exited, new Promise((r) => setTimeout(() => r({ timeout: true }), 15000).unref())]);
      if (e.timeout) { proc.kill('SIGKILL'); throw new Error('collabd did not stop within 15 s'); }
      rmSync(logDir, { recursive: true, force: true });
      if (redis) { await redis.stop(); redis.cleanup(); }
      if (e.code !== expectCode) throw new Error(`collabd exited with ${JSON.stringify(e)}; stderr:\n${stderr}`);
      return e;
    },
  };
  if (redis) { // writes need the store: wait until collabd has connected
    const deadline = Date.now() + 10000;
    while ((await api(srv, 'GET', '/health')).status !== 200 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
  }
  return srv;
}

// fetch() cannot be told which CA to trust: HTTPS requests go through node:https instead.
function httpsFetch(url, { method, headers, body }, ca) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ca }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) h.set(k, [].concat(v).join(', '));
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode, headers: h, text: async () => text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function api(srv, method, path, { body, headers = {}, raw } = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = raw ? body : JSON.stringify(body);
    if (!raw && !init.headers['content-type']) init.headers['content-type'] = 'application/json';
  }
  const res = srv.ca ? await httpsFetch(srv.base + path, init, srv.ca) : await fetch(srv.base + path, init);
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, text, json };
}

export async function createSession(srv, body = { language: 'python' }) {
  const r = await api(srv, 'POST', '/sessions', { body });
  if (r.status !== 201) throw new Error(`create failed: ${r.status} ${r.text}`);
  return r.json;
}

// Send raw bytes on a fresh TCP connection; resolve with everything received until the
// server closes or `waitMs` of silence passes.
export function rawHttp(srv, bytes, { waitMs = 1500 } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(srv.port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let timer;
    const done = (closed) => { clearTimeout(timer); sock.destroy(); resolve({ text: data.toString('latin1'), closed }); };
    const arm = () => { clearTimeout(timer); timer = setTimeout(() => done(false), waitMs); };
    sock.on('connect', () => { sock.write(bytes); arm(); });
    sock.on('data', (d) => { data = Buffer.concat([data, d]); arm(); });
    sock.on('close', () => done(true));
    sock.on('error', () => {});
  });
}

// A WebSocket client that records every message and close, with helpers to await them.
export class Client {
  constructor(url, opts = {}) {
    this.messages = [];
    this.waiters = [];
    this.ws = new WebSocket(url, opts);
    this.closed = new Promise((resolve) => this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.opened = new Promise((resolve, reject) => {
      this.ws.on('open', resolve);
      this.ws.on('unexpected-response', (req, res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body, headers: res.headers })));
      });
      this.ws.on('error', reject);
    });
    this.ws.on('message', (data, isBinary) => {
      const msg = JSON.parse(data.toString());
      this.messages.push(msg);
      this.waiters = this.waiters.filter((w) => !w(msg));
    });
  }
  static async open(srv, sessionId, query = '', opts = {}) {
    const c = new Client(`${srv.ws}/ws/${sessionId}${query}`, srv.ca ? { ca: srv.ca, ...opts } : opts);
    await c.opened;
    return c;
  }
  send(obj) { this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj)); }
  // Resolve with the first message (already received or future) matching pred.
  next(pred, timeoutMs = 5000) {
    if (typeof pred === 'string') { const t = pred; pred = (m) => m.type === t; }
    const i = this.messages.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.messages.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting; got ${JSON.stringify(this.messages).slice(0, 500)}`)), timeoutMs);
      this.waiters.push((m) => {
        if (!pred(m)) return false;
        clearTimeout(timer);
        this.messages.splice(this.messages.indexOf(m), 1);
        resolve(m);
        return true;
      });
    });
  }
  close() { this.ws.close(); return this.closed; }
}
