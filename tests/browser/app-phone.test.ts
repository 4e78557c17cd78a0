/**
 * The app on a phone, iPhone realities included, in Chromium at 360x740 against the real Worker:
 *
 * - iPhone/iPad in a Safari tab (a faked user agent and `navigator.standalone`): the Home Screen
 *   notice (Safari deletes a site's storage after 7 days unused), once, with the steps and links
 *   to export and sync; not from the Home Screen, not on Android.
 * - Persistent storage is asked for after the first photo is stored (not at page load), and the
 *   answer is shown.
 * - The camera follows iOS rules: playsinline, muted, rear camera, started by a tap.
 * - Safe areas and dynamic viewport units.
 * - Every visible control on every screen is at least 44x44 CSS px.
 *
 * Screenshots go to tests/artifacts/app-phone/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchChromium, type Browser } from './chrome.ts';
import { emojiFile, openApp as openAppAt, pinBaseBackbone, uploadToClass } from './app-steps.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';
import { ANDROID, axeProblems, countTargets, fakeNavigator, IPAD_AS_MAC, IPHONE, smallTargets } from './phone-checks.ts';

const baseUrl = inject('baseUrl');
const ARTIFACTS = join(import.meta.dirname, '..', 'artifacts', 'app-phone');
const PHONE = { width: 360, height: 740 };
const NOTICE = '.banner[data-key="home-screen"]';
const DISMISSED_KEY = 'tannerin.home-screen-notice.dismissed';

const CLASSES = ['heart', 'animal-mammal'];
const split = emojiSplit(CLASSES, 5, 0, 7);
const file = emojiFile;

mkdirSync(ARTIFACTS, { recursive: true });

async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage });
}

/** Opens the app and waits until the models are loaded and the screens are shown. */
function openApp(page: Page, hash = ''): Promise<void> {
  return openAppAt(page, baseUrl, hash);
}

async function addClass(page: Page, name: string): Promise<void> {
  await page.click('nav a[href="#teach"]');
  await page.fill('#new-class', name);
  await page.click('button:has-text("Add class")');
  await page.waitForSelector(`article[data-class="${name}"]`);
}

const upload = uploadToClass;

async function newPage(browser: Browser): Promise<Page> {
  return browser.context.newPage();
}

describe('iPhone and iPad: the Home Screen notice', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium(undefined, { viewport: PHONE, mobile: true });
    await pinBaseBackbone(browser.context);
  });
  afterAll(async () => {
    await browser?.dispose();
  });

  it('is not shown on Android', async () => {
    const page = await newPage(browser);
    await fakeNavigator(page, ANDROID);
    await openApp(page);
    expect(await page.evaluate(() => navigator.userAgent)).toContain('Android');
    expect(await page.locator(NOTICE).count()).toBe(0);
    await page.click('nav a[href="#models"]');
    await page.waitForSelector('[data-testid="storage"] p');
    expect(await page.locator('[data-testid="home-screen-storage"]').count()).toBe(0);
    await page.close();
    expect(browser.errors).toEqual([]);
  });

  it('is not shown on an iPhone opened from the Home Screen (navigator.standalone)', async () => {
    const page = await newPage(browser);
    await fakeNavigator(page, { ...IPHONE, standalone: true });
    await openApp(page);
    expect(await page.evaluate(() => (navigator as Navigator & { standalone?: boolean }).standalone)).toBe(true);
    expect(await page.locator(NOTICE).count()).toBe(0);
    await page.close();
    expect(browser.errors).toEqual([]);
  });

  it('is shown once on an iPhone in a Safari tab: the risk, the steps, export and sync; dismissing it is remembered', async () => {
    const page = await newPage(browser);
    await fakeNavigator(page, IPHONE);
    await openApp(page);
    const notice = page.locator(NOTICE);
    await notice.waitFor();
    const text = (await notice.textContent()) ?? '';
    expect(text).toContain('iPhone');
    expect(text).toMatch(/7 days/);
    expect(text).toMatch(/Home Screen/);
    expect(await notice.locator('ol li').allTextContents()).toEqual([
      expect.stringMatching(/Share/),
      expect.stringMatching(/Add to Home Screen/),
      expect.stringMatching(/Add/),
    ]);
    expect(await notice.locator('a').evaluateAll((links) => links.map((a) => a.getAttribute('href')))).toEqual(['#models/my-models', '#models/sync']);
    await shot(page, 'notice-iphone');
    await shot(page, 'notice-iphone-full', true);
    expect(await smallTargets(page, 'teach with the notice')).toEqual([]);
    expect(await axeProblems(page, 'teach with the notice')).toEqual([]);

    // The links open the Models screen at export and at sync; the notice stays until dismissed.
    await notice.locator('a:has-text("Turn on sync")').click();
    await page.waitForSelector('main[data-screen="models"] #sync');
    // Scrolled to just under the top bar.
    await expect
      .poll(() =>
        page.evaluate(() => {
          const top = document.getElementById('sync')?.getBoundingClientRect().top ?? -1;
          const bar = document.querySelector('.topbar')?.getBoundingClientRect().bottom ?? 0;
          return top >= bar && top <= bar + 40;
        }),
      )
      .toBe(true);
    expect(await page.locator('#sync button:has-text("Turn on sync")').count()).toBe(1);
    await expect.poll(() => page.locator('[data-testid="home-screen-storage"]').textContent(), { timeout: 30_000 }).toMatch(/7 days.*Home Screen/);
    await shot(page, 'notice-models-sync');
    await notice.locator('a:has-text("Export a model")').click();
    await page.waitForFunction(() => location.hash === '#models/my-models');
    expect(await page.locator('#my-models h2').textContent()).toBe('My models');

    await notice.locator('button:has-text("Got it")').click();
    expect(await page.locator(NOTICE).count()).toBe(0);
    expect(await page.evaluate((key) => localStorage.getItem(key), DISMISSED_KEY)).not.toBeNull();
    await openApp(page);
    expect(await page.locator(NOTICE).count()).toBe(0);
    await page.close();
    expect(browser.errors).toEqual([]);
  });

  it('is shown on an iPad that asks for desktop pages (a Mac user agent with touch)', async () => {
    const page = await newPage(browser);
    await fakeNavigator(page, IPAD_AS_MAC);
    await openApp(page);
    // Dismissed in the previous test (same site): forget that, as Safari's deletion would.
    await page.evaluate((key) => localStorage.removeItem(key), DISMISSED_KEY);
    await openApp(page);
    await page.locator(NOTICE).waitFor();
    expect(await page.locator(NOTICE).textContent()).toContain('this iPad');
    await page.close();
    expect(browser.errors).toEqual([]);
  });
});

describe('persistent storage', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium(undefined, { viewport: PHONE, mobile: true });
    await pinBaseBackbone(browser.context);
  });
  afterAll(async () => {
    await browser?.dispose();
  });

  /** Counts `navigator.storage.persist()` calls in the page; `grant` makes it answer true. */
  async function watchPersist(page: Page, grant: boolean): Promise<void> {
    await page.addInitScript((granted: boolean) => {
      const storage = navigator.storage;
      const persist = storage.persist.bind(storage);
      const persisted = storage.persisted.bind(storage);
      let given = false;
      const w = window as unknown as { persistCalls: number };
      w.persistCalls = 0;
      storage.persist = () => {
        w.persistCalls++;
        if (!granted) return persist();
        given = true;
        return Promise.resolve(true);
      };
      storage.persisted = () => (granted ? Promise.resolve(given) : persisted());
    }, grant);
  }
  const persistCalls = (page: Page): Promise<number> => page.evaluate(() => (window as unknown as { persistCalls: number }).persistCalls);

  it('asks after the first photo is stored, not at page load, once per visit, and says the answer (refused)', async () => {
    const page = await newPage(browser);
    await watchPersist(page, false);
    await openApp(page);
    expect(await persistCalls(page)).toBe(0);
    await addClass(page, 'heart');
    expect(await persistCalls(page)).toBe(0);
    await upload(page, 'heart', (split.train['heart'] as EmojiImage[]).slice(0, 1));
    await expect.poll(() => persistCalls(page)).toBe(1);
    // Headless Chromium does not grant it to a site it does not know.
    await expect.poll(() => page.locator('#toast').textContent()).toMatch(/did not promise to keep your photos and models/);
    await shot(page, 'persistence-refused');
    await upload(page, 'heart', (split.train['heart'] as EmojiImage[]).slice(1, 3));
    expect(await persistCalls(page)).toBe(1);
    await page.click('nav a[href="#models"]');
    await expect.poll(() => page.locator('[data-testid="storage"]').textContent(), { timeout: 30_000 }).toMatch(/may clear this data/);
    await page.close();
    expect(browser.errors).toEqual([]);
  });

  it('shows a granted answer in a message and on the Models screen', async () => {
    const page = await newPage(browser);
    await watchPersist(page, true);
    await openApp(page);
    await upload(page, 'heart', (split.train['heart'] as EmojiImage[]).slice(3, 4));
    await expect.poll(() => page.locator('#toast').textContent()).toMatch(/will keep your photos and models/);
    expect(await persistCalls(page)).toBe(1);
    await page.click('nav a[href="#models"]');
    await expect.poll(() => page.locator('[data-testid="storage"]').textContent()).toMatch(/Stored permanently/);
    await page.close();
    expect(browser.errors).toEqual([]);
  });
});

describe('the app at 360x740 with a (fake) camera', () => {
  let browser: Browser;
  let page: Page;
  beforeAll(async () => {
    // Chromium's built-in fake camera (a moving test pattern), allowed without a prompt.
    browser = await launchChromium(undefined, {
      viewport: PHONE,
      mobile: true,
      args: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
      permissions: ['camera'],
    });
    await pinBaseBackbone(browser.context);
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    // Records each camera request: its constraints and whether a tap (user activation) led to it.
    await page.addInitScript(() => {
      const devices = navigator.mediaDevices;
      const getUserMedia = devices.getUserMedia.bind(devices);
      const calls: Array<{ constraints: unknown; gesture: boolean }> = [];
      (window as unknown as { cameraCalls: typeof calls }).cameraCalls = calls;
      devices.getUserMedia = (constraints) => {
        calls.push({ constraints: JSON.parse(JSON.stringify(constraints ?? {})) as unknown, gesture: navigator.userActivation.isActive });
        return getUserMedia(constraints);
      };
    });
  });
  afterAll(async () => {
    await browser?.dispose();
  });

  const cameraCalls = (): Promise<Array<{ constraints: unknown; gesture: boolean }>> =>
    page.evaluate(() => (window as unknown as { cameraCalls: Array<{ constraints: unknown; gesture: boolean }> }).cameraCalls);

  /** The iOS-relevant state of a <video>. */
  const videoState = (selector: string): Promise<Record<string, boolean>> =>
    page.locator(selector).evaluate((v: HTMLVideoElement) => ({
      playsinlineAttribute: v.hasAttribute('playsinline'),
      playsInline: v.playsInline,
      mutedAttribute: v.hasAttribute('muted'),
      muted: v.muted,
      playing: !v.paused,
    }));
  const IOS_VIDEO = { playsinlineAttribute: true, playsInline: true, mutedAttribute: true, muted: true, playing: true };

  it('asks for the rear camera from a tap, and plays it inline and muted (Teach and Predict)', async () => {
    await openApp(page);
    // The page load asks for nothing.
    expect(await cameraCalls()).toEqual([]);
    await addClass(page, 'heart');
    await page.locator('article[data-class="heart"] button:has-text("Camera")').click();
    await page.waitForSelector('.shutter:not([disabled])', { timeout: 30_000 });
    expect(await videoState('.camera-dialog video')).toEqual(IOS_VIDEO);
    await shot(page, 'camera');
    expect(await smallTargets(page, 'camera')).toEqual([]);
    await page.click('dialog button:has-text("Done")');

    await page.click('nav a[href="#predict"]');
    await page.click('[data-testid="live-camera"]');
    await page.waitForSelector('.camera:not([hidden]) video');
    await expect.poll(() => videoState('.camera video')).toEqual(IOS_VIDEO);
    await page.click('[data-testid="live-camera"]');

    const calls = await cameraCalls();
    expect(calls).toHaveLength(2);
    for (const call of calls) {
      expect(call.gesture).toBe(true);
      expect(call.constraints).toMatchObject({ audio: false, video: { facingMode: { ideal: 'environment' } } });
    }
    expect(browser.errors).toEqual([]);
  });

  it('runs under the notch and the home indicator: viewport-fit=cover, safe-area padding, dvh after a vh fallback', async () => {
    expect(await page.locator('meta[name="viewport"]').getAttribute('content')).toMatch(/viewport-fit=cover/);
    // The built stylesheet's source: every dvh height follows the same property in vh.
    const css = await page.evaluate(async () => {
      const link = document.querySelector<HTMLLinkElement>('link[rel="stylesheet"]');
      return link ? (await fetch(link.href)).text() : [...document.querySelectorAll('style')].map((s) => s.textContent).join('\n');
    });
    const dvh = [...css.matchAll(/([a-z-]+):\s*([\d.]+)dvh/g)];
    expect(dvh.length).toBeGreaterThanOrEqual(3);
    for (const [, property, value] of dvh) expect(css, `${property}: ${value}dvh`).toMatch(new RegExp(`${property}:\\s*${value}vh;\\s*${property}:\\s*${value}dvh`));
    for (const side of ['top', 'right', 'bottom', 'left']) expect(css).toContain(`env(safe-area-inset-${side}`);

    // An iPhone-like notch and home indicator: the bars pad by them.
    const cdp = await browser.context.newCDPSession(page);
    const padding = (): Promise<{ top: number; bottom: number; body: number }> =>
      page.evaluate(() => ({
        top: parseFloat(getComputedStyle(document.querySelector('.topbar') as Element).paddingTop),
        bottom: parseFloat(getComputedStyle(document.querySelector('.tabs') as Element).paddingBottom),
        body: parseFloat(getComputedStyle(document.body).paddingBottom),
      }));
    const before = await padding();
    await cdp.send('Emulation.setSafeAreaInsetsOverride', { insets: { top: 47, topMax: 47, bottom: 34, bottomMax: 34, left: 0, leftMax: 0, right: 0, rightMax: 0 } });
    await expect.poll(padding).toEqual({ top: before.top + 47, bottom: before.bottom + 34, body: before.body + 34 });
    await shot(page, 'safe-areas');
    await cdp.send('Emulation.setSafeAreaInsetsOverride', { insets: {} });
    await cdp.detach();
    expect(browser.errors).toEqual([]);
  });

  it('makes every visible control on every screen at least 44x44 CSS px', { timeout: 300_000 }, async () => {
    const small: string[] = [];
    let measured = 0;
    const measure = async (screen: string): Promise<void> => {
      measured += await countTargets(page);
      small.push(...(await smallTargets(page, screen)));
    };

    // Teach: classes with photos (thumbnails with delete buttons), the form, the tab bar, the top bar.
    await addClass(page, 'animal-mammal');
    await upload(page, 'heart', split.train['heart'] as EmojiImage[]);
    await upload(page, 'animal-mammal', split.train['animal-mammal'] as EmojiImage[]);
    await measure('teach');
    await page.focus('.skip');
    await measure('teach, skip link focused');

    // Train: the result (the "Compared methods" details opened), Improve with an unlabeled photo.
    await page.click('nav a[href="#train"]');
    await page.waitForSelector('[data-testid="train-button"]:not([disabled])');
    await measure('train before training');
    await page.click('[data-testid="train-button"]');
    await page.waitForSelector('[data-testid="train-result"]', { timeout: 120_000 });
    await page.locator('[data-testid="train-result"] summary').first().click();
    await page.setInputFiles('#unlabeled-files', file((split.train['heart'] as EmojiImage[])[0] as EmojiImage));
    await page.waitForSelector('[data-testid="unlabeled"] .thumb button');
    await measure('train');
    await shot(page, 'train', true);

    // Predict: my model and the default model (with where to run it), a picked photo.
    await page.click('nav a[href="#predict"]');
    await page.waitForSelector('#model-mine:checked');
    await page.setInputFiles('#predict-file', file((split.train['heart'] as EmojiImage[])[1] as EmojiImage));
    await page.waitForSelector('[data-testid="prediction-bars"] li', { timeout: 30_000 });
    await measure('predict, my model');
    await page.check('#model-default');
    await page.waitForSelector('#where-edge');
    await measure('predict, default model');
    await shot(page, 'predict', true);

    // Models: a model, import, sync off (pairing code) and on, storage, about.
    await page.click('nav a[href="#models"]');
    await page.waitForSelector('[data-testid="model-list"] .model');
    await page.waitForSelector('#sync button:has-text("Turn on sync")');
    await measure('models, sync off');
    await page.click('button:has-text("Turn on sync")');
    await page.waitForSelector('[data-testid="sync-status"]', { timeout: 30_000 });
    await measure('models, sync on');
    await shot(page, 'models', true);

    expect(measured).toBeGreaterThan(40);
    expect(small).toEqual([]);
    // The measurement names an offender: a 20 px button added to the page.
    await page.evaluate(() => {
      const tiny = document.createElement('button');
      tiny.textContent = 'tiny';
      tiny.style.cssText = 'min-height: 0; min-width: 0; width: 20px; height: 20px; padding: 0';
      document.querySelector('main')?.prepend(tiny);
    });
    expect(await smallTargets(page, 'models')).toEqual(['models: button "tiny" 20.0x20.0']);
    expect(browser.errors).toEqual([]);
  });
});
