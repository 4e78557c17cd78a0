/**
 * `tannerin`: the operator CLI. Embeds ImageFolders, trains personal heads (optionally with
 * unlabeled photos, or fine-tuning the backbone's top), and evaluates heads, on the same shared
 * pipeline and WASM SIMD backend as the Worker and the browser.
 *
 * Run it as `npx tannerin ...` in the checkout (scripts/tannerin.mjs starts this file under the
 * project's Node 22 with tsx) or `npx tsx scripts/cli/main.ts ...`.
 *
 * The arguments are read before anything heavy loads: this file imports only Node built-ins and
 * the output and usage helpers, and each command imports its module (TF.js, the WASM backend, the model
 * runtime) when it runs, so `--help` and bad usage answer at once.
 *
 * Exit codes: 0 success; 1 bad data or a failure (message on stderr, no stack trace); 2 bad usage
 * (a missing or malformed option; the usage follows the message on stderr).
 */
import { readFileSync } from 'node:fs';
import type { ParseArgsConfig } from 'node:util';
import { DEFAULT_FEATURE_MAP_CROP, MAX_CROP_PAD, type FeatureMapCrop } from '../../shared/head/crop.ts';
import type { TrainArgs } from './command-args.ts';
import { Output } from './output.ts';
import { parseArgsOrUsage, reportUsageError, UsageError } from './usage.ts';

const COMMON_HELP = `Options for every command:
  --json    print results as one JSON object, the last line of stdout (other output goes to stderr)
  --quiet   no progress output
  --help    this command's help`;

const USAGE = `Usage: tannerin <command> [options]

Commands:
  embed    --data DIR --out FILE.jsonl
           One JSON line per image: {"path", "label", "embedding"}.
  train    --data DIR --out HEAD_DIR [--recipe head|finetune] [--unlabeled DIR] [--epochs N] ...
           Trains a head and writes HEAD_DIR/{model.json,weights.bin,head.json}.
  eval     --head HEAD_DIR --data DIR
           Accuracy, per-class accuracy and confusion matrix of a head on labeled images.
  publish  --head HEAD_DIR --as NAME [--url URL] [--replace]
           Uploads a head as a default head of a deployment (operator API).

Run \`tannerin <command> --help\` (or \`tannerin help <command>\`) for a command's options.

Options for every command:
  --json    print results as one JSON object, the last line of stdout (other output goes to stderr)
  --quiet   no progress output
  --help    the command's help (tannerin --help: this text; tannerin --version: versions)

DIR is an ImageFolder: DIR/<class name>/*.png|jpg|jpeg (--unlabeled: images anywhere below DIR).
Exit codes: 0 success, 1 bad data or failure, 2 bad usage.`;

const EMBED_HELP = `Usage: tannerin embed --data DIR --out FILE.jsonl [--json] [--quiet]

Embeds every image of an ImageFolder with the installed backbone and writes one JSON line per
image: {"path", "label", "embedding"}.

  --data DIR          an ImageFolder: DIR/<class name>/*.png|jpg|jpeg
  --out FILE.jsonl    where the lines go (missing folders are made)

${COMMON_HELP}`;

const TRAIN_HELP = `Usage: tannerin train --data DIR --out HEAD_DIR [options]

Trains a head on an ImageFolder and writes HEAD_DIR/{model.json,weights.bin,head.json}
(a fine-tuned model adds HEAD_DIR/tail/).

  --data DIR          an ImageFolder with at least 2 classes: DIR/<class name>/*.png|jpg|jpeg
  --out HEAD_DIR      where the head goes
  --recipe head|finetune
                      head (default): a head on the frozen backbone's embedding;
                      finetune: the backbone's top block(s) and the head
  --unfreeze 1|2      backbone blocks fine-tuned with --recipe finetune (default 1)
  --unlabeled DIR     self-training with the images anywhere below DIR (--recipe head)
  --threshold P       self-training: confidence a pseudo-label needs, in (0, 1] (default 0.8)
  --rounds R          self-training: most rounds (default 3)
  --epochs N          most training epochs (default: the recipe's)
  --seed S            random seed (default 0)
  --name NAME         the head's name (default: its class names)
  --crop featuremap   train on crops: each photo cut to the box its most active
                      backbone feature-map cells give (one more backbone pass a
                      photo); the head records it, and predicts photos' crops in the
                      app, at the edge and in \`tannerin eval\` (--recipe head)
  --crop-layer L      the feature map (default out_relu)
  --crop-threshold T  fraction of the strongest cell a cell needs, in (0, 1] (default 0.5)
  --crop-pad P        growth on every side, a fraction of the box, in [0, 1] (default 0.15)

${COMMON_HELP}`;

const EVAL_HELP = `Usage: tannerin eval --head HEAD_DIR --data DIR [--json] [--quiet]

Accuracy, per-class accuracy and confusion matrix of a head (plain or fine-tuned) on labeled
images.

  --head HEAD_DIR     a folder written by tannerin train (head.json, or model.json + weights)
  --data DIR          an ImageFolder whose class names the head knows

${COMMON_HELP}`;

const PUBLISH_HELP = `Usage: tannerin publish --head HEAD_DIR --as NAME [--url URL] [--replace] [--json] [--quiet]

Uploads a head as default head NAME of a deployment through the operator API. The token comes
from TANNERIN_OPERATOR_TOKEN (never an option: shells keep command lines in their history).

  --head HEAD_DIR     the head's folder
  --as NAME           lowercase words joined by hyphens, at most 64 characters (e.g. emoji-kinds)
  --url URL           the deployment (default http://127.0.0.1:8787, where \`npm start\` serves)
  --replace           needed when NAME is shipped or already published

${COMMON_HELP}`;

const COMMON = {
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

/** Each command's options (for node:util parseArgs) and help text. */
const COMMANDS = {
  embed: { help: EMBED_HELP, options: { ...COMMON, data: { type: 'string' }, out: { type: 'string' } } },
  train: {
    help: TRAIN_HELP,
    options: {
      ...COMMON,
      data: { type: 'string' },
      out: { type: 'string' },
      recipe: { type: 'string' },
      unlabeled: { type: 'string' },
      epochs: { type: 'string' },
      seed: { type: 'string' },
      name: { type: 'string' },
      threshold: { type: 'string' },
      rounds: { type: 'string' },
      unfreeze: { type: 'string' },
      crop: { type: 'string' },
      'crop-layer': { type: 'string' },
      'crop-threshold': { type: 'string' },
      'crop-pad': { type: 'string' },
    },
  },
  eval: { help: EVAL_HELP, options: { ...COMMON, head: { type: 'string' }, data: { type: 'string' } } },
  publish: {
    help: PUBLISH_HELP,
    options: { ...COMMON, head: { type: 'string' }, as: { type: 'string' }, url: { type: 'string' }, replace: { type: 'boolean' } },
  },
} as const satisfies Record<string, { help: string; options: ParseArgsConfig['options'] }>;

type Command = keyof typeof COMMANDS;
type Values = Record<string, string | boolean | undefined>;

function isCommand(name: string): name is Command {
  return Object.hasOwn(COMMANDS, name);
}

function required(values: Values, name: string, command: Command): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`${command} needs --${name}`, COMMANDS[command].help);
  return value;
}

function integer(values: Values, name: string, command: Command, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!(typeof raw === 'string' && /^-?\d+$/.test(raw) && n >= min && n <= max)) {
    throw new UsageError(`--${name} must be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}, got "${String(raw)}"`, COMMANDS[command].help);
  }
  return n;
}

function probability(values: Values, name: string, command: Command): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!(typeof raw === 'string' && raw.trim() !== '' && n > 0 && n <= 1)) {
    throw new UsageError(`--${name} must be a number in (0, 1], got "${String(raw)}"`, COMMANDS[command].help);
  }
  return n;
}

/** `--crop featuremap` and its settings (defaults: shared/head/crop.ts DEFAULT_FEATURE_MAP_CROP), or undefined without `--crop`. */
function cropArgs(values: Values, usage: string): FeatureMapCrop | undefined {
  const method = values.crop;
  const settings = ['crop-layer', 'crop-threshold', 'crop-pad'].filter((k) => values[k] !== undefined);
  if (method === undefined) {
    if (settings.length) throw new UsageError(`${settings.map((k) => `--${k}`).join(', ')} go(es) with --crop featuremap`, usage);
    return undefined;
  }
  if (method === 'detector') throw new UsageError('--crop detector is not available yet: detector crops run in the browser only (issue 17); use --crop featuremap', usage);
  if (method !== 'featuremap') throw new UsageError(`--crop must be featuremap, got "${String(method)}"`, usage);
  const number = (name: string, fallback: number, ok: (n: number) => boolean, range: string): number => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!(typeof raw === 'string' && raw.trim() !== '' && ok(n))) throw new UsageError(`--${name} must be a number in ${range}, got "${String(raw)}"`, usage);
    return n;
  };
  const layer = values['crop-layer'];
  if (layer !== undefined && (typeof layer !== 'string' || !/^[A-Za-z0-9_.\-/]{1,100}$/.test(layer))) throw new UsageError(`--crop-layer must be a backbone layer name, got "${String(layer)}"`, usage);
  return {
    method: 'featuremap',
    layer: layer ?? DEFAULT_FEATURE_MAP_CROP.layer,
    threshold: number('crop-threshold', DEFAULT_FEATURE_MAP_CROP.threshold, (n) => n > 0 && n <= 1, '(0, 1]'),
    pad: number('crop-pad', DEFAULT_FEATURE_MAP_CROP.pad, (n) => n >= 0 && n <= MAX_CROP_PAD, `[0, ${MAX_CROP_PAD}]`),
  };
}

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) throw new UsageError('no command given', USAGE);
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = rest[0];
    if (topic === undefined) process.stdout.write(`${USAGE}\n`);
    else if (isCommand(topic)) process.stdout.write(`${COMMANDS[topic].help}\n`);
    else throw new UsageError(`unknown command "${topic}"`, USAGE);
    return 0;
  }
  if (name === '--version') {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`tannerin ${pkg.version} (Node ${process.version})\n`);
    return 0;
  }
  if (!isCommand(name)) throw new UsageError(`unknown command "${name}"`, USAGE);
  const command = name;
  const usage = COMMANDS[command].help;
  const options: ParseArgsConfig['options'] = COMMANDS[command].options;
  const values = parseArgsOrUsage({ args: rest, options, strict: true, allowPositionals: false }, usage).values as Values;
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const out = new Output(values.json === true, values.quiet === true);

  // Every check of the arguments comes before the command's module loads (TF.js takes seconds).
  switch (command) {
    case 'embed': {
      const args = { data: required(values, 'data', command), out: required(values, 'out', command) };
      await useFullTypeScript();
      const { embedCommand } = await import('./commands.ts');
      await embedCommand(args, out);
      return 0;
    }
    case 'train': {
      const recipe = values.recipe ?? 'head';
      if (recipe !== 'head' && recipe !== 'finetune') throw new UsageError(`--recipe must be head or finetune, got "${String(recipe)}"`, usage);
      const unfreeze = integer(values, 'unfreeze', command, 1, 2) ?? 1;
      if (recipe === 'head' && values.unfreeze !== undefined) throw new UsageError('--unfreeze goes with --recipe finetune', usage);
      if (recipe === 'finetune' && values.unlabeled !== undefined) {
        throw new UsageError('--unlabeled (self-training) goes with --recipe head; fine-tuning with unlabeled photos is not supported yet', usage);
      }
      if (values.unlabeled === undefined && (values.threshold !== undefined || values.rounds !== undefined)) {
        throw new UsageError('--threshold and --rounds go with --unlabeled (self-training)', usage);
      }
      const crop = cropArgs(values, usage);
      if (crop && recipe === 'finetune') throw new UsageError('--crop goes with --recipe head; fine-tuning on crops is not supported yet', usage);
      const epochs = integer(values, 'epochs', command, 1, 10_000);
      const threshold = probability(values, 'threshold', command);
      const rounds = integer(values, 'rounds', command, 0, 100);
      const args: TrainArgs = {
        data: required(values, 'data', command),
        out: required(values, 'out', command),
        recipe,
        seed: integer(values, 'seed', command, 0, 0x7fffffff) ?? 0,
        unfreeze: unfreeze as 1 | 2,
        ...(typeof values.unlabeled === 'string' ? { unlabeled: values.unlabeled } : {}),
        ...(epochs === undefined ? {} : { epochs }),
        ...(typeof values.name === 'string' ? { name: values.name } : {}),
        ...(threshold === undefined ? {} : { threshold }),
        ...(rounds === undefined ? {} : { rounds }),
        ...(crop ? { crop } : {}),
      };
      await useFullTypeScript();
      const { trainCommand } = await import('./commands.ts');
      await trainCommand(args, out);
      return 0;
    }
    case 'eval': {
      const args = { head: required(values, 'head', command), data: required(values, 'data', command) };
      await useFullTypeScript();
      const { evalCommand } = await import('./commands.ts');
      await evalCommand(args, out);
      return 0;
    }
    case 'publish': {
      const head = required(values, 'head', command);
      const as = required(values, 'as', command);
      await useFullTypeScript();
      const { DEFAULT_URL, publishCommand } = await import('./publish-command.ts');
      await publishCommand({ head, as, url: typeof values.url === 'string' ? values.url : DEFAULT_URL, replace: values.replace === true }, out);
      return 0;
    }
  }
}

let tsxRegistered = false;

/** Registers tsx's loader (once) so that the commands' modules, full TypeScript, can load. */
async function useFullTypeScript(): Promise<void> {
  if (tsxRegistered) return;
  const { register } = await import('tsx/esm/api');
  register();
  tsxRegistered = true;
}

/** Whether `error` is bad input data (a DataError): loaded only on this path, which has already loaded it. */
async function isDataError(error: unknown): Promise<boolean> {
  await useFullTypeScript();
  const { DataError } = await import('../image-folder.ts');
  return error instanceof DataError;
}

async function main(): Promise<void> {
  let code: number;
  try {
    code = await run(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      code = reportUsageError('tannerin', error);
    } else if (error instanceof RangeError || (await isDataError(error))) {
      // RangeErrors come from shared/ validating data (too few photos, bad labels): user-fixable.
      process.stderr.write(`tannerin: error: ${(error as Error).message}\n`);
      code = 1;
    } else {
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(`tannerin: failed: ${message}\n`);
      if (process.env.TANNERIN_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
      else process.stderr.write('(set TANNERIN_DEBUG=1 to see where)\n');
      code = 1;
    }
  }
  // The WASM backend keeps nothing alive, but an exit code must not depend on that.
  process.exit(code);
}

await main();
