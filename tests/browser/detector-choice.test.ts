/**
 * The detector's on/off choice kept in memory (client/lib/detector.ts `detectorChoice`), in two tabs
 * of one Chromium profile with real IndexedDB: a page reads the stored setting once, not at every
 * `detectBox` or photo added (each of those read it before); turned on in one tab, the other tab's
 * `detectBox` runs and its photos taught while it was off get their detector crops (its background
 * fill heard the change); turned off in that other tab, the first one's `detectBox` refuses again
 * and its loaded weights are freed.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import { emojiPng } from '../helpers/fixtures.ts';
import { launchChromium, type Browser } from './chrome.ts';
import { cornerClasses, cornerScene } from './crop-scenes.ts';
import { emojiSplit } from './emoji.ts';
import { harnessTab } from './tabs.ts';
import { imageArg } from './util.ts';

const baseUrl = inject('baseUrl');
const CLASSES = ['heart', 'animal-mammal'];
const split = emojiSplit(CLASSES, 1, 1, 3);

let browser: Browser | undefined;
afterEach(async () => {
  await browser?.dispose();
  browser = undefined;
});

/** What `detectBox` does in `page` now: 'ran', or its error message. */
async function detects(page: Page, image: { base64: string; type: string }): Promise<string> {
  return page.evaluate((img) => window.tannerin.detectImage(img).then(() => 'ran', (err: unknown) => (err instanceof Error ? err.message : String(err))), image);
}

describe('the detector choice, kept in memory', () => {
  it('read once a page; on in one tab: the other runs it and fills its photos; off there: refused here again', async () => {
    browser = await launchChromium();
    const a = await harnessTab(browser, baseUrl);
    const b = await harnessTab(browser, baseUrl);
    const { image } = await cornerScene(imageArg(emojiPng('1f436'), 'image/png'), 2, 7, 144);
    expect(await b.evaluate(() => window.tannerin.detectorSettingReads())).toBe(0);

    // Off: five detectBox calls and two photos added in B read the setting once in all (7 reads before).
    for (let i = 0; i < 5; i++) expect(await detects(b, image)).toMatch(/turn on "Find the object first"/);
    const classes = await cornerClasses(CLASSES, split.train);
    await b.evaluate((cs) => window.tannerin.teach(cs, { augment: false }), classes);
    const off = await b.evaluate(async () => {
      const t = window.tannerin;
      await t.pendingCropsSettled();
      await t.detectorCropsIdle();
      return { reads: t.detectorSettingReads(), crops: (await t.listExamples()).filter((e) => e.detectorCrop).length };
    });
    expect(off).toEqual({ reads: 1, crops: 0 });

    // Turned on in A: B hears it, its detectBox runs, and its two photos get their detector crops.
    const on = await a.evaluate(() => window.tannerin.detectorOn());
    expect(on.ok, JSON.stringify(on)).toBe(true);
    await expect.poll(() => detects(b, image), { timeout: 30_000, interval: 200 }).toBe('ran');
    await expect
      .poll(() => b.evaluate(async () => (await window.tannerin.listExamples()).filter((e) => e.detectorCrop).length), { timeout: 60_000, interval: 500 })
      .toBe(2);
    const readsOn = await b.evaluate(() => window.tannerin.detectorSettingReads());
    for (let i = 0; i < 3; i++) expect(await detects(b, image)).toBe('ran');
    // No read more for those three; the change itself cost B a read or two (dropped, read again).
    expect(await b.evaluate(() => window.tannerin.detectorSettingReads())).toBe(readsOn);
    expect(readsOn).toBeLessThanOrEqual(3);

    // Turned off in B: at once there; A hears it, and frees the weights it had loaded.
    expect(await detects(a, image)).toBe('ran');
    const tensorsLoaded = await a.evaluate(() => window.tannerin.numTensors());
    expect(await b.evaluate(() => window.tannerin.turnDetectorOff())).toMatchObject({ on: false });
    expect(await detects(b, image)).toMatch(/turn on "Find the object first"/);
    await expect.poll(() => detects(a, image), { timeout: 30_000, interval: 200 }).toMatch(/turn on "Find the object first"/);
    // CenterNet holds a few hundred weight tensors; the backbone's stay.
    await expect.poll(() => a.evaluate(() => window.tannerin.numTensors()), { timeout: 10_000, interval: 200 }).toBeLessThan(tensorsLoaded - 100);
    expect(browser.errors).toEqual([]);
  });
});
