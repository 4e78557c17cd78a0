/**
 * Train's read of the examples for detector crops (client/lib/detector-crops.ts; issue 17, one
 * scan, as crop-scan.test.ts for the feature map's): completeDetectorCrops reads the example records
 * once (a getAll) and detectorCropExamples takes that scan, reading again only the photos it found
 * without a detector crop (their crops were made meanwhile); the crop examples are the same as when
 * detectorCropExamples reads the records itself. At 200 photos (copies of a few taught photos,
 * their records and detector-crop embeddings; 20 with their crop turned off), both ways are timed in
 * Chromium with real IndexedDB (no timing assertion: the numbers are printed).
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { launchChromium, type Browser } from './chrome.ts';
import { cornerClasses } from './crop-scenes.ts';
import { emojiSplit } from './emoji.ts';
import { harnessTab } from './tabs.ts';

const baseUrl = inject('baseUrl');
const CLASSES = ['heart', 'animal-mammal'];
const split = emojiSplit(CLASSES, 2, 1, 5);

let browser: Browser | undefined;
afterEach(async () => {
  await browser?.dispose();
  browser = undefined;
});

describe('detector crops at Train: one scan of the examples', () => {
  it('one getAll for both steps; a photo made meanwhile is read again; the same crops as reading the records twice', async () => {
    browser = await launchChromium();
    const page = await harnessTab(browser, baseUrl);
    // Let the start-up resume (client/lib/detector-crops.ts resumeDetectorCrops: RESUME_DELAY_MS 3 s,
    // then up to 2 s for an idle moment) find the detector off and end, so that its scan of the
    // records is not counted below as Train's.
    await page.waitForTimeout(5_500);
    const on = await page.evaluate(() => window.tannerin.detectorOn());
    expect(on.ok, JSON.stringify(on)).toBe(true);
    const classes = await cornerClasses(CLASSES, split.train);
    await page.evaluate((cs) => window.tannerin.teach(cs, { augment: false }), classes);
    const photos = await page.evaluate(async () => {
      const t = window.tannerin;
      await t.pendingCropsSettled();
      await t.detectorCropsIdle();
      const ref = t.currentBackbone().ref;
      const db = await t.openTannerinDb();
      const detectorRef = `${ref}#detector`;
      const cropsOf = await t.readEmbeddings(db.transaction('embeddingPacks').store, detectorRef);
      const before = new Set((await db.getAll('examples')).map((r) => r.id));
      await t.cloneExamples(200, { noise: 0 });
      // The copies' detector-crop embeddings: their originals' (cloneExamples copies the records, detectorCrop included, and the whole-frame packs).
      const records = await db.getAll('examples');
      const originals = records.filter((r) => before.has(r.id));
      const entries = records
        .filter((r) => !before.has(r.id))
        .map((r, i) => ({ id: r.id, embeddings: [cropsOf.get((originals[i % originals.length] as (typeof originals)[number]).id)?.[0] as Float32Array] }));
      const tx = db.transaction('embeddingPacks', 'readwrite');
      await Promise.all([t.appendToPacks(tx.store, detectorRef, entries), tx.done]);
      for (const r of records.slice(0, 20)) await t.setCropOff(r.id, true);
      // One photo without its detector crop: completeDetectorCrops makes it, detectorCropExamples must read it again.
      const last = records.at(-1) as (typeof records)[number];
      const { detectorCrop: _dropped, ...without } = last;
      await db.put('examples', without);
      return records.length;
    });
    expect(photos).toBe(200);

    const scanned = await page.evaluate(() => window.tannerin.detectorCropSteps());
    expect(scanned.made).toBe(1);
    // One read of the records for both steps (a getAll); no cursor.
    expect(scanned.reads.getAll).toBe(1);
    expect(scanned.reads.cursor).toBe(0);
    expect(scanned.crops?.examples).toHaveLength(200);
    expect(scanned.crops?.setting.method).toBe('detector');
    // Without the scan, detectorCropExamples reads the records itself: the same crops.
    const own = await page.evaluate(() => window.tannerin.detectorCropSteps({ scan: false }));
    expect(own.made).toBe(0);
    expect(own.reads.getAll).toBe(2);
    expect(own.crops).toEqual(scanned.crops);

    // Timed, nothing to make, alternated: with the scan (one read) and without (two).
    const times = await page.evaluate(async () => {
      const t = window.tannerin;
      const one: number[] = [];
      const two: number[] = [];
      for (let i = 0; i < 5; i++) {
        one.push((await t.detectorCropSteps()).ms);
        two.push((await t.detectorCropSteps({ scan: false })).ms);
      }
      return { one, two };
    });
    const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
    console.log(
      `detector crop steps at ${photos} photos, medians of 5 alternated: one scan ${median(times.one).toFixed(1)} ms (${times.one.map((x) => x.toFixed(0)).join(' ')}), ` +
        `two reads ${median(times.two).toFixed(1)} ms (${times.two.map((x) => x.toFixed(0)).join(' ')})`,
    );
    expect(browser.errors).toEqual([]);
  });
});
