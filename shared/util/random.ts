/**
 * Seeded randomness, so that splits, shuffles and weight initialisation are reproducible in
 * every runtime (Math.random cannot be seeded).
 */

/** A source of uniform floats in [0, 1). */
export type Random = () => number;

/**
 * mulberry32: a small, fast 32-bit PRNG. Plenty for shuffling and splitting (not for crypto).
 * The same seed gives the same sequence everywhere.
 */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A new array with the items in random order (Fisher-Yates); the input is left as is. */
export function shuffle<T>(items: readonly T[], random: Random): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const tmp = out[i] as T;
    out[i] = out[j] as T;
    out[j] = tmp;
  }
  return out;
}

/** A 31-bit integer drawn from `random`, e.g. to seed a weight initialiser. */
export function randomSeed(random: Random): number {
  return Math.floor(random() * 0x7fffffff);
}
