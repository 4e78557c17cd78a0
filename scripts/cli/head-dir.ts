/**
 * A head on disk, as `tannerin train` writes it and `tannerin eval` reads it:
 *
 *   HEAD_DIR/model.json, HEAD_DIR/weights.bin   the head as standard TF.js layers files (with the
 *                                               tannerin metadata in userDefinedMetadata)
 *   HEAD_DIR/head.json                          the same head as one head document, which is what
 *                                               the browser and the Worker store and sync
 *
 *   HEAD_DIR/tail/model.json, tail/weights.bin  fine-tuned models only: the personal copies of the
 *                                               backbone's top layers (`backboneTail`), standard too
 *
 * Reading prefers head.json and falls back to the standard files.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportBackboneTailFiles, exportHeadFiles, importHeadFiles, type HeadDocument } from '../../shared/head/document.ts';
import { DataError } from '../image-folder.ts';

export const HEAD_DOCUMENT_FILE = 'head.json';

/** Writes the head's files; returns each file's path and size. */
export function writeHeadDir(dir: string, doc: HeadDocument): { path: string; bytes: number }[] {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new DataError(`cannot create the output folder ${dir}: ${(error as Error).message}`);
  }
  const { modelJson, weights } = exportHeadFiles(doc, 'weights.bin');
  const files: [string, string | Uint8Array][] = [
    ['model.json', JSON.stringify(modelJson)],
    ['weights.bin', weights],
    [HEAD_DOCUMENT_FILE, JSON.stringify(doc)],
  ];
  if (doc.backboneTail) {
    const tail = exportBackboneTailFiles(doc, 'weights.bin');
    mkdirSync(join(dir, 'tail'), { recursive: true });
    files.push(['tail/model.json', JSON.stringify(tail.modelJson)], ['tail/weights.bin', tail.weights]);
  }
  return files.map(([name, data]) => {
    const path = join(dir, name);
    writeFileSync(path, data);
    return { path, bytes: statSync(path).size };
  });
}

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new DataError(`${path} is not readable JSON: ${(error as Error).message}`);
  }
}

/** Reads a head written by {@link writeHeadDir} (or any standard TF.js export of a tannerin head). */
export function readHeadDir(dir: string): HeadDocument {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DataError(`--head: ${dir} is not a folder`);
  const documentPath = join(dir, HEAD_DOCUMENT_FILE);
  if (existsSync(documentPath)) {
    const doc = readJson(documentPath);
    if (doc.format !== 'tannerin-head' || !Array.isArray(doc.classes)) throw new DataError(`${documentPath} is not a tannerin head document`);
    return doc as unknown as HeadDocument;
  }
  const modelPath = join(dir, 'model.json');
  if (!existsSync(modelPath)) throw new DataError(`--head: ${dir} has neither ${HEAD_DOCUMENT_FILE} nor model.json`);
  const head = readLayersFiles(dir);
  const tailDir = join(dir, 'tail');
  const tail = existsSync(join(tailDir, 'model.json')) ? readLayersFiles(tailDir) : undefined;
  try {
    return importHeadFiles(head.modelJson, head.weights, tail);
  } catch (error) {
    throw new DataError(`${modelPath}: ${(error as Error).message}`);
  }
}

/** A standard TF.js `model.json` and its weight files, concatenated in manifest order. */
function readLayersFiles(dir: string): { modelJson: Record<string, unknown>; weights: Uint8Array } {
  const modelPath = join(dir, 'model.json');
  const modelJson = readJson(modelPath);
  const groups = modelJson.weightsManifest as { paths?: string[] }[] | undefined;
  const paths = Array.isArray(groups) ? groups.flatMap((g) => g.paths ?? []) : [];
  const chunks = paths.map((p) => {
    const path = join(dir, p);
    if (!existsSync(path)) throw new DataError(`${modelPath} lists the weights file ${p}, which is missing`);
    return new Uint8Array(readFileSync(path));
  });
  const weights = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    weights.set(c, offset);
    offset += c.length;
  }
  return { modelJson, weights };
}
