/**
 * Launching any engine by name, and checking that every engine is installed (the browser global
 * setup fails, never skips, when one is missing).
 */
import { existsSync } from 'node:fs';
import { chromePath } from './chrome.ts';
import type { EngineLaunchOptions, EngineName, EngineSession } from './engine.ts';
import { launchChromiumEngine } from './engine-chromium.ts';
import { firefoxPath, launchFirefoxEngine } from './engine-firefox.ts';
import { launchWebKitEngine, miniBrowserPath, WEBKIT_DRIVER_PATH, XVFB_PATH } from './engine-webkit.ts';

/** Launches an engine with one page. */
export function launchEngine(engine: EngineName, options: EngineLaunchOptions = {}): Promise<EngineSession> {
  switch (engine) {
    case 'chromium':
      return launchChromiumEngine(options);
    case 'firefox':
      return launchFirefoxEngine(options);
    case 'webkit':
      return launchWebKitEngine(options);
  }
}

/** Whether an engine keeps a profile across launches (WebKitGTK automation sessions do not). */
export function keepsProfile(engine: EngineName): boolean {
  return engine !== 'webkit';
}

/**
 * Throws, saying what to install, unless Chromium, Firefox ESR and WebKitGTK (MiniBrowser,
 * WebKitWebDriver, Xvfb) are all there.
 */
export function checkEngines(): void {
  chromePath();
  const missing: string[] = [];
  if (!existsSync(firefoxPath())) missing.push(`Firefox ESR at ${firefoxPath()} (package firefox-esr, or set FIREFOX_PATH)`);
  if (!existsSync(WEBKIT_DRIVER_PATH)) missing.push(`WebKitWebDriver at ${WEBKIT_DRIVER_PATH} (package webkit2gtk-driver)`);
  if (!miniBrowserPath()) missing.push('WebKitGTK MiniBrowser under /usr/lib/<arch>/webkit2gtk-4.* (package webkit2gtk-driver pulls it in, or set MINIBROWSER_PATH)');
  if (!existsSync(XVFB_PATH)) missing.push(`Xvfb at ${XVFB_PATH} (package xvfb)`);
  if (missing.length) {
    throw new Error(
      `The browser tests run in Chromium, Firefox and WebKit, and these are missing: ${missing.join('; ')}. ` +
        'Install them (Debian/Ubuntu, as root: `apt-get update && apt-get install -y firefox-esr webkit2gtk-driver xvfb chromium`; .ci/run does this).',
    );
  }
}
