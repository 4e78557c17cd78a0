/**
 * Bench plumbing: medians and percentiles, the results file, the printed table, and a `wrangler dev`
 * started on a free loopback port.
 */
import { createHash } from 'node:crypto';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyLocalMigrations } from '../scripts/local-d1.ts';
import { uniformRateLimits } from '../worker/rate-limit/d1-config.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const RESULTS_FILE = join(ROOT, 'bench', 'results.json');

export interface Metric {
  value: number;
  unit: string;
  /** How it was measured, for the table. */
  note?: string;
}
export type Results = Record<string, Metric>;

/** The q-quantile (0..1) of the values, by linear interpolation. */
export function quantile(values: number[], q: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (pos - lo);
}
export const median = (values: number[]): number => quantile(values, 0.5);

/** Times `fn` `n` times after `warmup` untimed runs; returns the durations in ms. */
export async function timeRuns(n: number, fn: () => Promise<unknown> | unknown, warmup = 2): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

/** Merges into bench/results.json (other benches' metrics are kept). */
export function saveResults(results: Results): Results {
  const previous: Results = existsSync(RESULTS_FILE) ? (JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as Results) : {};
  const merged = { ...previous, ...results };
  const sorted = Object.fromEntries(Object.keys(merged).sort().map((k) => [k, merged[k] as Metric]));
  writeFileSync(RESULTS_FILE, JSON.stringify(sorted, null, 2) + '\n');
  return sorted;
}

/** Prints metrics as an aligned table. */
export function printTable(results: Results): void {
  const rows = Object.entries(results).map(([k, m]) => [k, Number.isInteger(m.value) ? String(m.value) : m.value.toFixed(2), m.unit, m.note ?? '']);
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => (r[c] as string).length), 6));
  const line = (r: string[]) => `${(r[0] as string).padEnd(widths[0] as number)}  ${(r[1] as string).padStart(widths[1] as number)}  ${(r[2] as string).padEnd(widths[2] as number)}  ${r[3]}`;
  console.log(line(['metric', 'value', 'unit', 'how']));
  console.log(line(['-'.repeat(widths[0] as number), '-'.repeat(widths[1] as number), '-'.repeat(widths[2] as number), '---']));
  for (const r of rows) console.log(line(r as string[]));
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

let frozenScript: string | null = null;

/**
 * Bundles the Worker once (`wrangler deploy --dry-run --outdir .wrangler/bench-bundle`) and makes
 * every later {@link startDevServer} serve that bundle with `--no-bundle`. `wrangler dev` watches
 * the sources and restarts the isolate when a file changes; in a working tree others edit, that
 * would restart it mid-benchmark (seen as 503 "Your worker restarted mid-request"). The bundle
 * is what a deploy would upload, so the figures are the same code's. The static assets
 * (dist/public, built first) are copied beside it for the same reason.
 */
export function freezeWorker(): string {
  const outdir = join(ROOT, '.wrangler', 'bench-bundle');
  rmSync(outdir, { recursive: true, force: true });
  const result = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js'), 'deploy', '--dry-run', '--outdir', outdir], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', CI: '1' },
  });
  if (result.status !== 0) throw new Error(`bundling the Worker failed:\n${result.stdout}\n${result.stderr}`);
  // The static assets too: a rebuild of dist/public would also restart the isolate.
  cpSync(join(ROOT, 'dist', 'public'), join(outdir, 'public'), { recursive: true });
  frozenScript = join(outdir, 'index.js');
  return frozenScript;
}

/**
 * wrangler.toml with its rate limiting bindings raised to `limit`, for `wrangler dev` under load
 * from one address: unlike RATE_LIMITS (a variable, set with --var) a binding's limit is only in
 * the configuration. Written to .wrangler/bench-config/wrangler-<content hash>.toml with its paths made absolute;
 * everything else, the limiter calls included, is the deployed configuration.
 */
export function raisedLimitsConfig(limit = 1_000_000): string {
  const text = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
  let raised = 0;
  const out = text
    .replace(/^(simple\s*=\s*\{\s*limit\s*=\s*)\d+/gm, (_match, head: string) => {
      raised++;
      return `${head}${limit}`;
    })
    .replace(/^(main|directory|migrations_dir)(\s*=\s*)"([^"]+)"/gm, (_match, key: string, eq: string, value: string) => `${key}${eq}${JSON.stringify(join(ROOT, value))}`);
  const tables = (text.match(/^\[\[ratelimits\]\]/gm) ?? []).length;
  if (raised !== tables) throw new Error(`wrangler.toml: raised ${raised} of ${tables} [[ratelimits]] limits; write them as simple = { limit = N, period = P }`);
  // One file per content, written once: `wrangler dev` watches its configuration, so rewriting a
  // file another running server uses (the browser tests' server, while a unit test starts its own)
  // restarts that server mid-test.
  const dir = join(ROOT, '.wrangler', 'bench-config');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `wrangler-${createHash('sha256').update(out).digest('hex').slice(0, 16)}.toml`);
  if (!existsSync(path) || readFileSync(path, 'utf8') !== out) writeFileSync(path, out);
  return path;
}

export interface DevServer {
  url: string;
  process: ChildProcess;
  /** Milliseconds from spawn until `readyPath` answered. */
  readyMs: number;
  /** What wrangler printed so far. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `wrangler dev` on 127.0.0.1 (diagnostics on) and waits until `readyPath` answers. The
 * default, a static asset, does not start the Worker's isolate, so the first API call after it is
 * a true cold start (script evaluation + model load).
 */
export async function startDevServer(extraArgs: string[] = [], readyPath = '/models.json', persistTo = join(ROOT, '.wrangler', 'bench-state')): Promise<DevServer> {
  // Load from one address: the rate limiting bindings are raised too (see raisedLimitsConfig).
  const config = ['--config', raisedLimitsConfig()];
  const script = frozenScript ? [frozenScript, ...config, '--no-bundle', '--assets', join(dirname(frozenScript), 'public')] : config;
  // The schema the accounts and heads API needs; before t0, so it is not counted as start-up.
  applyLocalMigrations(persistTo);
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [
      join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js'), 'dev', ...script, '--ip', '127.0.0.1', '--port', String(port), '--var', 'TANNERIN_DIAGNOSTICS:1',
      // Load from one address into state that persists between runs: raise every D1 rate limit.
      '--var', `RATE_LIMITS:${JSON.stringify(uniformRateLimits(1_000_000))}`,
      '--persist-to', persistTo, ...extraArgs,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', CI: '1' }, detached: true },
  );
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    try {
      process.kill(-(child.pid as number), 'SIGTERM');
    } catch {
      /* already gone */
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null) process.kill(-(child.pid as number), 'SIGKILL');
  };
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${log}`);
    try {
      const res = await fetch(`${url}${readyPath}`);
      await res.arrayBuffer();
      if (res.ok) return { url, process: child, readyMs: performance.now() - t0, output: () => log, stop };
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`wrangler dev did not become ready in 60 s:\n${log}`);
}

/**
 * Runs one bench section on its own (`npx tsx bench/<section>.ts`) as `npm run bench` runs it:
 * builds dist/public if missing and serves the Worker frozen (edits to the tree cannot restart it)
 * unless `worker` is false (a section that starts no `wrangler dev`), merges the figures into
 * bench/results.json, rewrites the section's part of BENCHMARKS.md when `section` gives its
 * replacer, and prints the table.
 */
export async function runSectionAlone(
  bench: () => Promise<Results>,
  section?: () => Promise<(text: string, merged: Results, measuredAt: Date) => string>,
  { worker = true }: { worker?: boolean } = {},
): Promise<void> {
  if (worker) {
    if (!existsSync(join(ROOT, 'dist', 'public', 'index.html'))) {
      const { build } = await import('../scripts/build.ts');
      build();
    }
    freezeWorker();
  }
  const results = await bench();
  const merged = saveResults(results);
  if (section) {
    // report.ts imports the section modules: loaded only now, once they have finished evaluating.
    const [replace, { BENCHMARKS_FILE }] = await Promise.all([section(), import('./report.ts')]);
    if (existsSync(BENCHMARKS_FILE)) writeFileSync(BENCHMARKS_FILE, replace(readFileSync(BENCHMARKS_FILE, 'utf8'), merged, new Date()));
  }
  printTable(results);
}
