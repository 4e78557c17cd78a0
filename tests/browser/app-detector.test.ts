/**
 * The app's "Find the object first" card (client/app/detector-card.ts, issue 17) in Chromium: off
 * and not downloaded at first (no detector-file request), the switch showing the download size;
 * turned on, the detector downloads with progress and the card says it is on and on this device;
 * turned off with the weights deleted (the confirm answered yes), it says off and not downloaded.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { ModelsResponse } from '../../shared/api/types.ts';
import { launchChromium, watchModelTraffic, type Browser } from './chrome.ts';
import { openApp, pinBaseBackbone } from './app-steps.ts';

const baseUrl = inject('baseUrl');
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
