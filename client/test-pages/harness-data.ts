/**
 * The harness page's plain-data helpers (client/test-pages/harness.ts): images handed over as
 * base64 turned into every kind of source the library takes, and records, photos and errors
 * turned back into data `page.evaluate` can return.
 */
import { base64ToBytes, bytesToBase64 } from '../../shared/util/base64.ts';
import * as lib from '../lib/internal.ts';

/** How a test hands the page an image: the file's bytes, base64. */
export interface ImageArg {
  base64: string;
  type: string;
}

/** Source kinds the harness can build from an image file. */
export type SourceKind = 'blob' | 'file' | 'image' | 'bitmap' | 'canvas' | 'offscreen' | 'imagedata' | 'video';

/** The image's bytes as a Blob of its media type. */
export const blobOf = (img: ImageArg): Blob => new Blob([base64ToBytes(img.base64) as Uint8Array<ArrayBuffer>], { type: img.type });

/** The decoded image drawn on a canvas of its size (the caller closes `bitmap`). */
async function drawn(blob: Blob): Promise<{ bitmap: ImageBitmap; canvas: HTMLCanvasElement; ctx: CanvasRenderingContext2D }> {
  const bitmap = await createImageBitmap(blob);
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  ctx.drawImage(bitmap, 0, 0);
  return { bitmap, canvas, ctx };
}

/** Builds a source of the given kind showing the image. */
export async function sourceOf(kind: SourceKind, img: ImageArg): Promise<{ source: lib.EmbedSource; cleanup: () => void }> {
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
      const { bitmap, canvas, ctx } = await drawn(blob);
      bitmap.close();
      if (kind === 'canvas') return { source: canvas, cleanup: none };
      if (kind === 'imagedata') return { source: ctx.getImageData(0, 0, canvas.width, canvas.height), cleanup: none };
      const off = new OffscreenCanvas(canvas.width, canvas.height);
      (off.getContext('2d') as OffscreenCanvasRenderingContext2D).drawImage(canvas, 0, 0);
      return { source: off, cleanup: none };
    }
    case 'video': {
      // A camera stand-in: a canvas stream played in a <video>.
      const { bitmap, canvas, ctx } = await drawn(blob);
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
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** A class to teach: its name and its photos. */
export interface ClassArg {
  name: string;
  images: ImageArg[];
}

/** An error as plain data. */
export const errorData = (err: unknown): { name: string; message: string; quota: boolean } => ({
  name: err instanceof Error || err instanceof DOMException ? err.name : 'Error',
  message: err instanceof Error || err instanceof DOMException ? err.message : String(err),
  quota: lib.isQuotaError(err),
});

/**
 * Summary of a stored example, in either stored shape, with its embeddings on one backbone (their
 * count and sizes, not their floats; no photo bytes).
 */
export const exampleSummary = (r: lib.StoredExampleRecord, embeddings: readonly Float32Array[]) => ({
  id: r.id,
  classId: r.classId,
  backbone: r.backbone,
  views: r.views,
  embeddings: embeddings.length,
  dims: embeddings.map((e) => e.length),
  photoStoredAs: r.photo instanceof Blob ? ('blob' as const) : ('bytes' as const),
  photoType: r.photo.type,
  photoBytes: r.photo instanceof Blob ? r.photo.size : r.photo.bytes.byteLength,
  width: r.width,
  height: r.height,
  augmentSeed: r.augmentSeed,
  pendingViews: r.pendingViews ?? 0,
});

/** A photo as plain data: how the record holds it, its media type and its bytes (base64). */
export interface PhotoData {
  id: string;
  storedAs: 'blob' | 'bytes';
  type: string;
  base64: string;
}

/** {@link PhotoData} of one record's photo (a Blob is read, outside any transaction). */
export async function photoData(id: string, photo: lib.StoredPhoto, storedAs: PhotoData['storedAs'] = photo instanceof Blob ? 'blob' : 'bytes'): Promise<PhotoData> {
  const { bytes, type } = await lib.readPhotoBytes(photo);
  return { id, storedAs, type, base64: bytesToBase64(bytes) };
}

/** Where in `value` a Blob (or File) sits, as paths under `path`; typed arrays are not walked. */
export function blobPaths(value: unknown, path: string, out: string[]): string[] {
  if (value instanceof Blob) out.push(path);
  else if (value instanceof Map) for (const [k, v] of value) blobPaths(v, `${path}.${String(k)}`, out);
  else if (value instanceof Set) [...value].forEach((v, i) => blobPaths(v, `${path}[${i}]`, out));
  else if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value) && !(value instanceof ArrayBuffer)) {
    for (const [k, v] of Object.entries(value)) blobPaths(v, `${path}.${k}`, out);
  }
  return out;
}
