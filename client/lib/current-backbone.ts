/**
 * The models the page uses: the backbone (set by `loadModels` once it is loaded, read by `embed`,
 * so the usual call is `embed(photo)` with no backbone to pass around) and the manifest's default
 * heads (read by `predict` when there is no personal head).
 */
import type { Backbone } from '../../shared/model/backbone.ts';
import type { HeadDocument } from '../../shared/head/document.ts';

let current: Backbone | null = null;

/**
 * Makes `backbone` the one `embed` uses. The previous one, if different, is disposed (its weights
 * freed): keep no references to it.
 */
export function setCurrentBackbone(backbone: Backbone | null): void {
  if (current && current !== backbone) current.dispose();
  current = backbone;
}

/** The backbone `embed` uses; throws if none is loaded yet. */
export function currentBackbone(): Backbone {
  if (!current) throw new Error('no backbone loaded yet: call loadModels() first');
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
