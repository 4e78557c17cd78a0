/**
 * The crop box on a Teach thumbnail (issue 17 point 5): where the photo's stored crop
 * (client/lib/example-crops.ts) is, drawn over the square thumbnail; the person can move it (drag
 * it with a mouse, a pen or a finger, or focus it and use the arrow keys), put it back where it was
 * found ("Reset", shown once they moved it), and turn the crop off (Train then uses the whole
 * photo) or on again for that one photo. The box is resized by dragging its bottom-right corner or
 * with + and - (it stays square in the photo's pixels, as found boxes are: the crop is scaled to the
 * square input). A moved box is stored with `setCropBox` when the drag ends (or the keys pause):
 * the crop is cut again and embedded in the background. While the object detector is on, the box
 * it found shows too, dashed (the person's box wins for both methods).
 */
import type { Box } from '../../shared/crop/box.ts';
import { setCropBox, setCropOff, type ExampleCrop } from '../lib/index.ts';
import { boxInThumb, moveBox, resizeBox } from './crop-box-place.ts';
import { h } from './dom.ts';

/** How long the arrow keys pause before the box they moved is stored (each store re-cuts the crop). */
const KEYS_SETTLE_MS = 600;
/** An arrow key moves the box by this fraction of the thumbnail (with Shift: 5 times as far). */
const KEY_STEP = 0.02;

const ARROWS: Record<string, [number, number]> = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
/** Keys that resize the box about its centre, by this many steps. */
const SIZE_KEYS: Record<string, number> = { '+': 1, '=': 1, '-': -1, _: -1 };

/**
 * The box over a thumbnail, its Reset button when the person moved it, and its on/off button;
 * nothing when the photo has no crop yet. `name` names the photo for screen readers. With
 * `detector` (the object detector is on), the box the detector found, when the photo has one and
 * the person did not place the box (theirs wins for both methods): a second, dashed outline, not
 * movable; moving the solid box sets the person's box.
 */
export function cropOverlay(
  example: { id: string; width: number; height: number; crop?: ExampleCrop; detectorCrop?: { box: Box; byPerson?: true } },
  name: string,
  onError: (message: string) => void,
  detector = false,
): HTMLElement[] {
  const crop = example.crop;
  if (!crop) return [];
  const found = detector && !crop.off && !crop.byPerson && example.detectorCrop && !example.detectorCrop.byPerson ? detectorBox(example.detectorCrop.box, example.width, example.height) : null;
  const failed = (err: unknown): void => onError(err instanceof Error ? err.message : String(err));
  // What is drawn, and what a pointer drags (touch-action: none on it only, so a swipe elsewhere
  // on the thumbnail still scrolls the page). Hidden from assistive technology: `handle` speaks for it.
  const box = h('span', { class: crop.off ? 'crop-box off' : 'crop-box', 'data-testid': 'crop-box', 'aria-hidden': 'true', ...(crop.byPerson ? { 'data-by-person': '' } : {}) });
  let current: Box = crop.box;
  const place = (b: Box): void => {
    const p = boxInThumb(b, example.width, example.height);
    // Set through CSSOM (a style attribute would need 'unsafe-inline' in the CSP's style-src).
    box.style.left = `${p.left.toFixed(1)}%`;
    box.style.top = `${p.top.toFixed(1)}%`;
    box.style.width = `${p.width.toFixed(1)}%`;
    box.style.height = `${p.height.toFixed(1)}%`;
  };
  place(current);
  const store = (): void => {
    if (current.x === crop.box.x && current.y === crop.box.y && current.width === crop.box.width) return;
    setCropBox(example.id, current).catch(failed);
  };
  const reset = crop.byPerson
    ? h(
        'button',
        {
          type: 'button',
          class: 'crop-reset',
          'data-testid': 'crop-reset',
          // Gone once pressed: the focus goes to the box's handle (client/app/screens/teach.ts).
          'data-focus-key': `crop-box:${example.id}`,
          'aria-label': `Put the box on ${name} back where the object was found`,
          title: 'Put the box back where the object was found',
          onclick: () => void setCropBox(example.id, null).catch(failed),
        },
        '↺',
      )
    : null;
  // Movable only while the crop is used. The keyboard's (and screen readers') handle is the whole
  // thumbnail, under its buttons and not hit by pointers: a box can be smaller than a 44 px target.
  const handle = crop.off
    ? null
    : h('span', {
        class: 'crop-move',
        'data-testid': 'crop-move',
        tabindex: 0,
        role: 'button',
        'aria-roledescription': 'movable box',
        'aria-label': `Box around the object in ${name}: drag it, or use the arrow keys, to move it; drag its corner, or use + and -, to resize it${found ? '. A dashed box shows where the object detector found it' : ''}`,
        // The Teach screen puts the focus back on it when the card is drawn again (a moved box is stored).
        'data-focus-key': `crop-box:${example.id}`,
      });
  if (handle) {
    box.classList.add('movable');
    box.title = 'Drag to move the box onto the object; drag its corner to resize it';
    // Dragging the bottom-right corner resizes (the top-left corner stays).
    const corner = h('span', { class: 'crop-corner', 'data-testid': 'crop-corner' });
    box.append(corner);
    let drag: { pointer: number; x: number; y: number; side: number; from: Box; resize: boolean } | null = null;
    box.addEventListener('pointerdown', (e) => {
      if (e.button !== 0 || drag) return;
      e.preventDefault();
      box.setPointerCapture(e.pointerId);
      handle.focus({ preventScroll: true });
      const side = box.parentElement?.getBoundingClientRect().width || 1;
      drag = { pointer: e.pointerId, x: e.clientX, y: e.clientY, side, from: current, resize: e.target === corner };
      box.classList.add('dragging');
    });
    box.addEventListener('pointermove', (e) => {
      if (drag?.pointer !== e.pointerId) return;
      const dx = (e.clientX - drag.x) / drag.side;
      const dy = (e.clientY - drag.y) / drag.side;
      current = drag.resize ? resizeBox(drag.from, (dx + dy) / 2, example.width, example.height, 'corner') : moveBox(drag.from, dx, dy, example.width, example.height);
      place(current);
    });
    const end = (e: PointerEvent, keep: boolean): void => {
      if (drag?.pointer !== e.pointerId) return;
      if (!keep) current = drag.from;
      drag = null;
      box.classList.remove('dragging');
      place(current);
      if (keep) store();
    };
    box.addEventListener('pointerup', (e) => end(e, true));
    box.addEventListener('pointercancel', (e) => end(e, false));
    let settle: ReturnType<typeof setTimeout> | undefined;
    const flush = (): void => {
      settle = undefined;
      store();
    };
    handle.addEventListener('keydown', (e) => {
      const step = ARROWS[e.key];
      const size = SIZE_KEYS[e.key];
      if ((!step && !size) || drag) return;
      e.preventDefault();
      const by = e.shiftKey && step ? 5 * KEY_STEP : KEY_STEP;
      current = step ? moveBox(current, step[0] * by, step[1] * by, example.width, example.height) : resizeBox(current, (size ?? 0) * 2 * by, example.width, example.height, 'centre');
      place(current);
      clearTimeout(settle);
      settle = setTimeout(flush, KEYS_SETTLE_MS);
    });
    // Leaving it stores at once what the keys moved.
    handle.addEventListener('blur', () => {
      if (settle === undefined) return;
      clearTimeout(settle);
      flush();
    });
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
      onclick: () => void setCropOff(example.id, !crop.off).catch(failed),
    },
    crop.off ? '▢' : '⌖',
  );
  // Under the movable box: it is drawn first, so a pointer on both drags the person's box.
  return [...(found ? [found] : []), ...(handle ? [handle] : []), box, ...(reset ? [reset] : []), toggle];
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
