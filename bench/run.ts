/**
 * `npm run bench`: runs every benchmark, writes bench/results.json (metric -> {value, unit}) and
 * prints a table. Ratios are computed from figures measured in the same run.
 */
import { build } from '../scripts/build.ts';
import { benchDecode } from './decode-memory.ts';
import { benchEdge } from './edge.ts';
import { benchFinetuneStep } from './finetune-step.ts';
import { printTable, saveResults, type Results } from './lib.ts';
import { benchNode } from './node-forward.ts';

build();
const node = await benchNode();
const decode = await benchDecode();
const edge = await benchEdge();
const finetune = await benchFinetuneStep();
const forward = edge['edge.forward_p50_ms']?.value ?? NaN;
const results: Results = {
  ...node,
  ...decode,
  ...edge,
  ...finetune,
  ...(await import('./browser.ts').then((m) => m.benchBrowser())),
  'edge.warm_over_forward': { value: (edge['edge.predict_warm_p50_ms']?.value ?? NaN) / forward, unit: 'x', note: 'edge warm p50 / bare forward p50 (goal <= 1.15)' },
};
saveResults(results);
printTable(results);
process.exit(0);
