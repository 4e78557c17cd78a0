/**
 * The object detector's box on the Teach screen (client/app/crop-box.ts, client/app/screens/teach.ts;
 * issue 17) in the app: with "Find the object first" turned on (Models screen), each photo taught
 * gets its detector crop in the background, and its thumbnail shows that box as a second, dashed
 * outline; a legend says which box is which ("found by the object detector"), and the keyboard
 * handle's name says the dashed box is there. Moving the solid box makes it the person's, which
 * wins for both methods: that thumbnail then shows no detector box. No serious WCAG 2 A/AA finding.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { launchChromium, type Browser } from './chrome.ts';
import { openApp, pinBaseBackbone } from './app-steps.ts';
import { cornerScene } from './crop-scenes.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';
import { axeProblems } from './phone-checks.ts';

const baseUrl = inject('baseUrl');
const emojis = (emojiSplit(['heart'], 2, 0, 5).train['heart'] as EmojiImage[]).map((e) => e.image);

let browser: Browser | undefined;
afterAll(async () => {
  await browser?.dispose();
});

describe('the detector box on the Teach screen', () => {
  it('shows the detector\'s box dashed next to the movable one, with a legend; a moved box hides it', async () => {
    browser = await launchChromium();
    await pinBaseBackbone(browser.context);
    const page = await browser.context.newPage();
    await openApp(page, baseUrl, '#models');
    await page.locator('#detector-on').check();
    await page.waitForFunction(() => document.querySelector('[data-testid="detector-state"]')?.textContent?.startsWith('On:'), undefined, { timeout: 60_000 });

    await page.evaluate(() => (location.hash = '#teach'));
    const legend = page.locator('[data-testid="box-legend"]');
    await legend.waitFor({ state: 'visible' });
    expect(await legend.textContent()).toMatch(/Dashed box: found by the object detector/);
    await page.fill('#new-class', 'things');
    await page.click('button:has-text("Add class")');
    const card = page.locator('article[data-class="things"]');
    await card.waitFor();
    const scenes = await Promise.all(emojis.map((e, i) => cornerScene(e, (i * 2) as 0 | 2, i + 3)));
    await card.locator('input[type="file"]').setInputFiles(scenes.map((s, i) => ({ name: `scene-${i}.png`, mimeType: s.image.type, buffer: Buffer.from(s.image.base64, 'base64') })));
    // Both boxes appear once the crops are stored in the background.
    await expect.poll(() => card.locator('[data-testid="detector-box"]').count(), { timeout: 90_000 }).toBe(2);
    expect(await card.locator('[data-testid="crop-box"]').count()).toBe(2);
    const first = card.locator('.thumb').first();
    expect(await first.locator('[data-testid="detector-box"]').getAttribute('title')).toBe('Found by the object detector');
    const handle = first.locator('[data-testid="crop-move"]');
    expect(await handle.getAttribute('aria-label')).toMatch(/dashed box shows where the object detector found it/);
    expect(await axeProblems(page, 'teach, detector boxes')).toEqual([]);

    // The person moves the solid box (arrow keys, stored when it loses the focus): theirs now, for both methods.
    await handle.focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowDown');
    await handle.evaluate((el) => (el as HTMLElement).blur());
    await expect.poll(() => card.locator('[data-testid="detector-box"]').count(), { timeout: 30_000 }).toBe(1);
    await expect.poll(() => card.locator('.thumb').first().locator('[data-testid="crop-box"][data-by-person]').count(), { timeout: 30_000 }).toBe(1);
    expect(browser.errors).toEqual([]);
  });
});
