/**
 * The Teach screen's crop box (client/app/crop-box.ts, issue 17 point 5) in the app at phone size
 * (touch): a photo's box is dragged with a finger (touch events through the DevTools protocol, as a
 * phone sends them), moved with the arrow keys once focused (the focus stays on it when the card is
 * drawn again), resized with the - key, and put back with Reset; each time the stored record (read from IndexedDB) says so.
 * The boxes' controls pass axe (WCAG 2 A/AA) and are 44 px targets. Train, with every crop
 * pending (as after the upgrade to version 9), shows "Preparing crops n of 4" on its bar.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { launchChromium, type Browser } from './chrome.ts';
import { mustCrop, storedCrop, teachCornerScenes } from './app-crop-box-steps.ts';
import { openApp, pinBaseBackbone } from './app-steps.ts';
import { axeProblems, smallTargets } from './phone-checks.ts';

const baseUrl = inject('baseUrl');
const PHONE = { width: 390, height: 844 };

let browser: Browser | undefined;
afterEach(async () => {
  await browser?.dispose();
  browser = undefined;
});

describe('the crop box on the Teach screen', () => {
  it('drags with a finger, moves with the arrow keys, and Reset puts it back; the stored box follows', async () => {
    browser = await launchChromium(undefined, { viewport: PHONE, mobile: true });
    await pinBaseBackbone(browser.context);
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await openApp(page, baseUrl, '#teach');
    // Boxes appear once the crops are stored in the background.
    const card = await teachCornerScenes(page, 'things');
    expect(await card.locator('[data-testid="crop-box"]').count()).toBe(2);
    const found = await mustCrop(page);
    expect(found.byPerson).toBe(false);
    // The first photo is the first thumbnail.
    const box = card.locator('.thumb').first().locator('[data-testid="crop-box"]');
    // Its keyboard handle (the whole thumbnail, a 44 px target) names it.
    const handle = card.locator('.thumb').first().locator('[data-testid="crop-move"]');
    expect(await handle.getAttribute('aria-label')).toMatch(/arrow keys/);
    expect([...(await axeProblems(page, 'teach, crop boxes')), ...(await smallTargets(page, 'teach, crop boxes'))]).toEqual([]);

    // A finger drags it a quarter of the thumbnail towards the photo's centre.
    const thumb = (await card.locator('.thumb').first().boundingBox()) as { x: number; y: number; width: number; height: number };
    const rect = (await box.boundingBox()) as { x: number; y: number; width: number; height: number };
    const towards = (found.box.x + found.box.width / 2 < 0.5 ? 1 : -1) * 0.25 * thumb.width;
    const down = (found.box.y + found.box.height / 2 < 0.5 ? 1 : -1) * 0.25 * thumb.width;
    const start = { x: Math.round(rect.x + rect.width / 2), y: Math.round(rect.y + rect.height / 2) };
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [start] });
    for (let i = 1; i <= 5; i++) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ x: Math.round(start.x + (towards * i) / 5), y: Math.round(start.y + (down * i) / 5) }] });
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
    await expect.poll(async () => (await storedCrop(page))?.byPerson, { timeout: 30_000 }).toBe(true);
    await expect.poll(async () => (await storedCrop(page))?.pending, { timeout: 30_000 }).toBe(false);
    const dragged = await mustCrop(page);
    expect(dragged.found).toEqual(found.box);
    expect(Math.sign(dragged.box.x - found.box.x)).toBe(Math.sign(towards));
    expect(Math.sign(dragged.box.y - found.box.y)).toBe(Math.sign(down));
    expect([dragged.box.width, dragged.box.height]).toEqual([found.box.width, found.box.height]);
    await card.locator('[data-testid="crop-reset"]').first().waitFor();

    // The arrow keys: three steps back, stored once they pause; the focus stays on the box.
    await card.locator('.thumb').first().locator('[data-testid="crop-move"]').focus();
    for (let i = 0; i < 3; i++) await page.keyboard.press(towards > 0 ? 'ArrowLeft' : 'ArrowRight');
    await expect.poll(async () => (await storedCrop(page))?.box.x, { timeout: 30_000 }).not.toBe(dragged.box.x);
    const keyed = await mustCrop(page);
    expect(Math.sign(keyed.box.x - dragged.box.x)).toBe(-Math.sign(towards));
    expect(keyed.box.y).toBe(dragged.box.y);
    expect(keyed.byPerson).toBe(true);
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('crop-move');

    // Resized: '-' twice (kept square in the pixels of the photo's stored copy).
    await page.keyboard.press('-');
    await page.keyboard.press('-');
    await expect.poll(async () => (await storedCrop(page))?.box.width, { timeout: 30_000 }).toBeLessThan(keyed.box.width);
    const resized = await mustCrop(page);
    expect(resized.box.width * resized.size[0]).toBeCloseTo(resized.box.height * resized.size[1], 6);
    expect(resized.byPerson).toBe(true);

    // Reset: the found box back, no longer the person's.
    await card.locator('[data-testid="crop-reset"]').first().click();
    await expect.poll(async () => (await storedCrop(page))?.byPerson, { timeout: 30_000 }).toBe(false);
    // The focus went from the Reset button (gone) to the box's handle.
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('crop-move');
    const reset = await mustCrop(page);
    // Where and as large as it was found.
    expect(reset.box).toEqual(found.box);
    await expect.poll(() => card.locator('[data-testid="crop-reset"]').count()).toBe(0);

    // Train with every crop pending again (as after the upgrade to version 9): the bar says so.
    await teachCornerScenes(page, 'others');
    await expect.poll(() => page.locator('[data-testid="crop-box"]').count(), { timeout: 60_000 }).toBe(4);
    await page.evaluate(
      () =>
        new Promise<void>((resolve, reject) => {
          const open = indexedDB.open('tannerin');
          open.onerror = () => reject(open.error ?? new Error('open failed'));
          open.onsuccess = () => {
            const tx = open.result.transaction('examples', 'readwrite');
            const store = tx.objectStore('examples');
            const req = store.getAll();
            req.onsuccess = () => {
              for (const r of req.result as Array<Record<string, unknown>>) store.put({ ...r, cropPending: 1 });
            };
            tx.oncomplete = () => {
              open.result.close();
              resolve();
            };
            tx.onerror = () => reject(tx.error ?? new Error('write failed'));
          };
        }),
    );
    await page.click('nav a[href="#train"]');
    await page.waitForSelector('[data-testid="train-button"]:not([disabled])');
    await page.evaluate(() => {
      const seen: string[] = ((window as unknown as { progressSeen: string[] }).progressSeen = []);
      const text = document.querySelector('.progress-text') as HTMLElement;
      new MutationObserver(() => seen.push(text.textContent ?? '')).observe(text, { childList: true, characterData: true, subtree: true });
    });
    await page.click('[data-testid="train-button"]');
    await page.waitForSelector('[data-testid="train-result"]', { timeout: 120_000 });
    const seen = await page.evaluate(() => (window as unknown as { progressSeen: string[] }).progressSeen);
    expect(seen).toContain('Preparing crops 0 of 4');
    expect(seen).toContain('Preparing crops 4 of 4');
    expect(browser.errors).toEqual([]);
  });
});
