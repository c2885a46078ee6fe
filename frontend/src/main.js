// main.js: the page. Landing (create a Python session) or a session at /s/{id} (or #id): a name
// remembered across visits, the editor, the collaborator list and the connection indicator.
import { CollabClient } from './collab.js';
import { createEditor } from './editor.js';
import { createRunner } from './runner.js';
import { cursorEffect, removeRemoteCursor } from './presence.js';
import { getSyncedVersion } from '@codemirror/collab';
import './style.css';

const $ = (sel) => document.querySelector(sel);
const store = { get: (k) => { try { return localStorage.getItem(k); } catch { return null; } },
                set: (k, v) => { try { localStorage.setItem(k, v); } catch { /* private mode */ } } };
const randomId = () => Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('');

function sessionFromLocation() {
  const m = /^\/s\/([0-9a-f-]{36})\/?$/i.exec(location.pathname);
  if (m) return m[1];
  const h = location.hash.replace(/^#/, '');
  return /^[0-9a-f-]{36}$/i.test(h) ? h : null;
}

async function createSession() {
  const r = await fetch('/sessions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ language: 'python' }) });
  const body = await r.json();
  if (!r.ok) throw new Error(body?.error?.message || `HTTP ${r.status}`);
  return body.id;
}

function askName() {
  const known = store.get('collabd.name');
  if (known) return Promise.resolve(known);
  const dlg = $('#name-dialog');
  dlg.hidden = false;
  $('#name-input').focus();
  return new Promise((resolve) => {
    $('#name-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const name = $('#name-input').value.trim().slice(0, 64) || 'Anonymous';
      store.set('collabd.name', name);
      dlg.hidden = true;
      resolve(name);
    }, { once: true });
  });
}

function renderUsers(users, me) {
  const ul = $('#users');
  ul.replaceChildren(...users.map((u) => {
    const li = document.createElement('li');
    li.className = 'user';
    li.style.setProperty('--c', u.color);
    li.textContent = u.userName + (me && u.connId === me.connId ? ' (you)' : '') + (u.readOnly ? ' (viewing)' : '');
    return li;
  }));
}

async function openSession(id) {
  const name = await askName();
  let userId = store.get('collabd.userId');
  if (!userId) { userId = 'u' + randomId(); store.set('collabd.userId', userId); }
  $('#landing').hidden = true;
  $('#session').hidden = false;
  $('#share').value = `${location.origin}/s/${id}`;
  let client;
  const { view, host } = createEditor($('#editor'), {
    clientID: randomId(),
    onLocalChange: (u) => {
      if (!client) return;
      if (u.docChanged) client.flush();
      const sel = u.state.selection;
      client.sendCursor(sel.ranges.map((r) => ({ anchor: r.anchor, head: r.head })), sel.mainIndex);
    },
  });
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  client = new CollabClient({
    url: `${proto}//${location.host}/ws/${id}`, host, userId, userName: name,
    on: {
      status: (s) => { const el = $('#status'); el.dataset.state = s; el.textContent = s; },
      users: (users) => renderUsers(users, client.me),
      cursor: (msg) => { if (host.getState()) view.dispatch({ effects: cursorEffect(view.state, msg) }); },
      userLeft: (msg) => view.dispatch({ effects: removeRemoteCursor.of(msg.connId) }),
      error: (msg) => { $('#notice').textContent = `${msg.code}: ${msg.message}`; },
      message: (msg) => {
        if (msg.type === 'session_deleted') $('#notice').textContent = 'This session was deleted.';
        runner?.onServerMessage(msg);
      },
    },
  });
  const reset = host.reset;
  host.reset = (doc, version, kept) => {
    reset(doc, version);
    if (kept) {
      $('#kept').hidden = false;
      $('#kept-text').value = kept;
      $('#notice').textContent = 'Reloaded: your offline edits were kept in the side panel.';
    }
  };
  let runner = null;
  client.connect();
  runner = createRunner($('#runner'), () => view.state.doc.toString());
  // Run on server only where the server offers it
  fetch('/health').then((r) => r.json()).then((h) => {
    if (h?.python?.enabled && h.python.status !== 'disabled') runner.enableServer((m) => { client.flush(); return client.send(m); });
  }).catch(() => {});
  // for tests and the curious
  window.__collabd = { view, client, text: () => view.state.doc.toString(), version: () => getSyncedVersion(view.state) };
}

async function main() {
  const id = sessionFromLocation();
  if (id) return openSession(id);
  $('#landing').hidden = false;
  $('#create').addEventListener('click', async () => {
    try { location.assign(`/s/${await createSession()}`); } catch (e) { $('#landing-error').textContent = String(e.message || e); }
  });
  $('#join').addEventListener('submit', (e) => {
    e.preventDefault();
    const v = $('#join-input').value.trim(), m = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/i.exec(v);
    if (m) location.assign(`/s/${m[1]}`); else $('#landing-error').textContent = 'That is not a session link or id.';
  });
}

main();
