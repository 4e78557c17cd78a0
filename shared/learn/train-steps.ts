/**
 * trainHead's epoch loop (shared/learn/train-head.ts): its trainers (one per fold, or the final
 * one) step one epoch at a time together and are judged on their pooled validation accuracy.
 */
import type { EpochProgress } from './train-head.ts';
import { throwIfAborted, type Judgement } from './kit.ts';
import type { Yielder } from '../util/yield.ts';

/** What the loop needs of one of trainHead's trainers. */
export interface SteppedTrainer {
  readonly trainCount: number;
  /** One epoch (one L-BFGS iteration, or one Adam pass) and how the model did on its training data. */
  epoch(signal: AbortSignal | undefined): Promise<{ loss: number; correct: number; converged?: boolean }>;
  /** Cross-entropy and predictions on the trainer's validation data (null without any). */
  validate(): Promise<Judgement | null>;
  keepWeights(): void;
  restoreWeights(): void;
}

/**
 * Validation accuracy from epochs before this is ignored: with a handful of held-out photos an
 * under-trained model can score high by chance, and stopping there cost up to 6 points of test
 * accuracy in measurements.
 */
const MIN_EPOCHS = 10;

/**
 * Trains several fold models one epoch at a time each and judges them together on their pooled
 * validation accuracy. The best epoch is the LAST one with the highest accuracy: more training of
 * a regularised softmax on fixed features rarely hurts, while a tiny validation set makes early
 * peaks noisy. (Validation loss is reported but not used: as a criterion it stopped too early and
 * lost ~2 points.) Stops once accuracy has stayed below the best for `patience` epochs; restores
 * the best weights when asked.
 */
export async function trainInStep(
  trainers: readonly SteppedTrainer[],
  run: {
    epochs: number;
    patience: number;
    phase: EpochProgress['phase'];
    keepBestWeights: boolean;
    report: (event: EpochProgress) => void;
    signal: AbortSignal | undefined;
    clock: Yielder;
  },
): Promise<{ epoch: number; predictions: Int32Array[] }> {
  let best = { epoch: run.epochs, correct: -1, predictions: [] as Int32Array[] };
  let stale = 0;
  for (let epoch = 1; epoch <= run.epochs; epoch++) {
    const results = [];
    for (const t of trainers) results.push({ train: await t.epoch(run.signal), validation: await t.validate() });
    const converged = results.every((r) => r.train.converged === true);
    throwIfAborted(run.signal);

    const trainCount = trainers.reduce((a, t) => a + t.trainCount, 0);
    const validations = results.map((r) => r.validation).filter((v): v is Judgement => v !== null);
    const valCount = validations.reduce((a, v) => a + v.predictions.length, 0);
    const valCorrect = validations.reduce((a, v) => a + v.correct, 0);
    run.report({
      phase: run.phase,
      epoch,
      epochs: run.epochs,
      loss: results.reduce((a, r) => a + r.train.loss, 0) / results.length,
      accuracy: results.reduce((a, r) => a + r.train.correct, 0) / trainCount,
      valAccuracy: valCount ? valCorrect / valCount : null,
      valLoss: valCount ? validations.reduce((a, v) => a + v.loss * v.predictions.length, 0) / valCount : null,
    });

    if (results.every((r) => r.train.converged !== undefined)) {
      // L-BFGS on a convex objective: no early stopping, the last iterate is the answer (run
      // long, Adam matched it on the eval; early stopping on a few held-out photos cost points).
      best = { epoch, correct: valCorrect, predictions: validations.map((v) => v.predictions) };
      if (run.keepBestWeights) for (const t of trainers) t.keepWeights();
      if (converged) break;
      await run.clock.maybeYield();
      throwIfAborted(run.signal);
      continue;
    }
    if (valCount && epoch >= Math.min(MIN_EPOCHS, run.epochs)) {
      if (valCorrect >= best.correct) {
        best = { epoch, correct: valCorrect, predictions: validations.map((v) => v.predictions) };
        if (run.keepBestWeights) for (const t of trainers) t.keepWeights();
        stale = 0;
      } else if (++stale >= run.patience) break;
    }
    await run.clock.maybeYield();
    throwIfAborted(run.signal);
  }
  if (run.keepBestWeights) for (const t of trainers) t.restoreWeights();
  return { epoch: best.epoch, predictions: best.predictions };
}
