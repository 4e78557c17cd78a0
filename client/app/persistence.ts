/**
 * Asking the browser to keep the app's storage (`navigator.storage.persist()`), at a moment that
 * makes sense to the person: right after the first photo of a page visit is stored (the first
 * time there is something of theirs to lose; Firefox shows a prompt, so never at page load).
 * The answer is said in a message when it differs from the last one said (remembered in
 * localStorage), and the Models screen shows the current state.
 */
import { requestPersistence, type PersistenceResult } from '../lib/index.ts';
import type { Tone } from './context.ts';
import { browserNeedsHomeScreen } from './platform.ts';

/** The localStorage key holding the last answer told to the person. */
export const PERSISTENCE_TOLD_KEY = 'tannerin.persistence.told';

type Answer = 'granted' | 'refused' | 'unsupported';

let asking: Promise<PersistenceResult | null> | null = null;

function answerOf(result: PersistenceResult): Answer {
  if (result.persisted) return 'granted';
  return result.supported ? 'refused' : 'unsupported';
}

/** The answer in words; `ios` adds the Home Screen advice (Safari's 7-day deletion). */
export function persistenceMessage(answer: Answer, ios: boolean): { text: string; tone: Tone } {
  if (answer === 'granted') return { text: 'This browser will keep your photos and models: storage is permanent.', tone: 'good' };
  const keep = ios
    ? 'Add tannerin to the Home Screen to keep them (see the note at the top), or export models or turn on sync on the Models screen.'
    : 'Export models or turn on sync on the Models screen to keep a copy.';
  if (answer === 'refused') return { text: `The browser did not promise to keep your photos and models (it may clear them when space runs low). ${keep}`, tone: 'warn' };
  return { text: `This browser cannot promise to keep your photos and models. ${keep}`, tone: 'warn' };
}

function lastTold(): string | null {
  try {
    return localStorage.getItem(PERSISTENCE_TOLD_KEY);
  } catch {
    return null;
  }
}

function rememberTold(answer: Answer): void {
  try {
    localStorage.setItem(PERSISTENCE_TOLD_KEY, answer);
  } catch {
    // Not remembered: the answer is said again next visit.
  }
}

/**
 * Asks for persistent storage once per page visit (later calls get the same answer) and tells
 * `notify` the answer when it is new (with the Home Screen advice on an iPhone or iPad in a tab). Resolves to the library's result, or null if asking failed.
 */
export function askPersistenceOnce(notify: (text: string, tone: Tone) => void): Promise<PersistenceResult | null> {
  asking ??= requestPersistence().then(
    (result) => {
      const answer = answerOf(result);
      if (lastTold() !== answer) {
        const message = persistenceMessage(answer, browserNeedsHomeScreen());
        notify(message.text, message.tone);
        rememberTold(answer);
      }
      return result;
    },
    () => null,
  );
  return asking;
}
