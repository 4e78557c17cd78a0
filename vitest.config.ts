/**
 * Three Vitest projects:
 * - `unit`: plain Node, `tests/unit/**`.
 * - `worker`: inside workerd (the Workers runtime) through
 *   `@cloudflare/vitest-plugin`, configured from ./wrangler.toml, so tests see the
 *   same bindings (the `ASSETS` static-assets binding over ./dist/public, D1 `DB`,
 *   R2 `HEADS`, both in local storage) and the same module rules (`.wasm` imports
 *   become precompiled `WebAssembly.Module`s) as the deployed Worker. The D1
 *   migrations are read here and applied by tests/worker/apply-migrations.ts; the
 *   rate limits (D1 rules and rate limiting bindings) are raised so that only the tests that mean
 *   to hit them do, and those get low-limit bindings of their own.
 * - `browser`: Node-side tests (`tests/browser/**`) driving Debian's Chromium through
 *   playwright-core, and (the `cross-engine-*` files, through tests/browser/engine.ts) also
 *   Firefox ESR (puppeteer-core, WebDriver BiDi) and WebKitGTK (WebDriver), against `wrangler dev`
 *   serving the built pages; one file at a time, so timings are not skewed by parallel browsers.
 *
 * Run through npx/npm scripts so that the project's Node 22 is used.
 */
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';
import { uniformRateLimits } from './worker/rate-limit/d1-config.ts';

export default defineConfig({
  test: {
    reporters: ['default', './tests/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          environment: 'node',
          include: ['tests/unit/**/*.test.ts'],
          // Several unit tests run real forward passes, training or fine-tuning steps; on a loaded
          // 2-core machine vitest's default 5 s cut one off. A safety limit, not a timing assertion.
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        plugins: [
          // The function form can read values that global setup `provide()`s,
          // through `inject`, e.g. to add bindings: `miniflare: { bindings: ... }`.
          cloudflareTest(async () => ({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              bindings: {
                TANNERIN_DIAGNOSTICS: '1',
                TEST_MIGRATIONS: await readD1Migrations('./migrations'),
                // High enough that no test is limited by accident; the limiter's own tests pass
                // low limits to an app of their own (tests/worker/rate-limit.test.ts).
                RATE_LIMITS: uniformRateLimits(100_000),
                // The operator API's secret (tests read it from env; tests/worker/operator.test.ts).
                OPERATOR_TOKEN: 'test-operator-token-0123456789abcdef',
              },
              // The rate limiting bindings of wrangler.toml, raised like RATE_LIMITS (they are
              // real miniflare limiters, keyed by address, whose counts persist for their period).
              // TEST_RATE_LIMITER_2 is for the tests of the 429 itself: they pass it to an app of
              // their own in place of one of the above.
              ratelimits: {
                INFERENCE_RATE_LIMITER: { namespace_id: '4101', simple: { limit: 1_000_000, period: 60 } },
                READ_RATE_LIMITER: { namespace_id: '4102', simple: { limit: 1_000_000, period: 60 } },
                WRITE_RATE_LIMITER: { namespace_id: '4103', simple: { limit: 1_000_000, period: 60 } },
                TEST_RATE_LIMITER_2: { namespace_id: '4199', simple: { limit: 2, period: 60 } },
              },
            },
          })),
        ],
        test: {
          name: 'worker',
          include: ['tests/worker/**/*.test.ts'],
          globalSetup: ['./tests/worker/global-setup.ts', './tests/worker/fine-tuned-setup.ts'],
          setupFiles: ['./tests/worker/apply-migrations.ts'],
          // Many tests run dozens of forward passes (~70 ms each); on a loaded 2-core machine the
          // default 5 s cut them off. A safety limit, not a timing assertion.
          testTimeout: 60_000,
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
