/**
 * Default heads the operator published (D1 `published_heads`, files in R2 under
 * `published/<name>/<write id>/`). As for personal heads: every version's files are written in
 * full under a fresh prefix before the row points at them, the row is switched by a
 * compare-and-swap on `version`, and the files it replaced are deleted only after the switch; a
 * rejected or lost write deletes only its own files.
 */
import { TannerinError } from '../../shared/errors.ts';
import { sha256Hex } from '../../shared/util/hash.ts';
import { exportHeadFiles, type HeadDocument } from '../../shared/head/document.ts';
import type { HeadManifest, InputTransform } from '../../shared/model/manifest.ts';

/** A row of `published_heads`. */
export interface PublishedRow {
  name: string;
  version: number;
  write_id: string;
  etag: string;
  source_id: string;
  display_name: string;
  backbone: string;
  classes: string;
  input: string;
  files: string;
  bytes: number;
  created_at: number;
  updated_at: number;
}

/** The files of a published version, in manifest order: the document, then model.json and weights. */
export const PUBLISHED_FILES = ['head.json', 'model.json', 'weights.bin'] as const;
export type PublishedFile = (typeof PUBLISHED_FILES)[number];

interface FileEntry {
  file: PublishedFile;
  bytes: number;
  sha256: string;
}

/** R2 key of one file of one version. */
export const publishedKey = (name: string, writeId: string, file: string): string => `published/${name}/${writeId}/${file}`;

/** Site-relative path the Worker serves a published file under (routes/operator.ts). */
export const publishedPath = (name: string, writeId: string, file: string): string => `v1/published-heads/${name}/${writeId}/${file}`;

/** The published head as a manifest entry (paths relative to the site root, like shipped heads). */
export function publishedManifestEntry(row: PublishedRow): HeadManifest {
  const files = JSON.parse(row.files) as FileEntry[];
  const served = (f: FileEntry) => ({ path: publishedPath(row.name, row.write_id, f.file), bytes: f.bytes, sha256: f.sha256 });
  const [doc, ...rest] = files;
  if (!doc) throw new Error(`published head ${row.name} lists no files`);
  return {
    id: row.name,
    name: row.display_name,
    classes: JSON.parse(row.classes) as string[],
    backbone: row.backbone,
    input: JSON.parse(row.input) as InputTransform,
    url: served(doc).path,
    document: served(doc),
    files: rest.map(served),
  };
}

/**
 * Reads of the published heads must not take the shipped heads down with them: on a database the
 * 0002 migration has not reached yet (`wrangler d1 migrations apply` forgotten on deploy) they
 * answer "none published" and log why, so `/v1/models` and default predictions keep working.
 */
async function unlessMissingTable<T>(read: () => Promise<T>, none: T): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (!/no such table/i.test(String(err))) throw err;
    console.error('tannerin: D1 has no published_heads table; apply the migrations (npx wrangler d1 migrations apply DB --remote):', err);
    return none;
  }
}

/** The published head of this name, or null. */
export function findPublished(db: D1Database, name: string): Promise<PublishedRow | null> {
  return unlessMissingTable(() => db.prepare('SELECT * FROM published_heads WHERE name = ?1').bind(name).first<PublishedRow>(), null);
}

/** Every published head, by name. */
export async function listPublished(db: D1Database): Promise<PublishedRow[]> {
  return unlessMissingTable(async () => (await db.prepare('SELECT * FROM published_heads ORDER BY name').all<PublishedRow>()).results, []);
}

/** The three files of a version: the document served under the published name, and its TF.js files. */
async function publishedFiles(doc: HeadDocument, name: string): Promise<{ file: PublishedFile; bytes: Uint8Array; sha256: string }[]> {
  const served: HeadDocument = { ...doc, id: name };
  const enc = new TextEncoder();
  const { modelJson, weights } = exportHeadFiles(served, 'weights.bin');
  const out = [
    { file: 'head.json' as const, bytes: enc.encode(JSON.stringify(served)) },
    { file: 'model.json' as const, bytes: enc.encode(JSON.stringify(modelJson)) },
    { file: 'weights.bin' as const, bytes: weights },
  ];
  return Promise.all(out.map(async (f) => ({ ...f, sha256: await sha256Hex(f.bytes) })));
}

async function dropFiles(bucket: R2Bucket, name: string, writeId: string): Promise<void> {
  try {
    await bucket.delete(PUBLISHED_FILES.map((f) => publishedKey(name, writeId, f)));
  } catch (err) {
    console.error(`tannerin: could not delete unreferenced files of published head ${name} (${writeId}):`, err);
  }
}

const conflict = (message: string) => new TannerinError('conflict', message);

/** How many heads are published. */
export async function countPublished(db: D1Database): Promise<number> {
  return unlessMissingTable(async () => (await db.prepare('SELECT COUNT(*) AS n FROM published_heads').first<number>('n')) ?? 0, 0);
}

/** The 403 for a new published head over the limit. */
export function publishedQuotaExceeded(count: number, max: number): TannerinError {
  return new TannerinError('quota_exceeded', `${count} heads are published; the limit is ${max} (MAX_PUBLISHED_HEADS). Delete one first, or replace one (replace=1).`);
}

/**
 * Publishes a validated plain head document under `name`. `current` is the row read before (null:
 * create; a row: replace exactly that version). 409 if another write came first. A new name is
 * inserted only while fewer than `maxPublished` heads are published, checked in the insert itself
 * (403 otherwise; the files it wrote are deleted).
 */
export async function publishHead(
  db: D1Database,
  bucket: R2Bucket,
  name: string,
  doc: HeadDocument,
  current: PublishedRow | null,
  maxPublished: number,
  now: number,
): Promise<PublishedRow> {
  const writeId = crypto.randomUUID();
  const files = await publishedFiles(doc, name);
  try {
    for (const f of files) {
      await bucket.put(publishedKey(name, writeId, f.file), f.bytes, {
        sha256: f.sha256,
        httpMetadata: { contentType: f.file === 'weights.bin' ? 'application/octet-stream' : 'application/json' },
      });
    }
  } catch (err) {
    await dropFiles(bucket, name, writeId);
    throw err;
  }
  const head = files[0] as (typeof files)[number];
  const values = [
    writeId,
    head.sha256,
    doc.id,
    doc.name,
    doc.backbone,
    JSON.stringify(doc.classes),
    JSON.stringify(doc.input),
    JSON.stringify(files.map((f) => ({ file: f.file, bytes: f.bytes.byteLength, sha256: f.sha256 }))),
    head.bytes.byteLength,
    now,
  ] as const;
  let row: PublishedRow | null;
  try {
    row = current
      ? await db
          .prepare(
            `UPDATE published_heads SET version = version + 1, write_id = ?1, etag = ?2, source_id = ?3, display_name = ?4, backbone = ?5,
               classes = ?6, input = ?7, files = ?8, bytes = ?9, updated_at = ?10
             WHERE name = ?11 AND version = ?12 RETURNING *`,
          )
          .bind(...values, name, current.version)
          .first<PublishedRow>()
      : await db
          .prepare(
            `INSERT INTO published_heads (name, version, write_id, etag, source_id, display_name, backbone, classes, input, files, bytes, created_at, updated_at)
             SELECT ?11, 1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10
             WHERE (SELECT COUNT(*) FROM published_heads) < ?12
             ON CONFLICT (name) DO NOTHING RETURNING *`,
          )
          .bind(...values, name, maxPublished)
          .first<PublishedRow>();
  } catch (err) {
    await dropFiles(bucket, name, writeId);
    throw err;
  }
  if (!row) {
    await dropFiles(bucket, name, writeId);
    if (!current && !(await findPublished(db, name))) {
      const count = await countPublished(db);
      if (count >= maxPublished) throw publishedQuotaExceeded(count, maxPublished);
    }
    throw conflict(`Published head "${name}" was changed by another write while this one was under way; run it again.`);
  }
  if (current) await dropFiles(bucket, name, current.write_id);
  return row;
}

/** Unpublishes `current` if it is still the version read; its files go after the row. */
export async function unpublishHead(db: D1Database, bucket: R2Bucket, current: PublishedRow): Promise<void> {
  const { meta } = await db.prepare('DELETE FROM published_heads WHERE name = ?1 AND version = ?2').bind(current.name, current.version).run();
  if (meta.changes !== 1) throw conflict(`Published head "${current.name}" was changed by another write while it was being deleted; run it again.`);
  await dropFiles(bucket, current.name, current.write_id);
}
