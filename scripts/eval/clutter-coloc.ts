/**
 * Co-localisation over the taught shots (issue 17 pt 3, after the class activation maps of
 * ./clutter-cam.ts proved blind: a head trained on whole cluttered scenes is near chance, and so is
 * where it looks). The object is what a class's shots have in common and the other classes' shots
 * do not; backgrounds and distractors (outside the ten classes) recur across every class alike.
 *
 * Candidates: the windows of 2x2 and 3x3 cells of the 7x7 grid (./clutter-cam.ts WINDOW_SIZES),
 * each described by the scene's own feature maps pooled over it (shared/crop/class-box.ts
 * windowEmbedding: no extra pass), less the mean of the shots' windows at the same position (so
 * what every scene has at a place, such as the maps' zero padding at the edges, cancels), each part
 * scaled to weigh alike, concatenated; similarity is the dot product (a window holding more of the
 * object scores higher than one touching it).
 * - Shots, round 0: a window's score is its mean best match (max over the other shot's windows)
 *   among the other shots of its class, less the same among the shots of other classes; the best
 *   window is the shot's. Rounds 1..: the same against the chosen windows only.
 * - Test scenes: a window's score is the largest over classes of its mean similarity to that
 *   class's chosen windows, less its mean similarity to all of them; the best window is the crop.
 */
import * as tf from '@tensorflow/tfjs-core';
import { cellWindows, windowBox, windowEmbedding, type CellWindow, type PartMap } from '../../shared/crop/class-box.ts';
import type { Box } from '../../shared/crop/box.ts';

/** Rounds of choosing the shots' windows again against the chosen ones. */
export const COLOC_ROUNDS = 1;

/** The windows and their descriptors' normalisation, fitted on the shots. */
export interface ColocModel {
  windows: CellWindow[];
  grid: number;
  /** Per part: offset, size, and the factor that makes its mean squared length over the shots' windows 1 / parts. */
  parts: { offset: number; size: number; scale: number }[];
  /** Per window position: the mean embedding of the shots' windows there (position artefacts, e.g. the maps' zero padding at the edges, cancel). */
  means: Float32Array[];
  /** The chosen windows' descriptors (one a shot) and their classes. */
  prototypes: Float32Array[];
  labels: number[];
  classes: number;
}

/**
 * A window's descriptor: less the mean at its position, each part times its `scale` (one number a
 * part for all windows, so each part weighs alike and a window with more of the object, a longer
 * vector, scores higher: a dot product, not a cosine).
 */
function describe(embedding: Float32Array, mean: Float32Array, model: Pick<ColocModel, 'parts'>): Float32Array {
  const out = new Float32Array(embedding.length);
  for (const { offset, size, scale } of model.parts) for (let d = offset; d < offset + size; d++) out[d] = ((embedding[d] as number) - (mean[d] as number)) * scale;
  return out;
}

/** Row-major rows x dim of descriptors as one tensor's data. */
function stack(rows: readonly Float32Array[]): Float32Array {
  const dim = rows[0]?.length ?? 0;
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => out.set(r, i * dim));
  return out;
}

/**
 * Chooses each shot's window (module comment) from the shots' maps (`shots[i]`: its parts in the
 * embedding's order) and labels (class indices); returns the chosen boxes and the model test
 * scenes are framed with.
 */
export function colocShots(shots: readonly PartMap[][], labels: readonly number[], classes: number, grid: number, sizes: readonly number[]): { boxes: Box[]; model: ColocModel } {
  const windows = cellWindows(grid, sizes);
  const W = windows.length;
  const N = shots.length;
  const raw = shots.flatMap((parts) => windows.map((w) => windowEmbedding(parts, w, grid)));
  const first = shots[0] as PartMap[];
  let offset = 0;
  const parts = first.map((p) => {
    const part = { offset, size: p.channels, scale: 1 };
    offset += p.channels;
    return part;
  });
  const means = windows.map((_, w) => {
    const mean = new Float32Array(offset);
    for (let i = 0; i < N; i++) {
      const e = raw[i * W + w] as Float32Array;
      for (let d = 0; d < offset; d++) mean[d] = (mean[d] as number) + (e[d] as number) / N;
    }
    return mean;
  });
  for (const part of parts) {
    let sum = 0;
    raw.forEach((e, n) => {
      const mean = means[n % W] as Float32Array;
      for (let d = part.offset; d < part.offset + part.size; d++) sum += ((e[d] as number) - (mean[d] as number)) ** 2;
    });
    part.scale = sum > 0 ? 1 / Math.sqrt((parts.length * sum) / raw.length) : 0;
  }
  const descriptors = raw.map((e, n) => describe(e, means[n % W] as Float32Array, { parts }));
  const dim = offset;
  // best[i][w][j]: window w of shot i's best match among shot j's windows.
  const best = tf.tidy(() => {
    const d = tf.tensor2d(stack(descriptors), [N * W, dim]);
    return tf.max(tf.reshape(tf.matMul(d, d, false, true), [N * W, N, W]), 2).dataSync() as Float32Array;
  });
  const choose = (score: (i: number, w: number) => number): number[] =>
    shots.map((_, i) => {
      let top = 0;
      for (let w = 1; w < W; w++) if (score(i, w) > score(i, top)) top = w;
      return top;
    });
  /** Mean over the other shots of `i`'s class, less the mean over the other classes' shots, of `sim(j)`. */
  const contrast = (i: number, sim: (j: number) => number): number => {
    let [same, nSame, other, nOther] = [0, 0, 0, 0];
    for (let j = 0; j < N; j++) {
      if (j === i) continue;
      if (labels[j] === labels[i]) {
        same += sim(j);
        nSame++;
      } else {
        other += sim(j);
        nOther++;
      }
    }
    return (nSame ? same / nSame : 0) - (nOther ? other / nOther : 0);
  };
  let chosen = choose((i, w) => contrast(i, (j) => best[(i * W + w) * N + j] as number));
  for (let round = 0; round < COLOC_ROUNDS; round++) {
    const protos = chosen.map((w, j) => descriptors[j * W + w] as Float32Array);
    const sims = tf.tidy(() => tf.matMul(tf.tensor2d(stack(descriptors), [N * W, dim]), tf.tensor2d(stack(protos), [N, dim]), false, true).dataSync() as Float32Array);
    chosen = choose((i, w) => contrast(i, (j) => sims[(i * W + w) * N + j] as number));
  }
  return {
    boxes: chosen.map((w) => windowBox(windows[w] as CellWindow, grid)),
    model: { windows, grid, parts, means, prototypes: chosen.map((w, j) => descriptors[j * W + w] as Float32Array), labels: [...labels], classes },
  };
}

/** The box of a test scene (module comment) under a model from {@link colocShots}. */
export function colocBox(parts: readonly PartMap[], model: ColocModel): Box {
  const { windows, grid, prototypes, labels, classes } = model;
  const dim = prototypes[0]?.length ?? 0;
  const rows = windows.map((w, n) => describe(windowEmbedding(parts, w, grid), model.means[n] as Float32Array, model));
  const sims = tf.tidy(() => tf.matMul(tf.tensor2d(stack(rows), [rows.length, dim]), tf.tensor2d(stack(prototypes), [prototypes.length, dim]), false, true).dataSync() as Float32Array);
  let [top, topScore] = [0, -Infinity];
  for (let w = 0; w < windows.length; w++) {
    const perClass = new Float64Array(classes);
    const count = new Float64Array(classes);
    let all = 0;
    for (let j = 0; j < prototypes.length; j++) {
      const s = sims[w * prototypes.length + j] as number;
      perClass[labels[j] as number] = (perClass[labels[j] as number] as number) + s;
      count[labels[j] as number] = (count[labels[j] as number] as number) + 1;
      all += s;
    }
    let max = -Infinity;
    for (let c = 0; c < classes; c++) if ((count[c] as number) > 0) max = Math.max(max, (perClass[c] as number) / (count[c] as number));
    const score = max - all / prototypes.length;
    if (score > topScore) [top, topScore] = [w, score];
  }
  return windowBox(windows[top] as CellWindow, grid);
}
