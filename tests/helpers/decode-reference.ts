// Reference implementations for the image decoder's tests (tests/unit/image-decode*.test.ts),
// deliberately written differently from the module under test.
import type { RgbaImage } from '../../shared/image/decode.ts';
import { concatBytes, findSof, pixelAt, type PngBitDepth, type PngColorType } from './images.ts';

/** One byte per character (Latin-1), for signatures and text bodies. */
export function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** A copy of `jpg` whose frame header lists `count` components (all 1x1, quantisation table 0). */
export function withComponents(jpg: Uint8Array, count: number): Uint8Array {
  const sof = findSof(jpg);
  const fields = jpg.subarray(sof.offset + 4, sof.offset + 9); // precision, height, width
  const components = Array.from({ length: count }, (_, i) => [i + 1, 0x11, 0]).flat();
  const length = 2 + fields.length + 1 + components.length;
  const segment = concatBytes(Uint8Array.of(0xff, jpg[sof.offset + 1] ?? 0xc0, length >> 8, length & 0xff), fields, Uint8Array.of(count, ...components));
  return concatBytes(jpg.subarray(0, sof.offset), segment, jpg.subarray(sof.end));
}

/** The start of a WebP file (RIFF, WEBP, VP8 ), enough to be recognised. */
export function webpBytes(): Uint8Array {
  return concatBytes(ascii('RIFF'), Uint8Array.of(30, 0, 0, 0), ascii('WEBPVP8 '), new Uint8Array(20));
}

/** RGBA of PNG samples of any colour type and bit depth, written out per type (no tRNS). */
export function referenceRgba(
  colorType: PngColorType,
  bitDepth: PngBitDepth,
  samples: readonly number[],
  palette: readonly (readonly [number, number, number])[] | undefined,
): number[] {
  const scale = (v: number) => (bitDepth === 16 ? Math.round(v / 257) : bitDepth === 8 ? v : Math.round((v * 255) / (2 ** bitDepth - 1)));
  const out: number[] = [];
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colorType];
  for (let i = 0; i < samples.length; i += channels) {
    const s = (k: number) => samples[i + k] ?? NaN;
    switch (colorType) {
      case 0:
        out.push(scale(s(0)), scale(s(0)), scale(s(0)), 255);
        break;
      case 2:
        out.push(scale(s(0)), scale(s(1)), scale(s(2)), 255);
        break;
      case 3: {
        const entry = palette?.[s(0)] ?? [0, 0, 0];
        out.push(entry[0], entry[1], entry[2], 255);
        break;
      }
      case 4:
        out.push(scale(s(0)), scale(s(0)), scale(s(0)), scale(s(1)));
        break;
      case 6:
        out.push(scale(s(0)), scale(s(1)), scale(s(2)), scale(s(3)));
        break;
    }
  }
  return out;
}

/** Orientation as compositions of flips and a transpose (not the affine walk the module uses). */
export function referenceOrient(image: RgbaImage, orientation: number): RgbaImage {
  const flipH = (img: RgbaImage): RgbaImage => remap(img, img.width, img.height, (x, y) => [img.width - 1 - x, y]);
  const flipV = (img: RgbaImage): RgbaImage => remap(img, img.width, img.height, (x, y) => [x, img.height - 1 - y]);
  const transpose = (img: RgbaImage): RgbaImage => remap(img, img.height, img.width, (x, y) => [y, x]);
  switch (orientation) {
    case 2:
      return flipH(image);
    case 3:
      return flipH(flipV(image));
    case 4:
      return flipV(image);
    case 5:
      return transpose(image);
    case 6:
      return flipH(transpose(image));
    case 7:
      return flipH(flipV(transpose(image)));
    case 8:
      return flipV(transpose(image));
    default:
      return image;
  }
}

function remap(src: RgbaImage, width: number, height: number, from: (x: number, y: number) => [number, number]): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [sx, sy] = from(x, y);
      data.set(pixelAt(src, sx, sy), (y * width + x) * 4);
    }
  }
  return { width, height, data };
}
