/**
 * Head documents for tests, built without TF.js from seeded weights, in the form tfjs-layers
 * saves (a `Sequential` of Dense layers). Pure, so the Node global setup, the unit tests and the
 * tests inside workerd build byte-identical documents from the same options.
 */
import { bytesToBase64 } from '../../shared/util/base64.ts';
import { makeHeadDocument, type HeadDocument, type HeadWeightSpec } from '../../shared/head/document.ts';
import type { BackboneModelJson } from '../../shared/head/validate.ts';
import { backboneRef, embeddingPart, type BackboneManifest } from '../../shared/model/manifest.ts';
import { mulberry32 } from '../../shared/util/random.ts';

export interface TestHeadOptions {
  id?: string;
  name?: string;
  classes?: string[];
  /** Embedding parts the head reads. Default: all of the backbone's. */
  parts?: string[];
  /** Units of a hidden relu layer; 0 for a plain softmax head. Default 16. */
  hidden?: number;
  seed?: number;
  /** Store the weights uint8-quantized, as the shipped default head does. */
  quantize?: boolean;
  /** Record a training mean (seeded values). Default true. */
  mean?: boolean;
  /** Overrides the backbone reference written into the document. */
  backbone?: string;
}

/** A fixed id, so tests can name the head before building it. */
export const TEST_HEAD_ID = '3f2b8c1e-7a4d-4e9b-9c2f-5d6e7f8a9b0c';

/** A valid head document for `backbone`. */
export function makeTestHead(backbone: BackboneManifest, options: TestHeadOptions = {}): HeadDocument {
  const random = mulberry32(options.seed ?? 1);
  const classes = options.classes ?? ['cat', 'dog', 'other'];
  const parts = options.parts ?? backbone.embedding.parts.map((p) => p.name);
  const hidden = options.hidden ?? 16;
  const inputSize = parts.reduce((a, name) => a + embeddingPart(backbone, name).size, 0);

  const dims: [string, number, number, string][] = hidden > 0
    ? [['hidden', inputSize, hidden, 'relu'], ['classes', hidden, classes.length, 'softmax']]
    : [['classes', inputSize, classes.length, 'softmax']];
  const layers = dims.map(([name, input, units, activation], i) => ({
    class_name: 'Dense',
    config: {
      units,
      activation,
      use_bias: true,
      kernel_initializer: { class_name: 'VarianceScaling', config: { scale: 1, mode: 'fan_avg', distribution: 'uniform', seed: null } },
      bias_initializer: { class_name: 'Zeros', config: {} },
      kernel_regularizer: null,
      bias_regularizer: null,
      activity_regularizer: null,
      kernel_constraint: null,
      bias_constraint: null,
      name,
      trainable: true,
      ...(i === 0 ? { batch_input_shape: [null, input], dtype: 'float32' } : {}),
    },
  }));
  const modelTopology = {
    class_name: 'Sequential',
    config: { name: 'tannerin_head', layers },
    keras_version: 'tfjs-layers 4.22.0',
    backend: 'tensor_flow.js',
  };

  const specs: HeadWeightSpec[] = [];
  const chunks: Uint8Array[] = [];
  for (const [name, input, units] of dims) {
    const limit = Math.sqrt(6 / (input + units));
    const kernel = Float32Array.from({ length: input * units }, () => (random() * 2 - 1) * limit);
    const bias = Float32Array.from({ length: units }, () => (random() * 2 - 1) * 0.1);
    for (const [suffix, values, shape] of [['kernel', kernel, [input, units]], ['bias', bias, [units]]] as const) {
      const encoded = options.quantize ? quantizeUint8(values) : { bytes: new Uint8Array(values.buffer), quantization: undefined };
      specs.push({ name: `${name}/${suffix}`, shape: [...shape], dtype: 'float32', ...(encoded.quantization ? { quantization: encoded.quantization } : {}) });
      chunks.push(encoded.bytes);
    }
  }
  const weightData = new Uint8Array(chunks.reduce((a, c) => a + c.byteLength, 0));
  let o = 0;
  for (const c of chunks) {
    weightData.set(c, o);
    o += c.byteLength;
  }

  return makeHeadDocument(
    {
      id: options.id ?? TEST_HEAD_ID,
      name: options.name ?? classes.join(', '),
      classes,
      backbone: options.backbone ?? backboneRef(backbone),
      input: {
        parts,
        mean: options.mean === false ? null : Array.from({ length: inputSize }, () => Number((random() * 0.5).toPrecision(7))),
        normalize: 'l2',
        scale: 10,
      },
      metrics: null,
      created: '2026-11-29T00:00:00.000Z',
    },
    { modelTopology, weightSpecs: specs, weightData },
  );
}

/** uint8 affine quantization as the TF.js converter writes it: value = min + scale * q. */
function quantizeUint8(values: Float32Array): { bytes: Uint8Array; quantization: NonNullable<HeadWeightSpec['quantization']> } {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const scale = max > min ? (max - min) / 255 : 1;
  const bytes = Uint8Array.from(values, (v) => Math.round((v - min) / scale));
  return { bytes, quantization: { dtype: 'uint8', min, scale } };
}

/** The document as the bytes a client uploads. */
export function headBytes(doc: unknown): Uint8Array<ArrayBuffer> {
  return new Uint8Array(new TextEncoder().encode(JSON.stringify(doc)));
}

/** Base64 of float32 values (for tests that patch weights). */
export function float32Base64(values: ArrayLike<number>): string {
  return bytesToBase64(new Uint8Array(Float32Array.from(values).buffer));
}

/** A Keras layer in a functional topology. */
interface KerasLayer {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  inbound_nodes: [string, number, number, Record<string, unknown>][][];
}

/** A backbone tail as {@link makeTestTail} makes it (the `backboneTail` of a head document). */
export interface TestTail {
  cut: string;
  cutShape: number[];
  parts: string[];
  modelTopology: {
    class_name: string;
    config: { name: string; layers: KerasLayer[]; input_layers: [string, number, number][]; output_layers: [string, number, number][] };
  };
  weightSpecs: HeadWeightSpec[];
  weightData: string;
}

/**
 * A fine-tuned model's tail as shared/learn/fine-tune.ts builds it: the backbone's layers from the cut
 * (MobileNetV2's `block_15_add`, output 7x7x160) to the embedding parts it recomputes, fed by a
 * new input layer, with float32 weights (all 0.01).
 */
export function makeTestTail(backbone: BackboneManifest, model: BackboneModelJson, parts = ['block_16_expand_relu', 'flatten_1']): TestTail {
  const topology = (model.modelTopology.model_config ?? model.modelTopology) as { config: { layers: KerasLayer[]; output_layers: [string, number, number][] } };
  const layers = topology.config.layers;
  const byName = new Map(layers.map((l) => [l.name, l]));
  const concat = byName.get(topology.config.output_layers[0]?.[0] ?? '');
  const partLayers = (concat?.inbound_nodes[0] ?? []).map((n) => n[0]);
  const outputs = parts.map((p) => partLayers[backbone.embedding.parts.findIndex((q) => q.name === p)] as string);
  const cut = 'block_15_add';
  const needed = new Set<string>();
  const visit = (name: string): void => {
    if (name === cut || needed.has(name)) return;
    needed.add(name);
    for (const [from] of byName.get(name)?.inbound_nodes[0] ?? []) visit(from);
  };
  outputs.forEach(visit);
  const specs = model.weightsManifest.flatMap((g) => g.weights).filter((w) => needed.has(w.name.slice(0, w.name.lastIndexOf('/'))));
  const count = specs.reduce((a, s) => a + s.shape.reduce((p, d) => p * d, 1), 0);
  const input = 'tail_input';
  return {
    cut,
    cutShape: [7, 7, 160],
    parts,
    modelTopology: {
      class_name: 'Model',
      config: {
        name: 'backbone_tail',
        layers: [
          { name: input, class_name: 'InputLayer', config: { batch_input_shape: [null, 7, 7, 160], dtype: 'float32', sparse: false, name: input }, inbound_nodes: [] },
          ...layers
            .filter((l) => needed.has(l.name))
            .map((l) => ({
              ...l,
              config: { ...l.config, trainable: true },
              inbound_nodes: l.inbound_nodes.map((node) => node.map(([from, a, b, kw]): [string, number, number, Record<string, unknown>] => [from === cut ? input : from, a, b, kw])),
            })),
        ],
        input_layers: [[input, 0, 0]],
        output_layers: outputs.map((o): [string, number, number] => [o, 0, 0]),
      },
    },
    weightSpecs: specs.map((s) => ({ name: s.name, shape: s.shape, dtype: 'float32' as const })),
    weightData: bytesToBase64(new Uint8Array(new Float32Array(count).fill(0.01).buffer)),
  };
}
