/**
 * Test page: exposes the browser library on `window.tannerin` for the Playwright-driven tests in
 * tests/browser, plus a few helpers that take and return plain data (base64 strings, number
 * arrays), which is what `page.evaluate` can pass.
 */
import * as tf from '@tensorflow/tfjs-core';
import { base64ToBytes } from '../../shared/base64.ts';
import * as lib from '../lib/index.ts';

/** How a test hands the page an image: the file's bytes, base64. */
interface ImageArg {
  base64: string;
  type: string;
}

/** Source kinds the harness can build from an image file. */
type SourceKind = 'blob' | 'file' | 'image' | 'bitmap' | 'canvas' | 'offscreen' | 'imagedata' | 'video';

const blobOf = (img: ImageArg): Blob => new Blob([base64ToBytes(img.base64) as Uint8Array<ArrayBuffer>], { type: img.type });

/** Builds a source of the given kind showing the image. */
async function sourceOf(kind: SourceKind, img: ImageArg): Promise<{ source: lib.EmbedSource; cleanup: () => void }> {
  const blob = blobOf(img);
  const none = () => undefined;
  switch (kind) {
    case 'blob':
      return { source: blob, cleanup: none };
    case 'file':
      return { source: new File([blob], 'photo', { type: img.type }), cleanup: none };
    case 'image': {
      const url = URL.createObjectURL(blob);
      const el = new Image();
      el.src = url;
      await el.decode();
      return { source: el, cleanup: () => URL.revokeObjectURL(url) };
    }
    case 'bitmap': {
      const bitmap = await createImageBitmap(blob);
      return { source: bitmap, cleanup: () => bitmap.close() };
    }
    case 'canvas':
    case 'offscreen':
    case 'imagedata': {
      const bitmap = await createImageBitmap(blob);
      const canvas = document.createElement('canvas');
      canvas.width = bitmap.width;
      canvas.height = bitmap.height;
      const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
      ctx.drawImage(bitmap, 0, 0);
      bitmap.close();
      if (kind === 'canvas') return { source: canvas, cleanup: none };
      if (kind === 'imagedata') return { source: ctx.getImageData(0, 0, canvas.width, canvas.height), cleanup: none };
      const off = new OffscreenCanvas(canvas.width, canvas.height);
      (off.getContext('2d') as OffscreenCanvasRenderingContext2D).drawImage(canvas, 0, 0);
      return { source: off, cleanup: none };
    }
    case 'video': {
      // A camera stand-in: a canvas stream played in a <video>.
      const bitmap = await createImageBitmap(blob);
      const canvas = document.createElement('canvas');
      canvas.width = bitmap.width;
      canvas.height = bitmap.height;
      const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
      ctx.drawImage(bitmap, 0, 0);
      const stream = canvas.captureStream(10);
      const video = document.createElement('video');
      video.muted = true;
      video.srcObject = stream;
      await video.play();
      // Keep frames coming until one has been decoded.
      for (let i = 0; i < 50 && video.readyState < HTMLMediaElement.HAVE_CURRENT_DATA; i++) {
        ctx.drawImage(bitmap, 0, 0);
        await new Promise((r) => setTimeout(r, 20));
      }
      bitmap.close();
      return {
        source: video,
        cleanup: () => {
          video.pause();
          for (const t of stream.getTracks()) t.stop();
        },
      };
    }
  }
}

/** Median of numbers. */
function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** What the database and channel callbacks reported (for the multi-tab test). */
const events: string[] = [];
const messages: lib.TannerinMessage[] = [];

const harness = {
  ...lib,
  /** Opens the database with callbacks that record `version-change`, `blocked`, `terminated`. */
  async openDbWatched(): Promise<number> {
    const db = await lib.openTannerinDb({
      onVersionChange: () => events.push('version-change'),
      onBlocked: () => events.push('blocked'),
      onTerminated: () => events.push('terminated'),
    });
    return db.version;
  },
  /** Opens the database at a higher version with plain IndexedDB, as a newer app would. */
  openNewerVersion(version: number): Promise<{ version: number; stores: string[] }> {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(lib.DB_NAME, version);
      req.onblocked = () => events.push('newer-open-blocked');
      req.onsuccess = () => {
        const db = req.result;
        const result = { version: db.version, stores: [...db.objectStoreNames] };
        db.close();
        resolve(result);
      };
      req.onerror = () => reject(req.error ?? new Error('open failed'));
    });
  },
  /** Starts recording broadcast messages from other tabs. */
  listen(): void {
    lib.onBroadcast((m) => messages.push(m));
  },
  events: () => [...events],
  messages: () => [...messages],
  /** Embeds an image file passed as base64, through a source of the given kind. */
  async embedImage(img: ImageArg, kind: SourceKind = 'blob'): Promise<number[]> {
    const { source, cleanup } = await sourceOf(kind, img);
    try {
      return Array.from(await lib.embed(source));
    } finally {
      cleanup();
    }
  },
  /** Loads the models from this origin; returns the summary a test checks (no tensors). */
  async load(apiBase: string = location.origin) {
    const progress: [number, number][] = [];
    const t0 = performance.now();
    const m = await lib.loadModels(apiBase, { onProgress: (done, total) => progress.push([done, total]) });
    return {
      ms: performance.now() - t0,
      backbone: m.backbone.ref,
      manifestSource: m.manifestSource,
      bytesDownloaded: m.bytesDownloaded,
      bytesFromStore: m.bytesFromStore,
      filesRemoved: m.filesRemoved,
      storageError: m.storageError ?? null,
      defaultHeads: m.defaultHeads.map((h) => ({ id: h.id, classes: h.classes, weightBytes: h.weightData.length })),
      manifestBytes: [...m.manifest.backbone.files, ...m.manifest.heads.flatMap((h) => h.files)].reduce((a, f) => a + f.bytes, 0),
      backboneBytes: m.manifest.backbone.files.reduce((a, f) => a + f.bytes, 0),
      progress: { calls: progress.length, last: progress.at(-1) ?? null, monotonic: progress.every((p, i) => i === 0 || p[0] >= (progress[i - 1] as [number, number])[0]) },
    };
  },
  /** Model files stored in IndexedDB: path, size and backbone of each. */
  async storedModelFiles() {
    const db = await lib.openTannerinDb();
    return (await db.getAll('modelFiles')).map((r) => ({ path: r.path, sha256: r.sha256, bytes: r.bytes.length, backbone: r.backbone }));
  },
  /** Median forward time (batch 1) of the current backbone on a fixed input, after warm-up. */
  async forwardMs(runs = 15, warmup = 3): Promise<{ median: number; runs: number[] }> {
    const backbone = lib.currentBackbone();
    const { width, height } = backbone.manifest.normalization;
    const input = new Float32Array(width * height * 3).map((_, i) => (i % 251) / 250);
    for (let i = 0; i < warmup; i++) await backbone.embedPreprocessed(input);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await backbone.embedPreprocessed(input);
      times.push(performance.now() - t0);
    }
    return { median: median(times), runs: times };
  },
  /** Embeds the same image `n` times; tensor counts before and after (and after the first). */
  async embedRepeatedly(img: ImageArg, n: number): Promise<{ before: number; afterFirst: number; after: number; bytesBefore: number; bytesAfter: number }> {
    const blob = blobOf(img);
    const pixels = await lib.pixelsOf(blob);
    const imageData = new ImageData(new Uint8ClampedArray(pixels.data), pixels.width, pixels.height);
    // Warm up both paths (first calls create the decoder and the kernels' scratch).
    await lib.embed(blob);
    await lib.embed(imageData);
    const before = tf.memory().numTensors;
    const bytesBefore = tf.memory().numBytes;
    await lib.embed(blob);
    const afterFirst = tf.memory().numTensors;
    for (let i = 1; i < n; i++) await lib.embed(i % 2 ? blob : imageData);
    return { before, afterFirst, after: tf.memory().numTensors, bytesBefore, bytesAfter: tf.memory().numBytes };
  },
  /** Re-encodes an image in the browser (e.g. as `image/webp`), returned as an ImageArg. */
  async reencode(img: ImageArg, type: string): Promise<ImageArg> {
    const bitmap = await createImageBitmap(blobOf(img));
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    (canvas.getContext('2d') as OffscreenCanvasRenderingContext2D).drawImage(bitmap, 0, 0);
    bitmap.close();
    const out = await canvas.convertToBlob({ type, quality: 1 });
    const bytes = new Uint8Array(await out.arrayBuffer());
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return { base64: btoa(binary), type: out.type };
  },
  /** `tf.memory()`, as plain data. */
  memory() {
    const m = tf.memory();
    return { numTensors: m.numTensors, numBytes: m.numBytes };
  },
  /** Resizes for upload; returns the result's type, size and bytes (base64 is not needed). */
  async downscale(img: ImageArg, maxSide?: number) {
    const input = blobOf(img);
    const out = await lib.downscaleForUpload(input, maxSide);
    const bitmap = await createImageBitmap(out);
    const result = { type: out.type, bytes: out.size, width: bitmap.width, height: bitmap.height, unchanged: out === input };
    bitmap.close();
    return result;
  },
};

declare global {
  interface Window {
    tannerin: typeof harness;
  }
}

window.tannerin = harness;
document.getElementById('log')?.append(`ready (crossOriginIsolated: ${String(globalThis.crossOriginIsolated)})\n`);
