/**
 * Self-training on REAL embeddings: emoji of five visually distinct subcategories, embedded once by
 * the real backbone. The hidden labels of the unlabeled emoji check the pseudo-labels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { startNodeWasmBackend } from '../../scripts/node-backend.ts';
import { loadLocalModels } from '../../scripts/node-models.ts';
import type { Example } from '../../shared/learn/examples.ts';
import { decodeImage } from '../../shared/image/decode.ts';
import type { BackboneManifest } from '../../shared/model/manifest.ts';
import { mulberry32, shuffle } from '../../shared/util/random.ts';
import { predictProbabilities, selfTrain, type SelfTrainResult, type UnlabeledExample } from '../../shared/learn/self-train.ts';
import { emojiFiles, emojiPng } from '../../scripts/emoji.ts';

const CLASSES = ['animal-mammal', 'country-flag', 'food-fruit', 'heart', 'transport-ground'];
const LABELED_PER_CLASS = 5;
const UNLABELED_PER_CLASS = 6;


let backbone: BackboneManifest;
let labeled: Example[];
let unlabeled: UnlabeledExample[];
/** The unlabeled photos' hidden labels. */
const truth = new Map<string, string>();

beforeAll(async () => {
  await startNodeWasmBackend();
  const models = await loadLocalModels();
  backbone = models.manifest.backbone;
  const random = mulberry32(11);
  labeled = [];
  unlabeled = [];
  for (const label of CLASSES) {
    const files = emojiFiles(label);
    for (const [k, file] of shuffle(files, random).slice(0, LABELED_PER_CLASS + UNLABELED_PER_CLASS).entries()) {
      const embedding = await models.backbone.embed(await decodeImage(emojiPng(file)));
      if (k < LABELED_PER_CLASS) labeled.push({ photoId: file, label, embedding, augmented: false });
      else {
        unlabeled.push({ photoId: `u:${file}`, embedding, augmented: false });
        truth.set(`u:${file}`, label);
      }
    }
  }
  models.backbone.dispose();
}, 300_000);

async function selfTrainChecked(l: readonly Example[], u: readonly UnlabeledExample[], options: Partial<Parameters<typeof selfTrain>[2]> = {}): Promise<SelfTrainResult> {
  const before = tf.memory().numTensors;
  const result = await selfTrain(l, u, { backbone, seed: 1, epochs: 30, ...options });
  expect(tf.memory().numTensors).toBe(before);
  return result;
}

describe('selfTrain', () => {
  let result: SelfTrainResult;
  beforeAll(async () => {
    result = await selfTrainChecked(labeled, unlabeled, { threshold: 0.5, rounds: 2 });
  }, 300_000);

  it('judges rounds on labeled held-out photos and stops when they stop improving', () => {
    expect(result.validation).toBe('holdout');
    const [first, ...later] = result.rounds;
    expect(first).toMatchObject({ round: 0, pseudoLabeled: 0 });
    for (const r of result.rounds) {
      // One labeled photo of each class is held out; never a pseudo-labeled one.
      expect(r.heldOutN).toBe(CLASSES.length);
      expect(r.heldOutAccuracy).not.toBeNull();
    }
    expect(later.length).toBeLessThanOrEqual(2);
    // It continued only while accuracy improved strictly; the kept round is the best one.
    const accuracies = result.rounds.map((r) => r.heldOutAccuracy as number);
    for (let i = 1; i < accuracies.length - 1; i++) expect(accuracies[i]).toBeGreaterThan(accuracies[i - 1] as number);
    expect(accuracies[result.bestRound]).toBe(Math.max(...accuracies));
    expect(result.metrics.n).toBe(CLASSES.length);
    expect(result.doc.metrics).toEqual(result.metrics);
    expect(result.doc.classes).toEqual([...CLASSES].sort());
  });

  it('pseudo-labels only unlabeled photos, confidently and mostly right', () => {
    const rounds = result.rounds.slice(1);
    expect(rounds.some((r) => r.pseudoLabeled > 0)).toBe(true);
    for (const r of rounds) expect(Object.values(r.perClass).reduce((a, b) => a + b, 0)).toBe(r.pseudoLabeled);
    for (const p of result.pseudoLabels) {
      expect(truth.has(p.photoId)).toBe(true);
      expect(p.score).toBeGreaterThanOrEqual(0.5);
    }
    if (result.pseudoLabels.length) {
      const right = result.pseudoLabels.filter((p) => truth.get(p.photoId) === p.label).length;
      // Distinct subcategories: measured 100% right at this threshold and seed.
      expect(right / result.pseudoLabels.length).toBeGreaterThanOrEqual(0.8);
    }
  });

  it('one photo a class: runs every round without held-out photos and says so', async () => {
    const oneShot = CLASSES.map((c) => labeled.find((e) => e.label === c) as Example);
    const r = await selfTrainChecked(oneShot, unlabeled, { threshold: 0.3, rounds: 2, maxPerClass: 3 });
    expect(r.validation).toBe('none');
    for (const round of r.rounds) expect(round.heldOutAccuracy).toBeNull();
    expect(r.rounds.length).toBeGreaterThanOrEqual(2);
    for (const round of r.rounds) for (const n of Object.values(round.perClass)) expect(n).toBeLessThanOrEqual(3);
    const p = await predictProbabilities(r.doc, backbone, labeled.map((e) => e.embedding));
    const right = p.filter((row, i) => r.doc.classes[row.indexOf(Math.max(...row))] === (labeled[i] as Example).label).length;
    expect(right / labeled.length).toBeGreaterThan(0.5);
  }, 300_000);

  it('refuses an unlabeled photo that is also labeled, and bad settings', async () => {
    const first = labeled[0] as Example;
    await expect(selfTrain(labeled, [{ photoId: first.photoId, embedding: first.embedding, augmented: false }], { backbone })).rejects.toThrow(/also a labeled photo/);
    await expect(selfTrain(labeled, unlabeled, { backbone, threshold: 0 })).rejects.toThrow(/threshold/);
    await expect(selfTrain(labeled, unlabeled, { backbone, rounds: -1 })).rejects.toThrow(/rounds/);
  });

  it('predictProbabilities matches one row per embedding, in class order, summing to 1', async () => {
    const before = tf.memory().numTensors;
    const p = await predictProbabilities(result.doc, backbone, unlabeled.slice(0, 4).map((e) => e.embedding));
    expect(tf.memory().numTensors).toBe(before);
    expect(p).toHaveLength(4);
    for (const row of p) {
      expect(row).toHaveLength(CLASSES.length);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    }
    expect(await predictProbabilities(result.doc, backbone, [])).toEqual([]);
  });
});
