// C2-C4 proof with the real client library: N headless CodeMirror editors edit one session
// through the real collabd with random multi-line/emoji edits, deletions across others' text,
// random latency, disconnects and reconnects. At the end every editor and the server hold the
// same text, and the server accepted exactly as many updates as edits were made (each edit
// exactly once: none lost, none duplicated by re-pushes after reconnects).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, createSession, Client, api } from './lib/server.mjs';
import { Editor, mulberry32, settle } from './lib/cmclient.mjs';

const RUNS = Number(process.env.CONVERGENCE_RUNS || 50);
// Milliseconds of typing pause per edit (0: as fast as the loop goes, about 5,000 edits/s).
const PACE = Number(process.env.CONVERGENCE_PACE_MS || 0);
// bench/soak.sh raises these for a longer soak; the suite runs the defaults.
const EDITORS = Number(process.env.CONVERGENCE_EDITORS || 8), EDITS = Number(process.env.CONVERGENCE_EDITS || 200);
let srv;
// The history must cover the longest disconnect: edits arrive far faster than people type.
before(async () => { srv = await startServer(['--rate-limit', '100000', '--rate-burst', '100000', '--history-max', '20000', ...(process.env.CONV_DEBUG ? ['--log-level', 'debug', '--log-dir', '/tmp/convlog'] : [])]); });
after(async () => { await srv.stop(); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function serverDoc(sessionId) {
  const c = await Client.open(srv, sessionId, '?userId=checker');
  const s = await c.next('sync');
  await c.close();
  return s;
}

async function run(seed) {
  const rng = mulberry32(seed);
  const s = await createSession(srv);
  const eds = Array.from({ length: EDITORS }, (_, i) => new Editor(srv, s.id, { clientID: `s${seed}e${i}`, rng: mulberry32(seed * 100 + i), maxLatency: 15 }));
  await Promise.all(eds.map((e) => e.connect()));
  let remaining = EDITORS * EDITS;
  while (remaining > 0) {
    const e = eds[Math.floor(rng() * EDITORS)];
    if (e.edits >= EDITS) continue;
    e.edit();
    remaining--;
    const r = rng();
    if (r < 0.004 && e.online) {
      e.disconnect();
      setTimeout(() => e.connect().catch((err) => e.errors.push(String(err))), 20 + Math.floor(rng() * 80));
    }
    if (PACE ? rng() < 0.5 : r > 0.9) await sleep(PACE || 1);
  }
  await settle(eds, srv, s.id); // the checks below say what did not settle
  const errors = eds.flatMap((e) => e.errors.map((x) => `${e.clientID}: ${x}`));
  assert.deepEqual(errors, [], `seed ${seed}: protocol errors`);
  const final = await serverDoc(s.id);
  const state = eds.map((e) => `${e.clientID}: online=${e.online} inFlight=${e.inFlight} pending=${e.pending()} synced=${e.synced()} edits=${e.edits}`).join('\n');
  assert.equal(final.version, EDITORS * EDITS, `seed ${seed}: every edit accepted exactly once\n${state}`);
  for (const e of eds) {
    assert.equal(e.synced(), final.version, `seed ${seed}: ${e.clientID} is at the server's version`);
    assert.equal(e.text(), final.doc, `seed ${seed}: ${e.clientID} converged`);
  }
  for (const e of eds) { e.closedByUs = true; e.ws.close(); }
  await api(srv, 'DELETE', `/sessions/${s.id}`);
  return final.doc.length;
}

test(`${RUNS} seeded runs of ${EDITORS} CodeMirror editors x ${EDITS} edits converge`, async () => {
  let chars = 0;
  for (let seed = 1; seed <= RUNS; seed++) chars += await run(seed);
  assert.ok(chars > 0);
});
