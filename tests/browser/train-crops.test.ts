/**
 * Train trying the photos' crops (client/lib/train.ts with shared/learn/crop-choice.ts, issue 17
 * point 3) in Chromium with real IndexedDB: photos whose object sits small in a corner of a noisy
 * frame; Train completes their crops, fits a head on them and judges it against the whole-frame
 * head on the same held-out photos. Whichever it keeps, the report, the stored training summary and
 * the head agree: the judgement counts the held-out photos, its words say what was kept, the head
 * document records the crop exactly when it was kept, and a prediction with the active head carries
 * a box exactly then. The tensor count stays flat. (That the rule keeps the better one, either
 * way, is tests/unit/crop-choice.test.ts's: here which one wins is the data's.)
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { DEFAULT_FEATURE_MAP_CROP } from '../../shared/head/crop.ts';
import { launchChromium, type Browser } from './chrome.ts';
import { cornerClasses, cornerScene } from './crop-scenes.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';
import { harnessTab } from './tabs.ts';

const baseUrl = inject('baseUrl');
const CLASSES = ['heart', 'animal-mammal'];
const split = emojiSplit(CLASSES, 7, 1, 11);

let browser: Browser | undefined;
afterEach(async () => {
  await browser?.dispose();
  browser = undefined;
});

describe('Train tries the crops', () => {
  it('judges the crop head against the whole frame on the same held-out photos; report, summary, head and predictions agree', async () => {
    browser = await launchChromium();
    const page = await harnessTab(browser, baseUrl);
    await page.evaluate((cs) => window.tannerin.teach(cs), await cornerClasses(CLASSES, split.train));
    const trained = await page.evaluate(() => window.tannerin.trainNow());
    if (!trained.ok) throw new Error(JSON.stringify(trained.error));
    const { report } = trained;
    const crop = report.crop;
    expect(crop, 'Train tried the crops').toBeDefined();
    console.log(`crop judgement: ${JSON.stringify(crop)}`);
    expect(crop?.n).toBe(report.split.heldOutPhotos);
    expect(crop?.setting).toEqual(DEFAULT_FEATURE_MAP_CROP);
    expect(crop?.kept).toBe((crop?.correctCrop ?? 0) > (crop?.correctWhole ?? 0) && (crop?.p ?? 1) < 0.05 && report.outcome === 'new-head');
    expect(crop?.words).toMatch(crop?.kept ? /^Finding the object first helped: \d+% -> \d+%\.$/ : /^Finding the object first did not (clearly )?help \(\d+% vs \d+%.*\), kept the whole photo\.$/);
    expect(report.doc.crop).toEqual(crop?.kept ? DEFAULT_FEATURE_MAP_CROP : undefined);
    expect(report.doc.formatVersion).toBe(crop?.kept ? 2 : 1);
    const summary = await page.evaluate(async (id) => (await window.tannerin.getHeadState(id))?.training?.crop, report.headId);
    expect(summary).toEqual(crop);

    const test = await cornerScene((split.test['heart'] as EmojiImage[])[0]?.image as { base64: string }, 2, 77, 80);
    const [predicted] = await page.evaluate((img) => window.tannerin.predictImages([img]), test.image);
    expect(predicted?.crop !== undefined).toBe(crop?.kept);
    expect(trained.tensorsAfter).toBe(trained.tensorsBefore);
    expect(browser.errors).toEqual([]);
  });
});
