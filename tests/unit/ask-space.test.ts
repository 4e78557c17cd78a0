/**
 * askAbout (shared/learn/ask-space.ts), chooseToAsk as the app and the eval call it: the pool and
 * the labelled photos compared in kNN's space (the default input transform fitted on every
 * example, views included), the labelled photos' classes passed along, views never counted as
 * labelled photos.
 */
import { describe, expect, it } from 'vitest';
import { askAbout } from '../../shared/learn/ask-space.ts';
import { chooseToAsk, type AskCandidate } from '../../shared/learn/ask.ts';
import type { Example } from '../../shared/learn/examples.ts';
import { fitInputTransform } from '../../shared/head/input-transform.ts';
import { transformInput } from '../../shared/predict/predictor.ts';
import { mulberry32 } from '../../shared/util/random.ts';
import { toyBackbone } from '../helpers/toy-backbone.ts';

/** Two parts of different scales, as the real backbone's: the transform's per-part L2 matters. */
const backbone = toyBackbone([['a', 24], ['b', 8]]);
const CLASSES = ['cat', 'dog', 'fox'];

function vector(random: () => number): Float32Array {
  return Float32Array.from({ length: 32 }, (_, i) => (random() - 0.3) * (i < 24 ? 1 : 40));
}

describe('askAbout', () => {
  const random = mulberry32(11);
  const examples: Example[] = CLASSES.flatMap((label, c) =>
    [0, 1].flatMap((p) => {
      const photo = vector(random);
      return [
        { photoId: `${label}${p}`, label, embedding: photo, augmented: false },
        { photoId: `${label}${p}`, label, embedding: photo.map((x) => x * 1.01 + c * 0.01), augmented: true },
      ];
    }),
  );
  const pool: AskCandidate[] = Array.from({ length: 12 }, (_, i) => {
    const p = [random(), random(), random()];
    const sum = p[0]! + p[1]! + p[2]!;
    return { id: `u${String(i).padStart(2, '0')}`, embedding: vector(random), probabilities: p.map((x) => x / sum) };
  });

  it('is chooseToAsk in kNN\'s space, with the labelled photos (not their views) and their classes', () => {
    const transform = fitInputTransform(examples.map((e) => e.embedding), backbone);
    const space = (e: Float32Array): Float32Array => transformInput(e, backbone, transform);
    const photos = examples.filter((e) => !e.augmented);
    const expected = chooseToAsk(
      pool.map((c) => ({ ...c, embedding: space(c.embedding) })),
      { count: 4, labeled: photos.map((e) => space(e.embedding)), labeledClasses: photos.map((e) => CLASSES.indexOf(e.label)), weights: { balance: 1 } },
    );
    const got = askAbout(pool, { examples, backbone, classes: CLASSES, count: 4, weights: { balance: 1 } });
    expect(got).toEqual(expected);
    expect(got).toHaveLength(4);
    // The class balance's slack is passed along.
    const off = { count: 4, labeled: photos.map((e) => space(e.embedding)), labeledClasses: photos.map((e) => CLASSES.indexOf(e.label)), classSlack: Infinity };
    expect(askAbout(pool, { examples, backbone, classes: CLASSES, count: 4, rules: { classSlack: Infinity } })).toEqual(chooseToAsk(pool.map((c) => ({ ...c, embedding: space(c.embedding) })), off));
    // Raw embeddings (no transform) would choose otherwise here: the space is not a detail.
    expect(chooseToAsk(pool, { count: 4, labeled: photos.map((e) => e.embedding) }).map((c) => c.id)).not.toEqual(got.map((c) => c.id));
  });

  it('returns nothing for an empty pool and refuses a label that is not a class', () => {
    expect(askAbout([], { examples, backbone, classes: CLASSES, count: 5 })).toEqual([]);
    expect(() => askAbout(pool, { examples, backbone, classes: ['cat', 'dog'], count: 5 })).toThrow(/"fox" is not one of the classes/);
    expect(() => askAbout(pool, { examples: [], backbone, classes: CLASSES, count: 5 })).toThrow(/no examples/);
  });
});
