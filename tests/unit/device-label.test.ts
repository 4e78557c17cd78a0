/** The default device label read from real user-agent strings (client/lib/device-label.ts). */
import { describe, expect, it } from 'vitest';
import { cleanDeviceLabel, defaultDeviceLabel, MAX_DEVICE_LABEL_LENGTH } from '../../client/lib/device-label.ts';

/** Real user-agent strings, with the label each should get. */
const CASES: ReadonlyArray<readonly [string, string]> = [
  ['Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36', 'Chrome on Android'],
  ['Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36', 'Chrome on Android'],
  ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1', 'Safari on iPhone'],
  ['Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1', 'Safari on iPad'],
  ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1', 'Chrome on iPhone'],
  ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/127.0 Mobile/15E148 Safari/605.1.15', 'Firefox on iPhone'],
  // The Home Screen web app on iOS has no "Version/…" or "Safari/…".
  ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148', 'Safari on iPhone'],
  ['Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0', 'Firefox on Linux'],
  ['Mozilla/5.0 (Android 14; Mobile; rv:128.0) Gecko/128.0 Firefox/128.0', 'Firefox on Android'],
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36', 'Chrome on Windows'],
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87', 'Edge on Windows'],
  ['Mozilla/5.0 (Linux; Android 10; HD1913) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.122 Mobile Safari/537.36 EdgA/126.0.2592.80', 'Edge on Android'],
  ['Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36', 'Samsung Internet on Android'],
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0', 'Opera on Windows'],
  ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15', 'Safari on Mac'],
  ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36', 'Chrome on Mac'],
  ['Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36', 'Chrome on ChromeOS'],
  // Debian's Chromium, Firefox ESR and WebKitGTK's MiniBrowser, as the browser tests run them.
  ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', 'Chrome on Linux'],
  ['Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0', 'Firefox on Linux'],
  ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36', 'Chrome on Linux'],
  ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15', 'Safari on Linux'],
];

describe('defaultDeviceLabel', () => {
  it.each(CASES)('%s -> %s', (userAgent, label) => {
    expect(defaultDeviceLabel(userAgent)).toBe(label);
  });

  it('names an iPad that asks for desktop pages (a Mac user agent with touch points)', () => {
    const mac = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
    expect(defaultDeviceLabel(mac, { maxTouchPoints: 5 })).toBe('Safari on iPad');
    expect(defaultDeviceLabel(mac, { maxTouchPoints: 0 })).toBe('Safari on Mac');
  });

  it('says what it knows of an unknown user agent, never the string itself', () => {
    expect(defaultDeviceLabel('')).toBe('Web browser');
    expect(defaultDeviceLabel('curl/8.5.0')).toBe('Web browser');
    expect(defaultDeviceLabel('SomeBrowser/1.0 (X11; Linux x86_64)')).toBe('Browser on Linux');
    expect(defaultDeviceLabel('Mozilla/5.0 (Plan 9) Firefox/115.0')).toBe('Firefox');
  });

  it('stays short', () => {
    for (const [userAgent] of CASES) expect([...defaultDeviceLabel(userAgent)].length).toBeLessThanOrEqual(30);
  });
});

describe('cleanDeviceLabel', () => {
  it('trims and collapses whitespace; empty is null', () => {
    expect(cleanDeviceLabel('  Kitchen   tablet \n')).toBe('Kitchen tablet');
    expect(cleanDeviceLabel('   ')).toBeNull();
  });

  it('cuts to the server limit in code points, never half an emoji', () => {
    const long = '📱'.repeat(MAX_DEVICE_LABEL_LENGTH + 5);
    const cut = cleanDeviceLabel(long) as string;
    expect([...cut]).toHaveLength(MAX_DEVICE_LABEL_LENGTH);
    expect(cut).toBe('📱'.repeat(MAX_DEVICE_LABEL_LENGTH));
  });
});
