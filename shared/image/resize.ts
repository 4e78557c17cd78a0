/**
 * RGBA pixels resized to another size, bilinear on premultiplied alpha (a transparent pixel's
 * colour does not bleed into its opaque neighbours). The backbone's input has its own resize
 * (shared/image/preprocess.ts); this one makes pixels, e.g. an object pasted at another size.
 */
import type { RgbaPixels } from './preprocess.ts';

/** `pixels` resized to `width` x `height` (pixel centres aligned, edges clamped), rounded to bytes. */
export function resizeRgba(pixels: RgbaPixels, width: number, height: number): RgbaPixels {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 1 && height >= 1)) throw new RangeError(`resize to ${width}x${height}: need whole sizes >= 1`);
  const { width: sw, height: sh, data } = pixels;
  const out = new Uint8Array(width * height * 4);
  const source = (size: number, target: number, i: number): [number, number, number] => {
    const s = Math.min(Math.max((i + 0.5) * (size / target) - 0.5, 0), size - 1);
    const i0 = Math.floor(s);
    return [i0, Math.min(i0 + 1, size - 1), s - i0];
  };
  const xs = Array.from({ length: width }, (_, x) => source(sw, width, x));
  for (let y = 0; y < height; y++) {
    const [y0, y1, fy] = source(sh, height, y);
    for (let x = 0; x < width; x++) {
      const [x0, x1, fx] = xs[x] as [number, number, number];
      const corners: [number, number][] = [
        [(y0 * sw + x0) * 4, (1 - fx) * (1 - fy)],
        [(y0 * sw + x1) * 4, fx * (1 - fy)],
        [(y1 * sw + x0) * 4, (1 - fx) * fy],
        [(y1 * sw + x1) * 4, fx * fy],
      ];
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (const [i, w] of corners) {
        const wa = w * (data[i + 3] as number);
        r += (data[i] as number) * wa;
        g += (data[i + 1] as number) * wa;
        b += (data[i + 2] as number) * wa;
        a += wa;
      }
      const o = (y * width + x) * 4;
      if (a > 0) {
        out[o] = Math.round(r / a);
        out[o + 1] = Math.round(g / a);
        out[o + 2] = Math.round(b / a);
      }
      out[o + 3] = Math.round(a);
    }
  }
  return { width, height, data: out };
}
