/**
 * The fixed-budget protocol of `npm run eval -- --asked` (issue 18 pt 3): does asking about the
 * photos the app chooses (shared/learn/ask.ts `chooseToAsk`, the function the app calls) teach more
 * than labelling photos at random, for the same number of labels?
 *
 * Per dataset and seed (scripts/eval/datasets.ts `activePool`): start from the seed's one labelled
 * photo per class, then label photos of an unlabeled pool in rounds of {@link ASK_ROUND} until
 * k x C labels are spent, training with recipe `app` (recipes.ts `trainAsApp`: trainAndGuard as the
 * Train button) after each round; the test accuracy at k x C labels is recipe `app`'s prediction
 * (`predictAsApp`: the guard's choice, with its TTA over the test photo's 3 views).
 *
 * - asked: each round, the model just trained scores the pool's photos as the app would (its
 *   prediction from the photo alone, no views: the pool keeps photos, not views;
 *   `predictAsTrained`), and `chooseToAsk` picks 5 in kNN's space, through the app's own call
 *   (shared/learn/ask-space.ts `askAbout`: every embedding through the input transform fitted on
 *   the labelled examples, views included, with `fitInputTransform`'s defaults, as `fitKnn` does;
 *   `labeled` = the labelled photos, not their views, in that space, with their classes).
 *   One trajectory serves every k (k = 5 is its state at 5 x C labels).
 * - random: the same budget drawn at random from the pool (seeded by the seed), so one training at
 *   each k (the draw does not depend on the model, so training after each round would change
 *   nothing); k = 5's labels are the first of k = 10's.
 *
 * Labelled photos are stored as the app stores them: each photo plus its 3 augmented views.
 */
import type { BackboneManifest } from '../../shared/model/manifest.ts';
import type { AskRules, AskWeights } from '../../shared/learn/ask.ts';
import { askAbout } from '../../shared/learn/ask-space.ts';
import { predictAsTrained, type TrainAndGuardResult } from '../../shared/learn/train-app.ts';
import { mulberry32, shuffle } from '../../shared/util/random.ts';
import type { ActivePool, Dataset, EvalImage } from './datasets.ts';
import { appDetail, predictAsApp, trainAsApp, type EvalExample } from './recipes.ts';
import { ASK_KS, ASK_ROUND, ASK_STRATEGIES, type AskStrategy } from './ask-protocol.ts';


/** What the protocol needs from the evaluation's embedding machinery (scripts/eval/main.ts). */
export interface AskedContext {
  backbone: BackboneManifest;
  classes: string[];
  /** The images' photos as examples (embedded first where not cached), in order. */
  photos(images: readonly EvalImage[]): Promise<EvalExample[]>;
  /** The images as the app stores them: each photo, then its 3 augmented views (embedded first where not cached). */
  stored(images: readonly EvalImage[]): Promise<EvalExample[]>;
  /** Each image's 3 augmented views' embeddings (for the app's test-time augmentation). */
  views(images: readonly EvalImage[]): Promise<Float32Array[][]>;
  /** `chooseToAsk`'s exponents (default: the app's). */
  weights?: Partial<AskWeights>;
  /** `chooseToAsk`'s rules (default: the app's). */
  rules?: AskRules;
  /** A line for the log. */
  log(line: string): void;
}

/** One strategy's run on one seed: test accuracy and wall-clock ms at each k (asked: the trajectory up to k x C labels). */
export interface AskedOutcome {
  accuracy: Map<number, number>;
  ms: Map<number, number>;
  trainings: number;
}

/**
 * The photos the app asks about after a training, as it would choose them (module comment):
 * `count` photo ids of `candidates`, best first. The model's scores are its prediction from the
 * photo alone (`predictAsTrained` without views); the choice is shared/learn/ask-space.ts
 * `askAbout`, the app's.
 */
export async function askAsApp(
  result: TrainAndGuardResult,
  train: readonly EvalExample[],
  candidates: readonly EvalExample[],
  count: number,
  backbone: BackboneManifest,
  weights?: Partial<AskWeights>,
  rules?: AskRules,
): Promise<string[]> {
  const embeddings = candidates.map((e) => e.embedding);
  const ranked = await predictAsTrained(result, train, backbone, embeddings, embeddings.map(() => []));
  const classes = result.training.doc.classes;
  const index = new Map(classes.map((c, i) => [c, i]));
  const pool = candidates.map((e, i) => {
    const probabilities = new Float32Array(classes.length);
    for (const p of ranked[i] ?? []) probabilities[index.get(p.label) as number] = p.score;
    return { id: e.photoId, embedding: e.embedding, probabilities };
  });
  return askAbout(pool, { examples: train, backbone, classes, count, ...(weights ? { weights } : {}), ...(rules ? { rules } : {}) }).map((c) => c.id);
}

/** Labels per class of `images`, as `min-max` (how evenly a strategy spent its labels). */
function classSpread(images: readonly EvalImage[], classes: readonly string[]): string {
  const counts = classes.map((c) => images.filter((i) => i.label === c).length);
  return `${Math.min(...counts)}-${Math.max(...counts)} a class`;
}

/** Runs one strategy on one seed's pool (module comment); `ks` ascending. */
export async function runAskedProtocol(strategy: AskStrategy, data: ActivePool, ks: readonly number[], seed: number, ctx: AskedContext): Promise<AskedOutcome> {
  const started = performance.now();
  const c = ctx.classes.length;
  const test = await ctx.photos(data.test);
  const testViews = await ctx.views(data.test);
  const outcome: AskedOutcome = { accuracy: new Map(), ms: new Map(), trainings: 0 };
  const measure = async (k: number, labelled: readonly EvalImage[], train: readonly EvalExample[], result: TrainAndGuardResult, since: number): Promise<void> => {
    const predicted = await predictAsApp(result, train, test, { backbone: ctx.backbone, testViews });
    const accuracy = predicted.filter((p, i) => p === test[i]?.label).length / test.length;
    outcome.accuracy.set(k, accuracy);
    outcome.ms.set(k, performance.now() - since);
    ctx.log(`k=${k}] ${strategy.padEnd(9)} ${(100 * accuracy).toFixed(1).padStart(5)}%  ${((performance.now() - since) / 1000).toFixed(1).padStart(6)} s  labels ${classSpread(labelled, ctx.classes)}; ${appDetail(result)}`);
  };
  if (strategy === 'random') {
    const order = shuffle(data.pool, mulberry32(0xa5c + seed * 7919));
    for (const k of ks) {
      const t0 = performance.now();
      const labelled = [...data.start, ...order.slice(0, (k - 1) * c)];
      const train = await ctx.stored(labelled);
      const result = await trainAsApp(train, ctx);
      outcome.trainings++;
      await measure(k, labelled, train, result, t0);
    }
    return outcome;
  }
  const budget = Math.max(...ks) * c;
  const candidates = new Map((await ctx.photos(data.pool)).map((e) => [e.photoId, e]));
  const images = new Map(data.pool.map((i) => [i.id, i]));
  const labelled = [...data.start];
  for (;;) {
    const train = await ctx.stored(labelled);
    const result = await trainAsApp(train, ctx);
    outcome.trainings++;
    if (labelled.length % c === 0 && ks.includes(labelled.length / c)) await measure(labelled.length / c, labelled, train, result, started);
    if (labelled.length >= budget) break;
    const count = Math.min(ASK_ROUND, budget - labelled.length);
    const ids = await askAsApp(result, train, [...candidates.values()], count, ctx.backbone, ctx.weights, ctx.rules);
    if (ids.length < count) throw new Error(`the app asked about ${ids.length} photos, ${count} wanted: the pool (${candidates.size} left) ran out of photos that are not near-duplicates`);
    for (const id of ids) {
      labelled.push(images.get(id) as EvalImage);
      candidates.delete(id);
    }
  }
  return outcome;
}

/**
 * Both strategies on every dataset and seed of the plan (`firstSeed` onwards, `seeds` of them), at
 * the protocol's ks ({@link ASK_KS}) that the plan's ks include; `record` gets each run and its
 * wall-clock ms.
 */
export async function runAskedProtocols(
  datasets: readonly Dataset[],
  plan: { firstSeed: number; seeds: number; ks: readonly number[] },
  context: (dataset: Dataset, seed: number) => AskedContext,
  record: (dataset: Dataset['name'], strategy: AskStrategy, seed: number, outcome: AskedOutcome, ms: number) => void,
): Promise<void> {
  for (const dataset of datasets) {
    const ks = ASK_KS[dataset.name].filter((k) => plan.ks.includes(k));
    for (let seed = plan.firstSeed; ks.length && seed < plan.firstSeed + plan.seeds; seed++) {
      for (const strategy of ASK_STRATEGIES) {
        const t0 = performance.now();
        const outcome = await runAskedProtocol(strategy, dataset.activePool(seed), ks, seed, context(dataset, seed));
        record(dataset.name, strategy, seed, outcome, performance.now() - t0);
      }
    }
  }
}
