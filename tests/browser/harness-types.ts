/**
 * Brings the harness page's `window.tannerin` typing (declared in client/test-pages/harness.ts)
 * into the browser tests' TypeScript program, so `page.evaluate(() => window.tannerin...)` is
 * checked. Kept out of chrome.ts, which the bench compiles without DOM types.
 */
export type {} from '../../client/test-pages/harness.ts';
