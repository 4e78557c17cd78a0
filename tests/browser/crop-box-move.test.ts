/**
 * The person moves a photo's crop box (client/lib/pending-crops.ts setCropBox, issue 17 point 5)
 * and Train's crop progress (train()'s onCropsProgress), in Chromium with real IndexedDB against
 * the real Worker.
 * - Moved: the record keeps the new box with `byPerson` and the found box, is pending, and its old
 *   crop embedding is gone at once (while another tab holds the background's lock, so the moment is
 *   seen): Train's crops are then not tried on a stale crop. Once the background ran: a new crop
 *   JPEG and embedding (not the old ones), the person's box kept; Train's crops use it.
 * - Reset: the found box back, `byPerson` and `found` gone, cut and embedded again.
 * - Train after every crop was lost (as after the upgrade to version 9): onCropsProgress from
 *   (0, n) to (n, n), and the crops are tried.
 * Tensors flat.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchChromium, type Browser } from './chrome.ts';
import { cornerScene } from './crop-scenes.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';
import { harnessTab, holdViewsLock, releaseViewsLock } from './tabs.ts';

const baseUrl = inject('baseUrl');
const CLASSES = ['heart', 'animal-mammal'];
const split = emojiSplit(CLASSES, 4, 1, 7);
// Enough photos for a held-out split (crops are not tried under cross-validation), as train-crops.test.ts.
const trainSplit = emojiSplit(CLASSES, 7, 1, 11);

let browser: Browser | undefined;
afterEach(async () => {
  await browser?.dispose();
  browser = undefined;
});

/** The first photo's crop as stored: box, markers, pending, its crop embedding's first floats and JPEG size. */
async function firstCrop(page: Page) {
  return page.evaluate(async () => {
    const t = window.tannerin;
    const db = await t.openTannerinDb();
    const [first] = await t.listExamples();
    const record = await db.get('examples', first?.id as string);
    const packs = await t.readEmbeddings(db.transaction('embeddingPacks').store, t.cropPackRef(t.currentBackbone().ref));
    const embedding = packs.get(first?.id as string)?.[0];
    const crop = record?.crop;
    return {
      id: first?.id as string,
      box: crop?.box ?? null,
      byPerson: crop?.byPerson ?? false,
      found: crop?.found ?? null,
      pending: record?.cropPending ?? 0,
      embedding: embedding ? Array.from(embedding.subarray(0, 64)) : null,
      jpeg: crop ? Array.from(crop.photo.bytes.subarray(0, 4096)).join(',') : null,
    };
  });
}

/** Whether Train's crops (cropExamples on the training set) exist, and the first photo's crop embedding there. */
async function trainCrops(page: Page, id: string) {
  return page.evaluate(async (photo) => {
    const t = window.tannerin;
    const crops = await t.cropExamples(t.currentBackbone(), (await t.trainingSet()).examples);
    const mine = crops?.find((e) => e.photoId === photo)?.embedding;
    return { tried: crops !== null, first: mine ? Array.from(mine.subarray(0, 64)) : null };
  }, id);
}

describe('moving a crop box', () => {
  it('stores the person’s box, drops the old crop embedding at once, cuts and embeds the new crop; Reset puts the found box back', async () => {
    browser = await launchChromium();
    const page = await harnessTab(browser, baseUrl);
    const images = await Promise.all((split.train['heart'] as EmojiImage[]).slice(0, 3).map(async (e, i) => (await cornerScene(e.image, (i % 4) as 0 | 1 | 2 | 3, i + 1)).image));
    const others = await Promise.all((split.train['animal-mammal'] as EmojiImage[]).slice(0, 3).map(async (e, i) => (await cornerScene(e.image, ((i + 2) % 4) as 0 | 1 | 2 | 3, i + 21)).image));
    await page.evaluate((cs) => window.tannerin.teach(cs), [{ name: 'heart', images }, { name: 'mammal', images: others }]);
    await page.evaluate(() => window.tannerin.pendingCropsSettled());
    const tensorsBefore = (await page.evaluate(() => window.tannerin.memory())).numTensors;
    const found = await firstCrop(page);
    expect(found.byPerson).toBe(false);
    expect(found.embedding).not.toBeNull();
    expect((await trainCrops(page, found.id)).first).toEqual(found.embedding);
    const box = found.box as { x: number; y: number; width: number; height: number };
    // Moved to the opposite side of the photo (inside it).
    const moved = { ...box, x: box.x > 0.5 - box.width / 2 ? 0 : 1 - box.width, y: box.y > 0.5 - box.height / 2 ? 0 : 1 - box.height };

    // Another tab holds the background's lock: the move is stored, its crop not yet.
    const other = await harnessTab(browser, baseUrl, false);
    await holdViewsLock(other);
    expect(await page.evaluate(([id, b]) => window.tannerin.setCropBox(id, b), [found.id, moved] as const)).toBe(true);
    const waiting = await firstCrop(page);
    expect(waiting).toMatchObject({ box: moved, byPerson: true, found: box, pending: 1, embedding: null });
    // Stale-pack rule: Train's crops are not tried with the old crop embedding.
    expect((await trainCrops(page, found.id)).tried).toBe(false);
    await releaseViewsLock(other);
    await page.evaluate(() => window.tannerin.pendingCropsSettled());
    const after = await firstCrop(page);
    expect(after).toMatchObject({ box: moved, byPerson: true, found: box, pending: 0 });
    expect(after.embedding).not.toBeNull();
    expect(after.embedding).not.toEqual(found.embedding);
    expect(after.jpeg).not.toEqual(found.jpeg);
    // Train's crops use the moved one.
    expect(await trainCrops(page, found.id)).toEqual({ tried: true, first: after.embedding });

    // A box poking out of the photo is moved inside it; a box without a size is refused.
    const refused = await page.evaluate((id) => window.tannerin.setCropBox(id, { x: 0, y: 0, width: 0, height: 0.5 }).then(() => 'stored', (e: Error) => e.name), found.id);
    expect(refused).toBe('RangeError');

    // Reset: the found box back, the markers gone, cut and embedded again.
    expect(await page.evaluate((id) => window.tannerin.setCropBox(id, null), found.id)).toBe(true);
    await page.evaluate(() => window.tannerin.pendingCropsSettled());
    const reset = await firstCrop(page);
    expect(reset).toMatchObject({ box, byPerson: false, found: null, pending: 0 });
    expect(reset.embedding).not.toBeNull();
    expect(reset.embedding).not.toEqual(after.embedding);
    // Nothing to put back any more: a no-op that says the photo has a crop.
    expect(await page.evaluate((id) => window.tannerin.setCropBox(id, null), found.id)).toBe(true);
    expect((await firstCrop(page)).pending).toBe(0);
    expect((await page.evaluate(() => window.tannerin.memory())).numTensors).toBe(tensorsBefore);
    expect(browser.errors).toEqual([]);
  });

  it('Train reports the crops it completes (onCropsProgress) and then tries them', async () => {
    browser = await launchChromium();
    const page = await harnessTab(browser, baseUrl);
    const classes = await Promise.all(
      CLASSES.map(async (name, c) => ({ name, images: await Promise.all((trainSplit.train[name] as EmojiImage[]).map(async (e, i) => (await cornerScene(e.image, ((i + c) % 4) as 0 | 1 | 2 | 3, 10 * c + i + 1)).image)) })),
    );
    await page.evaluate((cs) => window.tannerin.teach(cs), classes);
    await page.evaluate(() => window.tannerin.pendingCropsSettled());
    const run = await page.evaluate(async () => {
      const t = window.tannerin;
      const db = await t.openTannerinDb();
      const ref = t.currentBackbone().ref;
      // As after the upgrade to version 9: every photo without its crop, pending.
      const tx = db.transaction(['examples', 'embeddingPacks'], 'readwrite');
      const records = await tx.objectStore('examples').getAll();
      await Promise.all([
        ...records.map(({ crop: _c, ...r }) => tx.objectStore('examples').put({ ...r, cropPending: 1 })),
        t.putEmbeddings(tx.objectStore('embeddingPacks'), t.cropPackRef(ref), records.map((r) => ({ id: r.id, embeddings: [] }))),
        tx.done,
      ]);
      const crops: [number, number][] = [];
      const views: [number, number][] = [];
      const t0 = performance.now();
      const report = await t.train({ onCropsProgress: (d, n) => crops.push([d, n]), onViewsProgress: (d, n) => views.push([d, n]) });
      return { photos: records.length, crops, views, tried: report.crop !== undefined, ms: performance.now() - t0, pending: (await db.getAllKeysFromIndex('examples', 'by-crop-pending')).length };
    });
    console.log(`Train completing ${run.photos} crops: ${run.ms.toFixed(0)} ms in all; progress ${JSON.stringify(run.crops)}`);
    expect(run.photos).toBe(14);
    expect(run.crops[0]).toEqual([0, 14]);
    expect(run.crops.at(-1)).toEqual([14, 14]);
    expect(run.crops.every(([d], i) => i === 0 || d >= (run.crops[i - 1] as [number, number])[0])).toBe(true);
    // The views' progress is the views' only.
    expect(run.views).toEqual([]);
    expect(run.pending).toBe(0);
    expect(run.tried).toBe(true);
    expect(browser.errors).toEqual([]);
  });
});
