// Same-run peer for bench/collab_bench.sh: a Node authority written the way the official
// CodeMirror collab example (codemirror.net/examples/collab) works (all updates kept in an array,
// a stale push rebased with rebaseUpdates over the newer updates, every accepted update broadcast
// to every client), speaking collabd's protocol (protocol/README.md) so that bench/loadgen drives
// both servers with the same bytes: POST /sessions -> {id}; /ws/{id}?userId=..; sync, push,
// update, pull/updates, ping/pong, user_joined/user_left.
//
// usage: node server.mjs [--port 0] [--max-body BYTES]
// prints: "node-authority listening on http://127.0.0.1:PORT/"
import http from 'node:http';
import crypto from 'node:crypto';
import { WebSocketServer } from 'ws';
import { ChangeSet, Text } from '@codemirror/state';
import { rebaseUpdates } from '@codemirror/collab';

const args = process.argv.slice(2);
function opt(name, dflt) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
}
const port = Number(opt('--port', '0'));
const maxBody = Number(opt('--max-body', String(32 * 1024 * 1024)));

const sessions = new Map(); // id -> {id, language, updates: [], doc: Text, clients: Set}
let nextConn = 1;
const COLORS = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#46f0f0'];

function send(ws, obj) {
  if (ws.readyState === 1) ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
}
function broadcast(session, str, except) {
  for (const c of session.clients) if (c !== except) send(c, str);
}

function httpJson(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/sessions') {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > maxBody) { httpJson(res, 413, { error: { code: 'body_too_large', message: 'too large' } }); req.destroy(); }
      else chunks.push(c);
    });
    req.on('end', () => {
      if (size > maxBody) return;
      let body = {};
      if (size) {
        try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); }
        catch { return httpJson(res, 400, { error: { code: 'bad_json', message: 'bad json' } }); }
      }
      const id = crypto.randomUUID();
      const content = typeof body.content === 'string' ? body.content : '';
      const s = { id, language: body.language || 'python', updates: [], doc: Text.of(content.split('\n')), clients: new Set() };
      sessions.set(id, s);
      httpJson(res, 201, { id, language: s.language, version: 0, links: { ws: `/ws/${id}` } });
    });
    return;
  }
  if (req.method === 'GET' && req.url === '/health') return httpJson(res, 200, { status: 'ok' });
  httpJson(res, 404, { error: { code: 'not_found', message: 'not found' } });
});

const wss = new WebSocketServer({ noServer: true });
server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url, 'http://x');
  const m = /^\/ws\/([^/]+)$/.exec(url.pathname);
  const s = m && sessions.get(m[1]);
  if (!s) {
    socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => join(s, ws, url));
});

function join(s, ws, url) {
  const n = nextConn++;
  const user = {
    connId: `c${n}`,
    userId: url.searchParams.get('userId') || `anon-${n}`,
    userName: url.searchParams.get('userName') || 'Anonymous',
    color: COLORS[n % COLORS.length],
    readOnly: false,
  };
  ws.user = user;
  broadcast(s, JSON.stringify({ type: 'user_joined', user }));
  s.clients.add(ws);
  const users = [...s.clients].reverse().map((c) => c.user);
  send(ws, { type: 'sync', version: s.updates.length, doc: s.doc.toString(), users, you: user,
             session: { id: s.id, language: s.language } });
  ws.on('message', (data, isBinary) => onMessage(s, ws, data, isBinary));
  ws.on('close', () => {
    s.clients.delete(ws);
    broadcast(s, JSON.stringify({ type: 'user_left', connId: user.connId, userId: user.userId }));
  });
  ws.on('error', () => {});
}

function onMessage(s, ws, data, isBinary) {
  let msg;
  try { msg = JSON.parse(data.toString()); } catch { return send(ws, { type: 'error', code: 'bad_json', message: 'bad json' }); }
  const ref = msg.ref;
  const err = (code, message) => send(ws, ref === undefined ? { type: 'error', code, message } : { type: 'error', code, message, ref });
  if (msg.type === 'ping') return send(ws, ref === undefined ? { type: 'pong' } : { type: 'pong', ref });
  if (msg.type === 'pull') {
    if (!Number.isInteger(msg.version) || msg.version > s.updates.length) return err('bad_version', 'version ahead');
    const ups = s.updates.slice(msg.version).map((u) => ({ clientID: u.clientID, changes: u.changes.toJSON() }));
    return send(ws, { type: 'updates', version: msg.version, updates: ups, ...(ref === undefined ? {} : { ref }) });
  }
  if (msg.type !== 'push') return err('unknown_type', `unknown message type "${msg.type}"`);
  // The official example's pushUpdates handler, with collabd's message shapes.
  const version = msg.version;
  if (!Number.isInteger(version) || !Array.isArray(msg.updates)) return err('bad_message', 'bad push');
  if (version > s.updates.length) return err('bad_version', 'version ahead');
  let received;
  try {
    received = msg.updates.map((json) => ({ clientID: json.clientID, changes: ChangeSet.fromJSON(json.changes) }));
  } catch { return err('bad_changes', 'malformed change set'); }
  if (version !== s.updates.length) received = rebaseUpdates(received, s.updates.slice(version));
  for (const update of received) {
    let doc;
    try { doc = update.changes.apply(s.doc); } catch { return err('bad_changes', 'does not fit'); }
    s.updates.push(update);
    s.doc = doc;
    broadcast(s, JSON.stringify({ type: 'update', version: s.updates.length, clientID: update.clientID,
                                  changes: update.changes.toJSON() }));
  }
}

server.listen(port, '127.0.0.1', () => {
  console.log(`node-authority listening on http://127.0.0.1:${server.address().port}/`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
