/**
 * The frozen backbone as a folded graph: the Keras functional model in `model.json`, rebuilt at load
 * time as a short list of fused TF.js ops, from the unchanged model files.
 *
 * - Every Conv2D / DepthwiseConv2D -> BatchNormalization -> activation chain becomes one
 *   `tf.fused.conv2d` / `tf.fused.depthwiseConv2d`: the normalisation is folded into the
 *   convolution's weights and bias (`w' = w * gamma / sqrt(var + eps)`,
 *   `b' = (b - mean) * gamma / sqrt(var + eps) + beta`, per output channel, computed in float64),
 *   and a ReLU / ReLU6 after it runs inside the same kernel.
 * - A ZeroPadding2D read only by a 'valid' convolution becomes that convolution's explicit padding
 *   (exact at any input size, where 'same' would only match at even sizes).
 * - Everything else (Add, Concatenate, pooling, Flatten, a lone BatchNormalization or activation)
 *   runs as one op each.
 *
 * MobileNetV2's 159 layers (294 kernels) become 67 ops, in about half the time. The weights are
 * dequantized and folded in JS, so the backend only ever holds the folded ones (no transient copy
 * of the unfolded model grows the WASM heap, which never shrinks). Batch-norm statistics are
 * frozen, so this is inference only: training a backbone's layers (fine-tuning's tail) runs on the
 * unfolded layers model (shared/model/backbone.ts `layersModel()`).
 *
 * Each fused node keeps the name of the last layer it absorbed (`block_1_expand_relu`), so any
 * layer whose output still exists can be read by its name; the names folded away are listed in
 * {@link GraphNode.folded}.
 */
import * as tf from '@tensorflow/tfjs-core';
import { configField as field, configPair as pair, inferLayerShapes, type Shape } from './layer-shapes.ts';

type Json = Record<string, unknown>;

/** A fused activation the WASM and CPU kernels run inside a convolution. */
type FusedActivation = 'linear' | 'relu' | 'relu6';
/** Explicit NHWC padding: [[0, 0], [top, bottom], [left, right], [0, 0]]. */
type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];

type Op =
  | { kind: 'input' }
  | {
      kind: 'conv2d' | 'depthwise';
      filter: tf.Tensor4D;
      bias: tf.Tensor1D | null;
      strides: [number, number];
      pad: 'same' | 'valid' | ExplicitPadding;
      dilations: [number, number];
      activation: FusedActivation;
    }
  /** A batch normalisation that follows no convolution: `x * scale + shift`. */
  | { kind: 'affine'; scale: tf.Tensor1D; shift: tf.Tensor1D }
  | { kind: 'activation'; fn: 'relu' | 'relu6' | 'sigmoid' | 'tanh' | 'softmax'; maxValue?: number }
  | { kind: 'identity' }
  | { kind: 'pad'; paddings: ExplicitPadding }
  | { kind: 'add' }
  | { kind: 'concat'; axis: number }
  | { kind: 'pool'; fn: 'avg' | 'max'; size: [number, number]; strides: [number, number]; pad: 'same' | 'valid' }
  | { kind: 'global'; fn: 'avg' | 'max' }
  | { kind: 'flatten' };

/** What {@link FoldedGraph.execute} runs for one list of outputs: its nodes in order, and each node's reader count. */
interface ExecutionPlan {
  nodes: readonly GraphNode[];
  readers: ReadonlyMap<string, number>;
}

/** Output lists whose plans are kept; more distinct lists than this clear the cache ({@link FoldedGraph} planFor). */
const MAX_PLANS = 16;

/** One op of the folded graph. */
export interface GraphNode {
  /** The name of the last layer this node absorbed: its output is that layer's output. */
  readonly name: string;
  /** Names of the nodes it reads, in order. */
  readonly inputs: readonly string[];
  /** The Keras class of each layer absorbed, e.g. `Conv2D+BatchNormalization+ReLU`. */
  readonly kind: string;
  /** Names of the layers folded into it whose own outputs no longer exist. */
  readonly folded: readonly string[];
  readonly op: Op;
}

/** A layer as it appears in a Keras functional model config. */
interface KerasLayer {
  name: string;
  class_name: string;
  config: Json;
  inbound_nodes: [string, number, number, Json?][][];
}

/** One weight of `model.json`'s weights manifest (TF.js format). */
export interface WeightEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  quantization?: { dtype: 'uint8' | 'uint16' | 'float16'; min?: number; scale?: number };
}

/** `model.json` of a TF.js layers model: topology and weights manifest. */
export interface LayersModelFile {
  modelTopology: Json;
  weightsManifest: { paths?: string[]; weights: WeightEntry[] }[];
}

/** A dequantized weight, in JS memory. */
interface Weight {
  shape: number[];
  values: Float32Array;
}

/**
 * Decodes a weights manifest's values from the concatenated weight files, in JS (no tensors):
 * float32 as stored, uint8/uint16 quantization as `q * scale + min`, as tfjs-core decodes them.
 */
export function decodeWeights(entries: readonly WeightEntry[], data: Uint8Array): Map<string, Weight> {
  const out = new Map<string, Weight>();
  let offset = 0;
  for (const entry of entries) {
    const size = entry.shape.reduce((a, b) => a * b, 1);
    if (entry.dtype !== 'float32') throw new Error(`weight ${entry.name}: dtype ${entry.dtype} is not supported (float32 only)`);
    const q = entry.quantization;
    const bytesPer = q ? (q.dtype === 'uint8' ? 1 : q.dtype === 'uint16' ? 2 : 0) : 4;
    if (bytesPer === 0 || (q && (q.min === undefined || q.scale === undefined))) {
      throw new Error(`weight ${entry.name}: quantization ${JSON.stringify(q)} is not supported (uint8 or uint16 with min and scale)`);
    }
    const bytes = size * bytesPer;
    if (offset + bytes > data.length) throw new Error(`weight ${entry.name} runs past the end of the weight files (${data.length} bytes)`);
    const chunk = data.slice(offset, offset + bytes);
    offset += bytes;
    let values: Float32Array;
    if (!q) values = new Float32Array(chunk.buffer);
    else {
      const { min, scale } = q as { min: number; scale: number };
      values = dequantize(bytesPer === 1 ? chunk : new Uint16Array(chunk.buffer), scale, min);
    }
    out.set(entry.name, { shape: entry.shape, values });
  }
  if (offset !== data.length) throw new Error(`the weight files hold ${data.length} bytes, the manifest describes ${offset}`);
  return out;
}

/** `q * scale + min` for each quantized value (its own function so that V8 optimises the loop). */
function dequantize(raw: Uint8Array | Uint16Array, scale: number, min: number): Float32Array {
  const values = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) values[i] = (raw[i] as number) * scale + min;
  return values;
}

/** The functional model config inside a `modelTopology` (Keras writes it under `model_config`). */
export function modelConfig(topology: Json): { layers: KerasLayer[]; output_layers: [string, number, number][] } {
  const inner = (topology.model_config ?? topology) as Json;
  const config = inner.config as { layers?: unknown; output_layers?: unknown } | undefined;
  if (!config || !Array.isArray(config.layers) || !Array.isArray(config.output_layers)) throw new Error('model.json holds no functional model config');
  return config as { layers: KerasLayer[]; output_layers: [string, number, number][] };
}

const inbound = (layer: KerasLayer): string[] => (layer.inbound_nodes[0] ?? []).map(([name]) => name);

/** The folded backbone: nodes in execution order, holding the folded weights (module comment). */
export class FoldedGraph {
  /** Nodes in topological order; the first is the input. */
  readonly nodes: readonly GraphNode[];
  /** The model's output node (the embedding). */
  readonly output: string;
  /** Input shape without the batch dimension, e.g. [224, 224, 3]. */
  readonly inputShape: Shape;
  private readonly byName: Map<string, GraphNode>;
  private readonly folds = new Map<string, string>();
  private readonly shapes: Map<string, Shape>;
  private readonly plans = new Map<string, ExecutionPlan>();
  private disposed = false;

  private constructor(nodes: GraphNode[], output: string, shapes: Map<string, Shape>) {
    this.nodes = nodes;
    this.output = output;
    this.byName = new Map(nodes.map((n) => [n.name, n]));
    for (const n of nodes) for (const f of n.folded) this.folds.set(f, n.name);
    this.shapes = shapes;
    const input = nodes[0];
    const inputShape = input ? shapes.get(input.name) : undefined;
    if (!input || input.op.kind !== 'input' || !inputShape) throw new Error('the model has no input layer with a fixed shape');
    this.inputShape = inputShape;
  }

  /**
   * Folds a TF.js layers model from its files' contents: `model.json` and its weights, decoded
   * ({@link decodeWeights}). Throws naming the first layer it cannot run.
   */
  static fromModelFile(file: LayersModelFile, weights: Map<string, Weight>): FoldedGraph {
    const config = modelConfig(file.modelTopology);
    const layers = config.layers;
    if (config.output_layers.length !== 1) throw new Error('the model must have exactly one output');
    const outputLayer = (config.output_layers[0] as [string, number, number])[0];
    const consumers = new Map<string, string[]>();
    for (const l of layers) for (const from of inbound(l)) consumers.set(from, [...(consumers.get(from) ?? []), l.name]);
    const byName = new Map(layers.map((l) => [l.name, l]));
    /** The one layer reading `name`'s output, if exactly one does and `name` is not the model's output. */
    const soleConsumer = (name: string): KerasLayer | undefined => {
      const c = consumers.get(name) ?? [];
      return c.length === 1 && name !== outputLayer ? byName.get(c[0] as string) : undefined;
    };
    const shapes = inferLayerShapes(config as unknown as Json);
    const weight = (layer: string, w: string): Weight | undefined => weights.get(`${layer}/${w}`);
    const required = (layer: string, w: string): Weight => {
      const found = weight(layer, w);
      if (!found) throw new Error(`layer ${layer} has no weight ${w} in the weight files`);
      return found;
    };

    const absorbed = new Set<string>();
    /** For a ZeroPadding2D absorbed into the convolution after it: its explicit padding, by the convolution's name. */
    const padFor = new Map<string, { from: string; padding: ExplicitPadding; layer: string }>();
    const nodes: GraphNode[] = [];
    const created: tf.Tensor[] = [];
    const keep = <T extends tf.Tensor>(t: T): T => {
      created.push(t);
      return t;
    };
    try {
      for (const layer of layers) {
        if (absorbed.has(layer.name)) continue;
        const c = layer.config;
        const inputs = inbound(layer).map((n) => padFor.get(layer.name)?.from ?? n);
        const cls = layer.class_name;
        if (field(c, 'data_format') !== undefined && field(c, 'data_format') !== 'channels_last') throw new Error(`cannot fold layer ${layer.name}: only channels_last is supported`);
        const push = (op: Op, chain: KerasLayer[] = [layer]): void => {
          const last = chain[chain.length - 1] as KerasLayer;
          const pad = padFor.get(layer.name);
          nodes.push({
            name: last.name,
            inputs,
            kind: [...(pad ? ['ZeroPadding2D'] : []), ...chain.map((l) => l.class_name)].join('+'),
            folded: [...(pad ? [pad.layer] : []), ...chain.slice(0, -1).map((l) => l.name)],
            op,
          });
        };
        switch (cls) {
          case 'InputLayer':
            push({ kind: 'input' });
            break;
          case 'Conv2D':
          case 'DepthwiseConv2D': {
            const depthwise = cls === 'DepthwiseConv2D';
            const kernel = required(layer.name, depthwise ? 'depthwise_kernel' : 'kernel');
            const useBias = field(c, 'use_bias') !== false;
            const bias = useBias ? required(layer.name, 'bias') : undefined;
            const own = activationOf(field(c, 'activation'));
            if (own === undefined) throw new Error(`cannot fold layer ${layer.name}: activation ${String(field(c, 'activation'))} cannot run inside a convolution`);
            const chain: KerasLayer[] = [layer];
            const channels = depthwise ? (kernel.shape[2] as number) * (kernel.shape[3] as number) : (kernel.shape[3] as number);
            let folded: { scale: Float64Array; shift: Float64Array } | undefined;
            let activation: FusedActivation = own;
            let next = soleConsumer(layer.name);
            if (own === 'linear' && next?.class_name === 'BatchNormalization') {
              folded = batchNorm(next, channels, weight);
              chain.push(next);
              next = soleConsumer(next.name);
            }
            if (activation === 'linear' && next) {
              const fused = fusableActivation(next);
              if (fused) {
                activation = fused;
                chain.push(next);
              }
            }
            for (const l of chain.slice(1)) absorbed.add(l.name);
            const filterValues = folded ? scaleChannels(kernel.values, folded.scale) : kernel.values.slice();
            let biasValues: Float32Array | null = null;
            if (bias || folded) {
              biasValues = new Float32Array(channels);
              for (let ch = 0; ch < channels; ch++) {
                const b = bias ? (bias.values[ch] as number) : 0;
                biasValues[ch] = folded ? b * (folded.scale[ch] as number) + (folded.shift[ch] as number) : b;
              }
            }
            const explicit = padFor.get(layer.name);
            const padding = field(c, 'padding');
            if (padding !== 'same' && padding !== 'valid') throw new Error(`cannot fold layer ${layer.name}: padding ${String(padding)}`);
            if (depthwise && Number(field(c, 'depth_multiplier') ?? 1) !== (kernel.shape[3] as number)) throw new Error(`cannot fold layer ${layer.name}: its kernel does not match its depth multiplier`);
            push(
              {
                kind: depthwise ? 'depthwise' : 'conv2d',
                filter: keep(tf.tensor4d(filterValues, kernel.shape as [number, number, number, number])),
                bias: biasValues ? keep(tf.tensor1d(biasValues)) : null,
                strides: pair(field(c, 'strides'), 1),
                pad: explicit ? explicit.padding : padding,
                dilations: pair(field(c, 'dilation_rate'), 1),
                activation,
              },
              chain,
            );
            break;
          }
          case 'BatchNormalization': {
            const x = inputs[0] as string;
            const channels = shapes.get(x)?.at(-1);
            if (channels === undefined) throw new Error(`cannot fold layer ${layer.name}: the shape of its input ${x} is unknown`);
            const { scale, shift } = batchNorm(layer, channels, weight);
            push({ kind: 'affine', scale: keep(tf.tensor1d(Float32Array.from(scale))), shift: keep(tf.tensor1d(Float32Array.from(shift))) });
            break;
          }
          case 'ReLU':
          case 'Activation': {
            const fn = cls === 'ReLU' ? reluOf(layer) : field(c, 'activation');
            if (fn === 'linear') push({ kind: 'identity' });
            else if (fn === 'relu' || fn === 'relu6' || fn === 'sigmoid' || fn === 'tanh' || fn === 'softmax') push({ kind: 'activation', fn });
            else if (typeof fn === 'number') push({ kind: 'activation', fn: 'relu', maxValue: fn });
            else throw new Error(`cannot fold layer ${layer.name}: activation ${String(fn)} is not supported`);
            break;
          }
          case 'Dropout':
            push({ kind: 'identity' });
            break;
          case 'ZeroPadding2D': {
            const p = field(c, 'padding');
            const [[t, b], [l, r]] = Array.isArray(p) && p.every(Array.isArray) ? (p as [[number, number], [number, number]]) : [pair(p, 1), pair(p, 1)];
            const paddings: ExplicitPadding = [
              [0, 0],
              [t, b],
              [l, r],
              [0, 0],
            ];
            const next = soleConsumer(layer.name);
            if (next && (next.class_name === 'Conv2D' || next.class_name === 'DepthwiseConv2D') && field(next.config, 'padding') === 'valid') {
              padFor.set(next.name, { from: inputs[0] as string, padding: paddings, layer: layer.name });
              break;
            }
            push({ kind: 'pad', paddings });
            break;
          }
          case 'Add':
            push({ kind: 'add' });
            break;
          case 'Concatenate': {
            const axis = Number(field(c, 'axis') ?? -1);
            push({ kind: 'concat', axis });
            break;
          }
          case 'AveragePooling2D':
          case 'MaxPooling2D': {
            const size = pair(field(c, 'pool_size'), 2);
            const strides = field(c, 'strides');
            const padding = field(c, 'padding') ?? 'valid';
            if (padding !== 'same' && padding !== 'valid') throw new Error(`cannot fold layer ${layer.name}: padding ${String(padding)}`);
            push({ kind: 'pool', fn: cls === 'AveragePooling2D' ? 'avg' : 'max', size, strides: strides === null || strides === undefined ? size : pair(strides, 1), pad: padding });
            break;
          }
          case 'GlobalAveragePooling2D':
          case 'GlobalMaxPooling2D':
            if (field(c, 'keepdims') === true) throw new Error(`cannot fold layer ${layer.name}: keepdims is not supported`);
            push({ kind: 'global', fn: cls === 'GlobalAveragePooling2D' ? 'avg' : 'max' });
            break;
          case 'Flatten':
            push({ kind: 'flatten' });
            break;
          default:
            throw new Error(`cannot fold layer ${layer.name}: ${cls} is not supported`);
        }
      }
      return new FoldedGraph(nodes, outputLayer, shapes);
    } catch (err) {
      tf.dispose(created);
      throw err;
    }
  }

  /** Number of ops one forward pass runs (the input excluded). */
  get kernelCount(): number {
    return this.nodes.length - 1;
  }

  /** The output shape of a node or layer, without the batch dimension (undefined if unknown). */
  shapeOf(name: string): Shape | undefined {
    return this.shapes.get(name);
  }

  /** Names of the nodes `name` reads (an error if `name` is not a node). */
  inputsOf(name: string): readonly string[] {
    return this.node(name).inputs;
  }

  /** Whether `name` is a node whose output can be read (not folded away). */
  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The node a layer was folded into (its own output is not computed), or undefined. */
  foldedInto(name: string): string | undefined {
    return this.folds.get(name);
  }

  private node(name: string): GraphNode {
    const node = this.byName.get(name);
    if (node) return node;
    const into = this.folds.get(name);
    throw new Error(into ? `layer ${name} is folded into ${into}: its own output is not computed` : `layer ${name} is not in the model`);
  }

  /**
   * The nodes that `outputs` need, in graph order, and how many of them read each node. A few
   * output lists recur (the embedding, a fine-tuned model's cut and parts), so each is worked out
   * once; the cache is cleared if callers ask for many different lists.
   */
  private planFor(outputs: readonly string[]): ExecutionPlan {
    const key = outputs.join('\u0000');
    const cached = this.plans.get(key);
    if (cached) return cached;
    // What runs: everything the wanted nodes read, transitively.
    const needed = new Set<string>();
    const stack = outputs.map((name) => this.node(name).name);
    while (stack.length) {
      const name = stack.pop() as string;
      if (needed.has(name)) continue;
      needed.add(name);
      stack.push(...this.node(name).inputs);
    }
    const nodes = this.nodes.filter((n) => needed.has(n.name));
    const readers = new Map<string, number>();
    for (const node of nodes) for (const i of node.inputs) readers.set(i, (readers.get(i) ?? 0) + 1);
    if (this.plans.size >= MAX_PLANS) this.plans.clear();
    const plan = { nodes, readers };
    this.plans.set(key, plan);
    return plan;
  }

  /**
   * Runs the graph on a batch of preprocessed NHWC images and returns the outputs of the named
   * nodes, in order (the caller owns them). Only the nodes they need run; each intermediate is
   * disposed as soon as its last reader has run, so peak memory is what the layers model's own
   * executor needs, and the tensor count is back where it was once the caller disposes the outputs.
   */
  execute(input: tf.Tensor4D, outputs: readonly string[]): tf.Tensor[] {
    if (this.disposed) throw new Error('the folded backbone was disposed');
    const plan = this.planFor(outputs);
    const readers = new Map(plan.readers);
    const keepOut = new Set(outputs);
    return tf.tidy(() => {
      const values = new Map<string, tf.Tensor>();
      for (const node of plan.nodes) {
        const xs = node.inputs.map((i) => values.get(i) as tf.Tensor);
        values.set(node.name, node.op.kind === 'input' ? input : run(node.op, xs));
        for (const i of node.inputs) {
          const left = (readers.get(i) ?? 0) - 1;
          readers.set(i, left);
          const t = values.get(i);
          if (left === 0 && !keepOut.has(i) && t && t !== input) t.dispose();
        }
      }
      return outputs.map((name) => {
        const t = values.get(name) as tf.Tensor;
        // The input itself requested as an output: hand back a copy the caller may dispose.
        return t === input ? t.clone() : t;
      });
    });
  }

  /**
   * One forward pass on one preprocessed image (`preprocess()` output, HWC): the outputs of the
   * named nodes, each flattened, in order. Every tensor it makes is disposed before it returns.
   */
  async run(input: Float32Array, outputs: readonly string[]): Promise<Float32Array[]> {
    const outs = tf.tidy(() => this.execute(tf.tensor4d(input, [1, ...this.inputShape] as [number, number, number, number]), outputs));
    try {
      return await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
    } finally {
      tf.dispose(outs);
    }
  }

  /** Frees the folded weights. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const node of this.nodes) {
      const op = node.op;
      if (op.kind === 'conv2d' || op.kind === 'depthwise') {
        op.filter.dispose();
        op.bias?.dispose();
      } else if (op.kind === 'affine') {
        op.scale.dispose();
        op.shift.dispose();
      }
    }
  }
}

/** Runs one node's op. */
function run(op: Op, xs: tf.Tensor[]): tf.Tensor {
  const x = xs[0] as tf.Tensor4D;
  switch (op.kind) {
    case 'input':
      return x;
    case 'conv2d':
      return tf.fused.conv2d({ x, filter: op.filter, strides: op.strides, pad: op.pad, dilations: op.dilations, ...(op.bias ? { bias: op.bias } : {}), activation: op.activation });
    case 'depthwise':
      // tfjs-core's type leaves explicit padding out for the fused depthwise op, but it passes the
      // padding to the same conv_util.computeConv2DInfo as conv2d, which takes it (the WASM and CPU kernels read padInfo).
      return tf.fused.depthwiseConv2d({ x, filter: op.filter, strides: op.strides, pad: op.pad as 'valid', dilations: op.dilations, ...(op.bias ? { bias: op.bias } : {}), activation: op.activation });
    case 'affine':
      return tf.add(tf.mul(x, op.scale), op.shift);
    case 'activation':
      if (op.maxValue !== undefined) return tf.clipByValue(x, 0, op.maxValue);
      return op.fn === 'relu' ? tf.relu(x) : op.fn === 'relu6' ? tf.relu6(x) : op.fn === 'sigmoid' ? tf.sigmoid(x) : op.fn === 'tanh' ? tf.tanh(x) : tf.softmax(x);
    case 'identity':
      return x.clone();
    case 'pad':
      return tf.pad(x, op.paddings);
    case 'add':
      return xs.length === 2 ? tf.add(x, xs[1] as tf.Tensor) : tf.addN(xs);
    case 'concat':
      return tf.concat(xs, op.axis);
    case 'pool':
      return op.fn === 'avg' ? tf.avgPool(x, op.size, op.strides, op.pad) : tf.maxPool(x, op.size, op.strides, op.pad);
    case 'global':
      return op.fn === 'avg' ? tf.mean(x, [1, 2]) : tf.max(x, [1, 2]);
    case 'flatten':
      return tf.reshape(x, [x.shape[0], -1]);
  }
}

/**
 * `values` with each output channel multiplied by its scale: the output channel is the
 * fastest-varying index of both kernel layouts ([h, w, in, out] and depthwise [h, w, in, mult]).
 * A small function of its own so that V8 optimises the loop (inside the large folding function it
 * ran unoptimised: ~85 ms of a cold load).
 */
function scaleChannels(values: Float32Array, scale: Float64Array): Float32Array {
  const out = new Float32Array(values.length);
  const channels = scale.length;
  for (let base = 0; base < values.length; base += channels) {
    for (let ch = 0; ch < channels; ch++) out[base + ch] = (values[base + ch] as number) * (scale[ch] as number);
  }
  return out;
}

/** A convolution's own activation, if a fused kernel can run it. */
function activationOf(a: unknown): FusedActivation | undefined {
  if (a === undefined || a === null || a === 'linear') return 'linear';
  return a === 'relu' || a === 'relu6' ? a : undefined;
}

/** A ReLU layer's function: 'relu', 'relu6', another cap as a number, or undefined (leaky or thresholded). */
function reluOf(layer: KerasLayer): 'relu' | 'relu6' | number | undefined {
  const c = layer.config;
  const slope = Number(field(c, 'negative_slope') ?? 0);
  const threshold = Number(field(c, 'threshold') ?? 0);
  if (slope !== 0 || threshold !== 0) return undefined;
  const max = field(c, 'max_value');
  if (max === null || max === undefined) return 'relu';
  return Number(max) === 6 ? 'relu6' : Number(max);
}

/** The activation a layer after a convolution adds, if a fused kernel can run it. */
function fusableActivation(layer: KerasLayer): FusedActivation | undefined {
  if (layer.class_name === 'ReLU') {
    const fn = reluOf(layer);
    return fn === 'relu' || fn === 'relu6' ? fn : undefined;
  }
  if (layer.class_name === 'Activation') return activationOf(field(layer.config, 'activation'));
  return undefined;
}

/** A batch normalisation as per-channel `scale` and `shift` (float64), from its frozen statistics. */
function batchNorm(layer: KerasLayer, channels: number, weight: (layer: string, w: string) => Weight | undefined): { scale: Float64Array; shift: Float64Array } {
  const c = layer.config;
  const axis = field(c, 'axis');
  const axes = Array.isArray(axis) ? axis : [axis ?? -1];
  if (axes.length !== 1 || (axes[0] !== -1 && axes[0] !== 3)) throw new Error(`cannot fold layer ${layer.name}: only the channel axis is supported`);
  const eps = Number(field(c, 'epsilon') ?? 1e-3);
  const read = (w: string, fallback: number | undefined): Float32Array | number => {
    const found = weight(layer.name, w);
    if (found) {
      if (found.values.length !== channels) throw new Error(`layer ${layer.name}: ${w} has ${found.values.length} values for ${channels} channels`);
      return found.values;
    }
    if (fallback === undefined) throw new Error(`layer ${layer.name} has no weight ${w} in the weight files`);
    return fallback;
  };
  // Keras leaves gamma out when `scale` is false and beta when `center` is false.
  const gamma = read('gamma', field(c, 'scale') === false ? 1 : undefined);
  const beta = read('beta', field(c, 'center') === false ? 0 : undefined);
  const mean = read('moving_mean', undefined) as Float32Array;
  const variance = read('moving_variance', undefined) as Float32Array;
  const at = (v: Float32Array | number, i: number): number => (typeof v === 'number' ? v : (v[i] as number));
  const scale = new Float64Array(channels);
  const shift = new Float64Array(channels);
  for (let i = 0; i < channels; i++) {
    scale[i] = at(gamma, i) / Math.sqrt((variance[i] as number) + eps);
    shift[i] = at(beta, i) - (mean[i] as number) * (scale[i] as number);
  }
  return { scale, shift };
}
