/**
 * A photo's key: what says "the same photo" when a corrected photo is predicted again
 * (client/lib/corrections.ts). SHA-256 (hex) of a Blob's or File's bytes, so the same file gives
 * the same key however it was decoded; for a frame, canvas, image element or ImageData, of its
 * pixels (RGBA as read) with their size, so the same frozen frame gives the same key. Computed on
 * the device with Web Crypto; it never leaves it.
 */
import type { RgbaPixels } from '../../shared/image/preprocess.ts';
import { sha256Hex } from '../../shared/util/hash.ts';
import { pixelsOf, type EmbedSource } from './embed.ts';

/**
 * The key of `source` (module comment). `pixels`: the source's pixels when the caller has read
 * them already (they are not read again); ignored for a Blob, whose bytes are the key.
 */
export async function photoKeyOf(source: EmbedSource, pixels?: RgbaPixels): Promise<string> {
  if (source instanceof Blob) return sha256Hex(new Uint8Array(await source.arrayBuffer()));
  return pixelsKey(pixels ?? (await pixelsOf(source)));
}

/** The key of decoded pixels: their size and the SHA-256 of their RGBA bytes, hashed together. */
export async function pixelsKey(pixels: RgbaPixels): Promise<string> {
  const bytes = new Uint8Array(pixels.data.buffer, pixels.data.byteOffset, pixels.data.byteLength);
  return sha256Hex(`${pixels.width}x${pixels.height}:${await sha256Hex(bytes)}`);
}
