/**
 * A warm start for trainHead (shared/learn/train-head.ts `initial`): the weights of a stored plain
 * softmax head, rewritten for a new training's input transform and classes, so that L-BFGS starts
 * from the current model instead of a random one (a correction retrains in a few iterations
 * instead of ~25; client/lib/correct.ts and retrain.ts).
 *
 * The stored head computes `logits = t_old(x) . K + b`. With the app's transform (mean removed,
 * no normalisation; `standardize` folds its column scales into K when saving) both sides are
 * affine in the embedding, so the new trainer's `u = (x - m_new) * scale * c` (c: its column
 * scales) gives the same logits with
 *
 *     K'[i][j] = K[i][j] * s_old / (scale * c[i]),   b'[j] = b[j] + s_old * sum_i (m_new[i] - m_old[i]) * K[i][j]
 *
 * exactly. With a per-part L2 normalisation on either side the map is not affine: the kernel is
 * carried over as is, an approximate start. Either way it is only a starting point: the plain
 * softmax head's objective is strictly convex (cross-entropy plus L2), so L-BFGS ends at the same
 * optimum from any start, up to its convergence tolerance.
 *
 * Classes are matched by name: a class the stored head knows keeps its column, a new class keeps
 * the trainer's fresh initialisation, a class no longer trained is dropped.
 */
import type { HeadDocument } from '../head/document.ts';
import type { InputTransform } from '../model/manifest.ts';
import { base64ToBytes } from '../util/base64.ts';

/** What a trainer starting from a stored head needs: the start's weights, and how many classes came from it. */
export interface WarmStartWeights {
  /** Row-major [inputs, classes]. */
  kernel: Float32Array;
  bias: Float32Array;
  /** Classes whose column came from the stored head; the others kept the fresh initialisation. */
  classesKept: number;
}

/** The new trainer's side of the map (module comment). */
export interface WarmStartTarget {
  backbone: string;
  classes: readonly string[];
  transform: InputTransform;
  /** Per input 1 / (std + eps) with `standardize`, else null. */
  columnScale: Float32Array | null;
  /** The trainer's fresh weights, kept for new classes. */
  kernel: Float32Array;
  bias: Float32Array;
}

/**
 * The stored head's weights for the target, or a reason why it cannot be a start: another
 * backbone, a fine-tuned model (its head reads the tail's embedding), a hidden layer, other input
 * parts, quantised weights, or no class in common.
 */
export function warmStartWeights(initial: HeadDocument, target: WarmStartTarget): WarmStartWeights | { refused: string } {
  if (initial.backbone !== target.backbone) return { refused: `the head runs on ${initial.backbone}, not ${target.backbone}` };
  if (initial.backboneTail !== undefined) return { refused: 'the head is fine-tuned: it reads its own top layers\' embedding' };
  if (initial.input.parts.join() !== target.transform.parts.join()) return { refused: 'the head reads other embedding parts' };
  const [kernelSpec, biasSpec, ...more] = initial.weightSpecs;
  const dim = target.bias.length === 0 ? 0 : target.kernel.length / target.bias.length;
  const oldClasses = initial.classes.length;
  if (!kernelSpec || !biasSpec || more.length > 0) return { refused: 'the head is not a plain softmax layer' };
  if (kernelSpec.dtype !== 'float32' || biasSpec.dtype !== 'float32' || kernelSpec.quantization || biasSpec.quantization) return { refused: 'the head\'s weights are quantised' };
  if (kernelSpec.shape.join() !== `${dim},${oldClasses}` || biasSpec.shape.join() !== `${oldClasses}`) return { refused: 'the head\'s weights do not fit its classes and inputs' };
  const bytes = base64ToBytes(initial.weightData);
  const weights = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const oldKernel = weights.subarray(0, dim * oldClasses);
  const oldBias = weights.subarray(dim * oldClasses, dim * oldClasses + oldClasses);

  const from = initial.input;
  const to = target.transform;
  const affine = from.normalize === 'none' && to.normalize === 'none';
  // Row factor: s_old / (scale * c[i]) when affine; the kernel as is otherwise (module comment).
  const rowFactor = (i: number): number => (affine ? from.scale / (to.scale * (target.columnScale ? (target.columnScale[i] as number) : 1)) : 1);
  const meanShift = (i: number): number => (affine ? ((to.mean?.[i] ?? 0) - (from.mean?.[i] ?? 0)) * from.scale : 0);

  const classes = target.classes.length;
  const kernel = target.kernel.slice();
  const bias = target.bias.slice();
  let classesKept = 0;
  target.classes.forEach((name, j) => {
    const old = initial.classes.indexOf(name);
    if (old < 0) return;
    classesKept++;
    let shift = 0;
    for (let i = 0; i < dim; i++) {
      const w = oldKernel[i * oldClasses + old] as number;
      kernel[i * classes + j] = w * rowFactor(i);
      shift += meanShift(i) * w;
    }
    bias[j] = (oldBias[old] as number) + shift;
  });
  if (classesKept === 0) return { refused: 'the head has none of these classes' };
  return { kernel, bias, classesKept };
}
