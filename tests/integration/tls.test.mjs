// TLS without a proxy (issue 8): collabd --tls-cert/--tls-key serves HTTPS and WSS on its one
// port. A throwaway self-signed certificate is made with the openssl CLI in a temp directory
// at test time (no key is ever committed) and trusted as the CA by the clients.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { startServer, api, createSession, rawHttp, Client, bin } from './lib/server.mjs';

let dir, cert, key, otherKey, ca, srv;

function openssl(...args) {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'collabd-tls-'));
  cert = join(dir, 'cert.pem'); key = join(dir, 'key.pem'); otherKey = join(dir, 'other-key.pem');
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost');
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', otherKey);
  ca = readFileSync(cert);
  srv = await startServer(['--tls-cert', cert, '--tls-key', key, '--py-enabled', '0'], {}, { ca });
});

after(async () => {
  if (srv) await srv.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the start-up line says https and REST works over HTTPS with the certificate as CA', async () => {
  assert.match(srv.base, /^https:\/\/127\.0\.0\.1:\d+$/);
  const s = await createSession(srv, { language: 'python' });
  const r = await api(srv, 'GET', `/sessions/${s.id}`);
  assert.equal(r.status, 200);
  assert.equal(r.json.id, s.id);
  assert.equal(r.json.language, 'python');
  // an untrusted certificate is refused by the client: it really is TLS with this certificate
  await assert.rejects(api({ ...srv, ca: readFileSync(otherKey) }, 'GET', '/health'));
});

test('HSTS on HTTPS responses (REST, errors, static files); never without TLS', async () => {
  for (const path of ['/health', '/sessions/nope', '/']) {
    const r = await api(srv, 'GET', path);
    assert.match(r.headers.get('strict-transport-security') || '', /^max-age=\d{7,}/, path);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', 'the other headers stay');
  }
  const plain = await startServer(['--py-enabled', '0']);
  try {
    assert.match(plain.base, /^http:/);
    const r = await api(plain, 'GET', '/health');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('strict-transport-security'), null);
  } finally { await plain.stop(); }
});

test('WSS: two editors join, a push is confirmed and broadcast, a large sync arrives whole', async () => {
  const s = await createSession(srv);
  const a = await Client.open(srv, s.id, '?userId=a');
  const b = await Client.open(srv, s.id, '?userId=b');
  assert.equal((await a.next('sync')).version, 0);
  await b.next('sync');
  a.send({ type: 'push', version: 0, updates: [{ clientID: 'a', changes: [[0, 'x = 1']] }] });
  const mine = await a.next((m) => m.type === 'update' && m.clientID === 'a');
  assert.equal(mine.version, 1, 'the push is confirmed to its author');
  assert.deepEqual((await b.next('update')).changes, [[0, 'x = 1']]);
  // 600 KB through lws_write (large messages) and collabd's own batched frames, both over TLS
  const big = 'y'.repeat(600 * 1024);
  b.send({ type: 'push', version: 1, updates: [{ clientID: 'b', changes: [5, [0, big]] }] });
  await b.next((m) => m.type === 'update' && m.clientID === 'b', 10000);
  const c = await Client.open(srv, s.id, '?userId=c', { perMessageDeflate: true });
  const sync = await c.next('sync', 10000);
  assert.equal(sync.version, 2);
  assert.equal(sync.doc.length, 5 + big.length);
  for (const x of [a, b, c]) await x.close();
});

test('only HTTP/1.1 is offered (ALPN) and TLS below 1.2 is refused', async () => {
  const connect = (opts) => new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port: srv.port, ca, ...opts }, () => {
      const r = { alpn: sock.alpnProtocol, version: sock.getProtocol(), cipher: sock.getCipher().name };
      sock.end(); resolve(r);
    });
    sock.on('error', reject);
  });
  const h2 = await connect({ ALPNProtocols: ['h2', 'http/1.1'] });
  assert.equal(h2.alpn, 'http/1.1', 'h2 would break collabd\'s HTTP/1.1 responses');
  const t12 = await connect({ maxVersion: 'TLSv1.2' });
  assert.equal(t12.version, 'TLSv1.2');
  assert.match(t12.cipher, /^ECDHE-(ECDSA|RSA)-(AES\d+-GCM|CHACHA20-POLY1305)/);
  await assert.rejects(connect({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }));
});

test('plain HTTP on the TLS port gets no page, and HTTPS keeps working after it', async () => {
  const r = await rawHttp(srv, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', { waitMs: 3000 });
  assert.doesNotMatch(r.text, /^HTTP\/1\.[01] 200/);
  assert.doesNotMatch(r.text, /"status":"ok"/);
  assert.equal((await api(srv, 'GET', '/health')).status, 200);
});

test('garbage and stalled TLS handshakes do not hurt other clients', async () => {
  const s = await createSession(srv);
  const a = await Client.open(srv, s.id, '?userId=a');
  await a.next('sync');
  const socks = [];
  const open = (bytes) => new Promise((resolve) => {
    const sock = net.connect(srv.port, '127.0.0.1', () => { if (bytes) sock.write(bytes); resolve(sock); });
    sock.on('error', () => {});
    socks.push(sock);
  });
  // a TLS record header announcing a handshake, then junk; pure noise; a record cut short
  // (the server waits for the rest); a connection that never says anything
  await open(Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40]), Buffer.alloc(64, 0xee)]));
  await open(Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 0xff)));
  await open(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
  await open(null);
  for (let v = 0; v < 20; v++) {
    a.send({ type: 'push', version: v, updates: [{ clientID: 'a', changes: v ? [v, [0, 'z']] : [[0, 'z']] }] });
    assert.equal((await a.next((m) => m.type === 'update' && m.clientID === 'a', 3000)).version, v + 1);
  }
  const r = await api(srv, 'GET', `/sessions/${s.id}`);
  assert.equal(r.json.version, 20);
  const b = await Client.open(srv, s.id, '?userId=b');
  assert.equal((await b.next('sync')).doc, 'z'.repeat(20));
  for (const sock of socks) sock.destroy();
  await a.close(); await b.close();
});

// collabd with bad TLS options: exit code 2 and one readable line on stderr, before listening
function runBad(args) {
  return new Promise((resolve) => {
    const logDir = mkdtempSync(join(tmpdir(), 'collabd-tls-bad-'));
    const p = spawn(bin, ['--port', '0', '--log-dir', logDir, '--py-enabled', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), 10000);
    p.on('exit', (code) => { clearTimeout(timer); rmSync(logDir, { recursive: true, force: true }); resolve({ code, out, err }); });
  });
}

test('bad TLS options stop start-up with a one-line message and exit 2', async () => {
  const notPem = join(dir, 'not.pem');
  writeFileSync(notPem, 'hello\n');
  const cases = [
    [['--tls-cert', cert], /--tls-cert and --tls-key go together: --tls-key is missing/],
    [['--tls-key', key], /--tls-key is missing|--tls-cert is missing/],
    [['--tls-cert', join(dir, 'missing.pem'), '--tls-key', key], /--tls-cert .*missing\.pem: cannot read it: No such file/],
    [['--tls-cert', cert, '--tls-key', join(dir, 'missing.pem')], /--tls-key .*missing\.pem: cannot read it/],
    [['--tls-cert', notPem, '--tls-key', key], /--tls-cert .*not\.pem: no PEM certificate in it/],
    [['--tls-cert', dir, '--tls-key', key], /--tls-cert .*: (no PEM certificate|cannot read)/],
    [['--tls-cert', cert, '--tls-key', cert], /--tls-key .*cert\.pem: no PEM private key/],
    [['--tls-cert', cert, '--tls-key', otherKey], /--tls-key .*other-key\.pem does not match the certificate in --tls-cert .*cert\.pem/],
  ];
  for (const [args, re] of cases) {
    const r = await runBad(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.equal(r.out, '', 'never listened');
    const lines = r.err.trim().split('\n');
    assert.equal(lines.length, 1, r.err);
    assert.match(lines[0], /^collabd: /);
    assert.match(lines[0], re);
  }
  // the environment works too (COLLABD_TLS_CERT), and still needs its key
  const e = await new Promise((resolve) => {
    const p = spawn(bin, ['--port', '0'], { env: { ...process.env, COLLABD_TLS_CERT: cert }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => resolve({ code, err }));
  });
  assert.equal(e.code, 2);
  assert.match(e.err, /--tls-key is missing/);
});
