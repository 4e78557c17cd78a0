/**
 * Where a crop box goes on a Teach thumbnail (client/app/crop-box.ts): plain arithmetic, no DOM,
 * so unit tests run it in Node.
 */
import type { Box } from '../../shared/crop/box.ts';

/**
 * `box` (fractions of a `width` x `height` photo) in percent of a square thumbnail that shows the
 * photo with `object-fit: cover` (the central square of its longer side), clipped to the thumbnail.
 */
export function boxInThumb(box: Box, width: number, height: number): { left: number; top: number; width: number; height: number } {
  const aspect = width > 0 && height > 0 ? width / height : 1;
  // The visible part of the photo, in its fractions: the centred square.
  const sx = aspect > 1 ? 1 / aspect : 1;
  const sy = aspect < 1 ? aspect : 1;
  const x0 = (1 - sx) / 2;
  const y0 = (1 - sy) / 2;
  const clip = (a: number, b: number): [number, number] => [Math.max(0, a), Math.min(100, b)];
  const [left, right] = clip(((box.x - x0) / sx) * 100, ((box.x + box.width - x0) / sx) * 100);
  const [top, bottom] = clip(((box.y - y0) / sy) * 100, ((box.y + box.height - y0) / sy) * 100);
  return { left, top, width: Math.max(0, right - left), height: Math.max(0, bottom - top) };
}

/**
 * `box` moved by `dx`, `dy` (fractions of the square thumbnail's side, as a drag or an arrow key
 * moves it on screen) in a `width` x `height` photo shown as {@link boxInThumb} shows it: the same
 * distance on the photo, its size kept, stopped at the photo's edges.
 */
export function moveBox(box: Box, dx: number, dy: number, width: number, height: number): Box {
  const aspect = width > 0 && height > 0 ? width / height : 1;
  // The thumbnail's side is this fraction of the photo's width (and height).
  const sx = aspect > 1 ? 1 / aspect : 1;
  const sy = aspect < 1 ? aspect : 1;
  const clamp = (v: number, size: number): number => Math.min(Math.max(v, 0), Math.max(0, 1 - size));
  return { x: clamp(box.x + dx * sx, box.width), y: clamp(box.y + dy * sy, box.height), width: box.width, height: box.height };
}

/** The smallest box a resize leaves: this fraction of the photo's shorter side. */
export const MIN_BOX_SIDE = 0.1;

/**
 * `box` (square in the photo's pixels, as found boxes are) grown by `d` of the thumbnail's side
 * (negative: shrunk), kept square, between {@link MIN_BOX_SIDE} and the photo's shorter side, and
 * inside the photo: about its centre (`centre`, the keys) or with its top-left corner still
 * (`corner`, dragging its bottom-right corner).
 */
export function resizeBox(box: Box, d: number, width: number, height: number, anchor: 'centre' | 'corner'): Box {
  const w0 = width > 0 ? width : 1;
  const h0 = height > 0 ? height : 1;
  // The thumbnail shows the photo's central square: its side is the shorter side, in pixels.
  const short = Math.min(w0, h0);
  const side = Math.min(Math.max(box.width * w0 + d * short, MIN_BOX_SIDE * short), short);
  const w = side / w0;
  const h = side / h0;
  const x = anchor === 'centre' ? box.x + box.width / 2 - w / 2 : box.x;
  const y = anchor === 'centre' ? box.y + box.height / 2 - h / 2 : box.y;
  return { x: Math.min(Math.max(x, 0), 1 - w), y: Math.min(Math.max(y, 0), 1 - h), width: w, height: h };
}

/**
 * `box` with its centre put at (`fx`, `fy`), fractions of the square thumbnail (a tap on it),
 * in a `width` x `height` photo shown as {@link boxInThumb} shows it: its size kept, inside the photo.
 */
export function centreBoxAt(box: Box, fx: number, fy: number, width: number, height: number): Box {
  const aspect = width > 0 && height > 0 ? width / height : 1;
  const sx = aspect > 1 ? 1 / aspect : 1;
  const sy = aspect < 1 ? aspect : 1;
  // The tap in the photo's fractions: the thumbnail is the photo's centred square.
  const px = (1 - sx) / 2 + fx * sx;
  const py = (1 - sy) / 2 + fy * sy;
  const clamp = (v: number, size: number): number => Math.min(Math.max(v, 0), Math.max(0, 1 - size));
  return { x: clamp(px - box.width / 2, box.width), y: clamp(py - box.height / 2, box.height), width: box.width, height: box.height };
}

/**
 * Where `box` is, in words for a screen reader (the Teach screen says it after a change): its
 * centre in whole percent across and down the `width` x `height` photo, and its side in percent of
 * the photo's shorter side.
 */
export function boxWords(box: Box, width: number, height: number): string {
  const w0 = width > 0 ? width : 1;
  const h0 = height > 0 ? height : 1;
  const pct = (v: number): number => Math.round(v * 100);
  return `centre ${pct(box.x + box.width / 2)}% across, ${pct(box.y + box.height / 2)}% down, size ${pct((box.width * w0) / Math.min(w0, h0))}%`;
}
