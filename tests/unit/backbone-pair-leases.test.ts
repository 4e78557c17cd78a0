/**
 * The release and lease rules with a pair (client/lib/current-backbone.ts, shared/model/backbone-pair.ts):
 * a kept pair (current, or kept by a release) keeps its members; a pair released goes with the
 * members nothing else keeps; a lease on a pair is a lease on its members; a member released while
 * leased is kept again when its pair is made current; a member disposed takes its pairs with it.
 * Stand-in backbones count their disposals; the real ones: tests/browser/backbone-pair.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Backbone } from '../../shared/model/backbone.ts';
import {
  addLoadedBackbone,
  currentBackboneOrNull,
  leaseBackbone,
  loadedBackbone,
  releaseLoadedBackbones,
  setCurrentBackbone,
} from '../../client/lib/current-backbone.ts';

type Fake = Backbone & { disposals: number };

/** A stand-in backbone (a pair when `members` are given) that counts its disposals. */
function fakeBackbone(id: string, version = '1', members?: Fake[]): Fake {
  const b = {
    ref: `${id}@${version}`,
    manifest: { id, version },
    ...(members ? { members } : {}),
    disposals: 0,
    dispose() {
      b.disposals++;
    },
  };
  return b as unknown as Fake;
}

const KEEP_NONE = new Set<string>();

afterEach(() => setCurrentBackbone(null));

describe('a pair in the release rule', () => {
  it('keeps its members while it is current, and releases them with it once it is not (the current one stays)', () => {
    const m = fakeBackbone('mobilenet_v2');
    const i = fakeBackbone('inception_v3');
    const pair = fakeBackbone('mobilenet_v2+inception_v3', '1', [m, i]);
    setCurrentBackbone(pair);
    // Making the pair current makes its members loaded backbones too.
    expect(loadedBackbone(m.ref)).toBe(m);
    expect(loadedBackbone(i.ref)).toBe(i);
    expect(releaseLoadedBackbones(KEEP_NONE)).toEqual([]);
    expect([m.disposals, i.disposals]).toEqual([0, 0]);

    // Back on MobileNetV2 with nothing kept: the pair goes, then InceptionV3; MobileNetV2 stays.
    setCurrentBackbone(m);
    expect(releaseLoadedBackbones(KEEP_NONE)).toEqual([pair.ref, i.ref]);
    expect([pair.disposals, i.disposals, m.disposals]).toEqual([1, 1, 0]);
    expect(loadedBackbone(pair.ref)).toBeUndefined();
    expect(loadedBackbone(m.ref)).toBe(m);
  });

  it('keeps a pair kept by the release (the active head runs on it) with both members', () => {
    const m = fakeBackbone('mobilenet_v2');
    const i = fakeBackbone('inception_v3');
    const pair = fakeBackbone('mobilenet_v2+inception_v3', '1', [m, i]);
    setCurrentBackbone(m);
    addLoadedBackbone(pair);
    expect(releaseLoadedBackbones(new Set([pair.ref]))).toEqual([]);
    expect([pair.disposals, i.disposals]).toEqual([0, 0]);
  });

  it('a lease on the pair defers its members too; made current again, nothing is disposed', () => {
    const m = fakeBackbone('mobilenet_v2');
    const i = fakeBackbone('inception_v3');
    const pair = fakeBackbone('mobilenet_v2+inception_v3', '1', [m, i]);
    setCurrentBackbone(pair);
    const end = leaseBackbone(pair);
    setCurrentBackbone(m);
    expect(releaseLoadedBackbones(KEEP_NONE)).toEqual([pair.ref, i.ref]);
    expect([pair.disposals, i.disposals]).toEqual([0, 0]);
    // The pair current again before the job ends: the member's pending disposal is cancelled too.
    setCurrentBackbone(pair);
    end();
    expect([pair.disposals, i.disposals, m.disposals]).toEqual([0, 0, 0]);
    expect(loadedBackbone(i.ref)).toBe(i);
  });

  it('the lease ending disposes what the release left to it, pair and member', () => {
    const m = fakeBackbone('mobilenet_v2');
    const i = fakeBackbone('inception_v3');
    const pair = fakeBackbone('mobilenet_v2+inception_v3', '1', [m, i]);
    setCurrentBackbone(pair);
    const end = leaseBackbone(pair);
    setCurrentBackbone(m);
    releaseLoadedBackbones(KEEP_NONE);
    end();
    expect([pair.disposals, i.disposals, m.disposals]).toEqual([1, 1, 0]);
  });

  it('a member replaced by another version takes the pair over it along', () => {
    const m = fakeBackbone('mobilenet_v2');
    const i = fakeBackbone('inception_v3');
    const pair = fakeBackbone('mobilenet_v2+inception_v3', '1', [m, i]);
    setCurrentBackbone(pair);
    addLoadedBackbone(fakeBackbone('inception_v3', '2'));
    expect(i.disposals).toBe(1);
    expect(pair.disposals).toBe(1);
    expect(currentBackboneOrNull()).toBeNull();
  });
});
