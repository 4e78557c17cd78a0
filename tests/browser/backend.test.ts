/**
 * Backend start in a real browser: the non-isolated page runs the SIMD build (1 thread), the
 * cross-origin-isolated page (COOP/COEP from `_headers`) the threaded SIMD build; both load the
 * models and embed. A threaded start that never settles falls back to SIMD after the timeout.
 * Also measures the forward pass on WASM and on the cpu backend (medians, batch 1).
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { emojiPng } from '../helpers/fixtures.ts';
import { launchChromium, openHarness, type Browser } from './chrome.ts';
import { imageArg, maxAbsDiff, report } from './util.ts';

const baseUrl = inject('baseUrl');
const dogPng = emojiPng('1f436');
const dog = imageArg(dogPng, 'image/png');

/** The Worker's embedding of the dog PNG (WASM SIMD in workerd). */
async function edgeEmbedding(): Promise<Float32Array> {
  const res = await fetch(`${baseUrl}/v1/embed`, { method: 'POST', body: dogPng as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'image/png' } });
  const buf = await res.arrayBuffer();
  const view = new DataView(buf);
  return Float32Array.from({ length: buf.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

let browser: Browser | undefined;
afterEach(async () => {
  await browser?.dispose();
  browser = undefined;
});

describe('backend start', () => {
  for (const kind of ['plain', 'isolated'] as const) {
    it(`${kind} page: starts WASM SIMD, loads the models and embeds`, async () => {
      browser = await launchChromium();
      const page = await openHarness(browser, baseUrl, kind);
      const info = await page.evaluate(() => window.tannerin.startBackend());
      expect(info.crossOriginIsolated).toBe(kind === 'isolated');
      expect(info.backend).toBe('wasm');
      expect(info.simd).toBe(true);
      expect(info.fallbackReason, info.fallbackReason).toBeUndefined();
      expect(info.build).toBe(kind === 'isolated' ? 'threaded-simd' : 'simd');
      if (kind === 'plain') expect(info.threads).toBe(1);
      else expect(info.threads).toBeGreaterThanOrEqual(1);
      expect(await page.evaluate(() => window.tannerin.activeBackend())).toEqual(info);

      await page.evaluate(() => window.tannerin.load());
      const embedding = await page.evaluate((img) => window.tannerin.embedImage(img), dog);
      expect(embedding).toHaveLength(2816);
      // The threaded build computes the same embedding as the Worker's single-threaded one.
      const diff = maxAbsDiff(embedding, await edgeEmbedding());
      report(`browser.${kind}.edge_max_abs_diff`, diff, '', info.build);
      expect(diff).toBeLessThanOrEqual(1e-4);
      report(`browser.${kind}.threads`, info.threads, 'threads', `${info.build}; hardwareConcurrency ${await page.evaluate(() => navigator.hardwareConcurrency)}`);
      const forward = await page.evaluate(() => window.tannerin.forwardMs(15));
      report(`browser.forward_${kind === 'isolated' ? 'threaded' : 'wasm'}_ms`, forward.median, 'ms', `${info.build}, ${info.threads} thread(s), start ${info.startMs.toFixed(0)} ms`);
      expect(browser.errors).toEqual([]);
    });
  }

  it('a threaded start that hangs falls back to the SIMD build after the timeout', async () => {
    browser = await launchChromium();
    const page = await openHarness(browser, baseUrl, 'isolated');
    const info = await page.evaluate(() => window.tannerin.startBackend({ simulateThreadedHang: true, threadedTimeoutMs: 500 }));
    expect(info).toMatchObject({ backend: 'wasm', build: 'simd', threads: 1, simd: true, crossOriginIsolated: true });
    expect(info.fallbackReason).toMatch(/threaded SIMD build did not start within 500 ms/);
    expect(info.startMs).toBeGreaterThanOrEqual(500);
    await page.evaluate(() => window.tannerin.load());
    const embedding = await page.evaluate((img) => window.tannerin.embedImage(img), dog);
    expect(embedding).toHaveLength(2816);
  });

  it('the cpu backend (last resort) starts on request, computes the same embedding, and is timed', async () => {
    browser = await launchChromium();
    const page = await openHarness(browser, baseUrl, 'plain');
    const info = await page.evaluate(() => window.tannerin.startBackend({ prefer: 'cpu' }));
    expect(info).toMatchObject({ backend: 'cpu', build: 'cpu' });
    expect(info.fallbackReason).toBe('cpu backend requested');
    await page.evaluate(() => window.tannerin.load());
    const embedding = await page.evaluate((img) => window.tannerin.embedImage(img), dog);
    const diff = maxAbsDiff(embedding, await edgeEmbedding());
    report('browser.cpu.edge_max_abs_diff', diff, '', 'cpu backend vs the Worker (WASM SIMD)');
    expect(diff).toBeLessThanOrEqual(1e-3);
    // ~1.5-3 s a pass: the embedding above was the warm-up; two timed passes keep the test short.
    const forward = await page.evaluate(() => window.tannerin.forwardMs(2, 0));
    report('browser.forward_cpu_ms', forward.median, 'ms', 'cpu backend, batch 1, median of 2');
    expect(forward.median).toBeGreaterThan(0);
  });
});
