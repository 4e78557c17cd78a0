/**
 * Embeddings in the browser, through the one shared pipeline: pixels -> `preprocess`
 * (shared/image/preprocess.ts, inside `Backbone.embed`) -> backbone.
 *
 * Where the pixels come from:
 * - **Blob / File** (PNG, JPEG): the same decoder the Worker uses (shared/image/decode.ts, JPEG
 *   through MozJPEG compiled here from the package's `.wasm`), EXIF orientation applied the same
 *   way, so a file gives the same embedding here as at the edge's `/v1/embed`. Other formats the
 *   browser can decode (WebP, GIF, AVIF, HEIC on Safari) go through `createImageBitmap`, which
 *   also applies EXIF orientation; they have no edge counterpart to match.
 * - **ImageData**: as is.
 * - **ImageBitmap, HTMLImageElement, HTMLCanvasElement, OffscreenCanvas, HTMLVideoElement**
 *   (camera frames): drawn at their natural size onto a canvas and read back with
 *   `getImageData`. Semi-transparent pixels may differ by a rounding step from the decoder path
 *   (canvases store premultiplied alpha).
 */
import type { RgbaPixels } from '../../shared/image/preprocess.ts';
import {
  DEFAULT_DECODE_LIMITS,
  decodeImage,
  initImageDecoder,
  readImageInfo,
  sniffImageFormat,
  type DecodeLimits,
} from '../../shared/image/decode.ts';
import { UPLOAD_MAX_SIDE } from '../../shared/limits.ts';
import mozjpegWasmUrl from '@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm?url';
import type { Backbone } from '../../shared/model/backbone.ts';
import { currentBackbone, withBackboneLease } from './current-backbone.ts';
import { compileWasm } from './wasm.ts';

/** Everything `embed` accepts. */
export type EmbedSource =
  | Blob
  | ImageData
  | ImageBitmap
  | HTMLImageElement
  | HTMLCanvasElement
  | OffscreenCanvas
  | HTMLVideoElement;

/** Options for {@link embed}. */
export interface EmbedOptions {
  /** The backbone to use (default: the one `loadModels` loaded). */
  backbone?: Backbone;
  /** Decoder limits for Blob sources (default: the shared decoder's, 16 MP). */
  limits?: DecodeLimits;
}

let decoderReady: Promise<void> | undefined;

/**
 * Compiles the MozJPEG decoder (once per page) and hands it to the shared decoder. `embed` calls
 * it; call it earlier to take the compile off the first photo's path.
 */
export function initDecoder(): Promise<void> {
  if (!decoderReady) {
    decoderReady = compileWasm(mozjpegWasmUrl).then((module) => initImageDecoder(module));
    decoderReady.catch(() => {
      decoderReady = undefined;
    });
  }
  return decoderReady;
}

/**
 * The embedding of `source` (the backbone's full output, e.g. 2,816 floats). The backbone is
 * leased from the start (a switch meanwhile disposes it only after this).
 */
export async function embed(source: EmbedSource, options: EmbedOptions = {}): Promise<Float32Array> {
  const backbone = options.backbone ?? currentBackbone();
  return withBackboneLease(backbone, async () => backbone.embed(await pixelsOf(source, options.limits)));
}

/** RGBA pixels of any source `embed` accepts (EXIF orientation applied). */
export async function pixelsOf(source: EmbedSource, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Promise<RgbaPixels> {
  if (source instanceof Blob) return decodeBlob(source, limits);
  if (source instanceof ImageData) return { width: source.width, height: source.height, data: source.data };
  return drawnPixels(source);
}

/** Decodes a PNG or JPEG with the shared decoder; other formats with the browser's decoder. */
async function decodeBlob(blob: Blob, limits: DecodeLimits): Promise<RgbaPixels> {
  return decodeBytes(new Uint8Array(await blob.arrayBuffer()), () => blob, limits);
}

/**
 * RGBA pixels of an encoded image held as bytes (a stored photo copy, client/lib/db.ts
 * `PhotoBytes`), decoded exactly as a Blob of the same bytes and `type` would be.
 */
export function pixelsOfBytes(bytes: Uint8Array<ArrayBuffer>, type: string, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Promise<RgbaPixels> {
  return decodeBytes(bytes, () => new Blob([bytes], { type }), limits);
}

/**
 * PNG and JPEG bytes through the shared decoder; anything else through the browser's decoder,
 * given `asBlob` (a Blob of the same bytes, made only for that path).
 */
async function decodeBytes(bytes: Uint8Array<ArrayBuffer>, asBlob: () => Blob, limits: DecodeLimits): Promise<RgbaPixels> {
  const format = sniffImageFormat(bytes);
  if (format === 'png' || format === 'jpeg') {
    await initDecoder();
    return decodeImage(bytes, limits);
  }
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(asBlob(), { imageOrientation: 'from-image' });
  } catch {
    // Not decodable here either: let the shared decoder phrase the error (unsupported format).
    return decodeImage(bytes, limits);
  }
  try {
    return await drawnPixels(bitmap);
  } finally {
    bitmap.close();
  }
}

type Drawable = Exclude<EmbedSource, Blob | ImageData>;

/** Natural size of a drawable source, waiting for images and videos that are not ready yet. */
async function naturalSize(source: Drawable): Promise<{ width: number; height: number }> {
  if (typeof HTMLImageElement !== 'undefined' && source instanceof HTMLImageElement) {
    if (!source.complete || source.naturalWidth === 0) await source.decode();
    return { width: source.naturalWidth, height: source.naturalHeight };
  }
  if (typeof HTMLVideoElement !== 'undefined' && source instanceof HTMLVideoElement) {
    if (source.readyState < HTMLMediaElement.HAVE_CURRENT_DATA) {
      await new Promise<void>((resolve, reject) => {
        source.addEventListener('loadeddata', () => resolve(), { once: true });
        source.addEventListener('error', () => reject(new Error('the video could not be loaded')), { once: true });
      });
    }
    return { width: source.videoWidth, height: source.videoHeight };
  }
  return { width: source.width, height: source.height };
}

/** Draws the source at its natural size and reads the pixels back. */
async function drawnPixels(source: Drawable): Promise<RgbaPixels> {
  const { width, height } = await naturalSize(source);
  if (!(width > 0 && height > 0)) throw new RangeError(`the image has no pixels (${width}x${height})`);
  const ctx = scratchContext(width, height);
  ctx.clearRect(0, 0, width, height);
  ctx.drawImage(source, 0, 0, width, height);
  try {
    const image = ctx.getImageData(0, 0, width, height);
    return { width, height, data: image.data };
  } catch (err) {
    if (err instanceof DOMException && err.name === 'SecurityError') {
      throw new Error('cannot read the pixels of a cross-origin image served without CORS headers', { cause: err });
    }
    throw err;
  }
}

type Context2d = OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D;

let scratch: { canvas: OffscreenCanvas | HTMLCanvasElement; ctx: Context2d } | null = null;

/**
 * A readable (`willReadFrequently`) 2D context of exactly the given size, reused between calls
 * (camera frames come one after another at the same size).
 */
function scratchContext(width: number, height: number): Context2d {
  scratch ??= createScratch(width, height);
  // Resizing clears the canvas and resets the context state.
  if (scratch.canvas.width !== width) scratch.canvas.width = width;
  if (scratch.canvas.height !== height) scratch.canvas.height = height;
  return scratch.ctx;
}

function createScratch(width: number, height: number): NonNullable<typeof scratch> {
  const settings: CanvasRenderingContext2DSettings = { willReadFrequently: true, alpha: true };
  if (typeof OffscreenCanvas !== 'undefined') {
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d', settings);
    if (ctx) return { canvas, ctx };
  }
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', settings);
  if (!ctx) throw new Error('no 2D canvas context available');
  return { canvas, ctx };
}

/**
 * The photo to send to the edge: a PNG or JPEG whose longer side is at most `maxSide` is returned
 * unchanged (so the edge decodes exactly these bytes); anything larger, or in another format, is
 * decoded with EXIF orientation applied (by the browser, which also scales while decoding; by the
 * shared decoder if the browser cannot), scaled to fit `maxSide` and re-encoded as JPEG (quality
 * 0.9, transparency on white, as the backbone sees it).
 */
export async function downscaleForUpload(blob: Blob, maxSide: number = UPLOAD_MAX_SIDE): Promise<Blob> {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  const format = sniffImageFormat(bytes);
  if (format === 'png' || format === 'jpeg') {
    const info = readImageInfo(bytes);
    if (Math.max(info.width, info.height) <= maxSide) return blob;
  }
  let full: ImageBitmap;
  try {
    full = await createImageBitmap(blob, { imageOrientation: 'from-image' });
  } catch {
    const pixels = await decodeBlob(blob, DEFAULT_DECODE_LIMITS);
    const data = new Uint8ClampedArray(pixels.data.buffer as ArrayBuffer, pixels.data.byteOffset, pixels.data.length);
    full = await createImageBitmap(new ImageData(data, pixels.width, pixels.height));
  }
  const scale = Math.min(1, maxSide / Math.max(full.width, full.height));
  const width = Math.max(1, Math.round(full.width * scale));
  const height = Math.max(1, Math.round(full.height * scale));
  let scaled: ImageBitmap;
  try {
    scaled = await createImageBitmap(full, { resizeWidth: width, resizeHeight: height, resizeQuality: 'high' });
  } finally {
    full.close();
  }
  try {
    return await encodeJpeg(scaled, width, height, 0.9);
  } finally {
    scaled.close();
  }
}

/** JPEG-encodes a bitmap (drawn at `width` x `height`) on a white background. */
export async function encodeJpeg(bitmap: ImageBitmap, width: number, height: number, quality: number): Promise<Blob> {
  if (typeof OffscreenCanvas !== 'undefined') {
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d');
    if (ctx) {
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, width, height);
      ctx.drawImage(bitmap, 0, 0);
      return canvas.convertToBlob({ type: 'image/jpeg', quality });
    }
  }
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2D canvas context available');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(bitmap, 0, 0);
  return new Promise<Blob>((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('JPEG encoding failed'))), 'image/jpeg', quality),
  );
}
