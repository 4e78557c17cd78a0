/**
 * What the install step builds, as data: which TF.js layers model is the backbone, how its input is
 * prepared, which layers make up the embedding, and which of its layers form the default head.
 * Another TF.js layers backbone is configured by writing another spec like this one.
 */
import type { InputSpec, InputTransform, Pooling } from '../shared/model/manifest.ts';

export interface PartSpec {
  name: string;
  layer: string;
  pooling: Pooling;
}

export interface HeadSpec {
  id: string;
  name: string;
  classes: string[];
  /** Layers of the source model that form the head, input side first. */
  layers: string[];
  /** The embedding part the head reads. */
  input: InputTransform;
  /** Fixed so the install output is byte-identical: the source package's publish date. */
  created: string;
}

export interface BackboneSpec {
  id: string;
  /** The npm package and the files (UMD modules: topology+manifest, base64 weights) inside it. */
  packageName: string;
  modelFile: string;
  /** The weight shards, in the order of the source's weights manifest `paths`. */
  weightsFiles: string[];
  input: InputSpec;
  parts: PartSpec[];
  heads: HeadSpec[];
  /**
   * True when the backbone is cut below the source model's top on purpose: the layers no part
   * and no head needs (and their weights) are left out. False: every source weight must be written.
   */
  cut: boolean;
}

/** MobileNetV2 (alpha 1.0, 224x224) from nsfwjs@4.4.0, fine-tuned by its authors for content safety. */
export const MOBILENET_V2: BackboneSpec = {
  id: 'mobilenet_v2',
  packageName: 'nsfwjs',
  modelFile: 'dist/models/mobilenet_v2/model.min.js',
  weightsFiles: ['dist/models/mobilenet_v2/group1-shard1of1.min.js'],
  input: {
    width: 224,
    height: 224,
    channels: 3,
    background: [255, 255, 255],
    resize: 'bilinear',
    alignCorners: true,
    scale: 1 / 255,
    offset: 0,
  },
  // Earlier layers transfer better than the specialised last one (FIELD-NOTES, measured here).
  parts: [
    { name: 'block_13_expand_relu', layer: 'block_13_expand_relu', pooling: 'global-max' },
    { name: 'block_16_expand_relu', layer: 'block_16_expand_relu', pooling: 'global-max' },
    { name: 'flatten_1', layer: 'flatten_1', pooling: 'none' },
  ],
  heads: [
    {
      id: 'content-safety',
      name: 'Content safety (nsfwjs)',
      classes: ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'],
      layers: ['dense_1', 'dropout_2', 'dense_2', 'dropout_3', 'dense_3'],
      input: { parts: ['flatten_1'], mean: null, normalize: 'none', scale: 1 },
      created: '2026-08-07T15:54:40.403Z',
    },
  ],
  cut: false,
};

/**
 * InceptionV3 (299x299) from nsfwjs@4.4.0, cut at `mixed7` and global-average pooled (768 floats):
 * the best-transferring features measured here (FIELD-NOTES: 48.6% emoji at 10 shots with a plain
 * softmax, against 47.6% for MobileNetV2's multi-layer embedding), at ~7x MobileNetV2's forward
 * time. Cut there it keeps 9.0M of the network's 22.4M weights; nsfwjs's head reads the top
 * (`mixed10`), so this backbone ships no default head.
 */
export const INCEPTION_V3: BackboneSpec = {
  id: 'inception_v3',
  packageName: 'nsfwjs',
  modelFile: 'dist/models/inception_v3/model.min.js',
  weightsFiles: [1, 2, 3, 4, 5, 6].map((i) => `dist/models/inception_v3/group1-shard${i}of6.min.js`),
  // nsfwjs prepares both models' input the same way (pixels / 255, bilinear with aligned corners).
  input: { ...MOBILENET_V2.input, width: 299, height: 299 },
  parts: [{ name: 'mixed7', layer: 'mixed7', pooling: 'global-average' }],
  heads: [],
  cut: true,
};

/** Every backbone the install step can prepare, by id; the first is the default. */
export const BACKBONE_SPECS: readonly BackboneSpec[] = [MOBILENET_V2, INCEPTION_V3];

/**
 * A pair of backbones served as one (shared/model/backbone-pair.ts): its embedding is its members'
 * concatenated, so it has no files of its own; its id is the members' ids joined with `+`.
 */
export interface PairSpec {
  /** Backbone ids, in embedding order. */
  members: readonly string[];
}

/**
 * MobileNetV2 + InceptionV3: the only configuration measured to reach the accuracy goals with
 * Train's head (bench/eval.json `eval.<dataset>.app@mobilenet_v2+inception_v3.k10`), at the cost
 * of both forward passes and both downloads.
 */
export const MOBILENET_INCEPTION: PairSpec = { members: [MOBILENET_V2.id, INCEPTION_V3.id] };

/** Every pair the server can serve. */
export const PAIR_SPECS: readonly PairSpec[] = [MOBILENET_INCEPTION];

/** The environment variable naming the backbones (and pairs) the install step prepares and the server lists. */
export const BACKBONES_ENV = 'TANNERIN_BACKBONES';

/** A pair's id: its members' ids joined with `+` (as shared/model/backbone-pair.ts `pairId`). */
export const pairSpecId = (pair: PairSpec): string => pair.members.join('+');

/** The ids listed in a {@link BACKBONES_ENV} value, each checked to name a backbone or a pair. */
function listedIds(setting: string | undefined): string[] {
  const ids = (setting ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const known = [...BACKBONE_SPECS.map((s) => s.id), ...PAIR_SPECS.map(pairSpecId)];
  for (const id of ids) {
    if (!known.includes(id)) throw new Error(`${BACKBONES_ENV}: unknown backbone "${id}" (known: ${known.join(', ')})`);
  }
  return ids;
}

/**
 * The backbones to prepare, from the value of {@link BACKBONES_ENV} (comma-separated ids of
 * backbones and pairs; unset or empty: all of {@link BACKBONE_SPECS}). MobileNetV2 is always
 * included and always first: the Worker runs it and the manifest's `backbone` (the default) is it.
 */
export function selectBackbones(setting: string | undefined): BackboneSpec[] {
  const ids = listedIds(setting);
  if (!ids.length) return [...BACKBONE_SPECS];
  if (!ids.includes(MOBILENET_V2.id)) {
    throw new Error(`${BACKBONES_ENV}: ${MOBILENET_V2.id} must be listed: the Worker runs it and it is the default backbone`);
  }
  return BACKBONE_SPECS.filter((s) => ids.includes(s.id));
}

/**
 * The pairs to serve, from the value of {@link BACKBONES_ENV}: unset or empty, every pair of
 * {@link PAIR_SPECS} (its members are all prepared then); else the pairs listed by id
 * (`mobilenet_v2+inception_v3`), each of whose members must be listed too.
 */
export function selectPairs(setting: string | undefined): PairSpec[] {
  const ids = listedIds(setting);
  if (!ids.length) return [...PAIR_SPECS];
  const pairs = PAIR_SPECS.filter((p) => ids.includes(pairSpecId(p)));
  for (const pair of pairs) {
    const missing = pair.members.filter((m) => !ids.includes(m));
    if (missing.length) throw new Error(`${BACKBONES_ENV}: the pair ${pairSpecId(pair)} needs its members listed too (missing: ${missing.join(', ')})`);
  }
  return pairs;
}
