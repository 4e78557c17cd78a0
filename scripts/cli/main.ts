/**
 * `tannerin`: the operator CLI. Embeds ImageFolders, trains personal heads (optionally with
 * unlabeled photos, or fine-tuning the backbone's top), and evaluates heads, on the same shared
 * pipeline and WASM SIMD backend as the Worker and the browser.
 *
 * Run it as `npx tannerin ...` in the checkout (scripts/tannerin.mjs starts this file under the
 * project's Node 22 with tsx) or `npx tsx scripts/cli/main.ts ...`.
 *
 * Exit codes: 0 success; 1 bad data or a failure (message on stderr, no stack trace); 2 bad usage
 * (a missing or malformed option).
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { evalCommand, embedCommand, trainCommand } from './commands.ts';
import { Output } from './output.ts';
import { DataError } from '../image-folder.ts';
import { DEFAULT_URL, publishCommand } from './publish-command.ts';

const USAGE = `Usage: tannerin <command> [options]

Commands:
  embed    --data DIR --out FILE.jsonl
           One JSON line per image: {"path", "label", "embedding"}.
  train    --data DIR --out HEAD_DIR [--recipe head|finetune] [--unlabeled DIR]
           [--epochs N] [--seed S] [--name NAME]
           [--threshold P] [--rounds R]     self-training with --unlabeled (defaults 0.8, 3)
           [--unfreeze 1|2]                 backbone blocks fine-tuned with --recipe finetune (default 1)
           Trains a head and writes HEAD_DIR/{model.json,weights.bin,head.json}.
  eval     --head HEAD_DIR --data DIR
           Accuracy, per-class accuracy and confusion matrix of a head on labeled images.
  publish  --head HEAD_DIR --as NAME [--url URL] [--replace]
           Uploads a plain head as default head NAME of a deployment (operator API; token from
           TANNERIN_OPERATOR_TOKEN; URL default http://127.0.0.1:8787). A shipped or already
           published NAME needs --replace.

Options for every command:
  --json    print results as one JSON object, the last line of stdout (other output goes to stderr)
  --quiet   no progress output
  --help    this text (tannerin --version: versions)

DIR is an ImageFolder: DIR/<class name>/*.png|jpg|jpeg (--unlabeled: images anywhere below DIR).
Exit codes: 0 success, 1 bad data or failure, 2 bad usage.`;

/** Bad command-line usage: printed with a pointer to --help, exit code 2. */
class UsageError extends Error {}

const COMMON = {
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const OPTIONS = {
  embed: { ...COMMON, data: { type: 'string' }, out: { type: 'string' } },
  train: {
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
  },
  eval: { ...COMMON, head: { type: 'string' }, data: { type: 'string' } },
  publish: { ...COMMON, head: { type: 'string' }, as: { type: 'string' }, url: { type: 'string' }, replace: { type: 'boolean' } },
} as const satisfies Record<string, ParseArgsConfig['options']>;

type Command = keyof typeof OPTIONS;
type Values = Record<string, string | boolean | undefined>;

function required(values: Values, name: string, command: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`${command} needs --${name}`);
  return value;
}

function integer(values: Values, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!(typeof raw === 'string' && /^-?\d+$/.test(raw) && n >= min && n <= max)) {
    throw new UsageError(`--${name} must be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}, got "${String(raw)}"`);
  }
  return n;
}

function probability(values: Values, name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!(typeof raw === 'string' && raw.trim() !== '' && n > 0 && n <= 1)) throw new UsageError(`--${name} must be a number in (0, 1], got "${String(raw)}"`);
  return n;
}

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`tannerin ${pkg.version} (Node ${process.version})\n`);
    return 0;
  }
  if (!(name in OPTIONS)) throw new UsageError(`unknown command "${name}"`);
  const command = name as Command;
  let values: Values;
  try {
    const options: ParseArgsConfig['options'] = OPTIONS[command];
    values = parseArgs({ args: rest, options, strict: true, allowPositionals: false }).values as Values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const out = new Output(values.json === true, values.quiet === true);

  switch (command) {
    case 'embed':
      await embedCommand({ data: required(values, 'data', 'embed'), out: required(values, 'out', 'embed') }, out);
      return 0;
    case 'train': {
      const recipe = values.recipe ?? 'head';
      if (recipe !== 'head' && recipe !== 'finetune') throw new UsageError(`--recipe must be head or finetune, got "${String(recipe)}"`);
      const unfreeze = integer(values, 'unfreeze', 1, 2) ?? 1;
      if (recipe === 'head' && values.unfreeze !== undefined) throw new UsageError('--unfreeze goes with --recipe finetune');
      if (recipe === 'finetune' && values.unlabeled !== undefined) {
        throw new UsageError('--unlabeled (self-training) goes with --recipe head; fine-tuning with unlabeled photos is not supported yet');
      }
      if (values.unlabeled === undefined && (values.threshold !== undefined || values.rounds !== undefined)) {
        throw new UsageError('--threshold and --rounds go with --unlabeled (self-training)');
      }
      const epochs = integer(values, 'epochs', 1, 10_000);
      const threshold = probability(values, 'threshold');
      const rounds = integer(values, 'rounds', 0, 100);
      await trainCommand(
        {
          data: required(values, 'data', 'train'),
          out: required(values, 'out', 'train'),
          recipe,
          seed: integer(values, 'seed', 0, 0x7fffffff) ?? 0,
          unfreeze: unfreeze as 1 | 2,
          ...(typeof values.unlabeled === 'string' ? { unlabeled: values.unlabeled } : {}),
          ...(epochs === undefined ? {} : { epochs }),
          ...(typeof values.name === 'string' ? { name: values.name } : {}),
          ...(threshold === undefined ? {} : { threshold }),
          ...(rounds === undefined ? {} : { rounds }),
        },
        out,
      );
      return 0;
    }
    case 'eval':
      await evalCommand({ head: required(values, 'head', 'eval'), data: required(values, 'data', 'eval') }, out);
      return 0;
    case 'publish':
      await publishCommand(
        {
          head: required(values, 'head', 'publish'),
          as: required(values, 'as', 'publish'),
          url: typeof values.url === 'string' ? values.url : DEFAULT_URL,
          replace: values.replace === true,
        },
        out,
      );
      return 0;
  }
}

async function main(): Promise<void> {
  let code: number;
  try {
    code = await run(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`tannerin: ${error.message}\nRun \`tannerin --help\` for usage.\n`);
      code = 2;
    } else if (error instanceof DataError || error instanceof RangeError) {
      // RangeErrors come from shared/ validating data (too few photos, bad labels): user-fixable.
      process.stderr.write(`tannerin: error: ${error.message}\n`);
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
