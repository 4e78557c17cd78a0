/**
 * `npm run bench`: runs every benchmark, writes bench/results.json (metric -> {value, unit}) and
 * prints a table. Ratios are computed from figures measured in the same run.
 */
import { build } from '../scripts/build.ts';
import { benchEdge } from './edge.ts';
import { printTable, saveResults, type Results } from './lib.ts';
import { benchNode } from './node-forward.ts';

build();
const node = await benchNode();
const edge = await benchEdge();
const forward = edge['edge.forward_p50_ms']?.value ?? NaN;
const results: Results = {
  ...node,
  ...edge,
  'edge.warm_over_forward': { value: (edge['edge.predict_warm_p50_ms']?.value ?? NaN) / forward, unit: 'x', note: 'edge warm p50 / bare forward p50 (goal <= 1.15)' },
};
saveResults(results);
printTable(results);
process.exit(0);
