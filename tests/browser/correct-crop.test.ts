/**
 * A correction of a crop head (a head with a `crop`, shared/head/crop.ts; issue 18 pt 1 with issue
 * 17) in Chromium with real IndexedDB: the retraining (client/lib/retrain-crop.ts) trains on the
 * photos' crops from the head's own weights and keeps the crop, so the corrected model still
 * predicts crops; the corrected photo's crop is stored like any example's, at the box the
 * prediction used and with the prediction's crop embedding (no second pass for the crop), and
 * takes part in that retraining; the same photo then names the class it was corrected to. A crop
 * head whose crop setting is not the one the photos' crops are cut with (imported) is retrained as
 * a whole-frame head, and the report says why.
 *
 * Photos: two emoji subcategories, each emoji small in a corner of a noisy frame
 * (tests/browser/crop-scenes.ts). Train keeps the crop only when it clearly helps; when it kept
 * the whole frame here, the head is stored again with the default crop (as a crop head imported or
 * kept by an earlier Train would be).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import { DEFAULT_FEATURE_MAP_CROP } from '../../shared/head/crop.ts';
import { launchChromium, type Browser } from './chrome.ts';
import { trainCropHead } from './crop-heads.ts';
import { cornerClasses, cornerScene } from './crop-scenes.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';
import { harnessTab } from './tabs.ts';

const baseUrl = inject('baseUrl');
const CLASSES = ['heart', 'animal-mammal'];
const split = emojiSplit(CLASSES, 6, 2, 11);

let browser: Browser;
let page: Page;
let headId = '';

beforeAll(async () => {
  browser = await launchChromium();
  page = await harnessTab(browser, baseUrl);
  headId = await trainCropHead(page, await cornerClasses(CLASSES, split.train), DEFAULT_FEATURE_MAP_CROP);
}, 180_000);

afterAll(async () => {
  await browser?.dispose();
});

describe('correcting a crop head', () => {
  it('retrains on the crops and keeps the crop; the corrected photo is stored with its crop and names its class', async () => {
    const photo = (await cornerScene((split.test['heart'] as EmojiImage[])[0]?.image as { base64: string }, 2, 77, 80)).image;
    const [first] = await page.evaluate((img) => window.tannerin.predictData([img]), photo);
    expect(first?.crop?.method).toBe('featuremap');
    // The person says it is the class the model ranked second.
    const runnerUp = first?.predictions[1]?.label as string;
    const r = await page.evaluate(([img, label]) => window.tannerin.correctImage(img, { className: label }), [photo, runnerUp] as const);
    expect(r.prediction?.crop?.method).toBe('featuremap');
    // The prediction gives the crop's embedding (not the photo's: that is the crop's pass).
    expect(r.prediction?.embedding).toBeNull();
    expect(r.prediction?.cropEmbedding).toBeGreaterThan(1000);

    const retrained = await page.evaluate((id) => window.tannerin.retrained(id), r.correction.exampleId);
    if (!retrained.ok || !retrained.value) throw new Error(JSON.stringify(retrained.error));
    const report = retrained.value;
    expect(report.headId).toBe(headId);
    expect(report.warmStart).toEqual({ classesKept: 2 });
    expect(report.examples.photos).toBe(13);
    expect(report.split.trainPhotos + report.split.heldOutPhotos).toBe(13);
    // The head trained (whatever the guard then chose) predicts crops.
    expect(report.trained.crop).toEqual(DEFAULT_FEATURE_MAP_CROP);
    expect(report.trained.formatVersion).toBe(2);
    expect(report.doc.crop).toEqual(DEFAULT_FEATURE_MAP_CROP);
    expect(report.cropRetraining).toEqual({ kept: true, setting: DEFAULT_FEATURE_MAP_CROP });
    const stored = await page.evaluate((id) => window.tannerin.getHead(id), headId);
    expect(stored?.crop).toEqual(DEFAULT_FEATURE_MAP_CROP);
    const state = await page.evaluate((id) => window.tannerin.getHeadState(id), headId);
    if (report.saved) {
      expect(state?.trainedOn).toContain(r.correction.exampleId);
      if (state?.judged) expect(state.judged.doc.crop).toEqual(DEFAULT_FEATURE_MAP_CROP);
    }

    // The corrected photo's crop is stored like any example's, and was in the crops trained on.
    const crop = await page.evaluate((id) => window.tannerin.exampleCrop(id), r.correction.exampleId);
    expect(crop.pending).toBe(false);
    expect(crop.inCrops).toBe(true);
    // Its embedding is the prediction's crop's, bit for bit: no second pass for the crop.
    expect(crop.embeddingIsPredictions).toBe(true);
    expect(crop.crop).toMatchObject({ setting: DEFAULT_FEATURE_MAP_CROP, width: 224, height: 224 });
    // Cut at the box the prediction used.
    const box = r.prediction?.crop?.box ?? { x: 0, y: 0, width: 1, height: 1 };
    for (const k of ['x', 'y', 'width', 'height'] as const) expect(crop.crop?.box[k]).toBeCloseTo(box[k], 6);

    // The same photo names the corrected class; the model still predicts with its crop.
    const [again] = await page.evaluate((img) => window.tannerin.predictData([img]), photo);
    expect(again?.corrected?.className).toBe(runnerUp);
    expect(again?.predictions[0]).toEqual({ label: runnerUp, score: 1 });
    expect(again?.crop?.method).toBe('featuremap');
    expect(again?.head.id).toBe(headId);
    expect(browser.errors).toEqual([]);
  });

  it('gives way to a whole-frame head, saying why, when the head crops with another setting than the photos\' crops', async () => {
    // As an imported crop head might: another threshold than the one the examples' crops are cut with.
    const other = { ...DEFAULT_FEATURE_MAP_CROP, threshold: 0.4 };
    const json = (await page.evaluate((id) => window.tannerin.headJson(id), headId)) as string;
    const imported = { ...(JSON.parse(json) as Record<string, unknown>), id: crypto.randomUUID(), crop: other };
    const stored = await page.evaluate((j) => window.tannerin.storeDocument(j, true), JSON.stringify(imported));
    if (!stored.ok) throw new Error(JSON.stringify(stored.error));
    const photo = (await cornerScene((split.test['heart'] as EmojiImage[])[1]?.image as { base64: string }, 0, 78, 80)).image;
    const r = await page.evaluate((img) => window.tannerin.correctImage(img, { className: 'animal-mammal' }), photo);
    expect(r.prediction?.head.id).toBe(stored.id);
    expect(r.prediction?.crop?.method).toBe('featuremap');
    const retrained = await page.evaluate((id) => window.tannerin.retrained(id), r.correction.exampleId);
    if (!retrained.ok || !retrained.value) throw new Error(JSON.stringify(retrained.error));
    const report = retrained.value;
    expect(report.headId).toBe(stored.id);
    expect(report.cropRetraining).toMatchObject({ kept: false, setting: other });
    expect(report.cropRetraining?.reason).toMatch(/the photos' crops are cut with .*retrained as a whole-frame head/);
    expect(report.trained.crop).toBeUndefined();
    expect(report.doc.crop).toBeUndefined();
    // Not its crop (another setting): the example's crop is its own, found when it was added.
    await page.evaluate((id) => window.tannerin.pendingCropsSettled(id), r.correction.exampleId);
    const crop = await page.evaluate((id) => window.tannerin.exampleCrop(id), r.correction.exampleId);
    expect(crop.inCrops).toBe(true);
    expect(crop.embeddingIsPredictions).toBe(false);
    const [again] = await page.evaluate((img) => window.tannerin.predictData([img]), photo);
    expect(again?.corrected?.className).toBe('animal-mammal');
    expect(again?.crop).toBeUndefined();
    expect(browser.errors).toEqual([]);
  });
});
