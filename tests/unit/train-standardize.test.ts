/**
 * trainHead's `standardize` (issue 15 pt 1): the head trains on standardised inputs and the
 * division by the std is folded into the saved kernel, so the document, read by the one prediction
 * layer with its ordinary input transform (mean removed, nothing else), predicts what the head
 * learned. Synthetic embeddings whose every float is ~1e-3: standardised they are ~1, so a head
 * that did not fold the scales would see inputs ~300x too small and answer near 50/50.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { startNodeWasmBackend } from '../../scripts/node-backend.ts';
import type { Example } from '../../shared/learn/examples.ts';
import { mulberry32 } from '../../shared/util/random.ts';
import { predictProbabilities } from '../../shared/learn/self-train.ts';
import { trainHead } from '../../shared/learn/train-head.ts';
import { toyBackbone } from '../helpers/toy-backbone.ts';

const DIM = 4;
const backbone = toyBackbone([['all', DIM]]);

/** 12 photos a class; dimension 0 carries the class (+-3e-3), the others are noise of 1e-3. */
function examples(seed: number): Example[] {
  const random = mulberry32(seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return Array.from({ length: 24 }, (_, i) => {
    const label = i % 2 === 0 ? 'a' : 'b';
    const embedding = Float32Array.from({ length: DIM }, (_, j) => (j === 0 ? (label === 'a' ? 3e-3 : -3e-3) + 5e-4 * normal() : 1e-3 * normal()));
    return { photoId: `p${i}`, label, embedding, augmented: false };
  });
}

beforeAll(async () => {
  await startNodeWasmBackend();
});

describe('trainHead standardize', () => {
  it('stores a mean-only input transform and a kernel that reads it: confident, right answers on the training photos', async () => {
    const train = examples(1);
    const { doc } = await trainHead(train, { backbone, classes: ['a', 'b'], standardize: true, seed: 3 });
    expect(doc.input).toMatchObject({ parts: ['all'], normalize: 'none', scale: 1 });
    expect(doc.input.mean).toHaveLength(DIM);
    const p = await predictProbabilities(doc, backbone, train.map((e) => e.embedding));
    const right = p.map((row, i) => (row[train[i]?.label === 'a' ? 0 : 1] as number));
    // Folded: the head sees the inputs it trained on. Unfolded it would answer ~0.5 everywhere.
    expect(Math.min(...right)).toBeGreaterThan(0.8);
    // Unseen photos of the same kind.
    const test = examples(2);
    const q = await predictProbabilities(doc, backbone, test.map((e) => e.embedding));
    const correct = q.filter((row, i) => (row[0] as number) > (row[1] as number) === (test[i]?.label === 'a')).length;
    expect(correct).toBeGreaterThanOrEqual(22);
  });

  it('leaves the default transform alone without the option', async () => {
    const { doc } = await trainHead(examples(1), { backbone, classes: ['a', 'b'], seed: 3 });
    expect(doc.input).toMatchObject({ normalize: 'l2', scale: 10 });
  });
});
