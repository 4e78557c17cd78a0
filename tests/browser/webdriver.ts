/**
 * A small W3C WebDriver client over `fetch` (classic HTTP protocol, JSON bodies), enough for the
 * browser tests: new session, navigate, execute async script, find elements by CSS, click, send
 * keys (also file paths to `<input type=file>`), window size, screenshot, delete session. Used for
 * WebKitGTK's `WebKitWebDriver` (tests/browser/engine-webkit.ts).
 */

/** The key under which WebDriver returns an element reference. */
const ELEMENT_KEY = 'element-6066-11e4-a52e-4f735466cecf';

/** A web element reference as WebDriver sends it. */
export type ElementRef = Record<typeof ELEMENT_KEY, string>;

/** A WebDriver error answer: its error code (e.g. `no such element`), message and command. */
export class WebDriverError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly command: string,
  ) {
    super(`WebDriver ${command}: ${code}: ${message}`);
    this.name = 'WebDriverError';
  }
}

/** Sends one WebDriver command and returns its `value`; throws {@link WebDriverError} on an error answer. */
export async function webDriverCommand<T>(baseUrl: string, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, timeoutMs = 300_000): Promise<T> {
  const command = `${method} ${path}`;
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    ...(method === 'POST' ? { body: JSON.stringify(body ?? {}), headers: { 'content-type': 'application/json; charset=utf-8' } } : {}),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let parsed: { value?: unknown };
  try {
    parsed = JSON.parse(text) as { value?: unknown };
  } catch {
    throw new WebDriverError('invalid answer', `HTTP ${res.status}: ${text.slice(0, 500)}`, command);
  }
  const value = parsed.value;
  if (!res.ok || (value && typeof value === 'object' && 'error' in value)) {
    const err = (value ?? {}) as { error?: string; message?: string };
    throw new WebDriverError(err.error ?? `HTTP ${res.status}`, err.message ?? text.slice(0, 500), command);
  }
  return value as T;
}

/** One WebDriver session. */
export class WebDriverSession {
  private constructor(
    readonly baseUrl: string,
    readonly id: string,
    readonly capabilities: Record<string, unknown>,
  ) {}

  /** Opens a session with `alwaysMatch` capabilities. */
  static async create(baseUrl: string, capabilities: Record<string, unknown>): Promise<WebDriverSession> {
    const value = await webDriverCommand<{ sessionId: string; capabilities: Record<string, unknown> }>(baseUrl, 'POST', '/session', {
      capabilities: { alwaysMatch: capabilities },
    });
    return new WebDriverSession(baseUrl, value.sessionId, value.capabilities);
  }

  /** Sends a command under this session (`path` after `/session/<id>`). */
  command<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    return webDriverCommand<T>(this.baseUrl, method, `/session/${this.id}${path}`, body);
  }

  /** Navigates and waits for the page load (the session's page load strategy, `normal`). */
  async navigate(url: string): Promise<void> {
    await this.command('POST', '/url', { url });
  }

  /** Reloads the current page. */
  async refresh(): Promise<void> {
    await this.command('POST', '/refresh', {});
  }

  /** Runs `script` as an async script: it calls `arguments[arguments.length - 1]` with the result. */
  executeAsync<T>(script: string, args: unknown[]): Promise<T> {
    return this.command<T>('POST', '/execute/async', { script, args });
  }

  /** Runs `script` as a function body; its `return` value comes back. */
  execute<T>(script: string, args: unknown[]): Promise<T> {
    return this.command<T>('POST', '/execute/sync', { script, args });
  }

  /** Sets the script timeout (execute async), in ms. */
  async setTimeouts(timeouts: { script?: number; pageLoad?: number; implicit?: number }): Promise<void> {
    await this.command('POST', '/timeouts', timeouts);
  }

  /** The first element matching a CSS selector (throws `no such element`). */
  async find(selector: string): Promise<ElementRef> {
    return this.command<ElementRef>('POST', '/element', { using: 'css selector', value: selector });
  }

  /** Clicks an element (scrolled into view, at its centre, as a user would). */
  async click(element: ElementRef): Promise<void> {
    await this.command('POST', `/element/${element[ELEMENT_KEY]}/click`, {});
  }

  /** Types text into an element; for `<input type=file>`, the text is newline-separated file paths. */
  async sendKeys(element: ElementRef, text: string): Promise<void> {
    await this.command('POST', `/element/${element[ELEMENT_KEY]}/value`, { text });
  }

  /** Sets the window's outer size. */
  async setWindowSize(width: number, height: number): Promise<void> {
    await this.command('POST', '/window/rect', { width, height });
  }

  /** A PNG of the viewport. */
  async screenshot(): Promise<Buffer> {
    return Buffer.from(await this.command<string>('GET', '/screenshot'), 'base64');
  }

  /** Ends the session (the browser closes). */
  async delete(): Promise<void> {
    await this.command('DELETE', '');
  }
}
