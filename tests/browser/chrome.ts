/**
 * Launching Debian's Chromium through playwright-core (never Playwright's own browser downloads)
 * and opening the harness page served by `wrangler dev`. Used by the tests and by the browser
 * bench (bench/browser.ts), so it needs no DOM types: the harness's `window.tannerin` typing comes
 * from tests/browser/harness-types.ts, which only the tests' program includes.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';

export const DEFAULT_CHROME_PATH = '/usr/bin/chromium';

/**
 * Flags from FIELD-NOTES: without the background-networking ones Chromium keeps trying to reach
 * the (closed) network.
 */
export const CHROME_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * The Chromium binary: `CHROME_PATH`, else /usr/bin/chromium. Throws, with how to fix it, when
 * it is missing: the browser tests must fail, never skip, without a browser.
 */
export function chromePath(): string {
  const path = process.env.CHROME_PATH || DEFAULT_CHROME_PATH;
  if (!existsSync(path)) {
    throw new Error(
      `The browser tests need Chromium, and there is none at ${path}. ` +
        'Install it (Debian/Ubuntu: `sudo apt-get install -y chromium`; .ci/run does this) ' +
        'or set CHROME_PATH to a Chromium or Chrome executable.',
    );
  }
  return path;
}

/** A Chromium with its own profile directory; relaunch with the same `profileDir` to keep state. */
export interface Browser {
  context: BrowserContext;
  profileDir: string;
  /** Console errors and page errors seen so far (for failure messages). */
  errors: string[];
  /** Closes Chromium (its profile stays until `dispose`). */
  close(): Promise<void>;
  /** Closes Chromium and deletes the profile. */
  dispose(): Promise<void>;
}

/** Extra launch settings (the app tests use a phone-sized viewport and a fake camera). */
export interface LaunchOptions {
  viewport?: { width: number; height: number };
  /** Touch events and a mobile viewport meta handling, as on a phone. */
  mobile?: boolean;
  /** Flags after {@link CHROME_FLAGS}. */
  args?: string[];
  /** Permissions granted to every origin (e.g. `camera`). */
  permissions?: string[];
}

/** Launches Chromium with a fresh profile, or with `profileDir` (a previous launch's). */
export async function launchChromium(profileDir?: string, options: LaunchOptions = {}): Promise<Browser> {
  const dir = profileDir ?? mkdtempSync(join(tmpdir(), 'tannerin-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: chromePath(),
    headless: true,
    args: [...CHROME_FLAGS, ...(options.args ?? [])],
    timeout: 30_000,
    ...(options.viewport ? { viewport: options.viewport } : {}),
    ...(options.mobile ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
    ...(options.permissions ? { permissions: options.permissions } : {}),
  });
  const errors: string[] = [];
  const watch = (page: Page): void => {
    page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
    page.on('console', (msg: ConsoleMessage) => {
      if (msg.type() === 'error') errors.push(`console: ${msg.text()} (${msg.location().url})`);
      if (process.env.TANNERIN_BROWSER_LOG) console.log(`[browser ${msg.type()}] ${msg.text()}`);
    });
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await context.close();
  };
  return {
    context,
    profileDir: dir,
    errors,
    close,
    async dispose() {
      await close();
      // Chromium's helper processes can still be writing into the profile just after the context
      // closes (seen in CI as ENOTEMPTY on Default/); rmSync retries those errors.
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}

/** Which copy of the harness: `isolated` is served with COOP/COEP (see scripts/build.ts). */
export type HarnessKind = 'plain' | 'isolated';

/** Opens the harness page and waits until `window.tannerin` is there. */
export async function openHarness(browser: Browser, baseUrl: string, kind: HarnessKind = 'plain'): Promise<Page> {
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  const path = kind === 'isolated' ? '/test-pages/isolated/harness.html' : '/test-pages/harness.html';
  await page.goto(`${baseUrl}${path}`);
  // A string, evaluated in the page: this module is also compiled without DOM types (the bench).
  await page.waitForFunction('typeof window.tannerin === "object"', undefined, { timeout: 30_000 });
  return page;
}

/** Model-file traffic (paths under /models/) seen by a browser context. */
export interface ModelTraffic {
  requests: string[];
  bytes: number;
  /** Response bytes by URL path (e.g. `/models/<id>-<version>/weights.bin`). */
  bytesByPath: Map<string, number>;
  /** Waits until every response seen so far has been counted. */
  settled(): Promise<void>;
}

/** Counts every model-file request and the bytes of their responses. */
export function watchModelTraffic(context: BrowserContext): ModelTraffic {
  const pending: Promise<void>[] = [];
  const traffic: ModelTraffic = {
    requests: [],
    bytes: 0,
    bytesByPath: new Map(),
    settled: async () => {
      await Promise.all(pending);
    },
  };
  context.on('request', (req) => {
    if (new URL(req.url()).pathname.startsWith('/models/')) traffic.requests.push(req.url());
  });
  context.on('response', (res) => {
    const path = new URL(res.url()).pathname;
    if (!path.startsWith('/models/')) return;
    pending.push(
      res.body().then(
        (body) => {
          traffic.bytes += body.length;
          traffic.bytesByPath.set(path, (traffic.bytesByPath.get(path) ?? 0) + body.length);
        },
        () => undefined,
      ),
    );
  });
  return traffic;
}
