/**
 * Fixture image makers shared by the unit and Worker tests. Everything is built at test time
 * from Uint8Arrays (no Buffer, fs or DOM) so workerd can import this file too.
 *
 * - PNGs: `makePng` goes through fast-png's encoder; `encodeRawPng` writes every byte itself so
 *   tests can reach what fast-png's encoder can't (bit depths 1/2/4, palettes with tRNS, Adam7,
 *   all five scanline filters, split IDAT chunks, lying IHDRs).
 * - JPEGs: jpeg-js's baseline encoder (4:4:4), plus one tiny progressive JPEG made with MozJPEG
 *   (jpeg-js can only write baseline), and byte-level editors for EXIF and SOF fields.
 */
import { encode as encodePng } from 'fast-png';
import { zlibSync } from 'fflate';
import jpeg from 'jpeg-js';

export type Rgba = readonly [number, number, number, number];

// ---------------------------------------------------------------------------------------------
// Byte utilities

/** Concatenates byte arrays into one fresh Uint8Array. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function u16be(value: number): Uint8Array {
  return Uint8Array.of((value >>> 8) & 0xff, value & 0xff);
}

function u32be(value: number): Uint8Array {
  return Uint8Array.of((value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
}

function byteAt(bytes: Uint8Array, index: number): number {
  const value = bytes[index];
  if (value === undefined) throw new RangeError(`fixture: offset ${index} is outside ${bytes.length} bytes`);
  return value;
}

/** zlib-compresses bytes (what PNG's IDAT and iCCP hold). */
export function zlib(data: Uint8Array, level: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 = 6): Uint8Array {
  return zlibSync(data, { level });
}

/** Deterministic pseudo-random bytes (xorshift32), so "random" fixtures are reproducible. */
export function pseudoRandomBytes(length: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    out[i] = state & 0xff;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// RGBA pixel patterns

/** A solid w×h RGBA image. */
export function makeSolidRgba(width: number, height: number, fill: Rgba): Uint8Array {
  const out = new Uint8Array(width * height * 4);
  for (let i = 0; i < out.length; i += 4) out.set(fill, i);
  return out;
}

/** A smooth opaque gradient: red grows left→right, green top→bottom, blue is their mirror. */
export function makeGradientRgba(width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const r = Math.round((x * 255) / Math.max(1, width - 1));
      const g = Math.round((y * 255) / Math.max(1, height - 1));
      out.set([r, g, 255 - Math.round((r + g) / 2), 255], (y * width + x) * 4);
    }
  }
  return out;
}

/** The four quadrant colours of `makeQuadrantRgba`, far apart so JPEG noise can't confuse them. */
export const QUADRANT_COLORS = {
  topLeft: [255, 0, 0, 255],
  topRight: [0, 255, 0, 255],
  bottomLeft: [0, 0, 255, 255],
  bottomRight: [255, 255, 255, 255],
} as const satisfies Record<string, Rgba>;

export type Quadrant = keyof typeof QUADRANT_COLORS;

/**
 * An asymmetric image made of four solid quadrants (see QUADRANT_COLORS). Every one of the 8
 * EXIF orientations yields a different arrangement, so orientation tests can tell them apart.
 * Use sizes that are multiples of 16 so quadrant edges fall on JPEG block edges.
 */
export function makeQuadrantRgba(width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const quadrant: Quadrant =
        y < height / 2 ? (x < width / 2 ? 'topLeft' : 'topRight') : x < width / 2 ? 'bottomLeft' : 'bottomRight';
      out.set(QUADRANT_COLORS[quadrant], (y * width + x) * 4);
    }
  }
  return out;
}

/** Reads pixel (x, y) of a row-major RGBA buffer. */
export function pixelAt(image: { width: number; data: Uint8Array }, x: number, y: number): Rgba {
  const i = (y * image.width + x) * 4;
  const d = image.data;
  return [byteAt(d, i), byteAt(d, i + 1), byteAt(d, i + 2), byteAt(d, i + 3)];
}

// ---------------------------------------------------------------------------------------------
// PNG

export const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 as used by PNG chunks. */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (CRC_TABLE[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** One PNG chunk: length, type, data, CRC (over type + data). */
export function pngChunk(type: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const typeAndData = concatBytes(ascii(type), data);
  return concatBytes(u32be(data.length), typeAndData, u32be(crc32(typeAndData)));
}

/** IHDR chunk payload (13 bytes). Values are written as given, valid or not. */
export function ihdrData(
  width: number,
  height: number,
  bitDepth: number,
  colorType: number,
  interlace = 0,
): Uint8Array {
  return concatBytes(u32be(width), u32be(height), Uint8Array.of(bitDepth, colorType, 0, 0, interlace));
}

/**
 * Encodes an RGBA image as an 8-bit RGBA PNG with fast-png. `fill` is either one colour or the
 * full w×h×4 pixel buffer.
 */
export function makePng(width: number, height: number, fill: Rgba | Uint8Array = [255, 0, 0, 255]): Uint8Array {
  const data = fill instanceof Uint8Array ? fill : makeSolidRgba(width, height, fill);
  return toPlain(encodePng({ width, height, data, channels: 4, depth: 8 }));
}

/** Encodes with fast-png using its own channel/depth layout (1=gray, 2=gray+alpha, 3=RGB, 4=RGBA). */
export function makePngWithChannels(
  width: number,
  height: number,
  channels: 1 | 2 | 3 | 4,
  data: Uint8Array | Uint16Array,
  depth: 8 | 16 = 8,
): Uint8Array {
  return toPlain(encodePng({ width, height, data, channels, depth }));
}

export type PngColorType = 0 | 2 | 3 | 4 | 6;
export type PngBitDepth = 1 | 2 | 4 | 8 | 16;

const CHANNELS: Record<PngColorType, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

export interface RawPngSpec {
  width: number;
  height: number;
  colorType: PngColorType;
  bitDepth: PngBitDepth;
  /** width*height*channels sample values, row-major, each in 0..2^bitDepth-1 (palette: indices). */
  samples: ArrayLike<number>;
  /** Adam7 interlacing. */
  interlace?: boolean;
  /** PLTE entries (colour type 3). */
  palette?: readonly (readonly [number, number, number])[];
  /** Raw tRNS chunk payload, written after PLTE. */
  trns?: Uint8Array;
  /** 'none' writes filter type 0 everywhere; 'cycle' uses types 0,1,2,3,4 on successive rows. */
  filter?: 'none' | 'cycle';
  /** Splits the zlib stream into IDAT chunks of at most this many bytes (default: one chunk). */
  idatChunkSize?: number;
  /** Extra chunks written between the header chunks and IDAT. */
  extraChunks?: readonly Uint8Array[];
}

const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Packs one row of samples into bytes (MSB first for sub-byte depths, big-endian for 16-bit). */
function packRow(samples: readonly number[], bitDepth: PngBitDepth): Uint8Array {
  if (bitDepth === 16) {
    const out = new Uint8Array(samples.length * 2);
    samples.forEach((s, i) => out.set(u16be(s), i * 2));
    return out;
  }
  const out = new Uint8Array(Math.ceil((samples.length * bitDepth) / 8));
  samples.forEach((s, i) => {
    const bit = i * bitDepth;
    out[bit >> 3] = byteAt(out, bit >> 3) | (s << (8 - bitDepth - (bit & 7)));
  });
  return out;
}

/** Filters one packed row with PNG filter `type` against the previous (unfiltered) row. */
function filterRow(type: number, row: Uint8Array, prev: Uint8Array, bpp: number): Uint8Array {
  const out = new Uint8Array(row.length + 1);
  out[0] = type;
  for (let i = 0; i < row.length; i++) {
    const x = byteAt(row, i);
    const a = i >= bpp ? byteAt(row, i - bpp) : 0;
    const b = byteAt(prev, i);
    const c = i >= bpp ? byteAt(prev, i - bpp) : 0;
    const predictor = [0, a, b, (a + b) >> 1, paeth(a, b, c)][type] ?? 0;
    out[i + 1] = (x - predictor) & 0xff;
  }
  return out;
}

/**
 * Writes a PNG byte by byte from raw samples: any colour type and bit depth, optional palette,
 * tRNS, Adam7 interlacing, all filter types and split IDAT chunks. Nothing is validated, so it
 * also makes broken files on purpose.
 */
export function encodeRawPng(spec: RawPngSpec): Uint8Array {
  const { width, height, colorType, bitDepth, samples } = spec;
  const channels = CHANNELS[colorType];
  const bpp = Math.max(1, (channels * bitDepth) / 8);
  const passes = spec.interlace ? ADAM7 : ([[0, 0, 1, 1]] as const);
  const lines: Uint8Array[] = [];
  let rowCounter = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const passWidth = Math.ceil((width - x0) / dx);
    const passHeight = Math.ceil((height - y0) / dy);
    if (passWidth <= 0 || passHeight <= 0) continue;
    let prev: Uint8Array = new Uint8Array(Math.ceil((passWidth * channels * bitDepth) / 8));
    for (let py = 0; py < passHeight; py++) {
      const y = y0 + py * dy;
      const rowSamples: number[] = [];
      for (let px = 0; px < passWidth; px++) {
        const x = x0 + px * dx;
        for (let c = 0; c < channels; c++) rowSamples.push(samples[(y * width + x) * channels + c] ?? 0);
      }
      const row = packRow(rowSamples, bitDepth);
      const type = spec.filter === 'cycle' ? rowCounter++ % 5 : 0;
      lines.push(filterRow(type, row, prev, bpp));
      prev = row;
    }
  }
  const compressed = zlibSync(concatBytes(...lines));
  const chunkSize = spec.idatChunkSize ?? compressed.length;
  const idats: Uint8Array[] = [];
  for (let i = 0; i < compressed.length; i += chunkSize) {
    idats.push(pngChunk('IDAT', compressed.subarray(i, i + chunkSize)));
  }
  const header = [pngChunk('IHDR', ihdrData(width, height, bitDepth, colorType, spec.interlace ? 1 : 0))];
  if (spec.palette) header.push(pngChunk('PLTE', Uint8Array.from(spec.palette.flat())));
  if (spec.trns) header.push(pngChunk('tRNS', spec.trns));
  return concatBytes(PNG_SIGNATURE, ...header, ...(spec.extraChunks ?? []), ...idats, pngChunk('IEND'));
}

/**
 * A tiny but well-formed PNG whose IHDR claims `width`×`height` (e.g. 100000×100000) while its
 * IDAT holds a single row: decoders that trust the header would try to allocate gigabytes.
 */
export function makePngWithHeader(width: number, height: number, colorType: PngColorType = 6, bitDepth: PngBitDepth = 8): Uint8Array {
  const idat = zlibSync(new Uint8Array(1 + Math.min(width, 16) * CHANNELS[colorType]));
  return concatBytes(
    PNG_SIGNATURE,
    pngChunk('IHDR', ihdrData(width, height, bitDepth, colorType)),
    pngChunk('IDAT', idat),
    pngChunk('IEND'),
  );
}

/**
 * A 1×1 RGBA PNG whose IDAT inflates to far more bytes than the header allows (a decompression
 * bomb in miniature): `inflatedBytes` zeros compress to about inflatedBytes/1000 bytes.
 */
export function makePngBomb(inflatedBytes: number, width = 1, height = 1): Uint8Array {
  return concatBytes(
    PNG_SIGNATURE,
    pngChunk('IHDR', ihdrData(width, height, 8, 6)),
    pngChunk('IDAT', zlib(new Uint8Array(inflatedBytes), 9)),
    pngChunk('IEND'),
  );
}

/** Offsets of each chunk in a PNG (offset of the length field), with type and data length. */
export function pngChunks(png: Uint8Array): { offset: number; type: string; length: number }[] {
  const chunks: { offset: number; type: string; length: number }[] = [];
  let offset = 8;
  while (offset + 8 <= png.length) {
    const length = new DataView(png.buffer, png.byteOffset + offset, 4).getUint32(0);
    const type = String.fromCharCode(...png.subarray(offset + 4, offset + 8));
    chunks.push({ offset, type, length });
    offset += 12 + length;
  }
  return chunks;
}

// ---------------------------------------------------------------------------------------------
// JPEG

/**
 * Encodes RGBA pixels (default: `makeGradientRgba`) as a baseline 4:4:4 JPEG with jpeg-js.
 * jpeg-js hands back a Buffer under CJS interop; we copy it into a plain Uint8Array.
 */
export function makeJpeg(width: number, height: number, quality = 90, pixels?: Uint8Array): Uint8Array {
  const data = pixels ?? makeGradientRgba(width, height);
  const scope = globalThis as { Buffer?: unknown };
  if (scope.Buffer !== undefined) return toPlain(jpeg.encode({ width, height, data }, quality).data);
  // workerd without nodejs_compat: jpeg-js's encoder ends with `Buffer.from(bytes)` whenever a
  // CJS `module` is in scope (bundlers always provide one). Lend it a stand-in for this
  // synchronous call only; the decoder under test never needs Buffer.
  scope.Buffer = { from: (bytes: ArrayLike<number>) => Uint8Array.from(bytes) };
  try {
    return toPlain(jpeg.encode({ width, height, data }, quality).data);
  } finally {
    delete scope.Buffer;
  }
}

/**
 * A 32×16 progressive (SOF2, 4:2:0, Huffman-optimised) JPEG made with MozJPEG 4 through
 * @jsquash/jpeg 1.6.0 at quality 95, because jpeg-js can only write baseline. Content: left
 * half red except its top 8 rows, which are green; right half blue.
 */
export function progressiveJpeg(): Uint8Array {
  return fromBase64(
    '/9j/4AAQSkZJRgABAQAAAQABAAD/2wCEAAICAgICAgICAgIDAwIDAwQDAwMDBAYEBAQEBAYJBQYFBQYFCQgJBwcHCQgOCwkJCw4QDQwNEBMRERMYFxgfHyoBAgICAgICAgICAgMDAgMDBAMDAwMEBgQEBAQEBgkFBgUFBgUJCAkHBwcJCA4LCQkLDhANDA0QExERExgXGB8fKv/CABEIABAAIAMBEQACEQEDEQH/xAArAAEBAQEAAAAAAAAAAAAAAAAACAcJAQEBAQAAAAAAAAAAAAAAAAAACgn/2gAMAwEAAhADEAAAANYyvxTHBu0zVgV5KvSgJDqomvH/xAAUEAEAAAAAAAAAAAAAAAAAAAAw/9oACAEBAAE/AA//xAAUEQEAAAAAAAAAAAAAAAAAAAAw/9oACAECAQE/AA//xAAUEQEAAAAAAAAAAAAAAAAAAAAw/9oACAEDAQE/AA//2Q==',
  );
}

/**
 * A 16×8 single-component (greyscale) baseline JPEG made with MozJPEG the same way (jpeg-js
 * only writes YCbCr). Content: left half grey 32, right half grey 224.
 */
export function grayscaleJpeg(): Uint8Array {
  return fromBase64(
    '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAICAgICAgICAgIDAwIDAwQDAwMDBAYEBAQEBAYJBQYFBQYFCQgJBwcHCQgOCwkJCw4QDQwNEBMRERMYFxgfHyr/wAALCAAIABABAREA/8QAJwABAQAAAAAAAAAAAAAAAAAACQoQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AH9YA/9k=',
  );
}

export interface JpegSegment {
  /** Offset of the 0xFF that starts the marker. */
  offset: number;
  marker: number;
  /** Offset just past the segment (after its length-counted payload, or the marker alone). */
  end: number;
}

/** Walks a JPEG's marker segments from SOI up to and including SOS. */
export function jpegSegments(bytes: Uint8Array): JpegSegment[] {
  const segments: JpegSegment[] = [{ offset: 0, marker: 0xd8, end: 2 }];
  let offset = 2;
  while (offset + 4 <= bytes.length) {
    if (byteAt(bytes, offset) !== 0xff) throw new Error(`fixture: no marker at ${offset}`);
    const marker = byteAt(bytes, offset + 1);
    if (marker === 0xff) {
      offset++;
      continue;
    }
    const end = offset + 2 + ((byteAt(bytes, offset + 2) << 8) | byteAt(bytes, offset + 3));
    segments.push({ offset, marker, end });
    if (marker === 0xda) break;
    offset = end;
  }
  return segments;
}

/** The first SOFn segment (C0..CF except C4, C8, CC). */
export function findSof(bytes: Uint8Array): JpegSegment {
  const sof = jpegSegments(bytes).find(
    (s) => s.marker >= 0xc0 && s.marker <= 0xcf && s.marker !== 0xc4 && s.marker !== 0xc8 && s.marker !== 0xcc,
  );
  if (!sof) throw new Error('fixture: JPEG has no SOF');
  return sof;
}

/**
 * A copy of `bytes` with SOF fields overwritten: the dimensions, the SOFn marker, the sample
 * precision, or the first component's sampling factors byte (h<<4 | v).
 */
export function patchJpegSof(
  bytes: Uint8Array,
  patch: { width?: number; height?: number; marker?: number; precision?: number; firstSampling?: number },
): Uint8Array {
  const out = bytes.slice();
  const { offset } = findSof(out);
  if (patch.marker !== undefined) out[offset + 1] = patch.marker;
  if (patch.precision !== undefined) out[offset + 4] = patch.precision;
  if (patch.height !== undefined) out.set(u16be(patch.height), offset + 5);
  if (patch.width !== undefined) out.set(u16be(patch.width), offset + 7);
  if (patch.firstSampling !== undefined) out[offset + 11] = patch.firstSampling;
  return out;
}

/** Inserts `count` 0xFF fill bytes before every marker after SOI and before SOS (legal padding). */
export function withFillBytes(bytes: Uint8Array, count = 3): Uint8Array {
  const segments = jpegSegments(bytes);
  const parts: Uint8Array[] = [bytes.subarray(0, 2)];
  for (const s of segments.slice(1)) {
    parts.push(new Uint8Array(count).fill(0xff));
    parts.push(bytes.subarray(s.offset, s.marker === 0xda ? bytes.length : s.end));
  }
  return concatBytes(...parts);
}

/** Inserts an arbitrary segment (marker + payload) right after SOI. */
export function withSegment(bytes: Uint8Array, marker: number, payload: Uint8Array): Uint8Array {
  return concatBytes(bytes.subarray(0, 2), Uint8Array.of(0xff, marker), u16be(payload.length + 2), payload, bytes.subarray(2));
}

/**
 * The payload of an EXIF APP1 segment ("Exif\0\0" + TIFF) whose IFD0 holds Make, Orientation
 * and Software entries, so a reader must walk past other tags. `orientationType` lets tests
 * write the tag with a wrong type (3 = SHORT is the correct one).
 */
export function exifPayload(orientation: number, littleEndian: boolean, orientationType = 3): Uint8Array {
  const make = ascii('Tannerin\0');
  const software = ascii('tests\0');
  const entries = 3;
  const ifdSize = 2 + entries * 12 + 4;
  const dataStart = 8 + ifdSize;
  const tiff = new Uint8Array(dataStart + make.length + software.length);
  const view = new DataView(tiff.buffer);
  tiff.set(ascii(littleEndian ? 'II' : 'MM'), 0);
  view.setUint16(2, 42, littleEndian);
  view.setUint32(4, 8, littleEndian);
  view.setUint16(8, entries, littleEndian);
  const entry = (index: number, tag: number, type: number, count: number) => {
    const at = 10 + index * 12;
    view.setUint16(at, tag, littleEndian);
    view.setUint16(at + 2, type, littleEndian);
    view.setUint32(at + 4, count, littleEndian);
    return at + 8;
  };
  view.setUint32(entry(0, 0x010f, 2, make.length), dataStart, littleEndian);
  view.setUint16(entry(1, 0x0112, orientationType, 1), orientation, littleEndian);
  view.setUint32(entry(2, 0x0131, 2, software.length), dataStart + make.length, littleEndian);
  view.setUint32(10 + entries * 12, 0, littleEndian);
  tiff.set(make, dataStart);
  tiff.set(software, dataStart + make.length);
  return concatBytes(ascii('Exif\0\0'), tiff);
}

/** Inserts an EXIF APP1 segment carrying `orientation` (1..8) right after SOI. */
export function withExifOrientation(bytes: Uint8Array, orientation: number, littleEndian = false): Uint8Array {
  return withSegment(bytes, 0xe1, exifPayload(orientation, littleEndian));
}

// ---------------------------------------------------------------------------------------------

function toPlain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/**
 * `jpeg` with `count` more scans before EOI: copies of its last SOS header, each followed by no
 * entropy-coded data (12 bytes for a one-component scan). This is the amplification shape: a
 * progressive decoder still passes over every block of the image for each of them.
 */
export function withExtraScans(jpeg: Uint8Array, count: number): Uint8Array {
  const segments = jpegSegmentsToEnd(jpeg);
  const lastSos = segments.filter((s) => s.marker === 0xda).pop();
  const eoi = segments.find((s) => s.marker === 0xd9);
  if (!lastSos || !eoi) throw new Error('fixture: no SOS or EOI');
  const sos = jpeg.subarray(lastSos.offset, lastSos.end);
  const extra = new Uint8Array(sos.length * count);
  for (let i = 0; i < count; i++) extra.set(sos, i * sos.length);
  return concatBytes(jpeg.subarray(0, eoi.offset), extra, jpeg.subarray(eoi.offset));
}

/** Every marker of a JPEG to EOI, skipping entropy-coded data (for building fixtures). */
export function jpegSegmentsToEnd(bytes: Uint8Array): JpegSegment[] {
  const segments: JpegSegment[] = [{ offset: 0, marker: 0xd8, end: 2 }];
  let offset = 2;
  while (offset + 1 < bytes.length) {
    if (byteAt(bytes, offset) !== 0xff) {
      offset++;
      continue;
    }
    const marker = byteAt(bytes, offset + 1);
    if (marker === 0xff || marker === 0x00 || (marker >= 0xd0 && marker <= 0xd7)) {
      offset += marker === 0xff ? 1 : 2;
      continue;
    }
    if (marker === 0xd9) {
      segments.push({ offset, marker, end: offset + 2 });
      break;
    }
    const end = offset + 2 + ((byteAt(bytes, offset + 2) << 8) | byteAt(bytes, offset + 3));
    segments.push({ offset, marker, end });
    offset = end;
  }
  return segments;
}
