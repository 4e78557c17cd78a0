/**
 * What an image file says about itself, read without decoding pixels: its format (by magic
 * number), dimensions and EXIF orientation. Used to refuse oversized or unsupported images before
 * any decoding (shared/image/decode.ts), and by the PNG and JPEG decoders for their headers.
 */
import { TannerinError } from '../errors.ts';

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

export const MIB = 1024 * 1024;

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

export function invalid(message: string): TannerinError {
  return new TannerinError('invalid_image', message);
}

/** Bounds-checked big-endian reads that fail as invalid_image instead of returning undefined. */
export function readU8(bytes: Uint8Array, at: number, what: string): number {
  const value = bytes[at];
  if (value === undefined) throw invalid(`The image is truncated (${what}).`);
  return value;
}

export function readU16(bytes: Uint8Array, at: number, what: string): number {
  return (readU8(bytes, at, what) << 8) | readU8(bytes, at + 1, what);
}

export function readU32(bytes: Uint8Array, at: number, what: string): number {
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

export function crc32(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = (CRC_TABLE[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export type PngColorType = 0 | 2 | 3 | 4 | 6;

export interface PngHeader {
  format: 'png';
  width: number;
  height: number;
  bitDepth: number;
  colorType: PngColorType;
  interlaced: boolean;
}

/** Samples per pixel for each PNG colour type. */
export const PNG_CHANNELS: Record<PngColorType, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

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

export interface JpegComponent {
  h: number;
  v: number;
}

export interface JpegHeader {
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
  /**
   * Scans (SOS segments) before EOI. A progressive decoder passes over every block of the image
   * once per scan, so its work is pixels x scans, whatever the bytes: a scan can be ~12 bytes.
   */
  scans: number;
}

/** SOFn markers: C0..CF except C4 (DHT), C8 (JPG, reserved) and CC (DAC). */
function isSof(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/**
 * Walks the marker segments from SOI to SOS: takes the first SOF's frame header and the first
 * EXIF APP1's orientation. From the first SOS on, only counts the scans ({@link countJpegScans}).
 */
function parseJpegHeader(bytes: Uint8Array): JpegHeader {
  let offset = 2; // past SOI
  let frame: Omit<JpegHeader, 'orientation' | 'app1' | 'scans'> | null = null;
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
      return { ...frame, orientation: orientation ?? 1, app1, scans: countJpegScans(bytes, start) };
    }
    offset = end;
  }
}

/**
 * Counts the SOS markers from `from` (the first SOS's 0xFF) to EOI or the end of the bytes, the way
 * libjpeg finds markers: entropy-coded data is skipped up to the next 0xFF that is not a stuffed
 * 0xFF00, a restart marker or fill; garbage between segments is skipped the same way (libjpeg
 * warns and goes on). Linear in the input (native `indexOf`), no pixel is decoded. A segment
 * whose length runs past the end stops the count: the decoder refuses that file anyway.
 */
export function countJpegScans(bytes: Uint8Array, from: number): number {
  let scans = 0;
  let at = from;
  for (;;) {
    // `at` is at a 0xFF; fill bytes (0xFF 0xFF ...) may precede the marker byte.
    let m = at + 1;
    while (bytes[m] === 0xff) m++;
    const marker = bytes[m];
    if (marker === undefined || marker === 0xd9) return scans; // end of data, EOI
    let next = m + 1;
    // Standalone markers (TEM, RSTn, a stray SOI; 0x00 cannot start a marker) carry no length.
    if (marker !== 0x01 && !(marker >= 0xd0 && marker <= 0xd8) && marker !== 0x00) {
      if (m + 2 >= bytes.length) return scans;
      const length = ((bytes[m + 1] as number) << 8) | (bytes[m + 2] as number);
      if (length < 2 || m + 1 + length > bytes.length) return scans;
      next = m + 1 + length;
      if (marker === 0xda) scans++;
    }
    // To the next real marker: skip entropy-coded data (after SOS) or garbage.
    for (;;) {
      const ff = bytes.indexOf(0xff, next);
      if (ff < 0) return scans;
      let after = ff + 1;
      while (bytes[after] === 0xff) after++;
      const byte = bytes[after];
      if (byte === undefined) return scans;
      if (byte === 0x00 || (byte >= 0xd0 && byte <= 0xd7)) {
        next = after + 1; // a stuffed 0xFF or a restart marker: still inside the scan's data
        continue;
      }
      at = after - 1;
      break;
    }
  }
}

function parseSof(bytes: Uint8Array, sof: number, at: number, end: number): Omit<JpegHeader, 'orientation' | 'app1' | 'scans'> {
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

export function parseHeader(bytes: Uint8Array): PngHeader | JpegHeader {
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

/** A whole byte as two hex digits, for messages. */
export function hex(byte: number): string {
  return byte.toString(16).toUpperCase().padStart(2, '0');
}

/** A thrown value as a short message. */
export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message || 'unknown error').slice(0, 200);
}
