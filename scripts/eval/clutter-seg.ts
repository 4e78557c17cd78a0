/**
 * A pixel-level mask for the clutter protocol (issue 17 pt 3; eval only, behind `--clutter-methods
 * seg-color,seg-color-cat,seg-color-cells-true`; pre-registered in .scratch/seg/PREREG.txt). The
 * masks of scripts/eval/clutter-mask.ts follow the 28x28 objectness map, whose 16 px cells leave a
 * rim of background or cut the object: even a perfect map through those cells keeps about half of
 * what the true pixel mask recovers. Here the coarse map is refined per scene by colour, GrabCut-like
 * and without learning:
 * - seeds on the cell grid: the map's largest group as foreground, cells far below its maximum (and
 *   away from the group) as background;
 * - a joint RGB histogram of each, their ratio at every pixel, with the upsampled map as the prior;
 * - the pixels whose posterior is at least one half, their largest 4-connected region, holes filled;
 * - that region feathered (5x5 mean) blends the rest to gray (clutter-mask.ts applyMask), and its
 *   padded square bounding box is the crop.
 * `seg-color` reads objectness-cat3's map, `seg-color-cat` objectness-cat's; `seg-color-cells-true`
 * (a yardstick) the true mask averaged over the same cells.
 *
 * Measured (session 13, pre-registered in .scratch/seg/PREREG.txt; app k = 10, MobileNetV2, seeds
 * 0-4, share of the clean - whole-scene gap, paired with app+none of the same run; emoji /
 * Fashion-MNIST): `seg-color` 44% / 27% (Fashion a diagnostic), `seg-color-cat` 50.3% / 41%: not
 * >= 0.50 on both, nothing adopted, no `--confirm`. Over the same map's cell mask (clutter-mask.ts)
 * the refinement adds +5.4 [-1.4, +12.2] (`seg-color` - `mask-hard`, emoji) and +6.6 [+3.7, +9.5] /
 * +5.3 [+2.9, +7.7] points (`seg-color-cat` - `mask-hard-cat`); the true pixel mask is still 15.8 /
 * 21.7 points above. With a perfect coarse map (`seg-color-cells-true`) 73% / 71%: the learned map's
 * seeds are what loses (on grayscale Fashion the refinement adds +1.0 [-0.6, +2.7] over a perfect
 * map's tight cell mask; refined, a perfect coarse map would pass the rule on both). On clean
 * emoji (`--clutter-clean`) `seg-color-cat` costs -14.4 [-19.3, -9.5] points: the map, trained on
 * small objects, seeds a full-frame emoji badly and colour does not repair it. `seg-color-cat-wide`
 * (clutter-seg-wide.ts) reads a map retrained with objects up to the full frame: no clean loss, but
 * 42% / 27% on the emoji / Fashion-MNIST clutter.
 */
import { padToSquare, WHOLE_FRAME, type Box } from '../../shared/crop/box.ts';
import type { RgbaPixels } from '../../shared/image/preprocess.ts';
import { applyMask, cellMeans, dilate, largestGroup, MASK_PAD, trueMask, upsampleCells, type CellMap, type MaskInput } from './clutter-mask.ts';
import type { ObjectnessMethod, ObjectnessTraining } from './clutter-objectness.ts';
import { OBJECTNESS_TRAINING_WIDE } from './clutter-seg-wide.ts';

/** The colour-refined masks (module comment); `seg-color-cells-true` is a yardstick. */
export const SEG_METHODS = ['seg-color', 'seg-color-cat', 'seg-color-cells-true', 'seg-color-cat-wide'] as const;
export type SegMethod = (typeof SEG_METHODS)[number];
/** The objectness map each learned refinement reads (its cached probability maps). */
export const SEG_MAPS: Readonly<Record<Exclude<SegMethod, 'seg-color-cells-true'>, ObjectnessMethod>> = Object.freeze({ 'seg-color': 'objectness-cat3', 'seg-color-cat': 'objectness-cat', 'seg-color-cat-wide': 'objectness-cat' });
/** The training of a map other than version 1's (clutter-seg-wide.ts; session 13, .scratch/seg2/PREREG.txt). */
export const SEG_TRAININGS: Readonly<Partial<Record<SegMethod, Readonly<ObjectnessTraining>>>> = Object.freeze({ 'seg-color-cat-wide': OBJECTNESS_TRAINING_WIDE });
/** Whether `method` is made from the true mask. */
export const isSegTrue = (method: string): method is 'seg-color-cells-true' => method === 'seg-color-cells-true';
/** The refinement's fixed parameters (PREREG). */
export const SEG_SETTINGS = Object.freeze({ backgroundBelow: 0.25, minBackgroundCells: 20, bins: 16, pseudoCount: 0.5, prior: [0.02, 0.98] as const, feather: 2 });

/** The cells of the background seed: low cells outside the group dilated by one, or every cell outside it when too few are low. */
export function backgroundCells(map: CellMap, group: Uint8Array): Uint8Array {
  const { activation, height, width } = map;
  const near = dilate(group, height, width);
  let max = 0;
  for (let i = 0; i < near.length; i++) max = Math.max(max, activation[i] as number);
  const low = near.map((v, i) => (!v && (activation[i] as number) <= SEG_SETTINGS.backgroundBelow * max ? 1 : 0));
  const count = low.reduce((a, v) => a + v, 0);
  return count >= SEG_SETTINGS.minBackgroundCells ? low : near.map((v) => (v ? 0 : 1));
}

/** The joint RGB histogram bin of pixel `i` of opaque RGBA `data`. */
const binOf = (data: ArrayLike<number>, i: number): number => {
  const shift = 8 - Math.log2(SEG_SETTINGS.bins);
  return (((data[i * 4] as number) >> shift) * SEG_SETTINGS.bins + ((data[i * 4 + 1] as number) >> shift)) * SEG_SETTINGS.bins + ((data[i * 4 + 2] as number) >> shift);
};

/** The cell (row-major, `rows` x `cols`) holding the centre of every pixel of a `width` x `height` image. */
function pixelCells(rows: number, cols: number, width: number, height: number): Int32Array {
  const out = new Int32Array(width * height);
  for (let y = 0; y < height; y++) {
    const r = Math.min(rows - 1, Math.floor(((y + 0.5) * rows) / height));
    for (let x = 0; x < width; x++) out[y * width + x] = r * cols + Math.min(cols - 1, Math.floor(((x + 0.5) * cols) / width));
  }
  return out;
}

/**
 * The 0/1 pixels of opaque `pixels` the refinement keeps (module comment, steps 2-5 of the PREREG),
 * or null when the map gives no seeds (then nothing is masked).
 */
export function refinedMask(pixels: RgbaPixels, map: CellMap): Uint8Array | null {
  const { width, height, data } = pixels;
  const group = largestGroup(map);
  if (!group.some((v) => v)) return null;
  const background = backgroundCells(map, group);
  if (!background.some((v) => v)) return null;
  const { bins, pseudoCount, prior } = SEG_SETTINGS;
  const fg = new Float64Array(bins ** 3).fill(pseudoCount);
  const bg = new Float64Array(bins ** 3).fill(pseudoCount);
  const cellOf = pixelCells(map.height, map.width, width, height);
  for (let i = 0; i < width * height; i++) {
    const cell = cellOf[i] as number;
    const b = binOf(data, i);
    if (group[cell]) fg[b] = (fg[b] as number) + 1;
    else if (background[cell]) bg[b] = (bg[b] as number) + 1;
  }
  const fgTotal = fg.reduce((a, v) => a + v, 0);
  const bgTotal = bg.reduce((a, v) => a + v, 0);
  let max = 0;
  for (let i = 0; i < map.activation.length; i++) max = Math.max(max, map.activation[i] as number);
  const q = Array.from(map.activation, (v) => v / max);
  const pi = upsampleCells(q, map.height, map.width, width, height);
  const kept = new Uint8Array(width * height);
  for (let i = 0; i < kept.length; i++) {
    const b = binOf(data, i);
    const ratio = (fg[b] as number) / fgTotal / ((bg[b] as number) / bgTotal);
    const p = Math.min(prior[1], Math.max(prior[0], pi[i] as number));
    kept[i] = (p * ratio) / (p * ratio + 1 - p) >= 0.5 ? 1 : 0;
  }
  return fillHoles(largestRegion(kept, width, height), width, height);
}

/** 4-connected regions of pixels equal to `value`, as a label a pixel (-1 elsewhere) and each region's size. */
function regions(mask: Uint8Array, width: number, height: number, value: number): { label: Int32Array; sizes: number[]; touchesBorder: boolean[] } {
  const label = new Int32Array(mask.length).fill(-1);
  const sizes: number[] = [];
  const touchesBorder: boolean[] = [];
  for (let start = 0; start < mask.length; start++) {
    if (mask[start] !== value || (label[start] as number) >= 0) continue;
    const id = sizes.length;
    let size = 0;
    let border = false;
    const stack = [start];
    label[start] = id;
    while (stack.length) {
      const i = stack.pop() as number;
      size++;
      const x = i % width;
      const y = (i - x) / width;
      if (x === 0 || y === 0 || x === width - 1 || y === height - 1) border = true;
      for (const next of [y > 0 ? i - width : -1, y < height - 1 ? i + width : -1, x > 0 ? i - 1 : -1, x < width - 1 ? i + 1 : -1]) {
        if (next < 0 || mask[next] !== value || (label[next] as number) >= 0) continue;
        label[next] = id;
        stack.push(next);
      }
    }
    sizes.push(size);
    touchesBorder.push(border);
  }
  return { label, sizes, touchesBorder };
}

/** The largest 4-connected region of set pixels (all zero when none is set). */
export function largestRegion(mask: Uint8Array, width: number, height: number): Uint8Array {
  const { label, sizes } = regions(mask, width, height, 1);
  const out = new Uint8Array(mask.length);
  if (!sizes.length) return out;
  const best = sizes.indexOf(Math.max(...sizes));
  for (let i = 0; i < out.length; i++) if (label[i] === best) out[i] = 1;
  return out;
}

/** `mask` with its holes set: unset regions not 4-connected to the image's border. */
export function fillHoles(mask: Uint8Array, width: number, height: number): Uint8Array {
  const { label, touchesBorder } = regions(mask, width, height, 0);
  const out = Uint8Array.from(mask);
  for (let i = 0; i < out.length; i++) if (!out[i] && !touchesBorder[label[i] as number]) out[i] = 1;
  return out;
}

/** The mean of `mask` over the (2 `radius` + 1)-square around each pixel (clamped at the border): the feathered weights. */
export function boxMean(mask: Uint8Array, width: number, height: number, radius = SEG_SETTINGS.feather): Float32Array {
  // Summed-area table: one pass, any radius.
  const sat = new Float64Array((width + 1) * (height + 1));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) sat[(y + 1) * (width + 1) + x + 1] = (mask[y * width + x] as number) + (sat[y * (width + 1) + x + 1] as number) + (sat[(y + 1) * (width + 1) + x] as number) - (sat[y * (width + 1) + x] as number);
  }
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const [y0, y1] = [Math.max(0, y - radius), Math.min(height, y + radius + 1)];
    for (let x = 0; x < width; x++) {
      const [x0, x1] = [Math.max(0, x - radius), Math.min(width, x + radius + 1)];
      const sum = (sat[y1 * (width + 1) + x1] as number) - (sat[y0 * (width + 1) + x1] as number) - (sat[y1 * (width + 1) + x0] as number) + (sat[y0 * (width + 1) + x0] as number);
      out[y * width + x] = sum / ((y1 - y0) * (x1 - x0));
    }
  }
  return out;
}

/** The bounding box ([0, 1] coordinates) of the set pixels, null when none is set. */
export function pixelsBox(mask: Uint8Array, width: number, height: number): Box | null {
  let [top, left, bottom, right] = [height, width, -1, -1];
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    const x = i % width;
    const y = (i - x) / width;
    top = Math.min(top, y);
    bottom = Math.max(bottom, y);
    left = Math.min(left, x);
    right = Math.max(right, x);
  }
  return bottom < 0 ? null : { x: left / width, y: top / height, width: (right - left + 1) / width, height: (bottom - top + 1) / height };
}

/**
 * The scene's pixels masked by `method` and the box to cut them with (module comment); `input` is
 * the learned map, or the truth for the yardstick; `background` is the backbone's.
 */
export function segmentedScene(method: SegMethod, pixels: RgbaPixels, input: MaskInput, background: readonly [number, number, number]): { pixels: RgbaPixels; box: Box } {
  const { width, height } = pixels;
  // Composited onto the background first: the colour model sees what the backbone would.
  const opaque = applyMask(pixels, new Float32Array(width * height).fill(1), background);
  let map: CellMap;
  if (isSegTrue(method)) {
    if (!('truth' in input)) throw new TypeError(`${method} needs the true box and the original image`);
    const { original, box, dataset } = input.truth;
    map = cellMeans(trueMask(original, dataset, box, width, height), width, height);
  } else {
    if (!('map' in input)) throw new TypeError(`${method} needs its objectness map`);
    map = input.map;
  }
  const kept = refinedMask(opaque, map);
  const box = kept && pixelsBox(kept, width, height);
  if (!kept || !box) return { pixels: opaque, box: { ...WHOLE_FRAME } };
  return { pixels: applyMask(opaque, boxMean(kept, width, height), background), box: padToSquare(box, MASK_PAD, width / height) };
}
