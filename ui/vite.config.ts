import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The console is served by `credreg serve` at /ui from dist/ui (src/http/console-routes.ts).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  publicDir: false,
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    // Every asset a file of its own: the CSP allows no data: script or style, and hashed files cache for good.
    assetsInlineLimit: 0,
    // Chromium, Firefox and Safari all preload modules natively; the polyfill would be dead weight.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
});
