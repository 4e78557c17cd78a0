/**
 * Making a crop head in a crop test: Train on the page's photos, and when it did not keep the crop
 * method wanted, the head document stored again with that crop setting (formatVersion 2), as a crop
 * head kept by an earlier Train or imported would be.
 */
import type { Page } from 'playwright-core';
import type { HeadCrop } from '../../shared/head/crop.ts';

/** Stores `doc` (a head document, as parsed JSON) with `crop` through the harness's `storeDocument`, active; throws on a refusal. */
export async function storeWithCrop(page: Page, doc: object, crop: HeadCrop): Promise<void> {
  const cropHead = { ...doc, formatVersion: 2, crop };
  const stored = await page.evaluate((j) => window.tannerin.storeDocument(j, true), JSON.stringify(cropHead));
  if (!stored.ok) throw new Error(JSON.stringify(stored.error));
}

/**
 * Teaches `classes` (the harness's `teach` shape), trains, and makes the trained head a `crop` head
 * if Train did not keep that method ({@link storeWithCrop}); the head's id.
 */
export async function trainCropHead(page: Page, classes: Parameters<typeof window.tannerin.teach>[0], crop: HeadCrop): Promise<string> {
  await page.evaluate((cs) => window.tannerin.teach(cs), classes);
  const trained = await page.evaluate(() => window.tannerin.trainNow());
  if (!trained.ok) throw new Error(JSON.stringify(trained.error));
  const headId = trained.report.headId;
  if (trained.report.doc.crop?.method !== crop.method) {
    const json = (await page.evaluate((id) => window.tannerin.headJson(id), headId)) as string;
    await storeWithCrop(page, JSON.parse(json) as object, crop);
  }
  return headId;
}
