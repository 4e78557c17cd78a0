/**
 * The {@link EnginePage} driver for WebKit: Debian's WebKitGTK MiniBrowser driven by
 * `WebKitWebDriver` (package `webkit2gtk-driver`) over W3C WebDriver (tests/browser/webdriver.ts),
 * on a private X server (`Xvfb`, package `xvfb`). Each launch starts its own Xvfb and driver and
 * stops them on close. WebKitGTK automation sessions are ephemeral (like a private window): no
 * profile survives a session. Fake camera: MiniBrowser's `--enable-media-stream
 * --enable-mock-capture-devices`. WebDriver classic reports no console messages, so
 * {@link EngineSession.errors} stays empty here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollFunction, writeUploadFiles, type EngineLaunchOptions, type EnginePage, type EngineSession } from './engine.ts';
import { WebDriverSession, webDriverCommand } from './webdriver.ts';

/** Debian's WebDriver for WebKitGTK. */
export const WEBKIT_DRIVER_PATH = '/usr/bin/WebKitWebDriver';
/** Debian's X virtual framebuffer. */
export const XVFB_PATH = '/usr/bin/Xvfb';
/** Where the WebKitGTK library packages put MiniBrowser (any API version). */
const MINIBROWSER_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib'];

/** MiniBrowser from the WebKitGTK library package (`/usr/lib/<arch>/webkit2gtk-4.*`), or `MINIBROWSER_PATH`. */
export function miniBrowserPath(): string | null {
  if (process.env.MINIBROWSER_PATH) return process.env.MINIBROWSER_PATH;
  for (const dir of MINIBROWSER_DIRS) {
    if (!existsSync(dir)) continue;
    for (const sub of readdirSync(dir).filter((d) => /^webkit(2)?gtk-/.test(d)).sort().reverse()) {
      const path = join(dir, sub, 'MiniBrowser');
      if (existsSync(path)) return path;
    }
  }
  return null;
}

/** A free TCP port on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A display number with no X server (no lock file). */
function freeDisplay(): number {
  for (let n = 90 + Math.floor(Math.random() * 300); ; n++) if (!existsSync(`/tmp/.X${n}-lock`) && !existsSync(`/tmp/.X11-unix/X${n}`)) return n;
}

/** Stops a child process group (started detached), SIGKILL after 5 s. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  try {
    process.kill(-(child.pid as number), 'SIGTERM');
  } catch {
    return;
  }
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  if (child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** Spawns a process in its own group, keeping its output for error messages. */
function start(command: string, args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string } {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env, detached: true });
  let log = '';
  const keep = (d: Buffer): void => {
    log = (log + d.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, output: () => log };
}

/** The page-side wrapper of {@link EnginePage.evaluate}: resolves `{ ok, value }` or `{ ok: false, error }`. */
function evaluateScript(source: string): string {
  return `const done = arguments[arguments.length - 1];
const arg = arguments[0];
const fn = (${source});
Promise.resolve().then(() => fn(arg)).then(
  (value) => done({ ok: true, value: value === undefined ? null : value }),
  (err) => done({ ok: false, error: String(err && err.stack ? err.name + ': ' + err.message + '\\n' + err.stack : err) }),
);`;
}

/** Wraps a WebDriver session in the shared interface; `files` is a scratch directory for uploads. */
function webDriverPage(session: WebDriverSession, files: string): EnginePage {
  let upload = 0;
  const page: EnginePage = {
    goto: (url) => session.navigate(url),
    reload: () => session.refresh(),
    async evaluate(fn, arg) {
      const result = await session.executeAsync<{ ok: boolean; value?: unknown; error?: string }>(evaluateScript(fn.toString()), [arg ?? null]);
      if (!result.ok) throw new Error(`in the page: ${result.error ?? 'unknown error'}`);
      return result.value as never;
    },
    waitForFunction: (fn, arg, timeoutMs = 30_000) => pollFunction(page, fn, arg, timeoutMs),
    async click(selector) {
      await session.click(await session.find(selector));
    },
    async type(selector, text) {
      await session.sendKeys(await session.find(selector), text);
    },
    async setFiles(selector, list) {
      const paths = writeUploadFiles(files, upload++, list);
      await session.sendKeys(await session.find(selector), paths.join('\n'));
    },
    async screenshot(path) {
      writeFileSync(path, await session.screenshot());
    },
  };
  return page;
}

/** Launches Xvfb, WebKitWebDriver and a MiniBrowser session with one page. */
export async function launchWebKitEngine(options: EngineLaunchOptions = {}): Promise<EngineSession> {
  if (options.profileDir) throw new Error('WebKitGTK automation sessions are ephemeral: there is no profile to reuse');
  const binary = miniBrowserPath();
  if (!binary) throw new Error('MiniBrowser (WebKitGTK) not found');
  const display = freeDisplay();
  const xvfb = start(XVFB_PATH, [`:${display}`, '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], process.env);
  const port = await freePort();
  const env = { ...process.env, DISPLAY: `:${display}` };
  const driver = start(WEBKIT_DRIVER_PATH, [`--port=${port}`], env);
  const scratch = mkdtempSync(join(tmpdir(), 'tannerin-webkit-files-'));
  const stopAll = async (): Promise<void> => {
    await stopProcess(driver.child);
    await stopProcess(xvfb.child);
    rmSync(scratch, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  let session: WebDriverSession;
  try {
    for (let i = 0; ; i++) {
      if (driver.child.exitCode !== null) throw new Error(`WebKitWebDriver exited (${driver.child.exitCode}): ${driver.output()}`);
      if (xvfb.child.exitCode !== null) throw new Error(`Xvfb exited (${xvfb.child.exitCode}): ${xvfb.output()}`);
      try {
        await webDriverCommand(url, 'GET', '/status', undefined, 2000);
        break;
      } catch (err) {
        if (i > 150) throw new Error(`WebKitWebDriver did not answer on ${url}: ${String(err)}\n${driver.output()}`, { cause: err });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const args = ['--automation', ...(options.fakeCamera ? ['--enable-media-stream', '--enable-mock-capture-devices'] : [])];
    session = await WebDriverSession.create(url, {
      browserName: 'MiniBrowser',
      'webkitgtk:browserOptions': { binary, args },
    });
    await session.setTimeouts({ script: 300_000, pageLoad: 60_000 });
    if (options.viewport) await session.setWindowSize(options.viewport.width, options.viewport.height);
  } catch (err) {
    await stopAll();
    throw err;
  }
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await session.delete().catch(() => undefined);
    await stopAll();
  };
  return {
    engine: 'webkit',
    page: webDriverPage(session, scratch),
    profileDir: null,
    errors: [],
    close,
    dispose: close,
  };
}
