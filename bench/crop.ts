/**
 * The cost of a head with a feature-map crop (shared/head/crop.ts, issue 17 point 4's keys): the
 * extra time of a crop head's prediction over the same head without the crop, measured side by
 * side in one run (requests alternated, medians), on the edge bench's 640x480 JPEG:
 *
 * - `edge.crop_ms`: over HTTP against `wrangler dev` (a fresh account and local state; both heads
 *   personal, so both read the same D1 row and cache), crop head p50 minus plain head p50;
 * - `browser.crop_ms`: `predict()` in Chromium on the harness page, both heads stored on the device.
 * - `browser.detector_crop_ms`: the same with a detector crop head (CenterNet, opt-in, browser only;
 *   client/lib/detector.ts) against the same plain head, after the page turned the detector on
 *   (downloaded once from the dev server, as a person's opt-in does).
 *
 * The extra work is one backbone pass to the crop's layer (`out_relu`: nearly the whole network),
 * the box (7x7 cells) and the cut, then the crop's pass replaces the photo's. Run on its own with
 * `npx tsx bench/crop.ts` (prints JSON; `npm run bench` runs it as its `crop` section).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PredictResponse, TokenResponse } from '../shared/api/types.ts';
import { DEFAULT_FEATURE_MAP_CROP } from '../shared/head/crop.ts';
import { DEFAULT_DETECTOR_CROP } from '../shared/crop/detector-box.ts';
import { withHeadCrop, type HeadDocument } from '../shared/head/document.ts';
import { readManifest } from '../scripts/node-models.ts';
import { launchChromium, openHarness } from '../tests/browser/chrome.ts';
import { makeTestHead } from '../tests/helpers/heads.ts';
import { imageArg } from '../tests/browser/util.ts';
import { benchJpeg } from './node-forward.ts';
import { median, startDevServer, type Results } from './lib.ts';

/** The harness functions (client/test-pages/harness.ts) this bench calls; this file is compiled without DOM types. */
interface HarnessPage {
  tannerin: {
    startBackend(): Promise<unknown>;
    load(): Promise<unknown>;
    storeDocument(json: string): Promise<{ ok: boolean }>;
    predictImages(images: { base64: string; type: string }[], options: { headId: string }): Promise<unknown[]>;
    detectorOn(): Promise<{ ok: boolean }>;
  };
}

/** Alternates `runs` timed calls of `a` and `b` after `warmup` of each; their medians. */
async function alternated(runs: number, warmup: number, a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<{ a: number; b: number }> {
  const times: { a: number[]; b: number[] } = { a: [], b: [] };
  for (let i = 0; i < warmup + runs; i++) {
    for (const [fn, list] of [[a, times.a], [b, times.b]] as const) {
      const t0 = performance.now();
      await fn();
      if (i >= warmup) list.push(performance.now() - t0);
    }
  }
  return { a: median(times.a), b: median(times.b) };
}

/** A plain test head and the same head with the default feature-map crop and with the default detector crop (fresh ids). */
function heads(): { plain: HeadDocument; crop: HeadDocument; detector: HeadDocument } {
  const plain = makeTestHead(readManifest().backbone, { seed: 17, id: crypto.randomUUID() });
  return {
    plain,
    crop: withHeadCrop({ ...plain, id: crypto.randomUUID() }, DEFAULT_FEATURE_MAP_CROP),
    detector: withHeadCrop({ ...plain, id: crypto.randomUUID() }, DEFAULT_DETECTOR_CROP),
  };
}

/** Median ms of `runs` alternated predictions in the page of head `a` and head `b`, after 3 warm-ups each. */
async function pageAlternated(tab: Awaited<ReturnType<typeof openHarness>>, image: ReturnType<typeof imageArg>, a: string, b: string, runs: number): Promise<{ a: number; b: number }> {
  const times = await tab.evaluate(
    async ([img, first, second, n]) => {
      const lib = (globalThis as unknown as HarnessPage).tannerin;
      const out: { a: number[]; b: number[] } = { a: [], b: [] };
      for (let i = 0; i < 3 + n; i++) {
        for (const [id, list] of [[first, out.a], [second, out.b]] as const) {
          const t0 = performance.now();
          await lib.predictImages([img], { headId: id });
          if (i >= 3) list.push(performance.now() - t0);
        }
      }
      return out;
    },
    [image, a, b, runs] as const,
  );
  return { a: median(times.a), b: median(times.b) };
}

/** Both keys (module comment); `runs` alternated predictions of each head, after 3 warm-ups. */
export async function benchCrop(runs = 20): Promise<Results> {
  const photo = benchJpeg();
  const { plain, crop, detector } = heads();
  const dir = mkdtempSync(join(tmpdir(), 'tannerin-crop-bench-'));
  const server = await startDevServer([], '/models.json', join(dir, 'state'));
  try {
    const { token } = (await (await fetch(`${server.url}/v1/accounts`, { method: 'POST' })).json()) as TokenResponse;
    const auth = { authorization: `Bearer ${token}` };
    for (const doc of [plain, crop]) {
      const put = await fetch(`${server.url}/v1/heads/${doc.id}`, { method: 'PUT', body: JSON.stringify(doc), headers: { 'content-type': 'application/json', 'if-none-match': '*', ...auth } });
      if (put.status !== 201) throw new Error(`upload answered ${put.status}: ${await put.text()}`);
    }
    let box: PredictResponse['crop'];
    const edgePredict = (id: string) => async () => {
      const res = await fetch(`${server.url}/v1/predict?head=${id}`, { method: 'POST', body: new Uint8Array(photo), headers: { 'content-type': 'image/jpeg', ...auth } });
      const body = (await res.json()) as PredictResponse;
      if (!res.ok) throw new Error(`predict answered ${res.status}: ${JSON.stringify(body)}`);
      box ??= body.crop;
    };
    const edge = await alternated(runs, 3, edgePredict(crop.id), edgePredict(plain.id));
    // The yardstick: one whole forward pass timed inside the isolate, right after.
    const forward = median(((await (await fetch(`${server.url}/_diag/forward?n=20`)).json()) as { ms: number[] }).ms);

    const browser = await launchChromium();
    let page: { crop: number; plain: number; detector: number; detectorPlain: number };
    try {
      const tab = await openHarness(browser, server.url);
      await tab.evaluate(() => (globalThis as unknown as HarnessPage).tannerin.startBackend());
      await tab.evaluate(() => (globalThis as unknown as HarnessPage).tannerin.load());
      for (const doc of [plain, crop]) {
        const stored = await tab.evaluate((json) => (globalThis as unknown as HarnessPage).tannerin.storeDocument(json), JSON.stringify(doc));
        if (!stored.ok) throw new Error(`the page refused the head: ${JSON.stringify(stored)}`);
      }
      const image = imageArg(photo, 'image/jpeg');
      const fm = await pageAlternated(tab, image, crop.id, plain.id, runs);
      const on = await tab.evaluate(() => (globalThis as unknown as HarnessPage).tannerin.detectorOn());
      if (!on.ok) throw new Error(`the page could not turn the detector on: ${JSON.stringify(on)}`);
      const stored = await tab.evaluate((json) => (globalThis as unknown as HarnessPage).tannerin.storeDocument(json), JSON.stringify(detector));
      if (!stored.ok) throw new Error(`the page refused the detector head: ${JSON.stringify(stored)}`);
      const det = await pageAlternated(tab, image, detector.id, plain.id, runs);
      page = { crop: fm.a, plain: fm.b, detector: det.a, detectorPlain: det.b };
    } finally {
      await browser.dispose();
    }
    const where = box ? `box x ${box.box.x.toFixed(2)} y ${box.box.y.toFixed(2)} w ${box.box.width.toFixed(2)} h ${box.box.height.toFixed(2)}` : 'no box';
    return {
      'edge.crop_ms': {
        value: edge.a - edge.b,
        unit: 'ms',
        note: `/v1/predict of the 640x480 JPEG with a personal head with the feature-map crop (out_relu, 0.5, pad 0.15; ${where}) p50 ${edge.a.toFixed(1)} ms minus the same head without it ${edge.b.toFixed(1)} ms, ${runs} requests each, alternated; one forward pass inside the isolate right after: ${forward.toFixed(1)} ms (the crop adds one pass to out_relu, the box and the cut)`,
      },
      'browser.crop_ms': {
        value: page.crop - page.plain,
        unit: 'ms',
        note: `predict() in Chromium of the same JPEG, crop head median ${page.crop.toFixed(1)} ms minus the same head without the crop ${page.plain.toFixed(1)} ms, ${runs} each, alternated`,
      },
      'browser.detector_crop_ms': {
        value: page.detector - page.detectorPlain,
        unit: 'ms',
        note: `predict() in Chromium of the same JPEG, detector crop head (CenterNet 512 px, minScore 0.3, pad 0.15; the person's opt-in, browser only) median ${page.detector.toFixed(1)} ms minus the same head without the crop ${page.detectorPlain.toFixed(1)} ms, ${runs} each, alternated`,
      },
    };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchCrop(), null, 2));
  process.exit(0);
}
