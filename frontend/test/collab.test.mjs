// collab.js without a browser: a Node program joins a session through the real collabd with the
// `ws` package, as protocol/README.md's example does, and edits alongside a second client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { EditorState } from '@codemirror/state';
import { collab, getSyncedVersion } from '@codemirror/collab';
import { CollabClient } from '../src/collab.js';
import { startServer, createSession, api } from '../../tests/integration/lib/server.mjs';
import { expectMessage } from '../../tests/integration/lib/schema.mjs';

// The wire types come from protocol/: every message collab.js sends, and every one it gets,
// is checked against protocol/schemas/{client,server}/<type>.json.
const checked = { sent: 0, received: 0, bad: [] };
class CheckedWebSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    this.on('message', (data) => {
      checked.received++;
      try { expectMessage('server', JSON.parse(data.toString())); } catch (e) { checked.bad.push(e.message); }
    });
  }
  send(text) {
    checked.sent++;
    try { expectMessage('client', JSON.parse(text)); } catch (e) { checked.bad.push(e.message); }
    super.send(text);
  }
}

// A host that keeps an EditorState: what a headless program (a bot, a test) needs.
function headless(clientID) {
  let state = null;
  return {
    getState: () => state,
    dispatch: (spec) => { state = state.update(spec).state; },
    reset: (doc, version) => { state = EditorState.create({ doc, extensions: [collab({ startVersion: version, clientID })] }); },
    edit(spec) { state = state.update(spec).state; },
  };
}

function until(pred, ms = 5000) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => (pred() ? resolve() : Date.now() - t0 > ms ? reject(new Error('timed out')) : setTimeout(tick, 10));
    tick();
  });
}

test('a Node program joins with collab.js, edits, and converges with another client', async () => {
  const srv = await startServer();
  try {
    const s = await createSession(srv, { language: 'python', content: 'print(1)\n' });
    const ha = headless('bot-a'), hb = headless('bot-b');
    const seen = [], cursors = [];
    const a = new CollabClient({ url: `${srv.ws}/ws/${s.id}`, host: ha, userId: 'bot-a', userName: 'Bot A', WebSocket: CheckedWebSocket, on: { users: (u) => seen.push(u.length) } });
    const b = new CollabClient({ url: `${srv.ws}/ws/${s.id}`, host: hb, userId: 'bot-b', userName: 'Bot B', WebSocket: CheckedWebSocket, on: { cursor: (m) => cursors.push(m) } });
    a.connect(); b.connect();
    await until(() => a.status === 'online' && b.status === 'online');
    assert.equal(ha.getState().doc.toString(), 'print(1)\n');
    ha.edit({ changes: { from: 0, insert: '# a\n' } }); a.flush();
    hb.edit({ changes: { from: 9, insert: 'print(2)\n' } }); b.flush();
    const doc = async () => (await api(srv, 'GET', `/sessions/${s.id}/document`)).text;
    await until(() => ha.getState().doc.toString() === hb.getState().doc.toString() && !a.inFlight && !b.inFlight);
    assert.equal(ha.getState().doc.toString(), await doc());
    assert.match(await doc(), /^# a\nprint\(1\)\nprint\(2\)\n$/);
    assert.ok(seen.includes(2), 'the user list reached both participants');
    a.sendCursor([{ anchor: 2, head: 3 }], 0);
    await until(() => cursors.length > 0);
    assert.deepEqual(cursors[0].ranges, [{ anchor: 2, head: 3 }]);
    assert.equal(cursors[0].userName, 'Bot A');
    // the socket drops: the client reconnects by itself and resumes from its version
    a.ws.close();
    await until(() => a.status !== 'online');
    ha.edit({ changes: { from: 0, insert: '# offline\n' } }); a.flush();
    await until(() => a.status === 'online' && !a.inFlight, 8000);
    await until(() => hb.getState().doc.toString().startsWith('# offline\n'));
    a.close(); b.close();
    assert.deepEqual(checked.bad, [], 'every message matches its schema in protocol/');
    assert.ok(checked.sent >= 4 && checked.received >= 8, JSON.stringify(checked));
  } finally { await srv.stop(); }
});

test('a push refused while the store is away is pushed again by itself once it is back', async () => {
  const { startRedis, startOn, waitHealth } = await import('../../tests/integration/lib/redis.mjs');
  const redis = await startRedis({ aof: true });
  const srv = await startOn(redis);
  let c;
  try {
    const s = await createSession(srv, { content: 'x\n' });
    const h = headless('bot-r'), errors = [];
    c = new CollabClient({ url: `${srv.ws}/ws/${s.id}`, host: h, userId: 'bot-r', WebSocket: CheckedWebSocket, on: { error: (m) => errors.push(m.code) } });
    c.connect();
    await until(() => c.status === 'online');
    await redis.kill();
    await waitHealth(srv, 'degraded');
    h.edit({ changes: { from: 0, insert: 'kept ' } }); c.flush();
    await until(() => errors.includes('store_unavailable'));
    await redis.start();
    // nothing typed since: the client retries with backoff until the push is accepted
    await until(() => !c.inFlight && getSyncedVersion(h.getState()) === 1, 15000);
    assert.equal((await api(srv, 'GET', `/sessions/${s.id}/document`)).text, 'kept x\n');
  } finally { c?.close(); await srv.stop(); await redis.stop(); redis.cleanup(); }
});
