/**
 * Vite builds the browser pages (`client/test-pages/*.html` for now; the app's pages later) into
 * dist/public, next to what the install step writes there (models/, models.json, the static page
 * from client/public, `_headers`). So the output directory is never emptied (`emptyOutDir: false`);
 * `scripts/build.ts` builds into a staging directory and swaps Vite's own output directories
 * (assets/, test-pages/) into dist/public.
 *
 * Vite 7 on purpose: Vite 8's minifier breaks TF.js's threaded WASM backend (its pthread workers
 * throw and `setBackend('wasm')` hangs; see FIELD-NOTES). The tests start the threaded build from
 * this output on a cross-origin-isolated page.
 */
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const ROOT = dirname(fileURLToPath(import.meta.url));
const CLIENT = join(ROOT, 'client');
/** Directories (under client/) whose `*.html` files are pages. */
const PAGE_DIRS = ['test-pages'];

function pages(): Record<string, string> {
  const input: Record<string, string> = {};
  for (const dir of PAGE_DIRS) {
    for (const file of readdirSync(join(CLIENT, dir))) {
      if (file.endsWith('.html')) input[`${dir}/${basename(file, '.html')}`] = join(CLIENT, dir, file);
    }
  }
  return input;
}

export default defineConfig({
  root: CLIENT,
  base: '/',
  // client/public is copied by scripts/build.ts (it predates Vite and is plain files).
  publicDir: false,
  logLevel: 'warn',
  build: {
    outDir: join(ROOT, 'dist', 'public'),
    emptyOutDir: false,
    assetsDir: 'assets',
    target: 'es2022',
    // Wasm binaries stay files (never data: URLs), fetched and compiled on demand.
    assetsInlineLimit: (file) => (file.endsWith('.wasm') ? false : undefined),
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 2048,
    rollupOptions: { input: pages() },
  },
});
