// runner-worker.js: runs Python in Pyodide, off the page's thread. Pyodide is loaded on the first
// run from collabd's own origin. Output is batched and posted as it comes; an interrupt buffer
// shared with the page (crossOriginIsolated) raises KeyboardInterrupt in runaway code.
/* global __PYODIDE_PATH__ */
let pyodide = null;
let interrupt = null;

async function load() {
  if (pyodide) return pyodide;
  postMessage({ type: 'loading' });
  const { loadPyodide } = await import(/* @vite-ignore */ `${__PYODIDE_PATH__}pyodide.mjs`);
  pyodide = await loadPyodide({ indexURL: __PYODIDE_PATH__ });
  if (interrupt) pyodide.setInterruptBuffer(interrupt);
  postMessage({ type: 'ready', version: pyodide.version });
  return pyodide;
}

let out = [], timer = null;
function emit(stream, text) {
  out.push({ stream, text });
  if (!timer) timer = setTimeout(flush, 30);
}
function flush() {
  clearTimeout(timer); timer = null;
  if (out.length) postMessage({ type: 'output', chunks: out });
  out = [];
}

onmessage = async (ev) => {
  const msg = ev.data;
  if (msg.type === 'interrupt-buffer') { interrupt = msg.buffer; if (pyodide) pyodide.setInterruptBuffer(interrupt); return; }
  if (msg.type !== 'run') return;
  const t0 = performance.now();
  try {
    const py = await load();
    py.setStdout({ batched: (s) => emit('stdout', s + '\n') });
    py.setStderr({ batched: (s) => emit('stderr', s + '\n') });
    if (interrupt) interrupt[0] = 0;
    postMessage({ type: 'started', id: msg.id });
    const result = await py.runPythonAsync(msg.code);
    flush();
    postMessage({ type: 'done', id: msg.id, ok: true, result: result === undefined ? null : String(result), ms: performance.now() - t0 });
  } catch (e) {
    flush();
    postMessage({ type: 'done', id: msg.id, ok: false, error: String(e.message || e), ms: performance.now() - t0 });
  }
};
