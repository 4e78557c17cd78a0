/**
 * Detector crops in the background (client/lib/detector-crops.ts; issue 17 pt 2: "crops are
 * embedded in the background, so they do not slow the moment a photo counts") in Chromium with
 * real IndexedDB: photos taught while the detector is off have none; turning it on fills every
 * photo in without a Train, with progress (done of total, up to all of them); a photo taught while
 * it is on gets its own after it is stored; a box the person moves becomes that photo's detector
 * crop too; turning it off cancels what is queued (no failure
 * recorded). The tensor count is back where it was once the detector is off.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchChromium, type Browser } from './chrome.ts';
import { cornerClasses } from './crop-scenes.ts';
import { emojiSplit } from './emoji.ts';
import { harnessTab } from './tabs.ts';

const baseUrl = inject('baseUrl');
const CLASSES = ['heart', 'animal-mammal'];
const split = emojiSplit(CLASSES, 7, 1, 11);

let browser: Browser;
let page: Page;

/** How many of the examples have a detector crop with a packed embedding, of how many. */
async function withCrops(): Promise<{ have: number; of: number }> {
  return page.evaluate(async () => {
    const t = window.tannerin;
    const all = await t.listExamples();
    const crops = await Promise.all(all.map((e) => t.detectorCropOf(e.id)));
    return { have: crops.filter((c) => c.crop && c.embedding?.length).length, of: all.length };
  });
}

beforeAll(async () => {
  browser = await launchChromium();
  page = await harnessTab(browser, baseUrl);
}, 120_000);

afterAll(async () => {
  await browser?.dispose();
});

describe('detector crops in the background', () => {
  it('fills in the photos after turning it on, makes a new photo\'s after it is stored, and stops when turned off', async () => {
    const classes = await cornerClasses(CLASSES, split.train);
    // Three photos a class first, the detector off: none gets a detector crop.
    const first = classes.map((c) => ({ name: c.name, images: c.images.slice(0, 3) }));
    await page.evaluate((cs) => window.tannerin.teach(cs, { augment: false }), first);
    await page.evaluate(() => window.tannerin.pendingCropsSettled());
    expect(await withCrops()).toEqual({ have: 0, of: 6 });
    const tensors = await page.evaluate(() => window.tannerin.numTensors());

    // Turned on: the six are filled in without a Train, with progress up to 6 of 6.
    await page.evaluate(() => window.tannerin.watchDetectorCrops());
    const on = await page.evaluate(() => window.tannerin.detectorOn());
    expect(on.ok, JSON.stringify(on)).toBe(true);
    await expect.poll(withCrops, { timeout: 120_000, interval: 500 }).toEqual({ have: 6, of: 6 });
    const idle = await page.evaluate(() => window.tannerin.detectorCropsIdle());
    expect(idle).toEqual({ done: 0, total: 0, lastError: null });
    const seen = await page.evaluate(() => window.tannerin.detectorCropsSeen());
    expect(seen).toContainEqual([6, 6]);
    expect(seen.at(-1)).toEqual([0, 0]);
    console.log(`detector crops' progress after turning it on: ${JSON.stringify(seen)}`);

    // A photo taught while it is on gets its detector crop after it is stored.
    const one = [{ name: CLASSES[0] as string, images: classes[0]?.images.slice(3, 4) ?? [] }];
    await page.evaluate((cs) => window.tannerin.teach(cs, { augment: false }), one);
    await expect.poll(withCrops, { timeout: 60_000, interval: 500 }).toEqual({ have: 7, of: 7 });

    // The person moves a photo's box: their box becomes its detector crop too, in the background.
    const box = { x: 0.1, y: 0.2, width: 0.3, height: 0.4 };
    const id = await page.evaluate(async (b) => {
      const t = window.tannerin;
      const [ex] = await t.listExamples();
      if (!ex || !(await t.setCropBox(ex.id, b))) throw new Error('no crop to move');
      return ex.id;
    }, box);
    await expect.poll(async () => (await page.evaluate((i) => window.tannerin.detectorCropOf(i), id)).crop, { timeout: 60_000, interval: 500 }).toMatchObject({ byPerson: true, box });

    // Off: photos taught get none; turned on and at once off again, the fill is cancelled.
    await page.evaluate(() => window.tannerin.turnDetectorOff());
    const more = classes.map((c) => ({ name: c.name, images: c.images.slice(4, 7) }));
    await page.evaluate((cs) => window.tannerin.teach(cs, { augment: false }), more);
    await page.evaluate(async () => {
      const t = window.tannerin;
      await t.pendingCropsSettled();
      await t.detectorCropsIdle();
    });
    expect(await withCrops()).toEqual({ have: 7, of: 13 });
    const onOff = await page.evaluate(async () => {
      const t = window.tannerin;
      const turnedOn = await t.detectorOn();
      await t.turnDetectorOff();
      // The fill may still be scanning when it is off: give it the time to queue, then wait.
      await new Promise((r) => setTimeout(r, 500));
      return { ok: turnedOn.ok, idle: await t.detectorCropsIdle() };
    });
    expect(onOff.ok).toBe(true);
    expect(onOff.idle).toEqual({ done: 0, total: 0, lastError: null });
    const after = await withCrops();
    expect(after.of).toBe(13);
    expect(after.have).toBeLessThan(13);
    console.log(`turned on and off at once: ${after.have - 7} of 6 photos got their detector crop before the cancel`);
    expect(await page.evaluate(() => window.tannerin.numTensors())).toBe(tensors);
    expect(browser.errors).toEqual([]);
  });
});
