// A headless collaborative editor: the real @codemirror/state + @codemirror/collab driven
// over collabd's WebSocket protocol, the way the browser frontend does it: received updates
// are applied ONE AT A TIME (each its own receiveUpdates call; see DESIGN.md section 3), own
// updates are confirmed by clientID, and a reconnect resumes from the synced version.
// Test hooks: a seeded random generator, an artificial latency on every message in both
// directions (order preserved), and a disconnect() that keeps editing offline.
import { EditorState, ChangeSet } from '@codemirror/state';
import { collab, receiveUpdates, sendableUpdates, getSyncedVersion } from '@codemirror/collab';
import WebSocket from 'ws';
import { api } from './server.mjs';

export function mulberry32(seed) {
  return function () {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const wait = (due) => (due > Date.now() ? new Promise((r) => setTimeout(r, due - Date.now())) : null);

const pieces = ['a', 'bc', 'def ', 'x = 1\n', '\n', '😀', '👍🏽', 'ж', 'ß', '€', '\t', 'if y:\n    pass\n', '🐍🐍'];

export class Editor {
  constructor(srv, sessionId, { clientID, rng, maxLatency = 0 }) {
    this.srv = srv; this.sessionId = sessionId; this.clientID = clientID;
    this.rng = rng; this.maxLatency = maxLatency;
    this.state = null; this.ws = null; this.inFlight = false; this.edits = 0; this.duplicates = 0;
    this.errors = []; this.inTail = Promise.resolve(); this.outTail = Promise.resolve();
    this.online = false; this.closedByUs = false; this.connecting = null;
  }
  delay() { return this.maxLatency ? Math.floor(this.rng() * this.maxLatency) : 0; }
  connect() {
    if (this.connecting) return this.connecting;
    const q = this.state ? `&version=${getSyncedVersion(this.state)}` : '';
    const ws = new WebSocket(`${this.srv.ws}/ws/${this.sessionId}?userId=${this.clientID}${q}`, { perMessageDeflate: false });
    this.ws = ws; this.closedByUs = false;
    this.connecting = new Promise((resolve, reject) => {
      ws.on('message', (data) => {
        const msg = JSON.parse(data.toString());
        const due = Date.now() + this.delay(); // latency per message, not cumulative; order kept
        this.inTail = this.inTail.then(() => wait(due)).then(() => {
          if (ws === this.ws) this.handle(msg, resolve);
        }).catch((err) => { this.errors.push(`exception handling ${msg.type} v${msg.version}: ${err.message}`); });
      });
      ws.on('error', (err) => { this.connecting = null; reject(err); });
      ws.on('close', (code) => { if (ws === this.ws) { this.online = false; this.inFlight = false; if (!this.closedByUs) this.errors.push(`closed ${code}`); } });
    });
    return this.connecting;
  }
  disconnect() { this.closedByUs = true; this.online = false; this.inFlight = false; this.ws.terminate(); }
  send(obj) {
    const ws = this.ws, due = Date.now() + this.delay(), text = JSON.stringify(obj);
    this.outTail = this.outTail.then(() => wait(due)).then(() => {
      if (ws.readyState === WebSocket.OPEN) ws.send(text);
    });
  }
  handle(msg, ready) {
    switch (msg.type) {
      case 'sync':
        if (!msg.resumed) {
          if (this.state && sendableUpdates(this.state).length) this.errors.push('full resync lost local edits');
          this.state = EditorState.create({ doc: msg.doc, extensions: [collab({ startVersion: msg.version, clientID: this.clientID })] });
        }
        this.online = true;
        this.connecting = null;
        ready();
        this.flush();
        break;
      case 'update':
        this.receive(msg.version - 1, [msg]);
        break;
      case 'updates':
        this.receive(msg.version, msg.updates);
        break;
      case 'error':
        this.errors.push(`${msg.code}: ${msg.message}`);
        this.inFlight = false;
        break;
      default: break;
    }
  }
  // updates[i] takes the document from version from + i to from + i + 1
  receive(from, updates) {
    let own = false;
    updates.forEach((u, i) => {
      const v = from + i, synced = getSyncedVersion(this.state);
      if (v < synced) { this.duplicates++; return; } // already have it
      if (v > synced) { this.errors.push(`gap: got ${v}, at ${synced}`); return; }
      if (u.clientID === this.clientID) own = true;
      this.state = this.state.update(receiveUpdates(this.state, [{ changes: ChangeSet.fromJSON(u.changes), clientID: u.clientID }])).state;
    });
    if (own) { this.inFlight = false; this.flush(); }
  }
  flush() {
    if (!this.online || this.inFlight) return;
    const ups = sendableUpdates(this.state).slice(0, 100); // the server takes 100 per push
    if (!ups.length) return;
    this.inFlight = true;
    this.send({ type: 'push', version: getSyncedVersion(this.state), updates: ups.map((u) => ({ clientID: u.clientID, changes: u.changes.toJSON() })) });
  }
  edit() {
    const doc = this.state.doc, len = doc.length, r = this.rng;
    const text = Array.from({ length: 1 + Math.floor(r() * 3) }, () => pieces[Math.floor(r() * pieces.length)]).join('');
    let from = Math.floor(r() * (len + 1)), to = from;
    const kind = r();
    if (kind < 0.3 && len) to = Math.min(len, from + 1 + Math.floor(r() * 12)); // delete (maybe across others' text)
    const changes = kind < 0.15 && len ? { from: Math.min(from, len - 1), to: Math.min(len, from + 1 + Math.floor(r() * 5)) } : { from, to, insert: text };
    this.state = this.state.update({ changes }).state;
    this.edits++;
    this.flush();
  }
  synced() { return this.state && getSyncedVersion(this.state); }
  pending() { return this.state ? sendableUpdates(this.state).length : 0; }
  text() { return this.state.doc.toString(); }
}

// Bring editors to rest: reconnect the offline ones (each onto pick() when given) and flush,
// until every one is online with nothing pending at the version srv reports for the session,
// or timeoutMs passes. Returns { info: GET /sessions/{id}, settled }.
export async function settle(eds, srv, sessionId, { pick, timeoutMs = 30000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await Promise.all(eds.filter((e) => !e.online).map((e) => { if (pick) e.srv = pick(); return e.connect(); }));
    eds.forEach((e) => e.flush());
    const info = (await api(srv, 'GET', `/sessions/${sessionId}`)).json;
    if (eds.every((e) => e.online && !e.pending() && e.synced() === info.version)) return { info, settled: true };
    if (Date.now() > deadline) return { info, settled: false };
    await new Promise((r) => setTimeout(r, 20));
  }
}
