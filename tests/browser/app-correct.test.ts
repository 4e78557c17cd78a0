/**
 * Learning from mistakes in the app, in Chromium at 360x740 with the network off after one visit:
 * the Train screen asks about the photos it is least sure of ("Help me with these 5") and each
 * label retrains the model; a wrong prediction on Predict is corrected in one tap ("Wrong: it is
 * …"), the model retrains, and the same photo then names the corrected class; the live camera
 * freezes on a frame, which is classified like a photo and answered "Right"; and the settings of
 * the photos kept to teach later (keep on/off, how many, delete one or all). The new controls are
 * checked for accessibility (axe-core) and 44 px touch targets. The same ask and correct flows run
 * in Firefox and WebKit in tests/browser/cross-engine-app.test.ts, with the same steps
 * (tests/browser/app-engine-steps.ts). Screenshots go to tests/artifacts/app-correct/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { answerAsked, correctTo, engineFile, findWrongPrediction, openEngineApp, predictStill, SETTLED, settledText, tab, teachClass, trainNow } from './app-engine-steps.ts';
import type { Browser } from './chrome.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';
import type { EnginePage } from './engine.ts';
import { playwrightPage } from './engine-chromium.ts';
import { axeProblems, smallTargets } from './phone-checks.ts';
import { launchWithFakeCamera, type FakeCameraBrowser } from './fake-camera.ts';
import { bird, CLASSES, POOL_CLASS, poolPhotos, test, train } from './app-photos.ts';

const baseUrl = inject('baseUrl');
const ARTIFACTS = join(import.meta.dirname, '..', 'artifacts', 'app-correct');
mkdirSync(ARTIFACTS, { recursive: true });

/** Photos never shown to the app before the pool settings test (a photo labelled before is not kept again). */
const fresh = emojiSplit(['sky & weather'], 0, 4, 5).test['sky & weather'] as EmojiImage[];

/** Whether the personal model in use records test-time augmentation (read from the app's IndexedDB). */
function activeHeadRecordsTta(page: Page): Promise<boolean> {
  return page.evaluate(
    () =>
      new Promise<boolean>((resolve, reject) => {
        const open = indexedDB.open('tannerin');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const tx = open.result.transaction(['settings', 'heads']);
          const setting = tx.objectStore('settings').get('activeHead');
          setting.onsuccess = () => {
            const id = (setting.result as { headId: string | null } | undefined)?.headId;
            if (!id) return resolve(false);
            const head = tx.objectStore('heads').get(id);
            head.onsuccess = () => {
              open.result.close();
              resolve((head.result as { testTimeAugmentation?: unknown } | undefined)?.testTimeAugmentation !== undefined);
            };
          };
        };
      }),
  );
}

const poolCount = (page: Page): Promise<string> => page.locator('[data-testid="pool-count"]').innerText();

describe('learning from mistakes, offline', () => {
  let browser: Browser;
  let page: Page;
  let app: EnginePage;
  let camera: FakeCameraBrowser | undefined;
  const shot = (name: string): Promise<void> => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true }).then(() => undefined);
  beforeAll(async () => {
    // The fake camera plays a video of hearts (the freeze test answers "Right" to one of its frames).
    camera = await launchWithFakeCamera(train('heart').map((e) => Buffer.from(e.image.base64, 'base64')));
    browser = camera.browser;
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    app = playwrightPage(page);
  });
  afterAll(async () => {
    await camera?.dispose();
  });

  it('teaches online; offline, trains and labels the photos it asks about, each label retraining the model', { timeout: 600_000 }, async () => {
    await openEngineApp(app, baseUrl);
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
    });
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    for (const name of CLASSES) await teachClass(app, name, train(name));
    await browser.context.setOffline(true);
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    expect(await page.locator('#net').textContent()).toBe('Offline');

    await trainNow(app, shot);
    // Nothing to ask about yet: the card is hidden; the pool card says so.
    expect(await page.locator('[data-testid="ask"]').isVisible()).toBe(false);
    await expect.poll(() => poolCount(page)).toBe('No photos kept yet.');
    await page.setInputFiles('#unlabeled-files', poolPhotos.map(engineFile));
    await page.waitForSelector(`[data-testid="asked"]:nth-child(${poolPhotos.length})`, { timeout: 120_000 });
    expect(await page.locator('#ask-title').textContent()).toBe(`Help me with these ${poolPhotos.length}`);
    await shot('train-asks');
    expect([...(await axeProblems(page, 'train, asking')), ...(await smallTargets(page, 'train, asking'))]).toEqual([]);

    // One photo skipped, the others labelled with one tap each; every label retrains the model.
    let seen = 0;
    const answers = await answerAsked(app, () => (seen++ === 0 ? 'skip' : POOL_CLASS), poolPhotos.length);
    expect(answers[0]?.note).toBe('Skipped.');
    for (const a of answers.slice(1)) expect(a.note).toMatch(/^Your updated model is in use\.$|previous model stays in use/);
    await expect.poll(() => page.locator('[data-testid="ask-status"]').textContent(), { timeout: 60_000 }).toBe('Done: your model has learned from your answers.');
    await expect.poll(() => page.locator('[data-testid="train-summary"]').textContent()).toContain(`${POOL_CLASS} (${train(POOL_CLASS).length + answers.length - 1})`);
    // The skipped photo stays kept; the labelled ones left the pool.
    await expect.poll(() => poolCount(page)).toMatch(/^1 of at most \d+ photos kept/);
    await shot('train-answered');
    expect(browser.errors).toEqual([]);
  });

  it('offline: corrects a wrong prediction in one tap; the model retrains and the same photo names the corrected class', { timeout: 600_000 }, async () => {
    await tab(app, 'predict');
    await page.waitForSelector('#model-mine:checked');
    const wrong = await findWrongPrediction(app, [...CLASSES.flatMap((truth) => test(truth).map((image) => ({ image, truth }))), { image: bird, truth: 'animal-bird' }]);
    await shot('predict-wrong');
    expect([...(await axeProblems(page, 'predict, answering')), ...(await smallTargets(page, 'predict, answering'))]).toEqual([]);
    const { first, settled } = await correctTo(app, wrong.truth);
    expect(first).toBe(`Added to “${wrong.truth}”. Learning from it…`);
    expect(settled).toMatch(/^Your corrected model is in use\.$|previous model stays in use/);
    console.log(`chromium: ${wrong.image.file} (${wrong.truth}) was named ${wrong.top}; after the correction: ${settled}`);
    await shot('predict-corrected');
    const again = await predictStill(app, engineFile(wrong.image));
    expect(again.top).toBe(wrong.truth);
    expect(again.youSaid).toBe(`You said this is “${wrong.truth}”.`);
    // A kind the model was never taught becomes a new class from the same panel.
    if (wrong.truth !== 'animal-bird') {
      await predictStill(app, engineFile(bird));
      const added = await correctTo(app, 'animal-bird');
      expect(added.first).toBe('Added to “animal-bird”. Learning from it…');
      expect(added.settled).toMatch(/^Your corrected model is in use\.$|previous model stays in use/);
      console.log(`chromium: a bird corrected to a new class: ${added.settled}`);
      const named = await predictStill(app, engineFile(bird));
      expect(named.top).toBe('animal-bird');
      expect(named.youSaid).toBe('You said this is “animal-bird”.');
      await page.click('nav a[href="#teach"]');
      await page.waitForSelector('article[data-class="animal-bird"] .thumb');
      await tab(app, 'predict');
      await page.waitForSelector('#model-mine:checked');
      await predictStill(app, engineFile(wrong.image));
    }
    // The default model's answers are not corrected here: no buttons.
    await page.check('#model-default');
    await page.waitForSelector('[data-testid="prediction-bars"] li');
    expect(await page.locator('[data-testid="correct"]').count()).toBe(0);
    await page.check('#model-mine');
    await page.waitForSelector('[data-testid="correct"]');
    expect(browser.errors).toEqual([]);
  });

  it('freezes the live camera on a frame, classifies it like a photo, and learns from "Right"', { timeout: 600_000 }, async () => {
    await tab(app, 'predict');
    await page.click('[data-testid="live-camera"]');
    await page.waitForSelector('[data-testid="predictions"] p.muted:has-text("live: each frame alone")', { timeout: 30_000 });
    // Live frames are not corrected (each is gone a moment later).
    expect(await page.locator('[data-testid="correct"]').count()).toBe(0);
    await page.click('[data-testid="freeze"]');
    expect(await page.locator('[data-testid="freeze"]').textContent()).toBe('Resume');
    await page.waitForSelector('[data-testid="correct-right"]', { timeout: 30_000 });
    // Like a photo, not a live frame: averaged over the frame and its flipped or cropped copies
    // when the model records test-time augmentation (Train's guard decides; one trained on few
    // photos by cross-validation records none).
    const how = (await page.locator('[data-testid="predictions"] p.muted').first().textContent()) ?? '';
    expect(how).not.toMatch(/live: each frame alone/);
    if (await activeHeadRecordsTta(page)) expect(how).toMatch(/averaged over the photo and \d+ flipped or cropped copies/);
    const top = (await page.locator('[data-testid="prediction-bars"] li .label').first().textContent()) ?? '';
    expect(CLASSES).toContain(top);
    await shot('predict-frozen');
    await page.click('[data-testid="correct-right"]');
    expect(await settledText(app, '[data-testid="correct-status"]')).toMatch(SETTLED);
    expect(await page.locator('[data-testid="correct-status"]').textContent()).toMatch(/^Your updated model is in use\.$|previous model stays in use/);
    // Resume: live again, and the answer panel goes.
    await page.click('[data-testid="freeze"]');
    expect(await page.locator('[data-testid="freeze"]').textContent()).toBe('Freeze');
    expect(await page.locator('[data-testid="correct"]').count()).toBe(0);
    await page.waitForSelector('[data-testid="predictions"] p.muted:has-text("live: each frame alone")', { timeout: 30_000 });
    await page.click('[data-testid="live-camera"]');
    expect(browser.errors).toEqual([]);
  });

  it('keeps photos classified on Predict only while keeping is on, at most as many as set, and deletes them', { timeout: 300_000 }, async () => {
    await tab(app, 'train');
    await expect.poll(() => poolCount(page)).toMatch(/of at most 200 photos kept/);
    const count = async (): Promise<number> => Number.parseInt(await poolCount(page), 10) || 0;
    const before = await count();
    // Off: a photo picked on Predict is classified, not kept.
    await page.uncheck('[data-testid="pool-keep"]');
    await expect.poll(() => page.locator('[data-testid="pool-status"]').textContent()).toMatch(/no longer kept/);
    await tab(app, 'predict');
    await predictStill(app, engineFile(fresh[0] as EmojiImage));
    await tab(app, 'train');
    await expect.poll(() => poolCount(page)).toMatch(/photos kept|No photos/);
    expect(await count()).toBe(before);
    // On, with room for 2: the pool keeps the newest 2.
    await page.check('[data-testid="pool-keep"]');
    await page.fill('[data-testid="pool-cap"]', '2');
    await page.locator('[data-testid="pool-cap"]').press('Enter');
    await page.locator('[data-testid="pool-cap"]').blur();
    await expect.poll(() => page.locator('[data-testid="pool-status"]').textContent()).toMatch(/at most 2 photos/);
    await tab(app, 'predict');
    for (const image of fresh.slice(1)) {
      await predictStill(app, engineFile(image));
      await page.waitForSelector('[data-testid="kept-note"]:not(:empty)');
    }
    await tab(app, 'train');
    await expect.poll(() => poolCount(page)).toMatch(/^2 of at most 2 photos kept/);
    // The setting is stored: a reload (offline) shows it.
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    await tab(app, 'train');
    await expect.poll(() => page.locator('[data-testid="pool-cap"]').inputValue()).toBe('2');
    expect(await page.locator('[data-testid="pool-keep"]').isChecked()).toBe(true);
    await shot('train-pool');
    expect(await smallTargets(page, 'train, pool')).toEqual([]);
    // Delete one, then all (after a confirmation).
    await page.locator('[data-testid="unlabeled"] .thumb button').first().click();
    await expect.poll(() => poolCount(page)).toMatch(/^1 of at most 2/);
    page.once('dialog', (d) => void d.accept());
    await page.click('[data-testid="pool-delete-all"]');
    await expect.poll(() => poolCount(page)).toBe('No photos kept yet.');
    await browser.context.setOffline(false);
    expect(browser.errors).toEqual([]);
  });
});
