/**
 * shared/crop/detector-box.ts, CenterNet's one decoding: the same best box as the eval's decoding
 * before it moved there (kept below, verbatim, as the reference) on fixed detection rows, ties,
 * NaN classes and boxes outside the input; the crop box's minimum score, pad and square; and the
 * install step's detector entry (files byte-identical to the package's weights).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bestDetection, CENTERNET_ID, DEFAULT_DETECTOR_CROP, detectorCropBox, type Detection } from '../../shared/crop/detector-box.ts';
import { humanModelsDir, MANIFEST_FILE, PUBLIC_DIR } from '../../scripts/prepare-models.ts';
import type { Manifest } from '../../shared/model/manifest.ts';

/** scripts/eval/detector.ts's decoding before this module (session 11), verbatim but for its input. */
function oldBest(rows: number[][]): Detection | null {
  const INPUT_SIZE = 512;
  let best: number[] | undefined;
  for (const r of rows) if (Number.isFinite(r[4]) && !Number.isNaN(r[5]) && (!best || (r[4] as number) > (best[4] as number))) best = r;
  if (!best) return null;
  const [x1, y1, x2, y2, score, cocoClass] = best as [number, number, number, number, number, number];
  const clamp = (v: number): number => Math.min(1, Math.max(0, v / INPUT_SIZE));
  const [left, top, right, bottom] = [clamp(x1), clamp(y1), clamp(x2), clamp(y2)];
  return { box: { x: left, y: top, width: Math.max(0, right - left), height: Math.max(0, bottom - top) }, score, cocoClass };
}

/** A seeded pseudo-random generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('bestDetection', () => {
  it('gives the eval\'s old decoding on 200 sets of 100 float32 rows (outside boxes, NaN classes and scores, ties)', () => {
    for (let seed = 0; seed < 200; seed++) {
      const r = random(seed);
      const flat = new Float32Array(600);
      for (let i = 0; i < 100; i++) {
        const x = r() * 600 - 40;
        const y = r() * 600 - 40;
        flat.set([x, y, x + r() * 300, y + r() * 300, seed % 7 === 0 ? 0.5 : r(), seed % 5 === 0 && i % 3 === 0 ? NaN : Math.floor(r() * 80)], i * 6);
        if (seed % 11 === 0 && i % 4 === 0) flat[i * 6 + 4] = NaN;
      }
      const rows = Array.from({ length: 100 }, (_, i) => Array.from(flat.subarray(i * 6, i * 6 + 6)));
      expect(bestDetection(flat)).toEqual(oldBest(rows));
    }
    expect(bestDetection(new Float32Array(0))).toBeNull();
    expect(bestDetection(Float32Array.of(1, 2, 3, 4, NaN, 1))).toBeNull();
  });
});

describe('detectorCropBox', () => {
  const d: Detection = { box: { x: 0.5, y: 0.25, width: 0.2, height: 0.1 }, score: 0.6, cocoClass: 3 };
  it('leaves the whole frame below the minimum score, for no detection and an empty box', () => {
    expect(detectorCropBox({ ...d, score: 0.29 }, DEFAULT_DETECTOR_CROP, { width: 10, height: 10 })).toEqual({ x: 0, y: 0, width: 1, height: 1 });
    expect(detectorCropBox(null, DEFAULT_DETECTOR_CROP, { width: 10, height: 10 })).toEqual({ x: 0, y: 0, width: 1, height: 1 });
    expect(detectorCropBox({ ...d, box: { ...d.box, width: 0 } }, DEFAULT_DETECTOR_CROP, { width: 10, height: 10 })).toEqual({ x: 0, y: 0, width: 1, height: 1 });
  });
  it('pads the box and makes it square in the photo\'s pixels (the eval\'s box on a square scene)', () => {
    const square = detectorCropBox(d, { minScore: 0.3, pad: 0.15 }, { width: 100, height: 100 });
    expect(square.width).toBeCloseTo(0.2 * 1.3, 9);
    expect(square.height).toBeCloseTo(0.2 * 1.3, 9);
    expect(square.x + square.width / 2).toBeCloseTo(0.6, 9);
    const wide = detectorCropBox(d, { minScore: 0.3, pad: 0 }, { width: 200, height: 100 });
    expect(wide.width * 200).toBeCloseTo(wide.height * 100, 6);
  });
});

describe('the install step serves CenterNet', () => {
  it('lists it in the manifest, its weights the package\'s bytes, each file under 25 MiB', () => {
    const manifest = JSON.parse(readFileSync(join(PUBLIC_DIR, MANIFEST_FILE), 'utf8')) as Manifest;
    const detector = manifest.detectors?.find((x) => x.id === CENTERNET_ID);
    expect(detector?.inputSize).toEqual([512, 512]);
    const weights = readFileSync(join(PUBLIC_DIR, detector?.files[1]?.path ?? ''));
    expect(weights.equals(readFileSync(join(humanModelsDir(), 'centernet.bin')))).toBe(true);
    expect(Math.max(...(detector?.files ?? []).map((f) => f.bytes))).toBeLessThan(25 * 1024 * 1024);
  });
});
