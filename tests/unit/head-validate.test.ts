/**
 * shared/head/validate.ts: every head the project makes passes (the shipped default head, heads
 * from `trainHead`, a fine-tuned model's backbone tail), every head it accepts loads in TF.js, and
 * each kind of inconsistency is refused with a message that names it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { bytesToBase64 } from '../../shared/util/base64.ts';
import { TannerinError } from '../../shared/errors.ts';
import { loadLayersModel } from '@tensorflow/tfjs-layers';
import { backboneTailArtifacts, type HeadDocument, type HeadWeightSpec } from '../../shared/head/document.ts';
import { loadPredictor } from '../../shared/predict/predictor.ts';
import { isDefaultHeadName, isHeadId, parseHeadDocument, validateHeadDocument, type BackboneModelJson } from '../../shared/head/validate.ts';
import { HEAD_LIMITS } from '../../shared/limits.ts';
import type { Manifest } from '../../shared/model/manifest.ts';
import { trainHead } from '../../shared/learn/train-head.ts';
import { startNodeWasmBackend } from '../../scripts/node-backend.ts';
import { readManifest } from '../../scripts/node-models.ts';
import { PUBLIC_DIR } from '../../scripts/prepare-models.ts';
import { float32Base64, makeTestHead, makeTestTail, type TestTail } from '../helpers/heads.ts';

let manifest: Manifest;
let backboneModel: BackboneModelJson;

beforeAll(async () => {
  await startNodeWasmBackend();
  manifest = readManifest();
  backboneModel = JSON.parse(readFileSync(join(PUBLIC_DIR, manifest.backbone.files[0]?.path ?? ''), 'utf8')) as BackboneModelJson;
});

/** The TannerinError `fn` throws. */
function failure(fn: () => unknown): TannerinError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TannerinError) return err;
    throw err;
  }
  throw new Error('expected a TannerinError');
}
const edited = (doc: HeadDocument, edit: (d: HeadDocument & Record<string, unknown>) => void): HeadDocument => {
  const copy = structuredClone(doc) as HeadDocument & Record<string, unknown>;
  edit(copy);
  return copy;
};

describe('heads the project makes pass, and load', () => {
  it('the shipped default head (functional Keras model, uint8-quantized weights)', async () => {
    const entry = manifest.heads[0];
    const doc = JSON.parse(readFileSync(join(PUBLIC_DIR, entry?.document.path ?? ''), 'utf8')) as HeadDocument;
    const result = validateHeadDocument(doc, manifest.backbone, { requireHeadId: false });
    expect(result.inputSize).toBe(1280);
    expect(result.parameters).toBe(1280 * 256 + 256 + 256 * 128 + 128 + 128 * 5 + 5);
    // Its id is a default head name, not a personal id.
    expect(failure(() => validateHeadDocument(doc, manifest.backbone)).message).toMatch(/lowercase UUID/);
  });

  it('heads from trainHead, with and without a hidden layer', async () => {
    const examples = Array.from({ length: 12 }, (_, i) => ({
      photoId: `p${i}`,
      label: ['a', 'b', 'c'][i % 3] as string,
      embedding: new Float32Array(manifest.backbone.embedding.size).map((_, j) => Math.abs(Math.sin(i * 7 + j * ((i % 3) + 1)))),
      augmented: false,
    }));
    for (const hidden of [0, 8]) {
      const { doc } = await trainHead(examples, { backbone: manifest.backbone, seed: 1, epochs: 2, hidden });
      const result = validateHeadDocument(JSON.parse(JSON.stringify(doc)), manifest.backbone);
      expect(result.doc.id).toBe(doc.id);
    }
  });

  it('test heads (float32 and quantized) validate and load in TF.js', async () => {
    for (const options of [{}, { quantize: true, hidden: 0, parts: ['flatten_1'] }]) {
      const doc = makeTestHead(manifest.backbone, options);
      validateHeadDocument(doc, manifest.backbone);
      const before = tf.memory().numTensors;
      const head = await loadPredictor(doc, { manifest: manifest.backbone });
      const scores = await head.predictFrozen({ embedding: new Float32Array(manifest.backbone.embedding.size).fill(0.3) });
      expect(scores).toHaveLength(doc.classes.length);
      head.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
  });
});

describe('refusals name the problem', () => {
  let doc: HeadDocument;
  beforeAll(() => {
    doc = makeTestHead(manifest.backbone, { hidden: 4, parts: ['flatten_1'] });
  });
  const cases: [string, (d: HeadDocument & Record<string, unknown>) => void, RegExp][] = [
    ['another backbone', (d) => (d.backbone = 'mobilenet_v2@ffffffffffffffff'), /made for backbone mobilenet_v2@ffffffffffffffff, but this server runs mobilenet_v2@/],
    ['unknown field', (d) => (d.extra = true), /unknown field\(s\) "extra"/],
    ['missing field', (d) => delete (d as Partial<HeadDocument>).metrics, /missing field\(s\) metrics/],
    ['one class', (d) => (d.classes = ['only']), /2 to 1000 classes/],
    ['label not a string', (d) => ((d.classes as unknown[])[0] = 5), /classes\[0\] must be a string/],
    ['mean with NaN (null in JSON)', (d) => ((d.input.mean as unknown[])[3] = null), /input\.mean\[3\]/],
    ['unknown activation', (d) => (((d.modelTopology.config as { layers: { config: Record<string, unknown> }[] }).layers[1] as { config: Record<string, unknown> }).config.activation = 'evil'), /activation "evil"/],
    ['unknown initializer', (d) => (((d.modelTopology.config as { layers: { config: Record<string, unknown> }[] }).layers[0] as { config: Record<string, unknown> }).config.kernel_initializer = { class_name: 'Lambda', config: {} }), /kernel_initializer/],
    ['duplicate layer names', (d) => (((d.modelTopology.config as { layers: { config: Record<string, unknown> }[] }).layers[1] as { config: Record<string, unknown> }).config.name = 'hidden'), /two layers are named hidden/],
    ['extra weight', (d) => d.weightSpecs.push({ name: 'junk/kernel', shape: [1], dtype: 'float32' }), /junk\/kernel/],
    ['missing weight', (d) => d.weightSpecs.pop(), /lacks classes\/bias/],
    ['int32 weights', (d) => ((d.weightSpecs[1] as HeadWeightSpec).dtype = 'int32'), /dtype "int32"/],
    ['base64 with junk', (d) => (d.weightData = `${d.weightData.slice(0, -4)}!!!!`), /not standard base64/],
    ['uint8 quantization without scale', (d) => ((d.weightSpecs[1] as HeadWeightSpec).quantization = { dtype: 'uint8', min: 0 }), /finite min and scale/],
    ['a Model class other than Sequential/Model', (d) => (d.modelTopology.class_name = 'Lambda'), /class "Lambda" is not supported/],
    ['test-time augmentation not an object', (d) => Object.assign(d, { testTimeAugmentation: 3 }), /testTimeAugmentation must be an object \{views, seed\}/],
    ['test-time augmentation with no views', (d) => (d.testTimeAugmentation = { views: 0, seed: 0 }), /testTimeAugmentation\.views must be a whole number from 1 to 7/],
    ['test-time augmentation with too many views', (d) => (d.testTimeAugmentation = { views: 8, seed: 0 }), /testTimeAugmentation\.views .* got 8/],
    ['test-time augmentation with a fractional seed', (d) => (d.testTimeAugmentation = { views: 3, seed: 1.5 }), /testTimeAugmentation\.seed must be a whole number from 0 to 4294967295/],
    ['test-time augmentation with a seed over 32 bits', (d) => (d.testTimeAugmentation = { views: 3, seed: 2 ** 32 }), /testTimeAugmentation\.seed/],
    ['test-time augmentation with an unknown field', (d) => Object.assign(d, { testTimeAugmentation: { views: 3, seed: 0, weights: [1] } }), /testTimeAugmentation has unknown field\(s\) weights/],
  ];
  for (const [name, edit, message] of cases) {
    it(name, () => {
      const err = failure(() => validateHeadDocument(edited(doc, edit), manifest.backbone));
      expect(err.message).toMatch(message);
      expect(err.code).toBe(name === 'another backbone' ? 'backbone_mismatch' : 'invalid_head');
      expect(err.status).toBe(name === 'another backbone' ? 409 : 422);
    });
  }

  it('test-time augmentation within bounds passes, and a head without it is unchanged', () => {
    for (const tta of [{ views: 1, seed: 0 }, { views: 3, seed: 12345 }, { views: 7, seed: 4294967295 }]) {
      const result = validateHeadDocument(edited(doc, (d) => (d.testTimeAugmentation = tta)), manifest.backbone);
      expect(result.doc.testTimeAugmentation).toEqual(tta);
    }
    expect(validateHeadDocument(structuredClone(doc), manifest.backbone).doc.testTimeAugmentation).toBeUndefined();
  });

  it('a float16 Inf, and float16 weights whose length does not fit', () => {
    const small = makeTestHead(manifest.backbone, { hidden: 0, parts: ['block_13_expand_relu'], classes: ['a', 'b'], mean: false });
    const n = 576 * 2 + 2;
    const half = new Uint16Array(n).fill(0x3c00); // 1.0
    const specs = small.weightSpecs.map((s) => ({ ...s, quantization: { dtype: 'float16' as const } }));
    const ok = { ...small, weightSpecs: specs, weightData: bytesToBase64(new Uint8Array(half.buffer)) };
    validateHeadDocument(ok, manifest.backbone);
    half[7] = 0x7c00; // +Inf
    const bad = { ...ok, weightData: bytesToBase64(new Uint8Array(half.buffer)) };
    expect(failure(() => validateHeadDocument(bad, manifest.backbone)).message).toMatch(/classes\/kernel\[7\] is not finite/);
    const short = { ...ok, weightData: float32Base64([1, 2]) };
    expect(failure(() => validateHeadDocument(short, manifest.backbone)).message).toMatch(/holds 8 bytes.*describe 2308/);
  });

  it(`too many weights (limit ${HEAD_LIMITS.maxParameters})`, () => {
    const limits = { ...HEAD_LIMITS, maxParameters: 1000 };
    expect(failure(() => validateHeadDocument(doc, manifest.backbone, { limits })).message).toMatch(/weights; the limit is 1000/);
  });

  it('bytes that are not UTF-8 JSON', () => {
    expect(failure(() => parseHeadDocument(new Uint8Array([0xff, 0xfe, 0x00]))).code).toBe('invalid_head');
    expect(failure(() => parseHeadDocument(new TextEncoder().encode('{"a":'))).message).toMatch(/not JSON/);
  });
});

describe('head ids and default head names never collide', () => {
  it('personal ids are canonical lowercase UUIDs', () => {
    expect(isHeadId(crypto.randomUUID())).toBe(true);
    expect(isHeadId(crypto.randomUUID().toUpperCase())).toBe(false);
    expect(isHeadId('content-safety')).toBe(false);
    expect(isHeadId('../../x')).toBe(false);
  });

  it('every shipped default head has a default head name, which is never an id', () => {
    for (const head of manifest.heads) expect(isDefaultHeadName(head.id), head.id).toBe(true);
    expect(isDefaultHeadName('abcdefab-abcd-abcd-abcd-abcdefabcdef')).toBe(false);
    expect(isDefaultHeadName('Content-Safety')).toBe(false);
  });
});

describe('fine-tuned models: the backbone tail is checked against the backbone itself', () => {
  let doc: HeadDocument;
  beforeAll(() => {
    doc = { ...makeTestHead(manifest.backbone, { hidden: 0 }), backboneTail: makeTestTail(manifest.backbone, backboneModel) };
  });
  const check = (d: HeadDocument) => validateHeadDocument(d, manifest.backbone, { backboneModel });
  const makeTail = () => makeTestTail(manifest.backbone, backboneModel);
  const withTail = (edit: (tail: TestTail) => void): HeadDocument => {
    const tail = makeTail();
    edit(tail);
    return { ...doc, backboneTail: tail };
  };
  const layer = (tail: TestTail, name: string) => tail.modelTopology.config.layers.find((l) => l.name === name) as TestTail['modelTopology']['config']['layers'][number];

  it('a tail made as fine-tune makes it passes and loads in TF.js; its weights count towards the limit', async () => {
    const result = check(doc);
    expect(result.parameters).toBeGreaterThan(800_000); // block_16 and Conv_1
    const model = await loadLayersModel(tf.io.fromMemory(backboneTailArtifacts(doc.backboneTail as NonNullable<HeadDocument['backboneTail']>)));
    expect(model.outputs.map((o) => o.shape)).toEqual([[null, 960], [null, 1280]]);
    model.dispose();
    expect(() => validateHeadDocument(doc, manifest.backbone)).toThrow(/needs options.backboneModel/);
  });

  it('refuses a changed architecture, rewiring, foreign or missing weights, and non-finite values', () => {
    const refusals: [HeadDocument, RegExp][] = [
      [withTail((t) => (layer(t, 'Conv_1').config.filters = 1281)), /Conv_1 differs from the backbone/],
      [withTail((t) => (layer(t, 'Conv_1').class_name = 'Dense')), /Conv_1 differs/],
      [withTail((t) => (layer(t, 'out_relu').inbound_nodes = [[['block_16_project_BN', 0, 0, {}]]])), /out_relu is wired differently/],
      [withTail((t) => t.modelTopology.config.layers.push({ ...layer(t, 'Conv_1'), name: 'my_layer', config: { ...layer(t, 'Conv_1').config, name: 'my_layer' } })), /my_layer is not a \(single\) layer/],
      [withTail((t) => (t.cut = 'nowhere')), /cut "nowhere" is not a layer/],
      [withTail((t) => (t.parts = ['block_16_expand_relu'])), /output_layers must be the layers of its parts/],
      [withTail((t) => (t.cutShape = [7, 7, 161])), /cutShape \[7, 7, 161\] is not the shape of block_15_add's output, \[7, 7, 160\]/],
      // Claimed consistently in the InputLayer too (the runtime would fail every prediction).
      [
        withTail((t) => {
          t.cutShape = [14, 14, 160];
          (layer(t, t.modelTopology.config.layers[0]?.name ?? '').config as Record<string, unknown>).batch_input_shape = [null, 14, 14, 160];
        }),
        /cutShape \[14, 14, 160\] is not the shape of block_15_add's output/,
      ],
      [withTail((t) => ((layer(t, t.modelTopology.config.layers[0]?.name ?? '').config as Record<string, unknown>).dtype = 'int32')), /InputLayer must take dense float32 activations, not "int32"/],
      [withTail((t) => ((layer(t, t.modelTopology.config.layers[0]?.name ?? '').config as Record<string, unknown>).sparse = true)), /dense float32/],
      [withTail((t) => t.weightSpecs.pop()), /lacks/],
      [withTail((t) => ((t.weightSpecs[0] as HeadWeightSpec).shape = [1, 1, 160, 961])), /has shape \[1, 1, 160, 961\]/],
      [withTail((t) => (t.weightData = float32Base64([NaN]) + t.weightData.slice(8))), /backboneTail.weightData|is NaN/],
      [withTail((t) => ((t as unknown as Record<string, unknown>).extra = 1)), /unknown: extra/],
    ];
    for (const [bad, message] of refusals) expect(failure(() => check(bad)).message).toMatch(message);
  });
});
