/**
 * Test-time augmentation, as a head document records it (`testTimeAugmentation`,
 * shared/head/document.ts), in one place for every runtime: which views a prediction from a photo
 * runs on, and how their scores combine.
 *
 * - The views: the photo itself, then `augmentedViews(pixels, { count: views, seed })`
 *   (shared/image/augment.ts), the recipe of the views Train stores for each photo. Plain
 *   JavaScript on RGBA pixels, seeded by the head: the same decoded pixels give the same views,
 *   byte for byte, in the browser, the Worker and Node.
 * - The scores: the head's class probabilities of each view, averaged with equal weights (summed
 *   in float64 in view order, so the mean is the same everywhere).
 *
 * Only a photo can be augmented: a prediction from an embedding alone (a stored one, `/v1/predict`
 * with an embedding) runs the head once, as for a head without the field.
 */
import { augmentedView } from '../image/augment.ts';
import type { RgbaPixels } from '../image/preprocess.ts';

/** What a head document records about test-time augmentation (absent: off). */
export interface TestTimeAugmentation {
  /** Augmented views averaged with the photo itself (1..{@link MAX_TEST_TIME_VIEWS}). */
  views: number;
  /** Seeds the views (`augmentedViews`' seed): an unsigned 32-bit integer. */
  seed: number;
}

/**
 * Most augmented views a head may ask for: each one is a backbone forward pass per prediction, at
 * the edge too (the eval measured 3 and 7; Train records 3, the views it stores).
 */
export const MAX_TEST_TIME_VIEWS = 7;

/**
 * The augmented views a prediction from `pixels` runs on besides the photo itself, for `tta`
 * (`augmentedViews(pixels, { count: views, seed })`), made one at a time as they are iterated, so
 * a caller that embeds each before asking for the next holds one view's pixels at once.
 */
export function* testTimeViews(pixels: RgbaPixels, tta: TestTimeAugmentation): Generator<RgbaPixels> {
  for (let i = 0; i < tta.views; i++) {
    const { width, height, data } = augmentedView(pixels, i, { seed: tta.seed });
    yield { width, height, data };
  }
}

/**
 * The mean of rows of class probabilities (one row per view, in view order), as float32. Throws
 * for no rows or rows of different lengths.
 */
export function meanProbabilities(rows: readonly ArrayLike<number>[]): Float32Array {
  const first = rows[0];
  if (!first) throw new RangeError('meanProbabilities: no rows');
  const sum = new Float64Array(first.length);
  for (const row of rows) {
    if (row.length !== sum.length) throw new RangeError(`meanProbabilities: a row of ${row.length} scores among rows of ${sum.length}`);
    for (let j = 0; j < sum.length; j++) sum[j] = (sum[j] as number) + (row[j] as number);
  }
  return Float32Array.from(sum, (s) => s / rows.length);
}
