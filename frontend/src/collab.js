// collab.js: the connection to collabd and the CodeMirror collab discipline, with no DOM.
// A browser page and a Node program use it alike: give it a WebSocket constructor (the
// browser's, or the `ws` package's) and a host that holds the EditorState:
//   host.getState()            the current EditorState (with the collab() extension)
//   host.dispatch(spec)        apply a transaction spec (received updates)
//   host.reset(doc, version, keptText)
//                              replace the document (first sync, or history too old on
//                              reconnect; keptText is the local text that could not be merged)
// Protocol (protocol/README.md): `sync` on join; each accepted update arrives as its own
// `update` and is applied one at a time (receiveUpdates with one update: batched rebase
// diverges, DESIGN.md section 3); one push in flight; reconnect with &version=N gets only the
// missed updates, with exponential backoff and jitter.
import { ChangeSet } from '@codemirror/state';
import { receiveUpdates, sendableUpdates, getSyncedVersion, getClientID } from '@codemirror/collab';

export const PUSH_MAX = 100; // collabd takes at most 100 updates per push
// Refusals of a push that another try later may not get (protocol/README.md, errors).
const RETRYABLE = new Set(['store_unavailable', 'stale', 'rate_limited']);

export class CollabClient {
  /**
   * @param {object} o
   * @param {string} o.url        ws(s)://host/ws/{sessionId}
   * @param {object} o.host       {getState, dispatch, reset}
   * @param {string} [o.userId]
   * @param {string} [o.userName]
   * @param {Function} [o.WebSocket]  constructor; defaults to globalThis.WebSocket
   * @param {object} [o.on]       callbacks: status(s), users(list), cursor(msg), userLeft(msg), error(msg), message(msg)
   */
  constructor({ url, host, userId, userName, WebSocket: WS = globalThis.WebSocket, on = {} }) {
    this.url = url; this.host = host; this.userId = userId; this.userName = userName;
    this.WS = WS; this.on = on;
    this.ws = null; this.status = 'idle'; this.inFlight = false; this.synced = false;
    this.attempt = 0; this.timer = null; this.closed = false; this.users = new Map();
    this.me = null; this.pendingCursor = null; this.heldCursors = null; this.keepOnReset = false;
    this.retryTimer = null; this.retries = 0;
  }

  connect() {
    if (this.closed) return;
    const q = new URLSearchParams();
    if (this.userId) q.set('userId', this.userId);
    if (this.userName) q.set('userName', this.userName);
    const st = this.host.getState();
    if (st && this.synced) q.set('version', String(getSyncedVersion(st)));
    const ws = new this.WS(`${this.url}?${q}`);
    this.ws = ws;
    this.setStatus('connecting');
    ws.onmessage = (ev) => {
      if (ws !== this.ws) return;
      let msg;
      try { msg = JSON.parse(typeof ev.data === 'string' ? ev.data : ev.data.toString()); } catch { return; }
      this.handle(msg);
    };
    ws.onclose = (ev) => {
      if (ws !== this.ws) return;
      this.ws = null; this.inFlight = false;
      this.setStatus('offline');
      if (ev.code === 4000) { this.closed = true; this.setStatus('deleted'); return; }
      this.scheduleReconnect();
    };
    ws.onerror = () => {};
  }

  scheduleReconnect() {
    if (this.closed || this.timer) return;
    // exponential backoff with full jitter: 0.25 s, 0.5 s, ... capped at 10 s
    const cap = Math.min(10000, 250 * 2 ** this.attempt++);
    const delay = cap / 2 + Math.random() * cap / 2;
    this.timer = setTimeout(() => { this.timer = null; this.connect(); }, delay);
  }

  // The network went away (or the page knows its socket is dead): forget the socket now,
  // without waiting for a closing handshake, go offline and reconnect with backoff.
  drop() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null; this.inFlight = false;
    ws.close();
    this.setStatus('offline');
    this.scheduleReconnect();
  }

  // Leave the current socket at once and connect again: nothing more from it is read, and the
  // new connection does not wait for its closing handshake (which a busy server may be slow
  // to complete) nor for a backoff delay (this is not a network failure).
  restart() {
    const ws = this.ws;
    this.ws = null; this.inFlight = false;
    ws?.close();
    clearTimeout(this.timer); this.timer = null;
    this.connect();
  }

  // A push the server refused for now (its store unreachable, or the document moved on under a
  // busy room): push again after a backoff with jitter (0.25 s doubling to 5 s), even if the
  // user typed nothing since; every refusal in a row waits longer.
  retrySoon() {
    if (this.closed || this.retryTimer) return;
    const cap = Math.min(5000, 250 * 2 ** this.retries++);
    this.retryTimer = setTimeout(() => { this.retryTimer = null; this.flush(); }, cap / 2 + Math.random() * cap / 2);
  }

  close() {
    this.closed = true;
    clearTimeout(this.retryTimer); this.retryTimer = null;
    clearTimeout(this.timer); this.timer = null;
    if (this.ws) { const ws = this.ws; this.ws = null; ws.close(); }
    this.setStatus('closed');
  }

  setStatus(s) { this.status = s; this.on.status?.(s); }

  send(obj) {
    if (this.ws && this.ws.readyState === 1) { this.ws.send(JSON.stringify(obj)); return true; }
    return false;
  }

  releaseCursors() {
    const held = this.heldCursors;
    this.heldCursors = null;
    const st = this.host.getState();
    if (held && st) for (const c of held) this.on.cursor?.({ ...c, version: getSyncedVersion(st) });
  }

  handle(msg) {
    this.on.message?.(msg);
    if (this.heldCursors && msg.type !== 'updates' && msg.type !== 'sync') this.releaseCursors();
    switch (msg.type) {
      case 'sync': {
        const st = this.host.getState();
        if (!msg.resumed) {
          // a fresh document: whatever was typed offline and not confirmed cannot be merged
          const kept = st && (this.synced || this.keepOnReset) && sendableUpdates(st).length ? st.doc.toString() : null;
          this.keepOnReset = false;
          this.pendingCursor = null; // its positions were in the old document
          this.host.reset(msg.doc, msg.version, kept);
        }
        this.synced = true; this.attempt = 0; this.me = msg.you;
        this.users = new Map(msg.users.map((u) => [u.connId, u]));
        this.on.users?.([...this.users.values()]);
        // the users' cursors are at the server's current version: after a resumed sync, that
        // is only reached once the `updates` that follow it are applied
        this.heldCursors = msg.users.filter((u) => u.cursor && u.connId !== msg.you.connId)
          .map((u) => ({ ...u, ...u.cursor }));
        if (!msg.resumed) this.releaseCursors();
        this.setStatus('online');
        this.flush();
        this.sendCursor();
        break;
      }
      case 'update': this.receive(msg.version - 1, [msg]); break;
      case 'updates': this.receive(msg.version, msg.updates); this.releaseCursors(); break;
      case 'user_joined':
        this.users.set(msg.user.connId, msg.user);
        this.on.users?.([...this.users.values()]);
        break;
      case 'user_left':
        this.users.delete(msg.connId);
        this.on.users?.([...this.users.values()]);
        this.on.userLeft?.(msg);
        break;
      case 'cursor': this.on.cursor?.(msg); break;
      case 'error':
        this.inFlight = false;
        this.on.error?.(msg);
        if (msg.code === 'resync') { // our base fell out of the history: reconnect for a full sync, keeping our text
          this.synced = false; this.keepOnReset = true; this.restart();
        } else if (RETRYABLE.has(msg.code)) {
          this.retrySoon();
        }
        break;
      default: break;
    }
  }

  // updates[i] takes the document from version from + i to from + i + 1; applied one at a time
  receive(from, updates) {
    let own = false;
    updates.forEach((u, i) => {
      const st = this.host.getState(), v = from + i, synced = getSyncedVersion(st);
      if (v !== synced) return; // already applied (v < synced); a gap cannot happen on one socket
      if (u.clientID === getClientID(st)) own = true;
      this.host.dispatch(receiveUpdates(st, [{ changes: ChangeSet.fromJSON(u.changes), clientID: u.clientID }]));
    });
    if (own) { this.inFlight = false; this.retries = 0; }
    this.flush();
    if (this.pendingCursor && !sendableUpdates(this.host.getState()).length) this.sendCursor();
  }

  // Push what is unconfirmed, one push in flight at a time.
  flush() {
    if (this.inFlight || this.status !== 'online') return;
    const st = this.host.getState();
    const ups = sendableUpdates(st).slice(0, PUSH_MAX);
    if (!ups.length) return;
    if (this.send({ type: 'push', version: getSyncedVersion(st), updates: ups.map((u) => ({ clientID: u.clientID, changes: u.changes.toJSON() })) }))
      this.inFlight = true;
  }

  // Our selection, sent only while nothing is unconfirmed (so its positions are valid at the
  // synced version the message names); otherwise kept until the push is confirmed.
  sendCursor(ranges, main = 0) {
    if (ranges) this.pendingCursor = { ranges, main };
    const st = this.host.getState();
    if (!this.pendingCursor || this.status !== 'online' || sendableUpdates(st).length) return;
    if (this.send({ type: 'cursor', version: getSyncedVersion(st), ...this.pendingCursor })) this.pendingCursor = null;
  }
}
