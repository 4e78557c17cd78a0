/**
 * The backbone split at a CUT layer for fine-tuning (shared/learn/fine-tune.ts), read from the
 * backbone's Keras config: the frozen part (input to the cut) runs once per photo and gives the
 * cut activation with the photo's ordinary embedding ({@link BackboneSplit.forward}); the TAIL
 * (the layers after the cut that lead to embedding parts, e.g. MobileNetV2's `block_16_*` and
 * `Conv_1`) becomes a personal copy built from the backbone's own layer configs and weights
 * ({@link BackboneSplit.initialTail}), so the shared frozen backbone never changes.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SavedArtifacts } from '../head/document.ts';
import type { Backbone } from './backbone.ts';
import { modelConfig, type FoldedGraph } from './folded-graph.ts';
import type { BackboneManifest } from './manifest.ts';

/** What the frozen part gives for one image: the cut activation and the ordinary embedding. */
export interface FrozenOutput {
  /** The cut layer's output, flattened (shape `cutShape`). */
  cut: Float32Array;
  /** The backbone's embedding, exactly as `Backbone.embed` computes it. */
  embedding: Float32Array;
}

/** A layer as it appears in a Keras functional model config. */
interface KerasLayer {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  inbound_nodes: [string, number, number, Record<string, unknown>][][];
}

interface KerasModel {
  class_name: string;
  config: { name: string; layers: KerasLayer[]; input_layers: unknown[]; output_layers: [string, number, number][] };
  keras_version?: string;
  backend?: string;
}

const TAIL_INPUT = 'tail_input';

/** Names of the layers feeding `layer` (first node: every layer of an embedding model is called once). */
function inbound(layer: KerasLayer): string[] {
  return (layer.inbound_nodes[0] ?? []).map(([name]) => name);
}

export interface BackboneSplitOptions {
  /**
   * How many of the backbone's top blocks to unfreeze, for backbones that name their blocks
   * `block_<i>_...` (MobileNetV2): the cut is the input of `block_<last - unfreeze + 1>_expand`.
   * 1: `block_16` + `Conv_1` (~0.9M weights); 2: also `block_15` (~1.2M). Default 1.
   */
  unfreeze?: 1 | 2;
  /** The cut layer by name (overrides `unfreeze`): any layer every path to the unfrozen parts goes through. */
  cut?: string;
}

/**
 * The backbone split at a cut layer: the frozen part (the backbone's folded graph, read up to the
 * cut; never trained) and the recipe for the tail (topology and initial weights from the unfolded
 * backbone). Holds no weights of its own; the backbone must outlive it. Not disposable: dropping
 * it is enough.
 */
export class BackboneSplit {
  readonly cut: string;
  readonly cutShape: number[];
  /** Embedding parts the tail recomputes, in manifest order (= the tail's outputs). */
  readonly tailParts: string[];
  /** Tail layers in topological order (as in the backbone config). */
  readonly tailLayers: string[];
  readonly manifest: BackboneManifest;
  /** The folded backbone the frozen pass runs on (a predictor built on this split runs on it too). */
  readonly graph: FoldedGraph;
  private readonly topology: KerasModel;
  private readonly partLayers: string[];

  constructor(
    readonly backbone: Backbone,
    options: BackboneSplitOptions = {},
  ) {
    const manifest = backbone.manifest;
    const json = backbone.modelJson.modelTopology;
    const topology = { keras_version: json.keras_version, backend: json.backend, class_name: 'Model', config: modelConfig(json) } as unknown as KerasModel;
    const layers = topology.config.layers;
    const byName = new Map(layers.map((l) => [l.name, l]));
    const cut = options.cut ?? topBlockCut(layers, options.unfreeze ?? 1);
    if (!byName.has(cut)) throw new Error(`cut layer ${cut} is not in backbone ${manifest.id}`);

    // The embedding parts' output layers: the inputs of the final Concatenate, or the one output.
    const output = topology.config.output_layers[0]?.[0];
    const outputLayer = output === undefined ? undefined : byName.get(output);
    if (!outputLayer || topology.config.output_layers.length !== 1) throw new Error('backbone model must have exactly one output');
    const partLayers = outputLayer.class_name === 'Concatenate' ? inbound(outputLayer) : [outputLayer.name];
    if (partLayers.length !== manifest.embedding.parts.length) {
      throw new Error(`backbone model has ${partLayers.length} embedding parts, manifest ${manifest.embedding.parts.length}`);
    }

    // Tail = below a part output AND above the cut.
    const consumers = new Map<string, string[]>();
    for (const l of layers) for (const from of inbound(l)) consumers.set(from, [...(consumers.get(from) ?? []), l.name]);
    const below = new Set<string>();
    const stack = [...(consumers.get(cut) ?? [])];
    while (stack.length) {
      const name = stack.pop() as string;
      if (below.has(name)) continue;
      below.add(name);
      stack.push(...(consumers.get(name) ?? []));
    }
    const needed = new Set<string>();
    const up = partLayers.filter((p) => below.has(p));
    while (up.length) {
      const name = up.pop() as string;
      if (needed.has(name) || !below.has(name)) continue;
      needed.add(name);
      up.push(...inbound(byName.get(name) as KerasLayer));
    }
    const tailLayers = layers.filter((l) => needed.has(l.name)).map((l) => l.name);
    for (const name of tailLayers) {
      const stray = inbound(byName.get(name) as KerasLayer).filter((from) => from !== cut && !needed.has(from));
      if (stray.length) throw new Error(`cannot cut at ${cut}: tail layer ${name} also reads ${stray.join(', ')} from the frozen part`);
    }
    const tailParts = manifest.embedding.parts.filter((_, i) => needed.has(partLayers[i] as string)).map((p) => p.name);
    if (tailParts.length === 0) throw new Error(`cut layer ${cut} is above every embedding part: nothing would be fine-tuned`);

    // The frozen pass reads the cut from the folded graph, so it must be a layer whose output the
    // graph still computes (not one folded into a convolution).
    const graph = backbone.graph;
    const into = graph.foldedInto(cut);
    if (into) throw new Error(`cannot cut at ${cut}: it is folded into ${into} for inference, so its output is not computed; cut at ${into} or at a layer before`);
    const cutShape = graph.shapeOf(cut);
    if (!cutShape) throw new Error(`the shape of cut layer ${cut} is unknown`);
    this.manifest = manifest;
    this.graph = graph;
    this.cut = cut;
    this.cutShape = cutShape;
    this.tailParts = tailParts;
    this.tailLayers = tailLayers;
    this.partLayers = partLayers;
    this.topology = topology;
  }

  /** The backbone's named outputs for one preprocessed image (a predictor on this split runs its frozen pass through it). */
  run(input: Float32Array, layers: readonly string[]): Promise<Float32Array[]> {
    return this.backbone.run(input, layers);
  }

  /** Number of floats of one cut activation. */
  get cutSize(): number {
    return this.cutShape.reduce((a, b) => a * b, 1);
  }

  /**
   * Runs the whole backbone once on one preprocessed image (`preprocess()` output) and returns the
   * cut activation and the ordinary embedding (the frozen tail's parts included).
   */
  async forward(input: Float32Array): Promise<FrozenOutput> {
    const [cut, ...parts] = await this.backbone.run(input, [this.cut, ...this.partLayers]);
    const embedding = new Float32Array(this.manifest.embedding.size);
    this.manifest.embedding.parts.forEach((p, i) => embedding.set(parts[i] as Float32Array, p.offset));
    return { cut: cut as Float32Array, embedding };
  }

  /**
   * The tail as TF.js model artifacts: a functional model from an input of the cut's shape through
   * the tail layers (configs copied from the backbone, all trainable) to one output per tail part,
   * with the backbone's current weights. Loading it gives a personal copy.
   */
  async initialTail(): Promise<SavedArtifacts> {
    const byName = new Map(this.topology.config.layers.map((l) => [l.name, l]));
    const layers: KerasLayer[] = [
      {
        name: TAIL_INPUT,
        class_name: 'InputLayer',
        config: { batch_input_shape: [null, ...this.cutShape], dtype: 'float32', sparse: false, name: TAIL_INPUT },
        inbound_nodes: [],
      },
      ...this.tailLayers.map((name) => {
        const layer = byName.get(name) as KerasLayer;
        return {
          ...layer,
          config: { ...layer.config, trainable: true },
          inbound_nodes: layer.inbound_nodes.map((node) => node.map(([from, n, t, kw]): [string, number, number, Record<string, unknown>] => [from === this.cut ? TAIL_INPUT : from, n, t, kw])),
        };
      }),
    ];
    const outputs = this.tailParts.map((part) => {
      const i = this.manifest.embedding.parts.findIndex((p) => p.name === part);
      return [this.partLayers[i] as string, 0, 0];
    });
    const modelTopology = {
      class_name: 'Model',
      config: { name: 'backbone_tail', layers, input_layers: [[TAIL_INPUT, 0, 0]], output_layers: outputs },
      keras_version: this.topology.keras_version,
      backend: this.topology.backend,
    };
    // The tail trains, so it starts from the unfolded layers (batch normalisation and all).
    const model = await this.backbone.layersModel();
    const named = this.tailLayers.flatMap((name) => model.getLayer(name).weights.map((w) => ({ name: w.originalName, tensor: w.read() })));
    const { data, specs } = await tf.io.encodeWeights(named);
    return {
      modelTopology,
      weightSpecs: specs.map((s) => ({ name: s.name, shape: s.shape, dtype: 'float32' as const })),
      weightData: new Uint8Array(tf.io.CompositeArrayBuffer.join(data)),
    };
  }
}

/**
 * The cut for unfreezing the top `unfreeze` blocks of a backbone whose blocks are named
 * `block_<i>_...` with an `_expand` layer first (MobileNetV2): the input of that layer.
 */
function topBlockCut(layers: KerasLayer[], unfreeze: number): string {
  let last = -1;
  for (const l of layers) {
    const m = /^block_(\d+)_/.exec(l.name);
    if (m) last = Math.max(last, Number(m[1]));
  }
  const first = layers.find((l) => l.name === `block_${last - unfreeze + 1}_expand`);
  const cut = first ? inbound(first)[0] : undefined;
  if (last < 0 || !cut) throw new Error('the backbone does not name its blocks block_<i>_*: give the cut layer by name');
  return cut;
}

/** Splits a loaded backbone (shared/model/backbone.ts) for fine-tuning. */
export function splitBackbone(backbone: Backbone, options: BackboneSplitOptions = {}): BackboneSplit {
  return new BackboneSplit(backbone, options);
}
