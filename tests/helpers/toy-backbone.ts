/** A backbone manifest for tests of code that reads only the embedding's layout. */
import type { BackboneManifest } from '../../shared/model/manifest.ts';

/**
 * A 1x1-input backbone `toy@0` whose embedding is `parts` in order (name and size each; the
 * layer is named as the part, no pooling): the layout the input transform, kNN and training read.
 */
export function toyBackbone(parts: ReadonlyArray<readonly [name: string, size: number]>): BackboneManifest {
  let offset = 0;
  const embeddingParts = parts.map(([name, size]) => {
    const part = { name, layer: name, pooling: 'none' as const, size, offset };
    offset += size;
    return part;
  });
  return {
    id: 'toy',
    version: '0',
    inputSize: [1, 1],
    normalization: { width: 1, height: 1, channels: 3, background: [255, 255, 255], resize: 'bilinear', alignCorners: true, scale: 1, offset: 0 },
    embedding: { size: offset, parts: embeddingParts },
    files: [],
  };
}
