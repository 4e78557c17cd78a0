/**
 * Train with "find the object first" on (client/lib/detector-crops.ts, client/lib/train.ts,
 * shared/learn/crop-choice.ts `tryCrops`; issue 17) in Chromium with real IndexedDB: photos whose
 * object sits small in a corner of a noisy frame; with the detector on, Train gives each photo its
 * detector box (stored in the record, its crop's embedding in the `#detector` packs) and judges the
 * feature map's crops and the detector's against the whole frame on the same held-out photos (a
 * photo whose box the person moved uses that box for the detector's crop too). The
 * report's judgement lists both methods, its words name them, and the head records a crop exactly
 * when one was kept (which one wins is the data's; the rule is tests/unit/crop-choice-methods.test.ts's).
 * The tensor count stays flat.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { launchChromium, type Browser } from './chrome.ts';
import { cornerClasses } from './crop-scenes.ts';
import { emojiSplit } from './emoji.ts';
import { harnessTab } from './tabs.ts';

const baseUrl = inject('baseUrl');
const CLASSES = ['heart', 'animal-mammal'];
const split = emojiSplit(CLASSES, 7, 1, 11);

let browser: Browser | undefined;
afterEach(async () => {
  await browser?.dispose();
  browser = undefined;
});

describe('Train with the detector on', () => {
  it('tries the detector\'s crops next to the feature map\'s on the same held-out photos; the judgement says which was kept', async () => {
    browser = await launchChromium();
    const page = await harnessTab(browser, baseUrl);
    const on = await page.evaluate(() => window.tannerin.detectorOn());
    expect(on.ok, JSON.stringify(on)).toBe(true);
    const classes = await cornerClasses(CLASSES, split.train);
    await page.evaluate((cs) => window.tannerin.teach(cs), classes);
    // The person moves one photo's box: that box wins for the detector's crop too.
    const moved = await page.evaluate(async () => {
      const t = window.tannerin;
      await t.pendingCropsSettled();
      const [first] = await t.listExamples();
      if (!first) throw new Error('no example');
      return { id: first.id, ok: await t.setCropBox(first.id, { x: 0.1, y: 0.2, width: 0.3, height: 0.4 }) };
    });
    expect(moved.ok).toBe(true);
    const trained = await page.evaluate(() => window.tannerin.trainNow());
    if (!trained.ok) throw new Error(JSON.stringify(trained.error));
    const { report } = trained;
    const crop = report.crop;
    console.log(`crop judgement with the detector: ${JSON.stringify(crop)}`);
    expect(crop?.n).toBe(report.split.heldOutPhotos);
    expect(crop?.tried?.map((t) => t.setting.method)).toEqual(['featuremap', 'detector']);
    // A method passes only with more right at p < 0.05 / 2 (two methods tried); kept: one that passed.
    for (const t of crop?.tried ?? []) if (t.passed) expect(t.correct > (crop?.correctWhole ?? 0) && t.p < 0.025).toBe(true);
    expect(crop?.kept).toBe(crop?.tried?.some((t) => t.passed));
    expect(crop?.words).toMatch(/the object detector/);
    expect(crop?.words).toMatch(crop?.kept ? /^Finding the object first helped/ : /kept the whole photo\.$/);
    expect(report.doc.crop).toEqual(crop?.kept ? crop.setting : undefined);

    // Each photo got its detector box, its crop's embedding packed under #detector.
    const stored = await page.evaluate(async () => {
      const t = window.tannerin;
      const db = await t.openTannerinDb();
      const packs = await t.readEmbeddings(db.transaction('embeddingPacks').store, `${t.currentBackbone().ref}#detector`);
      return (await t.listExamples()).map((e) => ({ id: e.id, box: e.detectorCrop?.box ?? null, byPerson: e.detectorCrop?.byPerson ?? false, cropBox: e.crop?.box ?? null, method: e.detectorCrop?.setting.method ?? null, dims: packs.get(e.id)?.[0]?.length ?? 0 }));
    });
    const mine = stored.find((s) => s.id === moved.id);
    expect(mine?.byPerson).toBe(true);
    expect(mine?.box).toEqual(mine?.cropBox);
    expect(stored.filter((s) => s.byPerson)).toHaveLength(1);
    expect(stored).toHaveLength(14);
    for (const s of stored) {
      expect(s.method).toBe('detector');
      expect(s.box).not.toBeNull();
      expect(s.dims).toBeGreaterThan(0);
    }
    expect(trained.tensorsAfter).toBe(trained.tensorsBefore);
    expect(browser.errors).toEqual([]);
  });
});
