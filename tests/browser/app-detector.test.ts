/**
 * The app's "Find the object first" card (client/app/detector-card.ts, issue 17) in Chromium: off
 * and not downloaded at first (no detector-file request), the switch showing the download size;
 * turned on, the detector downloads with progress and the card says it is on and on this device;
 * turned off with the weights deleted (the confirm answered yes), it says off and not downloaded.
 * No serious WCAG 2 A/AA finding in the card (axe-core).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { ModelsResponse } from '../../shared/api/types.ts';
import { launchChromium, watchModelTraffic, type Browser } from './chrome.ts';
import { openApp, pinBaseBackbone } from './app-steps.ts';

const baseUrl = inject('baseUrl');
const AXE = join(import.meta.dirname, '..', '..', 'node_modules', 'axe-core', 'axe.min.js');

/** The card's serious and critical WCAG 2 A/AA findings (axe-core), as app.test.ts checks each screen. */
async function cardViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(readFileSync(AXE, 'utf8'));
  return page.evaluate(async () => {
    type Violation = { id: string; impact: string | null };
    const axe = (window as unknown as { axe: { run(ctx: Element, o: unknown): Promise<{ violations: Violation[] }> } }).axe;
    const card = document.querySelector('#find-the-object') as Element;
    const result = await axe.run(card, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] }, resultTypes: ['violations'] });
    return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id);
  });
}
let browser: Browser | undefined;
afterAll(async () => {
  await browser?.dispose();
});

describe('the Find the object first card', () => {
  it('off and not downloaded until switched on; on: downloaded; off with its weights deleted', async () => {
    const manifest = (await (await fetch(`${baseUrl}/v1/models`)).json()) as ModelsResponse;
    const bytes = manifest.detectors?.[0]?.bytes ?? 0;
    const mb = `${(bytes / 1e6).toFixed(1)} MB`;
    browser = await launchChromium();
    await pinBaseBackbone(browser.context);
    const traffic = watchModelTraffic(browser.context);
    const page = await browser.context.newPage();
    await openApp(page, baseUrl, '#models');
    const card = page.locator('#find-the-object');
    await card.waitFor({ state: 'visible' });
    const state = card.locator('[data-testid="detector-state"]');
    expect(await state.textContent()).toBe('Off; not downloaded.');
    const label = (await card.locator('label[for="detector-on"]').textContent()) ?? '';
    expect(label).toContain(`Find the object first (download ${mb})`);
    console.log(`detector card label: ${label} (manifest: ${bytes} bytes, ${mb})`);
    await traffic.settled();
    expect(traffic.requests.filter((u) => u.includes('/models/detectors/'))).toEqual([]);
    expect(await cardViolations(page)).toEqual([]);

    await card.locator('#detector-on').check();
    await page.waitForFunction(() => document.querySelector('[data-testid="detector-state"]')?.textContent?.startsWith('On:'), undefined, { timeout: 60_000 });
    expect(await state.textContent()).toMatch(/^On: downloaded \(.+ on this device\)\.$/);
    await traffic.settled();
    expect(traffic.requests.filter((u) => u.includes('/models/detectors/'))).toHaveLength(manifest.detectors?.[0]?.files.length ?? -1);

    page.once('dialog', (d) => void d.accept());
    await card.locator('#detector-on').uncheck();
    await page.waitForFunction(() => document.querySelector('[data-testid="detector-state"]')?.textContent === 'Off; not downloaded.', undefined, { timeout: 30_000 });
    expect(browser.errors).toEqual([]);
  });
});
