/**
 * Page checks for the app on a phone, used by tests/browser/app-phone.test.ts: touch targets
 * measured against the 44x44 CSS px minimum, a faked iPhone/Android navigator (an init script),
 * and axe-core's WCAG 2 A/AA checks.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';

/** Apple's and WCAG 2.5.5's minimum touch target, CSS px. */
export const MIN_TARGET_PX = 44;

/** What a page's `navigator` should say (`standalone` only exists in Safari on iOS). */
export interface FakeNavigator {
  userAgent: string;
  platform: string;
  maxTouchPoints: number;
  standalone?: boolean;
}

export const IPHONE: FakeNavigator = {
  userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  platform: 'iPhone',
  maxTouchPoints: 5,
  standalone: false,
};

/** iPadOS Safari asks for desktop pages: a Mac's user agent and platform, with touch points. */
export const IPAD_AS_MAC: FakeNavigator = {
  userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  platform: 'MacIntel',
  maxTouchPoints: 5,
  standalone: false,
};

export const ANDROID: FakeNavigator = {
  userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
  platform: 'Linux armv8l',
  maxTouchPoints: 5,
};

/** Makes every document the page loads from now on see `facts` in `navigator`. */
export async function fakeNavigator(page: Page, facts: FakeNavigator): Promise<void> {
  await page.addInitScript((f: FakeNavigator) => {
    const define = (name: string, value: unknown): void => {
      Object.defineProperty(Navigator.prototype, name, { get: () => value, configurable: true });
    };
    define('userAgent', f.userAgent);
    define('platform', f.platform);
    define('maxTouchPoints', f.maxTouchPoints);
    if (f.standalone !== undefined) define('standalone', f.standalone);
  }, facts);
}

/**
 * Every visible control (button, link, input, select, textarea, summary, a label styled as a
 * button) smaller than 44x44 CSS px, as "screen: tag "name" WxH". A radio button or checkbox is
 * tapped through its label, so the label's box is its target; a visually hidden file input is
 * reached through its (measured) label. Elements off the page (the skip link until focused) and
 * not rendered (closed dialogs, [hidden]) are left out.
 */
export async function smallTargets(page: Page, screen: string): Promise<string[]> {
  const found = await page.evaluate((min) => {
    const out: string[] = [];
    const selector = 'button, a[href], input:not([type="hidden"]), select, textarea, summary, label.button, [role="button"]';
    for (const el of document.querySelectorAll<HTMLElement>(selector)) {
      if (!el.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue;
      if (el.classList.contains('visually-hidden')) continue;
      let box = el.getBoundingClientRect();
      if (box.width === 0 && box.height === 0) continue;
      if (box.right + scrollX <= 0 || box.bottom + scrollY <= 0) continue;
      if (el instanceof HTMLInputElement && (el.type === 'radio' || el.type === 'checkbox')) {
        const label = el.closest('label') ?? el.labels?.[0];
        if (label) box = label.getBoundingClientRect();
      }
      // Sub-pixel layout: 43.99 is 44.
      if (box.width + 0.05 < min || box.height + 0.05 < min) {
        const name = (el.getAttribute('aria-label') ?? el.textContent ?? el.getAttribute('name') ?? el.id).trim().replace(/\s+/g, ' ').slice(0, 40);
        const kind = el instanceof HTMLInputElement ? `input[type=${el.type}]` : el.tagName.toLowerCase();
        out.push(`${kind}${el.id ? `#${el.id}` : ''} "${name}" ${box.width.toFixed(1)}x${box.height.toFixed(1)}`);
      }
    }
    return out;
  }, MIN_TARGET_PX);
  return found.map((f) => `${screen}: ${f}`);
}

/** How many controls {@link smallTargets} would measure (so a test can tell it saw some). */
export async function countTargets(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      [...document.querySelectorAll<HTMLElement>('button, a[href], input:not([type="hidden"]), select, textarea, summary, label.button, [role="button"]')].filter((el) =>
        el.checkVisibility({ opacityProperty: true, visibilityProperty: true }),
      ).length,
  );
}

const AXE = join(import.meta.dirname, '..', '..', 'node_modules', 'axe-core', 'axe.min.js');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[] }>;
}

/** Serious and critical axe-core WCAG 2 A/AA findings on the page as shown, in words. */
export async function axeProblems(page: Page, screen: string): Promise<string[]> {
  // Evaluated through the DevTools protocol, not added as a <script>: the app's Content Security
  // Policy refuses inline scripts.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(readFileSync(AXE, 'utf8'));
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, o: unknown): Promise<{ violations: unknown[] }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] }, resultTypes: ['violations'] });
    return result.violations as AxeViolation[];
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${screen}: ${v.id} (${v.help}) at ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`);
}
