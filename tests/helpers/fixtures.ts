/**
 * Real test images, made at test time (Node only): emoji PNGs from the npm package
 * emoji-datasource-google (Apache-2.0) and a 640x480 JPEG "photo" composed from them.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeImage } from '../../shared/image/decode.ts';
import { makeJpeg, withExifOrientation } from './images.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const EMOJI_DIR = join(ROOT, 'node_modules', 'emoji-datasource-google', 'img', 'google', '64');

/** A 64x64 RGBA emoji PNG by its unified code, e.g. `1f436` (dog face). */
export function emojiPng(code: string): Uint8Array {
  return new Uint8Array(readFileSync(join(EMOJI_DIR, `${code}.png`)));
}

/**
 * A width x height scene: a sky-to-grass gradient with emoji pasted on it at scale, composited
 * by alpha: a photo-like JPEG input with edges, flat areas and colour.
 */
export async function scenePixels(width: number, height: number, codes: string[]): Promise<Uint8Array> {
  const out = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const t = y / height;
      out[i] = Math.round(120 + 60 * t + 20 * Math.sin(x / 37));
      out[i + 1] = Math.round(170 + 40 * t);
      out[i + 2] = Math.round(235 - 160 * t);
      out[i + 3] = 255;
    }
  }
  for (const [k, code] of codes.entries()) {
    // PNG: decodes without initImageDecoder.
    const emoji = await decodeImage(emojiPng(code));
    const scale = 3;
    const ox = 40 + k * 200;
    const oy = 80 + (k % 2) * 120;
    for (let y = 0; y < emoji.height * scale && oy + y < height; y++) {
      for (let x = 0; x < emoji.width * scale && ox + x < width; x++) {
        const s = (Math.floor(y / scale) * emoji.width + Math.floor(x / scale)) * 4;
        const d = ((oy + y) * width + ox + x) * 4;
        const a = (emoji.data[s + 3] as number) / 255;
        for (let c = 0; c < 3; c++) out[d + c] = Math.round((emoji.data[s + c] as number) * a + (out[d + c] as number) * (1 - a));
      }
    }
  }
  return out;
}

export interface Fixture {
  name: string;
  type: 'image/png' | 'image/jpeg';
  bytes: Uint8Array;
}

/** The images the Worker and Node paths are compared on. */
export async function fixtures(): Promise<Fixture[]> {
  const photo = makeJpeg(640, 480, 90, await scenePixels(640, 480, ['1f436', '1f34e', '1f697']));
  return [
    { name: 'dog.png', type: 'image/png', bytes: emojiPng('1f436') },
    { name: 'rocket.png', type: 'image/png', bytes: emojiPng('1f680') },
    { name: 'scene.jpg', type: 'image/jpeg', bytes: photo },
    { name: 'scene-rotated.jpg', type: 'image/jpeg', bytes: withExifOrientation(photo, 6, true) },
  ];
}
