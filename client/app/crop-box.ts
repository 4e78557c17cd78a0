/**
 * The crop box on a Teach thumbnail (issue 17 point 5): where the photo's stored crop
 * (client/lib/example-crops.ts) is, drawn over the square thumbnail; the person can move it and
 * resize it, put it back where it was found ("Reset", shown once they moved it), and turn the crop
 * off (Train then uses the whole photo) or on again for that one photo. Each way of moving it
 * without dragging too (WCAG 2.5.7 and 2.1.1):
 * - drag it (mouse, pen or finger), or its bottom-right corner to resize it;
 * - tap the photo (or press Enter on it): it is "adjusted", drawn large with a row of buttons
 *   (Smaller, Bigger, Found box, Done); a tap on the large photo puts the box's centre there;
 * - focus it: arrow keys move it (Shift: farther), + and - resize it, Enter adjusts or is done,
 *   Escape takes back a move not stored yet, then stops adjusting.
 * It stays square in the photo's pixels, as found boxes are (the crop is scaled to the square
 * input), and inside the photo. Every change is stored through client/app/crop-box-edit.ts
 * (`setCropBox`: the crop is cut again and embedded in the background) and said politely once
 * stored. While the object detector is on, the box it found shows too, dashed (the person's box
 * wins for both methods).
 */
import type { Box } from '../../shared/crop/box.ts';
import { setCropOff, type ExampleCrop } from '../lib/index.ts';
import type { CropBoxEdits } from './crop-box-edit.ts';
import { boxInThumb, boxWords, centreBoxAt, moveBox, resizeBox } from './crop-box-place.ts';
import { h } from './dom.ts';

/** An arrow key moves the box by this fraction of the thumbnail (with Shift: 5 times as far). */
const KEY_STEP = 0.02;
/** The Bigger and Smaller buttons resize by this fraction of the thumbnail. */
const BUTTON_STEP = 0.1;
/** A pointer that moved less than this (px) between down and up tapped, it did not drag. */
const TAP_SLOP_PX = 8;

const ARROWS: Record<string, [number, number]> = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
/** Keys that resize the box about its centre, by this many steps. */
const SIZE_KEYS: Record<string, number> = { '+': 1, '=': 1, '-': -1, _: -1 };

/** The photo a crop box is on. */
export interface CropPhoto {
  id: string;
  classId: string;
  width: number;
  height: number;
  crop?: ExampleCrop;
  detectorCrop?: { box: Box; byPerson?: true };
}

/** What {@link cropOverlay} draws: inside the thumbnail, and the adjusting row after it. */
export interface CropOverlay {
  /** The boxes, the keyboard's handle and the Reset and on/off buttons, inside the thumbnail. */
  inThumb: HTMLElement[];
  /** Whether the box is being adjusted: the thumbnail is drawn large (class `adjusting`). */
  adjusting: boolean;
  /** While adjusting: the row of buttons to put after the thumbnail. */
  row: HTMLElement | null;
}

/**
 * The box over a thumbnail, its Reset button when the person moved it, and its on/off button;
 * nothing when the photo has no crop yet. `name` names the photo for screen readers. With
 * `detector` (the object detector is on), the box the detector found, when the photo has one and
 * the person did not place the box (theirs wins for both methods): a second, dashed outline, not
 * movable; moving the solid box sets the person's box. `edits` keeps and stores what changes.
 */
export function cropOverlay(example: CropPhoto, name: string, edits: CropBoxEdits, onError: (message: string) => void, detector = false): CropOverlay {
  const crop = example.crop;
  if (!crop) return { inThumb: [], adjusting: false, row: null };
  const { id, width, height } = example;
  const found = detector && !crop.off && !crop.byPerson && example.detectorCrop && !example.detectorCrop.byPerson ? detectorBox(example.detectorCrop.box, width, height) : null;
  const failed = (err: unknown): void => onError(err instanceof Error ? err.message : String(err));
  // What is drawn, and what a pointer drags (touch-action: none on it only, so a swipe elsewhere
  // on the thumbnail still scrolls the page). Hidden from assistive technology: `handle` speaks for it.
  const box = h('span', { class: crop.off ? 'crop-box off' : 'crop-box', 'data-testid': 'crop-box', 'aria-hidden': 'true', ...(crop.byPerson ? { 'data-by-person': '' } : {}) });
  // A move not stored yet survives the card being drawn again.
  let current: Box = edits.draft(id) ?? crop.box;
  const place = (b: Box): void => {
    const p = boxInThumb(b, width, height);
    // Set through CSSOM (a style attribute would need 'unsafe-inline' in the CSP's style-src).
    box.style.left = `${p.left.toFixed(1)}%`;
    box.style.top = `${p.top.toFixed(1)}%`;
    box.style.width = `${p.width.toFixed(1)}%`;
    box.style.height = `${p.height.toFixed(1)}%`;
  };
  place(current);
  /** The one way every input changes the box: drawn at once, stored through `edits`, said once stored. */
  const change = (next: Box, when: 'now' | 'settle', how: 'moved' | 'bigger' | 'smaller'): void => {
    if (next.x === current.x && next.y === current.y && next.width === current.width) {
      edits.announce(how === 'moved' ? `The box on ${name} is at the edge of the photo.` : `The box on ${name} is as ${how === 'bigger' ? 'large' : 'small'} as it can be.`);
      if (when === 'now') edits.flush(id);
      return;
    }
    const words = `Box on ${name} ${how === 'moved' ? 'moved' : `made ${how}`}: ${boxWords(next, width, height)}.`;
    current = next;
    place(current);
    edits.change(id, crop.box, current, when, words);
  };
  const resize = (steps: number, by: number): void => change(resizeBox(current, steps * by, width, height, 'centre'), 'settle', steps > 0 ? 'bigger' : 'smaller');
  /** Back where it was found: a move not stored yet is dropped at once (nothing stored may change). */
  const putBack = (): void => {
    const back = edits.cancel(id);
    if (back) {
      current = back;
      place(current);
    }
    edits.reset(id, `Box on ${name} put back where the object was found.`);
  };
  const adjusting = !crop.off && edits.isAdjusting(id);
  // While adjusting, the row's "Found box" does this; the corner button would cover the box's resize corner.
  const reset = crop.byPerson && !adjusting
    ? h(
        'button',
        {
          type: 'button',
          class: 'crop-reset',
          'data-testid': 'crop-reset',
          // Gone once pressed: the focus goes to the box's handle (client/app/screens/teach.ts).
          'data-focus-key': `crop-box:${id}`,
          'aria-label': `Put the box on ${name} back where the object was found`,
          title: 'Put the box back where the object was found',
          onclick: putBack,
        },
        '↺',
      )
    : null;
  const rowId = `crop-adjust-${id}`;
  // Movable only while the crop is used. The keyboard's (and screen readers') handle is the whole
  // thumbnail, under the box and the buttons: a box can be smaller than a 44 px target. A tap on
  // it (not a swipe: that scrolls) adjusts the box, and while adjusting puts its centre there.
  const handle = crop.off
    ? null
    : h('span', {
        class: 'crop-move',
        'data-testid': 'crop-move',
        tabindex: 0,
        role: 'button',
        'aria-roledescription': 'movable box',
        'aria-expanded': adjusting ? 'true' : 'false',
        ...(adjusting ? { 'aria-controls': rowId } : {}),
        'aria-label': adjusting
          ? `Box around the object in ${name}: tap the photo to put the box's centre there; arrow keys move it, + and - resize it, Enter when done${found ? '. A dashed box shows where the object detector found it' : ''}`
          : `Box around the object in ${name}: press Enter, or tap the photo, to adjust it without dragging; drag it, or use the arrow keys, to move it; drag its corner, or use + and -, to resize it${found ? '. A dashed box shows where the object detector found it' : ''}`,
        // The Teach screen puts the focus back on it when the card is drawn again (a moved box is stored).
        'data-focus-key': `crop-box:${id}`,
      });
  if (handle) {
    box.classList.add('movable');
    box.title = adjusting ? 'Drag to move the box, or tap the photo where it should be' : 'Drag to move the box onto the object; drag its corner to resize it; tap to adjust it';
    // Dragging the bottom-right corner resizes (the top-left corner stays).
    const corner = h('span', { class: 'crop-corner', 'data-testid': 'crop-corner' });
    box.append(corner);
    let drag: { pointer: number; x: number; y: number; side: number; from: Box; resize: boolean; far: boolean } | null = null;
    box.addEventListener('pointerdown', (e) => {
      if (e.button !== 0 || drag) return;
      e.preventDefault();
      box.setPointerCapture(e.pointerId);
      handle.focus({ preventScroll: true });
      const side = box.parentElement?.getBoundingClientRect().width || 1;
      drag = { pointer: e.pointerId, x: e.clientX, y: e.clientY, side, from: current, resize: e.target === corner, far: false };
      box.classList.add('dragging');
    });
    box.addEventListener('pointermove', (e) => {
      if (drag?.pointer !== e.pointerId) return;
      drag.far ||= Math.hypot(e.clientX - drag.x, e.clientY - drag.y) >= TAP_SLOP_PX;
      if (!drag.far) return;
      const dx = (e.clientX - drag.x) / drag.side;
      const dy = (e.clientY - drag.y) / drag.side;
      current = drag.resize ? resizeBox(drag.from, (dx + dy) / 2, width, height, 'corner') : moveBox(drag.from, dx, dy, width, height);
      place(current);
    });
    const end = (e: PointerEvent, keep: boolean): void => {
      if (drag?.pointer !== e.pointerId) return;
      const { from, far, resize } = drag;
      drag = null;
      box.classList.remove('dragging');
      if (keep && !far) {
        // A tap on the box, not a drag: adjust it.
        edits.open(id, example.classId);
        return;
      }
      const to = current;
      current = from;
      if (keep) change(to, 'now', !resize ? 'moved' : to.width > from.width ? 'bigger' : 'smaller');
      else place(current);
    };
    box.addEventListener('pointerup', (e) => end(e, true));
    box.addEventListener('pointercancel', (e) => end(e, false));
    // A tap (click: a swipe that scrolled sends none) on the photo beside the box.
    let down: { x: number; y: number } | null = null;
    handle.addEventListener('pointerdown', (e) => (down = { x: e.clientX, y: e.clientY }));
    handle.addEventListener('click', (e) => {
      const near = !down || Math.hypot(e.clientX - down.x, e.clientY - down.y) < TAP_SLOP_PX;
      down = null;
      if (!near) return;
      // Not adjusting, or a click with no place (e.detail 0: a screen reader's): adjust it.
      if (!edits.isAdjusting(id) || e.detail === 0) {
        edits.open(id, example.classId);
        return;
      }
      const r = handle.getBoundingClientRect();
      if (!(r.width > 0)) return;
      change(centreBoxAt(current, (e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height, width, height), 'now', 'moved');
    });
    handle.addEventListener('keydown', (e) => {
      if (drag || e.altKey || e.ctrlKey || e.metaKey) return;
      const step = ARROWS[e.key];
      const size = SIZE_KEYS[e.key];
      if (step) {
        e.preventDefault();
        const by = e.shiftKey ? 5 * KEY_STEP : KEY_STEP;
        change(moveBox(current, step[0] * by, step[1] * by, width, height), 'settle', 'moved');
      } else if (size) {
        e.preventDefault();
        resize(size, 2 * KEY_STEP);
      } else if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        if (edits.isAdjusting(id)) edits.close(id);
        else {
          edits.flush(id);
          edits.open(id, example.classId);
        }
      } else if (e.key === 'Escape') {
        const back = edits.cancel(id);
        if (back) {
          e.preventDefault();
          current = back;
          place(current);
          edits.announce(`Box on ${name} put back where it was.`);
        } else if (edits.isAdjusting(id)) {
          e.preventDefault();
          edits.close(id);
        }
      }
    });
    // Leaving it stores at once what the keys moved.
    handle.addEventListener('blur', () => edits.flush(id));
  }
  const toggle = h(
    'button',
    {
      type: 'button',
      class: 'crop-toggle',
      'data-testid': 'crop-toggle',
      'aria-pressed': crop.off ? 'false' : 'true',
      'aria-label': crop.off ? `Find the object in ${name} again` : `Use the whole of ${name}, not the box`,
      title: crop.off ? 'The whole photo is used. Tap to use the box again.' : 'The box is where the object is. Tap to use the whole photo.',
      onclick: () => void setCropOff(id, !crop.off).catch(failed),
    },
    crop.off ? '▢' : '⌖',
  );
  const row = adjusting && handle ? adjustRow(rowId, id, name, edits, resize, putBack, () => handle.focus()) : null;
  // Under the movable box: it is drawn first, so a pointer on both drags the person's box.
  return { inThumb: [...(found ? [found] : []), ...(handle ? [handle] : []), box, ...(reset ? [reset] : []), toggle], adjusting, row };
}

/**
 * The row under an adjusted box: Smaller, Bigger, Found box, Done (44 px targets, each named for
 * its photo; the focus stays on the pressed one when the card is drawn again), and the hint that
 * a tap on the photo moves the box. Escape in it stops adjusting.
 */
function adjustRow(
  rowId: string,
  id: string,
  name: string,
  edits: CropBoxEdits,
  resize: (steps: number, by: number) => void,
  putBack: () => void,
  focusBox: () => void,
): HTMLElement {
  const button = (key: string, label: string, text: string, onclick: () => void, focusKey = `crop-${key}:${id}`): HTMLElement =>
    h('button', { type: 'button', 'data-testid': `crop-${key}`, 'data-focus-key': focusKey, 'aria-label': label, onclick }, text);
  const row = h(
    'div',
    { class: 'crop-adjust', id: rowId, role: 'group', 'aria-label': `Adjust the box on ${name}`, 'data-testid': 'crop-adjust' },
    h('p', { class: 'muted' }, 'Tap the photo to put the box’s centre there.'),
    button('smaller', `Make the box on ${name} smaller`, '− Smaller', () => resize(-1, BUTTON_STEP)),
    button('bigger', `Make the box on ${name} bigger`, '+ Bigger', () => resize(1, BUTTON_STEP)),
    button('found', `Put the box on ${name} back to the found box`, '↺ Found box', putBack),
    // Gone once pressed: the focus goes to the box's handle.
    button('done', `Done adjusting the box on ${name}`, 'Done', () => edits.close(id), `crop-box:${id}`),
  );
  row.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return;
    e.preventDefault();
    focusBox();
    edits.close(id);
  });
  return row;
}

/** The object detector's box over a thumbnail: dashed, not movable, hidden from assistive technology (the handle's label says it is there). */
function detectorBox(b: Box, width: number, height: number): HTMLElement {
  const el = h('span', { class: 'crop-box detector', 'data-testid': 'detector-box', 'aria-hidden': 'true', title: 'Found by the object detector' });
  const p = boxInThumb(b, width, height);
  el.style.left = `${p.left.toFixed(1)}%`;
  el.style.top = `${p.top.toFixed(1)}%`;
  el.style.width = `${p.width.toFixed(1)}%`;
  el.style.height = `${p.height.toFixed(1)}%`;
  return el;
}
