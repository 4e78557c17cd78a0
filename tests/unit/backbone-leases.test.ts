/**
 * Backbone leases (client/lib/current-backbone.ts): a loaded backbone released or replaced while a
 * job leases it is disposed only when the last lease ends, and not at all if it is wanted again
 * meanwhile; listeners hear of the disposal then. Stand-in backbones count their disposals; the real ones are in
 * tests/browser/backbone-leases.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Backbone } from '../../shared/model/backbone.ts';
import {
  BackboneReleasedError,
  leaseBackbone,
  loadedBackbone,
  onBackboneDisposed,
  releaseLoadedBackbones,
  setCurrentBackbone,
  addLoadedBackbone,
  withBackboneLease,
} from '../../client/lib/current-backbone.ts';

/** A stand-in backbone that counts its disposals. */
function fakeBackbone(id: string, version = '1'): Backbone & { disposals: number } {
  const b = {
    ref: `${id}@${version}`,
    manifest: { id, version },
    disposals: 0,
    dispose() {
      b.disposals++;
    },
  };
  return b as unknown as Backbone & { disposals: number };
}

const KEEP_NONE = new Set<string>();

afterEach(() => setCurrentBackbone(null));

describe('backbone leases', () => {
  it('a backbone released while leased stays loaded until its last lease ends, then is disposed once', () => {
    const a = fakeBackbone('a');
    const b = fakeBackbone('b');
    setCurrentBackbone(a);
    addLoadedBackbone(b);
    const disposedNow: Backbone[] = [];
    const off = onBackboneDisposed((d) => disposedNow.push(d));
    const first = leaseBackbone(b);
    const second = leaseBackbone(b);
    expect(releaseLoadedBackbones(KEEP_NONE)).toEqual([b.ref]);
    expect(b.disposals).toBe(0);
    expect(loadedBackbone(b.ref)).toBe(b);
    first();
    first(); // ending a lease twice counts once
    expect(b.disposals).toBe(0);
    expect(disposedNow).toEqual([]);
    second();
    expect(b.disposals).toBe(1);
    expect(disposedNow).toEqual([b]);
    off();
    expect(loadedBackbone(b.ref)).toBeUndefined();
    expect(a.disposals).toBe(0);
  });

  it('a backbone released while leased, then made current or kept by a later release, is not disposed', () => {
    const a = fakeBackbone('a');
    const b = fakeBackbone('b');
    const c = fakeBackbone('c');
    setCurrentBackbone(a);
    addLoadedBackbone(b);
    addLoadedBackbone(c);
    const endB = leaseBackbone(b);
    const endC = leaseBackbone(c);
    releaseLoadedBackbones(KEEP_NONE);
    setCurrentBackbone(b);
    releaseLoadedBackbones(new Set([c.ref]));
    endB();
    endC();
    expect([b.disposals, c.disposals]).toEqual([0, 0]);
    expect(loadedBackbone(b.ref)).toBe(b);
    expect(loadedBackbone(c.ref)).toBe(c);
  });

  it('a version replaced while leased is disposed when its job ends; the new version is loaded at once', async () => {
    const old = fakeBackbone('a', '1');
    const next = fakeBackbone('a', '2');
    setCurrentBackbone(old);
    let release = (): void => undefined;
    const job = withBackboneLease(old, () => new Promise<void>((resolve) => (release = resolve)));
    setCurrentBackbone(next);
    expect(loadedBackbone(next.ref)).toBe(next);
    expect(old.disposals).toBe(0);
    release();
    await job;
    expect(old.disposals).toBe(1);
  });

  it('a lease by ref taken before the backbone loads keeps it through a release; a disposed backbone cannot be leased', () => {
    const a = fakeBackbone('a');
    const b = fakeBackbone('b');
    setCurrentBackbone(a);
    const endSwitch = leaseBackbone(b.ref);
    addLoadedBackbone(b);
    releaseLoadedBackbones(KEEP_NONE);
    expect(b.disposals).toBe(0);
    setCurrentBackbone(b);
    endSwitch();
    expect(b.disposals).toBe(0);
    releaseLoadedBackbones(KEEP_NONE);
    expect(a.disposals).toBe(1);
    expect(() => leaseBackbone(a)).toThrow(BackboneReleasedError);
  });
});
