/**
 * `npm run eval`: few-shot accuracy of every recipe on the same splits (scripts/eval/datasets.ts
 * for the splits, scripts/eval/recipes.ts for the recipes), with its statistics over seeds
 * (scripts/eval/stats.ts). Writes `bench/eval.json` and prints markdown tables (accuracy, time per
 * training run, paired differences).
 *
 * bench/eval.json, one entry per recipe, dataset and k:
 * `eval.<dataset>.<recipe>.k<k>` -> `{ value, unit: 'accuracy', std, n, ci, seeds, perSeed, msPerTraining, note }`:
 * value = mean test accuracy in [0, 1] over seeds, std = sample standard deviation, n = seeds,
 * ci = `[low, high]` 95% t-interval of the mean, seeds and perSeed = the seeds and each one's
 * accuracy (so later runs can pair with them), msPerTraining = mean wall-clock ms of one training
 * run including its predictions. Paired comparisons, one entry per compared pair:
 * `eval.<dataset>.<A>-vs-<B>.k<k>.diff` -> `{ value, unit: 'accuracy difference', std, n, ci, seeds, note }`:
 * the mean over common seeds of accuracy(A) - accuracy(B) and its 95% t-interval (an interval
 * that excludes 0 is a real difference at the 5% level). A is the first recipe of `--recipes`
 * (`app` by default), B each other recipe run, paired on the seeds both have (this run's, or the
 * figures already in the file for B). With `--confirm` every key ends in `.confirm`, so the
 * confirmation never overwrites the default figures.
 *
 * Default run (issue 15 pt 5 asks for under an hour with a cold embedding cache; measured 42.8 min
 * before Train's test-time augmentation, ~45 min quiet / ~80 min loaded estimated since): k = 1,
 * 5, 10 and 5 seeds (0-4) for app, knn, tm, head on the default backbone; app, knn, head on each
 * other installed backbone; app on all of them together (`A+B`, from the disk cache the single
 * runs filled). `--levers` adds the app's levers (k = 10, on every backbone), selftrain where there
 * are unlabeled photos (emoji k = 1, 5; fashion k = 1, 5, 10, 500 unlabeled) and finetune on 3
 * seeds at k = 5, 10 (MobileNetV2). Every image's frozen forward pass (embedding + cut
 * activation) is computed once per run and kept in memory; embeddings are also cached on disk
 * (scripts/eval/embedding-cache.ts, `.cache/eval/`), so a rerun skips the backbone except when
 * fine-tuning needs cut activations. `--quick`: 2 seeds, fewer Fashion-MNIST test images,
 * selftrain and finetune at k = 5 on 1 seed; writes `bench/eval-quick.json` so it never
 * overwrites a full run's figures.
 *
 * `--backbones mobilenet_v2,inception_v3`: the installed backbones to run (default: every installed
 * one, then their pair). Figures on a backbone other than the default carry its id after the recipe,
 * `eval.<dataset>.<recipe>@<backbone id>.k<k>`, and each is also paired with the same recipe on
 * the default backbone (`eval.<dataset>.<recipe>@<id>-vs-<recipe>.k<k>.diff`). Fine-tuning recipes
 * run on MobileNetV2 only (backbone-split.ts names its blocks); elsewhere the embedding comes from
 * the backbone's frozen pass directly.
 *
 * `--backbones mobilenet_v2+inception_v3`: a pair, the ensemble lever: each image's embeddings on
 * both backbones concatenated (each from its own disk cache), keyed `<recipe>@<A>+<B>`; `app-avg`
 * runs only there (recipes.ts).
 *
 * `--asked`: also the fixed-budget protocol on the default backbone (scripts/eval/asked.ts):
 * `eval.<dataset>.asked.k<k>` (labels the app asks for, shared/learn/ask.ts) against
 * `eval.<dataset>.random.k<k>` (random labels, same budget), paired as `asked-vs-random`; their
 * msPerTraining is a whole run up to k labels a class.
 *
 * `--confirm`: data the default run never sees, to confirm a choice made on seeds 0-4: seeds 5-9
 * (emoji: other test and training emoji; fashion: other training shots) and, for Fashion-MNIST,
 * the t10k images 100-199 of each class as the test set (the default uses images 0-99).
 *
 * `--clutter`: also the clutter protocol (scripts/eval/clutter-protocol.ts, issue 17): `app` at
 * k = 10 on cluttered scenes of the same splits: whole scene, feature-map and detector crops.
 *
 * Options: scripts/eval/options.ts (`--help`; bad usage exits 2, as the CLI). The summary ends with where the time went per
 * backbone: frozen passes of photos and of augmented views, training runs, wall. Results are merged into the file: a run of some
 * recipes replaces only their figures. After a run that wrote bench/eval.json, BENCHMARKS.md's evaluation section and the
 * README's tables are regenerated from it (scripts/eval/report.ts). Not part of `npm test`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { splitBackbone, type BackboneSplit, type FrozenOutput } from '../../shared/model/backbone-split.ts';
import { augmentedView } from '../../shared/image/augment.ts';
import { preprocess, type RgbaPixels } from '../../shared/image/preprocess.ts';
import { registerWasmGradientKernels } from '../../shared/model/wasm-grad-kernels.ts';
import { createProgress } from '../cli/progress.ts';
import { reportUsageError, UsageError } from '../cli/usage.ts';
import { installedManifest, openBackbone, startRuntime } from '../cli/runtime.ts';
import type { Backbone } from '../../shared/model/backbone.ts';
import { backboneRef, servedBackbones, type BackboneManifest } from '../../shared/model/manifest.ts';
import { emojiDataset, fashionDataset, FASHION_INSTALL_HINT, type Dataset, type EvalImage } from './datasets.ts';
import { EmbeddingCache } from './embedding-cache.ts';
import { pairManifest } from '../../shared/model/backbone-pair.ts';
import { idSeed } from './id-seed.ts';
import { ParallelEmbedder, timedEmbedding, type TimedEmbedding } from './parallel-embed.ts';
import { pairedBySeed, summarize, type SampleSummary } from './stats.ts';
import { evalSection, replaceEvalSection, replaceReadmeTable, type EvalEntry } from './report.ts';
import { readOptions, ROOT } from './options.ts';
import { runAskedProtocols, type AskedContext } from './asked.ts';
import { ASK_STRATEGIES } from './ask-protocol.ts';
import { clutterDiffs, runClutterProtocols } from './clutter-protocol.ts';
import {
  APP_LEVERS,
  FINE_TUNING_RECIPES,
  PAIR_RECIPES,
  recipeViews,
  UNLABELED_RECIPES,
  runRecipe,
  type EvalExample,
  type Recipe,
} from './recipes.ts';

interface Cell {
  /** The backbone's `id@version`. */
  backbone: string;
  seeds: number[];
  accuracies: number[];
  ms: number[];
}

/** A recipe's figures in bench/eval.json (module comment). */
interface AccuracyEntry {
  value: number;
  unit: string;
  std: number;
  n: number;
  ci?: [number, number];
  seeds?: number[];
  perSeed?: number[];
  msPerTraining?: number;
  note: string;
}

let options: ReturnType<typeof readOptions>;
try {
  options = readOptions();
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  process.exit(reportUsageError('eval', error));
}
const { quick, confirm, diskCache, plan, recipes, datasetNames, outFile } = options;
const fineTuning = recipes.some((r) => FINE_TUNING_RECIPES.includes(r));

const started = performance.now();
const loadAtStart = loadavg();
await startRuntime();
if (fineTuning) registerWasmGradientKernels();
const defaultBackboneId = installedManifest().backbone.id;
// Default: every installed backbone (issue 15 pt 5: the default run covers both), then all of them
// together (their embeddings concatenated, read back from the disk cache the single runs filled).
// A served pair (`members`) is that A+B, not a backbone of its own to run.
const installedIds = servedBackbones(installedManifest()).filter((b) => !b.members).map((b) => b.id);
const backboneIds = options.backboneIds.length ? options.backboneIds : [...installedIds, ...(installedIds.length > 1 ? [installedIds.join('+')] : [])];
/**
 * The default recipes on a backbone other than the default: the Train button and its two
 * references. Fine-tuning runs on MobileNetV2 only, and Teachable Machine and self-training would
 * add a third of the run (self-training's 2,500 unlabeled Fashion-MNIST images through the larger
 * backbone) for rows no decision reads.
 */
const OTHER_BACKBONE_DEFAULTS: readonly Recipe[] = ['app', 'knn', 'head'];
/** The default recipes on a pair of backbones: the goal table's row (its levers come with --levers). */
const PAIR_DEFAULTS: readonly Recipe[] = ['app'];

/** The recipes run on a backbone (or pair): all of them on the default, else the lighter defaults and, with --levers, the app's levers. */
function recipesOn(backboneId: string): Recipe[] {
  if (backboneId === defaultBackboneId) return recipes;
  // Fine-tuning needs the default backbone's split (backbone-split.ts).
  if (options.recipesGiven) return recipes.filter((r) => !FINE_TUNING_RECIPES.includes(r));
  const defaults = backboneId.includes('+') ? PAIR_DEFAULTS : OTHER_BACKBONE_DEFAULTS;
  return recipes.filter((r) => defaults.includes(r) || (options.levers && APP_LEVERS.includes(r as (typeof APP_LEVERS)[number])));
}

/** Where a backbone's time went, for the summary: frozen passes (photos and augmented views apart) and training runs. */
interface BackboneTime {
  photoPasses: number;
  photoMs: number;
  viewPasses: number;
  viewMs: number;
  trainings: number;
  trainingMs: number;
  wallMs: number;
}
const times = new Map<string, BackboneTime>();
/** The clutter protocol's ms per box (clutter-protocol.ts). */
const clutterTimes: Record<string, AccuracyEntry> = {};
let currentTime: BackboneTime = { photoPasses: 0, photoMs: 0, viewPasses: 0, viewMs: 0, trainings: 0, trainingMs: 0, wallMs: 0 };

// The backbone being evaluated, and what belongs to it; `useBackbone` switches all of it.
/** One backbone of the evaluated embedding (two for a pair `A+B`) and its disk cache. */
interface Member {
  backbone: Backbone;
  disk: EmbeddingCache | null;
  /** Its frozen passes, this thread's and `--jobs` - 1 worker threads' (scripts/eval/parallel-embed.ts). */
  embedder: ParallelEmbedder;
}
let members: Member[] = [];
let backbone: BackboneManifest = installedManifest().backbone;
/**
 * One forward path for every recipe on the default backbone: the split's frozen pass gives the
 * ordinary embedding (identical to Backbone.embed) and the cut activation fine-tuning starts from.
 * Other backbones have no split (backbone-split.ts knows MobileNetV2's blocks): their embedding
 * is the backbone's frozen pass.
 */
let split: BackboneSplit | null = null;
const cache = new Map<string, FrozenOutput>();
let forwardMs = 0;
/** Frozen passes run (embeddings not found on disk), for the summary's time per image. */
let forwards = 0;
let imagesSeen = 0;
let diskHits = 0;
/** Of those, hits on vectors an earlier run wrote (none: the run was cold). */
let earlierHits = 0;

/** Loads the backbone `id` (or both of a pair `A+B`), disposing the previous ones, and starts the caches afresh. */
async function useBackbone(id: string): Promise<void> {
  imagesSeen += cache.size;
  diskHits += members.reduce((a, m) => a + (m.disk?.hits ?? 0), 0);
  earlierHits += members.reduce((a, m) => a + (m.disk?.earlierHits ?? 0), 0);
  cache.clear();
  for (const m of members) {
    await m.embedder.close();
    m.backbone.dispose();
  }
  members = [];
  for (const memberId of id.split('+')) {
    const loaded = await openBackbone(memberId);
    const ref = backboneRef(loaded.manifest);
    const local = (pixels: RgbaPixels): Promise<TimedEmbedding> => timedEmbedding(loaded, pixels);
    members.push({ backbone: loaded, disk: diskCache ? new EmbeddingCache(options.cacheDir, ref, loaded.manifest.embedding.size) : null, embedder: new ParallelEmbedder(memberId, options.jobs - 1, local) });
  }
  const manifests = members.map((m) => m.backbone.manifest);
  backbone = manifests.length === 1 ? (manifests[0] as BackboneManifest) : pairManifest(manifests);
  split = id === defaultBackboneId ? splitBackbone((members[0] as Member).backbone, { unfreeze: 1 }) : null;
}

/** Counts one frozen pass of `ms` (of an augmented view when `view`), for the summary. */
function countPass(ms: number, view: boolean): void {
  forwardMs += ms;
  forwards++;
  if (view) {
    currentTime.viewPasses++;
    currentTime.viewMs += ms;
  } else {
    currentTime.photoPasses++;
    currentTime.photoMs += ms;
  }
}

/**
 * The embeddings of some images on one backbone, in order: from its disk cache, else its frozen
 * passes (spread over `--jobs` threads, then stored). `view[i]`: image i is an augmented view.
 */
async function memberEmbeddings(member: Member, pixels: readonly RgbaPixels[], view: readonly boolean[], onPass: () => void): Promise<Float32Array[]> {
  const out = pixels.map((p) => member.disk?.get(p) ?? null);
  const missing = out.flatMap((e, i) => (e ? [] : [i]));
  const computed = await member.embedder.embed(missing.map((i) => pixels[i] as RgbaPixels), onPass);
  for (const [n, i] of missing.entries()) {
    const { embedding, ms } = computed[n] as TimedEmbedding;
    countPass(ms, view[i] as boolean);
    member.disk?.set(pixels[i] as RgbaPixels, embedding);
    out[i] = embedding;
  }
  return out as Float32Array[];
}

/** Frozen outputs of the images not yet cached, with a progress line. */
async function ensureCached(images: readonly EvalImage[], label: string): Promise<void> {
  const missing = [...new Map(images.filter((i) => !cache.has(i.id)).map((i) => [i.id, i])).values()];
  if (!missing.length) return;
  if (fineTuning && split) {
    const progress = createProgress(label, missing.length);
    for (const [n, image] of missing.entries()) {
      progress.update(n);
      const pixels = await image.pixels();
      // Fine-tuning needs the cut activation (31 KB an image), which is not kept on disk: the
      // split's frozen pass gives it with the embedding (in this thread: workers have no split).
      const t0 = performance.now();
      const out = await split.forward(preprocess(pixels, backbone.normalization));
      countPass(performance.now() - t0, image.id.includes('#'));
      members[0]?.disk?.set(pixels, out.embedding);
      cache.set(image.id, out);
    }
    progress.done(`${missing.length} images`);
    return;
  }
  // Augmented views are cached as `<photo id>#<view>` (viewImages).
  const view = missing.map((image) => image.id.includes('#'));
  const pixels: RgbaPixels[] = [];
  for (const image of missing) pixels.push(await image.pixels());
  const progress = createProgress(label, missing.length * members.length);
  let done = 0;
  const perMember: Float32Array[][] = [];
  for (const member of members) {
    perMember.push(await memberEmbeddings(member, pixels, view, () => progress.update(++done)));
    done = perMember.length * missing.length;
  }
  for (const [i, image] of missing.entries()) {
    const parts = perMember.map((embeddings) => embeddings[i] as Float32Array);
    const embedding = parts.length === 1 ? (parts[0] as Float32Array) : new Float32Array(backbone.embedding.size);
    if (parts.length > 1) parts.reduce((offset, part) => (embedding.set(part, offset), offset + part.length), 0);
    cache.set(image.id, { cut: new Float32Array(0), embedding });
  }
  progress.done(`${missing.length} images`);
}

function examples(images: readonly EvalImage[]): EvalExample[] {
  return images.map((i) => {
    const frozen = cache.get(i.id) as FrozenOutput;
    return { photoId: i.id, label: i.label, embedding: frozen.embedding, augmented: false, frozen };
  });
}

/**
 * The first `count` augmented views of images (shared/image/augment.ts, as the product's examples
 * have), as images of their own (cached by `<id>#<view>`; view `v` is made alone by `augmentedView`,
 * the same whatever the count, instead of making views 0..v to keep the last).
 */
function viewImages(images: readonly EvalImage[], count: number): (EvalImage & { photoId: string })[] {
  return images.flatMap((image) =>
    Array.from({ length: count }, (_, v) => ({
      id: `${image.id}#${v}`,
      photoId: image.id,
      label: image.label,
      pixels: async () => augmentedView(await image.pixels(), v, { seed: idSeed(image.id) }),
    })),
  );
}

/** Shots plus their first `count` augmented views (views carry their photo's id). */
function augmentedExamples(images: readonly EvalImage[], count: number): EvalExample[] {
  const views = viewImages(images, count).map((v) => {
    const frozen = cache.get(v.id) as FrozenOutput;
    return { photoId: v.photoId, label: v.label, embedding: frozen.embedding, augmented: true, frozen };
  });
  return [...examples(images), ...views];
}

/** As the app stores them (client/lib/examples.ts): each photo, then its `count` augmented views. */
function appExamples(images: readonly EvalImage[], count: number): EvalExample[] {
  const views = augmentedExamples(images, count).slice(images.length);
  return examples(images).flatMap((photo, i) => [photo, ...views.slice(i * count, (i + 1) * count)]);
}

const datasets: Dataset[] = [];
for (const name of datasetNames) {
  if (name === 'emoji') datasets.push(emojiDataset());
  else if (name === 'fashion') {
    const fashion = fashionDataset(plan.fashion);
    if (fashion) datasets.push(fashion);
    else console.error(`eval: skipping fashion. ${FASHION_INSTALL_HINT}`);
  }
}

const cells = new Map<string, Cell>();
/** Keys of the confirmation data end in `.confirm` (module comment). */
const suffix = confirm ? '.confirm' : '';
/** A recipe's name in keys and tables: `<recipe>` on the default backbone, `<recipe>@<backbone id>` on another. */
const recipeLabel = (recipe: Recipe, backboneId: string): string => (backboneId === defaultBackboneId ? recipe : `${recipe}@${backboneId}`);
const key = (dataset: string, label: string, k: number): string => `eval.${dataset}.${label}.k${k}${suffix}`;
/** Each backbone's embedding, for the summary. */
const embeddings: string[] = [];
/** Adds one seed's accuracy and ms to a key's cell. */
function addRun(name: string, seed: number, accuracy: number, ms: number): void {
  const cell = cells.get(name) ?? { backbone: backboneRef(backbone), seeds: [], accuracies: [], ms: [] };
  cell.seeds.push(seed);
  cell.accuracies.push(accuracy);
  cell.ms.push(ms);
  cells.set(name, cell);
}
/** Views a labelled photo is stored with, as the app stores them. */
const APP_VIEWS = 3;
/** What the fixed-budget protocol (scripts/eval/asked.ts) reads: this run's embeddings, photos stored as the app stores them. */
function askedContext(dataset: Dataset, seed: number, protocol = 'asked'): AskedContext {
  const label = `${dataset.name} seed ${seed}: forward (${protocol})`;
  return {
    backbone,
    classes: dataset.classes,
    ...(options.askWeights ? { weights: options.askWeights } : {}),
    ...(options.askRules ? { rules: options.askRules } : {}),
    photos: async (images) => (await ensureCached(images, label), examples(images)),
    stored: async (images) => (await ensureCached([...images, ...viewImages(images, APP_VIEWS)], label), appExamples(images, APP_VIEWS)),
    views: async (images) => (await ensureCached(viewImages(images, APP_VIEWS), label), images.map((i) => Array.from({ length: APP_VIEWS }, (_, v) => (cache.get(`${i.id}#${v}`) as FrozenOutput).embedding))),
    log: (line) => console.error(`[${dataset.name} seed ${seed} ${line}`),
  };
}
for (const backboneId of backboneIds) {
  const backboneStarted = performance.now();
  currentTime = { photoPasses: 0, photoMs: 0, viewPasses: 0, viewMs: 0, trainings: 0, trainingMs: 0, wallMs: 0 };
  times.set(backboneId, currentTime);
  await useBackbone(backboneId);
  embeddings.push(`${backboneId}: ${backbone.embedding.size} floats (${backbone.embedding.parts.map((p) => p.name).join(' + ')})`);
  for (const dataset of datasets) {
    for (let run = 0; run < plan.seeds; run++) {
      const seed = plan.firstSeed + run;
      const wanted = recipesOn(backboneId).filter((r) => run < plan.recipes[r].seeds);
      const ks = plan.ks.filter((k) => wanted.some((r) => plan.recipes[r].ks.includes(k)));
      if (!ks.length) continue;
      const fewShot = dataset.split(seed, plan.ks);
      const needsUnlabeled = wanted.some((r) => UNLABELED_RECIPES.includes(r));
      // The most augmented views any recipe wanted here trains on, and averages over at test time.
      const trainViews = Math.max(0, ...wanted.map((r) => recipeViews(r).train));
      const testViewCount = Math.max(0, ...wanted.map((r) => recipeViews(r).test));
      const images = [
        ...viewImages(fewShot.test, testViewCount),
        ...fewShot.test,
        ...ks.flatMap((k) => fewShot.shots.get(k) ?? []),
        ...(needsUnlabeled ? ks.flatMap((k) => fewShot.unlabeled.get(k) ?? []) : []),
        ...viewImages([...new Map(ks.flatMap((k) => fewShot.shots.get(k) ?? []).map((i) => [i.id, i])).values()], trainViews),
      ];
      await ensureCached(images, `${dataset.name} seed ${seed}${backboneId === defaultBackboneId ? '' : ` ${backboneId}`}: forward`);
      const test = examples(fewShot.test);
      // Each test photo's augmented views, for test-time augmentation.
      const allTestViews = fewShot.test.map((image) => Array.from({ length: testViewCount }, (_, v) => (cache.get(`${image.id}#${v}`) as FrozenOutput).embedding));
      const partGroups = members.length > 1 ? members.map((m) => m.backbone.manifest.embedding.parts.map((p) => p.name)) : undefined;
      for (const k of ks) {
        const train = examples(fewShot.shots.get(k) ?? []);
        const unlabeledImages = fewShot.unlabeled.get(k);
        for (const recipe of wanted) {
          if (!plan.recipes[recipe].ks.includes(k)) continue;
          const usesUnlabeled = UNLABELED_RECIPES.includes(recipe);
          if (usesUnlabeled && !unlabeledImages) continue;
          if (PAIR_RECIPES.includes(recipe) && !partGroups) continue;
          const t0 = performance.now();
          const shotImages = fewShot.shots.get(k) ?? [];
          const views = recipeViews(recipe);
          const shots = views.train === 0 ? train : views.appOrder ? appExamples(shotImages, views.train) : augmentedExamples(shotImages, views.train);
          const testViews = views.test ? allTestViews.map((photoViews) => photoViews.slice(0, views.test)) : undefined;
          const outcome = await runRecipe(recipe, shots, test, usesUnlabeled ? examples(unlabeledImages ?? []) : [], {
            backbone,
            classes: dataset.classes,
            seed,
            split,
            ...(testViews ? { testViews } : {}),
            ...(partGroups ? { partGroups } : {}),
          });
          const ms = performance.now() - t0;
          const accuracy = outcome.predicted.filter((p, i) => p === (test[i] as EvalExample).label).length / test.length;
          const label = recipeLabel(recipe, backboneId);
          addRun(key(dataset.name, label, k), seed, accuracy, ms);
          currentTime.trainings++;
          currentTime.trainingMs += ms;
          console.error(
            `[${dataset.name} seed ${seed} k=${k}] ${label.padEnd(9)} ${(100 * accuracy).toFixed(1).padStart(5)}%  ` +
              `${(ms / 1000).toFixed(1).padStart(6)} s${outcome.detail ? `  ${outcome.detail}` : ''}`,
          );
        }
      }
    }
  }
  currentTime.wallMs = performance.now() - backboneStarted;
  if (options.asked && backboneId === defaultBackboneId) {
    // The fixed-budget protocol, on the app's default backbone; its time is a row of its own.
    const askedStarted = performance.now();
    currentTime = { photoPasses: 0, photoMs: 0, viewPasses: 0, viewMs: 0, trainings: 0, trainingMs: 0, wallMs: 0 };
    times.set(`${backboneId} (--asked)`, currentTime);
    await runAskedProtocols(datasets, plan, askedContext, (dataset, strategy, seed, outcome, ms) => {
      for (const [k, accuracy] of outcome.accuracy) addRun(key(dataset, strategy, k), seed, accuracy, outcome.ms.get(k) as number);
      currentTime.trainings += outcome.trainings;
      currentTime.trainingMs += ms;
    });
    currentTime.wallMs = performance.now() - askedStarted;
  }
  if (options.clutter && backboneId === defaultBackboneId) {
    // The clutter protocol (issue 17), on the default backbone; its time is a row of its own.
    const clutterStarted = performance.now();
    currentTime = { photoPasses: 0, photoMs: 0, viewPasses: 0, viewMs: 0, trainings: 0, trainingMs: 0, wallMs: 0 };
    times.set(`${backboneId} (--clutter)`, currentTime);
    const context = (dataset: Dataset, seed: number) => ({ ...askedContext(dataset, seed, 'clutter'), model: (members[0] as Member).backbone, cacheDir: diskCache ? options.cacheDir : null, ...(options.crop ? { crop: options.crop } : {}), ...(options.design ? { design: options.design } : {}), ...(options.clutterMethods ? { methods: options.clutterMethods } : {}) });
    Object.entries(await runClutterProtocols(datasets, plan, context, (dataset, method, seed, accuracy, ms) => {
      addRun(key(`${dataset}-clutter`, `app+${method}`, 10), seed, accuracy, ms);
      currentTime.trainings++;
      currentTime.trainingMs += ms;
    })).forEach(([k, entry]) => (clutterTimes[`${k}${suffix}`] = entry));
    currentTime.wallMs = performance.now() - clutterStarted;
  }
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const round4 = (x: number): number => Number(x.toFixed(4));

const results: Record<string, AccuracyEntry> = {};
for (const [name, cell] of [...cells].sort(([a], [b]) => (a < b ? -1 : 1))) {
  const s = summarize(cell.accuracies);
  results[name] = {
    value: round4(s.mean),
    unit: 'accuracy',
    std: round4(s.std),
    n: s.n,
    ci: [round4(s.ci.low), round4(s.ci.high)],
    seeds: cell.seeds,
    perSeed: cell.accuracies.map(round4),
    msPerTraining: Math.round(mean(cell.ms)),
    note: `mean over seeds ${cell.seeds.join(',')} of test accuracy, 95% t-interval; ${(mean(cell.ms) / 1000).toFixed(1)} s per training run; backbone ${cell.backbone}${quick ? '; --quick' : ''}${confirm ? '; confirmation data' : ''}`,
  };
}
// Merged into the file, as bench/lib.ts does: a run of some recipes keeps the others' figures.
const previous = existsSync(outFile) ? (JSON.parse(readFileSync(outFile, 'utf8')) as Record<string, AccuracyEntry>) : {};
Object.assign(results, clutterTimes);
const known: Record<string, AccuracyEntry> = { ...previous, ...results };
if (options.clutter) Object.assign(results, clutterDiffs(known, datasets.map((d) => d.name), suffix));

// Paired differences, on the seeds both have: on each backbone, the first recipe against each
// other one; on a backbone other than the default, also each recipe against itself on the default.
interface PairRow {
  dataset: string;
  k: number;
  a: string;
  b: string;
  diff: SampleSummary;
  seeds: number[];
}
const pairs: PairRow[] = [];
const compared: [string, string][] = [
  ...backboneIds.flatMap((id) => {
    const [first, ...others] = recipesOn(id);
    return [
      ...(first ? others.map((other): [string, string] => [recipeLabel(first, id), recipeLabel(other, id)]) : []),
      ...(id === defaultBackboneId ? [] : recipesOn(id).map((r): [string, string] => [recipeLabel(r, id), r])),
    ];
  }),
  ...(options.asked ? [[...ASK_STRATEGIES] as [string, string]] : []),
];
for (const dataset of datasets) {
  for (const k of plan.ks) {
    for (const [aLabel, bLabel] of compared) {
      if (!cells.has(key(dataset.name, aLabel, k))) continue;
      const paired = pairedBySeed(known[key(dataset.name, aLabel, k)], known[key(dataset.name, bLabel, k)]);
      if (!paired) continue;
      const { diff, seeds } = paired;
      pairs.push({ dataset: dataset.name, k, a: aLabel, b: bLabel, diff, seeds });
      results[`eval.${dataset.name}.${aLabel}-vs-${bLabel}.k${k}.diff${suffix}`] = {
        value: round4(diff.mean),
        unit: 'accuracy difference',
        std: round4(diff.std),
        n: diff.n,
        ci: [round4(diff.ci.low), round4(diff.ci.high)],
        seeds,
        note: `paired over seeds ${seeds.join(',')}: mean of accuracy(${aLabel}) - accuracy(${bLabel}), 95% t-interval${quick ? '; --quick' : ''}${confirm ? '; confirmation data' : ''}`,
      };
    }
  }
}
// The default run's wall time (issue 15 pt 5: under an hour with a cold cache), with the machine's
// load, so the published figure says how loaded the machine was.
if (options.defaultRun) {
  const hits = diskHits + members.reduce((a, m) => a + (m.disk?.hits ?? 0), 0);
  const earlier = earlierHits + members.reduce((a, m) => a + (m.disk?.earlierHits ?? 0), 0);
  const minutes = (performance.now() - started) / 60000;
  const load = (l: number[]): string => l.map((x) => x.toFixed(1)).join(', ');
  // Cold: nothing came from an earlier run (hits on what this run wrote do not make it warm).
  results[`eval.run.default_${earlier === 0 ? 'cold' : 'warm'}_minutes`] = {
    value: Number(minutes.toFixed(1)),
    unit: 'min',
    std: 0,
    n: 1,
    note: `npm run eval without options, ${earlier === 0 ? `empty embedding cache (${hits} of its own embeddings read back)` : `${earlier} embeddings from an earlier run's disk cache`}: ${forwards} frozen passes on ${options.jobs} thread${options.jobs === 1 ? '' : 's'}; ${cpus().length} cores, load average (1, 5, 15 min) ${load(loadAtStart)} at the start, ${load(loadavg())} at the end; ${new Date().toISOString().slice(0, 10)}`,
  };
}
const merged: Record<string, unknown> = { ...previous, ...results };
writeFileSync(outFile, JSON.stringify(Object.fromEntries(Object.keys(merged).sort().map((k) => [k, merged[k]])), null, 2) + '\n');
// The published figures follow bench/eval.json: BENCHMARKS.md's evaluation section and the
// README's table are generated from it (scripts/eval/report.ts), never from another --out file.
const publishedFile = join(ROOT, 'bench', 'eval.json');
if (outFile === publishedFile) {
  const evaluation = merged as Record<string, EvalEntry>;
  const benchmarksFile = join(ROOT, 'BENCHMARKS.md');
  if (existsSync(benchmarksFile)) writeFileSync(benchmarksFile, replaceEvalSection(readFileSync(benchmarksFile, 'utf8'), evalSection(evaluation)));
  const readmeFile = join(ROOT, 'README.md');
  const readme = readFileSync(readmeFile, 'utf8');
  const updated = replaceReadmeTable(readme, evaluation);
  if (updated !== readme) writeFileSync(readmeFile, updated);
}

// Markdown: accuracy (%) mean ± std (seeds), then seconds per training run.
const columns = datasets.flatMap((d) => plan.ks.map((k) => ({ dataset: d.name, k })));
const table = (title: string, cellText: (c: Cell) => string): string[] => [
  `| ${title} | ${columns.map((c) => `${c.dataset} k=${c.k}`).join(' | ')} |`,
  `|---|${columns.map(() => '---|').join('')}`,
  ...[...backboneIds.flatMap((id) => recipesOn(id).map((r) => recipeLabel(r, id))), ...(options.asked ? ASK_STRATEGIES : [])].map((r) => `| ${r} | ${columns.map((c) => {
    const cell = cells.get(key(c.dataset, r, c.k));
    return cell ? cellText(cell) : '-';
  }).join(' | ')} |`),
];
const pct = (x: number): string => (100 * x).toFixed(1);
const lines = [
  '',
  `Accuracy %, mean ± std [95% CI] over seeds (seeds in parentheses)${confirm ? ', confirmation data' : ''}. Embedding: the product's, ${embeddings.join('; ')}.`,
  '',
  ...table('recipe', (c) => {
    const s = summarize(c.accuracies);
    return `${pct(s.mean)} ± ${pct(s.std)} [${pct(s.ci.low)}, ${pct(s.ci.high)}] (${s.n})`;
  }),
  '',
  'Milliseconds per training run (mean, including its predictions):',
  '',
  ...table('recipe', (c) => mean(c.ms).toFixed(0)),
  '',
  ...(pairs.length
    ? [
        'Paired differences, accuracy points (A - B, mean [95% CI] over common seeds):',
        '',
        '| dataset | k | A - B | difference | seeds |',
        '|---|---|---|---|---|',
        ...pairs.map((p) => `| ${p.dataset} | ${p.k} | ${p.a} - ${p.b} | ${pct(p.diff.mean)} [${pct(p.diff.ci.low)}, ${pct(p.diff.ci.high)}] | ${p.seeds.join(',')} |`),
        '',
      ]
    : []),
  `Where the time went, per backbone (frozen passes not found in the disk cache, their time summed over ${options.jobs} thread${options.jobs === 1 ? '' : 's'}; training runs include their predictions):`,
  '',
  '| backbone | photo passes | augmented-view passes | training runs | wall |',
  '|---|---|---|---|---|',
  ...[...times].map(([id, t]) => {
    const passes = (n: number, ms: number): string => `${n} in ${(ms / 60000).toFixed(1)} min${n ? ` (${(ms / n).toFixed(0)} ms each)` : ''}`;
    return `| ${id} | ${passes(t.photoPasses, t.photoMs)} | ${passes(t.viewPasses, t.viewMs)} | ${t.trainings} in ${(t.trainingMs / 60000).toFixed(1)} min | ${(t.wallMs / 60000).toFixed(1)} min |`;
  }),
  '',
  `${imagesSeen + cache.size} images (${diskCache ? `${diskHits + members.reduce((a, m) => a + (m.disk?.hits ?? 0), 0)} embeddings from the disk cache, ` : ''}${forwards} frozen passes in ${(forwardMs / 1000).toFixed(0)} s${forwards ? `, ${(forwardMs / forwards).toFixed(0)} ms each` : ''}); total ${((performance.now() - started) / 60000).toFixed(1)} min; wrote ${outFile}`,
];
console.log(lines.join('\n'));
process.exit(0);
