/**
 * Real labelled images for the browser tests and the browser bench: emoji PNGs (64 px) from the
 * npm package emoji-datasource-google (Apache-2.0), labelled by the package's `subcategory`.
 * Small, fixed, seeded subsets; training and test emoji are disjoint.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32, shuffle } from '../../shared/random.ts';
import { imageArg } from './util.ts';

const PACKAGE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'node_modules', 'emoji-datasource-google');
const IMAGES = join(PACKAGE, 'img', 'google', '64');

interface EmojiEntry {
  image: string;
  subcategory: string;
  sort_order: number;
  has_img_google: boolean;
}

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

let entries: EmojiEntry[] | undefined;

/**
 * For each subcategory, `train + test` emoji drawn with a seeded shuffle (of the package's sort
 * order, so the draw does not depend on file-system order): the first `train` for training, the
 * rest for testing.
 */
export function emojiSplit(labels: readonly string[], train: number, test: number, seed: number): EmojiSplit {
  entries ??= JSON.parse(readFileSync(join(PACKAGE, 'emoji.json'), 'utf8')) as EmojiEntry[];
  const random = mulberry32(seed);
  const out: EmojiSplit = { train: {}, test: {} };
  for (const label of labels) {
    const files = entries
      .filter((e) => e.subcategory === label && e.has_img_google && existsSync(join(IMAGES, e.image)))
      .sort((a, b) => a.sort_order - b.sort_order)
      .map((e) => e.image);
    if (files.length < train + test) throw new Error(`subcategory ${label} has ${files.length} emoji, ${train + test} wanted`);
    const picked = shuffle(files, random)
      .slice(0, train + test)
      .map((file) => ({ file, label, image: imageArg(new Uint8Array(readFileSync(join(IMAGES, file))), 'image/png') }));
    out.train[label] = picked.slice(0, train);
    out.test[label] = picked.slice(train);
  }
  return out;
}
