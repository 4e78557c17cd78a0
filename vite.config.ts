/**
 * Vite builds the browser pages (the app, `client/index.html`, and `client/test-pages/*.html`) into
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
import { defineConfig, type Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { appIcons } from './scripts/icons.ts';

const ROOT = dirname(fileURLToPath(import.meta.url));
const CLIENT = join(ROOT, 'client');
/** Directories (under client/) whose `*.html` files are pages. */
const PAGE_DIRS = ['test-pages'];

function pages(): Record<string, string> {
  const input: Record<string, string> = { index: join(CLIENT, 'index.html') };
  for (const dir of PAGE_DIRS) {
    for (const file of readdirSync(join(CLIENT, dir))) {
      if (file.endsWith('.html')) input[`${dir}/${basename(file, '.html')}`] = join(CLIENT, dir, file);
    }
  }
  return input;
}

/** Emits the app's icons (drawn by scripts/icons.ts) into the build, before the service worker is generated. */
function icons(): Plugin {
  return {
    name: 'tannerin-icons',
    apply: 'build',
    generateBundle() {
      for (const icon of appIcons()) this.emitFile({ type: 'asset', fileName: icon.fileName, source: icon.bytes });
    },
  };
}

/**
 * The service worker: Workbox precaches the app shell (HTML, JS, CSS, the TF.js and decoder wasm
 * binaries, icons) so the app opens offline. Not precached: the model files (the library keeps
 * them in IndexedDB: stored once, not twice), the API, and the test pages. Navigations fall back to
 * the app's index.html except for those paths. `prompt`: a new version waits until the app asks
 * the person to reload, so nothing is cut off mid-training.
 */
const pwa = VitePWA({
  registerType: 'prompt',
  injectRegister: false,
  strategies: 'generateSW',
  filename: 'sw.js',
  manifestFilename: 'manifest.webmanifest',
  includeAssets: [],
  manifest: {
    name: 'tannerin — teach your own image classes',
    short_name: 'tannerin',
    description: 'Teach your phone your own image classes. Trains and predicts on the device, works offline.',
    start_url: '/',
    scope: '/',
    display: 'standalone',
    orientation: 'portrait',
    background_color: '#f6f7f5',
    theme_color: '#1d4e3f',
    icons: [
      { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png' },
      { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png' },
      { src: '/icons/maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
    ],
  },
  workbox: {
    globPatterns: ['index.html', 'assets/**/*.{js,css,wasm}', 'icons/*.png', 'manifest.webmanifest'],
    globIgnores: ['test-pages/**', 'assets/test-pages/**', 'models/**'],
    // The TF.js wasm binaries are several MB each.
    maximumFileSizeToCacheInBytes: 16 * 1024 * 1024,
    navigateFallback: '/index.html',
    navigateFallbackDenylist: [/^\/v1\//, /^\/models/, /^\/test-pages\//, /^\/_diag\//, /^\/healthz/, /^\/api\.html/, /^\/manifest-page\.js/],
    cleanupOutdatedCaches: true,
    clientsClaim: false,
    skipWaiting: false,
    // Hashed asset names make the revision; index.html gets a content revision from Workbox.
    dontCacheBustURLsMatching: /^assets\//,
  },
  devOptions: { enabled: false },
});

export default defineConfig({
  root: CLIENT,
  base: '/',
  // client/public is copied by scripts/build.ts (it predates Vite and is plain files).
  publicDir: false,
  logLevel: 'warn',
  plugins: [icons(), pwa],
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
