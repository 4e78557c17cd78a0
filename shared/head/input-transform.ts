/**
 * Fitting a head's input transform (the `InputTransform` of shared/model/manifest.ts) on training data.
 * Applying it is shared/predict/predictor.ts's `transformInput`, the one implementation every runtime
 * uses at prediction time.
 */
import type { BackboneManifest, InputTransform } from '../model/manifest.ts';
import { embeddingPart } from '../model/manifest.ts';

export interface InputTransformOptions {
  /** Embedding parts to read, in order. Default: all of the backbone's parts. */
  parts?: string[];
  /** Default 'l2': per part, because part lengths differ by ~60x and a softmax head is scale-sensitive. */
  normalize?: 'none' | 'l2';
  /** Default 10. */
  scale?: number;
  /** Subtract the training mean before normalising. Default true. */
  subtractMean?: boolean;
}

/**
 * Fits a transform on training embeddings (the backbone's full vectors). The defaults are what
 * measured best on few-shot tasks (FIELD-NOTES): every part, training mean removed, each part
 * L2-normalised, times 10. The mean is over every training example given (augmented views
 * included), never per photo, and is rounded to 7 significant digits (float32 precision) to keep
 * head documents compact; the rounded mean is the one stored and applied.
 */
export function fitInputTransform(
  embeddings: readonly Float32Array[],
  backbone: BackboneManifest,
  options: InputTransformOptions = {},
): InputTransform {
  const { parts: names = backbone.embedding.parts.map((p) => p.name), normalize = 'l2', scale = 10, subtractMean = true } = options;
  if (!(scale > 0 && Number.isFinite(scale))) throw new RangeError(`scale must be positive, got ${scale}`);
  const parts = names.map((name) => embeddingPart(backbone, name));
  let mean: number[] | null = null;
  if (subtractMean) {
    if (embeddings.length === 0) throw new RangeError('cannot fit a mean on no embeddings');
    const sum = new Float64Array(parts.reduce((a, p) => a + p.size, 0));
    for (const e of embeddings) {
      if (e.length !== backbone.embedding.size) {
        throw new RangeError(`embedding has ${e.length} floats, backbone ${backbone.id} gives ${backbone.embedding.size}`);
      }
      let o = 0;
      for (const part of parts) for (let i = 0; i < part.size; i++, o++) sum[o] = (sum[o] as number) + (e[part.offset + i] as number);
    }
    mean = Array.from(sum, (s) => Number((s / embeddings.length).toPrecision(7)));
  }
  return { parts: names.slice(), mean, normalize, scale };
}
