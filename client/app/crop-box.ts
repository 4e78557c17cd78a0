/**
 * The crop box on a Teach thumbnail (issue 17 point 5, first part): where the photo's stored crop
 * (client/lib/example-crops.ts) is, drawn over the square thumbnail, and a button that turns the
 * crop off (Train then uses the whole photo) or on again for that one photo. Moving the box is not
 * here yet.
 */
import { setCropOff, type ExampleCrop } from '../lib/index.ts';
import { boxInThumb } from './crop-box-place.ts';
import { h } from './dom.ts';

/** The box over a thumbnail and its on/off button; nothing when the photo has no crop yet. */
export function cropOverlay(example: { id: string; width: number; height: number; crop?: ExampleCrop }, name: string, onError: (message: string) => void): HTMLElement[] {
  const crop = example.crop;
  if (!crop) return [];
  const place = boxInThumb(crop.box, example.width, example.height);
  const box = h('span', { class: crop.off ? 'crop-box off' : 'crop-box', 'data-testid': 'crop-box', 'aria-hidden': 'true' });
  // Set through CSSOM (a style attribute would need 'unsafe-inline' in the CSP's style-src).
  box.style.left = `${place.left.toFixed(1)}%`;
  box.style.top = `${place.top.toFixed(1)}%`;
  box.style.width = `${place.width.toFixed(1)}%`;
  box.style.height = `${place.height.toFixed(1)}%`;
  const toggle = h(
    'button',
    {
      type: 'button',
      class: 'crop-toggle',
      'data-testid': 'crop-toggle',
      'aria-pressed': crop.off ? 'false' : 'true',
      'aria-label': crop.off ? `Find the object in ${name} again` : `Use the whole of ${name}, not the box`,
      title: crop.off ? 'The whole photo is used. Tap to use the box again.' : 'The box is where the object was found. Tap to use the whole photo.',
      onclick: () => void setCropOff(example.id, !crop.off).catch((err: unknown) => onError(err instanceof Error ? err.message : String(err))),
    },
    crop.off ? '▢' : '⌖',
  );
  return [box, toggle];
}
