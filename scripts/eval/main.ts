/**
 * `npm run eval`: few-shot accuracy of every recipe on the same splits (scripts/eval/datasets.ts
 * for the splits, scripts/eval/recipes.ts for the recipes). Writes `bench/eval.json` (metric name
 * `eval.<dataset>.<recipe>.k<k>` -> `{ value, unit, std, n, note }`, value = mean accuracy in
 * [0, 1] over seeds, std = sample standard deviation over seeds, n = seeds) and prints markdown
 * tables (accuracy, time per training run).
 *
 * Full run: k = 1, 5, 10 and 5 seeds for knn, tm, head; selftrain on the same seeds where there
 * are unlabeled photos (emoji k = 1, 5; fashion k = 1, 5, 10, 500 unlabeled); finetune on 3 seeds
 * at k = 5, 10. Every image's frozen forward pass (embedding + cut activation) is computed once
 * per run and cached. `--quick`: 2 seeds, fewer Fashion-MNIST test images, selftrain and finetune
 * at k = 5 on 1 seed; writes `bench/eval-quick.json` so it never overwrites a full run's figures.
 *
 * Options: --quick, --seeds N, --ks 5,10, --datasets emoji,fashion, --recipes knn,tm,head,selftrain,finetune
 * (also head-all, see scripts/eval/recipes.ts), --out FILE. Results are merged into the file: a run
 * of some recipes replaces only their figures. `--help` prints the options; bad usage prints the
 * message and the options on stderr and exits 2, as the CLI does (scripts/cli/usage.ts). Not part
 * of `npm test`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { splitBackbone, type BackboneSplit, type FrozenOutput } from '../../shared/model/backbone-split.ts';
import { augmentedViews } from '../../shared/image/augment.ts';
import { preprocess, type RgbaPixels } from '../../shared/image/preprocess.ts';
import { registerWasmGradientKernels } from '../../shared/model/wasm-grad-kernels.ts';
import { createProgress } from '../cli/progress.ts';
import { parseArgsOrUsage, reportUsageError, UsageError } from '../cli/usage.ts';
import { openBackboneModel, startRuntime } from '../cli/runtime.ts';
import { emojiDataset, fashionDataset, FASHION_INSTALL_HINT, type Dataset, type EvalImage } from './datasets.ts';
import { AUGMENTED_RECIPES, DEFAULT_RECIPES, FINE_TUNING_RECIPES, RECIPES, UNLABELED_RECIPES, runRecipe, type EvalExample, type Recipe } from './recipes.ts';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..');

interface Plan {
  seeds: number;
  ks: number[];
  fashion: { testPerClass: number; unlabeled: number };
  /** Per recipe: which ks and how many seeds (the costly ones run fewer). */
  recipes: Record<Recipe, { ks: number[]; seeds: number }>;
}

const FULL: Plan = {
  seeds: 5,
  ks: [1, 5, 10],
  fashion: { testPerClass: 100, unlabeled: 500 },
  recipes: {
    knn: { ks: [1, 5, 10], seeds: 5 },
    tm: { ks: [1, 5, 10], seeds: 5 },
    head: { ks: [1, 5, 10], seeds: 5 },
    selftrain: { ks: [1, 5, 10], seeds: 5 },
    finetune: { ks: [5, 10], seeds: 3 },
    'head-holdout': { ks: [1, 5, 10], seeds: 5 },
    'head-all': { ks: [1, 5, 10], seeds: 5 },
    'head-aug': { ks: [1, 5, 10], seeds: 5 },
    'finetune-aug': { ks: [5, 10], seeds: 3 },
    'finetune-pseudo': { ks: [5, 10], seeds: 3 },
    ensemble: { ks: [1, 5, 10], seeds: 5 },
  },
};

const QUICK: Plan = {
  seeds: 2,
  ks: [1, 5, 10],
  fashion: { testPerClass: 30, unlabeled: 200 },
  recipes: {
    knn: { ks: [1, 5, 10], seeds: 2 },
    tm: { ks: [1, 5, 10], seeds: 2 },
    head: { ks: [1, 5, 10], seeds: 2 },
    selftrain: { ks: [5], seeds: 1 },
    finetune: { ks: [5], seeds: 1 },
    'head-holdout': { ks: [1, 5, 10], seeds: 2 },
    'head-all': { ks: [1, 5, 10], seeds: 2 },
    'head-aug': { ks: [1, 5, 10], seeds: 2 },
    'finetune-aug': { ks: [5], seeds: 1 },
    'finetune-pseudo': { ks: [5], seeds: 1 },
    ensemble: { ks: [1, 5, 10], seeds: 2 },
  },
};

interface Cell {
  accuracies: number[];
  ms: number[];
}

const USAGE = `Usage: npm run eval -- [options]

  --quick             2 seeds, fewer test images; writes bench/eval-quick.json
  --seeds N           at most N seeds per recipe
  --ks 5,10           only these shots per class (of 1, 5, 10)
  --datasets emoji,fashion
  --recipes ${RECIPES.join(',')}
                      (default: ${DEFAULT_RECIPES.join(',')})
  --out FILE          where the figures are merged (default bench/eval.json)
  --help              this text`;

const DATASETS = ['emoji', 'fashion'];

/** The run's options; bad usage is a {@link UsageError}, found before the backbone loads. */
function readOptions(): { quick: boolean; plan: Plan; recipes: Recipe[]; datasetNames: string[]; outFile: string } {
  const { values } = parseArgsOrUsage(
    {
      options: {
        quick: { type: 'boolean' },
        seeds: { type: 'string' },
        datasets: { type: 'string' },
        recipes: { type: 'string' },
        out: { type: 'string' },
        ks: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    },
    USAGE,
  );
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const quick = values.quick === true;
  const plan: Plan = structuredClone(quick ? QUICK : FULL);
  if (values.seeds) {
    const n = Number(values.seeds);
    if (!(Number.isInteger(n) && n >= 1)) throw new UsageError(`--seeds must be a positive integer, got ${values.seeds}`, USAGE);
    plan.seeds = n;
    for (const r of RECIPES) plan.recipes[r].seeds = Math.min(plan.recipes[r].seeds, n);
  }
  if (values.ks) {
    const ks = values.ks.split(',').map(Number);
    if (!ks.every((k) => Number.isInteger(k) && k >= 1)) throw new UsageError(`--ks must be positive integers, got ${values.ks}`, USAGE);
    plan.ks = plan.ks.filter((k) => ks.includes(k));
  }
  const recipes = (values.recipes ? values.recipes.split(',') : [...DEFAULT_RECIPES]) as Recipe[];
  for (const r of recipes) if (!RECIPES.includes(r)) throw new UsageError(`unknown recipe ${r} (known: ${RECIPES.join(', ')})`, USAGE);
  const datasetNames = values.datasets ? values.datasets.split(',') : DATASETS;
  for (const d of datasetNames) if (!DATASETS.includes(d)) throw new UsageError(`unknown dataset ${d} (known: ${DATASETS.join(', ')})`, USAGE);
  const outFile = values.out ?? join(ROOT, 'bench', quick ? 'eval-quick.json' : 'eval.json');
  return { quick, plan, recipes, datasetNames, outFile };
}

let options: ReturnType<typeof readOptions>;
try {
  options = readOptions();
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  process.exit(reportUsageError('eval', error));
}
const { quick, plan, recipes, datasetNames, outFile } = options;
const fineTuning = recipes.some((r) => FINE_TUNING_RECIPES.includes(r));

const started = performance.now();
await startRuntime();
if (fineTuning) registerWasmGradientKernels();
const { manifest, model } = await openBackboneModel();
const backbone = manifest.backbone;
// One forward path for every recipe: the split's frozen pass gives the ordinary embedding (identical
// to Backbone.embed) and the cut activation fine-tuning starts from.
const split: BackboneSplit = splitBackbone(model, backbone, { unfreeze: 1 });
const cache = new Map<string, FrozenOutput>();
let forwardMs = 0;

/** Frozen outputs of the images not yet cached, with a progress line. */
async function ensureCached(images: readonly EvalImage[], label: string): Promise<void> {
  const missing = [...new Map(images.filter((i) => !cache.has(i.id)).map((i) => [i.id, i])).values()];
  if (!missing.length) return;
  const progress = createProgress(label, missing.length);
  for (const [n, image] of missing.entries()) {
    progress.update(n);
    const t0 = performance.now();
    const out = await split.forward(preprocess(await image.pixels(), backbone.normalization));
    forwardMs += performance.now() - t0;
    // The cut activation (31 KB an image) is only kept when fine-tuning is evaluated.
    cache.set(image.id, fineTuning ? out : { cut: new Float32Array(0), embedding: out.embedding });
  }
  progress.done(`${missing.length} images`);
}

function examples(images: readonly EvalImage[]): EvalExample[] {
  return images.map((i) => {
    const frozen = cache.get(i.id) as FrozenOutput;
    return { photoId: i.id, label: i.label, embedding: frozen.embedding, augmented: false, frozen };
  });
}

/** Augmented views per shot, as the product's examples have (shared/image/augment.ts). */
const AUGMENTED_VIEWS = 3;

/** A fixed seed per image id (FNV-1a), so an image's views are the same in every run. */
function idSeed(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The augmented views of images, as images of their own (cached by `<id>#<view>`). */
function viewImages(images: readonly EvalImage[]): (EvalImage & { photoId: string })[] {
  return images.flatMap((image) =>
    Array.from({ length: AUGMENTED_VIEWS }, (_, v) => ({
      id: `${image.id}#${v}`,
      photoId: image.id,
      label: image.label,
      pixels: async () => augmentedViews(await image.pixels(), { count: AUGMENTED_VIEWS, seed: idSeed(image.id) })[v] as RgbaPixels,
    })),
  );
}

/** Shots plus their augmented views (views carry their photo's id). */
function augmentedExamples(images: readonly EvalImage[]): EvalExample[] {
  const views = viewImages(images).map((v) => {
    const frozen = cache.get(v.id) as FrozenOutput;
    return { photoId: v.photoId, label: v.label, embedding: frozen.embedding, augmented: true, frozen };
  });
  return [...examples(images), ...views];
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
const key = (dataset: string, recipe: Recipe, k: number): string => `eval.${dataset}.${recipe}.k${k}`;
for (const dataset of datasets) {
  for (let seed = 0; seed < plan.seeds; seed++) {
    const wanted = recipes.filter((r) => seed < plan.recipes[r].seeds);
    const ks = plan.ks.filter((k) => wanted.some((r) => plan.recipes[r].ks.includes(k)));
    if (!ks.length) continue;
    const fewShot = dataset.split(seed, plan.ks);
    const needsUnlabeled = wanted.some((r) => UNLABELED_RECIPES.includes(r));
    const needsViews = wanted.some((r) => AUGMENTED_RECIPES.includes(r));
    const images = [
      ...fewShot.test,
      ...ks.flatMap((k) => fewShot.shots.get(k) ?? []),
      ...(needsUnlabeled ? ks.flatMap((k) => fewShot.unlabeled.get(k) ?? []) : []),
      ...(needsViews ? viewImages([...new Map(ks.flatMap((k) => fewShot.shots.get(k) ?? []).map((i) => [i.id, i])).values()]) : []),
    ];
    await ensureCached(images, `${dataset.name} seed ${seed}: forward`);
    const test = examples(fewShot.test);
    for (const k of ks) {
      const train = examples(fewShot.shots.get(k) ?? []);
      const unlabeledImages = fewShot.unlabeled.get(k);
      for (const recipe of wanted) {
        if (!plan.recipes[recipe].ks.includes(k)) continue;
        const usesUnlabeled = UNLABELED_RECIPES.includes(recipe);
        if (usesUnlabeled && !unlabeledImages) continue;
        const t0 = performance.now();
        const shots = AUGMENTED_RECIPES.includes(recipe) ? augmentedExamples(fewShot.shots.get(k) ?? []) : train;
        const outcome = await runRecipe(recipe, shots, test, usesUnlabeled ? examples(unlabeledImages ?? []) : [], {
          backbone,
          classes: dataset.classes,
          seed,
          split,
        });
        const ms = performance.now() - t0;
        const accuracy = outcome.predicted.filter((p, i) => p === (test[i] as EvalExample).label).length / test.length;
        const cell = cells.get(key(dataset.name, recipe, k)) ?? { accuracies: [], ms: [] };
        cell.accuracies.push(accuracy);
        cell.ms.push(ms);
        cells.set(key(dataset.name, recipe, k), cell);
        console.error(
          `[${dataset.name} seed ${seed} k=${k}] ${recipe.padEnd(9)} ${(100 * accuracy).toFixed(1).padStart(5)}%  ` +
            `${(ms / 1000).toFixed(1).padStart(6)} s${outcome.detail ? `  ${outcome.detail}` : ''}`,
        );
      }
    }
  }
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: readonly number[]): number => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));

const results: Record<string, { value: number; unit: string; std: number; n: number; note: string }> = {};
for (const [name, cell] of [...cells].sort(([a], [b]) => (a < b ? -1 : 1))) {
  results[name] = {
    value: Number(mean(cell.accuracies).toFixed(4)),
    unit: 'accuracy',
    std: Number(std(cell.accuracies).toFixed(4)),
    n: cell.accuracies.length,
    note: `mean over seeds of test accuracy; ${(mean(cell.ms) / 1000).toFixed(1)} s per training run${quick ? '; --quick' : ''}`,
  };
}
// Merged into the file, as bench/lib.ts does: a run of some recipes keeps the others' figures.
const previous = existsSync(outFile) ? (JSON.parse(readFileSync(outFile, 'utf8')) as Record<string, unknown>) : {};
const merged: Record<string, unknown> = { ...previous, ...results };
writeFileSync(outFile, JSON.stringify(Object.fromEntries(Object.keys(merged).sort().map((k) => [k, merged[k]])), null, 2) + '\n');

// Markdown: accuracy (%) mean ± std (seeds), then seconds per training run.
const columns = datasets.flatMap((d) => plan.ks.map((k) => ({ dataset: d.name, k })));
const table = (title: string, cellText: (c: Cell) => string): string[] => [
  `| ${title} | ${columns.map((c) => `${c.dataset} k=${c.k}`).join(' | ')} |`,
  `|---|${columns.map(() => '---|').join('')}`,
  ...recipes.map((r) => `| ${r} | ${columns.map((c) => {
    const cell = cells.get(key(c.dataset, r, c.k));
    return cell ? cellText(cell) : '-';
  }).join(' | ')} |`),
];
const lines = [
  '',
  `Accuracy %, mean ± std over seeds (seeds in parentheses). Embedding: the product's 2,816 floats (${backbone.embedding.parts.map((p) => p.name).join(' + ')}).`,
  '',
  ...table('recipe', (c) => `${(100 * mean(c.accuracies)).toFixed(1)} ± ${(100 * std(c.accuracies)).toFixed(1)} (${c.accuracies.length})`),
  '',
  'Seconds per training run (mean):',
  '',
  ...table('recipe', (c) => (mean(c.ms) / 1000).toFixed(1)),
  '',
  `${cache.size} images through the backbone once (${(forwardMs / 1000).toFixed(0)} s); total ${((performance.now() - started) / 60000).toFixed(1)} min; wrote ${outFile}`,
];
console.log(lines.join('\n'));
process.exit(0);
