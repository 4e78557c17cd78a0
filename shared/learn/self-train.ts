/**
 * Self-training: learning from unlabeled photos. A head trained on the labeled photos labels the
 * unlabeled ones; those it is confident about join the training set with that label
 * ("pseudo-labels"), a new head is trained, and the round repeats while it helps.
 *
 * Whether it helps is judged on LABELED held-out photos only: pseudo-labels are the model's own
 * opinion, so a held-out set containing them would reward the model for agreeing with itself. The
 * held-out photos never train any head they judge, nor the heads that made its pseudo-labels.
 *
 * - Every class has at least `minPhotosForHoldout` labeled photos (default 5): one stratified
 *   held-out split, one chain of rounds on the other photos, judged on the held-out ones.
 * - Every class has at least 2: cross-validation folds, each fold running its own chain of rounds
 *   (its pseudo-labels come from its own heads), judged on the pooled folds.
 *   Either way the held-out photos only choose the number of rounds: the returned head comes from
 *   a final chain on ALL labeled photos run for that many rounds (few-shot data is too scarce to
 *   leave a photo out of the final head), and its metrics are the held-out ones.
 * - Some class has a single photo (one-shot): nothing can be held out. `rounds` rounds run without
 *   a stopping signal, `heldOutAccuracy` is null in every round's stats, and the returned metrics
 *   are the last head's own (cross-validated, and meaningless at one photo a class: say so).
 *
 * Pure JS around `trainHead`; tensors live only inside it and {@link predictProbabilities}.
 */
import { classCounts, classList, type Example } from './examples.ts';
import type { HeadDocument, HeadMetrics } from '../head/document.ts';
import { argMax, loadPredictor } from '../predict/predictor.ts';
import type { BackboneManifest } from '../model/manifest.ts';
import { computeMetrics } from './metrics.ts';
import { splitByPhoto, type Fold } from './split.ts';
import { trainHead, type TrainOptions } from './train-head.ts';

/** A view of an unlabeled photo: an example without a label. */
export type UnlabeledExample = Omit<Example, 'label'>;

export interface SelfTrainOptions extends TrainOptions {
  /** Smallest top score (softmax probability, averaged over a photo's views) for a pseudo-label. Default 0.8. */
  threshold?: number;
  /** Most pseudo-labelling rounds. Default 3. */
  rounds?: number;
  /**
   * Most pseudo-labels per class in one round, the most confident first. Default: no cap. A cap
   * keeps a class the head over-predicts from flooding the training set.
   */
  maxPerClass?: number;
  /** Called after each round (round 0 = labeled photos only). */
  onRound?: (stats: RoundStats) => void;
}

export interface RoundStats {
  /** 0: the head trained on labeled photos only; r: after r pseudo-labelling rounds. */
  round: number;
  /** Unlabeled photos given a pseudo-label in this round (0 in round 0), pooled over folds. */
  pseudoLabeled: number;
  /** Pseudo-labels per class in this round (pooled over folds). */
  perClass: Record<string, number>;
  /** Accuracy on the labeled held-out photos (pooled over folds); null without held-out photos. */
  heldOutAccuracy: number | null;
  /** Held-out photos behind `heldOutAccuracy`. */
  heldOutN: number;
}

export interface PseudoLabel {
  photoId: string;
  label: string;
  /** The top score that passed the threshold. */
  score: number;
}

export interface SelfTrainResult {
  /** The chosen head (its document's metrics are `metrics`). */
  doc: HeadDocument;
  /** Held-out metrics of the chosen round on labeled photos, or the head's own metrics (one-shot). */
  metrics: HeadMetrics;
  /** How the held-out photos were chosen; `none` when some class has a single labeled photo. */
  validation: 'holdout' | 'cross-validation' | 'none';
  /** Per round, in order; the run stops after the first round that does not improve. */
  rounds: RoundStats[];
  /** The round whose head was returned (0 = no pseudo-labels helped). */
  bestRound: number;
  /** The pseudo-labels the returned head trained with. */
  pseudoLabels: PseudoLabel[];
}

/**
 * Class probabilities of a head for many embeddings at once (one tensor batch rather than one
 * `predict` per embedding): row i is `embeddings[i]`'s scores in `doc.classes` order.
 */
export async function predictProbabilities(
  doc: HeadDocument,
  backbone: BackboneManifest,
  embeddings: readonly Float32Array[],
): Promise<Float32Array[]> {
  if (embeddings.length === 0) return [];
  const predictor = await loadPredictor(doc, { manifest: backbone });
  try {
    return await predictor.probabilities(embeddings.map((embedding) => ({ embedding })));
  } finally {
    predictor.dispose();
  }
}

/** The photos' views grouped by photo id, in first-seen order. */
function byPhoto(examples: readonly UnlabeledExample[]): Map<string, UnlabeledExample[]> {
  const groups = new Map<string, UnlabeledExample[]>();
  for (const e of examples) {
    const group = groups.get(e.photoId);
    if (group) group.push(e);
    else groups.set(e.photoId, [e]);
  }
  return groups;
}

/**
 * Pseudo-labels: each unlabeled photo's scores averaged over its views; a photo whose top score
 * reaches `threshold` gets that class; per class at most `maxPerClass`, most confident first.
 */
async function pseudoLabel(
  doc: HeadDocument,
  backbone: BackboneManifest,
  photos: Map<string, UnlabeledExample[]>,
  threshold: number,
  maxPerClass: number,
): Promise<PseudoLabel[]> {
  const ids = [...photos.keys()];
  const views = ids.flatMap((id) => photos.get(id) as UnlabeledExample[]);
  const probabilities = await predictProbabilities(doc, backbone, views.map((v) => v.embedding));
  const c = doc.classes.length;
  const candidates: PseudoLabel[] = [];
  let at = 0;
  for (const id of ids) {
    const count = (photos.get(id) as UnlabeledExample[]).length;
    const mean = new Float64Array(c);
    for (let v = 0; v < count; v++, at++) {
      const p = probabilities[at] as Float32Array;
      for (let j = 0; j < c; j++) mean[j] = (mean[j] as number) + (p[j] as number) / count;
    }
    const top = argMax(mean);
    if ((mean[top] as number) >= threshold) candidates.push({ photoId: id, label: doc.classes[top] as string, score: mean[top] as number });
  }
  // Most confident first; photo id breaks ties so the result does not depend on input order.
  candidates.sort((a, b) => b.score - a.score || (a.photoId < b.photoId ? -1 : 1));
  const taken = new Map<string, number>();
  return candidates.filter((p) => {
    const n = taken.get(p.label) ?? 0;
    if (n >= maxPerClass) return false;
    taken.set(p.label, n + 1);
    return true;
  });
}

/** Examples for the pseudo-labelled photos: every view, with the photo's pseudo-label. */
function pseudoExamples(labels: readonly PseudoLabel[], photos: Map<string, UnlabeledExample[]>): Example[] {
  return labels.flatMap((p) => (photos.get(p.photoId) as UnlabeledExample[]).map((v) => ({ ...v, label: p.label })));
}

function perClassCounts(labels: readonly PseudoLabel[], classes: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(classes.map((c) => [c, 0]));
  for (const p of labels) counts[p.label] = (counts[p.label] ?? 0) + 1;
  return counts;
}

/** One chain of rounds on one training set; `step()` runs the next round. */
class Chain {
  doc: HeadDocument | null = null;
  metrics: HeadMetrics | null = null;
  labels: PseudoLabel[] = [];

  constructor(
    private readonly labeled: readonly Example[],
    private readonly unlabeled: Map<string, UnlabeledExample[]>,
    private readonly classes: string[],
    private readonly options: SelfTrainOptions,
    private readonly settings: { threshold: number; maxPerClass: number },
  ) {}

  /** Round 0 trains on the labeled photos; later rounds first pseudo-label with the last head. */
  async step(round: number): Promise<PseudoLabel[]> {
    let labels: PseudoLabel[] = [];
    if (round > 0) {
      labels = await pseudoLabel(this.doc as HeadDocument, this.options.backbone, this.unlabeled, this.settings.threshold, this.settings.maxPerClass);
    }
    const { threshold: _t, rounds: _r, maxPerClass: _m, onRound: _o, ...train } = this.options;
    const result = await trainHead([...this.labeled, ...pseudoExamples(labels, this.unlabeled)], { ...train, classes: this.classes });
    this.doc = result.doc;
    this.metrics = result.metrics;
    this.labels = labels;
    return labels;
  }
}

/**
 * Trains a head on `labeled`, then repeatedly pseudo-labels `unlabeled` with the current head and
 * retrains on both, keeping the round whose head is most accurate on labeled held-out photos (see
 * the module comment for how they are chosen). Stops after the first round that does not improve
 * that accuracy, or after `rounds` rounds. Ties keep the earlier round: fewer pseudo-labels, same
 * evidence. Unlabeled photo ids must differ from labeled ones. Trains with `trainHead` and the
 * given options (seed, epochs, transform...); `classes` defaults to the labeled photos' labels, sorted.
 */
export async function selfTrain(
  labeled: readonly Example[],
  unlabeled: readonly UnlabeledExample[],
  options: SelfTrainOptions,
): Promise<SelfTrainResult> {
  const threshold = options.threshold ?? 0.8;
  const maxRounds = options.rounds ?? 3;
  const maxPerClass = options.maxPerClass ?? Infinity;
  if (!(threshold > 0 && threshold <= 1)) throw new RangeError(`threshold must be in (0, 1], got ${threshold}`);
  if (!(Number.isInteger(maxRounds) && maxRounds >= 0)) throw new RangeError(`rounds must be a non-negative integer, got ${maxRounds}`);
  if (!(maxPerClass >= 1)) throw new RangeError(`maxPerClass must be at least 1, got ${maxPerClass}`);
  const labeledIds = new Set(labeled.map((e) => e.photoId));
  const clash = unlabeled.find((e) => labeledIds.has(e.photoId));
  if (clash) throw new RangeError(`unlabeled photo "${clash.photoId}" is also a labeled photo`);

  const classes = options.classes ?? classList(labeled);
  const photos = byPhoto(unlabeled);
  const settings = { threshold, maxPerClass };
  const fewest = Math.min(...classCounts(labeled).values());
  const minPhotosForHoldout = options.minPhotosForHoldout ?? 5;
  const seed = options.seed ?? 0;
  const rounds: RoundStats[] = [];
  const report = (round: number, labels: readonly PseudoLabel[], heldOutAccuracy: number | null, heldOutN: number): void => {
    const stats: RoundStats = { round, pseudoLabeled: labels.length, perClass: perClassCounts(labels, classes), heldOutAccuracy, heldOutN };
    rounds.push(stats);
    options.onRound?.(stats);
  };

  if (fewest < 2) {
    // One-shot: no held-out photo can be spared, so run every round and keep the last.
    const chain = new Chain(labeled, photos, classes, options, settings);
    for (let round = 0; round <= maxRounds; round++) {
      const labels = await chain.step(round);
      report(round, labels, null, 0);
      if (round > 0 && labels.length === 0) break;
    }
    return {
      doc: chain.doc as HeadDocument,
      metrics: chain.metrics as HeadMetrics,
      validation: 'none',
      rounds,
      bestRound: (rounds.at(-1) as RoundStats).round,
      pseudoLabels: chain.labels,
    };
  }

  // Outer split of the labeled photos; the chains' trainHead calls split their own training sets again.
  const split = splitByPhoto(labeled, {
    seed: seed ^ 0x5e1f,
    minPhotosForHoldout: Math.max(2, minPhotosForHoldout),
    ...(options.validationFraction === undefined ? {} : { validationFraction: options.validationFraction }),
  });
  const folds = split.folds.map((fold: Fold) => {
    const train = new Set(fold.train);
    const validation = labeled.filter((e) => !train.has(e.photoId) && !e.augmented);
    return {
      validation,
      chain: new Chain(
        labeled.filter((e) => train.has(e.photoId)),
        photos,
        classes,
        options,
        settings,
      ),
    };
  });

  let best = { round: 0, correct: -1, metrics: null as HeadMetrics | null };
  for (let round = 0; round <= maxRounds; round++) {
    const actual: string[] = [];
    const predicted: string[] = [];
    let labelsThisRound: PseudoLabel[] = [];
    for (const fold of folds) {
      labelsThisRound = labelsThisRound.concat(await fold.chain.step(round));
      const probabilities = await predictProbabilities(fold.chain.doc as HeadDocument, options.backbone, fold.validation.map((e) => e.embedding));
      fold.validation.forEach((e, i) => {
        actual.push(e.label);
        predicted.push(classes[argMax(probabilities[i] as Float32Array)] as string);
      });
    }
    const metrics = computeMetrics(classes, actual, predicted);
    const correct = Math.round(metrics.accuracy * metrics.n);
    report(round, labelsThisRound, metrics.accuracy, metrics.n);
    if (correct > best.correct) best = { round, correct, metrics };
    else break;
    if (round > 0 && labelsThisRound.length === 0) break;
  }

  // The held-out photos chose the round count; the returned head uses every labeled photo: a final
  // chain on all of them runs that many rounds (as trainHead's cross-validation does for epochs).
  const metrics = best.metrics as HeadMetrics;
  const final = new Chain(labeled, photos, classes, options, settings);
  for (let round = 0; round <= best.round; round++) await final.step(round);
  return {
    doc: { ...(final.doc as HeadDocument), metrics },
    metrics,
    validation: split.method,
    rounds,
    bestRound: best.round,
    pseudoLabels: final.labels,
  };
}
