/**
 * The clutter set's design knobs (issue 17, scripts/eval/clutter.ts SceneDesign): the texture's
 * contrast and the distractors change what is drawn, never the draws, so a scene of another design
 * has the same object box, the object's pixels are untouched, and the same seed gives the same scene.
 */
import { describe, expect, it } from 'vitest';
import { clutteredScene, clutterScene, DEFAULT_DESIGN, type SceneParts } from '../../scripts/eval/clutter.ts';
import { emojiDataset } from '../../scripts/eval/datasets.ts';
import { withContrast } from '../../scripts/eval/clutter-textures.ts';
import type { RgbaPixels } from '../../shared/image/preprocess.ts';

/** A plain opaque image. */
function plain(side: number, rgb: [number, number, number]): RgbaPixels {
  const data = new Uint8Array(side * side * 4);
  for (let i = 0; i < side * side; i++) data.set([...rgb, 255], i * 4);
  return { width: side, height: side, data };
}

/** A pixel's RGB. */
const rgbAt = (p: RgbaPixels, x: number, y: number): number[] => Array.from(p.data.subarray((y * p.width + x) * 4, (y * p.width + x) * 4 + 3));

/** A fully masked red object and two green distractors: the parts of a small scene. */
const parts = (): SceneParts => ({ object: plain(8, [255, 0, 0]), mask: new Uint8Array(64).fill(255), distractors: [plain(8, [0, 255, 0]), plain(6, [0, 250, 0])], gray: false });

/** Whether (x, y) of a `side` px scene is inside its box. */
const inBox = (box: { x: number; y: number; width: number; height: number }, side: number, x: number, y: number): boolean =>
  x >= Math.round(box.x * side) && x < Math.round((box.x + box.width) * side) && y >= Math.round(box.y * side) && y < Math.round((box.y + box.height) * side);

describe('clutter scene design', () => {
  it('contrast 0 without distractors gives a flat background around the object', () => {
    for (let seed = 0; seed < 20; seed++) {
      const { pixels, box } = clutterScene(parts(), seed, 64, { contrast: 0, distractors: false });
      const outside: string[] = [];
      for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) if (!inBox(box, 64, x, y)) outside.push(rgbAt(pixels, x, y).join(','));
      expect(new Set(outside).size).toBe(1);
    }
  });

  it('keeps the object box and its masked pixels across designs', () => {
    for (let seed = 0; seed < 20; seed++) {
      const a = clutterScene(parts(), seed, 64);
      for (const design of [{ contrast: 1, distractors: true }, { contrast: 0, distractors: false }, { contrast: 1, distractors: false }]) {
        const b = clutterScene(parts(), seed, 64, design);
        expect(b.box).toEqual(a.box);
        // The object is opaque red on top of everything: its pixels are the same in every design.
        for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) if (inBox(a.box, 64, x, y)) expect(rgbAt(b.pixels, x, y)).toEqual([255, 0, 0]);
      }
    }
  });

  it('the default design is the published set, and the same seed and design give the same bytes', () => {
    const a = clutterScene(parts(), 5, 64);
    expect(Buffer.from(clutterScene(parts(), 5, 64, DEFAULT_DESIGN).pixels.data).equals(Buffer.from(a.pixels.data))).toBe(true);
    expect(DEFAULT_DESIGN.contrast).toBe(0.3);
    const design = { contrast: 1, distractors: true };
    const b = clutterScene(parts(), 5, 64, design);
    expect(Buffer.from(clutterScene(parts(), 5, 64, design).pixels.data).equals(Buffer.from(b.pixels.data))).toBe(true);
    expect(Buffer.from(b.pixels.data).equals(Buffer.from(a.pixels.data))).toBe(false);
  });

  it('without distractors pastes no distractor, with them some', () => {
    const green = (p: RgbaPixels): number => {
      let n = 0;
      for (let o = 0; o < p.data.length; o += 4) if (p.data[o] === 0 && (p.data[o + 1] as number) >= 250 && p.data[o + 2] === 0) n++;
      return n;
    };
    let withSome = 0;
    for (let seed = 0; seed < 20; seed++) {
      expect(green(clutterScene(parts(), seed, 64, { contrast: 0, distractors: false }).pixels)).toBe(0);
      if (green(clutterScene(parts(), seed, 64, { contrast: 0, distractors: true }).pixels) > 0) withSome++;
    }
    expect(withSome).toBeGreaterThan(15);
  });
});

describe('the clean design', () => {
  it('is the clean protocol\'s image itself, its box the whole frame', async () => {
    const image = emojiDataset().split(0, [10]).test[0];
    if (!image) throw new Error('no emoji');
    const scene = await clutteredScene(image, 'emoji', { ...DEFAULT_DESIGN, clean: true });
    const pixels = await image.pixels();
    expect(scene.box).toEqual({ x: 0, y: 0, width: 1, height: 1 });
    expect(Buffer.from(scene.pixels.data).equals(Buffer.from(pixels.data))).toBe(true);
  });
});

describe('withContrast', () => {
  it('scales each channel\'s distance from its mean, 1 leaving the image as it is', () => {
    const image = (): RgbaPixels => ({ width: 2, height: 1, data: Uint8Array.from([100, 0, 50, 255, 200, 40, 50, 255]) });
    const same = image();
    withContrast(same, 1);
    expect(Array.from(same.data)).toEqual(Array.from(image().data));
    const half = image();
    withContrast(half, 0.5);
    expect(Array.from(half.data)).toEqual([125, 10, 50, 255, 175, 30, 50, 255]);
    const flat = image();
    withContrast(flat, 0);
    expect(Array.from(flat.data)).toEqual([150, 20, 50, 255, 150, 20, 50, 255]);
  });
});
