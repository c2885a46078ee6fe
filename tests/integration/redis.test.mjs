// D2/D4 with a real redis-server (Debian's) on a free loopback port: sessions and documents
// survive a restart of collabd byte for byte; pushes through Redis converge; Redis down at
// start (health degraded, writes refused with store_unavailable, then recovered by itself);
// Redis killed mid-session (pushes refused with the retryable error, nothing acknowledged
// lost once it is back); the key layout an operator sees with redis-cli.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, api, createSession, Client } from './lib/server.mjs';
import { Redis, startRedis, freePort, redisBin, waitHealth, startOn, document } from './lib/redis.mjs';
import { Editor, mulberry32, settle } from './lib/cmclient.mjs';
import { expectRest, expectMessage } from './lib/schema.mjs';
import { frame, rawWs } from './lib/rawws.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function syncOf(srv, id, q = '') {
  const c = await Client.open(srv, id, `?userId=checker${q}`);
  const s = await c.next('sync');
  const rest = [];
  if (s.resumed) for (;;) { const m = await c.next(() => true, 500).catch(() => null); if (!m) break; rest.push(m); }
  await c.close();
  return { sync: s, rest };
}

test('restart: sessions, documents, versions and history come back from Redis', async () => {
  const redis = await startRedis();
  try {
    let srv = await startOn(redis, ['--history-max', '3']);
    const content = 'a\ud800b 😀\n\u0000end'; // a lone surrogate, an astral character, NUL
    const s1 = await createSession(srv, { language: 'javascript', content });
    const s2 = await createSession(srv);
    const a = await Client.open(srv, s1.id, '?userId=a');
    await a.next('sync');
    let len = content.length;
    for (let v = 0; v < 8; v++) { // 8 updates with --history-max 3: the log is folded into the snapshot
      a.send({ type: 'push', version: v, updates: [{ clientID: 'ca', changes: [[0, `x${v}\ud83d`], len] }] });
      len += 3;
      const u = await a.next('update');
      assert.equal(u.version, v + 1);
    }
    await a.close();
    const before = await document(srv, s1.id);
    const syncBefore = (await syncOf(srv, s1.id)).sync;
    const list = (await api(srv, 'GET', '/sessions')).json;
    await srv.stop();

    srv = await startOn(redis, ['--history-max', '3']);
    const after = await document(srv, s1.id);
    assert.deepEqual(after, before);
    assert.equal(after.version, 8);
    const syncAfter = (await syncOf(srv, s1.id)).sync;
    assert.equal(syncAfter.doc, syncBefore.doc); // the exact JavaScript string, lone surrogates kept
    assert.equal(syncAfter.version, 8);
    assert.equal(syncAfter.session.language, 'javascript');
    const list2 = (await api(srv, 'GET', '/sessions')).json;
    assert.deepEqual(list2.sessions.map((x) => [x.id, x.createdAt, x.version]), list.sessions.map((x) => [x.id, x.createdAt, x.version]));
    assert.deepEqual(list2.sessions.map((x) => x.id), [s1.id, s2.id]);
    // a client that was at version 6 resumes with the two updates it missed
    const { sync, rest } = await syncOf(srv, s1.id, '&version=6');
    assert.equal(sync.resumed, true);
    assert.deepEqual(rest.flatMap((m) => m.updates || []).map((u) => u.clientID), ['ca', 'ca']);
    // pushing continues from the stored version (EVALSHA falls back to EVAL after a flush)
    redis.cli('SCRIPT', 'FLUSH');
    const b = await Client.open(srv, s1.id, '?userId=b');
    await b.next('sync');
    b.send({ type: 'push', version: 8, updates: [{ clientID: 'cb', changes: [[0, '!'], len] }] });
    assert.equal((await b.next('update')).version, 9);
    await b.close();
    // the key layout documented in README.md
    assert.equal(redis.cli('HGET', `collabd:session:{${s1.id}}`, 'language'), 'javascript');
    assert.equal(redis.cli('HGET', `collabd:doc:{${s1.id}}`, 'version'), '9');
    assert.ok(Number(redis.cli('LLEN', `collabd:log:{${s1.id}}`)) <= 6, 'the log stays bounded');
    assert.equal(redis.cli('ZSCORE', 'collabd:sessions', s2.id), '2');
    // delete is durable too
    assert.equal((await api(srv, 'DELETE', `/sessions/${s2.id}`)).status, 204);
    assert.equal(redis.cli('EXISTS', `collabd:session:{${s2.id}}`), '0');
    await srv.stop();
    srv = await startOn(redis);
    assert.equal((await api(srv, 'GET', `/sessions/${s2.id}`)).status, 404);
    assert.equal((await document(srv, s1.id)).version, 9);
    await srv.stop();
  } finally {
    await redis.stop();
    redis.cleanup();
  }
});

test('pushes through Redis converge: 6 CodeMirror editors with latency and reconnects, then a restart', async () => {
  const redis = await startRedis();
  let srv = await startOn(redis, ['--rate-limit', '100000', '--rate-burst', '100000', '--history-max', '20000']);
  try {
    for (const seed of [1, 2, 3]) {
      const rng = mulberry32(seed);
      const s = await createSession(srv);
      const eds = Array.from({ length: 6 }, (_, i) => new Editor(srv, s.id, { clientID: `r${seed}e${i}`, rng: mulberry32(seed * 100 + i), maxLatency: 10 }));
      await Promise.all(eds.map((e) => e.connect()));
      for (let k = 0; k < 6 * 60; k++) {
        const e = eds[Math.floor(rng() * eds.length)];
        e.edit();
        if (rng() < 0.01 && e.online) { e.disconnect(); setTimeout(() => e.connect().catch((err) => e.errors.push(String(err))), 30); }
        if (rng() > 0.8) await sleep(1);
      }
      const { info, settled } = await settle(eds, srv, s.id);
      assert.ok(settled, 'settled in time');
      assert.deepEqual(eds.flatMap((e) => e.errors), []);
      assert.equal(info.version, 6 * 60, 'each edit accepted exactly once');
      const text = eds[0].text();
      for (const e of eds) assert.equal(e.text(), text);
      eds.forEach((e) => e.disconnect());
      await srv.stop();
      srv = await startOn(redis, ['--rate-limit', '100000', '--rate-burst', '100000', '--history-max', '20000']);
      assert.equal((await syncOf(srv, s.id)).sync.doc, text, `seed ${seed}: the stored document`);
    }
  } finally {
    await srv.stop();
    await redis.stop();
    redis.cleanup();
  }
});

test('pushes that wait behind a commit go to Redis as one commit: each accepted once, in order; one that no longer fits is refused alone', async () => {
  const redis = await startRedis();
  let srv = await startOn(redis, ['--max-doc', '1024']);
  try {
    const s = await createSession(srv, { content: 'base\n' });
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    const cs = {};
    for (const n of names) {
      cs[n] = await Client.open(srv, s.id, `?userId=${n}`);
      await cs[n].next('sync');
    }
    const before = redis.scriptCalls();
    // Redis holds every script for 500 ms: a's commit is in flight, the others queue behind it.
    redis.cli('CLIENT', 'PAUSE', '500', 'WRITE');
    const push = (n, text, ref) => cs[n].send({ type: 'push', version: 0, ref, updates: [{ clientID: `c${n}`, changes: [[0, text], 5] }] });
    push('a', 'a ');
    await sleep(60);
    push('b', 'b ');
    push('c', 'c ');
    push('d', 'd ');
    push('e', 'e'.repeat(1015), 'big'); // fits the document alone (1,020 units), not after a-d (1,028)
    push('f', 'f ');
    push('f', 'f '); // the same update again (a client re-pushing): accepted once
    await sleep(60);
    const refusal = await cs.e.next('error', 5000);
    assert.equal(refusal.code, 'doc_too_large');
    assert.equal(refusal.ref, 'big');
    for (const n of names) {
      const got = [];
      while (got.length < 5) got.push(await cs[n].next('update', 5000));
      assert.deepEqual(got.map((u) => u.version), [1, 2, 3, 4, 5], `${n} sees versions in order`);
      assert.deepEqual(got.map((u) => u.clientID).sort(), ['ca', 'cb', 'cc', 'cd', 'cf'], `${n} sees every accepted push once`);
    }
    await sleep(100);
    for (const n of names) assert.equal(cs[n].messages.filter((m) => m.type === 'update').length, 0, `${n}: no update twice`);
    const n = redis.scriptCalls() - before;
    assert.ok(n >= 2 && n <= 3, `a's commit, then b, c, d and f in one (one at a time: 5 commits); ${n} scripts ran`);
    const doc = await document(srv, s.id);
    assert.equal(doc.version, 5);
    assert.equal(doc.text.length, 15);
    for (const t of ['a ', 'b ', 'c ', 'd ', 'f ']) assert.equal(doc.text.split(t).length, 2, `${t} once in ${JSON.stringify(doc.text)}`);
    assert.ok(doc.text.endsWith('base\n'));
    for (const c of Object.values(cs)) await c.close();
    await srv.stop();
    srv = await startOn(redis); // what Redis holds is what the clients saw
    assert.deepEqual(await document(srv, s.id), doc);
  } finally {
    await srv.stop();
    await redis.stop();
    redis.cleanup();
  }
});

test('a batch of pushes from several clients that loses the race is made again per push: an update another instance stored first is not applied twice', async () => {
  const redis = await startRedis();
  const srv = await startOn(redis);
  const raw = net.connect(redis.port, '127.0.0.1');
  try {
    await new Promise((r) => raw.once('connect', r));
    const s = await createSession(srv, { content: 'base\n' });
    const c = await Client.open(srv, s.id, '?userId=c');
    await c.next('sync');
    const r = await rawWs(srv, `/ws/${s.id}?userId=r`);
    const x1 = { clientID: 'cx', changes: [[0, 'X'], 5] };
    const before = redis.scriptCalls();
    redis.cli('CLIENT', 'PAUSE', '400', 'WRITE');
    // "another instance" stores cx's update at version 0 -> 1 first (queued first behind the
    // pause), without publishing it: collabd learns of it only from its commit's refusal
    const resp = (...a) => `*${a.length}\r\n${a.map((x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`).join('')}`;
    raw.write(resp('EVAL', "redis.call('HSET', KEYS[1], 'version', 1); return redis.call('RPUSH', KEYS[2], ARGV[1])", '2',
      `collabd:doc:{${s.id}}`, `collabd:log:{${s.id}}`, JSON.stringify(x1)));
    await sleep(50);
    // then, in one write (so one read: one batch [cy, cx]), cy's push and cx's own re-push of
    // the same update
    const push = (u) => frame({ payload: Buffer.from(JSON.stringify({ type: 'push', version: 0, updates: [u] })) });
    r.send(Buffer.concat([push({ clientID: 'cy', changes: [5, [0, 'Y']] }), push(x1)]));
    const got = [await c.next('update', 5000), await c.next('update', 5000)];
    assert.deepEqual(got.map((u) => [u.version, u.clientID]), [[1, 'cx'], [2, 'cy']]);
    await sleep(300);
    assert.deepEqual(c.messages.filter((m) => m.type === 'update' || m.type === 'error'), [], 'cx once, no refusal');
    assert.deepEqual(await document(srv, s.id), { status: 200, text: 'Xbase\nY', version: 2 });
    assert.equal(redis.scriptCalls() - before, 2, 'the batch, refused, then made again and stored');
    await c.close();
    r.sock.destroy();
  } finally {
    raw.destroy();
    await srv.stop();
    await redis.stop();
    redis.cleanup();
  }
});

test('--redis-ttl: every key of a session keeps an expiry (the log too, after it was folded away), renewed by an edit after a tenth of the TTL', async () => {
  const redis = await startRedis();
  const srv = await startOn(redis, ['--redis-ttl', '10', '--history-max', '3']);
  try {
    const s = await createSession(srv, { content: '' });
    const c = await Client.open(srv, s.id, '?userId=t');
    await c.next('sync');
    const ttls = () => ['session', 'doc', 'log'].map((k) => Number(redis.cli('TTL', `collabd:${k}:{${s.id}}`)));
    for (let v = 0; v < 10; v++) { // the log is folded into the snapshot at 3, 6 and 9
      c.send({ type: 'push', version: v, updates: [{ clientID: 'ct', changes: v ? [v, [0, 'x']] : [[0, 'x']] }] });
      assert.equal((await c.next('update')).version, v + 1);
      const [session, doc, log] = ttls();
      assert.ok(session > 0 && session <= 10 && doc > 0 && doc <= 10, `version ${v + 1}: session ${session} s, doc ${doc} s`);
      assert.ok(log === -2 || (log > 0 && log <= 10), `version ${v + 1}: the log expires too (${log})`);
    }
    await sleep(2200); // past a tenth of the TTL: the next edit renews it
    const before = ttls()[0];
    assert.ok(before <= 8, `${before} s left before the edit`);
    c.send({ type: 'push', version: 10, updates: [{ clientID: 'ct', changes: [10, [0, 'y']] }] });
    assert.equal((await c.next('update')).version, 11);
    for (const t of ttls()) assert.ok(t >= 9, `renewed: ${t} s left`);
    await c.close();
  } finally {
    await srv.stop();
    await redis.stop();
    redis.cleanup();
  }
});

test('Redis unreachable at start: collabd starts degraded, refuses writes, recovers by itself', async () => {
  const port = await freePort();
  const redis = new Redis({ port });
  const srv = await startServer(['--store', 'redis', '--redis-url', `redis://127.0.0.1:${port}/0`]);
  try {
    const h = await waitHealth(srv, 'degraded');
    assert.equal(h.status, 503);
    assert.equal(h.json.status, 'degraded');
    assert.equal(h.json.store.type, 'redis');
    const r = await api(srv, 'POST', '/sessions', { body: {} });
    assert.equal(r.status, 503);
    assert.equal(r.json.error.code, 'store_unavailable');
    expectRest('Health', h.json);
    expectRest('Error', r.json);
    assert.deepEqual((await api(srv, 'GET', '/sessions')).json.sessions, []);
    await redis.start();
    const ok = await waitHealth(srv, 'ok');
    assert.equal(ok.status, 200);
    assert.equal(ok.json.status, 'ok');
    expectRest('Health', ok.json);
    const s = await createSession(srv);
    assert.equal((await api(srv, 'GET', `/sessions/${s.id}`)).status, 200);
  } finally {
    await srv.stop();
    await redis.stop();
    redis.cleanup();
  }
});

test('Redis lost mid-session: pushes refused with store_unavailable, nothing acknowledged lost', async () => {
  const redis = await startRedis({ aof: true }); // so that a restarted Redis has its data back
  let srv = await startOn(redis);
  try {
    const s = await createSession(srv, { content: 'base\n' });
    const a = await Client.open(srv, s.id, '?userId=a');
    const b = await Client.open(srv, s.id, '?userId=b');
    await a.next('sync');
    await b.next('sync');
    let doc = 'base\n';
    const push = (c, v, id, text) => c.send({ type: 'push', version: v, updates: [{ clientID: id, changes: [[0, text], doc.length] }] });
    push(a, 0, 'ca', 'one ');
    assert.equal((await a.next('update')).version, 1);
    assert.equal((await b.next('update')).version, 1);
    doc = 'one ' + doc;

    await redis.kill();
    await waitHealth(srv, 'degraded');
    push(a, 1, 'ca', 'lost? ');
    const e = await a.next('error');
    assert.equal(e.code, 'store_unavailable');
    expectMessage('server', e);
    assert.equal(e.ref, undefined);
    assert.equal((await api(srv, 'POST', '/sessions', { body: {} })).json.error.code, 'store_unavailable');
    assert.equal((await api(srv, 'DELETE', `/sessions/${s.id}`)).status, 503);
    assert.equal((await document(srv, s.id)).text, doc, 'reads still work, the refused push is not there');
    await sleep(100);
    assert.equal(b.messages.filter((m) => m.type === 'update').length, 0, 'nobody saw the refused push');

    await redis.start(); // same port, same AOF
    await waitHealth(srv, 'ok');
    push(a, 1, 'ca', 'two ');
    assert.equal((await b.next('update')).version, 2);
    doc = 'two ' + doc;
    assert.equal((await document(srv, s.id)).text, doc);
    await a.close();
    await b.close();
    await srv.stop();
    srv = await startOn(redis);
    assert.deepEqual(await document(srv, s.id), { status: 200, text: doc, version: 2 });
  } finally {
    await srv.stop();
    await redis.stop();
    redis.cleanup();
  }
});

test('collabd killed with SIGKILL: a client resumes from its version on a new instance, nothing acknowledged lost', async () => {
  const redis = await startRedis();
  let srv = await startOn(redis);
  try {
    const s = await createSession(srv);
    const a = await Client.open(srv, s.id, '?userId=a');
    await a.next('sync');
    let len = 0;
    for (let v = 0; v < 5; v++) {
      a.send({ type: 'push', version: v, updates: [{ clientID: 'ca', changes: len ? [len, [0, `${v};`]] : [[0, `${v};`]] }] });
      assert.equal((await a.next('update')).version, v + 1); // acknowledged
      len += 2;
    }
    srv.proc.kill('SIGKILL');
    await srv.exited;
    await srv.stop({ expectCode: null });
    srv = await startOn(redis);
    const { sync, rest } = await syncOf(srv, s.id, '&version=3');
    assert.equal(sync.resumed, true);
    assert.equal(sync.version, 3);
    assert.deepEqual(rest.flatMap((m) => m.updates).map((u) => u.changes), [[6, [0, '3;']], [8, [0, '4;']]]);
    assert.equal((await document(srv, s.id)).text, '0;1;2;3;4;');
  } finally {
    await srv.stop();
    await redis.stop();
    redis.cleanup();
  }
});

test('--redis-url: bad URLs are refused at start; passwords, databases and unix sockets work', async () => {
  for (const url of ['http://x', 'redis://', 'redis://h:99999', 'redis://h/x', 'unix://rel?db=1', 'unix:///s?nope=1']) {
    await assert.rejects(startServer(['--store', 'redis', '--redis-url', url]), /invalid redis URL/, url);
  }
  // a password: refused while wrong (degraded, says why), accepted when right
  const locked = new Redis();
  locked.port = await freePort();
  const origStart = locked.start.bind(locked);
  await origStart();
  execFileSync('redis-cli', ['-p', String(locked.port), 'CONFIG', 'SET', 'requirepass', 's3cret']);
  for (const [pw, status] of [['wrong', 'degraded'], ['s3cret', 'ok']]) {
    const srvp = await startServer(['--store', 'redis', '--redis-url', `redis://:${pw}@127.0.0.1:${locked.port}/1`]);
    try {
      const h = await waitHealth(srvp, status);
      if (status === 'degraded') {
        await sleep(1500);
        assert.match((await api(srvp, 'GET', '/health')).json.store.detail, /AUTH refused/);
      } else {
        const s = await createSession(srvp);
        assert.equal(execFileSync('redis-cli', ['-p', String(locked.port), '-a', 's3cret', '--no-auth-warning', '-n', '1', 'HGET', `collabd:session:{${s.id}}`, 'id'], { encoding: 'utf8' }).trim(), s.id);
        assert.equal(h.status, 200);
      }
    } finally {
      await srvp.stop();
    }
  }
  await locked.stop();
  locked.cleanup();
  const dir = mkdtempSync(join(tmpdir(), 'collabd-redis-'));
  const sock = join(dir, 'redis.sock');
  const proc = spawn(redisBin, ['--port', '0', '--unixsocket', sock, '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  const srv = await startServer(['--store', 'redis', '--redis-url', `unix://${sock}?db=3`]);
  try {
    await waitHealth(srv, 'ok');
    const s = await createSession(srv);
    const cli = execFileSync('redis-cli', ['-s', sock, '-n', '3', 'HGET', `collabd:session:{${s.id}}`, 'id'], { encoding: 'utf8' }).trim();
    assert.equal(cli, s.id);
  } finally {
    await srv.stop();
    proc.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
