/**
 * Detector crops resumed at start-up (client/lib/detector-crops.ts `resumeDetectorCrops`, which
 * `loadModels` calls) in Chromium with real IndexedDB: six photos taught with the detector off; it
 * is turned on, and the page is reloaded before the background fill made any of their detector
 * crops (another tab holds the photos' Web Lock meanwhile, so that none is made before the reload).
 * After the reload, offline (no manifest, no model file from the network), without touching the
 * switch: a prediction made at once finds the fill not started yet (nothing queued, the detector
 * not loaded); then all six photos get their detector crops in the background, with the progress
 * the Models card shows (up to 6 of 6, then idle).
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchChromium, type Browser } from './chrome.ts';
import { cornerClasses } from './crop-scenes.ts';
import { emojiSplit } from './emoji.ts';
import { harnessTab, holdViewsLock, releaseViewsLock } from './tabs.ts';

const baseUrl = inject('baseUrl');
const CLASSES = ['heart', 'animal-mammal'];
const split = emojiSplit(CLASSES, 3, 1, 13);

let browser: Browser | undefined;
afterEach(async () => {
  await browser?.dispose();
  browser = undefined;
});

/** How many examples have a detector crop, of how many. */
async function withCrops(page: Page): Promise<{ have: number; of: number }> {
  return page.evaluate(async () => {
    const all = await window.tannerin.listExamples();
    return { have: all.filter((e) => e.detectorCrop).length, of: all.length };
  });
}

describe('detector crops resumed at start-up', () => {
  it('a reload during the fill: the rest come after the first prediction, offline, with progress', async () => {
    browser = await launchChromium();
    const page = await harnessTab(browser, baseUrl);
    const classes = await cornerClasses(CLASSES, split.train);
    await page.evaluate((cs) => window.tannerin.teach(cs, { augment: false }), classes);
    await page.evaluate(() => window.tannerin.pendingCropsSettled());
    expect(await withCrops(page)).toEqual({ have: 0, of: 6 });

    // The fill starts when it is turned on, but waits for the lock another tab holds: none is made.
    const holder = await harnessTab(browser, baseUrl, false);
    await holdViewsLock(holder);
    const on = await page.evaluate(() => window.tannerin.detectorOn());
    expect(on.ok, JSON.stringify(on)).toBe(true);
    await expect.poll(() => page.evaluate(() => window.tannerin.detectorCropsNow().total), { timeout: 30_000 }).toBe(6);

    // Reloaded offline: the stored manifest, backbone and detector serve.
    await browser.context.route('**/v1/models', (route) => route.abort('internetdisconnected'));
    await browser.context.route('**/models/**', (route) => route.abort('internetdisconnected'));
    await page.reload();
    await page.waitForFunction(() => typeof window.tannerin === 'object');
    await page.evaluate(() => window.tannerin.startBackend());
    expect((await page.evaluate(() => window.tannerin.load())).manifestSource).toBe('stored');
    await page.evaluate(() => window.tannerin.watchDetectorCrops());
    const image = classes[0]?.images[0];
    if (!image) throw new Error('no image');
    // A prediction at once: the fill has not started (nothing queued, the detector not loaded).
    const first = await page.evaluate(async (img) => {
      const t = window.tannerin;
      const t0 = performance.now();
      const predicted = await t.tryPredict(img);
      return { ok: predicted.ok, ms: performance.now() - t0, queue: t.detectorCropsNow(), status: await t.detectorStatus() };
    }, image);
    expect(first.ok).toBe(true);
    expect(first.queue).toEqual({ done: 0, total: 0, lastError: null });
    expect(first.status).toMatchObject({ on: true, loaded: false });
    console.log(`first prediction after the reload: ${first.ms.toFixed(0)} ms, the fill not started`);

    // The lock let go: the six come in the background, without turning it off and on.
    await releaseViewsLock(holder);
    await expect.poll(() => withCrops(page), { timeout: 120_000, interval: 500 }).toEqual({ have: 6, of: 6 });
    const idle = await page.evaluate(() => window.tannerin.detectorCropsIdle());
    expect(idle).toEqual({ done: 0, total: 0, lastError: null });
    const seen = await page.evaluate(() => window.tannerin.detectorCropsSeen());
    expect(seen).toContainEqual([6, 6]);
    expect(seen.at(-1)).toEqual([0, 0]);
    console.log(`detector crops' progress after the reload: ${JSON.stringify(seen)}`);
    // The requests refused while offline are the only errors.
    expect(browser.errors.filter((e) => !e.includes('ERR_INTERNET_DISCONNECTED'))).toEqual([]);
  });
});
