/**
 * "Improve further" (client/lib/improve.ts) in Chromium against the real Worker: unlabeled photos
 * are added, listed and deleted; `improve()` fine-tunes the backbone's top block in the page (the
 * project's WASM gradient kernels), self-trains with the unlabeled photos, compares every recipe
 * with kNN and the head on the same held-out photos, keeps the best and stores it as the active
 * head; an aborted run keeps the previous head exactly; the tensor count is flat; the IndexedDB
 * schema upgrade that added the unlabeled store keeps a version 3 database's records.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { ImproveProgress, ImproveReport } from '../../client/lib/index.ts';
import { launchChromium, openHarness, type Browser } from './chrome.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';
import { report } from './util.ts';
import { HEAD_LIMITS } from '../../shared/limits.ts';

const baseUrl = inject('baseUrl');

const CLASSES = ['heart', 'animal-mammal', 'transport-ground'];
/** Photos per class: a quarter (2) is held out for the comparison, 6 train every candidate. */
const TRAIN_PER_CLASS = 8;
const UNLABELED_PER_CLASS = 3;
const split = emojiSplit(CLASSES, TRAIN_PER_CLASS, UNLABELED_PER_CLASS, 11);
const taught = CLASSES.map((name) => ({ name, images: (split.train[name] as EmojiImage[]).map((e) => e.image) }));
const unlabeledImages = CLASSES.flatMap((name) => (split.test[name] as EmojiImage[]).map((e) => e.image));
/** The guard's order of simplicity (shared/learn/guard.ts RECIPE_ORDER): ties go to the earlier. */
const SIMPLEST_FIRST = ['head', 'knn', 'selftrain', 'finetune'];
/** Head documents must stay under the head limit of storage and sync. */
const MAX_DOCUMENT_BYTES = HEAD_LIMITS.maxDocumentBytes;

type RunResult =
  | { ok: true; report: Omit<ImproveReport, 'doc'> & { hasTail: boolean; docId: string }; progress: ImproveProgress[]; before: number; after: number }
  | { ok: false; error: { name: string; message: string }; progress: ImproveProgress[]; before: number; after: number };

/** Runs improve() in the page; aborts at the first progress event of `abortAt` (stage and step). */
function runImprove(
  page: Page,
  abortAt?: { stage: ImproveProgress['stage']; step: 'candidate' | 'final' },
  extra: { recipes?: ('finetune' | 'selftrain')[]; keep?: ImproveReport['kept'] } = {},
): Promise<RunResult> {
  return page.evaluate(async ({ abortAt, extra }) => {
    const t = window.tannerin;
    const progress: ImproveProgress[] = [];
    const controller = new AbortController();
    // Heads cached by earlier predictions are dropped when a head is saved: drop them first, so
    // the count compares what improve() itself leaves behind.
    t.clearPredictCache();
    await new Promise((resolve) => setTimeout(resolve, 0));
    const before = t.memory().numTensors;
    try {
      const { doc, ...report } = await t.improve({
        ...extra,
        signal: controller.signal,
        onProgress: (p) => {
          progress.push(p);
          if (abortAt && p.stage === abortAt.stage && p.step === abortAt.step) controller.abort();
        },
      });
      return { ok: true as const, report: { ...report, hasTail: doc.backboneTail !== undefined, docId: doc.id }, progress, before, after: t.memory().numTensors };
    } catch (err) {
      const e = err as Error;
      return { ok: false as const, error: { name: e.name, message: e.message }, progress, before, after: t.memory().numTensors };
    }
  }, { abortAt, extra });
}

describe('improve further', () => {
  let browser: Browser;
  let page: Page;
  let first: Extract<RunResult, { ok: true }> | undefined;

  beforeAll(async () => {
    browser = await launchChromium();
    page = await openHarness(browser, baseUrl);
    await page.evaluate(() => window.tannerin.startBackend());
    await page.evaluate(() => window.tannerin.load());
    await page.evaluate((c) => window.tannerin.teach(c), taught);
  }, 180_000);
  afterAll(async () => {
    await browser?.dispose();
  });

  it('adds, lists and deletes unlabeled photos, and estimates the fine-tuned size', async () => {
    const before = await page.evaluate(() => window.tannerin.improveEstimate());
    expect(before.unlabeled).toBe(0);
    expect(before.ready).toBe(true);
    // A fine-tuned model carries the top block (~0.9M float32 weights as base64, ~4.8 MB measured) and a head.
    expect(before.sizeBytes).toBeGreaterThan(3_000_000);
    expect(before.sizeBytes).toBeLessThan(MAX_DOCUMENT_BYTES);

    const added = await page.evaluate(async (images) => {
      const ids: string[] = [];
      for (const img of images) {
        const bytes = Uint8Array.from(atob(img.base64), (c) => c.charCodeAt(0));
        ids.push((await window.tannerin.addUnlabeled(new Blob([bytes], { type: img.type }))).id);
      }
      return ids;
    }, unlabeledImages);
    expect(new Set(added).size).toBe(unlabeledImages.length);
    const extra = await page.evaluate(async (img) => {
      // A canvas is accepted too.
      const bytes = Uint8Array.from(atob(img.base64), (c) => c.charCodeAt(0));
      const bitmap = await createImageBitmap(new Blob([bytes], { type: img.type }));
      const canvas = document.createElement('canvas');
      canvas.width = bitmap.width;
      canvas.height = bitmap.height;
      (canvas.getContext('2d') as CanvasRenderingContext2D).drawImage(bitmap, 0, 0);
      return (await window.tannerin.addUnlabeled(canvas)).id;
    }, unlabeledImages[0] as EmojiImage['image']);

    const listed = await page.evaluate(async () =>
      (await window.tannerin.listUnlabeled()).map((u) => ({ id: u.id, type: u.photo.type, bytes: u.photo.bytes.byteLength, createdAt: u.createdAt })),
    );
    expect(listed.map((u) => u.id)).toEqual([...added, extra]);
    for (const u of listed) {
      expect(u.type).toBe('image/jpeg');
      expect(u.bytes).toBeGreaterThan(0);
    }
    expect(listed.every((u, i) => i === 0 || u.createdAt >= (listed[i - 1] as { createdAt: number }).createdAt)).toBe(true);

    await page.evaluate((id) => window.tannerin.deleteUnlabeled(id), extra);
    await page.evaluate(() => window.tannerin.deleteUnlabeled('no-such-photo'));
    const after = await page.evaluate(async () => (await window.tannerin.listUnlabeled()).map((u) => u.id));
    expect(after).toEqual(added);
    expect((await page.evaluate(() => window.tannerin.improveEstimate())).unlabeled).toBe(added.length);
  });

  it('fine-tunes and self-trains in the page, keeps the guard\'s best recipe and stores it as the active head', async () => {
    const run = await runImprove(page);
    if (!run.ok) throw new Error(`improve failed: ${run.error.name}: ${run.error.message}`);
    first = run;
    const r = run.report;

    // Every recipe ran and was judged on the same held-out photos.
    expect(r.candidates.map((c) => c.recipe)).toEqual(SIMPLEST_FIRST);
    expect(r.skipped).toEqual([]);
    expect(r.photos).toEqual({ labeled: CLASSES.length * TRAIN_PER_CLASS, heldOut: CLASSES.length * 2, unlabeled: unlabeledImages.length });
    for (const c of r.candidates) {
      expect(c.n).toBe(r.photos.heldOut);
      expect(c.accuracy).toBeGreaterThanOrEqual(c.low);
      expect(c.accuracy).toBeLessThanOrEqual(c.high);
      expect(c.correct).toBe(Math.round(c.accuracy * c.n));
      expect(c.text).toMatch(/held-out photos right/);
    }
    // The kept recipe is the best: the most accurate, ties to the simplest.
    const best = Math.max(...r.candidates.map((c) => c.accuracy));
    const expected = SIMPLEST_FIRST.find((name) => r.candidates.find((c) => c.recipe === name)?.accuracy === best);
    expect(r.kept).toBe(expected);
    expect(r.summary.length).toBeGreaterThan(20);
    const finetune = r.candidates.find((c) => c.recipe === 'finetune');
    expect(finetune?.sizeBytes).toBeGreaterThan(3_000_000);
    expect(finetune?.sizeBytes).toBeLessThan(MAX_DOCUMENT_BYTES);

    // Progress: every stage, fractions in order within [0, 1], fine-tuning epoch by epoch.
    expect(new Set(run.progress.map((p) => p.stage))).toEqual(new Set(['preparing', 'comparing', 'selftrain', 'finetune']));
    const fractions = run.progress.map((p) => p.fraction);
    expect(fractions.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= (fractions[i - 1] as number) - 1e-9))).toBe(true);
    const epochs = run.progress.filter((p) => p.stage === 'finetune' && p.step === 'candidate' && (p.epoch ?? 0) > 0);
    expect(epochs.map((p) => p.epoch)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(epochs.every((p) => Number.isFinite(p.loss))).toBe(true);

    // Stored, active, and what the report says.
    const stored = await page.evaluate(async (id) => {
      const t = window.tannerin;
      const doc = await t.getHead(id);
      const state = await t.getHeadState(id);
      return {
        active: await t.activeHeadId(),
        doc: doc ? { id: doc.id, hasTail: doc.backboneTail !== undefined, metrics: doc.metrics, bytes: JSON.stringify(doc).length } : null,
        predictWith: state?.predictWith,
        improvement: state?.training?.improvement ?? null,
      };
    }, r.headId);
    expect(stored.active).toBe(r.headId);
    expect(stored.doc?.id).toBe(r.headId);
    expect(stored.doc?.hasTail).toBe(r.kept === 'finetune');
    expect(r.hasTail).toBe(r.kept === 'finetune');
    expect(stored.doc?.bytes).toBe(r.sizeBytes);
    expect(r.sizeBytes).toBeLessThan(MAX_DOCUMENT_BYTES);
    expect(stored.doc?.metrics?.n).toBe(r.photos.heldOut);
    expect(stored.predictWith).toBe(r.kept === 'knn' ? 'knn' : 'head');
    expect(stored.improvement?.kept).toBe(r.kept);
    expect(stored.improvement?.candidates.map((c) => c.accuracy)).toEqual(r.candidates.map((c) => c.accuracy));

    // The stored model predicts photos through the library (a fine-tuned one through its own top block).
    const predicted = await page.evaluate((imgs) => window.tannerin.predictImages(imgs), unlabeledImages.slice(0, 3));
    for (const p of predicted) {
      expect(p.head.id).toBe(r.headId);
      expect(p.predictions.map((x) => x.label).sort()).toEqual([...CLASSES].sort());
    }
    for (const c of r.candidates) report(`browser.improve.heldout_${c.recipe}`, c.accuracy, '', `${c.correct}/${c.n} held-out emoji${c.recipe === r.kept ? ', kept' : ''}`);
    report('browser.improve.ms', r.ms, 'ms', `${r.photos.labeled} photos x 4 views, ${r.photos.unlabeled} unlabeled, fine-tune 10 epochs twice (candidate, final)`);
  }, 600_000);

  it('an aborted run keeps the previous head exactly, and the tensor count stays flat', async () => {
    expect(first).toBeDefined();
    const headId = first?.report.headId as string;
    const snapshot = (): Promise<{ json: string | null; active: string | null; state: string }> =>
      page.evaluate(async (id) => ({
        json: await window.tannerin.headJson(id),
        active: await window.tannerin.activeHeadId(),
        state: JSON.stringify(await window.tannerin.getHeadState(id)),
      }), headId);
    const before = await snapshot();

    const aborted = await runImprove(page, { stage: 'finetune', step: 'candidate' });
    expect(aborted.ok).toBe(false);
    if (!aborted.ok) expect(aborted.error.name).toBe('AbortError');
    expect(await snapshot()).toEqual(before);
    // Every tensor made by fine-tuning, self-training and the candidates was freed, aborted or not.
    expect(aborted.after).toBe(aborted.before);
    expect(first?.after).toBe(first?.before);
  }, 600_000);

  it('a kept fine-tuned model is stored with its top block, under the size limit, and predicts', async () => {
    const run = await runImprove(page, undefined, { recipes: ['finetune'], keep: 'finetune' });
    if (!run.ok) throw new Error(`improve failed: ${run.error.name}: ${run.error.message}`);
    const r = run.report;
    expect(r.candidates.map((c) => c.recipe)).toEqual(['head', 'knn', 'finetune']);
    expect(r.kept).toBe('finetune');
    expect(r.summary).toContain('You chose to keep finetune');
    expect(r.hasTail).toBe(true);
    expect(r.sizeBytes).toBeGreaterThan(3_000_000);
    expect(r.sizeBytes).toBeLessThan(MAX_DOCUMENT_BYTES);
    const stored = await page.evaluate(async (id) => {
      const doc = await window.tannerin.getHead(id);
      return { tail: doc?.backboneTail ? { cut: doc.backboneTail.cut, parts: doc.backboneTail.parts } : null, active: await window.tannerin.activeHeadId() };
    }, r.headId);
    expect(stored.active).toBe(r.headId);
    expect(stored.tail?.parts.length).toBeGreaterThan(0);
    const predicted = await page.evaluate((imgs) => window.tannerin.predictImages(imgs), unlabeledImages);
    for (const p of predicted) {
      expect(p.head.id).toBe(r.headId);
      expect(p.predictions.map((x) => x.label).sort()).toEqual([...CLASSES].sort());
    }
    const right = predicted.filter((p, i) => p.predictions[0]?.label === CLASSES[Math.floor(i / UNLABELED_PER_CLASS)]).length;
    report('browser.improve.finetuned_unseen_accuracy', right / predicted.length, '', `${right}/${predicted.length} unseen emoji (the unlabeled ones), fine-tuned model kept by request`);
    expect(run.after).toBe(run.before);

    // Corrected, it keeps its tail: only the head retrains, on the tail's embeddings, which improve()
    // left in the cache for every copy and view (client/lib/tail-embeddings.ts): the new photo alone goes through it.
    const tailBefore = await page.evaluate(async (id) => JSON.stringify((await window.tannerin.getHead(id))?.backboneTail), r.headId);
    const views = (await page.evaluate(() => window.tannerin.trainingSet())).examples.length;
    const corrected = await page.evaluate((img) => window.tannerin.correctImage(img, { className: 'heart' }), unlabeledImages[UNLABELED_PER_CLASS] as (typeof unlabeledImages)[number]);
    const retrained = await page.evaluate((id) => window.tannerin.retrained(id), corrected.correction.exampleId);
    if (!retrained.ok || !retrained.value) throw new Error(retrained.error?.message);
    console.log(`first correction of the fine-tuned model improve() kept: ${Math.round(retrained.at - corrected.startedAt)} ms to ready (${retrained.value.fineTuned?.viewsComputed} views through the tail, ${retrained.value.fineTuned?.viewsCached} cached)`);
    expect(retrained.value.fineTuned).toMatchObject({ kept: true, viewsCached: views, viewsComputed: retrained.value.examples.vectors - views });
    expect(retrained.value.fineTuned?.viewsComputed).toBeLessThanOrEqual(4);
    expect(await page.evaluate(async (id) => JSON.stringify((await window.tannerin.getHead(id))?.backboneTail), r.headId)).toBe(tailBefore);
    // A recipe that was not run cannot be kept.
    const refused = await runImprove(page, undefined, { recipes: [], keep: 'finetune' });
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error.message).toContain('cannot keep finetune');
  }, 600_000);
});

describe('database version 4 (and on)', () => {
  it('upgrades a version 3 database, keeping its records and adding the unlabeled store', async () => {
    const b = await launchChromium();
    try {
      const page = await openHarness(b, baseUrl);
      const result = await page.evaluate(async () => {
        const name = 'tannerin-v3-upgrade';
        // Version 3's stores, as that release created them, with one class, example and head.
        await window.tannerin.createLegacyDb(name, 3, (tx) => {
          tx.objectStore('classes').put({ id: 'c1', name: 'cats', order: 0, created: 'x', updated: 'x' });
          tx.objectStore('examples').put({ id: 'e1', classId: 'c1', backbone: 'b@1', embeddings: [new Float32Array([1, 2])], views: [{ augmented: false, ops: [] }], augmentSeed: 5, width: 1, height: 1, created: 'x', updated: 'x', photo: new Blob(['p']) });
          tx.objectStore('settings').put({ key: 'activeHead', headId: 'h1' });
        });
        const t = window.tannerin;
        const db = await t.openTannerinDb({ name });
        const out = {
          version: db.version,
          stores: [...db.objectStoreNames].sort(),
          example: await db.get('examples', 'e1'),
          embeddings: await t.readExampleEmbeddings(db.transaction('embeddingPacks').store, 'b@1', 'e1'),
          classes: (await db.getAll('classes')).map((c) => c.name),
          active: await db.get('settings', 'activeHead'),
          unlabeled: await db.count('unlabeled'),
        };
        await t.closeTannerinDb();
        return { ...out, embeddings: undefined, example: out.example ? { id: out.example.id, seed: out.example.augmentSeed, values: Array.from(out.embeddings?.[0] ?? []) } : null };
      });
      expect(result.version).toBe(9);
      expect(result.stores).toEqual(['classes', 'corrections', 'embeddingPacks', 'examples', 'headStates', 'heads', 'manifests', 'modelFiles', 'pendingMigrations', 'settings', 'syncAccount', 'syncStates', 'unlabeled']);
      expect(result.example).toEqual({ id: 'e1', seed: 5, values: [1, 2] });
      expect(result.classes).toEqual(['cats']);
      expect(result.active).toEqual({ key: 'activeHead', headId: 'h1' });
      expect(result.unlabeled).toBe(0);
      expect(b.errors).toEqual([]);
    } finally {
      await b.dispose();
    }
  });
});
