/**
 * PNG/JPEG → 8-bit RGBA, identical in the Worker (workerd), the browser and Node: plain typed
 * arrays only, no Buffer, fs, DOM or Worker globals.
 *
 * - JPEG: MozJPEG (libjpeg-turbo based) compiled to WebAssembly, from @jsquash/jpeg 1.6.0. It
 *   starts from a precompiled `WebAssembly.Module` handed to {@link initImageDecoder}, exactly
 *   like the TF.js backend in `wasm-backend.ts`, because workerd forbids compiling wasm from
 *   bytes. ~10x faster than the pure-JS jpeg-js it replaced, and its working memory lives in its
 *   own linear memory instead of ~30-40 bytes/pixel of JS arrays.
 * - PNG: this module's own chunk walker, bounded zlib inflate (fflate) and scanline unfilter,
 *   streaming row by row straight into the RGBA output: the filtered image data is never held
 *   whole, and is inflated exactly once. Needs no initialisation.
 *
 * Untrusted input rules:
 * - Dimensions are read from the header and checked against the pixel limit before anything
 *   is decoded or allocated (`image_too_large`).
 * - PNG image data is inflated under a byte budget derived from the header, so a decompression
 *   bomb stops after about a megabyte of surplus output. Other zlib streams (iCCP, zTXt) are
 *   never inflated.
 * - JPEG variants MozJPEG cannot decode are refused from the frame header with a clear reason.
 *   MozJPEG's working memory is bounded by the pixel limit and the input size (see
 *   `shared/limits.ts` for the measured figures).
 * - Everything a decoder throws becomes `invalid_image`; only TannerinError leaves this module
 *   (plus a plain Error for the programming mistake of decoding a JPEG before initialisation).
 */
import { Unzlib } from 'fflate';
// The emscripten factory of the decoder (ES module, `export default`). It was built for web and
// worker environments only (no Node.js code path). Its `.wasm` sibling is loaded by the caller.
import * as mozjpegFactoryNamespace from '@jsquash/jpeg/codec/dec/mozjpeg_dec.js';
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

/** Diagnostics returned by {@link imageDecoderInfo}. */
export interface ImageDecoderInfo {
  /** Whether {@link initImageDecoder} has been called (JPEG decoding is possible). */
  jpegReady: boolean;
  /**
   * Size of the MozJPEG instance's linear memory, in bytes (0 before the first instance). It
   * only grows while the instance lives: the high-water mark of JPEG decoding.
   */
  jpegHeapBytes: number;
}

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

/** ISO-BMFF (`ftyp`) brands of AVIF and of HEIC/HEIF. */
const AVIF_BRANDS = ['avif', 'avis'];
const HEIF_BRANDS = ['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1'];

/**
 * Names other image formats that people send by mistake, from their signatures. Only formats
 * with a distinctive signature are named; anything else is treated as a corrupt PNG/JPEG.
 */
function describeUnsupported(bytes: Uint8Array): string | null {
  if (startsWithAscii(bytes, 'RIFF') && startsWithAscii(bytes, 'WEBP', 8)) return 'WebP';
  if (startsWithAscii(bytes, 'GIF87a') || startsWithAscii(bytes, 'GIF89a')) return 'GIF';
  // 'BM' alone is too weak a signature: also require a known DIB header size (12..124 bytes).
  if (startsWithAscii(bytes, 'BM') && [12, 40, 52, 56, 64, 108, 124].includes(bytes[14] ?? 0) && startsWith(bytes, [0, 0, 0], 15)) {
    return 'BMP';
  }
  if (startsWithAscii(bytes, 'II*\0') || startsWithAscii(bytes, 'MM\0*')) return 'TIFF';
  if (startsWithAscii(bytes, 'ftyp', 4)) {
    if (AVIF_BRANDS.some((brand) => startsWithAscii(bytes, brand, 8))) return 'AVIF';
    if (HEIF_BRANDS.some((brand) => startsWithAscii(bytes, brand, 8))) return 'HEIC/HEIF';
  }
  if (startsWith(bytes, [0xff, 0x0a]) || startsWith(bytes, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20, 0x0d, 0x0a, 0x87, 0x0a])) {
    return 'JPEG XL';
  }
  if (startsWith(bytes, [0xff, 0x4f, 0xff, 0x51]) || startsWith(bytes, [0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a])) {
    return 'JPEG 2000';
  }
  if (startsWithAscii(bytes, '8BPS')) return 'Photoshop (PSD)';
  if (looksLikeSvg(bytes)) return 'SVG';
  return null;
}

/** Text that starts like an XML document and has an `<svg` element near the start. */
function looksLikeSvg(bytes: Uint8Array): boolean {
  let start = startsWith(bytes, [0xef, 0xbb, 0xbf]) ? 3 : 0; // UTF-8 BOM
  while (start < bytes.length && [0x20, 0x09, 0x0a, 0x0d].includes(bytes[start] ?? 0)) start++;
  if (bytes[start] !== 0x3c) return false; // '<'
  const head = bytes.subarray(start, start + 4096);
  if (startsWithAscii(head, '<svg')) return true;
  if (!startsWithAscii(head, '<?xml') && !startsWithAscii(head, '<!')) return false;
  return String.fromCharCode(...head).includes('<svg');
}

function sniffOrThrow(bytes: Uint8Array): ImageFormat {
  const format = sniffImageFormat(bytes);
  if (format === 'png' || format === 'jpeg') return format;
  // A recognisably different image format: the client sent the wrong kind of file (415).
  const name = describeUnsupported(bytes);
  if (name !== null) {
    throw new TannerinError('unsupported_media_type', `${name} images are not supported; send a PNG or JPEG.`);
  }
  // Otherwise the client declared PNG or JPEG (only those media types get this far) and sent
  // bytes that are not one: a corrupt image (422), not an unsupported format.
  if (bytes.length === 0) throw invalid('The image is empty (0 bytes).');
  if (bytes.length < PNG_SIGNATURE.length) {
    throw invalid(`The image is truncated or corrupt (${bytes.length} bytes, shorter than a PNG or JPEG signature).`);
  }
  throw invalid('The image is corrupt: it starts with neither a PNG nor a JPEG signature.');
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
  for (let i = start; i < end; i++) crc = (CRC_TABLE[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
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
  /** [start, end) byte ranges of the APP1 segments (EXIF, XMP) before SOS, marker included. */
  app1: [number, number][];
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
  let frame: Omit<JpegHeader, 'orientation' | 'app1'> | null = null;
  let orientation: number | null = null;
  const app1: [number, number][] = [];
  for (;;) {
    if (readU8(bytes, offset, 'JPEG header') !== 0xff) {
      throw invalid(`Corrupt JPEG: expected a marker at byte ${offset}.`);
    }
    // Any number of 0xFF fill bytes may precede a marker.
    while (readU8(bytes, offset + 1, 'JPEG header') === 0xff) offset++;
    const start = offset;
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
    } else if (marker === 0xe1) {
      app1.push([start, end]);
      if (orientation === null && startsWithAscii(bytes, 'Exif\0', offset + 2)) {
        orientation = readExifOrientation(bytes.subarray(offset + 8, end));
      }
    } else if (marker === 0xda) {
      if (frame === null) throw invalid('Corrupt JPEG: image data starts before the frame header.');
      return { ...frame, orientation: orientation ?? 1, app1 };
    }
    offset = end;
  }
}

function parseSof(bytes: Uint8Array, sof: number, at: number, end: number): Omit<JpegHeader, 'orientation' | 'app1'> {
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
  // Height 0 means "defined later by a DNL marker", which libjpeg (and nearly nothing) supports.
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
 * markers up to the first SOS), without decoding pixels. Needs no initialisation. Throws
 * TannerinError: `unsupported_media_type` for another recognisable image format (GIF, WebP…),
 * `invalid_image` for anything else that is not a well-formed PNG/JPEG header.
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
 *
 * PNG needs no set-up. JPEG needs {@link initImageDecoder} to have been called (otherwise this
 * rejects with a plain Error: a programming mistake, not bad input).
 *
 * Rejects only with TannerinError otherwise: `unsupported_media_type` (another image format),
 * `image_too_large` or `invalid_image`.
 */
export async function decodeImage(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Promise<RgbaImage> {
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
    return header.format === 'png' ? decodePngRgba(bytes, header) : await decodeJpegRgba(bytes, header);
  } catch (error) {
    if (error instanceof TannerinError || error instanceof JpegDecoderNotReady) throw error;
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
/** Deflate's best case is ~1032:1, so a push of n compressed bytes yields at most ~1032n bytes. */
const DEFLATE_MAX_RATIO = 1032;
/** Smallest slice pushed into the inflater; fflate's per-push overhead makes tiny slices slow. */
const MIN_INFLATE_SLICE = 8 * 1024;

/** Bytes of one unfiltered scanline of `width` pixels (without the filter-type byte). */
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

/**
 * One pass over the chunks: checks that every chunk is complete with a valid CRC and that IEND
 * is present, picks up PLTE and tRNS, and streams IDAT through a bounded inflater into the row
 * decoder, which writes RGBA pixels as each scanline completes. Other chunks (iCCP, text, …)
 * are only CRC-checked, never inflated: nothing here uses them.
 */
function decodePngRgba(bytes: Uint8Array, header: PngHeader): RgbaImage {
  const expected = pngRawSize(header);
  let rows: PngRowDecoder | null = null;
  const idat = new BoundedInflater(
    expected + PNG_INFLATE_SLACK,
    () => invalid(`The PNG's image data inflates to more than its ${header.width}x${header.height} header allows.`),
    (chunk) => rows?.push(chunk),
  );
  let palette: Uint8Array | null = null;
  let trns: Uint8Array | null = null;
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
      if (rows === null) {
        // PLTE and tRNS must precede IDAT (later ones are ignored, as libpng does with tRNS).
        if (header.colorType === 3 && palette === null) throw invalid('The PNG is palette-based but has no PLTE chunk.');
        rows = new PngRowDecoder(header, palette, trns);
      }
      idat.push(data);
    } else if (type === 'PLTE') {
      if (rows === null) palette = data;
    } else if (type === 'tRNS') {
      if (rows === null) trns = data;
    } else if (type === 'IEND') {
      break;
    }
    offset = dataEnd + 4;
  }
  if (rows === null) throw invalid('The PNG has no image data (no IDAT chunk).');
  const total = idat.finish();
  if (total < expected || !rows.complete) throw invalid('The PNG is truncated (its image data is shorter than the header says).');
  return { width: header.width, height: header.height, data: rows.out };
}

function printable(type: string): string {
  return /^[A-Za-z]{4}$/.test(type) ? type : 'unnamed';
}

/**
 * Streaming zlib inflate that throws once the output exceeds `limit` bytes, handing each
 * inflated chunk to `onData`. fflate inflates each push in one go, so input is pushed in slices
 * no bigger than the remaining budget / 1032: the cap trips before a bomb's output is allocated,
 * not after.
 */
class BoundedInflater {
  private total = 0;
  private readonly limit: number;
  private readonly inflater: Unzlib;

  constructor(limit: number, onOverflow: () => Error, onData: (chunk: Uint8Array) => void) {
    this.limit = limit;
    this.inflater = new Unzlib((chunk) => {
      this.total += chunk.length;
      if (this.total > limit) throw onOverflow();
      onData(chunk);
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
}

/**
 * Turns the inflated PNG data stream into RGBA pixels, one scanline at a time: gathers each
 * filtered line, unfilters it against the previous line of the same pass, converts it from any
 * colour type / bit depth to 8-bit RGBA (16-bit values rounded as v/257, tRNS applied, palette
 * indices past the palette read as opaque black, as libpng and browsers do) and writes it to
 * its place in `out` (Adam7 passes scatter their pixels). Bytes after the last line are ignored
 * (the inflater's budget bounds them). Only two lines are held besides the output.
 */
class PngRowDecoder {
  readonly out: Uint8Array;
  private readonly header: PngHeader;
  private readonly passes: PngPass[];
  /** Bytes per complete pixel, at least 1: the filter's "left" distance. */
  private readonly bpp: number;
  private line: Uint8Array;
  private prev: Uint8Array;
  private filled = 0;
  private lineLength = 0;
  private pass = 0;
  private row = 0;
  /** 256 RGBA entries as 32-bit words (palette images). */
  private readonly lut: Uint32Array | null = null;
  private readonly out32: Uint32Array;
  /** tRNS colour key for grey/RGB, as raw sample values; null if none. */
  private readonly key: readonly number[] | null = null;

  constructor(header: PngHeader, palette: Uint8Array | null, trns: Uint8Array | null) {
    this.header = header;
    this.out = new Uint8Array(header.width * header.height * 4);
    this.out32 = new Uint32Array(this.out.buffer, 0, header.width * header.height);
    this.passes = pngPasses(header);
    this.bpp = Math.max(1, (PNG_CHANNELS[header.colorType] * header.bitDepth) >> 3);
    const longest = 1 + pngStride(header.width, header);
    this.line = new Uint8Array(longest);
    this.prev = new Uint8Array(longest);
    this.startPass();
    if (header.colorType === 3) {
      this.lut = paletteLut(palette ?? new Uint8Array(0), trns);
    } else if (trns !== null && (header.colorType === 0 || header.colorType === 2)) {
      // One colour key of 16-bit values, compared with the raw samples (before scaling).
      const channels = PNG_CHANNELS[header.colorType];
      if (trns.length >= channels * 2) {
        this.key = Array.from({ length: channels }, (_, c) => ((trns[c * 2] as number) << 8) | (trns[c * 2 + 1] as number));
      }
    }
  }

  get complete(): boolean {
    return this.pass >= this.passes.length;
  }

  push(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length && !this.complete; ) {
      const n = Math.min(this.lineLength - this.filled, chunk.length - i);
      this.line.set(chunk.subarray(i, i + n), this.filled);
      this.filled += n;
      i += n;
      if (this.filled === this.lineLength) this.finishLine();
    }
  }

  private startPass(): void {
    const pass = this.passes[this.pass];
    if (pass === undefined) return;
    this.lineLength = 1 + pngStride(pass.width, this.header);
    this.prev.fill(0); // the line above the first is all zeros
    this.row = 0;
  }

  private finishLine(): void {
    const pass = this.passes[this.pass] as PngPass;
    const filterType = this.line[0] as number;
    const line = this.line.subarray(1, this.lineLength);
    unfilterLine(filterType, line, this.prev.subarray(1, this.lineLength), this.bpp);
    this.writePixels(line, pass, pass.y0 + this.row * pass.dy);
    // The unfiltered line becomes the previous one; its buffer is reused for the next line.
    const done = this.prev;
    this.prev = this.line;
    this.line = done;
    this.filled = 0;
    if (++this.row === pass.height) {
      this.pass++;
      this.startPass();
    }
  }

  private writePixels(line: Uint8Array, pass: PngPass, y: number): void {
    const { colorType, bitDepth, width } = this.header;
    const out = this.out;
    const n = pass.width;
    const { x0, dx } = pass;
    const first = y * width + x0; // pixel index of the line's first pixel
    const key = this.key;
    if (colorType === 3 || bitDepth < 8) {
      const lut = this.lut;
      const mask = (1 << bitDepth) - 1;
      const perByte = 8 / bitDepth;
      const scale = 255 / mask;
      for (let x = 0; x < n; x++) {
        const sample =
          bitDepth === 8 ? (line[x] as number) : ((line[(x / perByte) | 0] as number) >> (8 - bitDepth - (x % perByte) * bitDepth)) & mask;
        const p = first + x * dx;
        if (lut !== null) {
          this.out32[p] = lut[sample] as number;
        } else {
          // Grey at 1/2/4 bits (8-bit grey takes the path below).
          const o = p * 4;
          out[o] = out[o + 1] = out[o + 2] = sample * scale;
          out[o + 3] = key !== null && sample === key[0] ? 0 : 255;
        }
      }
      return;
    }
    if (bitDepth === 8) {
      if (colorType === 6) {
        if (dx === 1) out.set(line, first * 4);
        else for (let x = 0, i = 0; x < n; x++, i += 4) out.set(line.subarray(i, i + 4), (first + x * dx) * 4);
        return;
      }
      for (let x = 0; x < n; x++) {
        const o = (first + x * dx) * 4;
        if (colorType === 0) {
          const g = line[x] as number;
          out[o] = out[o + 1] = out[o + 2] = g;
          out[o + 3] = key !== null && g === key[0] ? 0 : 255;
        } else if (colorType === 4) {
          const g = line[x * 2] as number;
          out[o] = out[o + 1] = out[o + 2] = g;
          out[o + 3] = line[x * 2 + 1] as number;
        } else {
          const r = line[x * 3] as number;
          const g = line[x * 3 + 1] as number;
          const b = line[x * 3 + 2] as number;
          out[o] = r;
          out[o + 1] = g;
          out[o + 2] = b;
          out[o + 3] = key !== null && r === key[0] && g === key[1] && b === key[2] ? 0 : 255;
        }
      }
      return;
    }
    // 16 bits per sample, big-endian; rounded to 8 bits as (v + 128) / 257.
    const channels = PNG_CHANNELS[colorType];
    const sample = (x: number, c: number): number => {
      const i = (x * channels + c) * 2;
      return ((line[i] as number) << 8) | (line[i + 1] as number);
    };
    const to8 = (v: number): number => ((v + 128) / 257) | 0;
    for (let x = 0; x < n; x++) {
      const o = (first + x * dx) * 4;
      const s0 = sample(x, 0);
      if (colorType === 0 || colorType === 4) {
        out[o] = out[o + 1] = out[o + 2] = to8(s0);
        out[o + 3] = colorType === 4 ? to8(sample(x, 1)) : key !== null && s0 === key[0] ? 0 : 255;
      } else {
        const s1 = sample(x, 1);
        const s2 = sample(x, 2);
        out[o] = to8(s0);
        out[o + 1] = to8(s1);
        out[o + 2] = to8(s2);
        out[o + 3] = colorType === 6 ? to8(sample(x, 3)) : key !== null && s0 === key[0] && s1 === key[1] && s2 === key[2] ? 0 : 255;
      }
    }
  }
}

/** A 256-entry RGBA lookup table (as platform-order 32-bit words) from PLTE and tRNS. */
function paletteLut(palette: Uint8Array, trns: Uint8Array | null): Uint32Array {
  const lut = new Uint8Array(256 * 4);
  for (let i = 0; i < 256; i++) {
    // Indices past the palette read as opaque black.
    const inPalette = i * 3 + 2 < palette.length;
    lut[i * 4] = inPalette ? (palette[i * 3] as number) : 0;
    lut[i * 4 + 1] = inPalette ? (palette[i * 3 + 1] as number) : 0;
    lut[i * 4 + 2] = inPalette ? (palette[i * 3 + 2] as number) : 0;
    lut[i * 4 + 3] = inPalette ? (trns?.[i] ?? 255) : 255;
  }
  // Whole-pixel copies through 32-bit views: both views share the platform byte order.
  return new Uint32Array(lut.buffer);
}

/**
 * Reverses one PNG scanline filter in place: `line` holds filtered bytes and becomes raw bytes;
 * `prev` is the previous raw line of the same pass (all zeros for the first line).
 */
function unfilterLine(type: number, line: Uint8Array, prev: Uint8Array, bpp: number): void {
  const n = line.length;
  // Uint8Array stores wrap modulo 256, which is exactly the filters' arithmetic.
  switch (type) {
    case 0:
      return;
    case 1:
      for (let i = bpp; i < n; i++) line[i] = (line[i] as number) + (line[i - bpp] as number);
      return;
    case 2:
      for (let i = 0; i < n; i++) line[i] = (line[i] as number) + (prev[i] as number);
      return;
    case 3:
      for (let i = 0; i < bpp && i < n; i++) line[i] = (line[i] as number) + ((prev[i] as number) >> 1);
      for (let i = bpp; i < n; i++) line[i] = (line[i] as number) + (((line[i - bpp] as number) + (prev[i] as number)) >> 1);
      return;
    case 4:
      // Paeth: with a = left, b = up, c = up-left, the predictor is whichever of a, b, c is
      // closest to a + b - c (ties in that order). Left of the line start, a = c = 0, so it is b.
      for (let i = 0; i < bpp && i < n; i++) line[i] = (line[i] as number) + (prev[i] as number);
      for (let i = bpp; i < n; i++) {
        const a = line[i - bpp] as number;
        const b = prev[i] as number;
        const c = prev[i - bpp] as number;
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        line[i] = (line[i] as number) + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      }
      return;
    default:
      throw invalid(`The PNG is corrupt (unknown scanline filter ${type}).`);
  }
}

// ---------------------------------------------------------------------------------------------
// JPEG: MozJPEG (WebAssembly)

/** What the decoder's `decode` returns: an `ImageData` (or the stand-in below). */
interface DecodedImageData {
  readonly data: Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
}

/** The parts of the emscripten module object used here. */
interface MozJpegModule {
  /**
   * Decodes the whole file to RGBA. `preserveOrientation: true` would make it read EXIF and
   * rotate the pixels itself (@jsquash/jpeg >= 1.5); we always pass false and rotate once, here.
   */
  decode(data: Uint8Array, preserveOrientation: boolean): DecodedImageData | null;
  HEAPU8: Uint8Array;
}

/** WebAssembly import object, as emscripten builds it. */
type WasmImports = Record<string, Record<string, unknown>>;
/** An instantiated module; emscripten reads its `exports`. */
interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

/**
 * The one WebAssembly call used here, described locally for the same reason as in
 * `wasm-backend.ts`: the Node tsconfig (no DOM lib) has no typed `WebAssembly.instantiate`.
 */
interface WasmRuntime {
  instantiate(module: WebAssembly.Module, imports: WasmImports): Promise<WasmInstance>;
}
const wasmRuntime = (globalThis as unknown as { WebAssembly: WasmRuntime }).WebAssembly;

/** The settings passed to the emscripten factory. */
interface MozJpegSettings {
  noInitialRun: boolean;
  locateFile: (path: string) => string;
  instantiateWasm: (imports: WasmImports, receive: (instance: WasmInstance, module: WebAssembly.Module) => void) => Record<string, never>;
  onAbort: (reason: unknown) => void;
  print: (text: string) => void;
  printErr: (text: string) => void;
}

type MozJpegFactory = (settings: MozJpegSettings) => Promise<MozJpegModule>;

function resolveMozJpegFactory(): MozJpegFactory {
  const ns = mozjpegFactoryNamespace as unknown as { default?: unknown };
  const candidate: unknown = typeof ns.default === 'function' ? ns.default : ns;
  if (typeof candidate !== 'function') throw new Error('@jsquash/jpeg: emscripten factory not found in codec/dec/mozjpeg_dec.js');
  return candidate as MozJpegFactory;
}

/**
 * Stand-in for the DOM's `ImageData`, which the decoder constructs through embind's
 * `val::global("ImageData")`. workerd and Node have none.
 */
class PlainImageData implements DecodedImageData {
  constructor(
    readonly data: Uint8ClampedArray,
    readonly width: number,
    readonly height: number,
  ) {}
}

/**
 * Runs `fn` with the globals the emscripten glue looks at arranged so that it behaves the same
 * everywhere and leaves no trace. The glue was built for web and worker environments only (no
 * Node.js path, so no `__dirname`/`require`), but when it thinks it runs in Node
 * (`process.release.name === 'node'`: Node, and workerd with nodejs_compat) or in Cloudflare
 * Workers (`ServiceWorkerGlobalScope` and `caches.default`) it patches globals: a global
 * `ImageData` polyfill, `import.meta.url`, and `self.location = { href: "" }`. Hence:
 * - `process` hidden during the factory call (`hideProcess`), as in `wasm-backend.ts`;
 * - `ImageData` present: the decoder needs one; where the platform has none (Node, workerd),
 *   {@link PlainImageData} is lent for the duration of the synchronous call. A browser's native
 *   `ImageData` is left alone;
 * - `self.location` present during the factory call where `self` exists without it (workerd),
 *   so the glue does not install one for good.
 */
function withEmscriptenGlobals<T>(hideProcess: boolean, fn: () => T): T {
  const holder = globalThis as { ImageData?: unknown; process?: unknown; self?: { location?: unknown } };
  const lendImageData = holder.ImageData === undefined;
  const processDescriptor = hideProcess ? Object.getOwnPropertyDescriptor(globalThis, 'process') : undefined;
  const canHideProcess = processDescriptor !== undefined && (processDescriptor.configurable === true || processDescriptor.writable === true);
  const self = hideProcess ? holder.self : undefined;
  const lendLocation = self !== undefined && self !== null && self.location === undefined && Object.isExtensible(self);
  if (lendImageData) {
    Object.defineProperty(globalThis, 'ImageData', { value: PlainImageData, configurable: true, writable: true });
  }
  if (canHideProcess && processDescriptor) {
    if (processDescriptor.configurable) delete holder.process;
    else holder.process = undefined;
  }
  if (lendLocation) Object.defineProperty(self, 'location', { value: { href: '' }, configurable: true, writable: true });
  try {
    return fn();
  } finally {
    if (lendLocation) delete self.location;
    if (canHideProcess && processDescriptor) {
      if (processDescriptor.configurable) Object.defineProperty(globalThis, 'process', processDescriptor);
      else holder.process = processDescriptor.value;
    }
    if (lendImageData) delete holder.ImageData;
  }
}

/** One instance of the decoder: its module object and what libjpeg printed to stderr. */
interface JpegRuntime {
  module: MozJpegModule;
  /** libjpeg's messages (its first warning, or the error that ended a decode), oldest first. */
  messages: string[];
  /** Set once the instance must not be used again (after an error unwound through it). */
  retired: boolean;
}

/** Thrown (rejected) when a JPEG is decoded before {@link initImageDecoder}. */
class JpegDecoderNotReady extends Error {
  constructor() {
    super(
      'JPEG decoding needs the MozJPEG decoder: call initImageDecoder(module) first, with the precompiled ' +
        '@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm (see worker/model-runtime.ts, scripts/node-backend.ts).',
    );
    this.name = 'JpegDecoderNotReady';
  }
}

/** The precompiled decoder module given to initImageDecoder (the first one wins). */
let jpegWasm: WebAssembly.Module | null = null;
/** The current instance (being created, or ready). */
let jpegRuntime: Promise<JpegRuntime> | null = null;
/** The current instance once ready, for {@link imageDecoderInfo}. */
let jpegRuntimeReady: JpegRuntime | null = null;

/**
 * Instantiates the emscripten runtime around the precompiled `wasm`. Instantiating a compiled
 * module is allowed in workerd; compiling from bytes is not, so the file is never fetched
 * (`instantiateWasm` supplies the instance; `locateFile` keeps the glue from resolving a URL).
 */
function createJpegRuntime(wasm: WebAssembly.Module): Promise<JpegRuntime> {
  const factory = resolveMozJpegFactory();
  const messages: string[] = [];
  return new Promise<JpegRuntime>((resolve, reject) => {
    let settled = false;
    let runtime: JpegRuntime | null = null;
    const fail = (reason: unknown): void => {
      if (runtime) runtime.retired = true;
      if (settled) return;
      settled = true;
      reject(reason instanceof Error ? reason : new Error(`MozJPEG decoder aborted: ${String(reason)}`));
    };
    const settings: MozJpegSettings = {
      noInitialRun: true,
      locateFile: (path) => path,
      instantiateWasm: (imports, receive) => {
        wasmRuntime.instantiate(wasm, imports).then((instance) => {
          try {
            // Runs the static constructors, which may look up `ImageData`.
            withEmscriptenGlobals(true, () => receive(instance, wasm));
          } catch (err) {
            fail(err);
          }
        }, fail);
        return {};
      },
      onAbort: fail,
      print: () => {},
      // libjpeg reports through stderr: keep its first few lines for the error message.
      printErr: (text) => {
        if (messages.length < 8) messages.push(text);
      },
    };
    let ready: Promise<MozJpegModule>;
    try {
      ready = withEmscriptenGlobals(true, () => factory(settings));
    } catch (err) {
      fail(err);
      return;
    }
    ready.then((module) => {
      if (settled) return;
      settled = true;
      runtime = { module, messages, retired: false };
      resolve(runtime);
    }, fail);
  });
}

/** The current decoder instance, creating one if there is none (after init, or a retirement). */
function jpegRuntimePromise(wasm: WebAssembly.Module): Promise<JpegRuntime> {
  if (jpegRuntime === null) {
    const created = createJpegRuntime(wasm);
    jpegRuntime = created;
    created.then(
      (runtime) => {
        if (jpegRuntime === created) jpegRuntimeReady = runtime;
      },
      () => {
        if (jpegRuntime === created) jpegRuntime = null;
      },
    );
  }
  return jpegRuntime;
}

/**
 * Makes JPEG decoding available, from the precompiled `@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm`
 * (the Worker imports it as a module; Node compiles the file: `initNodeImageDecoder()` in
 * scripts/node-backend.ts; a browser can use `WebAssembly.compileStreaming`).
 *
 * Idempotent: later calls wait for the first one (their `jpegWasm` is ignored). If the first
 * call failed, the next call tries again with its own module. PNG decoding never needs this.
 */
export async function initImageDecoder(jpegWasmModule: WebAssembly.Module): Promise<void> {
  const wasm = jpegWasm ?? jpegWasmModule;
  jpegWasm = wasm;
  try {
    await jpegRuntimePromise(wasm);
  } catch (err) {
    if (jpegRuntimeReady === null && jpegWasm === wasm) jpegWasm = null;
    throw err;
  }
}

/** Decoder state, for diagnostics and the memory benchmark. */
export function imageDecoderInfo(): ImageDecoderInfo {
  return { jpegReady: jpegWasm !== null, jpegHeapBytes: jpegRuntimeReady?.module.HEAPU8.buffer.byteLength ?? 0 };
}

/** A usable decoder instance (a retired one is replaced by a fresh instance). */
async function acquireJpegRuntime(): Promise<JpegRuntime> {
  for (;;) {
    if (jpegWasm === null) throw new JpegDecoderNotReady();
    const pending = jpegRuntimePromise(jpegWasm);
    const runtime = await pending;
    if (!runtime.retired) return runtime;
    if (jpegRuntime === pending) jpegRuntime = null;
  }
}

/**
 * Drops an instance after an error unwound through it. libjpeg's `error_exit` ends in `exit()`,
 * which emscripten turns into a thrown `ExitStatus`; C++ destructors do not run, so the decode
 * call's input copy and pixel buffer stay allocated and the wasm stack pointer is not restored.
 * Reusing the instance would leak (and eventually overflow its stack); a fresh instance from the
 * same compiled module costs ~1 ms, and the old one's memory is garbage-collected.
 */
function retireJpegRuntime(runtime: JpegRuntime): void {
  runtime.retired = true;
  // Forget it if it is still the current instance (not if a fresh one already replaced it).
  if (jpegRuntimeReady === runtime) {
    jpegRuntimeReady = null;
    jpegRuntime = null;
  }
}

/** libjpeg warnings that mean the pixel data is corrupt or incomplete (not just odd metadata). */
const CORRUPT_JPEG_WARNING = /^(Corrupt JPEG data|Premature end of JPEG file|Invalid SOS parameters|Inconsistent progression sequence)/;
/** Junk between the last scan and EOI: every pixel was decoded. Common in camera files. */
const HARMLESS_JPEG_WARNING = /extraneous bytes before marker 0xd9/i;

/** APP1 bytes (EXIF, XMP) above which they are cut out before decoding (see jpegInput). */
const MAX_JPEG_APP1_BYTES = MIB;

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

/**
 * Refuses, from the frame header, what this MozJPEG build cannot decode, with a clear reason
 * instead of libjpeg's. It is mozjpeg 3.3.1 (libjpeg-turbo 1.5 era) built without arithmetic
 * decoding: Huffman baseline, extended and progressive JPEGs with 8-bit samples, in greyscale
 * or YCbCr/RGB. Its RGBA output cannot be produced from CMYK/YCCK (4 components).
 */
function checkJpegSupported(header: JpegHeader): void {
  if (header.sof !== 0xc0 && header.sof !== 0xc1 && header.sof !== 0xc2) {
    throw invalid(`Unsupported JPEG: ${SOF_NAMES[header.sof] ?? 'unknown'} (SOF marker 0xFF${hex(header.sof)}).`);
  }
  if (header.precision !== 8) throw invalid(`Unsupported JPEG: ${header.precision}-bit samples (only 8-bit).`);
  const count = header.components.length;
  if (count === 4) throw invalid('Unsupported JPEG: CMYK/YCCK (4 colour components); send an RGB or greyscale JPEG.');
  if (count !== 1 && count !== 3) throw invalid(`Unsupported JPEG: ${count} colour components.`);
  if (header.components.some((c) => c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4)) {
    throw invalid('Corrupt JPEG: sampling factors must be 1..4.');
  }
}

/**
 * The bytes handed to the decoder: the file itself, unless its APP1 segments (which this decoder
 * build copies into its heap, up to 64 KB each, any number of them) exceed 1 MiB, in which case
 * a copy without them (we already read the orientation). Also a same-realm Uint8Array, which
 * embind requires (it checks `instanceof`).
 */
function jpegInput(bytes: Uint8Array, header: JpegHeader): Uint8Array {
  const app1Bytes = header.app1.reduce((sum, [start, end]) => sum + end - start, 0);
  if (app1Bytes > MAX_JPEG_APP1_BYTES) {
    const out = new Uint8Array(bytes.length - app1Bytes);
    let from = 0;
    let to = 0;
    for (const [start, end] of header.app1) {
      out.set(bytes.subarray(from, start), to);
      to += start - from;
      from = end;
    }
    out.set(bytes.subarray(from), to);
    return out;
  }
  return bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
}

async function decodeJpegRgba(bytes: Uint8Array, header: JpegHeader): Promise<RgbaImage> {
  checkJpegSupported(header);
  const runtime = await acquireJpegRuntime();
  const input = jpegInput(bytes, header);
  runtime.messages.length = 0;
  let decoded: DecodedImageData | null;
  try {
    decoded = withEmscriptenGlobals(false, () => runtime.module.decode(input, false));
  } catch (error) {
    retireJpegRuntime(runtime);
    throw invalid(`Could not decode the JPEG: ${runtime.messages[0] ?? describeError(error)}`);
  }
  // libjpeg only prints its first warning; corrupt or truncated data shows up there.
  const warning = runtime.messages.find((m) => CORRUPT_JPEG_WARNING.test(m) && !HARMLESS_JPEG_WARNING.test(m));
  if (warning !== undefined) throw invalid(`Could not decode the JPEG: ${warning}`);
  if (decoded === null) throw invalid('Could not decode the JPEG.');
  if (decoded.width !== header.width || decoded.height !== header.height) {
    throw invalid('The JPEG header is inconsistent.');
  }
  // The pixels were already copied out of the wasm heap into their own buffer by the decoder
  // (`new Uint8ClampedArray(typed_memory_view)`): view that buffer as bytes, no second copy.
  return applyOrientation(
    { width: decoded.width, height: decoded.height, data: plainRgba(decoded.data, decoded.width * decoded.height * 4) },
    header.orientation,
  );
}

/** The same bytes as a plain, exactly sized, 0-offset Uint8Array (copies only if needed). */
function plainRgba(data: Uint8ClampedArray, length: number): Uint8Array {
  if (data.length !== length) throw invalid('The decoder returned the wrong number of pixels.');
  if (data.byteOffset === 0 && data.buffer.byteLength === length && data.buffer instanceof ArrayBuffer) {
    return new Uint8Array(data.buffer, 0, length);
  }
  return new Uint8Array(data);
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
    for (let x = 0, i = row; x < outW; x++, i += stepX) dst[o++] = src[i] as number;
  }
  return { width: outW, height: outH, data: out };
}
