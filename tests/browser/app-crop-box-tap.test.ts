/**
 * The Teach screen's crop box without dragging (client/app/crop-box.ts, crop-box-edit.ts; issue 17
 * point 5, WCAG 2.5.7 and 2.1.1), in the app, each change read back from IndexedDB:
 * - at phone size, by touch: a tap on the photo adjusts its box (drawn large, a row of buttons,
 *   nothing stored); a tap on the large photo puts the box's centre there; Bigger and Smaller
 *   resize it (square in the photo's pixels), Found box puts it back; the live region says each
 *   once stored; Train's crops (cropExamples, in a harness tab on the same storage) use the crop
 *   cut from the tapped box; no serious axe finding, 44 px targets;
 * - by keyboard: Enter adjusts, arrow keys and + move and resize it (stored once they pause, the
 *   focus kept and visible), Escape takes back a move not stored yet and then stops adjusting;
 *   the row's buttons keep the focus; turning the crop off and on for the photo still works.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { boxInThumb, centreBoxAt, moveBox, resizeBox } from '../../client/app/crop-box-place.ts';
import { launchChromium, type Browser } from './chrome.ts';
import { mustCrop, storedCrop, teachCornerScenes } from './app-crop-box-steps.ts';
import { openApp, pinBaseBackbone } from './app-steps.ts';
import { axeProblems, smallTargets } from './phone-checks.ts';
import { harnessTab } from './tabs.ts';

const baseUrl = inject('baseUrl');
const PHONE = { width: 390, height: 844 };

let browser: Browser | undefined;
afterEach(async () => {
  await browser?.dispose();
  browser = undefined;
});

/** The page point at (`fx`, `fy`), fractions of `el`'s box. */
async function pointIn(el: Locator, fx: number, fy: number): Promise<{ x: number; y: number }> {
  const r = await el.boundingBox();
  if (!r) throw new Error('not shown');
  return { x: r.x + fx * r.width, y: r.y + fy * r.height };
}

/** The live region's words, once they are said. */
const liveText = (page: Page): Promise<string> => page.locator('[data-testid="crop-live"]').innerText();
const focusedTestId = (page: Page): Promise<string | null | undefined> => page.evaluate(() => document.activeElement?.getAttribute('data-testid'));

/** In a harness tab on the same storage: the first photo's crop embedding in Train's crops, and as stored. */
async function trainCrop(harness: Page) {
  return harness.evaluate(async () => {
    const t = window.tannerin;
    const [first] = await t.listExamples();
    const id = first?.id as string;
    const crops = await t.cropExamples(t.currentBackbone(), (await t.trainingSet()).examples);
    const db = await t.openTannerinDb();
    const stored = (await t.readEmbeddings(db.transaction('embeddingPacks').store, t.cropPackRef(t.currentBackbone().ref))).get(id)?.[0];
    const mine = crops?.find((e) => e.photoId === id)?.embedding;
    return { inCrops: mine ? Array.from(mine.subarray(0, 32)) : null, stored: stored ? Array.from(stored.subarray(0, 32)) : null };
  });
}

describe('the crop box without dragging', () => {
  it('by touch: a tap adjusts it, a tap on the large photo centres it there, Bigger, Smaller and Found box; stored, said, and used by Train’s crops', async () => {
    browser = await launchChromium(undefined, { viewport: PHONE, mobile: true });
    await pinBaseBackbone(browser.context);
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await openApp(page, baseUrl, '#teach');
    const card = await teachCornerScenes(page, 'things');
    await expect.poll(async () => (await storedCrop(page))?.pending, { timeout: 30_000 }).toBe(false);
    const found = await mustCrop(page);
    // The stored copy's size: the box's fractions are of it.
    const [W, H] = found.size;
    expect(W).toBeGreaterThan(H);
    const harness = await harnessTab(browser, baseUrl);
    const before = await trainCrop(harness);
    expect(before.inCrops).not.toBeNull();

    // A tap on the photo beside the box (the heart is at the top left): adjusting, nothing stored.
    const thumb = card.locator('.thumb').first();
    const shown = boxInThumb(found.box, W, H);
    expect(shown.left + shown.width).toBeLessThan(70);
    let at = await pointIn(thumb, 0.85, 0.85);
    await page.touchscreen.tap(at.x, at.y);
    const row = card.locator('[data-testid="crop-adjust"]');
    await row.waitFor();
    expect(await thumb.getAttribute('class')).toMatch(/\badjusting\b/);
    expect(await thumb.locator('[data-testid="crop-move"]').getAttribute('aria-expanded')).toBe('true');
    expect(await mustCrop(page)).toEqual(found);
    expect(await row.getAttribute('aria-label')).toBe('Adjust the box on things photo 1');
    for (const [id, name] of [['smaller', /smaller/], ['bigger', /bigger/], ['found', /found box/], ['done', /Done/]] as const) {
      expect(await row.locator(`[data-testid="crop-${id}"]`).getAttribute('aria-label')).toMatch(name);
    }
    expect([...(await axeProblems(page, 'teach, adjusting a box')), ...(await smallTargets(page, 'teach, adjusting a box'))]).toEqual([]);
    // Drawn large: the whole card's width.
    expect(((await thumb.boundingBox()) as { width: number }).width).toBeGreaterThan(250);

    // A tap on the large photo: the box's centre there, its size kept; stored as the person's.
    at = await pointIn(thumb, 0.6, 0.55);
    await page.touchscreen.tap(at.x, at.y);
    const want = centreBoxAt(found.box, 0.6, 0.55, W, H);
    await expect.poll(async () => (await storedCrop(page))?.byPerson, { timeout: 30_000 }).toBe(true);
    const tapped = await mustCrop(page);
    expect(tapped.box.x).toBeCloseTo(want.x, 2);
    expect(tapped.box.y).toBeCloseTo(want.y, 2);
    expect([tapped.box.width, tapped.box.height]).toEqual([found.box.width, found.box.height]);
    expect(tapped.found).toEqual(found.box);
    await expect.poll(() => liveText(page)).toMatch(/^Box on things photo 1 moved: centre \d+% across, \d+% down, size \d+%\.$/);
    // Still adjusting after the card is drawn again.
    await row.waitFor();

    // Bigger twice, stored once the taps pause: square in the photo's pixels.
    await row.locator('[data-testid="crop-bigger"]').tap();
    await row.locator('[data-testid="crop-bigger"]').tap();
    const bigger = resizeBox(resizeBox(tapped.box, 0.1, W, H, 'centre'), 0.1, W, H, 'centre');
    await expect.poll(async () => (await storedCrop(page))?.box.width, { timeout: 30_000 }).toBeCloseTo(bigger.width, 6);
    const grown = await mustCrop(page);
    expect(grown.box.width * W).toBeCloseTo(grown.box.height * H, 6);
    await expect.poll(() => liveText(page)).toMatch(/^Box on things photo 1 made bigger: /);
    // Smaller once.
    await row.locator('[data-testid="crop-smaller"]').tap();
    await expect.poll(async () => (await storedCrop(page))?.box.width, { timeout: 30_000 }).toBeCloseTo(resizeBox(grown.box, -0.1, W, H, 'centre').width, 6);
    await expect.poll(() => liveText(page)).toMatch(/^Box on things photo 1 made smaller: /);

    // Cut and embedded again in the background: Train's crops use the crop of the person's box.
    await expect.poll(async () => (await storedCrop(page))?.pending, { timeout: 30_000 }).toBe(false);
    const after = await trainCrop(harness);
    expect(after.inCrops).not.toBeNull();
    expect(after.inCrops).toEqual(after.stored);
    expect(after.inCrops).not.toEqual(before.inCrops);

    // Found box: where and as large as it was found, no longer the person's.
    await row.locator('[data-testid="crop-found"]').tap();
    await expect.poll(async () => (await storedCrop(page))?.byPerson, { timeout: 30_000 }).toBe(false);
    expect((await mustCrop(page)).box).toEqual(found.box);
    await expect.poll(() => liveText(page)).toBe('Box on things photo 1 put back where the object was found.');
    // Done: the photo small again.
    await row.locator('[data-testid="crop-done"]').tap();
    await expect.poll(() => card.locator('[data-testid="crop-adjust"]').count()).toBe(0);
    expect(await card.locator('.thumb').first().getAttribute('class')).not.toMatch(/\badjusting\b/);
    expect(browser.errors).toEqual([]);
  });

  it('by keyboard: Enter adjusts, arrows and + move and resize it, Escape takes back and stops; the focus stays and shows; off and on still work', async () => {
    browser = await launchChromium();
    await pinBaseBackbone(browser.context);
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await openApp(page, baseUrl, '#teach');
    const card = await teachCornerScenes(page, 'things');
    const found = await mustCrop(page);
    const [W, H] = found.size;
    const handle = (): Locator => card.locator('.thumb').first().locator('[data-testid="crop-move"]');
    expect(await handle().getAttribute('aria-label')).toMatch(/press Enter, or tap the photo, to adjust it without dragging/);

    // Reached with Tab (the focus shows), Enter: adjusting, the focus kept on the box.
    await card.locator('.thumb').first().locator('img').scrollIntoViewIfNeeded();
    await page.focus('#new-class');
    for (let i = 0; i < 12 && (await focusedTestId(page)) !== 'crop-move'; i++) await page.keyboard.press('Tab');
    expect(await focusedTestId(page)).toBe('crop-move');
    expect(await page.evaluate(() => document.activeElement?.matches(':focus-visible'))).toBe(true);
    await page.keyboard.press('Enter');
    await card.locator('[data-testid="crop-adjust"]').waitFor();
    await expect.poll(() => focusedTestId(page)).toBe('crop-move');
    expect(await handle().getAttribute('aria-expanded')).toBe('true');

    // Three steps right and one bigger: stored once the keys pause, the focus still on the box.
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
    await page.keyboard.press('+');
    let want = found.box;
    for (let i = 0; i < 3; i++) want = moveBox(want, 0.02, 0, W, H);
    want = resizeBox(want, 0.04, W, H, 'centre');
    await expect.poll(async () => (await storedCrop(page))?.box.width, { timeout: 30_000 }).toBeCloseTo(want.width, 6);
    const keyed = await mustCrop(page);
    expect(keyed.byPerson).toBe(true);
    expect(keyed.box.x).toBeCloseTo(want.x, 6);
    expect(keyed.box.y).toBeCloseTo(want.y, 6);
    await expect.poll(() => liveText(page)).toMatch(/^Box on things photo 1 made bigger: /);
    await expect.poll(() => focusedTestId(page)).toBe('crop-move');
    expect(await page.evaluate(() => document.activeElement?.matches(':focus-visible'))).toBe(true);

    // A step down taken back with Escape before it is stored: the stored box does not change.
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Escape');
    await expect.poll(() => liveText(page)).toBe('Box on things photo 1 put back where it was.');
    await page.waitForTimeout(1000);
    expect((await mustCrop(page)).box).toEqual(keyed.box);
    // Escape again: no longer adjusting.
    expect(await card.locator('[data-testid="crop-adjust"]').count()).toBe(1);
    await page.keyboard.press('Escape');
    await expect.poll(() => card.locator('[data-testid="crop-adjust"]').count()).toBe(0);
    expect(await handle().getAttribute('aria-expanded')).toBe('false');

    // The row's buttons by keyboard: Smaller keeps the focus when the card is drawn again; Escape goes back to the box.
    await handle().focus();
    await page.keyboard.press('Enter');
    await card.locator('[data-testid="crop-adjust"]').waitFor();
    for (let i = 0; i < 8 && (await focusedTestId(page)) !== 'crop-smaller'; i++) await page.keyboard.press('Tab');
    expect(await focusedTestId(page)).toBe('crop-smaller');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await storedCrop(page))?.box.width, { timeout: 30_000 }).toBeCloseTo(resizeBox(keyed.box, -0.1, W, H, 'centre').width, 6);
    await expect.poll(() => focusedTestId(page)).toBe('crop-smaller');
    await page.keyboard.press('Escape');
    await expect.poll(() => card.locator('[data-testid="crop-adjust"]').count()).toBe(0);
    await expect.poll(() => focusedTestId(page)).toBe('crop-move');

    // Turned off for this photo (no box to move, no row), then on again with the person's box.
    await card.locator('.thumb').first().locator('[data-testid="crop-toggle"]').click();
    await expect.poll(async () => (await storedCrop(page))?.off, { timeout: 30_000 }).toBe(true);
    await expect.poll(() => card.locator('.thumb').first().locator('[data-testid="crop-move"]').count()).toBe(0);
    await card.locator('.thumb').first().locator('[data-testid="crop-toggle"]').click();
    await expect.poll(async () => (await storedCrop(page))?.off, { timeout: 30_000 }).toBe(false);
    await handle().waitFor();
    expect((await mustCrop(page)).byPerson).toBe(true);
    expect(browser.errors).toEqual([]);
  });
});
