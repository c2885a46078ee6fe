// Hostile and malformed input (issue 2's malformed-input suite): bad HTTP requests and bad
// WebSocket messages and frames. Each gets its documented answer, and the server keeps
// serving a bystander client throughout (checked after every case). Under the ASan build
// the same cases run and the server must exit cleanly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, createSession, rawHttp, Client } from './lib/server.mjs';
import { rawWs, frame } from './lib/rawws.mjs';

let srv, session, bystander;
before(async () => {
  srv = await startServer(['--max-body', '64k', '--max-message', '64k', '--rate-limit', '100000', '--rate-burst', '100000']);
  session = await createSession(srv);
  bystander = await Client.open(srv, session.id, '?userId=bystander');
  await bystander.next('sync');
});
after(async () => { await bystander.close(); await srv.stop(); });

async function bystanderAlive(label) {
  bystander.send({ type: 'ping', ref: label.slice(0, 60) });
  const p = await bystander.next((m) => m.type === 'pong' && m.ref === label.slice(0, 60));
  assert.ok(p, label);
  assert.equal((await api(srv, 'GET', '/health')).status, 200, label);
}

const status = (t) => Number((t.match(/^HTTP\/1\.1 (\d{3})/) || [])[1] || 0);
const json = (t) => { const i = t.indexOf('\r\n\r\n'); try { return JSON.parse(t.slice(i + 4)); } catch { return null; } };

// [label, raw request, check(response)]
const httpCases = [
  ['garbage request line', 'HELLO WORLD\r\n\r\n', (r) => assert.ok(r.closed || status(r.text) >= 400)],
  ['binary noise', Buffer.from([0, 1, 2, 3, 255, 254, 13, 10, 13, 10]), (r) => assert.ok(r.closed || status(r.text) >= 400)],
  ['HTTP/2 preface on a 1.1 port', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', (r) => assert.ok(r.closed || status(r.text) >= 400)],
  ['unknown method', 'BREW /sessions HTTP/1.1\r\nHost: x\r\n\r\n', (r) => assert.ok(r.closed || status(r.text) >= 400)],
  ['path of 16 KiB', `GET /${'a'.repeat(16384)} HTTP/1.1\r\nHost: x\r\n\r\n`, (r) => assert.ok(r.closed || status(r.text) >= 400)],
  ['header block of 32 KiB', `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(32768)}\r\n\r\n`, (r) => assert.ok(r.closed || status(r.text) >= 400)],
  // lws keeps looking for the colon: nothing is served, and the request timeout reaps the socket
  ['header without a colon', 'GET /health HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n', (r) => assert.doesNotMatch(r.text, /HTTP\/1\.1 200/)],
  ['non-numeric Content-Length', 'POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}', (r) => assert.ok(r.closed || status(r.text) === 400 || status(r.text) === 411)],
  ['negative Content-Length', 'POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -5\r\n\r\n{}', (r) => assert.ok(r.closed || status(r.text) >= 400)],
  ['POST without Content-Length (an empty body)', 'POST /sessions HTTP/1.1\r\nHost: x\r\n\r\n', (r) => assert.equal(status(r.text), 201)],
  ['chunked POST body', 'POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n', (r) => assert.ok(r.closed || status(r.text) === 411)],
  ['Content-Length over the limit', 'POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n', (r) => assert.equal(status(r.text), 413)],
  ['Expect other than 100-continue', 'POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nExpect: 200-ok\r\n\r\n{}', (r) => assert.equal(status(r.text), 417)],
  ['NUL in the path', 'GET /%00/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n', (r) => { assert.doesNotMatch(r.text, /root:/); assert.ok(r.closed || status(r.text) >= 400); }],
  ['dot-dot traversal', 'GET /../../etc/shadow HTTP/1.1\r\nHost: x\r\n\r\n', (r) => assert.doesNotMatch(r.text, /root:/)],
  ['encoded traversal', 'GET /%2e%2e%2f%2e%2e%2fetc%2fpasswd HTTP/1.1\r\nHost: x\r\n\r\n', (r) => assert.doesNotMatch(r.text, /root:/)],
  ['backslash traversal', 'GET /..\\..\\etc\\passwd HTTP/1.1\r\nHost: x\r\n\r\n', (r) => assert.doesNotMatch(r.text, /root:/)],
  ['dot file', 'GET /.git/config HTTP/1.1\r\nHost: x\r\n\r\n', (r) => assert.equal(status(r.text), 404)],
  ['session id of 200 characters', `GET /sessions/${'f'.repeat(200)} HTTP/1.1\r\nHost: x\r\n\r\n`, (r) => assert.equal(status(r.text), 404)],
  ['huge limit query', 'GET /sessions?limit=999999999999999999999999 HTTP/1.1\r\nHost: x\r\n\r\n', (r) => assert.equal(status(r.text), 400)],
  ['two pipelined requests', 'GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /api/health HTTP/1.1\r\nHost: x\r\n\r\n', (r) => assert.equal((r.text.match(/HTTP\/1\.1 200/g) || []).length, 2)],
];

const body = (b, ctype = 'application/json') => `POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: ${ctype}\r\nContent-Length: ${Buffer.byteLength(b, 'latin1')}\r\n\r\n${b}`;
httpCases.push(
  ['JSON nested 5000 deep', body('['.repeat(5000) + ']'.repeat(5000)), (r) => { assert.equal(status(r.text), 400); assert.equal(json(r.text).error.code, 'bad_json'); }],
  ['language given as 1e999', body('{"language":1e999}'), (r) => assert.equal(status(r.text), 400)],
  ['invalid UTF-8 in the body', body('{"language":"\xff\xfe"}'), (r) => assert.equal(status(r.text), 400)],
  ['NUL inside the JSON', body('{"language":"py\u0000thon"}'), (r) => assert.equal(status(r.text), 400)],
  ['truncated JSON', body('{"language":"pyth'), (r) => assert.equal(status(r.text), 400)],
  ['text/plain body', body('{"language":"python"}', 'text/plain'), (r) => assert.equal(status(r.text), 415)],
  ['body shorter than Content-Length, then silence', 'POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"lang', (r) => assert.ok(!/HTTP\/1\.1 201/.test(r.text))],
);

for (const [label, req, check] of httpCases) {
  test(`HTTP: ${label}`, async () => {
    const r = await rawHttp(srv, req, { waitMs: 600 });
    check(r);
    await bystanderAlive(label);
  });
}

// WebSocket messages: [label, text, expected error code]
const wsMessages = [
  ['broken JSON', '{"type":', 'bad_json'],
  ['empty message', '', 'bad_json'],
  ['a JSON array', '[1,2,3]', 'bad_message'],
  ['a JSON number', '42', 'bad_message'],
  ['a JSON string', '"ping"', 'bad_message'],
  ['type is not a string', '{"type":5}', 'bad_message'],
  ['type missing', '{"ref":"x"}', 'bad_message'],
  ['unknown type', '{"type":"drop_tables"}', 'unknown_type'],
  ['deep nesting', '{"type":"ping","x":' + '['.repeat(5000) + ']'.repeat(5000) + '}', 'bad_json'],
  ['huge number ref', '{"type":"ping","ref":1e400}', 'bad_message'],
  ['ref too long to echo', `{"type":"ping","ref":"${'r'.repeat(100)}"}`, 'bad_message'],
  ['lone surrogate escape', '{"type":"\\ud800"}', null],
  ['NUL escape in type', '{"type":"pi\\u0000ng"}', 'unknown_type'],
];

for (const [label, text, code] of wsMessages) {
  test(`WS message: ${label}`, async () => {
    const c = await Client.open(srv, session.id);
    await c.next('sync');
    c.send(text);
    const e = await c.next('error');
    assert.equal(e.type, 'error');
    if (code) assert.equal(e.code, code, label);
    assert.equal(c.ws.readyState, 1, 'a bad message is answered, not fatal');
    await c.close();
    await bystanderAlive(label);
  });
}

// WebSocket frames: [label, frame builder, expected close code (null: just closed)]
const wsFrames = [
  ['frame announcing 2^53 bytes', () => frame({ announce: 2 ** 53, payload: Buffer.alloc(100, 0x20) }), 1009],
  ['frame announcing 1 GiB', () => frame({ announce: 1 << 30, payload: Buffer.alloc(100, 0x20) }), 1009],
  ['invalid UTF-8 text', () => frame({ payload: Buffer.from([0x22, 0xc3, 0x28, 0x22]) }), 1007],
  ['binary frame', () => frame({ opcode: 2, payload: Buffer.from('{}') }), 1003],
  // lws 4.1.6 tolerates unmasked client frames (RFC 6455 says close): answered, not fatal
  ['unmasked client frame', () => frame({ payload: Buffer.from('{"type":"ping"}'), mask: false }), 'open'],
  ['reserved opcode 3', () => frame({ opcode: 3, payload: Buffer.from('x') }), null],
  ['ping control frame over 125 bytes', () => frame({ opcode: 9, payload: Buffer.alloc(200, 1) }), null],
  ['continuation without a start', () => frame({ opcode: 0, payload: Buffer.from('x') }), null],
];

for (const [label, make, code] of wsFrames) {
  test(`WS frame: ${label}`, async () => {
    const r = await rawWs(srv, `/ws/${session.id}`);
    r.send(make());
    if (code === 'open') {
      await new Promise((res) => setTimeout(res, 300));
      r.sock.destroy();
      await bystanderAlive(label);
      return;
    }
    const got = await r.closeCode();
    if (code) assert.equal(got, code, label);
    await Promise.race([r.closed, new Promise((res) => setTimeout(res, 3000))]);
    assert.ok(r.sock.destroyed || r.sock.readyState !== 'open', `${label}: the connection is closed`);
    await bystanderAlive(label);
  });
}

test('a burst of 2,000 messages is answered in order', async () => {
  const c = await Client.open(srv, session.id);
  await c.next('sync');
  for (let i = 0; i < 2000; i++) c.send({ type: 'ping', ref: i });
  for (let i = 0; i < 2000; i++) assert.equal((await c.next('pong')).ref, i);
  await c.close();
  await bystanderAlive('burst');
});
