/**
 * The backbone choice kept on this device (the rule itself: client/lib/backbone-choice.ts): the
 * person's choice and the base backbone's first-run forward time.
 *
 * They are kept in IndexedDB with the rest of the app's state (the `settings` store, one record
 * under `backboneChoice`; no schema change), so clearing, persisting and offline treat them like
 * everything else. They are read once at start (`loadModels`) and kept in memory for the
 * synchronous readers. An older version kept them in `localStorage`: moved once, then removed there.
 */
import { BACKBONE_RULE, chooseBackbone, type BackboneRule, type ForwardMeasurement } from './backbone-choice.ts';
import { openTannerinDb, type TannerinDb } from './db.ts';


/** The IndexedDB `settings` record that keeps the choice. */
const SETTING_KEY = 'backboneChoice';
/** Where the choice was kept before it moved to IndexedDB: read once, moved, then removed. */
const LEGACY_STORAGE_KEY = 'tannerin.backbone';

/** What is kept about the backbone choice on this device. */
export interface StoredBackboneChoice {
  /** The backbone id the person chose, or null (the rule decides). */
  personChoice: string | null;
  /** The base backbone's forward time, measured at first run. */
  measurement: ForwardMeasurement | null;
}

const NOTHING_KEPT: StoredBackboneChoice = Object.freeze({ personChoice: null, measurement: null });
/** The kept choice as last read or written: what the synchronous readers see. */
let kept: StoredBackboneChoice = NOTHING_KEPT;
/** The database the last {@link loadStoredBackboneChoice} read (`loadModels`' own): writes go there too. */
let keptIn: TannerinDb | undefined;

/** `value` as a kept choice, or null when it is not one (absent or damaged). */
function keptChoice(value: unknown): StoredBackboneChoice | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Partial<StoredBackboneChoice>;
  const m = v.measurement;
  return {
    personChoice: typeof v.personChoice === 'string' ? v.personChoice : null,
    measurement: m && typeof m.forwardMs === 'number' && typeof m.backbone === 'string' ? { backbone: m.backbone, forwardMs: m.forwardMs, measured: String(m.measured) } : null,
  };
}

/** The choice an older version kept in localStorage, or null (none, damaged, or storage blocked). */
function legacyChoice(): StoredBackboneChoice | null {
  try {
    const raw = globalThis.localStorage?.getItem(LEGACY_STORAGE_KEY);
    return raw ? keptChoice(JSON.parse(raw)) : null;
  } catch {
    return null;
  }
}

function removeLegacyChoice(): void {
  try {
    globalThis.localStorage?.removeItem(LEGACY_STORAGE_KEY);
  } catch {
    // Storage blocked: nothing to remove.
  }
}

/**
 * Reads the kept choice from IndexedDB (`settings`, key `backboneChoice`) into memory, where
 * {@link storedBackboneChoice} and {@link chosenBackboneId} read it synchronously; `loadModels`
 * calls it at start. A choice an older version kept in `localStorage` moves into IndexedDB once
 * (unless IndexedDB already holds one, which wins) and is then removed from `localStorage`. When
 * IndexedDB cannot be used, a choice still in `localStorage` is used and left there.
 */
export async function loadStoredBackboneChoice(db?: TannerinDb): Promise<StoredBackboneChoice> {
  keptIn = db;
  try {
    const database = db ?? (await openTannerinDb());
    const legacy = legacyChoice();
    if (!legacy) {
      kept = keptChoice(await database.get('settings', SETTING_KEY)) ?? NOTHING_KEPT;
      return kept;
    }
    // Read and moved in one transaction: a tab moving it late cannot overwrite a newer choice.
    const tx = database.transaction('settings', 'readwrite');
    let record = keptChoice(await tx.store.get(SETTING_KEY));
    if (!record) {
      record = legacy;
      await tx.store.put({ key: SETTING_KEY, ...legacy });
    }
    await tx.done;
    removeLegacyChoice();
    kept = record;
  } catch {
    kept = legacyChoice() ?? NOTHING_KEPT;
  }
  return kept;
}

/**
 * The choice kept on this device, as {@link loadStoredBackboneChoice} read it at start and
 * {@link updateStoredBackboneChoice} changed it since (nothing chosen or measured before the first read).
 */
export function storedBackboneChoice(): StoredBackboneChoice {
  return kept;
}

/**
 * Keeps `change` merged into the stored choice: read, merged and written in one IndexedDB
 * transaction (another tab's change to the other field is kept). When it cannot be written, this
 * page still uses it and the rule decides again next time. Resolves with the choice now kept.
 * `db`: by default the one the choice was loaded from.
 */
export async function updateStoredBackboneChoice(change: Partial<StoredBackboneChoice>, db = keptIn): Promise<StoredBackboneChoice> {
  try {
    const database = db ?? (await openTannerinDb());
    const tx = database.transaction('settings', 'readwrite');
    const merged = { ...(keptChoice(await tx.store.get(SETTING_KEY)) ?? NOTHING_KEPT), ...change };
    await Promise.all([tx.store.put({ key: SETTING_KEY, ...merged }), tx.done]);
    kept = merged;
  } catch {
    kept = { ...kept, ...change };
  }
  return kept;
}

/**
 * The backbone id `loadModels` loads by default (after {@link loadStoredBackboneChoice}): the
 * person's choice if any; else the rule's pick from the stored measurement, which is the base
 * backbone unless fast devices default to the larger one and this device measured fast. Null: the
 * manifest's default.
 */
export function chosenBackboneId(rule: BackboneRule = BACKBONE_RULE): string | null {
  const stored = storedBackboneChoice();
  if (stored.personChoice) return stored.personChoice;
  if (!stored.measurement) return null;
  // Both candidates given as served: loadModels falls back to the default when one is not.
  return chooseBackbone([rule.base, rule.larger], stored.measurement, null, rule).backbone;
}
