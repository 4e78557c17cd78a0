/**
 * Embeddings packed per backbone (database version 7, client/lib/embedding-packs.ts), in Chromium
 * with real IndexedDB: a version 6 database upgrades with every example's embeddings moved into
 * bounded packs and nothing else changed; packs follow adds, pending views and deletes, stay within
 * their bounds and are rewritten in place; `reembedExamples` embeds for a second backbone with
 * progress, stops on cancel keeping what it stored, resumes with the rest, and leaves the first
 * backbone's embeddings alone; Train reads the packs and first embeds the photos that lack the
 * loaded backbone's embeddings.
 *
 * The second backbone is a stand-in (its embedding is the photo's size and mean channel values):
 * what is tested is the storage, not a network.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchChromium, type Browser } from './chrome.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';
import { harnessTab, holdViewsLock, releaseViewsLock } from './tabs.ts';

const baseUrl = inject('baseUrl');
const CLASSES = ['heart', 'animal-mammal'];
const split = emojiSplit(CLASSES, 3, 1, 11);
const images = (name: string) => (split.train[name] as EmojiImage[]).map((e) => e.image);

let browser: Browser | undefined;
afterEach(async () => {
  await browser?.dispose();
  browser = undefined;
});

/** The harness in a new tab of the profile, optionally with the backend started and the models loaded. */
const harness = (b: Browser, load = true): Promise<Page> => harnessTab(b, baseUrl, load);

/**
 * Every pack of the library's database as plain data: key, dims, example ids, views, first float of
 * each row; not the crops' packs (`<backbone>#crop`, tests/browser/example-crops.test.ts).
 */
function packs(page: Page) {
  return page.evaluate(async () => {
    const db = await window.tannerin.openTannerinDb();
    return (await db.getAll('embeddingPacks')).filter((p) => !p.backbone.endsWith('#crop')).map((p) => ({
      backbone: p.backbone,
      pack: p.pack,
      dims: p.dims,
      examples: p.examples,
      views: p.views,
      floats: p.data.length,
    }));
  });
}

describe('database version 7: embeddings packed per backbone', () => {
  it('upgrades a version 6 database: every embedding moved into bounded packs, the records otherwise unchanged', async () => {
    browser = await launchChromium();
    const page = await harness(browser, false);
    const result = await page.evaluate(async () => {
      const name = 'tannerin-v6-upgrade';
      const t = window.tannerin;
      // 22 examples on b@1 (1 to 4 views of 3 floats; the 5th with views pending) and 2 on c@2.
      const examples = Array.from({ length: 24 }, (_, i) => {
        const views = 1 + (i % 4);
        return {
          id: `e${String(i).padStart(3, '0')}`,
          classId: i % 2 ? 'c1' : 'c2',
          photo: { bytes: new Uint8Array([0xff, 0xd8, i]), type: 'image/jpeg' },
          width: 224,
          height: 224,
          backbone: i < 22 ? 'b@1' : 'c@2',
          embeddings: Array.from({ length: views }, (_, v) => Float32Array.of(i, v, i * 10 + v)),
          views: Array.from({ length: views }, (_, v) => ({ augmented: v > 0, ops: v > 0 ? ['flip' as const] : [] })),
          augmentSeed: i,
          ...(i === 4 ? { pendingViews: 2 } : {}),
          created: 'x',
          updated: 'x',
        };
      });
      await t.createLegacyDb(name, 6, (tx) => {
        tx.objectStore('classes').put({ id: 'c1', name: 'cats', order: 0, created: 'x', updated: 'x' });
        tx.objectStore('classes').put({ id: 'c2', name: 'dogs', order: 1, created: 'x', updated: 'x' });
        for (const e of examples) tx.objectStore('examples').put(e);
      });
      const db = await t.openTannerinDb({ name });
      const plain = (v: unknown) => JSON.stringify(v, (_, x: unknown) => (ArrayBuffer.isView(x) ? Array.from(x as Float32Array) : x));
      const records = await db.getAll('examples');
      const tx = db.transaction('embeddingPacks');
      const [b1, c2] = [await t.readEmbeddings(tx.store, 'b@1'), await t.readEmbeddings(tx.store, 'c@2')];
      const packList = (await db.getAll('embeddingPacks')).map((p) => ({ key: [p.backbone, p.pack], examples: p.examples.length, dims: p.dims, rows: p.data.length / p.dims }));
      const out = {
        version: db.version,
        recordsWithoutEmbeddings: records.every((r) => !('embeddings' in r)),
        // Version 9 marks each example's crop pending, nothing else.
        recordsSame: plain(records) === plain(examples.map(({ embeddings: _e, ...rest }) => ({ ...rest, cropPending: 1 }))),
        embeddingsSame: examples.every((e) => plain((e.backbone === 'b@1' ? b1 : c2).get(e.id)) === plain(e.embeddings)),
        packList,
        pending: await db.getAllKeysFromIndex('examples', 'by-pending'),
      };
      await t.closeTannerinDb();
      return out;
    });
    expect(result).toEqual({
      version: 9,
      recordsWithoutEmbeddings: true,
      recordsSame: true,
      embeddingsSame: true,
      // At most 16 examples a pack, in key order.
      packList: [
        { key: ['b@1', 0], examples: 16, dims: 3, rows: 40 },
        { key: ['b@1', 1], examples: 6, dims: 3, rows: 13 },
        { key: ['c@2', 0], examples: 2, dims: 3, rows: 3 + 4 },
      ],
      pending: ['e004'],
    });
    expect(browser.errors).toEqual([]);
  });

  it('packs stay bounded: appends fill the last pack, then open a new one; a change rewrites its own pack in place; an emptied pack goes', async () => {
    browser = await launchChromium();
    const page = await harness(browser, false);
    const result = await page.evaluate(async () => {
      const t = window.tannerin;
      const db = await t.openTannerinDb();
      const entry = (i: number, views = 2) => ({ id: `x${String(i).padStart(3, '0')}`, embeddings: Array.from({ length: views }, (_, v) => Float32Array.of(i, v)) });
      const write = async (fn: (store: Parameters<typeof t.appendToPacks>[0]) => Promise<void>) => {
        const tx = db.transaction('embeddingPacks', 'readwrite');
        await fn(tx.store);
        await tx.done;
      };
      const shape = async () => (await db.getAll('embeddingPacks')).map((p) => [p.pack, p.examples.length, p.data.length]);
      // 25 examples appended in two calls: 16 + 9.
      await write((s) => t.appendToPacks(s, 'z@1', Array.from({ length: 10 }, (_, i) => entry(i))));
      await write((s) => t.appendToPacks(s, 'z@1', Array.from({ length: 15 }, (_, i) => entry(10 + i))));
      const appended = await shape();
      // More views for one example of the first pack: that pack only, its order kept.
      await write((s) => t.putEmbeddings(s, 'z@1', [entry(5, 4)]));
      const first = await db.get('embeddingPacks', ['z@1', 0]);
      const changed = { shape: await shape(), order: first?.examples.slice(4, 7), views: first?.views.slice(4, 7), row: Array.from(first?.data.subarray(5 * 4 + 2 * 2, 5 * 4 + 2 * 2 + 2) ?? []) };
      // A pack whose floats would pass the bound closes early: one example of just over half the bound fits, a second does not.
      const half = t.PACK_MAX_FLOATS / 2;
      await write((s) => t.appendToPacks(s, 'big@1', [0, 1, 2].map((i) => ({ id: `b${i}`, embeddings: [new Float32Array(half + 1).fill(i)] }))));
      const big = (await db.getAll('embeddingPacks', IDBKeyRange.bound(['big@1', 0], ['big@1', Infinity]))).map((p) => p.examples);
      // Deleting every example of the second pack removes it; the other packs keep theirs.
      await write((s) => t.deleteEmbeddings(s, Array.from({ length: 9 }, (_, i) => entry(16 + i).id)));
      const deleted = (await db.getAll('embeddingPacks', IDBKeyRange.bound(['z@1', 0], ['z@1', Infinity]))).map((p) => [p.pack, p.examples.length]);
      return { appended, changed, big, deleted, max: t.PACK_MAX_EXAMPLES };
    });
    expect(result.max).toBe(16);
    expect(result.appended).toEqual([
      [0, 16, 16 * 2 * 2],
      [1, 9, 9 * 2 * 2],
    ]);
    expect(result.changed).toEqual({ shape: [[0, 16, 16 * 2 * 2 + 2 * 2], [1, 9, 9 * 2 * 2]], order: ['x004', 'x005', 'x006'], views: [2, 4, 2], row: [5, 2] });
    expect(result.big).toEqual([['b0'], ['b1'], ['b2']]);
    expect(result.deleted).toEqual([[0, 16]]);
  });

  it('packs follow adds, pending views and deletes of real photos', async () => {
    browser = await launchChromium();
    const page = await harness(browser);
    const holder = await harness(browser, false);
    // Hold the views' Web Lock, so the photos' augmented views wait (as another tab embedding would make them).
    await holdViewsLock(holder);
    const cls = await page.evaluate(() => window.tannerin.addClass('heart'));
    const ids = (await page.evaluate(([id, imgs]) => window.tannerin.addPhotos(id, imgs), [cls.id, images('heart')] as const)).map((a) => a.example.id);
    const ref = await page.evaluate(() => window.tannerin.currentBackbone().ref);
    const pending = await packs(page);
    expect(pending).toEqual([{ backbone: ref, pack: 0, dims: 2816, examples: ids, views: [1, 1, 1], floats: 3 * 2816 }]);
    await releaseViewsLock(holder);
    await page.evaluate(() => window.tannerin.pendingViewsSettled());
    expect(await packs(page)).toEqual([{ backbone: ref, pack: 0, dims: 2816, examples: ids, views: [4, 4, 4], floats: 12 * 2816 }]);
    // Training reads them from the pack: every view of every photo.
    const set = await page.evaluate(async () => {
      const s = await window.tannerin.trainingSet();
      return { photos: s.photos, stale: s.stale, pendingViews: s.pendingViews, vectors: s.examples.length, augmented: s.examples.filter((e) => e.augmented).length };
    });
    expect(set).toEqual({ photos: 3, stale: 0, pendingViews: 0, vectors: 12, augmented: 9 });

    expect(await page.evaluate((id) => window.tannerin.deleteExample(id), ids[1] as string)).toBe(true);
    expect(await packs(page)).toEqual([{ backbone: ref, pack: 0, dims: 2816, examples: [ids[0], ids[2]], views: [4, 4], floats: 8 * 2816 }]);
    await page.evaluate((id) => window.tannerin.deleteClass(id), cls.id);
    expect(await packs(page)).toEqual([]);
    expect(browser.errors).toEqual([]);
  });

  it('reembedExamples embeds for a second backbone with progress, stops on cancel keeping what it stored, resumes, and keeps the first backbone; Train embeds what the loaded backbone lacks first', async () => {
    browser = await launchChromium();
    const page = await harness(browser);
    await page.evaluate((classes) => window.tannerin.teach(classes), CLASSES.map((name) => ({ name, images: images(name) })));
    const before = await page.evaluate(() => window.tannerin.storedEmbeddings());
    const result = await page.evaluate(async () => {
      const t = window.tannerin;
      const real = t.currentBackbone();
      // A stand-in backbone: the embedding is the photo's size and mean channel values.
      const fake = {
        ...real,
        ref: 'fake@1',
        embed: async (pixels: { width: number; height: number; data: Uint8Array | Uint8ClampedArray }) => {
          const sums = [0, 0, 0];
          for (let i = 0; i < pixels.data.length; i += 4) for (let c = 0; c < 3; c++) sums[c] = (sums[c] as number) + (pixels.data[i + c] as number);
          const n = pixels.data.length / 4;
          return Float32Array.of(pixels.width, pixels.height, ...sums.map((s) => s / n));
        },
      } as typeof real;
      const progress: [number, number][] = [];
      const controller = new AbortController();
      let error = '';
      try {
        await t.reembedExamples(fake, {
          signal: controller.signal,
          onProgress: (done, total) => {
            progress.push([done, total]);
            if (done === 2) controller.abort();
          },
        });
      } catch (err) {
        error = (err as Error).name;
      }
      const db = await t.openTannerinDb();
      const afterCancel = (await t.embeddedIds(db.transaction('embeddingPacks').store)).get('fake@1')?.size ?? 0;
      const resumedProgress: [number, number][] = [];
      const resumed = await t.reembedExamples(fake, { onProgress: (done, total) => resumedProgress.push([done, total]) });
      const again = await t.reembedExamples(fake);
      const fakeEmbeddings = await t.readEmbeddings(db.transaction('embeddingPacks').store, 'fake@1');
      const records = await t.listExamples();
      return {
        error,
        progress,
        afterCancel,
        resumed,
        resumedProgress,
        again,
        fakeViews: [...fakeEmbeddings.values()].map((e) => e.length),
        // Photo copies are stored with the shorter side 299 px (emoji are 64 px: never enlarged).
        fakeFirst: [...fakeEmbeddings.values()].map((e) => Array.from(e[0] ?? []).slice(0, 2)),
        sizes: records.map((r) => [r.width, r.height]),
        backbones: [...new Set(records.map((r) => r.backbone))],
      };
    });
    expect(result.error).toBe('AbortError');
    expect(result.progress).toEqual([[0, 6], [1, 6], [2, 6]]);
    expect(result.afterCancel).toBe(2);
    expect(result.resumed).toEqual({ reembedded: 4, total: 4, failed: 0 });
    expect(result.resumedProgress).toEqual([[0, 4], [1, 4], [2, 4], [3, 4], [4, 4]]);
    expect(result.again).toEqual({ reembedded: 0, total: 0, failed: 0 });
    expect(result.fakeViews).toEqual([4, 4, 4, 4, 4, 4]);
    for (const [i, size] of result.sizes.entries()) expect(result.fakeFirst[i]).toEqual(size);
    // The loaded backbone's embeddings, and the records' backbone, are untouched.
    expect(await page.evaluate(() => window.tannerin.storedEmbeddings())).toEqual(before);
    expect(result.backbones).toEqual([await page.evaluate(() => window.tannerin.currentBackbone().ref)]);

    // Two photos lose the loaded backbone's embeddings (as photos taught on another backbone):
    // Train embeds them first, with progress, and trains on all six.
    const stale = await page.evaluate(() => window.tannerin.makeStale(2));
    expect(stale).toHaveLength(2);
    const trained = await page.evaluate(() => window.tannerin.trainNow());
    if (!trained.ok) throw new Error(`training failed: ${trained.error.message}`);
    expect(trained.embedProgress[0]).toEqual([0, 2]);
    expect(trained.embedProgress.at(-1)).toEqual([2, 2]);
    expect(trained.report.examples).toMatchObject({ photos: 6, vectors: 24, stale: 0, pendingViews: 0 });
    expect(trained.tensorsAfter).toBe(trained.tensorsBefore);
    const loaded = await page.evaluate((ids) => Promise.all(ids.map(async (id) => (await window.tannerin.getExample(id))?.embeddings.length)), stale);
    expect(loaded).toEqual([4, 4]);

    // A photo whose stored copy cannot be decoded is skipped, not a reason to stop: Train leaves it out.
    const [broken] = await page.evaluate(() => window.tannerin.makeStale(1));
    await page.evaluate(async (id) => {
      const db = await window.tannerin.openTannerinDb();
      const record = await db.get('examples', id);
      if (record) await db.put('examples', { ...record, photo: { bytes: new Uint8Array([1, 2, 3]), type: 'image/jpeg' } });
    }, broken as string);
    const again = await page.evaluate(() => window.tannerin.trainNow());
    if (!again.ok) throw new Error(`training failed: ${again.error.message}`);
    expect(again.embedProgress).toEqual([[0, 1], [1, 1]]);
    expect(again.report.examples).toMatchObject({ photos: 5, stale: 1 });
    expect(browser.errors).toEqual([]);
  });
});
