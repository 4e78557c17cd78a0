/**
 * The backbone the page embeds with: set by `loadModels` once the backbone is loaded, read by
 * `embed` (so the usual call is `embed(photo)`, with no backbone to pass around).
 */
import type { Backbone } from '../../shared/backbone.ts';

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
