/** Platform detection for the iPhone/iPad Home Screen notice (client/app/platform.ts). */
import { describe, expect, it } from 'vitest';
import { appleDeviceName, isIos, isStandalone, needsHomeScreen, type NavigatorFacts } from '../../client/app/platform.ts';

const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
const IPAD_AS_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
const ANDROID = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36';
const CHROME_IOS = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0 Mobile/15E148 Safari/604.1';

const tab = (): boolean => false;
const installed = (mode: string): boolean => mode === 'standalone';

describe('isIos', () => {
  it('knows an iPhone, and an iPad that asks for desktop pages (Mac user agent with touch)', () => {
    expect(isIos({ userAgent: IPHONE, platform: 'iPhone', maxTouchPoints: 5 })).toBe(true);
    expect(isIos({ userAgent: IPAD_AS_MAC, platform: 'MacIntel', maxTouchPoints: 5 })).toBe(true);
    expect(isIos({ userAgent: CHROME_IOS, platform: 'iPhone', maxTouchPoints: 5 })).toBe(true);
  });
  it('is false on a Mac (no touch), Android and desktop', () => {
    expect(isIos({ userAgent: IPAD_AS_MAC, platform: 'MacIntel', maxTouchPoints: 0 })).toBe(false);
    expect(isIos({ userAgent: ANDROID, platform: 'Linux armv8l', maxTouchPoints: 5 })).toBe(false);
    expect(isIos({ userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0', platform: 'Linux x86_64', maxTouchPoints: 0 })).toBe(false);
  });
});

describe('needsHomeScreen', () => {
  const iphone: NavigatorFacts = { userAgent: IPHONE, platform: 'iPhone', maxTouchPoints: 5 };
  it('is true on an iPhone in a Safari tab', () => {
    expect(needsHomeScreen(iphone, tab)).toBe(true);
    expect(needsHomeScreen({ ...iphone, standalone: false }, tab)).toBe(true);
  });
  it('is false when opened from the Home Screen (navigator.standalone or display-mode)', () => {
    expect(needsHomeScreen({ ...iphone, standalone: true }, tab)).toBe(false);
    expect(needsHomeScreen(iphone, installed)).toBe(false);
    expect(isStandalone({ userAgent: ANDROID }, (mode) => mode === 'fullscreen')).toBe(true);
  });
  it('is false on Android', () => {
    expect(needsHomeScreen({ userAgent: ANDROID, platform: 'Linux armv8l', maxTouchPoints: 5 }, tab)).toBe(false);
  });
});

describe('appleDeviceName', () => {
  it('says iPhone or iPad', () => {
    expect(appleDeviceName(IPHONE)).toBe('iPhone');
    expect(appleDeviceName(IPAD_AS_MAC)).toBe('iPad');
  });
});
