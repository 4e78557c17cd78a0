/**
 * The one preprocessing function against TF.js's own resizeBilinear (what the backbone was trained
 * with), plus alpha compositing, scaling and bad input.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { preprocess } from '../../shared/image/preprocess.ts';
import { MOBILENET_V2 } from '../../scripts/model-spec.ts';

const spec = MOBILENET_V2.input;

function randomRgba(w: number, h: number, seed: number, opaque = true): Uint8Array {
  let s = seed;
  const next = () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 8) & 255;
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < data.length; i++) data[i] = opaque && i % 4 === 3 ? 255 : next();
  return data;
}

describe('preprocess', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  for (const [w, h] of [[640, 480], [37, 300], [224, 224], [1, 1], [3000, 17]] as const) {
    it(`matches tf.image.resizeBilinear(alignCorners) for an opaque ${w}x${h} image`, async () => {
      const data = randomRgba(w, h, w * 31 + h);
      const ours = preprocess({ width: w, height: h, data }, spec);
      expect(ours.length).toBe(224 * 224 * 3);
      const ref = tf.tidy(() => {
        const rgb = tf.cast(tf.slice(tf.tensor3d(data, [h, w, 4], 'int32'), [0, 0, 0], [h, w, 3]), 'float32');
        return tf.div(tf.image.resizeBilinear(rgb as tf.Tensor3D, [224, 224], true), 255);
      });
      const want = await ref.data();
      ref.dispose();
      let max = 0;
      want.forEach((v, i) => (max = Math.max(max, Math.abs(v - (ours[i] as number)))));
      expect(max).toBeLessThan(1e-5);
    });
  }

  it('composites transparency onto white before resizing', () => {
    // 2x1: left pixel fully transparent black, right pixel half-transparent red.
    const data = new Uint8Array([0, 0, 0, 0, 255, 0, 0, 128]);
    const out = preprocess({ width: 2, height: 1, data }, spec);
    // Leftmost output column is the left pixel: white.
    expect(Array.from(out.slice(0, 3))).toEqual([1, 1, 1]);
    // Rightmost output column is the right pixel: red over white at alpha 128/255.
    const a = 128 / 255;
    const last = out.slice(223 * 3, 224 * 3);
    expect(last[0]).toBeCloseTo(1, 6);
    expect(last[1]).toBeCloseTo(1 - a, 6);
    expect(last[2]).toBeCloseTo(1 - a, 6);
  });

  it('scales to [0, 1]', () => {
    const white = new Uint8Array(8 * 8 * 4).fill(255);
    const black = new Uint8Array(8 * 8 * 4).map((_, i) => (i % 4 === 3 ? 255 : 0));
    expect(preprocess({ width: 8, height: 8, data: white }, spec).every((v) => v === 1)).toBe(true);
    expect(preprocess({ width: 8, height: 8, data: black }, spec).every((v) => v === 0)).toBe(true);
  });

  it('rejects empty or inconsistent pixel buffers', () => {
    expect(() => preprocess({ width: 0, height: 5, data: new Uint8Array(0) }, spec)).toThrow(/no pixels/);
    expect(() => preprocess({ width: 2, height: 2, data: new Uint8Array(15) }, spec)).toThrow(/expected 16 RGBA bytes/);
  });
});
