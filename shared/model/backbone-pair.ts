/**
 * A pair of backbones as one (`mobilenet_v2+inception_v3`): each photo's embeddings on both,
 * concatenated, described by one manifest entry. The one place that composes it: the install step
 * writes the entry (scripts/prepare-models.ts), the eval embeds with it (`npm run eval --
 * --backbones A+B`, scripts/eval/main.ts), and the browser loads it over its loaded members
 * ({@link pairBackbone}), so a head trained in the app reads exactly the eval's embedding.
 *
 * A pair has no single graph or input: each member preprocesses the photo its own way (224 and 299
 * px) and runs its own folded graph. So fine-tuning, fine-tuned models and anything else that needs
 * one graph (`graph`, `modelJson`, `run`, `layersModel`, `embedPreprocessed`) refuse it with a
 * {@link PairBackboneError}; the edge never runs it (it answers 409 for heads on it).
 */
import type { Backbone } from './backbone.ts';
import type { FoldedGraph, LayersModelFile } from './folded-graph.ts';
import { backboneRef, type BackboneManifest } from './manifest.ts';
import type { RgbaPixels } from '../image/preprocess.ts';

/** The id of the pair of `ids` (`mobilenet_v2+inception_v3`), as `--backbones A+B` names it. */
export function pairId(ids: readonly string[]): string {
  return ids.join('+');
}

/**
 * The manifest of backbones' embeddings concatenated (`A+B`): A's parts, then B's at B's offsets
 * shifted by A's size; `members` lists their refs, in that order; its version is the members'
 * versions concatenated (hex, so it changes when either does). It has no files (its members' are
 * the ones downloaded); its input fields are the first member's, read by nothing that runs it.
 */
export function pairManifest(manifests: readonly BackboneManifest[]): BackboneManifest {
  const first = manifests[0];
  if (!first || manifests.length < 2) throw new RangeError(`a pair needs at least two backbones, got ${manifests.length}`);
  let offset = 0;
  const parts = manifests.flatMap((m) => {
    const shifted = m.embedding.parts.map((p) => ({ ...p, offset: offset + p.offset }));
    offset += m.embedding.size;
    return shifted;
  });
  // Heads name parts by name: a name in two members would be ambiguous.
  const names = parts.map((p) => p.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new Error(`embedding part "${twice}" is in more than one backbone of the pair ${pairId(manifests.map((m) => m.id))}`);
  return {
    ...first,
    id: pairId(manifests.map((m) => m.id)),
    version: manifests.map((m) => m.version).join(''),
    embedding: { size: offset, parts },
    files: [],
    members: manifests.map(backboneRef),
  };
}

/** What needs one graph was asked of a pair of backbones. */
export class PairBackboneError extends Error {
  override readonly name = 'PairBackboneError';
  constructor(
    /** `<id>@<version>` of the pair. */
    readonly backbone: string,
    what: string,
  ) {
    super(`${what} needs one backbone model, and ${backbone.split('@')[0] as string} is a pair of two: fine-tuning and fine-tuned models run on MobileNetV2 alone`);
  }
}

/** A pair of loaded backbones as one {@link Backbone} (module comment); `members` in embedding order. */
export type PairBackbone = Backbone & { readonly members: readonly Backbone[] };

/**
 * The pair `manifest` (a served entry, or {@link pairManifest}'s) over its loaded `members`: its
 * embedding of a photo is each member's `embed` of the same pixels, concatenated in order. Checks
 * that the members are the ones the manifest names and that their parts match it. It owns no
 * weights: `dispose()` frees nothing (the members are disposed by whoever loaded them).
 */
export function pairBackbone(manifest: BackboneManifest, members: readonly Backbone[]): PairBackbone {
  const refs = members.map((m) => m.ref);
  if (!manifest.members || manifest.members.join() !== refs.join()) {
    throw new Error(`pair ${manifest.id}: its members are ${JSON.stringify(manifest.members ?? [])}, got ${JSON.stringify(refs)}`);
  }
  const composed = pairManifest(members.map((m) => m.manifest));
  if (JSON.stringify(composed.embedding) !== JSON.stringify(manifest.embedding)) {
    throw new Error(`pair ${manifest.id}: its embedding parts do not match its members' (${composed.embedding.size} floats composed, ${manifest.embedding.size} in the manifest)`);
  }
  const ref = backboneRef(manifest);
  const refuse = (what: string): never => {
    throw new PairBackboneError(ref, what);
  };
  const embed = async (pixels: RgbaPixels): Promise<Float32Array> => {
    const out = new Float32Array(manifest.embedding.size);
    let offset = 0;
    // One member after the other: they share one backend, and each frees its own tensors.
    for (const member of members) {
      const part = await member.embed(pixels);
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  };
  return {
    manifest,
    ref,
    members,
    get graph(): FoldedGraph {
      return refuse('its folded graph');
    },
    get modelJson(): LayersModelFile {
      return refuse('its model.json');
    },
    layersModel: () => Promise.reject(new PairBackboneError(ref, 'its layers model')),
    embedPreprocessed: () => Promise.reject(new PairBackboneError(ref, 'a preprocessed input (each member has its own input size)')),
    embed,
    run: () => Promise.reject(new PairBackboneError(ref, 'running named layers')),
    dispose: () => undefined,
  };
}
