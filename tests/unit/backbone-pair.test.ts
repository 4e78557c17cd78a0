/**
 * A pair of backbones as one (shared/model/backbone-pair.ts), without a runtime: pairManifest's
 * parts, members and version; pairBackbone's embedding (the members' embeddings of the same pixels,
 * concatenated in order), its checks of the members, and its refusal of everything that needs one
 * graph. The real networks: tests/browser/backbone-pair.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { Backbone } from '../../shared/model/backbone.ts';
import { pairBackbone, pairManifest, PairBackboneError } from '../../shared/model/backbone-pair.ts';
import type { BackboneManifest } from '../../shared/model/manifest.ts';
import type { RgbaPixels } from '../../shared/image/preprocess.ts';

const input = { width: 4, height: 4, channels: 3 as const, background: [255, 255, 255] as [number, number, number], resize: 'bilinear' as const, alignCorners: true, scale: 1 / 255, offset: 0 };
const manifest = (id: string, version: string, parts: [string, number][]): BackboneManifest => {
  let offset = 0;
  return {
    id,
    version,
    inputSize: [4, 4],
    normalization: input,
    embedding: {
      size: parts.reduce((a, [, n]) => a + n, 0),
      parts: parts.map(([name, size]) => {
        const part = { name, layer: name, pooling: 'none' as const, size, offset };
        offset += size;
        return part;
      }),
    },
    files: [{ path: `models/${id}/model.json`, bytes: 1, sha256: '00' }],
  };
};
const a = manifest('a', '0a', [['a1', 2], ['a2', 1]]);
const b = manifest('b', 'bb', [['b1', 2]]);

/** A fake loaded backbone whose embedding of any photo is `value` (first pixel added, to see the pixels reach it). */
function fake(m: BackboneManifest, value: number[], calls: RgbaPixels[]): Backbone {
  const unused = (): never => {
    throw new Error('not used');
  };
  return {
    manifest: m,
    ref: `${m.id}@${m.version}`,
    get graph() {
      return unused();
    },
    get modelJson() {
      return unused();
    },
    layersModel: unused,
    embedPreprocessed: unused,
    run: unused,
    embed: async (pixels) => {
      calls.push(pixels);
      return Float32Array.from(value, (v) => v + (pixels.data[0] as number));
    },
    dispose: () => undefined,
  };
}

describe('pairManifest', () => {
  it("lists A's parts, then B's shifted by A's size; members are their refs; version theirs concatenated; no files", () => {
    const p = pairManifest([a, b]);
    expect(p.id).toBe('a+b');
    expect(p.version).toBe('0abb');
    expect(p.members).toEqual(['a@0a', 'b@bb']);
    expect(p.files).toEqual([]);
    expect(p.embedding).toEqual({
      size: 5,
      parts: [
        { name: 'a1', layer: 'a1', pooling: 'none', size: 2, offset: 0 },
        { name: 'a2', layer: 'a2', pooling: 'none', size: 1, offset: 2 },
        { name: 'b1', layer: 'b1', pooling: 'none', size: 2, offset: 3 },
      ],
    });
  });
});

describe('pairBackbone', () => {
  it("embeds a photo as each member's embedding of the same pixels, concatenated in order", async () => {
    const calls: RgbaPixels[] = [];
    const pair = pairBackbone(pairManifest([a, b]), [fake(a, [1, 2, 3], calls), fake(b, [10, 20], calls)]);
    const pixels: RgbaPixels = { width: 1, height: 1, data: new Uint8Array([5, 0, 0, 255]) };
    expect(Array.from(await pair.embed(pixels))).toEqual([6, 7, 8, 15, 25]);
    expect(calls).toEqual([pixels, pixels]);
    expect(pair.ref).toBe('a+b@0abb');
    expect(pair.members.map((m) => m.ref)).toEqual(['a@0a', 'b@bb']);
  });

  it('refuses members other than the manifest names, or whose parts differ from it', () => {
    const calls: RgbaPixels[] = [];
    expect(() => pairBackbone(pairManifest([a, b]), [fake(b, [1, 2], calls), fake(a, [1, 2, 3], calls)])).toThrow(/its members are/);
    const other = { ...pairManifest([a, b]), embedding: { size: 5, parts: [] } };
    expect(() => pairBackbone(other, [fake(a, [1, 2, 3], calls), fake(b, [1, 2], calls)])).toThrow(/do not match its members/);
  });

  it('refuses what needs one graph with a PairBackboneError: graph, model.json, run, layers model, preprocessed input', async () => {
    const pair = pairBackbone(pairManifest([a, b]), [fake(a, [1, 2, 3], []), fake(b, [1, 2], [])]);
    expect(() => pair.graph).toThrow(PairBackboneError);
    expect(() => pair.modelJson).toThrow(/is a pair of two/);
    await expect(pair.run(new Float32Array(48), ['a1'])).rejects.toThrow(PairBackboneError);
    await expect(pair.layersModel()).rejects.toThrow(PairBackboneError);
    await expect(pair.embedPreprocessed(new Float32Array(48))).rejects.toThrow(/each member has its own input size/);
  });
});
