/**
 * Head training cost in Node (WASM SIMD backend): `trainHead` as the app's Train runs it
 * (`refitAll`, 4 vectors a photo: the original and 3 augmented views) on synthetic embeddings of
 * the backbone's size, 10 classes, at 50, 200 and 1,000 photos. Median wall time of a few runs
 * each; the held-out accuracy and the epochs run are reported beside it, so that a faster trainer
 * that simply stopped earlier shows.
 *
 * The embeddings are seeded: a random centre per class, each photo its class centre plus noise,
 * each view its photo plus smaller noise (non-negative, as the backbone's relu outputs are), so
 * that held-out accuracy sits well below 100% and early stopping behaves as on real photos.
 *
 * Standalone: `npx tsx bench/train-head.ts` prints the figures (not wired into bench/run.ts).
 * {@link benchTrainHead} takes several trainers, to compare them side by side in one process.
 */
import { pathToFileURL } from 'node:url';
import { startNodeWasmBackend } from '../scripts/node-backend.ts';
import { readManifest } from '../scripts/node-models.ts';
import type { Example } from '../shared/learn/examples.ts';
import { trainHead, type TrainOptions, type TrainResult } from '../shared/learn/train-head.ts';
import type { BackboneManifest } from '../shared/model/manifest.ts';
import { mulberry32, type Random } from '../shared/util/random.ts';
import { median, printTable, type Results } from './lib.ts';

const CLASSES = 10;
const VIEWS = 4;
/** Standard deviation of a photo around its class centre (per float; centres are relu(N(0, 1))). */
const PHOTO_SPREAD = 3;
/** Photos in the training set -> timed runs (after one warm-up run at the smallest size). */
const SIZES: [photos: number, runs: number][] = [
  [50, 5],
  [200, 3],
  [1000, 3],
];

/** A trainer with `trainHead`'s signature (the bench compares implementations through it). */
export type HeadTrainer = (examples: readonly Example[], options: TrainOptions) => Promise<TrainResult>;

/** Standard normal draws (Box-Muller) from a seeded uniform source. */
function gaussian(random: Random): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** `photos` photos (spread evenly over the classes) of `VIEWS` seeded synthetic vectors each. */
export function syntheticExamples(backbone: BackboneManifest, photos: number, seed = 1, spread = PHOTO_SPREAD): Example[] {
  const size = backbone.embedding.size;
  const random = mulberry32(seed);
  const centres = Array.from({ length: CLASSES }, () => Float32Array.from({ length: size }, () => Math.max(0, gaussian(random))));
  const examples: Example[] = [];
  for (let p = 0; p < photos; p++) {
    const label = `class-${p % CLASSES}`;
    const centre = centres[p % CLASSES] as Float32Array;
    const photo = Float32Array.from(centre, (c) => c + spread * gaussian(random));
    for (let v = 0; v < VIEWS; v++) {
      const embedding = Float32Array.from(photo, (x) => Math.max(0, x + (v === 0 ? 0 : 0.5 * gaussian(random))));
      examples.push({ photoId: `photo-${p}`, label, embedding, augmented: v > 0 });
    }
  }
  return examples;
}

/**
 * Times each trainer on each size, alternating trainers run by run so that a change in machine
 * load hits them alike. Keys: `node.train_head_<photos>_ms[.<trainer name>]` (the first trainer
 * has no suffix).
 */
export async function benchTrainHead(trainers: Record<string, HeadTrainer> = { trainHead }): Promise<Results> {
  await startNodeWasmBackend();
  const backbone = readManifest().backbone;
  const names = Object.keys(trainers);
  const results: Results = {};
  const warm = syntheticExamples(backbone, SIZES[0]?.[0] ?? 50);
  for (const name of names) await (trainers[name] as HeadTrainer)(warm, { backbone, refitAll: true });
  for (const [photos, runs] of SIZES) {
    const examples = syntheticExamples(backbone, photos);
    const times = new Map<string, number[]>(names.map((n) => [n, []]));
    const last = new Map<string, TrainResult>();
    for (let run = 0; run < runs; run++) {
      for (const name of names) {
        const t0 = performance.now();
        const result = await (trainers[name] as HeadTrainer)(examples, { backbone, refitAll: true, seed: run });
        times.get(name)?.push(performance.now() - t0);
        last.set(name, result);
      }
    }
    names.forEach((name, i) => {
      const result = last.get(name) as TrainResult;
      results[`node.train_head_${photos}_ms${i === 0 ? '' : `.${name}`}`] = {
        value: median(times.get(name) as number[]),
        unit: 'ms',
        note:
          `${name}: ${photos} photos x ${VIEWS} vectors, ${CLASSES} classes, refitAll; median of ${runs}; last run ` +
          `${result.history.length} epochs (best ${result.bestEpoch}), held-out accuracy ${(100 * result.metrics.accuracy).toFixed(1)}%`,
      };
    });
  }
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  printTable(await benchTrainHead());
  process.exit(0);
}
