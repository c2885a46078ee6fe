// The page collabd serves, in a real browser (Debian's chromium through playwright-core):
// two pages join one session and type; both end with the server's document; remote cursors
// are drawn with names; a page that loses its socket keeps typing and converges after the
// reconnect; every request goes to collabd's own origin. Screenshots go to test-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startServer, createSession, api, repo } from '../integration/lib/server.mjs';

const dist = join(repo, 'frontend', 'dist');
const artifacts = join(repo, 'test-artifacts');
let srv, browser;
const foreign = [];

before(async () => {
  assert.ok(existsSync(join(dist, 'index.html')), 'frontend/dist is built (npm run build in frontend/)');
  srv = await startServer(['--static-dir', dist]);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});
after(async () => {
  await browser?.close();
  await srv?.stop();
});

// A page of its own browser context, on server (default: the shared one), with name and any
// further localStorage entries set before the page's scripts run, joined to the session.
async function openPage(sessionId, name, { server = srv, storage = {} } = {}) {
  const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
  await context.addInitScript((kv) => { for (const [k, v] of Object.entries(kv)) localStorage.setItem(k, v); },
    { 'collabd.name': name, ...storage });
  const page = await context.newPage();
  const origins = [server.base, server.ws];
  page.on('request', (r) => { if (!origins.some((o) => r.url().startsWith(o))) foreign.push(r.url()); });
  page.on('websocket', (ws) => { if (!ws.url().startsWith(server.ws)) foreign.push(ws.url()); });
  page.sent = []; // the messages the page sent on its WebSockets
  page.on('websocket', (ws) => ws.on('framesent', (f) => { try { page.sent.push(JSON.parse(f.payload)); } catch { /* not JSON */ } }));
  page.on('pageerror', (e) => foreign.push(`page error: ${e.message}`));
  await page.goto(`${server.base}/s/${sessionId}`);
  await page.waitForSelector('#status[data-state="online"]');
  return page;
}

const text = (page) => page.evaluate(() => window.__collabd.text());

async function converged(pages, sessionId, must = []) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const texts = await Promise.all(pages.map(text));
    const server = (await api(srv, 'GET', `/sessions/${sessionId}/document`)).text;
    if (texts.every((t) => t === server) && must.every((m) => server.includes(m))) return server;
    if (Date.now() > deadline) assert.fail(`not converged: ${JSON.stringify({ texts, server })}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('F1 the landing page creates a session and opens it at /s/{id}', async () => {
  const context = await browser.newContext();
  await context.addInitScript(() => localStorage.setItem('collabd.name', 'Eve'));
  const page = await context.newPage();
  await page.goto(srv.base + '/');
  await page.click('#create');
  await page.waitForURL(/\/s\/[0-9a-f-]{36}$/);
  await page.waitForSelector('#status[data-state="online"]');
  const id = page.url().split('/s/')[1];
  assert.equal((await api(srv, 'GET', `/sessions/${id}`)).status, 200);
  assert.match(await page.textContent('#users'), /Eve \(you\)/);
  await context.close();
});

test('F2 two pages type into one session and converge; remote cursors carry names', async () => {
  const s = await createSession(srv);
  const a = await openPage(s.id, 'Ada');
  const b = await openPage(s.id, 'Bob');
  await a.click('.cm-content');
  await a.keyboard.type('def add(x, y):\nreturn x + y\n'); // Python mode indents the body
  await converged([a, b], s.id, ['def add(x, y):', 'return x + y']);
  // now both type at once, at the two ends of the document
  await b.click('.cm-content');
  await b.keyboard.press('Control+End');
  await a.keyboard.press('Control+Home');
  await Promise.all([b.keyboard.type('\nprint(add(2, 3))', { delay: 15 }), a.keyboard.type('# by Ada\n', { delay: 15 })]);
  const doc = await converged([a, b], s.id, ['# by Ada\ndef add(x, y):', 'print(add(2, 3))']);
  assert.ok(doc.length > 40);
  // each page draws the other's caret with the other's name
  await a.waitForFunction(() => [...document.querySelectorAll('.cd-remote-name')].some((e) => e.textContent === 'Bob'));
  await b.waitForFunction(() => [...document.querySelectorAll('.cd-remote-name')].some((e) => e.textContent === 'Ada'));
  assert.match(await a.textContent('#users'), /Bob/);
  mkdirSync(artifacts, { recursive: true });
  const shots = await Promise.all([a.screenshot(), b.screenshot()]);
  const side = await browser.newPage({ viewport: { width: 1600, height: 600 } });
  await side.setContent(`<body style="margin:0;display:flex">${shots.map((p) => `<img src="data:image/png;base64,${p.toString('base64')}">`).join('')}</body>`);
  await side.screenshot({ path: join(artifacts, 'pair-programming.png') }); // the two pages side by side
  await side.close();
  await Promise.all([a.context().close(), b.context().close()]);
});

test('F2 a page sends its cursor when its user moves or types, not when someone else types', async () => {
  const s = await createSession(srv, { content: 'x = 1\n' });
  const a = await openPage(s.id, 'Ada');
  const b = await openPage(s.id, 'Bob');
  await b.click('.cm-content');
  await b.keyboard.press('Control+End');
  await a.waitForFunction(() => [...document.querySelectorAll('.cd-remote-name')].some((e) => e.textContent === 'Bob'));
  const cursors = (page) => page.sent.filter((m) => m.type === 'cursor').length;
  const before = cursors(b);
  assert.ok(before >= 1, 'moving sends the cursor');
  await a.click('.cm-content');
  await a.keyboard.press('Control+Home');
  await a.keyboard.type('# Ada types 30 keys at the top\n', { delay: 10 });
  await converged([a, b], s.id, ['# Ada types 30 keys at the top\nx = 1']);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(cursors(b), before, 'Bob did not move: his page sent no cursor while Ada typed (the server maps it)');
  assert.ok(cursors(a) >= 1, `Ada's page sent her cursor as she typed (${cursors(a)})`);
  await b.keyboard.type('y = 2');
  await converged([a, b], s.id, ['y = 2']);
  assert.ok(cursors(b) > before, 'typing sends it again');
  await Promise.all([a.context().close(), b.context().close()]);
});

test('F3 a page that loses its socket keeps typing, reconnects and merges', async () => {
  const s = await createSession(srv);
  const a = await openPage(s.id, 'Ada');
  const b = await openPage(s.id, 'Bob');
  await a.click('.cm-content');
  await a.keyboard.type('x = 1\n');
  await converged([a, b], s.id, ['x = 1']);
  // the network goes away: the page forgets its socket at once (a real loss has no closing
  // handshake to wait for)
  await a.evaluate(() => window.__collabd.client.drop());
  await a.waitForSelector('#status:not([data-state="online"])');
  await a.keyboard.type('y = 2  # typed offline\n');
  await b.click('.cm-content');
  await b.keyboard.press('Control+Home'); // elsewhere than a, so the two texts cannot interleave
  await b.keyboard.type('z = 3\n');
  await a.waitForSelector('#status[data-state="online"]', { timeout: 10000 });
  await converged([a, b], s.id, ['x = 1', 'y = 2  # typed offline', 'z = 3']);
  await Promise.all([a.context().close(), b.context().close()]);
});

// With --history-max 3 every client race with the short history shows here: B once lost its
// own typing to a reload (collab.js resent the rest of a push after its first update came back,
// based on a version the history had dropped; and a cursor sent mid-batch was refused as stale;
// both answered `resync`). Frontend test: frontend/test/collab.test.mjs.
test('F3 offline past the history: the page reloads and keeps the offline text in a side panel', async () => {
  const s2 = await startServer(['--static-dir', dist, '--history-max', '3']);
  try {
    const s = await createSession(s2);
    const a = await openPage(s.id, 'Ada', { server: s2 }), b = await openPage(s.id, 'Bob', { server: s2 });
    await a.click('.cm-content');
    await a.keyboard.type('a = 1\n');
    await b.waitForFunction(() => window.__collabd.text().includes('a = 1'));
    // Ada's connection drops and stays down (her next attempt is seconds away)
    await a.evaluate(() => { const c = window.__collabd.client; c.attempt = 20; c.drop(); });
    await a.waitForSelector('#status[data-state="offline"]');
    await a.keyboard.type('typed = "offline"\n');
    await b.click('.cm-content');
    for (let i = 0; i < 6; i++) await b.keyboard.type(`b${i} = ${i}\n`); // more than the history holds
    await b.waitForFunction(() => window.__collabd.text().includes('b5 = 5')).catch(async (e) => {
      const st = await b.evaluate(() => ({ status: window.__collabd.client.status, text: window.__collabd.text() }));
      throw new Error(`${e.message}: ${JSON.stringify(st)}`);
    });
    // the network is back: reconnect now rather than when the backoff timer says
    await a.evaluate(() => { const c = window.__collabd.client; clearTimeout(c.timer); c.timer = null; c.connect(); });
    await a.waitForSelector('#kept:not([hidden])', { timeout: 25000 }).catch(async (e) => {
      const st = await a.evaluate(() => ({ status: window.__collabd.client.status, text: window.__collabd.text(), notice: document.querySelector('#notice').textContent }));
      throw new Error(`${e.message}: ${JSON.stringify(st)}`);
    });
    assert.match(await a.inputValue('#kept-text'), /typed = "offline"/);
    assert.match(await a.textContent('#notice'), /offline edits were kept/);
    const server = (await api(s2, 'GET', `/sessions/${s.id}/document`)).text;
    await a.waitForFunction((t) => window.__collabd.text() === t, server);
    assert.ok(!server.includes('offline'), 'nothing unmergeable reached the document');
    await Promise.all([a.context().close(), b.context().close()]);
  } finally { await s2.stop(); }
});

test('F5 undo only undoes your own edits', async () => {
  const s = await createSession(srv);
  const a = await openPage(s.id, 'Ada');
  const b = await openPage(s.id, 'Bob');
  await a.click('.cm-content');
  await a.keyboard.type('mine = 1');
  await converged([a, b], s.id, ['mine = 1']);
  await b.click('.cm-content');
  await b.keyboard.press('Control+Home');
  await b.keyboard.type('theirs = 2\n');
  await converged([a, b], s.id, ['theirs = 2\nmine = 1']);
  await a.keyboard.press('Control+z');
  const doc = await converged([a, b], s.id, ['theirs = 2']);
  assert.ok(!doc.includes('mine = 1'), `Ada's edit undone: ${JSON.stringify(doc)}`);
  await Promise.all([a.context().close(), b.context().close()]);
});

async function setDoc(page, text) {
  await page.evaluate((t) => { const v = window.__collabd.view; v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: t } }); }, text);
}

async function runAndWait(page, states, timeout = 60000) {
  await page.click('#run');
  await page.waitForFunction((ss) => ss.includes(document.querySelector('#runner').dataset.state), states, { timeout });
  return page.textContent('#output');
}

test('P1 Run in browser: Pyodide from collabd prints, Stop and the timeout end runaway code', async () => {
  const s = await createSession(srv);
  // its own context, not openPage(): an interrupted run leaves Pyodide's webloop reporting the
  // KeyboardInterrupt as an unhandled error, which openPage would count as a page error
  const context = await browser.newContext();
  await context.addInitScript(() => { localStorage.setItem('collabd.name', 'Runner'); localStorage.setItem('collabd.runTimeoutMs', '3000'); });
  const page = await context.newPage();
  const wasm = [];
  page.on('response', (r) => { if (r.url().endsWith('.wasm')) wasm.push({ type: r.headers()['content-type'], enc: r.headers()['content-encoding'] }); });
  await page.goto(`${srv.base}/s/${s.id}`);
  await page.waitForSelector('#status[data-state="online"]');
  assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'COOP/COEP make the interrupt buffer possible');
  await setDoc(page, 'print(sum(range(10)))\nimport sys\nprint("oops", file=sys.stderr)\n6 * 7');
  const out = await runAndWait(page, ['done', 'failed']);
  assert.match(out, /^45\noops\n42\n$/);
  assert.equal(await page.textContent('#output .stderr'), 'oops\n');
  assert.deepEqual(wasm, [{ type: 'application/wasm', enc: 'br' }], 'the wasm came compressed, with its MIME type');
  // Stop interrupts a busy loop and the panel stays usable
  await setDoc(page, 'while True:\n    pass');
  await page.click('#run');
  await page.waitForTimeout(300);
  await page.click('#stop');
  await page.waitForFunction(() => ['stopped', 'failed'].includes(document.querySelector('#runner').dataset.state), null, { timeout: 5000 });
  assert.match(await page.textContent('#output'), /KeyboardInterrupt/);
  // the timeout does the same by itself
  const t0 = Date.now();
  const timedOut = await runAndWait(page, ['timed out'], 10000);
  assert.match(timedOut, /timed out after 3 s/);
  assert.ok(Date.now() - t0 < 8000);
  await setDoc(page, 'print("still here")');
  assert.match(await runAndWait(page, ['done']), /still here/);
  await context.close();
});

test('F3 Run on server: one page runs the shared document, both see the output, input() asks the starter', async () => {
  const s = await createSession(srv);
  const a = await openPage(s.id, 'Ada');
  const b = await openPage(s.id, 'Bob');
  await a.waitForSelector('#run-server:not([hidden])');
  await setDoc(a, 'name = input("Name? ")\nprint("Hello", name)\nsum(range(10))');
  await converged([a, b], s.id, ['sum(range(10))']);
  await a.click('#run-server');
  await a.waitForSelector('#stdin:not([hidden])');
  assert.equal(await b.isHidden('#stdin'), true, 'only the starter is asked');
  assert.match(await a.textContent('#stdin-prompt'), /Name\?/);
  await a.fill('#stdin-line', 'Grace');
  await a.press('#stdin-line', 'Enter');
  for (const p of [a, b]) {
    await p.waitForFunction(() => document.querySelector('#runner').dataset.state === 'done on server', null, { timeout: 15000 });
    const out = await p.textContent('#output');
    assert.match(out, /Hello Grace\n/);
    assert.match(out, /45\n$/);
  }
  // the room's variables persist: Bob's run sees Ada's name
  await setDoc(b, 'print(name.upper())');
  await converged([a, b], s.id, ['upper']);
  await b.click('#run-server');
  await a.waitForFunction(() => document.querySelector('#output').textContent.includes('GRACE'), null, { timeout: 15000 });
  await Promise.all([a.context().close(), b.context().close()]);
});

test('F4 every request went to collabd itself', () => {
  assert.deepEqual(foreign, []);
});
