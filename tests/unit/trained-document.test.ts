/**
 * The head documents trainHead (shared/learn/train-head.ts) and trainLdaHead
 * (shared/learn/train-lda.ts) assemble, through one function (shared/learn/trained-document.ts):
 * the same inputs give byte-identical JSON before and after that function was shared. The
 * SHA-256 of each document's JSON (its id given, the clock fixed) was recorded from the two
 * trainers' own assembly before the change: holdout with `refitAll` (the document and its judged
 * twin), cross-validation, a hidden layer (Adam), and LDA.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startNodeWasmBackend } from '../../scripts/node-backend.ts';
import type { Example } from '../../shared/learn/examples.ts';
import { trainHead, type TrainResult } from '../../shared/learn/train-head.ts';
import { trainLdaHead } from '../../shared/learn/train-lda.ts';
import { sha256Hex } from '../../shared/util/hash.ts';
import { mulberry32 } from '../../shared/util/random.ts';
import { toyBackbone } from '../helpers/toy-backbone.ts';

const DIM = 12;
const CLASSES = ['a', 'b', 'c'];
const backbone = toyBackbone([['x', 8], ['y', 4]]);
const ID = '6f1c1d0e-2b7a-4c3e-9a51-0d8e8f2b4c10';
const NOW = new Date('2026-12-05T04:00:00.000Z');

/** `perClass` photos a class, each with one augmented view; class k lifts dimension k by 2 (+ noise). */
function examples(perClass: number, seed: number): Example[] {
  const random = mulberry32(seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return CLASSES.flatMap((label, k) =>
    Array.from({ length: perClass }, (_, i) => {
      const photo = Float32Array.from({ length: DIM }, (_, j) => 1 + (j === k ? 2 : 0) + 0.7 * normal());
      const view = photo.map((v) => v + 0.1 * normal());
      return [false, true].map((augmented) => ({ photoId: `p-${label}-${i}`, label, embedding: augmented ? view : photo, augmented }));
    }).flat(),
  );
}

/** SHA-256 of the JSON of the result's documents: `doc`, then `heldOutDoc` when there is one. */
async function hashes(result: TrainResult): Promise<string[]> {
  const docs = [result.doc, ...(result.heldOutDoc ? [result.heldOutDoc] : [])];
  return Promise.all(docs.map((d) => sha256Hex(new TextEncoder().encode(JSON.stringify(d)))));
}

describe('head documents of trainHead and trainLdaHead', () => {
  beforeAll(async () => {
    await startNodeWasmBackend();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const fixedClock = (): void => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);
  };

  it('are byte-identical to what each trainer assembled itself', async () => {
    fixedClock();
    const got = {
      holdoutRefit: await hashes(await trainHead(examples(10, 1), { backbone, classes: CLASSES, id: ID, name: 'abc', seed: 3, refitAll: true })),
      crossValidated: await hashes(await trainHead(examples(3, 2), { backbone, classes: CLASSES, id: ID, seed: 3 })),
      hidden: await hashes(await trainHead(examples(10, 4), { backbone, classes: CLASSES, id: ID, seed: 3, hidden: 5, epochs: 4 })),
      lda: await hashes(await trainLdaHead(examples(10, 5), { backbone, classes: CLASSES, id: ID, seed: 3, refitAll: true })),
    };
    expect(got).toEqual(RECORDED);
  });
});

/** Recorded at 0ce2f8f, before the assembly was shared (each trainer's own `documentOf`). */
const RECORDED = {
  holdoutRefit: ['40056829f8bda541ab2809eb88ac3f1daadcb0890b3f989ae5d1ed9e0cb173c6', '995556b7ec992de23df7dcf244095499b3ed355e26b495c458f387faf3312f61'],
  crossValidated: ['bcd77115aa35b906419c541427f611858c8f4b2b6235e6392be08dde6b46abb1'],
  hidden: ['bf1de05fee0d268e88abf7b76cd7967ae4138d5988d65a27e9a7d97e86765092'],
  lda: ['8d3242c2964f1a9058c57fec12ff575c984aad80000fd9c8c77e44e541bd4891', 'a39946936bbe1fc4183fbdd61d8a1dde09ab791eb8afcb19da2d5c53cc0df1aa'],
};
