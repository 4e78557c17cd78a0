/**
 * The Node runtime of the one pipeline (CLI, tests' reference path, bench): the same manifest,
 * decoder, preprocessing, backbone and head runner as the Worker, with files read from dist/public.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBackbone, type Backbone } from '../shared/model/backbone.ts';
import type { HeadDocument } from '../shared/head/document.ts';
import { loadPredictor, type Predictor } from '../shared/predict/predictor.ts';
import { servedBackbones, type Manifest, type ManifestFile } from '../shared/model/manifest.ts';
import { MANIFEST_FILE, PUBLIC_DIR } from './prepare-models.ts';

export interface LocalModels {
  manifest: Manifest;
  backbone: Backbone;
  /** The shipped head `id` as a predictor on the backbone (loaded once). */
  head(id: string): Promise<Predictor>;
}

/** Reads the manifest the install step wrote. */
export function readManifest(dir = PUBLIC_DIR): Manifest {
  return JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as Manifest;
}

/**
 * Loads a backbone (verified; the default unless `backboneId` names another the manifest serves)
 * and opens heads on demand, on the active TF.js backend.
 */
export async function loadLocalModels(dir = PUBLIC_DIR, backboneId?: string): Promise<LocalModels> {
  const manifest = readManifest(dir);
  const fetchFile = async (f: ManifestFile) => new Uint8Array(readFileSync(join(dir, f.path)));
  const served = servedBackbones(manifest);
  const chosen = backboneId === undefined ? manifest.backbone : served.find((b) => b.id === backboneId);
  if (!chosen) throw new Error(`backbone ${String(backboneId)} is not installed (installed: ${served.map((b) => b.id).join(', ')})`);
  const backbone = await loadBackbone(chosen, fetchFile);
  const heads = new Map<string, Promise<Predictor>>();
  return {
    manifest,
    backbone,
    head(id) {
      const entry = manifest.heads.find((h) => h.id === id);
      if (!entry) return Promise.reject(new Error(`unknown head ${id}`));
      let head = heads.get(id);
      if (!head) {
        const doc = JSON.parse(readFileSync(join(dir, entry.url), 'utf8')) as HeadDocument;
        head = loadPredictor(doc, backbone);
        heads.set(id, head);
      }
      return head;
    },
  };
}
