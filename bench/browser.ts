/**
 * The browser bench: Debian's Chromium (tests/browser/chrome.ts) on the harness page served by
 * `wrangler dev` (bench/lib.ts), timing what a person waits for:
 *
 * - `browser.forward_wasm_ms` / `browser.forward_cpu_ms`: backbone forward pass, batch 1, medians
 *   (WASM SIMD on the plain page; the `cpu` backend after a reload);
 * - `browser.photo_to_example_ms`: a 640x480 JPEG photo to a stored example with the default
 *   3 augmented views (decode, 4 forward passes, 299-px copy, IndexedDB), median;
 * - `browser.photo_to_usable_ms`: the same photos, until `addExample` resolved: the photo decoded,
 *   its original view embedded, the copy made and the example stored, counting for training (its
 *   3 augmented views follow in the background; each photo's are stored before the next photo);
 * - `browser.train_to_ready_ms`: 50 stored examples (10 emoji in each of 5 classes), from the
 *   `train()` call until the new head is saved and a prediction has come back;
 * - `browser.correction_to_ready_ms`: with those 50 examples and their head, a prediction
 *   corrected (`correct()` with the prediction, to the class the model ranked second) until the
 *   retrained model is stored and in use (`retrained` settled: the photo stored with the
 *   prediction's embedding, then a warm-started retraining judged by the guard), median of
 *   {@link CORRECTION_RUNS}; each corrected example is deleted after, so the 50 stay as they were;
 * - `browser.train_to_ready_1000_ms`: the same after growing the examples to 1,000 photos with
 *   noisy copies of those 50 (embeddings only, written straight to IndexedDB by the harness's
 *   `cloneExamples`: embedding 950 photos would take minutes and time nothing Train does);
 * - `browser.backbone_bytes_first` / `_repeat`: backbone bytes on the wire on a fresh profile and
 *   after relaunching the browser on the same profile.
 *
 * Goals are reported in the notes, not asserted. The harness page is driven through
 * `page.evaluate`; its functions are typed here by {@link HarnessPage} because this file is
 * compiled without DOM types.
 */
import { fixtures } from '../tests/helpers/fixtures.ts';
import { launchChromium, openHarness, watchModelTraffic, type Browser, type ModelTraffic } from '../tests/browser/chrome.ts';
import { emojiSplit } from '../tests/browser/emoji.ts';
import { imageArg } from '../tests/browser/util.ts';
import type { ModelsResponse } from '../shared/api/types.ts';
import { median, startDevServer, type Results } from './lib.ts';

interface ImageArg {
  base64: string;
  type: string;
}

/** The harness functions (client/test-pages/harness.ts) the bench calls, as far as it reads them. */
interface HarnessPage {
  tannerin: {
    startBackend(options?: { prefer?: 'auto' | 'simd' | 'cpu' }): Promise<{ build: string; threads: number }>;
    load(): Promise<{ bytesDownloaded: number }>;
    forwardMs(runs?: number, warmup?: number): Promise<{ median: number }>;
    forwardFoldedVsUnfoldedMs(rounds?: number, runs?: number): Promise<{ folded: number; unfolded: number }>;
    teach(classes: { name: string; images: ImageArg[] }[], options?: { augment?: boolean; seed?: number }): Promise<{ classIds: string[]; msPerPhoto: number[]; msToUsable: number[] }>;
    deleteClass(id: string): Promise<{ examplesDeleted: number }>;
    trainAndPredict(img: ImageArg): Promise<{ ms: number; trainMs: number; epochs: number; vectors: number; guard: string }>;
    correctionToReady(
      img: ImageArg,
      target: 'runner-up' | { newClassName: string },
    ): Promise<{ ms: number; storedMs: number; trainMs: number; epochs: number; split: string; outcome: string; warmStart: { classesKept: number } | { refused: string } | null }>;
    cloneExamples(photos: number, options?: { noise?: number; seed?: number }): Promise<{ photos: number }>;
  };
}

/** Five visually different emoji subcategories, 10 emoji each: the "50 stored examples". */
const TRAIN_CLASSES = ['heart', 'animal-mammal', 'transport-ground', 'food-fruit', 'country-flag'];
const PHOTO_RUNS = 9;
/** Corrections timed (`browser.correction_to_ready_ms`). */
const CORRECTION_RUNS = 3;
/** Photos of the large training (`browser.train_to_ready_1000_ms`). */
const LARGE_PHOTOS = 1000;

/** Bytes of the backbone's files (not the default heads') among the responses seen so far. */
async function backboneBytes(traffic: ModelTraffic, manifest: ModelsResponse): Promise<number> {
  await traffic.settled();
  return manifest.backbone.files.reduce((a, f) => a + (traffic.bytesByPath.get(new URL(f.url).pathname) ?? 0), 0);
}

/** Runs the browser bench (see the module comment). Needs `build()` to have run. */
export async function benchBrowser(): Promise<Results> {
  const server = await startDevServer();
  const browsers: Browser[] = [];
  try {
    const manifest = (await (await fetch(`${server.url}/v1/models`)).json()) as ModelsResponse;
    const photo = (await fixtures()).find((f) => f.name === 'scene.jpg');
    if (!photo) throw new Error('no scene.jpg fixture');
    const photoArg = imageArg(photo.bytes, 'image/jpeg');
    const emoji = emojiSplit(TRAIN_CLASSES, 10, 1, 11);

    // First visit: a fresh profile downloads the models.
    const first = await launchChromium();
    browsers.push(first);
    let traffic = watchModelTraffic(first.context);
    const page = await openHarness(first, server.url);
    const backend = await page.evaluate(() => (globalThis as unknown as HarnessPage).tannerin.startBackend());
    await page.evaluate(() => (globalThis as unknown as HarnessPage).tannerin.load());
    const bytesFirst = await backboneBytes(traffic, manifest);
    const wasm = await page.evaluate(() => (globalThis as unknown as HarnessPage).tannerin.forwardMs(20, 3));
    // The folded backbone against the layers model as shipped, alternated in the same page.
    const folding = await page.evaluate(() => (globalThis as unknown as HarnessPage).tannerin.forwardFoldedVsUnfoldedMs(3, 8));

    // One photo to a stored example: the first run also compiles the JPEG decoder, so it is a
    // warm-up; the median of the rest.
    const photos = await page.evaluate(
      ([img, runs]) => (globalThis as unknown as HarnessPage).tannerin.teach([{ name: 'photos', images: Array.from({ length: 1 + runs }, () => img) }]),
      [photoArg, PHOTO_RUNS] as const,
    );
    const photoMs = median(photos.msPerPhoto.slice(1, 1 + PHOTO_RUNS));
    const usableMs = median(photos.msToUsable.slice(1, 1 + PHOTO_RUNS));
    await page.evaluate((id) => (globalThis as unknown as HarnessPage).tannerin.deleteClass(id), photos.classIds[0] as string);

    // 50 stored examples in 5 classes, then Train until a prediction is back.
    const classes = TRAIN_CLASSES.map((name) => ({ name, images: (emoji.train[name] ?? []).map((e) => e.image) }));
    await page.evaluate((c) => (globalThis as unknown as HarnessPage).tannerin.teach(c), classes);
    const probe = (emoji.test['heart'] ?? [])[0]?.image as ImageArg;
    const ready = await page.evaluate((img) => (globalThis as unknown as HarnessPage).tannerin.trainAndPredict(img), probe);
    // Corrections on those 50: each test emoji of the first classes, to the model's runner-up class.
    const corrections = [];
    for (const name of TRAIN_CLASSES.slice(0, CORRECTION_RUNS)) {
      const img = (emoji.test[name] ?? [])[0]?.image as ImageArg;
      corrections.push(await page.evaluate((i) => (globalThis as unknown as HarnessPage).tannerin.correctionToReady(i, 'runner-up'), img));
    }
    const correctionMs = median(corrections.map((c) => c.ms));
    // 1,000 photos: the 50 copied with noise on their embeddings (no backbone needed), then Train again.
    await page.evaluate((n) => (globalThis as unknown as HarnessPage).tannerin.cloneExamples(n), LARGE_PHOTOS);
    const readyLarge = await page.evaluate((img) => (globalThis as unknown as HarnessPage).tannerin.trainAndPredict(img), probe);
    await first.close();

    // Repeat visit: the same profile, relaunched.
    const second = await launchChromium(first.profileDir);
    browsers.push(second);
    traffic = watchModelTraffic(second.context);
    const again = await openHarness(second, server.url);
    await again.evaluate(() => (globalThis as unknown as HarnessPage).tannerin.startBackend());
    await again.evaluate(() => (globalThis as unknown as HarnessPage).tannerin.load());
    const bytesRepeat = await backboneBytes(traffic, manifest);
    const repeatRequests = traffic.requests.length;

    // The cpu backend (a page starts one backend, so reload): ~25-50x slower, few runs.
    await again.reload();
    await again.waitForFunction('typeof window.tannerin === "object"');
    await again.evaluate(() => (globalThis as unknown as HarnessPage).tannerin.startBackend({ prefer: 'cpu' }));
    await again.evaluate(() => (globalThis as unknown as HarnessPage).tannerin.load());
    const cpu = await again.evaluate(() => (globalThis as unknown as HarnessPage).tannerin.forwardMs(3, 1));

    const ratio = cpu.median / wasm.median;
    return {
      'browser.forward_wasm_ms': { value: wasm.median, unit: 'ms', note: `Chromium, ${backend.build}, ${backend.threads} thread(s), batch 1, median of 20 (goal <= 50)` },
      'browser.forward_unfolded_ms': { value: folding.unfolded, unit: 'ms', note: `Chromium, the unfolded layers model as shipped, batch 1, median of 24 alternated with 24 folded passes (${folding.folded.toFixed(1)} ms)` },
      'browser.folded_over_unfolded': { value: folding.folded / folding.unfolded, unit: 'x', note: 'folded / unfolded forward, alternated in one page (goal <= 0.55)' },
      'browser.forward_cpu_ms': { value: cpu.median, unit: 'ms', note: 'Chromium, cpu backend, batch 1, median of 3' },
      'browser.forward_cpu_over_wasm': { value: ratio, unit: 'x', note: 'cpu / WASM forward (goal >= 25)' },
      'browser.photo_to_example_ms': {
        value: photoMs,
        unit: 'ms',
        note: `640x480 JPEG -> decode, photo + 3 augmented views embedded, 299-px copy, stored; median of ${PHOTO_RUNS} (goal <= 250)`,
      },
      'browser.photo_to_usable_ms': {
        value: usableMs,
        unit: 'ms',
        note: `the same photos until addExample resolved: decode, the photo's own view embedded, 299-px copy, stored, counting for training (its 3 augmented views follow in the background); median of ${PHOTO_RUNS} (goal <= 120)`,
      },
      'browser.train_to_ready_ms': {
        value: ready.ms,
        unit: 'ms',
        note: `50 stored examples (${ready.vectors} vectors), 5 classes: train (${ready.trainMs.toFixed(0)} ms, ${ready.epochs} epochs, guard ${ready.guard}) + save + predict (goal <= 1000)`,
      },
      'browser.correction_to_ready_ms': {
        value: correctionMs,
        unit: 'ms',
        note:
          `50 stored examples and their head: correct() of a prediction (to the runner-up class) until the retrained model is in use; median of ${CORRECTION_RUNS} ` +
          `(${corrections.map((c) => `${c.ms.toFixed(0)} ms: stored ${c.storedMs.toFixed(0)}, train ${c.trainMs.toFixed(0)} / ${c.epochs} epochs, ${c.split}, ${c.outcome}, warm start ${c.warmStart && 'classesKept' in c.warmStart ? 'used' : 'not used'}`).join('; ')}) (goal <= 1000)`,
      },
      'browser.train_to_ready_1000_ms': {
        value: readyLarge.ms,
        unit: 'ms',
        note:
          `the same 50 photos copied to ${LARGE_PHOTOS} (embeddings x (1 + 0.3 noise), written to IndexedDB directly; ${readyLarge.vectors} vectors): ` +
          `train (${readyLarge.trainMs.toFixed(0)} ms, ${readyLarge.epochs} epochs, guard ${readyLarge.guard}) + save + predict (goal <= 5000)`,
      },
      'browser.backbone_bytes_first': { value: bytesFirst, unit: 'bytes', note: 'backbone files on the wire, fresh profile' },
      'browser.backbone_bytes_repeat': { value: bytesRepeat, unit: 'bytes', note: `relaunch on the same profile; ${repeatRequests} model-file requests (goal 0)` },
    };
  } finally {
    for (const b of browsers) await b.dispose();
    await server.stop();
  }
}
