/**
 * The {@link EnginePage} driver for Firefox: Debian's Firefox ESR (`/usr/bin/firefox-esr`, or
 * `FIREFOX_PATH`) through puppeteer-core over WebDriver BiDi (never a downloaded browser). The
 * profile is a directory puppeteer fills with its prefs; a relaunch on it keeps IndexedDB. The fake
 * camera: prefs `media.navigator.streams.fake` and `media.navigator.permission.disabled`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, type Page } from 'puppeteer-core';
import { writeUploadFiles, type EngineLaunchOptions, type EnginePage, type EngineSession } from './engine.ts';

/** Debian's Firefox ESR. */
export const DEFAULT_FIREFOX_PATH = '/usr/bin/firefox-esr';

/** The Firefox binary: `FIREFOX_PATH`, else /usr/bin/firefox-esr. */
export function firefoxPath(): string {
  return process.env.FIREFOX_PATH || DEFAULT_FIREFOX_PATH;
}

/**
 * Prefs that keep a headless Firefox off the (closed) network and quiet: no update, telemetry,
 * safe-browsing or captive-portal checks.
 */
const QUIET_PREFS: Record<string, unknown> = {
  'app.update.enabled': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'browser.safebrowsing.downloads.enabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'datareporting.healthreport.uploadEnabled': false,
  'toolkit.telemetry.enabled': false,
  'extensions.update.enabled': false,
  'browser.shell.checkDefaultBrowser': false,
};

/** Wraps a puppeteer page in the shared interface; `files` is a scratch directory for uploads. */
function puppeteerPage(page: Page, files: string): EnginePage {
  let upload = 0;
  return {
    async goto(url) {
      await page.goto(url, { timeout: 60_000 });
    },
    async reload() {
      await page.reload({ timeout: 60_000 });
    },
    evaluate: (fn, arg) => page.evaluate(fn as (a: unknown) => unknown, arg) as never,
    async waitForFunction(fn, arg, timeoutMs = 30_000) {
      await page.waitForFunction(fn as (a: unknown) => unknown, { timeout: timeoutMs, polling: 100 }, arg);
    },
    click: (selector) => page.click(selector),
    type: (selector, text) => page.type(selector, text),
    async setFiles(selector, list) {
      const paths = writeUploadFiles(files, upload++, list);
      const input = await page.$(selector as 'input');
      if (!input) throw new Error(`no element ${selector}`);
      await input.uploadFile(...paths);
    },
    async screenshot(path) {
      await page.screenshot({ path: path as `${string}.png` });
    },
  };
}

/** Launches Firefox ESR (puppeteer-core, WebDriver BiDi) with one page. */
export async function launchFirefoxEngine(options: EngineLaunchOptions = {}): Promise<EngineSession> {
  const profileDir = options.profileDir ?? mkdtempSync(join(tmpdir(), 'tannerin-firefox-'));
  const scratch = mkdtempSync(join(tmpdir(), 'tannerin-firefox-files-'));
  const browser = await launch({
    browser: 'firefox',
    executablePath: firefoxPath(),
    headless: true,
    userDataDir: profileDir,
    timeout: 60_000,
    protocolTimeout: 300_000,
    defaultViewport: options.viewport ?? { width: 1280, height: 800 },
    extraPrefsFirefox: {
      ...QUIET_PREFS,
      ...(options.fakeCamera ? { 'media.navigator.streams.fake': true, 'media.navigator.permission.disabled': true } : {}),
    },
  });
  const page = (await browser.pages())[0] ?? (await browser.newPage());
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err instanceof Error ? err.message : String(err)}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
    if (process.env.TANNERIN_BROWSER_LOG) console.log(`[firefox ${msg.type()}] ${msg.text()}`);
  });
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await browser.close();
    rmSync(scratch, { recursive: true, force: true });
  };
  return {
    engine: 'firefox',
    page: puppeteerPage(page, scratch),
    profileDir,
    errors,
    close,
    async dispose() {
      await close();
      rmSync(profileDir, { recursive: true, force: true });
    },
  };
}
