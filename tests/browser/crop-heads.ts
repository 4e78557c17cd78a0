/**
 * Making a crop head in a crop test: a head document stored again with a crop setting (formatVersion
 * 2), as a crop head kept by an earlier Train or imported would be, when Train kept the whole frame.
 */
import type { Page } from 'playwright-core';
import type { HeadCrop } from '../../shared/head/crop.ts';

/** Stores `doc` (a head document, as parsed JSON) with `crop` through the harness's `storeDocument`, active; throws on a refusal. */
export async function storeWithCrop(page: Page, doc: object, crop: HeadCrop): Promise<void> {
  const cropHead = { ...doc, formatVersion: 2, crop };
  const stored = await page.evaluate((j) => window.tannerin.storeDocument(j, true), JSON.stringify(cropHead));
  if (!stored.ok) throw new Error(JSON.stringify(stored.error));
}
