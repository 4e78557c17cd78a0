/**
 * "Improve further" (fine-tuning the top layers, self-training on unlabeled photos): shown after a
 * head training once the library offers it.
 */
import type { AppContext } from '../context.ts';

/** Renders the improve panel into `root`; returns the cleanup. */
export function improvePanel(root: HTMLElement, ctx: AppContext): () => void {
  void root;
  void ctx;
  return () => undefined;
}
