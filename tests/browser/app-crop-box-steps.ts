/**
 * Steps of the Teach screen's crop box tests (app-crop-box*.test.ts): photos with the object in a
 * corner taught into a class until their boxes show, and a photo's crop as stored, read from
 * IndexedDB (the app page has no test hooks).
 */
import { Buffer } from 'node:buffer';
import type { Locator, Page } from 'playwright-core';
import type { Box } from '../../shared/crop/box.ts';
import { cornerScene } from './crop-scenes.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';

/** A photo's crop as stored. */
export interface StoredCrop {
  box: Box;
  byPerson: boolean;
  off: boolean;
  found: Box | null;
  pending: boolean;
  size: [number, number];
}

const emojis = (emojiSplit(['heart'], 2, 0, 5).train['heart'] as EmojiImage[]).map((e) => e.image);

/**
 * Adds class `name` on the Teach screen and two photos into it (a heart at the top left, then at
 * the bottom right, over noise); resolves with its card once both boxes show (their crops stored).
 */
export async function teachCornerScenes(page: Page, name: string): Promise<Locator> {
  await page.fill('#new-class', name);
  await page.click('button:has-text("Add class")');
  const card = page.locator(`article[data-class="${name}"]`);
  await card.waitFor();
  const scenes = await Promise.all(emojis.map((e, i) => cornerScene(e, (i * 2) as 0 | 2, i + 3)));
  await card.locator('input[type="file"]').setInputFiles(scenes.map((s, i) => ({ name: `scene-${i}.png`, mimeType: s.image.type, buffer: Buffer.from(s.image.base64, 'base64') })));
  await card.locator('[data-testid="crop-box"]').nth(1).waitFor({ timeout: 60_000 });
  return card;
}

/** The crop of the first photo stored (the first thumbnail) as IndexedDB holds it, or null without one. */
export async function storedCrop(page: Page): Promise<StoredCrop | null> {
  return page.evaluate(
    () =>
      new Promise<StoredCrop | null>((resolve, reject) => {
        const open = indexedDB.open('tannerin');
        open.onerror = () => reject(open.error ?? new Error('open failed'));
        open.onsuccess = () => {
          const req = open.result.transaction('examples').objectStore('examples').getAll();
          req.onsuccess = () => {
            type Record_ = { created: string; width: number; height: number; crop?: { box: Box; byPerson?: true; off?: true; found?: Box }; cropPending?: 1 };
            const records = (req.result as Record_[]).sort((a, b) => (a.created < b.created ? -1 : 1));
            const r = records[0];
            open.result.close();
            resolve(r?.crop ? { box: r.crop.box, byPerson: !!r.crop.byPerson, off: !!r.crop.off, found: r.crop.found ?? null, pending: !!r.cropPending, size: [r.width, r.height] } : null);
          };
          req.onerror = () => reject(req.error ?? new Error('read failed'));
        };
      }),
  );
}

/** {@link storedCrop}, which must exist. */
export async function mustCrop(page: Page): Promise<StoredCrop> {
  const crop = await storedCrop(page);
  if (!crop) throw new Error('the first photo has no crop');
  return crop;
}
