// D5: Debian's real nginx, configured from nginx/collabd.conf.template (rendered by
// nginx/render.sh, as an operator does), in front of two collabd instances sharing one
// redis-server, each trusting only nginx's address for X-Forwarded-For. Through it: REST, a
// room's requests hashed to one instance, WebSocket, the page and the Pyodide bundle with their
// headers and encodings, the client's address in the security log, the proxy's rate and body
// limits, TLS (HTTPS and WSS with a throwaway certificate, the cipher policy, HSTS, the redirect)
// and two editors on different instances converging.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { startServer, Client, repo } from './lib/server.mjs';
import { startRedis } from './lib/redis.mjs';
import { startNginx, request, template } from './lib/nginx.mjs';
import { Editor, mulberry32 } from './lib/cmclient.mjs';

const dist = join(repo, 'frontend', 'dist');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let redis, inst, ng;
before(async () => {
  assert.ok(existsSync(join(dist, 'index.html')), 'frontend/dist is built (deploy/build-frontend.sh)');
  redis = await startRedis();
  const args = ['--store', 'redis', '--redis-url', redis.url, '--trusted-proxies', '127.0.0.1/32',
    '--static-dir', dist, '--http-rate-limit', '1000', '--http-rate-burst', '2000'];
  inst = [await startServer(args), await startServer(args)];
  for (const s of inst) {
    const deadline = Date.now() + 10000;
    while ((await fetch(`${s.base}/health`)).status !== 200) {
      if (Date.now() > deadline) throw new Error('collabd did not reach Redis');
      await sleep(20);
    }
  }
  ng = await startNginx(inst); // nginx's default limits: collabd's defaults
});
after(async () => {
  try {
    await ng?.stop();
    // every instance stopped; then an unclean exit (e.g. a leak under ASan) fails the file
    const stopped = await Promise.allSettled((inst ?? []).map((s) => s.stop()));
    const failed = stopped.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  } finally {
    await redis?.stop();
    redis?.cleanup();
  }
});

// Which instance holds a WebSocket client of session id (clients counted per instance).
async function clientsPerInstance(id) {
  return Promise.all(inst.map(async (s) => {
    const r = await request(`${s.base}/sessions/${id}`);
    return r.status === 200 ? r.json.clients : 0;
  }));
}

// A session created through nginx (on the instance its client's address hashes to) and
// reachable through nginx by its id (on the instance the id hashes to, which learns of it
// from the creator through Redis pub/sub, a moment later).
async function roomSession(base = ng.base, opts = {}) {
  const c = await request(`${base}/sessions`, { method: 'POST', body: { language: 'python' }, ...opts });
  assert.equal(c.status, 201, c.text);
  const deadline = Date.now() + 3000;
  while ((await request(`${base}/sessions/${c.json.id}`, opts)).status !== 200) {
    if (Date.now() > deadline) assert.fail(`session ${c.json.id} not reachable through nginx`);
    await sleep(20);
  }
  return c.json;
}

function securityEvents(pred) {
  return inst.flatMap((s) => {
    try {
      return readFileSync(join(s.logDir, 'security.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    } catch { return []; }
  }).filter(pred);
}

async function waitForEvent(pred, what) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = securityEvents(pred);
    if (found.length) return found[0];
    if (Date.now() > deadline) assert.fail(`no ${what} in either instance's security log`);
    await sleep(50);
  }
}

test('REST through nginx: create, read, list, delete a session', async () => {
  const c = await request(`${ng.base}/sessions`, { method: 'POST', body: { language: 'python' } });
  assert.equal(c.status, 201, c.text);
  assert.equal(c.headers.location, `/sessions/${c.json.id}`);
  const { id } = await roomSession();
  const g = await request(`${ng.base}/sessions/${id}`);
  assert.equal(g.status, 200);
  assert.equal(g.json.id, id);
  assert.equal(g.json.language, 'python');
  const l = await request(`${ng.base}/sessions?limit=100`);
  assert.equal(l.status, 200);
  assert.ok(l.json.sessions.some((s) => s.id === id), 'listed');
  const d = await request(`${ng.base}/sessions/${id}`, { method: 'DELETE' });
  assert.equal(d.status, 204);
  assert.equal((await request(`${ng.base}/sessions/${id}`)).status, 404);
  const h = await request(`${ng.base}/health`);
  assert.equal(h.status, 200);
  assert.equal(h.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP');
  assert.equal(h.headers.server, 'nginx', 'server_tokens off: no version');
});

test('a session\'s WebSocket and REST requests land on one instance; sessions spread over both', async () => {
  const seen = new Set();
  for (let i = 0; i < 16 && seen.size < 2; i++) {
    const s = await roomSession();
    const c = await Client.open({ ws: ng.ws }, s.id, '?userId=hash');
    await c.next('sync');
    const per = await clientsPerInstance(s.id);
    assert.deepEqual([...per].sort(), [0, 1], `one instance holds the client: ${per}`);
    const at = per.indexOf(1);
    seen.add(at);
    // the room's REST requests hash the same way: through nginx they reach that instance
    for (let k = 0; k < 3; k++) assert.equal((await request(`${ng.base}/sessions/${s.id}`)).json.clients, 1);
    // a second client of the room joins the same instance
    const c2 = await Client.open({ ws: ng.ws }, s.id, '?userId=hash2');
    await c2.next('sync');
    assert.equal((await clientsPerInstance(s.id))[at], 2);
    await c.close();
    await c2.close();
  }
  assert.equal(seen.size, 2, 'different sessions hash to different instances');
});

test('WebSocket through nginx: join, push, the other participant gets the update', async () => {
  const s = await roomSession();
  const a = await Client.open({ ws: ng.ws }, s.id, '?userId=alice&userName=Alice');
  const sa = await a.next('sync');
  assert.equal(sa.version, 0);
  const b = await Client.open({ ws: ng.ws }, s.id, '?userId=bob&userName=Bob');
  await b.next('sync');
  await a.next((m) => m.type === 'user_joined');
  a.send({ type: 'push', version: 0, updates: [{ clientID: 'alice1', changes: [[0, 'x = 1', '']] }] });
  const ub = await b.next('update');
  assert.equal(ub.version, 1);
  assert.equal(ub.clientID, 'alice1');
  const ua = await a.next('update');
  assert.equal(ua.clientID, 'alice1', 'the author gets the confirmation');
  b.send({ type: 'push', version: 1, updates: [{ clientID: 'bob1', changes: [6, [0, 'y = 2', '']] }] });
  assert.equal((await a.next('update')).version, 2);
  const doc = (await request(`${ng.base}/sessions/${s.id}/document`)).text;
  assert.match(doc, /x = 1\ny = 2/);
  await a.close();
  await b.close();
});

test('the page and the Pyodide bundle: types, cache headers, COOP/COEP, br/gzip, cached by nginx', async () => {
  const page = await request(`${ng.base}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers['content-type'], /^text\/html/);
  assert.equal(page.headers['cache-control'], 'no-cache');
  assert.equal(page.headers['cross-origin-opener-policy'], 'same-origin');
  assert.equal(page.headers['cross-origin-embedder-policy'], 'require-corp');
  const room = await request(`${ng.base}/s/00000000-0000-4000-8000-000000000000`);
  assert.equal(room.status, 200, 'the single-page app answers /s/{id}');
  assert.equal(room.text, page.text);

  const js = page.text.match(/src="(\/assets\/[^"]+\.js)"/)[1];
  const first = await request(`${ng.base}${js}`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(first.status, 200);
  assert.match(first.headers['content-type'], /^text\/javascript/);
  assert.equal(first.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.equal(first.headers['content-encoding'], 'gzip', 'compressed by nginx');
  assert.equal(gunzipSync(first.raw).toString(), readFileSync(join(dist, js)).toString());
  const again = await request(`${ng.base}${js}`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(again.headers['x-cache-status'], 'HIT', 'served from nginx\'s cache the second time');
  assert.equal(again.headers['cross-origin-embedder-policy'], 'require-corp', 'COEP kept in the cache');

  const pyDir = readdirSync(join(dist, 'assets')).find((d) => d.startsWith('pyodide-'));
  assert.ok(pyDir, 'the build copied Pyodide');
  const wasmPath = `/assets/${pyDir}/pyodide.asm.wasm`;
  const wasm = readFileSync(join(dist, wasmPath));
  for (const [ae, expect] of [['gzip, deflate, br', 'br'], ['gzip', 'gzip'], ['identity', undefined]]) {
    for (const round of [1, 2]) {
      const r = await request(`${ng.base}${wasmPath}`, { headers: { 'accept-encoding': ae } });
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/wasm');
      assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal(r.headers['cross-origin-opener-policy'], 'same-origin');
      assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp');
      assert.equal(r.headers['content-encoding'], expect, `Accept-Encoding: ${ae} (round ${round})`);
      const body = expect === 'br' ? brotliDecompressSync(r.raw) : expect === 'gzip' ? gunzipSync(r.raw) : r.raw;
      assert.ok(body.equals(wasm), `the wasm arrives whole (${ae}, round ${round})`);
      if (expect) assert.ok(r.raw.length < wasm.length / 2, 'precompressed copy sent');
      if (round === 2) assert.equal(r.headers['x-cache-status'], 'HIT', `cached per encoding (${ae})`);
    }
  }
  const mjs = await request(`${ng.base}/assets/${pyDir}/pyodide.mjs`);
  assert.match(mjs.headers['content-type'], /^text\/javascript/);
  const missing = await request(`${ng.base}/assets/${pyDir}/no-such-file.wasm`);
  assert.equal(missing.status, 404);
});

test('X-Forwarded-For: collabd records the address nginx forwards; a forged one is ignored', async () => {
  // a proxy on 127.0.0.1 (trusted, like nginx) names the client 203.0.113.7: nginx appends
  // its peer and collabd walks back to the first address no trusted proxy vouches for
  const viaTrusted = await request(`${ng.base}/sessions`, {
    method: 'POST', body: { language: 'python' }, headers: { 'x-forwarded-for': '203.0.113.7', 'user-agent': 'xff-test/1' },
  });
  assert.equal(viaTrusted.status, 201);
  const ev1 = await waitForEvent((e) => e.event === 'session_created' && e.session === viaTrusted.json.id, 'session_created');
  assert.equal(ev1.ip, '203.0.113.7');
  assert.equal(ev1.userAgent, 'xff-test/1');
  // a client at 127.0.0.2 (not trusted) claiming to be 198.51.100.66 is recorded as itself
  const forged = await request(`${ng.base}/sessions`, {
    method: 'POST', body: { language: 'python' }, localAddress: '127.0.0.2', headers: { 'x-forwarded-for': '198.51.100.66' },
  });
  assert.equal(forged.status, 201);
  const ev2 = await waitForEvent((e) => e.event === 'session_created' && e.session === forged.json.id, 'session_created');
  assert.equal(ev2.ip, '127.0.0.2');
  // the WebSocket upgrade too
  const room = await roomSession();
  const c = await Client.open({ ws: ng.ws }, room.id, '?userId=xff', { headers: { 'x-forwarded-for': '203.0.113.8' } });
  await c.next('sync');
  const ev3 = await waitForEvent((e) => e.event === 'ws_join' && e.session === room.id, 'ws_join');
  assert.equal(ev3.ip, '203.0.113.8');
  await c.close();
});

test('rate limit: a flooding address gets 429 with Retry-After and JSON from nginx; another does not', async () => {
  // a low limit of its own (5/s, burst 10), so the count does not depend on the machine's speed
  const low = await startNginx(inst, { NGX_RATE_LIMIT: '5', NGX_RATE_BURST: '10' });
  try {
    const t0 = Date.now();
    const flood = await Promise.all(Array.from({ length: 100 }, () => request(`${low.base}/sessions?limit=1`, { localAddress: '127.0.0.3' })));
    const passed = flood.filter((r) => r.status === 200).length, refused = flood.filter((r) => r.status === 429);
    assert.equal(passed + refused.length, 100);
    assert.ok(passed >= 10 && passed <= 11 + 5 * Math.ceil((Date.now() - t0) / 1000), `${passed} passed: the burst and the rate`);
    assert.equal(refused[0].json.error.code, 'rate_limited');
    assert.match(refused[0].json.error.message, /proxy limit/, 'refused by nginx, not collabd (its limit is higher here)');
    assert.equal(refused[0].headers['retry-after'], '1');
    assert.match(refused[0].headers['content-type'], /^application\/json/);
    assert.equal((await request(`${low.base}/sessions?limit=1`, { localAddress: '127.0.0.4' })).status, 200, 'another address');
    // static files have their own, larger allowance: the page still loads for the flooder
    const css = readdirSync(join(dist, 'assets')).find((f) => f.endsWith('.css'));
    assert.equal((await request(`${low.base}/assets/${css}`, { localAddress: '127.0.0.3' })).status, 200);
  } finally {
    await low.stop();
  }
});

test('nginx\'s defaults are collabd\'s: body caps and REST rate limit', () => {
  const conf = execFileSync(join(repo, 'nginx', 'render.sh'), [template], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
  const config = readFileSync(join(repo, 'server', 'core', 'config.c'), 'utf8');
  const dflt = (name) => Number(config.match(new RegExp(`c->${name} = (\\d+)L?(?: << (\\d+))?;`)).slice(1, 3).reduce((v, s) => (s === undefined ? Number(v) : Number(v) * 2 ** Number(s))));
  assert.match(conf, new RegExp(`zone=collabd_rest:10m +rate=${dflt('http_rate_limit')}r/s;`));
  assert.match(conf, new RegExp(`zone=collabd_rest burst=${dflt('http_rate_burst')} nodelay;`));
  assert.match(conf, new RegExp(`client_max_body_size ${dflt('max_body') / 2 ** 20}m;`));
  assert.match(conf, new RegExp(`client_max_body_size ${dflt('upload_max') / 2 ** 20}m;`));
  assert.doesNotMatch(conf, /\$\{NGX_[A-Z]/, 'every variable rendered');
  assert.match(conf, /\$proxy_add_x_forwarded_for/, 'nginx\'s own variables left alone');
});

test('body limits: 413 as JSON over --max-body; an upload up to --upload-max passes', async () => {
  const big = await request(`${ng.base}/sessions`, { method: 'POST', body: JSON.stringify({ language: 'python', pad: 'x'.repeat(1.5 * 2 ** 20) }), headers: { 'content-type': 'application/json' } });
  assert.equal(big.status, 413);
  assert.equal(big.json.error.code, 'payload_too_large');
  const boundary = 'nginxtestboundary';
  const content = Buffer.alloc(2 * 2 ** 20, 'a');
  const body = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\nContent-Type: text/plain\r\n\r\n`),
    content, Buffer.from(`\r\n--${boundary}--\r\n`)]);
  const up = await request(`${ng.base}/api/upload`, { method: 'POST', body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
  assert.equal(up.status, 200, up.text);
  assert.equal(up.json.file.size, content.length);
});

test('TLS: HTTPS REST and WSS through nginx, TLS 1.2/1.3 with AEAD ciphers only, HSTS', async () => {
  const ca = ng.ca;
  const s = await roomSession(ng.tlsBase, { ca });
  const h = await request(`${ng.tlsBase}/sessions/${s.id}`, { ca });
  assert.equal(h.status, 200);
  assert.equal(h.tls.protocol, 'TLSv1.3');
  assert.equal(h.headers['strict-transport-security'], 'max-age=63072000');
  const g = await request(`${ng.tlsBase}/sessions/${s.id}`, { ca, maxVersion: 'TLSv1.2' });
  assert.equal(g.status, 200);
  assert.equal(g.tls.protocol, 'TLSv1.2');
  assert.match(g.tls.cipher, /^ECDHE-ECDSA-(AES\d+-GCM|CHACHA20-POLY1305)/);
  await assert.rejects(request(`${ng.tlsBase}/health`, { ca, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384' }),
    /handshake|cipher|alert/i, 'CBC suites are refused');
  const page = await request(`${ng.tlsBase}/`, { ca });
  assert.equal(page.headers['cross-origin-opener-policy'], 'same-origin');
  assert.equal(page.headers['strict-transport-security'], 'max-age=63072000');

  const a = await Client.open({ ws: ng.wss }, s.id, '?userId=tls-a', { ca });
  await a.next('sync');
  const b = await Client.open({ ws: ng.wss }, s.id, '?userId=tls-b', { ca });
  await b.next('sync');
  a.send({ type: 'push', version: 0, updates: [{ clientID: 'tlsa', changes: [[0, 'secure']] }] });
  assert.equal((await b.next('update')).clientID, 'tlsa');
  await a.close();
  await b.close();
  await assert.rejects(Client.open({ ws: ng.wss }, s.id, '?userId=x'), /self-signed|certificate/i, 'an unknown certificate is refused');
});

test('NGX_HTTPS_ONLY=on: plain HTTP answers 301 to https, HTTPS serves', async () => {
  const only = await startNginx(inst, { NGX_HTTPS_ONLY: 'on' });
  try {
    const r = await request(`${only.base}/sessions?limit=5`);
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, `https://127.0.0.1:${only.httpsPort}/sessions?limit=5`);
    const s = await request(r.headers.location, { ca: only.ca });
    assert.equal(s.status, 200);
    assert.ok(Array.isArray(s.json.sessions));
  } finally {
    await only.stop();
  }
});

// The room is split on purpose: one editor where nginx sends it, the other straight to the
// other instance; Redis pub/sub relays each instance's accepted updates to the other.
test('two editors on different instances (one through nginx, one direct) converge, every edit once', async () => {
  const s = await roomSession();
  const e1 = new Editor({ ws: ng.ws }, s.id, { clientID: 'via-nginx', rng: mulberry32(7), maxLatency: 10 });
  await e1.connect();
  const at = (await clientsPerInstance(s.id)).indexOf(1);
  assert.ok(at >= 0, 'the nginx editor is on an instance');
  const other = inst[1 - at];
  const e2 = new Editor(other, s.id, { clientID: 'direct', rng: mulberry32(8), maxLatency: 10 });
  await e2.connect();
  assert.deepEqual((await clientsPerInstance(s.id)).map((n) => n > 0), [true, true], 'one editor per instance');
  const EDITS = 60;
  for (let i = 0; i < EDITS; i++) {
    e1.edit();
    e2.edit();
    await sleep(5);
  }
  const deadline = Date.now() + 20000;
  let version;
  for (;;) {
    [e1, e2].forEach((e) => e.flush());
    version = (await request(`${other.base}/sessions/${s.id}`)).json.version;
    if ([e1, e2].every((e) => !e.pending() && e.synced() === version) || Date.now() > deadline) break;
    await sleep(50);
  }
  assert.deepEqual([...e1.errors, ...e2.errors], []);
  assert.equal(version, 2 * EDITS, 'every edit accepted exactly once');
  assert.equal(e1.synced(), version);
  assert.equal(e2.synced(), version);
  assert.equal(e1.text(), e2.text(), 'both editors hold the same document');
  for (const srv of inst) { // a sync keeps lone surrogates (the /document text is UTF-8)
    const c = await Client.open(srv, s.id, '?userId=checker');
    const sync = await c.next('sync');
    assert.equal(sync.version, version);
    assert.equal(sync.doc, e1.text(), 'each instance holds the same document');
    await c.close();
  }
  for (const e of [e1, e2]) { e.closedByUs = true; e.ws.close(); }
});
