/**
 * Learning from mistakes (issue 18 pts 1 and 4), in Chromium with real IndexedDB against the real
 * Worker: a wrong prediction corrected in one call (`correct`) is stored at once with the
 * prediction's own embedding (no backbone pass), remembered (the same photo, file or frame, then
 * names the corrected class, first with score 1), and the model retrains in the background from
 * its current weights; a photo corrected again moves its example; deleting the example or its class
 * forgets it; a correction made while Train runs is stored at once, waits, and takes part in the
 * next training, and corrections made meanwhile share one retraining; all of it offline.
 *
 * Three emoji subcategories are taught (5 photos each); the "wrong prediction" is a photo of a
 * fourth (fruit), which the model can only get wrong. To hold views or trainings without timing,
 * a second tab of the same profile holds the Web Lock (as another tab's work would).
 */
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchChromium, type Browser } from './chrome.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';
import { harnessTab, holdViewsLock, releaseViewsLock } from './tabs.ts';

const baseUrl = inject('baseUrl');
const CLASSES = ['heart', 'animal-mammal', 'transport-ground'];
const split = emojiSplit([...CLASSES, 'food-fruit'], 5, 4, 18);
const taught = CLASSES.map((name) => ({ name, images: (split.train[name] as EmojiImage[]).map((e) => e.image) }));
const test = (label: string, i: number) => (split.test[label] as EmojiImage[])[i]?.image as { base64: string; type: string };

type LockHolder = { releaseTrainingLock?: () => void };

/** Makes `page` hold the training lock (as another tab's training would) until {@link releaseTrainingLock}. */
async function holdTrainingLock(page: Page): Promise<void> {
  await page.evaluate(
    () =>
      new Promise<void>((granted) => {
        void navigator.locks.request(window.tannerin.TRAINING_LOCK, () => new Promise<void>((release) => {
          (globalThis as LockHolder).releaseTrainingLock = release;
          granted();
        }));
      }),
  );
}

async function releaseTrainingLock(page: Page): Promise<void> {
  await page.evaluate(() => (globalThis as LockHolder).releaseTrainingLock?.());
}

/** Whether some tab of the profile holds the training lock. */
function trainingLockHeld(page: Page): Promise<boolean> {
  return page.evaluate(async () => ((await navigator.locks.query()).held ?? []).some((l) => l.name === window.tannerin.TRAINING_LOCK));
}

let browser: Browser;
let page: Page;
let holder: Page;
let headId = '';

beforeAll(async () => {
  browser = await launchChromium();
  page = await harnessTab(browser, baseUrl);
  holder = await harnessTab(browser, baseUrl, false);
  await page.evaluate((c) => window.tannerin.teach(c), taught);
  const trained = await page.evaluate(() => window.tannerin.trainNow());
  if (!trained.ok) throw new Error(trained.error.message);
  headId = trained.report.headId;
}, 180_000);

// A test that failed holding a lock must not hold up the next ones (releasing twice is harmless).
afterEach(async () => {
  await releaseViewsLock(holder);
  await releaseTrainingLock(holder);
});

afterAll(async () => {
  await browser?.dispose();
});

describe('correct in one tap', () => {
  let fruitExample = '';
  let fruitKey = '';

  it('stores the photo at once with its prediction\'s embedding, remembers it, and retrains from the current weights', async () => {
    // Warm: the head loaded by a first prediction (its weights are tensors the cache keeps).
    await page.evaluate((imgs) => window.tannerin.predictData(imgs), [test('heart', 0)]);
    const before = await page.evaluate(() => window.tannerin.memory());
    // Background views wait (another tab holds their lock): every backbone pass counted is correct()'s own.
    await holdViewsLock(holder);
    const r = await page.evaluate((img) => window.tannerin.correctImage(img, { newClassName: 'fruit' }), test('food-fruit', 0));
    await releaseViewsLock(holder);
    if (!r.prediction) throw new Error('no prediction');
    // The model could only be wrong: fruit is not one of its classes.
    expect(r.prediction.head).toMatchObject({ id: headId, kind: 'personal' });
    expect(CLASSES).toContain(r.prediction.predictions[0]?.label);
    expect(r.prediction.corrected).toBeUndefined();
    expect(r.prediction.embedding).toBeGreaterThan(1000);
    expect(r.prediction.photoKey).toMatch(/^[0-9a-f]{64}$/);
    expect(r.correction.photoKey).toBe(r.prediction.photoKey);
    // Stored with the prediction's embedding, bit for bit, and no backbone pass.
    expect(r.embeds).toBe(0);
    expect(r.view0IsPredictions).toBe(true);
    const classes = await page.evaluate(() => window.tannerin.listClasses());
    expect(classes.find((c) => c.id === r.correction.classId)?.name).toBe('fruit');
    expect(await page.evaluate(() => window.tannerin.corrections())).toEqual([
      { photoKey: r.correction.photoKey, exampleId: r.correction.exampleId, created: expect.any(String) },
    ]);
    fruitExample = r.correction.exampleId;
    fruitKey = r.correction.photoKey;

    const retrained = await page.evaluate((id) => window.tannerin.retrained(id), r.correction.exampleId);
    if (!retrained.ok || !retrained.value) throw new Error(retrained.error?.message);
    const report = retrained.value;
    expect(report.headId).toBe(headId);
    // Warm start: the three classes the head knew started from its weights; fruit started fresh.
    expect(report.warmStart).toEqual({ classesKept: 3 });
    expect(report.examples.classes).toEqual([...CLASSES, 'fruit']);
    expect(report.examples.photos).toBe(16);
    // Cross-validation (1 fruit photo): the guard takes the new head; it is stored and active.
    expect(report.outcome).toBe('new-head');
    expect(report.doc.classes).toEqual([...CLASSES, 'fruit']);
    expect(await page.evaluate(() => window.tannerin.activeHeadId())).toBe(headId);
    expect((await page.evaluate((id) => window.tannerin.getHeadState(id), headId))?.trainedOn).toContain(r.correction.exampleId);

    // The same photo names the corrected class, first with score 1; another fruit does not.
    const [again, other] = await page.evaluate((imgs) => window.tannerin.predictData(imgs), [test('food-fruit', 0), test('food-fruit', 1)]);
    expect(again?.predictions[0]).toEqual({ label: 'fruit', score: 1 });
    expect(again?.corrected).toEqual({ classId: r.correction.classId, className: 'fruit' });
    expect(again?.photoKey).toBe(r.correction.photoKey);
    expect(other?.corrected).toBeUndefined();
    expect(other?.photoKey).not.toBe(r.correction.photoKey);
    // Tensors flat once the views are in.
    await page.evaluate(() => window.tannerin.pendingViewsSettled());
    expect((await page.evaluate(() => window.tannerin.memory())).numTensors).toBe(before.numTensors);
  });

  it('moves the example of a photo corrected again; a frame is remembered by its pixels; deleting the example or the class forgets it', async () => {
    const r = await page.evaluate((img) => window.tannerin.correctImage(img, { className: 'heart' }), test('food-fruit', 0));
    // One example per photo: the fruit example moved to heart.
    expect(r.correction.exampleId).toBe(fruitExample);
    expect(r.correction.photoKey).toBe(fruitKey);
    expect((await page.evaluate((id) => window.tannerin.getExample(id), fruitExample))?.classId).toBe(r.correction.classId);
    expect((await page.evaluate((imgs) => window.tannerin.predictData(imgs), [test('food-fruit', 0)]))[0]?.predictions[0]).toEqual({ label: 'heart', score: 1 });
    await page.evaluate((id) => window.tannerin.retrained(id), fruitExample);

    // Without a prediction the photo is embedded then (one pass); a canvas frame is keyed by its pixels.
    const frame = await page.evaluate((img) => window.tannerin.correctImage(img, { newClassName: 'temp' }, { withPrediction: false, kind: 'canvas' }), test('food-fruit', 2));
    expect(frame.embeds).toBeGreaterThanOrEqual(1);
    const framePrediction = await page.evaluate((img) => window.tannerin.tryPredict(img), test('food-fruit', 2));
    // The same image as a file is other bytes than the frame's pixels: not the same photo.
    expect(framePrediction.ok && framePrediction.result.corrected).toBeUndefined();
    const keys = await page.evaluate(async (img) => {
      const t = window.tannerin;
      const bitmap = await createImageBitmap(new Blob([Uint8Array.from(atob(img.base64), (ch) => ch.charCodeAt(0))], { type: img.type }));
      const canvas = document.createElement('canvas');
      canvas.width = bitmap.width;
      canvas.height = bitmap.height;
      canvas.getContext('2d')?.drawImage(bitmap, 0, 0);
      const result = await t.predict(canvas);
      return { photoKey: result.photoKey, corrected: result.corrected ?? null, first: result.predictions[0] };
    }, test('food-fruit', 2));
    expect(keys.photoKey).toBe(frame.correction.photoKey);
    expect(keys.corrected?.className).toBe('temp');
    expect(keys.first).toEqual({ label: 'temp', score: 1 });
    await page.evaluate((id) => window.tannerin.retrained(id), frame.correction.exampleId);

    // Deleting the class forgets the frame; deleting the example forgets the photo.
    await page.evaluate((id) => window.tannerin.deleteClass(id), frame.correction.classId);
    await page.evaluate((id) => window.tannerin.deleteExample(id), fruitExample);
    expect(await page.evaluate(() => window.tannerin.corrections())).toEqual([]);
    const after = await page.evaluate((imgs) => window.tannerin.predictData(imgs), [test('food-fruit', 0)]);
    expect(after[0]?.corrected).toBeUndefined();
  });
});

describe('a correction never loses data', () => {
  it('made while Train runs, it is stored at once, waits, and takes part in the next training; corrections meanwhile share it', async () => {
    // Train waits for a photo's views (their lock is held): it holds the training lock meanwhile.
    await holdViewsLock(holder);
    const heart = await page.evaluate(() => window.tannerin.listClasses().then((c) => c.find((x) => x.name === 'heart')?.id as string));
    await page.evaluate(([id, img]) => window.tannerin.addPhotos(id, [img], 40), [heart, test('heart', 3)] as const);
    const started = await page.evaluate(() => window.tannerin.retrainingsStarted());
    await page.evaluate((id) => window.tannerin.startTrain({ headId: id }), headId);
    await expect.poll(() => trainingLockHeld(page)).toBe(true);

    const a = await page.evaluate((img) => window.tannerin.correctImage(img, { className: 'heart' }), test('animal-mammal', 3));
    const b = await page.evaluate((img) => window.tannerin.correctImage(img, { className: 'animal-mammal' }), test('transport-ground', 3));
    // Stored at once, while Train still runs.
    expect(await page.evaluate(() => window.tannerin.trainEndedYet())).toBeNull();
    const ids = (await page.evaluate(() => window.tannerin.listExamples())).map((e) => e.id);
    expect(ids).toEqual(expect.arrayContaining([a.correction.exampleId, b.correction.exampleId]));
    // Both wait for one retraining, not started yet.
    expect(await page.evaluate(([x, y]) => window.tannerin.sameRetraining(x, y), [a.correction.exampleId, b.correction.exampleId] as const)).toBe(true);
    await page.waitForTimeout(300);
    expect(await page.evaluate((id) => window.tannerin.retrainedYet(id), a.correction.exampleId)).toBeNull();

    await releaseViewsLock(holder);
    const trained = await page.evaluate(() => window.tannerin.trainEnded());
    const retrained = await page.evaluate((id) => window.tannerin.retrained(id), a.correction.exampleId);
    expect(trained.ok).toBe(true);
    expect(retrained.ok).toBe(true);
    // After Train, one retraining for both corrections, which trained on them.
    expect(retrained.at).toBeGreaterThan(trained.at);
    expect(await page.evaluate(() => window.tannerin.retrainingsStarted())).toBe(started + 1);
    expect(retrained.value?.headId).toBe(headId);
    const state = await page.evaluate((id) => window.tannerin.getHeadState(id), headId);
    expect(state?.trainedOn).toEqual(expect.arrayContaining([a.correction.exampleId, b.correction.exampleId]));
  });

  it('while another tab trains, a correction waits for it and reads the examples after it', async () => {
    await holdTrainingLock(holder);
    const c = await page.evaluate((img) => window.tannerin.correctImage(img, { className: 'transport-ground' }), test('heart', 2));
    await page.waitForTimeout(300);
    expect(await page.evaluate((id) => window.tannerin.retrainedYet(id), c.correction.exampleId)).toBeNull();
    // A photo taught meanwhile takes part too: the retraining reads the examples once it starts.
    const mammal = await page.evaluate(() => window.tannerin.listClasses().then((l) => l.find((x) => x.name === 'animal-mammal')?.id as string));
    const [added] = await page.evaluate(([id, img]) => window.tannerin.addPhotos(id, [img], 50), [mammal, test('animal-mammal', 2)] as const);
    await releaseTrainingLock(holder);
    const retrained = await page.evaluate((id) => window.tannerin.retrained(id), c.correction.exampleId);
    expect(retrained.ok).toBe(true);
    const state = await page.evaluate((id) => window.tannerin.getHeadState(id), headId);
    expect(state?.trainedOn).toEqual(expect.arrayContaining([c.correction.exampleId, added?.example.id as string]));
    expect(retrained.value?.warmStart).toEqual({ classesKept: 3 });
  });
});

describe('offline', () => {
  it('corrects, remembers and retrains with the network off, without a single request', async () => {
    const requests: string[] = [];
    page.on('request', (r) => {
      if (!/^(data|blob):/.test(r.url())) requests.push(r.url());
    });
    await browser.context.setOffline(true);
    try {
      const r = await page.evaluate((img) => window.tannerin.correctImage(img, { newClassName: 'fruit' }), test('food-fruit', 3));
      const retrained = await page.evaluate((id) => window.tannerin.retrained(id), r.correction.exampleId);
      expect(retrained.ok).toBe(true);
      expect(retrained.value?.saved).toBe(true);
      const [again] = await page.evaluate((imgs) => window.tannerin.predictData(imgs), [test('food-fruit', 3)]);
      expect(again?.corrected?.className).toBe('fruit');
      expect(again?.predictions[0]).toEqual({ label: 'fruit', score: 1 });
      await page.evaluate(() => window.tannerin.pendingViewsSettled());
    } finally {
      await browser.context.setOffline(false);
    }
    expect(requests).toEqual([]);
  });
});
