/**
 * The CLI's side of the pipeline: start the WASM backend and the JPEG decoder, load the installed
 * models, and turn ImageFolder images into examples, with progress. Errors a user can fix become
 * DataError (printed as is); everything else is a bug.
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import type { Backbone } from '../../shared/model/backbone.ts';
import type { HeadDocument } from '../../shared/head/document.ts';
import type { Example } from '../../shared/learn/examples.ts';
import type { InputSpec, Manifest } from '../../shared/model/manifest.ts';
import { preprocess } from '../../shared/image/preprocess.ts';
import { cropPhoto } from '../../shared/crop/crop-step.ts';
import type { HeadCrop } from '../../shared/head/crop.ts';
import { DataError, readFolderImage, type FolderImage } from '../image-folder.ts';
import { initNodeImageDecoder, startNodeWasmBackend } from '../node-backend.ts';
import { loadLocalModels, readManifest } from '../node-models.ts';
import { MANIFEST_FILE, PUBLIC_DIR } from '../prepare-models.ts';
import { createProgress } from './progress.ts';

/** Starts the WASM SIMD backend and the JPEG decoder (both idempotent). */
export async function startRuntime(): Promise<void> {
  await startNodeWasmBackend();
  await initNodeImageDecoder();
}

/** The installed manifest, or a DataError saying how to build it. */
export function installedManifest(): Manifest {
  if (!existsSync(join(PUBLIC_DIR, MANIFEST_FILE))) {
    throw new DataError(`the model files are missing (${join(PUBLIC_DIR, MANIFEST_FILE)}): run \`npm install\` or \`npm run prepare-models\` in the checkout`);
  }
  return readManifest();
}

/** Loads the backbone (verified against the manifest): the default, or the installed one with id `backboneId`. */
export async function openBackbone(backboneId?: string): Promise<Backbone> {
  installedManifest();
  const models = await loadLocalModels(undefined, backboneId);
  return models.backbone;
}

/** `fn` with this install's backbone (the runtime started), refusing a head trained on another; the backbone disposed after. */
export async function withHeadBackbone<T>(doc: Pick<HeadDocument, 'backbone'>, fn: (backbone: Backbone) => Promise<T>): Promise<T> {
  await startRuntime();
  const backbone = await openBackbone();
  try {
    if (doc.backbone !== backbone.ref) {
      throw new DataError(`the head was trained on backbone ${doc.backbone}, but this install has ${backbone.ref}: retrain it`);
    }
    return await fn(backbone);
  } finally {
    backbone.dispose();
  }
}

/**
 * Reads, decodes and preprocesses images one at a time (a large folder never sits in memory as
 * pixels) and maps each through `fn`, with a progress line.
 */
export async function mapImages<T>(
  images: readonly FolderImage[],
  spec: InputSpec,
  label: string,
  fn: (input: Float32Array, image: FolderImage) => Promise<T>,
  quiet = false,
): Promise<T[]> {
  const progress = createProgress(label, images.length, { quiet });
  const out: T[] = [];
  for (const [i, image] of images.entries()) {
    progress.update(i, image.path);
    out.push(await fn(preprocess(await readFolderImage(image), spec), image));
  }
  progress.done();
  return out;
}

/**
 * Embeds images as original (unaugmented) examples whose photo id is the image's relative path;
 * with `crop`, each image's crop (shared/crop/crop-step.ts, the prediction layer's own step: one
 * more backbone pass to find the box), so a head trained on them predicts as it was trained.
 */
export async function embedImages(backbone: Backbone, images: readonly FolderImage[], label: string, quiet = false, crop?: HeadCrop): Promise<Example[]> {
  if (!crop) {
    return mapImages(images, backbone.manifest.normalization, label, async (input, image) => ({
      photoId: image.path,
      label: image.label,
      embedding: await backbone.embedPreprocessed(input),
      augmented: false,
    }), quiet);
  }
  const progress = createProgress(`${label} (crops)`, images.length, { quiet });
  const out: Example[] = [];
  for (const [i, image] of images.entries()) {
    progress.update(i, image.path);
    const cropped = await cropPhoto(await readFolderImage(image), crop, { graph: backbone.graph, normalization: backbone.manifest.normalization }, 'the CLI');
    out.push({ photoId: image.path, label: image.label, embedding: await backbone.embed(cropped.pixels), augmented: false });
  }
  progress.done();
  return out;
}
