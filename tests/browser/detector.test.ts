/**
 * The opt-in detector (client/lib/detector.ts, issue 17) in Chromium against the real Worker:
 * loading the models downloads no detector file; turning it on downloads CenterNet's files once
 * (byte progress; a cancelled download leaves it off), after which a relaunch with the same profile
 * finds it on and makes zero detector-file requests, and it works offline. Its box for a scene
 * (a small emoji in a corner of a noisy frame) is the box the eval's Node path
 * (scripts/eval/detector.ts) gives for the same pixels (within 2 px of its 512-px input; here its
 * centre is in the dog). A head with a detector crop predicts in
 * the browser (`crop.method === 'detector'`, the box the detector gives), the tensor count flat;
 * turned off with its weights deleted, the head says to turn it on. Reports the detector's time
 * next to a backbone pass (medians; no assertion on time).
 */
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { ModelsResponse, ServedDetector } from '../../shared/api/types.ts';
import { CENTERNET_ID, DEFAULT_DETECTOR_CROP, detectorCropBox, type Detection } from '../../shared/crop/detector-box.ts';
import type { HeadDocument } from '../../shared/head/document.ts';
import { decodeImage } from '../../shared/image/decode.ts';
import { initNodeImageDecoder, startNodeWasmBackend } from '../../scripts/node-backend.ts';
import { loadDetector } from '../../scripts/eval/detector.ts';
import { emojiPng } from '../helpers/fixtures.ts';
import { makeTestHead } from '../helpers/heads.ts';
import { launchChromium, openHarness, watchModelTraffic, type Browser } from './chrome.ts';
import { cornerScene, type CropScene } from './crop-scenes.ts';
import { imageArg } from './util.ts';

const baseUrl = inject('baseUrl');

const browsers: Browser[] = [];
// Closed after each test even when it fails: a relaunch on the same profile needs it closed.
afterEach(async () => {
  for (const b of browsers) await b.close();
});
afterAll(async () => {
  for (const b of browsers) await b.dispose();
});

let manifest: ModelsResponse;
let detector: ServedDetector;
let scene: CropScene;
/** The eval's Node detection of the scene's pixels. */
let nodeDetection: Detection | null;

beforeAll(async () => {
  manifest = (await (await fetch(`${baseUrl}/v1/models`)).json()) as ModelsResponse;
  const found = manifest.detectors?.find((d) => d.id === CENTERNET_ID);
  if (!found) throw new Error('the server lists no detector');
  detector = found;
  scene = await cornerScene(imageArg(emojiPng('1f436'), 'image/png'), 2, 7, 144);
  await startNodeWasmBackend();
  await initNodeImageDecoder();
  const pixels = await decodeImage(new Uint8Array(Buffer.from(scene.image.base64, 'base64')));
  const node = await loadDetector();
  try {
    nodeDetection = await node.best(pixels);
  } finally {
    node.dispose();
  }
});

/** Requests for the detector's files among a context's model-file requests. */
const detectorRequests = (urls: readonly string[]): string[] => urls.filter((u) => new URL(u).pathname.startsWith('/models/detectors/'));

async function loadedPage(browser: Browser): Promise<Page> {
  const page = await openHarness(browser, baseUrl);
  await page.evaluate(() => window.tannerin.startBackend());
  await page.evaluate(() => window.tannerin.load());
  return page;
}

describe('the opt-in detector', () => {
  let profileDir = '';

  it('is not downloaded until turned on; a cancelled download leaves it off; on: downloaded once with progress; its box is the Node path\'s', async () => {
    const browser = await launchChromium();
    browsers.push(browser);
    profileDir = browser.profileDir;
    const traffic = watchModelTraffic(browser.context);
    const page = await loadedPage(browser);
    await traffic.settled();
    expect(detectorRequests(traffic.requests)).toEqual([]);
    const before = await page.evaluate(() => window.tannerin.detectorStatus());
    expect(before).toEqual({ id: CENTERNET_ID, ref: `${CENTERNET_ID}@${detector.version}`, name: detector.name, bytes: detector.bytes, storedBytes: 0, on: false, loaded: false });
    // Off, it does not run.
    await expect(page.evaluate((img) => window.tannerin.detectImage(img), scene.image)).rejects.toThrow(/Find the object first/);

    const cancelled = await page.evaluate(() => window.tannerin.detectorOn(0.2));
    expect(cancelled.ok).toBe(false);
    expect(cancelled.ok ? '' : cancelled.error.name).toBe('AbortError');
    expect(cancelled.status?.on).toBe(false);
    expect(cancelled.status?.loaded).toBe(false);

    const on = await page.evaluate(() => window.tannerin.detectorOn());
    await traffic.settled();
    expect(on.ok, JSON.stringify(on)).toBe(true);
    expect(on.status).toMatchObject({ on: true, loaded: true, storedBytes: detector.bytes });
    expect(on.progress.last).toEqual([detector.bytes, detector.bytes]);
    expect(on.progress.calls).toBeGreaterThan(detector.files.length);
    // The cancelled attempt's requests, then each file once more at most.
    const sizes = detector.files.map((f) => traffic.bytesByPath.get(`/${f.path}`) ?? 0);
    expect(sizes.every((b, i) => b >= (detector.files[i]?.bytes ?? 0))).toBe(true);

    const memory0 = await page.evaluate(() => window.tannerin.memory().numTensors);
    const found = await page.evaluate((img) => window.tannerin.detectImage(img), scene.image);
    for (let i = 0; i < 3; i++) await page.evaluate((img) => window.tannerin.detectImage(img), scene.image);
    expect(await page.evaluate(() => window.tannerin.memory().numTensors)).toBe(memory0);
    expect(found).not.toBeNull();
    expect(nodeDetection).not.toBeNull();
    if (!found || !nodeDetection) return;
    // The same pixels (a lossless PNG), the same model files and decoding: the same box within a pixel of the 512-px input.
    for (const k of ['x', 'y', 'width', 'height'] as const) expect(Math.abs(found.box[k] - nodeDetection.box[k]), k).toBeLessThan(2 / 512);
    expect(Math.abs(found.score - nodeDetection.score)).toBeLessThan(0.01);
    expect(found.cocoClass).toBe(nodeDetection.cocoClass);
    const cx = found.box.x + found.box.width / 2;
    const cy = found.box.y + found.box.height / 2;
    const o = scene.object;
    // The dog it finds (COCO has no emoji: a low score, which the default minimum score of a crop would leave as the whole frame).
    expect([cx >= o.x && cx <= o.x + o.width, cy >= o.y && cy <= o.y + o.height]).toEqual([true, true]);

    const times = await page.evaluate((img) => window.tannerin.detectorVsBackboneMs(img, 7), scene.image);
    console.log(`detector-measure browser.detector_ms ${times.detector.toFixed(1)} ms (backbone pass ${times.backbone.toFixed(1)} ms, alternated, medians of 7; detector ${times.detectorRuns.map((t) => t.toFixed(0)).join(' ')}; backbone ${times.backboneRuns.map((t) => t.toFixed(0)).join(' ')})`);
    await browser.close();
  });

  it('a relaunch finds it on and stored: zero detector-file requests; offline too; a detector-crop head predicts with its box', async () => {
    const browser = await launchChromium(profileDir);
    browsers.push(browser);
    const traffic = watchModelTraffic(browser.context);
    const page = await loadedPage(browser);
    expect(await page.evaluate(() => window.tannerin.detectorStatus())).toMatchObject({ on: true, storedBytes: detector.bytes, loaded: false });
    const again = await page.evaluate((img) => window.tannerin.detectImage(img), scene.image);
    await traffic.settled();
    expect(detectorRequests(traffic.requests)).toEqual([]);
    expect(again?.box).toBeDefined();

    // A head that finds the object first with the detector (a minimum score the scene's low-scoring
    // dog passes, so the box is not the whole frame): predicts the detector's box's crop.
    const base = makeTestHead(manifest.backbone, { seed: 5, id: crypto.randomUUID(), classes: ['dog', 'other'] });
    const setting = { ...DEFAULT_DETECTOR_CROP, minScore: 0.05 };
    const head: HeadDocument = { ...base, formatVersion: 2, crop: setting };
    const stored = await page.evaluate((json) => window.tannerin.storeDocument(json), JSON.stringify(head));
    expect(stored.ok, JSON.stringify(stored)).toBe(true);
    const predicted = await page.evaluate(([img, id]) => window.tannerin.tryPredict(img, { headId: id }), [scene.image, head.id] as const);
    expect(predicted.ok, JSON.stringify(predicted)).toBe(true);
    if (!predicted.ok) return;
    expect(predicted.result.crop?.method).toBe('detector');
    const expected = detectorCropBox(again, setting, { width: 448, height: 336 });
    expect(expected.width).toBeLessThan(0.5);
    for (const k of ['x', 'y', 'width', 'height'] as const) expect(predicted.result.crop?.box[k]).toBeCloseTo(expected[k], 6);
    // Loaded and cached by the first prediction: the count stays flat from here.
    const memory0 = await page.evaluate(() => window.tannerin.memory().numTensors);
    for (let i = 0; i < 3; i++) await page.evaluate(([img, id]) => window.tannerin.tryPredict(img, { headId: id }), [scene.image, head.id] as const);
    expect(await page.evaluate(() => window.tannerin.memory().numTensors)).toBe(memory0);
    await browser.close();

    // Offline: no manifest, no model file from the network; the stored ones serve.
    const offline = await launchChromium(profileDir);
    browsers.push(offline);
    const page2 = await openHarness(offline, baseUrl);
    await offline.context.route('**/v1/models', (route) => route.abort('internetdisconnected'));
    await offline.context.route('**/models/**', (route) => route.abort('internetdisconnected'));
    await page2.evaluate(() => window.tannerin.startBackend());
    expect((await page2.evaluate(() => window.tannerin.load())).manifestSource).toBe('stored');
    const offlineBox = await page2.evaluate((img) => window.tannerin.detectImage(img), scene.image);
    expect(offlineBox?.box).toEqual(again?.box);

    // Off, weights deleted: the memory is freed and the head asks for the detector.
    const tensorsOn = await page2.evaluate(() => window.tannerin.memory().numTensors);
    const off = await page2.evaluate(() => window.tannerin.turnDetectorOff({ deleteWeights: true }));
    expect(await page2.evaluate(() => window.tannerin.memory().numTensors)).toBeLessThan(tensorsOn);
    expect(off).toMatchObject({ on: false, loaded: false, storedBytes: 0 });
    const refused = await page2.evaluate(([img, id]) => window.tannerin.tryPredict(img, { headId: id }), [scene.image, head.id] as const);
    expect(refused.ok).toBe(false);
    expect(refused.ok ? '' : refused.error.message).toMatch(/turn on "Find the object first"/);
    await offline.close();
  });
});
