/**
 * Test-time augmentation in Chromium: Train's guard judges it on the held-out photos and the
 * stored head records it exactly when the guard kept it; a head that records it predicts a photo as
 * the mean of its probabilities over the photo and its augmented views (shared/head/tta.ts), checked
 * against the same head without the field asked about each view (sent as a lossless PNG of the
 * view's pixels, made in Node by augmentedViews with the head's seed: the views Train stores, not
 * shared/head/tta.ts's own); the same answer on every call, and a flat tensor count. Reports the
 * cost: the predict time of a 640x480 JPEG with the same head with and without the field,
 * alternated in one page (medians; no assertion on time).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { HeadDocument, Prediction } from '../../client/lib/index.ts';
import { decodeImage } from '../../shared/image/decode.ts';
import type { TestTimeAugmentation } from '../../shared/head/tta.ts';
import { augmentedViews } from '../../shared/image/augment.ts';
import { makeJpeg, makePng } from '../helpers/images.ts';
import { scenePixels } from '../helpers/fixtures.ts';
import { launchChromium, openHarness, type Browser } from './chrome.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';
import { imageArg, report } from './util.ts';

const baseUrl = inject('baseUrl');

const CLASSES = ['heart', 'animal-mammal', 'transport-ground'];
const split = emojiSplit(CLASSES, 6, 2, 3);
const taught = CLASSES.map((name) => ({ name, images: (split.train[name] as EmojiImage[]).map((e) => e.image) }));
const heldOut = CLASSES.flatMap((name) => split.test[name] as EmojiImage[]);

/** Scores in `classes` order. */
const byClass = (classes: readonly string[], ranked: readonly Prediction[]): number[] => classes.map((c) => ranked.find((p) => p.label === c)?.score ?? NaN);
const maxAbsDiff = (a: readonly number[], b: readonly number[]): number => Math.max(...a.map((x, i) => Math.abs(x - (b[i] as number))));
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;

describe('test-time augmentation in the browser', () => {
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    browser = await launchChromium();
    page = await openHarness(browser, baseUrl, 'plain');
    await page.evaluate(() => window.tannerin.startBackend());
    await page.evaluate(() => window.tannerin.load());
  });
  afterAll(async () => {
    await browser?.dispose();
  });

  /** The mean, over the photo and its `tta` views, of `headId`'s per-view scores (views made in Node). */
  async function meanOverViews(headId: string, image: EmojiImage['image'], tta: TestTimeAugmentation, classes: readonly string[]): Promise<number[]> {
    const pixels = await decodeImage(Buffer.from(image.base64, 'base64'));
    const views = [pixels, ...augmentedViews(pixels, { count: tta.views, seed: tta.seed })].map((v) => imageArg(makePng(v.width, v.height, new Uint8Array(v.data)), 'image/png'));
    const results = await page.evaluate(([v, id]) => window.tannerin.predictImages(v, { headId: id }), [views, headId] as const);
    const rows = results.map((r) => byClass(classes, r.predictions));
    return classes.map((_, j) => rows.reduce((a, row) => a + (row[j] as number), 0) / rows.length);
  }

  it('Train records TTA exactly when its guard kept it, and predicts with it; a TTA head averages its views', async () => {
    await page.evaluate((c) => window.tannerin.teach(c), taught);
    const trained = await page.evaluate(() => window.tannerin.trainNow({ name: 'tta' }));
    if (!trained.ok) throw new Error(`training failed: ${trained.error.message}`);
    const r = trained.report;
    expect(r.split.method).toBe('holdout');
    const judged = r.testTimeAugmentation;
    expect(judged).toMatchObject({ n: r.split.heldOutPhotos, withViews: r.split.heldOutPhotos, setting: { views: 3, seed: 0 } });
    expect(judged?.kept).toBe(!((judged?.correct ?? 0) < (judged?.correctWithout ?? 0) && (judged?.p ?? 0) < 0.05));
    expect(r.doc.testTimeAugmentation).toEqual(judged?.kept ? { views: 3, seed: 0 } : undefined);
    expect(r.guard.reasons.some((line) => line.startsWith('Test-time augmentation'))).toBe(true);
    expect(trained.tensorsAfter).toBe(trained.tensorsBefore);

    // The same weights with and without the field, stored next to the trained head.
    const { testTimeAugmentation: _recorded, ...base } = r.doc;
    const tta: TestTimeAugmentation = { views: 3, seed: 7 };
    const plain: HeadDocument = { ...base, id: crypto.randomUUID() };
    const augmented: HeadDocument = { ...base, id: crypto.randomUUID(), testTimeAugmentation: tta };
    for (const doc of [plain, augmented]) {
      const stored = await page.evaluate((json) => window.tannerin.storeDocument(json), JSON.stringify(doc));
      expect(stored.ok, JSON.stringify(stored)).toBe(true);
    }

    const classes = r.doc.classes;
    for (const image of heldOut.slice(0, 3).map((e) => e.image)) {
      const [first, again, alone] = await page.evaluate(
        ([img, a, p]) => Promise.all([window.tannerin.predictImages([img], { headId: a }), window.tannerin.predictImages([img], { headId: a }), window.tannerin.predictImages([img], { headId: p })]),
        [image, augmented.id, plain.id] as const,
      );
      const scores = byClass(classes, first?.[0]?.predictions ?? []);
      expect(maxAbsDiff(scores, await meanOverViews(plain.id, image, tta, classes))).toBeLessThanOrEqual(1e-6);
      expect(byClass(classes, again?.[0]?.predictions ?? [])).toEqual(scores);
      // It did average: the photo alone scores differently.
      expect(maxAbsDiff(scores, byClass(classes, alone?.[0]?.predictions ?? []))).toBeGreaterThan(1e-4);
      // The trained head predicts as its document says.
      const own = await page.evaluate(([img, id]) => window.tannerin.predictImages([img], { headId: id }), [image, r.headId] as const);
      const expected = r.doc.testTimeAugmentation ? await meanOverViews(plain.id, image, r.doc.testTimeAugmentation, classes) : byClass(classes, alone?.[0]?.predictions ?? []);
      expect(maxAbsDiff(byClass(classes, own[0]?.predictions ?? []), expected)).toBeLessThanOrEqual(1e-6);
    }

    // Tensors stay flat over TTA predictions (the TTA head active).
    await page.evaluate((json) => window.tannerin.storeDocument(json, true), JSON.stringify({ ...augmented, id: crypto.randomUUID() }));
    const flat = await page.evaluate((img) => window.tannerin.predictRepeatedly(img, 5), heldOut[0]?.image as EmojiImage['image']);
    expect(flat.after).toBe(flat.before);

    // The cost, side by side: a 640x480 JPEG (the edge bench's scene) with the plain and the TTA head, alternated.
    const photo = imageArg(makeJpeg(640, 480, 90, await scenePixels(640, 480, ['1f436', '1f34e', '1f697'])), 'image/jpeg');
    const times = await page.evaluate(
      async ([img, p, a]) => {
        const out: { plain: number[]; tta: number[] } = { plain: [], tta: [] };
        for (let i = 0; i < 12; i++) {
          for (const [id, list] of [[p, out.plain], [a, out.tta]] as const) {
            const t0 = performance.now();
            await window.tannerin.predictImages([img], { headId: id });
            list.push(performance.now() - t0);
          }
        }
        return out;
      },
      [photo, plain.id, augmented.id] as const,
    );
    const [plainMs, ttaMs] = [median(times.plain.slice(2)), median(times.tta.slice(2))];
    report('browser.predict_tta_ms', ttaMs, 'ms', `median of 10 predictions of a 640x480 JPEG with a head recording 3 views, alternated with the same head without (${plainMs.toFixed(1)} ms): ${(ttaMs / plainMs).toFixed(2)}x`);
  });
});
