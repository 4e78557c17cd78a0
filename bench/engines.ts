/**
 * Firefox ESR and WebKitGTK figures, unthrottled, through the cross-engine drivers of the browser
 * tests (tests/browser/engine.ts: puppeteer-core over WebDriver BiDi for Firefox, W3C WebDriver
 * with Xvfb for WebKitGTK), on the plain harness page served by `wrangler dev` (bench/lib.ts):
 *
 * - `browser.<engine>.forward_ms`: backbone forward pass, batch 1, median of {@link FORWARD_RUNS}
 *   after {@link FORWARD_WARMUP} warm-up passes (the SIMD build, 1 thread: the plain page is not
 *   cross-origin isolated, as the app's fallback);
 * - `browser.<engine>.photo_to_example_ms`: the harness's `teach` (the library's `addExample`,
 *   default 3 augmented views: decode, 4 forward passes, 299-px copy, IndexedDB) of a 64-px emoji
 *   PNG, median of {@link PHOTO_RUNS} after one warm-up photo.
 *
 * Chromium's figures are `browser.forward_wasm_ms` and `browser.photo_to_example_ms`
 * (bench/browser.ts). The goal (forward <= 100 ms) is reported in the notes, not asserted.
 *
 * `npx tsx bench/engines.ts` runs this part alone (building dist/ first when it is missing) and
 * merges its figures into bench/results.json and rewrites the "Browser engines" section of
 * BENCHMARKS.md (bench/report.ts `enginesSection`); `npm run bench` runs it as its `engines`
 * section.
 */
import { cpus, loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import type { EngineName, EngineSession } from '../tests/browser/engine.ts';
import { launchEngine } from '../tests/browser/engines.ts';
import { emojiSplit } from '../tests/browser/emoji.ts';
import { median, runSectionAlone, startDevServer, type Results } from './lib.ts';

interface ImageArg {
  base64: string;
  type: string;
}

/** The harness functions (client/test-pages/harness.ts) used here, as far as this file reads them. */
interface HarnessPage {
  tannerin: {
    startBackend(options?: { prefer?: 'auto' | 'simd' | 'cpu' }): Promise<{ build: string; threads: number; simd: boolean }>;
    load(): Promise<{ bytesDownloaded: number }>;
    forwardMs(runs?: number, warmup?: number): Promise<{ median: number; runs: number[] }>;
    teach(classes: { name: string; images: ImageArg[] }[], options?: { augment?: boolean; seed?: number }): Promise<{ classIds: string[]; msPerPhoto: number[] }>;
  };
}

/** The engines measured here (Chromium's figures come from bench/browser.ts). */
export const BENCH_ENGINES: readonly EngineName[] = ['firefox', 'webkit'];
const FORWARD_RUNS = 20;
const FORWARD_WARMUP = 3;
const PHOTO_RUNS = 7;
/** Goal for the forward pass in every engine, in ms. */
const FORWARD_GOAL_MS = 100;

const LABEL: Record<EngineName, string> = { chromium: 'Chromium', firefox: 'Firefox ESR', webkit: 'WebKitGTK (MiniBrowser)' };

/** One engine's figures on the plain harness page at `baseUrl`. */
async function benchEngine(engine: EngineName, baseUrl: string, photos: ImageArg[]): Promise<Results> {
  let session: EngineSession | null = null;
  try {
    session = await launchEngine(engine);
    const { page } = session;
    await page.goto(`${baseUrl}/test-pages/harness.html`);
    await page.waitForFunction(() => typeof (globalThis as unknown as Partial<HarnessPage>).tannerin === 'object', undefined, 60_000);
    const backend = await page.evaluate(() => (globalThis as unknown as HarnessPage).tannerin.startBackend(), undefined);
    await page.evaluate(() => (globalThis as unknown as HarnessPage).tannerin.load(), undefined);
    const forward = await page.evaluate(([runs, warmup]) => (globalThis as unknown as HarnessPage).tannerin.forwardMs(runs, warmup), [FORWARD_RUNS, FORWARD_WARMUP] as const);
    // The first photo also compiles the PNG path and creates the class: a warm-up.
    const taught = await page.evaluate((images) => (globalThis as unknown as HarnessPage).tannerin.teach([{ name: 'photos', images }]), photos);
    const photoMs = taught.msPerPhoto.slice(1);
    const load = `1-min load average ${(loadavg()[0] ?? 0).toFixed(1)} on ${cpus().length} cores after`;
    const where = `${LABEL[engine]}, ${backend.build}, ${backend.threads} thread(s), plain harness page, unthrottled`;
    const runs = (xs: number[]) => xs.map((x) => Math.round(x)).join(', ');
    const fwd = forward.median;
    return {
      [`browser.${engine}.forward_ms`]: {
        value: fwd,
        unit: 'ms',
        note: `${where}: backbone forward, batch 1, median of ${FORWARD_RUNS} after ${FORWARD_WARMUP} warm-up (range ${Math.round(Math.min(...forward.runs))}-${Math.round(Math.max(...forward.runs))}) (goal <= ${FORWARD_GOAL_MS}: ${fwd <= FORWARD_GOAL_MS ? 'met' : '**missed**'}); ${load}`,
      },
      [`browser.${engine}.photo_to_example_ms`]: {
        value: median(photoMs),
        unit: 'ms',
        note: `${where}: addExample of a 64-px emoji PNG (decode, photo + 3 augmented views embedded, 299-px copy, stored in IndexedDB); median of ${photoMs.length} after 1 warm-up (${runs(photoMs)}); ${load}`,
      },
    };
  } finally {
    await session?.dispose();
  }
}

/** Runs the Firefox and WebKit bench (see the module comment) against one dev server. */
export async function benchEngines(): Promise<Results> {
  const server = await startDevServer();
  try {
    // Different emoji so no decode is cached: 1 warm-up + PHOTO_RUNS.
    const split = emojiSplit(['animal-mammal'], 1 + PHOTO_RUNS, 0, 5);
    const photos = (split.train['animal-mammal'] ?? []).map((e) => e.image);
    const results: Results = {};
    for (const engine of BENCH_ENGINES) {
      console.error(`bench engines: ${engine}...`);
      Object.assign(results, await benchEngine(engine, server.url, photos));
    }
    return results;
  } finally {
    await server.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runSectionAlone(benchEngines, async () => (await import('./report.ts')).replaceEnginesSection);
  process.exit(0);
}
