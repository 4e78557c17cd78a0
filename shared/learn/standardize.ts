/**
 * trainHead's `standardize` (shared/learn/train-head.ts): every input dimension scaled by
 * 1 / (std + eps) on the training vectors, the scales folded into the first kernel when the head is
 * saved (so the document keeps its format); shared/learn/warm-start.ts reads them to map a stored
 * head onto a new training's inputs.
 */

/**
 * Per column of `rows` (row-major, `dim` wide, mean already removed): 1 / (std + eps), eps a tenth
 * of the mean std over columns (TrainOptions.standardize).
 */
export function columnScales(rows: Float32Array, dim: number): Float32Array {
  const n = rows.length / dim;
  const sq = new Float64Array(dim);
  for (let at = 0; at < rows.length; at += dim) for (let j = 0; j < dim; j++) sq[j] = (sq[j] as number) + (rows[at + j] as number) ** 2;
  const std = Float64Array.from(sq, (v) => Math.sqrt(v / Math.max(n, 1)));
  const eps = 0.1 * (std.reduce((a, b) => a + b, 0) / dim) + 1e-12;
  return Float32Array.from(std, (v) => 1 / (v + eps));
}

/** Multiplies every row of `rows` by `scale`, column by column, in place. */
export function scaleColumns(rows: Float32Array, scale: Float32Array): void {
  const dim = scale.length;
  for (let at = 0; at < rows.length; at += dim) for (let j = 0; j < dim; j++) rows[at + j] = (rows[at + j] as number) * (scale[j] as number);
}
