/**
 * CLI start-up: `node scripts/tannerin.mjs --help` as a person runs it (the bin launcher, the
 * project's Node 22, the argument parser), timed from spawn to exit, median of 5 after one warm-up
 * run. The CLI reads its arguments before anything heavy loads; goal < 500 ms.
 *
 * Alone: `npx tsx bench/cli.ts` (merges into bench/results.json and rewrites its BENCHMARKS.md section).
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { median, ROOT, runSectionAlone, timeRuns, type Results } from './lib.ts';

const LAUNCHER = join(ROOT, 'scripts', 'tannerin.mjs');

/** One `--help` run; throws unless it printed the usage and exited 0. */
function helpOnce(): void {
  const run = spawnSync(process.execPath, [LAUNCHER, '--help'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (run.status !== 0 || !run.stdout.startsWith('Usage: tannerin')) {
    throw new Error(`tannerin --help failed (exit ${String(run.status)}):\n${run.stdout}${run.stderr}`);
  }
}

/** `cli.help_ms`: median wall time of `node scripts/tannerin.mjs --help`. */
export async function benchCli(): Promise<Results> {
  const times = await timeRuns(5, helpOnce, 1);
  return {
    'cli.help_ms': {
      value: median(times),
      unit: 'ms',
      note: `node scripts/tannerin.mjs --help (launcher on ${process.version}), spawn to exit, median of 5 after 1 warm-up (${times.map((t) => t.toFixed(0)).join(', ')}); 1-min load ${(loadavg()[0] ?? 0).toFixed(1)} (goal < 500)`,
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // No Worker to build or bundle: the CLI runs on its own.
  await runSectionAlone(benchCli, async () => (await import('./report.ts')).replaceCliSection, { worker: false });
}
