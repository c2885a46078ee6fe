// dashboard.js: the statistics page (/dashboard, /api/dashboard/stats/dashboard). Polls
// /api/dashboard/stats every 2 s (one request at a time) and draws the overview cards, three
// Chart.js charts (bundled by Vite: no CDN, nothing inline, so collabd's CSP holds) and the
// tables. Everything from the server is set as text, never as HTML: user agents come from
// clients. window.__collabdDashboard exposes the last figures and the charts to tests.
import {
  Chart, BarController, BarElement, CategoryScale, LinearScale, DoughnutController, ArcElement,
  LineController, LineElement, PointElement, Filler, Legend, Tooltip,
} from 'chart.js';
import './dashboard.css';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, DoughnutController, ArcElement,
  LineController, LineElement, PointElement, Filler, Legend, Tooltip);

const POLL_MS = 2000;
const $ = (id) => document.getElementById(id);
const palette = ['#d9480f', '#1c7ed6', '#2b8a3e', '#ae3ec9', '#f08c00', '#0c8599', '#e03131', '#5c940d', '#495057', '#862e9c'];
const state = { updates: 0, last: null, error: null, charts: {} };
window.__collabdDashboard = state;

const fmt = {
  int: (n) => Number(n || 0).toLocaleString('en-US'),
  ms: (n) => (n >= 100 ? `${Math.round(n)} ms` : `${Number(n || 0).toFixed(n >= 10 ? 1 : 2)} ms`),
  time: (iso) => (iso ? new Date(iso).toISOString().slice(11, 19) : '–'),
};

function text(id, value) {
  const el = $(id);
  if (el.textContent !== value) el.textContent = value;
}

function baseOptions(extra = {}) {
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    plugins: { legend: { display: false } },
    ...extra,
  };
}

function makeCharts() {
  Chart.defaults.font.family = 'system-ui, sans-serif';
  state.charts.hourly = new Chart($('chart-hourly'), {
    type: 'bar',
    data: {
      labels: [],
      datasets: [
        { label: 'succeeded', data: [], backgroundColor: '#2b8a3e', stack: 'runs' },
        { label: 'failed', data: [], backgroundColor: '#e03131', stack: 'runs' },
      ],
    },
    options: baseOptions({
      plugins: { legend: { display: true, position: 'bottom' } },
      scales: { x: { stacked: true, ticks: { maxRotation: 0, autoSkipPadding: 8 } },
                y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
    }),
  });
  state.charts.errors = new Chart($('chart-errors'), {
    type: 'doughnut',
    data: { labels: [], datasets: [{ data: [], backgroundColor: palette }] },
    options: baseOptions({ plugins: { legend: { display: true, position: 'right' } } }),
  });
  state.charts.messages = new Chart($('chart-messages'), {
    type: 'line',
    data: { labels: Array.from({ length: 60 }, (_, i) => (i % 10 === 0 ? `-${60 - i}s` : '')),
            datasets: [{ label: 'messages/s', data: [], borderColor: '#1c7ed6', backgroundColor: '#1c7ed633', fill: true, pointRadius: 0, cubicInterpolationMode: 'monotone' }] },
    options: baseOptions({ scales: { x: { ticks: { autoSkip: false, maxRotation: 0 } }, y: { beginAtZero: true, ticks: { precision: 0 } } } }),
  });
}

function fillTable(id, rows, cells) {
  const body = $(id).tBodies[0];
  body.replaceChildren(...rows.map((row) => {
    const tr = document.createElement('tr');
    for (const c of cells(row)) {
      const td = document.createElement('td');
      if (typeof c === 'object') {
        td.textContent = c.text;
        if (c.className) td.className = c.className;
        if (c.title) td.title = c.title;
      } else {
        td.textContent = c;
      }
      tr.append(td);
    }
    return tr;
  }));
  if (!rows.length) {
    const tr = document.createElement('tr');
    const td = document.createElement('td');
    td.colSpan = $(id).tHead.rows[0].cells.length;
    td.className = 'none';
    td.textContent = 'Nothing yet.';
    tr.append(td);
    body.append(tr);
  }
}

function render(j) {
  const s = j.stats;
  const o = s.overview;
  const c = s.collab;
  text('c-total', fmt.int(o.totalExecutions));
  text('c-total-sub', `${fmt.int(o.successfulExecutions)} ok · ${fmt.int(o.failedExecutions)} failed · ${fmt.int(o.lastHourExecutions)} this hour`);
  text('c-rate', o.totalExecutions ? `${o.successRate.toFixed(1)} %` : '–');
  text('c-rate-sub', o.pythonEnabled ? (o.pythonReady ? 'server Python ready' : 'server Python starting') : 'server Python off');
  text('c-avg', o.totalExecutions ? fmt.ms(o.averageExecutionTime) : '–');
  text('c-avg-sub', o.totalExecutions ? `p50 ${fmt.ms(o.executionTimeMs.p50)} · p99 ${fmt.ms(o.executionTimeMs.p99)}` : '');
  text('c-sessions', fmt.int(c.sessions));
  text('c-sessions-sub', `${fmt.int(c.sessionsCreated)} created`);
  text('c-connections', fmt.int(c.connections));
  text('c-connections-sub', `${fmt.int(c.connectionsOpened)} opened`);
  text('c-mps', c.messagesPerSecond.toFixed(c.messagesPerSecond >= 100 ? 0 : 1));
  text('c-mps-sub', `${fmt.int(c.messagesReceived)} received · ${fmt.int(c.messagesSent)} sent`);
  text('c-push', c.pushes ? fmt.ms(c.pushLatencyMs.p99) : '–');
  text('c-push-sub', c.pushes ? `p99 · p50 ${fmt.ms(c.pushLatencyMs.p50)} · ${fmt.int(c.pushes)} pushes` : 'no pushes yet');
  text('c-uptime', o.uptimeHuman);
  text('c-uptime-sub', `${fmt.int(s.http.requests)} HTTP requests · ${fmt.int(s.http.rateLimited)} limited`);
  text('since', new Date(o.statsSince).toISOString().replace('T', ' ').slice(0, 19) + ' UTC');

  const h = state.charts.hourly;
  h.data.labels = s.hourly.map((x) => `${new Date(x.hour).toISOString().slice(11, 13)}:00`);
  h.data.datasets[0].data = s.hourly.map((x) => x.executions - x.failed);
  h.data.datasets[1].data = s.hourly.map((x) => x.failed);
  h.update('none');
  const e = state.charts.errors;
  e.data.labels = s.topErrors.map((x) => x.name);
  e.data.datasets[0].data = s.topErrors.map((x) => x.count);
  e.update('none');
  $('errors-empty').hidden = s.topErrors.length > 0;
  const m = state.charts.messages;
  m.data.datasets[0].data = c.messageRate;
  m.update('none');

  fillTable('t-ips', s.topIPs, (x) => [{ text: x.name, className: 'mono' }, { text: fmt.int(x.count), className: 'num' }]);
  fillTable('t-uas', s.userAgents, (x) => [{ text: x.name, className: 'ua', title: x.name }, { text: fmt.int(x.count), className: 'num' }]);
  fillTable('t-recent', s.recent, (x) => [
    fmt.time(x.time), { text: x.ip, className: 'mono' }, x.source,
    { text: x.outcome, className: x.success ? 'ok' : 'bad' },
    { text: x.ms == null ? '–' : fmt.ms(x.ms).replace(' ms', ''), className: 'num' },
    { text: x.codeSha256.slice(0, 12), className: 'mono', title: x.codeSha256 },
  ]);
}

async function poll() {
  try {
    const r = await fetch('/api/dashboard/stats', { cache: 'no-store' });
    const j = await r.json();
    if (!r.ok) throw new Error(j?.error?.message || `HTTP ${r.status}`);
    render(j);
    state.last = j;
    state.updates++;
    state.error = null;
    $('live').dataset.state = 'online';
    text('live', `live · ${fmt.time(j.timestamp)}`);
  } catch (err) {
    state.error = String(err?.message || err);
    $('live').dataset.state = 'offline';
    text('live', `offline · retrying (${state.error})`);
  }
  setTimeout(poll, POLL_MS);
}

makeCharts();
poll();
