/** Made-up embeddings for the tests of chooseToAsk (shared/learn/ask.ts) and its typicality-first choice. */
import type { Random } from '../../shared/util/random.ts';

export const DIM = 64;

/** A random direction (Gaussian-ish entries). */
export function direction(random: Random, dim = DIM): Float32Array {
  return Float32Array.from({ length: dim }, () => random() + random() + random() - 1.5);
}

/** `centre` plus noise of size `spread` (relative to the centre's length). */
export function near(centre: Float32Array, spread: number, random: Random): Float32Array {
  const noise = direction(random, centre.length);
  let c = 0;
  let n = 0;
  for (let i = 0; i < centre.length; i++) {
    c += (centre[i] as number) ** 2;
    n += (noise[i] as number) ** 2;
  }
  const f = (spread * Math.sqrt(c)) / Math.sqrt(n);
  return centre.map((x, i) => x + f * (noise[i] as number));
}

/** Cosine similarity of two vectors. */
export function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i] as number) * (b[i] as number);
    aa += (a[i] as number) ** 2;
    bb += (b[i] as number) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}
