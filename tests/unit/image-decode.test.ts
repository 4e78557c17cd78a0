import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { initNodeImageDecoder } from '../../scripts/node-backend.ts';
import { TannerinError, type ErrorCode } from '../../shared/errors.ts';
import {
  DEFAULT_DECODE_LIMITS,
  EDGE_DECODE_LIMITS,
  countJpegScans,
  decodeImage,
  imageDecoderInfo,
  readImageInfo,
  sniffImageFormat,
  type RgbaImage,
} from '../../shared/image/decode.ts';
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
  jpegSegmentsToEnd,
  withExtraScans,
  withExifOrientation,
  withFillBytes,
  withSegment,
  zlib,
  type PngBitDepth,
  type PngColorType,
  type Quadrant,
  type Rgba,
} from '../helpers/images.ts';
import { encode as encodePng } from 'fast-png';

// Count what the decoders are asked to do, so tests can prove that oversized or bomb-like inputs
// are refused before any decoding starts: PNG inflaters created (fflate's Unzlib) and calls into
// MozJPEG's decode (its emscripten factory is wrapped to spy on the module it builds).
const calls = vi.hoisted(() => ({ inflaters: 0, inflaterInputBytes: 0, jpegDecodes: 0, jpegInstances: 0 }));
vi.mock('fflate', async (importOriginal) => {
  const original = await importOriginal<typeof import('fflate')>();
  class CountingUnzlib extends original.Unzlib {
    constructor(...args: ConstructorParameters<typeof original.Unzlib>) {
      super(...args);
      calls.inflaters++;
    }
    override push(chunk: Uint8Array, final?: boolean): void {
      calls.inflaterInputBytes += chunk.length;
      super.push(chunk, final);
    }
  }
  return { ...original, Unzlib: CountingUnzlib };
});
vi.mock('@jsquash/jpeg/codec/dec/mozjpeg_dec.js', async (importOriginal) => {
  type Module = { decode: (...args: unknown[]) => unknown };
  const original = (await importOriginal<{ default: (settings: unknown) => Promise<Module> }>()).default;
  return {
    default: async (settings: unknown) => {
      const module = await original(settings);
      const decode = module.decode.bind(module);
      module.decode = (...args: unknown[]) => {
        calls.jpegDecodes++;
        return decode(...args);
      };
      calls.jpegInstances++;
      return module;
    },
  };
});

afterEach(() => {
  calls.inflaters = 0;
  calls.inflaterInputBytes = 0;
  calls.jpegDecodes = 0;
});

/** Runs `fn`, requires a TannerinError with `code` (and message match), returns it. */
function expectError(fn: () => unknown, code: ErrorCode, message?: RegExp): TannerinError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  return checkError(caught, code, message);
}

/** The same for a promise-returning `fn` (decodeImage). */
async function expectRejection(fn: () => Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<TannerinError> {
  let caught: unknown;
  try {
    await fn();
  } catch (error) {
    caught = error;
  }
  return checkError(caught, code, message);
}

function checkError(caught: unknown, code: ErrorCode, message?: RegExp): TannerinError {
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

describe('initialisation', () => {
  // These run first, before anything in this file has initialised the JPEG decoder.
  it('decodes PNG without any set-up, and refuses JPEG with a clear error until initImageDecoder', async () => {
    expect(imageDecoderInfo()).toEqual({ jpegReady: false, jpegHeapBytes: 0 });
    expect((await decodeImage(makePng(3, 2))).width).toBe(3);
    const error = await decodeImage(makeJpeg(8, 8)).then(
      () => null,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(TannerinError);
    expect((error as Error).message).toMatch(/initImageDecoder/);
    // Header-only work needs no decoder either.
    expect(readImageInfo(makeJpeg(8, 8))).toMatchObject({ format: 'jpeg', width: 8, height: 8 });
  });

  it('initialises once (idempotent), from the precompiled module', async () => {
    await initNodeImageDecoder();
    await initNodeImageDecoder();
    expect(calls.jpegInstances).toBe(1);
    expect(imageDecoderInfo().jpegReady).toBe(true);
    // Emscripten's initial 16 MiB heap.
    expect(imageDecoderInfo().jpegHeapBytes).toBeGreaterThanOrEqual(16 * 1024 * 1024);
    expect((await decodeImage(makeJpeg(8, 8))).width).toBe(8);
    // No global left behind: the decoder's ImageData stand-in is only lent during calls.
    expect('ImageData' in globalThis).toBe(false);
    expect(typeof process.versions.node).toBe('string');
  });
});

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
    expect(calls.inflaters).toBe(0);
  });

  it('reads JPEG dimensions from the frame header alone', () => {
    const jpg = makeJpeg(45, 17);
    expect(readImageInfo(jpg)).toEqual({ format: 'jpeg', width: 45, height: 17, orientation: 1 });
    // Everything up to the end of the SOS header is enough: entropy-coded data is not read.
    const sos = jpegSegments(jpg).at(-1);
    expect(sos?.marker).toBe(0xda);
    expect(readImageInfo(jpg.subarray(0, sos?.end))).toEqual({ format: 'jpeg', width: 45, height: 17, orientation: 1 });
    expect(calls.jpegDecodes).toBe(0);
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

  it('rejects other formats, non-images and malformed headers with the right codes', () => {
    expectError(() => readImageInfo(webpBytes()), 'unsupported_media_type', /WebP/);
    // No recognisable signature: a corrupt PNG/JPEG, not an unsupported format.
    expectError(() => readImageInfo(new Uint8Array(0)), 'invalid_image', /empty/);
    expectError(() => readImageInfo(pseudoRandomBytes(100)), 'invalid_image', /signature/);
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
  it('decodes 8-bit RGBA exactly, keeping alpha as is (no compositing)', async () => {
    const pixels = makeGradientRgba(23, 9);
    for (let i = 3; i < pixels.length; i += 4) pixels[i] = (i * 7) & 0xff; // varied alpha, incl. 0
    pixels.set([10, 20, 30, 0], 0);
    const image = await decodeImage(makePng(23, 9, pixels));
    expectPlainRgba(image, 23, 9);
    expect(image.data).toEqual(pixels);
    expect(pixelAt(image, 0, 0)).toEqual([10, 20, 30, 0]);
  });

  it('decodes grey, grey+alpha and RGB written by fast-png, at 8 and 16 bits', async () => {
    const w = 5;
    const h = 3;
    const n = w * h;
    const gray8 = Uint8Array.from({ length: n }, (_, i) => i * 17);
    expect((await decodeImage(makePngWithChannels(w, h, 1, gray8))).data).toEqual(
      Uint8Array.from({ length: n * 4 }, (_, i) => (i % 4 === 3 ? 255 : (gray8[i >> 2] ?? -1))),
    );
    const ga8 = Uint8Array.from({ length: n * 2 }, (_, i) => (i * 29) & 0xff);
    expect(pixelAt((await decodeImage(makePngWithChannels(w, h, 2, ga8))), 4, 2)).toEqual([ga8[28], ga8[28], ga8[28], ga8[29]]);
    const rgb8 = Uint8Array.from({ length: n * 3 }, (_, i) => (i * 31) & 0xff);
    expect(pixelAt((await decodeImage(makePngWithChannels(w, h, 3, rgb8))), 1, 1)).toEqual([rgb8[18], rgb8[19], rgb8[20], 255]);
    // 16-bit: v → round(v / 257).
    const rgba16 = Uint16Array.from({ length: n * 4 }, (_, i) => [0, 65535, 128, 32896, 257 * 200 + 128, 1000][i % 6] ?? 0);
    const image16 = await decodeImage(makePngWithChannels(w, h, 4, rgba16, 16));
    expectPlainRgba(image16, w, h);
    expect(Array.from(image16.data)).toEqual(Array.from(rgba16, (v) => Math.round(v / 257)));
  });

  it('decodes fast-png Adam7 output identically to the non-interlaced file', async () => {
    const pixels = makeGradientRgba(19, 13);
    const interlaced = encodePng({ width: 19, height: 13, data: pixels, channels: 4, depth: 8 }, { interlace: 'Adam7' });
    expect((await decodeImage(interlaced)).data).toEqual(pixels);
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
    ])('interlace=%s %ix%i', async (interlace, width, height) => {
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
      const image = await decodeImage(png);
      expectPlainRgba(image, width, height);
      expect(Array.from(image.data)).toEqual(referenceRgba(colorType, bitDepth, samples, palette));
    });
  });

  it('applies tRNS colour keys for grey and RGB, including 16-bit and sub-byte grey', async () => {
    // 8-bit grey: value 7 is transparent.
    const gray = await decodeImage(encodeRawPng({ width: 3, height: 1, colorType: 0, bitDepth: 8, samples: [7, 8, 7], trns: Uint8Array.of(0, 7) }));
    expect(Array.from(gray.data)).toEqual([7, 7, 7, 0, 8, 8, 8, 255, 7, 7, 7, 0]);
    // 2-bit grey: raw sample 1 (→ 85) is transparent.
    const gray2 = await decodeImage(encodeRawPng({ width: 4, height: 1, colorType: 0, bitDepth: 2, samples: [0, 1, 2, 3], trns: Uint8Array.of(0, 1) }));
    expect(Array.from(gray2.data)).toEqual([0, 0, 0, 255, 85, 85, 85, 0, 170, 170, 170, 255, 255, 255, 255, 255]);
    // 16-bit RGB: the key compares all 16 bits, not the rounded 8-bit value.
    const rgb16 = await decodeImage(
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
    const rgb = await decodeImage(
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

  it('applies palette tRNS (shorter than the palette) and reads out-of-range indices as opaque black', async () => {
    const palette = [[10, 20, 30], [40, 50, 60], [70, 80, 90]] as const;
    const image = await decodeImage(
      encodeRawPng({ width: 4, height: 1, colorType: 3, bitDepth: 8, samples: [0, 1, 2, 200], palette, trns: Uint8Array.of(0, 128) }),
    );
    expect(Array.from(image.data)).toEqual([10, 20, 30, 0, 40, 50, 60, 128, 70, 80, 90, 255, 0, 0, 0, 255]);
  });

  it('ignores ancillary chunks it does not need (tEXt, pHYs, unknown, small iCCP)', async () => {
    const iccp = concatBytes(ascii('sRGB\0\0'), zlib(new Uint8Array(3000).fill(7)));
    const png = encodeRawPng({
      width: 2,
      height: 2,
      colorType: 6,
      bitDepth: 8,
      samples: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
      extraChunks: [pngChunk('tEXt', ascii('Comment\0hi')), pngChunk('pHYs', new Uint8Array(9)), pngChunk('zzZz', ascii('x')), pngChunk('iCCP', iccp)],
    });
    expect(Array.from((await decodeImage(png)).data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
  });

  it('tolerates a 1x1 RGB image with a tRNS key (which fast-png 8 refused) and tRNS/PLTE after IDAT (ignored)', async () => {
    const rgb = await decodeImage(encodeRawPng({ width: 1, height: 1, colorType: 2, bitDepth: 8, samples: [1, 2, 3], trns: Uint8Array.of(0, 1, 0, 2, 0, 3) }));
    expect(Array.from(rgb.data)).toEqual([1, 2, 3, 0]);
    // tRNS after the image data is out of place: libpng ignores it, so do we.
    const png = encodeRawPng({ width: 2, height: 1, colorType: 0, bitDepth: 8, samples: [5, 6] });
    const iend = pngChunks(png).at(-1);
    if (!iend) throw new Error('no IEND');
    const late = concatBytes(png.subarray(0, iend.offset), pngChunk('tRNS', Uint8Array.of(0, 5)), png.subarray(iend.offset));
    expect(Array.from((await decodeImage(late)).data)).toEqual([5, 5, 5, 255, 6, 6, 6, 255]);
  });

  it('decodes rows split anywhere across IDAT chunks and inflate output chunks, and ignores padding after the last row', async () => {
    // A larger image: fflate emits the inflated stream in several chunks that end mid-row.
    const width = 301;
    const height = 97;
    const samples = Array.from(pseudoRandomBytes(width * height * 3, 5));
    for (const interlace of [false, true]) {
      const png = encodeRawPng({ width, height, colorType: 2, bitDepth: 8, samples, interlace, filter: 'cycle', idatChunkSize: 1000 });
      expect(Array.from((await decodeImage(png)).data)).toEqual(referenceRgba(2, 8, samples, undefined));
    }
    // Extra bytes after the last scanline (within the 1 MiB slack) are ignored, as libpng does.
    const ihdr = pngChunk('IHDR', ihdrData(2, 1, 8, 0));
    const padded = concatBytes(PNG_SIGNATURE, ihdr, pngChunk('IDAT', zlib(Uint8Array.of(0, 9, 8, 0, 0, 0, 0))), pngChunk('IEND'));
    expect(Array.from((await decodeImage(padded)).data)).toEqual([9, 9, 9, 255, 8, 8, 8, 255]);
  });

  it('accepts input that is a view into a larger buffer, and a Buffer', async () => {
    const png = makePng(3, 2, [1, 2, 3, 4]);
    const big = new Uint8Array(png.length + 5);
    big.set(png, 3);
    const view = big.subarray(3, 3 + png.length);
    expect((await decodeImage(view)).data).toEqual((await decodeImage(png)).data);
    const image = await decodeImage(Buffer.from(png));
    expectPlainRgba(image, 3, 2);
  });
});

// ---------------------------------------------------------------------------------------------

describe('decodeImage: JPEG', () => {
  beforeAll(initNodeImageDecoder);

  it('decodes a baseline JPEG close to its source, alpha 255, as a plain Uint8Array', async () => {
    const source = makeGradientRgba(64, 48);
    const image = await decodeImage(makeJpeg(64, 48, 90, source));
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

  it('decodes a progressive JPEG (SOF2, 4:2:0)', async () => {
    const jpg = progressiveJpeg();
    expect(findSof(jpg).marker).toBe(0xc2);
    const image = await decodeImage(jpg);
    expectPlainRgba(image, 32, 16);
    expectClose(pixelAt(image, 3, 3), [0, 255, 0, 255], 6);
    expectClose(pixelAt(image, 3, 12), [255, 0, 0, 255], 6);
    expectClose(pixelAt(image, 28, 3), [0, 0, 255, 255], 6);
    expectClose(pixelAt(image, 28, 12), [0, 0, 255, 255], 6);
  });

  it('decodes a greyscale (1-component) JPEG to grey RGBA', async () => {
    const image = await decodeImage(grayscaleJpeg());
    expectPlainRgba(image, 16, 8);
    expectClose(pixelAt(image, 2, 4), [32, 32, 32, 255], 3);
    expectClose(pixelAt(image, 13, 4), [224, 224, 224, 255], 3);
    for (let i = 0; i < image.data.length; i += 4) {
      expect(image.data[i]).toBe(image.data[i + 1]);
      expect(image.data[i]).toBe(image.data[i + 2]);
    }
  });

  it('decodes the same pixels with fill bytes before markers', async () => {
    const jpg = makeJpeg(24, 16);
    expect((await decodeImage(withFillBytes(jpg, 2))).data).toEqual((await decodeImage(jpg)).data);
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
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('applies EXIF orientation %i (both byte orders)', async (orientation) => {
    const stored = makeJpeg(32, 16, 95, makeQuadrantRgba(32, 16));
    for (const littleEndian of [true, false]) {
      const image = await decodeImage(withExifOrientation(stored, orientation, littleEndian));
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

  it('moves every pixel exactly where the orientation says (odd, non-square image)', async () => {
    const stored = makeJpeg(13, 7, 80);
    const upright = await decodeImage(stored);
    for (let orientation = 1; orientation <= 8; orientation++) {
      const expected = referenceOrient(upright, orientation);
      const actual = await decodeImage(withExifOrientation(stored, orientation, orientation % 2 === 0));
      expect(actual.width).toBe(expected.width);
      expect(actual.height).toBe(expected.height);
      expect(actual.data).toEqual(expected.data);
    }
  });

  it('ignores orientation values outside 1..8', async () => {
    const stored = makeJpeg(16, 8);
    expect(await decodeImage(withExifOrientation(stored, 9, true))).toEqual(await decodeImage(stored));
  });

  it.each([
    ['C3', 0xc3, /lossless/],
    ['C5', 0xc5, /hierarchical/],
    ['C9', 0xc9, /arithmetic/],
    ['CA', 0xca, /arithmetic-coded progressive/],
    ['CF', 0xcf, /arithmetic/],
  ])('refuses SOF %s JPEGs, which this MozJPEG build cannot decode, before decoding', async (_name, marker, message) => {
    // (MozJPEG 3.3.1 here has no lossless/hierarchical support and was built without arithmetic
    // decoding: it would fail with "Unsupported JPEG process" / "arithmetic coding is not implemented".)
    await expectRejection(() => decodeImage(patchJpegSof(makeJpeg(16, 8), { marker })), 'invalid_image', message);
    expect(calls.jpegDecodes).toBe(0);
  });

  it('refuses 12-bit samples, CMYK and invalid sampling factors before decoding', async () => {
    const jpg = makeJpeg(16, 8);
    await expectRejection(() => decodeImage(patchJpegSof(jpg, { marker: 0xc1, precision: 12 })), 'invalid_image', /12-bit/);
    await expectRejection(() => decodeImage(patchJpegSof(jpg, { firstSampling: 0x00 })), 'invalid_image', /sampling/);
    await expectRejection(() => decodeImage(patchJpegSof(jpg, { firstSampling: 0x51 })), 'invalid_image', /sampling/);
    // A 4-component (CMYK/YCCK) frame: libjpeg cannot convert it to RGBA.
    await expectRejection(() => decodeImage(withComponents(jpg, 4)), 'invalid_image', /CMYK/);
    await expectRejection(() => decodeImage(withComponents(jpg, 2)), 'invalid_image', /2 colour components/);
    expect(calls.jpegDecodes).toBe(0);
  });

  it('does not let MozJPEG rotate: EXIF orientation is applied exactly once, by this module', async () => {
    const stored = makeJpeg(32, 16, 95, makeQuadrantRgba(32, 16));
    const upright = await decodeImage(stored);
    // Orientation 6 read by MozJPEG too would rotate twice (180 degrees in total) or swap back.
    const rotated = await decodeImage(withExifOrientation(stored, 6, true));
    expect(rotated.width).toBe(16);
    expect(rotated.height).toBe(32);
    expect(rotated).toEqual(referenceOrient(upright, 6));
  });

  it('decodes a JPEG whose APP1 metadata exceeds 1 MiB (cut out before decoding) to the same pixels', async () => {
    const jpg = withExifOrientation(makeJpeg(24, 16), 3, true);
    let big = jpg;
    const xmp = concatBytes(ascii('http://ns.adobe.com/xap/1.0/\0'), new Uint8Array(60_000).fill(0x20));
    for (let i = 0; i < 20; i++) big = withSegment(big, 0xe1, xmp);
    expect(big.length).toBeGreaterThan(1024 * 1024);
    // The EXIF block (now after the XMP ones) still rotates the image.
    expect(readImageInfo(big).orientation).toBe(3);
    expect(await decodeImage(big)).toEqual(await decodeImage(jpg));
  });

  it('accepts junk between the last scan and EOI (libjpeg: "extraneous bytes before marker 0xd9")', async () => {
    const jpg = makeJpeg(24, 16);
    const junk = concatBytes(jpg.subarray(0, jpg.length - 2), Uint8Array.of(1, 2, 3, 4), jpg.subarray(jpg.length - 2));
    expect((await decodeImage(junk)).data).toEqual((await decodeImage(jpg)).data);
    // Bytes after EOI are never read.
    expect((await decodeImage(concatBytes(jpg, new Uint8Array(100)))).data).toEqual((await decodeImage(jpg)).data);
  });

  it('keeps decoding correctly after many libjpeg errors (each retires the decoder instance)', async () => {
    const good = makeJpeg(40, 24, 85);
    const expected = await decodeImage(good);
    const instances = calls.jpegInstances;
    // 3 components of which the first is sampled 4x4: 18 blocks per MCU, more than libjpeg's 10.
    const bad = patchJpegSof(good, { firstSampling: 0x44 });
    for (let i = 0; i < 300; i++) {
      await expectRejection(() => decodeImage(bad), 'invalid_image', /Could not decode the JPEG: Sampling factors too large/);
    }
    expect(await decodeImage(good)).toEqual(expected);
    // One fresh instance per failure (each made on the next decode).
    expect(calls.jpegInstances - instances).toBe(300);
    // Concurrent decodes share one instance and each get their own result.
    const results = await Promise.all([good, bad, good, progressiveJpeg()].map((b) => decodeImage(b).catch((e: unknown) => e)));
    expect(results[0]).toEqual(expected);
    expect(results[1]).toBeInstanceOf(TannerinError);
    expect(results[2]).toEqual(expected);
    expect((results[3] as RgbaImage).width).toBe(32);
  });

  it('decodes extended-sequential (SOF1) 8-bit JPEGs like baseline', async () => {
    const jpg = makeJpeg(16, 8);
    expect((await decodeImage(patchJpegSof(jpg, { marker: 0xc1 }))).data).toEqual((await decodeImage(jpg)).data);
  });
});

// ---------------------------------------------------------------------------------------------

describe('decodeImage: limits', () => {
  beforeAll(initNodeImageDecoder);

  it('defaults to 16 megapixels', () => {
    expect(DEFAULT_DECODE_LIMITS.maxPixels).toBe(16_000_000);
  });

  it('refuses a tiny PNG claiming 100000x100000 from its header, before decoding', async () => {
    const png = makePngWithHeader(100_000, 100_000);
    expect(png.length).toBeLessThan(100);
    const error = await expectRejection(() => decodeImage(png), 'image_too_large', /100000x100000/);
    expect(error.message).toMatch(/16000000 pixels/);
    expect(error.status).toBe(413);
    expect(calls.inflaters).toBe(0);
  });

  it('refuses a JPEG whose SOF claims 60000x60000, before decoding', async () => {
    const jpg = patchJpegSof(makeJpeg(16, 16), { width: 60_000, height: 60_000 });
    await expectRejection(() => decodeImage(jpg), 'image_too_large', /60000x60000.*16000000 pixels/);
    expect(calls.jpegDecodes).toBe(0);
  });

  it('applies a custom limit inclusively', async () => {
    const png = makePng(64, 48);
    const jpg = makeJpeg(64, 48);
    expect((await decodeImage(png, { ...EDGE_DECODE_LIMITS, maxPixels: 64 * 48 })).width).toBe(64);
    expect((await decodeImage(jpg, { ...EDGE_DECODE_LIMITS, maxPixels: 64 * 48 })).width).toBe(64);
    await expectRejection(() => decodeImage(png, { ...EDGE_DECODE_LIMITS, maxPixels: 64 * 48 - 1 }), 'image_too_large', /64x48.*3071 pixels/);
    await expectRejection(() => decodeImage(jpg, { ...EDGE_DECODE_LIMITS, maxPixels: 64 * 48 - 1 }), 'image_too_large');
    // Oriented images count the same pixels.
    await expectRejection(() => decodeImage(withExifOrientation(jpg, 6), { ...EDGE_DECODE_LIMITS, maxPixels: 1000 }), 'image_too_large', /64x48/);
    expect(calls.inflaters).toBe(1);
    expect(calls.jpegDecodes).toBe(1);
  });

  /** Scans counted from the first SOS, as the header reader does. */
  const scansOf = (jpeg: Uint8Array): number => countJpegScans(jpeg, jpegSegmentsToEnd(jpeg).find((s) => s.marker === 0xda)?.offset ?? -1);

  it('counts JPEG scans through entropy-coded data, stuffed bytes, restart markers, tables between scans and fill', () => {
    expect(scansOf(makeJpeg(64, 48))).toBe(1);
    expect(scansOf(progressiveJpeg())).toBe(4); // DHT segments sit between its scans
    expect(scansOf(withExtraScans(progressiveJpeg(), 7))).toBe(11);
    // 0xFF00 (stuffed) and RSTn inside a scan's data are not markers; fill bytes before one are allowed.
    const sos = Uint8Array.of(0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00);
    const data = Uint8Array.of(0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56, 0xff, 0xd7, 0x78);
    const twoScans = concatBytes(sos, data, Uint8Array.of(0xff, 0xff, 0xff), sos, data, Uint8Array.of(0xff, 0xd9), sos);
    expect(countJpegScans(twoScans, 0)).toBe(2); // nothing after EOI counts
    // A truncated file or a segment running past the end stops the count (the decoder refuses it).
    expect(countJpegScans(twoScans.subarray(0, 5), 0)).toBe(0);
    expect(countJpegScans(concatBytes(sos, data), 0)).toBe(1);
  });

  it('refuses a JPEG of more scans than the limit as image_too_complex (413), before decoding', async () => {
    expect(EDGE_DECODE_LIMITS.maxJpegScans).toBeGreaterThanOrEqual(32);
    expect(EDGE_DECODE_LIMITS.maxJpegScans).toBeLessThanOrEqual(500);
    const small = withExtraScans(progressiveJpeg(), EDGE_DECODE_LIMITS.maxJpegScans - 4 + 1); // 32x16: only the count binds
    expect(small.length).toBeLessThan(2_000);
    const error = await expectRejection(() => decodeImage(small, EDGE_DECODE_LIMITS), 'image_too_complex', new RegExp(`${EDGE_DECODE_LIMITS.maxJpegScans + 1} scans`));
    expect(error.status).toBe(413);
    expect(calls.jpegDecodes).toBe(0);
    // The issue's shape: 1024x1024 and 10,000 empty scans in ~120 KB.
    const attack = patchJpegSof(withExtraScans(progressiveJpeg(), 10_000), { width: 1024, height: 1024 });
    await expectRejection(() => decodeImage(attack, EDGE_DECODE_LIMITS), 'image_too_complex', /10004 scans/);
    await expectRejection(() => decodeImage(attack), 'image_too_complex'); // on the device too
    expect(calls.jpegDecodes).toBe(0);
  });

  it('bounds pixels x scans: fewer scans are allowed over a large image than over a small one', async () => {
    const limits = { ...EDGE_DECODE_LIMITS, maxJpegScans: 1000, maxJpegScanPixels: 32 * 16 * 10 };
    const ten = withExtraScans(progressiveJpeg(), 6); // 10 scans over 32x16: exactly the limit
    expect(scansOf(ten)).toBe(10);
    // Within the limit it reaches the decoder (the duplicated scans carry no data: libjpeg may
    // complain, but not with image_too_complex).
    await decodeImage(ten, limits).catch((error: unknown) => expect((error as TannerinError).code).not.toBe('image_too_complex'));
    expect(calls.jpegDecodes).toBe(1);
    await expectRejection(() => decodeImage(withExtraScans(progressiveJpeg(), 7), limits), 'image_too_complex', /11 scans over 32x16/);
    expect(calls.jpegDecodes).toBe(1);
    // The edge's budget: a 1 MP progressive JPEG may have 32 scans, not 33.
    const mp = (n: number) => patchJpegSof(withExtraScans(progressiveJpeg(), n - 4), { width: 1024, height: 1024 });
    expect(EDGE_DECODE_LIMITS.maxJpegScanPixels).toBe(32 * EDGE_DECODE_LIMITS.maxPixels);
    await decodeImage(mp(32), EDGE_DECODE_LIMITS).catch((error: unknown) => expect((error as TannerinError).code).not.toBe('image_too_complex'));
    await expectRejection(() => decodeImage(mp(33), EDGE_DECODE_LIMITS), 'image_too_complex', /33 scans over 1024x1024/);
  });

  it('decodes real progressive and baseline JPEGs under the edge limits', async () => {
    expect((await decodeImage(progressiveJpeg(), EDGE_DECODE_LIMITS)).width).toBe(32);
    expect((await decodeImage(makeJpeg(640, 480), EDGE_DECODE_LIMITS)).width).toBe(640);
  });

  it('treats a non-positive limit as a programming error', async () => {
    await expect(decodeImage(makePng(1, 1), { ...EDGE_DECODE_LIMITS, maxPixels: 0 })).rejects.toThrow(RangeError);
    await expect(decodeImage(makePng(1, 1), { ...EDGE_DECODE_LIMITS, maxPixels: Number.NaN })).rejects.toThrow(RangeError);
  });

  it('refuses a PNG decompression bomb after inflating about a megabyte', async () => {
    const bomb = makePngBomb(64 * 1024 * 1024); // 64 MiB of zeros for a 1x1 image
    expect(bomb.length).toBeLessThan(100_000);
    await expectRejection(() => decodeImage(bomb), 'invalid_image', /inflates to more than its 1x1 header/);
    // It stops after inflating about a megabyte, not 64: only a small part of the compressed
    // stream is ever fed to the inflater (counted, not timed: the machine may be loaded).
    expect(calls.inflaters).toBe(1);
    expect(calls.inflaterInputBytes).toBeGreaterThan(0);
    expect(calls.inflaterInputBytes).toBeLessThan(bomb.length / 8);
  });

  it('never inflates iCCP (or any other zlib chunk but IDAT), so an iCCP bomb costs nothing', async () => {
    const iccp = concatBytes(ascii('evil\0\0'), zlib(new Uint8Array(32 * 1024 * 1024), 9));
    const png = encodeRawPng({ width: 1, height: 1, colorType: 0, bitDepth: 8, samples: [9], extraChunks: [pngChunk('iCCP', iccp)] });
    expect(Array.from((await decodeImage(png)).data)).toEqual([9, 9, 9, 255]);
    // One inflater: the IDAT stream's.
    expect(calls.inflaters).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------

describe('decodeImage: errors', () => {
  beforeAll(initNodeImageDecoder);

  it('refuses other recognisable image formats as unsupported_media_type (415), naming them', async () => {
    const cases: [string, Uint8Array][] = [
      ['WebP', webpBytes()],
      ['GIF', ascii('GIF89a\x01\x00\x01\x00\x00\x00\x00;')],
      ['GIF', ascii('GIF87a\x01\x00\x01\x00')],
      ['BMP', concatBytes(ascii('BM'), Uint8Array.of(70, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0))],
      ['TIFF', concatBytes(ascii('II*\0'), Uint8Array.of(8, 0, 0, 0))],
      ['TIFF', concatBytes(ascii('MM\0*'), Uint8Array.of(0, 0, 0, 8))],
      ['AVIF', concatBytes(Uint8Array.of(0, 0, 0, 0x1c), ascii('ftypavif\0\0\0\0avifmif1miaf'))],
      ['HEIC/HEIF', concatBytes(Uint8Array.of(0, 0, 0, 0x18), ascii('ftypheic\0\0\0\0mif1heic'))],
      ['SVG', ascii('<svg xmlns="http://www.w3.org/2000/svg"/>')],
      ['SVG', concatBytes(Uint8Array.of(0xef, 0xbb, 0xbf), ascii('  <?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg width="1" height="1"/>'))],
      ['JPEG XL', Uint8Array.of(0xff, 0x0a, 0xfa, 0x7a, 0x42)],
      ['JPEG XL', Uint8Array.of(0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20, 0x0d, 0x0a, 0x87, 0x0a)],
      ['JPEG 2000', Uint8Array.of(0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a)],
      ['Photoshop', ascii('8BPS\0\x01')],
    ];
    for (const [name, bytes] of cases) {
      const error = await expectRejection(() => decodeImage(bytes), 'unsupported_media_type', /send a PNG or JPEG/);
      expect(error.message.startsWith(name)).toBe(true);
      expect(error.status).toBe(415);
      expectError(() => readImageInfo(bytes), 'unsupported_media_type');
    }
  });

  it('refuses empty, too short and unrecognisable bytes as invalid_image (422): a corrupt PNG/JPEG', async () => {
    expect((await expectRejection(() => decodeImage(new Uint8Array(0)), 'invalid_image', /empty/)).status).toBe(422);
    // Shorter than a signature, including the start of a real one.
    for (const short of [Uint8Array.of(0x89), PNG_SIGNATURE.subarray(0, 7), Uint8Array.of(0xff, 0xd8), ascii('GIF'), ascii('BM')]) {
      await expectRejection(() => decodeImage(short), 'invalid_image', /shorter than a PNG or JPEG signature/);
    }
    for (let seed = 1; seed <= 20; seed++) {
      await expectRejection(() => decodeImage(pseudoRandomBytes(8 + seed * 37, seed)), 'invalid_image', /neither a PNG nor a JPEG signature/);
    }
    // Text, a lone 'BM', WAV, XML that is not SVG: no image signature either.
    for (const text of ['{"image": "cat.jpg"}', 'BM this is not a bitmap at all', 'RIFF\0\0\0\0WAVEfmt ', '<?xml version="1.0"?><html/>']) {
      await expectRejection(() => decodeImage(ascii(text)), 'invalid_image', /signature/);
    }
  });

  it('refuses zero-sized images', async () => {
    await expectRejection(() => decodeImage(makePngWithHeader(0, 10)), 'invalid_image', /zero size \(0x10\)/);
    await expectRejection(() => decodeImage(makePngWithHeader(10, 0)), 'invalid_image', /zero size/);
    await expectRejection(() => decodeImage(patchJpegSof(makeJpeg(8, 8), { width: 0 })), 'invalid_image', /zero size/);
  });

  it('refuses invalid PNG headers', async () => {
    const bad = (depth: number, colorType: number, interlace = 0) =>
      concatBytes(PNG_SIGNATURE, pngChunk('IHDR', ihdrData(4, 4, depth, colorType, interlace)), pngChunk('IEND'));
    await expectRejection(() => decodeImage(bad(8, 1)), 'invalid_image', /colour type 1/);
    await expectRejection(() => decodeImage(bad(4, 2)), 'invalid_image', /bit depth 4/);
    await expectRejection(() => decodeImage(bad(16, 3)), 'invalid_image');
    await expectRejection(() => decodeImage(bad(8, 6, 2)), 'invalid_image', /interlace/);
  });

  it('refuses a PNG truncated at any point', async () => {
    const png = encodeRawPng({
      width: 9,
      height: 5,
      colorType: 6,
      bitDepth: 8,
      samples: Array.from(pseudoRandomBytes(9 * 5 * 4)),
      idatChunkSize: 40,
    });
    // Shorter than the 8-byte signature: still a corrupt image (the client declared a PNG).
    for (let cut = 0; cut < 8; cut++) await expectRejection(() => decodeImage(png.subarray(0, cut)), 'invalid_image', /empty|truncated/);
    for (let cut = 8; cut < png.length; cut++) {
      await expectRejection(() => decodeImage(png.subarray(0, cut)), 'invalid_image', /truncated|IHDR/);
    }
  });

  it('refuses a PNG with any single corrupted byte (CRC)', async () => {
    const png = makePng(6, 4, makeGradientRgba(6, 4));
    for (let at = 8; at < png.length; at++) {
      const corrupt = png.slice();
      corrupt[at] = (corrupt[at] ?? 0) ^ 0x5a;
      await expectRejection(() => decodeImage(corrupt), 'invalid_image');
    }
  });

  it('refuses PNG structure errors that have valid CRCs', async () => {
    const ihdr = pngChunk('IHDR', ihdrData(2, 2, 8, 0));
    const rows = Uint8Array.of(0, 1, 2, 0, 3, 4);
    // Image data that inflates to fewer bytes than 2 rows need.
    await expectRejection(
      () => decodeImage(concatBytes(PNG_SIGNATURE, ihdr, pngChunk('IDAT', zlib(rows.subarray(0, 4))), pngChunk('IEND'))),
      'invalid_image',
      /shorter than the header/,
    );
    // Not zlib at all.
    await expectRejection(
      () => decodeImage(concatBytes(PNG_SIGNATURE, ihdr, pngChunk('IDAT', ascii('not zlib data')), pngChunk('IEND'))),
      'invalid_image',
    );
    // No IDAT, no IEND.
    await expectRejection(() => decodeImage(concatBytes(PNG_SIGNATURE, ihdr, pngChunk('IEND'))), 'invalid_image', /no image data/);
    await expectRejection(() => decodeImage(concatBytes(PNG_SIGNATURE, ihdr, pngChunk('IDAT', zlib(rows)))), 'invalid_image', /IEND/);
    // Unknown scanline filter type (7), in a plain and in an Adam7 image.
    await expectRejection(
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
    await expectRejection(() => decodeImage(broken), 'invalid_image', /filter 9/);
    // Palette image without PLTE.
    await expectRejection(
      () => decodeImage(encodeRawPng({ width: 2, height: 1, colorType: 3, bitDepth: 8, samples: [0, 0] })),
      'invalid_image',
      /PLTE/,
    );
  });

  it('refuses a JPEG truncated at any point', async () => {
    const jpg = makeJpeg(32, 24, 75);
    // Every cut, from shorter than the FF D8 FF signature to one byte short of EOI. Cuts inside
    // the scan data fail on libjpeg's "Premature end of JPEG file", which it only warns about.
    for (let cut = 0; cut < jpg.length; cut++) await expectRejection(() => decodeImage(jpg.subarray(0, cut)), 'invalid_image');
    const sos = jpegSegments(jpg).at(-1);
    if (!sos) throw new Error('no SOS');
    await expectRejection(() => decodeImage(jpg.subarray(0, sos.end + 10)), 'invalid_image', /Premature end of JPEG file/);
    const progressive = progressiveJpeg();
    for (let cut = 0; cut < progressive.length; cut++) await expectRejection(() => decodeImage(progressive.subarray(0, cut)), 'invalid_image');
  });

  it('refuses a JPEG with a stray marker inside its entropy-coded data', async () => {
    const jpg = makeJpeg(64, 48, 90);
    const sos = jpegSegments(jpg).at(-1);
    if (!sos) throw new Error('no SOS');
    const corrupt = jpg.slice();
    const middle = sos.end + Math.floor((jpg.length - sos.end) / 2);
    corrupt.set([0xff, 0x01], middle);
    // libjpeg decodes the rest as grey with a warning ("Corrupt JPEG data: premature end of data
    // segment"); corrupt pixel data is refused rather than classified.
    await expectRejection(() => decodeImage(corrupt), 'invalid_image', /Could not decode the JPEG: Corrupt JPEG data/);
  });

  it('refuses JPEG header damage: bad segment length, SOS before SOF, EOI before SOF', async () => {
    const jpg = makeJpeg(16, 8);
    const dqt = jpegSegments(jpg).find((s) => s.marker === 0xdb);
    if (!dqt) throw new Error('no DQT');
    const badLength = jpg.slice();
    badLength.set([0, 1], dqt.offset + 2);
    await expectRejection(() => decodeImage(badLength), 'invalid_image');
    const sosFirst = concatBytes(Uint8Array.of(0xff, 0xd8, 0xff, 0xda, 0, 2), jpg.subarray(2));
    await expectRejection(() => decodeImage(sosFirst), 'invalid_image', /before the frame header/);
    await expectRejection(() => decodeImage(Uint8Array.of(0xff, 0xd8, 0xff, 0xd9)), 'invalid_image', /ends before/);
    await expectRejection(() => decodeImage(Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, 0, 16, 1)), 'invalid_image', /truncated/);
  });

  it('never lets a raw decoder error escape from randomly corrupted JPEGs', async () => {
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
        const image = await decodeImage(corrupt, { ...EDGE_DECODE_LIMITS, maxPixels: 1_000_000 });
        expect(image.data.length).toBe(image.width * image.height * 4);
      } catch (error) {
        if (!(error instanceof TannerinError)) throw error;
        expect(['invalid_image', 'image_too_large']).toContain(error.code);
        failures++;
      }
    }
    // Some corruptions still decode (e.g. in a quantisation table, or a Huffman code that stays
    // valid); others must fail, through libjpeg errors (instance retired) or warnings.
    expect(failures).toBeGreaterThan(0);
  });

  it('never lets a raw decoder error escape from randomly corrupted PNGs', async () => {
    const png = makePng(12, 12, makeGradientRgba(12, 12));
    for (let trial = 0; trial < 300; trial++) {
      const corrupt = png.slice();
      const noise = pseudoRandomBytes(4, trial + 1);
      const at = 8 + ((((noise[0] ?? 0) << 8) | (noise[1] ?? 0)) % (png.length - 8));
      corrupt[at] = (corrupt[at] ?? 0) ^ ((noise[2] ?? 0) | 1);
      await expectRejection(() => decodeImage(corrupt), 'invalid_image');
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Reference implementations, deliberately written differently from the module under test.

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** A copy of `jpg` whose frame header lists `count` components (all 1x1, quantisation table 0). */
function withComponents(jpg: Uint8Array, count: number): Uint8Array {
  const sof = findSof(jpg);
  const fields = jpg.subarray(sof.offset + 4, sof.offset + 9); // precision, height, width
  const components = Array.from({ length: count }, (_, i) => [i + 1, 0x11, 0]).flat();
  const length = 2 + fields.length + 1 + components.length;
  const segment = concatBytes(Uint8Array.of(0xff, jpg[sof.offset + 1] ?? 0xc0, length >> 8, length & 0xff), fields, Uint8Array.of(count, ...components));
  return concatBytes(jpg.subarray(0, sof.offset), segment, jpg.subarray(sof.end));
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
