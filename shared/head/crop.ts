/**
 * A head's crop setting (issue 17: "cropping is one step of the prediction layer, a per-model
 * setting kept in the head document"). A head trained on crops of its photos records how they were
 * cut, and every runtime predicts a photo by cutting it the same way first:
 *
 *   crop: { method: "featuremap", layer: "out_relu", threshold: 0.5, pad: 0.15 }
 *   crop: { method: "detector", detector: "centernet-mobilenetv3", minScore: 0.3, pad: 0.15 }
 *
 * - `featuremap` (runs everywhere, the edge included): a backbone pass over the whole photo gives
 *   the activation of `layer`; shared/crop/feature-map-box.ts turns it into a square box
 *   (`threshold`, `pad`); the box is cut from the original photo and predicted as the photo
 *   (shared/crop/crop-step.ts). One extra backbone pass (up to `layer`) a prediction.
 * - `detector` (browser only): a detector proposes the box (its best detection of any class,
 *   shared/crop/detector-box.ts). The browser runs it once the person turned "find the object
 *   first" on (client/lib/detector.ts); the edge answers 409 for such a head, Node and the CLI
 *   refuse it with the same message.
 *
 * Absent: the whole frame, exactly as before. A document with a crop has `formatVersion` 2 (every
 * other document stays 1), so a reader that knows only version 1 refuses it (shared/head/validate.ts
 * of earlier releases also refuses the unknown field) instead of predicting crops' head on whole
 * frames. A new method is a new member of {@link HeadCrop}, its checks in validate.ts's
 * `checkCrop`, its box in crop-step.ts.
 */

/** Crop from the backbone's own feature map (module comment). */
export interface FeatureMapCrop {
  method: 'featuremap';
  /** The backbone layer whose activation (height x width x channels) locates the object, e.g. MobileNetV2's `out_relu` (7x7x1280). */
  layer: string;
  /** Fraction of the strongest cell's channel sum a cell needs to count, in (0, 1]. */
  threshold: number;
  /** Growth of the box on every side, as a fraction of its larger side, in [0, {@link MAX_CROP_PAD}]. */
  pad: number;
}

/** Crop from an object detector's best box (module comment; browser only, opt-in). */
export interface DetectorCrop {
  method: 'detector';
  /** Which detector proposes the box (e.g. `centernet-mobilenetv3`). */
  detector: string;
  /** A detection scoring less than this leaves the whole frame, in [0, 1]. */
  minScore: number;
  /** As {@link FeatureMapCrop.pad}. */
  pad: number;
}

/** How a head's photos are cut before they are embedded (module comment); absent in a document: the whole frame. */
export type HeadCrop = FeatureMapCrop | DetectorCrop;

/** The crop methods a document may name. */
export const CROP_METHODS = ['featuremap', 'detector'] as const satisfies readonly HeadCrop['method'][];

/** Most a box may grow on every side (1: three times its larger side, beyond which it is the whole frame anyway). */
export const MAX_CROP_PAD = 1;

/** `formatVersion` of a document with a crop; documents without one stay version 1. */
export const CROP_FORMAT_VERSION = 2;

/**
 * The feature-map crop of the clutter eval's published run (scripts/eval/clutter-protocol.ts:
 * `out_relu`, 0.5, pad 0.15), what `tannerin train --crop featuremap` records unless told otherwise.
 */
export const DEFAULT_FEATURE_MAP_CROP: Readonly<FeatureMapCrop> = Object.freeze({ method: 'featuremap', layer: 'out_relu', threshold: 0.5, pad: 0.15 });

/** The box a prediction used, as answers report it: [0, 1] fractions of the photo's width (`x`, `width`) and height (`y`, `height`). */
export interface CropUsed {
  method: HeadCrop['method'];
  box: { x: number; y: number; width: number; height: number };
}

/** Whether two crop settings are the same (same method and fields): they cut the same boxes. */
export function sameHeadCrop(a: HeadCrop, b: HeadCrop): boolean {
  const fields = (c: HeadCrop): Record<string, unknown> => ({ ...c });
  const [x, y] = [fields(a), fields(b)];
  const keys = Object.keys(x);
  return keys.length === Object.keys(y).length && keys.every((k) => k in y && x[k] === y[k]);
}

/** The `formatVersion` a document with (or without) `crop` has. */
export function formatVersionFor(crop: HeadCrop | undefined): 1 | 2 {
  return crop ? CROP_FORMAT_VERSION : 1;
}

/**
 * Whether a parsed (not yet validated) document has a crop: its validation then needs the
 * backbone's `model.json`, so a layer that is not a feature map is refused on upload, not when the
 * head first predicts (shared/head/validate-crop.ts).
 */
export function hasCrop(value: unknown): value is { crop: unknown } {
  return typeof value === 'object' && value !== null && 'crop' in value && (value as { crop: unknown }).crop !== undefined;
}
