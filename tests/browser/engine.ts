/**
 * The driver layer shared by the cross-engine browser tests: one small {@link EnginePage}
 * interface, implemented over playwright-core for Chromium (engine-chromium.ts), puppeteer-core
 * over WebDriver BiDi for Firefox ESR (engine-firefox.ts) and a W3C WebDriver client for WebKitGTK
 * (engine-webkit.ts). Test bodies use only this interface, so one set of tests runs in every
 * engine. Selectors are CSS only (WebDriver has no text selectors); {@link clickText} finds an
 * element by its text.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The engines the browser tests run in. */
export type EngineName = 'chromium' | 'firefox' | 'webkit';

/** Every engine, in the order the cross-engine tests run them. */
export const ENGINES: readonly EngineName[] = ['chromium', 'firefox', 'webkit'];

/** A file handed to an `<input type=file>`. */
export interface EngineFile {
  name: string;
  mimeType: string;
  buffer: Buffer;
}

/** The page of a launched engine: the only operations the cross-engine tests use. */
export interface EnginePage {
  /** Navigates and waits for the load event. */
  goto(url: string): Promise<void>;
  /** Reloads and waits for the load event. */
  reload(): Promise<void>;
  /**
   * Runs `fn(arg)` in the page (awaiting a returned promise) and returns its result. `fn` is sent
   * as source text and must not close over anything from Node; `arg` and the result cross as JSON.
   */
  evaluate<A, R>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
  /** Waits until `fn(arg)` is truthy in the page; throws after `timeoutMs`. */
  waitForFunction<A>(fn: (arg: A) => unknown, arg: A, timeoutMs?: number): Promise<void>;
  /** Clicks the first element matching a CSS selector, as a user would (pointer events). */
  click(selector: string): Promise<void>;
  /** Types text into the element matching a CSS selector (appended to its value). */
  type(selector: string, text: string): Promise<void>;
  /** Sets the files of the `<input type=file>` matching a CSS selector (fires `change`). */
  setFiles(selector: string, files: EngineFile[]): Promise<void>;
  /** Writes a PNG screenshot of the viewport to `path`. */
  screenshot(path: string): Promise<void>;
}

/** How to launch an engine. */
export interface EngineLaunchOptions {
  /** A profile directory to reuse (engines that keep one; see {@link EngineSession.profileDir}). */
  profileDir?: string;
  /** Viewport (Chromium, Firefox) or window (WebKit) size. */
  viewport?: { width: number; height: number };
  /** A fake camera that needs no permission prompt. */
  fakeCamera?: boolean;
}

/** A launched engine with its one page. */
export interface EngineSession {
  engine: EngineName;
  page: EnginePage;
  /**
   * The profile directory, for a relaunch on the same profile; null where the engine keeps none
   * (WebKitGTK automation sessions are ephemeral, like a private window).
   */
  profileDir: string | null;
  /**
   * Console errors and uncaught page errors seen so far. WebDriver classic reports neither, so
   * in WebKit this stays empty.
   */
  errors: string[];
  /** Closes the browser (the profile stays until `dispose`). */
  close(): Promise<void>;
  /** Closes the browser and deletes the profile. */
  dispose(): Promise<void>;
}

/**
 * Clicks the first element matching `selector` whose text contains `text`, waiting up to
 * `timeoutMs` for one: the element is marked in the page and clicked through the engine (real
 * pointer events), since WebDriver selectors cannot match text.
 */
export async function clickText(page: EnginePage, selector: string, text: string, timeoutMs = 30_000): Promise<void> {
  const mark = `t${Math.random().toString(36).slice(2)}`;
  const find = ([sel, txt, m]: readonly [string, string, string]): boolean => {
    // Typed structurally: bench/engines.ts compiles this file without DOM types.
    const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): Iterable<{ textContent: string | null; setAttribute(n: string, v: string): void }> } }).document;
    const el = [...doc.querySelectorAll(sel)].find((e) => (e.textContent ?? '').includes(txt));
    if (!el) return false;
    el.setAttribute('data-engine-target', m);
    return true;
  };
  try {
    await pollFunction(page, find, [selector, text, mark] as const, timeoutMs);
  } catch (err) {
    throw new Error(`no ${selector} with the text "${text}" within ${timeoutMs} ms`, { cause: err });
  }
  await page.click(`[data-engine-target="${mark}"]`);
}

/** Polls `fn(arg)` in the page until it is truthy (for drivers without a native wait). */
export async function pollFunction<A>(
  page: Pick<EnginePage, 'evaluate'>,
  fn: (arg: A) => unknown,
  arg: A,
  timeoutMs: number,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await page.evaluate(fn, arg)) return;
    if (Date.now() > deadline) throw new Error(`waitForFunction timed out after ${timeoutMs} ms: ${fn.toString().slice(0, 200)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Writes files for one upload into a directory of their own under `scratch` (numbered by
 * `upload`), so they keep their names (the import reads them); returns their paths. For drivers
 * that upload by path (puppeteer, WebDriver).
 */
export function writeUploadFiles(scratch: string, upload: number, list: EngineFile[]): string[] {
  const dir = join(scratch, String(upload));
  mkdirSync(dir);
  return list.map((f) => {
    const path = join(dir, f.name);
    writeFileSync(path, f.buffer);
    return path;
  });
}
