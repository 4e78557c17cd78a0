import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../shared/image/decode.ts';
import {
  concatBytes,
  encodeRawPng,
  ihdrData,
  makeGradientRgba,
  makePng,
  makePngWithChannels,
  pixelAt,
  pngChunk,
  pngChunks,
  PNG_SIGNATURE,
  pseudoRandomBytes,
  zlib,
  type PngBitDepth,
  type PngColorType,
} from '../helpers/images.ts';
import { encode as encodePng } from 'fast-png';
import { expectPlainRgba } from '../helpers/decode-expect.ts';
import { ascii, referenceRgba } from '../helpers/decode-reference.ts';

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
