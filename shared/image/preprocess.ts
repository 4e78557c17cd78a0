/**
 * The one preprocessing step, used by the Worker, the browser and Node: RGBA pixels of any size ->
 * the backbone's input, done exactly as the backbone was trained (transparency composited onto
 * white, bilinear resize with aligned corners, scale to [0,1]).
 *
 * It runs in plain JavaScript on typed arrays rather than as tensor ops: the result is a small
 * 224x224x3 array, so a large photo never becomes a large tensor (the WASM heap never shrinks once
 * grown), and the arithmetic is bit-identical in every runtime.
 */
import type { InputSpec } from '../model/manifest.ts';

/** Pixels in RGBA order, row-major, top-left origin. */
export interface RgbaPixels {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

/**
 * Converts RGBA pixels into the backbone's input, `height * width * 3` floats (HWC).
 * Throws on empty or inconsistent pixel buffers.
 */
export function preprocess(pixels: RgbaPixels, spec: InputSpec): Float32Array {
  const { width: sw, height: sh, data } = pixels;
  if (!(sw > 0 && sh > 0) || !Number.isInteger(sw) || !Number.isInteger(sh)) {
    throw new RangeError(`preprocess: image has no pixels (${sw}x${sh})`);
  }
  if (data.length !== sw * sh * 4) {
    throw new RangeError(`preprocess: expected ${sw * sh * 4} RGBA bytes for ${sw}x${sh}, got ${data.length}`);
  }
  const { width: dw, height: dh, scale, offset, background, alignCorners } = spec;
  const [bgR, bgG, bgB] = background;

  // Source coordinate of each destination row/column, as tf.image.resizeBilinear computes it.
  const ratio = (src: number, dst: number): number =>
    alignCorners && dst > 1 ? (src - 1) / (dst - 1) : src / dst;
  const ry = ratio(sh, dh);
  const rx = ratio(sw, dw);
  const x0s = new Int32Array(dw);
  const x1s = new Int32Array(dw);
  const fxs = new Float32Array(dw);
  for (let x = 0; x < dw; x++) {
    const sx = alignCorners ? x * rx : Math.max(0, x * rx);
    const x0 = Math.min(sw - 1, Math.floor(sx));
    x0s[x] = x0;
    x1s[x] = Math.min(sw - 1, x0 + 1);
    fxs[x] = sx - x0;
  }

  const out = new Float32Array(dw * dh * 3);
  // Composited value of channel c of the source pixel at byte offset i, in 0..255.
  const opaque = isOpaque(data);
  let o = 0;
  for (let y = 0; y < dh; y++) {
    const sy = y * ry;
    const y0 = Math.min(sh - 1, Math.floor(sy));
    const y1 = Math.min(sh - 1, y0 + 1);
    const fy = sy - y0;
    for (let x = 0; x < dw; x++) {
      const x0 = x0s[x] as number;
      const x1 = x1s[x] as number;
      const fx = fxs[x] as number;
      const tl = (y0 * sw + x0) * 4;
      const tr = (y0 * sw + x1) * 4;
      const bl = (y1 * sw + x0) * 4;
      const br = (y1 * sw + x1) * 4;
      for (let c = 0; c < 3; c++) {
        let vtl = data[tl + c] as number;
        let vtr = data[tr + c] as number;
        let vbl = data[bl + c] as number;
        let vbr = data[br + c] as number;
        if (!opaque) {
          const bg = c === 0 ? bgR : c === 1 ? bgG : bgB;
          vtl = composite(vtl, data[tl + 3] as number, bg);
          vtr = composite(vtr, data[tr + 3] as number, bg);
          vbl = composite(vbl, data[bl + 3] as number, bg);
          vbr = composite(vbr, data[br + 3] as number, bg);
        }
        const top = vtl + (vtr - vtl) * fx;
        const bottom = vbl + (vbr - vbl) * fx;
        out[o++] = (top + (bottom - top) * fy) * scale + offset;
      }
    }
  }
  return out;
}

/** A channel value (0..255) with alpha (0..255) over a background value. */
function composite(value: number, alpha: number, bg: number): number {
  const a = alpha / 255;
  return value * a + bg * (1 - a);
}

/** True when every pixel is fully opaque (compositing is then the identity). */
function isOpaque(data: Uint8Array | Uint8ClampedArray): boolean {
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 255) return false;
  return true;
}
