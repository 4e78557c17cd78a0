import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readOptions } from '../../scripts/eval/options.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const argv = process.argv;

describe('npm run eval options', () => {
  afterEach(() => {
    process.argv = argv;
  });

  it('takes a relative --out as the same file as its absolute path, so `--out bench/eval.json` publishes', () => {
    process.argv = ['node', 'main.ts', '--out', join('bench', 'eval.json')];
    expect(readOptions().outFile).toBe(join(process.cwd(), 'bench', 'eval.json'));
    process.argv = ['node', 'main.ts'];
    expect(readOptions().outFile).toBe(join(ROOT, 'bench', 'eval.json'));
  });
});
