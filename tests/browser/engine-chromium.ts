/**
 * The {@link EnginePage} driver for Chromium: Debian's Chromium through playwright-core, launched
 * by chrome.ts (the same launch the Chromium-only tests use). The fake camera is Chromium's own
 * (`--use-fake-device-for-media-stream`, a test pattern), with the permission granted.
 */
import type { Page } from 'playwright-core';
import { launchChromium } from './chrome.ts';
import type { EngineLaunchOptions, EnginePage, EngineSession } from './engine.ts';

/** Wraps a Playwright page in the shared interface. */
export function playwrightPage(page: Page): EnginePage {
  return {
    async goto(url) {
      await page.goto(url);
    },
    async reload() {
      await page.reload();
    },
    // Playwright's argument typing (handles, boxing) is wider than JSON: plain data goes through.
    evaluate: (fn, arg) => page.evaluate(fn as (a: unknown) => unknown, arg as unknown) as Promise<never>,
    async waitForFunction(fn, arg, timeoutMs = 30_000) {
      await page.waitForFunction(fn as (a: unknown) => unknown, arg as unknown, { timeout: timeoutMs });
    },
    click: (selector) => page.click(selector),
    async type(selector, text) {
      await page.focus(selector);
      await page.keyboard.type(text);
    },
    async setFiles(selector, files) {
      await page.setInputFiles(selector, files);
    },
    async screenshot(path) {
      await page.screenshot({ path });
    },
  };
}

/** Launches Chromium (playwright-core) with one page. */
export async function launchChromiumEngine(options: EngineLaunchOptions = {}): Promise<EngineSession> {
  const browser = await launchChromium(options.profileDir, {
    ...(options.viewport ? { viewport: options.viewport } : {}),
    ...(options.fakeCamera ? { args: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'], permissions: ['camera'] } : {}),
  });
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  return {
    engine: 'chromium',
    page: playwrightPage(page),
    profileDir: browser.profileDir,
    errors: browser.errors,
    close: () => browser.close(),
    dispose: () => browser.dispose(),
  };
}
