/** Steps the backbone browser tests share: which backbones a page holds, its memory, a relaunch. */
import type { Page } from 'playwright-core';
import { launchChromium, openHarness, watchModelTraffic, type Browser, type ModelTraffic } from './chrome.ts';

/** Whether `ref` is loaded in the page now. */
export function isLoaded(page: Page, ref: string): Promise<boolean> {
  return page.evaluate((r) => window.tannerin.loadedBackbone(r) !== undefined, ref);
}

/** Waits until `ref` is released (releases may finish in the background); fails by timing out. */
export async function released(page: Page, ref: string): Promise<void> {
  await page.waitForFunction((r) => window.tannerin.loadedBackbone(r) === undefined, ref, { timeout: 30_000 });
}

/** Tensors, their bytes and the WASM heap after the page's cached predictors are dropped (they hold their own). */
export function memory(page: Page): Promise<{ tensors: number; bytes: number; heap: number }> {
  return page.evaluate(() => {
    const t = window.tannerin;
    t.clearPredictCache();
    const m = t.memory();
    return { tensors: m.numTensors, bytes: m.numBytes, heap: t.wasmBackendInfo().heapBytes };
  });
}

/**
 * Chromium again on `profileDir` (the previous browser on it closed first by the caller), the
 * harness opened, the backend started and the models loaded, with the model traffic watched and
 * settled: what a relaunch of the app does.
 */
export async function relaunchLoaded(
  profileDir: string,
  baseUrl: string,
): Promise<{ browser: Browser; page: Page; loaded: Awaited<ReturnType<Window['tannerin']['load']>>; traffic: ModelTraffic }> {
  const browser = await launchChromium(profileDir);
  try {
    const traffic = watchModelTraffic(browser.context);
    const page = await openHarness(browser, baseUrl);
    await page.evaluate(() => window.tannerin.startBackend());
    const loaded = await page.evaluate(() => window.tannerin.load());
    await traffic.settled();
    return { browser, page, loaded, traffic };
  } catch (err) {
    await browser.dispose();
    throw err;
  }
}
