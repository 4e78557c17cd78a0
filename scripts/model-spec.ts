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
  weightsFile: string;
  input: InputSpec;
  parts: PartSpec[];
  heads: HeadSpec[];
}

/** MobileNetV2 (alpha 1.0, 224x224) from nsfwjs@4.4.0, fine-tuned by its authors for content safety. */
export const MOBILENET_V2: BackboneSpec = {
  id: 'mobilenet_v2',
  packageName: 'nsfwjs',
  modelFile: 'dist/models/mobilenet_v2/model.min.js',
  weightsFile: 'dist/models/mobilenet_v2/group1-shard1of1.min.js',
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
};
