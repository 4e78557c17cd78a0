/**
 * A correction of a detector-crop head (a head whose `crop.method` is "detector", kept by Train
 * while "find the object first" is on; issue 18 pt 1 with issue 17) in Chromium with real
 * IndexedDB: the retraining (client/lib/retrain-crop.ts) trains on the photos' detector crops
 * (client/lib/detector-crops.ts) from the head's own weights and keeps the crop, so the corrected
 * model still finds the object first; the corrected photo's detector crop is its prediction's box
 * and crop embedding (client/lib/detector-crop-make.ts: no second detector pass, its score not
 * known), and the photo then names the class it was corrected to. With the detector off, the crop
 * gives way to a whole-frame head and the report says why.
 *
 * Photos: two emoji subcategories, each emoji small in a corner of a noisy frame
 * (tests/browser/crop-scenes.ts). Teaching with the detector on gives each photo its detector crop
 * in the background (no Train needed for that: checked before Train). When Train kept another
 * crop, the head is stored again with the default detector crop (as one kept by an earlier Train
 * would be).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import { DEFAULT_DETECTOR_CROP } from '../../shared/crop/detector-box.ts';
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
  const on = await page.evaluate(() => window.tannerin.detectorOn());
  if (!on.ok) throw new Error(JSON.stringify(on));
  headId = await trainCropHead(page, await cornerClasses(CLASSES, split.train), DEFAULT_DETECTOR_CROP);
}, 240_000);

afterAll(async () => {
  await browser?.dispose();
});

describe('correcting a detector-crop head', () => {
  it('retrains on the detector crops and keeps the crop; the corrected photo keeps its prediction\'s detector crop and names its class', async () => {
    const photo = (await cornerScene((split.test['heart'] as EmojiImage[])[0]?.image as { base64: string }, 2, 77, 80)).image;
    const predicted = await page.evaluate((img) => window.tannerin.predictCrop(img), photo);
    expect(predicted.method).toBe('detector');
    expect(predicted.head).toBe(headId);
    const [first] = await page.evaluate((img) => window.tannerin.predictData([img]), photo);
    const runnerUp = first?.predictions[1]?.label as string;
    const r = await page.evaluate(([img, label]) => window.tannerin.correctImage(img, { className: label }), [photo, runnerUp] as const);
    expect(r.prediction?.crop?.method).toBe('detector');

    const retrained = await page.evaluate((id) => window.tannerin.retrained(id), r.correction.exampleId);
    if (!retrained.ok || !retrained.value) throw new Error(JSON.stringify(retrained.error));
    const report = retrained.value;
    expect(report.headId).toBe(headId);
    expect(report.examples.photos).toBe(13);
    expect(report.cropRetraining).toEqual({ kept: true, setting: DEFAULT_DETECTOR_CROP });
    expect(report.trained.crop).toEqual(DEFAULT_DETECTOR_CROP);
    expect(report.doc.crop?.method).toBe('detector');
    const stored = await page.evaluate((id) => window.tannerin.getHead(id), headId);
    expect(stored?.crop).toEqual(DEFAULT_DETECTOR_CROP);

    // The corrected photo's detector crop is the prediction's: its box, its crop embedding bit for
    // bit (a crop cut again from the 299-px copy would differ), no score (no detector pass of its own).
    const mine = await page.evaluate((id) => window.tannerin.detectorCropOf(id), r.correction.exampleId);
    expect(mine.crop?.score).toBeNull();
    expect(mine.crop?.setting).toEqual(DEFAULT_DETECTOR_CROP);
    for (const k of ['x', 'y', 'width', 'height'] as const) expect(mine.crop?.box[k]).toBeCloseTo(predicted.box?.[k] ?? NaN, 6);
    expect(mine.embedding).toEqual(predicted.cropEmbedding);

    // The same photo names the corrected class; the model still finds the object first.
    const [again] = await page.evaluate((img) => window.tannerin.predictData([img]), photo);
    expect(again?.corrected?.className).toBe(runnerUp);
    expect(again?.predictions[0]).toEqual({ label: runnerUp, score: 1 });
    expect(again?.crop?.method).toBe('detector');
    expect(browser.errors).toEqual([]);
  });

  it('gives way to a whole-frame head, saying why, when the detector is off', async () => {
    await page.evaluate(() => window.tannerin.turnDetectorOff());
    const photo = (await cornerScene((split.test['heart'] as EmojiImage[])[1]?.image as { base64: string }, 0, 78, 80)).image;
    // Off, the head cannot predict: the person corrects the photo without a prediction.
    const r = await page.evaluate((img) => window.tannerin.correctImage(img, { className: 'animal-mammal' }, { withPrediction: false }), photo);
    const retrained = await page.evaluate((id) => window.tannerin.retrained(id), r.correction.exampleId);
    if (!retrained.ok || !retrained.value) throw new Error(JSON.stringify(retrained.error));
    const report = retrained.value;
    expect(report.headId).toBe(headId);
    expect(report.cropRetraining).toMatchObject({ kept: false, setting: DEFAULT_DETECTOR_CROP });
    expect(report.cropRetraining?.reason).toMatch(/object detector is off.*retrained as a whole-frame head/);
    expect(report.doc.crop).toBeUndefined();
    const [again] = await page.evaluate((img) => window.tannerin.predictData([img]), photo);
    expect(again?.corrected?.className).toBe('animal-mammal');
    expect(again?.crop).toBeUndefined();
    expect(browser.errors).toEqual([]);
  });
});
