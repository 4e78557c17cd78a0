/**
 * Train retraining a head that crops (shared/head/crop.ts) in Chromium with real IndexedDB: the
 * guard's "previous head" (shared/learn/train-app.ts: the stored head is the incumbent, replaced
 * only by a significantly better model on the same held-out photos) must see that head as it
 * predicts, on each photo's crop. The whole-frame guard does not score it on whole frames (it
 * used to: a crop head there looks worse than it is, or better, and either way the crop step then
 * ran without it); the crop step judges it on its own crops, paired, against the model Train would
 * store, and the outcome follows that rule.
 *
 * The stored crop head: the first Train's judged twin (trained without the held-out photos, the
 * same ones the second Train holds out: same photos, same seed) with the default crop, or the
 * first Train's own crop head when it kept the crop.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { DEFAULT_FEATURE_MAP_CROP } from '../../shared/head/crop.ts';
import { launchChromium, type Browser } from './chrome.ts';
import { storeWithCrop } from './crop-heads.ts';
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

describe('Train with a stored crop head', () => {
  it('judges the previous crop head on its crops, not on whole frames; the outcome follows the guard rule', async () => {
    browser = await launchChromium();
    const page = await harnessTab(browser, baseUrl);
    await page.evaluate((cs) => window.tannerin.teach(cs), await cornerClasses(CLASSES, split.train));
    const first = await page.evaluate(() => window.tannerin.trainNow());
    if (!first.ok) throw new Error(JSON.stringify(first.error));
    const { headId } = first.report;
    if (!first.report.doc.crop) {
      // The judged twin, made a crop head: it never saw the held-out photos (trainedOn unknown: none).
      const state = await page.evaluate((id) => window.tannerin.getHeadState(id), headId);
      const twin = state?.judged?.doc ?? first.report.doc;
      await storeWithCrop(page, { ...twin, id: headId }, DEFAULT_FEATURE_MAP_CROP);
    }
    const before = await page.evaluate((id) => window.tannerin.headJson(id), headId);

    const second = await page.evaluate((id) => window.tannerin.trainNow({ headId: id }), headId);
    if (!second.ok) throw new Error(JSON.stringify(second.error));
    const { report } = second;
    console.log(`guard: ${JSON.stringify(report.guard.reasons)}\ncrop: ${JSON.stringify(report.crop)}`);
    // Not scored on whole frames.
    expect(report.guard.candidates.map((c) => c.name)).not.toContain('previous');
    expect(report.guard.reasons.join(' ')).toMatch(/previous head predicts crops/);
    // Scored on its crops, on the same held-out photos, against what Train would store.
    const previous = report.crop?.previous;
    expect(previous, 'the crop step judged the previous crop head').toBeDefined();
    expect(report.crop?.n).toBe(report.split.heldOutPhotos);
    if (!previous || previous.correct === null) throw new Error('previous crop head not compared');
    const newRight = report.crop?.kept ? report.crop.correctCrop : report.crop?.correctWhole;
    expect(previous.correctNew).toBe(newRight);
    expect(previous.kept).toBe(!(previous.correctNew > previous.correct && previous.p < 0.05));
    expect(report.crop?.words).toContain(previous.words);
    expect(report.outcome === 'kept-previous').toBe(previous.kept);
    expect(report.saved).toBe(!previous.kept);
    if (previous.kept) expect(await page.evaluate((id) => window.tannerin.headJson(id), headId)).toBe(before);
    expect(second.tensorsAfter).toBe(second.tensorsBefore);
    expect(browser.errors).toEqual([]);
  });
});
