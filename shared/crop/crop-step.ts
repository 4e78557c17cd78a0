/**
 * The crop step of the prediction layer (issue 17 point 2): a head that records a crop
 * (shared/head/crop.ts) predicts a photo by cutting it first, in every runtime the same way:
 *
 *   photo (decoded RGBA, its own size)
 *     -> preprocess (shared/image/preprocess.ts) -> backbone pass up to crop.layer -> feature map
 *     -> featureMapBox (shared/crop/feature-map-box.ts): channel sums, the largest group of cells
 *        at or above threshold x the strongest, grown by pad, square in the photo's pixels
 *     -> cropToBox (shared/crop/box.ts): the box's pixels cut from the ORIGINAL photo, at its resolution
 *     -> the crop is then predicted as the photo was (preprocess, backbone pass, head)
 *
 * This is the clutter eval's `featuremap` recipe (scripts/eval/clutter-protocol.ts): the same
 * layer pass, box arithmetic and cut; the eval's scenes are square, for which the box's aspect
 * (width / height of the photo, here from the photo) is 1 as the eval passes it. Plain JavaScript
 * but the one backbone pass (FoldedGraph.run: tidy, outputs disposed), so the tensor count stays flat.
 *
 * A detector crop takes its box from a detector this runtime runs ({@link setDetectorRunner}: the
 * browser's client/lib/detector.ts registers CenterNet, opt-in): its best detection becomes the box
 * (shared/crop/detector-box.ts `detectorCropBox`), and the box is cut and predicted exactly as a
 * feature-map crop's. Where none is registered (the Worker, which answers 409; Node and the CLI)
 * it throws {@link cropNotRunHere}.
 *
 * Another box method adds its case to {@link cropBox}; its callers (shared/predict/predictor.ts,
 * `tannerin train --crop`) take any {@link HeadCrop}.
 */
import { TannerinError } from '../errors.ts';
import type { FeatureMapCrop, HeadCrop } from '../head/crop.ts';
import { preprocess, type RgbaPixels } from '../image/preprocess.ts';
import type { FoldedGraph } from '../model/folded-graph.ts';
import type { InputSpec } from '../model/manifest.ts';
import { cropToBox, type Box } from './box.ts';
import { featureMapBox, type FeatureMapShape } from './feature-map-box.ts';
import { detectorCropBox, type Detection } from './detector-box.ts';

/** How a runtime runs one detector: its best detection in a photo (rejecting with why when it cannot now, e.g. turned off). */
export interface DetectorRunner {
  detect(pixels: RgbaPixels): Promise<Detection | null>;
}

/** The detectors this runtime runs, by the name head documents give them (module comment). */
const detectorRunners = new Map<string, DetectorRunner>();

/** Registers how this runtime runs detector `id` (module comment). */
export function setDetectorRunner(id: string, runner: DetectorRunner): void {
  detectorRunners.set(id, runner);
}

/** What the crop step runs on: the backbone's folded graph and its input normalisation. */
export interface CropBackbone {
  readonly graph: FoldedGraph;
  readonly normalization: InputSpec;
}

/** A photo cut to its box: the crop's pixels, and the box in [0, 1] fractions of the photo. */
export interface CroppedPhoto {
  pixels: RgbaPixels;
  box: Box;
}

/** Thrown (a 409 at the edge) for a crop this runtime cannot find the box of: a detector crop where no detector is registered (the edge, Node, the CLI). */
export function cropNotRunHere(crop: HeadCrop, where: string): TannerinError {
  return new TannerinError(
    'conflict',
    `This head crops its photos with an object detector (${crop.method === 'detector' ? crop.detector : crop.method}), which ${where} does not run${where === 'the edge' ? ': the detector would not fit next to the backbone' : ' (detectors run in the app only, once the person turns "Find the object first" on)'}. Predict with it in the app, or train the head with feature-map crops or none.`,
  );
}

/**
 * The shape of a feature-map crop's layer in `graph` (height, width, channels); throws
 * `invalid_head` (422) naming the layer if the graph does not compute it or it is not a feature map.
 */
export function featureMapShape(graph: FoldedGraph, layer: string): FeatureMapShape {
  const shape = graph.has(layer) ? graph.shapeOf(layer) : undefined;
  if (!shape || shape.length !== 3) {
    const into = graph.foldedInto(layer);
    throw new TannerinError(
      'invalid_head',
      `Invalid head document: crop.layer ${JSON.stringify(layer)} ${into ? `is folded into ${into} in this backbone (its output is not computed)` : shape ? 'is not a feature map (height x width x channels)' : 'is not a layer of this backbone'}.`,
    );
  }
  const [height, width, channels] = shape as [number, number, number];
  return { height, width, channels };
}

/**
 * The box `crop` finds in `pixels` (module comment): for a feature-map crop, one backbone pass up to
 * its layer on the whole photo; for a detector crop, the registered detector's pass (a runtime
 * without it throws {@link cropNotRunHere}; a registered one rejects with why when it cannot run now).
 */
export async function cropBox(pixels: RgbaPixels, crop: HeadCrop, backbone: CropBackbone, where = 'this runtime'): Promise<Box> {
  if (crop.method === 'detector') {
    const runner = detectorRunners.get(crop.detector);
    if (!runner) throw cropNotRunHere(crop, where);
    return detectorCropBox(await runner.detect(pixels), crop, pixels);
  }
  const shape = featureMapShape(backbone.graph, crop.layer);
  const [map] = await backbone.graph.run(preprocess(pixels, backbone.normalization), [crop.layer]);
  return featureMapCropBox(map as Float32Array, shape, crop, pixels);
}

/**
 * The box a feature-map `crop` finds in `map`, its layer's output (of `shape`) for a photo of
 * `photo`'s size: the one place a crop setting becomes featureMapBox's options. A photo added in
 * the browser computes the map in the pass that gives its embedding (client/lib/example-crops.ts).
 */
export function featureMapCropBox(map: Float32Array, shape: FeatureMapShape, crop: FeatureMapCrop, photo: { width: number; height: number }): Box {
  return featureMapBox(map, shape, { threshold: crop.threshold, pad: crop.pad, aspect: photo.width / photo.height });
}

/** The photo cut to the box `crop` finds in it (module comment), from the photo's own pixels. */
export async function cropPhoto(pixels: RgbaPixels, crop: HeadCrop, backbone: CropBackbone, where?: string): Promise<CroppedPhoto> {
  const box = await cropBox(pixels, crop, backbone, where);
  return { pixels: cropToBox(pixels, box), box };
}
