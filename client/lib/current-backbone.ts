/**
 * The models the page uses: the current backbone (set by `loadModels` once it is loaded, or by
 * `useBackbone`; read by `embed`, so the usual call is `embed(photo)` with no backbone to pass
 * around), the other backbones loaded for heads on them, and the manifest's default
 * heads (read by `predict` when there is no personal head).
 *
 * Leases: every job that uses a loaded backbone's weights (embedding a photo, a prediction, Train's
 * re-embedding, `reembedExamples`, `improve`, a photo's pending views) holds a lease on it from
 * the moment it takes the backbone until it ends ({@link withBackboneLease}). A backbone released
 * or replaced while leased is disposed only when its last lease ends, so a switch or a change of
 * the active head never pulls the weights from under a job; if it becomes wanted again meanwhile
 * (made current, or kept by the next release), it is not disposed at all.
 *
 * A pair (`members`, shared/model/backbone-pair.ts) is loaded over its members, which are loaded
 * backbones like any other (a member already loaded is the one it uses). While a pair is kept
 * (current, or kept by a release), so are its members; a lease on a pair is a lease on each
 * member too; and a member disposed (a new version of it loaded, say) takes the pairs over it with
 * it. A pair holds no weights of its own.
 */
import type { Backbone } from '../../shared/model/backbone.ts';
import type { HeadDocument } from '../../shared/head/document.ts';

let current: Backbone | null = null;
/**
 * Every backbone loaded in this page, by id (one version of each): the current one, and others a
 * head on another backbone loaded. The ones nothing uses any more are released
 * ({@link releaseLoadedBackbones}; the rule: client/lib/backbones.ts). The WASM heap does not shrink
 * when they are, but the memory freed is reused by the next tensors, the next backbone included.
 */
const loaded = new Map<string, Backbone>();

/**
 * Makes `backbone` the one `embed` uses, and keeps it loaded. A loaded backbone of the same id but
 * another version is disposed (its weights freed; once its leases end): keep no references to it.
 * `null` disposes every loaded backbone (each once its leases end).
 */
export function setCurrentBackbone(backbone: Backbone | null): void {
  if (backbone === null) {
    const all = [...loaded.values()];
    loaded.clear();
    for (const b of all) disposeWhenIdle(b);
  } else {
    addLoadedBackbone(backbone);
  }
  current = backbone;
}

/**
 * Keeps `backbone` loaded without making it current (a head on it predicts). A loaded backbone of
 * the same id but another version is disposed (once its leases end).
 */
export function addLoadedBackbone(backbone: Backbone): void {
  // A pair's members are loaded backbones too, kept with it (one released while leased is no
  // longer to be disposed when its lease ends).
  for (const member of backbone.members ?? []) addLoadedBackbone(member);
  const previous = loaded.get(backbone.manifest.id);
  if (previous && previous !== backbone) {
    loaded.delete(backbone.manifest.id);
    disposeWhenIdle(previous);
    if (current === previous) current = null;
  }
  disposeWhenLeasesEnd.delete(backbone);
  loaded.set(backbone.manifest.id, backbone);
}

/**
 * Releases every loaded backbone (its folded weights, and its layers model if built) whose ref is
 * not in `keep`; the current one always stays. One in use is disposed when its last lease ends
 * (it stays loaded until then, and a later release that keeps it cancels that). Keep no
 * references to them. Returns their refs.
 */
export function releaseLoadedBackbones(keep: ReadonlySet<string>): string[] {
  // The current one, and the members of every kept pair, stay too.
  const kept = new Set(keep);
  if (current) kept.add(current.ref);
  for (const backbone of loaded.values()) if (kept.has(backbone.ref)) for (const member of backbone.members ?? []) kept.add(member.ref);
  const released: string[] = [];
  // Pairs first: a pair released goes before the members it used.
  for (const backbone of [...loaded.values()].sort((a, b) => Number(b.members !== undefined) - Number(a.members !== undefined))) {
    if (kept.has(backbone.ref)) {
      disposeWhenLeasesEnd.delete(backbone);
      continue;
    }
    disposeWhenIdle(backbone);
    released.push(backbone.ref);
  }
  return released;
}

// ---------------------------------------------------------------------------------------------
// Leases (module comment)

/** Leases held now, by backbone ref (a switch leases its target by ref before it is loaded). */
const leases = new Map<string, number>();
/** Backbones released or replaced while leased: disposed when the last lease on their ref ends. */
const disposeWhenLeasesEnd = new Set<Backbone>();
/** Backbones this module disposed: a job can no longer lease them. */
const disposed = new WeakSet<Backbone>();

/** A job asked for a backbone that was released before it took it (e.g. by a switch just before). */
export class BackboneReleasedError extends Error {
  override readonly name = 'BackboneReleasedError';
  constructor(readonly backbone: string) {
    super(`the image model ${backbone} was released (the backbone was switched) before this could use it: try again`);
  }
}

/**
 * Takes a lease on `backbone` (or on the ref `<id>@<version>` of one about to load) for a job: no
 * backbone of that ref is disposed until every lease on it has ended. Returns the function that
 * ends this lease (once; later calls do nothing). Throws {@link BackboneReleasedError} when the
 * backbone has already been disposed. Take it in the same synchronous step that picks the
 * backbone (no `await` between), so no release can come between.
 */
export function leaseBackbone(backbone: Backbone | string): () => void {
  const members = typeof backbone === 'string' ? [] : (backbone.members ?? []);
  if (typeof backbone !== 'string' && [backbone, ...members].some((b) => disposed.has(b))) throw new BackboneReleasedError(backbone.ref);
  const ref = typeof backbone === 'string' ? backbone : backbone.ref;
  // A pair's job uses its members' weights: each is leased with it.
  const memberLeases = members.map((member) => leaseBackbone(member));
  leases.set(ref, (leases.get(ref) ?? 0) + 1);
  let ended = false;
  return () => {
    if (ended) return;
    ended = true;
    for (const end of memberLeases) end();
    const left = (leases.get(ref) ?? 1) - 1;
    if (left > 0) {
      leases.set(ref, left);
      return;
    }
    leases.delete(ref);
    for (const b of [...disposeWhenLeasesEnd].filter((d) => d.ref === ref)) {
      disposeWhenLeasesEnd.delete(b);
      disposeWhenIdle(b);
    }
  };
}

/** Runs `job` holding a lease on `backbone` or a ref ({@link leaseBackbone}), ended when the job settles. */
export async function withBackboneLease<T>(backbone: Backbone | string, job: () => Promise<T>): Promise<T> {
  const end = leaseBackbone(backbone);
  try {
    return await job();
  } finally {
    end();
  }
}

/** Disposes `backbone` now, or when its last lease ends; either way it leaves the loaded ones then. */
function disposeWhenIdle(backbone: Backbone): void {
  if (leases.has(backbone.ref)) {
    disposeWhenLeasesEnd.add(backbone);
    return;
  }
  const id = backbone.manifest.id;
  if (loaded.get(id) === backbone) loaded.delete(id);
  disposed.add(backbone);
  backbone.dispose();
  for (const listener of [...disposedListeners]) listener(backbone);
  // A pair over a disposed member cannot embed any more: it goes too.
  for (const pair of [...loaded.values()].filter((b) => b.members?.includes(backbone))) {
    if (current === pair) current = null;
    disposeWhenIdle(pair);
  }
}

const disposedListeners = new Set<(backbone: Backbone) => void>();

/**
 * Calls `listener` right after a loaded backbone is disposed (at once or when its last lease
 * ended), e.g. to drop what is cached on it (client/lib/predict.ts); returns the unsubscribe
 * function.
 */
export function onBackboneDisposed(listener: (backbone: Backbone) => void): () => void {
  disposedListeners.add(listener);
  return () => disposedListeners.delete(listener);
}

/** The loaded backbone `ref` (`<id>@<version>`) names, or undefined. */
export function loadedBackbone(ref: string): Backbone | undefined {
  return [...loaded.values()].find((b) => b.ref === ref);
}

/** The backbone `embed` uses; throws if none is loaded yet. */
export function currentBackbone(): Backbone {
  if (!current) throw new Error('no backbone loaded yet: call loadModels() first');
  return current;
}

/** The backbone `embed` uses, or null before `loadModels` (for code that also runs before it). */
export function currentBackboneOrNull(): Backbone | null {
  return current;
}

let defaults: HeadDocument[] = [];

/** Makes `heads` the default heads `predict` falls back on (`loadModels` calls it). */
export function setDefaultHeads(heads: readonly HeadDocument[]): void {
  defaults = [...heads];
}

/** The default heads of the loaded manifest (empty before `loadModels`). */
export function defaultHeads(): readonly HeadDocument[] {
  return defaults;
}
