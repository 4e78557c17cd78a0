/**
 * Several backbones on one device: applying the choice rule at first run (client/lib/backbone-choice.ts),
 * switching the backbone `embed`, `train` and `predict` use (download with progress, then the
 * examples re-embedded with progress and cancel), and loading the backbone a head was trained on
 * when it predicts.
 */
import type { Backbone } from '../../shared/model/backbone.ts';
import { backboneRef } from '../../shared/model/manifest.ts';
import { BACKBONE_RULE, chooseBackbone, measureForwardMs, type BackboneChoice, type BackboneRule } from './backbone-choice.ts';
import { storedBackboneChoice, updateStoredBackboneChoice } from './backbone-choice-store.ts';
import { notifyChange } from './changes.ts';
import { currentBackbone, loadedBackbone, setCurrentBackbone } from './current-backbone.ts';
import { reembedExamples } from './reembed.ts';
import { backboneStatuses, findServedBackbone, loadedManifest, loadServedBackbone, servedBackboneList } from './model-store.ts';
import { formatMegabytes } from './storage.ts';

/**
 * The rule's decision for this device ({@link chooseBackbone}). The first time it runs on the base
 * backbone (MobileNetV2) it measures that backbone's forward time and keeps it; later calls reuse the
 * measurement. Call after `loadModels`.
 */
export async function backboneChoice(options: { rule?: BackboneRule; measure?: boolean } = {}): Promise<BackboneChoice> {
  const rule = options.rule ?? BACKBONE_RULE;
  const stored = storedBackboneChoice();
  let measurement = stored.measurement;
  const current = currentBackbone();
  if ((options.measure ?? true) && !measurement && current.manifest.id === rule.base) {
    measurement = { backbone: current.ref, forwardMs: await measureForwardMs(current), measured: new Date().toISOString() };
    updateStoredBackboneChoice({ measurement });
  }
  return chooseBackbone(servedBackboneList(loadedManifest()).map((b) => b.id), measurement, stored.personChoice, rule);
}

/** Options for {@link useBackbone}. */
export interface UseBackboneOptions {
  /** Download progress in bytes (stored files count at once). */
  onDownloadProgress?: (done: number, total: number) => void;
  /** Re-embedding progress in examples: (0, total) first, then after each example. */
  onReembedProgress?: (done: number, total: number) => void;
  /**
   * Cancels the download or the re-embedding: the backbone in use stays the previous one (files
   * and examples done so far are kept, so a later switch resumes).
   */
  signal?: AbortSignal;
  /** `person` (default): kept as the person's choice, which the rule never overrides. `rule`: not kept. */
  by?: 'person' | 'rule';
}

/** What {@link useBackbone} did. */
export interface UseBackboneReport {
  /** `<id>@<version>` now in use. */
  backbone: string;
  /** `<id>@<version>` in use before. */
  previous: string;
  /** Examples embedded on the new backbone. */
  reembedded: number;
}

/**
 * Switches to a served backbone (`inception_v3` or `<id>@<version>`): downloads it if needed, loads
 * it, re-embeds the stored examples on it, and only then makes it the one `embed`, `train` and
 * `predict` use. Heads keep the backbone they were trained on: each predicts on its own.
 */
export async function useBackbone(idOrRef: string, options: UseBackboneOptions = {}): Promise<UseBackboneReport> {
  const previous = currentBackbone();
  const next = await loadServedBackbone(idOrRef, { ...(options.onDownloadProgress ? { onProgress: options.onDownloadProgress } : {}), ...(options.signal ? { signal: options.signal } : {}) });
  let reembedded = 0;
  if (next !== previous) {
    // Embedded on `next` before it becomes current (client/lib/reembed.ts keeps every backbone's
    // embeddings): a cancel leaves the backbone in use as it was, and a later switch resumes.
    ({ reembedded } = await reembedExamples(next, {
      ...(options.onReembedProgress ? { onProgress: options.onReembedProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    }));
    setCurrentBackbone(next);
    notifyChange({ type: 'models-updated', backbone: next.ref });
  }
  if ((options.by ?? 'person') === 'person') updateStoredBackboneChoice({ personChoice: next.manifest.id });
  return { backbone: next.ref, previous: previous.ref, reembedded };
}

/** A head's backbone is served but not on this device yet: what to download. */
export class BackboneNeededError extends Error {
  override readonly name = 'BackboneNeededError';
  constructor(
    /** `<id>@<version>` the head needs. */
    readonly backbone: string,
    /** Bytes to download before it can load. */
    readonly downloadBytes: number,
    headName: string,
  ) {
    super(`"${headName}" runs on ${backbone}, which is not on this device yet: download it first (${formatMegabytes(downloadBytes)})`);
  }
}

/**
 * The loaded backbone `ref` (`<id>@<version>`) for a head named `headName`: at once when loaded,
 * else loaded from its stored files. Throws {@link BackboneNeededError} when its files are not all
 * stored (nothing is downloaded without being asked: it is several MB), and an Error when the
 * manifest does not serve it.
 */
export async function backboneForHead(ref: string, headName: string): Promise<Backbone> {
  const loaded = loadedBackbone(ref);
  if (loaded) return loaded;
  const served = findServedBackbone(loadedManifest(), ref);
  if (!served || backboneRef(served) !== ref) {
    throw new Error(`"${headName}" was made for backbone ${ref}, which this server no longer serves: re-embed the examples and train it again`);
  }
  const status = (await backboneStatuses()).find((s) => s.ref === ref);
  if (status && status.downloadBytes > 0) throw new BackboneNeededError(ref, status.downloadBytes, headName);
  return loadServedBackbone(ref);
}
