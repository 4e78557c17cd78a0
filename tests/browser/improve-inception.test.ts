/**
 * "Improve further" (client/lib/improve.ts) on InceptionV3, in Chromium against the real Worker
 * (issue 15 pt 2): fine-tuning is not offered there (its smallest trainable block, mixed7, would
 * make a head document over the 8 MiB limit: checked here with the backbone's own split), and the
 * estimate and the report say so; the other recipes (the retrained head, kNN, self-training with
 * unlabeled photos) run end to end on InceptionV3's embeddings, the best is stored as the active
 * head on InceptionV3 and predicts; asking to keep fine-tuning is refused with the reason; the
 * tensor count is flat. On MobileNetV2 fine-tuning stays offered (tests/browser/improve.test.ts runs it).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { ServedBackbone } from '../../shared/api/types.ts';
import { HEAD_LIMITS } from '../../shared/limits.ts';
import { launchChromium, openHarness, type Browser } from './chrome.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';
import { refOf, report, servedBackbonePair } from './util.ts';

const baseUrl = inject('baseUrl');

const CLASSES = ['heart', 'animal-mammal', 'transport-ground'];
/** Photos per class: one is held out for the comparison, three train every candidate. */
const TRAIN_PER_CLASS = 4;
const UNLABELED_PER_CLASS = 2;
const split = emojiSplit(CLASSES, TRAIN_PER_CLASS, UNLABELED_PER_CLASS, 13);
const taught = CLASSES.map((name) => ({ name, images: (split.train[name] as EmojiImage[]).map((e) => e.image) }));
const unlabeledImages = CLASSES.flatMap((name) => (split.test[name] as EmojiImage[]).map((e) => e.image));

describe('improve further on InceptionV3', () => {
  let inception: ServedBackbone;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    ({ inception } = await servedBackbonePair(baseUrl));
    browser = await launchChromium();
    page = await openHarness(browser, baseUrl);
    await page.evaluate(() => window.tannerin.startBackend());
    await page.evaluate(() => window.tannerin.load());
    const switched = await page.evaluate(() => window.tannerin.switchBackbone('inception_v3'));
    if (!switched.ok) throw new Error(`switch failed: ${switched.error.message}`);
    await page.evaluate((c) => window.tannerin.teach(c, { augment: false }), taught);
    await page.evaluate(async (images) => {
      for (const img of images) {
        const bytes = Uint8Array.from(atob(img.base64), (c) => c.charCodeAt(0));
        await window.tannerin.addUnlabeled(new Blob([bytes], { type: img.type }));
      }
    }, unlabeledImages);
  }, 300_000);
  afterAll(async () => {
    await browser?.dispose();
  });

  it('fine-tuning is not offered: its smallest block would not fit a head document', async () => {
    // The reason holds: InceptionV3 split at mixed6 (the input of its last block, mixed7), its
    // trainable copy as the base64 float32 a head document carries.
    const tail = await page.evaluate(async (ref) => {
      const t = window.tannerin;
      const backbone = t.loadedBackbone(ref);
      if (!backbone) throw new Error(`${ref} is not loaded`);
      const initial = await t.splitBackbone(backbone, { cut: 'mixed6' }).initialTail();
      return { weights: initial.weightData.length / 4, documentBytes: Math.ceil(initial.weightData.length / 3) * 4 };
    }, refOf(inception));
    expect(tail.documentBytes).toBeGreaterThan(HEAD_LIMITS.maxDocumentBytes);
    report('browser.inception_v3.finetune_tail_bytes', tail.documentBytes, 'bytes', `mixed7 block, ${tail.weights} weights as base64 float32 (head limit ${HEAD_LIMITS.maxDocumentBytes})`);

    const estimate = await page.evaluate(() => window.tannerin.improveEstimate());
    expect(estimate.ready).toBe(true);
    expect(estimate.unlabeled).toBe(unlabeledImages.length);
    expect(estimate.fineTuneRefusal).toContain('MobileNetV2 image model only');
    // Without fine-tuning, the largest model a run keeps is a head (768 floats a class and the input transform).
    expect(estimate.sizeBytes).toBeLessThan(200_000);

    const refused = await page.evaluate(async () => {
      try {
        await window.tannerin.improve({ keep: 'finetune' });
        return null;
      } catch (err) {
        return { name: (err as Error).name, message: (err as Error).message };
      }
    });
    expect(refused).toEqual({ name: 'RangeError', message: expect.stringContaining('cannot keep finetune') as string });
    expect(refused?.message).toContain('over the 8 MB');
  });

  it('the other recipes run end to end on InceptionV3 and the best is stored and predicts', async () => {
    const run = await page.evaluate(async () => {
      const t = window.tannerin;
      const stages = new Set<string>();
      t.clearPredictCache();
      const before = t.memory().numTensors;
      const { doc, ...r } = await t.improve({ onProgress: (p) => stages.add(p.stage) });
      return { report: r, backbone: doc.backbone, hasTail: doc.backboneTail !== undefined, stages: [...stages], before, after: t.memory().numTensors };
    });
    const r = run.report;
    expect(r.skipped).toEqual([{ recipe: 'finetune', reason: expect.stringContaining('MobileNetV2 image model only') as string }]);
    expect(r.candidates.map((c) => c.recipe).sort()).toEqual(['head', 'knn', 'selftrain']);
    expect(r.photos).toEqual({ labeled: CLASSES.length * TRAIN_PER_CLASS, heldOut: CLASSES.length, unlabeled: unlabeledImages.length });
    expect(run.stages).toContain('selftrain');
    expect(run.stages).not.toContain('finetune');
    expect(run.backbone).toBe(refOf(inception));
    expect(run.hasTail).toBe(false);
    expect(run.after).toBe(run.before);

    const active = await page.evaluate(() => window.tannerin.activeHeadId());
    expect(active).toBe(r.headId);
    const testImage = (split.test[CLASSES[0] as string] as EmojiImage[])[0]?.image as EmojiImage['image'];
    const predicted = await page.evaluate((img) => window.tannerin.tryPredict(img), testImage);
    if (!predicted.ok) throw new Error(`predict failed: ${predicted.error.message}`);
    expect(predicted.result.head.id).toBe(r.headId);
    expect(predicted.result.head.backbone).toBe(refOf(inception));
    expect(predicted.result.predictions.map((p) => p.label).sort()).toEqual([...CLASSES].sort());
    report('browser.inception_v3.improve_ms', r.ms, 'ms', `improve() on InceptionV3: ${r.photos.labeled} photos, ${r.photos.unlabeled} unlabeled, head/knn/selftrain (kept ${r.kept})`);
  });
});
