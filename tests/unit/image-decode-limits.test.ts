import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { initNodeImageDecoder } from '../../scripts/node-backend.ts';
import { TannerinError } from '../../shared/errors.ts';
import { DEFAULT_DECODE_LIMITS, EDGE_DECODE_LIMITS, countJpegScans, decodeImage } from '../../shared/image/decode.ts';
import {
  concatBytes,
  encodeRawPng,
  makeJpeg,
  makePng,
  makePngBomb,
  makePngWithHeader,
  patchJpegSof,
  pngChunk,
  progressiveJpeg,
  jpegSegmentsToEnd,
  withExtraScans,
  withExifOrientation,
  zlib,
} from '../helpers/images.ts';
import { expectRejection } from '../helpers/decode-expect.ts';
import { ascii } from '../helpers/decode-reference.ts';
import { calls, resetCallCounts } from '../helpers/decoder-calls.ts';

// Count what the decoders are asked to do (tests/helpers/decoder-calls.ts).
vi.mock('fflate', async (importOriginal) => (await import('../helpers/decoder-calls.ts')).countingFflate(importOriginal));
vi.mock('@jsquash/jpeg/codec/dec/mozjpeg_dec.js', async (importOriginal) => (await import('../helpers/decoder-calls.ts')).countingMozjpeg(importOriginal));

afterEach(resetCallCounts);

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
    // The shape: 1024x1024 and 10,000 empty scans in ~120 KB.
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
