// D3 with a real redis-server: several collabd instances share rooms through one Redis. Each
// accepted update is published on the room's channel and relayed by every other instance to its
// own clients, in version order, once each; sessions created or deleted on one instance appear
// or go on the others; an instance killed with SIGKILL, Redis restarted, or a subscriber
// connection cut lose nothing that was acknowledged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, createSession, Client } from './lib/server.mjs';
import { startRedis, waitHealth, startOn, document } from './lib/redis.mjs';
import { Editor, mulberry32, settle } from './lib/cmclient.mjs';
import { expectRest } from './lib/schema.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fast = ['--rate-limit', '100000', '--rate-burst', '100000', '--history-max', '20000'];

async function withRedis(opts, fn) {
  const redis = await startRedis(opts);
  const servers = [];
  try {
    await fn(redis, servers);
  } finally {
    for (const s of servers) { // a killed instance has exited already
      const alive = s.proc.exitCode === null && s.proc.signalCode === null;
      await s.stop(alive ? {} : { expectCode: null });
    }
    await redis.stop();
    redis.cleanup();
  }
}

// The document an instance holds, as the exact JavaScript string of a sync (lone surrogates kept)
async function held(srv, id) {
  const c = await Client.open(srv, id, '?userId=checker');
  const { doc, version } = await c.next('sync');
  await c.close();
  return { doc, version };
}

async function until(what, fn, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
}

// Two instances on redis, a session created on the first and known to the second, and one
// client on each, synced.
async function pairOn(redis, srvs, { extra = [], body } = {}) {
  srvs.push(await startOn(redis, extra), await startOn(redis, extra));
  const [a, b] = srvs;
  const s = await createSession(a, body);
  await until('on b', async () => (await api(b, 'GET', `/sessions/${s.id}`)).status === 200);
  const ca = await Client.open(a, s.id, '?userId=a');
  const cb = await Client.open(b, s.id, '?userId=b');
  await ca.next('sync'); await cb.next('sync');
  return { a, b, s, ca, cb };
}

// Every editor online (reconnected onto pick()), nothing pending, all at the stored version.
async function settled(eds, srvs, sessionId, pick) {
  const { info, settled: ok } = await settle(eds, srvs[0], sessionId, { pick });
  assert.ok(ok, `settled in time: versions ${eds.map((e) => e.synced())}, stored ${info.version}`);
  return info;
}

for (const n of [2, 3]) {
  test(`${n} instances on one Redis: 6 CodeMirror editors spread over them converge, every edit accepted once`, async () => {
    await withRedis({}, async (redis, srvs) => {
      for (let i = 0; i < n; i++) srvs.push(await startOn(redis, fast));
      const rng = mulberry32(n);
      const pick = () => srvs[Math.floor(rng() * srvs.length)];
      const s = await createSession(srvs[0]);
      for (const srv of srvs) await until('the session is on every instance', async () => (await api(srv, 'GET', `/sessions/${s.id}`)).status === 200);
      const eds = Array.from({ length: 6 }, (_, i) => new Editor(srvs[i % n], s.id, { clientID: `n${n}e${i}`, rng: mulberry32(n * 100 + i), maxLatency: 10 }));
      await Promise.all(eds.map((e) => e.connect()));
      const edits = 6 * 60;
      for (let k = 0; k < edits; k++) {
        const e = eds[Math.floor(rng() * eds.length)];
        e.edit();
        // now and then an editor drops and comes back on another instance
        if (rng() < 0.02 && e.online) { e.disconnect(); setTimeout(() => { e.srv = pick(); e.connect().catch((err) => e.errors.push(String(err))); }, 30); }
        if (rng() > 0.8) await sleep(1);
      }
      const info = await settled(eds, srvs, s.id, pick);
      assert.deepEqual(eds.flatMap((e) => e.errors), []);
      assert.equal(info.version, edits, 'each edit accepted exactly once');
      assert.deepEqual(eds.map((e) => e.duplicates), eds.map(() => 0), 'no update delivered twice');
      const text = eds[0].text();
      for (const e of eds) assert.equal(e.text(), text);
      for (const srv of srvs) assert.deepEqual(await held(srv, s.id), { doc: text, version: edits }, 'every instance holds the document');
      for (const srv of srvs) {
        const h = await api(srv, 'GET', '/health');
        expectRest('Health', h.json);
        assert.ok(h.json.counts.updatesRelayed > 0, 'each instance relayed updates committed elsewhere');
      }
      eds.forEach((e) => e.disconnect());
    });
  });
}

test('sessions created and deleted on one instance appear and go on the others', async () => {
  await withRedis({}, async (redis, srvs) => {
    srvs.push(await startOn(redis), await startOn(redis));
    const [a, b] = srvs;
    const s = await createSession(a, { language: 'python', content: 'print(1)\n' });
    const got = await until('created on a, readable on b', async () => {
      const r = await api(b, 'GET', `/sessions/${s.id}`);
      return r.status === 200 && r.json;
    });
    assert.equal(got.language, 'python');
    assert.deepEqual((await api(b, 'GET', '/sessions')).json.sessions.map((x) => x.id), [s.id]);
    const onA = await Client.open(a, s.id, '?userId=x');
    const onB = await Client.open(b, s.id, '?userId=y');
    assert.equal((await onA.next('sync')).doc, 'print(1)\n');
    assert.equal((await onB.next('sync')).doc, 'print(1)\n');
    onB.send({ type: 'push', version: 0, updates: [{ clientID: 'cy', changes: [9, [0, 'x = 2', '']] }] });
    const ua = await onA.next('update');
    assert.deepEqual([ua.version, ua.clientID], [1, 'cy'], 'a push on b reaches a client of a');
    assert.equal((await onB.next('update')).version, 1, 'and is confirmed on b');
    assert.equal((await api(a, 'DELETE', `/sessions/${s.id}`)).status, 204);
    assert.equal((await onB.closed).code, 4000, 'b closes its clients of the deleted session');
    assert.equal((await onA.closed).code, 4000);
    await until('gone on b', async () => (await api(b, 'GET', `/sessions/${s.id}`)).status === 404);
    assert.deepEqual((await api(b, 'GET', '/sessions')).json.sessions, []);
  });
});

test('an instance killed with SIGKILL: its editors resume on another, nothing acknowledged lost', async () => {
  await withRedis({}, async (redis, srvs) => {
    srvs.push(await startOn(redis, fast), await startOn(redis, fast));
    const rng = mulberry32(7);
    const s = await createSession(srvs[0]);
    await until('on b', async () => (await api(srvs[1], 'GET', `/sessions/${s.id}`)).status === 200);
    const eds = Array.from({ length: 4 }, (_, i) => new Editor(srvs[i % 2], s.id, { clientID: `k${i}`, rng: mulberry32(70 + i), maxLatency: 5 }));
    await Promise.all(eds.map((e) => e.connect()));
    for (let k = 0; k < 200; k++) { eds[Math.floor(rng() * 4)].edit(); if (rng() > 0.7) await sleep(1); }
    const victim = srvs[0];
    victim.proc.kill('SIGKILL');
    await victim.exited;
    srvs[0] = await startOn(redis, fast); // a replacement comes up meanwhile
    for (let k = 0; k < 200; k++) { eds[Math.floor(rng() * 4)].edit(); if (rng() > 0.7) await sleep(1); }
    for (const e of eds) e.errors = e.errors.filter((x) => x !== 'closed 1006'); // the killed instance's sockets
    const info = await settled(eds, srvs, s.id, () => srvs[Math.floor(rng() * 2)]);
    assert.deepEqual(eds.flatMap((e) => e.errors), []);
    assert.equal(info.version, 400, 'every edit typed, before and after the kill, accepted exactly once');
    const text = eds[0].text();
    for (const e of eds) assert.equal(e.text(), text);
    for (const srv of srvs) assert.equal((await held(srv, s.id)).doc, text);
    await victim.stop({ expectCode: null }); // its log directory
  });
});

test('Redis restarted under two instances: writes refused meanwhile, then both resume and re-sync', async () => {
  await withRedis({ aof: true }, async (redis, srvs) => {
    const { a, b, s, ca, cb } = await pairOn(redis, srvs, { body: { content: 'base\n' } });
    ca.send({ type: 'push', version: 0, updates: [{ clientID: 'ca', changes: [[0, 'one '], 5] }] });
    assert.equal((await ca.next('update')).version, 1);
    assert.equal((await cb.next('update')).version, 1);
    await redis.kill();
    await waitHealth(a, 'degraded'); await waitHealth(b, 'degraded');
    cb.send({ type: 'push', version: 1, updates: [{ clientID: 'cb', changes: [[0, 'lost? '], 9] }] });
    assert.equal((await cb.next('error')).code, 'store_unavailable');
    await redis.start();
    await waitHealth(a, 'ok'); await waitHealth(b, 'ok');
    cb.send({ type: 'push', version: 1, updates: [{ clientID: 'cb', changes: [[0, 'two '], 9] }] });
    const u = await ca.next('update');
    assert.deepEqual([u.version, u.clientID], [2, 'cb'], 'relaying works again after the restart');
    for (const srv of srvs) assert.deepEqual(await document(srv, s.id), { status: 200, text: 'two one base\n', version: 2 });
    await ca.close(); await cb.close();
  });
});

test('a cut subscriber connection: the instance reloads and relays what it missed, in order, without resetting its room', async () => {
  await withRedis({}, async (redis, srvs) => {
    const { b, s, ca, cb } = await pairOn(redis, srvs);
    // both subscribers go; pushes on a keep being accepted while they reconnect
    assert.ok(Number(redis.cli('CLIENT', 'KILL', 'TYPE', 'pubsub')) >= 2);
    let len = 0;
    for (let v = 0; v < 20; v++) {
      ca.send({ type: 'push', version: v, updates: [{ clientID: 'ca', changes: len ? [len, [0, `${v};`]] : [[0, `${v};`]] }] });
      assert.equal((await ca.next('update')).version, v + 1);
      len += String(v).length + 1;
      if (v % 5 === 0) await sleep(60);
    }
    const seen = [];
    while (seen.length < 20) seen.push((await cb.next('update', 10000)).version);
    assert.deepEqual(seen, Array.from({ length: 20 }, (_, i) => i + 1), 'every update reached b, in order, once');
    assert.equal(cb.ws.readyState, 1, 'b kept its client (no reset)');
    const want = Array.from({ length: 20 }, (_, i) => `${i};`).join('');
    assert.equal((await document(b, s.id)).text, want);
    await ca.close(); await cb.close();
  });
});

test('a session Redis expired (--redis-ttl) leaves every instance; one that is edited stays', async () => {
  await withRedis({}, async (redis, srvs) => {
    const { a, b, s, ca, cb } = await pairOn(redis, srvs, { extra: ['--redis-ttl', '4'] });
    const within = (p, what) => Promise.race([p, sleep(15000).then(() => { throw new Error(`timed out: ${what}`); })]);
    // a second session is edited every 300 ms: each commit renews its keys, so it stays
    const kept = await createSession(a, { content: '' });
    await until('kept on b', async () => (await api(b, 'GET', `/sessions/${kept.id}`)).status === 200);
    const ck = await Client.open(b, kept.id, '?userId=k');
    await ck.next('sync');
    let v = 0;
    const typing = setInterval(() => { ck.send({ type: 'push', version: v, updates: [{ clientID: 'ck', changes: v ? [v, [0, 'k']] : [[0, 'k']] }] }); v++; }, 300);
    try {
      // s is not edited: Redis expires it after 4 s, and both instances drop it
      assert.equal((await within(cb.closed, 'b drops the expired session')).code, 4000, 'b closes its clients of the expired session');
      assert.equal((await within(ca.closed, 'a drops it')).code, 4000);
      for (const srv of [a, b]) {
        assert.equal((await api(srv, 'GET', `/sessions/${s.id}`)).status, 404);
        assert.deepEqual((await api(srv, 'GET', '/sessions')).json.sessions.map((x) => x.id), [kept.id]);
      }
      assert.equal(redis.cli('ZSCORE', 'collabd:sessions', s.id), '', 'and the session list in Redis forgets it');
    } finally { clearInterval(typing); }
    assert.ok(v >= 6, `kept was edited (${v} pushes)`);
    assert.equal(ck.messages.filter((m) => m.type === 'error').length, 0, 'every edit of kept accepted');
    for (const srv of [a, b]) assert.equal((await api(srv, 'GET', `/sessions/${kept.id}`)).status, 200, 'the edited session stays');
    await ck.close();
  });
});

test('a session deleted while an instance was not listening leaves it once it has reloaded', async () => {
  await withRedis({}, async (redis, srvs) => {
    // the default --redis-ttl (7 days): only the check after the reload can find it
    const { a, b } = await pairOn(redis, srvs);
    const kept = await createSession(a);
    // deleted on a while b's subscriber is away (it reconnects after 100 ms): b never hears the
    // deletion
    const gone = await createSession(a);
    await until('gone on b', async () => (await api(b, 'GET', `/sessions/${gone.id}`)).status === 200);
    assert.ok(Number(redis.cli('CLIENT', 'KILL', 'TYPE', 'pubsub')) >= 2);
    assert.equal((await api(a, 'DELETE', `/sessions/${gone.id}`)).status, 204);
    await until('deleted unheard, dropped by b', async () => (await api(b, 'GET', `/sessions/${gone.id}`)).status === 404);
    assert.equal((await api(b, 'GET', `/sessions/${kept.id}`)).status, 200);
  });
});

test('a push of more updates than --history-max reaches the other instance whole, in order', async () => {
  await withRedis({}, async (redis, srvs) => {
    const { b, s, ca, cb } = await pairOn(redis, srvs, { extra: ['--history-max', '2'] });
    const updates = ['1', '2', '3', '4', '5'].map((t, i) => ({ clientID: 'ca', changes: i ? [i, [0, t]] : [[0, t]] }));
    ca.send({ type: 'push', version: 0, updates });
    const seen = [];
    while (seen.length < 5) { const u = await cb.next('update'); seen.push([u.version, u.changes]); }
    assert.deepEqual(seen, updates.map((u, i) => [i + 1, u.changes]));
    assert.equal((await held(b, s.id)).doc, '12345');
    await ca.close(); await cb.close();
  });
});
