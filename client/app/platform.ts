/**
 * Which platform rules apply: iOS/iPadOS (where Safari deletes a site's script-written storage
 * after 7 days without a visit, unless the web app was added to the Home Screen) and whether the
 * app runs from the Home Screen (standalone). Pure functions of what the browser reports, so they
 * are unit-tested in Node with made-up navigators.
 */

/** The parts of `navigator` the checks read (`standalone` exists only in Safari on iOS). */
export interface NavigatorFacts {
  userAgent: string;
  platform?: string;
  maxTouchPoints?: number;
  standalone?: boolean;
}

/**
 * Whether this is an iPhone, iPod or iPad. iPadOS Safari asks for desktop pages and says
 * "Macintosh"/"MacIntel"; a Mac has no touch screen, so more than one touch point means an iPad.
 * Every browser on iOS is Safari's engine (WebKit), with the same storage rules.
 */
export function isIos(nav: NavigatorFacts): boolean {
  if (/\b(iPhone|iPad|iPod)\b/.test(nav.userAgent)) return true;
  const mac = nav.platform === 'MacIntel' || /\bMacintosh\b/.test(nav.userAgent);
  return mac && (nav.maxTouchPoints ?? 0) > 1;
}

/**
 * Whether the app runs as an installed web app (from the Home Screen): Safari's
 * `navigator.standalone`, or the `display-mode` media query (`standalone`/`fullscreen`).
 */
export function isStandalone(nav: NavigatorFacts, displayMode: (mode: 'standalone' | 'fullscreen') => boolean): boolean {
  return nav.standalone === true || displayMode('standalone') || displayMode('fullscreen');
}

/** Whether storage is at risk of the 7-day deletion: iOS/iPadOS, in a browser tab. */
export function needsHomeScreen(nav: NavigatorFacts, displayMode: (mode: 'standalone' | 'fullscreen') => boolean): boolean {
  return isIos(nav) && !isStandalone(nav, displayMode);
}

/**
 * {@link needsHomeScreen} for this browser. Reads `navigator` and `matchMedia` through a typed
 * view of `globalThis`, so the module also compiles (and is unit-tested) without DOM types.
 */
export function browserNeedsHomeScreen(): boolean {
  const g = globalThis as unknown as {
    navigator?: { userAgent: string; platform?: string; maxTouchPoints?: number; standalone?: unknown };
    matchMedia?: (query: string) => { matches: boolean };
  };
  const nav = g.navigator;
  if (!nav) return false;
  const facts: NavigatorFacts = { userAgent: nav.userAgent, platform: nav.platform, maxTouchPoints: nav.maxTouchPoints };
  if (typeof nav.standalone === 'boolean') facts.standalone = nav.standalone;
  const displayMode = (mode: string): boolean => typeof g.matchMedia === 'function' && g.matchMedia(`(display-mode: ${mode})`).matches;
  return needsHomeScreen(facts, displayMode);
}

/** "iPhone" or "iPad", for sentences. */
export function appleDeviceName(userAgent: string): 'iPhone' | 'iPad' {
  return /\b(iPhone|iPod)\b/.test(userAgent) ? 'iPhone' : 'iPad';
}
