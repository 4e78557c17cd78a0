/**
 * Train's read of the examples for crops (issue 17, one scan): at ~200 photos, what Train does for
 * crops before it trains (completePendingCrops: the stale-crop scan, nothing pending) and after the
 * whole-frame head (cropExamples: which photos' crops are off, their crop embeddings), timed in
 * Chromium with real IndexedDB; and that the crops come out the same with the scan's answer as
 * with cropExamples reading the records itself. The two reads it replaced (a readwrite cursor over
 * the records, then cropExamples' own getAll) are timed alternately with it. Copies of a few taught photos (their records, crops
 * and crop embeddings) make up the 200. No timing assertions: the numbers are reported.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { launchChromium, type Browser } from './chrome.ts';
import { cornerScene } from './crop-scenes.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';
import { harnessTab } from './tabs.ts';
import { report } from './util.ts';

const baseUrl = inject('baseUrl');
const CLASSES = ['heart', 'animal-mammal'];
const split = emojiSplit(CLASSES, 2, 1, 5);

let browser: Browser | undefined;
afterEach(async () => {
  await browser?.dispose();
  browser = undefined;
});

describe('crops at Train: one scan of the examples', () => {
  it('~200 photos: the scan and the crops timed; the crops the same with the scan as without', async () => {
    browser = await launchChromium();
    const page = await harnessTab(browser, baseUrl);
    const classes = await Promise.all(
      CLASSES.map(async (name, c) => ({ name, images: await Promise.all((split.train[name] as EmojiImage[]).map(async (e, i) => (await cornerScene(e.image, ((i + c) % 4) as 0 | 1 | 2 | 3, 10 * c + i + 1)).image)) })),
    );
    await page.evaluate((cs) => window.tannerin.teach(cs), classes);
    await page.evaluate(() => window.tannerin.pendingCropsSettled());
    const timed = await page.evaluate(async () => {
      const t = window.tannerin;
      const ref = t.currentBackbone().ref;
      const db = await t.openTannerinDb();
      const cropsOf = await t.readEmbeddings(db.transaction('embeddingPacks').store, t.cropPackRef(ref));
      const before = new Set((await db.getAll('examples')).map((r) => r.id));
      await t.cloneExamples(200, { noise: 0 });
      // The copies' crop embeddings: the same as their originals' (cloneExamples copies the records and whole-frame packs).
      const records = await db.getAll('examples');
      const originals = records.filter((r) => before.has(r.id));
      const entries = records
        .filter((r) => !before.has(r.id))
        .map((r, i) => ({ id: r.id, embeddings: [cropsOf.get((originals[i % originals.length] as (typeof originals)[number]).id)?.[0] as Float32Array] }));
      const tx = db.transaction('embeddingPacks', 'readwrite');
      await Promise.all([t.appendToPacks(tx.store, t.cropPackRef(ref), entries), tx.done]);
      // Some photos' crops off, so the off set matters.
      for (const r of records.slice(0, 20)) await t.setCropOff(r.id, true);
      const backbone = t.currentBackbone();
      const set = await t.trainingSet();
      const scan: number[] = [];
      const crops: number[] = [];
      const old: number[] = [];
      let scanned: unknown;
      for (let i = 0; i < 7; i++) {
        let t0 = performance.now();
        const completed = await t.completePendingCrops();
        scan.push(performance.now() - t0);
        t0 = performance.now();
        scanned = await t.cropExamples(backbone, set.examples, completed.off);
        crops.push(performance.now() - t0);
        // What Train did before (alternated): a readwrite cursor over every record for stale crops,
        // the pending index, then cropExamples reading the records again.
        t0 = performance.now();
        const tx = db.transaction('examples', 'readwrite');
        for (let cursor = await tx.store.openCursor(); cursor; cursor = await cursor.continue()) {
          const r = cursor.value;
          if (r.crop && r.crop.backbone !== ref && !r.cropPending) await cursor.update({ ...r, cropPending: 1 });
        }
        await tx.done;
        await db.getAllKeysFromIndex('examples', 'by-crop-pending');
        await t.cropExamples(backbone, set.examples);
        old.push(performance.now() - t0);
      }
      const own = await t.cropExamples(backbone, set.examples);
      const plain = (x: unknown) => JSON.stringify(x, (_, v: unknown) => (ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v));
      return { photos: records.length, scan, crops, before: old, same: plain(scanned) === plain(own), n: (own ?? []).length };
    });
    const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
    const ms = (xs: readonly number[]): string => xs.map((x) => x.toFixed(1)).join(' ');
    console.log(`crop scan at ${timed.photos} photos: completePendingCrops ${ms(timed.scan)} ms; cropExamples ${ms(timed.crops)} ms; before (cursor + getAll) ${ms(timed.before)} ms`);
    report('browser.crop_scan.complete_ms', median(timed.scan), 'ms', `completePendingCrops, nothing pending, ${timed.photos} photos`);
    report('browser.crop_scan.crop_examples_ms', median(timed.crops), 'ms', `cropExamples, ${timed.photos} photos`);
    report('browser.crop_scan.total_ms', median(timed.scan.map((x, i) => x + (timed.crops[i] as number))), 'ms', `both, ${timed.photos} photos`);
    report('browser.crop_scan.before_ms', median(timed.before), 'ms', `the two reads this replaced (cursor + cropExamples' getAll), alternated, ${timed.photos} photos`);
    expect(timed.photos).toBe(200);
    expect(timed.n).toBe(200);
    expect(timed.same).toBe(true);
    expect(browser.errors).toEqual([]);
  });
});
