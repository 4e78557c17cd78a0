/**
 * `npm run eval`'s options (scripts/eval/main.ts describes them): the run's plan (seeds, ks and
 * per-recipe limits), the usage text and the parsing of the command line.
 */
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgsOrUsage, UsageError } from '../cli/usage.ts';
import { installedManifest } from '../cli/runtime.ts';
import { servedBackbones } from '../../shared/model/manifest.ts';
import { TARGET_SCORES, type AskRules, type AskWeights } from '../../shared/learn/ask.ts';
import { CROP_METHODS, type CropMethod, type CropSettings } from './clutter-protocol.ts';
import type { SceneDesign } from './clutter.ts';
import { APP_LEVERS, DEFAULT_RECIPES, FINE_TUNING_RECIPES, PAIR_RECIPES, RECIPES, type Recipe } from './recipes.ts';

/** The repository's root. */
export const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..');

/** What a run covers. */
export interface Plan {
  seeds: number;
  /** The first seed (0; 5 with --confirm). */
  firstSeed: number;
  ks: number[];
  fashion: { testPerClass: number; testOffset: number; unlabeled: number };
  /** Per recipe: which ks and how many seeds (the costly ones run fewer). */
  recipes: Record<Recipe, RecipePlan>;
}

/** One recipe's share of a run: which ks and how many seeds. */
interface RecipePlan {
  ks: number[];
  seeds: number;
}

/**
 * Every recipe at `usual`, the `costly` ones at `costlyPlan` (fewer ks and seeds), and the app's
 * levers (recipes.ts APP_LEVERS) where the goals are judged: k = 10, on `usual`'s seeds.
 */
function recipePlans(usual: RecipePlan, costly: readonly Recipe[], costlyPlan: RecipePlan): Record<Recipe, RecipePlan> {
  const levers: readonly Recipe[] = APP_LEVERS;
  const plan = (r: Recipe): RecipePlan => (levers.includes(r) ? { ks: [10], seeds: usual.seeds } : costly.includes(r) ? costlyPlan : usual);
  return Object.fromEntries(RECIPES.map((r) => [r, structuredClone(plan(r))])) as Record<Recipe, RecipePlan>;
}

const FULL: Plan = {
  seeds: 5,
  firstSeed: 0,
  ks: [1, 5, 10],
  fashion: { testPerClass: 100, testOffset: 0, unlabeled: 500 },
  // Fine-tuning recomputes every forward pass for its cut activations.
  recipes: recipePlans({ ks: [1, 5, 10], seeds: 5 }, FINE_TUNING_RECIPES, { ks: [5, 10], seeds: 3 }),
};

const QUICK: Plan = {
  seeds: 2,
  firstSeed: 0,
  ks: [1, 5, 10],
  fashion: { testPerClass: 30, testOffset: 0, unlabeled: 200 },
  recipes: recipePlans({ ks: [1, 5, 10], seeds: 2 }, ['selftrain', ...FINE_TUNING_RECIPES], { ks: [5], seeds: 1 }),
};

const USAGE = `Usage: npm run eval -- [options]

  --quick             2 seeds, fewer test images; writes bench/eval-quick.json
  --confirm           the confirmation data: seeds 5-9, Fashion-MNIST t10k images
                      100-199 of each class; keys end in .confirm
  --seeds N           at most N seeds per recipe
  --ks 5,10           only these shots per class (of 1, 5, 10)
  --datasets emoji,fashion
  --backbones ID,...  installed backbones to run (default: all, then all together
                      as A+B; without --recipes the others run app, knn and head
                      only, and A+B app only);
                      keys of another carry it: <recipe>@<backbone id>; A+B is
                      both backbones' embeddings concatenated (app-avg: one head each)
  --recipes ${RECIPES.join(',')}
                      (default: ${DEFAULT_RECIPES.join(',')})
                      (the first is compared with each other one, paired by seed;
                      none: no recipe, e.g. with --asked for the protocol alone)
  --levers            also the app's levers (k = 10), selftrain and finetune
                      (on MobileNetV2); the default run leaves them out to stay
                      short with a cold embedding cache (README: CLI and evaluation)
  --asked             also the fixed-budget protocol (scripts/eval/asked.ts): the
                      labels the app asks for against random labels, from 1 photo
                      a class to k = 5 (emoji) and 5, 10 (fashion), MobileNetV2
  --clutter           also the clutter protocol (scripts/eval/clutter-protocol.ts):
                      app at k = 10 on cluttered scenes of the same splits, on the
                      whole scene, feature-map crops and detector crops (MobileNetV2)
  --crop-threshold T, --crop-pad P, --crop-min-score S, --crop-layer NAME
                      the clutter protocol's boxes made otherwise (defaults 0.5,
                      0.15, 0.3, out_relu; scripts/eval/clutter-protocol.ts); need --out
  --clutter-contrast C, --clutter-no-distractors, --clutter-clean
                      the clutter scenes made otherwise: the background's contrast
                      (0..1, default 0.3), no distractors, or no scene (the clean
                      images, framed the same ways) (scripts/eval/clutter.ts); need --out
  --clutter-methods clean,none,featuremap,detector,oracle,...
                      only these ways of framing a scene; the class-aware ones
                      (cam, cam-max, cam-vote, cam-avg, cam-window, cam-mil,
                      coloc, grid, grid-mil, grid-knows; taught-grid,
                      taught-grid-pad, taught-grid-fine: teaching boxes fixed
                      by the person; distinct, distinct-14, distinct-28:
                      distinctiveness boxes; objectness, objectness-cat,
                      objectness-cat3: learned objectness boxes) run only when named
  --ask-weights U,V,W[,B] chooseToAsk's exponents (uncertainty, novelty, density,
                      balance) for measuring another choice; needs --out
  --ask-rules NAME=X,...  chooseToAsk's rules for measuring another choice
                      (classSlack, balanceUntil, typicalUntil, targetUntil: numbers >= 0 or
                      Infinity; targetBy: score, probability, similarity,
                      probabilityDensity; shared/learn/ask.ts); needs --out
  --out FILE          where the figures are merged (default bench/eval.json)
  --cache-dir DIR     where embeddings are cached (default .cache/eval)
  --no-cache          neither read nor write the embeddings cached on disk
  --jobs N            threads for the frozen passes not found on disk, each with
                      its own copy of the backbone (default: the number of cores,
                      ${availableParallelism()} here; 1: all in one thread)
  --help              this text`;

const DATASETS = ['emoji', 'fashion'];

/**
 * What `--levers` adds to the recipes: the app's levers (k = 10) and the costlier recipes of ours
 * (self-training reads 500 unlabeled Fashion-MNIST images a seed; fine-tuning recomputes every
 * forward pass for its cut activations).
 */
const LEVER_RECIPES: readonly Recipe[] = ['selftrain', 'finetune', ...APP_LEVERS];

/** The run's options; bad usage is a {@link UsageError}, found before the backbone loads. */
export function readOptions(): {
  quick: boolean;
  confirm: boolean;
  diskCache: boolean;
  plan: Plan;
  recipes: Recipe[];
  /** Whether --recipes chose them (else the defaults, lighter on a backbone other than the default). */
  recipesGiven: boolean;
  /** --levers: also the app's levers and the costlier recipes ({@link LEVER_RECIPES}). */
  levers: boolean;
  /** --asked: also the fixed-budget protocol (scripts/eval/asked.ts). */
  asked: boolean;
  /** --clutter: also the clutter protocol (scripts/eval/clutter-protocol.ts). */
  clutter: boolean;
  /** --crop-*: the clutter protocol's box settings, when not its defaults. */
  crop: Partial<CropSettings> | undefined;
  /** --clutter-contrast, --clutter-no-distractors: the clutter scenes' design, when not its defaults. */
  design: Partial<SceneDesign> | undefined;
  /** --clutter-methods: only these framings. */
  clutterMethods: CropMethod[] | undefined;
  /** --ask-weights: chooseToAsk's exponents in the protocol (default: the app's). */
  askWeights: AskWeights | undefined;
  /** --ask-rules: chooseToAsk's rules in the protocol (default: the app's). */
  askRules: AskRules | undefined;
  /** Folder of the embeddings cached on disk (scripts/eval/embedding-cache.ts). */
  cacheDir: string;
  /** Threads for the frozen passes (--jobs; scripts/eval/parallel-embed.ts). */
  jobs: number;
  /** Whether this is the default run (no option that changes what runs: only --out, --cache-dir, --jobs). */
  defaultRun: boolean;
  datasetNames: string[];
  backboneIds: string[];
  outFile: string;
} {
  const { values } = parseArgsOrUsage(
    {
      options: {
        quick: { type: 'boolean' },
        confirm: { type: 'boolean' },
        'no-cache': { type: 'boolean' },
        'cache-dir': { type: 'string' },
        jobs: { type: 'string' },
        levers: { type: 'boolean' },
        asked: { type: 'boolean' },
        clutter: { type: 'boolean' },
        'crop-threshold': { type: 'string' },
        'crop-pad': { type: 'string' },
        'crop-min-score': { type: 'string' },
        'crop-layer': { type: 'string' },
        'clutter-contrast': { type: 'string' },
        'clutter-no-distractors': { type: 'boolean' },
        'clutter-clean': { type: 'boolean' },
        'clutter-methods': { type: 'string' },
        'ask-weights': { type: 'string' },
        'ask-rules': { type: 'string' },
        seeds: { type: 'string' },
        datasets: { type: 'string' },
        recipes: { type: 'string' },
        backbones: { type: 'string' },
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
  const confirm = values.confirm === true;
  if (confirm) {
    plan.firstSeed = 5;
    plan.fashion.testOffset = 100;
  }
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
  // `none`: no recipe (with --asked, the protocol alone).
  const recipes = (values.recipes === 'none' ? [] : values.recipes ? values.recipes.split(',') : [...DEFAULT_RECIPES]) as Recipe[];
  for (const r of recipes) if (!RECIPES.includes(r)) throw new UsageError(`unknown recipe ${r} (known: ${RECIPES.join(', ')})`, USAGE);
  const datasetNames = values.datasets ? values.datasets.split(',') : DATASETS;
  for (const d of datasetNames) if (!DATASETS.includes(d)) throw new UsageError(`unknown dataset ${d} (known: ${DATASETS.join(', ')})`, USAGE);
  const backboneIds = values.backbones ? values.backbones.split(',') : [];
  if (backboneIds.length) {
    // A served pair (`members`) is not a backbone to run: `A+B` names it.
    const installed = servedBackbones(installedManifest()).filter((b) => !b.members).map((b) => b.id);
    for (const id of backboneIds.flatMap((b) => b.split('+'))) if (!installed.includes(id)) throw new UsageError(`backbone ${id} is not installed (installed: ${installed.join(', ')}; see TANNERIN_BACKBONES in the README)`, USAGE);
    const tuning = recipes.filter((r) => FINE_TUNING_RECIPES.includes(r));
    if (tuning.length && backboneIds.some((id) => id !== installed[0])) throw new UsageError(`${tuning.join(', ')} run on ${installed[0] ?? 'the default backbone'} only`, USAGE);
  }
  const pairOnly = recipes.filter((r) => PAIR_RECIPES.includes(r));
  if (pairOnly.length && !backboneIds.some((id) => id.includes('+'))) throw new UsageError(`${pairOnly.join(', ')} need a pair of backbones: --backbones A+B`, USAGE);
  // Added after the checks above: each runs where it can (finetune on the default backbone,
  // app-avg on a pair) and is skipped elsewhere.
  const levers = values.levers === true;
  if (levers) recipes.push(...LEVER_RECIPES.filter((r) => !recipes.includes(r)));
  let askWeights: AskWeights | undefined;
  if (values['ask-weights'] !== undefined) {
    const w = values['ask-weights'].split(',').map(Number);
    if (!((w.length === 3 || w.length === 4) && w.every((x) => Number.isFinite(x) && x >= 0))) throw new UsageError(`--ask-weights must be three or four numbers >= 0, got ${values['ask-weights']}`, USAGE);
    if (values.out === undefined) throw new UsageError('--ask-weights measures another choice than the app\'s: give --out, so bench/eval.json keeps the app\'s figures', USAGE);
    askWeights = { uncertainty: w[0] as number, novelty: w[1] as number, density: w[2] as number, balance: w[3] ?? 0 };
  }
  let askRules: AskRules | undefined;
  if (values['ask-rules'] !== undefined) {
    const rules: AskRules = {};
    for (const part of values['ask-rules'].split(',')) {
      const [name = '', text = ''] = part.split('=');
      if (name === 'targetBy') {
        const by = TARGET_SCORES.find((t) => t === text);
        if (by === undefined) throw new UsageError(`--ask-rules targetBy takes ${TARGET_SCORES.join(', ')}, got ${text}`, USAGE);
        rules.targetBy = by;
        continue;
      }
      const x = Number(text);
      if (!(['classSlack', 'balanceUntil', 'typicalUntil', 'targetUntil'].includes(name) && x >= 0)) throw new UsageError(`--ask-rules takes classSlack, balanceUntil, typicalUntil, targetUntil = a number >= 0, got ${part}`, USAGE);
      rules[name as 'classSlack' | 'balanceUntil' | 'typicalUntil' | 'targetUntil'] = x;
    }
    if (values.out === undefined) throw new UsageError('--ask-rules measures another choice than the app\'s: give --out, so bench/eval.json keeps the app\'s figures', USAGE);
    askRules = rules;
  }
  let crop: Partial<CropSettings> | undefined;
  for (const [flag, field] of [['crop-threshold', 'threshold'], ['crop-pad', 'pad'], ['crop-min-score', 'minScore']] as const) {
    if (values[flag] === undefined) continue;
    const x = Number(values[flag]);
    if (!(Number.isFinite(x) && x >= 0 && x <= 1)) throw new UsageError(`--${flag} must be a number in [0, 1], got ${values[flag]}`, USAGE);
    if (values.out === undefined) throw new UsageError(`--${flag} measures other boxes than the protocol's: give --out, so bench/eval.json keeps the protocol's figures`, USAGE);
    crop = { ...crop, [field]: x };
  }
  if (values['crop-layer'] !== undefined) {
    if (values.out === undefined) throw new UsageError('--crop-layer measures other boxes than the protocol\'s: give --out, so bench/eval.json keeps the protocol\'s figures', USAGE);
    crop = { ...crop, layer: values['crop-layer'] };
  }
  let design: Partial<SceneDesign> | undefined;
  if (values['clutter-contrast'] !== undefined) {
    const c = Number(values['clutter-contrast']);
    if (!(Number.isFinite(c) && c >= 0 && c <= 1)) throw new UsageError(`--clutter-contrast must be a number in [0, 1], got ${values['clutter-contrast']}`, USAGE);
    design = { contrast: c };
  }
  if (values['clutter-no-distractors']) design = { ...design, distractors: false };
  if (values['clutter-clean']) design = { ...design, clean: true };
  if (design && values.out === undefined) throw new UsageError('--clutter-contrast, --clutter-no-distractors and --clutter-clean measure other scenes than the protocol\'s: give --out, so bench/eval.json keeps the protocol\'s figures', USAGE);
  const clutterMethods = values['clutter-methods']?.split(',') as CropMethod[] | undefined;
  for (const m of clutterMethods ?? []) if (!CROP_METHODS.includes(m)) throw new UsageError(`unknown framing ${m} (known: ${CROP_METHODS.join(', ')})`, USAGE);
  const jobs = values.jobs === undefined ? availableParallelism() : Number(values.jobs);
  if (!(Number.isInteger(jobs) && jobs >= 1)) throw new UsageError(`--jobs must be a positive integer, got ${values.jobs}`, USAGE);
  // Resolved, so `--out bench/eval.json` is the published file too (main.ts compares paths).
  const outFile = values.out !== undefined ? resolve(values.out) : join(ROOT, 'bench', quick ? 'eval-quick.json' : 'eval.json');
  const cacheDir = values['cache-dir'] ?? join(ROOT, '.cache', 'eval');
  const defaultRun = [values.quick, values.confirm, values['no-cache'], values.seeds, values.datasets, values.recipes, values.backbones, values.ks, values.levers, values.asked, values.clutter, crop, design, clutterMethods, values['ask-weights'], values['ask-rules']].every((v) => v === undefined);
  return { quick, confirm, diskCache: values['no-cache'] !== true, plan, recipes, recipesGiven: values.recipes !== undefined, levers, asked: values.asked === true || askWeights !== undefined || askRules !== undefined, clutter: values.clutter === true || crop !== undefined || design !== undefined || clutterMethods !== undefined, crop, design, clutterMethods, askWeights, askRules, cacheDir, jobs, defaultRun, datasetNames, backboneIds, outFile };
}

