/**
 * The backbone choice kept on this device (the rule itself: client/lib/backbone-choice.ts): the
 * person's choice and the base backbone's first-run forward time.
 *
 * The choice and the measurement are kept in `localStorage` (small, per origin, read synchronously
 * before the models load); the IndexedDB schema is not touched for them.
 */
import { BACKBONE_RULE, chooseBackbone, type BackboneRule, type ForwardMeasurement } from './backbone-choice.ts';

const STORAGE_KEY = 'tannerin.backbone';

/** What is kept about the backbone choice on this device. */
export interface StoredBackboneChoice {
  /** The backbone id the person chose, or null (the rule decides). */
  personChoice: string | null;
  /** The base backbone's forward time, measured at first run. */
  measurement: ForwardMeasurement | null;
}

/** The choice kept on this device (nothing chosen or measured when storage is unavailable). */
export function storedBackboneChoice(): StoredBackboneChoice {
  try {
    const raw = globalThis.localStorage?.getItem(STORAGE_KEY);
    if (raw) {
      const value = JSON.parse(raw) as Partial<StoredBackboneChoice>;
      return {
        personChoice: typeof value.personChoice === 'string' ? value.personChoice : null,
        measurement: value.measurement && typeof value.measurement.forwardMs === 'number' ? value.measurement : null,
      };
    }
  } catch {
    // Storage blocked (some private modes) or a damaged value: as if nothing were kept.
  }
  return { personChoice: null, measurement: null };
}

/** Keeps `change` merged into the stored choice (silently not kept when storage is unavailable). */
export function updateStoredBackboneChoice(change: Partial<StoredBackboneChoice>): void {
  try {
    globalThis.localStorage?.setItem(STORAGE_KEY, JSON.stringify({ ...storedBackboneChoice(), ...change }));
  } catch {
    // Not kept: the rule decides again next time.
  }
}

/** Forgets the person's choice and the measurement (tests; a person resetting the choice). */
export function clearStoredBackboneChoice(): void {
  try {
    globalThis.localStorage?.removeItem(STORAGE_KEY);
  } catch {
    // Nothing kept anyway.
  }
}

/**
 * The backbone id `loadModels` loads by default: the person's choice if any; else the rule's pick
 * from the stored measurement, which is the base backbone unless fast devices default to the
 * larger one and this device measured fast. Null: the manifest's default.
 */
export function chosenBackboneId(rule: BackboneRule = BACKBONE_RULE): string | null {
  const stored = storedBackboneChoice();
  if (stored.personChoice) return stored.personChoice;
  if (!stored.measurement) return null;
  // Both candidates given as served: loadModels falls back to the default when one is not.
  return chooseBackbone([rule.base, rule.larger], stored.measurement, null, rule).backbone;
}
