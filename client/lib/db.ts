/**
 * The browser's one IndexedDB database, `tannerin`: its whole schema in one typed `idb` schema,
 * opening with upgrade and multi-tab handling, and a `BroadcastChannel` for telling other tabs
 * what changed.
 *
 * Nothing stored here leaves the device unless the user exports or syncs a head.
 *
 * Tabs: when another tab opens a newer schema version, this tab's connection is `blocking` it.
 * The connection is then closed at once (so the other tab can upgrade) and the app is told through
 * `onVersionChange`; it should ask the user to reload. When this tab wants the newer version but
 * an older tab keeps its connection open, `onBlocked` fires; the open completes once that tab
 * closes its connection.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { ModelsResponse } from '../../shared/api.ts';
import type { HeadDocument } from '../../shared/head-document.ts';

export const DB_NAME = 'tannerin';
/** Bump with a new `upgrade` step whenever a store or index changes. */
export const DB_VERSION = 1;

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
 * One photo taught to a class: a 224-px copy of the photo plus its embeddings (the photo as is,
 * then augmented views), tagged with the backbone that computed them so a backbone upgrade can
 * re-embed from the photo.
 */
export interface ExampleRecord {
  /** UUID made on the device. */
  id: string;
  classId: string;
  /** A 224-px copy of the photo (JPEG), to re-embed after a backbone upgrade and to show. */
  photo: Blob;
  /** `<backbone id>@<version>` the embeddings come from. */
  backbone: string;
  /** `embeddings[0]` is the photo as is; the rest are augmented views of it. */
  embeddings: Float32Array[];
  /** What each augmented view was (`flip`, `crop`, `brightness`...), same order as `embeddings`. */
  views: string[];
  /** ISO 8601. */
  created: string;
}

/** Small app-wide settings, one record per key. */
export type SettingRecord = { key: 'activeHead'; headId: string | null };

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
    value: ExampleRecord;
    indexes: { 'by-class': string; 'by-backbone': string };
  };
  heads: {
    key: string;
    /** Head documents (shared/head-document.ts) keyed by their UUID `id`. */
    value: HeadDocument;
    indexes: { 'by-created': string };
  };
  settings: {
    key: SettingRecord['key'];
    value: SettingRecord;
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
  const db = openDB<TannerinSchema>(name, DB_VERSION, {
    upgrade(database, oldVersion) {
      // One step per version, applied in order, so any old version upgrades.
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
  db.catch(forget);
  current = { name, db };
  return db;
}

/** Closes the shared connection (tests, or before deleting the database). */
export async function closeTannerinDb(): Promise<void> {
  const db = current?.db;
  current = null;
  if (db) (await db).close();
}

// ---------------------------------------------------------------------------------------------
// Cross-tab notifications

export const CHANNEL_NAME = 'tannerin';

/** What one tab tells the others. */
export type TannerinMessage =
  | { type: 'models-updated'; backbone: string }
  | { type: 'classes-changed' }
  | { type: 'examples-changed'; classId: string | null }
  | { type: 'head-saved'; id: string }
  | { type: 'head-deleted'; id: string }
  | { type: 'active-head-changed'; id: string | null };

let channel: BroadcastChannel | null = null;

function getChannel(): BroadcastChannel | null {
  if (typeof BroadcastChannel === 'undefined') return null;
  channel ??= new BroadcastChannel(CHANNEL_NAME);
  return channel;
}

/** Tells the other tabs of this origin (not this one) that something changed. */
export function broadcast(message: TannerinMessage): void {
  getChannel()?.postMessage(message);
}

/** Calls `handler` for each message from other tabs; returns the unsubscribe function. */
export function onBroadcast(handler: (message: TannerinMessage) => void): () => void {
  const ch = getChannel();
  if (!ch) return () => undefined;
  const listener = (event: MessageEvent<unknown>): void => {
    if (isMessage(event.data)) handler(event.data);
  };
  ch.addEventListener('message', listener);
  return () => ch.removeEventListener('message', listener);
}

function isMessage(data: unknown): data is TannerinMessage {
  return typeof data === 'object' && data !== null && typeof (data as { type?: unknown }).type === 'string';
}
