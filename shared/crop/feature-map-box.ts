/**
 * Where the backbone looks (issue 17, detector-free crops): a box around the most active region of
 * the backbone's last feature map (MobileNetV2's `out_relu`, 7x7x1280, the layer its `flatten_1`
 * embedding part averages). Pure arithmetic on the map, so it runs wherever the backbone does, the
 * Worker included; the crop is then embedded with a second forward pass.
 *
 * Steps: sum the channels into one H x W activation; keep the cells at or above `threshold` x its
 * maximum; take the largest 4-connected group of kept cells (ties: the one with the larger summed
 * activation); its bounding box in cell units, as [0, 1] coordinates (cell (i, j) covers
 * [j/W, (j+1)/W] x [i/H, (i+1)/H]); grown by `pad`, made square and kept inside the photo
 * (shared/crop/box.ts padToSquare).
 */
import { padToSquare, WHOLE_FRAME, type Box } from './box.ts';

/** How a feature map becomes a box (see the module comment). */
export interface FeatureMapBoxOptions {
  /** Fraction of the strongest cell's activation a cell needs to count (default 0.5). */
  threshold?: number;
  /** Growth on every side, as a fraction of the box's larger side (default 0.15). */
  pad?: number;
  /** Width / height of the photo the box is for (default 1, square). */
  aspect?: number;
}

/** The map's layout: `height * width * channels` floats, channels last (HWC), as TF.js returns them. */
export interface FeatureMapShape {
  height: number;
  width: number;
  channels: number;
}

/** The channel sums of an HWC map, one per cell (row-major). */
export function activationMap(map: Float32Array, shape: FeatureMapShape): Float32Array {
  const { height, width, channels } = shape;
  if (map.length !== height * width * channels) throw new RangeError(`feature map has ${map.length} floats, ${height}x${width}x${channels} expected`);
  const out = new Float32Array(height * width);
  for (let cell = 0; cell < out.length; cell++) {
    let sum = 0;
    for (let c = cell * channels, end = c + channels; c < end; c++) sum += map[c] as number;
    out[cell] = sum;
  }
  return out;
}

/**
 * The box around the most active region of an `height` x `width` activation map (one value a
 * cell, row-major), before padding: the bounding box of the largest group of cells at or above
 * `threshold` x the maximum. The whole frame when the map is all zero (or not finite).
 */
export function activeRegion(activation: Float32Array, height: number, width: number, threshold = 0.5): Box {
  if (activation.length !== height * width) throw new RangeError(`activation has ${activation.length} cells, ${height}x${width} expected`);
  let max = 0;
  for (const v of activation) if (v > max) max = v;
  if (!(max > 0 && Number.isFinite(max))) return { ...WHOLE_FRAME };
  const kept = (i: number): boolean => (activation[i] as number) >= threshold * max;
  const group = new Int32Array(activation.length).fill(-1);
  let best = { size: 0, mass: -1, top: 0, left: 0, bottom: 0, right: 0 };
  for (let start = 0; start < activation.length; start++) {
    if (!kept(start) || (group[start] as number) >= 0) continue;
    // Flood fill of one group (4-neighbours), with its bounds, size and summed activation.
    const g = { size: 0, mass: 0, top: height, left: width, bottom: -1, right: -1 };
    const stack = [start];
    group[start] = start;
    while (stack.length) {
      const cell = stack.pop() as number;
      const i = Math.floor(cell / width);
      const j = cell % width;
      g.size++;
      g.mass += activation[cell] as number;
      g.top = Math.min(g.top, i);
      g.bottom = Math.max(g.bottom, i);
      g.left = Math.min(g.left, j);
      g.right = Math.max(g.right, j);
      const neighbours = [i > 0 ? cell - width : -1, i < height - 1 ? cell + width : -1, j > 0 ? cell - 1 : -1, j < width - 1 ? cell + 1 : -1];
      for (const n of neighbours) {
        if (n < 0 || !kept(n) || (group[n] as number) >= 0) continue;
        group[n] = start;
        stack.push(n);
      }
    }
    if (g.size > best.size || (g.size === best.size && g.mass > best.mass)) best = g;
  }
  return { x: best.left / width, y: best.top / height, width: (best.right - best.left + 1) / width, height: (best.bottom - best.top + 1) / height };
}

/**
 * The crop box of a photo from its backbone's last feature map (module comment): a square in [0, 1]
 * coordinates of the photo, inside it.
 */
export function featureMapBox(map: Float32Array, shape: FeatureMapShape, options: FeatureMapBoxOptions = {}): Box {
  const region = activeRegion(activationMap(map, shape), shape.height, shape.width, options.threshold ?? 0.5);
  return padToSquare(region, options.pad ?? 0.15, options.aspect ?? 1);
}
