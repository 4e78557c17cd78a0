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

  it('reads --ask-rules: numbers, and targetBy by name', () => {
    process.argv = ['node', 'main.ts', '--asked', '--ask-rules', 'targetUntil=3,targetBy=similarity,classSlack=Infinity', '--out', 'x.json'];
    expect(readOptions().askRules).toEqual({ targetUntil: 3, targetBy: 'similarity', classSlack: Infinity });
    process.argv = ['node', 'main.ts', '--asked', '--ask-rules', 'targetBy=nearest', '--out', 'x.json'];
    expect(() => readOptions()).toThrow(/targetBy takes score, probability, similarity, probabilityDensity/);
  });
});
