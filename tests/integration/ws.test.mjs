// WebSocket rooms through the real server (C1, C8, C9): join/sync, user_joined/user_left,
// refused upgrades with real HTTP statuses, session deletion, slow readers, size limits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import WebSocket from 'ws';
import { startServer, api, createSession, Client } from './lib/server.mjs';
import { expectMessage } from './lib/schema.mjs';
import { rawWs, frame } from './lib/rawws.mjs';

let srv;
before(async () => { srv = await startServer(['--ws-deflate', '1', '--max-message', '4k', '--send-queue-max', '64k', '--max-clients-per-room', '5', '--rate-limit', '1000000', '--rate-burst', '1000000']); });
after(async () => { await srv.stop(); });

test('C1 join: sync to the joiner, user_joined to the others, user_left on close', async () => {
  const s = await createSession(srv);
  const a = await Client.open(srv, s.id, '?userId=alice&userName=Alice');
  const syncA = await a.next('sync');
  expectMessage('server', syncA);
  assert.equal(syncA.version, 0);
  assert.equal(syncA.doc, '');
  assert.equal(syncA.session.id, s.id);
  assert.equal(syncA.you.userId, 'alice');
  assert.equal(syncA.you.userName, 'Alice');
  assert.deepEqual(syncA.users.map((u) => u.userId), ['alice']);

  const b = await Client.open(srv, s.id, '?userId=bob&userName=Bob');
  const syncB = await b.next('sync');
  assert.deepEqual(syncB.users.map((u) => u.userId).sort(), ['alice', 'bob']);
  const joined = await a.next('user_joined');
  expectMessage('server', joined);
  assert.equal(joined.user.userId, 'bob');
  assert.notEqual(joined.user.color, syncA.you.color, 'collaborators get distinct colours');

  const info = await api(srv, 'GET', `/sessions/${s.id}`);
  assert.equal(info.json.clients, 2);
  assert.deepEqual(info.json.users.map((u) => u.userId).sort(), ['alice', 'bob']);

  await b.close();
  const left = await a.next('user_left');
  expectMessage('server', left);
  assert.equal(left.userId, 'bob');
  assert.equal(left.connId, joined.user.connId);
  await a.close();
});

test('C9 names are sanitised and ids validated', async () => {
  const s = await createSession(srv);
  const a = await Client.open(srv, s.id, `?userId=u1&userName=${encodeURIComponent('<img src=x onerror=alert(1)>Eve' + 'x'.repeat(200))}`);
  const sync = await a.next('sync');
  assert.doesNotMatch(sync.you.userName, /[<>"'&]/);
  assert.ok([...sync.you.userName].length <= 64);
  assert.match(sync.you.userName, /^img src=x onerror=alert\(1\)Eve/);
  await a.close();
  const anon = await Client.open(srv, s.id);
  const s2 = await anon.next('sync');
  assert.equal(s2.you.userName, 'Anonymous');
  assert.match(s2.you.userId, /^anon-/);
  await anon.close();
  await assert.rejects(Client.open(srv, s.id, '?userId=' + encodeURIComponent('a b<c>')), (e) => e.status === 400 && /invalid_user_id/.test(e.body));
  await assert.rejects(Client.open(srv, s.id, '?userId=' + 'x'.repeat(65)), (e) => e.status === 400);
});

test('refused upgrades get a real HTTP status and a JSON body', async () => {
  const s = await createSession(srv);
  await assert.rejects(Client.open(srv, '00000000-0000-4000-8000-000000000000'), (e) => e.status === 404 && JSON.parse(e.body).error.code === 'session_not_found');
  await assert.rejects(Client.open(srv, 'garbage'), (e) => e.status === 404);
  await assert.rejects(new Client(`${srv.ws}/elsewhere`).opened, (e) => e.status === 404);
  await assert.rejects(Client.open(srv, s.id, '', { origin: 'http://evil.example' }), (e) => e.status === 403 && /origin_not_allowed/.test(e.body));
  await assert.rejects(Client.open(srv, s.id, '?view=wrong-token'), (e) => e.status === 403 && /invalid_view_token/.test(e.body));
  // version 8 is refused with 426 and the supported version named
  const res = await new Promise((resolve) => {
    const sock = net.connect(srv.port, '127.0.0.1');
    let d = '';
    sock.on('connect', () => sock.write(`GET /ws/${s.id} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n`));
    sock.on('data', (x) => { d += x; });
    setTimeout(() => { sock.destroy(); resolve(d); }, 500);
  });
  assert.match(res, /^HTTP\/1\.[01] 426/);
  assert.match(res, /sec-websocket-version: 13/i);
});

test('C10 read-only participants join with the view token', async () => {
  const s = await createSession(srv);
  const v = await Client.open(srv, s.id, `?userId=viewer&view=${s.viewToken}`);
  const sync = await v.next('sync');
  assert.equal(sync.you.readOnly, true);
  const w = await Client.open(srv, s.id, '?userId=writer');
  assert.equal((await w.next('sync')).you.readOnly, false);
  assert.equal((await v.next('user_joined')).user.readOnly, false);
  await v.close(); await w.close();
});

test('room client limit: the sixth client gets 429', async () => {
  const s = await createSession(srv);
  const cs = [];
  for (let i = 0; i < 5; i++) cs.push(await Client.open(srv, s.id, `?userId=u${i}`));
  await assert.rejects(Client.open(srv, s.id, '?userId=u6'), (e) => e.status === 429 && /room_full/.test(e.body));
  await Promise.all(cs.map((c) => c.close()));
});

test('R3 DELETE tells every connected client and closes them with 4000', async () => {
  const s = await createSession(srv);
  const a = await Client.open(srv, s.id, '?userId=a');
  const b = await Client.open(srv, s.id, '?userId=b');
  await a.next('sync'); await b.next('sync');
  assert.equal((await api(srv, 'DELETE', `/sessions/${s.id}`)).status, 204);
  for (const c of [a, b]) {
    const m = await c.next('session_deleted');
    expectMessage('server', m);
    assert.equal(m.sessionId, s.id);
    const closed = await c.closed;
    assert.equal(closed.code, 4000);
  }
  await assert.rejects(Client.open(srv, s.id), (e) => e.status === 404);
});

test('ping/pong echoes ref; unknown types and bad JSON get error messages', async () => {
  const s = await createSession(srv);
  const a = await Client.open(srv, s.id);
  await a.next('sync');
  a.send({ type: 'ping', ref: 'r1' });
  const p = await a.next('pong');
  expectMessage('server', p);
  assert.equal(p.ref, 'r1');
  a.send({ type: 'frobnicate', ref: 7 });
  const e = await a.next('error');
  expectMessage('server', e);
  assert.equal(e.code, 'unknown_type');
  assert.equal(e.ref, 7);
  a.send('{not json');
  assert.equal((await a.next('error')).code, 'bad_json');
  await a.close();
});

test('C7 message size limit: over 4 KiB closes with 1009, also when fragmented', async () => {
  const s = await createSession(srv);
  const a = await Client.open(srv, s.id);
  await a.next('sync');
  a.send({ type: 'ping', ref: 'x'.repeat(5000) });
  assert.equal((await a.closed).code, 1009);
  // fragmented: three 2 KiB fragments of one message
  const b = await Client.open(srv, s.id);
  await b.next('sync');
  const part = 'y'.repeat(2048);
  b.ws.send(part, { fin: false });
  b.ws.send(part, { fin: false });
  b.ws.send(part, { fin: true });
  assert.equal((await b.closed).code, 1009);
  // compressed (as browsers send): the inflated size counts
  const z = await Client.open(srv, s.id, '', { perMessageDeflate: true });
  await z.next('sync');
  z.send({ type: 'ping', ref: 'z', pad: 'a'.repeat(20000) });
  assert.equal((await z.closed).code, 1009);
  // a bystander is unaffected
  const c = await Client.open(srv, s.id);
  await c.next('sync');
  c.send({ type: 'ping' });
  await c.next('pong');
  await c.close();
});

test('C8 binary frames close with 1003, invalid UTF-8 with 1007', async () => {
  const s = await createSession(srv);
  const a = await Client.open(srv, s.id);
  await a.next('sync');
  a.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.equal((await a.closed).code, 1003);
  const b = await rawWs(srv, `/ws/${s.id}`);
  b.send(frame({ payload: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }));
  assert.equal(await b.closeCode(), 1007);
});

test('C8 a client that stops reading is dropped and memory stays bounded', async () => {
  const s2 = await startServer(['--send-queue-max', '256k', '--max-message', '1m', '--max-doc', '64m']);
  try {
    const s = await createSession(s2);
    const slow = await rawWs(s2, `/ws/${s.id}?userId=slow`);
    slow.sock.pause(); // never reads again: the kernel buffers fill (about 4 MB here), then the queue
    const w = await Client.open(s2, s.id, '?userId=writer');
    await w.next('sync');
    const big = 'y'.repeat(500000);
    let health;
    for (let v = 0; v < 40; v++) {
      w.send({ type: 'push', version: v, updates: [{ clientID: 'w', changes: v ? [v * 500000, [0, big]] : [[0, big]] }] });
      await w.next('update');
      health = (await api(s2, 'GET', '/health')).json;
      if (health.counts.slowClientsDropped) break;
    }
    assert.equal(health.counts.slowClientsDropped, 1, 'the slow client was dropped');
    assert.equal(health.counts.connections, 1, 'and its memory released');
    slow.sock.resume();
    await slow.closed;
    assert.equal((await w.next('user_left')).userId, 'slow');
    w.send({ type: 'ping' }); // the writer keeps working
    await w.next('pong');
    await w.close();
  } finally { await s2.stop(); }
});

test('C8 permessage-deflate is off by default: a truncated compressed frame cannot abort the server', async () => {
  // lws 4.1.6's inflate asserts when a compressed frame's deflate stream stops short while its
  // output buffer is full (extension-permessage-deflate.c:351: collabd died with SIGABRT), so
  // collabd offers the extension only with --ws-deflate 1, and refuses RSV1 frames otherwise.
  const plain = await startServer();
  try {
    const s = await createSession(plain);
    const bomb = zlib.deflateRawSync(Buffer.alloc(4 << 20, 0x61), { level: 9 });
    for (let i = 0; i < 3; i++) {
      const r = await rawWs(plain, `/ws/${s.id}?userId=x`, 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n');
      assert.doesNotMatch(r.head, /permessage-deflate/i, 'not negotiated');
      r.send(frame({ rsv1: true, payload: bomb.subarray(0, bomb.length >> 1) }));
      assert.equal(await r.closeCode(), 1002, 'a compressed frame without the extension is a protocol error');
    }
    const c = await Client.open(plain, s.id, '', { perMessageDeflate: true });
    assert.equal(c.ws.extensions, '');
    await c.next('sync');
    c.send({ type: 'ping', ref: 'alive' });
    assert.equal((await c.next('pong')).ref, 'alive', 'the server still serves');
    await c.close();
  } finally { await plain.stop(); }
});

test('C8 permessage-deflate is negotiated when offered (--ws-deflate 1)', async () => {
  const s = await createSession(srv);
  const a = await Client.open(srv, s.id, '', { perMessageDeflate: true });
  assert.match(a.ws.extensions, /permessage-deflate/);
  const sync = await a.next('sync');
  assert.equal(sync.type, 'sync');
  a.send({ type: 'ping', ref: 'z' });
  assert.equal((await a.next('pong')).ref, 'z');
  // A compressed message that inflates to several KiB: lws 4.1.6 on libuv stalls on these
  // (server/ws/inflate.c); the answer must come at once, not after the next network event.
  const t0 = Date.now();
  a.send({ type: 'ping', ref: 'big', pad: 'abcdefgh'.repeat(480) });
  assert.equal((await a.next('pong', 2000)).ref, 'big');
  assert.ok(Date.now() - t0 < 500, `answered in ${Date.now() - t0} ms`);
  await a.close();
});

test('C8 batched output: small and large updates reach every reader whole and in order', async () => {
  // collabd frames small messages itself and sends a reader's backlog in one write; messages
  // over 16 KiB go through lws (compressed where negotiated). Mix both, for a reader that
  // negotiated permessage-deflate and a raw one whose backlog piles up while it is paused.
  const s2 = await startServer(['--ws-deflate', '1', '--max-message', '1m', '--rate-limit', '1000000', '--rate-burst', '1000000']);
  try {
    const s = await createSession(s2);
    const w = await Client.open(s2, s.id, '?userId=w');
    await w.next('sync');
    const z = await Client.open(s2, s.id, '?userId=z', { perMessageDeflate: true });
    await z.next('sync');
    const raw = await rawWs(s2, `/ws/${s.id}?userId=raw`);
    raw.sock.pause();
    const texts = [];
    let len = 0;
    for (let v = 0; v < 60; v++) {
      const text = v % 10 === 9 ? String.fromCharCode(65 + v / 10).repeat(40000) : 'x'.repeat(v + 1);
      w.send({ type: 'push', version: v, updates: [{ clientID: 'w', changes: len ? [len, [0, text]] : [[0, text]] }] });
      assert.equal((await w.next('update')).version, v + 1);
      texts.push(text);
      len += text.length;
    }
    for (let v = 0; v < 60; v++) {
      const u = await z.next('update');
      assert.equal(u.version, v + 1);
      assert.deepEqual(u.changes, v ? [texts.slice(0, v).join('').length, [0, texts[v]]] : [[0, texts[v]]]);
    }
    raw.sock.resume();
    let updates = [];
    for (let i = 0; i < 100 && updates.length < 60; i++) {
      await new Promise((r) => setTimeout(r, 50));
      updates = raw.frames().map((f) => JSON.parse(f.payload)).filter((m) => m.type === 'update');
    }
    assert.deepEqual(updates.map((u) => u.version), texts.map((_, v) => v + 1));
    assert.deepEqual(updates.map((u) => u.changes.at(-1)[1]), texts);
    assert.ok(raw.frames().every((f) => f.opcode === 1), 'every frame a whole text frame');
    raw.sock.destroy();
    await w.close();
    await z.close();
  } finally { await s2.stop(); }
});

test('C8 a large message that does not compress into one buffer reaches a deflate reader whole', async () => {
  // lws's permessage-deflate compresses such a message over several writable events, reading
  // the payload collabd handed to lws_write() each time: collabd must keep it until lws is done
  // (it freed it at once: the server died with SIGSEGV in deflate(), or sent freed bytes), and
  // write nothing else meanwhile. Random text: about 490 KB that compress to some 370 KB.
  const s2 = await startServer(['--ws-deflate', '1', '--max-message', '4m', '--max-doc', '64m']);
  try {
    const s = await createSession(s2);
    const z = await Client.open(s2, s.id, '?userId=z', { perMessageDeflate: true });
    assert.match(z.ws.extensions, /permessage-deflate/, 'the deflate path is the one under test');
    await z.next('sync');
    const w = await Client.open(s2, s.id, '?userId=w', { perMessageDeflate: false });
    await w.next('sync');
    const lines = Array.from({ length: 12000 }, () => crypto.randomBytes(30).toString('base64'));
    w.send({ type: 'push', version: 0, updates: [{ clientID: 'w', changes: [[0, ...lines]] }] });
    w.send({ type: 'push', version: 1, updates: [{ clientID: 'w', changes: [lines.join('\n').length, [0, 'tail']] }] });
    const big = await z.next('update', 15000);
    assert.deepEqual(big.changes, [[0, ...lines]]);
    assert.equal((await z.next('update', 15000)).changes[1][1], 'tail', 'and the small one after it');
    z.send({ type: 'ping', ref: 'after' });
    assert.equal((await z.next('pong')).ref, 'after');
    await w.close(); await z.close();
  } finally { await s2.stop(); }
});

test('C8 a client that stops answering pings is reaped after the idle timeout', async () => {
  const s2 = await startServer(['--ping-interval', '1', '--idle-timeout', '2']);
  try {
    const s = await createSession(s2);
    const dead = await rawWs(s2, `/ws/${s.id}?userId=dead`);
    dead.sock.pause(); // reads nothing, so it never answers a ping
    const live = await Client.open(s2, s.id, '?userId=live'); // ws answers pings itself
    await live.next('sync');
    const t0 = Date.now();
    const left = await live.next('user_left', 8000);
    assert.equal(left.userId, 'dead');
    assert.ok(Date.now() - t0 < 6000, `reaped in ${Date.now() - t0} ms`);
    live.send({ type: 'ping' });
    await live.next('pong'); // the answering client stays
    dead.sock.destroy();
    await live.close();
  } finally { await s2.stop(); }
});
