/**
 * The upgrade steps of client/lib/db.ts that rewrite records (versions 2, 7 and 9), each run inside
 * the upgrade transaction by `openTannerinDb`; the version history is described there.
 */
import type { IDBPObjectStore, IDBPTransaction, StoreNames } from 'idb';
import type { AugmentOp } from '../../shared/image/augment.ts';
import type { ExampleRecord, StoredExampleRecord, TannerinSchema } from './db.ts';
import { appendToPacks, type EmbeddingEntry } from './embedding-packs.ts';

/** A version 1 example as it was stored. */
interface ExampleRecordV1 extends Omit<ExampleRecord, 'views' | 'augmentSeed' | 'width' | 'height' | 'updated'> {
  views: string[];
  embeddings: Float32Array[];
}

const AUGMENT_OPS: readonly string[] = ['flip', 'crop', 'jitter'] satisfies AugmentOp[];

/** Rewrites every version 1 example into the version 2 shape, inside the upgrade transaction. */
export async function migrateExamplesToV2(store: IDBPObjectStore<TannerinSchema, ArrayLike<StoreNames<TannerinSchema>>, 'examples', 'versionchange'>): Promise<void> {
  for (let cursor = await store.openCursor(); cursor; cursor = await cursor.continue()) {
    const old = cursor.value as unknown as ExampleRecordV1 | ExampleRecordV6;
    if (typeof old.views[0] !== 'string' && 'augmentSeed' in old) continue;
    const v1 = old as ExampleRecordV1;
    // Still with its embeddings: version 7's step moves them into packs.
    const record: ExampleRecordV6 = {
      ...v1,
      views: v1.embeddings.map((_, i) => ({
        augmented: i > 0,
        ops: [
          ...new Set(
            (v1.views[i] ?? '')
              .split(/[+,\s]+/)
              .map((op) => (op === 'brightness' || op === 'contrast' ? 'jitter' : op))
              .filter((op): op is AugmentOp => AUGMENT_OPS.includes(op)),
          ),
        ],
      })),
      augmentSeed: 0,
      width: 0,
      height: 0,
      updated: v1.created,
    };
    await cursor.update(record);
  }
}

/** An example as releases before version 7 stored it: its embeddings in the record. */
type ExampleRecordV6 = StoredExampleRecord & { embeddings?: Float32Array[] };

/** Examples moved per pack write in {@link moveEmbeddingsToPacks} (keeps memory bounded). */
const MIGRATION_BATCH = 64;

/**
 * Version 7: moves every example's embeddings into its backbone's packs, in key order, and
 * rewrites the record without them, inside the upgrade transaction.
 */
export async function moveEmbeddingsToPacks(transaction: IDBPTransaction<TannerinSchema, ArrayLike<StoreNames<TannerinSchema>>, 'versionchange'>): Promise<void> {
  const packs = transaction.objectStore('embeddingPacks');
  const waiting = new Map<string, EmbeddingEntry[]>();
  const flush = async (backbone: string): Promise<void> => {
    const entries = waiting.get(backbone);
    waiting.delete(backbone);
    if (entries?.length) await appendToPacks(packs, backbone, entries);
  };
  const store = transaction.objectStore('examples');
  for (let cursor = await store.openCursor(); cursor; cursor = await cursor.continue()) {
    const old = cursor.value as ExampleRecordV6;
    if (!('embeddings' in old)) continue;
    const { embeddings, ...record } = old;
    if (embeddings?.length) {
      const list = waiting.get(record.backbone) ?? [];
      list.push({ id: record.id, embeddings });
      waiting.set(record.backbone, list);
      if (list.length >= MIGRATION_BATCH) await flush(record.backbone);
    }
    await cursor.update(record);
  }
  for (const backbone of [...waiting.keys()]) await flush(backbone);
}

/**
 * Version 9: marks every example's crop pending (`cropPending: 1`, nothing else changes), so the
 * background (client/lib/pending-crops.ts) or Train cuts it from the stored copy later.
 */
export async function markCropsPending(store: IDBPObjectStore<TannerinSchema, ArrayLike<StoreNames<TannerinSchema>>, 'examples', 'versionchange'>): Promise<void> {
  for (let cursor = await store.openCursor(); cursor; cursor = await cursor.continue()) {
    if (!cursor.value.crop && !cursor.value.cropPending) await cursor.update({ ...cursor.value, cropPending: 1 });
  }
}
