/**
 * Self-training on the Train button's head (issue 15 pt 1, recipe `app-self`, keyed
 * `eval.<dataset>.app-self.k10` and paired with `app`). It reads UNLABELED photos besides the
 * shots: Fashion-MNIST's 500 unlabeled train images of the seed; on emoji every emoji of the ten
 * subcategories neither in the seed's test set nor among its shots (scripts/eval/datasets.ts).
 *
 * shared/learn/self-train.ts `selfTrain` with the app's head options (standardised inputs, the head
 * refitted on every photo): the shots with their 3 augmented views, pseudo-labels on the unlabeled
 * photos (top probability >= 0.8), the number of rounds (0-3) chosen on labelled held-out shots;
 * then, as the app's guard keeps it on these data, the prediction averaged over the test photo and
 * its 3 views. No kNN choice: the self-trained head always predicts.
 */
import type { EvalExample, RecipeContext, RecipeOutcome } from './recipes.ts';
import { predictProbabilities, selfTrain } from '../../shared/learn/self-train.ts';
import { argMax } from '../../shared/predict/predictor.ts';
import { meanProbabilities } from '../../shared/head/tta.ts';

/** `app-self` (module comment). */
export async function appSelfTrain(train: readonly EvalExample[], test: readonly EvalExample[], unlabeled: readonly EvalExample[], ctx: RecipeContext): Promise<RecipeOutcome> {
  const views = ctx.testViews;
  if (!views || views.length !== test.length) throw new Error('app-self needs the test photos\' augmented views');
  const result = await selfTrain(
    train,
    unlabeled.map((e) => ({ photoId: e.photoId, embedding: e.embedding, augmented: false })),
    { backbone: ctx.backbone, classes: ctx.classes, standardize: true, refitAll: true },
  );
  const perPhoto = test.map((e, i) => [e.embedding, ...(views[i] as readonly Float32Array[])]);
  const rows = await predictProbabilities(result.doc, ctx.backbone, perPhoto.flat());
  let at = 0;
  const predicted = perPhoto.map((inputs) => ctx.classes[argMax(meanProbabilities(rows.slice(at, (at += inputs.length))))] as string);
  const rounds = result.rounds.map((r) => `${r.pseudoLabeled}${r.heldOutAccuracy === null ? '' : `@${(100 * r.heldOutAccuracy).toFixed(0)}%`}`).join(' ');
  return { predicted, detail: `${unlabeled.length} unlabeled, round ${result.bestRound} [${rounds}], ${result.pseudoLabels.length} pseudo-labels` };
}
