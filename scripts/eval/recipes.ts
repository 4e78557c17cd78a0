/**
 * The recipes the evaluation compares. Each trains on k-shot examples (and, for self-training,
 * unlabeled ones) and returns predicted labels for the test examples. All read the product's
 * embedding: the 2,816 floats of gmp(block_13_expand_relu) + gmp(block_16_expand_relu) +
 * flatten_1 that `Backbone.embed` returns.
 *
 * - app: exactly what the app's Train button runs (shared/learn/train-app.ts `trainAndGuard`, which
 *   client/lib/train.ts calls): each shot plus its 3 augmented views, as the app stores them
 *   (client/lib/examples.ts; here the views are seeded by image id), `trainHead` with `refitAll`
 *   and the app's seed (0, whatever the split's seed), then the negative-transfer guard. When the
 *   guard picks kNN, kNN (k = 3, cosine, over every stored view) predicts, as the app then does;
 *   otherwise the refitted head, averaged over the test photo and its 3 augmented views when the
 *   guard kept test-time augmentation (`predictAsTrained`; the views seeded by image id, where the
 *   app seeds them by the head's recorded seed: the same recipe, other random crops). There is no
 *   previous head. The levers below run without the guard's test-time augmentation.
 * - knn: shared/learn/knn.ts as the guard uses it: cosine, k=3, majority vote, on the embedding after
 *   the default input transform (training mean removed, each part L2-normalised). tfjs-models'
 *   knn-classifier is the same algorithm on whatever activation it is given.
 * - tm: the Teachable Machine recipe on the raw embedding (no normalisation, as Teachable Machine
 *   feeds MobileNet's activations as they are): dense 100 relu + softmax (no bias, as TM builds
 *   it), variance-scaling init, Adam 1e-3, categorical cross-entropy, 50 epochs, batch 16, final
 *   weights. Trained on all shots (TM holds out 15% for its chart; at 1-5 shots that would cost
 *   whole examples, so this is the kinder variant).
 * - head: `trainHead` with `refitAll`, as the product's `train()`: softmax on the transformed
 *   embedding, class-balanced, the epoch count chosen on held-out shots (early stopping), then the
 *   returned head trained again on every shot for that many epochs.
 * - selftrain: `selfTrain` (every head it trains with `refitAll`) on the shots plus the unlabeled pool.
 * - finetune: `fineTune` with its defaults (top block + head, warm start from `trainHead` WITHOUT
 *   `refitAll`, fixed schedule: 10 epochs, Adam 3e-4, batch 8) and `validation: 'none'`: the model
 *   `fineTune` returns by default is this same run (its refit on all photos); skipping the
 *   held-out measurement only halves the cost. What the product's `improve()` trains. (A warm head
 *   refitted on every shot already fits them, loss ~0.06 before the first step, so little
 *   gradient reaches the top block: 51% against 54% on emoji k=10, seed 0.)
 * Extra rows (not in the default set), to measure single changes:
 * - head-holdout: `trainHead` without `refitAll` (before: the returned head never saw its 20% of
 *   held-out shots).
 * - head-all: `trainHead` forced into cross-validation (`minPhotosForHoldout: Infinity`): epochs
 *   chosen by cross-validation, final head on every shot.
 * - ensemble: mean of the head's probabilities and kNN's vote shares.
 * - head-aug, finetune-aug: head and finetune on the shots plus 3 augmented views of each
 *   (shared/image/augment.ts, as the product's examples; views seeded by image id).
 * - finetune-pseudo: self-training's chosen pseudo-labels join the shots for fine-tuning.
 * The app's levers (issue 15 pt 1), run at k = 10. Each changes one thing in `app-l2`: the app as
 * it was before trainHead's `standardize` became the app's default (per-part L2 x10 on the
 * mean-removed embedding). `app` itself standardises (what `app-stdlin` measured, folded into the
 * head: shared/learn/train-head.ts).
 * - app-l2: that earlier app.
 * - app-tta: test-time augmentation: the app's prediction (head probabilities, or kNN vote shares
 *   when the guard chose kNN) averaged over the test photo and its 3 augmented views (the same
 *   recipe as the training views, seeded by image id).
 * - app-pow: power normalisation: every embedding float x becomes sign(x) sqrt(|x|) before the
 *   app's own transform (mean removal, per-part L2, x10).
 * - app-std: per-dimension standardisation learned on the training vectors (views included):
 *   (x - mean) / (std + eps), eps a tenth of the mean std, before the app's transform.
 * - app-powstd: power normalisation, then standardisation. app-pow-tta, app-std-tta: with TTA.
 * - app-stdlin (-tta): standardised, then neither mean removal nor per-part L2 (scale 1): the whole
 *   input map is linear, so a plain head trained on it folds into a head on today's input format
 *   (kernel rows divided by the std, the mean kept as the transform's mean).
 * - app-scale5, app-scale20: the transform's scale 5 or 20 instead of 10 (against the L2 penalty).
 * - app-avg (a pair of backbones, `--backbones A+B`): one app head on each backbone's parts, their
 *   probabilities averaged. `app` on a pair is the concatenated embedding (per-part L2 as usual).
 * Levers on the Train button as it is (its standardisation kept), about the number of views:
 * - app-t3, app-t7: test-time augmentation over the photo and its first 3 or 7 augmented views.
 * - app-v7: each shot plus 7 augmented views to train on (the app stores 3).
 * - app-v7-t7: both (7 views to train on, TTA over 7).
 * - app-parts, app-parts-t3: an ensemble: one app head per embedding part (MobileNetV2: block_13,
 *   block_16, flatten_1; on a pair, one per backbone), their probabilities averaged; -t3 with TTA
 *   over 3 views.
 * - app-wd01, app-wd03, app-wd1: `app` exactly (its guard, its TTA) with the head's L2 penalty
 *   0.01, 0.03, 0.1 instead of trainHead's 0.001.
 * - app-self: self-training on the unlabeled photos with the app's head options (recipes-selftrain.ts).
 * - app-ncm, app-ncm-mix, app-lda, app-lda-mix, app-lda-v7: classifier-side levers on the app's
 *   standardised inputs, nearest class mean and shrinkage LDA (recipes-classifier.ts).
 * - app-softmax: `app` exactly (its guard, its TTA) with the softmax head of trainHead instead of
 *   shrinkage LDA (trainAndGuard's `classifier: 'softmax'`): the Train button before LDA was folded
 *   in (as `app-ldahead`, LDA against this: emoji +2.8 [+0.4, +5.2], Fashion-MNIST +1.0 [-0.8, +2.8]).
 */
import * as tf from '@tensorflow/tfjs-core';
import { initializers, layers, sequential } from '@tensorflow/tfjs-layers';
import type { Example } from '../../shared/learn/examples.ts';
import { fineTune, type FineTuneExample, type FineTuneResult } from '../../shared/learn/fine-tune.ts';
import type { BackboneSplit, FrozenOutput } from '../../shared/model/backbone-split.ts';
import { argMax, loadPredictor } from '../../shared/predict/predictor.ts';
import { fitKnn } from '../../shared/learn/knn.ts';
import type { BackboneManifest } from '../../shared/model/manifest.ts';
import { mulberry32, randomSeed, shuffle } from '../../shared/util/random.ts';
import { predictProbabilities, selfTrain, type SelfTrainResult } from '../../shared/learn/self-train.ts';
import { trainHead } from '../../shared/learn/train-head.ts';
import { predictAsTrained, trainAndGuard, type TrainAndGuardOptions, type TrainAndGuardResult } from '../../shared/learn/train-app.ts';
import { ON_APP_LEVERS } from './app-levers.ts';
import { CLASSIFIER_LEVERS, classifierLeverViews, runClassifierLever, type ClassifierLever } from './recipes-classifier.ts';
import { appSelfTrain } from './recipes-selftrain.ts';

/** The `app` recipe with one lever changed (module comment). */
export const APP_LEVERS = [
  'app-l2',
  'app-tta',
  'app-pow',
  'app-std',
  'app-powstd',
  'app-pow-tta',
  'app-std-tta',
  'app-stdlin',
  'app-stdlin-tta',
  'app-scale5',
  'app-scale20',
  'app-avg',
  'app-t3',
  'app-t7',
  'app-v7',
  'app-v7-t7',
  'app-parts',
  'app-parts-t3',
  'app-wd01',
  'app-wd03',
  'app-wd1',
  'app-self',
  ...CLASSIFIER_LEVERS,
  'app-softmax',
] as const;
export const RECIPES = [
  'app',
  'knn',
  'tm',
  'head',
  'selftrain',
  'finetune',
  'head-holdout',
  'head-all',
  'ensemble',
  'head-aug',
  'finetune-aug',
  'finetune-pseudo',
  ...APP_LEVERS,
] as const;
/** Recipes that train on 3 augmented views of every shot too (shared/image/augment.ts, as the product's examples). */
const AUGMENTED_RECIPES: readonly Recipe[] = ['app', 'head-aug', 'finetune-aug', ...APP_LEVERS];
/** Recipes that need a pair of backbones (`--backbones a+b`): one head per backbone. */
export const PAIR_RECIPES: readonly Recipe[] = ['app-avg'];
/** Recipes that need the cut activations. */
export const FINE_TUNING_RECIPES: readonly Recipe[] = ['finetune', 'finetune-pseudo', 'finetune-aug'];
/** Recipes that need the unlabeled pool. */
export const UNLABELED_RECIPES: readonly Recipe[] = ['selftrain', 'finetune-pseudo', 'app-self'];
/**
 * What `npm run eval` runs without --recipes: the Train button, the baselines (kNN, Teachable
 * Machine) and `head`; self-training and fine-tuning cost most of a cold run's hour and come with
 * `--levers` (scripts/eval/options.ts).
 */
export const DEFAULT_RECIPES: readonly Recipe[] = ['app', 'knn', 'tm', 'head'];
export type Recipe = (typeof RECIPES)[number];

/** Training examples with their frozen outputs (cut activations only when fine-tuning is evaluated). */
export type EvalExample = Example & { frozen: FrozenOutput };

export interface RecipeContext {
  backbone: BackboneManifest;
  classes: string[];
  seed: number;
  /** For finetune. */
  split: BackboneSplit | null;
  /** For app and the TTA levers: each test example's augmented views (same order as the test examples). */
  testViews?: readonly (readonly Float32Array[])[];
  /** For app-avg: the embedding parts of each backbone of a pair. */
  partGroups?: readonly string[][];
}

export interface RecipeOutcome {
  predicted: string[];
  /** Recipe-specific facts for the log (epochs kept, pseudo-labels...). */
  detail: string;
}

/** What an `app` lever may change in trainAndGuard. */
type AppOptions = Pick<TrainAndGuardOptions, 'transform' | 'standardize' | 'testTimeAugmentation' | 'l2' | 'classifier'>;

/** The class with the largest score in `p`. */
function argMaxLabel(classes: readonly string[], p: ArrayLike<number>): string {
  return classes[argMax(p)] as string;
}

async function knn(train: readonly EvalExample[], test: readonly EvalExample[], ctx: RecipeContext): Promise<RecipeOutcome> {
  const classifier = fitKnn(train, ctx.backbone, { k: 3, classes: ctx.classes });
  return { predicted: test.map((e) => classifier.predict(e.embedding, 1)[0]?.label as string), detail: '' };
}

/** The Teachable Machine recipe (module comment). */
async function teachableMachine(train: readonly EvalExample[], test: readonly EvalExample[], ctx: RecipeContext): Promise<RecipeOutcome> {
  const random = mulberry32(ctx.seed ^ 0x7ea);
  const dim = ctx.backbone.embedding.size;
  const classIndex = new Map(ctx.classes.map((c, i) => [c, i]));
  const init = () => initializers.varianceScaling({ scale: 1, mode: 'fanIn', distribution: 'uniform', seed: randomSeed(random) });
  const model = sequential({
    layers: [
      layers.dense({ inputShape: [dim], units: 100, activation: 'relu', kernelInitializer: init(), useBias: true }),
      layers.dense({ units: ctx.classes.length, activation: 'softmax', kernelInitializer: init(), useBias: false }),
    ],
  });
  const optimizer = tf.train.adam(0.001);
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  try {
    const rows = (set: readonly EvalExample[], order: readonly number[]): tf.Tensor2D => {
      const x = new Float32Array(order.length * dim);
      order.forEach((r, i) => x.set((set[r] as EvalExample).embedding, i * dim));
      return tf.tensor2d(x, [order.length, dim]);
    };
    for (let epoch = 0; epoch < 50; epoch++) {
      const order = shuffle(
        train.map((_, i) => i),
        random,
      );
      for (let start = 0; start < order.length; start += 16) {
        const batch = order.slice(start, start + 16);
        const x = rows(train, batch);
        const y = tf.tidy(() => tf.oneHot(tf.tensor1d(batch.map((r) => classIndex.get((train[r] as EvalExample).label) as number), 'int32'), ctx.classes.length));
        try {
          await model.trainOnBatch(x, y);
        } finally {
          tf.dispose([x, y]);
        }
      }
    }
    const x = rows(
      test,
      test.map((_, i) => i),
    );
    const p = tf.tidy(() => model.predict(x) as tf.Tensor);
    try {
      const data = await p.data();
      const c = ctx.classes.length;
      return { predicted: test.map((_, i) => argMaxLabel(ctx.classes, data.subarray(i * c, (i + 1) * c))), detail: '' };
    } finally {
      tf.dispose([x, p]);
    }
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

async function head(train: readonly EvalExample[], test: readonly EvalExample[], ctx: RecipeContext, variant: 'default' | 'all' | 'refit' = 'default'): Promise<RecipeOutcome> {
  const result = await trainHead(train, {
    backbone: ctx.backbone,
    classes: ctx.classes,
    seed: ctx.seed,
    ...(variant === 'all' ? { minPhotosForHoldout: Infinity } : {}),
    ...(variant === 'refit' ? { refitAll: true } : {}),
  });
  const p = await predictProbabilities(result.doc, ctx.backbone, test.map((e) => e.embedding));
  return { predicted: p.map((row) => argMaxLabel(result.doc.classes, row)), detail: `${result.split.method}, epoch ${result.bestEpoch}` };
}

async function selftrain(train: readonly EvalExample[], test: readonly EvalExample[], unlabeled: readonly EvalExample[], ctx: RecipeContext, refitAll = false): Promise<RecipeOutcome & { result: SelfTrainResult }> {
  const result = await selfTrain(
    train,
    unlabeled.map((e) => ({ photoId: e.photoId, embedding: e.embedding, augmented: false })),
    { backbone: ctx.backbone, classes: ctx.classes, seed: ctx.seed, ...(refitAll ? { refitAll } : {}) },
  );
  const p = await predictProbabilities(result.doc, ctx.backbone, test.map((e) => e.embedding));
  const rounds = result.rounds.map((r) => `${r.pseudoLabeled}${r.heldOutAccuracy === null ? '' : `@${(100 * r.heldOutAccuracy).toFixed(0)}%`}`).join(' ');
  return { predicted: p.map((row) => argMaxLabel(result.doc.classes, row)), detail: `${result.validation}, round ${result.bestRound} [${rounds}]`, result };
}

async function finetune(
  train: readonly EvalExample[],
  test: readonly EvalExample[],
  ctx: RecipeContext,
  variant: { refitAll?: boolean; unlabeled?: readonly EvalExample[] } = {},
): Promise<RecipeOutcome & { result: FineTuneResult }> {
  const split = ctx.split;
  if (!split) throw new Error('finetune needs the backbone split');
  const examples: FineTuneExample[] = train.map((e) => ({ photoId: e.photoId, label: e.label, embedding: e.embedding, augmented: e.augmented, cut: e.frozen.cut }));
  let pseudo = '';
  if (variant.unlabeled) {
    // Self-training's pseudo-labels (the chosen round's) join the labeled shots for fine-tuning.
    const self = await selftrain(train, [], variant.unlabeled, ctx, true);
    const byId = new Map(variant.unlabeled.map((e) => [e.photoId, e]));
    for (const p of self.result.pseudoLabels) {
      const e = byId.get(p.photoId) as EvalExample;
      examples.push({ photoId: e.photoId, label: p.label, embedding: e.embedding, augmented: false, cut: e.frozen.cut });
    }
    pseudo = `, ${self.result.pseudoLabels.length} pseudo-labels (round ${self.result.bestRound})`;
  }
  const result = await fineTune(split, examples, {
    backbone: ctx.backbone,
    classes: ctx.classes,
    seed: ctx.seed,
    validation: 'none',
    ...(variant.refitAll ? { head: { refitAll: true } } : {}),
  });
  const model = await loadPredictor(result.doc, split);
  try {
    const p = await model.probabilities(test.map((e) => e.frozen));
    const curve = result.history.map((h) => (h.loss === null ? '-' : h.loss.toFixed(2))).join(' ');
    return {
      predicted: p.map((row) => argMaxLabel(result.doc.classes, row)),
      detail: `${result.bestEpoch} epochs, loss ${curve}, ${(result.documentBytes / 1e6).toFixed(1)} MB${pseudo}`,
      result,
    };
  } finally {
    model.dispose();
  }
}

/**
 * Head (refit on all shots) and kNN together: the mean of the head's probabilities and kNN's vote
 * shares (k = 3 on the same transformed embedding).
 */
async function ensemble(train: readonly EvalExample[], test: readonly EvalExample[], ctx: RecipeContext): Promise<RecipeOutcome> {
  const result = await trainHead(train, { backbone: ctx.backbone, classes: ctx.classes, seed: ctx.seed, refitAll: true });
  const p = await predictProbabilities(result.doc, ctx.backbone, test.map((e) => e.embedding));
  const classifier = fitKnn(train, ctx.backbone, { k: 3, classes: ctx.classes });
  const index = new Map(result.doc.classes.map((c, i) => [c, i]));
  return {
    predicted: test.map((e, i) => {
      const row = Float32Array.from(p[i] as Float32Array, (x) => x / 2);
      for (const v of classifier.predict(e.embedding)) {
        const j = index.get(v.label) as number;
        row[j] = (row[j] as number) + v.score / 2;
      }
      return argMaxLabel(result.doc.classes, row);
    }),
    detail: '',
  };
}

/** The app's Train button on these examples (module comment): `trainAsApp`, then `predictAsApp`. */
async function app(
  train: readonly EvalExample[],
  test: readonly EvalExample[],
  ctx: RecipeContext,
  options: AppOptions = {},
): Promise<RecipeOutcome> {
  const result = await trainAsApp(train, ctx, options);
  return { predicted: await predictAsApp(result, train, test, ctx), detail: appDetail(result) };
}

/** The Train button's training (recipe `app`): trainAndGuard with the app's options and no seed (trainAndGuard's default, as the app). */
export function trainAsApp(train: readonly EvalExample[], ctx: Pick<RecipeContext, 'backbone' | 'classes'>, options: AppOptions = {}): Promise<TrainAndGuardResult> {
  return trainAndGuard(train, { backbone: ctx.backbone, classes: ctx.classes, ...options });
}

/**
 * What the app predicts after {@link trainAsApp}, the top label of each test photo: kNN when the
 * guard chose it; the head, with its TTA over the test photo's views (`ctx.testViews`) when it
 * records it (shared/learn/train-app.ts predictAsTrained).
 */
export async function predictAsApp(result: TrainAndGuardResult, train: readonly EvalExample[], test: readonly EvalExample[], ctx: Pick<RecipeContext, 'backbone' | 'testViews'>): Promise<string[]> {
  const ranked = await predictAsTrained(result, train, ctx.backbone, test.map((e) => e.embedding), ctx.testViews);
  return ranked.map((r) => r[0]?.label as string);
}

/** The log's line for one app training: split, epochs, the guard's choice and counts, TTA. */
export function appDetail({ training, guard, testTimeAugmentation: tta }: TrainAndGuardResult): string {
  const ttaDetail = tta ? `, tta ${tta.kept ? 'kept' : 'off'} (${tta.correct} vs ${tta.correctWithout}/${tta.n})` : '';
  return `${training.split.method}, epoch ${training.bestEpoch}, guard: ${guard.choice} (${guard.candidates.map((c) => `${c.name} ${c.correct}/${c.n}`).join(', ')})${ttaDetail}`;
}

/** Options of one `app` lever: how its features are mapped first, and what trainAndGuard is given. */
interface AppLever {
  /** Augmented views a shot trains on (default 3, as the app stores). */
  views?: number;
  /** With `tta`: the test photo's views averaged (default 3). */
  testViews?: number;
  /** One head per group of embedding parts (each backbone of a pair, else each part), probabilities averaged. */
  perGroup?: boolean;
  /** Maps raw embeddings (fitted on the training ones) before the app's own transform. */
  features?: (train: readonly Float32Array[]) => (e: Float32Array) => Float32Array;
  options?: AppOptions;
  /** Test-time augmentation: average over each test photo and its views (`ctx.testViews`). */
  tta?: boolean;
  /** `app` exactly (its guard judges TTA over the test views), only `options` changed. */
  asApp?: boolean;
}

/** Signed square root of every float (power normalisation, alpha 0.5): damps a few large activations. */
const powerNormalise = (): ((e: Float32Array) => Float32Array) => (e) => Float32Array.from(e, (x) => Math.sign(x) * Math.sqrt(Math.abs(x)));

/**
 * Per-dimension standardisation on the training embeddings: (x - mean) / (std + eps), eps a tenth
 * of the mean std (dimensions that never fire, 61% of flatten_1's, stay near 0 instead of exploding).
 */
function standardise(train: readonly Float32Array[]): (e: Float32Array) => Float32Array {
  const dim = (train[0] as Float32Array).length;
  const mean = new Float64Array(dim);
  const sq = new Float64Array(dim);
  for (const e of train) for (let i = 0; i < dim; i++) mean[i] = (mean[i] as number) + (e[i] as number);
  for (let i = 0; i < dim; i++) mean[i] = (mean[i] as number) / train.length;
  for (const e of train) for (let i = 0; i < dim; i++) sq[i] = (sq[i] as number) + ((e[i] as number) - (mean[i] as number)) ** 2;
  const std = Float64Array.from(sq, (v) => Math.sqrt(v / train.length));
  const eps = 0.1 * (std.reduce((a, b) => a + b, 0) / dim) + 1e-12;
  return (e) => Float32Array.from(e, (x, i) => (x - (mean[i] as number)) / ((std[i] as number) + eps));
}

/** The levers of this file; the others run in files of their own (recipes-classifier.ts, recipes-selftrain.ts). */
type OptionLever = Exclude<(typeof APP_LEVERS)[number], 'app-avg' | 'app-self' | ClassifierLever>;
const runsElsewhere = (recipe: Recipe): recipe is ClassifierLever | 'app-self' => recipe === 'app-self' || (CLASSIFIER_LEVERS as readonly string[]).includes(recipe);

const APP_LEVER_OPTIONS: Record<OptionLever, AppLever> = {
  'app-l2': {},
  'app-tta': { tta: true },
  'app-pow': { features: powerNormalise },
  'app-std': { features: standardise },
  'app-powstd': {
    features: (train) => {
      const pow = powerNormalise();
      const std = standardise(train.map(pow));
      return (e) => std(pow(e));
    },
  },
  'app-pow-tta': { features: powerNormalise, tta: true },
  'app-std-tta': { features: standardise, tta: true },
  // Standardised and then no per-part L2 (scale 1): a linear map a plain head's kernel can absorb.
  'app-stdlin': { features: standardise, options: { transform: { normalize: 'none', scale: 1, subtractMean: false } } },
  'app-stdlin-tta': { features: standardise, options: { transform: { normalize: 'none', scale: 1, subtractMean: false } }, tta: true },
  'app-scale5': { options: { transform: { scale: 5 } } },
  'app-scale20': { options: { transform: { scale: 20 } } },
  'app-t3': { tta: true },
  'app-t7': { tta: true, testViews: 7 },
  'app-v7': { views: 7 },
  'app-v7-t7': { views: 7, tta: true, testViews: 7 },
  'app-parts': { perGroup: true },
  'app-parts-t3': { perGroup: true, tta: true },
  // The app with its guard's TTA, the head's L2 penalty 0.01, 0.03, 0.1 instead of 0.001.
  'app-wd01': { options: { l2: 0.01 }, tta: true, asApp: true },
  'app-wd03': { options: { l2: 0.03 }, tta: true, asApp: true },
  'app-wd1': { options: { l2: 0.1 }, tta: true, asApp: true },
  // The app with the softmax head it had before LDA (trainAndGuard's `classifier: 'softmax'`), its guard and TTA as they are.
  'app-softmax': { options: { classifier: 'softmax' }, tta: true, asApp: true },
};

/**
 * Augmented views per photo a recipe trains on (the app stores 3) and averages over at test time
 * (0: none), and whether its training examples come in the app's order (each photo, then its views).
 */
export function recipeViews(recipe: Recipe): { train: number; test: number; appOrder: boolean } {
  const lever = recipe !== 'app-avg' && !runsElsewhere(recipe) && (APP_LEVERS as readonly string[]).includes(recipe) ? APP_LEVER_OPTIONS[recipe as OptionLever] : undefined;
  const ownViews = recipe === 'app-self' ? 3 : runsElsewhere(recipe) ? classifierLeverViews(recipe) : undefined;
  return {
    train: AUGMENTED_RECIPES.includes(recipe) ? (ownViews ?? lever?.views ?? 3) : 0,
    // `app`: the views its guard may keep test-time augmentation over (the 3 Train stores); the
    // levers of recipes-classifier.ts and recipes-selftrain.ts average over their own.
    test: recipe === 'app' ? 3 : (ownViews ?? (lever?.tta ? (lever.testViews ?? 3) : 0)),
    appOrder: recipe === 'app' || runsElsewhere(recipe) || ON_APP_LEVERS.includes(recipe) || lever?.asApp === true,
  };
}

/** Per test photo, the mean of rows `i * per .. (i + 1) * per - 1` of `rows` (its probabilities over its views). */
function meanPerPhoto(rows: readonly ArrayLike<number>[], per: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let at = 0; at < rows.length; at += per) {
    const sum = new Float32Array((rows[at] as ArrayLike<number>).length);
    for (let r = at; r < at + per; r++) {
      const row = rows[r] as ArrayLike<number>;
      for (let j = 0; j < sum.length; j++) sum[j] = (sum[j] as number) + (row[j] as number) / per;
    }
    out.push(sum);
  }
  return out;
}

/**
 * `app`, then the app's prediction (head probabilities, or kNN vote shares when the guard chose
 * kNN) averaged over each test photo and its augmented views (`ctx.testViews`).
 */
async function appTta(
  train: readonly EvalExample[],
  test: readonly EvalExample[],
  ctx: RecipeContext,
  options: AppOptions = {},
): Promise<RecipeOutcome> {
  const views = ctx.testViews;
  if (!views || views.length !== test.length) throw new Error('app-tta needs the test photos\' augmented views');
  const per = 1 + (views[0]?.length ?? 0);
  const inputs = test.flatMap((e, i) => [e.embedding, ...(views[i] as readonly Float32Array[])]);
  const { training, guard, outcome } = await trainAndGuard(train, { backbone: ctx.backbone, classes: ctx.classes, ...options });
  const classes = training.doc.classes;
  let rows: ArrayLike<number>[];
  if (outcome === 'knn') {
    const classifier = fitKnn(train, ctx.backbone, { k: 3, classes });
    const index = new Map(classes.map((c, i) => [c, i]));
    rows = inputs.map((e) => {
      const row = new Float32Array(classes.length);
      for (const v of classifier.predict(e)) row[index.get(v.label) as number] = v.score;
      return row;
    });
  } else {
    rows = await predictProbabilities(training.doc, ctx.backbone, inputs);
  }
  return { predicted: meanPerPhoto(rows, per).map((row) => argMaxLabel(classes, row)), detail: `${per - 1} views a photo, guard: ${guard.choice}` };
}

/**
 * `app` on mapped features (`lever.features`, test photos and their views mapped alike), with other
 * trainAndGuard options (`lever.options`), or with test-time augmentation (`lever.tta`).
 */
async function appLever(recipe: Recipe, train: readonly EvalExample[], test: readonly EvalExample[], ctx: RecipeContext, lever: AppLever): Promise<RecipeOutcome> {
  if (lever.asApp) return app(train, test, ctx, lever.options);
  const map = lever.features?.(train.map((e) => e.embedding));
  const mapped = (set: readonly EvalExample[]): EvalExample[] => (map ? set.map((e) => ({ ...e, embedding: map(e.embedding) })) : set.slice());
  // Every lever changes the app as it was before trainHead's standardisation (`app-l2`), except
  // those on the app as it is (report.ts pairs them with `app`).
  // Levers measure the head's prediction without the guard's test-time augmentation (the TTA levers add their own).
  const options: AppOptions = { testTimeAugmentation: false, ...(ON_APP_LEVERS.includes(recipe) ? {} : { standardize: false }), ...lever.options };
  // The test photos' views, mapped as the photos are, for a TTA lever.
  const testViews = lever.tta ? (map ? ctx.testViews?.map((views) => views.map(map)) : ctx.testViews) : undefined;
  if (lever.tta && testViews?.length !== test.length) throw new Error('a TTA lever needs the test photos\' augmented views');
  if (lever.perGroup) return appPerGroup(mapped(train), mapped(test), ctx, options, testViews);
  if (testViews) return appTta(mapped(train), mapped(test), { ...ctx, testViews }, options);
  return app(mapped(train), mapped(test), ctx, options);
}

/**
 * Two backbones (`--backbones a+b`), one app head on each backbone's parts, their probabilities
 * averaged (the guard's kNN choice is not followed: both heads always predict).
 */
async function appAverage(train: readonly EvalExample[], test: readonly EvalExample[], ctx: RecipeContext): Promise<RecipeOutcome> {
  if (!ctx.partGroups || ctx.partGroups.length < 2) throw new Error('app-avg runs on a pair of backbones (--backbones a+b)');
  // The app as it was before trainHead's standardisation (`app-l2`), as the other early levers.
  return appPerGroup(train, test, ctx, { standardize: false, testTimeAugmentation: false });
}

/**
 * One app head per group of embedding parts (`ctx.partGroups` on a pair, else each part alone),
 * their probabilities averaged over the groups and, with `testViews`, over each test photo and its
 * views. The guard's kNN choice is not followed: every head predicts.
 */
async function appPerGroup(
  train: readonly EvalExample[],
  test: readonly EvalExample[],
  ctx: RecipeContext,
  options: AppOptions,
  testViews?: readonly (readonly Float32Array[])[],
): Promise<RecipeOutcome> {
  const groups = ctx.partGroups ?? ctx.backbone.embedding.parts.map((p) => [p.name]);
  const per = 1 + (testViews?.[0]?.length ?? 0);
  const inputs = test.flatMap((e, i) => [e.embedding, ...(testViews?.[i] ?? [])]);
  let sum: Float32Array[] | null = null;
  const details: string[] = [];
  for (const parts of groups) {
    const { training, guard } = await trainAndGuard(train, { backbone: ctx.backbone, classes: ctx.classes, ...options, transform: { ...options.transform, parts } });
    details.push(`${parts.join('+')}: guard ${guard.choice}`);
    const p = await predictProbabilities(training.doc, ctx.backbone, inputs);
    sum = sum ? sum.map((row, i) => row.map((x, j) => x + ((p[i] as Float32Array)[j] as number))) : p;
  }
  return { predicted: meanPerPhoto(sum as Float32Array[], per).map((row) => argMaxLabel(ctx.classes, row)), detail: details.join('; ') };
}

/** Runs one recipe. */
export function runRecipe(
  recipe: Recipe,
  train: readonly EvalExample[],
  test: readonly EvalExample[],
  unlabeled: readonly EvalExample[],
  ctx: RecipeContext,
): Promise<RecipeOutcome> {
  switch (recipe) {
    case 'app':
      return app(train, test, ctx);
    case 'knn':
      return knn(train, test, ctx);
    case 'tm':
      return teachableMachine(train, test, ctx);
    case 'head':
      return head(train, test, ctx, 'refit');
    case 'selftrain':
      return selftrain(train, test, unlabeled, ctx, true);
    case 'finetune':
      return finetune(train, test, ctx);
    case 'head-holdout':
      return head(train, test, ctx, 'default');
    case 'head-all':
      return head(train, test, ctx, 'all');
    case 'ensemble':
      return ensemble(train, test, ctx);
    case 'head-aug':
      return head(train, test, ctx, 'refit');
    case 'finetune-aug':
      return finetune(train, test, ctx);
    case 'finetune-pseudo':
      return finetune(train, test, ctx, { unlabeled });
    case 'app-avg':
      return appAverage(train, test, ctx);
    case 'app-ncm':
    case 'app-ncm-mix':
    case 'app-lda':
    case 'app-lda-mix':
    case 'app-lda-v7':
      return runClassifierLever(recipe, train, test, ctx);
    case 'app-self':
      return appSelfTrain(train, test, unlabeled, ctx);
    default:
      // Every other lever (the type checker holds this to APP_LEVER_OPTIONS' keys).
      return appLever(recipe, train, test, ctx, APP_LEVER_OPTIONS[recipe]);
  }
}
