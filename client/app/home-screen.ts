/**
 * The iPhone/iPad notice: Safari deletes what a site stores (photos, models, settings) when the
 * site has not been used for 7 days, unless the web app was added to the Home Screen. There is no
 * API to add it, so the notice shows the Share -> Add to Home Screen steps, and offers the Models
 * screen's export and sync as the other ways to keep a copy. Shown once: dismissing it is
 * remembered (in localStorage, which Safari deletes with the rest, so after a deletion the notice
 * comes back, which is when it is needed again).
 */
import { h } from './dom.ts';
import { appleDeviceName } from './platform.ts';

/** The localStorage key that remembers the dismissal. */
export const HOME_SCREEN_NOTICE_KEY = 'tannerin.home-screen-notice.dismissed';

/** Whether the person dismissed the notice before (false when storage cannot be read). */
export function homeScreenNoticeDismissed(): boolean {
  try {
    return localStorage.getItem(HOME_SCREEN_NOTICE_KEY) !== null;
  } catch {
    return false;
  }
}

function rememberDismissal(): void {
  try {
    localStorage.setItem(HOME_SCREEN_NOTICE_KEY, new Date().toISOString());
  } catch {
    // Storage refused (private browsing): the notice shows again next time, which is harmless.
  }
}

/** Safari's Share icon (a box with an arrow up), drawn inline so the step matches the toolbar. */
function shareIcon(): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'share-icon');
  for (const d of ['M12 3v12', 'M8 7l4-4 4 4', 'M7 10H5v11h14V10h-2']) {
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

/**
 * The notice as an element: the risk in plain words, the steps, links to export and sync on the
 * Models screen, and "Got it" (removes it and remembers that).
 */
export function homeScreenNotice(userAgent: string): HTMLElement {
  const device = appleDeviceName(userAgent);
  const el = h(
    'section',
    { class: 'banner notice home-screen', 'data-key': 'home-screen', 'aria-labelledby': 'home-screen-title' },
    h('h2', { id: 'home-screen-title' }, `Keep your photos on this ${device}`),
    h(
      'p',
      {},
      `Safari deletes the photos and models tannerin keeps on this ${device} if you do not open it for 7 days. `,
      'Added to the Home Screen, tannerin keeps them.',
    ),
    h(
      'ol',
      { class: 'steps' },
      h('li', {}, 'Tap ', h('strong', {}, 'Share '), shareIcon(), ' in Safari’s toolbar.'),
      h('li', {}, 'Choose ', h('strong', {}, 'Add to Home Screen'), ' (scroll down the list if you do not see it).'),
      h('li', {}, 'Tap ', h('strong', {}, 'Add'), ', then open tannerin from its new icon.'),
    ),
    h(
      'p',
      { class: 'muted' },
      'The Home Screen app starts empty: bring your models over by exporting them or turning on sync.',
    ),
    h(
      'div',
      { class: 'row' },
      h('a', { class: 'button', href: '#models/my-models' }, 'Export a model'),
      h('a', { class: 'button', href: '#models/sync' }, 'Turn on sync'),
      h(
        'button',
        {
          type: 'button',
          class: 'primary',
          onclick: () => {
            rememberDismissal();
            el.remove();
          },
        },
        'Got it',
      ),
    ),
  );
  return el;
}
