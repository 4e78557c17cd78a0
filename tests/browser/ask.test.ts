/**
 * The app asks (issue 18 pt 2, the library's part), in Chromium with real IndexedDB against the
 * real Worker: photos kept from Predict and added by a person form the unlabeled pool; with the
 * network off, `photosToAsk` picks a few (their embeddings cached in the records), a skipped photo
 * is not offered again, and labelling one moves it to the examples, remembers it and retrains the
 * model from its weights; the pool keeps to its cap (the oldest from Predict first), keeps a photo
 * once, and keeps nothing from Predict once keeping is off; a version 7 database upgrades to 8 with
 * every record kept.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchChromium, type Browser } from './chrome.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';
import { harnessTab } from './tabs.ts';

const baseUrl = inject('baseUrl');
const CLASSES = ['heart', 'animal-mammal', 'transport-ground'];
const split = emojiSplit([...CLASSES, 'food-fruit'], 5, 6, 21);
const taught = CLASSES.map((name) => ({ name, images: (split.train[name] as EmojiImage[]).map((e) => e.image) }));
const test = (label: string, i: number) => (split.test[label] as EmojiImage[])[i]?.image as { base64: string; type: string };

let browser: Browser;
let page: Page;
let headId = '';

beforeAll(async () => {
  browser = await launchChromium();
  page = await harnessTab(browser, baseUrl);
  await page.evaluate((c) => window.tannerin.teach(c), taught);
  const trained = await page.evaluate(() => window.tannerin.trainNow());
  if (!trained.ok) throw new Error(trained.error.message);
  headId = trained.report.headId;
}, 180_000);

afterAll(async () => {
  await browser?.dispose();
});

/** Deletes every unlabeled photo. */
async function emptyPool(): Promise<void> {
  await page.evaluate(async () => {
    for (const u of await window.tannerin.listUnlabeled()) await window.tannerin.deleteUnlabeled(u.id);
  });
}

describe('photos to ask about, offline', () => {
  it('picks from the pool, skips what was skipped, and a label moves the photo to the examples and retrains', async () => {
    expect(await page.evaluate(() => window.tannerin.unlabeledPolicy())).toEqual({ keep: true, cap: 200 });
    const fromPredict = [test('heart', 0), test('animal-mammal', 0), test('transport-ground', 0), test('food-fruit', 0)];
    const fromPerson = [test('heart', 1), test('animal-mammal', 1), test('transport-ground', 1), test('food-fruit', 1)];
    const predictIds = await page.evaluate((imgs) => window.tannerin.addToPool(imgs, 'predict'), fromPredict);
    const personIds = await page.evaluate((imgs) => window.tannerin.addToPool(imgs, 'person'), fromPerson);
    expect([...predictIds, ...personIds].every((id) => typeof id === 'string')).toBe(true);
    const ref = (await page.evaluate(() => window.tannerin.currentBackbone().ref)) as string;
    const raw = await page.evaluate(() => window.tannerin.rawUnlabeled());
    // A photo from Predict brings its prediction's embedding; a person's is embedded when asked about.
    expect(raw.map((r) => [r.from, r.embedding?.backbone ?? null])).toEqual([...predictIds.map(() => ['predict', ref]), ...personIds.map(() => ['person', null])]);
    expect(raw.every((r) => /^[0-9a-f]{64}$/.test(r.photoKey ?? ''))).toBe(true);

    const requests: string[] = [];
    page.on('request', (r) => {
      if (!/^(data|blob):/.test(r.url())) requests.push(r.url());
    });
    await browser.context.setOffline(true);
    try {
      const first = await page.evaluate(() => window.tannerin.askData(3));
      expect(first.asked).toHaveLength(3);
      const pool = [...predictIds, ...personIds];
      for (const a of first.asked) {
        expect(pool).toContain(a.id);
        expect(a.photoType).toBe('image/jpeg');
        expect(a.photoBytes).toBeGreaterThan(500);
        expect(a.uncertainty).toBeGreaterThanOrEqual(0);
        expect(a.uncertainty).toBeLessThanOrEqual(1);
        expect(a.guess).toHaveLength(3);
        expect(a.guess.map((g) => g.label).sort()).toEqual([...CLASSES].sort());
      }
      expect(new Set(first.asked.map((a) => a.id)).size).toBe(3);
      // Every photo's embedding is cached now; asking again gives the same photos, tensors flat.
      expect((await page.evaluate(() => window.tannerin.rawUnlabeled())).every((r) => r.embedding?.backbone === ref)).toBe(true);
      const again = await page.evaluate(() => window.tannerin.askData(3));
      expect(again.asked.map((a) => a.id)).toEqual(first.asked.map((a) => a.id));
      expect(again.tensorsAfter).toBe(again.tensorsBefore);

      // Skipped: never offered again, still in the pool.
      const skipped = first.asked[0]?.id as string;
      await page.evaluate((id) => window.tannerin.skipAsked(id), skipped);
      const all = await page.evaluate(() => window.tannerin.askData(10));
      expect(all.asked.map((a) => a.id)).not.toContain(skipped);
      // Every other photo, but near-duplicates of a labelled or chosen one, which are never asked.
      expect(all.asked.length).toBeGreaterThanOrEqual(3);
      expect(all.asked.length).toBeLessThanOrEqual(pool.length - 1);
      expect((await page.evaluate(() => window.tannerin.listUnlabeled())).find((u) => u.id === skipped)).toMatchObject({ skipped: true });

      // Labelled: the fruit kept from Predict becomes an example of a new class; the model retrains.
      const fruit = predictIds[3] as string;
      const labelled = await page.evaluate((id) => window.tannerin.labelUnlabeledAs(id, { newClassName: 'fruit' }), fruit);
      expect(labelled.photoKey).toBe(raw[3]?.photoKey);
      expect((await page.evaluate(() => window.tannerin.listUnlabeled())).map((u) => u.id)).not.toContain(fruit);
      expect((await page.evaluate((id) => window.tannerin.getExample(id), labelled.exampleId))?.classId).toBe(labelled.classId);
      // An asked photo labelled too: both take part in the retraining (at most two: coalesced or one after the other).
      const asked = first.asked.find((a) => a.id !== skipped && a.id !== fruit)?.id as string;
      const second = await page.evaluate((id) => window.tannerin.labelUnlabeledAs(id, { className: 'heart' }), asked);
      const [r1, r2] = await Promise.all([labelled, second].map((l) => page.evaluate((id) => window.tannerin.retrained(id), l.exampleId)));
      for (const r of [r1, r2]) {
        expect(r?.ok).toBe(true);
        expect(r?.value?.headId).toBe(headId);
      }
      // From the current weights: the three taught classes (fruit started fresh, unless a first
      // retraining had already learnt it).
      expect(r1?.value?.warmStart).toEqual({ classesKept: 3 });
      expect(r2?.value?.warmStart).toEqual({ classesKept: expect.toSatisfy((n: number) => n === 3 || n === 4) });
      expect(r2?.value?.examples.photos).toBe(17);
      const state = await page.evaluate((id) => window.tannerin.getHeadState(id), headId);
      expect(state?.trainedOn).toEqual(expect.arrayContaining([labelled.exampleId, second.exampleId]));
      // The photo kept from Predict is remembered: predicted again, it is the fruit it was labelled.
      const [predicted] = await page.evaluate((imgs) => window.tannerin.predictData(imgs), [fromPredict[3] as { base64: string; type: string }]);
      expect(predicted?.corrected?.className).toBe('fruit');
      await page.evaluate(() => window.tannerin.pendingViewsSettled());
    } finally {
      await browser.context.setOffline(false);
    }
    expect(requests).toEqual([]);
  });
});

describe('the pool', () => {
  it('keeps to its cap (the oldest from Predict first), keeps a photo once, and nothing from Predict once keeping is off', async () => {
    await emptyPool();
    await page.evaluate(() => window.tannerin.setUnlabeledPolicy({ cap: 3 }));
    const add = (img: { base64: string; type: string }, from: 'predict' | 'person') => page.evaluate(([i, f]) => window.tannerin.addToPool([i], f), [img, from] as const).then((ids) => ids[0] ?? null);
    const ids = () => page.evaluate(async () => (await window.tannerin.listUnlabeled()).map((u) => u.id));
    const p1 = await add(test('heart', 2), 'person');
    const q1 = await add(test('heart', 3), 'predict');
    const q2 = await add(test('heart', 4), 'predict');
    const p2 = await add(test('animal-mammal', 2), 'person');
    expect(await ids()).toEqual([p1, q2, p2]);
    const q3 = await add(test('animal-mammal', 3), 'predict');
    expect(await ids()).toEqual([p1, p2, q3]);
    const p3 = await add(test('animal-mammal', 4), 'person');
    expect(await ids()).toEqual([p1, p2, p3]);
    // Full of a person's photos: one from Predict is not kept.
    expect(await add(test('transport-ground', 2), 'predict')).toBeNull();
    expect(await ids()).toEqual([p1, p2, p3]);
    expect(q1).not.toBeNull();
    // The same photo is kept once.
    expect(await add(test('heart', 2), 'person')).toBe(p1);
    expect(await ids()).toEqual([p1, p2, p3]);
    // Lowering the cap drops the oldest at once.
    await page.evaluate(() => window.tannerin.setUnlabeledPolicy({ cap: 2 }));
    expect(await ids()).toEqual([p2, p3]);
    // Keeping off: nothing from Predict; a person's add is still kept (within the cap).
    await page.evaluate(() => window.tannerin.setUnlabeledPolicy({ keep: false }));
    expect(await page.evaluate(() => window.tannerin.unlabeledPolicy())).toEqual({ keep: false, cap: 2 });
    expect(await add(test('transport-ground', 3), 'predict')).toBeNull();
    expect(await ids()).toEqual([p2, p3]);
    const p4 = await add(test('transport-ground', 4), 'person');
    expect(await ids()).toEqual([p3, p4]);
    const refused = await page.evaluate(() => window.tannerin.setUnlabeledPolicy({ cap: 0 }).then(() => 'accepted', (e: Error) => e.name));
    expect(refused).toBe('RangeError');
    await page.evaluate(() => window.tannerin.setUnlabeledPolicy({ keep: true, cap: 200 }));
  });
  it('a corrected photo leaves the pool, and Predict does not keep it again', async () => {
    await emptyPool();
    const img = test('transport-ground', 2);
    expect(await page.evaluate((i) => window.tannerin.addToPool([i], 'predict'), img)).toEqual([expect.any(String)]);
    const { correction } = await page.evaluate((i) => window.tannerin.correctImage(i, { className: 'heart' }), img);
    // Gone at once (correct() resolves after it), before the retraining ends.
    expect(await page.evaluate(async () => (await window.tannerin.listUnlabeled()).length)).toBe(0);
    expect(await page.evaluate((i) => window.tannerin.addToPool([i], 'predict'), img)).toEqual([null]);
    const retrained = await page.evaluate((id) => window.tannerin.retrained(id), correction.exampleId);
    expect(retrained.ok).toBe(true);
    await page.evaluate((id) => window.tannerin.deleteExample(id), correction.exampleId);
  });
});

describe('database version 8', () => {
  it('upgrades a version 7 database with every record of every store kept, the corrections store empty', async () => {
    const tab = await harnessTab(browser, baseUrl, false);
    const result = await tab.evaluate(async () => {
      const name = 'tannerin-v7-upgrade';
      const t = window.tannerin;
      const photo = { bytes: new Uint8Array([0xff, 0xd8, 0xff]), type: 'image/jpeg' };
      const records: Record<string, unknown[]> = {
        modelFiles: [{ sha256: 'ab', path: 'models/x/weights.bin', backbone: 'b@1', bytes: new Uint8Array([1, 2, 3]), stored: 'x' }],
        manifests: [{ apiBase: 'https://api.example', manifest: { backbone: { id: 'b' } }, fetched: 'x' }],
        classes: [{ id: 'c1', name: 'cats', order: 0, created: 'x', updated: 'x' }],
        examples: [{ id: 'e1', classId: 'c1', photo, width: 64, height: 64, backbone: 'b@1', views: [{ augmented: false, ops: [] }], augmentSeed: 9, created: 'x', updated: 'x' }],
        heads: [{ id: 'h1', name: 'mine', created: 'x', classes: ['cats', 'dogs'] }],
        settings: [{ key: 'activeHead', headId: 'h1' }],
        headStates: [{ id: 'h1', predictWith: 'head', classIds: ['c1'], trainedOn: ['e1'], training: null, updated: 'x' }],
        syncAccount: [{ key: 'account', apiBase: 'https://api.example', accountId: 'a', tokenId: 't', token: 's', since: 'x' }],
        syncStates: [{ id: 'h1', etag: null, pending: true, status: 'pending', message: null, conflictWith: null, remoteEtag: null, updated: 'x' }],
        unlabeled: [{ id: 'u1', photo, width: 64, height: 64, createdAt: 5 }],
        pendingMigrations: [],
        embeddingPacks: [{ backbone: 'b@1', pack: 0, dims: 2, examples: ['e1'], views: [1], data: new Float32Array([1, 2]) }],
      };
      await t.createLegacyDb(name, 7, (tx) => {
        for (const [store, list] of Object.entries(records)) for (const r of list) tx.objectStore(store).put(r);
      });
      const db = await t.openTannerinDb({ name });
      const plain = (v: unknown) => JSON.stringify(v, (_, x: unknown) => (ArrayBuffer.isView(x) ? Array.from(x as Float32Array) : x));
      const kept: Record<string, boolean> = {};
      // Version 9 marks each example's crop pending, nothing else.
      const expected = (store: string) => (store === 'examples' ? (records[store] ?? []).map((r) => ({ ...(r as object), cropPending: 1 })) : records[store]);
      for (const store of Object.keys(records)) kept[store] = plain(await db.getAll(store as 'classes')) === plain(expected(store));
      const out = {
        version: db.version,
        stores: [...db.objectStoreNames].sort(),
        kept,
        corrections: await db.count('corrections'),
        unlabeledIndexes: [...db.transaction('unlabeled').store.indexNames].sort(),
        // The earlier record has neither field: in neither new index (the cap counts it as a person's).
        inNewIndexes: (await db.countFromIndex('unlabeled', 'by-source')) + (await db.countFromIndex('unlabeled', 'by-photo')),
      };
      await t.closeTannerinDb();
      return out;
    });
    expect(result).toEqual({
      version: 9,
      stores: ['classes', 'corrections', 'embeddingPacks', 'examples', 'headStates', 'heads', 'manifests', 'modelFiles', 'pendingMigrations', 'settings', 'syncAccount', 'syncStates', 'unlabeled'],
      kept: { modelFiles: true, manifests: true, classes: true, examples: true, heads: true, settings: true, headStates: true, syncAccount: true, syncStates: true, unlabeled: true, pendingMigrations: true, embeddingPacks: true },
      corrections: 0,
      unlabeledIndexes: ['by-created', 'by-photo', 'by-source'],
      inNewIndexes: 0,
    });
    await tab.close();
  });
});
