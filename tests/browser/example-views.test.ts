/**
 * A photo counts at once (client/lib/pending-views.ts), in Chromium with real IndexedDB against
 * the real Worker: `addExample` resolves once the photo's own view is stored, and the photo counts
 * for training from then on; its 3 augmented views arrive afterwards, in the background, never
 * holding up the next photo; deleting a photo or its class with views pending leaves nothing
 * behind; views left pending by a page closed midway are completed at the next load, each
 * embedded once even with two tabs; Train finishes pending views before it trains; the tensor
 * count stays flat; a version 5 database upgrades with every example kept.
 *
 * To hold views pending without timing, a second page of the same profile holds the views' Web
 * Lock (as another tab embedding views would): the jobs wait for it.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchChromium, type Browser } from './chrome.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';
import { harnessTab, holdViewsLock, releaseViewsLock } from './tabs.ts';

const baseUrl = inject('baseUrl');
const CLASSES = ['heart', 'animal-mammal'];
const split = emojiSplit(CLASSES, 3, 1, 7);
const images = (name: string) => (split.train[name] as EmojiImage[]).map((e) => e.image);
const warmUp = (split.test['heart'] as EmojiImage[])[0]?.image as { base64: string; type: string };

/** What a photo's views are once complete (the default 3 augmented views). */
const ALL_VIEWS = [
  { augmented: false, ops: [] },
  { augmented: true, ops: ['flip'] },
  { augmented: true, ops: ['crop', 'jitter'] },
  { augmented: true, ops: ['flip', 'crop', 'jitter'] },
];
const ORIGINAL_ONLY = [{ augmented: false, ops: [] }];

let browser: Browser | undefined;
afterEach(async () => {
  await browser?.dispose();
  browser = undefined;
});

/** The harness in a new tab of the profile, optionally with the backend started and the models loaded. */
const harness = (b: Browser, load = true): Promise<Page> => harnessTab(b, baseUrl, load);

/** Adds a class and one photo, waiting for its views: compiles the decoder and the kernels, so the tensor count is settled. */
async function warm(page: Page): Promise<void> {
  await page.evaluate((img) => window.tannerin.teach([{ name: 'warm-up', images: [img] }]), warmUp);
  const cls = (await page.evaluate(() => window.tannerin.listClasses())).find((c) => c.name === 'warm-up');
  await page.evaluate((id) => window.tannerin.deleteClass(id), cls?.id as string);
}

/** Example ids in the `by-pending` index. */
function pendingKeys(page: Page): Promise<string[]> {
  return page.evaluate(async () => (await window.tannerin.openTannerinDb()).getAllKeysFromIndex('examples', 'by-pending'));
}

describe('a photo counts at once; its augmented views follow in the background', () => {
  it('addExample resolves with the photo stored and counted for training; the views arrive afterwards; tensors flat', async () => {
    browser = await launchChromium();
    const page = await harness(browser);
    const holder = await harness(browser, false);
    await warm(page);
    const tensorsBefore = (await page.evaluate(() => window.tannerin.memory())).numTensors;
    const embeddedBefore = (await page.evaluate(() => window.tannerin.pendingViewsState())).viewsEmbedded;

    await holdViewsLock(holder);
    const ids: string[] = [];
    const classIds: string[] = [];
    let photos = 0;
    for (const name of CLASSES) {
      const cls = await page.evaluate((n) => window.tannerin.addClass(n), name);
      classIds.push(cls.id);
      const added = await page.evaluate(([id, imgs]) => window.tannerin.addPhotos(id, imgs), [cls.id, images(name)] as const);
      for (const a of added) {
        photos++;
        ids.push(a.example.id);
        // Stored with its own view, its 3 augmented views to come...
        expect(a.example).toMatchObject({ classId: cls.id, views: ORIGINAL_ONLY, dims: [2816], pendingViews: 3 });
        // ...and already a training photo (one vector each so far).
        expect(a).toMatchObject({ trainingPhotos: photos, trainingVectors: photos, pendingViews: photos });
      }
    }
    expect(await page.evaluate(() => window.tannerin.pendingViewsState())).toMatchObject({ queued: photos, viewsEmbedded: embeddedBefore });
    expect((await pendingKeys(page)).sort()).toEqual([...ids].sort());

    await releaseViewsLock(holder);
    await page.evaluate(() => window.tannerin.pendingViewsSettled());
    const stored = (await page.evaluate(() => window.tannerin.stored())).examples;
    expect(stored).toHaveLength(photos);
    for (const e of stored) expect(e).toMatchObject({ views: ALL_VIEWS, dims: [2816, 2816, 2816, 2816], pendingViews: 0 });
    expect(await pendingKeys(page)).toEqual([]);
    const state = await page.evaluate(() => window.tannerin.pendingViewsState());
    // Each view embedded once.
    expect(state).toMatchObject({ queued: 0, running: null, viewsEmbedded: embeddedBefore + 3 * photos, lastError: null });
    const set = await page.evaluate(() => window.tannerin.trainingSet().then((s) => ({ photos: s.photos, vectors: s.examples.length, pendingViews: s.pendingViews })));
    expect(set).toEqual({ photos, vectors: 4 * photos, pendingViews: 0 });
    expect((await page.evaluate(() => window.tannerin.memory())).numTensors).toBe(tensorsBefore);

    // The same photo and seed added again, its views embedded at once instead of after a wait,
    // gives bit-identical embeddings: what a photo trains on does not depend on the timing.
    const again = await page.evaluate(
      async ([img, seed]) => {
        const t = window.tannerin;
        const cls = await t.addClass('again');
        const record = await t.addExample(cls.id, new Blob([Uint8Array.from(atob(img.base64), (c) => c.charCodeAt(0))], { type: img.type }), { seed });
        await t.pendingViewsSettled(record.id);
        return Object.fromEntries(Object.entries(await t.storedEmbeddings()).filter(([id]) => id === record.id))[record.id];
      },
      [images('heart')[0] as { base64: string; type: string }, 1] as const,
    );
    const first = (await page.evaluate(() => window.tannerin.storedEmbeddings()))[stored.find((e) => e.augmentSeed === 1 && e.classId === classIds[0])?.id as string];
    expect(again).toEqual(first);
    expect(browser.errors).toEqual([]);
  });

  it('the next photo is not held up by the views of the photo before', async () => {
    browser = await launchChromium();
    const page = await harness(browser);
    await warm(page);
    const out = await page.evaluate(async (imgs) => {
      const t = window.tannerin;
      const blob = (img: { base64: string; type: string }) => new Blob([Uint8Array.from(atob(img.base64), (c) => c.charCodeAt(0))], { type: img.type });
      const cls = await t.addClass('burst');
      const before = t.pendingViewsState().viewsEmbedded;
      const first = await t.addExample(cls.id, blob(imgs[0] as { base64: string; type: string }));
      const second = await t.addExample(cls.id, blob(imgs[1] as { base64: string; type: string }));
      // Read at once, as the second photo's addExample resolves: the first photo's views waited.
      const embeddedMeanwhile = t.pendingViewsState().viewsEmbedded - before;
      await t.pendingViewsSettled();
      return { embeddedMeanwhile, ids: [first.id, second.id], after: t.pendingViewsState().viewsEmbedded - before };
    }, images('heart'));
    expect(out.embeddedMeanwhile).toBe(0);
    expect(out.after).toBe(6);
    const stored = (await page.evaluate(() => window.tannerin.stored())).examples.filter((e) => out.ids.includes(e.id));
    expect(stored.map((e) => e.views)).toEqual([ALL_VIEWS, ALL_VIEWS]);
  });

  it('deleting a photo, or its class, with views pending leaves nothing behind', async () => {
    browser = await launchChromium();
    const page = await harness(browser);
    const holder = await harness(browser, false);
    await warm(page);
    const tensorsBefore = (await page.evaluate(() => window.tannerin.memory())).numTensors;
    const embeddedBefore = (await page.evaluate(() => window.tannerin.pendingViewsState())).viewsEmbedded;

    await holdViewsLock(holder);
    const heart = await page.evaluate(() => window.tannerin.addClass('heart'));
    const mammal = await page.evaluate(() => window.tannerin.addClass('animal-mammal'));
    const hearts = (await page.evaluate(([id, imgs]) => window.tannerin.addPhotos(id, imgs), [heart.id, images('heart')] as const)).map((a) => a.example.id);
    await page.evaluate(([id, imgs]) => window.tannerin.addPhotos(id, imgs), [mammal.id, images('animal-mammal')] as const);
    expect((await page.evaluate(() => window.tannerin.pendingViewsState())).queued).toBe(6);
    // A waiting job is dropped at once with its photo, or with its class.
    expect(await page.evaluate((id) => window.tannerin.deleteExample(id), hearts[0] as string)).toBe(true);
    expect((await page.evaluate(() => window.tannerin.pendingViewsState())).queued).toBe(5);
    expect(await page.evaluate((id) => window.tannerin.deleteClass(id), mammal.id)).toEqual({ examplesDeleted: 3 });
    expect((await page.evaluate(() => window.tannerin.pendingViewsState())).queued).toBe(2);
    await releaseViewsLock(holder);
    await page.evaluate(() => window.tannerin.pendingViewsSettled());
    let stored = (await page.evaluate(() => window.tannerin.stored())).examples;
    expect(stored.map((e) => e.id).sort()).toEqual(hearts.slice(1).sort());
    for (const e of stored) expect(e).toMatchObject({ views: ALL_VIEWS, pendingViews: 0 });
    // Only the kept photos' views were embedded.
    expect((await page.evaluate(() => window.tannerin.pendingViewsState())).viewsEmbedded).toBe(embeddedBefore + 6);

    // A photo deleted while its views are being embedded: the job stops, nothing is written.
    const gone = await page.evaluate(async (img) => {
      const t = window.tannerin;
      const cls = (await t.listClasses()).find((c) => c.name === 'heart');
      const record = await t.addExample(cls?.id as string, new Blob([Uint8Array.from(atob(img.base64), (c) => c.charCodeAt(0))], { type: img.type }));
      while (t.pendingViewsState().running !== record.id) await new Promise((r) => setTimeout(r, 1));
      await t.deleteExample(record.id);
      await t.pendingViewsSettled();
      return { id: record.id, state: t.pendingViewsState(), still: await t.getExample(record.id) };
    }, warmUp);
    expect(gone.still).toBeUndefined();
    expect(gone.state).toMatchObject({ queued: 0, running: null, lastError: null });
    stored = (await page.evaluate(() => window.tannerin.stored())).examples;
    expect(stored.map((e) => e.id).sort()).toEqual(hearts.slice(1).sort());
    expect(await pendingKeys(page)).toEqual([]);
    expect((await page.evaluate(() => window.tannerin.memory())).numTensors).toBe(tensorsBefore);
    expect(browser.errors).toEqual([]);
  });

  it('views left pending by a page closed midway are completed at the next load, each embedded once with two tabs', async () => {
    browser = await launchChromium();
    const first = await harness(browser);
    const holder = await harness(browser, false);
    await holdViewsLock(holder);
    const ids: string[] = [];
    for (const name of CLASSES) {
      const cls = await first.evaluate((n) => window.tannerin.addClass(n), name);
      ids.push(...(await first.evaluate(([id, imgs]) => window.tannerin.addPhotos(id, imgs), [cls.id, images(name)] as const)).map((a) => a.example.id));
    }
    const originals = await first.evaluate(() => window.tannerin.storedEmbeddings());
    // Closed while its jobs wait: the views were never stored.
    await first.close();
    await releaseViewsLock(holder);
    expect((await pendingKeys(holder)).sort()).toEqual([...ids].sort());

    // Two tabs load (each queues every pending photo) and finish them at once.
    const [a, b] = await Promise.all([harness(browser), harness(browser)]);
    const done = await Promise.all([a, b].map((p) => p.evaluate(() => window.tannerin.completePendingViews())));
    for (const d of done) expect(d).toEqual({ photos: expect.any(Number), left: 0 });
    const embedded = await Promise.all([a, b].map((p) => p.evaluate(() => window.tannerin.pendingViewsState())));
    // Every view of every photo embedded once, across both tabs.
    expect(embedded.reduce((sum, s) => sum + s.viewsEmbedded, 0)).toBe(3 * ids.length);
    const stored = (await a.evaluate(() => window.tannerin.stored())).examples;
    expect(stored).toHaveLength(ids.length);
    for (const e of stored) expect(e).toMatchObject({ views: ALL_VIEWS, dims: [2816, 2816, 2816, 2816], pendingViews: 0 });
    // The photo's own view is kept as it was; the augmented ones come from the stored copy.
    const after = await a.evaluate(() => window.tannerin.storedEmbeddings());
    for (const id of ids) expect(after[id]?.[0]).toBe(originals[id]?.[0]);
    expect(browser.errors).toEqual([]);
  });

  it('Train finishes pending views first, with progress, and trains on every view', async () => {
    browser = await launchChromium();
    const page = await harness(browser);
    const holder = await harness(browser, false);
    await holdViewsLock(holder);
    for (const name of CLASSES) {
      const cls = await page.evaluate((n) => window.tannerin.addClass(n), name);
      await page.evaluate(([id, imgs]) => window.tannerin.addPhotos(id, imgs), [cls.id, images(name)] as const);
    }
    // Train starts while every photo's views wait; they come once the lock is free.
    const training = page.evaluate(() => window.tannerin.trainNow());
    await page.waitForFunction(() => window.tannerin.pendingViewsState().queued === 6);
    await releaseViewsLock(holder);
    const trained = await training;
    if (!trained.ok) throw new Error(`training failed: ${trained.error.message}`);
    expect(trained.report.examples).toMatchObject({ photos: 6, vectors: 24, pendingViews: 0 });
    expect(trained.viewsProgress[0]).toEqual([0, 6]);
    expect(trained.viewsProgress.at(-1)).toEqual([6, 6]);
    expect(trained.tensorsAfter).toBe(trained.tensorsBefore);
    expect(await pendingKeys(page)).toEqual([]);
  });
});

describe('database version 6', () => {
  it('upgrades a version 5 database: every example kept as it was, none pending, the index in place', async () => {
    browser = await launchChromium();
    const page = await harness(browser, false);
    const result = await page.evaluate(async () => {
      const name = 'tannerin-v5-upgrade';
      const t = window.tannerin;
      const example = {
        id: 'e1',
        classId: 'c1',
        photo: { bytes: new Uint8Array([0xff, 0xd8, 0xff]), type: 'image/jpeg' },
        width: 64,
        height: 64,
        backbone: 'b@1',
        embeddings: [new Float32Array([1, 2]), new Float32Array([3, 4])],
        views: [
          { augmented: false, ops: [] },
          { augmented: true, ops: ['flip' as const] },
        ],
        augmentSeed: 9,
        created: 'x',
        updated: 'x',
      };
      await t.createLegacyDb(name, 5, (tx) => {
        tx.objectStore('classes').put({ id: 'c1', name: 'cats', order: 0, created: 'x', updated: 'x' });
        tx.objectStore('examples').put(example);
      });
      const db = await t.openTannerinDb({ name });
      const stored = await db.get('examples', 'e1');
      // Version 7 moved its embeddings into the packs: the record is the rest, unchanged.
      const embeddings = await t.readExampleEmbeddings(db.transaction('embeddingPacks').store, 'b@1', 'e1');
      const { embeddings: expected, ...rest } = example;
      const plain = (v: unknown) => JSON.stringify(v, (_, x: unknown) => (ArrayBuffer.isView(x) ? Array.from(x as Float32Array) : x));
      const out = {
        version: db.version,
        indexes: [...db.transaction('examples').store.indexNames].sort(),
        pending: await db.getAllKeysFromIndex('examples', 'by-pending'),
        // Version 9 marks its crop pending, nothing else.
        same: plain(stored) === plain({ ...rest, cropPending: 1 }) && plain(embeddings) === plain(expected),
      };
      // A record with views pending is in the index.
      await db.put('examples', { ...example, id: 'e2', pendingViews: 3 });
      const pendingAfter = await db.getAllKeysFromIndex('examples', 'by-pending');
      await t.closeTannerinDb();
      return { ...out, pendingAfter };
    });
    expect(result).toEqual({ version: 9, indexes: ['by-backbone', 'by-class', 'by-crop-pending', 'by-pending'], pending: [], same: true, pendingAfter: ['e2'] });
  });
});
