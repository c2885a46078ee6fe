// Test helper: a real redis-server on a free loopback port (redis-server.mjs, re-exported here),
// collabd started on such a Redis (startOn), its health and a session's document.
import { startServer, api } from './server.mjs';

export { redisBin, freePort, Redis, startRedis } from './redis-server.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// /health once the store reports status (ok, degraded)
export async function waitHealth(srv, status, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const h = await api(srv, 'GET', '/health');
    if (h.json.store.status === status) return h;
    if (Date.now() > deadline) throw new Error(`health never became ${status}: ${h.text}`);
    await sleep(20);
  }
}

// collabd on the Redis store, once it has connected, subscribed and loaded
export async function startOn(redis, extra = []) {
  const srv = await startServer(['--store', 'redis', '--redis-url', redis.url, ...extra]);
  await waitHealth(srv, 'ok');
  return srv;
}

// GET /sessions/{id}/document as {status, text, version}
export async function document(srv, id) {
  const r = await api(srv, 'GET', `/sessions/${id}/document`);
  return { status: r.status, text: r.text, version: Number(r.headers.get('x-collabd-version')) };
}
