/**
 * Steps through the app shared by the Chromium app tests (app.test.ts, app-phone.test.ts), over
 * playwright-core pages: open it, upload photos into a class. The cross-engine tests have their
 * own steps over the driver layer (engine.ts).
 */
import { Buffer } from 'node:buffer';
import type { BrowserContext, Page } from 'playwright-core';
import type { EmojiImage } from './emoji.ts';

/** An emoji image as a file for `setInputFiles`. */
export const emojiFile = (e: EmojiImage): { name: string; mimeType: string; buffer: Buffer } => ({
  name: e.file,
  mimeType: e.image.type,
  buffer: Buffer.from(e.image.base64, 'base64'),
});

/**
 * The backbone choice the app tests pin: MobileNetV2 chosen by the person, so that the app never
 * switches to the pair MobileNetV2 + InceptionV3 at first run. Which backbone the rule picks depends
 * on this machine's measured forward time (client/lib/backbone-choice.ts: fast devices get the pair;
 * this 2-core machine measures ~24 ms, near the ~19 ms cut-off), and these tests are about the app
 * on the backbone the edge runs. The rule itself is tested in backbones.test.ts and
 * backbone-pair.test.ts. Written where an older version kept the choice (localStorage
 * `tannerin.backbone`), which the app moves into IndexedDB at start unless IndexedDB holds one.
 */
export const PINNED_BACKBONE_CHOICE = { key: 'tannerin.backbone', value: JSON.stringify({ personChoice: 'mobilenet_v2', measurement: null }) };

/** Pins {@link PINNED_BACKBONE_CHOICE} for every page of `context`, before any of its scripts run. */
export async function pinBaseBackbone(context: BrowserContext): Promise<void> {
  await context.addInitScript(({ key, value }) => {
    try {
      if (!localStorage.getItem(key)) localStorage.setItem(key, value);
    } catch {
      // Storage blocked: the rule decides, as for a person with nothing kept.
    }
  }, PINNED_BACKBONE_CHOICE);
}

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
