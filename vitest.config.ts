/**
 * Three Vitest projects:
 * - `unit`: plain Node, `tests/unit/**`.
 * - `worker`: inside workerd (the Workers runtime) through
 *   `@cloudflare/vitest-plugin`, configured from ./wrangler.toml, so tests see the
 *   same bindings (the `ASSETS` static-assets binding over ./dist/public) and the
 *   same module rules (`.wasm` imports become precompiled `WebAssembly.Module`s)
 *   as the deployed Worker.
 * - `browser`: Node-side tests (`tests/browser/**`) driving Debian's Chromium through
 *   playwright-core against `wrangler dev` serving the built pages; one file at a time, so timings
 *   are not skewed by parallel browsers.
 *
 * Run through npx/npm scripts so that the project's Node 22 is used.
 */
import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default', './tests/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          environment: 'node',
          include: ['tests/unit/**/*.test.ts'],
        },
      },
      {
        plugins: [
          // The function form can read values that global setup `provide()`s,
          // through `inject`, e.g. to add bindings: `miniflare: { bindings: ... }`.
          cloudflareTest(() => ({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              bindings: { TANNERIN_DIAGNOSTICS: '1' },
            },
          })),
        ],
        test: {
          name: 'worker',
          include: ['tests/worker/**/*.test.ts'],
          globalSetup: ['./tests/worker/global-setup.ts'],
        },
      },
      {
        test: {
          name: 'browser',
          environment: 'node',
          include: ['tests/browser/**/*.test.ts'],
          globalSetup: ['./tests/browser/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 90_000,
          hookTimeout: 90_000,
        },
      },
    ],
  },
});
