/**
 * PNG/JPEG -> 8-bit RGBA, identical in the Worker (workerd), the browser and Node: plain typed
 * arrays only, no Buffer, fs, DOM or Worker globals. This file is the entry point: it reads the
 * header (shared/image/header.ts), refuses what is too large or unsupported, hands the pixels to
 * the format's decoder (shared/image/png-decode.ts, shared/image/jpeg-decode.ts) and applies EXIF orientation.
 *
 * Untrusted input rules:
 * - Dimensions are read from the header and checked against the pixel limit before anything
 *   is decoded or allocated (`image_too_large`).
 * - A JPEG's scans are counted (a linear marker walk) and checked, alone and times the pixels,
 *   before decoding: each scan is a pass over the whole image (`image_too_complex`).
 * - PNG image data is inflated under a byte budget; other zlib streams are never inflated.
 * - JPEG variants MozJPEG cannot decode are refused from the frame header with a clear reason.
 *   Working memory is bounded by the pixel limit and the input size (shared/limits.ts).
 * - Everything a decoder throws becomes `invalid_image`; only TannerinError leaves this module
 *   (plus a plain Error for the programming mistake of decoding a JPEG before initialisation).
 */
import { TannerinError } from '../errors.ts';
import { describeError, invalid, parseHeader, type RgbaImage } from './header.ts';
import { JpegDecoderNotReady, decodeJpegRgba } from './jpeg-decode.ts';
import { LIMITS } from '../limits.ts';
import type { InputSpec } from '../model/manifest.ts';
import { decodePngRgba } from './png-decode.ts';
import { preprocess } from './preprocess.ts';

export { countJpegScans, readImageInfo, sniffImageFormat, type ImageFormat, type ImageInfo, type RgbaImage } from './header.ts';
export { imageDecoderInfo, initImageDecoder, type ImageDecoderInfo } from './jpeg-decode.ts';

export interface DecodeLimits {
  /** Largest width*height accepted; checked against the header before decoding. */
  maxPixels: number;
  /** Most scans (SOS segments) a JPEG may have; counted before decoding. */
  maxJpegScans: number;
  /** Most width*height*scans a JPEG may have: the decoder's passes over the image. */
  maxJpegScanPixels: number;
}

/** The edge's limits (shared/limits.ts): what one Worker request may cost. */
export const EDGE_DECODE_LIMITS: DecodeLimits = Object.freeze({
  maxPixels: LIMITS.maxPixels,
  maxJpegScans: LIMITS.maxJpegScans,
  maxJpegScanPixels: LIMITS.maxJpegScanPixels,
});

/** Photos a device decodes: 16 MP covers 4:3 phone photos up to 4618×3464. */
const DEVICE_MAX_PIXELS = 16_000_000;

/** On the device: the edge's scan rules (as many passes over the image), over larger photos. */
export const DEFAULT_DECODE_LIMITS: DecodeLimits = Object.freeze({
  maxPixels: DEVICE_MAX_PIXELS,
  maxJpegScans: LIMITS.maxJpegScans,
  maxJpegScanPixels: (LIMITS.maxJpegScanPixels / LIMITS.maxPixels) * DEVICE_MAX_PIXELS,
});


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
  if (header.format === 'jpeg') checkJpegWork(header.width, header.height, header.scans, limits);
  try {
    if (header.format === 'png') return decodePngRgba(bytes, header);
    return applyOrientation(await decodeJpegRgba(bytes, header), header.orientation);
  } catch (error) {
    if (error instanceof TannerinError || error instanceof JpegDecoderNotReady) throw error;
    throw invalid(`Could not decode the ${header.format === 'png' ? 'PNG' : 'JPEG'}: ${describeError(error)}`);
  }
}

/**
 * An encoded image as the backbone's input: {@link decodeImage} under `limits`, then `preprocess`
 * (shared/image/preprocess.ts) for `spec`. The one call the Worker makes for a request's image, so
 * that its walk enters the image code once. (preprocess.ts itself never imports the decoders: the
 * browser imports it without the JPEG decoder's WASM.)
 */
export async function decodeToModelInput(bytes: Uint8Array, spec: InputSpec, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Promise<Float32Array> {
  return preprocess(await decodeImage(bytes, limits), spec);
}

/**
 * Refuses a JPEG whose decoding work (a pass over the image per scan) is out of proportion to
 * its size, before the decoder starts: `image_too_complex`.
 */
function checkJpegWork(width: number, height: number, scans: number, limits: DecodeLimits): void {
  if (scans > limits.maxJpegScans) {
    throw new TannerinError(
      'image_too_complex',
      `The JPEG has ${scans} scans; the limit is ${limits.maxJpegScans}. Re-save it (any encoder's progressive or baseline output is far below this).`,
    );
  }
  if (width * height * scans > limits.maxJpegScanPixels) {
    throw new TannerinError(
      'image_too_complex',
      `The JPEG has ${scans} scans over ${width}x${height} pixels (${megapixels(width * height * scans)} M pixel-passes); ` +
        `the limit is ${megapixels(limits.maxJpegScanPixels)} M. Re-save it as a baseline JPEG, or with fewer progressive scans.`,
    );
  }
}

function megapixels(pixels: number): string {
  return (pixels / 1e6).toFixed(1);
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
