/**
 * `POST /v1/predict` with a head that records test-time augmentation (shared/head/tta.ts): on a
 * photo, the edge averages the head's probabilities over the photo and its augmented views. Checked
 * against the edge itself: the same head without the field, asked about the photo and about each
 * view (the views Train stores for a photo, augmentedViews with the head's seed, made here rather
 * than through shared/head/tta.ts; each sent as a lossless PNG of exactly the view's pixels), must
 * give per-view scores whose mean is the TTA head's answer. A head without the field, and an
 * embedding body, run the head once as before; a document with a bad `testTimeAugmentation` is
 * refused with 422.
 */
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { DiagnosticsResponse, Prediction, PredictResponse } from '../../shared/api/types.ts';
import type { HeadDocument } from '../../shared/head/document.ts';
import type { TestTimeAugmentation } from '../../shared/head/tta.ts';
import { augmentedViews } from '../../shared/image/augment.ts';
import type { RgbaPixels } from '../../shared/image/preprocess.ts';
import { makePng, makeQuadrantRgba } from '../helpers/images.ts';
import { bearer, call, expectError, float32Body, maxAbsDiff, post, putHead, signUp } from './helpers.ts';

const reference = inject('reference');
const personalHeads = inject('personalHeads');

const TTA: TestTimeAugmentation = { views: 3, seed: 11 };
/** A photo whose views differ (a mirror swaps its quadrants' colours). */
const photo = { width: 96, height: 80, data: makeQuadrantRgba(96, 80) };

let token: string;
let plain: HeadDocument;
let augmented: HeadDocument;

beforeAll(async () => {
  token = (await signUp()).token;
  const base = JSON.parse(personalHeads[0]?.document ?? '') as HeadDocument;
  plain = { ...base, id: crypto.randomUUID() };
  augmented = { ...base, id: crypto.randomUUID(), testTimeAugmentation: TTA };
  for (const doc of [plain, augmented]) {
    const res = await putHead(token, doc.id, new TextEncoder().encode(JSON.stringify(doc)), { 'if-none-match': '*' });
    expect(res.status, await res.clone().text()).toBe(201);
  }
});

const predict = async (headId: string, body: Uint8Array, type: string): Promise<Prediction[]> => {
  const res = await post(`/v1/predict?head=${headId}`, body, type, bearer(token));
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as PredictResponse).predictions;
};
/** Scores in the head's class order. */
const byClass = (classes: readonly string[], ranked: readonly Prediction[]): number[] => classes.map((c) => ranked.find((p) => p.label === c)?.score ?? NaN);

describe('test-time augmentation at the edge', () => {
  it('a head that records it: the mean of the per-view probabilities, the same on every call', async () => {
    const classes = augmented.classes;
    const png = (p: RgbaPixels) => makePng(p.width, p.height, new Uint8Array(p.data));
    const perView: number[][] = [];
    for (const view of [photo, ...augmentedViews(photo, { count: TTA.views, seed: TTA.seed })]) perView.push(byClass(classes, await predict(plain.id, png(view), 'image/png')));
    const mean = classes.map((_, j) => perView.reduce((a, row) => a + (row[j] as number), 0) / perView.length);

    const first = byClass(classes, await predict(augmented.id, png(photo), 'image/png'));
    expect(maxAbsDiff(first, mean)).toBeLessThanOrEqual(1e-6);
    // It did average: the photo alone scores differently.
    expect(maxAbsDiff(first, perView[0] as number[])).toBeGreaterThan(1e-3);
    const again = byClass(classes, await predict(augmented.id, png(photo), 'image/png'));
    expect(again).toEqual(first);
  });

  it('keeps the tensor count flat over TTA predictions', async () => {
    const body = makePng(photo.width, photo.height, photo.data);
    await predict(augmented.id, body, 'image/png');
    const before = ((await (await call('/_diag/memory')).json()) as DiagnosticsResponse).numTensors;
    for (let i = 0; i < 3; i++) await predict(augmented.id, body, 'image/png');
    expect(((await (await call('/_diag/memory')).json()) as DiagnosticsResponse).numTensors).toBe(before);
  });

  it('a head without the field, and an embedding body, run the head once as before', async () => {
    const i = reference.cases.findIndex((c) => c.type === 'image/jpeg');
    const ref = reference.cases[i];
    const expected = personalHeads[0]?.predictions[i] ?? [];
    const fromImage = await predict(plain.id, new Uint8Array(ref?.bytes ?? []), ref?.type ?? '');
    expect(maxAbsDiff(fromImage.map((p) => p.score), expected.map((p) => p.score))).toBeLessThanOrEqual(1e-4);
    // An embedding cannot be augmented: the TTA head gives the plain head's scores for it.
    const embedding = float32Body(ref?.embedding ?? []);
    expect(await predict(augmented.id, embedding, 'application/octet-stream')).toEqual(await predict(plain.id, embedding, 'application/octet-stream'));
  });

  it('refuses a document with a bad testTimeAugmentation (422 naming it)', async () => {
    const bad = { ...plain, id: crypto.randomUUID(), testTimeAugmentation: { views: 50, seed: 1 } };
    const message = await expectError(await putHead(token, bad.id, new TextEncoder().encode(JSON.stringify(bad)), { 'if-none-match': '*' }), 422, 'invalid_head');
    expect(message).toMatch(/testTimeAugmentation\.views must be a whole number from 1 to 7/);
  });
});
