/**
 * The checks of a head document's `crop` (shared/head/crop.ts), part of shared/head/validate.ts's
 * validation: pure, no TF.js.
 */
import { TannerinError } from '../errors.ts';
import { backboneRef, type BackboneManifest } from '../model/manifest.ts';
import type { Shape } from '../model/layer-shapes.ts';
import { CROP_FORMAT_VERSION, CROP_METHODS, MAX_CROP_PAD } from './crop.ts';

const invalid = (message: string): TannerinError => new TannerinError('invalid_head', `Invalid head document: ${message}`);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const kindOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);
/** A finite number in [low, high], or (low, high] when `lowOpen`. */
const inRange = (v: unknown, low: number, high: number, lowOpen = false): boolean => typeof v === 'number' && Number.isFinite(v) && (lowOpen ? v > low : v >= low) && v <= high;

/**
 * Checks `crop`: a known method with exactly its fields, numbers within their limits; a
 * feature-map layer spelled as a layer name, and when the backbone's layer shapes are at hand
 * (`layerShapes`, from its model.json), a layer with a height x width x channels output. Throws
 * `invalid_head` (422) naming the first problem.
 */
export function checkCrop(crop: unknown, backbone: BackboneManifest, layerShapes?: ReadonlyMap<string, Shape>): void {
  if (!isObject(crop)) throw invalid(`crop must be an object {method, ...} (or absent for the whole frame), got ${kindOf(crop)}.`);
  const method = crop.method;
  if (!(CROP_METHODS as readonly unknown[]).includes(method)) {
    throw invalid(`crop.method must be one of ${CROP_METHODS.map((m) => `"${m}"`).join(', ')}, got ${JSON.stringify(method)}.`);
  }
  const fields = method === 'featuremap' ? ['method', 'layer', 'threshold', 'pad'] : ['method', 'detector', 'minScore', 'pad'];
  const odd = Object.keys(crop).filter((k) => !fields.includes(k));
  const absent = fields.filter((k) => !(k in crop));
  if (odd.length || absent.length) throw invalid(`crop with method "${String(method)}" has fields ${fields.join(', ')} (unknown: ${odd.join(', ') || 'none'}; missing: ${absent.join(', ') || 'none'}).`);
  if (!inRange(crop.pad, 0, MAX_CROP_PAD)) throw invalid(`crop.pad must be a number from 0 to ${MAX_CROP_PAD} (growth on every side, a fraction of the box's larger side), got ${JSON.stringify(crop.pad)}.`);
  if (method === 'detector') {
    if (typeof crop.detector !== 'string' || !/^[a-z0-9][a-z0-9._-]{0,63}$/.test(crop.detector)) throw invalid('crop.detector must name a detector (lowercase letters, digits, ".", "_", "-"; at most 64 characters).');
    if (!inRange(crop.minScore, 0, 1)) throw invalid(`crop.minScore must be a number from 0 to 1, got ${JSON.stringify(crop.minScore)}.`);
    return;
  }
  if (!inRange(crop.threshold, 0, 1, true)) throw invalid(`crop.threshold must be a number greater than 0 and at most 1 (a fraction of the strongest cell), got ${JSON.stringify(crop.threshold)}.`);
  const layer = crop.layer;
  if (typeof layer !== 'string' || !/^[A-Za-z0-9_.\-/]{1,100}$/.test(layer)) throw invalid('crop.layer must be a backbone layer name.');
  if (!layerShapes) return;
  const shape = layerShapes.get(layer);
  if (!shape || shape.length !== 3) throw invalid(`crop.layer ${JSON.stringify(layer)} is not a feature map (a layer with a height x width x channels output) of ${backboneRef(backbone)}.`);
}

/**
 * The document's format: "tannerin-head", version 1, or 2 exactly when it has a `crop`
 * (shared/head/crop.ts: a reader of version 1 must refuse a crop head); throws `invalid_head`.
 */
export function checkFormat(format: unknown, formatVersion: unknown, crop: unknown): void {
  if (format !== 'tannerin-head' || (formatVersion !== 1 && formatVersion !== CROP_FORMAT_VERSION)) {
    throw invalid(`format must be "tannerin-head" version 1 (or ${CROP_FORMAT_VERSION} with a crop), got ${JSON.stringify(format)} version ${JSON.stringify(formatVersion)}.`);
  }
  if (crop === undefined && formatVersion !== 1) throw invalid(`formatVersion ${CROP_FORMAT_VERSION} is for heads with a crop; this one has none (use 1).`);
  if (crop !== undefined && formatVersion !== CROP_FORMAT_VERSION) throw invalid(`a head with a crop has formatVersion ${CROP_FORMAT_VERSION}, got ${JSON.stringify(formatVersion)}.`);
}
