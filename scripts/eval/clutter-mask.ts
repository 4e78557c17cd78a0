/**
 * Masking the background inside the crop, for the clutter protocol (issue 17 pt 3; eval only,
 * behind `--clutter-methods mask-soft,mask-hard,mask-hard-cat,mask-true`; pre-registered in
 * .scratch/mask/PREREG.txt). Even the object's true box left most of the gap to the clean
 * protocol, because what remains inside the box is the cluttered background (textures, distractor
 * fragments), while the clean protocol's objects sit on plain white or black. So here each pixel of
 * the scene is blended toward a neutral gray ({@link MASK_FILL}, MobileNetV2's zero input) by how
 * little it belongs to the object, and then the box is cut: the backbone sees the object on gray.
 * Shots and tests go through the same step (teach and predict the same way).
 *
 * The weights come from the learned objectness map (scripts/eval/clutter-objectness.ts, its 28x28
 * probability map, cached with its boxes), upsampled bilinearly to the scene's pixels:
 * - `mask-soft`: objectness-cat3's map as a ramp, {@link SOFT_RAMP} of the map's maximum; the box
 *   is objectness-cat3's own;
 * - `mask-hard`: objectness-cat3's largest group of cells (>= 0.5 x max, the box rule's group),
 *   dilated by one cell, as a 0/1 map (its bilinear upsampling feathers the edge over one cell); the
 *   box is the dilated cells' bounding box (it holds all the mask keeps);
 * - `mask-hard-cat`: `mask-hard` on objectness-cat's map;
 * - `mask-true` (a yardstick, the ceiling of masking): the pasted object's own mask, cut with the
 *   padded true box (the protocol's `oracle` box);
 * - `mask-cells-true`, `mask-cells-true-tight` (yardsticks, diagnostics): the true mask averaged
 *   over the same 28x28 cells, then `mask-hard`'s step with and without the dilation: `mask-hard`
 *   with a perfect map, to tell the map's errors from the cell step's own loss.
 *
 * Measured (session 13, pre-registered in .scratch/mask/PREREG.txt; app k = 10, MobileNetV2, seeds
 * 0-4, share of the gap recovered, paired with app+none of the same run; emoji / Fashion-MNIST):
 * `mask-soft` 25% / 19%, `mask-hard` 30% / 22%, `mask-hard-cat` 33% / 29%: none reaches the 0.50
 * the rule asked on either, nothing adopted, no `--confirm`. Over the same box unmasked the mask
 * adds -5.4 [-8.5, -2.3] / +2.3 [+0.9, +3.6] (soft), -3.6 [-9.1, +1.9] / +3.5 [+0.8, +6.2] (hard),
 * +1.8 [-4.7, +8.3] / +3.6 [+2.2, +4.9] (hard-cat) points. The ceiling is high: `mask-true`
 * recovers 91% / 86% (+20.2 / +19.8 points over the same padded true box unmasked): the background
 * inside the box is most of what the true box left. Through 28x28 cells a perfect map keeps part
 * of it: `mask-cells-true` 50% / 62%, `mask-cells-true-tight` 54% / 69% (mask-true minus
 * mask-cells-true +15.8 [+5.6, +26.0] / +11.7 [+8.3, +15.0] points), and the learned map loses
 * the rest (mask-cells-true minus mask-hard +7.8 [-1.0, +16.6] / +19.0 [+17.6, +20.4]). On the clean images (`--clutter-clean`, emoji) the
 * gray fill costs nothing (`mask-true` -0.6 [-4.8, +3.6]) but the learned map masks a full-frame
 * emoji badly (`mask-hard-cat` -15.4 [-19.7, -11.1]). A mask that closes the gap needs a far
 * better map than this one (a perfect one at 28x28 passes only narrowly on emoji), or the object's
 * outline at pixel level (a segmentation).
 */
import { padToSquare, WHOLE_FRAME, type Box } from '../../shared/crop/box.ts';
import { activeRegion } from '../../shared/crop/feature-map-box.ts';
import type { RgbaPixels } from '../../shared/image/preprocess.ts';
import { resizeRgba } from '../../shared/image/resize.ts';
import { alphaMask, darkBackgroundMask } from './clutter.ts';
import { OBJECTNESS_PAD, type ObjectnessMethod } from './clutter-objectness.ts';

/** The masking methods (module comment); `mask-true` is a yardstick. */
export const MASK_METHODS = ['mask-soft', 'mask-hard', 'mask-hard-cat', 'mask-true', 'mask-cells-true', 'mask-cells-true-tight'] as const;
export type MaskMethod = (typeof MASK_METHODS)[number];
/** The yardsticks made from the true mask (they need the true box and the original image). */
export const TRUE_MASK_METHODS = ['mask-true', 'mask-cells-true', 'mask-cells-true-tight'] as const;
export type TrueMaskMethod = (typeof TRUE_MASK_METHODS)[number];
/** Whether `method` is made from the true mask. */
export const isTrueMask = (method: string): method is TrueMaskMethod => (TRUE_MASK_METHODS as readonly string[]).includes(method);
/** The masks made from a learned map. */
export type LearnedMaskMethod = Exclude<MaskMethod, TrueMaskMethod>;
/** The cells of the learned maps' grid (block_6_expand_relu's 28x28), which the cell yardsticks average the true mask over. */
export const MASK_GRID = 28;
/** The objectness map each learned mask reads (its cached probability maps). */
export const MASK_MAPS: Readonly<Record<LearnedMaskMethod, ObjectnessMethod>> = Object.freeze({ 'mask-soft': 'objectness-cat3', 'mask-hard': 'objectness-cat3', 'mask-hard-cat': 'objectness-cat' });
/** The fill of masked-out pixels, every channel: MobileNetV2's input is x / 127.5 - 1, so 128 is (almost) its zero. */
export const MASK_FILL = 128;
/** `mask-soft`'s weight: 0 at or below the first fraction of the map's maximum, 1 at or above the second, linear between (centred on the box rule's 0.5). */
export const SOFT_RAMP: readonly [number, number] = [0.25, 0.75];
/** The cells of the box rule's group: at least this fraction of the map's maximum. */
export const MASK_THRESHOLD = 0.5;
/** The learned masks' boxes grow by this fraction of their larger side (objectness boxes' pad). */
export const MASK_PAD = OBJECTNESS_PAD;

/** A cell map: one value a cell, row-major. */
export interface CellMap {
  activation: ArrayLike<number>;
  height: number;
  width: number;
}

/** The largest 4-connected group of cells at or above `threshold` x the maximum (ties: the larger summed value), as 0/1 a cell; all zero for an empty map. */
export function largestGroup(map: CellMap, threshold = MASK_THRESHOLD): Uint8Array {
  const { activation, height, width } = map;
  const n = height * width;
  let max = 0;
  for (let i = 0; i < n; i++) max = Math.max(max, activation[i] as number);
  const out = new Uint8Array(n);
  if (!(max > 0 && Number.isFinite(max))) return out;
  const kept = (i: number): boolean => (activation[i] as number) >= threshold * max;
  const group = new Int32Array(n).fill(-1);
  let best = { start: -1, size: 0, mass: -1 };
  for (let start = 0; start < n; start++) {
    if (!kept(start) || (group[start] as number) >= 0) continue;
    let size = 0;
    let mass = 0;
    const stack = [start];
    group[start] = start;
    while (stack.length) {
      const cell = stack.pop() as number;
      size++;
      mass += activation[cell] as number;
      const i = Math.floor(cell / width);
      const j = cell % width;
      for (const next of [i > 0 ? cell - width : -1, i < height - 1 ? cell + width : -1, j > 0 ? cell - 1 : -1, j < width - 1 ? cell + 1 : -1]) {
        if (next < 0 || !kept(next) || (group[next] as number) >= 0) continue;
        group[next] = start;
        stack.push(next);
      }
    }
    if (size > best.size || (size === best.size && mass > best.mass)) best = { start, size, mass };
  }
  for (let i = 0; i < n; i++) if (group[i] === best.start && best.start >= 0) out[i] = 1;
  return out;
}

/** `cells` (0/1, `height` x `width`) grown by one cell toward its 8 neighbours. */
export function dilate(cells: Uint8Array, height: number, width: number): Uint8Array {
  const out = new Uint8Array(cells.length);
  for (let i = 0; i < height; i++) {
    for (let j = 0; j < width; j++) {
      if (!cells[i * width + j]) continue;
      for (let di = -1; di <= 1; di++) {
        for (let dj = -1; dj <= 1; dj++) {
          const r = i + di;
          const c = j + dj;
          if (r >= 0 && r < height && c >= 0 && c < width) out[r * width + c] = 1;
        }
      }
    }
  }
  return out;
}

/** The bounding box of the set cells ([0, 1] coordinates), the whole frame when none is set. */
export function cellsBox(cells: Uint8Array, height: number, width: number): Box {
  let [top, left, bottom, right] = [height, width, -1, -1];
  for (let i = 0; i < height; i++) {
    for (let j = 0; j < width; j++) {
      if (!cells[i * width + j]) continue;
      top = Math.min(top, i);
      bottom = Math.max(bottom, i);
      left = Math.min(left, j);
      right = Math.max(right, j);
    }
  }
  if (bottom < 0) return { ...WHOLE_FRAME };
  return { x: left / width, y: top / height, width: (right - left + 1) / width, height: (bottom - top + 1) / height };
}

/** `mask-soft`'s cell weights: the map over its maximum through {@link SOFT_RAMP}. */
export function softCells(map: CellMap): Float32Array {
  const n = map.height * map.width;
  let max = 0;
  for (let i = 0; i < n; i++) max = Math.max(max, map.activation[i] as number);
  const [lo, hi] = SOFT_RAMP;
  const out = new Float32Array(n);
  if (!(max > 0 && Number.isFinite(max))) return out.fill(1);
  for (let i = 0; i < n; i++) out[i] = Math.min(1, Math.max(0, ((map.activation[i] as number) / max - lo) / (hi - lo)));
  return out;
}

/**
 * A cell map's values at every pixel of a `width` x `height` image: bilinear between cell centres
 * (clamped at the border), sampled at pixel centres.
 */
export function upsampleCells(cells: ArrayLike<number>, rows: number, cols: number, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  const at = (size: number, target: number, i: number): [number, number, number] => {
    const s = Math.min(Math.max((i + 0.5) * (size / target) - 0.5, 0), size - 1);
    const lo = Math.floor(s);
    return [lo, Math.min(lo + 1, size - 1), s - lo];
  };
  const xs = Array.from({ length: width }, (_, x) => at(cols, width, x));
  for (let y = 0; y < height; y++) {
    const [r0, r1, fy] = at(rows, height, y);
    for (let x = 0; x < width; x++) {
      const [c0, c1, fx] = xs[x] as [number, number, number];
      const top = (cells[r0 * cols + c0] as number) * (1 - fx) + (cells[r0 * cols + c1] as number) * fx;
      const bottom = (cells[r1 * cols + c0] as number) * (1 - fx) + (cells[r1 * cols + c1] as number) * fx;
      out[y * width + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/**
 * `pixels` composited onto `background` (as the shared preprocessing composites transparency), then
 * each pixel blended toward {@link MASK_FILL} by 1 - its weight; opaque.
 */
export function applyMask(pixels: RgbaPixels, weights: Float32Array, background: readonly [number, number, number]): RgbaPixels {
  const { width, height, data } = pixels;
  if (weights.length !== width * height) throw new RangeError(`${weights.length} weights for ${width}x${height} pixels`);
  const out = new Uint8Array(width * height * 4);
  for (let i = 0; i < weights.length; i++) {
    const a = (data[i * 4 + 3] as number) / 255;
    const w = weights[i] as number;
    for (let c = 0; c < 3; c++) {
      const v = (data[i * 4 + c] as number) * a + (background[c] as number) * (1 - a);
      out[i * 4 + c] = Math.round(v * w + MASK_FILL * (1 - w));
    }
    out[i * 4 + 3] = 255;
  }
  return { width, height, data: out };
}

/**
 * The pasted object's own mask at every pixel of its `width` x `height` scene, in [0, 1]: the
 * dataset's mask of `original` (emoji: alpha; Fashion-MNIST: dark background) resized and placed in
 * `box` as scripts/eval/clutter.ts pasteMasked places it; the mask itself when the scene is the
 * image (`--clutter-clean`, box the whole frame).
 */
export function trueMask(original: RgbaPixels, dataset: 'emoji' | 'fashion', box: Box, width: number, height: number): Float32Array {
  const mask = dataset === 'emoji' ? alphaMask(original) : darkBackgroundMask(original);
  const out = new Float32Array(width * height);
  if (original.width === width && original.height === height && box.width === 1 && box.height === 1) {
    for (let i = 0; i < mask.length; i++) out[i] = (mask[i] as number) / 255;
    return out;
  }
  const asAlpha = new Uint8Array(mask.length * 4);
  for (let i = 0; i < mask.length; i++) asAlpha[i * 4 + 3] = mask[i] as number;
  // pasteMasked: the longer side becomes `size` px, the top-left corner at the box's.
  const size = Math.round(box.width * width);
  const scale = size / Math.max(original.width, original.height);
  const scaled = resizeRgba({ width: original.width, height: original.height, data: asAlpha }, Math.max(1, Math.round(original.width * scale)), Math.max(1, Math.round(original.height * scale)));
  const x0 = Math.round(box.x * width);
  const y0 = Math.round(box.y * height);
  for (let row = 0; row < scaled.height; row++) {
    const y = y0 + row;
    if (y < 0 || y >= height) continue;
    for (let col = 0; col < scaled.width; col++) {
      const x = x0 + col;
      if (x >= 0 && x < width) out[y * width + x] = (scaled.data[(row * scaled.width + col) * 4 + 3] as number) / 255;
    }
  }
  return out;
}

/** Per-pixel `weights` of a `width` x `height` image averaged over a `grid` x `grid` grid of cells (a pixel counts in the cell holding its centre). */
export function cellMeans(weights: Float32Array, width: number, height: number, grid = MASK_GRID): CellMap {
  const sum = new Float64Array(grid * grid);
  const count = new Float64Array(grid * grid);
  for (let y = 0; y < height; y++) {
    const r = Math.min(grid - 1, Math.floor(((y + 0.5) * grid) / height));
    for (let x = 0; x < width; x++) {
      const cell = r * grid + Math.min(grid - 1, Math.floor(((x + 0.5) * grid) / width));
      sum[cell] = (sum[cell] as number) + (weights[y * width + x] as number);
      count[cell] = (count[cell] as number) + 1;
    }
  }
  return { activation: Array.from(sum, (v, i) => (count[i] ? v / (count[i] as number) : 0)), height: grid, width: grid };
}

/** The hard mask's step (module comment): the map's largest group, dilated by one cell unless `tight`, as the weights and the box of the kept cells. */
function hardMasked(pixels: RgbaPixels, map: CellMap, tight: boolean, background: readonly [number, number, number]): { pixels: RgbaPixels; box: Box } {
  const { width, height } = pixels;
  const group = largestGroup(map);
  const kept = tight ? group : dilate(group, map.height, map.width);
  // An empty map keeps the whole photo unmasked.
  if (!kept.some((v) => v)) return { pixels: applyMask(pixels, new Float32Array(width * height).fill(1), background), box: { ...WHOLE_FRAME } };
  const weights = upsampleCells(kept, map.height, map.width, width, height);
  return { pixels: applyMask(pixels, weights, background), box: padToSquare(cellsBox(kept, map.height, map.width), MASK_PAD, width / height) };
}

/** What a masked crop is made from: the learned map (learned masks) or the true box and the original image (`mask-true`). */
export type MaskInput = { map: CellMap } | { truth: { original: RgbaPixels; box: Box; dataset: 'emoji' | 'fashion'; pad: number } };

/**
 * The scene's pixels masked by `method` and the box to cut them with (module comment), for a
 * scene of `pixels`' size; `background` is the backbone's (transparency is composited onto it).
 */
export function maskedScene(method: MaskMethod, pixels: RgbaPixels, input: MaskInput, background: readonly [number, number, number]): { pixels: RgbaPixels; box: Box } {
  const { width, height } = pixels;
  const aspect = width / height;
  if (isTrueMask(method)) {
    if (!('truth' in input)) throw new TypeError(`${method} needs the true box and the original image`);
    const { original, box, dataset, pad } = input.truth;
    const weights = trueMask(original, dataset, box, width, height);
    if (method === 'mask-true') return { pixels: applyMask(pixels, weights, background), box: padToSquare(box, pad, aspect) };
    return hardMasked(pixels, cellMeans(weights, width, height), method === 'mask-cells-true-tight', background);
  }
  if (!('map' in input)) throw new TypeError(`${method} needs its objectness map`);
  const { map } = input;
  if (method === 'mask-soft') {
    const weights = upsampleCells(softCells(map), map.height, map.width, width, height);
    // objectness-cat3's own box (the published box arithmetic on its map).
    return { pixels: applyMask(pixels, weights, background), box: padToSquare(activeRegion(Float32Array.from(map.activation), map.height, map.width, MASK_THRESHOLD), MASK_PAD, aspect) };
  }
  return hardMasked(pixels, map, false, background);
}
