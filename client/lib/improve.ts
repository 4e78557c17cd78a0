/**
 * "Improve further": after a head has been trained, try the costlier recipes on the device and
 * keep whichever is best on photos none of them trained on.
 *
 * 1. Preparing: every fresh example's stored copy (client/lib/examples.ts keeps a 299-px JPEG of
 *    each photo) and its augmented views (same seed and count as when it was taught; the head,
 *    kNN and self-training use them, fine-tuning by default not) go through the frozen backbone
 *    once, split at the cut of the top block (shared/model/backbone-split.ts): the cut activation and the
 *    embedding. The user's unlabeled photos (their stored copies) too.
 * 2. One held-out split by photo (a quarter of each class's photos, at least one). On the other
 *    photos every recipe trains: the retrained head (shared/learn/train-head.ts), kNN (k = 3, cosine),
 *    self-training with the unlabeled photos (shared/learn/self-train.ts) and fine-tuning of the top
 *    block + head (shared/learn/fine-tune.ts, with the project's WASM gradient kernels).
 * 3. Comparing: all recipes predict the same held-out photos; the guard (shared/learn/guard.ts
 *    `compareRecipes`) keeps the most accurate, ties going to the simpler recipe, and says in plain
 *    words whether the lead could be chance.
 * 4. The kept recipe is trained again on ALL photos (few-shot photos are too precious to leave one
 *    out of the final model), its held-out metrics attached, and stored as the head document under
 *    the head's id in one transaction (a fine-tuned model carries its `backboneTail`; kNN stores the
 *    retrained head, and this device predicts with kNN, as `train` does). A kept fine-tuned model's
 *    embeddings of the copies and their views go to the cache a correction retrains its head from
 *    (client/lib/tail-embeddings.ts), computed from the cut activations at hand.
 *
 * Every candidate is judged on the copies' embeddings, so that all are compared on the same input.
 * The final head, kNN and self-trained models use the examples' stored embeddings (computed from
 * the photos themselves, as `predict` sees photos); the fine-tuned model can only train on cut
 * activations, which are rebuilt from the copies. (On flat-coloured emoji a JPEG copy costs a few
 * points against the photo; on camera photos, already JPEG, much less.)
 *
 * Fine-tuning runs on MobileNetV2 only ({@link fineTuneRefusal}): InceptionV3's smallest trainable
 * block would make a head document over the limit heads are stored and synced within. On InceptionV3
 * the other recipes run and are compared as on MobileNetV2, and the report says why fine-tuning
 * was skipped.
 *
 * Aborting (`signal`) rejects with an `AbortError` and stores nothing: the previous head stays.
 * Everything yields to the page between steps, and every tensor is disposed (`tf.memory()` is flat
 * across calls).
 */
import * as tf from '@tensorflow/tfjs-core';
import { augmentedViews } from '../../shared/image/augment.ts';
import { fineTune, type FineTuneExample } from '../../shared/learn/fine-tune.ts';
import type { BackboneSplit } from '../../shared/model/backbone-split.ts';
import { argMax, loadPredictor } from '../../shared/predict/predictor.ts';
import { compareRecipes, type GuardResult, type RecipeCandidate, type RecipeComparison, type RecipeName, type RecipeOutcome } from '../../shared/learn/guard.ts';
import type { HeadDocument, HeadMetrics } from '../../shared/head/document.ts';
import { fitKnn } from '../../shared/learn/knn.ts';
import { computeMetrics } from '../../shared/learn/metrics.ts';
import { preprocess } from '../../shared/image/preprocess.ts';
import { predictProbabilities, selfTrain, type UnlabeledExample } from '../../shared/learn/self-train.ts';
import { throwIfAborted } from '../../shared/learn/kit.ts';
import { foldExamples, splitByPhoto } from '../../shared/learn/split.ts';
import { trainHead } from '../../shared/learn/train-head.ts';
import { registerWasmGradientKernels } from '../../shared/model/wasm-grad-kernels.ts';
import type { Backbone } from '../../shared/model/backbone.ts';
import type { BackboneManifest } from '../../shared/model/manifest.ts';
import { currentBackbone, withBackboneLease } from './current-backbone.ts';
import { openTannerinDb, type ClassRecord, type HeadStateRecord, type StoredExampleRecord, type StoredUnlabeledRecord } from './db.ts';
import { photoPixels, trainingSet } from './examples.ts';
import { activeHeadId, headDocumentBytes, storeHead } from './heads.ts';
import { queueHeadPush } from './sync/loop.ts';
import { rememberTailEmbeddings } from './tail-embeddings.ts';
import { withTrainingLock } from './training-lock.ts';
import { yieldToEventLoop } from '../../shared/util/yield.ts';
import { MAX_UNLABELED, MIN_PHOTOS_PER_CLASS, backboneSplit, fineTuneRefusal, freshExamples } from './improve-estimate.ts';

export type ImproveRecipe = 'finetune' | 'selftrain';

export interface ImproveProgress {
  stage: 'preparing' | 'finetune' | 'selftrain' | 'comparing';
  /** Of the whole run, 0 to 1. */
  fraction: number;
  epoch?: number;
  epochs?: number;
  loss?: number;
  /** Held-out accuracy, when the stage has one (self-training rounds). */
  accuracy?: number;
  /** `candidate`: training on the photos not held out, to compare. `final`: the kept recipe on all photos. */
  step?: 'candidate' | 'final';
}

export interface ImproveCandidate {
  recipe: 'knn' | 'head' | 'finetune' | 'selftrain';
  accuracy: number;
  /** 95% Wilson interval. */
  low: number;
  high: number;
  n: number;
  /** JSON bytes of the head document this recipe would store (absent for kNN: its model is the examples). */
  sizeBytes?: number;
  correct?: number;
  /** Against the kept recipe (absent for the kept one). */
  versusKept?: { onlyThis: number; onlyKept: number; p: number };
  /** One sentence for the screen. */
  text?: string;
}

export interface ImproveReport {
  kept: ImproveCandidate['recipe'];
  candidates: ImproveCandidate[];
  headId: string;
  /** JSON bytes of the stored head document. */
  sizeBytes: number;
  /** Plain words: what was kept and how sure that is. */
  summary: string;
  /** The stored head document (with `backboneTail` when fine-tuning was kept). */
  doc: HeadDocument;
  /** Held-out metrics of the kept recipe (attached to `doc`). */
  metrics: HeadMetrics;
  /** Recipes asked for but not run, and why (e.g. self-training without unlabeled photos). */
  skipped: { recipe: ImproveRecipe; reason: string }[];
  photos: { labeled: number; heldOut: number; unlabeled: number };
  ms: number;
}

export interface ImproveOptions {
  /** Default both. `head` and `knn` are always compared. */
  recipes?: ImproveRecipe[];
  onProgress?: (p: ImproveProgress) => void;
  /** Aborting rejects with an `AbortError` and stores nothing. */
  signal?: AbortSignal;
  /** The head to improve. Default: the active head, else a new one. */
  headId?: string;
  /** Seeds the split and every training (default 0: same data, same result). */
  seed?: number;
  /** Embed the examples' augmented views too, for the head, kNN and self-training candidates (default true). */
  augment?: boolean;
  /**
   * Fine-tune on the augmented views too. Default false: at k=10 (`finetune-aug` in
   * scripts/eval/main.ts, 3 seeds) it gained 2.0 points on Fashion-MNIST but lost 1.3 on emoji, for
   * 4x the steps (the page would wait 2-4x longer).
   */
  fineTuneViews?: boolean;
  /** Fine-tuning epochs (default 10, the evaluated schedule). */
  epochs?: number;
  /**
   * Keep this recipe whatever the comparison says (a person who chose it on the comparison
   * screen); the comparison is still run and reported. It must be `head`, `knn` or a recipe run.
   */
  keep?: ImproveCandidate['recipe'];
}

/** Share of each class's photos held out for the comparison. */
const HELD_OUT_FRACTION = 0.25;

// ---------------------------------------------------------------------------------------------
// Improve

function argMaxLabel(classes: readonly string[], p: ArrayLike<number>): string {
  return classes[argMax(p)] as string;
}


/** Rough shares of a run's time, for one progress fraction. */
const STAGE_SHARES = { preparing: 0.2, candidates: 0.4, final: 0.4 };
/** Self-training rounds, for the candidate and the final model alike. */
const SELF_TRAIN_ROUNDS = 3;

/** What every step of one {@link improve} run shares. */
interface Run {
  options: ImproveOptions;
  /** Throws an `AbortError` once `options.signal` is aborted. */
  check(): void;
  progress(p: ImproveProgress): void;
  /** `{ signal }` when there is one, to spread into the trainers' options. */
  abort: { signal?: AbortSignal };
  manifest: BackboneManifest;
  backbone: Backbone;
  /** The backbone split for fine-tuning; null when fine-tuning cannot run on it ({@link fineTuneRefusal}). */
  split: BackboneSplit | null;
  seed: number;
  classRecords: ClassRecord[];
  /** Class names, in display order (the models' class order). */
  classes: string[];
  /** Fresh examples per class id. */
  records: Map<string, StoredExampleRecord[]>;
  unlabeledRecords: StoredUnlabeledRecord[];
  /** The recipes that will run (besides `head` and `knn`). */
  wanted: Set<ImproveRecipe>;
  skipped: ImproveReport['skipped'];
}

/** The frozen backbone's outputs for the photos (step 1). */
interface FrozenPasses {
  /** The fresh examples, by id. */
  photoRecords: StoredExampleRecord[];
  /** Each copy and (with `augment`) its augmented views: cut activation and embedding. */
  copies: FineTuneExample[];
  unlabeled: (UnlabeledExample & { cut: Float32Array })[];
}

/** The held-out split (step 2): candidates train on `train` and are judged on `heldOut`. */
interface HeldOut {
  train: FineTuneExample[];
  /** The held-out photos' copies (no augmented views). */
  heldOut: FineTuneExample[];
  labels: string[];
}

/**
 * Runs the recipes, compares them on held-out photos, and stores the best (module comment).
 * Needs `loadModels` first, and {@link improveEstimate}'s `ready`.
 */
export async function improve(options: ImproveOptions = {}): Promise<ImproveReport> {
  // One training at a time (client/lib/training-lock.ts): a correction meanwhile waits for this run.
  return withTrainingLock(() => {
    // Leased to the end: a switch meanwhile (the app does not block it) disposes it only after, and
    // the run stays on it (its embeddings, the kept model's backbone).
    const backbone = currentBackbone();
    return withBackboneLease(backbone, () => improveOn(backbone, options));
  }, options.signal);
}

async function improveOn(backbone: Backbone, options: ImproveOptions): Promise<ImproveReport> {
  const t0 = performance.now();
  const run = await startRun(backbone, options);
  const frozen = await frozenPasses(run);
  const split = holdOut(run, frozen.copies);
  const unlabeled = frozen.unlabeled.map(({ cut: _cut, ...u }) => u);
  const outcomes = await candidateOutcomes(run, split, unlabeled);
  const { comparison, metrics } = chooseRecipe(run, split.labels, outcomes);
  const { headId, name } = await headToImprove(run);
  const trained = await trainKept(run, comparison.kept, frozen.copies, unlabeled);
  const doc: HeadDocument = { ...trained, id: headId, name, metrics };
  // The last point where an abort still changes nothing.
  run.check();
  await storeImproved(run, doc, comparison, metrics, frozen.photoRecords);
  // Only saves a correction's time (it computes what the cache lacks): a failure here fails nothing.
  if (doc.backboneTail) await rememberTailEmbeddings(run.backbone, doc, frozen.copies).catch(() => undefined);
  return {
    kept: comparison.kept,
    candidates: comparison.candidates.map((c) => ({ ...c })),
    headId,
    sizeBytes: headDocumentBytes(doc),
    summary: comparison.verdict,
    doc,
    metrics,
    skipped: run.skipped,
    photos: { labeled: frozen.photoRecords.length, heldOut: split.heldOut.length, unlabeled: frozen.unlabeled.length },
    ms: performance.now() - t0,
  };
}

/**
 * Step 0: the run's settings and data. Refuses (RangeError) too few classes or photos and a `keep`
 * that will not run; drops self-training (said in `skipped`) without unlabeled photos.
 */
async function startRun(backbone: Backbone, options: ImproveOptions): Promise<Run> {
  const { signal, onProgress } = options;
  const check = (): void => throwIfAborted(signal);
  check();
  const wanted = new Set<ImproveRecipe>(options.recipes ?? ['finetune', 'selftrain']);

  const { classes: classRecords, records } = await freshExamples(backbone.ref);
  const classes = classRecords.map((c) => c.name);
  const short = classRecords.filter((c) => (records.get(c.id)?.length ?? 0) < MIN_PHOTOS_PER_CLASS);
  if (classes.length < 2 || short.length) {
    throw new RangeError(
      classes.length < 2
        ? 'improving needs examples in at least two classes'
        : `improving needs at least ${MIN_PHOTOS_PER_CLASS} photos in every class; ${short.map((c) => `"${c.name}"`).join(', ')} has fewer`,
    );
  }
  const db = await openTannerinDb();
  const unlabeledRecords = wanted.has('selftrain') ? (await db.getAllFromIndex('unlabeled', 'by-created')).slice(-MAX_UNLABELED) : [];
  const skipped: ImproveReport['skipped'] = [];
  if (wanted.has('selftrain') && unlabeledRecords.length === 0) {
    skipped.push({ recipe: 'selftrain', reason: 'no unlabeled photos: add some with addUnlabeled()' });
    wanted.delete('selftrain');
  }
  const refusal = fineTuneRefusal(backbone);
  if (wanted.has('finetune') && refusal) {
    skipped.push({ recipe: 'finetune', reason: refusal });
    wanted.delete('finetune');
  }

  if (options.keep && options.keep !== 'head' && options.keep !== 'knn' && !wanted.has(options.keep)) {
    const why = skipped.find((s) => s.recipe === options.keep)?.reason;
    throw new RangeError(`cannot keep ${options.keep}: it is not among the recipes to run${why ? ` (${why})` : ''}`);
  }
  if (wanted.has('finetune') && tf.getBackend() === 'wasm') registerWasmGradientKernels();
  return {
    options,
    check,
    progress: (p) => onProgress?.(p),
    abort: signal ? { signal } : {},
    manifest: backbone.manifest,
    backbone,
    split: refusal ? null : backboneSplit(backbone),
    seed: options.seed ?? 0,
    classRecords,
    classes,
    records,
    unlabeledRecords,
    wanted,
    skipped,
  };
}

/** Step 1: frozen passes of the copies (and their augmented views) and of the unlabeled photos. */
async function frozenPasses(run: Run): Promise<FrozenPasses> {
  const augment = run.options.augment ?? true;
  const labelOf = new Map(run.classRecords.map((c) => [c.id, c.name]));
  const photoRecords = [...run.records.values()].flat().sort((a, b) => (a.id < b.id ? -1 : 1));
  const totalPasses = photoRecords.reduce((a, r) => a + (augment ? r.views.length : 1), 0) + run.unlabeledRecords.length;
  let passes = 0;
  const { split, backbone } = run;
  const forward = async (pixels: Parameters<typeof preprocess>[0]): Promise<Awaited<ReturnType<BackboneSplit['forward']>>> => {
    await yieldToEventLoop();
    run.check();
    // Without fine-tuning nothing reads a cut activation: the embedding alone (`embed`, which a pair
    // of backbones has too: each member prepares the pixels its own way).
    const out = split ? await split.forward(preprocess(pixels, run.manifest.normalization)) : { cut: NO_CUT, embedding: await backbone.embed(pixels) };
    passes++;
    run.progress({ stage: 'preparing', fraction: (STAGE_SHARES.preparing * passes) / totalPasses });
    return out;
  };
  const copies: FineTuneExample[] = [];
  for (const r of photoRecords) {
    const pixels = await photoPixels(r.photo);
    const label = labelOf.get(r.classId) as string;
    const views = augment ? [pixels, ...augmentedViews(pixels, { count: r.views.length - 1, seed: r.augmentSeed })] : [pixels];
    for (const [i, view] of views.entries()) {
      const out = await forward(view);
      copies.push({ photoId: r.id, label, embedding: out.embedding, augmented: i > 0, cut: out.cut });
    }
  }
  const unlabeled: FrozenPasses['unlabeled'] = [];
  for (const r of run.unlabeledRecords) {
    const out = await forward(await photoPixels(r.photo));
    unlabeled.push({ photoId: `unlabeled:${r.id}`, embedding: out.embedding, augmented: false, cut: out.cut });
  }
  return { photoRecords, copies, unlabeled };
}

/** The cut activation of a run that does not fine-tune (nothing reads it). */
const NO_CUT = new Float32Array(0);

/** Step 2a: one held-out split by photo (a quarter of each class's photos, at least one). */
function holdOut(run: Run, copies: FineTuneExample[]): HeldOut {
  const photoSplit = splitByPhoto(copies, { seed: run.seed, minPhotosForHoldout: 2, validationFraction: HELD_OUT_FRACTION });
  const fold = photoSplit.folds[0];
  if (photoSplit.method !== 'holdout' || !fold) throw new Error('no held-out split: every class needs at least 2 photos');
  const { train, validation } = foldExamples(copies, fold) as { train: FineTuneExample[]; validation: FineTuneExample[] };
  const heldOut = validation.filter((e) => !e.augmented);
  return { train, heldOut, labels: heldOut.map((e) => e.label) };
}

/**
 * Step 2b: every candidate trained on the photos not held out, and its predictions for the
 * held-out ones: the retrained head and kNN always, then self-training and fine-tuning when wanted.
 */
async function candidateOutcomes(run: Run, { train, heldOut }: HeldOut, unlabeled: UnlabeledExample[]): Promise<RecipeOutcome[]> {
  const { manifest, classes } = run;
  const plan = ['head', ...[...run.wanted].sort()] as RecipeName[];
  const candidateShare = STAGE_SHARES.candidates / plan.length;
  let done = 0;
  const at = (within: number): number => STAGE_SHARES.preparing + candidateShare * (done + Math.min(1, within));
  const outcomes: RecipeOutcome[] = [];
  /** A head document's outcome: its predictions for the held-out photos' embeddings. */
  const headOutcome = async (recipe: 'head' | 'selftrain', doc: HeadDocument): Promise<RecipeOutcome> => {
    const p = await predictProbabilities(doc, manifest, heldOut.map((e) => e.embedding));
    return { recipe, predicted: p.map((row) => argMaxLabel(classes, row)), sizeBytes: headDocumentBytes(doc) };
  };

  outcomes.push(await headOutcome('head', (await trainHead(train, headOptions(run))).doc));
  const knn = fitKnn(train, manifest, { k: 3, classes });
  outcomes.push({ recipe: 'knn', predicted: heldOut.map((e) => knn.predict(e.embedding, 1)[0]?.label as string) });
  done++;
  run.progress({ stage: 'comparing', fraction: at(0), step: 'candidate' });
  run.check();

  if (run.wanted.has('selftrain')) {
    const selfTrained = await selfTrain(train, unlabeled, {
      ...headOptions(run),
      rounds: SELF_TRAIN_ROUNDS,
      onRound: (r) =>
        run.progress({
          stage: 'selftrain',
          fraction: at(r.round / (SELF_TRAIN_ROUNDS + 1)),
          epoch: r.round,
          epochs: SELF_TRAIN_ROUNDS,
          ...(r.heldOutAccuracy === null ? {} : { accuracy: r.heldOutAccuracy }),
          step: 'candidate',
        }),
    });
    outcomes.push(await headOutcome('selftrain', selfTrained.doc));
    done++;
    run.check();
  }

  if (run.wanted.has('finetune')) {
    const split = fineTuneSplit(run);
    const fineTuned = await fineTune(split, fineTuneSet(run, train), fineTuneOptions(run, 'candidate', at(0), candidateShare));
    const model = await loadPredictor(fineTuned.doc, split);
    try {
      const p = await model.probabilities(heldOut.map((e) => ({ cut: e.cut, embedding: e.embedding })));
      outcomes.push({ recipe: 'finetune', predicted: p.map((row) => argMaxLabel(classes, row)), sizeBytes: fineTuned.documentBytes });
    } finally {
      model.dispose();
    }
    done++;
    run.check();
  }
  return outcomes;
}

/** The run's split for fine-tuning (it runs only where there is one: startRun drops it otherwise). */
function fineTuneSplit(run: Run): BackboneSplit {
  if (!run.split) throw new Error(`fine-tuning cannot run on ${run.manifest.id}`);
  return run.split;
}

/** The retrained head's and self-training's options (the candidates and the final model alike). */
function headOptions(run: Run) {
  return { backbone: run.manifest, classes: run.classes, seed: run.seed, refitAll: true, ...run.abort };
}

/** The examples fine-tuning trains on: the copies, with their augmented views only if `fineTuneViews`. */
function fineTuneSet(run: Run, set: FineTuneExample[]): FineTuneExample[] {
  return run.options.fineTuneViews ? set : set.filter((e) => !e.augmented);
}

/** Fine-tuning's options, its epochs reported as progress from `base` over `span` of the run. */
function fineTuneOptions(run: Run, step: 'candidate' | 'final', base: number, span: number) {
  return {
    backbone: run.manifest,
    classes: run.classes,
    seed: run.seed,
    epochs: run.options.epochs ?? 10,
    validation: 'none' as const,
    ...run.abort,
    onEpoch: (e: { epoch: number; epochs: number; loss: number | null }) =>
      run.progress({ stage: 'finetune', fraction: base + (span * e.epoch) / e.epochs, epoch: e.epoch, epochs: e.epochs, ...(e.loss === null ? {} : { loss: e.loss }), step }),
  };
}

/**
 * Step 3: the guard (shared/learn/guard.ts `compareRecipes`) keeps the most accurate recipe on the
 * held-out photos, unless the person chose one (`keep`); the kept recipe's held-out metrics.
 */
function chooseRecipe(run: Run, labels: string[], outcomes: RecipeOutcome[]): { comparison: RecipeComparison; metrics: HeadMetrics } {
  const { keep } = run.options;
  const compared = compareRecipes({ labels, outcomes });
  let comparison: RecipeComparison = compared;
  if (keep !== undefined && keep !== compared.kept) {
    if (!outcomes.some((o) => o.recipe === keep)) throw new RangeError(`cannot keep ${keep}: it did not run`);
    comparison = { ...compared, kept: keep, verdict: `${compared.verdict} You chose to keep ${keep} instead.` };
  }
  const keptOutcome = outcomes.find((o) => o.recipe === comparison.kept) as RecipeOutcome;
  const metrics = computeMetrics(run.classes, labels, [...keptOutcome.predicted]);
  run.progress({ stage: 'comparing', fraction: STAGE_SHARES.preparing + STAGE_SHARES.candidates, step: 'candidate' });
  return { comparison, metrics };
}

/** The head the result is stored as: `headId`, else the active head, else a new one; it keeps its name. */
async function headToImprove(run: Run): Promise<{ headId: string; name: string }> {
  const headId = run.options.headId ?? (await activeHeadId()) ?? crypto.randomUUID();
  const db = await openTannerinDb();
  const previous = await db.get('heads', headId);
  return { headId, name: previous?.name ?? run.classes.join(' / ') };
}

/**
 * Step 4: the kept recipe trained again on ALL photos: fine-tuning on the copies' cut
 * activations, the others on the examples' stored embeddings (as `predict` sees photos).
 */
async function trainKept(run: Run, kept: RecipeComparison['kept'], copies: FineTuneExample[], unlabeled: UnlabeledExample[]): Promise<HeadDocument> {
  const finalBase = STAGE_SHARES.preparing + STAGE_SHARES.candidates;
  if (kept === 'finetune') {
    return (await fineTune(fineTuneSplit(run), fineTuneSet(run, copies), fineTuneOptions(run, 'final', finalBase, STAGE_SHARES.final))).doc;
  }
  const stored = (await trainingSet(run.backbone.ref)).examples;
  if (kept === 'selftrain') {
    const trained = (await selfTrain(stored, unlabeled, { ...headOptions(run), rounds: SELF_TRAIN_ROUNDS })).doc;
    run.progress({ stage: 'selftrain', fraction: 1, step: 'final' });
    return trained;
  }
  const trained = (await trainHead(stored, headOptions(run))).doc;
  run.progress({ stage: 'comparing', fraction: 1, step: 'final' });
  return trained;
}

/**
 * Step 5: stores the head document with its training state (the comparison, and the guard's
 * head-versus-kNN part as `train` records it), makes it the active head, and queues it for sync.
 */
async function storeImproved(run: Run, doc: HeadDocument, comparison: RecipeComparison, metrics: HeadMetrics, photoRecords: StoredExampleRecord[]): Promise<void> {
  const kept = comparison.kept;
  const now = new Date().toISOString();
  const state: HeadStateRecord = {
    id: doc.id,
    predictWith: kept === 'knn' ? 'knn' : 'head',
    classIds: run.classRecords.map((c) => c.id),
    trainedOn: photoRecords.map((r) => r.id).sort(),
    training: { finished: now, metrics, guard: guardOf(comparison), splitMethod: 'holdout', improvement: comparison },
    updated: now,
  };
  await storeHead(doc, state, { activate: true });
  void queueHeadPush(doc.id).catch(() => undefined);
}

/** The comparison's head and kNN results in the guard's shape (what the Train screen shows). */
function guardOf(comparison: RecipeComparison): GuardResult {
  const head = comparison.candidates.find((c) => c.recipe === 'head') as RecipeCandidate;
  const knnResult = comparison.candidates.find((c) => c.recipe === 'knn') as RecipeCandidate;
  return {
    candidates: [head, knnResult].map((c) => ({
      name: c.recipe as 'head' | 'knn',
      correct: c.correct,
      n: c.n,
      accuracy: c.accuracy,
      interval: { low: c.low, high: c.high },
      unknownLabels: [],
    })),
    comparisons: [],
    choice: comparison.kept === 'knn' ? 'knn' : 'head',
    reasons: [...comparison.candidates.map((c) => c.text), comparison.verdict],
  };
}
