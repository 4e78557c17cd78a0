/**
 * What every screen gets: the loaded models, the backend, connectivity, messages, and a registry
 * of long work in progress (so an update does not reload the page in the middle of a training).
 */
import type { BackendInfo, LoadedModels } from '../lib/index.ts';

/** A screen: `mount` renders into `root` and returns a cleanup (stop the camera, unsubscribe). */
export interface Screen {
  id: 'teach' | 'train' | 'predict' | 'models';
  title: string;
  mount(root: HTMLElement, ctx: AppContext): () => void;
}

export type Tone = 'info' | 'good' | 'warn' | 'error';

export interface AppContext {
  models: LoadedModels;
  backend: BackendInfo;
  /** Whether the browser says it is online. */
  online(): boolean;
  /** Calls `handler` when connectivity changes; returns the unsubscribe function. */
  onOnlineChange(handler: (online: boolean) => void): () => void;
  /** Shows a short message (polite live region). */
  notify(message: string, tone?: Tone): void;
  /** Marks long work as running until the returned function is called. */
  busy(what: string): () => void;
  /** Whether long work runs (training, improving, adding photos); with `what`, that work only. */
  isBusy(what?: string): boolean;
  /** Navigates to a screen. */
  go(screen: Screen['id']): void;
}
