// REST API through the real server (R1-R5, R8): every route and status, checked against
// the schemas in protocol/openapi.json.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, createSession, rawHttp } from './lib/server.mjs';
import { expectRest } from './lib/schema.mjs';

let srv;
before(async () => { srv = await startServer(['--max-body', '2k', '--max-sessions', '50', '--cors-origins', 'http://allowed.example']); });
after(async () => { await srv.stop(); });

const uuidV4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('R1 POST /sessions creates a python session with a UUID v4', async () => {
  const r = await api(srv, 'POST', '/sessions', { body: { language: 'python' } });
  assert.equal(r.status, 201);
  expectRest('SessionCreated', r.json);
  assert.match(r.json.id, uuidV4);
  assert.equal(r.json.language, 'python');
  assert.equal(r.json.version, 0);
  assert.deepEqual(r.json.users, []);
  assert.ok(Math.abs(Date.parse(r.json.createdAt) - Date.now()) < 60000);
  assert.equal(r.headers.get('location'), `/sessions/${r.json.id}`);
  const d = await api(srv, 'POST', '/sessions', { body: {} });
  assert.equal(d.json.language, 'python', 'python is the default');
  const e = await api(srv, 'POST', '/sessions', { body: '', raw: true, headers: { 'content-type': 'application/json' } });
  assert.equal(e.status, 201, 'an empty body means defaults');
  assert.notEqual(d.json.id, r.json.id);
});

test('R1 bad bodies: 400 with a JSON error', async () => {
  for (const [body, code] of [['{"language":', 'bad_json'], ['[1,2]', 'bad_request'], ['{"language":42}', 'invalid_field'],
    ['{"language":"cobol"}', 'invalid_field'], ['"python"', 'bad_request']]) {
    const r = await api(srv, 'POST', '/sessions', { body, raw: true, headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 400, body);
    expectRest('Error', r.json);
    assert.equal(r.json.error.code, code, body);
  }
});

test('R1 415 for a body that is not JSON, 413 over the body limit', async () => {
  let r = await api(srv, 'POST', '/sessions', { body: 'language=python', raw: true, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(r.status, 415);
  assert.equal(r.json.error.code, 'unsupported_media_type');
  r = await api(srv, 'POST', '/sessions', { body: { language: 'python', pad: 'x'.repeat(4000) } });
  assert.equal(r.status, 413);
  assert.equal(r.json.error.code, 'payload_too_large');
  // the server still answers afterwards
  assert.equal((await api(srv, 'GET', '/health')).status, 200);
});

test('R2 GET /sessions/{id} and 404s', async () => {
  const s = await createSession(srv);
  const r = await api(srv, 'GET', `/sessions/${s.id}`);
  assert.equal(r.status, 200);
  expectRest('Session', r.json);
  assert.equal(r.json.id, s.id);
  assert.equal(r.json.size, 0);
  assert.equal(r.json.viewToken, undefined, 'the view token is only given at creation');
  for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid', '..%2f..%2fetc']) {
    const n = await api(srv, 'GET', `/sessions/${id}`);
    assert.equal(n.status, 404, id);
    expectRest('Error', n.json);
  }
});

test('R2 GET /sessions is paginated with an opaque cursor', async () => {
  const created = [];
  for (let i = 0; i < 7; i++) created.push((await createSession(srv)).id);
  const seen = [];
  let cursor = null, pages = 0;
  do {
    const r = await api(srv, 'GET', `/sessions?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200);
    expectRest('SessionList', r.json);
    assert.ok(r.json.sessions.length <= 3);
    seen.push(...r.json.sessions.map((s) => s.id));
    cursor = r.json.nextCursor;
    pages++;
  } while (cursor && pages < 50);
  for (const id of created) assert.ok(seen.includes(id));
  assert.equal(new Set(seen).size, seen.length, 'no session twice');
  for (const q of ['limit=0', 'limit=101', 'limit=abc', 'cursor=zz', 'cursor=-1']) {
    const r = await api(srv, 'GET', `/sessions?${q}`);
    assert.equal(r.status, 400, q);
    assert.equal(r.json.error.code, 'invalid_query');
  }
});

test('R3 DELETE /sessions/{id} → 204, then 404', async () => {
  const s = await createSession(srv);
  const r = await api(srv, 'DELETE', `/sessions/${s.id}`);
  assert.equal(r.status, 204);
  assert.equal(r.text, '');
  assert.equal((await api(srv, 'GET', `/sessions/${s.id}`)).status, 404);
  assert.equal((await api(srv, 'DELETE', `/sessions/${s.id}`)).status, 404);
});

test('R4 health endpoints', async () => {
  for (const p of ['/health', '/api/health', '/api/status']) {
    const r = await api(srv, 'GET', p);
    assert.equal(r.status, 200, p);
    expectRest('Health', r.json);
    assert.equal(r.json.status, 'ok');
    assert.equal(r.json.store.type, 'memory');
    assert.ok(r.json.counts.sessions >= 0);
  }
});

test('404 unknown route, 405 wrong method with Allow', async () => {
  let r = await api(srv, 'GET', '/api/nope');
  assert.equal(r.status, 404);
  expectRest('Error', r.json);
  r = await api(srv, 'PUT', '/sessions', { body: {} });
  assert.equal(r.status, 405);
  assert.equal(r.json.error.code, 'method_not_allowed');
  assert.match(r.headers.get('allow'), /GET/);
  assert.match(r.headers.get('allow'), /POST/);
  r = await api(srv, 'POST', '/health', { body: {} });
  assert.equal(r.status, 405);
});

test('429 when the session limit is reached', async () => {
  const s2 = await startServer(['--max-sessions', '2']);
  try {
    await createSession(s2);
    await createSession(s2);
    const r = await api(s2, 'POST', '/sessions', { body: {} });
    assert.equal(r.status, 429);
    assert.equal(r.json.error.code, 'too_many_sessions');
  } finally { await s2.stop(); }
});

test('R8 security headers on every response, API and static alike', async () => {
  for (const [m, p] of [['GET', '/health'], ['GET', '/'], ['GET', '/nope'], ['POST', '/sessions']]) {
    const r = await api(srv, m, p, m === 'POST' ? { body: {} } : {});
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', p);
    assert.equal(r.headers.get('x-frame-options'), 'DENY', p);
    assert.match(r.headers.get('content-security-policy'), /default-src 'self'/, p);
    assert.equal(r.headers.get('cross-origin-opener-policy'), 'same-origin', p);
    assert.equal(r.headers.get('cross-origin-embedder-policy'), 'require-corp', p);
    assert.ok(r.headers.get('x-request-id'), p);
  }
});

test('R8 CORS: allow-listed origins get headers and preflights; others are refused', async () => {
  let r = await api(srv, 'GET', '/health', { headers: { origin: 'http://allowed.example' } });
  assert.equal(r.headers.get('access-control-allow-origin'), 'http://allowed.example');
  r = await api(srv, 'GET', '/health', { headers: { origin: 'http://evil.example' } });
  assert.equal(r.headers.get('access-control-allow-origin'), null);
  r = await api(srv, 'OPTIONS', '/sessions', { headers: { origin: 'http://allowed.example', 'access-control-request-method': 'POST' } });
  assert.equal(r.status, 204);
  assert.match(r.headers.get('access-control-allow-methods'), /POST/);
  r = await api(srv, 'OPTIONS', '/sessions', { headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
  assert.equal(r.status, 403);
  r = await api(srv, 'POST', '/sessions', { body: {}, headers: { origin: 'http://evil.example' } });
  assert.equal(r.status, 403, 'a cross-origin write from an unlisted origin is refused');
  r = await api(srv, 'POST', '/sessions', { body: {}, headers: { origin: srv.base } });
  assert.equal(r.status, 201, 'same origin is always allowed');
});

test('Expect: 100-continue is answered at once', async () => {
  const body = '{"language":"python"}';
  const t0 = Date.now();
  const res = await new Promise((resolve) => {
    import('node:net').then(({ default: net }) => {
      const sock = net.connect(srv.port, '127.0.0.1');
      let data = '';
      sock.on('connect', () => sock.write(`POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`));
      sock.on('data', (d) => {
        data += d;
        if (data.startsWith('HTTP/1.1 100') && !data.includes('201')) sock.write(body);
        if (/HTTP\/1.1 201[\s\S]*\r\n\r\n\{[\s\S]*\}$/.test(data)) { sock.destroy(); resolve(data); }
      });
      setTimeout(() => { sock.destroy(); resolve(data); }, 3000);
    });
  });
  assert.match(res, /^HTTP\/1.1 100 Continue\r\n\r\n/);
  assert.match(res, /HTTP\/1.1 201/);
  assert.ok(Date.now() - t0 < 900, 'no stall waiting for the 100');
});

test('413 is decided from Content-Length before the body is read', async () => {
  const r = await rawHttp(srv, 'POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\n{');
  assert.match(r.text, /^HTTP\/1.1 413/);
  assert.match(r.text, /payload_too_large/);
  assert.ok(r.closed, 'the connection is closed rather than reading a gigabyte');
});

test('static files: index, SPA route, traversal refused', async () => {
  let r = await api(srv, 'GET', '/');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /text\/html/);
  r = await api(srv, 'GET', '/s/whatever');
  assert.equal(r.status, 200);
  const t = await rawHttp(srv, 'GET /../../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.doesNotMatch(t.text, /root:/);
  const t2 = await rawHttp(srv, 'GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.doesNotMatch(t2.text, /root:/);
});

test('R5 /docs and /openapi.json are served', async () => {
  const r = await api(srv, 'GET', '/openapi.json');
  assert.equal(r.status, 200);
  assert.match(r.json.openapi, /^3\./);
  assert.ok(r.json.paths['/sessions']);
  const d = await api(srv, 'GET', '/docs');
  assert.equal(d.status, 200);
  assert.match(d.headers.get('content-type'), /text\/html/);
  assert.doesNotMatch(d.text, /(src|href)\s*=\s*["']?(https?:)?\/\//i, 'no external resources');
});

test('R6 create a session from text and export its document', async () => {
  const content = 'def f(x):\n    return x * 2  # 😀\n';
  const r = await api(srv, 'POST', '/sessions', { body: { language: 'python', content } });
  assert.equal(r.status, 201);
  assert.equal(r.json.size, content.length);
  const d = await api(srv, 'GET', `/sessions/${r.json.id}/document`);
  assert.equal(d.status, 200);
  assert.match(d.headers.get('content-type'), /^text\/plain; charset=utf-8/);
  assert.equal(d.text, content);
  assert.equal(d.headers.get('x-collabd-version'), '0');
  let bad = await api(srv, 'POST', '/sessions', { body: { content: 42 } });
  assert.equal(bad.status, 400);
  bad = await api(srv, 'POST', '/sessions', { body: { content: 'x'.repeat(3000) } }); // over --max-body 2k
  assert.equal(bad.status, 413);
  assert.equal((await api(srv, 'GET', '/sessions/00000000-0000-4000-8000-000000000000/document')).status, 404);
});
