import { afterEach, describe, expect, it, vi } from 'vitest';
import { initNodeImageDecoder } from '../../scripts/node-backend.ts';
import { TannerinError } from '../../shared/errors.ts';
import { decodeImage, imageDecoderInfo, readImageInfo, sniffImageFormat } from '../../shared/image/decode.ts';
import {
  concatBytes,
  exifPayload,
  findSof,
  ihdrData,
  jpegSegments,
  makeJpeg,
  makePng,
  makePngWithHeader,
  patchJpegSof,
  pngChunk,
  PNG_SIGNATURE,
  pseudoRandomBytes,
  withExifOrientation,
  withFillBytes,
  withSegment,
} from '../helpers/images.ts';
import { expectError } from '../helpers/decode-expect.ts';
import { ascii, webpBytes } from '../helpers/decode-reference.ts';
import { calls, resetCallCounts } from '../helpers/decoder-calls.ts';

// Count what the decoders are asked to do (tests/helpers/decoder-calls.ts).
vi.mock('fflate', async (importOriginal) => (await import('../helpers/decoder-calls.ts')).countingFflate(importOriginal));
vi.mock('@jsquash/jpeg/codec/dec/mozjpeg_dec.js', async (importOriginal) => (await import('../helpers/decoder-calls.ts')).countingMozjpeg(importOriginal));

afterEach(resetCallCounts);

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
