/**
 * The app's icons, drawn at build time (no binary files in the repository): a lens — a ring and a
 * dot — in white on the app's green. `maskable` icons keep the drawing inside the central 80 %
 * safe zone and fill the whole square, as Android's adaptive icons crop them.
 */
import { encode } from 'fast-png';

const GREEN = [0x1d, 0x4e, 0x3f] as const;

/** One icon file: where it goes under the site root, and its PNG bytes. */
export interface IconFile {
  fileName: string;
  bytes: Uint8Array;
}

function draw(size: number, maskable: boolean): Uint8Array {
  const data = new Uint8Array(size * size * 4);
  const c = size / 2;
  const scale = maskable ? 0.8 : 1;
  const corner = maskable ? 0 : size * 0.2;
  const ringOuter = size * 0.34 * scale;
  const ringInner = size * 0.24 * scale;
  const dot = size * 0.1 * scale;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      // 4x4 supersampling for smooth edges.
      let bg = 0;
      let white = 0;
      for (let sy = 0; sy < 4; sy++) {
        for (let sx = 0; sx < 4; sx++) {
          const px = x + (sx + 0.5) / 4;
          const py = y + (sy + 0.5) / 4;
          const dx = Math.max(corner - px, 0, px - (size - corner));
          const dy = Math.max(corner - py, 0, py - (size - corner));
          if (corner && dx * dx + dy * dy > corner * corner) continue;
          bg++;
          const r = Math.hypot(px - c, py - c);
          if ((r <= ringOuter && r >= ringInner) || Math.hypot(px - c - size * 0.02, py - c + size * 0.02) <= dot) white++;
        }
      }
      const i = (y * size + x) * 4;
      const w = bg ? white / bg : 0;
      data[i] = Math.round(GREEN[0] + (255 - GREEN[0]) * w);
      data[i + 1] = Math.round(GREEN[1] + (255 - GREEN[1]) * w);
      data[i + 2] = Math.round(GREEN[2] + (255 - GREEN[2]) * w);
      data[i + 3] = Math.round((255 * bg) / 16);
    }
  }
  return encode({ width: size, height: size, data, channels: 4, depth: 8 });
}

/** Every icon the app's manifest and pages name. */
export function appIcons(): IconFile[] {
  return [
    { fileName: 'icons/icon-192.png', bytes: draw(192, false) },
    { fileName: 'icons/icon-512.png', bytes: draw(512, false) },
    { fileName: 'icons/maskable-512.png', bytes: draw(512, true) },
    { fileName: 'icons/apple-touch-icon.png', bytes: draw(180, true) },
  ];
}
