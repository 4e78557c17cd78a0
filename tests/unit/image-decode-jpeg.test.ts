import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { initNodeImageDecoder } from '../../scripts/node-backend.ts';
import { TannerinError } from '../../shared/errors.ts';
import { decodeImage, readImageInfo, type RgbaImage } from '../../shared/image/decode.ts';
import {
  QUADRANT_COLORS,
  concatBytes,
  findSof,
  grayscaleJpeg,
  makeGradientRgba,
  makeJpeg,
  makeQuadrantRgba,
  patchJpegSof,
  pixelAt,
  progressiveJpeg,
  withExifOrientation,
  withFillBytes,
  withSegment,
  type Quadrant,
} from '../helpers/images.ts';
import { expectRejection, expectPlainRgba, expectClose } from '../helpers/decode-expect.ts';
import { ascii, withComponents, referenceOrient } from '../helpers/decode-reference.ts';
import { calls, resetCallCounts } from '../helpers/decoder-calls.ts';

// Count what the decoders are asked to do (tests/helpers/decoder-calls.ts).
vi.mock('fflate', async (importOriginal) => (await import('../helpers/decoder-calls.ts')).countingFflate(importOriginal));
vi.mock('@jsquash/jpeg/codec/dec/mozjpeg_dec.js', async (importOriginal) => (await import('../helpers/decoder-calls.ts')).countingMozjpeg(importOriginal));

afterEach(resetCallCounts);

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
