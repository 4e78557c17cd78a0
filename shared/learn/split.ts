/**
 * Train/validation splits BY PHOTO: all views of a photo (the original and its augmentations) land
 * on the same side, so a head is never validated on a view of a photo it trained on. Stratified
 * per class and seeded. With enough photos per class it is one held-out split; with very few it is
 * k-fold cross-validation, because a held-out set of one or two photos per class says nothing.
 */
import { photoLabels, type Example } from './examples.ts';
import { mulberry32, shuffle } from '../util/random.ts';

/** Photo ids on each side of one split. */
export interface Fold {
  train: string[];
  validation: string[];
}

export interface Split {
  /** `holdout`: exactly one fold. `cross-validation`: every photo is in exactly one validation set. */
  method: 'holdout' | 'cross-validation';
  seed: number;
  folds: Fold[];
}

export interface SplitOptions {
  seed?: number;
  /** Share of each class's photos held out (holdout only). Default 0.2. */
  validationFraction?: number;
  /** Holdout needs at least this many photos in every class, else cross-validation. Default 5. */
  minPhotosForHoldout?: number;
  /** Upper bound on the number of cross-validation folds. Default 5. */
  maxFolds?: number;
}

/**
 * Splits the examples' photos, stratified by class. Holdout when every class has at least
 * `minPhotosForHoldout` photos: each class keeps `round(n * validationFraction)` photos aside
 * (at least 1, never all). Otherwise k-fold cross-validation with k = the largest class's photo
 * count (2..maxFolds), photos of each class dealt round-robin across folds so that every fold
 * validates on something and classes spread evenly. Independent of example order.
 */
export function splitByPhoto(examples: readonly Example[], options: SplitOptions = {}): Split {
  const { seed = 0, validationFraction = 0.2, minPhotosForHoldout = 5, maxFolds = 5 } = options;
  if (!(validationFraction > 0 && validationFraction < 1)) {
    throw new RangeError(`validationFraction must be in (0, 1), got ${validationFraction}`);
  }
  const byClass = new Map<string, string[]>();
  for (const [photo, label] of photoLabels(examples)) byClass.set(label, [...(byClass.get(label) ?? []), photo]);
  const total = [...byClass.values()].reduce((a, p) => a + p.length, 0);
  if (total < 2) throw new RangeError(`a split needs at least 2 photos, got ${total}`);

  const random = mulberry32(seed);
  // Sorting first makes the result depend on the set of photos only, not on example order.
  const classes = [...byClass.keys()].sort();
  const shuffled = classes.map((c) => shuffle((byClass.get(c) as string[]).slice().sort(), random));
  const smallest = Math.min(...shuffled.map((p) => p.length));

  if (smallest >= minPhotosForHoldout) {
    const train: string[] = [];
    const validation: string[] = [];
    for (const photos of shuffled) {
      const n = Math.min(photos.length - 1, Math.max(1, Math.round(photos.length * validationFraction)));
      validation.push(...photos.slice(0, n));
      train.push(...photos.slice(n));
    }
    return { method: 'holdout', seed, folds: [{ train, validation }] };
  }

  const largest = Math.max(...shuffled.map((p) => p.length));
  const k = Math.max(2, Math.min(maxFolds, largest));
  const validationSets: string[][] = Array.from({ length: k }, () => []);
  // One counter across classes: a class that does not fill every fold leaves the next class to
  // start where it stopped, which keeps fold sizes within one photo of each other.
  let next = 0;
  for (const photos of shuffled) for (const photo of photos) (validationSets[next++ % k] as string[]).push(photo);
  const all = shuffled.flat();
  const folds = validationSets.map((validation) => {
    const held = new Set(validation);
    return { train: all.filter((p) => !held.has(p)), validation };
  });
  return { method: 'cross-validation', seed, folds };
}

/**
 * The examples on each side of a fold: every view of a training photo is trained on; only the
 * original (non-augmented) views of validation photos are evaluated.
 */
export function foldExamples(examples: readonly Example[], fold: Fold): { train: Example[]; validation: Example[] } {
  const train = new Set(fold.train);
  const validation = new Set(fold.validation);
  return {
    train: examples.filter((e) => train.has(e.photoId)),
    validation: examples.filter((e) => validation.has(e.photoId) && !e.augmented),
  };
}
