/**
 * Train retraining a crop head when its crop step cannot run, in Chromium with real IndexedDB:
 * 4 photos a class is too few to hold any out (cross-validation), so no crop step runs and the new
 * model has no held-out answers to compare with the stored crop head. It used to be replaced
 * unjudged ("not compared (no crop step ran)"), a crop that helped lost without a word on the Train
 * screen; now it stays (shared/learn/crop-previous.ts: a crop head gives way to a model that does
 * not crop only on evidence), nothing is stored, and the Train screen's sentences
 * (client/app/words.ts `explainTraining`, as the screen builds them from the report) say so.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { explainTraining } from '../../client/app/words.ts';
import { DEFAULT_FEATURE_MAP_CROP } from '../../shared/head/crop.ts';
import { launchChromium, type Browser } from './chrome.ts';
import { trainCropHead } from './crop-heads.ts';
import { cornerClasses } from './crop-scenes.ts';
import { emojiSplit } from './emoji.ts';
import { harnessTab } from './tabs.ts';

const baseUrl = inject('baseUrl');
const CLASSES = ['heart', 'animal-mammal'];
const split = emojiSplit(CLASSES, 4, 1, 13);

let browser: Browser | undefined;
afterEach(async () => {
  await browser?.dispose();
  browser = undefined;
});

describe('Train with a stored crop head and no crop step', () => {
  it('keeps the crop head it cannot judge fairly (cross-validation) and says so', async () => {
    browser = await launchChromium();
    const page = await harnessTab(browser, baseUrl);
    const headId = await trainCropHead(page, await cornerClasses(CLASSES, split.train), DEFAULT_FEATURE_MAP_CROP);
    const before = await page.evaluate((id) => window.tannerin.headJson(id), headId);
    expect(JSON.parse(before ?? '{}')).toMatchObject({ crop: DEFAULT_FEATURE_MAP_CROP });

    const second = await page.evaluate((id) => window.tannerin.trainNow({ headId: id }), headId);
    if (!second.ok) throw new Error(JSON.stringify(second.error));
    const { report } = second;
    console.log(`guard: ${JSON.stringify(report.guard.reasons)}\ncrop: ${JSON.stringify(report.crop)}`);
    expect(report.split.method).toBe('cross-validation');
    // Not replaced unjudged: kept, nothing stored.
    expect(report.guard.reasons.join(' ')).toMatch(/previous head predicts crops: judged on its own crops \(no crop step ran\)/);
    expect(report.crop).toMatchObject({ notTried: true, kept: true, setting: DEFAULT_FEATURE_MAP_CROP, previous: { kept: true, correct: null } });
    expect(report.outcome).toBe('kept-previous');
    expect(report.saved).toBe(false);
    expect(await page.evaluate((id) => window.tannerin.headJson(id), headId)).toBe(before);
    // The words the Train screen shows.
    const words = 'Your previous model (it finds the object first) stays: there are too few photos to set some aside for practice, so the new one could not be compared with it fairly.';
    expect(report.crop?.words).toBe(words);
    const shown = explainTraining({ classes: report.trained.classes, metrics: report.metrics, guard: report.guard, photos: { heart: 4, 'animal-mammal': 4 }, ...(report.crop ? { crop: report.crop } : {}) });
    expect(shown).toContainEqual({ tone: 'good', text: words });
    expect(second.tensorsAfter).toBe(second.tensorsBefore);
    expect(browser.errors).toEqual([]);
  });
});
