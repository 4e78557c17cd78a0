/**
 * The recipes the evaluation compares. Each trains on k-shot examples (and, for self-training,
 * unlabeled ones) and returns predicted labels for the test examples. All read the product's
 * embedding: the 2,816 floats of gmp(block_13_expand_relu) + gmp(block_16_expand_relu) +
 * flatten_1 that `Backbone.embed` returns.
 *
 * - knn: shared/knn.ts as the guard uses it: cosine, k=3, majority vote, on the embedding after
 *   the default input transform (training mean removed, each part L2-normalised). tfjs-models'
 *   knn-classifier is the same algorithm on whatever activation it is given.
 * - tm: the Teachable Machine recipe on the raw embedding (no normalisation, as Teachable Machine
 *   feeds MobileNet's activations as they are): dense 100 relu + softmax (no bias, as TM builds
 *   it), variance-scaling init, Adam 1e-3, categorical cross-entropy, 50 epochs, batch 16, final
 *   weights. Trained on all shots (TM holds out 15% for its chart; at 1-5 shots that would cost
 *   whole examples, so this is the kinder variant).
 * - head: `trainHead` with its defaults (softmax on the transformed embedding, class-balanced,
 *   held-out early stopping).
 * - head-all: `trainHead` forced into cross-validation (`minPhotosForHoldout: Infinity`), so the
 *   final head trains on every shot; measures what trainHead's holdout (20% of the shots left out
 *   of the returned head) costs at few shots. Not in the default set.
 * - selftrain: `selfTrain` with its defaults on the shots plus the unlabeled pool.
 * - finetune: `fineTune` with its defaults (top block + head, warm start, fixed schedule) and
 *   `validation: 'none'`: the model `fineTune` returns by default is this same run (its refit on
 *   all photos); skipping the held-out measurement only halves the cost.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initializers, layers, sequential } from '@tensorflow/tfjs-layers';
import type { Example } from '../../shared/examples.ts';
import { fineTune, loadPersonalModel, type BackboneSplit, type FineTuneExample, type FineTuneResult, type FrozenOutput } from '../../shared/fine-tune.ts';
import { fitKnn } from '../../shared/knn.ts';
import type { BackboneManifest } from '../../shared/manifest.ts';
import { mulberry32, randomSeed, shuffle } from '../../shared/random.ts';
import { predictProbabilities, selfTrain, type SelfTrainResult } from '../../shared/self-train.ts';
import { trainHead } from '../../shared/train-head.ts';

export const RECIPES = ['knn', 'tm', 'head', 'selftrain', 'finetune', 'head-all'] as const;
/** What `npm run eval` runs without --recipes. */
export const DEFAULT_RECIPES: readonly Recipe[] = ['knn', 'tm', 'head', 'selftrain', 'finetune'];
export type Recipe = (typeof RECIPES)[number];

/** Training examples with their frozen outputs (cut activations only when fine-tuning is evaluated). */
export type EvalExample = Example & { frozen: FrozenOutput };

export interface RecipeContext {
  backbone: BackboneManifest;
  classes: string[];
  seed: number;
  /** For finetune. */
  split: BackboneSplit | null;
}

export interface RecipeOutcome {
  predicted: string[];
  /** Recipe-specific facts for the log (epochs kept, pseudo-labels...). */
  detail: string;
}

function argMaxLabel(classes: readonly string[], p: ArrayLike<number>): string {
  let best = 0;
  for (let i = 1; i < p.length; i++) if ((p[i] as number) > (p[best] as number)) best = i;
  return classes[best] as string;
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

async function head(train: readonly EvalExample[], test: readonly EvalExample[], ctx: RecipeContext, allPhotos = false): Promise<RecipeOutcome> {
  const result = await trainHead(train, { backbone: ctx.backbone, classes: ctx.classes, seed: ctx.seed, ...(allPhotos ? { minPhotosForHoldout: Infinity } : {}) });
  const p = await predictProbabilities(result.doc, ctx.backbone, test.map((e) => e.embedding));
  return { predicted: p.map((row) => argMaxLabel(result.doc.classes, row)), detail: `${result.split.method}, epoch ${result.bestEpoch}` };
}

async function selftrain(train: readonly EvalExample[], test: readonly EvalExample[], unlabeled: readonly EvalExample[], ctx: RecipeContext): Promise<RecipeOutcome & { result: SelfTrainResult }> {
  const result = await selfTrain(
    train,
    unlabeled.map((e) => ({ photoId: e.photoId, embedding: e.embedding, augmented: false })),
    { backbone: ctx.backbone, classes: ctx.classes, seed: ctx.seed },
  );
  const p = await predictProbabilities(result.doc, ctx.backbone, test.map((e) => e.embedding));
  const rounds = result.rounds.map((r) => `${r.pseudoLabeled}${r.heldOutAccuracy === null ? '' : `@${(100 * r.heldOutAccuracy).toFixed(0)}%`}`).join(' ');
  return { predicted: p.map((row) => argMaxLabel(result.doc.classes, row)), detail: `${result.validation}, round ${result.bestRound} [${rounds}]`, result };
}

async function finetune(train: readonly EvalExample[], test: readonly EvalExample[], ctx: RecipeContext): Promise<RecipeOutcome & { result: FineTuneResult }> {
  const split = ctx.split;
  if (!split) throw new Error('finetune needs the backbone split');
  const examples: FineTuneExample[] = train.map((e) => ({ photoId: e.photoId, label: e.label, embedding: e.embedding, augmented: false, cut: e.frozen.cut }));
  const result = await fineTune(split, examples, { backbone: ctx.backbone, classes: ctx.classes, seed: ctx.seed, validation: 'none' });
  const model = await loadPersonalModel(result.doc, split);
  try {
    const p = await model.probabilities(test.map((e) => e.frozen));
    const curve = result.history.map((h) => (h.loss === null ? '-' : h.loss.toFixed(2))).join(' ');
    return {
      predicted: p.map((row) => argMaxLabel(result.doc.classes, row)),
      detail: `${result.bestEpoch} epochs, loss ${curve}, ${(result.documentBytes / 1e6).toFixed(1)} MB`,
      result,
    };
  } finally {
    model.dispose();
  }
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
    case 'knn':
      return knn(train, test, ctx);
    case 'tm':
      return teachableMachine(train, test, ctx);
    case 'head':
      return head(train, test, ctx);
    case 'selftrain':
      return selftrain(train, test, unlabeled, ctx);
    case 'finetune':
      return finetune(train, test, ctx);
    case 'head-all':
      return head(train, test, ctx, true);
  }
}
