/**
 * Image decoding in Node through `shared/image/decode.ts` (the decoder the Worker runs): speed on
 * the edge benchmark's 640x480 inputs, and the memory one decode of the largest image the limits
 * allow costs. Run on its own with `npx tsx bench/decode-memory.ts [maxPixels]`.
 *
 * How memory is measured, without `--expose-gc`: every large decode runs in a fresh child process
 * (the same Node and loader flags as this one), so nothing earlier in the process has grown or
 * fragmented the heaps. The child reads the test file, initialises the decoder and decodes a
 * small image of the same format once (the MozJPEG instance exists with its initial 16 MiB heap,
 * and the code is warm), then records `process.memoryUsage()`, decodes the large file once and
 * records it again. Meanwhile a worker thread samples the process RSS every ~0.25 ms, which
 * catches the peak inside the synchronous decode. Reported per decode:
 * - RSS peak growth (everything: MozJPEG's heap pages it touched, JS typed arrays, V8 heap);
 * - `arrayBuffers` growth: bytes of JS ArrayBuffers allocated by the decode and not yet
 *   collected, i.e. an upper bound on the JS side's peak if no GC ran during the decode (the
 *   child counts GCs with a PerformanceObserver and reports them);
 * - growth of MozJPEG's linear memory (`imageDecoderInfo().jpegHeapBytes`), which V8 accounts in
 *   full and which never shrinks while the instance lives.
 * The `extra` figures are max(RSS peak growth, heap growth + arrayBuffers growth): what one
 * request adds on top of an isolate that has not decoded a large image before.
 *
 * Worst cases: the JPEG is 4:4:4 q95 noise (incompressible, so the file is as large as it gets)
 * with EXIF orientation 6 (the rotation needs a second RGBA buffer), both baseline (jpeg-js's
 * encoder, what the brief's earlier figures used) and progressive (MozJPEG's encoder: libjpeg
 * then keeps every DCT coefficient of the image, 6 bytes per pixel at 4:4:4); the larger result
 * is reported; and that progressive file padded with zeros after EOI up to the request body
 * limit, because MozJPEG copies the whole input into its heap (the adversarial case). The PNG is
 * 8-bit RGBA of a photo-like scene plus noise. Files larger than the request body limit could
 * never reach the decoder, so noise is toned down until the file fits.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { EDGE_DECODE_LIMITS, decodeImage, imageDecoderInfo } from '../shared/image/decode.ts';
import { LIMITS } from '../shared/limits.ts';
import { initNodeImageDecoder, packageFile } from '../scripts/node-backend.ts';
import { scenePixels } from '../tests/helpers/fixtures.ts';
import { concatBytes, makeJpeg, makePng, withExifOrientation } from '../tests/helpers/images.ts';
import { median, printTable, timeRuns, type Results } from './lib.ts';
import { benchJpeg } from './node-forward.ts';

const MIB = 1024 * 1024;
const THIS_FILE = fileURLToPath(import.meta.url);

/** What a child process reports about one decode. */
interface DecodeMemory {
  file: string;
  inputBytes: number;
  width: number;
  height: number;
  ms: number;
  rssPeakBytes: number;
  arrayBuffersBytes: number;
  heapBeforeBytes: number;
  heapAfterBytes: number;
  gcDuringDecode: number;
}

/** The 640x480 PNG counterpart of `benchJpeg()`: the same scene, 8-bit RGBA. */
export async function benchPng(): Promise<Uint8Array> {
  return makePng(640, 480, await scenePixels(640, 480, ['1f436', '1f34e', '1f697']));
}

/** The largest 4:3 (or nearly) image within `maxPixels`. */
function largestDimensions(maxPixels: number): [number, number] {
  const width = Math.floor(Math.sqrt((maxPixels * 4) / 3));
  return [width, Math.floor(maxPixels / width)];
}

/** Deterministic noise (xorshift32) of `amplitude` levels added to `base` (or to mid-grey). */
function noisy(width: number, height: number, amplitude: number, base?: Uint8Array): Uint8Array {
  const out = new Uint8Array(width * height * 4);
  let state = 0x2545f491;
  for (let i = 0; i < out.length; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    if (i % 4 === 3) {
      out[i] = 255;
      continue;
    }
    const centre = base ? (base[i] as number) : 128;
    out[i] = Math.max(0, Math.min(255, centre + ((state & 0xff) * amplitude) / 256 - amplitude / 2));
  }
  return out;
}

/**
 * MozJPEG's encoder from the same package, for a progressive 4:4:4 JPEG (jpeg-js only writes
 * baseline). Benchmark-only: the product never encodes.
 */
async function mozjpegProgressive444(width: number, height: number, rgba: Uint8Array, quality: number): Promise<Uint8Array> {
  const encodeModule = (await import('@jsquash/jpeg/encode.js')) as unknown as {
    init(module: WebAssembly.Module): Promise<void>;
    default(image: { data: Uint8ClampedArray; width: number; height: number }, options: Record<string, unknown>): Promise<ArrayBuffer>;
  };
  const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WebAssembly.Module> } }).WebAssembly;
  await encodeModule.init(await wasm.compile(await readFile(packageFile('@jsquash/jpeg', 'codec/enc/mozjpeg_enc.wasm'))));
  const data = new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.length);
  const out = await encodeModule.default(
    { data, width, height },
    { quality, progressive: true, baseline: false, optimize_coding: true, auto_subsample: false, chroma_subsample: 1 },
  );
  return new Uint8Array(out);
}

/** Encodes with `encode(amplitude)`, lowering the noise until the file fits the body limit. */
async function fitBodyLimit(encode: (amplitude: number) => Promise<Uint8Array> | Uint8Array): Promise<[Uint8Array, number]> {
  for (let amplitude = 256; ; amplitude = Math.floor(amplitude * 0.75)) {
    const bytes = await encode(amplitude);
    if (bytes.length <= LIMITS.maxBodyBytes || amplitude < 8) return [bytes, amplitude];
  }
}

/** Runs this file as a child that decodes `file` once and reports its memory figures. */
function measureInChild(file: string, format: 'jpeg' | 'png', maxPixels: number): Promise<DecodeMemory> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, THIS_FILE, '--child', format, file, String(maxPixels)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`decode child exited ${code}: ${err || out}`));
      else resolve(JSON.parse(line) as DecodeMemory);
    });
  });
}

/** Child side: one decode of `file`, measured as described at the top. */
async function childMain(format: 'jpeg' | 'png', file: string, maxPixels: number): Promise<void> {
  const bytes = new Uint8Array(readFileSync(file));
  if (format === 'jpeg') await initNodeImageDecoder();
  // Warm-up on a small image of the same format: creates the decoder instance, compiles the code.
  await decodeImage(format === 'jpeg' ? makeJpeg(64, 48) : makePng(64, 48));

  const shared = new SharedArrayBuffer(16);
  const control = new Int32Array(shared, 0, 2);
  const peak = new Float64Array(shared, 8, 1);
  const sampler = new Worker(
    `const { workerData } = require('node:worker_threads');
     const control = new Int32Array(workerData, 0, 2);
     const peak = new Float64Array(workerData, 8, 1);
     while (Atomics.load(control, 0) === 0) {
       const rss = process.memoryUsage.rss();
       if (rss > peak[0]) peak[0] = rss;
       Atomics.store(control, 1, 1);
       Atomics.wait(control, 0, 0, 0.25);
     }`,
    { eval: true, workerData: shared },
  );
  while (Atomics.load(control, 1) === 0) await new Promise((r) => setTimeout(r, 5));

  let gcs = 0;
  const observer = new PerformanceObserver((list) => (gcs += list.getEntries().length));
  observer.observe({ entryTypes: ['gc'] });
  await new Promise((r) => setTimeout(r, 50));
  const gcsBefore = gcs;
  const heapBefore = imageDecoderInfo().jpegHeapBytes;
  const before = process.memoryUsage();
  peak[0] = before.rss;
  const t0 = performance.now();
  const image = await decodeImage(bytes, { ...EDGE_DECODE_LIMITS, maxPixels });
  const ms = performance.now() - t0;
  const after = process.memoryUsage();
  const heapAfter = imageDecoderInfo().jpegHeapBytes;
  Atomics.store(control, 0, 1);
  Atomics.notify(control, 0);
  await sampler.terminate();
  // GC entries are delivered asynchronously.
  await new Promise((r) => setTimeout(r, 20));
  observer.disconnect();
  const result: DecodeMemory = {
    file,
    inputBytes: bytes.length,
    width: image.width,
    height: image.height,
    ms,
    rssPeakBytes: Math.max(peak[0] as number, after.rss) - before.rss,
    arrayBuffersBytes: after.arrayBuffers - before.arrayBuffers,
    heapBeforeBytes: heapBefore,
    heapAfterBytes: heapAfter,
    gcDuringDecode: gcs - gcsBefore,
  };
  console.log(JSON.stringify(result));
}

/** max(RSS peak growth, wasm heap growth + ArrayBuffer growth), in MiB. */
function extraMiB(m: DecodeMemory): number {
  return Math.max(m.rssPeakBytes, m.heapAfterBytes - m.heapBeforeBytes + m.arrayBuffersBytes) / MIB;
}

function describe(m: DecodeMemory): string {
  const mb = (b: number) => (b / MIB).toFixed(1);
  return (
    `${m.width}x${m.height} output, ${mb(m.inputBytes)} MiB file, ${m.ms.toFixed(0)} ms: RSS peak +${mb(m.rssPeakBytes)}, ` +
    `ArrayBuffers +${mb(m.arrayBuffersBytes)}, wasm heap ${mb(m.heapBeforeBytes)}->${mb(m.heapAfterBytes)} MiB` +
    (m.gcDuringDecode > 0 ? `, ${m.gcDuringDecode} GC during decode` : '')
  );
}

/**
 * Decode speed (640x480 JPEG q90 and PNG, in process) and the memory cost of the largest
 * allowed JPEG and PNG (child processes), for `maxPixels` (default: the edge limit).
 */
export async function benchDecode(maxPixels: number = LIMITS.maxPixels): Promise<Results> {
  await initNodeImageDecoder();
  const jpeg = benchJpeg();
  const png = await benchPng();
  const jpegMs = median(await timeRuns(30, () => decodeImage(jpeg), 5));
  const pngMs = median(await timeRuns(30, () => decodeImage(png), 5));

  const [width, height] = largestDimensions(maxPixels);
  const scene = await scenePixels(width, height, ['1f436', '1f34e', '1f697']);
  const dir = mkdtempSync(join(tmpdir(), 'tannerin-decode-'));
  try {
    const [baseline, baselineNoise] = await fitBodyLimit((a) => withExifOrientation(makeJpeg(width, height, 95, noisy(width, height, a)), 6));
    const [progressive, progressiveNoise] = await fitBodyLimit(async (a) =>
      withExifOrientation(await mozjpegProgressive444(width, height, noisy(width, height, a), 95), 6),
    );
    const [bigPng, pngNoise] = await fitBodyLimit((a) => makePng(width, height, noisy(width, height, Math.min(a, 64), scene)));
    const padded = concatBytes(progressive, new Uint8Array(Math.max(0, LIMITS.maxBodyBytes - progressive.length)));
    const files = { baseline, progressive, padded, png: bigPng };
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
    // Sequential: parallel children would disturb each other's timings and RSS.
    const baselineMem = await measureInChild(join(dir, 'baseline'), 'jpeg', maxPixels);
    const progressiveMem = await measureInChild(join(dir, 'progressive'), 'jpeg', maxPixels);
    const paddedMem = await measureInChild(join(dir, 'padded'), 'jpeg', maxPixels);
    const pngMem = await measureInChild(join(dir, 'png'), 'png', maxPixels);
    const jpegs = [baselineMem, progressiveMem, paddedMem];
    const worstJpeg = jpegs.reduce((a, b) => (extraMiB(b) > extraMiB(a) ? b : a));
    return {
      'node.decode_jpeg_640x480_ms': {
        value: jpegMs,
        unit: 'ms',
        note: 'median of 30, MozJPEG (WASM) via shared/image-decode, the edge bench JPEG (q90)',
      },
      'node.decode_png_640x480_ms': {
        value: pngMs,
        unit: 'ms',
        note: `median of 30, own inflate+unfilter via shared/image-decode, the same scene as 8-bit RGBA PNG (${png.length} B)`,
      },
      'decode.max_jpeg_extra_mb': {
        value: extraMiB(worstJpeg),
        unit: 'MiB',
        note:
          `largest allowed JPEG (${width}x${height}), fresh child process, max(RSS peak, wasm heap growth + ArrayBuffers); ` +
          `baseline 4:4:4 q95 noise ${baselineNoise}/256, EXIF 6: ${describe(baselineMem)}; ` +
          `progressive 4:4:4 q95 noise ${progressiveNoise}/256, EXIF 6: ${describe(progressiveMem)}; ` +
          `the same padded to the ${LIMITS.maxBodyBytes} B body limit: ${describe(paddedMem)}`,
      },
      'decode.max_png_extra_mb': {
        value: extraMiB(pngMem),
        unit: 'MiB',
        note: `largest allowed PNG, 8-bit RGBA scene + noise ${pngNoise}/256, same method: ${describe(pngMem)}`,
      },
      'decode.jpeg_wasm_heap_mb': {
        value: Math.max(...jpegs.map((m) => m.heapAfterBytes)) / MIB,
        unit: 'MiB',
        note: 'MozJPEG linear memory after the worst of those JPEGs (starts at 16 MiB; never shrinks while the instance lives)',
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === THIS_FILE) {
  if (process.argv[2] === '--child') {
    await childMain(process.argv[3] as 'jpeg' | 'png', process.argv[4] as string, Number(process.argv[5]));
  } else {
    const maxPixels = process.argv[2] ? Number(process.argv[2]) : LIMITS.maxPixels;
    printTable(await benchDecode(maxPixels));
  }
  process.exit(0);
}
