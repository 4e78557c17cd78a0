/**
 * Steps through the app shared by the Chromium app tests (app.test.ts, app-phone.test.ts), over
 * playwright-core pages: open it, upload photos into a class. The cross-engine tests have their
 * own steps over the driver layer (engine.ts).
 */
import { Buffer } from 'node:buffer';
import type { Page } from 'playwright-core';
import type { EmojiImage } from './emoji.ts';

/** An emoji image as a file for `setInputFiles`. */
export const emojiFile = (e: EmojiImage): { name: string; mimeType: string; buffer: Buffer } => ({
  name: e.file,
  mimeType: e.image.type,
  buffer: Buffer.from(e.image.base64, 'base64'),
});

/** Opens the app at `baseUrl` (with a `#screen` hash) and waits until models are loaded and screens shown. */
export async function openApp(page: Page, baseUrl: string, hash = ''): Promise<void> {
  await page.goto(`${baseUrl}/${hash}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
}

/** Uploads `images` into the class card `name` and waits until each has become a thumbnail. */
export async function uploadToClass(page: Page, name: string, images: EmojiImage[]): Promise<void> {
  const card = page.locator(`article[data-class="${name}"]`);
  const before = await card.locator('.thumb').count();
  await card.locator('input[type="file"]').setInputFiles(images.map(emojiFile));
  await page.waitForFunction(
    ([n, count]) => document.querySelectorAll(`article[data-class="${n}"] .thumb`).length >= count,
    [name, before + images.length] as const,
    { timeout: 60_000 },
  );
}
