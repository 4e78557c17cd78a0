/**
 * Checks a head document (shared/head/document.ts) before anything stores or runs it: its shape,
 * that it was made for this backbone version, that its layers fit together (input size = the
 * embedding parts its input transform reads, output size = the class count), that its weights
 * have exactly the shapes the layers need and are all finite, and the size limits. Pure: no TF.js,
 * no I/O, so the Worker validates uploads with it and a client can check a head before syncing.
 *
 * Only the head architectures the project makes are accepted: a chain of Dense layers, with
 * Dropout and Activation layers between them, as a Keras `Sequential` or a linear functional
 * `Model` (the shipped default head). Anything else is refused rather than half-checked, because
 * the server must be able to run every head it accepts.
 *
 * A fine-tuned model's `backboneTail` (shared/head/document.ts) is checked against the backbone's
 * own `model.json`: every tail layer must be a backbone layer with the same type, configuration
 * (only `trainable` may differ) and inputs, fed from the cut; its outputs must be the layers of the
 * embedding parts it names; its weights must be exactly those layers' weights, same shapes, all
 * finite. So a tail can change weights, never the architecture.
 */
import { base64ToBytes } from '../util/base64.ts';
import { TannerinError } from '../errors.ts';
import { parseBoundedJson } from '../util/json-guard.ts';
import { inferLayerShapes, type Shape } from '../model/layer-shapes.ts';
import { HEAD_JSON_LIMITS, HEAD_LIMITS, type HeadLimits } from '../limits.ts';
import type { HeadDocument, HeadWeightSpec } from './document.ts';
import { MAX_TEST_TIME_VIEWS } from './tta.ts';
import { checkCrop, checkFormat } from './validate-crop.ts';
import { backboneRef, type BackboneManifest } from '../model/manifest.ts';

/**
 * Personal head ids: a UUID in canonical lowercase form, as `crypto.randomUUID()` makes them. One
 * spelling per id, so two ids can never name the same head.
 */
export const HEAD_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True for a personal head id (a canonical UUID). */
export function isHeadId(value: string): boolean {
  return HEAD_ID_PATTERN.test(value);
}

/**
 * True for a name a default (server-shipped) head may have: lowercase words joined by hyphens,
 * e.g. `content-safety`, and never a UUID, so default and personal heads cannot collide.
 */
export function isDefaultHeadName(value: string): boolean {
  return /^[a-z]+(-[a-z]+)*$/.test(value) && !isHeadId(value);
}

/** What validation learned about a head, besides that it is valid. */
export interface ValidatedHead {
  doc: HeadDocument;
  /** Floats the head's input has: the sum of the sizes of the embedding parts it reads. */
  inputSize: number;
  /** Number of weights. */
  parameters: number;
  /** Bytes the weights take once loaded (float32). */
  tensorBytes: number;
}

/** The backbone's `model.json` as served (topology plus weights manifest), to check tails against. */
export interface BackboneModelJson {
  modelTopology: Record<string, unknown>;
  weightsManifest: { weights: HeadWeightSpec[] }[];
}

export interface ValidateOptions {
  limits?: HeadLimits;
  /**
   * Needed only for documents with a `backboneTail`; a document with one cannot be checked
   * without it (that is a programming error: load the backbone's model.json first). Given, it checks a `crop`'s layer too.
   */
  backboneModel?: BackboneModelJson;
  /** Require `id` to be a personal head id (UUID). Default true; false to check shipped heads. */
  requireHeadId?: boolean;
}

const TOP_LEVEL_KEYS = [
  'format',
  'formatVersion',
  'id',
  'name',
  'classes',
  'backbone',
  'input',
  'metrics',
  'created',
  'modelTopology',
  'weightSpecs',
  'weightData',
] as const;
const OPTIONAL_KEYS = ['backboneTail', 'testTimeAugmentation', 'crop'] as const;
const TAIL_KEYS = ['cut', 'cutShape', 'parts', 'modelTopology', 'weightSpecs', 'weightData'] as const;
/** Layers a tail may have: the backbone's own top blocks are far fewer. */
const MAX_TAIL_LAYERS = 200;

/** Activations TF.js can run (names after its snake_case -> camelCase conversion). */
const ACTIVATIONS = new Set(['linear', 'relu', 'relu6', 'elu', 'selu', 'sigmoid', 'hardSigmoid', 'softmax', 'softplus', 'softsign', 'tanh', 'swish', 'mish']);
/** Serialised objects a Dense layer may carry, by config key; all are TF.js built-ins. */
const INITIALIZERS = new Set([
  'Zeros', 'Ones', 'Constant', 'RandomUniform', 'RandomNormal', 'TruncatedNormal', 'Identity', 'VarianceScaling',
  'GlorotUniform', 'GlorotNormal', 'HeNormal', 'HeUniform', 'LeCunNormal', 'LeCunUniform', 'Orthogonal',
]);
const REGULARIZERS = new Set(['L1L2', 'L1', 'L2']);
const CONSTRAINTS = new Set(['MaxNorm', 'UnitNorm', 'NonNeg', 'MinMaxNorm']);
const SERIALIZED_OBJECTS: Record<string, Set<string>> = {
  kernel_initializer: INITIALIZERS,
  bias_initializer: INITIALIZERS,
  kernel_regularizer: REGULARIZERS,
  bias_regularizer: REGULARIZERS,
  activity_regularizer: REGULARIZERS,
  kernel_constraint: CONSTRAINTS,
  bias_constraint: CONSTRAINTS,
};

type Json = Record<string, unknown>;

const invalid = (message: string): TannerinError => new TannerinError('invalid_head', `Invalid head document: ${message}`);

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPositiveInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;
const kindOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);
const codePoints = (s: string): number => [...s].length;
/** TF.js reads Keras configs with snake_case keys converted to camelCase; accept either spelling. */
const camel = (s: string): string => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const field = (config: Json, key: string): unknown => (key in config ? config[key] : config[camel(key)]);

/**
 * Parses a head document from the bytes of a request body. Throws `json_too_complex` (413) for a
 * text over shared/limits.ts's HEAD_JSON_LIMITS (checked before parsing), `invalid_head` (422) for
 * bytes that are not UTF-8 JSON.
 */
export function parseHeadDocument(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw invalid('the body is not UTF-8 text.');
  }
  return parseBoundedJson(text, HEAD_JSON_LIMITS, 'json_too_complex', 'The head document', (detail) => invalid(`the body is not JSON (${detail}).`));
}

/**
 * Validates a parsed head document against the backbone this runtime serves. Returns it typed, with
 * its sizes; throws a TannerinError: `backbone_mismatch` (409) naming both versions for a head made
 * for another backbone, `invalid_head` (422) naming the first problem found otherwise.
 */
export function validateHeadDocument(value: unknown, backbone: BackboneManifest, options: ValidateOptions = {}): ValidatedHead {
  const limits = options.limits ?? HEAD_LIMITS;
  if (!isObject(value)) throw invalid(`expected a JSON object, got ${kindOf(value)}.`);
  const known: readonly string[] = [...TOP_LEVEL_KEYS, ...OPTIONAL_KEYS];
  const unknown = Object.keys(value).filter((k) => !known.includes(k));
  if (unknown.length) throw invalid(`unknown field(s) ${unknown.map((k) => `"${k}"`).join(', ')}; a head has ${known.join(', ')}.`);
  const missing = TOP_LEVEL_KEYS.filter((k) => !(k in value));
  if (missing.length) throw invalid(`missing field(s) ${missing.join(', ')}.`);
  checkFormat(value.format, value.formatVersion, value.crop);

  // The backbone first: a head for another version fails every later check for that reason.
  const served = backboneRef(backbone);
  if (typeof value.backbone !== 'string') throw invalid('backbone must be a string "<id>@<version>".');
  if (value.backbone !== served) {
    throw new TannerinError(
      'backbone_mismatch',
      `The head was made for backbone ${value.backbone}, but this server runs ${served}. Re-embed the photos with ${served}, retrain, and upload the new head.`,
    );
  }

  const { id, name, classes, created, metrics } = value;
  if (typeof id !== 'string') throw invalid('id must be a string.');
  if ((options.requireHeadId ?? true) && !isHeadId(id)) {
    throw invalid(`id must be a lowercase UUID (as crypto.randomUUID() makes), got ${JSON.stringify(id.slice(0, 80))}.`);
  }
  if (typeof name !== 'string') throw invalid('name must be a string.');
  if (codePoints(name) > limits.maxNameLength) throw invalid(`name is ${codePoints(name)} characters; the limit is ${limits.maxNameLength}.`);
  checkClasses(classes, limits);
  if (typeof created !== 'string' || Number.isNaN(Date.parse(created))) throw invalid('created must be an ISO 8601 date string.');
  if (metrics !== null && !isObject(metrics)) throw invalid('metrics must be an object or null.');
  if (value.testTimeAugmentation !== undefined) checkTestTimeAugmentation(value.testTimeAugmentation);
  if (value.crop !== undefined) checkCrop(value.crop, backbone, options.backboneModel && modelLayerShapes(options.backboneModel));

  const inputSize = checkInput(value.input, backbone);
  const expected = checkTopology(value.modelTopology, inputSize, (classes as string[]).length, limits);
  const specs = checkWeightSpecs(value.weightSpecs, expected, 'weightSpecs');
  let parameters = specs.reduce((a, s) => a + elements(s.shape), 0);
  let tailSpecs: HeadWeightSpec[] = [];
  if (value.backboneTail !== undefined) {
    if (!options.backboneModel) throw new Error('validateHeadDocument: a document with a backboneTail needs options.backboneModel');
    tailSpecs = checkTail(value.backboneTail, backbone, options.backboneModel);
    parameters += tailSpecs.reduce((a, s) => a + elements(s.shape), 0);
  }
  if (parameters > limits.maxParameters) {
    throw invalid(`the model has ${parameters} weights; the limit is ${limits.maxParameters}.`);
  }
  checkWeightData(value.weightData, specs, 'weightData');
  if (value.backboneTail !== undefined) checkWeightData((value.backboneTail as Json).weightData, tailSpecs, 'backboneTail.weightData');
  return { doc: value as unknown as HeadDocument, inputSize, parameters, tensorBytes: parameters * 4 };
}

/** Sorted-key JSON, so configs compare equal whatever order their keys were written in. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObject(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

/**
 * Keras config fields TF.js drops when it re-serializes a layer (it does not implement them), with
 * the Keras defaults at which they change nothing. A tail written by TF.js (shared/learn/fine-tune.ts)
 * lacks them where the backbone's converted model.json has them.
 */
const DROPPED_DEFAULTS: Record<string, Record<string, unknown>> = { ReLU: { negative_slope: 0, threshold: 0 } };

/** A layer config without the fields TF.js drops, where they hold their defaults. */
function comparableConfig(className: string, config: Json): Json {
  const dropped = DROPPED_DEFAULTS[className];
  if (!dropped) return config;
  const out = { ...config };
  for (const [key, value] of Object.entries(dropped)) if (key in out && canonical(out[key]) === canonical(value)) delete out[key];
  return out;
}

/** Layer output shapes of a backbone's model.json (undefined if it has no functional topology). */
function modelLayerShapes(model: BackboneModelJson): Map<string, Shape> | undefined {
  const { config } = isObject(model.modelTopology.model_config) ? model.modelTopology.model_config : model.modelTopology;
  return isObject(config) ? backboneLayerShapes(config) : undefined;
}

/** Layer output shapes of each backbone config, inferred once (the Worker validates against one). */
const shapeCache = new WeakMap<Json, Map<string, Shape>>();
function backboneLayerShapes(config: Json): Map<string, Shape> {
  let shapes = shapeCache.get(config);
  if (!shapes) {
    shapes = inferLayerShapes(config);
    shapeCache.set(config, shapes);
  }
  return shapes;
}

/** Checks a fine-tuned model's backbone tail against the backbone's model.json; returns its weight specs. */
function checkTail(tail: unknown, backbone: BackboneManifest, model: BackboneModelJson): HeadWeightSpec[] {
  if (!isObject(tail)) throw invalid('backboneTail must be an object.');
  const keys = Object.keys(tail);
  const odd = keys.filter((k) => !(TAIL_KEYS as readonly string[]).includes(k));
  const absent = TAIL_KEYS.filter((k) => !(k in tail));
  if (odd.length || absent.length) throw invalid(`backboneTail has fields ${TAIL_KEYS.join(', ')} (unknown: ${odd.join(', ') || 'none'}; missing: ${absent.join(', ') || 'none'}).`);

  const backboneTopology = isObject(model.modelTopology.model_config) ? model.modelTopology.model_config : model.modelTopology;
  const bbConfig = backboneTopology.config;
  if (!isObject(bbConfig) || !Array.isArray(bbConfig.layers)) throw new Error('backbone model.json has no functional topology');
  const bbLayers = new Map((bbConfig.layers as Json[]).map((l) => [String(l.name), l]));

  const { cut, cutShape, parts } = tail;
  if (typeof cut !== 'string' || !bbLayers.has(cut)) throw invalid(`backboneTail.cut ${JSON.stringify(cut)} is not a layer of ${backboneRef(backbone)}.`);
  if (!Array.isArray(cutShape) || cutShape.length === 0 || !cutShape.every(isPositiveInt)) throw invalid('backboneTail.cutShape must be positive whole numbers.');
  if (!Array.isArray(parts) || parts.length === 0 || new Set(parts).size !== parts.length) throw invalid('backboneTail.parts must name distinct embedding parts.');
  // The real shape at the cut: a tail fed anything else fails every prediction.
  const realCutShape = backboneLayerShapes(bbConfig).get(cut);
  if (!realCutShape) throw invalid(`backboneTail.cut ${cut}: the shape of its output cannot be checked; cut the backbone at a convolutional block.`);
  if (canonical(cutShape) !== canonical(realCutShape)) {
    throw invalid(`backboneTail.cutShape [${cutShape.join(', ')}] is not the shape of ${cut}'s output, [${realCutShape.join(', ')}].`);
  }

  // Which backbone layer produces each embedding part: the inputs of the output Concatenate, in order.
  const outputName = (bbConfig.output_layers as unknown[][] | undefined)?.[0]?.[0];
  const output = bbLayers.get(String(outputName));
  const inbound = (l: Json | undefined): string[] => ((l?.inbound_nodes as unknown[][][] | undefined)?.[0] ?? []).map((n) => String(n[0]));
  const partLayers = output?.class_name === 'Concatenate' ? inbound(output) : [String(outputName)];
  const partLayer = (name: unknown): string => {
    const i = backbone.embedding.parts.findIndex((p) => p.name === name);
    if (i < 0 || partLayers[i] === undefined) throw invalid(`backboneTail.parts names ${JSON.stringify(name)}, not an embedding part of ${backboneRef(backbone)}.`);
    return partLayers[i] as string;
  };
  const outputs = parts.map((p: unknown) => [partLayer(p), 0, 0]);

  const topology = tail.modelTopology;
  const tailModel = isObject(topology) && isObject(topology.model_config) ? topology.model_config : topology;
  if (!isObject(tailModel) || (tailModel.class_name !== 'Model' && tailModel.class_name !== 'Functional') || !isObject(tailModel.config) || !Array.isArray(tailModel.config.layers)) {
    throw invalid('backboneTail.modelTopology must be a functional Model config.');
  }
  const layers = tailModel.config.layers as unknown[];
  if (layers.length < 2 || layers.length > MAX_TAIL_LAYERS) throw invalid(`backboneTail has ${layers.length} layers; 2 to ${MAX_TAIL_LAYERS} are allowed.`);
  const [input, ...rest] = layers.map((l, i) => {
    const entry = layerEntry(l, i);
    return { ...entry, inbound: (l as Json).inbound_nodes };
  });
  if (!input || input.className !== 'InputLayer' || canonical(field(input.config, 'batch_input_shape')) !== canonical([null, ...cutShape])) {
    throw invalid(`backboneTail must start with an InputLayer of shape [null, ${cutShape.join(', ')}] (the cut's output).`);
  }
  // The backbone hands the tail float32 activations; another dtype (or a sparse input) cannot run.
  const dtype = field(input.config, 'dtype');
  if ((dtype !== undefined && dtype !== null && dtype !== 'float32') || field(input.config, 'sparse') === true || field(input.config, 'ragged') === true) {
    throw invalid(`backboneTail's InputLayer must take dense float32 activations, not ${JSON.stringify(dtype)}${field(input.config, 'sparse') === true ? ' (sparse)' : ''}.`);
  }
  if (canonical(tailModel.config.input_layers) !== canonical([[input.name, 0, 0]])) throw invalid('backboneTail input_layers must be its InputLayer.');
  if (canonical(tailModel.config.output_layers) !== canonical(outputs)) {
    throw invalid(`backboneTail output_layers must be the layers of its parts in order: ${outputs.map((o) => o[0]).join(', ')}.`);
  }
  const names = new Set([input.name]);
  for (const layer of rest) {
    const own = bbLayers.get(layer.name);
    if (!own || names.has(layer.name)) throw invalid(`backboneTail layer ${layer.name} is not a (single) layer of ${backboneRef(backbone)}.`);
    const { trainable: _a, ...config } = layer.config;
    const { trainable: _b, ...ownConfig } = own.config as Json;
    if (layer.className !== own.class_name || canonical(comparableConfig(layer.className, config)) !== canonical(comparableConfig(layer.className, ownConfig))) {
      throw invalid(`backboneTail layer ${layer.name} differs from the backbone's (only its weights may change).`);
    }
    const rewired = JSON.parse(JSON.stringify(own.inbound_nodes ?? []).replaceAll(JSON.stringify(cut), JSON.stringify(input.name))) as unknown;
    if (canonical(layer.inbound) !== canonical(rewired)) throw invalid(`backboneTail layer ${layer.name} is wired differently from the backbone's.`);
    names.add(layer.name);
  }
  for (const layer of rest) {
    const from = ((layer.inbound as unknown[][][] | undefined) ?? []).flat().map((n) => String(n[0]));
    const missing = from.find((n) => !names.has(n));
    if (missing) throw invalid(`backboneTail layer ${layer.name} takes input from ${missing}, which the tail does not have (cut it lower).`);
  }
  for (const [o] of outputs) if (!names.has(o as string)) throw invalid(`backboneTail does not contain ${String(o)}, the layer of one of its parts.`);

  // Exactly the backbone's weights of these layers, same names and shapes (the values are personal).
  const expected = model.weightsManifest
    .flatMap((g) => g.weights)
    .filter((w) => names.has(w.name.slice(0, w.name.lastIndexOf('/'))))
    .map((w) => ({ name: w.name, shape: w.shape }));
  return checkWeightSpecs(tail.weightSpecs, expected, 'backboneTail.weightSpecs');
}

function checkClasses(classes: unknown, limits: HeadLimits): void {
  if (!Array.isArray(classes)) throw invalid('classes must be an array of labels.');
  if (classes.length < 2 || classes.length > limits.maxClasses) {
    throw invalid(`a head has 2 to ${limits.maxClasses} classes; this one has ${classes.length}.`);
  }
  const seen = new Set<string>();
  classes.forEach((label: unknown, i) => {
    if (typeof label !== 'string') throw invalid(`classes[${i}] must be a string.`);
    if (label.trim() === '') throw invalid(`classes[${i}] is empty; labels need visible text.`);
    if (codePoints(label) > limits.maxLabelLength) {
      throw invalid(`classes[${i}] is ${codePoints(label)} characters; the limit is ${limits.maxLabelLength}.`);
    }
    if (seen.has(label)) throw invalid(`the label ${JSON.stringify(label)} appears twice; labels must be unique.`);
    seen.add(label);
  });
}

/** Checks `testTimeAugmentation` (shared/head/tta.ts): exactly {views, seed}, views bounded, seed a uint32. */
function checkTestTimeAugmentation(tta: unknown): void {
  if (!isObject(tta)) throw invalid(`testTimeAugmentation must be an object {views, seed} (or absent for none), got ${kindOf(tta)}.`);
  const extra = Object.keys(tta).filter((k) => k !== 'views' && k !== 'seed');
  if (extra.length) throw invalid(`testTimeAugmentation has unknown field(s) ${extra.join(', ')}; it has views and seed.`);
  const { views, seed } = tta;
  if (!Number.isInteger(views) || (views as number) < 1 || (views as number) > MAX_TEST_TIME_VIEWS) {
    throw invalid(`testTimeAugmentation.views must be a whole number from 1 to ${MAX_TEST_TIME_VIEWS} (augmented views besides the photo), got ${JSON.stringify(views)}.`);
  }
  if (!Number.isInteger(seed) || (seed as number) < 0 || (seed as number) > 0xffffffff) {
    throw invalid(`testTimeAugmentation.seed must be a whole number from 0 to 4294967295, got ${JSON.stringify(seed)}.`);
  }
}

/** Checks the input transform against the backbone; returns the head's input size. */
function checkInput(input: unknown, backbone: BackboneManifest): number {
  if (!isObject(input)) throw invalid('input must be an object {parts, mean, normalize, scale}.');
  const extra = Object.keys(input).filter((k) => !['parts', 'mean', 'normalize', 'scale'].includes(k));
  if (extra.length) throw invalid(`input has unknown field(s) ${extra.join(', ')}.`);
  const { parts, mean, normalize, scale } = input;
  if (!Array.isArray(parts) || parts.length === 0) throw invalid('input.parts must list at least one embedding part.');
  const known = backbone.embedding.parts.map((p) => p.name);
  let size = 0;
  parts.forEach((name: unknown, i) => {
    const part = typeof name === 'string' ? backbone.embedding.parts.find((p) => p.name === name) : undefined;
    if (!part) throw invalid(`input.parts[${i}] ${JSON.stringify(name)} is not a part of ${backboneRef(backbone)} (parts: ${known.join(', ')}).`);
    if (parts.indexOf(name) !== i) throw invalid(`input.parts names ${String(name)} twice.`);
    size += part.size;
  });
  if (normalize !== 'none' && normalize !== 'l2') throw invalid(`input.normalize must be "none" or "l2", got ${JSON.stringify(normalize)}.`);
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) throw invalid('input.scale must be a positive finite number.');
  if (mean !== null) {
    if (!Array.isArray(mean) || mean.length !== size) {
      throw invalid(`input.mean must be null or ${size} numbers (the sizes of ${parts.join(' + ')}), got ${Array.isArray(mean) ? mean.length : kindOf(mean)}.`);
    }
    const bad = mean.findIndex((v: unknown) => typeof v !== 'number' || !Number.isFinite(v));
    if (bad >= 0) throw invalid(`input.mean[${bad}] is ${JSON.stringify(mean[bad])}; every value must be a finite number.`);
  }
  return size;
}

/** One weight the topology needs. */
interface ExpectedWeight {
  name: string;
  shape: number[];
}

/** A layer as found in either topology form. */
interface LayerEntry {
  className: string;
  config: Json;
  name: string;
}

/**
 * Walks the layer chain, checking each layer's kind and configuration and tracking the feature
 * count from `inputSize`; returns the weights the layers need, in order.
 */
function checkTopology(topology: unknown, inputSize: number, classCount: number, limits: HeadLimits): ExpectedWeight[] {
  if (!isObject(topology)) throw invalid('modelTopology must be a Keras model config object.');
  const model = isObject(topology.model_config) ? topology.model_config : topology;
  const layers = modelLayers(model);
  if (layers.length === 0) throw invalid('modelTopology has no layers.');
  if (layers.length > limits.maxLayers) throw invalid(`modelTopology has ${layers.length} layers; the limit is ${limits.maxLayers}.`);

  const names = new Set<string>();
  for (const layer of layers) {
    if (!/^[A-Za-z0-9_.\-/]{1,100}$/.test(layer.name)) throw invalid(`layer name ${JSON.stringify(layer.name.slice(0, 100))} is not a plain identifier.`);
    if (names.has(layer.name)) throw invalid(`two layers are named ${layer.name}.`);
    names.add(layer.name);
  }

  const weights: ExpectedWeight[] = [];
  let features: number | null = null;
  for (const [i, layer] of layers.entries()) {
    const where = `layer ${i} (${layer.name}, ${layer.className})`;
    const declared = field(layer.config, 'batch_input_shape');
    if (declared !== undefined && declared !== null) {
      if (i !== 0) throw invalid(`${where} declares an input shape; only the first layer may.`);
      if (!Array.isArray(declared) || declared.length !== 2 || declared[0] !== null || !isPositiveInt(declared[1])) {
        throw invalid(`${where} has input shape ${JSON.stringify(declared)}; a head takes [null, features].`);
      }
      if (declared[1] !== inputSize) {
        throw invalid(`${where} takes ${declared[1]} features, but the input transform gives ${inputSize} (the embedding parts it reads).`);
      }
      features = inputSize;
    }
    if (features === null) throw invalid(`${where} comes first but declares no input shape [null, ${inputSize}].`);
    const dtype = field(layer.config, 'dtype');
    if (dtype !== undefined && dtype !== null && dtype !== 'float32') throw invalid(`${where} has dtype ${JSON.stringify(dtype)}; heads are float32.`);

    switch (layer.className) {
      case 'InputLayer':
        if (i !== 0) throw invalid(`${where}: an InputLayer may only come first.`);
        break;
      case 'Dense': {
        const units = field(layer.config, 'units');
        if (!isPositiveInt(units)) throw invalid(`${where} has units ${JSON.stringify(units)}; expected a positive whole number.`);
        checkActivation(field(layer.config, 'activation'), where);
        for (const [key, allowed] of Object.entries(SERIALIZED_OBJECTS)) checkSerialized(field(layer.config, key), allowed, `${where} ${key}`);
        const useBias = field(layer.config, 'use_bias');
        if (useBias !== undefined && typeof useBias !== 'boolean') throw invalid(`${where} use_bias must be true or false.`);
        weights.push({ name: `${layer.name}/kernel`, shape: [features, units] });
        if (useBias !== false) weights.push({ name: `${layer.name}/bias`, shape: [units] });
        features = units;
        break;
      }
      case 'Dropout': {
        const rate = field(layer.config, 'rate');
        if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) throw invalid(`${where} rate must be in [0, 1).`);
        break;
      }
      case 'Activation':
        checkActivation(field(layer.config, 'activation'), where);
        break;
      default:
        throw invalid(`${where}: layer type ${layer.className} is not supported; a head is Dense layers with Dropout and Activation between them.`);
    }
  }
  if (features !== classCount) {
    throw invalid(`the model outputs ${String(features)} scores, but the head has ${classCount} classes.`);
  }
  return weights;
}

/** The layers of a Sequential or linear functional model config, in order. */
function modelLayers(model: Json): LayerEntry[] {
  const className = model.class_name;
  const config = model.config;
  if (className === 'Sequential') {
    // tfjs-layers writes {name, layers}; older Keras wrote the layer list itself.
    const list = Array.isArray(config) ? config : isObject(config) ? config.layers : undefined;
    if (!Array.isArray(list)) throw invalid('a Sequential modelTopology needs config.layers.');
    return list.map((l: unknown, i) => layerEntry(l, i));
  }
  if (className === 'Model' || className === 'Functional') {
    if (!isObject(config) || !Array.isArray(config.layers)) throw invalid(`a ${className} modelTopology needs config.layers.`);
    const layers = config.layers.map((l: unknown, i) => layerEntry(l, i));
    // Only a straight chain: each layer's one input is the layer before it.
    layers.forEach((layer, i) => {
      const raw = (config.layers as Json[])[i] as Json;
      const inbound = JSON.stringify(raw.inbound_nodes ?? []);
      const previous = layers[i - 1];
      const ok = i === 0 ? inbound === '[]' : previous !== undefined && inbound === JSON.stringify([[[previous.name, 0, 0, {}]]]);
      if (!ok) throw invalid(`layer ${i} (${layer.name}) must take the previous layer as its only input; heads are a chain of layers.`);
    });
    const first = layers[0]?.name;
    const last = layers[layers.length - 1]?.name;
    if (JSON.stringify(config.input_layers) !== JSON.stringify([[first, 0, 0]]) || JSON.stringify(config.output_layers) !== JSON.stringify([[last, 0, 0]])) {
      throw invalid('a functional head must have its first layer as its input and its last layer as its output.');
    }
    if (layers[0]?.className !== 'InputLayer') throw invalid('a functional head starts with an InputLayer.');
    return layers;
  }
  throw invalid(`modelTopology class ${JSON.stringify(className)} is not supported; use Sequential or a functional Model.`);
}

function layerEntry(raw: unknown, i: number): LayerEntry {
  if (!isObject(raw) || typeof raw.class_name !== 'string' || !isObject(raw.config)) {
    throw invalid(`layer ${i} must be {class_name, config}.`);
  }
  const name = typeof raw.name === 'string' ? raw.name : raw.config.name;
  if (typeof name !== 'string') throw invalid(`layer ${i} has no name.`);
  if (typeof raw.name === 'string' && typeof raw.config.name === 'string' && raw.name !== raw.config.name) {
    throw invalid(`layer ${i} is named both ${raw.name} and ${raw.config.name}.`);
  }
  return { className: raw.class_name, config: raw.config, name };
}

function checkActivation(activation: unknown, where: string): void {
  if (activation === undefined || activation === null) return;
  if (typeof activation !== 'string' || !ACTIVATIONS.has(camel(activation))) {
    throw invalid(`${where} has activation ${JSON.stringify(activation)}; supported: ${[...ACTIVATIONS].join(', ')}.`);
  }
}

function checkSerialized(value: unknown, allowed: Set<string>, where: string): void {
  if (value === undefined || value === null) return;
  if (!isObject(value) || typeof value.class_name !== 'string' || !allowed.has(value.class_name) || (value.config !== undefined && !isObject(value.config))) {
    throw invalid(`${where} must be null or one of ${[...allowed].join(', ')} as {class_name, config}.`);
  }
}

const elements = (shape: readonly number[]): number => shape.reduce((a, d) => a * d, 1);

/** Bytes per stored element of a weight spec. */
function bytesPerElement(spec: HeadWeightSpec): number {
  const q = spec.quantization?.dtype;
  return q === 'uint8' ? 1 : q === 'uint16' || q === 'float16' ? 2 : 4;
}

/** Checks the weight specs: exactly the weights the layers need, with their shapes. */
function checkWeightSpecs(value: unknown, expected: ExpectedWeight[], where: string): HeadWeightSpec[] {
  if (!Array.isArray(value)) throw invalid(`${where} must be an array.`);
  const specs = value.map((raw: unknown, i): HeadWeightSpec => {
    if (!isObject(raw) || typeof raw.name !== 'string' || !Array.isArray(raw.shape)) throw invalid(`${where}[${i}] must be {name, shape, dtype}.`);
    if (!raw.shape.every(isPositiveInt)) throw invalid(`${where}[${i}] (${raw.name}) has shape ${JSON.stringify(raw.shape)}.`);
    if (raw.dtype !== 'float32') throw invalid(`${where}[${i}] (${raw.name}) has dtype ${JSON.stringify(raw.dtype)}; head weights are float32.`);
    const q = raw.quantization;
    if (q !== undefined) {
      if (!isObject(q) || !['uint8', 'uint16', 'float16'].includes(q.dtype as string)) {
        throw invalid(`${where}[${i}] (${raw.name}) quantization must be uint8, uint16 or float16.`);
      }
      if (q.dtype !== 'float16') {
        // Affine quantization: value = min + scale * q; both must be finite for every value to be.
        if (typeof q.min !== 'number' || typeof q.scale !== 'number' || !Number.isFinite(q.min) || !Number.isFinite(q.scale)) {
          throw invalid(`${where}[${i}] (${raw.name}) ${String(q.dtype)} quantization needs finite min and scale.`);
        }
      }
    }
    return raw as unknown as HeadWeightSpec;
  });
  const byName = new Map(specs.map((s) => [s.name, s]));
  if (byName.size !== specs.length) throw invalid(`${where} names a weight twice.`);
  for (const w of expected) {
    const spec = byName.get(w.name);
    if (!spec) throw invalid(`${where} lacks ${w.name} (shape [${w.shape.join(', ')}]).`);
    if (JSON.stringify(spec.shape) !== JSON.stringify(w.shape)) {
      throw invalid(`weight ${w.name} has shape [${spec.shape.join(', ')}]; its layer needs [${w.shape.join(', ')}].`);
    }
  }
  const needed = new Set(expected.map((w) => w.name));
  const extra = specs.filter((s) => !needed.has(s.name));
  if (extra.length) throw invalid(`${where} has weight(s) no layer uses: ${extra.map((s) => s.name).join(', ')}.`);
  return specs;
}

/** Decodes the weights and checks their length and that every value is finite. */
function checkWeightData(value: unknown, specs: HeadWeightSpec[], where: string): void {
  if (typeof value !== 'string') throw invalid(`${where} must be a base64 string.`);
  const expectedBytes = specs.reduce((a, s) => a + elements(s.shape) * bytesPerElement(s), 0);
  if (value.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw invalid(`${where} is not standard base64.`);
  const padding = value.endsWith('==') ? 2 : value.endsWith('=') ? 1 : 0;
  const decodedBytes = (value.length / 4) * 3 - padding;
  if (decodedBytes !== expectedBytes) {
    throw invalid(`${where} holds ${decodedBytes} bytes; its weight specs describe ${expectedBytes}.`);
  }
  const bytes = base64ToBytes(value);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  for (const spec of specs) {
    const n = elements(spec.shape);
    const q = spec.quantization?.dtype;
    if (q === undefined) {
      for (let i = 0; i < n; i++) {
        const v = view.getFloat32(offset + i * 4, true);
        if (!Number.isFinite(v)) throw invalid(`weight ${spec.name}[${i}] is ${v}; every weight must be finite.`);
      }
    } else if (q === 'float16') {
      for (let i = 0; i < n; i++) {
        // Exponent bits all ones: Inf or NaN.
        if ((view.getUint16(offset + i * 2, true) & 0x7c00) === 0x7c00) throw invalid(`weight ${spec.name}[${i}] is not finite (float16).`);
      }
    }
    // uint8/uint16 values are finite whenever min and scale are (checked with the specs).
    offset += n * bytesPerElement(spec);
  }
}
