/**
 * Writes BENCHMARKS.md at the repository root from a run's results (bench/results.json's metrics),
 * the machine it ran on, and the accuracy evaluation in bench/eval.json (written by `npm run eval`;
 * read only; when the file is missing from the working tree, e.g. while an evaluation rewrites it,
 * the committed version is read).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, release, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { SYNC_ACTIONS, WORKERS_AI_PRICES, WORKERS_PRICES } from './capacity.ts';
import { ROOT, type Results } from './lib.ts';
import { evalSection, type EvalEntry } from '../scripts/eval/report.ts';

export const BENCHMARKS_FILE = join(ROOT, 'BENCHMARKS.md');


export interface RunInfo {
  startedAt: Date;
  /** Wall time of the whole run, and of each section, in seconds. */
  seconds: number;
  sections: [string, number][];
  /** Load averages (1 min) sampled before and after the run. */
  loadBefore: number;
  loadAfter: number;
}

const fmt = (v: number | undefined, digits = 1): string => {
  if (v === undefined || !Number.isFinite(v)) return 'n/a';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return Number.isInteger(v) ? String(v) : v.toFixed(digits);
};

/** The machine, as this process sees it. */
export function machine(): string[] {
  const cpu = cpus();
  let os = `${type()} ${release()}`;
  try {
    const osRelease = readFileSync('/etc/os-release', 'utf8');
    os = `${/PRETTY_NAME="([^"]+)"/.exec(osRelease)?.[1] ?? type()} (kernel ${release()})`;
  } catch {
    /* not Linux */
  }
  return [
    `CPU: ${cpu[0]?.model.trim() ?? 'unknown'}, ${cpu.length} logical cores`,
    `Memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} GiB free at the end)`,
    `OS: ${os}`,
    `Node: ${process.version}; browsers: Debian Chromium (headless) through playwright-core, Firefox ESR (headless) through puppeteer-core over WebDriver BiDi, WebKitGTK MiniBrowser through WebKitWebDriver on Xvfb; Worker runtime: workerd through wrangler dev`,
  ];
}

/** bench/eval.json, or its committed version. */
function readEval(): Record<string, EvalEntry> | null {
  const file = join(ROOT, 'bench', 'eval.json');
  try {
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Record<string, EvalEntry>;
    return JSON.parse(execFileSync('git', ['show', 'HEAD:bench/eval.json'], { cwd: ROOT, encoding: 'utf8' })) as Record<string, EvalEntry>;
  } catch {
    return null;
  }
}

/** Renders the tables. `r` is the merged results of the run. */
export function writeBenchmarks(r: Results, run: RunInfo): string {
  const v = (k: string) => r[k]?.value;
  const row = (what: string, key: string, unit = r[key]?.unit ?? '', digits = 1) => `| ${what} | ${fmt(v(key), digits)} ${unit} | ${r[key]?.note ?? 'not measured in this run'} |`;
  const ratio = (a: string, b: string) => (v(a) !== undefined && v(b) !== undefined ? (v(a) as number) / (v(b) as number) : undefined);
  const loaded = Math.max(run.loadBefore, run.loadAfter) > cpus().length * 0.75;
  const evaluation = readEval();
  const lines = [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` (bench/run.ts, bench/report.ts) on ${run.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC; the run took ${fmt(run.seconds / 60, 1)} minutes. Raw figures with their notes: [bench/results.json](bench/results.json).`,
    '',
    '## Machine',
    '',
    ...machine().map((m) => `- ${m}`),
    '',
    '## Method',
    '',
    '- Every figure is from one run of `npm run bench`; a ratio divides two figures measured in that same run, side by side, so a loaded machine slows both sides.',
    '- Times are medians of repeated runs after warm-up (percentiles where stated); the repetitions are in each row\'s note.',
    '- The edge is measured over HTTP from outside, against `wrangler dev` on 127.0.0.1 (local workerd), serving a frozen copy of the Worker bundle and static assets (bench/lib.ts `freezeWorker`), so edits elsewhere in the tree cannot restart the isolate mid-run. Production timers stand still during CPU work, so no figure is taken inside the Worker except the forward pass on local workerd.',
    '- The browser figures drive Debian Chromium (headless, no GPU) on the test harness page; the "Browser engines" section drives Firefox ESR and WebKitGTK on the same page.',
    `- Machine load: 1-minute load average ${run.loadBefore.toFixed(1)} before and ${run.loadAfter.toFixed(1)} after the run on ${cpus().length} cores.${loaded ? ' **Other jobs were running on this machine during the run** (other engineers\' builds and tests), so absolute times are high and noisy; ratios from the same run are the more reliable figures.' : ''}`,
    `- Sections (seconds): ${run.sections.map(([n, s]) => `${n} ${s.toFixed(0)}`).join(', ')}.`,
    '',
    '## Edge overhead (Worker, 640x480 JPEG)',
    '',
    '| metric | value | how |',
    '|---|---|---|',
    row('forward pass inside the isolate, p50', 'edge.forward_p50_ms'),
    row('`/v1/predict` warm, p50', 'edge.predict_warm_p50_ms'),
    row('`/v1/predict` warm, p95', 'edge.predict_warm_p95_ms'),
    row('warm p50 / bare forward', 'edge.warm_over_forward', 'x', 2),
    row('HTTP round trip (`/healthz`), p50', 'edge.http_roundtrip_p50_ms'),
    row('`/v1/predict` from a client embedding (HTTP + head), p50', 'edge.predict_embedding_p50_ms'),
    row('D1 queries per anonymous `/v1/predict`, warm', 'edge.d1_queries_per_anonymous_predict', 'queries', 0),
    row('JPEG decode 640x480 (Node, same decoder)', 'node.decode_jpeg_640x480_ms'),
    row('PNG decode 640x480', 'node.decode_png_640x480_ms'),
    row('preprocessing', 'node.preprocess_ms'),
    row('cold start (fresh isolate, first predict)', 'edge.cold_start_ms', 'ms', 0),
    row('WASM heap after warm requests', 'edge.peak_wasm_heap_mb'),
    row('peak request memory (heap + largest image)', 'edge.peak_request_memory_mb'),
    row('fine-tuned model, warm p50', 'edge.finetuned.predict_warm_p50_ms'),
    row('default head after it, warm p50', 'edge.finetuned.plain_warm_p50_ms'),
    row('fine-tuned model, peak request memory', 'edge.finetuned.peak_request_memory_mb'),
    row('head with a feature-map crop: extra time over the same head without it, p50', 'edge.crop_ms'),
    '',
    '## WASM vs cpu backend (MobileNetV2 forward, batch 1)',
    '',
    '| runtime | WASM SIMD | `cpu` | cpu / WASM |',
    '|---|---|---|---|',
    `| Node | ${fmt(v('node.forward_wasm_ms'))} ms | ${fmt(v('node.forward_cpu_ms'))} ms | ${fmt(v('node.cpu_over_wasm'))}x |`,
    `| Chromium | ${fmt(v('browser.forward_wasm_ms'))} ms | ${fmt(v('browser.forward_cpu_ms'))} ms | ${fmt(v('browser.forward_cpu_over_wasm'))}x |`,
    '',
    '## Folded backbone against the layers model as shipped (forward, batch 1, WASM SIMD)',
    '',
    'The backbone is folded at load time (shared/model/folded-graph.ts): batch normalisation folded into the convolutions\' weights and bias, ReLU6 fused into the convolution kernels, zero padding made explicit, from the unchanged model files. Both sides are timed alternately in the same process, page or isolate (goal: folded <= 0.55x unfolded everywhere).',
    '',
    '| runtime | folded | unfolded | folded / unfolded |',
    '|---|---|---|---|',
    `| Node | ${fmt(v('node.forward_wasm_ms'))} ms | ${fmt(v('node.forward_unfolded_ms'))} ms | ${fmt(v('node.folded_over_unfolded'), 2)}x |`,
    `| Chromium | ${fmt(v('browser.forward_wasm_ms'))} ms | ${fmt(v('browser.forward_unfolded_ms'))} ms | ${fmt(v('browser.folded_over_unfolded'), 2)}x |`,
    `| Worker (local workerd) | ${fmt(v('edge.forward_p50_ms'))} ms | ${fmt(v('edge.forward_unfolded_ms'))} ms | ${fmt(v('edge.folded_over_unfolded'), 2)}x |`,
    '',
    'The folded and unfolded columns of a row come from different series of the same run (the ratio from the alternated pairs, the folded column from the section\'s own median), so a ratio may differ a little from the quotient of its columns.',
    '',
    '## In the browser: photo to example, train to ready',
    '',
    '| metric | value | how |',
    '|---|---|---|',
    row('photo to stored example (photo + 3 augmented views)', 'browser.photo_to_example_ms', 'ms', 0),
    row('photo to usable (stored with its own view; the 3 augmented views follow in the background)', 'browser.photo_to_usable_ms', 'ms', 0),
    row('train to ready (50 examples, 5 classes)', 'browser.train_to_ready_ms', 'ms', 0),
    row('backbone bytes, first visit', 'browser.backbone_bytes_first', 'bytes', 0),
    row('backbone bytes, repeat visit', 'browser.backbone_bytes_repeat', 'bytes', 0),
    row('`predict()` with a feature-map crop head: extra time over the same head without it', 'browser.crop_ms'),
    row('`predict()` with a detector crop head (opt-in): extra time over the same head without it', 'browser.detector_crop_ms'),
    '',
    '## Phone class: 360x740, CPU slowed 4x (bench/phone.ts)',
    '',
    'Chromium with `Emulation.setCPUThrottlingRate` rate 4 through the DevTools protocol (DevTools\' "4x slowdown"), medians from one run; goals in the notes.',
    '',
    '| metric | value | how |',
    '|---|---|---|',
    row('ready, first visit (navigation to the Teach screen)', 'browser.phone4x.ready_ms', 'ms', 0),
    row('forward pass, batch 1', 'browser.phone4x.forward_ms', 'ms', 0),
    row('photo to stored example (photo + 3 augmented views)', 'browser.phone4x.photo_to_example_ms', 'ms', 0),
    row('train to ready (50 examples, 5 classes)', 'browser.phone4x.train_to_ready_ms', 'ms', 0),
    '',
    ...enginesSection(r),
    '',
    '## Fine-tuning speed-up (one batch-8 step through the top block, WASM)',
    '',
    '| kernels | step | speed-up |',
    '|---|---|---|',
    `| shared/model/wasm-grad-kernels.ts | ${fmt(v('finetune.step_ms'))} ms | ${fmt(ratio('finetune.step_ms_cpu_fallback', 'finetune.step_ms') ?? v('finetune.speedup'))}x |`,
    `| TF.js cpu reference kernels behind the WASM names | ${fmt(v('finetune.step_ms_cpu_fallback'))} ms | 1x |`,
    '',
    ...cliSection(r),
    '',
    '## Load (`/v1/predict`, 640x480 JPEG, one local isolate)',
    '',
    '| metric | value | how |',
    '|---|---|---|',
    row('throughput', 'load.rps', 'req/s', 2),
    row('requests', 'load.requests', '', 0),
    row('latency p50', 'load.p50_ms', 'ms', 0),
    row('latency p95', 'load.p95_ms', 'ms', 0),
    row('latency p99', 'load.p99_ms', 'ms', 0),
    row('errors', 'load.errors', '', 0),
    row('peak WASM heap', 'load.peak_wasm_heap_mb', 'MiB', 1),
    row('WASM heap growth over the load', 'load.wasm_heap_growth_mb', 'MiB', 1),
    row('tensor growth over the load', 'load.tensor_growth', '', 0),
    '',
    'One isolate runs one request\'s CPU work at a time, so latency under concurrency is mostly queueing: p50 is roughly the number of clients times the single-request time. Production spreads load over many isolates.',
    '',
    ...capacitySection(r),
    '',
    '## Fuzz (hostile requests against `wrangler dev`)',
    '',
    '| metric | value | how |',
    '|---|---|---|',
    row('requests', 'fuzz.requests', '', 0),
    row('5xx answers', 'fuzz.status_5xx', '', 0),
    row('findings', 'fuzz.findings', '', 0),
    row('refused writes checked against D1/R2', 'fuzz.rejected_writes_checked', '', 0),
    row('health checks', 'fuzz.health_checks', '', 0),
    row('tensor growth', 'fuzz.tensor_growth', '', 0),
    '',
    'The generator is tests/helpers/fuzz.ts (seeded; the same seed gives the same requests): random bytes as images, truncated and corrupted real JPEG/PNG files, tiny files declaring huge dimensions, wrong or missing content types, bodies over 8 MiB, NaN/Inf and wrong-length embeddings, malformed, oversized and huge-class-count head documents, odd head ids (path traversal, unicode, very long, bad percent-encoding), missing, forged, malformed and revoked tokens, another account\'s token, predictions with a fine-tuned model and broken `backboneTail` uploads, the operator API without and with its token, odd methods, paths, queries and conditional headers. `npm test` runs 300 of them inside workerd with the same checks (tests/worker/fuzz.test.ts).',
    '',
    '## Browser faults (tests/browser/faults.test.ts, Chromium against the Worker)',
    '',
    'Pass/fail checks, not timings; run with `npm run test:browser`.',
    '',
    '| fault | required |',
    '|---|---|',
    '| the page closed in the middle of retraining a head | on reopening: the same active head, byte-identical document, identical predictions, examples unchanged; it retrains and saves normally |',
    '| the storage quota running out while a retrained head (256 hidden units) is saved | a quota error saying the head stored before is unchanged; examples, the earlier head and its predictions unchanged |',
    '| two tabs training at once (the same head, then a new head in each) | both finish or one reports why; every stored head loads and predicts in a third tab, and all tabs agree |',
    '| the threaded WASM binary stalling on the network | the SIMD build after the timeout, still in use (same embeddings, equal to the Worker\'s within 1e-4) after the stalled download arrives |',
    '',
    // The same section `npm run eval` writes (scripts/eval/report.ts).
    ...evalSection(evaluation),
    '',
  ];
  const text = lines.join('\n');
  writeFileSync(BENCHMARKS_FILE, text);
  return text;
}

/** The 1-minute load average. */
export const load1 = (): number => loadavg()[0] ?? 0;

const CAPACITY_HEADING = '## Capacity and cost (bench/capacity.ts)';

/**
 * The "Capacity and cost" section: CPU per prediction from the workerd process's CPU time,
 * throughput of one isolate, dollars per million predictions, and D1/R2 operations per sync action.
 * `measuredAt` is said when the section was measured apart from the rest of the run.
 */
export function capacitySection(r: Results, measuredAt?: Date): string[] {
  const v = (k: string) => r[k]?.value;
  const row = (what: string, key: string, digits = 1) => `| ${what} | ${fmt(v(key), digits)} ${r[key]?.unit ?? ''} | ${r[key]?.note ?? 'not measured in this run'} |`;
  const cpu = v('edge.cpu_ms_per_predict');
  const cost = v('cost.usd_per_million_predictions');
  const ai = v('cost.workers_ai_usd_per_million');
  const rps = v('edge.rps_sequential');
  const n = (k: string) => fmt(v(k), 2).replace(/\.00$/, '');
  return [
    CAPACITY_HEADING,
    '',
    `${measuredAt ? `Measured by \`npx tsx bench/capacity.ts\` alone on ${measuredAt.toISOString().slice(0, 16).replace('T', ' ')} UTC (the rest of this file is from the run above). ` : ''}One \`wrangler dev\` (local workerd, frozen bundle, fresh local D1/R2, rate limits raised) on this 2-core machine. CPU time is that of the workerd process running the Worker (utime + stime in /proc/<pid>/stat; \`wrangler dev\` starts a second workerd that proxies the public port, reported apart in the note), read before and after the requests, minus what the same process used idle over the same wall time: production timers do not advance during CPU work, so no timer inside the Worker could measure it. The image is the 640x480 scene JPEG of the other edge figures; the 1024x1024 JPEG is the largest image allowed.`,
    '',
    '| metric | value | how |',
    '|---|---|---|',
    row('CPU per default-head prediction, 640x480 JPEG', 'edge.cpu_ms_per_predict'),
    row('of which the backbone forward pass', 'edge.cpu_ms_per_forward'),
    row('CPU per default-head prediction, 1024x1024 JPEG', 'edge.cpu_ms_per_predict_1024'),
    row('CPU per prediction with test-time augmentation (3 views), 640x480 JPEG', 'edge.cpu_ms_per_predict_tta'),
    row('requests per second, one isolate, sequential', 'edge.rps_sequential', 2),
    row('requests per second, one isolate, 4 clients', 'edge.rps_concurrent4', 2),
    row('USD per million predictions (640x480)', 'cost.usd_per_million_predictions', 2),
    row('USD per million predictions (1024x1024)', 'cost.usd_per_million_predictions_1024', 2),
    row(`Workers AI \`${WORKERS_AI_PRICES.model}\`, USD per million`, 'cost.workers_ai_usd_per_million', 2),
    '',
    `**Cost formula** (Workers Standard usage model, Workers Paid): USD per million predictions = $${WORKERS_PRICES.requestsUsdPerMillion.toFixed(2)} (a million requests) + $${WORKERS_PRICES.cpuUsdPerMillionMs.toFixed(2)} x CPU-ms per prediction (a million predictions of c ms are c million CPU-ms)${cpu !== undefined && cost !== undefined ? ` = $${WORKERS_PRICES.requestsUsdPerMillion.toFixed(2)} + $${WORKERS_PRICES.cpuUsdPerMillionMs.toFixed(2)} x ${cpu.toFixed(1)} = **$${cost.toFixed(2)}** (goal <= $1.00: ${cost <= 1 ? 'met' : `**not met**: it needs at most ${fmt((1 - WORKERS_PRICES.requestsUsdPerMillion) / WORKERS_PRICES.cpuUsdPerMillionMs, 0)} ms of CPU per prediction${v('edge.cpu_ms_per_forward') !== undefined ? `, and the backbone forward pass alone takes ${fmt(v('edge.cpu_ms_per_forward'))} ms of the ${cpu.toFixed(1)}` : ''}`})` : ''}. Beyond it: the plan's $5 a month, which includes 10 million requests and 30 million CPU-ms (${cpu !== undefined ? `about ${fmt(30e6 / cpu / 1e6, 2)} million predictions' CPU` : 'n/a'}); static assets (the app, the model files) are free; D1 and R2 are billed apart (table below; an anonymous prediction uses neither). Prices: ${WORKERS_PRICES.source}.`,
    '',
    `**Workers AI for comparison**: image classification there is \`${WORKERS_AI_PRICES.model}\` (ImageNet labels, not personal heads), ${WORKERS_AI_PRICES.neuronsPerMillionImages.toLocaleString('en-US')} Neurons per million images x $${WORKERS_AI_PRICES.usdPer1000Neurons} per 1,000 Neurons = $${ai !== undefined ? ai.toFixed(2) : 'n/a'} per million, plus the Worker request that calls it ($${WORKERS_PRICES.requestsUsdPerMillion.toFixed(2)} per million) and that Worker's decode CPU, if any; 10,000 Neurons a day are free. ${cost !== undefined && ai !== undefined ? `Running the backbone in the Worker is ${fmt((ai + WORKERS_PRICES.requestsUsdPerMillion) / cost, 1)}x cheaper per prediction at these prices, and it serves the personal heads Workers AI cannot.` : ''} Prices: ${WORKERS_AI_PRICES.source}.`,
    '',
    `**Capacity**: one isolate runs one request's CPU work at a time, so it serves at most about 1000 / CPU-ms predictions a second${cpu !== undefined ? ` (${fmt(1000 / cpu, 1)} at ${cpu.toFixed(1)} ms)` : ''}${rps !== undefined ? `; measured over HTTP: ${fmt(rps, 1)} sequentially` : ''}, and a little concurrency only overlaps the HTTP and I/O gaps. Cloudflare adds isolates with load, so capacity grows with traffic; what one isolate serves sets latency under bursts, not the ceiling.`,
    '',
    '**D1 and R2 operations per action** (counted by the isolate, `GET /_diag/storage` with diagnostics on, worker/store/storage-counts.ts; one action after another on a fresh account, a 5-class head with 64 hidden units):',
    '',
    '| action | D1 queries | R2 operations |',
    '|---|---|---|',
    ...SYNC_ACTIONS.map(([action, what]) => `| ${what} | ${n(`storage.${action}.d1_queries`)} | ${n(`storage.${action}.r2_operations`)} |`),
    '',
    'D1 bills rows read and written, not queries, and R2 bills class A (put, list) and class B (get, head) operations apart (deletes are free); these counts are the calls, the input to those prices. Rate-limit counters kept in D1 (per token for signed-in calls) are included.',
    '',
    '**Caveats**: local workerd is not Cloudflare\'s production runtime on its hardware; this machine has 2 cores shared with other engineers\' builds and tests, so CPU time and throughput are noisy (the rounds are in the notes; the median is reported). The Worker\'s workerd process also runs miniflare\'s local entry and asset routing and the local D1, R2 and rate-limiter simulations, counted here and not billed in production, so the CPU figure errs high (the anonymous prediction touches no D1 or R2). /proc CPU time has a 10 ms tick, averaged over the rounds\' requests. Pricing pages change: check them before relying on the dollars.',
  ];
}

/**
 * `text` (BENCHMARKS.md) with the section that starts at `heading` replaced by `lines`, or, when it
 * has none, inserted before the section starting `before` (else appended).
 */
function replaceSection(text: string, heading: string, lines: string[], before: string): string {
  const section = lines.join('\n') + '\n\n';
  const start = text.indexOf(heading);
  if (start >= 0) {
    const next = text.indexOf('\n## ', start + heading.length);
    return text.slice(0, start) + section + (next >= 0 ? text.slice(next + 1) : '');
  }
  const at = text.indexOf(before);
  return at >= 0 ? text.slice(0, at) + section + text.slice(at) : `${text.trimEnd()}\n\n${section}`;
}

/** `text` (BENCHMARKS.md) with its capacity section replaced, or inserted before the fuzz section. */
export function replaceCapacitySection(text: string, r: Results, measuredAt: Date): string {
  return replaceSection(text, CAPACITY_HEADING, capacitySection(r, measuredAt), '## Fuzz');
}

const ENGINES_HEADING = '## Browser engines: Firefox ESR and WebKitGTK (bench/engines.ts)';

/**
 * The "Browser engines" section: forward pass and photo to example in Firefox ESR and WebKitGTK
 * (bench/engines.ts) next to Chromium's (bench/browser.ts), which build each ran, and what each
 * engine lacks. `measuredAt` is said when the section was measured apart from the rest of the run.
 */
export function enginesSection(r: Results, measuredAt?: Date): string[] {
  const v = (k: string) => r[k]?.value;
  const ms = (k: string) => (v(k) !== undefined ? `${fmt(v(k), 1)} ms` : 'n/a');
  const build = (k: string) => /, (simd|threaded-simd), (\d+) thread/.exec(r[k]?.note ?? '')?.slice(1, 3).join(', ') ?? 'n/a';
  const engines: [string, string, string, string][] = [
    ['Chromium (bench/browser.ts)', 'browser.forward_wasm_ms', 'browser.photo_to_example_ms', '640x480 JPEG'],
    ['Firefox ESR', 'browser.firefox.forward_ms', 'browser.firefox.photo_to_example_ms', '64-px emoji PNG'],
    ['WebKitGTK (MiniBrowser)', 'browser.webkit.forward_ms', 'browser.webkit.photo_to_example_ms', '64-px emoji PNG'],
  ];
  return [
    ENGINES_HEADING,
    '',
    `${measuredAt ? `Measured by \`npx tsx bench/engines.ts\` alone on ${measuredAt.toISOString().slice(0, 16).replace('T', ' ')} UTC (the rest of this file is from the run above, Chromium's row included). ` : ''}Unthrottled, through the cross-engine drivers of the browser tests (tests/browser/engine.ts), on the plain (not cross-origin isolated) harness page against \`wrangler dev\`: the forward pass is the backbone, batch 1, median of 20 after 3 warm-up passes (goal <= 100 ms in every engine); photo to example is the library's \`addExample\` (decode, the photo and 3 augmented views embedded, 299-px copy, stored in IndexedDB), median of 7 after a warm-up photo. Chromium's photo figure is of a 640x480 JPEG, the other engines' of a 64-px emoji PNG (a smaller decode; the 4 forward passes dominate either way), so compare those across engines with that in mind.`,
    '',
    '| engine | build, threads | forward pass | photo to example | photo |',
    '|---|---|---|---|---|',
    ...engines.map(([name, fwd, photo, what]) => `| ${name} | ${build(fwd)} | ${ms(fwd)} | ${ms(photo)} | ${what} |`),
    '',
    'Notes per row are in bench/results.json. What each engine lacks here:',
    '',
    "- **WebKitGTK**: no `SharedArrayBuffer`, even on a cross-origin-isolated page, so no threaded build: the app falls back to the SIMD build (1 thread) and says why (tests/browser/cross-engine-library.test.ts). Its WebDriver automation sessions are ephemeral (like a private window), so there is no repeat-visit (stored model) figure, and WebDriver classic reports no console errors. No CPU throttling, so no phone-class figure. MiniBrowser on Linux is the closest to Safari we can run; Safari on iOS has other memory and storage limits.",
    '- **Firefox ESR**: runs the threaded build on a cross-origin-isolated page (the app\'s case; the cross-engine test checks it), but these figures are the SIMD build on the plain page, like Chromium\'s `browser.forward_wasm_ms`. WebDriver BiDi has no CPU throttling (DevTools\' `Emulation.setCPUThrottlingRate` is Chromium\'s protocol), so no phone-class figure either; `navigator.storage.persist()` shows a prompt instead of answering silently.',
    '- **Both**: headless or on Xvfb with no GPU, like Chromium here; WebGL/WebGPU are not used (the backend is WASM).',
    '',
    "**Machine load**: this 2-core machine is shared with other engineers' builds and test runs; the 1-minute load average at each engine's end is in its notes. Loaded runs make every figure here slower and noisier than on an idle machine or a phone's dedicated cores.",
  ];
}

/** `text` (BENCHMARKS.md) with its "Browser engines" section replaced, or inserted before the fine-tuning section. */
export function replaceEnginesSection(text: string, r: Results, measuredAt: Date): string {
  return replaceSection(text, ENGINES_HEADING, enginesSection(r, measuredAt), '## Fine-tuning speed-up');
}

const CLI_HEADING = '## CLI start-up (bench/cli.ts)';

/**
 * The "CLI start-up" section: `tannerin --help` from spawn to exit. `measuredAt` is said when the
 * section was measured apart from the rest of the run.
 */
export function cliSection(r: Results, measuredAt?: Date): string[] {
  const help = r['cli.help_ms'];
  return [
    CLI_HEADING,
    '',
    `${measuredAt ? `Measured by \`npx tsx bench/cli.ts\` alone on ${measuredAt.toISOString().slice(0, 16).replace('T', ' ')} UTC (the rest of this file is from the run above). ` : ''}The bin launcher starts the project's Node 22, which runs scripts/cli/main.ts by its own type stripping; the arguments are read before TF.js, the WASM backend or tsx load (each command loads its modules when it runs).`,
    '',
    '| metric | value | how |',
    '|---|---|---|',
    `| \`node scripts/tannerin.mjs --help\` | ${fmt(help?.value, 0)} ${help?.unit ?? ''} | ${help?.note ?? 'not measured in this run'} |`,
  ];
}

/** `text` (BENCHMARKS.md) with its "CLI start-up" section replaced, or inserted before the load section. */
export function replaceCliSection(text: string, r: Results, measuredAt: Date): string {
  return replaceSection(text, CLI_HEADING, cliSection(r, measuredAt), '## Load');
}
