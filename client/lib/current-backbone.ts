/**
 * The models the page uses: the current backbone (set by `loadModels` once it is loaded, or by
 * `useBackbone`; read by `embed`, so the usual call is `embed(photo)` with no backbone to pass
 * around), the other backbones loaded for heads on them, and the manifest's default
 * heads (read by `predict` when there is no personal head).
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
 * another version is disposed (its weights freed): keep no references to it. `null` disposes every
 * loaded backbone.
 */
export function setCurrentBackbone(backbone: Backbone | null): void {
  if (backbone === null) {
    for (const b of loaded.values()) b.dispose();
    loaded.clear();
  } else {
    addLoadedBackbone(backbone);
  }
  current = backbone;
}

/**
 * Keeps `backbone` loaded without making it current (a head on it predicts). A loaded backbone of
 * the same id but another version is disposed.
 */
export function addLoadedBackbone(backbone: Backbone): void {
  const previous = loaded.get(backbone.manifest.id);
  if (previous && previous !== backbone) {
    previous.dispose();
    if (current === previous) current = null;
  }
  loaded.set(backbone.manifest.id, backbone);
}

/**
 * Disposes every loaded backbone (its folded weights, and its layers model if built) whose ref is
 * not in `keep`; the current one always stays. Keep no references to them. Returns their refs.
 */
export function releaseLoadedBackbones(keep: ReadonlySet<string>): string[] {
  const released: string[] = [];
  for (const [id, backbone] of loaded) {
    if (backbone === current || keep.has(backbone.ref)) continue;
    loaded.delete(id);
    backbone.dispose();
    released.push(backbone.ref);
  }
  return released;
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
