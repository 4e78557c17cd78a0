/**
 * Classifier-side levers on the Train button as it is (issue 15 pt 1; recipes.ts runs them, keyed
 * `eval.<dataset>.<recipe>.k10` and paired with `app`). None needs new embeddings: each reads the
 * shots with their 3 augmented views (as the app stores them) and the test photos with their 3
 * views, in the space the app's head sees (the training vectors' mean removed, every dimension
 * divided by its std + eps: shared/learn/standardize.ts).
 *
 * - app-ncm: nearest class mean alone (SimpleShot: centred, standardised, L2-normalised; each
 *   class's mean over its photos and views; cosine), averaged over the test photo and its 3 views.
 * - app-ncm-mix: `app` exactly (its guard, its TTA), its probabilities averaged half and half with
 *   the class-mean classifier's softmax(T cos); T maximises the leave-one-photo-out likelihood
 *   of the training photos (each photo's views left out with it), so nothing is tuned on test data.
 * - app-lda: shrinkage LDA in the same standardised space: class means, the within-class covariance
 *   shrunk towards a scaled identity by the Ledoit-Wolf estimate (no free parameter), equal priors;
 *   the discriminant averaged over the test photo and its views. Solved in the n x n dual
 *   (Woodbury), n the training vectors (~400), not in the 2,816 x 2,816 primal.
 * - app-lda-mix: `app`'s probabilities averaged with LDA's softmax, its temperature by the same
 *   leave-one-photo-out likelihood (with the class means refitted without the photo, the
 *   covariance kept: a first-order approximation).
 * - app-lda-v7: app-lda with 7 augmented views a shot (the within-class covariance, the views'
 *   spread, is what tells LDA which directions are nuisance) and its test photos averaged over 7.
 *
 * app-lda is now the Train button's head (shared/learn/lda.ts, train-lda.ts: the same estimate,
 * judged by the guard, TTA over probabilities); these levers keep their own copy because their
 * leave-one-photo-out temperature needs Sigma^-1 of any vector, which the shared fit does not expose.
 */
import type { EvalExample, RecipeContext, RecipeOutcome } from './recipes.ts';
import { predictAsTrained, trainAndGuard } from '../../shared/learn/train-app.ts';
import { columnScales } from '../../shared/learn/standardize.ts';
import { argMax } from '../../shared/predict/predictor.ts';

/** The classifier-side levers (module comment). */
export const CLASSIFIER_LEVERS = ['app-ncm', 'app-ncm-mix', 'app-lda', 'app-lda-mix', 'app-lda-v7'] as const;

/** Augmented views a lever's shots train on and its test photos are averaged over (the app stores 3). */
export function classifierLeverViews(lever: ClassifierLever): number {
  return lever === 'app-lda-v7' ? 7 : 3;
}
export type ClassifierLever = (typeof CLASSIFIER_LEVERS)[number];

/** Temperatures the leave-one-photo-out likelihood chooses among (scores are cosines or LDA discriminants scaled down). */
const TEMPERATURES = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200];

/** The standardised space the app's head sees, fitted on the training vectors. */
function standardSpace(train: readonly Float32Array[]): (e: Float32Array) => Float64Array {
  const dim = (train[0] as Float32Array).length;
  const mean = new Float64Array(dim);
  for (const e of train) for (let j = 0; j < dim; j++) mean[j] = (mean[j] as number) + (e[j] as number) / train.length;
  const rows = new Float32Array(train.length * dim);
  train.forEach((e, i) => {
    for (let j = 0; j < dim; j++) rows[i * dim + j] = (e[j] as number) - (mean[j] as number);
  });
  const scale = columnScales(rows, dim);
  return (e) => Float64Array.from(e, (x, j) => (x - (mean[j] as number)) * (scale[j] as number));
}

const dot = (a: Float64Array, b: Float64Array): number => {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += (a[j] as number) * (b[j] as number);
  return s;
};
const unit = (a: Float64Array): Float64Array => {
  const n = Math.sqrt(dot(a, a)) || 1;
  return a.map((x) => x / n);
};

/** Softmax of `scores` times `t`. */
function softmax(scores: readonly number[], t: number): number[] {
  const m = Math.max(...scores);
  const e = scores.map((s) => Math.exp(t * (s - m)));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

/** The temperature maximising the mean log-probability of each row's true class (`rows[i]`: scores, `truth[i]`: class index). */
function fitTemperature(rows: readonly number[][], truth: readonly number[]): number {
  let best = TEMPERATURES[0] as number;
  let bestLl = -Infinity;
  for (const t of TEMPERATURES) {
    let ll = 0;
    rows.forEach((r, i) => (ll += Math.log(Math.max(1e-12, softmax(r, t)[truth[i] as number] as number))));
    if (ll > bestLl) [best, bestLl] = [t, ll];
  }
  return best;
}

/** Training vectors mapped, grouped by photo, with class indices. */
interface Prepared {
  z: Float64Array[];
  y: number[];
  photo: string[];
  classes: string[];
}

function prepare(train: readonly EvalExample[], classes: string[], map: (e: Float32Array) => Float64Array): Prepared {
  const index = new Map(classes.map((c, i) => [c, i]));
  return { z: train.map((e) => map(e.embedding)), y: train.map((e) => index.get(e.label) as number), photo: train.map((e) => e.photoId), classes };
}

/** Nearest class mean: unit vectors, per-class sums; `scores(x)` the cosine to each class mean; `looRows` leave-one-photo-out scores of each training photo's original vector. */
function fitNcm(p: Prepared): { scores: (z: Float64Array) => number[]; loo: { rows: number[][]; truth: number[] } } {
  const c = p.classes.length;
  const dim = (p.z[0] as Float64Array).length;
  const u = p.z.map(unit);
  const sums = Array.from({ length: c }, () => new Float64Array(dim));
  const counts = new Array<number>(c).fill(0);
  u.forEach((v, i) => {
    const s = sums[p.y[i] as number] as Float64Array;
    for (let j = 0; j < dim; j++) s[j] = (s[j] as number) + (v[j] as number);
    counts[p.y[i] as number] = (counts[p.y[i] as number] as number) + 1;
  });
  const means = sums.map((s, k) => unit(s.map((x) => x / (counts[k] as number))));
  const scores = (z: Float64Array): number[] => {
    const v = unit(z);
    return means.map((m) => dot(v, m));
  };
  // Leave one photo out: its class's sum without its vectors.
  const loo = leaveOnePhotoOut(p, (i, own, mine) => {
    const s = Float64Array.from(sums[own] as Float64Array);
    for (const r of mine) for (let j = 0; j < dim; j++) s[j] = (s[j] as number) - ((u[r] as Float64Array)[j] as number);
    const left = unit(s);
    const v = u[i] as Float64Array;
    return means.map((m, k) => (k === own ? dot(v, left) : dot(v, m)));
  });
  return { scores, loo };
}

/**
 * Leave-one-photo-out score rows: each photo (its first vector `i`; `mine` are all its vectors,
 * the photo and its views) scored by `row` with its own class fitted without them.
 */
function leaveOnePhotoOut(p: Prepared, row: (i: number, own: number, mine: number[]) => number[]): { rows: number[][]; truth: number[] } {
  const rows: number[][] = [];
  const truth: number[] = [];
  const seen = new Set<string>();
  p.photo.forEach((id, i) => {
    if (seen.has(id)) return;
    seen.add(id);
    const own = p.y[i] as number;
    rows.push(row(i, own, p.photo.flatMap((q, r) => (q === id ? [r] : []))));
    truth.push(own);
  });
  return { rows, truth };
}

/** Cholesky factor of a symmetric positive definite n x n matrix (row-major), lower triangle. */
function cholesky(a: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j] as number;
      for (let k = 0; k < j; k++) s -= (l[i * n + k] as number) * (l[j * n + k] as number);
      l[i * n + j] = i === j ? Math.sqrt(Math.max(s, 1e-300)) : s / (l[j * n + j] as number);
    }
  }
  return l;
}

/** Solves L L' x = b. */
function cholSolve(l: Float64Array, n: number, b: Float64Array): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i] as number;
    for (let k = 0; k < i; k++) s -= (l[i * n + k] as number) * (y[k] as number);
    y[i] = s / (l[i * n + i] as number);
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i] as number;
    for (let k = i + 1; k < n; k++) s -= (l[k * n + i] as number) * (x[k] as number);
    x[i] = s / (l[i * n + i] as number);
  }
  return x;
}

/**
 * Shrinkage LDA (module comment): `scores(z)` the discriminant of each class; `loo` leave-one-photo-out
 * discriminants of each training photo's original vector (class means refitted, covariance kept).
 */
function fitLda(p: Prepared): { scores: (z: Float64Array) => number[]; loo: { rows: number[][]; truth: number[] }; shrinkage: number } {
  const c = p.classes.length;
  const n = p.z.length;
  const dim = (p.z[0] as Float64Array).length;
  const sums = Array.from({ length: c }, () => new Float64Array(dim));
  const counts = new Array<number>(c).fill(0);
  p.z.forEach((v, i) => {
    const s = sums[p.y[i] as number] as Float64Array;
    for (let j = 0; j < dim; j++) s[j] = (s[j] as number) + (v[j] as number);
    counts[p.y[i] as number] = (counts[p.y[i] as number] as number) + 1;
  });
  const means = sums.map((s, k) => s.map((x) => x / (counts[k] as number)));
  const r = p.z.map((v, i) => v.map((x, j) => x - ((means[p.y[i] as number] as Float64Array)[j] as number)));
  const gram = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) gram[i * n + j] = gram[j * n + i] = dot(r[i] as Float64Array, r[j] as Float64Array);
  // Ledoit-Wolf towards nu I, S = R'R / n.
  let frob = 0;
  for (let i = 0; i < n * n; i++) frob += (gram[i] as number) ** 2;
  const sNorm2 = frob / n / n;
  let trace = 0;
  for (let i = 0; i < n; i++) trace += gram[i * n + i] as number;
  const nu = trace / n / dim;
  const d2 = sNorm2 - nu * nu * dim;
  let b2 = 0;
  for (let i = 0; i < n; i++) {
    let quad = 0;
    for (let j = 0; j < n; j++) quad += (gram[i * n + j] as number) ** 2;
    b2 += (gram[i * n + i] as number) ** 2 - (2 * quad) / n + sNorm2;
  }
  b2 /= n * n;
  const alpha = Math.min(1, Math.max(0, Math.min(b2, d2) / d2));
  // Sigma = a I + b R'R; Sigma^-1 m = (m - R' K^-1 R m) / a, K = (a / b) I + R R'.
  const a = Math.max(alpha * nu, 1e-9 * nu);
  const bb = (1 - alpha) / n;
  const k = Float64Array.from(gram);
  const ridge = bb > 0 ? a / bb : 1e12;
  for (let i = 0; i < n; i++) k[i * n + i] = (k[i * n + i] as number) + ridge;
  const l = cholesky(k, n);
  const solveSigma = (m: Float64Array): Float64Array => {
    if (bb === 0) return m.map((x) => x / a);
    const rm = Float64Array.from(r, (ri) => dot(ri, m));
    const u = cholSolve(l, n, rm);
    const out = Float64Array.from(m);
    for (let i = 0; i < n; i++) {
      const ri = r[i] as Float64Array;
      const ui = u[i] as number;
      for (let j = 0; j < dim; j++) out[j] = (out[j] as number) - ui * (ri[j] as number);
    }
    return out.map((x) => x / a);
  };
  const w = means.map(solveSigma);
  const bias = means.map((m, c2) => -0.5 * dot(m, w[c2] as Float64Array));
  const scores = (z: Float64Array): number[] => w.map((wc, c2) => dot(z, wc) + (bias[c2] as number));
  // Leave one photo out: its class's mean (and so w and bias, linear in the mean) without its vectors.
  const loo = leaveOnePhotoOut(p, (i, own, mine) => {
    const m = Float64Array.from(sums[own] as Float64Array);
    for (const r2 of mine) for (let j = 0; j < dim; j++) m[j] = (m[j] as number) - ((p.z[r2] as Float64Array)[j] as number);
    const left = m.map((x) => x / ((counts[own] as number) - mine.length));
    const wl = solveSigma(left);
    const z = p.z[i] as Float64Array;
    return w.map((wc, c2) => (c2 === own ? dot(z, wl) - 0.5 * dot(left, wl) : dot(z, wc) + (bias[c2] as number)));
  });
  return { scores, loo, shrinkage: alpha };
}

/** Mean of score rows. */
const meanRows = (rows: readonly number[][]): number[] => (rows[0] as number[]).map((_, j) => rows.reduce((s, r) => s + (r[j] as number), 0) / rows.length);

/** Runs one classifier-side lever (module comment). */
export async function runClassifierLever(lever: ClassifierLever, train: readonly EvalExample[], test: readonly EvalExample[], ctx: RecipeContext): Promise<RecipeOutcome> {
  const views = ctx.testViews;
  if (!views || views.length !== test.length) throw new Error(`${lever} needs the test photos' augmented views`);
  const map = standardSpace(train.map((e) => e.embedding));
  const p = prepare(train, ctx.classes, map);
  const fit = lever.startsWith('app-ncm') ? fitNcm(p) : fitLda(p);
  // Each test photo's scores, averaged over the photo and its views.
  const scored = test.map((e, i) => meanRows([e.embedding, ...(views[i] as readonly Float32Array[])].map((v) => fit.scores(map(v)))));
  const shrink = 'shrinkage' in fit ? `, shrinkage ${(fit.shrinkage as number).toFixed(3)}` : '';
  if (lever === 'app-ncm' || lever === 'app-lda' || lever === 'app-lda-v7') return { predicted: scored.map((s) => ctx.classes[argMax(s)] as string), detail: `alone${shrink}` };
  // Mixed with the app as it is: its guard, its choice, its TTA.
  const t = fitTemperature(fit.loo.rows, fit.loo.truth);
  const result = await trainAndGuard(train, { backbone: ctx.backbone, classes: ctx.classes });
  const ranked = await predictAsTrained(result, train, ctx.backbone, test.map((e) => e.embedding), views);
  const index = new Map(ctx.classes.map((c, i) => [c, i]));
  const predicted = ranked.map((r, i) => {
    const mix = softmax(scored[i] as number[], t).map((x) => x / 2);
    for (const q of r) mix[index.get(q.label) as number] = (mix[index.get(q.label) as number] as number) + q.score / 2;
    return ctx.classes[argMax(mix)] as string;
  });
  return { predicted, detail: `T ${t}${shrink}, guard: ${result.guard.choice}, tta ${result.testTimeAugmentation?.kept ? 'kept' : 'off'}` };
}
