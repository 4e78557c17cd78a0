/**
 * Correcting a fine-tuned model (issue 18 pt 1: "for a fine-tuned model, the head on its tail; the
 * tail stays"), in Chromium with real IndexedDB against the real Worker: the correction retrains the
 * fine-tuned model's head on the embeddings its own tail gives (client/lib/retrain-tail.ts), from
 * that head's weights, and the model stored keeps the very same tail; the corrected photo names the
 * corrected class; a second correction passes only the photos new since the first through the tail
 * (client/lib/tail-embeddings.ts's cache), offline, and the tensor count stays flat. The time from
 * correction to the retrained model in use, first (every photo's views through the tail) and second
 * (from the cache), with 48 photos stored, is printed; so are a warm-up's (`warmCorrections`, after the
 * cache is cleared as by a reload) and the correction after it, which computes only its new photo.
 *
 * The fine-tuned model is made on the Node side (tests/helpers/fine-tuned.ts: the real top block,
 * weights perturbed; a plain softmax head, as `improve()`'s fine-tuning leaves) and stored active,
 * as an imported or synced one would be: `improve()` in the page would take minutes.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { HeadDocument } from '../../shared/head/document.ts';
import { initNodeImageDecoder, startNodeWasmBackend } from '../../scripts/node-backend.ts';
import { loadLocalModels } from '../../scripts/node-models.ts';
import { makeFineTunedDoc } from '../helpers/fine-tuned.ts';
import { launchChromium, type Browser } from './chrome.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';
import { harnessTab } from './tabs.ts';

const baseUrl = inject('baseUrl');
const CLASSES = ['heart', 'animal-mammal', 'transport-ground'];
const PER_CLASS = 16;
const split = emojiSplit([...CLASSES, 'food-fruit'], PER_CLASS, 3, 23);
const taught = CLASSES.map((name) => ({ name, images: (split.train[name] as EmojiImage[]).map((e) => e.image) }));
const fruit = (i: number) => (split.test['food-fruit'] as EmojiImage[])[i]?.image as { base64: string; type: string };

let browser: Browser;
let page: Page;
let doc: HeadDocument;
/** Views the first retraining trained on (each photo and its augmented views stored by then). */
let firstViews = 0;

/** The stored head's tail as JSON, its head weights, classes and id. */
function storedHead(p: Page, id: string) {
  return p.evaluate(async (headId) => {
    const d = await window.tannerin.getHead(headId);
    return d ? { tail: d.backboneTail ? JSON.stringify(d.backboneTail) : null, weightData: d.weightData, classes: d.classes, created: d.created } : null;
  }, id);
}

beforeAll(async () => {
  await startNodeWasmBackend();
  await initNodeImageDecoder();
  const models = await loadLocalModels();
  // A plain softmax head (hidden 0), as fine-tuning's warm start makes it: the correction starts from it.
  doc = await makeFineTunedDoc(models.backbone, { id: crypto.randomUUID(), seed: 5, classes: CLASSES, hidden: 0, name: 'emoji fine-tuned' });
  models.backbone.dispose();

  browser = await launchChromium();
  page = await harnessTab(browser, baseUrl);
  await page.evaluate((c) => window.tannerin.teach(c), taught);
  const stored = await page.evaluate((json) => window.tannerin.storeDocument(json, true), JSON.stringify(doc));
  if (!stored.ok) throw new Error(stored.error.message);
}, 300_000);

afterAll(async () => {
  await browser?.dispose();
});

describe('correcting a fine-tuned model', () => {
  let fruitClass = '';
  let tensorsBefore = 0;

  it('retrains its head on its tail from its own weights; the tail stays, bit for bit; the photo names the corrected class', async () => {
    // Warm: the fine-tuned model loaded by a first prediction (the cache keeps its tensors).
    const [first] = await page.evaluate((imgs) => window.tannerin.predictData(imgs), [fruit(2)]);
    expect(first?.head).toMatchObject({ id: doc.id, fineTuned: true });
    tensorsBefore = (await page.evaluate(() => window.tannerin.memory())).numTensors;

    const r = await page.evaluate((img) => window.tannerin.correctImage(img, { newClassName: 'fruit' }), fruit(0));
    expect(r.prediction?.head).toMatchObject({ id: doc.id, fineTuned: true });
    const retrained = await page.evaluate((id) => window.tannerin.retrained(id), r.correction.exampleId);
    if (!retrained.ok || !retrained.value) throw new Error(retrained.error?.message);
    const report = retrained.value;
    fruitClass = r.correction.classId;
    console.log(`fine-tuned model, first correction to ready: ${Math.round(retrained.at - r.startedAt)} ms (training ${Math.round(report.ms)} ms, tail ${Math.round(report.fineTuned?.embedMs ?? NaN)} ms for ${report.fineTuned?.viewsComputed} views; ${report.examples.photos} photos, ${report.split.method}, ${report.outcome})`);

    // Every stored view went through the tail now (nothing cached yet): 4 of each taught photo, and
    // the fruit's own (its augmented views may be stored by then); the head started from the fine-tuned one.
    firstViews = report.examples.vectors;
    expect(firstViews).toBeGreaterThanOrEqual(4 * 3 * PER_CLASS + 1);
    expect(report.fineTuned).toMatchObject({ kept: true, viewsComputed: firstViews, viewsCached: 0 });
    expect(report.fineTuned?.reason).toBeUndefined();
    expect(report.warmStart).toEqual({ classesKept: 3 });
    expect(report.headId).toBe(doc.id);
    expect(report.examples.photos).toBe(3 * PER_CLASS + 1);
    // Cross-validation (1 fruit photo): the guard takes the new head, stored and in use.
    expect(report.outcome).toBe('new-head');
    expect(report.saved).toBe(true);
    expect(report.doc.backboneTail).toBeDefined();

    const now = await storedHead(page, doc.id);
    // The tail, exactly as it was; the head, retrained with the new class.
    expect(now?.tail).toBe(JSON.stringify(doc.backboneTail));
    expect(now?.classes).toEqual([...CLASSES, 'fruit']);
    expect(now?.weightData).not.toBe(doc.weightData);
    expect(await page.evaluate(() => window.tannerin.activeHeadId())).toBe(doc.id);
    expect((await page.evaluate((id) => window.tannerin.getHeadState(id), doc.id))?.trainedOn).toContain(r.correction.exampleId);

    // The same photo names the corrected class; another photo is predicted by the retrained fine-tuned model.
    const [again, other] = await page.evaluate((imgs) => window.tannerin.predictData(imgs), [fruit(0), fruit(2)]);
    expect(again?.predictions[0]).toEqual({ label: 'fruit', score: 1 });
    expect(again?.corrected?.className).toBe('fruit');
    expect(other?.head).toMatchObject({ id: doc.id, fineTuned: true });
    expect(other?.predictions.map((p) => p.label).sort()).toEqual([...CLASSES, 'fruit'].sort());
    expect(await page.evaluate(() => window.tannerin.tailEmbeddingsCached())).toEqual([firstViews]);
  }, 120_000);

  it('a second correction, offline, passes only the photos new since the first through the tail; tensors flat', async () => {
    // The first fruit photo's augmented views are stored by now: they are new to the tail too.
    await page.evaluate(() => window.tannerin.pendingViewsSettled());
    const requests: string[] = [];
    page.on('request', (q) => {
      if (!/^(data|blob):/.test(q.url())) requests.push(q.url());
    });
    await browser.context.setOffline(true);
    try {
      const r = await page.evaluate((img) => window.tannerin.correctImage(img, { className: 'fruit' }), fruit(1));
      expect(r.correction.classId).toBe(fruitClass);
      const retrained = await page.evaluate((id) => window.tannerin.retrained(id), r.correction.exampleId);
      if (!retrained.ok || !retrained.value) throw new Error(retrained.error?.message);
      const report = retrained.value;
      console.log(`fine-tuned model, second correction to ready: ${Math.round(retrained.at - r.startedAt)} ms (training ${Math.round(report.ms)} ms, tail ${Math.round(report.fineTuned?.embedMs ?? NaN)} ms for ${report.fineTuned?.viewsComputed} views, ${report.fineTuned?.viewsCached} cached; ${report.split.method}, ${report.outcome})`);
      // Only the new photo and the first fruit's views stored since; every other view from the cache.
      expect(report.fineTuned).toMatchObject({ kept: true, viewsComputed: report.examples.vectors - firstViews, viewsCached: firstViews });
      expect(report.fineTuned?.viewsComputed).toBeLessThanOrEqual(4);
      // The cache holds every view trained on, once.
      expect(await page.evaluate(() => window.tannerin.tailEmbeddingsCached())).toEqual([report.examples.vectors]);
      expect(report.warmStart).toEqual({ classesKept: 4 });
      expect(report.examples.photos).toBe(3 * PER_CLASS + 2);
      expect((await storedHead(page, doc.id))?.tail).toBe(JSON.stringify(doc.backboneTail));
      const [again] = await page.evaluate((imgs) => window.tannerin.predictData(imgs), [fruit(1)]);
      expect(again?.predictions[0]).toEqual({ label: 'fruit', score: 1 });
      await page.evaluate(() => window.tannerin.pendingViewsSettled());
    } finally {
      await browser.context.setOffline(false);
    }
    expect(requests).toEqual([]);
    // The same number of tensors as before the first correction (the retrained model's predictor loaded instead).
    expect((await page.evaluate(() => window.tannerin.memory())).numTensors).toBe(tensorsBefore);
  }, 120_000);

  it('after a reload (the cache empty), warmCorrections computes the views ahead: the first correction then computes only its new photo; tensors flat', async () => {
    await page.evaluate(() => window.tannerin.pendingViewsSettled());
    await page.evaluate(() => window.tannerin.clearTailEmbeddings());
    expect(await page.evaluate(() => window.tannerin.tailEmbeddingsCached())).toEqual([]);
    // An aborted warm-up computes nothing.
    const aborted = await page.evaluate(() => {
      const controller = new AbortController();
      controller.abort();
      return window.tannerin.warmCorrections({ signal: controller.signal });
    });
    expect(aborted).toMatchObject({ headId: doc.id, fineTuned: true, viewsComputed: 0, stopped: true });

    const warm = await page.evaluate(() => window.tannerin.warmCorrections());
    const stored = (await page.evaluate(() => window.tannerin.tailEmbeddingsCached()))[0] ?? 0;
    console.log(`fine-tuned model, warm-up: ${Math.round(warm.ms)} ms for ${warm.viewsComputed} views`);
    expect(warm).toMatchObject({ headId: doc.id, fineTuned: true, stopped: false });
    expect(warm.viewsComputed).toBe(stored);
    expect(stored).toBeGreaterThan(firstViews);

    const r = await page.evaluate((img) => window.tannerin.correctImage(img, { className: 'fruit' }), fruit(2));
    const retrained = await page.evaluate((id) => window.tannerin.retrained(id), r.correction.exampleId);
    if (!retrained.ok || !retrained.value) throw new Error(retrained.error?.message);
    const report = retrained.value;
    console.log(`fine-tuned model, first correction after a warm-up to ready: ${Math.round(retrained.at - r.startedAt)} ms (training ${Math.round(report.ms)} ms, tail ${Math.round(report.fineTuned?.embedMs ?? NaN)} ms for ${report.fineTuned?.viewsComputed} views, ${report.fineTuned?.viewsCached} cached; ${report.split.method}, ${report.outcome})`);
    // Without the warm-up every view would be computed here (the first test: viewsCached 0).
    expect(report.fineTuned).toMatchObject({ kept: true, viewsComputed: report.examples.vectors - stored, viewsCached: stored });
    expect(report.fineTuned?.viewsComputed).toBeLessThanOrEqual(4);
    // The retrained model predicts (its predictor loaded, as before the first correction); the same tensors as then.
    const [again] = await page.evaluate((imgs) => window.tannerin.predictData(imgs), [fruit(2)]);
    expect(again?.predictions[0]).toEqual({ label: 'fruit', score: 1 });
    await page.evaluate(() => window.tannerin.pendingViewsSettled());
    expect((await page.evaluate(() => window.tannerin.memory())).numTensors).toBe(tensorsBefore);
  }, 120_000);

  it('a correction made while a warm-up runs reuses what it did and computes the rest: no view twice', async () => {
    await page.evaluate(() => window.tannerin.pendingViewsSettled());
    await page.evaluate(() => {
      window.tannerin.clearTailEmbeddings();
      (globalThis as { warmRun?: Promise<unknown> }).warmRun = window.tannerin.warmCorrections();
    });
    // The correction starts once the warm-up has cached some views (not after a fixed wait, which a loaded machine could outrun).
    await page.waitForFunction(() => window.tannerin.tailEmbeddingsCached().some((n) => n > 0), undefined, { timeout: 60_000 });
    const heart = (split.test.heart as EmojiImage[])[0]?.image as { base64: string; type: string };
    const r = await page.evaluate((img) => window.tannerin.correctImage(img, { className: 'heart' }), heart);
    const retrained = await page.evaluate((id) => window.tannerin.retrained(id), r.correction.exampleId);
    if (!retrained.ok || !retrained.value) throw new Error(retrained.error?.message);
    const report = retrained.value;
    type Warm = Awaited<ReturnType<typeof window.tannerin.warmCorrections>>;
    const warm = await page.evaluate(() => (globalThis as { warmRun?: Promise<Warm> }).warmRun as Promise<Warm>);
    console.log(`fine-tuned model, correction during a warm-up: warm-up ${warm.viewsComputed} views in ${Math.round(warm.ms)} ms, correction ${report.fineTuned?.viewsComputed} views (${report.fineTuned?.viewsCached} cached), ${Math.round(retrained.at - r.startedAt)} ms to ready`);
    expect(warm).toMatchObject({ fineTuned: true, stopped: false });
    expect(warm.viewsComputed).toBeGreaterThan(0);
    expect(report.fineTuned?.kept).toBe(true);
    // The cache was empty: between them every view was computed exactly once.
    expect(warm.viewsComputed + (report.fineTuned?.viewsComputed ?? NaN)).toBe(report.examples.vectors);
    expect(await page.evaluate(() => window.tannerin.tailEmbeddingsCached())).toEqual([report.examples.vectors]);
  }, 120_000);

  it('Train (not a correction) still retrains a plain head on the frozen embeddings, dropping the tail', async () => {
    const trained = await page.evaluate((id) => window.tannerin.trainNow({ headId: id }), doc.id);
    if (!trained.ok) throw new Error(trained.error.message);
    expect(trained.report.fineTuned).toBeUndefined();
    expect((await storedHead(page, doc.id))?.tail).toBeNull();
  }, 120_000);

  it("a plain head's warm-up does nothing", async () => {
    const before = await page.evaluate(() => window.tannerin.tailEmbeddingsCached());
    const warm = await page.evaluate(() => window.tannerin.warmCorrections());
    expect(warm).toMatchObject({ headId: doc.id, fineTuned: false, viewsComputed: 0, stopped: false });
    expect(await page.evaluate(() => window.tannerin.tailEmbeddingsCached())).toEqual(before);
  }, 60_000);
});
