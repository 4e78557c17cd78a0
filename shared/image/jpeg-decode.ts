/**
 * JPEG pixel decoding with MozJPEG (libjpeg-turbo based) compiled to WebAssembly, from
 * @jsquash/jpeg 1.6.0. It starts from a precompiled `WebAssembly.Module` handed to
 * {@link initImageDecoder}, like the TF.js backend in `wasm-backend.ts`, because workerd forbids
 * compiling wasm from bytes. ~10x faster than the pure-JS jpeg-js it replaced, and its working
 * memory lives in its own linear memory instead of ~30-40 bytes/pixel of JS arrays. Orientation is
 * NOT applied here: shared/image/decode.ts applies it once, for every format.
 */
// The emscripten factory of the decoder (ES module, `export default`). It was built for web and
// worker environments only (no Node.js code path). Its `.wasm` sibling is loaded by the caller.
import * as mozjpegFactoryNamespace from '@jsquash/jpeg/codec/dec/mozjpeg_dec.js';
import { resolveEmscriptenFactory, wasmRuntime, withEmscriptenGlobals, type WasmImports, type WasmInstance } from '../model/emscripten.ts';
import type { RgbaImage } from './header.ts';
import { MIB, describeError, hex, invalid, type JpegHeader } from './header.ts';

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
  return resolveEmscriptenFactory<MozJpegFactory>(mozjpegFactoryNamespace, '@jsquash/jpeg codec/dec/mozjpeg_dec.js');
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
 * Runs `fn` with the globals the decoder's glue looks at arranged so that it behaves the same
 * everywhere and leaves no trace. The glue was built for web and worker environments only (no
 * Node.js path), but when it thinks it runs in Node (`process.release.name === 'node'`: Node, and
 * workerd with nodejs_compat) or in Cloudflare Workers it patches globals: a global `ImageData`
 * polyfill and `self.location = { href: "" }`. Hence, during the factory call, `process` hidden
 * and `self.location` lent; and always an `ImageData` (the decoder constructs its result through
 * embind's `val::global("ImageData")`): {@link PlainImageData} where the platform has none.
 */
function withMozJpegGlobals<T>(factoryCall: boolean, fn: () => T): T {
  return withEmscriptenGlobals({ hideProcess: factoryCall, selfLocation: factoryCall, imageData: PlainImageData }, fn);
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
export class JpegDecoderNotReady extends Error {
  constructor() {
    super(
      'JPEG decoding needs the MozJPEG decoder: call initImageDecoder(module) first, with the precompiled ' +
        '@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm (see worker/inference/model-runtime.ts, scripts/node-backend.ts).',
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
            withMozJpegGlobals(true, () => receive(instance, wasm));
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
      ready = withMozJpegGlobals(true, () => factory(settings));
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

/** Decodes a JPEG whose header was parsed (and checked against the limits) into RGBA, as stored (orientation not applied). */
export async function decodeJpegRgba(bytes: Uint8Array, header: JpegHeader): Promise<RgbaImage> {
  checkJpegSupported(header);
  const runtime = await acquireJpegRuntime();
  const input = jpegInput(bytes, header);
  runtime.messages.length = 0;
  let decoded: DecodedImageData | null;
  try {
    decoded = withMozJpegGlobals(false, () => runtime.module.decode(input, false));
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
  return { width: decoded.width, height: decoded.height, data: plainRgba(decoded.data, decoded.width * decoded.height * 4) };
}

/** The same bytes as a plain, exactly sized, 0-offset Uint8Array (copies only if needed). */
function plainRgba(data: Uint8ClampedArray, length: number): Uint8Array {
  if (data.length !== length) throw invalid('The decoder returned the wrong number of pixels.');
  if (data.byteOffset === 0 && data.buffer.byteLength === length && data.buffer instanceof ArrayBuffer) {
    return new Uint8Array(data.buffer, 0, length);
  }
  return new Uint8Array(data);
}
