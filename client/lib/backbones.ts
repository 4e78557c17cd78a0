/**
 * Several backbones on one device: applying the choice rule at first run (client/lib/backbone-choice.ts),
 * switching the backbone `embed`, `train` and `predict` use (download with progress, then the
 * examples re-embedded with progress and cancel), loading the backbone a head was trained on when
 * it predicts, and releasing the backbones nothing uses.
 *
 * The release rule: a backbone stays loaded while it is the current one (`embed`, `train`) or the
 * one the head `predict` uses when none is named runs on (the active head; with none, the first
 * default head), or while a switch to it is under way. Every other loaded backbone is released
 * (its weights disposed; its files stay stored, so a head on it loads it again when it predicts,
 * without a download) when the backbone is switched and when the active head changes. So a switch
 * frees the previous backbone unless the active head needs it, and once the active head is on the
 * new one too, the previous one goes. A head named explicitly (`predict(photo, { headId })`) on
 * another backbone loads it until the next switch or change of the active head.
 *
 * A backbone a job is using (a prediction, an embedding, Train, Improve, a re-embedding; a switch
 * leases its target from before it loads) is released only when that job ends: its lease
 * (client/lib/current-backbone.ts `leaseBackbone`) defers the disposal, and it is cancelled if the
 * backbone is made current or kept by a later release meanwhile.
 *
 * A pair (`mobilenet_v2+inception_v3`, shared/model/backbone-pair.ts) is one more served backbone
 * here: switching to it downloads what is missing of both members with one progress, loads each
 * (reusing one already loaded) and re-embeds the examples on their concatenated embedding. While it
 * is current or kept, its members stay loaded too (client/lib/current-backbone.ts).
 */
import type { Backbone } from '../../shared/model/backbone.ts';
import { backboneRef } from '../../shared/model/manifest.ts';
import { BACKBONE_RULE, chooseBackbone, measureForwardMs, type BackboneChoice, type BackboneRule } from './backbone-choice.ts';
import { storedBackboneChoice, updateStoredBackboneChoice } from './backbone-choice-store.ts';
import { notifyChange, onChange } from './changes.ts';
import {
  currentBackbone,
  currentBackboneOrNull,
  defaultHeads,
  leaseBackbone,
  loadedBackbone,
  releaseLoadedBackbones,
  setCurrentBackbone,
  withBackboneLease,
} from './current-backbone.ts';
import { openTannerinDb } from './db.ts';
import { activeHeadId } from './heads.ts';
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
    measurement = { backbone: current.ref, forwardMs: await withBackboneLease(current, () => measureForwardMs(current)), measured: new Date().toISOString() };
    await updateStoredBackboneChoice({ measurement });
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
  watchActiveHead();
  const target = findServedBackbone(loadedManifest(), idOrRef);
  // Leased by ref from before it loads until it is current (or the switch fails): a release
  // meanwhile (the active head changing) leaves it loaded; a pair's members too.
  return withBackboneLeases(target ? [backboneRef(target), ...(target.members ?? [])] : [idOrRef], async () => {
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
      // The previous one goes now unless the active head needs it (the module comment's rule); the
      // message drops the predictors cached on it too.
      await releaseUnused();
      notifyChange({ type: 'models-updated', backbone: next.ref });
    }
    if ((options.by ?? 'person') === 'person') await updateStoredBackboneChoice({ personChoice: next.manifest.id });
    return { backbone: next.ref, previous: previous.ref, reembedded };
  });
}

/** Runs `job` holding a lease on each of `refs` (client/lib/current-backbone.ts), ended when it settles. */
async function withBackboneLeases<T>(refs: readonly string[], job: () => Promise<T>): Promise<T> {
  const ends = refs.map((ref) => leaseBackbone(ref));
  try {
    return await job();
  } finally {
    for (const end of ends) end();
  }
}

/** The backbone ref the head `predict` uses when none is named runs on: the active head's, else the first default head's. */
async function defaultPredictionBackbone(): Promise<string | null> {
  const id = await activeHeadId();
  const doc = id === null ? undefined : await (await openTannerinDb()).get('heads', id);
  return doc?.backbone ?? defaultHeads()[0]?.backbone ?? null;
}

/** The last release asked for: releases run one after another, each deciding on the state it sees. */
let releasing: Promise<unknown> = Promise.resolve();

/** Releases the loaded backbones the rule (module comment) does not keep, after any release under way; returns their refs. */
function releaseUnused(): Promise<string[]> {
  const next = releasing.then(releaseNow);
  releasing = next.catch(() => undefined);
  return next;
}

async function releaseNow(): Promise<string[]> {
  const predictsWith = await defaultPredictionBackbone().catch(() => null);
  // The current one always stays (releaseLoadedBackbones reads it after this await). Backbones in
  // use are disposed when their jobs end.
  return releaseLoadedBackbones(new Set(predictsWith ? [predictsWith] : []));
}

/**
 * Releases every loaded backbone the release rule (module comment) does not keep, and drops the
 * predictors cached on them; resolves with their refs, once every release asked for before it has
 * run (one a job is using is disposed when that job ends). A switch and a change of the active head
 * call it; call it to free memory after predicting with a head named on another backbone.
 */
export async function releaseUnusedBackbones(): Promise<string[]> {
  const released = await releaseUnused();
  const current = currentBackboneOrNull();
  if (released.length && current) notifyChange({ type: 'models-updated', backbone: current.ref });
  return released;
}

let watchingActiveHead = false;

/** From the first time a second backbone may load: a change of the active head (here or in another tab) applies the rule. */
function watchActiveHead(): void {
  if (watchingActiveHead) return;
  watchingActiveHead = true;
  onChange((message) => {
    if (message.type === 'active-head-changed') releaseUnusedBackbones().catch(() => undefined);
  });
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
  // A release under way (the active head just changed) could otherwise dispose what it returns.
  await releasing;
  const loaded = loadedBackbone(ref);
  if (loaded) return loaded;
  watchActiveHead();
  const served = findServedBackbone(loadedManifest(), ref);
  if (!served || backboneRef(served) !== ref) {
    throw new Error(`"${headName}" was made for backbone ${ref}, which this server no longer serves: re-embed the examples and train it again`);
  }
  const status = (await backboneStatuses()).find((s) => s.ref === ref);
  if (status && status.downloadBytes > 0) throw new BackboneNeededError(ref, status.downloadBytes, headName);
  return loadServedBackbone(ref);
}
