/**
 * The name a device's sync token gets on the server ("Chrome on Android", "Safari on iPhone"),
 * shown in the account's list of devices so the person can tell which one to revoke. A short
 * default is read from the user-agent string; the person can edit it before turning sync on or
 * pairing. The full user-agent string is never sent.
 */

/** The longest label the server accepts, in characters (Unicode code points). */
export const MAX_DEVICE_LABEL_LENGTH = 100;

/** What {@link defaultDeviceLabel} reads besides the user agent (the shape of `navigator`). */
export interface DeviceLabelFacts {
  /** `navigator.maxTouchPoints`: an iPad asking for desktop pages says "Macintosh" but has touch. */
  maxTouchPoints?: number;
}

/** Browsers, most specific first: Edge, Opera and Samsung Internet also say "Chrome", Chrome on iOS says "Safari". */
const BROWSERS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bEdg(?:e|A|iOS)?\//, 'Edge'],
  [/\b(?:OPR|OPiOS|Opera)\//, 'Opera'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\b(?:Firefox|FxiOS)\//, 'Firefox'],
  [/\bCriOS\//, 'Chrome'],
  [/\bChromium\//, 'Chromium'],
  [/\b(?:Headless)?Chrome\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
  [/\b(?:iPhone|iPad|iPod)\b.*\bAppleWebKit\//, 'Safari'],
];

/** Systems, most specific first: Android and ChromeOS also say "Linux". */
const SYSTEMS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\biPhone\b/, 'iPhone'],
  [/\biPad\b/, 'iPad'],
  [/\biPod\b/, 'iPod'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bMac OS X\b|\bMacintosh\b/, 'Mac'],
  [/\bLinux\b/, 'Linux'],
];

function first(userAgent: string, table: ReadonlyArray<readonly [RegExp, string]>): string | null {
  for (const [pattern, name] of table) if (pattern.test(userAgent)) return name;
  return null;
}

/**
 * A short default label for this device read from a user-agent string: "<browser> on <system>"
 * ("Chrome on Android", "Safari on iPhone", "Firefox on Linux"), the part that is known when the
 * other is not, or "Web browser". A "Macintosh" with touch points is an iPad (iPadOS asks for
 * desktop pages by default).
 */
export function defaultDeviceLabel(userAgent: string, facts: DeviceLabelFacts = {}): string {
  const browser = first(userAgent, BROWSERS);
  let system = first(userAgent, SYSTEMS);
  if (system === 'Mac' && (facts.maxTouchPoints ?? 0) > 1) system = 'iPad';
  if (browser && system) return `${browser} on ${system}`;
  return browser ?? (system ? `Browser on ${system}` : 'Web browser');
}

/**
 * A label as typed, ready to send: whitespace runs collapsed and trimmed, cut to
 * {@link MAX_DEVICE_LABEL_LENGTH} code points (never half a surrogate pair); null when empty.
 */
export function cleanDeviceLabel(text: string): string | null {
  const label = [...text.replace(/\s+/g, ' ').trim()].slice(0, MAX_DEVICE_LABEL_LENGTH).join('').trim();
  return label || null;
}
