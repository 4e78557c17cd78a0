/**
 * The evaluation's datasets and few-shot splits (see scripts/eval/main.ts):
 *
 * - emoji: emoji-datasource-google's 64 px PNGs of ten subcategories (FIELD-NOTES), labels from
 *   `emoji.json`'s `subcategory`. Per seed and class: 10 test emoji and a disjoint pool of 10
 *   training emoji; k-shot training sets are the pool's first k (nested: the 1-shot set is inside
 *   the 5-shot set); the pool's other emoji are the unlabeled photos for self-training (at k = 10, every emoji
 *   neither tested nor a shot). Alpha is
 *   composited onto white by the shared preprocessing (the backbone's `background`).
 * - fashion: Debian's dataset-fashion-mnist. Test: the first 100 t10k images of each class (the
 *   same every seed; `testOffset` 100 takes images 100-199 instead, the confirmation set). Per seed: k shots per class from the train set (nested), and 500 unlabeled
 *   train images drawn from the rest (labels hidden, class mix as it falls).
 *
 * The fixed-budget protocol (`activePool`, scripts/eval/asked.ts) starts from the seed's 1-shot
 * photos. Its pool: on emoji every emoji of the ten subcategories not in the seed's test set (250,
 * 9 to 55 a class); on Fashion-MNIST the next 100 train images of each class in the seed's order.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { decodeImage } from '../../shared/image/decode.ts';
import type { RgbaPixels } from '../../shared/image/preprocess.ts';
import { mulberry32, shuffle } from '../../shared/util/random.ts';
import { emojiFiles, emojiPng } from '../emoji.ts';

/** One image of a dataset; pixels are produced on demand (embedded once, then only the cache is used). */
export interface EvalImage {
  /** Unique within the run, e.g. `emoji:1f436.png`, `fashion:train:123`. */
  id: string;
  label: string;
  pixels(): Promise<RgbaPixels>;
}

export interface FewShotSplit {
  test: EvalImage[];
  /** k -> the k-shot training images (k per class). */
  shots: Map<number, EvalImage[]>;
  /** k -> unlabeled images for self-training at k shots (absent: no self-training at that k). */
  unlabeled: Map<number, EvalImage[]>;
}

/**
 * The fixed-budget protocol's data for a seed (issue 18 pt 3, scripts/eval/asked.ts): one labelled
 * photo per class to start from, the unlabeled pool the labels are then spent on, and the test set
 * (the few-shot split's of the same seed).
 */
export interface ActivePool {
  /** One photo per class, in class order: the seed's 1-shot training set. */
  start: EvalImage[];
  /** Photos whose labels the protocol may ask for (disjoint from `start` and `test`). */
  pool: EvalImage[];
  test: EvalImage[];
}

export interface Dataset {
  name: 'emoji' | 'fashion';
  classes: string[];
  split(seed: number, ks: readonly number[]): FewShotSplit;
  activePool(seed: number): ActivePool;
}

/** The ten emoji subcategories of FIELD-NOTES' transfer measurements. */
export const EMOJI_CLASSES = [
  'animal-mammal',
  'animal-bird',
  'food-fruit',
  'food-prepared',
  'drink',
  'transport-ground',
  'sky & weather',
  'clothing',
  'sport',
  'place-building',
];
const EMOJI_TEST = 10;
const EMOJI_POOL = 10;

/** The emoji dataset (always available: a dev dependency). */
export function emojiDataset(): Dataset {
  const byClass = new Map<string, EvalImage[]>();
  for (const label of EMOJI_CLASSES) {
    const images = emojiFiles(label).map((file) => ({
      id: `emoji:${file}`,
      label,
      pixels: () => decodeImage(emojiPng(file)),
    }));
    if (images.length < EMOJI_TEST + EMOJI_POOL) throw new Error(`emoji subcategory ${label} has ${images.length} images, needs ${EMOJI_TEST + EMOJI_POOL}`);
    byClass.set(label, images);
  }
  /** Each class's emoji in the seed's random order: the first 10 are its test emoji, the next 10 its training pool. */
  const draw = (seed: number): Map<string, EvalImage[]> => {
    const random = mulberry32(0xe0 + seed * 7919);
    return new Map(EMOJI_CLASSES.map((label) => [label, shuffle(byClass.get(label) as EvalImage[], random)]));
  };
  return {
    name: 'emoji',
    classes: EMOJI_CLASSES.slice(),
    split(seed, ks) {
      const test: EvalImage[] = [];
      const pools = new Map<string, EvalImage[]>();
      const drawn = draw(seed);
      for (const [label, shuffled] of drawn) {
        test.push(...shuffled.slice(0, EMOJI_TEST));
        pools.set(label, shuffled.slice(EMOJI_TEST, EMOJI_TEST + EMOJI_POOL));
      }
      const shots = new Map<number, EvalImage[]>();
      const unlabeled = new Map<number, EvalImage[]>();
      for (const k of ks) {
        if (k > EMOJI_POOL) throw new RangeError(`emoji pools have ${EMOJI_POOL} images per class, k=${k}`);
        shots.set(k, EMOJI_CLASSES.flatMap((c) => (pools.get(c) as EvalImage[]).slice(0, k)));
        const rest = EMOJI_CLASSES.flatMap((c) => (pools.get(c) as EvalImage[]).slice(k));
        // At k = 10 the training pool is spent: the unlabeled photos are then every emoji of the
        // ten subcategories neither tested nor drawn as a shot (activePool's pool, ~150).
        if (rest.length) unlabeled.set(k, rest);
        else unlabeled.set(k, [...drawn.values()].flatMap((shuffled) => shuffled.slice(EMOJI_TEST + k)));
      }
      return { test, shots, unlabeled };
    },
    activePool(seed) {
      // The 1-shot emoji of `split`, and every emoji of the ten subcategories not in the seed's test set.
      const drawn = [...draw(seed).values()];
      return {
        start: drawn.map((shuffled) => shuffled[EMOJI_TEST] as EvalImage),
        pool: drawn.flatMap((shuffled) => shuffled.slice(EMOJI_TEST + 1)),
        test: drawn.flatMap((shuffled) => shuffled.slice(0, EMOJI_TEST)),
      };
    },
  };
}

export const FASHION_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
export const FASHION_INSTALL_HINT = 'Fashion-MNIST is not installed: `sudo apt-get install dataset-fashion-mnist` (Debian; files under /usr/share/datasets/fashion-mnist)';

/** Unlabeled train images per class in the fixed-budget protocol's pool. */
const FASHION_ASK_POOL = 100;

interface Idx {
  count: number;
  rows: number;
  cols: number;
  bytes: Uint8Array;
}

function readIdx(file: string, magic: number): Idx {
  const bytes = new Uint8Array(gunzipSync(readFileSync(file)));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== magic) throw new Error(`${file}: not an IDX file with magic ${magic}`);
  const count = view.getUint32(4);
  const images = magic === 2051;
  const rows = images ? view.getUint32(8) : 1;
  const cols = images ? view.getUint32(12) : 1;
  const header = images ? 16 : 8;
  return { count, rows, cols, bytes: bytes.subarray(header, header + count * rows * cols) };
}

/** Fashion-MNIST, or null when the Debian package is missing. */
export function fashionDataset(options: { testPerClass: number; testOffset?: number; unlabeled: number }): Dataset | null {
  const file = (name: string): string => join(FASHION_DIR, name);
  const names = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];
  if (!names.every((n) => existsSync(file(n)))) return null;
  const sets = {
    train: { images: readIdx(file(names[0] as string), 2051), labels: readIdx(file(names[1] as string), 2049) },
    t10k: { images: readIdx(file(names[2] as string), 2051), labels: readIdx(file(names[3] as string), 2049) },
  };
  const image = (set: 'train' | 't10k', index: number): EvalImage => {
    const { images, labels } = sets[set];
    const size = images.rows * images.cols;
    return {
      id: `fashion:${set}:${index}`,
      label: FASHION_CLASSES[labels.bytes[index] as number] as string,
      async pixels() {
        // Grayscale to opaque RGBA; the backbone sees it as is (light garment on black).
        const gray = images.bytes.subarray(index * size, (index + 1) * size);
        const data = new Uint8Array(size * 4);
        for (let i = 0; i < size; i++) {
          const v = gray[i] as number;
          data[i * 4] = v;
          data[i * 4 + 1] = v;
          data[i * 4 + 2] = v;
          data[i * 4 + 3] = 255;
        }
        return { width: images.cols, height: images.rows, data };
      },
    };
  };
  const indicesByClass = (set: 'train' | 't10k'): number[][] => {
    const out: number[][] = FASHION_CLASSES.map(() => []);
    sets[set].labels.bytes.forEach((label, i) => (out[label] as number[]).push(i));
    return out;
  };
  const testIndices = indicesByClass('t10k');
  const trainIndices = indicesByClass('train');
  const offset = options.testOffset ?? 0;
  const test = testIndices.flatMap((indices) => indices.slice(offset, offset + options.testPerClass).map((i) => image('t10k', i)));
  /** The seed's random generator, and each class's train images in the seed's order (the shots are their first k). */
  const draw = (seed: number): { random: () => number; shuffled: number[][] } => {
    const random = mulberry32(0xfa + seed * 7919);
    return { random, shuffled: trainIndices.map((indices) => shuffle(indices, random)) };
  };
  return {
    name: 'fashion',
    classes: FASHION_CLASSES.slice(),
    activePool(seed) {
      // The 1-shot image of `split`, and the next 100 train images of each class as the pool.
      const { shuffled } = draw(seed);
      return {
        start: shuffled.map((indices) => image('train', indices[0] as number)),
        pool: shuffled.flatMap((indices) => indices.slice(1, 1 + FASHION_ASK_POOL).map((i) => image('train', i))),
        test: test.slice(),
      };
    },
    split(seed, ks) {
      const maxK = Math.max(...ks);
      const { random, shuffled } = draw(seed);
      const shots = new Map<number, EvalImage[]>();
      for (const k of ks) shots.set(k, shuffled.flatMap((indices) => indices.slice(0, k).map((i) => image('train', i))));
      // The unlabeled draw excludes every shot of any k, so it is the same set for every k.
      const rest = shuffle(
        shuffled.flatMap((indices) => indices.slice(maxK)),
        random,
      ).slice(0, options.unlabeled);
      const pool = rest.map((i) => image('train', i));
      const unlabeled = new Map<number, EvalImage[]>(ks.map((k) => [k, pool]));
      return { test, shots, unlabeled };
    },
  };
}
