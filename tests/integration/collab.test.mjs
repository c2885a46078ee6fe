// The collaboration protocol through the real server (C2-C7, C10): push -> update to everyone,
// stale pushes rebased, duplicates dropped, read-only refused, pull, resume by version,
// resync past the history, reject mode, presence mapped through edits, rate limit, size cap,
// and JavaScript strings (lone surrogates included) kept exactly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, createSession, Client } from './lib/server.mjs';
import { expectMessage } from './lib/schema.mjs';

let srv;
before(async () => { srv = await startServer(['--history-max', '5', '--max-doc', '2000']); });
after(async () => { await srv.stop(); });

async function pair(q1 = '?userId=a', q2 = '?userId=b') {
  const s = await createSession(srv);
  const a = await Client.open(srv, s.id, q1);
  await a.next('sync');
  const b = await Client.open(srv, s.id, q2);
  await b.next('sync');
  await a.next('user_joined');
  return { s, a, b };
}

test('C2 push is applied and every participant, sender included, gets the update', async () => {
  const { s, a, b } = await pair();
  a.send({ type: 'push', version: 0, updates: [{ clientID: 'ca', changes: [[0, 'print(1)', '']] }] });
  for (const c of [a, b]) {
    const u = await c.next('update');
    expectMessage('server', u);
    assert.deepEqual(u, { type: 'update', version: 1, clientID: 'ca', changes: [[0, 'print(1)', '']] });
  }
  const info = (await api(srv, 'GET', `/sessions/${s.id}`)).json;
  assert.equal(info.version, 1);
  assert.equal(info.size, 9);
  assert.equal(info.lines, 2);
  assert.ok(info.memory.bytes > 0 && info.memory.historyEntries === 1);
  const c = await Client.open(srv, s.id, '?userId=c');
  const sync = await c.next('sync');
  assert.equal(sync.doc, 'print(1)\n');
  assert.equal(sync.version, 1);
  await Promise.all([a.close(), b.close(), c.close()]);
});

test('C3 a stale push is rebased over the newer update; a repeated push is dropped', async () => {
  const { a, b } = await pair();
  a.send({ type: 'push', version: 0, updates: [{ clientID: 'ca', changes: [[0, 'AA']] }] });
  await b.next('update');
  await a.next('update');
  b.send({ type: 'push', version: 0, updates: [{ clientID: 'cb', changes: [[0, 'B']] }] }); // made at v0
  const u = await a.next((m) => m.type === 'update' && m.clientID === 'cb');
  assert.equal(u.version, 2);
  assert.deepEqual(u.changes, [2, [0, 'B']], 'mapped over AA: the earlier-accepted insert stays first, as in @codemirror/collab');
  // a re-push of an accepted update (lost confirmation) must not apply twice
  a.send({ type: 'push', version: 0, updates: [{ clientID: 'ca', changes: [[0, 'AA']] }] });
  a.send({ type: 'ping', ref: 'after' });
  await a.next('pong');
  assert.equal(a.messages.filter((m) => m.type === 'update').length, 0);
  await Promise.all([a.close(), b.close()]);
});

test('C2 bad pushes are refused with precise errors and change nothing', async () => {
  const { s, a, b } = await pair();
  const cases = [
    [{ type: 'push', version: 0, updates: [{ clientID: 'x', changes: [5] }] }, 'bad_changes'],
    [{ type: 'push', version: 0, updates: [{ clientID: 'x', changes: [[-1, 'a']] }] }, 'bad_changes'],
    [{ type: 'push', version: 0, updates: [{ clientID: 'x', changes: [[0, 'a\nb']] }] }, 'bad_changes'],
    [{ type: 'push', version: 0, updates: [{ clientID: 'x', changes: [1.5] }] }, 'bad_changes'],
    [{ type: 'push', version: 0, updates: [{ clientID: '', changes: [[0, 'a']] }] }, 'bad_changes'],
    [{ type: 'push', version: 7, updates: [{ clientID: 'x', changes: [[0, 'a']] }] }, 'bad_version'],
    [{ type: 'push', version: -1, updates: [] }, 'bad_message'],
    [{ type: 'push', version: 0, updates: [] }, 'bad_message'],
    [{ type: 'push', version: 0 }, 'bad_message'],
    [{ type: 'pull', version: 99 }, 'bad_version'],
    [{ type: 'cursor', ranges: [{ anchor: 5, head: 5 }] }, 'bad_cursor'],
    [{ type: 'cursor', ranges: [] }, 'bad_message'],
  ];
  for (const [msg, code] of cases) {
    a.send({ ...msg, ref: code });
    const e = await a.next('error');
    expectMessage('server', e);
    assert.equal(e.code, code, JSON.stringify(msg));
    assert.equal(e.ref, code);
  }
  assert.equal((await api(srv, 'GET', `/sessions/${s.id}`)).json.version, 0);
  assert.equal(b.messages.filter((m) => m.type === 'update').length, 0);
  await Promise.all([a.close(), b.close()]);
});

test('C10 a read-only participant receives everything and may not push', async () => {
  const s = await createSession(srv);
  const w = await Client.open(srv, s.id, '?userId=w');
  await w.next('sync');
  const v = await Client.open(srv, s.id, `?userId=v&view=${s.viewToken}`);
  await v.next('sync');
  v.send({ type: 'push', version: 0, updates: [{ clientID: 'w-spoof', changes: [[0, 'x']] }] });
  assert.equal((await v.next('error')).code, 'read_only');
  w.send({ type: 'push', version: 0, updates: [{ clientID: 'cw', changes: [[0, 'hi']] }] });
  assert.equal((await v.next('update')).clientID, 'cw');
  await Promise.all([w.close(), v.close()]);
});

test('C4 pull and reconnect with ?version get only the missed updates; too old gets the document', async () => {
  const { s, a, b } = await pair();
  for (let i = 0; i < 3; i++) {
    a.send({ type: 'push', version: i, updates: [{ clientID: 'ca', changes: i ? [i, [0, String(i)]] : [[0, '0']] }] });
    await a.next('update');
  }
  b.send({ type: 'pull', version: 1, ref: 'p' });
  const ups = await b.next('updates');
  expectMessage('server', ups);
  assert.equal(ups.version, 1);
  assert.equal(ups.updates.length, 2);
  assert.deepEqual(ups.updates.map((u) => u.clientID), ['ca', 'ca']);
  const r = await Client.open(srv, s.id, '?userId=r&version=2');
  const sync = await r.next('sync');
  assert.equal(sync.resumed, true);
  assert.equal(sync.version, 2);
  assert.equal(sync.doc, undefined, 'no document on resume');
  const missed = await r.next('updates');
  assert.equal(missed.version, 2);
  assert.equal(missed.updates.length, 1);
  // history is 5 long: after 6 more updates, version 2 is gone
  for (let i = 3; i < 9; i++) {
    a.send({ type: 'push', version: i, updates: [{ clientID: 'ca', changes: [i, [0, 'x']] }] });
    await a.next('update');
  }
  const old = await Client.open(srv, s.id, '?userId=o&version=2');
  const full = await old.next('sync');
  assert.equal(full.resumed, false);
  assert.equal(full.version, 9);
  assert.equal(full.doc, '012xxxxxx');
  b.send({ type: 'push', version: 1, updates: [{ clientID: 'cb', changes: [1, [0, 'y']] }] });
  assert.equal((await b.next('error')).code, 'resync');
  b.send({ type: 'pull', version: 1 });
  assert.equal((await b.next('sync')).doc, '012xxxxxx', 'a pull past the history gets the whole document');
  await Promise.all([a.close(), b.close(), r.close(), old.close()]);
});

test('C5 cursors reach the others with name and colour, mapped through edits, and new joiners see them', async () => {
  const { s, a, b } = await pair('?userId=a&userName=Ada', '?userId=b&userName=Bob');
  a.send({ type: 'push', version: 0, updates: [{ clientID: 'ca', changes: [[0, 'hello world']] }] });
  await a.next('update'); await b.next('update');
  b.send({ type: 'cursor', version: 1, ranges: [{ anchor: 6, head: 11 }], main: 0 });
  const cur = await a.next('cursor');
  expectMessage('server', cur);
  assert.equal(cur.userName, 'Bob');
  assert.deepEqual(cur.ranges, [{ anchor: 6, head: 11 }]);
  // a cursor sent at an old version is mapped to the current one
  a.send({ type: 'push', version: 1, updates: [{ clientID: 'ca', changes: [[0, '>> '], 11] }] });
  await a.next('update'); await b.next('update');
  b.send({ type: 'cursor', version: 1, ranges: [{ anchor: 2, head: 2 }] });
  assert.deepEqual((await a.next('cursor')).ranges, [{ anchor: 5, head: 5 }]);
  const c = await Client.open(srv, s.id, '?userId=c');
  const sync = await c.next('sync');
  const bob = sync.users.find((u) => u.userId === 'b');
  assert.deepEqual(bob.cursor.ranges, [{ anchor: 5, head: 5 }]);
  // cursors are presence, not history
  assert.equal((await api(srv, 'GET', `/sessions/${s.id}`)).json.version, 2);
  await Promise.all([a.close(), b.close(), c.close()]);
});

test('C5 cursors are coalesced for a reader that fell behind; updates never are', async () => {
  const s2 = await startServer(['--max-message', '1m', '--max-doc', '64m', '--send-queue-max', '64m']);
  try {
    const s = await createSession(s2);
    const w = await Client.open(s2, s.id, '?userId=w');
    await w.next('sync');
    const b = await Client.open(s2, s.id, '?userId=b');
    await b.next('sync');
    const r = await Client.open(s2, s.id, '?userId=r', { perMessageDeflate: false });
    await r.next('sync');
    r.ws.pause(); // reads nothing: the kernel buffers fill, then collabd's queue holds the rest
    const big = (v) => String.fromCharCode(97 + (v % 26)).repeat(500000);
    for (let v = 0; v < 40; v++) {
      w.send({ type: 'push', version: v, updates: [{ clientID: 'w', changes: v ? [[500000, big(v)]] : [[0, big(v)]] }] });
      await w.next('update');
    }
    for (let i = 0; i < 30; i++) b.send({ type: 'cursor', version: 40, ranges: [{ anchor: i, head: i }] });
    b.send({ type: 'ping', ref: 'after' }); // handled after every cursor
    await b.next('pong');
    const health = (await api(s2, 'GET', '/health')).json;
    assert.ok(health.counts.presenceCoalesced >= 29, `coalesced ${health.counts.presenceCoalesced}`);
    r.ws.resume();
    const cur = await r.next('cursor', 20000);
    assert.deepEqual(cur.ranges, [{ anchor: 29, head: 29 }], 'the latest cursor, once');
    const updates = r.messages.filter((m) => m.type === 'update');
    assert.deepEqual(updates.map((u) => u.version), Array.from({ length: 40 }, (_, v) => v + 1));
    assert.equal(r.messages.filter((m) => m.type === 'cursor').length, 0);
    await Promise.all([w.close(), b.close(), r.close()]);
  } finally { await s2.stop(); }
});

test('C6 a push of more updates than --history-max is broadcast whole (the history trims later)', async () => {
  const s2 = await startServer(['--history-max', '2']);
  try {
    const s = await createSession(s2);
    const a = await Client.open(s2, s.id, '?userId=a');
    await a.next('sync');
    const updates = ['1', '2', '3', '4', '5'].map((t, i) => ({ clientID: 'ca', changes: i ? [i, [0, t]] : [[0, t]] }));
    a.send({ type: 'push', version: 0, updates });
    for (let v = 1; v <= 5; v++) assert.equal((await a.next('update')).version, v);
    a.send({ type: 'push', version: 5, updates: [{ clientID: 'ca', changes: [5, [0, '6']] }] });
    assert.equal((await a.next('update')).version, 6);
    const info = (await api(s2, 'GET', `/sessions/${s.id}`)).json;
    assert.equal(info.memory.historyEntries, 2);
    assert.equal((await api(s2, 'GET', `/sessions/${s.id}/document`)).text, '123456');
    await a.close();
  } finally { await s2.stop(); }
});

test('C6 document size cap', async () => {
  const { a, b } = await pair();
  a.send({ type: 'push', version: 0, updates: [{ clientID: 'ca', changes: [[0, 'x'.repeat(2001)]] }] });
  const e = await a.next('error');
  assert.equal(e.code, 'doc_too_large');
  await Promise.all([a.close(), b.close()]);
});

test('any JavaScript string round-trips: lone surrogates, astral characters, NUL, controls', async () => {
  const { s, a, b } = await pair();
  const text = 'a\ud83d b\ude00 😀 \u0000 \u001f \u2028 é';
  const raw = JSON.stringify({ type: 'push', version: 0, updates: [{ clientID: 'ca', changes: [[0, text]] }] });
  a.send(raw);
  await a.next('update');
  const u = await b.next('update');
  assert.equal(u.changes[0][1], text);
  const c = await Client.open(srv, s.id);
  assert.equal((await c.next('sync')).doc, text);
  // delete half of the emoji: the server splits the pair exactly as JavaScript would
  const at = text.indexOf('😀') + 1;
  a.send({ type: 'push', version: 1, updates: [{ clientID: 'ca', changes: [at, [1], text.length - at - 1] }] });
  await a.next('update');
  const d = await Client.open(srv, s.id);
  assert.equal((await d.next('sync')).doc, text.slice(0, at) + text.slice(at + 1));
  await Promise.all([a.close(), b.close(), c.close(), d.close()]);
});

test('C7 rate limit: over the burst the messages are refused, and a flood is closed with 4003', async () => {
  const s2 = await startServer(['--rate-limit', '20', '--rate-burst', '20']);
  try {
    const s = await createSession(s2);
    const a = await Client.open(s2, s.id);
    await a.next('sync');
    for (let i = 0; i < 60; i++) a.send({ type: 'ping', ref: i });
    const e = await a.next('error');
    assert.equal(e.code, 'rate_limited');
    const pongs = a.messages.filter((m) => m.type === 'pong').length;
    assert.ok(pongs <= 21, `at most the burst is served (${pongs})`);
    for (let i = 0; i < 300; i++) a.send({ type: 'ping' });
    assert.equal((await a.closed).code, 4003);
    const b = await Client.open(s2, s.id); // others are unaffected
    await b.next('sync');
    await b.close();
  } finally { await s2.stop(); }
});

test('reject mode: a stale push is refused with "stale"; the client pulls and retries', async () => {
  const s2 = await startServer(['--collab-mode', 'reject']);
  try {
    const s = await createSession(s2);
    const a = await Client.open(s2, s.id); await a.next('sync');
    const b = await Client.open(s2, s.id); await b.next('sync');
    a.send({ type: 'push', version: 0, updates: [{ clientID: 'ca', changes: [[0, 'A']] }] });
    await b.next('update');
    b.send({ type: 'push', version: 0, updates: [{ clientID: 'cb', changes: [[0, 'B']] }] });
    assert.equal((await b.next('error')).code, 'stale');
    b.send({ type: 'push', version: 1, updates: [{ clientID: 'cb', changes: [1, [0, 'B']] }] });
    assert.equal((await b.next('update')).version, 2);
    await Promise.all([a.close(), b.close()]);
  } finally { await s2.stop(); }
});

test('C6 a session created from text over --max-doc is refused with 413', async () => {
  const r = await api(srv, 'POST', '/sessions', { body: { content: 'z'.repeat(2001) } });
  assert.equal(r.status, 413);
  assert.equal(r.json.error.code, 'doc_too_large');
});
