/**
 * Heads that read one backbone's own layers: a fine-tuned model (its tail extends them) and a crop
 * head (its box comes from one of its feature maps). Validating them needs that backbone's
 * `model.json` (shared/head/validate.ts `backboneModel`), and a pair of backbones
 * (shared/model/backbone-pair.ts), which has no single graph, cannot run them. The one place the
 * Worker's uploads and the browser's `checkHead` decide both.
 */
import { TannerinError } from '../errors.ts';
import { backboneRef, type BackboneManifest } from '../model/manifest.ts';
import { hasCrop } from './crop.ts';
import { isFineTuned } from './document.ts';

/** Whether validating the parsed (not yet validated) `doc` needs its backbone's `model.json`. */
export function needsBackboneLayers(doc: unknown): boolean {
  return isFineTuned(doc) || hasCrop(doc);
}

/**
 * The `invalid_head` error for a head that needs one backbone's layers ({@link needsBackboneLayers})
 * made for a pair of backbones, which has none of its own; undefined when `doc` fits `backbone`.
 */
export function pairRefusal(doc: unknown, backbone: BackboneManifest): TannerinError | undefined {
  const members = backbone.members ?? [];
  if (!members.length) return undefined;
  const [what, fix] = isFineTuned(doc)
    ? ["a fine-tuned model extends one backbone's layers", 'fine-tune']
    : hasCrop(doc)
      ? ["a crop head finds its box in one backbone's feature map", 'train crops']
      : [];
  if (!what) return undefined;
  return new TannerinError(
    'invalid_head',
    `Invalid head document: ${what}, and ${backboneRef(backbone)} is a pair of two (${members.join(', ')}); ${fix as string} on ${members[0] as string} instead.`,
  );
}
