// A5 in a real browser (Debian's chromium through playwright-core): the statistics dashboard
// that collabd serves (frontend/dashboard.html, built by Vite with Chart.js bundled) shows the
// right figures after real runs (POST /api/execute) and real edits (a WebSocket client
// pushing changes), draws its charts, refreshes by itself, obeys collabd's CSP (no violation,
// nothing fetched from another origin), and fits a 390 px phone screen without sideways
// scrolling. Screenshots: test-artifacts/dashboard.png and dashboard-phone.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startServer, createSession, api, Client, repo } from '../integration/lib/server.mjs';

const dist = join(repo, 'frontend', 'dist');
const artifacts = join(repo, 'test-artifacts');
const UA = 'dashboard-test/1.0';
const sha = (s) => createHash('sha256').update(s).digest('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let srv, browser, editors, version = 0;
const problems = [];

before(async () => {
  assert.ok(existsSync(join(dist, 'dashboard.html')), 'frontend/dist is built (deploy/build-frontend.sh)');
  srv = await startServer(['--static-dir', dist]);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const s = await createSession(srv);
  editors = [await Client.open(srv, s.id, '?userId=ed1'), await Client.open(srv, s.id, '?userId=ed2')];
  await editors[0].next('sync');
  await editors[1].next('sync');
});
after(async () => {
  await Promise.all((editors || []).map((c) => c.close()));
  await browser?.close();
  await srv?.stop();
});

const programs = ['print("a")\n1', 'x = [i * i for i in range(100)]\nsum(x)', '"ok"', 'def f(:\n  pass', 'undefined_name_zz + 1'];
const exec = (code) => api(srv, 'POST', '/api/execute', { body: { code }, headers: { 'user-agent': UA } });

// n pushes, each confirmed, at most one every gapMs (the per-connection limit is 100/s)
async function push(n, gapMs = 0) {
  for (let i = 0; i < n; i++) {
    if (gapMs) await sleep(gapMs);
    editors[0].send({ type: 'push', version, updates: [{ clientID: 'ed1', changes: version ? [version, [0, 'x']] : [[0, 'x']] }] });
    await editors[1].next('update');
    version++;
  }
}

async function openDashboard(viewport, path = '/api/dashboard/stats/dashboard') {
  const context = await browser.newContext({ viewport, deviceScaleFactor: viewport.width < 500 ? 2 : 1, isMobile: viewport.width < 500 });
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = await context.newPage();
  page.on('request', (r) => { if (!r.url().startsWith(srv.base)) problems.push(`foreign request ${r.url()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  await page.goto(srv.base + path);
  return page;
}

const waitText = (page, sel, want, timeout = 8000) =>
  page.waitForFunction(([s, w]) => document.querySelector(s)?.textContent === w, [sel, want], { timeout });

// Pixels drawn on a canvas (not transparent), to know a chart was really painted.
const inked = (page, id) => page.evaluate((i) => {
  const c = document.getElementById(i);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let k = 3; k < d.length; k += 4) if (d[k]) n++;
  return n;
}, id);

test('A5 the dashboard shows the right figures and charts, refreshes live, obeys the CSP', async () => {
  for (const p of programs) await exec(p);
  await push(30, 12);

  const page = await openDashboard({ width: 1280, height: 900 });
  await waitText(page, '#c-total', '5');
  assert.equal(await page.textContent('#c-rate'), '60.0 %');
  assert.match(await page.textContent('#c-total-sub'), /^3 ok · 2 failed · 5 this hour$/);
  assert.match(await page.textContent('#c-avg'), /^\d+(\.\d+)? ms$/);
  assert.equal(await page.textContent('#c-connections'), '2');
  assert.equal(await page.textContent('#c-sessions'), '1');
  assert.match(await page.textContent('#c-push'), /ms$/);
  assert.match(await page.textContent('#c-push-sub'), /30 pushes/);
  assert.equal(await page.getAttribute('#live', 'data-state'), 'online');

  // tables: the client's address and agent, the runs newest first, by the hash of the program
  assert.deepEqual(await page.$$eval('#t-ips tbody tr', (rs) => rs.map((r) => [...r.cells].map((c) => c.textContent))), [['127.0.0.1', '5']]);
  assert.deepEqual(await page.$$eval('#t-uas tbody tr', (rs) => rs.map((r) => [...r.cells].map((c) => c.textContent))), [[UA, '5']]);
  const recent = await page.$$eval('#t-recent tbody tr', (rs) => rs.map((r) => [...r.cells].map((c) => [c.textContent, c.title])));
  assert.equal(recent.length, 5);
  assert.deepEqual(recent.map((r) => r[3][0]), ['runtime', 'syntax', 'success', 'success', 'success']);
  assert.deepEqual(recent.map((r) => r[5][1]), programs.map(sha).reverse());
  assert.equal(recent[0][5][0], sha(programs[4]).slice(0, 12));
  const body = await page.textContent('body');
  assert.ok(!body.includes('undefined_name_zz') && !body.includes('range(100)'), 'never the code');

  // charts hold the right data and were painted
  const charts = await page.evaluate(() => {
    const c = window.__collabdDashboard.charts;
    return {
      ok: c.hourly.data.datasets[0].data, failed: c.hourly.data.datasets[1].data, hours: c.hourly.data.labels,
      errors: Object.fromEntries(c.errors.data.labels.map((l, i) => [l, c.errors.data.datasets[0].data[i]])),
      messages: c.messages.data.datasets[0].data,
    };
  });
  assert.equal(charts.ok.length, 24);
  assert.equal(charts.ok[23], 3);
  assert.equal(charts.failed[23], 2);
  assert.equal(charts.ok.slice(0, 23).reduce((a, b) => a + b, 0), 0);
  assert.equal(charts.hours[23], `${String(new Date().getUTCHours()).padStart(2, '0')}:00`);
  assert.deepEqual(charts.errors, { runtime: 1, syntax: 1 });
  assert.equal(charts.messages.length, 60);
  for (const id of ['chart-hourly', 'chart-errors', 'chart-messages']) assert.ok(await inked(page, id) > 500, `${id} is drawn`);

  // live: new runs and edits show up without reloading
  const updates = await page.evaluate(() => window.__collabdDashboard.updates);
  await exec('raise MemoryError()');
  const t0 = Date.now();
  while (Date.now() - t0 < 2500) await push(1, 20); // a steady stream, about 40 pushes a second
  await waitText(page, '#c-total', '6');
  await page.waitForFunction(() => window.__collabdDashboard.last.stats.collab.messagesPerSecond > 0, null, { timeout: 8000 });
  await page.waitForFunction(() => Number(document.querySelector('#c-mps').textContent) > 0, null, { timeout: 8000 });
  assert.ok(await page.evaluate(() => window.__collabdDashboard.updates) > updates);
  const errs = await page.evaluate(() => Object.fromEntries(window.__collabdDashboard.charts.errors.data.labels.map((l, i) => [l, window.__collabdDashboard.charts.errors.data.datasets[0].data[i]])));
  assert.deepEqual(errs, { memory: 1, runtime: 1, syntax: 1 });
  assert.ok((await page.evaluate(() => window.__collabdDashboard.charts.messages.data.datasets[0].data)).some((v) => v > 0));

  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, 'dashboard.png'), fullPage: true });
  assert.deepEqual(await page.evaluate(() => window.__csp), []);
  await page.context().close();
});

test('A5 on a 390 px phone: one column, no sideways scrolling; /dashboard serves the same page', async () => {
  const page = await openDashboard({ width: 390, height: 844 }, '/dashboard');
  await waitText(page, '#c-total', '6');
  await page.waitForFunction(() => window.__collabdDashboard.updates >= 1);
  const layout = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    cardsPerRow: new Set([...document.querySelectorAll('.card')].map((c) => c.getBoundingClientRect().top)).size,
    cards: document.querySelectorAll('.card').length,
    panels: [...document.querySelectorAll('.panel')].map((p) => Math.round(p.getBoundingClientRect().width)),
  }));
  assert.ok(layout.scroll <= 390, `page is ${layout.scroll} px wide`);
  assert.equal(layout.cardsPerRow, layout.cards / 2, 'two cards a row');
  assert.ok(layout.panels.every((w) => w <= 380 && w >= 300), JSON.stringify(layout.panels));
  for (const id of ['chart-hourly', 'chart-errors', 'chart-messages']) assert.ok(await inked(page, id) > 500, `${id} is drawn`);
  await page.screenshot({ path: join(artifacts, 'dashboard-phone.png'), fullPage: true });
  assert.deepEqual(await page.evaluate(() => window.__csp), []);
  await page.context().close();
  assert.deepEqual(problems, []);
});
