/**
 * Limited-memory BFGS on a smooth objective over a flat parameter vector: the solver trainHead's
 * plain softmax head uses (shared/learn/train-head.ts), one iteration at a time so its caller can
 * report, yield and cancel between them. The objective is evaluated by the caller (`evaluate`),
 * which may carry more than the loss and gradient in its value (trainHead: training accuracy).
 */

/**
 * L-BFGS stops once an iteration lowers the objective by less than this (relative). At 1e-5 the
 * eval's accuracy matched Adam's (issue 15 pt 3) after ~25 iterations.
 */
const CONVERGED = 1e-5;
/** L-BFGS keeps this many (step, gradient change) pairs. */
const LBFGS_PAIRS = 10;

/** An evaluation of the objective at a point: its value and gradient (and whatever else the caller keeps). */
export interface LbfgsValue {
  loss: number;
  gradient: Float64Array;
}

/** L-BFGS state: the current parameters and their evaluation, and the last pairs. */
export interface LbfgsState<V extends LbfgsValue> {
  theta: Float64Array;
  value: V;
  s: Float64Array[];
  y: Float64Array[];
  rho: number[];
  converged: boolean;
}

/** The state at the start point `theta`, evaluated as `value`. */
export function lbfgsStart<V extends LbfgsValue>(theta: Float64Array, value: V): LbfgsState<V> {
  return { theta, value, s: [], y: [], rho: [], converged: false };
}

/**
 * One L-BFGS iteration (10 pairs, backtracking Armijo line search from the unit step), updating
 * `state`; `evaluate` is called at each trial point and the last call is at the new point.
 * Returns the new point's evaluation; once converged, the state stays and nothing is evaluated.
 */
export async function lbfgsStep<V extends LbfgsValue>(state: LbfgsState<V>, evaluate: (theta: Float64Array) => Promise<V>): Promise<{ value: V; converged: boolean }> {
  if (state.converged) return { value: state.value, converged: true };
  const g = state.value.gradient;
  const n = g.length;
  // Two-loop recursion: q = H g (the step is -q).
  const q = Float64Array.from(g);
  const pairs = state.s.length;
  const alpha = new Float64Array(pairs);
  for (let k = pairs - 1; k >= 0; k--) {
    const a = (state.rho[k] as number) * dot(state.s[k] as Float64Array, q);
    alpha[k] = a;
    axpy(-a, state.y[k] as Float64Array, q);
  }
  const sLast = state.s[pairs - 1];
  const yLast = state.y[pairs - 1];
  const gamma = sLast && yLast ? dot(sLast, yLast) / dot(yLast, yLast) : 1 / Math.sqrt(dot(g, g));
  for (let i = 0; i < n; i++) q[i] = (q[i] as number) * gamma;
  for (let k = 0; k < pairs; k++) {
    const b = (state.rho[k] as number) * dot(state.y[k] as Float64Array, q);
    axpy((alpha[k] as number) - b, state.s[k] as Float64Array, q);
  }
  const slope = -dot(g, q);
  let step = 1;
  const next = new Float64Array(n);
  let value = state.value;
  for (let trial = 0; trial < 20; trial++) {
    for (let i = 0; i < n; i++) next[i] = (state.theta[i] as number) - step * (q[i] as number);
    value = await evaluate(next);
    if (value.loss <= state.value.loss + 1e-4 * step * slope) break;
    step /= 2;
  }
  const sNew = new Float64Array(n);
  const yNew = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    sNew[i] = (next[i] as number) - (state.theta[i] as number);
    yNew[i] = (value.gradient[i] as number) - (g[i] as number);
  }
  const sy = dot(sNew, yNew);
  if (sy > 1e-10) {
    state.s.push(sNew);
    state.y.push(yNew);
    state.rho.push(1 / sy);
    if (state.s.length > LBFGS_PAIRS) {
      state.s.shift();
      state.y.shift();
      state.rho.shift();
    }
  }
  const decrease = state.value.loss - value.loss;
  state.theta = next;
  state.value = value;
  state.converged = decrease <= CONVERGED * Math.max(1, Math.abs(value.loss));
  return { value, converged: state.converged };
}

/** The dot product of two vectors of the same length. */
function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] as number) * (b[i] as number);
  return sum;
}

/** `y += a * x` in place. */
function axpy(a: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < y.length; i++) y[i] = (y[i] as number) + a * (x[i] as number);
}
