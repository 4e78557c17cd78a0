/**
 * `npm run bench`: runs every benchmark (at most 10 minutes on the 2-core reference machine),
 * writes bench/results.json (metric -> {value, unit, note}) and BENCHMARKS.md, and prints a table.
 * Ratios are computed from figures measured in the same run. The Worker and the static assets are
 * bundled once and served frozen (bench/lib.ts `freezeWorker`).
 */
import { build } from '../scripts/build.ts';
import { benchCapacity } from './capacity.ts';
import { benchCli } from './cli.ts';
import { benchCrop } from './crop.ts';
import { benchDecode } from './decode-memory.ts';
import { benchEdge } from './edge.ts';
import { benchFineTunedEdge } from './finetuned-edge.ts';
import { benchFinetuneStep } from './finetune-step.ts';
import { benchFuzz } from './fuzz.ts';
import { freezeWorker, printTable, saveResults, startDevServer, type Results } from './lib.ts';
import { benchLoad } from './load.ts';
import { benchNode } from './node-forward.ts';
import { load1, writeBenchmarks } from './report.ts';

const startedAt = new Date();
const loadBefore = load1();
const t0 = performance.now();
const sections: [string, number][] = [];
/** Runs one section and records its wall time. */
async function section<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
  const start = performance.now();
  console.error(`bench: ${name}...`);
  const out = await fn();
  sections.push([name, (performance.now() - start) / 1000]);
  console.error(`bench: ${name} done in ${((performance.now() - start) / 1000).toFixed(0)} s`);
  return out;
}

await section('build', () => {
  build();
  freezeWorker();
});
const cli = await section('cli', () => benchCli());
const node = await section('node', () => benchNode());
const decode = await section('decode', () => benchDecode());
const edge = await section('edge', () => benchEdge());
const finetunedEdge = await section('finetuned-edge', () => benchFineTunedEdge(15));
const crop = await section('crop', () => benchCrop());
const finetune = await section('finetune', () => benchFinetuneStep());
const browser = await section('browser', () => import('./browser.ts').then((m) => m.benchBrowser()));
const phone = await section('phone', () => import('./phone.ts').then((m) => m.benchPhone()));
const engines = await section('engines', () => import('./engines.ts').then((m) => m.benchEngines()));
const fuzz = await section('fuzz', () => benchFuzz(2000));
const load = await section('load', async () => {
  const server = await startDevServer();
  try {
    return await benchLoad(server, 20, 8);
  } finally {
    await server.stop();
  }
});
const capacity = await section('capacity', () => benchCapacity());
const forward = edge['edge.forward_p50_ms']?.value ?? NaN;
const results: Results = {
  ...cli,
  ...node,
  ...decode,
  ...edge,
  ...finetunedEdge,
  ...crop,
  ...finetune,
  ...browser,
  ...phone,
  ...engines,
  ...fuzz,
  ...load,
  ...capacity,
  'edge.warm_over_forward': { value: (edge['edge.predict_warm_p50_ms']?.value ?? NaN) / forward, unit: 'x', note: 'edge warm p50 / bare forward p50 (goal <= 1.15)' },
};
const seconds = (performance.now() - t0) / 1000;
results['bench.duration_s'] = { value: seconds, unit: 's', note: `wall time of this npm run bench (${sections.map(([n, s]) => `${n} ${s.toFixed(0)}`).join(', ')})` };
const merged = saveResults(results);
writeBenchmarks(merged, { startedAt, seconds, sections, loadBefore, loadAfter: load1() });
printTable(results);
process.exit(0);
