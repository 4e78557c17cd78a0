/**
 * PNG pixel decoding: this project's own chunk walker, bounded zlib inflate (fflate) and scanline
 * unfilter, streaming row by row straight into the RGBA output: the filtered image data is never
 * held whole, and is inflated exactly once, under a byte budget derived from the header (a
 * decompression bomb stops after about a megabyte of surplus). Needs no initialisation.
 */
import { Unzlib } from 'fflate';
import type { RgbaImage } from './header.ts';
import { MIB, PNG_CHANNELS, crc32, invalid, readU32, type PngHeader } from './header.ts';

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
export function decodePngRgba(bytes: Uint8Array, header: PngHeader): RgbaImage {
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
