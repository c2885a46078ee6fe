// Vite builds the page into dist/, which collabd serves at / (hashed files under /assets/ get
// a one-year immutable cache from collabd). No CDN: every module is bundled.
import { defineConfig } from 'vite';

export default defineConfig({
  publicDir: false, // frontend/public is the plain page the integration tests serve
  build: { outDir: 'dist', assetsDir: 'assets', emptyOutDir: true, target: 'es2022' },
});
