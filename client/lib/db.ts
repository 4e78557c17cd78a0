/**
 * The browser's one IndexedDB database, `tannerin`: its whole schema in one typed `idb` schema,
 * opening with upgrade and multi-tab handling. Telling other tabs what changed is
 * client/lib/changes.ts.
 *
 * Nothing stored here leaves the device unless the user exports or syncs a head.
 *
 * Nothing stored here is a Blob or File: WebKit refuses them in IndexedDB in ephemeral sessions
 * (private Safari windows; WebKit bug 156347, "Error preparing Blob/File data to be stored in
 * object store"). Photos are kept as bytes plus their media type ({@link PhotoBytes}); records
 * written before version 5 may still hold a Blob until {@link photoConversion} has rewritten them,
 * so every reader of a photo goes through {@link readPhotoBytes}.
 *
 * Tabs: when another tab opens a newer schema version, this tab's connection is `blocking` it.
 * The connection is then closed at once (so the other tab can upgrade) and the app is told through
 * `onVersionChange`; it should ask the user to reload. When this tab wants the newer version but
 * an older tab keeps its connection open, `onBlocked` fires; the open completes once that tab
 * closes its connection.
 */
import { openDB, type DBSchema, type IDBPDatabase, type IDBPObjectStore } from 'idb';
import type { ModelsResponse } from '../../shared/api/types.ts';
import type { AugmentOp } from '../../shared/image/augment.ts';
import type { CropJudgement } from '../../shared/learn/crop-choice.ts';
import type { GuardResult, RecipeComparison } from '../../shared/learn/guard.ts';
import type { HeadDocument, HeadMetrics } from '../../shared/head/document.ts';
import { markCropsPending, migrateExamplesToV2, moveEmbeddingsToPacks } from './db-upgrade.ts';
import type { ExampleCrop } from './example-crops.ts';
import type { StoredBackboneChoice } from './backbone-choice-store.ts';
import type { CorrectionRecord } from './corrections.ts';
import type { UnlabeledPolicy } from './unlabeled.ts';
import type { DetectorChoice } from './detector.ts';
import type { ExampleDetectorCrop } from './detector-crops.ts';

export const DB_NAME = 'tannerin';
/**
 * Bump with a new `upgrade` step whenever a store, an index or a record's shape changes.
 * 1: model files, manifests, classes, examples, heads, settings.
 * 2: examples describe each view (`{ augmented, ops }`) and keep their augmentation seed and the
 *    copy's size; `headStates` (how the device predicts with each head, what it trained on).
 * 3: `syncAccount` (the opt-in sync account and its token) and `syncStates` (each head's last
 *    synced ETag, pending push, status).
 * 4: `unlabeled` (photos without a class, for self-training in "improve further"; nothing else
 *    changes, so every earlier record is kept as it is).
 * 5: photos are bytes plus a media type ({@link PhotoBytes}), no longer Blobs; `pendingMigrations`.
 *    A Blob cannot be read inside the upgrade transaction (it commits while the read is awaited),
 *    so the upgrade only records the pending `photo-bytes` migration; after opening,
 *    {@link photoConversion} rewrites each old record in its own ordinary transaction. Until then
 *    readers accept both shapes ({@link readPhotoBytes}).
 * 6: examples may have `pendingViews` (augmented views still to be embedded in the background,
 *    client/lib/pending-views.ts), indexed sparsely by `by-pending`: only records that lack views
 *    are in it. Earlier records have all their views and no such field, so the upgrade only creates
 *    the index; every record is kept as it is.
 * 7: embeddings leave the example records and live packed, per backbone, in `embeddingPacks`
 *    ({@link EmbeddingPackRecord}, client/lib/embedding-packs.ts): training reads a few large
 *    records instead of one per photo (1,000 records of ~45 KB each took ~3 s to read in Chromium),
 *    and an example can have embeddings on several backbones at once. The upgrade moves every
 *    example's embeddings into its backbone's packs and rewrites the record without them, inside
 *    the upgrade transaction (no Blob is read); a failure aborts the upgrade and the database
 *    stays at version 6. From here on photo copies are stored with the shorter side 299 px.
 * 8: `corrections` ({@link CorrectionRecord}, client/lib/corrections.ts): a corrected photo's key
 *    and the example it became; unlabeled photos gain optional fields (source, photo key, skipped,
 *    a cached embedding) and the indexes `by-source` and `by-photo`; the `unlabeledPolicy` setting.
 *    The upgrade creates the store and the indexes; every record is kept as it is.
 * 9: examples may have `crop` (box + the crop's JPEG at the input size, {@link ExampleCrop}; its embedding packed under `<backbone>#crop`)
 *    and `cropPending` (client/lib/pending-crops.ts; sparse index `by-crop-pending`). The upgrade creates the index and marks every
 *    example's crop pending, each record otherwise kept as it is: they get theirs lazily, cut from the stored copy.
 */
export const DB_VERSION = 9;

/** A model file (backbone or default head), kept once, by content hash. */
export interface ModelFileRecord {
  /** SHA-256 of `bytes`, hex: the key. */
  sha256: string;
  /** Site-relative path it was served from (`models/<id>-<version>/weights.bin`). */
  path: string;
  /**
   * `<backbone id>@<version>` the file was stored for (for a head: the backbone it was trained on).
   * A file shared by two versions is kept once and keeps the first tag; which files stay is decided
   * by the current manifest, not by this tag.
   */
  backbone: string;
  bytes: Uint8Array;
  /** ISO 8601, when it was stored. */
  stored: string;
}

/** The last manifest a `GET /v1/models` returned, for loading offline. */
export interface ManifestRecord {
  /** The API base URL it came from: the key. */
  apiBase: string;
  manifest: ModelsResponse;
  /** ISO 8601. */
  fetched: string;
}

/** A class the user teaches. */
export interface ClassRecord {
  /** UUID made on the device. */
  id: string;
  name: string;
  /** Display order. */
  order: number;
  /** ISO 8601. */
  created: string;
  updated: string;
}

/**
 * A stored photo copy: its encoded bytes (JPEG as the library makes them) and their media type.
 * Bytes, never a Blob (module comment); build a Blob only where a URL is needed, and revoke it.
 */
export interface PhotoBytes {
  bytes: Uint8Array<ArrayBuffer>;
  /** Media type of `bytes`, e.g. `image/jpeg` (empty when unknown). */
  type: string;
}

/**
 * A photo as a stored record may hold it: {@link PhotoBytes}, or a Blob in a record an earlier
 * release (before database version 5) wrote and {@link photoConversion} has not rewritten yet.
 */
export type StoredPhoto = PhotoBytes | Blob;

/** What one embedding of an example was computed from. */
export interface ExampleView {
  /** False for the photo as is; true for a view derived from it. */
  augmented: boolean;
  /** How the view was made (shared/image/augment.ts), `[]` for the photo itself. */
  ops: AugmentOp[];
}

/**
 * One photo taught to a class: a copy of the photo and the description of its views (the photo as
 * is, then augmented views of it). Its embeddings, per backbone, are in `embeddingPacks`
 * ({@link EmbeddingPackRecord}; before version 7 they were in the record), so a backbone switch or
 * upgrade re-embeds from the copy and keeps the other backbone's.
 */
export interface ExampleRecord {
  /** UUID made on the device; also the example's photo id in training (views stay together). */
  id: string;
  classId: string;
  /**
   * A JPEG copy of the photo, its shorter side 299 px (never enlarged; 224 px before version 7):
   * every row and column the largest backbone input (InceptionV3's 299x299) takes, so a re-embed
   * after a backbone switch or upgrade needs no full-size photo (which is never kept); a 224-px
   * copy is upscaled then. Never changes for an example's id.
   */
  photo: PhotoBytes;
  /** Size of the copy. */
  width: number;
  height: number;
  /**
   * `<backbone id>@<version>` the photo was added (or last fully re-embedded) on: `views` and
   * `pendingViews` describe its embeddings there. Other backbones' embeddings, if any, have every
   * view (a re-embed makes them all at once).
   */
  backbone: string;
  /** One entry per embedding stored on `backbone`, in the packs' order: view 0 is the photo as is. */
  views: ExampleView[];
  /** Seeds the augmented views (shared/image/augment.ts), so a re-embed recreates the same views. */
  augmentSeed: number;
  /**
   * Augmented views still to be embedded (after `views`, from `augmentSeed`): set while the
   * background (client/lib/pending-views.ts) has not stored them yet, absent once it has. The
   * example counts for training meanwhile, with the views it has.
   */
  pendingViews?: number;
  /** Since version 9: the photo's crop (client/lib/example-crops.ts) once stored; `cropPending` (indexed) while it is to come. */
  crop?: ExampleCrop;
  cropPending?: 1;
  /**
   * The photo's detector crop (client/lib/detector-crops.ts), made at Train while "find the object
   * first" is on; its embedding packed under `<backbone>#detector`. Optional and not indexed: no
   * upgrade step (a record without it simply has none yet).
   */
  detectorCrop?: ExampleDetectorCrop;
  /** ISO 8601. */
  created: string;
  updated: string;
}

/**
 * A photo the user added without a class (client/lib/improve.ts): self-training gives it a
 * pseudo-label when the head is confident about it. Only a copy is kept, as for examples.
 */
export interface UnlabeledRecord {
  /** UUID made on the device. */
  id: string;
  /** JPEG copy, shorter side 299 px (never enlarged; 224 px before version 7), as the examples' copies. Never changes. */
  photo: PhotoBytes;
  width: number;
  height: number;
  /** Milliseconds since the epoch (`Date.now()`), when it was added; indexed for listing in order. */
  createdAt: number;
  /** Since version 8: `predict` when kept from a prediction (dropped first by the cap); absent (earlier records) counts as `person`. */
  from?: 'predict' | 'person';
  /** Since version 8: the photo's key (client/lib/photo-key.ts), when known, so labelling it also remembers the photo. */
  photoKey?: string;
  /** Since version 8: set when the person skipped it when asked (never asked again; still in the pool). */
  skipped?: true;
  /** Since version 8: its embedding on one backbone (`<id>@<version>`), cached by `photosToAsk`. */
  embedding?: { backbone: string; data: Float32Array<ArrayBuffer> };
}

/**
 * The embeddings of many examples on one backbone, packed into one Float32Array: training reads a
 * backbone's packs, not one record per photo. Packs are bounded (client/lib/embedding-packs.ts:
 * at most 16 examples and 1 MB), so adding a photo rewrites at most one small pack: the last.
 * Example `examples[i]` has `views[i]` rows of `dims` floats, after those of the examples before it.
 */
export interface EmbeddingPackRecord {
  /** `<backbone id>@<version>` that computed every row. */
  backbone: string;
  /** Pack number within the backbone, from 0; new examples go to the highest one. */
  pack: number;
  /** Floats per embedding. */
  dims: number;
  /** Example ids, in row order (indexed, multi-entry: which packs hold an example). */
  examples: string[];
  /** Rows (views) of each example, same order. */
  views: number[];
  /** Every row, one after another: `sum(views) * dims` floats. */
  data: Float32Array<ArrayBuffer>;
}

/** An example as releases before database version 5 stored it (photo as a Blob), until converted. */
export type ExampleRecordWithBlobPhoto = Omit<ExampleRecord, 'photo'> & { photo: Blob };

/** An unlabeled photo as releases before database version 5 stored it, until converted. */
export type UnlabeledRecordWithBlobPhoto = Omit<UnlabeledRecord, 'photo'> & { photo: Blob };

/** An example as read from the store: either shape (read its photo with {@link readPhotoBytes}). */
export type StoredExampleRecord = ExampleRecord | ExampleRecordWithBlobPhoto;

/** An unlabeled photo as read from the store: either shape. */
export type StoredUnlabeledRecord = UnlabeledRecord | UnlabeledRecordWithBlobPhoto;

/** The id of the migration that rewrites Blob photos as bytes (database version 5). */
export const PHOTO_BYTES_MIGRATION = 'photo-bytes';

/**
 * A data migration that an upgrade scheduled and that runs after opening, in ordinary
 * transactions; the record is deleted when the migration has finished, so an interrupted one
 * resumes at the next open.
 */
export interface PendingMigrationRecord {
  /** Which migration: the key. */
  id: typeof PHOTO_BYTES_MIGRATION;
  /** ISO 8601, when the upgrade scheduled it. */
  since: string;
}

/**
 * Small app-wide settings, one record per key: the active head, and the backbone choice
 * (client/lib/backbone-choice-store.ts). `headId?: never` on the others lets `activeHead` reads use
 * `?.headId` without narrowing.
 */
export type SettingRecord =
  | { key: 'activeHead'; headId: string | null }
  | ({ key: 'backboneChoice'; headId?: never } & StoredBackboneChoice)
  | ({ key: 'unlabeledPolicy'; headId?: never } & UnlabeledPolicy)
  | ({ key: 'detector'; headId?: never } & DetectorChoice);

/**
 * The last training's guard outcome and metrics for a head, as `train()` reported them (plain
 * data, so it survives reloads and can be shown later).
 */
export interface TrainingSummary {
  /** ISO 8601, when the training finished. */
  finished: string;
  metrics: HeadMetrics;
  guard: GuardResult;
  /** `holdout` or `cross-validation`. */
  splitMethod: 'holdout' | 'cross-validation';
  /** Set by "improve further" (client/lib/improve.ts): every recipe's held-out result and the verdict. */
  improvement?: RecipeComparison;
  /** Set when Train tried the photos' crops (shared/learn/crop-choice.ts): which it kept and why. */
  crop?: CropJudgement;
}

/**
 * How this device uses a stored head, next to its (unchanged, syncable) head document. Only the
 * head document is ever exported or synced: a kNN choice stays on the device (its "model" is the
 * stored embeddings).
 */
export interface HeadStateRecord {
  /** The head's UUID (same as its document's `id`). */
  id: string;
  /** `knn` when the negative-transfer guard found kNN on the stored examples significantly better. */
  predictWith: 'head' | 'knn';
  /** The class record ids behind `doc.classes`, same order; null for imported heads. */
  classIds: string[] | null;
  /**
   * Example (photo) ids the head was trained on, so a later guard knows which held-out photos
   * it has seen; null when unknown (imported heads).
   */
  trainedOn: string[] | null;
  /** Null for imported heads. */
  training: TrainingSummary | null;
  /**
   * When the stored head was trained again on every photo after the held-out photos judged it
   * (`trainHead` `refitAll`): the head they judged and the photos it trained on, so that the next
   * training's guard can compare it on photos it never saw. Absent otherwise.
   */
  judged?: { doc: HeadDocument; trainedOn: string[] };
  /** ISO 8601. */
  updated: string;
}

export type { HeadSyncStatus, SyncAccountRecord, SyncStateRecord } from './sync-records.ts';
import type { SyncAccountRecord, SyncStateRecord } from './sync-records.ts';

/** The whole schema. */
export interface TannerinSchema extends DBSchema {
  modelFiles: {
    key: string;
    value: ModelFileRecord;
    indexes: { 'by-backbone': string };
  };
  manifests: {
    key: string;
    value: ManifestRecord;
  };
  classes: {
    key: string;
    value: ClassRecord;
    indexes: { 'by-order': number };
  };
  examples: {
    key: string;
    /** New records are always {@link ExampleRecord}s; Blob photos only in records from before version 5. */
    value: StoredExampleRecord;
    /** `by-pending`: only the examples with `pendingViews` set (an index skips records without the key). */
    indexes: { 'by-class': string; 'by-backbone': string; 'by-pending': number; 'by-crop-pending': number };
  };
  heads: {
    key: string;
    /** Head documents (shared/head/document.ts) keyed by their UUID `id`. */
    value: HeadDocument;
    indexes: { 'by-created': string };
  };
  settings: {
    key: SettingRecord['key'];
    value: SettingRecord;
  };
  headStates: {
    key: string;
    value: HeadStateRecord;
  };
  syncAccount: {
    key: 'account';
    value: SyncAccountRecord;
  };
  syncStates: {
    key: string;
    value: SyncStateRecord;
  };
  unlabeled: {
    key: string;
    /** New records are always {@link UnlabeledRecord}s; Blob photos only in records from before version 5. */
    value: StoredUnlabeledRecord;
    /** Since version 8, only records with the field: `by-source` `[from, createdAt]` (the cap), `by-photo` `photoKey`. */
    indexes: { 'by-created': number; 'by-source': [string, number]; 'by-photo': string };
  };
  pendingMigrations: {
    key: PendingMigrationRecord['id'];
    value: PendingMigrationRecord;
  };
  embeddingPacks: {
    key: [string, number];
    value: EmbeddingPackRecord;
    /** `by-example`: multi-entry on `examples`, the packs (of every backbone) holding an example. */
    indexes: { 'by-example': string };
  };
  corrections: {
    /** The photo's key. */
    key: string;
    value: CorrectionRecord;
    indexes: { 'by-example': string };
  };
}

export type TannerinDb = IDBPDatabase<TannerinSchema>;

/** Callbacks for events the app should show. */
export interface OpenOptions {
  /** Another tab opened a newer schema; this tab's connection has been closed. Reload. */
  onVersionChange?: () => void;
  /** This tab waits for another tab (on an older schema) to close the database. */
  onBlocked?: () => void;
  /** The browser closed the connection abnormally (e.g. storage cleared); it reopens on next use. */
  onTerminated?: () => void;
  /** Database name; tests may use their own. */
  name?: string;
}

let current: { name: string; db: Promise<TannerinDb> } | null = null;

/**
 * Opens (creating or upgrading) the database; later calls share the connection until it is closed
 * by a version change or termination, after which the next call reopens it.
 */
export function openTannerinDb(options: OpenOptions = {}): Promise<TannerinDb> {
  const name = options.name ?? DB_NAME;
  if (current && current.name === name) return current.db;
  const forget = (): void => {
    if (current?.name === name) current = null;
  };
  const opening = openDB<TannerinSchema>(name, DB_VERSION, {
    upgrade(database, oldVersion, _newVersion, transaction) {
      // One step per version, applied in order, so any old version upgrades. Steps that rewrite
      // records run one after another (a later one reads what an earlier one wrote).
      const migrations: (() => Promise<void>)[] = [];
      if (oldVersion < 1) {
        const files = database.createObjectStore('modelFiles', { keyPath: 'sha256' });
        files.createIndex('by-backbone', 'backbone');
        database.createObjectStore('manifests', { keyPath: 'apiBase' });
        const classes = database.createObjectStore('classes', { keyPath: 'id' });
        classes.createIndex('by-order', 'order');
        const examples = database.createObjectStore('examples', { keyPath: 'id' });
        examples.createIndex('by-class', 'classId');
        examples.createIndex('by-backbone', 'backbone');
        const heads = database.createObjectStore('heads', { keyPath: 'id' });
        heads.createIndex('by-created', 'created');
        database.createObjectStore('settings', { keyPath: 'key' });
      }
      if (oldVersion < 2) {
        database.createObjectStore('headStates', { keyPath: 'id' });
        // Version 1 examples described views as strings and had no seed or size. They are kept
        // (their embeddings are valid); their views become `{ augmented, ops }` (view 0 is the
        // photo), seed 0 and size 0x0 (unknown until a re-embed decodes the copy).
        // A failed migration aborts the upgrade: the database stays at version 1, nothing is lost.
        migrations.push(() => migrateExamplesToV2(transaction.objectStore('examples')));
      }
      if (oldVersion < 3) {
        database.createObjectStore('syncAccount', { keyPath: 'key' });
        database.createObjectStore('syncStates', { keyPath: 'id' });
      }
      if (oldVersion < 4) {
        database.createObjectStore('unlabeled', { keyPath: 'id' }).createIndex('by-created', 'createdAt');
      }
      if (oldVersion < 5) {
        // Photos become bytes. Earlier records keep their Blobs here (a Blob cannot be read in
        // this transaction); `photoConversion` rewrites them after opening (see DB_VERSION).
        database.createObjectStore('pendingMigrations', { keyPath: 'id' });
        if (oldVersion > 0) {
          void transaction.objectStore('pendingMigrations').put({ id: PHOTO_BYTES_MIGRATION, since: new Date().toISOString() });
        }
      }
      if (oldVersion < 6) {
        // Examples whose augmented views are still to come; no earlier record has any pending.
        transaction.objectStore('examples').createIndex('by-pending', 'pendingViews');
      }
      if (oldVersion < 7) {
        database.createObjectStore('embeddingPacks', { keyPath: ['backbone', 'pack'] }).createIndex('by-example', 'examples', { multiEntry: true });
        if (oldVersion > 0) migrations.push(() => moveEmbeddingsToPacks(transaction));
      }
      if (oldVersion < 8) {
        database.createObjectStore('corrections', { keyPath: 'photoKey' }).createIndex('by-example', 'exampleId');
        transaction.objectStore('unlabeled').createIndex('by-source', ['from', 'createdAt']);
        transaction.objectStore('unlabeled').createIndex('by-photo', 'photoKey');
      }
      if (oldVersion < 9) {
        transaction.objectStore('examples').createIndex('by-crop-pending', 'cropPending');
        if (oldVersion > 0) migrations.push(() => markCropsPending(transaction.objectStore('examples')));
      }
      // Any failure aborts the whole upgrade: the database stays at its old version, nothing is lost.
      const run = migrations.reduce((chain, step) => chain.then(step), Promise.resolve());
      run.catch(() => transaction.abort());
    },
    blocked() {
      options.onBlocked?.();
    },
    blocking() {
      // Close at once so the other tab's upgrade can proceed; this tab must reload.
      forget();
      void db.then((d) => d.close());
      options.onVersionChange?.();
    },
    terminated() {
      forget();
      options.onTerminated?.();
    },
  });
  // The conversion of Blob photos starts as soon as the database is open, in the background.
  const db = opening.then((opened) => {
    const conversion = convertBlobPhotos(opened);
    conversion.catch(() => undefined);
    conversions.set(opened, conversion);
    return opened;
  });
  db.catch(forget);
  current = { name, db };
  return db;
}

// ---------------------------------------------------------------------------------------------
// Photos as bytes (version 5)

/** How many old records one run of the photo conversion rewrote. */
export interface PhotoConversionReport {
  examples: number;
  unlabeled: number;
}

const conversions = new WeakMap<TannerinDb, Promise<PhotoConversionReport>>();

/**
 * The run of the photo conversion that started when `db` was opened: resolves once every photo
 * an earlier release stored as a Blob is kept as bytes (zero counts when there was nothing to
 * do), or rejects if it was cut short (the connection closed, storage failed); it then resumes at
 * the next open, and nothing is lost meanwhile, since readers accept both shapes.
 */
export function photoConversion(db: TannerinDb): Promise<PhotoConversionReport> {
  return conversions.get(db) ?? Promise.resolve({ examples: 0, unlabeled: 0 });
}

/**
 * The photo as bytes: a Blob (a record written before version 5, not converted yet) is read;
 * bytes are returned as they are.
 */
export async function readPhotoBytes(photo: StoredPhoto): Promise<PhotoBytes> {
  if (!(photo instanceof Blob)) return photo;
  return { bytes: new Uint8Array(await photo.arrayBuffer()), type: photo.type };
}

/** Scans of the stores before giving up on finishing in this run (each scan follows a round of conversions). */
const MAX_CONVERSION_ROUNDS = 3;

/**
 * The `photo-bytes` migration: rewrites every example and unlabeled photo still holding a Blob
 * with the Blob's bytes and type, each record in its own ordinary transactions (the Blob is read
 * between them). Idempotent: a record already holding bytes (converted by another tab, or by an
 * interrupted earlier run) is left alone, and a photo never changes for a record's id, so writing
 * the bytes into the record as it is at that moment (moved or re-embedded meanwhile) loses
 * nothing. The pending record is deleted in the same transaction as a scan that finds no Blob
 * left; none can appear after it (new records hold bytes, and a rewrite such as `moveExample`
 * keeps the photo it read in the same transaction).
 */
async function convertBlobPhotos(db: TannerinDb): Promise<PhotoConversionReport> {
  const report: PhotoConversionReport = { examples: 0, unlabeled: 0 };
  if (!(await db.get('pendingMigrations', PHOTO_BYTES_MIGRATION))) return report;
  for (let round = 0; round < MAX_CONVERSION_ROUNDS; round++) {
    const tx = db.transaction(['examples', 'unlabeled', 'pendingMigrations'], 'readwrite');
    const exampleIds = await blobPhotoIds(tx.objectStore('examples'));
    const unlabeledIds = await blobPhotoIds(tx.objectStore('unlabeled'));
    const done = exampleIds.length === 0 && unlabeledIds.length === 0;
    if (done) await tx.objectStore('pendingMigrations').delete(PHOTO_BYTES_MIGRATION);
    await tx.done;
    if (done) return report;
    for (const id of exampleIds) if (await convertPhoto(db, 'examples', id)) report.examples++;
    for (const id of unlabeledIds) if (await convertPhoto(db, 'unlabeled', id)) report.unlabeled++;
  }
  return report;
}

/** A store whose records carry a photo. */
type PhotoStoreName = 'examples' | 'unlabeled';

/** Ids of the records in `store` whose photo is still a Blob. */
async function blobPhotoIds<Name extends PhotoStoreName>(
  store: IDBPObjectStore<TannerinSchema, (PhotoStoreName | 'pendingMigrations')[], Name, 'readwrite'>,
): Promise<string[]> {
  const ids: string[] = [];
  for (let cursor = await store.openCursor(); cursor; cursor = await cursor.continue()) {
    if (cursor.value.photo instanceof Blob) ids.push(cursor.primaryKey);
  }
  return ids;
}

/** Rewrites one record's Blob photo as bytes; false if it is gone or already holds bytes. */
async function convertPhoto(db: TannerinDb, storeName: PhotoStoreName, id: string): Promise<boolean> {
  const before = await db.get(storeName, id);
  if (!before || !(before.photo instanceof Blob)) return false;
  // Read outside any transaction: awaiting a Blob would let a transaction commit.
  const photo = await readPhotoBytes(before.photo);
  const tx = db.transaction(storeName, 'readwrite');
  const now = await tx.store.get(id);
  const convert = now !== undefined && now.photo instanceof Blob;
  if (convert) await tx.store.put({ ...now, photo });
  await tx.done;
  return convert;
}

/** Closes the shared connection (tests, or before deleting the database). */
export async function closeTannerinDb(): Promise<void> {
  const db = current?.db;
  current = null;
  if (db) (await db).close();
}
