/**
 * Harness pages as tabs of one browser profile, for the library's tests that need several tabs
 * (one of them holding the augmented views' Web Lock, as another tab embedding views would).
 */
import type { Page } from 'playwright-core';
import type { Browser } from './chrome.ts';

/** The harness in a new page (tab), optionally with the backend started and the models loaded. */
export async function harnessTab(b: Browser, baseUrl: string, load = true): Promise<Page> {
  const page = await b.context.newPage();
  await page.goto(`${baseUrl}/test-pages/harness.html`);
  await page.waitForFunction(() => typeof window.tannerin === 'object');
  if (load) {
    await page.evaluate(() => window.tannerin.startBackend());
    await page.evaluate(() => window.tannerin.load());
  }
  return page;
}

type LockHolder = { releaseViewsLock?: () => void };

/** Makes `page` hold the views' Web Lock until {@link releaseViewsLock}: the photos' views wait. */
export async function holdViewsLock(page: Page): Promise<void> {
  await page.evaluate(
    () =>
      new Promise<void>((granted) => {
        void navigator.locks.request(window.tannerin.VIEWS_LOCK, () => new Promise<void>((release) => {
          (globalThis as LockHolder).releaseViewsLock = release;
          granted();
        }));
      }),
  );
}

/** Lets go of the lock {@link holdViewsLock} took. */
export async function releaseViewsLock(page: Page): Promise<void> {
  await page.evaluate(() => (globalThis as LockHolder).releaseViewsLock?.());
}
