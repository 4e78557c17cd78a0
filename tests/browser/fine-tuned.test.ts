/**
 * A fine-tuned model (a head document with a `backboneTail`, made on the Node side from the real
 * backbone's top block with perturbed weights: tests/helpers/fine-tuned.ts) round-trips through
 * the browser library against the real Worker: stored, listed as fine-tuned, predicts in Chromium
 * as the Node path does (shared/predict/predictor.ts, within 1e-4) with a flat tensor count, refuses an
 * embedding-only prediction, exports to four standard TF.js files and imports back identical
 * (refused without its tail files), syncs up from one profile, predicts at the edge with
 * `?head=<id>` as in the browser (1e-4), and is pulled by a second profile that predicts the same.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { PredictResponse, Prediction } from '../../shared/api/types.ts';
import type { HeadDocument } from '../../shared/head/document.ts';
import { decodeImage } from '../../shared/image/decode.ts';
import { preprocess } from '../../shared/image/preprocess.ts';
import { loadPredictor } from '../../shared/predict/predictor.ts';
import { initNodeImageDecoder, startNodeWasmBackend } from '../../scripts/node-backend.ts';
import { loadLocalModels } from '../../scripts/node-models.ts';
import { makeFineTunedDoc } from '../helpers/fine-tuned.ts';
import { launchChromium, openHarness, type Browser } from './chrome.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';
import { maxAbsDiff } from './util.ts';

const baseUrl = inject('baseUrl');
const CLASSES = ['heart', 'animal-mammal', 'transport-ground'];
const split = emojiSplit(CLASSES, 0, 2, 13);
const images = CLASSES.flatMap((c) => (split.test[c] as EmojiImage[]).map((e) => e.image));

let doc: HeadDocument;
let docJson: string;
/** Node path's scores per image. */
let expected: Prediction[][];

const byLabel = (ps: Prediction[]) => Object.fromEntries(ps.map((p) => [p.label, p.score]));
/** Largest score difference between two rankings of the same classes. */
function scoreDiff(a: Prediction[], b: Prediction[]): number {
  const x = byLabel(a);
  const y = byLabel(b);
  expect(Object.keys(x).sort()).toEqual(Object.keys(y).sort());
  return maxAbsDiff(Object.keys(x).map((k) => x[k] as number), Object.keys(x).map((k) => y[k] as number));
}

async function openReady(browser: Browser): Promise<Page> {
  const page = await openHarness(browser, baseUrl);
  await page.evaluate(() => window.tannerin.startBackend());
  await page.evaluate(() => window.tannerin.load());
  return page;
}

beforeAll(async () => {
  await startNodeWasmBackend();
  await initNodeImageDecoder();
  const models = await loadLocalModels();
  doc = await makeFineTunedDoc(models.backbone, { id: crypto.randomUUID(), seed: 17, classes: CLASSES, name: 'emoji fine-tuned' });
  docJson = JSON.stringify(doc);
  const model = await loadPredictor(doc, models.backbone);
  expected = [];
  for (const img of images) {
    const pixels = await decodeImage(new Uint8Array(Buffer.from(img.base64, 'base64')));
    expected.push(await model.predictPreprocessed(preprocess(pixels, models.manifest.backbone.normalization)));
  }
  model.dispose();
  models.backbone.dispose();
}, 60_000);

describe('a fine-tuned model in the browser library', () => {
  let a: Browser;
  let b: Browser;
  let pageA: Page;
  let browserScores: Prediction[][] = [];

  beforeAll(async () => {
    a = await launchChromium();
    pageA = await openReady(a);
  });
  afterAll(async () => {
    await Promise.all([a?.dispose(), b?.dispose()]);
  });

  it('is stored after the library’s checks, listed as fine-tuned, and predicts as the Node path (1e-4) with a flat tensor count', async () => {
    const stored = await pageA.evaluate((json) => window.tannerin.storeDocument(json, true), docJson);
    if (!stored.ok) throw new Error(stored.error.message);
    expect(stored.id).toBe(doc.id);
    const heads = await pageA.evaluate(() => window.tannerin.listHeads());
    expect(heads).toEqual([expect.objectContaining({ id: doc.id, fineTuned: true, usable: true, active: true })]);
    expect(heads[0]?.parameters).toBeGreaterThan(500_000);

    const results = await pageA.evaluate((imgs) => window.tannerin.predictImages(imgs), images);
    browserScores = results.map((r) => r.predictions);
    results.forEach((r, i) => {
      expect(r.head).toMatchObject({ id: doc.id, kind: 'personal', fineTuned: true });
      expect(r.predictions.map((p) => p.label)).toEqual(expected[i]?.map((p) => p.label));
      expect(scoreDiff(r.predictions, expected[i] as Prediction[])).toBeLessThanOrEqual(1e-4);
    });
    const before = await pageA.evaluate(() => window.tannerin.memory());
    await pageA.evaluate((imgs) => window.tannerin.predictImages(imgs, {}), images);
    expect((await pageA.evaluate(() => window.tannerin.memory())).numTensors).toBe(before.numTensors);
  });

  it('an embedding alone cannot be used with it: an error that says why', async () => {
    const r = await pageA.evaluate((id) => window.tannerin.tryPredictEmbedding(new Array<number>(2816).fill(0.1), { headId: id }), doc.id);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/fine-tuned.*photo/);
  });

  it('exports four standard TF.js files and imports back identical (new id); without its tail files the import is refused', async () => {
    const round = await pageA.evaluate((id) => window.tannerin.exportImportAll(id, true), doc.id);
    if (!round.ok) throw new Error(round.error.message);
    expect(round.names).toEqual(['emoji-fine-tuned.json', 'emoji-fine-tuned.weights.bin', 'emoji-fine-tuned.tail.json', 'emoji-fine-tuned.tail.weights.bin']);
    const imported = JSON.parse(round.json) as HeadDocument;
    expect(imported.id).not.toBe(doc.id);
    expect({ ...imported, id: doc.id }).toEqual(doc);
    const again = await pageA.evaluate(([imgs, id]) => window.tannerin.predictImages(imgs, { headId: id }), [images, imported.id] as const);
    again.forEach((r, i) => expect(r.predictions).toEqual(browserScores[i]));

    const headOnly = await pageA.evaluate((id) => window.tannerin.exportImportAll(id, false), doc.id);
    expect(headOnly.ok).toBe(false);
    if (!headOnly.ok) expect(headOnly.error.message).toMatch(/tail files/);
    await pageA.evaluate((id) => window.tannerin.deleteHead(id), imported.id);
  });

  it('syncs up from one profile; the edge predicts with it at ?head= as the browser does (1e-4); a second profile pulls it and predicts the same', async () => {
    const enabled = await pageA.evaluate(() => window.tannerin.trySync('enable'));
    if (!enabled.ok) throw new Error(enabled.error.message);
    const status = await pageA.evaluate(() => window.tannerin.waitForSync('synced', 60_000));
    expect(status.status).toBe('synced');
    const token = (await pageA.evaluate(() => window.tannerin.syncToken())) as string;
    expect(token).toMatch(/^tnr_/);

    // The server holds exactly the stored document, tail included, indexed as fine-tuned.
    const list = (await (await fetch(`${baseUrl}/v1/heads`, { headers: { authorization: `Bearer ${token}` } })).json()) as { heads: { id: string; fineTuned: boolean }[] };
    expect(list.heads).toEqual([expect.objectContaining({ id: doc.id, fineTuned: true })]);
    const served = await (await fetch(`${baseUrl}/v1/heads/${doc.id}`, { headers: { authorization: `Bearer ${token}` } })).text();
    expect(served).toBe(await pageA.evaluate((id) => window.tannerin.headJson(id), doc.id));

    for (const [i, img] of images.entries()) {
      const res = await fetch(`${baseUrl}/v1/predict?head=${doc.id}`, { method: 'POST', body: Buffer.from(img.base64, 'base64'), headers: { 'content-type': img.type, authorization: `Bearer ${token}` } });
      expect(res.status, await res.clone().text()).toBe(200);
      const edge = (await res.json()) as PredictResponse;
      expect(edge.predictions.map((p) => p.label)).toEqual(browserScores[i]?.map((p) => p.label));
      expect(scoreDiff(edge.predictions, browserScores[i] as Prediction[])).toBeLessThanOrEqual(1e-4);
    }
    const embeddingOnly = await fetch(`${baseUrl}/v1/predict?head=${doc.id}`, { method: 'POST', body: new Uint8Array(2816 * 4), headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${token}` } });
    expect(embeddingOnly.status).toBe(422);

    b = await launchChromium();
    const pageB = await openReady(b);
    const restored = await pageB.evaluate((t) => window.tannerin.trySync('token', t), token);
    if (!restored.ok) throw new Error(restored.error.message);
    expect((await pageB.evaluate(() => window.tannerin.waitForSync('synced', 60_000))).status).toBe('synced');
    expect(await pageB.evaluate((id) => window.tannerin.headJson(id), doc.id)).toBe(served);
    const pulled = await pageB.evaluate(([imgs, id]) => window.tannerin.predictImages(imgs, { headId: id }), [images, doc.id] as const);
    pulled.forEach((r, i) => expect(scoreDiff(r.predictions, browserScores[i] as Prediction[])).toBeLessThanOrEqual(1e-6));
  });
});
