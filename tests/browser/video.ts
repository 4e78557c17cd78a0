/**
 * A video for Chromium's fake camera (`--use-file-for-fake-video-capture`), built from real
 * images: Y4M (uncompressed YUV 4:2:0), each image drawn on white, scaled to fit the frame and
 * held for a number of frames. Chromium loops the file.
 */
import { writeFileSync } from 'node:fs';
import { decode } from 'fast-png';

/** Options for {@link writeY4m}. */
export interface Y4mOptions {
  width?: number;
  height?: number;
  fps?: number;
  /** Frames each image stays on screen. */
  framesPerImage?: number;
}

/** RGB on white from a decoded PNG (any channel count, 8 bit). */
function rgbOnWhite(png: ReturnType<typeof decode>): { width: number; height: number; rgb: Uint8Array } {
  const { width, height, channels } = png;
  const data = png.data;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const px = (k: number): number => Number(data[i * channels + k] ?? 0);
    const gray = channels <= 2;
    const r = px(0);
    const g = gray ? r : px(1);
    const b = gray ? r : px(2);
    const a = channels === 4 ? px(3) / 255 : channels === 2 ? px(1) / 255 : 1;
    rgb[i * 3] = Math.round(r * a + 255 * (1 - a));
    rgb[i * 3 + 1] = Math.round(g * a + 255 * (1 - a));
    rgb[i * 3 + 2] = Math.round(b * a + 255 * (1 - a));
  }
  return { width, height, rgb };
}

/** One frame's Y, U and V planes (BT.601 full range, as `C420jpeg` declares) of a PNG drawn centred. */
function frame(pngBytes: Uint8Array, width: number, height: number): Uint8Array {
  const img = rgbOnWhite(decode(pngBytes));
  const scale = Math.min(width / img.width, height / img.height) * 0.8;
  const w = Math.round(img.width * scale);
  const hgt = Math.round(img.height * scale);
  const x0 = Math.floor((width - w) / 2);
  const y0 = Math.floor((height - hgt) / 2);
  const rgbAt = (x: number, y: number): [number, number, number] => {
    const sx = x - x0;
    const sy = y - y0;
    if (sx < 0 || sy < 0 || sx >= w || sy >= hgt) return [255, 255, 255];
    const ix = Math.min(img.width - 1, Math.floor(sx / scale));
    const iy = Math.min(img.height - 1, Math.floor(sy / scale));
    const i = (iy * img.width + ix) * 3;
    return [img.rgb[i] as number, img.rgb[i + 1] as number, img.rgb[i + 2] as number];
  };
  const out = new Uint8Array(width * height * 1.5);
  const u0 = width * height;
  const v0 = u0 + (width / 2) * (height / 2);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = rgbAt(x, y);
      out[y * width + x] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    }
  }
  for (let y = 0; y < height / 2; y++) {
    for (let x = 0; x < width / 2; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]] as const) {
        const p = rgbAt(2 * x + dx, 2 * y + dy);
        r += p[0] / 4;
        g += p[1] / 4;
        b += p[2] / 4;
      }
      const clamp = (v: number): number => Math.max(0, Math.min(255, Math.round(v)));
      out[u0 + y * (width / 2) + x] = clamp(128 - 0.168736 * r - 0.331264 * g + 0.5 * b);
      out[v0 + y * (width / 2) + x] = clamp(128 + 0.5 * r - 0.418688 * g - 0.081312 * b);
    }
  }
  return out;
}

/** Writes a Y4M file showing `pngs` in turn; returns the number of frames. */
export function writeY4m(path: string, pngs: readonly Uint8Array[], options: Y4mOptions = {}): number {
  const { width = 320, height = 240, fps = 10, framesPerImage = 10 } = options;
  const parts: Uint8Array[] = [new TextEncoder().encode(`YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg\n`)];
  const header = new TextEncoder().encode('FRAME\n');
  for (const png of pngs) {
    const planes = frame(png, width, height);
    for (let i = 0; i < framesPerImage; i++) parts.push(header, planes);
  }
  writeFileSync(path, Buffer.concat(parts));
  return pngs.length * framesPerImage;
}
