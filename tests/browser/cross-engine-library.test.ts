/**
 * The browser library in every engine (Chromium, Firefox ESR, WebKitGTK; tests/browser/engine.ts):
 * on the harness page, the backend starts (the SIMD build on the plain page; on the
 * cross-origin-isolated page the threaded build where SharedArrayBuffer exists, else the SIMD
 * build with the reason), the models load, the embedding equals the Worker's within 1e-4, three
 * classes are taught (addExample), trained and held-out emoji predicted; a relaunch on the same
 * profile uses the stored model, examples and head. Forward-pass medians are reported per engine.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { emojiPng } from '../helpers/fixtures.ts';
import { ENGINES, type EngineName, type EnginePage, type EngineSession } from './engine.ts';
import { keepsProfile, launchEngine } from './engines.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';
import { imageArg, maxAbsDiff, report } from './util.ts';

const baseUrl = inject('baseUrl');
const dogPng = emojiPng('1f436');
const dog = imageArg(dogPng, 'image/png');
/** Every engine runs the same WASM kernels on the same decoded pixels as the Worker. */
const TOLERANCE = 1e-4;

/** The classes and split of the app tests (personalize.test.ts measured 18/18 with six photos each). */
const CLASSES = ['heart', 'animal-mammal', 'transport-ground'];
const split = emojiSplit(CLASSES, 6, 2, 3);
const taught = CLASSES.map((name) => ({ name, images: (split.train[name] as EmojiImage[]).map((e) => e.image) }));
const heldOut = CLASSES.flatMap((name) => split.test[name] as EmojiImage[]);

/** The Worker's embedding of the dog PNG (WASM SIMD in workerd). */
async function edgeEmbedding(): Promise<Float32Array> {
  const res = await fetch(`${baseUrl}/v1/embed`, { method: 'POST', body: dogPng as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'image/png' } });
  const buf = await res.arrayBuffer();
  const view = new DataView(buf);
  return Float32Array.from({ length: buf.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

/** Opens the harness page (`isolated`: served with COOP/COEP) and waits for `window.tannerin`. */
async function openHarness(page: EnginePage, kind: 'plain' | 'isolated'): Promise<void> {
  await page.goto(`${baseUrl}${kind === 'isolated' ? '/test-pages/isolated/harness.html' : '/test-pages/harness.html'}`);
  await page.waitForFunction(() => typeof window.tannerin === 'object', undefined, 60_000);
}

describe.each(ENGINES)('the library in %s', (engine: EngineName) => {
  const sessions: EngineSession[] = [];
  const launch = async (profileDir?: string): Promise<EngineSession> => {
    const s = await launchEngine(engine, profileDir ? { profileDir } : {});
    sessions.push(s);
    return s;
  };
  afterAll(async () => {
    for (const s of sessions) await s.dispose();
  });
  let first: EngineSession;
  let firstPredictions: unknown;
  let firstEmbedding: number[] = [];

  it('plain page: starts the SIMD build, loads the models, embeds as the Worker does, and is timed', async () => {
    first = await launch();
    const { page } = first;
    await openHarness(page, 'plain');
    const info = await page.evaluate(() => window.tannerin.startBackend(), undefined);
    expect(info).toMatchObject({ backend: 'wasm', build: 'simd', threads: 1, simd: true, crossOriginIsolated: false });
    expect(info.fallbackReason, info.fallbackReason).toBeUndefined();
    const loaded = await page.evaluate(() => window.tannerin.load(), undefined);
    expect(loaded.manifestSource).toBe('network');
    expect(loaded.bytesDownloaded).toBe(loaded.manifestBytes);
    expect(loaded.storageError).toBeNull();
    firstEmbedding = await page.evaluate((img) => window.tannerin.embedImage(img), dog);
    expect(firstEmbedding).toHaveLength(2816);
    const diff = maxAbsDiff(firstEmbedding, await edgeEmbedding());
    report(`browser.${engine}.edge_max_abs_diff`, diff, '', 'simd build vs the Worker');
    expect(diff).toBeLessThanOrEqual(TOLERANCE);
    const forward = await page.evaluate(() => window.tannerin.forwardMs(9, 2), undefined);
    report(`browser.${engine}.forward_simd_ms`, forward.median, 'ms', `${engine}, simd build, 1 thread, batch 1, median of 9`);
    expect(first.errors).toEqual([]);
  });

  it('teaches three classes (addExample), trains and predicts held-out emoji', async () => {
    const { page } = first;
    const teach = await page.evaluate((classes) => window.tannerin.teach(classes, { augment: false }), taught);
    expect(teach.classIds).toHaveLength(3);
    const trained = await page.evaluate(() => window.tannerin.trainNow(), undefined);
    if (!trained.ok) throw new Error(`training failed: ${trained.error.name}: ${trained.error.message}`);
    expect(trained.report.examples.vectors).toBeGreaterThanOrEqual(18);
    expect(trained.tensorsAfter).toBe(trained.tensorsBefore);
    const results = await page.evaluate((images) => window.tannerin.predictImages(images), heldOut.map((e) => e.image));
    const right = results.filter((r, i) => r.predictions[0]?.label === heldOut[i]?.label).length;
    report(`browser.${engine}.held_out_right`, right, `of ${heldOut.length}`, `guard chose ${trained.report.guard.choice}`);
    // Six unseen emoji, chance 1/3 (Chromium measured 6/6 with this split).
    expect(right, JSON.stringify(results.map((r) => r.predictions[0]))).toBeGreaterThanOrEqual(4);
    firstPredictions = results.map((r) => r.predictions);
    expect(first.errors).toEqual([]);
    await first.close();
  });

  it.skipIf(!keepsProfile(engine))(
    // WebKitGTK: skipped, its automation sessions are ephemeral (like a private window), so there is no profile to reopen.
    'reopened on the same profile: uses the stored model files, examples and head (skipped in WebKit: automation sessions are ephemeral)',
    async () => {
      const again = await launch(first.profileDir ?? undefined);
      const { page } = again;
      await openHarness(page, 'plain');
      await page.evaluate(() => window.tannerin.startBackend(), undefined);
      const loaded = await page.evaluate(() => window.tannerin.load(), undefined);
      expect(loaded.bytesDownloaded).toBe(0);
      expect(loaded.bytesFromStore).toBe(loaded.manifestBytes);
      expect(await page.evaluate((img) => window.tannerin.embedImage(img), dog)).toEqual(firstEmbedding);
      const stored = await page.evaluate(() => window.tannerin.stored(), undefined);
      expect(stored.examples).toHaveLength(18);
      expect(stored.heads).toHaveLength(1);
      const results = await page.evaluate((images) => window.tannerin.predictImages(images), heldOut.map((e) => e.image));
      expect(results.map((r) => r.predictions)).toEqual(firstPredictions);
      expect(again.errors).toEqual([]);
      await again.close();
    },
  );

  it('cross-origin-isolated page: the threaded build where SharedArrayBuffer exists, else the SIMD build', async () => {
    const { page, errors } = await launch();
    await openHarness(page, 'isolated');
    const env = await page.evaluate(() => ({ isolated: crossOriginIsolated, sab: typeof SharedArrayBuffer === 'function' }), undefined);
    expect(env.isolated).toBe(true);
    const info = await page.evaluate(() => window.tannerin.startBackend(), undefined);
    expect(info).toMatchObject({ backend: 'wasm', simd: true, crossOriginIsolated: true });
    if (env.sab) {
      expect(info.fallbackReason, info.fallbackReason).toBeUndefined();
      expect(info.build).toBe('threaded-simd');
    } else {
      // WebKitGTK: isolated, but no SharedArrayBuffer: the SIMD build, and the reason is given.
      expect(info.build).toBe('simd');
      expect(info.threads).toBe(1);
      expect(info.fallbackReason).toMatch(/threads are not available/);
    }
    report(`browser.${engine}.isolated_build`, info.threads, 'threads', `${info.build}; SharedArrayBuffer ${env.sab ? 'yes' : 'no'}`);
    await page.evaluate(() => window.tannerin.load(), undefined);
    const embedding = await page.evaluate((img) => window.tannerin.embedImage(img), dog);
    const diff = maxAbsDiff(embedding, await edgeEmbedding());
    report(`browser.${engine}.isolated_edge_max_abs_diff`, diff, '', info.build);
    expect(diff).toBeLessThanOrEqual(TOLERANCE);
    const forward = await page.evaluate(() => window.tannerin.forwardMs(9, 2), undefined);
    report(`browser.${engine}.forward_isolated_ms`, forward.median, 'ms', `${engine}, ${info.build}, ${info.threads} thread(s), median of 9`);
    expect(errors).toEqual([]);
  });
});
