/**
 * The IndexedDB schema and tabs: a version 1 database (as an older release left it) upgrades to
 * the current version with its examples kept and reshaped; a fresh profile gets every store of the
 * schema; when another tab opens a newer schema version, this tab's connection closes at once (the
 * other tab is not blocked) and the app is told; the BroadcastChannel carries messages between tabs.
 *
 * Photos as bytes (version 5; WebKit refuses Blobs in IndexedDB in private windows): a version 4
 * database whose example and unlabeled photos are Blobs opens at version 5 with every photo
 * readable and byte-identical, converted to bytes by the pass after opening (also when it was
 * interrupted, and with two tabs converting at once), and training, predicting, re-embedding and
 * "improve further" work off it; after teaching, no record of any store holds a Blob.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { launchChromium, openHarness, type Browser } from './chrome.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';

const baseUrl = inject('baseUrl');

/** Every store of the current schema, sorted. */
const STORES = ['classes', 'corrections', 'embeddingPacks', 'examples', 'headStates', 'heads', 'manifests', 'modelFiles', 'pendingMigrations', 'settings', 'syncAccount', 'syncStates', 'unlabeled'];

let browser: Browser | undefined;
afterAll(async () => {
  await browser?.dispose();
});

describe('database and tabs', () => {
  it('upgrades a version 1 database, keeping its examples in the new shape', async () => {
    const upgrader = await launchChromium();
    try {
      const page = await openHarness(upgrader, baseUrl);
      await page.evaluate(() => window.tannerin.createVersion1());
      const raw = await page.evaluate(() => window.tannerin.rawExamples());
      expect(raw.version).toBe(9);
      expect(raw.stores).toEqual(STORES);
      expect(raw.examples).toEqual([
        expect.objectContaining({
          id: 'e1',
          classId: 'c1',
          backbone: 'mobilenet_v2@old',
          embeddings: 3,
          views: [
            { augmented: false, ops: [] },
            { augmented: true, ops: ['flip'] },
            { augmented: true, ops: ['crop', 'jitter'] },
          ],
          augmentSeed: 0,
        }),
      ]);
      // Its photo (a Blob, as every release before version 5 stored photos) becomes bytes.
      const converted = await page.evaluate(async () => {
        const t = window.tannerin;
        return { report: await t.photoConversion(await t.openTannerinDb()), photos: await t.storedPhotos() };
      });
      expect(converted.report).toEqual({ examples: 1, unlabeled: 0 });
      expect(converted.photos).toEqual({ examples: [{ id: 'e1', storedAs: 'bytes', type: 'image/jpeg', base64: '/9g=' }], unlabeled: [], pending: [] });
      expect(upgrader.errors).toEqual([]);
    } finally {
      await upgrader.dispose();
    }
  });

  it('creates the schema, yields to a newer version in another tab, and broadcasts', async () => {
    browser = await launchChromium();
    const a = await openHarness(browser, baseUrl);
    const b = await browser.context.newPage();
    await b.goto(`${baseUrl}/test-pages/harness.html`);
    await b.waitForFunction(() => typeof window.tannerin === 'object');

    expect(await a.evaluate(() => window.tannerin.openDbWatched())).toBe(9);
    await b.evaluate(() => window.tannerin.listen());
    await a.evaluate(() => window.tannerin.broadcast({ type: 'head-saved', id: 'h1' }));
    await b.waitForFunction(() => window.tannerin.messages().length > 0);
    expect(await b.evaluate(() => window.tannerin.messages())).toEqual([{ type: 'head-saved', id: 'h1' }]);
    // A tab does not hear its own messages.
    expect(await a.evaluate(() => window.tannerin.messages())).toEqual([]);

    // Tab b opens version 10 (as a newer app would): tab a closes its connection and is told.
    const newer = await b.evaluate(() => window.tannerin.openNewerVersion(10));
    expect(newer.version).toBe(10);
    expect(newer.stores.sort()).toEqual(STORES);
    expect(await a.evaluate(() => window.tannerin.events())).toEqual(['version-change']);
    expect(await b.evaluate(() => window.tannerin.events())).toEqual([]);
    expect(browser.errors).toEqual([]);
  });
});

/** Two classes of 4 emoji each (examples), and one more emoji of each (unlabeled photos). */
const PHOTO_CLASSES = ['heart', 'animal-mammal'];
const photoSplit = emojiSplit(PHOTO_CLASSES, 4, 1, 5);
const photoClasses = PHOTO_CLASSES.map((name) => ({ name, images: (photoSplit.train[name] as EmojiImage[]).map((e) => e.image) }));
const unlabeledImages = PHOTO_CLASSES.flatMap((name) => (photoSplit.test[name] as EmojiImage[]).map((e) => e.image));

describe('photos as bytes (database version 5)', () => {
  it('opens a version 4 database with Blob photos: every photo readable and byte-identical, converted to bytes after opening; training and predicting work off it', async () => {
    const b = await launchChromium();
    try {
      const page = await openHarness(b, baseUrl);
      await page.evaluate(() => window.tannerin.startBackend());
      await page.evaluate(() => window.tannerin.load());
      // Version 4 records with real embeddings and JPEG photos: the library computes the
      // embeddings, then the database is replaced by a version 4 one holding them, its photos as
      // Blobs (as every release before version 5 stored them).
      const legacy = await page.evaluate(
        async ({ classes, unlabeled }) => {
          const t = window.tannerin;
          const backbone = t.currentBackbone().ref;
          const bytesOf = (base64: string) => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
          const examples: { id: string; classId: string; photo: { base64: string; type: string }; embedding: number[] }[] = [];
          for (const [c, cls] of classes.entries()) {
            for (const [i, img] of cls.images.entries()) {
              examples.push({ id: `e-${c}-${i}`, classId: `c${c}`, photo: await t.reencode(img, 'image/jpeg'), embedding: await t.embedImage(img) });
            }
          }
          const photos = await Promise.all(unlabeled.map(async (img, i) => ({ id: `u-${i}`, photo: await t.reencode(img, 'image/jpeg') })));
          await t.closeTannerinDb();
          await new Promise<void>((resolve, reject) => {
            const req = indexedDB.deleteDatabase(t.DB_NAME);
            req.onsuccess = () => resolve();
            req.onerror = () => reject(req.error ?? new Error('delete failed'));
          });
          const created = '2026-01-01T00:00:00.000Z';
          await t.createLegacyDb(t.DB_NAME, 4, (tx) => {
            classes.forEach((cls, c) => tx.objectStore('classes').put({ id: `c${c}`, name: cls.name, order: c, created, updated: created }));
            for (const e of examples) {
              tx.objectStore('examples').put({
                id: e.id,
                classId: e.classId,
                photo: new Blob([bytesOf(e.photo.base64)], { type: e.photo.type }),
                width: 64,
                height: 64,
                backbone,
                embeddings: [Float32Array.from(e.embedding)],
                views: [{ augmented: false, ops: [] }],
                augmentSeed: 3,
                created,
                updated: created,
              });
            }
            photos.forEach((u, i) =>
              tx.objectStore('unlabeled').put({ id: u.id, photo: new Blob([bytesOf(u.photo.base64)], { type: u.photo.type }), width: 64, height: 64, createdAt: 1_700_000_000_000 + i }),
            );
          });
          return {
            examples: examples.map((e) => ({ id: e.id, type: e.photo.type, base64: e.photo.base64 })),
            unlabeled: photos.map((u) => ({ id: u.id, type: u.photo.type, base64: u.photo.base64 })),
          };
        },
        { classes: photoClasses, unlabeled: unlabeledImages },
      );
      expect(legacy.examples).toHaveLength(8);
      expect(legacy.unlabeled).toHaveLength(2);
      const asBytes = (photos: { id: string; type: string; base64: string }[]) =>
        [...photos].sort((x, y) => (x.id < y.id ? -1 : 1)).map((p) => ({ id: p.id, storedAs: 'bytes', type: 'image/jpeg', base64: p.base64 }));
      for (const p of [...legacy.examples, ...legacy.unlabeled]) expect(p.type).toBe('image/jpeg');

      // A new page (fresh library state) opens it: upgrade to version 5, then the conversion.
      await page.reload();
      await page.waitForFunction(() => typeof window.tannerin === 'object');
      const opened = await page.evaluate(async () => {
        const t = window.tannerin;
        const db = await t.openTannerinDb();
        const conversion = await t.photoConversion(db);
        return { version: db.version, stores: [...db.objectStoreNames].sort(), conversion, stored: await t.storedPhotos(), listed: await t.listedPhotos(), walk: await t.blobsInStores() };
      });
      expect(opened.version).toBe(9);
      expect(opened.stores).toEqual(STORES);
      expect(opened.conversion).toEqual({ examples: 8, unlabeled: 2 });
      expect(opened.stored).toEqual({ examples: asBytes(legacy.examples), unlabeled: asBytes(legacy.unlabeled), pending: [] });
      expect(opened.listed).toEqual({ examples: asBytes(legacy.examples), byGet: asBytes(legacy.examples), unlabeled: asBytes(legacy.unlabeled) });
      expect(opened.walk.blobs).toEqual([]);
      expect(opened.walk.records).toMatchObject({ classes: 2, examples: 8, unlabeled: 2, pendingMigrations: 0 });

      // Training, predicting, re-embedding (from the photos) and improving work off it.
      await page.evaluate(() => window.tannerin.startBackend());
      await page.evaluate(() => window.tannerin.load());
      const trained = await page.evaluate(() => window.tannerin.trainNow({ name: 'converted' }));
      if (!trained.ok) throw new Error(`training failed: ${trained.error.message}`);
      expect(trained.report.examples).toMatchObject({ photos: 8, stale: 0, classes: PHOTO_CLASSES });
      const predicted = await page.evaluate((images) => window.tannerin.predictImages(images), photoClasses.flatMap((c) => c.images));
      for (const p of predicted) {
        expect(p.head.id).toBe(trained.report.headId);
        expect(p.predictions.map((x) => x.label).sort()).toEqual([...PHOTO_CLASSES].sort());
      }
      const right = predicted.filter((p, i) => p.predictions[0]?.label === PHOTO_CLASSES[Math.floor(i / 4)]).length;
      // The taught photos themselves: at most one may be missed.
      expect(right).toBeGreaterThanOrEqual(7);
      expect(await page.evaluate(() => window.tannerin.makeStale(2))).toHaveLength(2);
      const reembedded = await page.evaluate(() => window.tannerin.reembed());
      expect(reembedded.reembedded).toBe(2);
      const improved = await page.evaluate(async () => {
        const { photos, kept } = await window.tannerin.improve({ recipes: ['selftrain'] });
        return { photos, kept };
      });
      expect(improved.photos).toMatchObject({ labeled: 8, unlabeled: 2 });

      // An interrupted conversion (two records still holding Blobs, the migration still pending):
      // the readers accept both shapes, and the next open finishes the conversion.
      const resumed = await page.evaluate(async () => {
        const t = window.tannerin;
        const db = await t.openTannerinDb();
        const example = await db.get('examples', 'e-0-0');
        const unlabeled = await db.get('unlabeled', 'u-1');
        if (!example || !unlabeled) throw new Error('records missing');
        const blobOf = async (photo: typeof example.photo) => {
          const { bytes, type } = await t.readPhotoBytes(photo);
          return new Blob([bytes], { type });
        };
        await db.put('examples', { ...example, photo: await blobOf(example.photo) });
        await db.put('unlabeled', { ...unlabeled, photo: await blobOf(unlabeled.photo) });
        await db.put('pendingMigrations', { id: 'photo-bytes', since: new Date().toISOString() });
        const walkBefore = await t.blobsInStores();
        const listedBefore = await t.listedPhotos();
        // Re-embedding decodes the Blob photo.
        await t.makeStale(1);
        const reembedded = await t.reembed();
        await t.closeTannerinDb();
        const reopened = await t.openTannerinDb();
        return {
          walkBefore: walkBefore.blobs,
          listedBefore,
          reembedded: reembedded.reembedded,
          conversion: await t.photoConversion(reopened),
          stored: await t.storedPhotos(),
          walkAfter: (await t.blobsInStores()).blobs,
        };
      });
      expect(resumed.walkBefore).toEqual(['examples/e-0-0.photo', 'unlabeled/u-1.photo']);
      expect(resumed.listedBefore).toEqual({ examples: asBytes(legacy.examples), byGet: asBytes(legacy.examples), unlabeled: asBytes(legacy.unlabeled) });
      expect(resumed.reembedded).toBe(1);
      expect(resumed.conversion).toEqual({ examples: 1, unlabeled: 1 });
      expect(resumed.stored).toEqual({ examples: asBytes(legacy.examples), unlabeled: asBytes(legacy.unlabeled), pending: [] });
      expect(resumed.walkAfter).toEqual([]);
      expect(b.errors).toEqual([]);
    } finally {
      await b.dispose();
    }
  }, 600_000);

  it('converts once with two tabs opening the version 4 database at the same time', async () => {
    const b = await launchChromium();
    try {
      const first = await openHarness(b, baseUrl);
      const second = await b.context.newPage();
      await second.goto(`${baseUrl}/test-pages/harness.html`);
      await second.waitForFunction(() => typeof window.tannerin === 'object');
      const name = 'tannerin-two-tabs';
      const expected = await first.evaluate(async (name) => {
        const bytesOf = (i: number) => Uint8Array.from({ length: 16 + i }, (_, j) => (i * 31 + j) & 0xff);
        await window.tannerin.createLegacyDb(name, 4, (tx) => {
          tx.objectStore('classes').put({ id: 'c1', name: 'cats', order: 0, created: 'x', updated: 'x' });
          for (let i = 0; i < 40; i++) {
            tx.objectStore('examples').put({ id: `e${String(i).padStart(2, '0')}`, classId: 'c1', photo: new Blob([bytesOf(i)], { type: 'image/jpeg' }), width: 1, height: 1, backbone: 'b@1', embeddings: [new Float32Array([i])], views: [{ augmented: false, ops: [] }], augmentSeed: 0, created: 'x', updated: 'x' });
          }
          for (let i = 0; i < 10; i++) tx.objectStore('unlabeled').put({ id: `u${i}`, photo: new Blob([bytesOf(100 + i)], { type: 'image/png' }), width: 1, height: 1, createdAt: i });
        });
        const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
        return {
          examples: Array.from({ length: 40 }, (_, i) => ({ id: `e${String(i).padStart(2, '0')}`, storedAs: 'bytes', type: 'image/jpeg', base64: base64(bytesOf(i)) })),
          unlabeled: Array.from({ length: 10 }, (_, i) => ({ id: `u${i}`, storedAs: 'bytes', type: 'image/png', base64: base64(bytesOf(100 + i)) })),
        };
      }, name);
      const open = (name: string) =>
        window.tannerin.openTannerinDb({ name }).then((db) => window.tannerin.photoConversion(db));
      const [a, c] = await Promise.all([first.evaluate(open, name), second.evaluate(open, name)]);
      // Each record converted by exactly one of the tabs.
      expect(a.examples + c.examples).toBe(40);
      expect(a.unlabeled + c.unlabeled).toBe(10);
      const stored = await first.evaluate((name) => window.tannerin.storedPhotos(name), name);
      expect(stored).toEqual({ ...expected, pending: [] });
      expect(b.errors).toEqual([]);
    } finally {
      await b.dispose();
    }
  });

  it('stores no Blob or File anywhere after teaching, adding unlabeled photos, training and importing a head', async () => {
    const b = await launchChromium();
    try {
      const page = await openHarness(b, baseUrl);
      await page.evaluate(() => window.tannerin.startBackend());
      await page.evaluate(() => window.tannerin.load());
      await page.evaluate((c) => window.tannerin.teach(c), photoClasses);
      await page.evaluate(async (img) => {
        const bytes = Uint8Array.from(atob(img.base64), (c) => c.charCodeAt(0));
        await window.tannerin.addUnlabeled(new File([bytes], 'unsorted.png', { type: img.type }));
      }, unlabeledImages[0] as EmojiImage['image']);
      const trained = await page.evaluate(() => window.tannerin.trainNow({ name: 'walked' }));
      if (!trained.ok) throw new Error(`training failed: ${trained.error.message}`);
      // Imported from File objects, as a person's download would come back.
      await page.evaluate((id) => window.tannerin.exportImport(id), trained.report.headId);
      const walk = await page.evaluate(() => window.tannerin.blobsInStores());
      expect(walk.blobs).toEqual([]);
      // The walk saw every kind of record the library writes.
      expect(walk.records).toMatchObject({ classes: 2, examples: 8, unlabeled: 1, heads: 2, headStates: 2, settings: 1, manifests: 1 });
      expect(walk.records.modelFiles).toBeGreaterThan(0);
      const photos = await page.evaluate(() => window.tannerin.storedPhotos());
      for (const p of [...photos.examples, ...photos.unlabeled]) expect(p).toMatchObject({ storedAs: 'bytes', type: 'image/jpeg' });
      expect(b.errors).toEqual([]);
    } finally {
      await b.dispose();
    }
  }, 600_000);
});
