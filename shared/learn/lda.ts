/**
 * Shrinkage linear discriminant analysis on fixed embeddings (issue 15 pt 1): class means, one
 * within-class covariance shared by every class and shrunk towards a scaled identity by the
 * Ledoit-Wolf estimate (no free parameter), equal priors. The discriminant of class c is linear,
 * `x . w_c + b_c` with `w_c = Sigma^-1 mu_c` and `b_c = -mu_c' Sigma^-1 mu_c / 2`, so a fitted LDA
 * is a plain dense softmax layer (shared/learn/train-lda.ts saves it as one).
 *
 * Why it pays at a few photos a class: the covariance of a class's photos and augmented views is
 * what says which directions are nuisance (lighting, crop, flip); a softmax layer with an L2
 * penalty has no such notion. Measured as an eval lever first (scripts/eval/recipes-classifier.ts).
 *
 * With `Sigma = a I + b R'R` (R the n x d rows minus their class means), the solve runs in the
 * n x n dual (Woodbury: `Sigma^-1 m = (m - R' (a/b I + R R')^-1 R m) / a`) when n <= d, and in the
 * d x d primal otherwise. Everything is float64 in plain typed arrays: deterministic on every
 * runtime, no tensors to dispose. The work is ~min(n, d)^2 max(n, d) multiply-adds
 * ({@link ldaWork}).
 */

import { dotRows } from './rows.ts';

/** A fitted LDA: `scores(x) = x . weights[:, c] + bias[c]`. */
export interface LdaFit {
  /** d x C, row-major (the layout of a dense layer's kernel). */
  weights: Float64Array;
  /** C. */
  bias: Float64Array;
  /** Ledoit-Wolf shrinkage intensity in [0, 1] (1: the covariance is a scaled identity). */
  shrinkage: number;
  /** Which system was solved. */
  solve: 'dual' | 'primal';
}

/** Options for {@link fitShrinkageLda}. */
export interface LdaOptions {
  /** Force the dual or primal solve (default: dual when n <= d). Both give the same fit; tests compare them. */
  solve?: 'dual' | 'primal';
  /** Called between rows of the long loops, so a caller on the page's thread can give the event loop turns (shared/util/yield.ts `Yielder`). */
  pause?: () => Promise<void>;
}

/** The multiply-adds a fit of n rows of d dimensions costs, about: its Gram or covariance matrix (symmetric) and its factorisation. */
export function ldaWork(n: number, d: number): number {
  return (Math.min(n, d) ** 2 * Math.max(n, d)) / 2 + Math.min(n, d) ** 3 / 3;
}

type Pause = LdaOptions['pause'];

/** In-place Cholesky factor (lower triangle, row-major) of a symmetric positive definite m x m matrix. */
async function cholesky(a: Float64Array, m: number, pause: Pause): Promise<void> {
  for (let i = 0; i < m; i++) {
    await pause?.();
    for (let j = 0; j <= i; j++) {
      let s = a[i * m + j] as number;
      for (let k = 0; k < j; k++) s -= (a[i * m + k] as number) * (a[j * m + k] as number);
      a[i * m + j] = i === j ? Math.sqrt(Math.max(s, 1e-300)) : s / (a[j * m + j] as number);
    }
  }
}

/** Solves L L' x = b in place (`b` becomes x), L from {@link cholesky}. */
function cholSolve(l: Float64Array, m: number, b: Float64Array): void {
  for (let i = 0; i < m; i++) {
    let s = b[i] as number;
    for (let k = 0; k < i; k++) s -= (l[i * m + k] as number) * (b[k] as number);
    b[i] = s / (l[i * m + i] as number);
  }
  for (let i = m - 1; i >= 0; i--) {
    let s = b[i] as number;
    for (let k = i + 1; k < m; k++) s -= (l[k * m + i] as number) * (b[k] as number);
    b[i] = s / (l[i * m + i] as number);
  }
}

/**
 * Fits shrinkage LDA (module comment) on `n` rows of `dim` floats (`rows`, row-major) with class
 * indices `labels` in [0, classCount). A class without rows (a cross-validation fold's training
 * set may lack a class whose only photo it holds out) is never predicted: weights 0, bias
 * -Infinity. Without any spread within the classes (one row a class) the covariance is the
 * identity. The fit depends on the set of rows, not their order (up to float rounding).
 */
export async function fitShrinkageLda(rows: Float32Array | Float64Array, dim: number, labels: readonly number[], classCount: number, options: LdaOptions = {}): Promise<LdaFit> {
  const n = labels.length;
  if (rows.length !== n * dim) throw new RangeError(`fitShrinkageLda: ${rows.length} floats for ${n} rows of ${dim}`);
  const counts = new Float64Array(classCount);
  for (const y of labels) {
    if (!(Number.isInteger(y) && y >= 0 && y < classCount)) throw new RangeError(`fitShrinkageLda: label ${y} not in [0, ${classCount})`);
    counts[y] = (counts[y] as number) + 1;
  }
  if (n === 0) throw new RangeError('fitShrinkageLda: no rows');
  const means = new Float64Array(classCount * dim);
  labels.forEach((y, i) => {
    for (let k = 0; k < dim; k++) means[y * dim + k] = (means[y * dim + k] as number) + (rows[i * dim + k] as number) / (counts[y] as number);
  });
  const r = new Float64Array(n * dim);
  labels.forEach((y, i) => {
    for (let k = 0; k < dim; k++) r[i * dim + k] = (rows[i * dim + k] as number) - (means[y * dim + k] as number);
  });
  const solve = options.solve ?? (n <= dim ? 'dual' : 'primal');
  const sigmaInverse = solve === 'dual' ? await dualSolver(r, n, dim, options.pause) : await primalSolver(r, n, dim, options.pause);
  const weights = new Float64Array(dim * classCount);
  const bias = new Float64Array(classCount);
  for (let c = 0; c < classCount; c++) {
    if (counts[c] === 0) {
      bias[c] = -Infinity;
      continue;
    }
    const mean = means.subarray(c * dim, (c + 1) * dim);
    const w = sigmaInverse.apply(mean);
    let quad = 0;
    for (let k = 0; k < dim; k++) {
      weights[k * classCount + c] = w[k] as number;
      quad += (w[k] as number) * (mean[k] as number);
    }
    bias[c] = -0.5 * quad;
  }
  return { weights, bias, shrinkage: sigmaInverse.alpha, solve };
}

/**
 * The Ledoit-Wolf shrinkage towards nu I (S = R'R / n) from ||S||_F^2, tr S and sum_i ||r_i||^4:
 * b2 = (1/n^2) sum_i ||r_i r_i' - S||_F^2 = (1/n^2) (sum_i ||r_i||^4 - n ||S||_F^2), since
 * sum_i r_i' S r_i = tr(S R'R) = n ||S||_F^2.
 */
function ledoitWolf(n: number, dim: number, frob2: number, trace: number, normsFourth: number): { alpha: number; nu: number } {
  // No spread within the classes: the identity (any scale gives the same discriminants' order).
  if (!(trace > 0)) return { alpha: 1, nu: 1 };
  const nu = trace / dim;
  const d2 = frob2 - nu * nu * dim;
  const b2 = (normsFourth - n * frob2) / (n * n);
  const alpha = d2 > 0 ? Math.min(1, Math.max(0, Math.min(b2, d2) / d2)) : 1;
  return { alpha, nu };
}

interface SigmaInverse {
  alpha: number;
  apply(m: Float64Array): Float64Array;
}

/** Sigma^-1 through the n x n dual system (module comment). */
async function dualSolver(r: Float64Array, n: number, dim: number, pause: Pause): Promise<SigmaInverse> {
  const gram = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    await pause?.();
    for (let j = 0; j <= i; j++) gram[i * n + j] = gram[j * n + i] = dotRows(r, i, r, j, dim);
  }
  let frob = 0;
  let trace = 0;
  let fourth = 0;
  for (let i = 0; i < n * n; i++) frob += (gram[i] as number) ** 2;
  for (let i = 0; i < n; i++) {
    trace += gram[i * n + i] as number;
    fourth += (gram[i * n + i] as number) ** 2;
  }
  const { alpha, nu } = ledoitWolf(n, dim, frob / (n * n), trace / n, fourth);
  const a = Math.max(alpha * nu, 1e-9 * nu, 1e-300);
  const b = (1 - alpha) / n;
  if (b === 0) return { alpha, apply: (m) => m.map((x) => x / a) };
  // K = (a / b) I + R R', factored once.
  const k = gram;
  for (let i = 0; i < n; i++) k[i * n + i] = (k[i * n + i] as number) + a / b;
  await cholesky(k, n, pause);
  return {
    alpha,
    apply: (m) => {
      const u = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < dim; j++) s += (r[i * dim + j] as number) * (m[j] as number);
        u[i] = s;
      }
      cholSolve(k, n, u);
      const out = Float64Array.from(m);
      for (let i = 0; i < n; i++) {
        const ui = u[i] as number;
        for (let j = 0; j < dim; j++) out[j] = (out[j] as number) - ui * (r[i * dim + j] as number);
      }
      for (let j = 0; j < dim; j++) out[j] = (out[j] as number) / a;
      return out;
    },
  };
}

/** Sigma^-1 through the d x d primal system (module comment). */
async function primalSolver(r: Float64Array, n: number, dim: number, pause: Pause): Promise<SigmaInverse> {
  // S = R'R / n, accumulated row by row (upper triangle, then mirrored).
  const s = new Float64Array(dim * dim);
  for (let i = 0; i < n; i++) {
    await pause?.();
    const at = i * dim;
    for (let p = 0; p < dim; p++) {
      const rp = (r[at + p] as number) / n;
      if (rp === 0) continue;
      const row = p * dim;
      for (let q = p; q < dim; q++) s[row + q] = (s[row + q] as number) + rp * (r[at + q] as number);
    }
  }
  for (let p = 0; p < dim; p++) for (let q = 0; q < p; q++) s[p * dim + q] = s[q * dim + p] as number;
  let frob = 0;
  let trace = 0;
  for (let p = 0; p < dim * dim; p++) frob += (s[p] as number) ** 2;
  for (let p = 0; p < dim; p++) trace += s[p * dim + p] as number;
  let fourth = 0;
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let p = 0; p < dim; p++) norm += (r[i * dim + p] as number) ** 2;
    fourth += norm * norm;
  }
  const { alpha, nu } = ledoitWolf(n, dim, frob, trace, fourth);
  // Sigma = alpha nu I + (1 - alpha) S, factored once.
  const a = Math.max(alpha * nu, 1e-9 * nu, 1e-300);
  for (let p = 0; p < dim * dim; p++) s[p] = (1 - alpha) * (s[p] as number);
  for (let p = 0; p < dim; p++) s[p * dim + p] = (s[p * dim + p] as number) + a;
  await cholesky(s, dim, pause);
  return {
    alpha,
    apply: (m) => {
      const out = Float64Array.from(m);
      cholSolve(s, dim, out);
      return out;
    },
  };
}

/** The discriminant of every class for one row `x` of `dim` floats. */
export function ldaScores(fit: LdaFit, x: ArrayLike<number>): Float64Array {
  const classes = fit.bias.length;
  const out = Float64Array.from(fit.bias);
  for (let k = 0; k < x.length; k++) {
    const xk = x[k] as number;
    if (xk === 0) continue;
    for (let c = 0; c < classes; c++) out[c] = (out[c] as number) + xk * (fit.weights[k * classes + c] as number);
  }
  return out;
}
