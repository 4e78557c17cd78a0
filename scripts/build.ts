/**
 * Builds everything the Worker serves into dist/public, in an order that keeps every part:
 * 1. the model files and manifest (prepare-models; replaces only dist/public/models/),
 * 2. the static page from client/public,
 * 3. the Vite build: the app (client/index.html, its service worker, web app manifest and icons)
 *    and the test pages (client/test-pages/*.html) with their assets — Vite never empties
 *    dist/public; only its own outputs are replaced,
 * 4. the `_headers` rules for static assets.
 * Vite runs in a child process so that `build()` stays synchronous for its callers.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PUBLIC_DIR, prepareModels } from './prepare-models.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Directories of dist/public that Vite writes (replaced as a whole by each Vite build). */
export const VITE_OUTPUT = ['assets', 'test-pages', 'icons'];
/** Files at the root of dist/public that Vite writes; the service worker goes last (module comment of buildPages). */
const VITE_ROOT_FILES = ['index.html', 'manifest.webmanifest'];
const SERVICE_WORKER = 'sw.js';
/** Workbox's runtime next to the service worker (`workbox-<hash>.js`). */
const WORKBOX_RUNTIME = /^workbox-[\w-]+\.js$/;

/**
 * The app page's Content-Security-Policy: no inline script or style, nothing from another origin,
 * and only what the app uses. Each allowance beyond `'self'` and why:
 * - `script-src 'wasm-unsafe-eval'`: compiling WebAssembly (the TF.js backend, the JPEG decoder);
 *   it allows no JavaScript `eval`;
 * - `script-src blob:`: the threaded build's pthread workers are Blob URLs (they inherit this
 *   policy) that load the Emscripten glue with `importScripts(blob:…)`; without it those workers
 *   fail and the app falls back to the slower single-thread build. Only script the page itself
 *   made into a Blob can match, and that needs script running already;
 * - `worker-src blob:`: those pthread workers (`'self'`: the service worker, /sw.js);
 * - `img-src blob:`: photos and thumbnails are shown from Blob URLs.
 * Everything the page fetches (model files, wasm binaries, the edge API, sync) is on its own
 * origin: `GET /v1/models` answers URLs built from the origin it was asked on, so a proxy in front
 * of the Worker must pass the `Host` it was asked for. The camera is a MediaStream (`srcObject`),
 * which no fetch directive governs. Styles: the bundled stylesheet only; the app sizes elements
 * through `element.style` (CSSOM, which a policy does not block), never `style` attributes.
 * `object-src 'none'`, `base-uri 'self'`, `form-action 'self'`, `frame-ancestors 'none'`: no
 * plugins, no `<base>` hijack, no form posts elsewhere, never framed.
 * The service worker keeps the header with the page it caches, so the policy holds offline too.
 * Tested in every engine (tests/browser/cross-engine-app.test.ts).
 */
export const APP_CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval' blob:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "img-src 'self' blob:",
  "style-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Static asset headers:
 * - model files are content-addressed, so cached forever; CORP lets cross-origin-isolated pages
 *   (and other origins) load them;
 * - Vite's assets are content-hashed too;
 * - the app (`/`) and the pages under /test-pages/isolated/ are cross-origin isolated (COOP +
 *   COEP), which lets TF.js use SharedArrayBuffer and the threaded WASM build; /test-pages/ itself
 *   is not, so the tests cover both;
 * - the app's HTML, service worker and web app manifest are revalidated on every load, so a new
 *   deployment is seen at once (the service worker then offers the update);
 * - the app's HTML has a Content-Security-Policy ({@link APP_CSP}).
 */
const HEADERS = `/models/*
  Cache-Control: public, max-age=31536000, immutable
  Access-Control-Allow-Origin: *
  Cross-Origin-Resource-Policy: cross-origin
  X-Content-Type-Options: nosniff
/models.json
  Cache-Control: no-cache
  Access-Control-Allow-Origin: *
/assets/*
  Cache-Control: public, max-age=31536000, immutable
  Cross-Origin-Resource-Policy: same-origin
  X-Content-Type-Options: nosniff
/test-pages/isolated/*
  Cross-Origin-Opener-Policy: same-origin
  Cross-Origin-Embedder-Policy: require-corp
/
  Cross-Origin-Opener-Policy: same-origin
  Cross-Origin-Embedder-Policy: require-corp
  Content-Security-Policy: ${APP_CSP}
  Cache-Control: no-cache
/index.html
  Cross-Origin-Opener-Policy: same-origin
  Cross-Origin-Embedder-Policy: require-corp
  Content-Security-Policy: ${APP_CSP}
  Cache-Control: no-cache
/sw.js
  Cache-Control: no-cache
/manifest.webmanifest
  Cache-Control: no-cache
/icons/*
  Cache-Control: public, max-age=86400
  Cross-Origin-Resource-Policy: same-origin
`;

/**
 * Builds the Vite pages into dist/public (synchronously, in a child process). Vite writes into a
 * staging directory first; each of its outputs is then swapped in by rename, so a server running
 * on dist/public (another `npm start`, the browser tests) never sees the pages missing for the
 * length of a build. The service worker is renamed in last: a browser that sees the new one finds
 * every file it precaches already there.
 */
export function buildPages(): void {
  const staging = join(ROOT, 'dist', `.pages-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  try {
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join(ROOT, 'vite.config.ts'), '--outDir', staging, '--emptyOutDir'],
      { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
    );
    // The isolated copy of each test page: same HTML (asset URLs are absolute), another path, so
    // `_headers` can give it COOP/COEP.
    const pages = join(staging, 'test-pages');
    mkdirSync(join(pages, 'isolated'), { recursive: true });
    for (const file of readdirSync(pages)) {
      if (file.endsWith('.html')) cpSync(join(pages, file), join(pages, 'isolated', file));
    }
    for (const dir of VITE_OUTPUT) {
      const target = join(PUBLIC_DIR, dir);
      const old = `${target}.old-${process.pid}`;
      if (existsSync(target)) renameSync(target, old);
      renameSync(join(staging, dir), target);
      rmSync(old, { recursive: true, force: true });
    }
    const runtimes = readdirSync(staging).filter((f) => WORKBOX_RUNTIME.test(f));
    for (const file of [...VITE_ROOT_FILES, ...runtimes, SERVICE_WORKER]) renameSync(join(staging, file), join(PUBLIC_DIR, file));
    for (const file of readdirSync(PUBLIC_DIR)) {
      if (WORKBOX_RUNTIME.test(file) && !runtimes.includes(file)) rmSync(join(PUBLIC_DIR, file));
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Builds dist/public. `pages: false` skips the Vite build (models, static page and headers only). */
export function build(options: { pages?: boolean } = {}): void {
  prepareModels();
  cpSync(join(ROOT, 'client', 'public'), PUBLIC_DIR, { recursive: true });
  if (options.pages ?? true) buildPages();
  writeFileSync(join(PUBLIC_DIR, '_headers'), HEADERS);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  build();
  console.log(`tannerin: built ${PUBLIC_DIR}`);
}
