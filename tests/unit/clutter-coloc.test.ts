/**
 * Co-localisation over the shots (scripts/eval/clutter-coloc.ts): on toy 7x7 maps where each
 * class's object is its own channel on a random 2x2 patch and a louder distractor channel lies at
 * random in every scene, the shots' windows and the test scenes' land on the objects.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { colocBox, colocShots } from '../../scripts/eval/clutter-coloc.ts';
import type { Box } from '../../shared/crop/box.ts';
import type { PartMap } from '../../shared/crop/class-box.ts';
import { mulberry32 } from '../../shared/util/random.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A toy scene of class `c`: noise, the class's channel at 3 on a 2x2 patch at `at`, channel 5 at 5 on one random cell. */
function scene(c: number, random: () => number): { parts: PartMap[]; at: [number, number] } {
  const map = Float32Array.from({ length: 49 * 8 }, () => random() * 0.2);
  const at: [number, number] = [Math.floor(random() * 6), Math.floor(random() * 6)];
  for (const [a, b] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) map[((at[0] + a) * 7 + at[1] + b) * 8 + c] = 3;
  map[(Math.floor(random() * 7) * 7 + Math.floor(random() * 7)) * 8 + 5] = 5;
  return { parts: [{ pooling: 'global-average', height: 7, width: 7, channels: 8, map }], at };
}

/** The box's top-left cell and side in cells. */
const cells = (b: Box): number[] => [Math.round(b.y * 7), Math.round(b.x * 7), Math.round(b.width * 7)];

describe('colocShots and colocBox', () => {
  it('frame each shot and each test scene on its object', () => {
    const random = mulberry32(1);
    const shots = Array.from({ length: 12 }, (_, n) => ({ ...scene(Math.floor(n / 4), random), label: Math.floor(n / 4) }));
    const { boxes, model } = colocShots(shots.map((s) => s.parts), shots.map((s) => s.label), 3, 7, [2, 3]);
    shots.forEach((s, i) => expect(cells(boxes[i] as Box)).toEqual([...s.at, 2]));
    for (let t = 0; t < 6; t++) {
      const s = scene(t % 3, random);
      expect(cells(colocBox(s.parts, model))).toEqual([...s.at, 2]);
    }
  });
});
