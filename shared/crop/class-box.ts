/**
 * Where the trained head sees a class (issue 17, class-aware crops): a class activation map (CAM)
 * of a plain dense head, and the box around its most active region.
 *
 * A head's logit for class c is `W_c . t(x) + b_c`, where x is the embedding (pooled feature maps,
 * shared/model/manifest.ts parts) and t the head's input transform (mean removed, per-part L2 and
 * scale; shared/predict/predictor.ts transformInput). Within one photo t is affine in each part
 * (the part's L2 norm is the photo's, a constant), so the logit splits exactly over the cells of
 * the feature maps:
 * - a global-average part (MobileNetV2's `flatten_1`, the mean of `out_relu`'s 7x7 cells): cell k
 *   gets `f * W_c . (a_k - m) / N` (N cells, f the part's factor: scale, over the norm with L2);
 * - a global-max part (`block_13_expand_relu`, `block_16_expand_relu`): dimension d gives
 *   `f * W_dc (max_d - m_d)` to the cell that holds the max.
 * The cells of every part are put on one `grid` x `grid` map (a finer part's cells summed into
 * the grid cell they lie in, a coarser part's split evenly over the grid cells it covers), so the
 * map's cells sum to the logit minus the bias. Distractors outside the taught classes are what a
 * class-agnostic map (./feature-map-box.ts) cannot tell from the object; this map asks the head.
 *
 * Pure arithmetic on floats (no TF.js): it runs wherever the backbone does.
 */
import type { HeadDocument } from '../head/document.ts';
import { embeddingPart, type BackboneManifest, type InputTransform } from '../model/manifest.ts';
import { base64ToBytes } from '../util/base64.ts';
import { padToSquare, type Box } from './box.ts';
import { activeRegion } from './feature-map-box.ts';

/** A head's one dense layer: `kernel` row-major `inputSize` x `classes`, then `bias`. */
export interface DenseHead {
  inputSize: number;
  classes: number;
  kernel: Float32Array;
  bias: Float32Array;
}

/** One embedding part's feature map for one photo, as the CAM needs it. */
export type PartActivation =
  /** A global-average part: the whole map, `height * width * channels` floats, channels last. */
  | { pooling: 'global-average'; height: number; width: number; channels: number; map: Float32Array }
  /** A global-max part: each channel's max and the cell (row-major) holding it. */
  | { pooling: 'global-max'; height: number; width: number; channels: number; max: Float32Array; cell: Int32Array };

/**
 * The dense layer of a plain head document (no hidden layer, no backbone tail, float32 weights):
 * the weights named `.../kernel` and `.../bias`. Throws for any other head.
 */
export function denseHead(doc: HeadDocument): DenseHead {
  if (doc.backboneTail) throw new Error('a fine-tuned model has no class activation map over the frozen feature maps');
  const bytes = base64ToBytes(doc.weightData);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  if (doc.weightSpecs.length !== 2) throw new Error(`a plain dense head has 2 weights, this one ${doc.weightSpecs.length} (a hidden layer?)`);
  let offset = 0;
  let kernel: Float32Array | undefined;
  let bias: Float32Array | undefined;
  let shape: number[] = [];
  for (const spec of doc.weightSpecs) {
    if (spec.dtype !== 'float32' || spec.quantization) throw new Error(`weight ${spec.name} is not plain float32`);
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(buffer, offset, n);
    offset += 4 * n;
    if (spec.name.endsWith('/kernel')) [kernel, shape] = [values, spec.shape];
    else if (spec.name.endsWith('/bias')) bias = values;
  }
  if (!kernel || !bias || shape.length !== 2) throw new Error('the head has no dense kernel and bias');
  const [inputSize, classes] = shape as [number, number];
  if (classes !== doc.classes.length || bias.length !== classes) throw new Error(`the kernel's ${classes} classes are not the document's ${doc.classes.length}`);
  return { inputSize, classes, kernel, bias };
}

/** The max of each channel of an HWC map and the cell holding it (the first on ties). */
export function maxSummary(map: Float32Array, height: number, width: number, channels: number): PartActivation {
  if (map.length !== height * width * channels) throw new RangeError(`feature map has ${map.length} floats, ${height}x${width}x${channels} expected`);
  const max = new Float32Array(channels).fill(-Infinity);
  const cell = new Int32Array(channels);
  for (let k = 0; k < height * width; k++) {
    for (let c = 0; c < channels; c++) {
      const v = map[k * channels + c] as number;
      if (v > (max[c] as number)) [max[c], cell[c]] = [v, k];
    }
  }
  return { pooling: 'global-max', height, width, channels, max, cell };
}

/** The part's pooled vector (what the embedding holds for it). */
export function pooledPart(part: PartActivation): Float32Array {
  if (part.pooling === 'global-max') return part.max.slice();
  const cells = part.height * part.width;
  const out = new Float32Array(part.channels);
  for (let k = 0; k < cells; k++) for (let c = 0; c < part.channels; c++) out[c] = (out[c] as number) + (part.map[k * part.channels + c] as number);
  for (let c = 0; c < part.channels; c++) out[c] = (out[c] as number) / cells;
  return out;
}

/** Adds `value` of a part's cell (row-major in its `height` x `width` map) to the grid cells it covers. */
function addToGrid(out: Float32Array, grid: number, height: number, width: number, k: number, value: number): void {
  const i = Math.floor(k / width);
  const j = k % width;
  // A finer map sums into the grid cell it lies in; a coarser one spreads evenly over its grid cells.
  const [i0, i1] = height >= grid ? [Math.floor((i * grid) / height), Math.floor((i * grid) / height) + 1] : [Math.floor((i * grid) / height), Math.floor(((i + 1) * grid) / height)];
  const [j0, j1] = width >= grid ? [Math.floor((j * grid) / width), Math.floor((j * grid) / width) + 1] : [Math.floor((j * grid) / width), Math.floor(((j + 1) * grid) / width)];
  const share = value / ((i1 - i0) * (j1 - j0));
  for (let a = i0; a < i1; a++) for (let b = j0; b < j1; b++) out[a * grid + b] = (out[a * grid + b] as number) + share;
}

/**
 * Each class's activation map on a `grid` x `grid` map (module comment): `parts` are the
 * activations of `transform.parts`, in that order. Row-major per class; each map's cells sum to
 * the class's logit minus its bias (with `only`, just those parts' cells are counted).
 */
export function classActivationMaps(head: DenseHead, transform: InputTransform, backbone: BackboneManifest, parts: readonly PartActivation[], grid = 7, only?: readonly string[]): Float32Array[] {
  if (parts.length !== transform.parts.length) throw new RangeError(`${parts.length} part activations for ${transform.parts.length} parts`);
  const maps = Array.from({ length: head.classes }, () => new Float32Array(grid * grid));
  let row = 0;
  transform.parts.forEach((name, p) => {
    const part = parts[p] as PartActivation;
    const size = embeddingPart(backbone, name).size;
    if (part.channels !== size) throw new RangeError(`part ${name} has ${size} floats, its activation ${part.channels} channels`);
    const mean = transform.mean;
    const centred = pooledPart(part);
    if (mean) for (let d = 0; d < size; d++) centred[d] = (centred[d] as number) - (mean[row + d] as number);
    let factor = transform.scale;
    if (transform.normalize === 'l2') {
      const norm = Math.sqrt(centred.reduce((a, v) => a + v * v, 0));
      factor = norm > 0 ? transform.scale / norm : 0;
    }
    const C = head.classes;
    // `only`: the other parts' cells are left out (the maps then sum to less than the logit).
    if (only && !only.includes(name)) {
      row += size;
      return;
    }
    if (part.pooling === 'global-max') {
      for (let d = 0; d < size; d++) {
        const x = factor * (centred[d] as number);
        const base = (row + d) * C;
        for (let c = 0; c < C; c++) addToGrid(maps[c] as Float32Array, grid, part.height, part.width, part.cell[d] as number, (head.kernel[base + c] as number) * x);
      }
    } else {
      const cells = part.height * part.width;
      const scores = new Float64Array(C);
      for (let k = 0; k < cells; k++) {
        scores.fill(0);
        for (let d = 0; d < size; d++) {
          const x = (part.map[k * size + d] as number) - (mean ? (mean[row + d] as number) : 0);
          if (x === 0) continue;
          const base = (row + d) * C;
          for (let c = 0; c < C; c++) scores[c] = (scores[c] as number) + (head.kernel[base + c] as number) * x;
        }
        for (let c = 0; c < C; c++) addToGrid(maps[c] as Float32Array, grid, part.height, part.width, k, (factor * (scores[c] as number)) / cells);
      }
    }
    row += size;
  });
  if (row !== head.inputSize) throw new RangeError(`the transform gives ${row} floats, the head reads ${head.inputSize}`);
  return maps;
}

/** Each cell minus the mean over classes of that cell: the part of each map a softmax does not ignore. */
export function centredMaps(maps: readonly Float32Array[]): Float32Array[] {
  const cells = maps[0]?.length ?? 0;
  const mean = new Float32Array(cells);
  for (const m of maps) for (let k = 0; k < cells; k++) mean[k] = (mean[k] as number) + (m[k] as number) / maps.length;
  return maps.map((m) => m.map((v, k) => v - (mean[k] as number)));
}

/** The largest value of the maps at each cell: where any class is seen most. */
export function maxOverClasses(maps: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(maps[0]?.length ?? 0).fill(-Infinity);
  for (const m of maps) for (let k = 0; k < out.length; k++) if ((m[k] as number) > (out[k] as number)) out[k] = m[k] as number;
  return out;
}

/** Each class's score: the map's cells summed plus its bias (the head's logit of the photo). */
export function logitsFromMaps(maps: readonly Float32Array[], head: DenseHead): Float32Array {
  return Float32Array.from(maps, (m, c) => m.reduce((a, v) => a + v, 0) + (head.bias[c] as number));
}

/** How a class map becomes a box. */
export interface ClassBoxOptions {
  /** Fraction of the map's max a cell needs (default 0.5). */
  threshold?: number;
  /** Growth on every side, as a fraction of the box's larger side (default 0: tight). */
  pad?: number;
  /** Width / height of the photo (default 1). */
  aspect?: number;
}

/**
 * The crop box from one class's (square, `grid` x `grid`) map: the largest region at or above
 * `threshold` x its max (./feature-map-box.ts activeRegion; the whole frame when no cell is
 * positive), padded and made square inside the photo.
 */
export function classBox(map: Float32Array, grid: number, options: ClassBoxOptions = {}): Box {
  return padToSquare(activeRegion(map, grid, grid, options.threshold ?? 0.5), options.pad ?? 0, options.aspect ?? 1);
}

/** A part's whole feature map (channels last), and how the embedding pools it. */
export interface PartMap {
  pooling: 'global-average' | 'global-max';
  height: number;
  width: number;
  channels: number;
  map: Float32Array;
}

/** A square window of `size` x `size` cells of a `grid` x `grid` map, its top-left cell at (`top`, `left`). */
export interface CellWindow {
  top: number;
  left: number;
  size: number;
}

/** Every window of each of `sizes` cells a side on a `grid` x `grid` map (row-major, smaller sizes first). */
export function cellWindows(grid: number, sizes: readonly number[]): CellWindow[] {
  return sizes.flatMap((size) => Array.from({ length: (grid - size + 1) ** 2 }, (_, n) => ({ top: Math.floor(n / (grid - size + 1)), left: n % (grid - size + 1), size })));
}

/** A window as a box in [0, 1] coordinates of the photo. */
export function windowBox(w: CellWindow, grid: number): Box {
  return { x: w.left / grid, y: w.top / grid, width: w.size / grid, height: w.size / grid };
}

/**
 * The embedding of a window of the photo pooled from the photo's own feature maps (no second
 * pass): each part pooled as the embedding pools it (average or max) over the part's cells the
 * window covers (on a part finer or coarser than the grid, the cells under the window's area).
 * `parts` in the embedding's order; the result is laid out as the embedding is.
 */
export function windowEmbedding(parts: readonly PartMap[], w: CellWindow, grid: number): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.channels, 0));
  let at = 0;
  for (const part of parts) {
    const { height, width, channels, map } = part;
    const [i0, i1] = [Math.floor((w.top * height) / grid), Math.max(Math.floor((w.top * height) / grid) + 1, Math.ceil(((w.top + w.size) * height) / grid))];
    const [j0, j1] = [Math.floor((w.left * width) / grid), Math.max(Math.floor((w.left * width) / grid) + 1, Math.ceil(((w.left + w.size) * width) / grid))];
    const slot = out.subarray(at, at + channels);
    if (part.pooling === 'global-max') slot.fill(-Infinity);
    for (let i = i0; i < i1; i++) {
      for (let j = j0; j < j1; j++) {
        const base = (i * width + j) * channels;
        if (part.pooling === 'global-max') for (let c = 0; c < channels; c++) slot[c] = Math.max(slot[c] as number, map[base + c] as number);
        else for (let c = 0; c < channels; c++) slot[c] = (slot[c] as number) + (map[base + c] as number);
      }
    }
    if (part.pooling === 'global-average') {
      const cells = (i1 - i0) * (j1 - j0);
      for (let c = 0; c < channels; c++) slot[c] = (slot[c] as number) / cells;
    }
    at += channels;
  }
  return out;
}
