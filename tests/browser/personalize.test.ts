/**
 * A person's own classes, end to end in Chromium against the real Worker: three classes taught
 * from real emoji PNGs (emoji-datasource-google, labels from the package's `subcategory`), trained
 * in the page, guarded, stored; held-out emoji predicted with a stated accuracy; the tensor count
 * flat over training and 200 predictions; export to standard TF.js files and import back with the
 * same predictions; an aborted training changing nothing; bad imports refused; classes and examples
 * edited; a second tab following a save; stale examples re-embedded; a full quota reported without
 * losing what was stored. Then a relaunch of the browser on the same profile restores examples and
 * head with bit-identical predictions, also with the network off. The cross-origin-isolated page
 * (threaded WASM) trains too.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { HeadDocument, PredictResult, TrainReport } from '../../client/lib/index.ts';
import type { ModelsResponse } from '../../shared/api/types.ts';
import { launchChromium, openHarness, type Browser } from './chrome.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';
import { report } from './util.ts';

const baseUrl = inject('baseUrl');

/** Visually distinct subcategories (not trivially so: hearts, mammals, road vehicles). */
const CLASSES = ['heart', 'animal-mammal', 'transport-ground'];
const TRAIN_PER_CLASS = 6;
const TEST_PER_CLASS = 6;
const SEED = 3;
/**
 * Held-out accuracy (18 unseen emoji, chance 1/3) must reach this. Measured with this data and seed:
 * 1.00 (18/18) on the plain page (SIMD) and on the isolated page (threaded SIMD); over 4 seeded
 * 6-shot picks of these subcategories (6 test emoji each) the mean was 0.90 and the worst 0.83.
 */
const MIN_ACCURACY = 0.75;
/** kNN (k = 3, cosine) on the same stored examples: measured 1.00 (18/18) here. */
const MIN_KNN_ACCURACY = 0.6;

const split = emojiSplit(CLASSES, TRAIN_PER_CLASS, TEST_PER_CLASS, SEED);
const taught = CLASSES.map((name) => ({ name, images: (split.train[name] as EmojiImage[]).map((e) => e.image) }));
const heldOut = CLASSES.flatMap((name) => split.test[name] as EmojiImage[]);
const heldOutImages = heldOut.map((e) => e.image);

function accuracy(results: PredictResult[]): number {
  return results.filter((r, i) => r.predictions[0]?.label === heldOut[i]?.label).length / heldOut.length;
}

/** Checks a training report's guard numbers and returns them for reporting. */
function checkGuard(r: TrainReport): void {
  const { guard } = r;
  expect(guard.candidates.map((c) => c.name)).toEqual(expect.arrayContaining(['head', 'knn']));
  for (const c of guard.candidates) {
    expect(c.accuracy).toBeGreaterThanOrEqual(0);
    expect(c.accuracy).toBeLessThanOrEqual(1);
    expect(c.n).toBe(r.split.heldOutPhotos);
    expect(c.correct).toBe(Math.round(c.accuracy * c.n));
    expect(c.interval.low).toBeLessThanOrEqual(c.accuracy);
    expect(c.interval.high).toBeGreaterThanOrEqual(c.accuracy);
    expect(c.interval.low).toBeGreaterThanOrEqual(0);
    expect(c.interval.high).toBeLessThanOrEqual(1);
  }
  for (const c of guard.comparisons) {
    expect(c.p).toBeGreaterThanOrEqual(0);
    expect(c.p).toBeLessThanOrEqual(1);
  }
  expect(['head', 'knn', 'previous']).toContain(guard.choice);
  expect(guard.reasons.length).toBeGreaterThan(0);
  // The guard's choice is what the device does.
  expect(r.outcome).toBe({ head: 'new-head', knn: 'knn', previous: 'kept-previous' }[guard.choice]);
  if (guard.choice !== 'previous') expect(r.predictWith).toBe(guard.choice);
}

async function openReady(browser: Browser, kind: 'plain' | 'isolated' = 'plain'): Promise<Page> {
  const page = await openHarness(browser, baseUrl, kind);
  await page.evaluate(() => window.tannerin.startBackend());
  await page.evaluate(() => window.tannerin.load());
  return page;
}

describe('personal classes on the plain page', () => {
  let browser: Browser;
  let page: Page;
  let headId = '';
  let predictions: PredictResult[] = [];
  let stored: Awaited<ReturnType<Window['tannerin']['stored']>>;
  let headDoc: HeadDocument;

  beforeAll(async () => {
    browser = await launchChromium();
    page = await openReady(browser);
  });
  afterAll(async () => {
    // Also removes the profile the relaunch below reuses.
    await browser?.dispose();
  });

  it(`learns ${CLASSES.join(', ')} from ${TRAIN_PER_CLASS} emoji each and predicts ${TEST_PER_CLASS} unseen ones each with accuracy >= ${MIN_ACCURACY}`, async () => {
    const teach = await page.evaluate((c) => window.tannerin.teach(c), taught);
    report('browser.personalize.photo_to_example_ms', teach.msPerPhoto.sort((a, b) => a - b)[teach.msPerPhoto.length >> 1] as number, 'ms', 'median, 64-px emoji PNG, 3 augmented views');

    stored = await page.evaluate(() => window.tannerin.stored());
    expect(stored.classes.map((c) => c.name)).toEqual(CLASSES);
    expect(stored.examples).toHaveLength(CLASSES.length * TRAIN_PER_CLASS);
    const backboneRef = await page.evaluate(() => window.tannerin.currentBackbone().ref);
    for (const e of stored.examples) {
      expect(e.backbone).toBe(backboneRef);
      expect(e.views).toEqual([
        { augmented: false, ops: [] },
        { augmented: true, ops: ['flip'] },
        { augmented: true, ops: ['crop', 'jitter'] },
        { augmented: true, ops: ['flip', 'crop', 'jitter'] },
      ]);
      expect(e.dims).toEqual([2816, 2816, 2816, 2816]);
      expect(e.photoType).toBe('image/jpeg');
      // 64-px emoji: the copy is never enlarged.
      expect([e.width, e.height]).toEqual([64, 64]);
    }

    const trained = await page.evaluate(() => window.tannerin.trainNow({ name: 'emoji' }));
    if (!trained.ok) throw new Error(`training failed: ${trained.error.message}`);
    const r = trained.report;
    headId = r.headId;
    expect(r.saved).toBe(true);
    expect(r.doc.classes).toEqual(CLASSES);
    expect(r.doc.name).toBe('emoji');
    expect(r.examples).toMatchObject({ photos: 18, vectors: 72, stale: 0, classes: CLASSES });
    expect(r.split).toMatchObject({ method: 'holdout', folds: 1 });
    expect(r.split.trainPhotos + r.split.heldOutPhotos).toBe(18);
    expect(r.metrics.confusion).toHaveLength(3);
    expect(r.metrics.accuracy).toBeGreaterThanOrEqual(0);
    expect(r.metrics.accuracy).toBeLessThanOrEqual(1);
    expect(trained.progress.length).toBe(r.epochsRun);
    expect(trained.progress[0]).toMatchObject({ phase: 'holdout', epoch: 1 });
    checkGuard(r);
    // 3 held-out photos (one a class): no difference can be significant, so the new head is used.
    expect(r.split.heldOutPhotos).toBe(3);
    expect(r.outcome).toBe('new-head');
    // Training (and the guard's head loads) leave no tensors behind.
    expect(trained.tensorsAfter).toBe(trained.tensorsBefore);
    report('browser.personalize.train_ms', r.ms, 'ms', `${r.examples.vectors} vectors, ${r.epochsRun} epochs, guard ${r.guard.choice}`);

    const heads = await page.evaluate(() => window.tannerin.listHeads());
    expect(heads).toEqual([expect.objectContaining({ id: headId, name: 'emoji', active: true, usable: true, imported: false, predictWith: r.predictWith })]);

    predictions = await page.evaluate((imgs) => window.tannerin.predictImages(imgs), heldOutImages);
    for (const p of predictions) {
      expect(p.head).toMatchObject({ id: headId, kind: 'personal', predictWith: r.predictWith });
      expect(p.predictions.map((x) => x.label).sort()).toEqual([...CLASSES].sort());
    }
    const acc = accuracy(predictions);
    report('browser.personalize.heldout_accuracy', acc, '', `${heldOut.length} unseen emoji, threshold ${MIN_ACCURACY}, predicting with ${r.predictWith}`);
    console.log(`guard: ${r.guard.reasons.join(' ')}`);
    expect(acc).toBeGreaterThanOrEqual(MIN_ACCURACY);
    headDoc = (await page.evaluate((id) => window.tannerin.getHead(id), headId)) as HeadDocument;
    expect(headDoc).toEqual(r.doc);
    expect(browser.errors).toEqual([]);
  });

  it('keeps the tensor count flat over 200 predictions', async () => {
    const mem = await page.evaluate((img) => window.tannerin.predictRepeatedly(img, 200), heldOutImages[0] as { base64: string; type: string });
    expect(mem.after).toBe(mem.before);
    expect(mem.bytesAfter).toBe(mem.bytesBefore);
  });

  it('exports standard TF.js files that stock TF.js loads, and imports them back with identical predictions', async () => {
    const out = await page.evaluate((id) => window.tannerin.exportImport(id), headId);
    expect(out.names).toEqual(['emoji.json', 'emoji.weights.bin']);
    // tf.loadLayersModel(browserFiles) on the exported files gives the head runner's scores.
    expect(out.stockScores).toEqual(out.ownScores);
    // The id was taken, so the import got a new UUID; everything else is the same document.
    expect(out.imported.id).not.toBe(headId);
    expect(out.imported.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect({ ...out.imported, id: headId }).toEqual(headDoc);
    const viaImport = await page.evaluate(([imgs, id]) => window.tannerin.predictImages(imgs, { headId: id }), [heldOutImages, out.imported.id] as const);
    expect(viaImport.map((p) => p.head.id)).toEqual(heldOut.map(() => out.imported.id));
    expect(viaImport.map((p) => p.predictions)).toEqual(predictions.map((p) => p.predictions));
    // With replace, the same id is overwritten in place.
    const replaced = await page.evaluate((id) => window.tannerin.exportImport(id, { replace: true }), out.imported.id);
    expect(replaced.imported.id).toBe(out.imported.id);
    await page.evaluate((id) => window.tannerin.deleteHead(id), out.imported.id);
    expect((await page.evaluate(() => window.tannerin.listHeads())).map((h) => h.id)).toEqual([headId]);
  });

  it('refuses imports that cannot run here, saying why', async () => {
    const files = await page.evaluate((id) => window.tannerin.exportData(id), headId);
    const meta = (files.modelJson.userDefinedMetadata as { tannerin: Record<string, unknown> }).tannerin;
    const withMeta = (patch: Record<string, unknown>) => ({ ...files.modelJson, userDefinedMetadata: { tannerin: { ...meta, ...patch } } });
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      ['other backbone', withMeta({ backbone: 'mobilenet_v2@0123456789abcdef' }), files.weightsBase64, /made for backbone mobilenet_v2@0123456789abcdef, but this device runs mobilenet_v2@/],
      ['one class', withMeta({ classes: ['heart'] }), files.weightsBase64, /a head has 2 to \d+ classes; this one has 1/],
      ['truncated weights', files.modelJson, files.weightsBase64.slice(0, 400), /weightData holds 300 bytes; its weight specs describe \d+/],
      ['no metadata', { ...files.modelJson, userDefinedMetadata: {} }, files.weightsBase64, /no tannerin head metadata/],
    ];
    for (const [name, json, weights, message] of cases) {
      const r = await page.evaluate(([j, w]) => window.tannerin.importFiles(j, w), [json, weights] as const);
      expect(r.ok, name).toBe(false);
      if (!r.ok) expect(r.error.message, name).toMatch(message);
    }
    expect((await page.evaluate(() => window.tannerin.listHeads())).map((h) => h.id)).toEqual([headId]);
  });

  it('an aborted training leaves the previous head: same document, same predictions', async () => {
    // A hidden layer trains by epochs (the default LDA head is one closed-form fit, no epoch 3 to abort at).
    const aborted = await page.evaluate((id) => window.tannerin.trainNow({ headId: id, abortAtEpoch: 3, hidden: 16 }), headId);
    expect(aborted.ok).toBe(false);
    if (!aborted.ok) expect(aborted.error.name).toBe('AbortError');
    expect(aborted.progress.length).toBe(3);
    expect(aborted.tensorsAfter).toBe(aborted.tensorsBefore);
    expect(await page.evaluate((id) => window.tannerin.getHead(id), headId)).toEqual(headDoc);
    expect(await page.evaluate((imgs) => window.tannerin.predictImages(imgs), heldOutImages)).toEqual(predictions);
  });

  it('retraining with nothing new keeps the stored head (the guard needs evidence to replace it)', async () => {
    const again = await page.evaluate((id) => window.tannerin.trainNow({ headId: id }), headId);
    if (!again.ok) throw new Error(again.error.message);
    const r = again.report;
    // Same data and seed: the same split, so the stored head never saw these held-out photos and
    // competes; the new head is bit-identical, so nothing is significantly better.
    expect(r.guard.candidates.map((c) => c.name)).toEqual(['head', 'previous', 'knn']);
    expect(r.guard.choice).toBe('previous');
    expect(r).toMatchObject({ outcome: 'kept-previous', saved: false, predictWith: 'head' });
    expect(r.trained.weightData).toBe(headDoc.weightData);
    expect(r.doc).toEqual(headDoc);
    expect(await page.evaluate((id) => window.tannerin.getHead(id), headId)).toEqual(headDoc);
  });

  it('a head the guard replaced by kNN predicts with kNN over the stored embeddings', async () => {
    await page.evaluate((id) => window.tannerin.setPredictWith(id, 'knn'), headId);
    try {
      const knn = await page.evaluate((imgs) => window.tannerin.predictImages(imgs), heldOutImages);
      for (const p of knn) {
        expect(p.head).toMatchObject({ id: headId, predictWith: 'knn' });
        // k = 3 votes: every score is a share of them.
        for (const x of p.predictions) expect([0, 1 / 3, 2 / 3, 1]).toContain(x.score);
      }
      report('browser.personalize.knn_heldout_accuracy', accuracy(knn), '', 'the same held-out emoji, kNN (k=3, cosine) over the stored examples');
      expect(accuracy(knn)).toBeGreaterThanOrEqual(MIN_KNN_ACCURACY);
      // Export carries the trained head all the same (kNN is the examples, which stay here).
      expect((await page.evaluate((id) => window.tannerin.exportData(id), headId)).weightsBase64).toBe(headDoc.weightData);
    } finally {
      await page.evaluate((id) => window.tannerin.setPredictWith(id, 'head'), headId);
    }
    expect(await page.evaluate((imgs) => window.tannerin.predictImages(imgs), heldOutImages)).toEqual(predictions);
  });

  it('a second tab follows a save made in the first', async () => {
    const second = await browser.context.newPage();
    try {
      await second.goto(`${baseUrl}/test-pages/harness.html`);
      await second.waitForFunction(() => typeof window.tannerin === 'object');
      await second.evaluate(() => window.tannerin.startBackend());
      await second.evaluate(() => window.tannerin.load());
      await second.evaluate(() => window.tannerin.watchHeads());
      const before = await second.evaluate((imgs) => window.tannerin.predictImages(imgs.slice(0, 2)), heldOutImages);
      expect(before.map((p) => p.predictions)).toEqual(predictions.slice(0, 2).map((p) => p.predictions));
      expect(before[0]?.head.name).toBe('emoji');

      await page.evaluate((id) => window.tannerin.renameHead(id, 'my emoji'), headId);
      await second.waitForFunction(() => window.tannerin.headChanges().length > 0);
      expect(await second.evaluate(() => window.tannerin.headChanges())).toEqual([{ type: 'head-saved', id: headId, origin: 'remote' }]);
      // The second tab's cached head was dropped: its next prediction uses the stored (renamed) head.
      const after = await second.evaluate((imgs) => window.tannerin.predictImages(imgs.slice(0, 1)), heldOutImages);
      expect(after[0]?.head.name).toBe('my emoji');
      expect(after[0]?.predictions).toEqual(predictions[0]?.predictions);
      await page.evaluate((id) => window.tannerin.renameHead(id, 'emoji'), headId);
    } finally {
      await second.close();
    }
  });

  it('classes can be renamed and deleted (with their examples); examples moved and deleted', async () => {
    const extra = await page.evaluate(() => window.tannerin.addClass('  scratch  '));
    expect(extra.name).toBe('scratch');
    const dup = await page.evaluate(() => window.tannerin.addClass('Heart').then(() => 'added', (e: Error) => e.message));
    expect(dup).toMatch(/already a class named "heart"/);
    const one = (split.test['heart'] as EmojiImage[])[0]?.image as { base64: string; type: string };
    const added = await page.evaluate((img) => window.tannerin.teach([{ name: 'scratch', images: [img, img] }], { augment: false }), one);
    expect(added.classIds).toEqual([extra.id]);
    let examples = (await page.evaluate(() => window.tannerin.stored())).examples.filter((e) => e.classId === extra.id);
    expect(examples.map((e) => e.views)).toEqual([[{ augmented: false, ops: [] }], [{ augmented: false, ops: [] }]]);

    const renamed = await page.evaluate((id) => window.tannerin.renameClass(id, 'scratch 2'), extra.id);
    expect(renamed.name).toBe('scratch 2');
    // Move one to "heart" and back, delete the other.
    const heartId = stored.classes.find((c) => c.name === 'heart')?.id as string;
    const moved = await page.evaluate(([id, to]) => window.tannerin.moveExample(id, to), [examples[0]?.id as string, heartId] as const);
    expect(moved.classId).toBe(heartId);
    await page.evaluate(([id, to]) => window.tannerin.moveExample(id, to), [examples[0]?.id as string, extra.id] as const);
    expect(await page.evaluate((id) => window.tannerin.deleteExample(id), examples[1]?.id as string)).toBe(true);
    examples = (await page.evaluate(() => window.tannerin.stored())).examples.filter((e) => e.classId === extra.id);
    expect(examples).toHaveLength(1);

    expect(await page.evaluate((id) => window.tannerin.deleteClass(id), extra.id)).toEqual({ examplesDeleted: 1 });
    const after = await page.evaluate(() => window.tannerin.stored());
    expect(after.classes).toEqual(stored.classes);
    expect(after.examples).toEqual(stored.examples);
  });

  it('reports storage usage and asks for persistence', async () => {
    const estimate = await page.evaluate(() => window.tannerin.storageEstimate());
    expect(estimate.supported).toBe(true);
    expect(estimate.usage).toBeGreaterThan(0);
    expect(estimate.quota).toBeGreaterThan(estimate.usage);
    // Headless Chromium answers false; what matters is that the request is made and answered.
    const persistence = await page.evaluate(() => window.tannerin.requestPersistence());
    expect(persistence.supported).toBe(true);
    expect(typeof persistence.persisted).toBe('boolean');
  });

  describe('after relaunching the browser on the same profile', () => {
    it('restores examples and head, and predicts the held-out emoji bit-identically, online and offline', async () => {
      const embeddings = await page.evaluate(() => window.tannerin.storedEmbeddings());
      await browser.close();
      const again = await launchChromium(browser.profileDir);
      try {
        const p = await openHarness(again, baseUrl);
        await p.evaluate(() => window.tannerin.startBackend());
        await p.evaluate(() => window.tannerin.initDecoder());
        // The page and its WASM binaries are loaded; from here on there is no network at all.
        await again.context.setOffline(true);
        const loaded = await p.evaluate(() => window.tannerin.load());
        expect(loaded.manifestSource).toBe('stored');
        expect(loaded.bytesDownloaded).toBe(0);
        const restored = await p.evaluate(() => window.tannerin.stored());
        expect(restored.classes).toEqual(stored.classes);
        expect(restored.examples).toEqual(stored.examples);
        expect(restored.heads).toEqual([expect.objectContaining({ id: headId, name: 'emoji', active: true })]);
        expect(await p.evaluate(() => window.tannerin.storedEmbeddings())).toEqual(embeddings);
        expect(await p.evaluate((id) => window.tannerin.getHead(id), headId)).toEqual(headDoc);
        const offline = await p.evaluate((imgs) => window.tannerin.predictImages(imgs), heldOutImages);
        expect(offline).toEqual(predictions);
        expect(again.errors.filter((e) => !/ERR_INTERNET_DISCONNECTED|Failed to load resource/.test(e))).toEqual([]);
      } finally {
        await again.dispose();
      }
    });
  });
});

describe('stale examples', () => {
  it('are left out of training until reembedAll recomputes them from the stored copy', async () => {
    const browser = await launchChromium();
    try {
      const page = await openReady(browser);
      const few = CLASSES.slice(0, 2).map((name) => ({ name, images: (split.train[name] as EmojiImage[]).slice(0, 3).map((e) => e.image) }));
      await page.evaluate((c) => window.tannerin.teach(c), few);
      const before = await page.evaluate(() => window.tannerin.storedEmbeddings());
      const staleIds = await page.evaluate(() => window.tannerin.makeStale(2));
      expect(await page.evaluate(() => window.tannerin.exampleCounts())).toMatchObject({ total: 6, stale: 2 });
      const set = await page.evaluate(() => window.tannerin.trainingSet().then((s) => ({ photos: s.photos, stale: s.stale })));
      expect(set).toEqual({ photos: 4, stale: 2 });

      const re = await page.evaluate(() => window.tannerin.reembed());
      expect(re.reembedded).toBe(2);
      expect(re.progress).toEqual([
        [0, 2],
        [1, 2],
        [2, 2],
      ]);
      expect(await page.evaluate(() => window.tannerin.exampleCounts())).toMatchObject({ total: 6, stale: 0 });
      const after = await page.evaluate(() => window.tannerin.storedEmbeddings());
      const cosine = (a: string, b: string): number => {
        const x = new Float32Array(Buffer.from(a, 'base64').buffer.slice(0));
        const y = new Float32Array(Buffer.from(b, 'base64').buffer.slice(0));
        let dot = 0, nx = 0, ny = 0;
        for (let i = 0; i < x.length; i++) {
          dot += (x[i] as number) * (y[i] as number);
          nx += (x[i] as number) ** 2;
          ny += (y[i] as number) ** 2;
        }
        return dot / Math.sqrt(nx * ny);
      };
      for (const id of staleIds) {
        // From the JPEG copy instead of the PNG: the same picture, not the same bytes.
        const sims = (after[id] as string[]).map((e, i) => cosine(e, (before[id] as string[])[i] as string));
        expect(sims).toHaveLength(4);
        for (const s of sims) expect(s).toBeGreaterThan(0.95);
      }
      // The others were not touched.
      for (const id of Object.keys(before).filter((k) => !staleIds.includes(k))) expect(after[id]).toEqual(before[id]);
      expect(browser.errors).toEqual([]);
    } finally {
      await browser.dispose();
    }
  });
});

describe('a full quota', () => {
  it('is reported clearly, and what was stored before stays', async () => {
    const manifest = (await (await fetch(`${baseUrl}/v1/models`)).json()) as ModelsResponse;
    const modelBytes = [...manifest.backbone.files, ...manifest.heads.flatMap((h) => h.files)].reduce((a, f) => a + f.bytes, 0);
    const browser = await launchChromium();
    try {
      const page = await openHarness(browser, baseUrl);
      // Room for the model files and about two examples (~50 KB each). Chromium applies a quota
      // override to IndexedDB only if it is set before the database is first opened.
      const cdp = await browser.context.newCDPSession(page);
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(baseUrl).origin, quotaSize: modelBytes + 120_000 });
      await page.evaluate(() => window.tannerin.startBackend());
      expect((await page.evaluate(() => window.tannerin.load())).storageError).toBeNull();
      const heart = await page.evaluate(() => window.tannerin.addClass('heart'));
      const images = (split.train['heart'] as EmojiImage[]).map((e) => e.image);
      let failure: { name: string; message: string; quota: boolean } | null = null;
      let before: Awaited<ReturnType<Window['tannerin']['stored']>> | null = null;
      for (const img of images) {
        before = await page.evaluate(() => window.tannerin.stored());
        const r = await page.evaluate(([id, i]) => window.tannerin.tryAddExample(id, i), [heart.id, img] as const);
        if (!r.ok) {
          failure = r.error;
          break;
        }
      }
      expect(failure).toMatchObject({ name: 'StorageError', quota: true });
      expect(failure?.message).toMatch(/^Not enough storage on this device to keep the example\. Nothing stored before was changed\. Free some space/);
      expect(before?.examples.length).toBeGreaterThan(0);
      expect(await page.evaluate(() => window.tannerin.stored())).toEqual(before);
      await cdp.detach();
    } finally {
      await browser.dispose();
    }
  });
});

describe('the cross-origin-isolated page (threaded WASM)', () => {
  it(`trains too and predicts the held-out emoji with accuracy >= ${MIN_ACCURACY}`, async () => {
    const browser = await launchChromium();
    try {
      const page = await openReady(browser, 'isolated');
      expect(await page.evaluate(() => window.tannerin.activeBackend()?.build)).toBe('threaded-simd');
      await page.evaluate((c) => window.tannerin.teach(c), taught);
      const trained = await page.evaluate(() => window.tannerin.trainNow());
      if (!trained.ok) throw new Error(`training failed: ${trained.error.message}`);
      checkGuard(trained.report);
      expect(trained.tensorsAfter).toBe(trained.tensorsBefore);
      const results = await page.evaluate((imgs) => window.tannerin.predictImages(imgs), heldOutImages);
      const acc = accuracy(results);
      report('browser.personalize.isolated_heldout_accuracy', acc, '', `threaded SIMD, threshold ${MIN_ACCURACY}`);
      expect(acc).toBeGreaterThanOrEqual(MIN_ACCURACY);
      expect(browser.errors).toEqual([]);
    } finally {
      await browser.dispose();
    }
  });
});
