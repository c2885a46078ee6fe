// Test helper: Debian's real nginx in front of collabd instances, configured from
// nginx/collabd.conf.template through nginx/render.sh (the operator's path), in a scratch
// prefix directory (pid, temp paths, cache, logs) on free loopback ports, with a throwaway
// self-signed certificate made by the openssl CLI. Also a raw HTTP(S) request helper that
// keeps what fetch hides: the wire Content-Encoding, the source address, a private CA.
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { repo } from './server.mjs';
import { freePort } from './redis.mjs';

export const nginxBin = process.env.NGINX_BIN || 'nginx';
export const template = join(repo, 'nginx', 'collabd.conf.template');

// A self-signed certificate for 127.0.0.1 and localhost, valid one day, in dir.
export function makeCert(dir) {
  const cert = join(dir, 'cert.pem'), key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key, pem: readFileSync(cert) };
}

function accepts(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

// Render the template with vars (NGX_* for render.sh) into a scratch prefix directory with a
// wrapper nginx.conf (pid, logs, temp paths there) and check it with `nginx -t` (throws with
// nginx's message). Returns { dir, conf, args } for starting it; remove dir when done.
export function renderNginx(vars) {
  const dir = mkdtempSync(join(tmpdir(), 'collabd-nginx-'));
  chmodSync(dir, 0o755); // workers run as nobody when the tests run as root
  mkdirSync(join(dir, 'tmp'));
  const tls = makeCert(dir);
  vars = { NGX_SSL_CERT: tls.cert, NGX_SSL_KEY: tls.key, NGX_CACHE_DIR: join(dir, 'cache'), ...vars };
  const conf = execFileSync(join(repo, 'nginx', 'render.sh'), [template], { env: { PATH: process.env.PATH, ...vars }, encoding: 'utf8' });
  writeFileSync(join(dir, 'collabd.conf'), conf);
  writeFileSync(join(dir, 'nginx.conf'), [
    process.getuid() === 0 ? 'user nobody nogroup;' : '',
    'worker_processes 1;', `pid ${dir}/nginx.pid;`, `error_log ${dir}/error.log info;`,
    'events { worker_connections 1024; }',
    'http {', '  default_type application/octet-stream;', `  access_log ${dir}/access.log;`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/tmp/${t};`),
    `  include ${dir}/collabd.conf;`, '}', ''].join('\n'));
  const args = ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')];
  try {
    execFileSync(nginxBin, [...args, '-t', '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`nginx -t: ${e.stderr}`);
  }
  return { dir, conf, args, ca: tls.pem };
}

// upstreams: collabd servers (startServer results); env: NGX_* overrides for render.sh.
export async function startNginx(upstreams, env = {}) {
  const httpPort = await freePort(), httpsPort = await freePort();
  const { dir, conf, args, ca } = renderNginx({
    NGX_UPSTREAMS: upstreams.map((s) => `127.0.0.1:${s.port}`).join(' '),
    NGX_SERVER_NAME: '_', NGX_HTTP_LISTEN: `127.0.0.1:${httpPort}`, NGX_HTTPS_LISTEN: `127.0.0.1:${httpsPort}`,
    NGX_HTTPS_ONLY: 'off', NGX_HTTPS_REDIRECT_PORT: `:${httpsPort}`, ...env,
  });
  const proc = spawn(nginxBin, [...args, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 10000;
  while (!(await accepts(httpPort)) || !(await accepts(httpsPort))) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`nginx did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    dir, conf, httpPort, httpsPort, ca, proc,
    base: `http://127.0.0.1:${httpPort}`, ws: `ws://127.0.0.1:${httpPort}`,
    tlsBase: `https://127.0.0.1:${httpsPort}`, wss: `wss://127.0.0.1:${httpsPort}`,
    errorLog() { try { return readFileSync(join(dir, 'error.log'), 'utf8'); } catch { return ''; } },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGQUIT'); // graceful
      const e = await Promise.race([exited, new Promise((r) => setTimeout(() => r({ timeout: true }), 10000))]);
      if (e.timeout) proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// One HTTP(S) request; the body is not decoded. opts: method, headers, body (string, Buffer
// or object sent as JSON), localAddress (e.g. 127.0.0.2: another client address on loopback),
// ca (PEM), and TLS options (minVersion, maxVersion, ciphers).
export function request(url, { method = 'GET', headers = {}, body, ...opts } = {}) {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  let data = body;
  headers = { ...headers };
  if (body !== undefined && typeof body === 'object' && !Buffer.isBuffer(body)) {
    data = JSON.stringify(body);
    headers['content-type'] ??= 'application/json';
  }
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method, headers, agent: false, ...opts }, (res) => {
      const chunks = [], tls = res.socket.getProtocol ? { protocol: res.socket.getProtocol(), cipher: res.socket.getCipher().name } : null;
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks), text = raw.toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, raw, text, json, tls });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}
