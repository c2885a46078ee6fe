// Vite builds the page into dist/, which collabd serves at / (hashed files under /assets/ get
// a one-year immutable cache from collabd). No CDN: every module is bundled, and the Pyodide
// core from the pinned npm package is copied to /assets/pyodide-<version>/ (the version in the
// path makes the immutable cache safe) with .br and .gz copies that collabd serves to browsers
// that accept them (the 9.6 MB wasm is about 2.7 MB in brotli).
import { defineConfig } from 'vite';
import { readFileSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { brotliCompressSync, gzipSync, constants } from 'node:zlib';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pyodideDir = join(here, 'node_modules', 'pyodide');
const pyodideVersion = JSON.parse(readFileSync(join(pyodideDir, 'package.json'), 'utf8')).version;
export const PYODIDE_PATH = `/assets/pyodide-${pyodideVersion}/`;
const CORE = ['pyodide.mjs', 'pyodide.asm.mjs', 'pyodide.asm.wasm', 'python_stdlib.zip', 'pyodide-lock.json'];

function copyPyodide() {
  let outDir = 'dist';
  return {
    name: 'collabd-pyodide',
    configResolved(c) { outDir = c.build.outDir; },
    closeBundle() {
      const dest = join(here, outDir, PYODIDE_PATH);
      mkdirSync(dest, { recursive: true });
      for (const f of CORE) {
        copyFileSync(join(pyodideDir, f), join(dest, f));
        if (f === 'pyodide.mjs' || f === 'pyodide-lock.json') continue;
        const data = readFileSync(join(pyodideDir, f));
        writeFileSync(join(dest, f + '.br'), brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 9, [constants.BROTLI_PARAM_SIZE_HINT]: data.length } }));
        writeFileSync(join(dest, f + '.gz'), gzipSync(data, { level: 9 }));
      }
    },
  };
}

export default defineConfig({
  publicDir: false, // frontend/public is the plain page the integration tests serve
  define: { __PYODIDE_PATH__: JSON.stringify(PYODIDE_PATH) },
  worker: { format: 'es' },
  plugins: [copyPyodide()],
  build: {
    outDir: 'dist', assetsDir: 'assets', emptyOutDir: true, target: 'es2022',
    // two pages: the editor, and the statistics dashboard (collabd serves it at /dashboard)
    rollupOptions: { input: { main: join(here, 'index.html'), dashboard: join(here, 'dashboard.html') } },
  },
});
