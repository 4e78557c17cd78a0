/**
 * Steps through the app over the cross-engine driver layer (tests/browser/engine.ts), so one set
 * runs in Chromium, Firefox and WebKit: open it, show a screen, teach a class from files, train,
 * read a prediction; and the learning from mistakes flows: correct a prediction on Predict ("Wrong:
 * it is …"), and answer the photos the Train screen asks about ("Help me with these 5"). Used by
 * tests/browser/cross-engine-app.test.ts and tests/browser/app-correct.test.ts (Chromium, through
 * engine-chromium.ts's `playwrightPage`).
 */
import { Buffer } from 'node:buffer';
import { clickText, type EngineFile, type EnginePage } from './engine.ts';
import type { EmojiImage } from './emoji.ts';
import { PINNED_BACKBONE_CHOICE } from './app-steps.ts';

/** An emoji image as a file for an `<input type=file>`. */
export const engineFile = (e: EmojiImage): EngineFile => ({ name: e.file, mimeType: e.image.type, buffer: Buffer.from(e.image.base64, 'base64') });

/**
 * Opens the app and waits until the models are loaded and the screens are shown. First, on a
 * static page of the same origin (the API description, which loads no model), it pins the backbone
 * choice of app-steps.ts {@link PINNED_BACKBONE_CHOICE} (MobileNetV2, whatever this machine's speed),
 * unless one is already kept there.
 */
export async function openEngineApp(page: EnginePage, origin: string): Promise<void> {
  await page.goto(`${origin}/api.html`);
  await page.evaluate(({ key, value }) => {
    if (!localStorage.getItem(key)) localStorage.setItem(key, value);
  }, PINNED_BACKBONE_CHOICE);
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true', undefined, 90_000);
}

/**
 * Clicks the first element matching `selector` (or, with `text`, the first whose text contains
 * it) after scrolling it to the middle of the viewport: a driver that scrolls it only just into
 * view leaves it under the fixed tab bar at the bottom, and WebKit's WebDriver then refuses the
 * click as intercepted. It refused one too while the screen was still filling in (its cards
 * render after reading storage, moving what is below): then it tries again, a few times.
 */
export async function tapCentered(page: EnginePage, selector: string, text?: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await page.waitForFunction(
      ([sel, txt]) => {
        const el = [...document.querySelectorAll(sel)].find((e) => txt === null || (e.textContent ?? '').includes(txt));
        el?.scrollIntoView({ block: 'center' });
        return el !== undefined;
      },
      [selector, text ?? null] as const,
    );
    try {
      if (text === undefined) await page.click(selector);
      else await clickText(page, selector, text);
      return;
    } catch (err) {
      if (attempt >= 5 || !/intercepted/i.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** Shows a screen through the tab bar. */
export async function tab(page: EnginePage, screen: 'teach' | 'train' | 'predict' | 'models'): Promise<void> {
  await page.click(`nav a[href="#${screen}"]`);
  await page.waitForFunction((s) => document.querySelector(`main[data-screen="${s}"] h1`) !== null, screen);
}

/** Adds a class on the Teach screen and uploads its photos. */
export async function teachClass(page: EnginePage, name: string, images: EmojiImage[]): Promise<void> {
  await tab(page, 'teach');
  await page.type('#new-class', name);
  await clickText(page, 'button', 'Add class');
  await page.waitForFunction((n) => document.querySelector(`article[data-class="${n}"]`) !== null, name);
  await page.setFiles(`article[data-class="${name}"] input[type="file"]`, images.map(engineFile));
  await page.waitForFunction(([n, count]) => document.querySelectorAll(`article[data-class="${n}"] .thumb`).length >= count, [name, images.length] as const, 90_000);
}

/** What the Train screen shows: its status line and progress bar (for a failure's message). */
const trainScreenText = (page: EnginePage): Promise<string> =>
  page.evaluate(() => {
    const status = document.querySelector('[data-testid="train-status"]')?.textContent ?? '(no status)';
    const bar = document.querySelector('main[data-screen="train"] .progress');
    const value = bar?.querySelector('progress')?.value ?? 0;
    return `status: ${status}; progress: ${Math.round(value * 100)}% ${bar?.textContent ?? ''}; visibility: ${document.visibilityState}`;
  }, undefined);

/**
 * Trains from the Train screen and waits for the result. A training error ends the wait at once;
 * either way a failure says what the screen showed and keeps a screenshot.
 */
export async function trainNow(page: EnginePage, shot: (name: string) => Promise<void>): Promise<void> {
  await tab(page, 'train');
  await page.waitForFunction(() => document.querySelector('[data-testid="train-button"]:not([disabled])') !== null, undefined);
  await page.click('[data-testid="train-button"]');
  // A tap starts training at once (its status shows). In WebKit a WebDriver click was lost once
  // (CI: status empty, progress 0% after 300 s; the summary above the button re-renders and moves
  // it): one more tap then, if the first shows nothing.
  const started = () => document.querySelector('[data-testid="train-status"]')?.textContent !== '' || document.querySelector('[data-testid="train-result"]') !== null;
  await page.waitForFunction(started, undefined, 15_000).catch(async () => {
    await page.click('[data-testid="train-button"]');
  });
  try {
    // Generous: WebKit's SIMD build on a loaded 2-core machine took over 2 minutes once (a safety limit, not a timing).
    await page.waitForFunction(
      () => document.querySelector('[data-testid="train-result"]') !== null || document.querySelector('[data-testid="train-status"].error') !== null,
      undefined,
      300_000,
    );
  } catch (err) {
    await shot('train-timeout').catch(() => undefined);
    throw new Error(`training did not finish (${await trainScreenText(page)})`, { cause: err });
  }
  if (await page.evaluate(() => document.querySelector('[data-testid="train-result"]') === null, undefined)) {
    await shot('train-failed').catch(() => undefined);
    throw new Error(`training failed (${await trainScreenText(page)})`);
  }
}

/** The top label of the prediction bars shown after `action` (the bars shown before are marked stale). */
export async function nextTopLabel(page: EnginePage, action: () => Promise<void>): Promise<string> {
  await page.evaluate(() => document.querySelector('[data-testid="prediction-bars"]')?.setAttribute('data-stale', ''), undefined);
  await action();
  await page.waitForFunction(() => document.querySelector('[data-testid="prediction-bars"]:not([data-stale]) li .label') !== null, undefined, 60_000);
  return page.evaluate(() => document.querySelector('[data-testid="prediction-bars"]:not([data-stale]) li .label')?.textContent ?? '', undefined);
}

/** What the Predict screen said about a photo a personal model classified on the device. */
export interface StillAnswer {
  top: string;
  /** "You said this is …" when the photo was labelled before, else null. */
  youSaid: string | null;
}

/**
 * Picks a photo on the Predict screen (with "My model" chosen) and waits for its answer and for
 * the "Right" / "Wrong: it is …" panel a personal model's prediction gets.
 */
export async function predictStill(page: EnginePage, image: EngineFile): Promise<StillAnswer> {
  const top = await nextTopLabel(page, () => page.setFiles('#predict-file', [image]));
  await page.waitForFunction(() => document.querySelector('[data-testid="correct"] [data-testid="correct-right"]') !== null, undefined, 30_000);
  const youSaid = await page.evaluate(() => document.querySelector('[data-testid="prediction-bars"]:not([data-stale])')?.parentElement?.querySelector('[data-testid="you-said"]')?.textContent ?? null, undefined);
  return { top, youSaid };
}

/**
 * Deletes every photo kept to teach later (Train screen, one × at a time: WebDriver has no
 * confirm dialogs for "Delete all").
 */
export async function emptyPool(page: EnginePage): Promise<void> {
  await tab(page, 'train');
  await page.waitForFunction(() => document.querySelector('[data-testid="pool-count"]')?.textContent !== '', undefined);
  const count = (): string => document.querySelector('[data-testid="pool-count"]')?.textContent ?? '';
  for (let taps = 0; taps < 40; taps++) {
    const before = await page.evaluate(count, undefined);
    if (await page.evaluate(() => document.querySelector('[data-testid="unlabeled"] .thumb') === null, undefined)) return;
    await tapCentered(page, '[data-testid="unlabeled"] .thumb button');
    // The count line changes with each photo (the thumbnails show only the newest). A tap WebKit's
    // WebDriver reported but the page never got (seen under CI load) is tapped again.
    await page
      .waitForFunction((old) => (document.querySelector('[data-testid="pool-count"]')?.textContent ?? '') !== old, before, 8000)
      .catch(() => undefined);
  }
  throw new Error(`the pool did not empty: ${await page.evaluate(count, undefined)}`);
}

/**
 * Predicts each candidate on the Predict screen until the model names one wrongly; returns it with
 * what the model said. End the list with a photo of a kind never taught (always wrong, to be a new
 * class), so there is one even when the model gets every taught photo right.
 */
export async function findWrongPrediction<T extends { image: EmojiImage; truth: string }>(page: EnginePage, candidates: readonly T[]): Promise<T & { top: string }> {
  for (const candidate of candidates) {
    const { top } = await predictStill(page, engineFile(candidate.image));
    if (top !== candidate.truth) return { ...candidate, top };
  }
  throw new Error(`the model named all ${candidates.length} photos right`);
}

/** A status says the model has learned from a label (or that it could not): the wait is over. */
export const SETTLED = /model is in use|model stays in use|could not/i;

/**
 * Waits until the text of `selector` matches `settled` (by default {@link SETTLED}: the retraining
 * a label started has ended) and returns it. A safety limit, not a timing: WebKit once took minutes to train.
 */
export async function settledText(page: EnginePage, selector: string, settled = SETTLED, timeoutMs = 300_000): Promise<string> {
  const text = (): Promise<string> => page.evaluate((sel) => document.querySelector(sel)?.textContent ?? '(none)', selector);
  try {
    await page.waitForFunction(([sel, re]) => new RegExp(re, 'i').test(document.querySelector(sel)?.textContent ?? ''), [selector, settled.source] as const, timeoutMs);
  } catch (err) {
    throw new Error(`${selector} still says "${await text()}" after ${timeoutMs} ms`, { cause: err });
  }
  return text();
}

/**
 * Answers the prediction on screen with "Wrong: it is `name`" (its button, or the new-class field
 * when the app has no such class yet); returns the status at once ("Added to …") and once the
 * model has learned from it.
 */
export async function correctTo(page: EnginePage, name: string): Promise<{ first: string; settled: string }> {
  const known = await page.evaluate((n) => [...document.querySelectorAll('[data-testid="correct"] button[data-label]')].some((b) => b.getAttribute('data-label') === n), name);
  if (known) await tapCentered(page, '[data-testid="correct"] button[data-label]', `Wrong: it is ${name}`);
  else {
    await tapCentered(page, '[data-testid="correct"] details.new-label summary');
    await page.type('#correct-new-class', name);
    await tapCentered(page, '[data-testid="correct"] form button', 'Add');
  }
  await page.waitForFunction(() => (document.querySelector('[data-testid="correct-status"]')?.textContent ?? '') !== '', undefined);
  const first = await page.evaluate(() => document.querySelector('[data-testid="correct-status"]')?.textContent ?? '', undefined);
  return { first, settled: await settledText(page, '[data-testid="correct-status"]') };
}

/**
 * On the Train screen, waits until "Help me with these N" shows `expected` photos, then answers
 * every one: `answer(guess)` names the class to tap ("It is …"), or 'skip'. Returns each photo's
 * guess and its note once settled.
 */
export async function answerAsked(page: EnginePage, answer: (guess: string) => string | 'skip', expected: number): Promise<Array<{ guess: string; note: string }>> {
  // Choosing the photos may embed the pool first: generous.
  // The card is aria-busy while it chooses (a pool that grew meanwhile is chosen from again).
  await page.waitForFunction(
    (n) => document.querySelector('[data-testid="ask"]')?.getAttribute('aria-busy') === 'false' && document.querySelectorAll('[data-testid="ask"] [data-testid="asked"]').length >= n,
    expected,
    120_000,
  );
  const guesses = await page.evaluate(() => [...document.querySelectorAll('[data-testid="asked"]')].map((li) => li.getAttribute('data-guess') ?? ''), undefined);
  for (const [i, guess] of guesses.entries()) {
    const item = `[data-testid="asked"]:nth-child(${i + 1})`;
    const choice = answer(guess);
    const tap = (): Promise<void> => (choice === 'skip' ? tapCentered(page, `${item} [data-testid="ask-skip"]`) : tapCentered(page, `${item} button[data-label]`, `It is ${choice}`));
    // A tap disables the photo's choices at once. WebKit's WebDriver lost a click once (see
    // trainNow): one more tap then.
    const taken = (sel: string): boolean => document.querySelector(`${sel} [data-testid="ask-skip"]`)?.hasAttribute('disabled') === true || document.querySelector(`${sel}.answered`) !== null;
    await tap();
    await page.waitForFunction(taken, item, 10_000).catch(tap);
  }
  const answered = new RegExp(`${SETTLED.source}|^Skipped\\.$`, 'i');
  const out: Array<{ guess: string; note: string }> = [];
  for (const [i, guess] of guesses.entries()) {
    out.push({ guess, note: await settledText(page, `[data-testid="asked"]:nth-child(${i + 1}) [data-testid="asked-note"]`, answered) });
  }
  return out;
}
