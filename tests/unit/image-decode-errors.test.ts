import { beforeAll, describe, expect, it } from 'vitest';
import { initNodeImageDecoder } from '../../scripts/node-backend.ts';
import { TannerinError } from '../../shared/errors.ts';
import { EDGE_DECODE_LIMITS, decodeImage, readImageInfo } from '../../shared/image/decode.ts';
import {
  concatBytes,
  encodeRawPng,
  ihdrData,
  jpegSegments,
  makeGradientRgba,
  makeJpeg,
  makePng,
  makePngWithHeader,
  patchJpegSof,
  pngChunk,
  pngChunks,
  PNG_SIGNATURE,
  progressiveJpeg,
  pseudoRandomBytes,
  zlib,
} from '../helpers/images.ts';
import { expectError, expectRejection } from '../helpers/decode-expect.ts';
import { ascii, webpBytes } from '../helpers/decode-reference.ts';

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
