/**
 * The Teach screen's crop box edits (issue 17 point 5), one per screen: what outlives a card drawn
 * again (a stored change re-renders it): which photo's box is being adjusted (shown large with a
 * row of buttons, client/app/crop-box.ts), boxes moved but not stored yet (the keys and the
 * Bigger/Smaller buttons wait for a pause, each store re-cuts the crop), and one polite live region
 * that says what changed once it is stored (not at every key press). Every change of every input
 * (drag, tap, keys, buttons) is stored here, through `setCropBox` only.
 */
import type { Box } from '../../shared/crop/box.ts';
import { setCropBox } from '../lib/index.ts';
import { h } from './dom.ts';

/** How long the keys or buttons pause before the box they moved is stored. */
export const SETTLE_MS = 600;
/** A newer message within this time replaces the one waiting (no queue of stale announcements). */
const ANNOUNCE_MS = 250;

const same = (a: Box, b: Box): boolean => a.x === b.x && a.y === b.y && a.width === b.width && a.height === b.height;

/** A box moved on screen and not stored yet. */
interface Draft {
  box: Box;
  /** The stored box it started from (Escape goes back to it). */
  stored: Box;
  /** What to say once it is stored. */
  words: string;
  timer?: ReturnType<typeof setTimeout>;
}

/** The crop box edits of one Teach screen. */
export class CropBoxEdits {
  /** The polite live region: placed once on the screen, outside the cards drawn again. */
  readonly live: HTMLElement = h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite', 'data-testid': 'crop-live' });
  private adjusting: { id: string; classId: string } | null = null;
  private readonly drafts = new Map<string, Draft>();
  private announceTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param redraw draws a class's card again (a photo's adjusting row came or went)
   * @param onError shows a failed store
   */
  constructor(
    private readonly redraw: (classId: string) => void,
    private readonly onError: (message: string) => void,
  ) {}

  /** Whether photo `id`'s box is being adjusted (drawn large, with its row of buttons). */
  isAdjusting(id: string): boolean {
    return this.adjusting?.id === id;
  }

  /** Adjusts photo `id`'s box (in class `classId`'s card); another photo's stops. */
  open(id: string, classId: string): void {
    if (this.adjusting?.id === id) return;
    const before = this.adjusting;
    this.adjusting = { id, classId };
    if (before && before.classId !== classId) this.redraw(before.classId);
    this.redraw(classId);
  }

  /** Stops adjusting photo `id`'s box (storing what waits), if it was. */
  close(id: string): void {
    if (this.adjusting?.id !== id) return;
    this.flush(id);
    const { classId } = this.adjusting;
    this.adjusting = null;
    this.redraw(classId);
  }

  /** Photo `id`'s box as moved and not stored yet, if it was. */
  draft(id: string): Box | undefined {
    return this.drafts.get(id)?.box;
  }

  /**
   * Photo `id`'s box is now `box` (from `stored`): stored at once (`now`: a drag let go, a tap)
   * or after a pause of {@link SETTLE_MS} (`settle`: keys, buttons); `words` are said once stored.
   */
  change(id: string, stored: Box, box: Box, when: 'now' | 'settle', words: string): void {
    const old = this.drafts.get(id);
    clearTimeout(old?.timer);
    const draft: Draft = { box, stored: old?.stored ?? stored, words };
    this.drafts.set(id, draft);
    if (when === 'now') this.flush(id);
    else draft.timer = setTimeout(() => this.flush(id), SETTLE_MS);
  }

  /** Stores photo `id`'s waiting box now (the focus left it, Enter, Done). */
  flush(id: string): void {
    const draft = this.drafts.get(id);
    if (!draft) return;
    clearTimeout(draft.timer);
    draft.timer = undefined;
    if (same(draft.box, draft.stored)) {
      this.drafts.delete(id);
      return;
    }
    setCropBox(id, draft.box).then(
      (stored) => {
        // A newer move waits: it stays the box drawn.
        if (this.drafts.get(id) === draft) this.drafts.delete(id);
        if (stored) this.announce(draft.words);
      },
      (err: unknown) => {
        if (this.drafts.get(id) === draft) this.drafts.delete(id);
        this.onError(err instanceof Error ? err.message : String(err));
      },
    );
  }

  /** Drops photo `id`'s waiting box (Escape): the stored box it started from, or undefined when none waited. */
  cancel(id: string): Box | undefined {
    const draft = this.drafts.get(id);
    if (!draft) return undefined;
    clearTimeout(draft.timer);
    this.drafts.delete(id);
    return draft.stored;
  }

  /** Puts photo `id`'s box back where it was found (`setCropBox` with null); `words` are said once stored. */
  reset(id: string, words: string): void {
    this.cancel(id);
    setCropBox(id, null).then(
      (stored) => stored && this.announce(words),
      (err: unknown) => this.onError(err instanceof Error ? err.message : String(err)),
    );
  }

  /** Says `message` in the live region, once things calm down (a newer one replaces it). */
  announce(message: string): void {
    clearTimeout(this.announceTimer);
    this.announceTimer = setTimeout(() => {
      // Emptied first, so the same words said twice are said again.
      this.live.textContent = '';
      requestAnimationFrame(() => (this.live.textContent = message));
    }, ANNOUNCE_MS);
  }

  /** The screen goes: boxes waiting are stored now. */
  dispose(): void {
    for (const id of [...this.drafts.keys()]) this.flush(id);
    clearTimeout(this.announceTimer);
  }
}
