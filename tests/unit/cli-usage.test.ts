/**
 * The `tannerin` CLI's help and usage, run as a child process through the bin launcher: help on
 * stdout with exit 0, each command's own help, usage on stderr with exit 2 on bad usage, and that
 * reading the arguments loads no TF.js (the module list of the CLI process, recorded by a load
 * hook: tests/helpers/record-loaded-modules.mjs). `npm run eval` answers bad usage the same way.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoStack, ROOT, runCli, runProcess, type CliRun } from '../helpers/cli.ts';

const COMMANDS = {
  embed: ['--data', '--out'],
  train: ['--data', '--out', '--recipe', '--unfreeze', '--unlabeled', '--threshold', '--rounds', '--epochs', '--seed', '--name'],
  eval: ['--head', '--data'],
  publish: ['--head', '--as', '--url', '--replace'],
} as const;
const COMMON_OPTIONS = ['--json', '--quiet', '--help'];

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tannerin-cli-usage-'));
  mkdirSync(join(dir, 'data', 'a'), { recursive: true });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tannerin help', () => {
  it('--help, -h and help print the general usage on stdout, exit 0', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const run = await runCli(args);
      expect(run.code, args.join(' ')).toBe(0);
      expect(run.stdout).toMatch(/^Usage: tannerin <command> \[options\]/);
      for (const name of Object.keys(COMMANDS)) expect(run.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
      expect(run.stderr).toBe('');
    }
  });

  it('each command has its own --help, naming each of its options, on stdout with exit 0', async () => {
    for (const [name, options] of Object.entries(COMMANDS)) {
      const [flag, short, topic] = await Promise.all([runCli([name, '--help']), runCli([name, '-h']), runCli(['help', name])]);
      expect(flag.code, name).toBe(0);
      expect(flag.stderr).toBe('');
      expect(flag.stdout).toMatch(new RegExp(`^Usage: tannerin ${name} `));
      for (const option of [...options, ...COMMON_OPTIONS]) expect(flag.stdout, `${name} ${option}`).toMatch(new RegExp(`^\\s+${option}\\b`, 'm'));
      // Only this command's help: no other command's usage line.
      expect(flag.stdout.match(/^Usage: /gm)).toHaveLength(1);
      expect(short).toEqual(flag);
      expect(topic).toEqual(flag);
    }
  });

  it('--help wins over missing required options', async () => {
    const run = await runCli(['train', '--help', '--epochs', '3']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: tannerin train /);
  });
});

describe('tannerin bad usage', () => {
  it('no command, or an unknown one: the message and the general usage on stderr, nothing on stdout, exit 2', async () => {
    const [none, unknown, unknownTopic] = await Promise.all([runCli([]), runCli(['frobnicate']), runCli(['help', 'frobnicate'])]);
    for (const run of [none, unknown, unknownTopic]) {
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^Usage: tannerin <command> \[options\]/m);
      expectNoStack(run);
    }
    expect(none.stderr).toMatch(/^tannerin: no command given$/m);
    expect(unknown.stderr).toMatch(/^tannerin: unknown command "frobnicate"$/m);
    expect(unknownTopic.stderr).toMatch(/^tannerin: unknown command "frobnicate"$/m);
  });

  it('an unknown option, a missing or malformed one: the message and the command’s usage on stderr, exit 2', async () => {
    const cases: [string[], RegExp, string][] = [
      [['eval', '--bogus'], /bogus/, 'eval'],
      [['embed', '--data', dir], /^tannerin: embed needs --out$/m, 'embed'],
      [['train', '--data', dir, '--out', dir, '--epochs', 'many'], /--epochs must be an integer/, 'train'],
      [['publish', '--head', dir], /^tannerin: publish needs --as$/m, 'publish'],
    ];
    const runs = await Promise.all(cases.map(([args]) => runCli(args)));
    runs.forEach((run, i) => {
      const [args, message, command] = cases[i] as [string[], RegExp, string];
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(message);
      expect(run.stderr).toMatch(new RegExp(`^Usage: tannerin ${command} `, 'm'));
      expectNoStack(run);
    });
  });
});

/** `npm run eval -- ...args` (tsx scripts/eval/main.ts). */
function runEval(args: string[]): Promise<CliRun> {
  return runProcess(process.execPath, [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'scripts', 'eval', 'main.ts'), ...args]);
}

describe('npm run eval: usage as the CLI gives it', () => {
  it('--help on stdout with exit 0; an unknown option or a bad value: the message and the usage on stderr, exit 2, no stack', async () => {
    const [help, unknown, seeds, dataset, backbone, tuning] = await Promise.all([
      runEval(['--help']),
      runEval(['--bogus']),
      runEval(['--seeds', 'x']),
      runEval(['--datasets', 'nope']),
      runEval(['--backbones', 'mobilenet_v2,nope']),
      runEval(['--backbones', 'inception_v3', '--recipes', 'app,finetune']),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: npm run eval /);
    for (const [run, message] of [
      [unknown, /^eval: Unknown option '--bogus'/m],
      [seeds, /^eval: --seeds must be a positive integer, got x$/m],
      [dataset, /^eval: unknown dataset nope/m],
      [backbone, /^eval: backbone nope is not installed \(installed: mobilenet_v2, inception_v3;/m],
      [tuning, /^eval: finetune run on mobilenet_v2 only$/m],
    ] as const) {
      expect(run.code, run.stderr).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(message);
      expect(run.stderr).toMatch(/^Usage: npm run eval /m);
      expectNoStack(run);
    }
  });
});

interface LoadedModules {
  node: string;
  argv: string[];
  hooked: boolean;
  loaded: string[];
}

/** Runs the CLI with the load hook and returns what the CLI process (not the launcher) loaded. */
async function cliModules(name: string, args: string[]): Promise<{ code: number | null; modules: LoadedModules }> {
  const log = join(dir, `${name}.jsonl`);
  const hook = pathToFileURL(join(ROOT, 'tests', 'helpers', 'record-loaded-modules.mjs')).href;
  const run = await runCli(args, {
    env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${hook}`.trim(), TANNERIN_LOADED_MODULES_LOG: log },
  });
  const processes = readFileSync(log, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as LoadedModules);
  const cli = processes.filter((p) => p.argv.some((a) => a.endsWith(join('scripts', 'cli', 'main.ts'))));
  expect(cli, `${args.join(' ')}: ${run.stderr}`).toHaveLength(1);
  return { code: run.code, modules: cli[0] as LoadedModules };
}

const isTensorflow = (url: string): boolean => url.includes('/node_modules/@tensorflow/');

describe('tannerin reads its arguments before loading TF.js', () => {
  it('--help, a command’s --help and bad usage load no @tensorflow module', async () => {
    const runs = await Promise.all([
      cliModules('help', ['--help']),
      cliModules('train-help', ['train', '--help']),
      cliModules('bad-usage', ['eval', '--bogus']),
    ]);
    for (const { modules } of runs) {
      // The hook saw the CLI's own modules: an empty list would prove nothing.
      expect(modules.hooked, modules.node).toBe(true);
      expect(modules.loaded.some((url) => url.endsWith('/scripts/cli/main.ts'))).toBe(true);
      expect(modules.loaded.filter(isTensorflow)).toEqual([]);
    }
    expect(runs.map((r) => r.code)).toEqual([0, 0, 2]);
  });

  it('a command that runs loads TF.js, and the hook sees it', async () => {
    // eval loads its module (and with it TF.js) before it finds that the head folder is missing.
    const { code, modules } = await cliModules('eval', ['eval', '--head', join(dir, 'missing'), '--data', join(dir, 'data')]);
    expect(code).toBe(1);
    expect(modules.loaded.some(isTensorflow)).toBe(true);
  });
});
