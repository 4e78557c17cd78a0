/**
 * Row-major matrices in plain typed arrays: the helpers the closed-form learners (./lda.ts) and the
 * asking code (./ask.ts, ./ask-typical.ts) share.
 */

/** Dot product of row `a` of `x` and row `b` of `y` (both `dim` floats a row), summed in doubles. */
export function dotRows(x: ArrayLike<number>, a: number, y: ArrayLike<number>, b: number, dim: number): number {
  let s = 0;
  const ao = a * dim;
  const bo = b * dim;
  for (let i = 0; i < dim; i++) s += (x[ao + i] as number) * (y[bo + i] as number);
  return s;
}
