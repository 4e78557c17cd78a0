/**
 * PNG/JPEG → 8-bit RGBA, identical in the Worker (workerd), the browser and Node: plain typed
 * arrays only, no Buffer, fs, DOM or Worker globals. jpeg-js decodes JPEG, fast-png decodes PNG.
 *
 * Untrusted input rules:
 * - Dimensions are read from the header and checked against the pixel limit before anything
 *   is decoded or allocated (`image_too_large`).
 * - PNG zlib streams are inflated once up front under a byte budget before fast-png sees the
 *   file, because fast-png inflates IDAT (and iCCP) with no bound at all: a 1×1 PNG can inflate
 *   to gigabytes. The price is inflating PNG data twice.
 * - jpeg-js gets a memory budget computed from the frame header, so no JPEG structure can make
 *   it allocate much beyond what the pixels need.
 * - Everything a decoder throws becomes `invalid_image`; only TannerinError leaves this module.
 */
import { decode as decodePng } from 'fast-png';
import { Unzlib } from 'fflate';
import jpeg from 'jpeg-js';
import { TannerinError } from './errors.ts';

export type ImageFormat = 'png' | 'jpeg';

/** Decoded pixels: RGBA, width*height*4 bytes, row-major, top-left origin, EXIF orientation applied. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** What the header says. width/height are as stored (before orientation is applied). */
export interface ImageInfo {
  format: ImageFormat;
  width: number;
  height: number;
  /** EXIF orientation 1..8 (JPEG APP1); 1 when absent, invalid, or for PNG. */
  orientation: number;
}

export interface DecodeLimits {
  /** Largest width*height accepted; checked against the header before decoding. */
  maxPixels: number;
}

/** 16 MP covers 4:3 phone photos up to 4618×3464. */
export const DEFAULT_DECODE_LIMITS: DecodeLimits = Object.freeze({ maxPixels: 16_000_000 });

const MIB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Sniffing

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;

function startsWith(bytes: Uint8Array, prefix: readonly number[], at = 0): boolean {
  if (bytes.length < at + prefix.length) return false;
  return prefix.every((b, i) => bytes[at + i] === b);
}

function startsWithAscii(bytes: Uint8Array, text: string, at = 0): boolean {
  return startsWith(bytes, Array.from(text, (c) => c.charCodeAt(0)), at);
}

/**
 * Identifies the format from magic numbers alone: 'png', 'jpeg', 'webp' (recognised only to be
 * refused with a helpful message) or null. Content-Type headers and file names are not trusted.
 */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | 'webp' | null {
  if (startsWith(bytes, PNG_SIGNATURE)) return 'png';
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWithAscii(bytes, 'RIFF') && startsWithAscii(bytes, 'WEBP', 8)) return 'webp';
  return null;
}

/** Names a few formats people commonly send by mistake, for the error message only. */
function describeUnsupported(bytes: Uint8Array): string | null {
  if (startsWithAscii(bytes, 'GIF8')) return 'GIF';
  if (startsWithAscii(bytes, 'BM')) return 'BMP';
  if (startsWithAscii(bytes, 'II*\0') || startsWithAscii(bytes, 'MM\0*')) return 'TIFF';
  if (startsWithAscii(bytes, 'ftyp', 4)) {
    if (startsWithAscii(bytes, 'avi', 8)) return 'AVIF';
    if (startsWithAscii(bytes, 'hei', 8) || startsWithAscii(bytes, 'mif1', 8)) return 'HEIC/HEIF';
  }
  return null;
}

function sniffOrThrow(bytes: Uint8Array): ImageFormat {
  const format = sniffImageFormat(bytes);
  if (format === 'png' || format === 'jpeg') return format;
  if (format === 'webp') {
    throw new TannerinError('unsupported_media_type', 'WebP images are not supported; send a PNG or JPEG.');
  }
  if (bytes.length === 0) {
    throw new TannerinError('unsupported_media_type', 'The image is empty (0 bytes); send a PNG or JPEG.');
  }
  const name = describeUnsupported(bytes);
  throw new TannerinError(
    'unsupported_media_type',
    name
      ? `${name} images are not supported; send a PNG or JPEG.`
      : 'Not a PNG or JPEG image (unrecognised file signature).',
  );
}

// ---------------------------------------------------------------------------------------------
// Header parsing (no pixel data is touched)

function invalid(message: string): TannerinError {
  return new TannerinError('invalid_image', message);
}

/** Bounds-checked big-endian reads that fail as invalid_image instead of returning undefined. */
function readU8(bytes: Uint8Array, at: number, what: string): number {
  const value = bytes[at];
  if (value === undefined) throw invalid(`The image is truncated (${what}).`);
  return value;
}

function readU16(bytes: Uint8Array, at: number, what: string): number {
  return (readU8(bytes, at, what) << 8) | readU8(bytes, at + 1, what);
}

function readU32(bytes: Uint8Array, at: number, what: string): number {
  return readU16(bytes, at, what) * 0x10000 + readU16(bytes, at + 2, what);
}

/** CRC-32 (PNG chunk checksums). */
const CRC_TABLE = /* @__PURE__ */ (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = (CRC_TABLE[(crc ^ (bytes[i] ?? 0)) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

type PngColorType = 0 | 2 | 3 | 4 | 6;

interface PngHeader {
  format: 'png';
  width: number;
  height: number;
  bitDepth: number;
  colorType: PngColorType;
  interlaced: boolean;
}

/** Samples per pixel for each PNG colour type. */
const PNG_CHANNELS: Record<PngColorType, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Bit depths the PNG spec allows per colour type. */
const PNG_DEPTHS: Record<PngColorType, readonly number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

function isPngColorType(value: number): value is PngColorType {
  return value === 0 || value === 2 || value === 3 || value === 4 || value === 6;
}

function checkDimensions(width: number, height: number): void {
  if (width === 0 || height === 0) throw invalid(`The image has zero size (${width}x${height}).`);
}

function parsePngHeader(bytes: Uint8Array): PngHeader {
  // The spec requires IHDR to be the first chunk, so it sits at a fixed offset.
  const ihdrLength = readU32(bytes, 8, 'PNG header');
  readU32(bytes, 12, 'PNG header');
  if (ihdrLength !== 13 || !startsWithAscii(bytes, 'IHDR', 12)) throw invalid('The PNG does not start with an IHDR chunk.');
  // Check the CRC now so a flipped bit in the dimensions reads as corruption, not as a size.
  if (crc32(bytes, 12, 29) !== readU32(bytes, 29, 'PNG header')) throw invalid('The PNG is corrupt (CRC mismatch in its IHDR chunk).');
  const width = readU32(bytes, 16, 'PNG header');
  const height = readU32(bytes, 20, 'PNG header');
  const bitDepth = readU8(bytes, 24, 'PNG header');
  const colorType = readU8(bytes, 25, 'PNG header');
  const compression = readU8(bytes, 26, 'PNG header');
  const filter = readU8(bytes, 27, 'PNG header');
  const interlace = readU8(bytes, 28, 'PNG header');
  checkDimensions(width, height);
  if (width > 0x7fffffff || height > 0x7fffffff) throw invalid(`PNG dimensions ${width}x${height} are out of range.`);
  if (!isPngColorType(colorType) || !PNG_DEPTHS[colorType].includes(bitDepth)) {
    throw invalid(`Invalid PNG colour type ${colorType} with bit depth ${bitDepth}.`);
  }
  if (compression !== 0 || filter !== 0 || interlace > 1) {
    throw invalid('The PNG uses an unknown compression, filter or interlace method.');
  }
  return { format: 'png', width, height, bitDepth, colorType, interlaced: interlace === 1 };
}

interface JpegComponent {
  h: number;
  v: number;
}

interface JpegHeader {
  format: 'jpeg';
  width: number;
  height: number;
  /** The SOFn marker byte (0xC0..0xCF). */
  sof: number;
  precision: number;
  components: JpegComponent[];
  orientation: number;
}

/** SOFn markers: C0..CF except C4 (DHT), C8 (JPG, reserved) and CC (DAC). */
function isSof(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/**
 * Walks the marker segments from SOI to SOS: takes the first SOF's frame header and the first
 * EXIF APP1's orientation. Stops at SOS, so entropy-coded data is never scanned.
 */
function parseJpegHeader(bytes: Uint8Array): JpegHeader {
  let offset = 2; // past SOI
  let frame: Omit<JpegHeader, 'orientation'> | null = null;
  let orientation: number | null = null;
  for (;;) {
    if (readU8(bytes, offset, 'JPEG header') !== 0xff) {
      throw invalid(`Corrupt JPEG: expected a marker at byte ${offset}.`);
    }
    // Any number of 0xFF fill bytes may precede a marker.
    while (readU8(bytes, offset + 1, 'JPEG header') === 0xff) offset++;
    const marker = readU8(bytes, offset + 1, 'JPEG header');
    offset += 2;
    // Standalone markers carry no length: TEM and RST0..7. A second SOI or 0xFF00 is garbage.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    if (marker === 0xd9) throw invalid('The JPEG ends before its image data.');
    if (marker === 0x00 || marker === 0xd8) throw invalid(`Corrupt JPEG: unexpected marker 0xFF${hex(marker)}.`);
    const length = readU16(bytes, offset, 'JPEG header');
    const end = offset + length;
    if (length < 2 || end > bytes.length) throw invalid('The JPEG is truncated (a header segment runs past the end).');
    if (isSof(marker) && frame === null) {
      frame = parseSof(bytes, marker, offset + 2, end);
    } else if (marker === 0xe1 && orientation === null && startsWithAscii(bytes, 'Exif\0', offset + 2)) {
      orientation = readExifOrientation(bytes.subarray(offset + 8, end));
    } else if (marker === 0xda) {
      if (frame === null) throw invalid('Corrupt JPEG: image data starts before the frame header.');
      return { ...frame, orientation: orientation ?? 1 };
    }
    offset = end;
  }
}

function parseSof(bytes: Uint8Array, sof: number, at: number, end: number): Omit<JpegHeader, 'orientation'> {
  const precision = readU8(bytes, at, 'JPEG frame header');
  const height = readU16(bytes, at + 1, 'JPEG frame header');
  const width = readU16(bytes, at + 3, 'JPEG frame header');
  const count = readU8(bytes, at + 5, 'JPEG frame header');
  if (at + 6 + count * 3 > end) throw invalid('Corrupt JPEG: the frame header is too short.');
  const components: JpegComponent[] = [];
  for (let i = 0; i < count; i++) {
    const sampling = readU8(bytes, at + 7 + i * 3, 'JPEG frame header');
    components.push({ h: sampling >> 4, v: sampling & 15 });
  }
  // Height 0 means "defined later by a DNL marker", which jpeg-js (and nearly nothing) supports.
  checkDimensions(width, height);
  return { format: 'jpeg', width, height, sof, precision, components };
}

/**
 * Orientation tag (0x0112) of IFD0 in an EXIF TIFF block, either byte order. Anything malformed
 * yields 1: browsers ignore broken EXIF too, and a wrong rotation beats rejecting the photo.
 */
function readExifOrientation(tiff: Uint8Array): number {
  if (tiff.length < 8) return 1;
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const little = startsWithAscii(tiff, 'II');
  if (!little && !startsWithAscii(tiff, 'MM')) return 1;
  if (view.getUint16(2, little) !== 42) return 1;
  const ifd = view.getUint32(4, little);
  if (ifd + 2 > tiff.length) return 1;
  const count = view.getUint16(ifd, little);
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > tiff.length) return 1;
    if (view.getUint16(entry, little) !== 0x0112) continue;
    const type = view.getUint16(entry + 2, little);
    // SHORT per spec; a few writers use LONG.
    const value = type === 3 ? view.getUint16(entry + 8, little) : type === 4 ? view.getUint32(entry + 8, little) : 0;
    return value >= 1 && value <= 8 ? value : 1;
  }
  return 1;
}

function parseHeader(bytes: Uint8Array): PngHeader | JpegHeader {
  const format = sniffOrThrow(bytes);
  try {
    return format === 'png' ? parsePngHeader(bytes) : parseJpegHeader(bytes);
  } catch (error) {
    // The parsers only throw TannerinError by design; this keeps a slip from escaping raw.
    if (error instanceof TannerinError) throw error;
    throw invalid(`Corrupt ${format === 'png' ? 'PNG' : 'JPEG'} header: ${describeError(error)}`);
  }
}

/**
 * Reads format, stored dimensions and EXIF orientation from the header alone (PNG IHDR; JPEG
 * markers up to the first SOS), without decoding pixels. Throws TannerinError:
 * `unsupported_media_type` for anything but PNG/JPEG, `invalid_image` for a malformed header.
 */
export function readImageInfo(bytes: Uint8Array): ImageInfo {
  const header = parseHeader(bytes);
  return {
    format: header.format,
    width: header.width,
    height: header.height,
    orientation: header.format === 'jpeg' ? header.orientation : 1,
  };
}

// ---------------------------------------------------------------------------------------------
// Decoding

/**
 * Decodes a PNG or JPEG into 8-bit RGBA with EXIF orientation applied (JPEG), keeping alpha as
 * decoded. The header is checked against `limits` first, so an oversized image costs nothing.
 * Throws only TannerinError: `unsupported_media_type`, `image_too_large` or `invalid_image`.
 */
export function decodeImage(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): RgbaImage {
  if (!(limits.maxPixels > 0)) throw new RangeError(`maxPixels must be positive, got ${limits.maxPixels}`);
  const header = parseHeader(bytes);
  const pixels = header.width * header.height;
  if (pixels > limits.maxPixels) {
    throw new TannerinError(
      'image_too_large',
      `The image is ${header.width}x${header.height} (${megapixels(pixels)} MP); ` +
        `the limit is ${limits.maxPixels} pixels (${megapixels(limits.maxPixels)} MP).`,
    );
  }
  try {
    return header.format === 'png' ? decodePngRgba(bytes, header) : decodeJpegRgba(bytes, header, limits);
  } catch (error) {
    if (error instanceof TannerinError) throw error;
    throw invalid(`Could not decode the ${header.format === 'png' ? 'PNG' : 'JPEG'}: ${describeError(error)}`);
  }
}

function megapixels(pixels: number): string {
  return (pixels / 1e6).toFixed(1);
}

function hex(byte: number): string {
  return byte.toString(16).toUpperCase().padStart(2, '0');
}

function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message || 'unknown error').slice(0, 200);
}

// ---------------------------------------------------------------------------------------------
// PNG

/** Extra inflated bytes tolerated past the exact image size (some encoders pad; libpng allows it). */
const PNG_INFLATE_SLACK = MIB;
/** ICC profiles are a few KB to a few MB; fast-png inflates them whole. */
const MAX_ICC_PROFILE = 16 * MIB;
/** Deflate's best case is ~1032:1, so a push of n compressed bytes yields at most ~1032n bytes. */
const DEFLATE_MAX_RATIO = 1032;
/** Smallest slice pushed into the inflater; fflate's per-push overhead makes tiny slices slow. */
const MIN_INFLATE_SLICE = 8 * 1024;

/** Bytes of one unfiltered scanline (without the filter-type byte). */
function pngStride(width: number, header: PngHeader): number {
  return Math.ceil((width * PNG_CHANNELS[header.colorType] * header.bitDepth) / 8);
}

const ADAM7: readonly (readonly [x0: number, y0: number, dx: number, dy: number])[] = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

interface PngPass {
  x0: number;
  y0: number;
  dx: number;
  dy: number;
  width: number;
  height: number;
}

function pngPasses(header: PngHeader): PngPass[] {
  const { width, height } = header;
  if (!header.interlaced) return [{ x0: 0, y0: 0, dx: 1, dy: 1, width, height }];
  return ADAM7.map(([x0, y0, dx, dy]) => ({
    x0,
    y0,
    dx,
    dy,
    width: Math.max(0, Math.ceil((width - x0) / dx)),
    height: Math.max(0, Math.ceil((height - y0) / dy)),
  })).filter((p) => p.width > 0 && p.height > 0);
}

/** Size of the filtered, inflated image data the header promises. */
function pngRawSize(header: PngHeader): number {
  return pngPasses(header).reduce((sum, p) => sum + p.height * (1 + pngStride(p.width, header)), 0);
}

interface PngScan {
  palette: Uint8Array | null;
  trns: Uint8Array | null;
  /** The inflated IDAT stream, kept only when we decode the pixels ourselves. */
  raw: Uint8Array | null;
}

/**
 * One pass over the chunks before fast-png sees the file: checks that every chunk is complete
 * with a valid CRC and that IEND is present, inflates IDAT under a byte budget (rejecting both
 * bombs and short data), bounds iCCP, and picks up PLTE and tRNS.
 */
function scanPng(bytes: Uint8Array, header: PngHeader, keepRaw: boolean): PngScan {
  const expected = pngRawSize(header);
  const idat = new BoundedInflater(expected + PNG_INFLATE_SLACK, keepRaw ? expected : 0, () =>
    invalid(`The PNG's image data inflates to more than its ${header.width}x${header.height} header allows.`),
  );
  let palette: Uint8Array | null = null;
  let trns: Uint8Array | null = null;
  let sawIdat = false;
  let offset = 8;
  for (;;) {
    if (offset + 12 > bytes.length) throw invalid('The PNG is truncated (no IEND chunk).');
    const length = readU32(bytes, offset, 'PNG chunk');
    const dataStart = offset + 8;
    const dataEnd = dataStart + length;
    if (length > 0x7fffffff || dataEnd + 4 > bytes.length) throw invalid('The PNG is truncated (a chunk runs past the end).');
    const type = String.fromCharCode(...bytes.subarray(offset + 4, dataStart));
    if (crc32(bytes, offset + 4, dataEnd) !== readU32(bytes, dataEnd, 'PNG chunk')) {
      throw invalid(`The PNG is corrupt (CRC mismatch in its ${printable(type)} chunk).`);
    }
    const data = bytes.subarray(dataStart, dataEnd);
    if (type === 'IDAT') {
      sawIdat = true;
      idat.push(data);
    } else if (type === 'PLTE') {
      palette = data;
    } else if (type === 'tRNS') {
      trns = data;
    } else if (type === 'iCCP') {
      checkIccp(data);
    } else if (type === 'IEND') {
      break;
    }
    offset = dataEnd + 4;
  }
  if (!sawIdat) throw invalid('The PNG has no image data (no IDAT chunk).');
  const total = idat.finish();
  if (total < expected) throw invalid('The PNG is truncated (its image data is shorter than the header says).');
  if (header.colorType === 3 && palette === null) throw invalid('The PNG is palette-based but has no PLTE chunk.');
  return { palette, trns, raw: keepRaw ? idat.output() : null };
}

function printable(type: string): string {
  return /^[A-Za-z]{4}$/.test(type) ? type : 'unnamed';
}

/** iCCP = keyword, NUL, compression method, zlib stream. Inflate it under a budget, then drop it. */
function checkIccp(data: Uint8Array): void {
  const nul = data.indexOf(0);
  if (nul < 0 || nul > 79) return; // fast-png reports the malformed chunk itself
  const inflater = new BoundedInflater(MAX_ICC_PROFILE, 0, () => invalid('The PNG has an oversized ICC profile.'));
  inflater.push(data.subarray(nul + 2));
  inflater.finish();
}

/**
 * Streaming zlib inflate that throws once the output exceeds `limit` bytes. fflate inflates each
 * push in one go, so input is pushed in slices no bigger than the remaining budget / 1032: the
 * cap trips before a bomb's output is allocated, not after. Keeps the first `keep` bytes if asked.
 */
class BoundedInflater {
  private total = 0;
  private readonly limit: number;
  private readonly kept: Uint8Array;
  private readonly inflater: Unzlib;

  constructor(limit: number, keep: number, onOverflow: () => Error) {
    this.limit = limit;
    this.kept = new Uint8Array(keep);
    this.inflater = new Unzlib((chunk) => {
      if (this.total < this.kept.length) this.kept.set(chunk.subarray(0, this.kept.length - this.total), this.total);
      this.total += chunk.length;
      if (this.total > limit) throw onOverflow();
    });
  }

  push(data: Uint8Array): void {
    for (let i = 0; i < data.length; ) {
      const slice = Math.max(MIN_INFLATE_SLICE, Math.floor((this.limit - this.total) / DEFLATE_MAX_RATIO));
      this.inflater.push(data.subarray(i, i + slice), false);
      i += slice;
    }
  }

  /** Ends the stream (throws on truncated or corrupt data) and returns the inflated size. */
  finish(): number {
    this.inflater.push(new Uint8Array(0), true);
    return this.total;
  }

  output(): Uint8Array {
    return this.kept;
  }
}

/** Pixel samples in PNG layout: rows of `pngStride` bytes (packed below 8 bits) or 16-bit values. */
interface PngSamples {
  header: PngHeader;
  data: Uint8Array | Uint16Array;
  palette: Uint8Array | null;
  trns: Uint8Array | null;
}

function decodePngRgba(bytes: Uint8Array, header: PngHeader): RgbaImage {
  // fast-png 8.0.0 mis-sizes Adam7 scanlines below 8 bits per sample, so we de-interlace those.
  const ownDecoder = header.interlaced && header.bitDepth < 8;
  const scan = scanPng(bytes, header, ownDecoder);
  let data: Uint8Array | Uint16Array;
  if (scan.raw) {
    data = deinterlaceSubByte(scan.raw, header);
  } else {
    // CRCs were verified by scanPng.
    const png = decodePng(bytes, { checkCrc: false });
    if (png.width !== header.width || png.height !== header.height) throw invalid('The PNG header is inconsistent.');
    // PngDataArray also admits Uint8ClampedArray (never produced by decode); view it as bytes.
    data = png.data instanceof Uint8ClampedArray ? new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length) : png.data;
  }
  return { width: header.width, height: header.height, data: pngToRgba({ header, data, palette: scan.palette, trns: scan.trns }) };
}

/** Reverses one PNG scanline filter in place (`line` holds filtered bytes, becomes raw bytes). */
function unfilterLine(type: number, line: Uint8Array, prev: Uint8Array | null, bpp: number): void {
  const n = line.length;
  switch (type) {
    case 0:
      return;
    case 1:
      for (let i = bpp; i < n; i++) line[i] = ((line[i] ?? 0) + (line[i - bpp] ?? 0)) & 0xff;
      return;
    case 2:
      if (prev) for (let i = 0; i < n; i++) line[i] = ((line[i] ?? 0) + (prev[i] ?? 0)) & 0xff;
      return;
    case 3:
      for (let i = 0; i < n; i++) {
        const left = i >= bpp ? (line[i - bpp] ?? 0) : 0;
        line[i] = ((line[i] ?? 0) + ((left + (prev?.[i] ?? 0)) >> 1)) & 0xff;
      }
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? (line[i - bpp] ?? 0) : 0;
        const b = prev?.[i] ?? 0;
        const c = i >= bpp ? (prev?.[i - bpp] ?? 0) : 0;
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        line[i] = ((line[i] ?? 0) + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 0xff;
      }
      return;
    default:
      throw invalid(`The PNG is corrupt (unknown scanline filter ${type}).`);
  }
}

/**
 * Adam7 de-interlacing for 1/2/4-bit images (grey or palette: one sample per pixel), producing
 * the packed non-interlaced row layout that fast-png returns for everything else.
 */
function deinterlaceSubByte(raw: Uint8Array, header: PngHeader): Uint8Array {
  const depth = header.bitDepth;
  const stride = pngStride(header.width, header);
  const out = new Uint8Array(stride * header.height);
  const mask = (1 << depth) - 1;
  let offset = 0;
  for (const pass of pngPasses(header)) {
    const passStride = pngStride(pass.width, header);
    let prev: Uint8Array | null = null;
    for (let py = 0; py < pass.height; py++) {
      const type = raw[offset] ?? 0;
      const line = raw.subarray(offset + 1, offset + 1 + passStride);
      unfilterLine(type, line, prev, 1);
      prev = line;
      offset += 1 + passStride;
      const rowStart = (pass.y0 + py * pass.dy) * stride;
      for (let px = 0; px < pass.width; px++) {
        const bit = px * depth;
        const sample = ((line[bit >> 3] ?? 0) >> (8 - depth - (bit & 7))) & mask;
        const outBit = (pass.x0 + px * pass.dx) * depth;
        const at = rowStart + (outBit >> 3);
        out[at] = (out[at] ?? 0) | (sample << (8 - depth - (outBit & 7)));
      }
    }
  }
  return out;
}

/** Converts any PNG colour type / bit depth to 8-bit RGBA, applying tRNS. */
function pngToRgba({ header, data, palette, trns }: PngSamples): Uint8Array {
  const { width, height, colorType, bitDepth } = header;
  const pixels = width * height;
  const channels = PNG_CHANNELS[colorType];
  if (colorType === 6 && bitDepth === 8 && data instanceof Uint8Array) {
    // Already 8-bit RGBA: fast-png's buffer is fresh and exactly sized, so hand it over as is.
    return plainRgba(data, pixels * 4);
  }
  const out = new Uint8Array(pixels * 4);
  if (colorType === 3) return paletteToRgba(header, data, palette ?? new Uint8Array(0), trns, out);

  // tRNS for grey/RGB is one colour key of 16-bit values (compared before scaling).
  const key =
    trns && trns.length >= channels * 2 && (colorType === 0 || colorType === 2)
      ? Array.from({ length: channels }, (_, c) => ((trns[c * 2] ?? 0) << 8) | (trns[c * 2 + 1] ?? 0))
      : null;

  if (bitDepth < 8) {
    // Grey at 1/2/4 bits: unpack each row, scale to 0..255.
    const stride = pngStride(width, header);
    const mask = (1 << bitDepth) - 1;
    const scale = 255 / mask;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const bit = x * bitDepth;
        const sample = ((data[y * stride + (bit >> 3)] ?? 0) >> (8 - bitDepth - (bit & 7))) & mask;
        const gray = sample * scale;
        const o = (y * width + x) * 4;
        out[o] = out[o + 1] = out[o + 2] = gray;
        out[o + 3] = key && sample === key[0] ? 0 : 255;
      }
    }
    return out;
  }

  // 8 or 16 bits per sample; 16-bit values are rounded to 8 bits (v/257).
  const to8 = bitDepth === 16 ? (v: number) => ((v + 128) / 257) | 0 : (v: number) => v;
  for (let p = 0, i = 0, o = 0; p < pixels; p++, i += channels, o += 4) {
    const s0 = data[i] ?? 0;
    if (colorType === 0 || colorType === 4) {
      out[o] = out[o + 1] = out[o + 2] = to8(s0);
      out[o + 3] = colorType === 4 ? to8(data[i + 1] ?? 0) : key && s0 === key[0] ? 0 : 255;
    } else {
      const s1 = data[i + 1] ?? 0;
      const s2 = data[i + 2] ?? 0;
      out[o] = to8(s0);
      out[o + 1] = to8(s1);
      out[o + 2] = to8(s2);
      out[o + 3] =
        colorType === 6 ? to8(data[i + 3] ?? 0) : key && s0 === key[0] && s1 === key[1] && s2 === key[2] ? 0 : 255;
    }
  }
  return out;
}

function paletteToRgba(
  header: PngHeader,
  data: Uint8Array | Uint16Array,
  palette: Uint8Array,
  trns: Uint8Array | null,
  out: Uint8Array,
): Uint8Array {
  const { width, height, bitDepth } = header;
  // 256-entry RGBA lookup; indices past the palette read as opaque black, as libpng/browsers do.
  const lut = new Uint8Array(256 * 4);
  for (let i = 0; i < 256; i++) {
    const inPalette = i * 3 + 2 < palette.length;
    lut[i * 4] = inPalette ? (palette[i * 3] ?? 0) : 0;
    lut[i * 4 + 1] = inPalette ? (palette[i * 3 + 1] ?? 0) : 0;
    lut[i * 4 + 2] = inPalette ? (palette[i * 3 + 2] ?? 0) : 0;
    lut[i * 4 + 3] = inPalette ? (trns?.[i] ?? 255) : 255;
  }
  // Whole-pixel copies through 32-bit views: both views share the platform byte order.
  const lut32 = new Uint32Array(lut.buffer);
  const out32 = new Uint32Array(out.buffer, out.byteOffset, width * height);
  const stride = pngStride(width, header);
  const mask = (1 << bitDepth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * bitDepth;
      const index = ((data[y * stride + (bit >> 3)] ?? 0) >> (8 - bitDepth - (bit & 7))) & mask;
      out32[y * width + x] = lut32[index] ?? 0;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// JPEG

/**
 * An upper bound on what jpeg-js 0.4.4 counts against maxMemoryUsageInMB for this frame: per
 * component, one Int32Array(64) (256 B) per MCU-padded block plus 64 B of decoded samples; then
 * the colour-converted samples and the RGBA output; tables cost at most 4× their file bytes.
 * With ≤4 components and sampling factors ≤4 that is under ~30 bytes per pixel of the limit.
 */
function jpegMemoryBudgetMB(header: JpegHeader, inputLength: number): number {
  const { width, height, components } = header;
  const maxH = Math.max(...components.map((c) => c.h));
  const maxV = Math.max(...components.map((c) => c.v));
  const mcusX = Math.ceil(width / (8 * maxH));
  const mcusY = Math.ceil(height / (8 * maxV));
  let bytes = 0;
  for (const c of components) bytes += mcusX * c.h * mcusY * c.v * (256 + 64);
  bytes += width * height * (components.length + 4);
  bytes += 4 * inputLength + MIB;
  return bytes / MIB;
}

const SOF_NAMES: Record<number, string> = {
  0xc3: 'lossless',
  0xc5: 'hierarchical',
  0xc6: 'hierarchical',
  0xc7: 'hierarchical lossless',
  0xc9: 'arithmetic-coded',
  0xca: 'arithmetic-coded progressive',
  0xcb: 'arithmetic-coded lossless',
  0xcd: 'arithmetic-coded hierarchical',
  0xce: 'arithmetic-coded hierarchical',
  0xcf: 'arithmetic-coded hierarchical lossless',
};

function decodeJpegRgba(bytes: Uint8Array, header: JpegHeader, limits: DecodeLimits): RgbaImage {
  // jpeg-js decodes baseline, extended (8-bit) and progressive Huffman JPEGs; refuse the rest
  // up front with a clear reason instead of its "unknown JPEG marker".
  if (header.sof !== 0xc0 && header.sof !== 0xc1 && header.sof !== 0xc2) {
    throw invalid(`Unsupported JPEG: ${SOF_NAMES[header.sof] ?? 'unknown'} (SOF marker 0xFF${hex(header.sof)}).`);
  }
  if (header.precision !== 8) throw invalid(`Unsupported JPEG: ${header.precision}-bit samples (only 8-bit).`);
  const count = header.components.length;
  if (count !== 1 && count !== 3 && count !== 4) throw invalid(`Unsupported JPEG: ${count} colour components.`);
  if (header.components.some((c) => c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4)) {
    throw invalid('Corrupt JPEG: sampling factors must be 1..4.');
  }
  const decoded = jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: true,
    // Our own check already ran on the first frame; this also covers any later SOF in the file.
    maxResolutionInMP: (limits.maxPixels + 1) / 1e6,
    maxMemoryUsageInMB: jpegMemoryBudgetMB(header, bytes.length),
  });
  if (decoded.width !== header.width || decoded.height !== header.height) {
    throw invalid('The JPEG header is inconsistent.');
  }
  return applyOrientation(
    { width: decoded.width, height: decoded.height, data: plainRgba(decoded.data, decoded.width * decoded.height * 4) },
    header.orientation,
  );
}

/** A fresh, 4-byte-aligned Uint8Array of exactly `length` bytes (copies only if needed). */
function plainRgba(data: Uint8Array, length: number): Uint8Array {
  if (data.length !== length) throw invalid('The decoder returned the wrong number of pixels.');
  const plain = data.constructor === Uint8Array && data.byteOffset === 0 && data.buffer.byteLength === length;
  return plain ? data : new Uint8Array(data);
}

/**
 * Applies EXIF orientation: 2 flip H, 3 rotate 180, 4 flip V, 5 transpose, 6 rotate 90° CW,
 * 7 transverse, 8 rotate 90° CCW (5..8 swap width and height). The source pixel for output
 * (x, y) is an affine function of (x, y), so each orientation is a start index and two steps.
 */
function applyOrientation(image: RgbaImage, orientation: number): RgbaImage {
  if (orientation < 2 || orientation > 8) return image;
  const { width: w, height: h } = image;
  const swap = orientation >= 5;
  const outW = swap ? h : w;
  const outH = swap ? w : h;
  // [start, stepX, stepY] in source pixels, for output x → x+1 and y → y+1.
  const walk: Record<number, readonly [number, number, number]> = {
    2: [w - 1, -1, w], // (w-1-x, y)
    3: [w * h - 1, -1, -w], // (w-1-x, h-1-y)
    4: [(h - 1) * w, 1, -w], // (x, h-1-y)
    5: [0, w, 1], // (y, x)
    6: [(h - 1) * w, -w, 1], // (y, h-1-x)
    7: [w * h - 1, -w, -1], // (w-1-y, h-1-x)
    8: [w - 1, w, -1], // (w-1-y, x)
  };
  const [start, stepX, stepY] = walk[orientation] ?? [0, 1, w];
  const src = new Uint32Array(image.data.buffer, image.data.byteOffset, w * h);
  const out = new Uint8Array(w * h * 4);
  const dst = new Uint32Array(out.buffer);
  let o = 0;
  for (let y = 0, row = start; y < outH; y++, row += stepY) {
    for (let x = 0, i = row; x < outW; x++, i += stepX) dst[o++] = src[i] ?? 0;
  }
  return { width: outW, height: outH, data: out };
}
