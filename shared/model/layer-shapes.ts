/**
 * Output shapes of a Keras functional model's layers, inferred from its config alone (no TF.js):
 * the head validator needs the real shape at a fine-tuned model's cut, so that a document claiming
 * another `cutShape` is refused at upload instead of failing every prediction. Covers the layer
 * types of the shipped backbones (MobileNetV2 and its embedding outputs); a layer of another type,
 * and every layer downstream of it, has no inferred shape.
 */

type Json = Record<string, unknown>;
/** A shape without its batch dimension, e.g. [14, 14, 576]. */
export type Shape = number[];

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A layer config's value; TF.js writes camelCase keys where Keras wrote snake_case, so either is read. */
export const configField = (config: Json, key: string): unknown => (key in config ? config[key] : config[key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())]);
/** A (height, width) pair from a number, a two-number list, or else `fallback` twice. */
export const configPair = (v: unknown, fallback: number): [number, number] => {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((n) => Number.isInteger(n))) return [v[0] as number, v[1] as number];
  return [fallback, fallback];
};

/** Spatial output size of a convolution or pooling window along one axis. */
function windowOut(size: number, kernel: number, stride: number, padding: unknown, dilation = 1): number {
  const effective = (kernel - 1) * dilation + 1;
  return padding === 'same' ? Math.ceil(size / stride) : Math.floor((size - effective) / stride) + 1;
}

/** The shape a layer gives for its input shapes, or undefined when it cannot be told. */
function outputShape(className: string, config: Json, inputs: Shape[]): Shape | undefined {
  const [x] = inputs;
  if (!x) return undefined;
  const channelsLast = (configField(config, 'data_format') ?? 'channels_last') === 'channels_last';
  const spatial = x.length === 3 && channelsLast;
  switch (className) {
    case 'BatchNormalization':
    case 'ReLU':
    case 'Activation':
    case 'Dropout':
      return x;
    case 'Add':
      return inputs.every((s) => s.join() === x.join()) ? x : undefined;
    case 'Conv2D':
    case 'DepthwiseConv2D': {
      if (!spatial) return undefined;
      const [kh, kw] = configPair(configField(config, 'kernel_size'), 1);
      const [sh, sw] = configPair(configField(config, 'strides'), 1);
      const [dh, dw] = configPair(configField(config, 'dilation_rate'), 1);
      const padding = configField(config, 'padding');
      const channels = className === 'Conv2D' ? Number(configField(config, 'filters')) : (x[2] as number) * Number(configField(config, 'depth_multiplier') ?? 1);
      if (!Number.isInteger(channels) || channels <= 0) return undefined;
      return [windowOut(x[0] as number, kh, sh, padding, dh), windowOut(x[1] as number, kw, sw, padding, dw), channels];
    }
    case 'ZeroPadding2D': {
      if (!spatial) return undefined;
      const p = configField(config, 'padding');
      const [[t, b], [l, r]] = Array.isArray(p) && p.every(Array.isArray) ? (p as [[number, number], [number, number]]) : [configPair(p, 1), configPair(p, 1)];
      return [(x[0] as number) + t + b, (x[1] as number) + l + r, x[2] as number];
    }
    case 'AveragePooling2D':
    case 'MaxPooling2D': {
      if (!spatial) return undefined;
      const [ph, pw] = configPair(configField(config, 'pool_size'), 2);
      const strides = configField(config, 'strides');
      const [sh, sw] = strides === null || strides === undefined ? [ph, pw] : configPair(strides, 1);
      const padding = configField(config, 'padding');
      return [windowOut(x[0] as number, ph, sh, padding), windowOut(x[1] as number, pw, sw, padding), x[2] as number];
    }
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling2D':
      return spatial ? [x[2] as number] : undefined;
    case 'Flatten':
      return [x.reduce((a, b) => a * b, 1)];
    case 'Dense': {
      const units = Number(configField(config, 'units'));
      return Number.isInteger(units) && units > 0 ? [...x.slice(0, -1), units] : undefined;
    }
    case 'Concatenate': {
      const axis = Number(configField(config, 'axis') ?? -1);
      if (axis !== -1 && axis !== x.length) return undefined;
      const rest = x.slice(0, -1).join();
      if (!inputs.every((s) => s.length === x.length && s.slice(0, -1).join() === rest)) return undefined;
      return [...x.slice(0, -1), inputs.reduce((a, s) => a + (s[s.length - 1] as number), 0)];
    }
    default:
      return undefined;
  }
}

/**
 * The output shape of every layer of a functional model config (`model_config.config` or the
 * config itself), walking its layers in order (Keras lists them topologically). Layers whose shape
 * cannot be inferred are absent from the map.
 */
export function inferLayerShapes(modelConfig: Json): Map<string, Shape> {
  const shapes = new Map<string, Shape>();
  const layers = Array.isArray(modelConfig.layers) ? (modelConfig.layers as unknown[]) : [];
  for (const layer of layers) {
    if (!isObject(layer) || !isObject(layer.config)) continue;
    const name = String(layer.name ?? configField(layer.config, 'name'));
    const className = String(layer.class_name);
    if (className === 'InputLayer') {
      const shape = configField(layer.config, 'batch_input_shape');
      if (Array.isArray(shape) && shape.slice(1).every((n) => Number.isInteger(n) && (n as number) > 0)) shapes.set(name, shape.slice(1) as number[]);
      continue;
    }
    const inbound = Array.isArray(layer.inbound_nodes) ? (layer.inbound_nodes[0] as unknown) : undefined;
    if (!Array.isArray(inbound) || inbound.length === 0) continue;
    const inputs = inbound.map((node) => (Array.isArray(node) ? shapes.get(String(node[0])) : undefined));
    if (inputs.some((s) => s === undefined)) continue;
    const out = outputShape(className, layer.config, inputs as Shape[]);
    if (out && out.every((n) => Number.isInteger(n) && n > 0)) shapes.set(name, out);
  }
  return shapes;
}
