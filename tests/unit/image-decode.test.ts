import * as fastPng from 'fast-png';
import jpeg from 'jpeg-js';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { TannerinError, type ErrorCode } from '../../shared/errors.ts';
import {
  DEFAULT_DECODE_LIMITS,
  decodeImage,
  readImageInfo,
  sniffImageFormat,
  type RgbaImage,
} from '../../shared/image-decode.ts';
import {
  QUADRANT_COLORS,
  concatBytes,
  encodeRawPng,
  exifPayload,
  findSof,
  grayscaleJpeg,
  ihdrData,
  jpegSegments,
  makeGradientRgba,
  makeJpeg,
  makePng,
  makePngBomb,
  makePngWithChannels,
  makePngWithHeader,
  makeQuadrantRgba,
  patchJpegSof,
  pixelAt,
  pngChunk,
  pngChunks,
  PNG_SIGNATURE,
  progressiveJpeg,
  pseudoRandomBytes,
  withExifOrientation,
  withFillBytes,
  withSegment,
  zlib,
  type PngBitDepth,
  type PngColorType,
  type Quadrant,
  type Rgba,
} from '../helpers/images.ts';

// Wrap both decoders in spies so tests can prove that oversized or bomb-like inputs are refused
// before any decoding starts.
vi.mock('fast-png', async (importOriginal) => {
  const original = await importOriginal<typeof import('fast-png')>();
  return { ...original, decode: vi.fn(original.decode) };
});
vi.mock('jpeg-js', async (importOriginal) => {
  const original = (await importOriginal<{ default: typeof import('jpeg-js') }>()).default;
  return { default: { ...original, decode: vi.fn(original.decode) } };
});

const pngDecodeSpy = vi.mocked(fastPng.decode);
const jpegDecodeSpy = vi.mocked(jpeg.decode);

beforeEach(() => {
  pngDecodeSpy.mockClear();
  jpegDecodeSpy.mockClear();
});

/** Runs `fn`, requires a TannerinError with `code` (and message match), returns it. */
function expectError(fn: () => unknown, code: ErrorCode, message?: RegExp): TannerinError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  if (!(caught instanceof TannerinError)) {
    throw new Error(`expected TannerinError(${code}), got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`);
  }
  expect(caught.code).toBe(code);
  if (message) expect(caught.message).toMatch(message);
  return caught;
}

/** The result must be a plain, exactly sized, 0-offset Uint8Array (not a Buffer or a view). */
function expectPlainRgba(image: RgbaImage, width: number, height: number): void {
  expect(image.width).toBe(width);
  expect(image.height).toBe(height);
  expect(image.data.constructor).toBe(Uint8Array);
  expect(image.data.byteOffset).toBe(0);
  expect(image.data.length).toBe(width * height * 4);
  expect(image.data.buffer.byteLength).toBe(width * height * 4);
}

function expectClose(actual: Rgba, expected: Rgba, tolerance: number): void {
  const ok = actual.every((v, i) => Math.abs(v - (expected[i] ?? -999)) <= tolerance);
  if (!ok) expect(actual).toEqual(expected);
}

// ---------------------------------------------------------------------------------------------

describe('sniffImageFormat', () => {
  it('recognises PNG, JPEG and WebP by magic number only', () => {
    expect(sniffImageFormat(makePng(2, 2))).toBe('png');
    expect(sniffImageFormat(makeJpeg(8, 8))).toBe('jpeg');
    expect(sniffImageFormat(webpBytes())).toBe('webp');
    expect(sniffImageFormat(new Uint8Array(0))).toBeNull();
    expect(sniffImageFormat(pseudoRandomBytes(64))).toBeNull();
    expect(sniffImageFormat(PNG_SIGNATURE.subarray(0, 7))).toBeNull();
    expect(sniffImageFormat(Uint8Array.of(0xff, 0xd8))).toBeNull();
    // RIFF but not WebP (e.g. WAV).
    expect(sniffImageFormat(concatBytes(ascii('RIFF'), new Uint8Array(4), ascii('WAVE')))).toBeNull();
  });
});

describe('readImageInfo', () => {
  it('reads PNG dimensions from IHDR alone', () => {
    const png = makePng(37, 11);
    expect(readImageInfo(png)).toEqual({ format: 'png', width: 37, height: 11, orientation: 1 });
    // Signature + IHDR chunk is enough.
    expect(readImageInfo(png.subarray(0, 33))).toEqual({ format: 'png', width: 37, height: 11, orientation: 1 });
    expect(pngDecodeSpy).not.toHaveBeenCalled();
  });

  it('reads JPEG dimensions from the frame header alone', () => {
    const jpg = makeJpeg(45, 17);
    expect(readImageInfo(jpg)).toEqual({ format: 'jpeg', width: 45, height: 17, orientation: 1 });
    // Everything up to the end of the SOS header is enough: entropy-coded data is not read.
    const sos = jpegSegments(jpg).at(-1);
    expect(sos?.marker).toBe(0xda);
    expect(readImageInfo(jpg.subarray(0, sos?.end))).toEqual({ format: 'jpeg', width: 45, height: 17, orientation: 1 });
    expect(jpegDecodeSpy).not.toHaveBeenCalled();
  });

  it('reports huge dimensions without any limit', () => {
    expect(readImageInfo(makePngWithHeader(100_000, 100_000))).toMatchObject({ width: 100_000, height: 100_000 });
    expect(readImageInfo(patchJpegSof(makeJpeg(8, 8), { width: 65_535, height: 65_535 }))).toMatchObject({
      width: 65_535,
      height: 65_535,
    });
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('reads EXIF orientation %i in both byte orders', (orientation) => {
    const jpg = makeJpeg(16, 8);
    for (const littleEndian of [true, false]) {
      expect(readImageInfo(withExifOrientation(jpg, orientation, littleEndian))).toEqual({
        format: 'jpeg',
        width: 16,
        height: 8,
        orientation,
      });
    }
  });

  it('falls back to orientation 1 for out-of-range values and malformed EXIF', () => {
    const jpg = makeJpeg(16, 8);
    for (const value of [0, 9, 255, 0x0600]) {
      expect(readImageInfo(withExifOrientation(jpg, value, true)).orientation).toBe(1);
    }
    // Wrong TIFF type for the tag (ASCII instead of SHORT).
    expect(readImageInfo(withSegment(jpg, 0xe1, exifPayload(6, false, 2))).orientation).toBe(1);
    // Bad byte-order mark, bad magic, IFD offset past the end, truncated IFD.
    const good = exifPayload(6, false);
    const badOrder = good.slice();
    badOrder.set(ascii('XX'), 6);
    const badMagic = good.slice();
    badMagic[9] = 43;
    const farIfd = good.slice();
    farIfd.set([0x7f, 0, 0, 0], 10);
    for (const payload of [badOrder, badMagic, farIfd, good.subarray(0, 20), ascii('Exif\0\0')]) {
      expect(readImageInfo(withSegment(jpg, 0xe1, payload)).orientation).toBe(1);
    }
  });

  it('skips non-EXIF APP1 (XMP) and finds EXIF after it, or after the frame header', () => {
    const jpg = makeJpeg(16, 8);
    const xmpFirst = withSegment(withExifOrientation(jpg, 8, false), 0xe1, ascii('http://ns.adobe.com/xap/1.0/\0<x/>'));
    expect(readImageInfo(xmpFirst).orientation).toBe(8);
    // The first EXIF block wins.
    expect(readImageInfo(withExifOrientation(withExifOrientation(jpg, 3, true), 6, true)).orientation).toBe(6);
    // APP1 placed after SOF (unusual but legal) is still found before SOS.
    const sof = findSof(jpg);
    const exif = withExifOrientation(new Uint8Array([0xff, 0xd8]), 5, true).subarray(2);
    const afterSof = concatBytes(jpg.subarray(0, sof.end), exif, jpg.subarray(sof.end));
    expect(readImageInfo(afterSof).orientation).toBe(5);
  });

  it('skips 0xFF fill bytes before markers', () => {
    const jpg = withExifOrientation(makeJpeg(24, 10), 6, true);
    expect(readImageInfo(withFillBytes(jpg, 1))).toEqual(readImageInfo(jpg));
    expect(readImageInfo(withFillBytes(jpg, 5))).toEqual({ format: 'jpeg', width: 24, height: 10, orientation: 6 });
  });

  it('reads every SOFn variant (SOF0..SOF15 except DHT, JPG, DAC)', () => {
    const jpg = makeJpeg(24, 10);
    for (let marker = 0xc0; marker <= 0xcf; marker++) {
      const patched = patchJpegSof(jpg, { marker });
      if (marker === 0xc4 || marker === 0xc8 || marker === 0xcc) {
        // Not a frame header, so the file has none before SOS.
        expectError(() => readImageInfo(patched), 'invalid_image', /frame header/);
      } else {
        expect(readImageInfo(patched)).toMatchObject({ width: 24, height: 10 });
      }
    }
  });

  it('rejects non-images and malformed headers with the right codes', () => {
    expectError(() => readImageInfo(new Uint8Array(0)), 'unsupported_media_type', /empty/);
    expectError(() => readImageInfo(webpBytes()), 'unsupported_media_type', /WebP/);
    expectError(() => readImageInfo(pseudoRandomBytes(100)), 'unsupported_media_type');
    expectError(() => readImageInfo(makePngWithHeader(0, 10)), 'invalid_image', /zero size/);
    expectError(() => readImageInfo(patchJpegSof(makeJpeg(8, 8), { height: 0 })), 'invalid_image', /zero size/);
    // First chunk is not IHDR.
    expectError(
      () => readImageInfo(concatBytes(PNG_SIGNATURE, pngChunk('tEXt', ascii('a\0b')), pngChunk('IHDR', ihdrData(1, 1, 8, 6)))),
      'invalid_image',
      /IHDR/,
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('decodeImage: PNG', () => {
  it('decodes 8-bit RGBA exactly, keeping alpha as is (no compositing)', () => {
    const pixels = makeGradientRgba(23, 9);
    for (let i = 3; i < pixels.length; i += 4) pixels[i] = (i * 7) & 0xff; // varied alpha, incl. 0
    pixels.set([10, 20, 30, 0], 0);
    const image = decodeImage(makePng(23, 9, pixels));
    expectPlainRgba(image, 23, 9);
    expect(image.data).toEqual(pixels);
    expect(pixelAt(image, 0, 0)).toEqual([10, 20, 30, 0]);
  });

  it('decodes grey, grey+alpha and RGB written by fast-png, at 8 and 16 bits', () => {
    const w = 5;
    const h = 3;
    const n = w * h;
    const gray8 = Uint8Array.from({ length: n }, (_, i) => i * 17);
    expect(decodeImage(makePngWithChannels(w, h, 1, gray8)).data).toEqual(
      Uint8Array.from({ length: n * 4 }, (_, i) => (i % 4 === 3 ? 255 : (gray8[i >> 2] ?? -1))),
    );
    const ga8 = Uint8Array.from({ length: n * 2 }, (_, i) => (i * 29) & 0xff);
    expect(pixelAt(decodeImage(makePngWithChannels(w, h, 2, ga8)), 4, 2)).toEqual([ga8[28], ga8[28], ga8[28], ga8[29]]);
    const rgb8 = Uint8Array.from({ length: n * 3 }, (_, i) => (i * 31) & 0xff);
    expect(pixelAt(decodeImage(makePngWithChannels(w, h, 3, rgb8)), 1, 1)).toEqual([rgb8[18], rgb8[19], rgb8[20], 255]);
    // 16-bit: v → round(v / 257).
    const rgba16 = Uint16Array.from({ length: n * 4 }, (_, i) => [0, 65535, 128, 32896, 257 * 200 + 128, 1000][i % 6] ?? 0);
    const image16 = decodeImage(makePngWithChannels(w, h, 4, rgba16, 16));
    expectPlainRgba(image16, w, h);
    expect(Array.from(image16.data)).toEqual(Array.from(rgba16, (v) => Math.round(v / 257)));
  });

  it('decodes fast-png Adam7 output identically to the non-interlaced file', () => {
    const pixels = makeGradientRgba(19, 13);
    const interlaced = fastPng.encode({ width: 19, height: 13, data: pixels, channels: 4, depth: 8 }, { interlace: 'Adam7' });
    expect(decodeImage(interlaced).data).toEqual(pixels);
  });

  // Every legal colour type × bit depth, plain and Adam7, with all five filter types and the
  // zlib stream split across IDAT chunks, against a reference conversion written here.
  const combos: [PngColorType, PngBitDepth][] = [
    [0, 1], [0, 2], [0, 4], [0, 8], [0, 16],
    [2, 8], [2, 16],
    [3, 1], [3, 2], [3, 4], [3, 8],
    [4, 8], [4, 16],
    [6, 8], [6, 16],
  ];
  describe.each(combos)('colour type %i, %i-bit', (colorType, bitDepth) => {
    it.each([
      [false, 13, 7],
      [true, 13, 7],
      [true, 1, 1],
      [true, 3, 17],
      [false, 1, 1],
    ])('interlace=%s %ix%i', (interlace, width, height) => {
      const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colorType];
      const max = 2 ** bitDepth - 1;
      const random = pseudoRandomBytes(width * height * channels * 2, width * 131 + height + colorType * 7 + bitDepth);
      const samples = Array.from({ length: width * height * channels }, (_, i) =>
        (((random[i * 2] ?? 0) << 8) | (random[i * 2 + 1] ?? 0)) % (max + 1),
      );
      const palette =
        colorType === 3
          ? Array.from({ length: 2 ** bitDepth }, (_, i) => [(i * 37) & 255, (i * 91) & 255, 255 - i] as const)
          : undefined;
      const png = encodeRawPng({ width, height, colorType, bitDepth, samples, interlace, palette, filter: 'cycle', idatChunkSize: 7 });
      const image = decodeImage(png);
      expectPlainRgba(image, width, height);
      expect(Array.from(image.data)).toEqual(referenceRgba(colorType, bitDepth, samples, palette));
    });
  });

  it('applies tRNS colour keys for grey and RGB, including 16-bit and sub-byte grey', () => {
    // 8-bit grey: value 7 is transparent.
    const gray = decodeImage(encodeRawPng({ width: 3, height: 1, colorType: 0, bitDepth: 8, samples: [7, 8, 7], trns: Uint8Array.of(0, 7) }));
    expect(Array.from(gray.data)).toEqual([7, 7, 7, 0, 8, 8, 8, 255, 7, 7, 7, 0]);
    // 2-bit grey: raw sample 1 (→ 85) is transparent.
    const gray2 = decodeImage(encodeRawPng({ width: 4, height: 1, colorType: 0, bitDepth: 2, samples: [0, 1, 2, 3], trns: Uint8Array.of(0, 1) }));
    expect(Array.from(gray2.data)).toEqual([0, 0, 0, 255, 85, 85, 85, 0, 170, 170, 170, 255, 255, 255, 255, 255]);
    // 16-bit RGB: the key compares all 16 bits, not the rounded 8-bit value.
    // (RGB images need at least 3 pixels here: fast-png 8.0.0 rejects an RGB tRNS on images
    // with fewer pixels than the key has samples.)
    const rgb16 = decodeImage(
      encodeRawPng({
        width: 3,
        height: 1,
        colorType: 2,
        bitDepth: 16,
        samples: [0x1234, 0x5678, 0x9abc, 0x1235, 0x5678, 0x9abc, 0x1234, 0x5678, 0x9abc],
        trns: Uint8Array.of(0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc),
      }),
    );
    expect(Array.from(rgb16.data)).toEqual([0x12, 0x56, 0x9a, 0, 0x12, 0x56, 0x9a, 255, 0x12, 0x56, 0x9a, 0]);
    // 8-bit RGB.
    const rgb = decodeImage(
      encodeRawPng({
        width: 3,
        height: 1,
        colorType: 2,
        bitDepth: 8,
        samples: [1, 2, 3, 1, 2, 4, 0, 2, 3],
        trns: Uint8Array.of(0, 1, 0, 2, 0, 3),
      }),
    );
    expect(Array.from(rgb.data)).toEqual([1, 2, 3, 0, 1, 2, 4, 255, 0, 2, 3, 255]);
  });

  it('applies palette tRNS (shorter than the palette) and reads out-of-range indices as opaque black', () => {
    const palette = [[10, 20, 30], [40, 50, 60], [70, 80, 90]] as const;
    const image = decodeImage(
      encodeRawPng({ width: 4, height: 1, colorType: 3, bitDepth: 8, samples: [0, 1, 2, 200], palette, trns: Uint8Array.of(0, 128) }),
    );
    expect(Array.from(image.data)).toEqual([10, 20, 30, 0, 40, 50, 60, 128, 70, 80, 90, 255, 0, 0, 0, 255]);
  });

  it('ignores ancillary chunks it does not need (tEXt, pHYs, unknown, small iCCP)', () => {
    const iccp = concatBytes(ascii('sRGB\0\0'), zlib(new Uint8Array(3000).fill(7)));
    const png = encodeRawPng({
      width: 2,
      height: 2,
      colorType: 6,
      bitDepth: 8,
      samples: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
      extraChunks: [pngChunk('tEXt', ascii('Comment\0hi')), pngChunk('pHYs', new Uint8Array(9)), pngChunk('zzZz', ascii('x')), pngChunk('iCCP', iccp)],
    });
    expect(Array.from(decodeImage(png).data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
  });

  it('accepts input that is a view into a larger buffer, and a Buffer', () => {
    const png = makePng(3, 2, [1, 2, 3, 4]);
    const big = new Uint8Array(png.length + 5);
    big.set(png, 3);
    const view = big.subarray(3, 3 + png.length);
    expect(decodeImage(view).data).toEqual(decodeImage(png).data);
    const image = decodeImage(Buffer.from(png));
    expectPlainRgba(image, 3, 2);
  });
});

// ---------------------------------------------------------------------------------------------

describe('decodeImage: JPEG', () => {
  it('decodes a baseline JPEG close to its source, alpha 255, as a plain Uint8Array', () => {
    const source = makeGradientRgba(64, 48);
    const image = decodeImage(makeJpeg(64, 48, 90, source));
    expectPlainRgba(image, 64, 48);
    let sum = 0;
    let worst = 0;
    for (let i = 0; i < source.length; i++) {
      if (i % 4 === 3) {
        expect(image.data[i]).toBe(255);
        continue;
      }
      const diff = Math.abs((image.data[i] ?? 0) - (source[i] ?? 0));
      sum += diff;
      worst = Math.max(worst, diff);
    }
    expect(sum / (source.length * 0.75)).toBeLessThan(2);
    expect(worst).toBeLessThan(16);
  });

  it('decodes a progressive JPEG (SOF2, 4:2:0)', () => {
    const jpg = progressiveJpeg();
    expect(findSof(jpg).marker).toBe(0xc2);
    const image = decodeImage(jpg);
    expectPlainRgba(image, 32, 16);
    expectClose(pixelAt(image, 3, 3), [0, 255, 0, 255], 6);
    expectClose(pixelAt(image, 3, 12), [255, 0, 0, 255], 6);
    expectClose(pixelAt(image, 28, 3), [0, 0, 255, 255], 6);
    expectClose(pixelAt(image, 28, 12), [0, 0, 255, 255], 6);
  });

  it('decodes a greyscale (1-component) JPEG to grey RGBA', () => {
    const image = decodeImage(grayscaleJpeg());
    expectPlainRgba(image, 16, 8);
    expectClose(pixelAt(image, 2, 4), [32, 32, 32, 255], 3);
    expectClose(pixelAt(image, 13, 4), [224, 224, 224, 255], 3);
    for (let i = 0; i < image.data.length; i += 4) {
      expect(image.data[i]).toBe(image.data[i + 1]);
      expect(image.data[i]).toBe(image.data[i + 2]);
    }
  });

  it('decodes the same pixels with fill bytes before markers', () => {
    const jpg = makeJpeg(24, 16);
    expect(decodeImage(withFillBytes(jpg, 2)).data).toEqual(decodeImage(jpg).data);
  });

  // Expected quadrant layout [topLeft, topRight, bottomLeft, bottomRight] of the displayed
  // image, named by where each block sat in the stored image.
  const layouts: Record<number, [Quadrant, Quadrant, Quadrant, Quadrant]> = {
    1: ['topLeft', 'topRight', 'bottomLeft', 'bottomRight'],
    2: ['topRight', 'topLeft', 'bottomRight', 'bottomLeft'], // flip H
    3: ['bottomRight', 'bottomLeft', 'topRight', 'topLeft'], // rotate 180
    4: ['bottomLeft', 'bottomRight', 'topLeft', 'topRight'], // flip V
    5: ['topLeft', 'bottomLeft', 'topRight', 'bottomRight'], // transpose
    6: ['bottomLeft', 'topLeft', 'bottomRight', 'topRight'], // rotate 90 CW
    7: ['bottomRight', 'topRight', 'bottomLeft', 'topLeft'], // transverse
    8: ['topRight', 'bottomRight', 'topLeft', 'bottomLeft'], // rotate 90 CCW
  };
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('applies EXIF orientation %i (both byte orders)', (orientation) => {
    const stored = makeJpeg(32, 16, 95, makeQuadrantRgba(32, 16));
    for (const littleEndian of [true, false]) {
      const image = decodeImage(withExifOrientation(stored, orientation, littleEndian));
      const [w, h] = orientation >= 5 ? [16, 32] : [32, 16];
      expectPlainRgba(image, w, h);
      const layout = layouts[orientation] ?? [];
      const probes: [number, number][] = [
        [w / 4, h / 4],
        [(3 * w) / 4, h / 4],
        [w / 4, (3 * h) / 4],
        [(3 * w) / 4, (3 * h) / 4],
      ];
      probes.forEach(([x, y], i) => {
        const quadrant = layout[i];
        if (!quadrant) throw new Error('bad layout');
        expectClose(pixelAt(image, x, y), QUADRANT_COLORS[quadrant], 8);
      });
    }
  });

  it('moves every pixel exactly where the orientation says (odd, non-square image)', () => {
    const stored = makeJpeg(13, 7, 80);
    const upright = decodeImage(stored);
    for (let orientation = 1; orientation <= 8; orientation++) {
      const expected = referenceOrient(upright, orientation);
      const actual = decodeImage(withExifOrientation(stored, orientation, orientation % 2 === 0));
      expect(actual.width).toBe(expected.width);
      expect(actual.height).toBe(expected.height);
      expect(actual.data).toEqual(expected.data);
    }
  });

  it('ignores orientation values outside 1..8', () => {
    const stored = makeJpeg(16, 8);
    expect(decodeImage(withExifOrientation(stored, 9, true))).toEqual(decodeImage(stored));
  });

  it.each([
    ['C3', 0xc3, /lossless/],
    ['C5', 0xc5, /hierarchical/],
    ['C9', 0xc9, /arithmetic/],
    ['CA', 0xca, /arithmetic-coded progressive/],
    ['CF', 0xcf, /arithmetic/],
  ])('refuses SOF %s JPEGs, which jpeg-js cannot decode, before decoding', (_name, marker, message) => {
    expectError(() => decodeImage(patchJpegSof(makeJpeg(16, 8), { marker })), 'invalid_image', message);
    expect(jpegDecodeSpy).not.toHaveBeenCalled();
  });

  it('refuses 12-bit samples and invalid sampling factors before decoding', () => {
    const jpg = makeJpeg(16, 8);
    expectError(() => decodeImage(patchJpegSof(jpg, { marker: 0xc1, precision: 12 })), 'invalid_image', /12-bit/);
    expectError(() => decodeImage(patchJpegSof(jpg, { firstSampling: 0x00 })), 'invalid_image', /sampling/);
    expectError(() => decodeImage(patchJpegSof(jpg, { firstSampling: 0x51 })), 'invalid_image', /sampling/);
    expect(jpegDecodeSpy).not.toHaveBeenCalled();
  });

  it('decodes extended-sequential (SOF1) 8-bit JPEGs like baseline', () => {
    const jpg = makeJpeg(16, 8);
    expect(decodeImage(patchJpegSof(jpg, { marker: 0xc1 })).data).toEqual(decodeImage(jpg).data);
  });
});

// ---------------------------------------------------------------------------------------------

describe('decodeImage: limits', () => {
  it('defaults to 16 megapixels', () => {
    expect(DEFAULT_DECODE_LIMITS.maxPixels).toBe(16_000_000);
  });

  it('refuses a tiny PNG claiming 100000x100000 from its header, before decoding', () => {
    const png = makePngWithHeader(100_000, 100_000);
    expect(png.length).toBeLessThan(100);
    const error = expectError(() => decodeImage(png), 'image_too_large', /100000x100000/);
    expect(error.message).toMatch(/16000000 pixels/);
    expect(error.status).toBe(413);
    expect(pngDecodeSpy).not.toHaveBeenCalled();
  });

  it('refuses a JPEG whose SOF claims 60000x60000, before decoding', () => {
    const jpg = patchJpegSof(makeJpeg(16, 16), { width: 60_000, height: 60_000 });
    expectError(() => decodeImage(jpg), 'image_too_large', /60000x60000.*16000000 pixels/);
    expect(jpegDecodeSpy).not.toHaveBeenCalled();
  });

  it('applies a custom limit inclusively', () => {
    const png = makePng(64, 48);
    const jpg = makeJpeg(64, 48);
    expect(decodeImage(png, { maxPixels: 64 * 48 }).width).toBe(64);
    expect(decodeImage(jpg, { maxPixels: 64 * 48 }).width).toBe(64);
    expectError(() => decodeImage(png, { maxPixels: 64 * 48 - 1 }), 'image_too_large', /64x48.*3071 pixels/);
    expectError(() => decodeImage(jpg, { maxPixels: 64 * 48 - 1 }), 'image_too_large');
    // Oriented images count the same pixels.
    expectError(() => decodeImage(withExifOrientation(jpg, 6), { maxPixels: 1000 }), 'image_too_large', /64x48/);
    expect(pngDecodeSpy).toHaveBeenCalledTimes(1);
    expect(jpegDecodeSpy).toHaveBeenCalledTimes(1);
  });

  it('treats a non-positive limit as a programming error', () => {
    expect(() => decodeImage(makePng(1, 1), { maxPixels: 0 })).toThrow(RangeError);
    expect(() => decodeImage(makePng(1, 1), { maxPixels: Number.NaN })).toThrow(RangeError);
  });

  it('refuses a PNG decompression bomb without handing it to fast-png', () => {
    const bomb = makePngBomb(64 * 1024 * 1024); // 64 MiB of zeros for a 1x1 image
    expect(bomb.length).toBeLessThan(100_000);
    const started = performance.now();
    expectError(() => decodeImage(bomb), 'invalid_image', /inflates to more than its 1x1 header/);
    // It stops after inflating about a megabyte, not 64.
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(pngDecodeSpy).not.toHaveBeenCalled();
  });

  it('refuses an iCCP decompression bomb', () => {
    const iccp = concatBytes(ascii('evil\0\0'), zlib(new Uint8Array(32 * 1024 * 1024), 9)); // limit is 16 MiB
    const png = encodeRawPng({ width: 1, height: 1, colorType: 0, bitDepth: 8, samples: [9], extraChunks: [pngChunk('iCCP', iccp)] });
    expectError(() => decodeImage(png), 'invalid_image', /ICC/);
    expect(pngDecodeSpy).not.toHaveBeenCalled();
  });
});

// ---------------------------------------------------------------------------------------------

describe('decodeImage: errors', () => {
  it('refuses non-images as unsupported_media_type', () => {
    expectError(() => decodeImage(new Uint8Array(0)), 'unsupported_media_type', /empty/);
    expectError(() => decodeImage(webpBytes()), 'unsupported_media_type', /WebP images are not supported/);
    expectError(() => decodeImage(ascii('GIF89a\x01\x00\x01\x00')), 'unsupported_media_type', /GIF/);
    expectError(() => decodeImage(ascii('<svg xmlns="http://www.w3.org/2000/svg"/>')), 'unsupported_media_type', /PNG or JPEG/);
    for (let seed = 1; seed <= 20; seed++) {
      expectError(() => decodeImage(pseudoRandomBytes(1 + seed * 37, seed)), 'unsupported_media_type');
    }
  });

  it('refuses zero-sized images', () => {
    expectError(() => decodeImage(makePngWithHeader(0, 10)), 'invalid_image', /zero size \(0x10\)/);
    expectError(() => decodeImage(makePngWithHeader(10, 0)), 'invalid_image', /zero size/);
    expectError(() => decodeImage(patchJpegSof(makeJpeg(8, 8), { width: 0 })), 'invalid_image', /zero size/);
  });

  it('refuses invalid PNG headers', () => {
    const bad = (depth: number, colorType: number, interlace = 0) =>
      concatBytes(PNG_SIGNATURE, pngChunk('IHDR', ihdrData(4, 4, depth, colorType, interlace)), pngChunk('IEND'));
    expectError(() => decodeImage(bad(8, 1)), 'invalid_image', /colour type 1/);
    expectError(() => decodeImage(bad(4, 2)), 'invalid_image', /bit depth 4/);
    expectError(() => decodeImage(bad(16, 3)), 'invalid_image');
    expectError(() => decodeImage(bad(8, 6, 2)), 'invalid_image', /interlace/);
  });

  it('refuses a PNG truncated at any point', () => {
    const png = encodeRawPng({
      width: 9,
      height: 5,
      colorType: 6,
      bitDepth: 8,
      samples: Array.from(pseudoRandomBytes(9 * 5 * 4)),
      idatChunkSize: 40,
    });
    // Shorter than the 8-byte signature: not recognisable as PNG at all.
    for (let cut = 0; cut < 8; cut++) expectError(() => decodeImage(png.subarray(0, cut)), 'unsupported_media_type');
    for (let cut = 8; cut < png.length; cut++) {
      expectError(() => decodeImage(png.subarray(0, cut)), 'invalid_image', /truncated|IHDR/);
    }
  });

  it('refuses a PNG with any single corrupted byte (CRC)', () => {
    const png = makePng(6, 4, makeGradientRgba(6, 4));
    for (let at = 8; at < png.length; at++) {
      const corrupt = png.slice();
      corrupt[at] = (corrupt[at] ?? 0) ^ 0x5a;
      expectError(() => decodeImage(corrupt), 'invalid_image');
    }
  });

  it('refuses PNG structure errors that have valid CRCs', () => {
    const ihdr = pngChunk('IHDR', ihdrData(2, 2, 8, 0));
    const rows = Uint8Array.of(0, 1, 2, 0, 3, 4);
    // Image data that inflates to fewer bytes than 2 rows need.
    expectError(
      () => decodeImage(concatBytes(PNG_SIGNATURE, ihdr, pngChunk('IDAT', zlib(rows.subarray(0, 4))), pngChunk('IEND'))),
      'invalid_image',
      /shorter than the header/,
    );
    // Not zlib at all.
    expectError(
      () => decodeImage(concatBytes(PNG_SIGNATURE, ihdr, pngChunk('IDAT', ascii('not zlib data')), pngChunk('IEND'))),
      'invalid_image',
    );
    // No IDAT, no IEND.
    expectError(() => decodeImage(concatBytes(PNG_SIGNATURE, ihdr, pngChunk('IEND'))), 'invalid_image', /no image data/);
    expectError(() => decodeImage(concatBytes(PNG_SIGNATURE, ihdr, pngChunk('IDAT', zlib(rows)))), 'invalid_image', /IEND/);
    // Unknown scanline filter type (7), via fast-png and via our own Adam7 path.
    expectError(
      () => decodeImage(concatBytes(PNG_SIGNATURE, ihdr, pngChunk('IDAT', zlib(Uint8Array.of(7, 1, 2, 0, 3, 4))), pngChunk('IEND'))),
      'invalid_image',
      /filter/,
    );
    const adam7 = encodeRawPng({ width: 1, height: 1, colorType: 0, bitDepth: 1, samples: [1], interlace: true });
    const idat = pngChunks(adam7).find((c) => c.type === 'IDAT');
    if (!idat) throw new Error('no IDAT');
    const broken = concatBytes(
      adam7.subarray(0, idat.offset),
      pngChunk('IDAT', zlib(Uint8Array.of(9, 0x80))),
      adam7.subarray(idat.offset + 12 + idat.length),
    );
    expectError(() => decodeImage(broken), 'invalid_image', /filter 9/);
    // Palette image without PLTE.
    expectError(
      () => decodeImage(encodeRawPng({ width: 2, height: 1, colorType: 3, bitDepth: 8, samples: [0, 0] })),
      'invalid_image',
      /PLTE/,
    );
  });

  it('refuses a JPEG truncated at any point', () => {
    const jpg = makeJpeg(32, 24, 75);
    // Shorter than FF D8 FF: not recognisable as JPEG.
    for (let cut = 0; cut < 3; cut++) expectError(() => decodeImage(jpg.subarray(0, cut)), 'unsupported_media_type');
    for (let cut = 3; cut < jpg.length; cut++) expectError(() => decodeImage(jpg.subarray(0, cut)), 'invalid_image');
  });

  it('refuses a JPEG with a stray marker inside its entropy-coded data', () => {
    const jpg = makeJpeg(64, 48, 90);
    const sos = jpegSegments(jpg).at(-1);
    if (!sos) throw new Error('no SOS');
    const corrupt = jpg.slice();
    const middle = sos.end + Math.floor((jpg.length - sos.end) / 2);
    corrupt.set([0xff, 0x01], middle);
    expectError(() => decodeImage(corrupt), 'invalid_image', /Could not decode the JPEG/);
  });

  it('refuses JPEG header damage: bad segment length, SOS before SOF, EOI before SOF', () => {
    const jpg = makeJpeg(16, 8);
    const dqt = jpegSegments(jpg).find((s) => s.marker === 0xdb);
    if (!dqt) throw new Error('no DQT');
    const badLength = jpg.slice();
    badLength.set([0, 1], dqt.offset + 2);
    expectError(() => decodeImage(badLength), 'invalid_image');
    const sosFirst = concatBytes(Uint8Array.of(0xff, 0xd8, 0xff, 0xda, 0, 2), jpg.subarray(2));
    expectError(() => decodeImage(sosFirst), 'invalid_image', /before the frame header/);
    expectError(() => decodeImage(Uint8Array.of(0xff, 0xd8, 0xff, 0xd9)), 'invalid_image', /ends before/);
    expectError(() => decodeImage(Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, 0, 16, 1)), 'invalid_image', /truncated/);
  });

  it('never lets a raw decoder error escape from randomly corrupted JPEGs', () => {
    const jpg = makeJpeg(40, 24, 85);
    let failures = 0;
    for (let trial = 0; trial < 400; trial++) {
      const corrupt = jpg.slice();
      const noise = pseudoRandomBytes(8, trial + 1);
      for (let k = 0; k < 4; k++) {
        const at = 3 + (((noise[k * 2] ?? 0) << 8) | (noise[k * 2 + 1] ?? 0)) % (jpg.length - 3);
        corrupt[at] = (noise[k] ?? 0) ^ (corrupt[at] ?? 0) ^ 0x80;
      }
      try {
        const image = decodeImage(corrupt, { maxPixels: 1_000_000 });
        expect(image.data.length).toBe(image.width * image.height * 4);
      } catch (error) {
        if (!(error instanceof TannerinError)) throw error;
        expect(['invalid_image', 'image_too_large']).toContain(error.code);
        failures++;
      }
    }
    // jpeg-js is tolerant, so many corruptions still decode; but some must fail.
    expect(failures).toBeGreaterThan(0);
  });

  it('never lets a raw decoder error escape from randomly corrupted PNGs', () => {
    const png = makePng(12, 12, makeGradientRgba(12, 12));
    for (let trial = 0; trial < 300; trial++) {
      const corrupt = png.slice();
      const noise = pseudoRandomBytes(4, trial + 1);
      const at = 8 + ((((noise[0] ?? 0) << 8) | (noise[1] ?? 0)) % (png.length - 8));
      corrupt[at] = (corrupt[at] ?? 0) ^ ((noise[2] ?? 0) | 1);
      expectError(() => decodeImage(corrupt), 'invalid_image');
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Reference implementations, deliberately written differently from the module under test.

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function webpBytes(): Uint8Array {
  return concatBytes(ascii('RIFF'), Uint8Array.of(30, 0, 0, 0), ascii('WEBPVP8 '), new Uint8Array(20));
}

function referenceRgba(
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
function referenceOrient(image: RgbaImage, orientation: number): RgbaImage {
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
