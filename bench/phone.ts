/**
 * Phone-class figures: Debian's Chromium at a 360x740 phone viewport with the CPU slowed 4x through
 * the DevTools protocol (`Emulation.setCPUThrottlingRate`, rate 4, as DevTools' "4x slowdown"),
 * against `wrangler dev` (bench/lib.ts), all in one run:
 *
 * - `browser.phone4x.ready_ms`: first visit (a fresh profile), from navigation start until the
 *   Teach screen accepts a photo (the app's `body[data-ready]`: backend started, model downloaded
 *   from the local server and stored, screens mounted), median of {@link READY_RUNS} profiles;
 * - `browser.phone4x.forward_ms`: backbone forward pass, batch 1, median, on the cross-origin
 *   isolated harness page (the app's engine: threaded WASM SIMD);
 * - `browser.phone4x.photo_to_example_ms`: a 640x480 JPEG to a stored example (photo + 3
 *   augmented views), median;
 * - `browser.phone4x.train_to_ready_ms`: 50 stored examples (5 classes), `train()` until the new
 *   head is saved and a prediction is back, median of {@link TRAIN_RUNS}.
 *
 * Setting up (teaching the 50 examples) runs unthrottled; only what is timed runs at 4x. DevTools
 * throttling slows the page's renderer, not the machine: the WASM worker threads are throttled as
 * far as Chromium applies it to them. Goals are reported in the notes, not asserted.
 *
 * `npx tsx bench/phone.ts` runs this part alone (building dist/ first when it is missing) and
 * merges the figures into bench/results.json; `npm run bench` runs it as its `phone` section.
 */
import { pathToFileURL } from 'node:url';
import type { CDPSession, Page } from 'playwright-core';
import { fixtures } from '../tests/helpers/fixtures.ts';
import { launchChromium, openHarness, type Browser } from '../tests/browser/chrome.ts';
import { emojiSplit } from '../tests/browser/emoji.ts';
import { imageArg } from '../tests/browser/util.ts';
import { median, runSectionAlone, startDevServer, type Results } from './lib.ts';

interface ImageArg {
  base64: string;
  type: string;
}

/** The harness functions (client/test-pages/harness.ts) used here, as far as this file reads them. */
interface HarnessPage {
  tannerin: {
    startBackend(): Promise<{ build: string; threads: number }>;
    load(): Promise<unknown>;
    forwardMs(runs?: number, warmup?: number): Promise<{ median: number }>;
    teach(classes: { name: string; images: ImageArg[] }[]): Promise<{ classIds: string[]; msPerPhoto: number[] }>;
    deleteClass(id: string): Promise<unknown>;
    trainAndPredict(img: ImageArg): Promise<{ ms: number; trainMs: number; epochs: number; vectors: number; guard: string }>;
  };
}

/** DevTools' "4x slowdown": a mid-range phone on a laptop-class CPU. */
export const CPU_SLOWDOWN = 4;
export const PHONE_VIEWPORT = { width: 360, height: 740 };
const READY_RUNS = 3;
const FORWARD_RUNS = 10;
const PHOTO_RUNS = 5;
const TRAIN_RUNS = 3;
const TRAIN_CLASSES = ['heart', 'animal-mammal', 'transport-ground', 'food-fruit', 'country-flag'];

async function throttle(page: Page, browser: Browser, rate: number): Promise<CDPSession> {
  const cdp = await browser.context.newCDPSession(page);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate });
  return cdp;
}

/**
 * One first visit: a fresh profile, the CPU slowed, the app opened; the time from navigation
 * start until `body[data-ready]` is set, read in the page (a MutationObserver installed before
 * the app's script runs records `performance.now()`, whose origin is navigation start).
 */
async function firstVisitReadyMs(url: string): Promise<number> {
  const browser = await launchChromium(undefined, { viewport: PHONE_VIEWPORT, mobile: true });
  try {
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    // A string, run in the page: this file is compiled without DOM types.
    await page.addInitScript(`
      const observer = new MutationObserver(() => {
        if (document.body && document.body.dataset.ready === 'true' && window.readyAt === undefined) {
          window.readyAt = performance.now();
          observer.disconnect();
        }
      });
      observer.observe(document, { subtree: true, attributes: true, attributeFilter: ['data-ready'] });
    `);
    await throttle(page, browser, CPU_SLOWDOWN);
    await page.goto(`${url}/`);
    await page.waitForSelector('body[data-ready="true"] main[data-screen="teach"] #new-class', { timeout: 180_000 });
    const readyAt = await page.evaluate(() => (globalThis as unknown as { readyAt?: number }).readyAt);
    if (readyAt === undefined) throw new Error('the app became ready without the observer seeing it');
    return readyAt;
  } finally {
    await browser.dispose();
  }
}

/** Runs the phone-class bench (see the module comment). Needs `build()` to have run. */
export async function benchPhone(): Promise<Results> {
  const server = await startDevServer();
  let browser: Browser | null = null;
  try {
    const ready: number[] = [];
    for (let i = 0; i < READY_RUNS; i++) ready.push(await firstVisitReadyMs(server.url));

    const photo = (await fixtures()).find((f) => f.name === 'scene.jpg');
    if (!photo) throw new Error('no scene.jpg fixture');
    const photoArg = imageArg(photo.bytes, 'image/jpeg');
    const emoji = emojiSplit(TRAIN_CLASSES, 10, 1, 11);

    browser = await launchChromium(undefined, { viewport: PHONE_VIEWPORT, mobile: true });
    const page = await openHarness(browser, server.url, 'isolated');
    const backend = await page.evaluate(() => (globalThis as unknown as HarnessPage).tannerin.startBackend());
    await page.evaluate(() => (globalThis as unknown as HarnessPage).tannerin.load());
    // The 50 examples, taught at full speed (not timed).
    const classes = TRAIN_CLASSES.map((name) => ({ name, images: (emoji.train[name] ?? []).map((e) => e.image) }));
    await page.evaluate((c) => (globalThis as unknown as HarnessPage).tannerin.teach(c), classes);
    const probe = (emoji.test['heart'] ?? [])[0]?.image as ImageArg;

    const cdp = await throttle(page, browser, CPU_SLOWDOWN);
    const forward = await page.evaluate((runs) => (globalThis as unknown as HarnessPage).tannerin.forwardMs(runs, 2), FORWARD_RUNS);
    // The first photo also compiles the JPEG decoder: a warm-up; the median of the rest.
    const photos = await page.evaluate(
      ([img, runs]) => (globalThis as unknown as HarnessPage).tannerin.teach([{ name: 'photos', images: Array.from({ length: 1 + runs }, () => img) }]),
      [photoArg, PHOTO_RUNS] as const,
    );
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
    await page.evaluate((id) => (globalThis as unknown as HarnessPage).tannerin.deleteClass(id), photos.classIds[0] as string);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: CPU_SLOWDOWN });
    const trains: Array<{ ms: number; trainMs: number; epochs: number; vectors: number }> = [];
    for (let i = 0; i < TRAIN_RUNS; i++) trains.push(await page.evaluate((img) => (globalThis as unknown as HarnessPage).tannerin.trainAndPredict(img), probe));
    await cdp.detach();

    const trainMs = median(trains.map((t) => t.ms));
    const where = `Chromium ${PHONE_VIEWPORT.width}x${PHONE_VIEWPORT.height}, CPU throttled ${CPU_SLOWDOWN}x (DevTools protocol)`;
    return {
      'browser.phone4x.ready_ms': {
        value: median(ready),
        unit: 'ms',
        note: `${where}: first visit (fresh profile), navigation start to the Teach screen ready (model downloaded from the local server and stored); median of ${READY_RUNS} (${ready.map((r) => Math.round(r)).join(', ')}) (goal <= 5000)`,
      },
      'browser.phone4x.forward_ms': {
        value: forward.median,
        unit: 'ms',
        note: `${where}: backbone forward, batch 1, ${backend.build}, ${backend.threads} thread(s) (isolated page, as the app), median of ${FORWARD_RUNS}`,
      },
      'browser.phone4x.photo_to_example_ms': {
        value: median(photos.msPerPhoto.slice(1)),
        unit: 'ms',
        note: `${where}: 640x480 JPEG -> decode, photo + 3 augmented views embedded, 299-px copy, stored; median of ${PHOTO_RUNS}`,
      },
      'browser.phone4x.train_to_ready_ms': {
        value: trainMs,
        unit: 'ms',
        note: `${where}: 50 stored examples (${trains[0]?.vectors ?? '?'} vectors), 5 classes: train + save + predict; median of ${TRAIN_RUNS} (${trains.map((t) => `${Math.round(t.ms)} ms, train ${Math.round(t.trainMs)} ms / ${t.epochs} epochs`).join('; ')}) (goal <= 3000)`,
      },
    };
  } finally {
    await browser?.dispose();
    await server.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runSectionAlone(benchPhone);
  process.exit(0);
}
