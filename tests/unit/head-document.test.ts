/**
 * The one head format: a head document exports to standard TF.js files and imports back to the
 * same document; the shipped default head's files and document agree.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportHeadFiles, importHeadFiles, type HeadDocument } from '../../shared/head/document.ts';
import { readManifest } from '../../scripts/node-models.ts';
import { PUBLIC_DIR } from '../../scripts/prepare-models.ts';

describe('head document', () => {
  const manifest = readManifest();
  const head = manifest.heads[0];
  if (!head) throw new Error('no default head');
  const doc = JSON.parse(readFileSync(join(PUBLIC_DIR, head.document.path), 'utf8')) as HeadDocument;

  it('the shipped document carries the manifest entry’s metadata', () => {
    expect(doc.format).toBe('tannerin-head');
    expect(doc.id).toBe(head.id);
    expect(doc.name).toBe(head.name);
    expect(doc.classes).toEqual(head.classes);
    expect(doc.backbone).toBe(head.backbone);
    expect(doc.input).toEqual(head.input);
    expect(Number.isNaN(Date.parse(doc.created))).toBe(false);
  });

  it('the shipped standard files import to exactly the shipped document', () => {
    const [modelJson, weights] = head.files;
    const json = JSON.parse(readFileSync(join(PUBLIC_DIR, modelJson?.path ?? ''), 'utf8')) as Record<string, unknown>;
    const bytes = new Uint8Array(readFileSync(join(PUBLIC_DIR, weights?.path ?? '')));
    expect(importHeadFiles(json, bytes)).toEqual(doc);
  });

  it('export then import round-trips, and the exported model.json is standard TF.js', () => {
    const { modelJson, weights } = exportHeadFiles(doc, 'w.bin');
    expect(modelJson.format).toBe('layers-model');
    expect((modelJson.weightsManifest as { paths: string[] }[])[0]?.paths).toEqual(['w.bin']);
    expect(importHeadFiles(modelJson, weights)).toEqual(doc);
  });

  it('test-time augmentation survives export and import (and stays absent when off)', () => {
    const withTta: HeadDocument = { ...doc, testTimeAugmentation: { views: 3, seed: 7 } };
    const { modelJson, weights } = exportHeadFiles(withTta);
    expect(importHeadFiles(modelJson, weights).testTimeAugmentation).toEqual({ views: 3, seed: 7 });
    const plain = exportHeadFiles(doc);
    expect('testTimeAugmentation' in importHeadFiles(plain.modelJson, plain.weights)).toBe(false);
  });

  it('refuses a model.json without tannerin metadata', () => {
    const { modelJson, weights } = exportHeadFiles(doc);
    delete modelJson.userDefinedMetadata;
    expect(() => importHeadFiles(modelJson, weights)).toThrow(/tannerin head metadata/);
  });
});
