/**
 * Real labelled images for the browser tests and the browser bench: emoji PNGs (64 px) from the
 * npm package emoji-datasource-google (Apache-2.0), labelled by the package's `subcategory`.
 * Small, fixed, seeded subsets; training and test emoji are disjoint.
 */
import { emojiFiles, emojiPng } from '../../scripts/emoji.ts';
import { mulberry32, shuffle } from '../../shared/util/random.ts';
import { imageArg } from './util.ts';

/** One emoji image as the harness takes it, with its label. */
export interface EmojiImage {
  file: string;
  label: string;
  image: { base64: string; type: string };
}

/** Training and test emoji per label. */
export interface EmojiSplit {
  train: Record<string, EmojiImage[]>;
  test: Record<string, EmojiImage[]>;
}

/**
 * For each subcategory, `train + test` emoji drawn with a seeded shuffle (of the package's sort
 * order, so the draw does not depend on file-system order): the first `train` for training, the
 * rest for testing.
 */
export function emojiSplit(labels: readonly string[], train: number, test: number, seed: number): EmojiSplit {
  const random = mulberry32(seed);
  const out: EmojiSplit = { train: {}, test: {} };
  for (const label of labels) {
    const files = emojiFiles(label);
    if (files.length < train + test) throw new Error(`subcategory ${label} has ${files.length} emoji, ${train + test} wanted`);
    const picked = shuffle(files, random)
      .slice(0, train + test)
      .map((file) => ({ file, label, image: imageArg(emojiPng(file), 'image/png') }));
    out.train[label] = picked.slice(0, train);
    out.test[label] = picked.slice(train);
  }
  return out;
}
