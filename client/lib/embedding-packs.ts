/**
 * Examples' embeddings, packed per backbone in the `embeddingPacks` store (client/lib/db.ts,
 * {@link EmbeddingPackRecord}, database version 7).
 *
 * Why packs: IndexedDB's cost is per record. Training read 1,000 example records of ~45 KB each
 * (4 views x 2,816 floats) in ~3.3 s in Chromium; the same floats in a few large records read
 * faster. A pack holds at most {@link PACK_MAX_EXAMPLES} examples and {@link PACK_MAX_FLOATS}
 * floats, so writes stay bounded: a new example goes to the backbone's last pack (a new one when it
 * is full), and a change to one example (its pending views, a re-embed, a delete) rewrites only the
 * pack that holds it. Small packs keep adding a photo cheap (the last pack is read and rewritten:
 * at 64 examples that cost ~60 ms a photo in Chromium on a loaded machine); reading all of them
 * costs about the same for any pack size, by the bytes. Packs emptied by deletes are removed; packs thinned
 * by deletes are not merged (they still read as one record each).
 *
 * Every function here works inside the caller's transaction (it must include `embeddingPacks`), so
 * an example and its embeddings change together. Rows returned are views (`subarray`) into the
 * pack's array, not copies.
 */
import type { IDBPObjectStore, StoreNames } from 'idb';
import type { EmbeddingPackRecord, TannerinSchema } from './db.ts';

/** Most examples in one pack. */
export const PACK_MAX_EXAMPLES = 16;
/** Most floats in one pack (1 MB): 16 examples of 4 MobileNetV2 views (2,816 floats) take 0.72 MB. */
export const PACK_MAX_FLOATS = 1 << 18;

/** One example's embeddings on one backbone: its views in order, view 0 the photo as is. */
export interface EmbeddingEntry {
  id: string;
  embeddings: Float32Array[];
}

type Mode = 'readonly' | 'readwrite' | 'versionchange';
/** The `embeddingPacks` store in any transaction that includes it. */
export type PacksStore<M extends Mode = Mode> = IDBPObjectStore<TannerinSchema, ArrayLike<StoreNames<TannerinSchema>>, 'embeddingPacks', M>;
/** The store in a transaction that may write. */
export type WritablePacksStore = PacksStore<'readwrite' | 'versionchange'>;

/** Every pack key of one backbone. */
function backboneRange(backbone: string): IDBKeyRange {
  return IDBKeyRange.bound([backbone, -Infinity], [backbone, Infinity]);
}

/** The entries of a pack, in row order (rows are views into its array). */
export function packEntries(pack: EmbeddingPackRecord): EmbeddingEntry[] {
  const entries: EmbeddingEntry[] = [];
  let row = 0;
  pack.examples.forEach((id, i) => {
    const views = pack.views[i] ?? 0;
    const embeddings: Float32Array[] = [];
    for (let v = 0; v < views; v++, row++) embeddings.push(pack.data.subarray(row * pack.dims, (row + 1) * pack.dims));
    entries.push({ id, embeddings });
  });
  return entries;
}

/** A pack record holding `entries` (all of `dims` floats), their rows copied into one array. */
function buildPack(backbone: string, pack: number, dims: number, entries: readonly EmbeddingEntry[]): EmbeddingPackRecord {
  const rows = entries.reduce((a, e) => a + e.embeddings.length, 0);
  const data = new Float32Array(rows * dims);
  let row = 0;
  for (const e of entries) for (const embedding of e.embeddings) data.set(embedding, row++ * dims);
  return { backbone, pack, dims, examples: entries.map((e) => e.id), views: entries.map((e) => e.embeddings.length), data };
}

/** Floats of an entry. */
const floatsOf = (e: EmbeddingEntry): number => e.embeddings.reduce((a, x) => a + x.length, 0);

/** Whether `entry` still fits a pack of `dims` floats holding `examples` examples and `floats` floats. */
function fits(dims: number, examples: number, floats: number, entry: EmbeddingEntry): boolean {
  const size = floatsOf(entry);
  const sameDims = entry.embeddings.every((x) => x.length === dims);
  // An entry larger than a whole pack still gets one of its own.
  return sameDims && examples < PACK_MAX_EXAMPLES && (floats + size <= PACK_MAX_FLOATS || examples === 0);
}

/**
 * Appends the entries (examples not in any of this backbone's packs yet; entries without
 * embeddings are skipped) to the backbone's packs: first to its last pack while that one has room,
 * then to new packs. Writes each touched pack once.
 */
export async function appendToPacks(store: WritablePacksStore, backbone: string, entries: readonly EmbeddingEntry[]): Promise<void> {
  const todo = entries.filter((e) => e.embeddings.length > 0);
  if (!todo.length) return;
  const lastCursor = await store.openCursor(backboneRange(backbone), 'prev');
  const last = lastCursor?.value;
  let number = last ? last.pack : 0;
  let dims = last ? last.dims : (todo[0]?.embeddings[0]?.length ?? 0);
  let current: EmbeddingEntry[] = last ? packEntries(last) : [];
  let floats = last ? last.data.length : 0;
  let changed = false;
  const writes: Promise<unknown>[] = [];
  for (const entry of todo) {
    if (!fits(dims, current.length, floats, entry)) {
      if (changed) writes.push(store.put(buildPack(backbone, number, dims, current)));
      number = current.length ? number + 1 : number;
      dims = entry.embeddings[0]?.length ?? 0;
      current = [];
      floats = 0;
    }
    current.push(entry);
    floats += floatsOf(entry);
    changed = true;
  }
  if (changed) writes.push(store.put(buildPack(backbone, number, dims, current)));
  await Promise.all(writes);
}

/**
 * Sets the backbone's embeddings of these examples: an example already in one of its packs is
 * rewritten in place (that pack only); the others are appended ({@link appendToPacks}).
 */
export async function putEmbeddings(store: WritablePacksStore, backbone: string, entries: readonly EmbeddingEntry[]): Promise<void> {
  const byPack = new Map<number, Map<string, EmbeddingEntry>>();
  const fresh: EmbeddingEntry[] = [];
  for (const entry of entries) {
    const key = await packKeyOf(store, backbone, entry.id);
    if (key) byPack.set(key[1], (byPack.get(key[1]) ?? new Map<string, EmbeddingEntry>()).set(entry.id, entry));
    else fresh.push(entry);
  }
  for (const [pack, changes] of byPack) {
    const record = await store.get([backbone, pack]);
    if (!record) continue;
    const kept: EmbeddingEntry[] = [];
    for (const e of packEntries(record)) {
      const change = changes.get(e.id);
      if (!change) kept.push(e);
      else if (change.embeddings.length && change.embeddings.every((x) => x.length === record.dims)) kept.push(change);
      // An example whose dims changed (another backbone under the same ref cannot) moves to the end.
      else if (change.embeddings.length) fresh.push(change);
    }
    await (kept.length ? store.put(buildPack(backbone, pack, record.dims, kept)) : store.delete([backbone, pack]));
  }
  await appendToPacks(store, backbone, fresh);
}

/** Removes these examples' embeddings from every backbone's packs (a pack left empty is deleted). */
export async function deleteEmbeddings(store: WritablePacksStore, ids: readonly string[]): Promise<void> {
  const byPack = new Map<string, { key: [string, number]; ids: Set<string> }>();
  for (const id of ids) {
    for (const key of await store.index('by-example').getAllKeys(id)) {
      const name = JSON.stringify(key);
      const entry = byPack.get(name) ?? { key, ids: new Set<string>() };
      entry.ids.add(id);
      byPack.set(name, entry);
    }
  }
  for (const { key, ids: gone } of byPack.values()) {
    const record = await store.get(key);
    if (!record) continue;
    const kept = packEntries(record).filter((e) => !gone.has(e.id));
    await (kept.length ? store.put(buildPack(record.backbone, record.pack, record.dims, kept)) : store.delete(key));
  }
}

/** Every example's embeddings on `backbone`, by example id (rows are views into the packs' arrays). */
export async function readEmbeddings(store: PacksStore, backbone: string): Promise<Map<string, Float32Array[]>> {
  const out = new Map<string, Float32Array[]>();
  for (const pack of await store.getAll(backboneRange(backbone))) for (const e of packEntries(pack)) out.set(e.id, e.embeddings);
  return out;
}

/** One example's embeddings on `backbone`, or undefined when it has none there. */
export async function readExampleEmbeddings(store: PacksStore, backbone: string, id: string): Promise<Float32Array[] | undefined> {
  const key = await packKeyOf(store, backbone, id);
  const pack = key && (await store.get(key));
  return pack ? packEntries(pack).find((e) => e.id === id)?.embeddings : undefined;
}

/**
 * Appends `more` rows (augmented views) to example `id`'s embeddings on `backbone` when it has
 * exactly `have` rows there, rewriting the one pack that holds it (read once); false, and nothing
 * written, when it has no embeddings there or another count.
 */
export async function appendEmbeddings(store: WritablePacksStore, backbone: string, id: string, have: number, more: readonly Float32Array[]): Promise<boolean> {
  const key = await packKeyOf(store, backbone, id);
  const pack = key && (await store.get(key));
  if (!pack) return false;
  const entries = packEntries(pack);
  const entry = entries.find((e) => e.id === id);
  if (entry?.embeddings.length !== have) return false;
  entry.embeddings = [...entry.embeddings, ...more];
  await store.put(buildPack(backbone, pack.pack, pack.dims, entries));
  return true;
}

/** The key of `backbone`'s pack that holds example `id`, from the `by-example` index. */
async function packKeyOf(store: PacksStore, backbone: string, id: string): Promise<[string, number] | undefined> {
  return (await store.index('by-example').getAllKeys(id)).find((k) => k[0] === backbone);
}

/**
 * The ids of the examples with embeddings on each backbone, read from the `by-example` index
 * alone (no pack's floats are read).
 */
export async function embeddedIds(store: PacksStore): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  for (let cursor = await store.index('by-example').openKeyCursor(); cursor; cursor = await cursor.continue()) {
    const backbone = cursor.primaryKey[0];
    const ids = out.get(backbone) ?? new Set<string>();
    ids.add(cursor.key);
    out.set(backbone, ids);
  }
  return out;
}
