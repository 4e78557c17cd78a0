/**
 * A pair of backbones as one (`npm run eval -- --backbones A+B`, scripts/eval/main.ts): each
 * image's embeddings on both, concatenated, described by one manifest.
 */
import type { BackboneManifest } from '../../shared/model/manifest.ts';

/**
 * The manifest of two backbones' embeddings concatenated (`A+B`): A's parts, then B's at B's
 * offsets shifted by A's size. Only its parts and ref are read (heads on it never run in the app).
 */
export function pairManifest(manifests: readonly BackboneManifest[]): BackboneManifest {
  let offset = 0;
  const parts = manifests.flatMap((m) => {
    const shifted = m.embedding.parts.map((p) => ({ ...p, offset: offset + p.offset }));
    offset += m.embedding.size;
    return shifted;
  });
  const first = manifests[0] as BackboneManifest;
  return { ...first, id: manifests.map((m) => m.id).join('+'), version: manifests.map((m) => m.version).join('+'), embedding: { size: offset, parts }, files: [] };
}
