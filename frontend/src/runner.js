// runner.js: the run panel. "Run in browser" executes the editor's document in Pyodide inside a
// Web Worker (runner-worker.js), shows stdout and stderr as they come, and stops runaway code:
// Stop (and the timeout) raise KeyboardInterrupt through the shared interrupt buffer; a program
// that ignores it within a second has its worker terminated and replaced. The timeout counts
// from the moment the program starts ('started' from the worker), not from the click: the first
// run also loads Pyodide, which takes seconds on a slow machine.
// "Run on server" appears when collabd offers server-side Python (/health): the room's run,
// started by anyone, streams into every participant's panel; input() asks the starter here.
const TIMEOUT_MS = 30000;

export function createRunner(root, getCode) {
  const $ = (s) => root.querySelector(s);
  const out = $('#output'), status = $('#run-status');
  const timeoutMs = Number(localStorage.getItem('collabd.runTimeoutMs')) || TIMEOUT_MS;
  let worker = null, interrupt = null, running = null, seq = 0;

  function spawn() {
    worker = new Worker(new URL('./runner-worker.js', import.meta.url), { type: 'module' });
    interrupt = globalThis.crossOriginIsolated ? new Uint8Array(new SharedArrayBuffer(1)) : null;
    if (interrupt) worker.postMessage({ type: 'interrupt-buffer', buffer: interrupt });
    worker.onmessage = (ev) => onMessage(ev.data);
    worker.onerror = (e) => { write('stderr', `worker error: ${e.message}\n`); finish(false); };
  }

  function write(stream, text) {
    const span = document.createElement('span');
    span.className = stream;
    span.textContent = text;
    out.appendChild(span);
    out.scrollTop = out.scrollHeight;
  }

  function setStatus(s) { status.textContent = s; root.dataset.state = s; }

  function finish(ok, note) {
    if (!running) return;
    clearTimeout(running.timer); clearTimeout(running.kill);
    running = null;
    $('#run').disabled = false; $('#stop').disabled = true;
    setStatus(note || (ok ? 'done' : 'failed'));
  }

  function onMessage(m) {
    if (m.type === 'loading') setStatus('loading Python…');
    else if (m.type === 'started' && running && m.id === running.id) {
      // the clock starts with the program, not with the first load of Pyodide (seconds)
      setStatus('running');
      running.timer = setTimeout(() => stop('timeout'), timeoutMs);
    }
    else if (m.type === 'output') for (const c of m.chunks) write(c.stream, c.text);
    else if (m.type === 'done' && running && m.id === running.id) {
      if (!m.ok) write('stderr', m.error + '\n');
      else if (m.result !== null) write('result', m.result + '\n');
      finish(m.ok, running.stopped === 'timeout' ? 'timed out' : running.stopped ? 'stopped' : undefined);
    }
  }

  function stop(reason) {
    if (!running) return;
    running.stopped = reason;
    setStatus(reason === 'timeout' ? 'timed out' : 'stopping');
    if (reason === 'timeout') write('stderr', `timed out after ${timeoutMs / 1000} s\n`);
    if (interrupt) interrupt[0] = 2; // SIGINT: KeyboardInterrupt at the next bytecode check
    running.kill = setTimeout(() => { // it ignored the interrupt: replace the worker
      worker.terminate(); worker = null;
      write('stderr', 'the program did not stop: its worker was replaced\n');
      finish(false, reason === 'timeout' ? 'timed out' : 'stopped');
    }, 1000);
  }

  $('#run').addEventListener('click', () => {
    if (running) return;
    if (!worker) spawn();
    out.replaceChildren();
    const id = ++seq;
    running = { id, stopped: false, timer: null };
    $('#run').disabled = true; $('#stop').disabled = false;
    setStatus('running');
    worker.postMessage({ type: 'run', id, code: getCode() });
  });
  $('#stop').addEventListener('click', () => (server.runId ? serverStop() : stop('stop')));

  // ---- Run on server: the room's run, seen by everyone in the room -------------------------
  // The server runs the shared document in the room's Python context (variables persist
  // between runs); run_* messages from collabd drive the same panel on every page.
  const server = { runId: null, mine: null, send: null };
  function serverStop() { if (server.runId) server.send?.({ type: 'run_stop', runId: server.runId }); }
  function enableServer(send) {
    server.send = send;
    $('#run-server').hidden = false;
  }
  $('#run-server').addEventListener('click', () => {
    if (running || server.runId || !server.send) return;
    out.replaceChildren();
    setStatus('queued on server');
    server.mine = true;
    server.send({ type: 'run' });
  });
  $('#stdin').addEventListener('submit', (e) => {
    e.preventDefault();
    const line = $('#stdin-line').value;
    $('#stdin-line').value = '';
    $('#stdin').hidden = true;
    if (server.pending) server.send?.({ type: 'run_input', runId: server.pending, line });
    server.pending = null;
  });
  function onServerMessage(m) {
    if (m.type === 'error' && server.mine && !server.runId) { // the run was refused
      write('stderr', `${m.message}\n`);
      server.mine = null;
      setStatus('failed on server');
      return;
    }
    if (m.type === 'run_accepted') { server.runId = m.runId; return; }
    if (!m.type?.startsWith('run_') || m.type === 'run_reset_accepted') return;
    if (m.type === 'run_queued') { setStatus(`queued on server (${m.by.userName}, #${m.position})`); return; }
    if (m.type === 'run_started') {
      if (m.runId !== server.runId) { out.replaceChildren(); server.mine = false; }
      server.runId = m.runId;
      $('#run').disabled = true; $('#run-server').disabled = true; $('#stop').disabled = false;
      setStatus(`running on server (${m.by.userName})`);
    } else if (m.type === 'run_output' && m.runId === server.runId) {
      write(m.stream, m.text);
    } else if (m.type === 'run_input_request' && m.runId === server.runId) {
      server.pending = m.runId;
      $('#stdin-prompt').textContent = m.prompt || 'input()';
      $('#stdin').hidden = false;
      $('#stdin-line').focus();
    } else if (m.type === 'run_done' && m.runId === server.runId) {
      if (!m.success) write('stderr', (m.traceback || m.error || 'failed') + (m.traceback ? '' : '\n'));
      else if (m.result !== null && m.result !== undefined) write('result', (typeof m.result === 'string' ? m.result : JSON.stringify(m.result)) + '\n');
      server.runId = null; server.pending = null;
      $('#stdin').hidden = true;
      $('#run').disabled = false; $('#run-server').disabled = false; $('#stop').disabled = true;
      setStatus(m.success ? 'done on server' : m.errorType === 'interrupted' || m.errorType === 'cancelled' ? 'stopped' : 'failed on server');
    }
  }
  return { stop, enableServer, onServerMessage };
}
