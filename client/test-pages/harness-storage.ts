/**
 * The test page's helpers for the database and the cross-tab channel (harness.ts spreads them into
 * `window.tannerin`): opening it as another tab or a newer or older release would, and reading its
 * stores raw.
 */
import * as lib from '../lib/internal.ts';
import { blobPaths, exampleSummary, photoData, type PhotoData } from './harness-data.ts';

/** What the database and channel callbacks reported (for the multi-tab test). */
const events: string[] = [];
const messages: lib.TannerinMessage[] = [];

/** The database and channel helpers of `window.tannerin`. */
export const storageHelpers = {
  /** Opens the database with callbacks that record `version-change`, `blocked`, `terminated`. */
  async openDbWatched(): Promise<number> {
    const db = await lib.openTannerinDb({
      onVersionChange: () => events.push('version-change'),
      onBlocked: () => events.push('blocked'),
      onTerminated: () => events.push('terminated'),
    });
    return db.version;
  },
  /** Opens the database at a higher version with plain IndexedDB, as a newer app would. */
  openNewerVersion(version: number): Promise<{ version: number; stores: string[] }> {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(lib.DB_NAME, version);
      req.onblocked = () => events.push('newer-open-blocked');
      req.onsuccess = () => {
        const db = req.result;
        const result = { version: db.version, stores: [...db.objectStoreNames] };
        db.close();
        resolve(result);
      };
      req.onerror = () => reject(req.error ?? new Error('open failed'));
    });
  },
  /**
   * Creates database `name` at an older `version` with plain IndexedDB and the stores that
   * release had (as it left them); `fill` writes records in the same upgrade transaction.
   */
  createLegacyDb(name: string, version: 1 | 3 | 4 | 5 | 6 | 7 | 8, fill: (tx: IDBTransaction) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(name, version);
      req.onupgradeneeded = () => {
        const db = req.result;
        db.createObjectStore('modelFiles', { keyPath: 'sha256' }).createIndex('by-backbone', 'backbone');
        db.createObjectStore('manifests', { keyPath: 'apiBase' });
        db.createObjectStore('classes', { keyPath: 'id' }).createIndex('by-order', 'order');
        const examples = db.createObjectStore('examples', { keyPath: 'id' });
        examples.createIndex('by-class', 'classId');
        examples.createIndex('by-backbone', 'backbone');
        db.createObjectStore('heads', { keyPath: 'id' }).createIndex('by-created', 'created');
        db.createObjectStore('settings', { keyPath: 'key' });
        if (version >= 3) {
          db.createObjectStore('headStates', { keyPath: 'id' });
          db.createObjectStore('syncAccount', { keyPath: 'key' });
          db.createObjectStore('syncStates', { keyPath: 'id' });
        }
        const unlabeled = version >= 4 ? db.createObjectStore('unlabeled', { keyPath: 'id' }) : undefined;
        unlabeled?.createIndex('by-created', 'createdAt');
        if (version >= 5) db.createObjectStore('pendingMigrations', { keyPath: 'id' });
        if (version >= 6) examples.createIndex('by-pending', 'pendingViews');
        if (version >= 7) db.createObjectStore('embeddingPacks', { keyPath: ['backbone', 'pack'] }).createIndex('by-example', 'examples', { multiEntry: true });
        if (version >= 8) {
          db.createObjectStore('corrections', { keyPath: 'photoKey' }).createIndex('by-example', 'exampleId');
          unlabeled?.createIndex('by-source', ['from', 'createdAt']);
          unlabeled?.createIndex('by-photo', 'photoKey');
        }
        fill(req.transaction as IDBTransaction);
      };
      req.onsuccess = () => {
        req.result.close();
        resolve();
      };
      req.onerror = () => reject(req.error ?? new Error('open failed'));
    });
  },
  /** The tannerin database at version 1 with one example in the version 1 shape, as an older release left it. */
  createVersion1(): Promise<void> {
    return this.createLegacyDb(lib.DB_NAME, 1, (tx) => {
      tx.objectStore('examples').put({
        id: 'e1',
        classId: 'c1',
        photo: new Blob([new Uint8Array([0xff, 0xd8])], { type: 'image/jpeg' }),
        backbone: 'mobilenet_v2@old',
        embeddings: [new Float32Array([1, 2]), new Float32Array([3, 4]), new Float32Array([5, 6])],
        views: ['original', 'flip', 'crop+brightness'],
        created: '2024-01-01T00:00:00.000Z',
      });
    });
  },
  /** The raw stored examples, without the embeddings' and photo's bytes. */
  async rawExamples() {
    const db = await lib.openTannerinDb();
    const tx = db.transaction(['examples', 'embeddingPacks']);
    const records = await tx.objectStore('examples').getAll();
    // Each with its embeddings on the backbone it is tagged with.
    const embeddings = await Promise.all(records.map((r) => lib.readExampleEmbeddings(tx.objectStore('embeddingPacks'), r.backbone, r.id)));
    return { version: db.version, stores: [...db.objectStoreNames].sort(), examples: records.map((r, i) => exampleSummary(r, embeddings[i] ?? [])) };
  },
  /**
   * Every photo as the stores hold it (no conversion on read), by store in key order, and the
   * pending migrations' ids; of database `name` (default: the library's).
   */
  async storedPhotos(name?: string): Promise<{ examples: PhotoData[]; unlabeled: PhotoData[]; pending: string[] }> {
    const db = await lib.openTannerinDb(name === undefined ? {} : { name });
    const [examples, unlabeled, pending] = await Promise.all([db.getAll('examples'), db.getAll('unlabeled'), db.getAllKeys('pendingMigrations')]);
    return {
      examples: await Promise.all(examples.map((r) => photoData(r.id, r.photo))),
      unlabeled: await Promise.all(unlabeled.map((r) => photoData(r.id, r.photo))),
      pending,
    };
  },
  /** Every photo as the library's readers give it (`listExamples`, `getExample`, `listUnlabeled`), by id. */
  async listedPhotos(): Promise<{ examples: PhotoData[]; byGet: PhotoData[]; unlabeled: PhotoData[] }> {
    const examples = (await lib.listExamples()).sort((a, b) => (a.id < b.id ? -1 : 1));
    const byGet = await Promise.all(examples.map(async (r) => (await lib.getExample(r.id)) as lib.ExampleRecord));
    const unlabeled = (await lib.listUnlabeled()).sort((a, b) => (a.id < b.id ? -1 : 1));
    return {
      examples: await Promise.all(examples.map((r) => photoData(r.id, r.photo, r.photo instanceof Blob ? 'blob' : 'bytes'))),
      byGet: await Promise.all(byGet.map((r) => photoData(r.id, r.photo, r.photo instanceof Blob ? 'blob' : 'bytes'))),
      unlabeled: await Promise.all(unlabeled.map((r) => photoData(r.id, r.photo, r.photo instanceof Blob ? 'blob' : 'bytes'))),
    };
  },
  /**
   * Walks every record of every store: how many records each store holds, and the path
   * (`<store>/<key>.<field>...`) of every Blob or File found anywhere in them.
   */
  async blobsInStores(): Promise<{ records: Record<string, number>; blobs: string[] }> {
    const db = await lib.openTannerinDb();
    const records: Record<string, number> = {};
    const blobs: string[] = [];
    for (const name of [...db.objectStoreNames].sort()) {
      const tx = db.transaction(name);
      let count = 0;
      for (let cursor = await tx.store.openCursor(); cursor; cursor = await cursor.continue()) {
        count++;
        blobPaths(cursor.value, `${name}/${String(cursor.primaryKey)}`, blobs);
      }
      records[name] = count;
    }
    return { records, blobs };
  },
  /** Starts recording broadcast messages from other tabs. */
  listen(): void {
    lib.onBroadcast((m) => messages.push(m));
  },
  events: () => [...events],
  messages: () => [...messages],
};
