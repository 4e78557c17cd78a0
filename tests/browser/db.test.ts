/**
 * The IndexedDB schema and tabs: a version 1 database (as an older release left it) upgrades to
 * the current version with its examples kept and reshaped; a fresh profile gets every store of the
 * schema; when another tab opens a newer schema version, this tab's connection closes at once (the
 * other tab is not blocked) and the app is told; the BroadcastChannel carries messages between tabs.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { launchChromium, openHarness, type Browser } from './chrome.ts';

const baseUrl = inject('baseUrl');

let browser: Browser | undefined;
afterAll(async () => {
  await browser?.dispose();
});

describe('database and tabs', () => {
  it('upgrades a version 1 database, keeping its examples in the new shape', async () => {
    const upgrader = await launchChromium();
    try {
      const page = await openHarness(upgrader, baseUrl);
      await page.evaluate(() => window.tannerin.createVersion1());
      const raw = await page.evaluate(() => window.tannerin.rawExamples());
      expect(raw.version).toBe(4);
      expect(raw.stores).toEqual(['classes', 'examples', 'headStates', 'heads', 'manifests', 'modelFiles', 'settings', 'syncAccount', 'syncStates', 'unlabeled']);
      expect(raw.examples).toEqual([
        expect.objectContaining({
          id: 'e1',
          classId: 'c1',
          backbone: 'mobilenet_v2@old',
          embeddings: 3,
          views: [
            { augmented: false, ops: [] },
            { augmented: true, ops: ['flip'] },
            { augmented: true, ops: ['crop', 'jitter'] },
          ],
          augmentSeed: 0,
        }),
      ]);
      expect(upgrader.errors).toEqual([]);
    } finally {
      await upgrader.dispose();
    }
  });

  it('creates the schema, yields to a newer version in another tab, and broadcasts', async () => {
    browser = await launchChromium();
    const a = await openHarness(browser, baseUrl);
    const b = await browser.context.newPage();
    await b.goto(`${baseUrl}/test-pages/harness.html`);
    await b.waitForFunction(() => typeof window.tannerin === 'object');

    expect(await a.evaluate(() => window.tannerin.openDbWatched())).toBe(4);
    await b.evaluate(() => window.tannerin.listen());
    await a.evaluate(() => window.tannerin.broadcast({ type: 'head-saved', id: 'h1' }));
    await b.waitForFunction(() => window.tannerin.messages().length > 0);
    expect(await b.evaluate(() => window.tannerin.messages())).toEqual([{ type: 'head-saved', id: 'h1' }]);
    // A tab does not hear its own messages.
    expect(await a.evaluate(() => window.tannerin.messages())).toEqual([]);

    // Tab b opens version 5 (as a newer app would): tab a closes its connection and is told.
    const newer = await b.evaluate(() => window.tannerin.openNewerVersion(5));
    expect(newer.version).toBe(5);
    expect(newer.stores.sort()).toEqual(['classes', 'examples', 'headStates', 'heads', 'manifests', 'modelFiles', 'settings', 'syncAccount', 'syncStates', 'unlabeled']);
    expect(await a.evaluate(() => window.tannerin.events())).toEqual(['version-change']);
    expect(await b.evaluate(() => window.tannerin.events())).toEqual([]);
    expect(browser.errors).toEqual([]);
  });
});
