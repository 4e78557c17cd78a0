/**
 * The `tannerin` CLI, run as a child process (through the package's bin launcher, as `npx
 * tannerin` runs it) on small ImageFolders made at test time from emoji PNGs of
 * emoji-datasource-google, labelled with the package's `subcategory`.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeadDocument } from '../../shared/head/document.ts';
import { mulberry32, shuffle } from '../../shared/util/random.ts';
import { EMOJI_DIR, emojiFiles } from '../../scripts/emoji.ts';
import { expectNoStack, runCli, type CliRun } from '../helpers/cli.ts';

const CLASSES = ['food-fruit', 'transport-ground', 'animal-mammal'];
const TRAIN_PER_CLASS = 6;
const TEST_PER_CLASS = 3;


/** Runs the CLI with this test's Node in the repository. */
function cli(...args: string[]): Promise<CliRun> {
  return runCli(args);
}

function lastLineJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] as string) as Record<string, unknown>;
}

let dir: string;
let train: string;
let test: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tannerin-cli-'));
  train = join(dir, 'train');
  test = join(dir, 'test');
  const random = mulberry32(7);
  for (const label of CLASSES) {
    const files = emojiFiles(label);
    const picked = shuffle(files, random).slice(0, TRAIN_PER_CLASS + TEST_PER_CLASS);
    for (const [k, file] of picked.entries()) {
      const to = join(k < TRAIN_PER_CLASS ? train : test, label);
      mkdirSync(to, { recursive: true });
      copyFileSync(join(EMOJI_DIR, file), join(to, file));
    }
  }
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tannerin CLI', () => {
  it('embed writes one JSON line per image: path, label, 2,816-float embedding', async () => {
    const out = join(dir, 'emb', 'train.jsonl');
    const run = await cli('embed', '--data', train, '--out', out);
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.code).toBe(0);
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { path: string; label: string; embedding: number[] });
    expect(lines).toHaveLength(CLASSES.length * TRAIN_PER_CLASS);
    for (const line of lines) {
      expect(line.path).toBe(`${line.label}/${line.path.split('/')[1]}`);
      expect(CLASSES).toContain(line.label);
      expect(line.embedding).toHaveLength(2816);
      expect(line.embedding.every(Number.isFinite)).toBe(true);
    }
  }, 300_000);

  it('train writes a head (standard files + document); eval --json ends with the metrics object', async () => {
    const head = join(dir, 'head');
    const trained = await cli('train', '--data', train, '--out', head, '--seed', '3', '--json');
    expect(trained.code).toBe(0);
    const summary = lastLineJson(trained.stdout);
    expect(summary).toMatchObject({ classes: [...CLASSES].sort(), recipe: 'head' });
    for (const f of ['model.json', 'weights.bin', 'head.json']) expect(existsSync(join(head, f))).toBe(true);
    const doc = JSON.parse(readFileSync(join(head, 'head.json'), 'utf8')) as HeadDocument;
    expect(doc.classes).toEqual([...CLASSES].sort());
    expect(doc.metrics?.n).toBeGreaterThan(0);

    const evaluated = await cli('eval', '--head', head, '--data', test, '--json');
    expect(evaluated.code).toBe(0);
    const result = lastLineJson(evaluated.stdout) as { accuracy: number; perClass: Record<string, number>; confusion: number[][]; n: number };
    expect(result.n).toBe(CLASSES.length * TEST_PER_CLASS);
    expect(Object.keys(result.perClass).sort()).toEqual([...CLASSES].sort());
    expect(result.confusion.flat().reduce((a, b) => a + b, 0)).toBe(result.n);
    // Three visually distinct subcategories: far above chance (1/3); measured 1.0 with this pick.
    expect(result.accuracy).toBeGreaterThanOrEqual(0.66);

    const human = await cli('eval', '--head', head, '--data', test);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^accuracy \d+\.\d% \(\d+\/9; 95% CI/m);
    expect(human.stdout).toContain('confusion (rows: actual, columns: predicted)');
  }, 300_000);

  it('eval runs a head that records test-time augmentation over each photo and its views', async () => {
    const head = join(dir, 'head-tta');
    mkdirSync(head, { recursive: true });
    const doc = JSON.parse(readFileSync(join(dir, 'head', 'head.json'), 'utf8')) as HeadDocument;
    writeFileSync(join(head, 'head.json'), JSON.stringify({ ...doc, testTimeAugmentation: { views: 3, seed: 4 } }));
    const human = await cli('eval', '--head', head, '--data', test);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain("test-time augmentation: each photo's scores averaged with its 3 augmented views");
    // It ran through the prediction layer from each photo's pixels (predictPixels), not the embeddings alone.
    expect(human.stderr).toContain('backbone (each photo and 3 views): done');
    expect(human.stdout).toMatch(/^accuracy \d+\.\d% \(\d+\/9; 95% CI/m);
    const plain = await cli('eval', '--head', join(dir, 'head'), '--data', test);
    expect(plain.stdout).not.toContain('test-time augmentation');
  }, 300_000);

  it('train --recipe finetune writes a personal model (head + backbone tail) that eval runs, from head.json or the standard files', async () => {
    const head = join(dir, 'finetuned');
    const trained = await cli('train', '--data', train, '--out', head, '--recipe', 'finetune', '--epochs', '1', '--json');
    expect(trained.code, trained.stderr).toBe(0);
    const summary = lastLineJson(trained.stdout);
    expect(summary).toMatchObject({ recipe: 'finetune', cut: 'block_15_add', measured: true, epochs: 1 });
    expect(summary.documentBytes).toBeLessThan(8 * 1024 * 1024);
    for (const f of ['model.json', 'weights.bin', 'head.json', 'tail/model.json', 'tail/weights.bin']) expect(existsSync(join(head, f))).toBe(true);
    const doc = JSON.parse(readFileSync(join(head, 'head.json'), 'utf8')) as HeadDocument;
    expect(doc.backboneTail?.parts).toEqual(['block_16_expand_relu', 'flatten_1']);

    const fromDocument = await cli('eval', '--head', head, '--data', test, '--json');
    expect(fromDocument.code, fromDocument.stderr).toBe(0);
    rmSync(join(head, 'head.json'));
    const fromFiles = await cli('eval', '--head', head, '--data', test, '--json');
    expect(fromFiles.code, fromFiles.stderr).toBe(0);
    const a = lastLineJson(fromDocument.stdout);
    expect(a.n).toBe(CLASSES.length * TEST_PER_CLASS);
    expect(lastLineJson(fromFiles.stdout)).toEqual(a);
  }, 300_000);

  it('bad data: clear message, exit 1, no stack trace', async () => {
    const one = join(dir, 'one-class');
    mkdirSync(join(one, 'food-fruit'), { recursive: true });
    copyFileSync(join(train, 'food-fruit', readdirSync(join(train, 'food-fruit')).sort()[0] as string), join(one, 'food-fruit', 'a.png'));
    const empty = join(dir, 'empty-class');
    mkdirSync(join(empty, 'a'), { recursive: true });
    mkdirSync(join(empty, 'b'), { recursive: true });
    copyFileSync(join(one, 'food-fruit', 'a.png'), join(empty, 'a', 'x.png'));
    const corrupt = join(dir, 'corrupt');
    mkdirSync(join(corrupt, 'a'), { recursive: true });
    mkdirSync(join(corrupt, 'b'), { recursive: true });
    copyFileSync(join(one, 'food-fruit', 'a.png'), join(corrupt, 'a', 'ok.png'));
    writeFileSync(join(corrupt, 'b', 'broken.png'), new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));

    const cases: [string[], RegExp][] = [
      [['train', '--data', join(dir, 'missing'), '--out', join(dir, 'x')], /missing is not a folder/],
      [['train', '--data', one, '--out', join(dir, 'x')], /1 class .*at least 2 are needed/],
      [['train', '--data', empty, '--out', join(dir, 'x')], /"b" .*holds no \.png, \.jpg or \.jpeg images/],
      [['embed', '--data', corrupt, '--out', join(dir, 'x.jsonl')], /b\/broken\.png: .*PNG/],
      [['eval', '--head', join(dir, 'missing'), '--data', train], /--head: .*missing is not a folder/],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(...args)));
    runs.forEach((run, i) => {
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toMatch((cases[i] as [string[], RegExp])[1]);
      // Progress lines may come first on a slow machine; the error is a line of its own.
      expect(run.stderr).toMatch(/^tannerin: error: /m);
      expectNoStack(run);
    });
  }, 300_000);

  it('the bin launcher runs the CLI under the project’s Node 22, even when started by an older Node', async () => {
    // The machine's Node (20 here) when there is one outside node_modules, else this test's.
    const machineNode = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => existsSync(p)) ?? process.execPath;
    const run = await runCli(['--version'], { node: machineNode, cwd: tmpdir() });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^tannerin \d+\.\d+\.\d+ \(Node v22\./);
  });

  it('bad usage exits 2 (publish without --as too)', async () => {
    const [unknown, missing, recipe, publish, help] = await Promise.all([
      cli('train', '--data', train, '--bogus'),
      cli('eval', '--data', train),
      cli('train', '--data', train, '--out', join(dir, 'x'), '--recipe', 'magic'),
      cli('publish', '--head', join(dir, 'head')),
      cli('--help'),
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/bogus/);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/eval needs --head/);
    expect(recipe.code).toBe(2);
    expect(recipe.stderr).toMatch(/--recipe must be head or finetune/);
    expect(publish.code).toBe(2);
    expect(publish.stderr).toMatch(/publish needs --as/);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: tannerin <command>/);
    for (const run of [unknown, missing, recipe, publish]) expectNoStack(run);
  }, 300_000);
});
