/**
 * The same file gives the same embedding in the browser as at the edge: PNG and JPEG files (one
 * with EXIF orientation 6) are embedded in the page from a Blob/File (the shared decoder, MozJPEG
 * for JPEG) and POSTed as the same bytes to the Worker's `/v1/embed`; max abs diff <= 1e-3.
 * Element sources (image, bitmap, canvas, OffscreenCanvas, ImageData, video) go through canvas
 * pixels and are checked against the Blob path. `downscaleForUpload` keeps small files as they
 * are and scales large ones, orientation applied.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import { fixtures, type Fixture } from '../helpers/fixtures.ts';
import { makeJpeg } from '../helpers/images.ts';
import { launchChromium, openHarness, type Browser } from './chrome.ts';
import { imageArg, maxAbsDiff, report } from './util.ts';

const baseUrl = inject('baseUrl');
const TOLERANCE = 1e-3;

let browser: Browser;
let page: Page;
let cases: Fixture[];

beforeAll(async () => {
  cases = await fixtures();
  browser = await launchChromium();
  page = await openHarness(browser, baseUrl);
  await page.evaluate(() => window.tannerin.startBackend());
  await page.evaluate(() => window.tannerin.load());
});
afterAll(async () => {
  await browser?.dispose();
});

async function edgeEmbedding(f: Fixture): Promise<Float32Array> {
  const res = await fetch(`${baseUrl}/v1/embed`, { method: 'POST', body: f.bytes as Uint8Array<ArrayBuffer>, headers: { 'content-type': f.type } });
  if (!res.ok) throw new Error(`/v1/embed answered ${res.status}: ${await res.text()}`);
  const buf = await res.arrayBuffer();
  const view = new DataView(buf);
  return Float32Array.from({ length: buf.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += (a[i] as number) * (b[i] as number);
    na += (a[i] as number) ** 2;
    nb += (b[i] as number) ** 2;
  }
  return dot / Math.sqrt(na * nb);
}

describe('browser and edge embeddings agree', () => {
  it('for PNG and JPEG files (Blob and File), EXIF orientation included', async () => {
    expect(cases.map((c) => c.type)).toEqual(expect.arrayContaining(['image/png', 'image/jpeg']));
    for (const f of cases) {
      const edge = await edgeEmbedding(f);
      const arg = imageArg(f.bytes, f.type);
      const fromBlob = await page.evaluate((img) => window.tannerin.embedImage(img, 'blob'), arg);
      const fromFile = await page.evaluate((img) => window.tannerin.embedImage(img, 'file'), arg);
      const diff = maxAbsDiff(fromBlob, edge);
      report(`browser.edge_max_abs_diff.${f.name}`, diff, '', `${f.type}, max |browser - /v1/embed|`);
      expect(diff, f.name).toBeLessThanOrEqual(TOLERANCE);
      expect(fromFile, f.name).toEqual(fromBlob);
    }
    // Orientation: the rotated JPEG is not the upright one's embedding.
    const upright = cases.find((c) => c.name === 'scene.jpg');
    const rotated = cases.find((c) => c.name === 'scene-rotated.jpg');
    if (upright && rotated) {
      const a = await page.evaluate((img) => window.tannerin.embedImage(img), imageArg(upright.bytes, upright.type));
      const b = await page.evaluate((img) => window.tannerin.embedImage(img), imageArg(rotated.bytes, rotated.type));
      expect(maxAbsDiff(a, b)).toBeGreaterThan(TOLERANCE);
    }
    expect(browser.errors).toEqual([]);
  });
});

describe('other formats', () => {
  it('a WebP Blob (decoded by the browser) embeds close to the JPEG it came from', async () => {
    const scene = cases.find((c) => c.name === 'scene.jpg') as Fixture;
    const arg = imageArg(scene.bytes, scene.type);
    const webp = await page.evaluate((img) => window.tannerin.reencode(img, 'image/webp'), arg);
    const fromWebp = await page.evaluate((img) => window.tannerin.embedImage(img), webp);
    const fromJpeg = await page.evaluate((img) => window.tannerin.embedImage(img), arg);
    expect(cosine(fromWebp, fromJpeg)).toBeGreaterThan(0.98);
  });
});

describe('element sources', () => {
  for (const kind of ['image', 'bitmap', 'canvas', 'offscreen', 'imagedata', 'video'] as const) {
    it(`${kind}: embeds through canvas pixels, close to the Blob path (JPEG, EXIF-rotated JPEG, transparent PNG)`, async () => {
      for (const name of ['scene.jpg', 'scene-rotated.jpg', 'dog.png']) {
        const f = cases.find((c) => c.name === name) as Fixture;
        const arg = imageArg(f.bytes, f.type);
        const fromBlob = await page.evaluate((img) => window.tannerin.embedImage(img, 'blob'), arg);
        const fromElement = await page.evaluate(([img, k]) => window.tannerin.embedImage(img, k), [arg, kind] as const);
        expect(fromElement).toHaveLength(fromBlob.length);
        expect(fromElement.every(Number.isFinite)).toBe(true);
        const sim = cosine(fromElement, fromBlob);
        report(`browser.element_vs_blob.${kind}.${name}`, maxAbsDiff(fromElement, fromBlob), 'max abs diff', `cosine ${sim.toFixed(6)}`);
        // The browser's own decoders, premultiplied alpha in canvases and (for video) colour
        // conversion may differ slightly from the shared decoder; the picture is the same.
        expect(sim, name).toBeGreaterThan(kind === 'video' ? 0.9 : 0.98);
      }
    });
  }
});

describe('downscaleForUpload', () => {
  it('keeps files within the limit as they are, scales larger ones with orientation applied', async () => {
    const scene = cases.find((c) => c.name === 'scene.jpg') as Fixture;
    const rotated = cases.find((c) => c.name === 'scene-rotated.jpg') as Fixture;
    const small = await page.evaluate((img) => window.tannerin.downscale(img), imageArg(scene.bytes, scene.type));
    expect(small).toMatchObject({ unchanged: true, width: 640, height: 480 });

    const scaled = await page.evaluate((img) => window.tannerin.downscale(img, 320), imageArg(scene.bytes, scene.type));
    expect(scaled).toMatchObject({ unchanged: false, type: 'image/jpeg', width: 320, height: 240 });
    const turned = await page.evaluate((img) => window.tannerin.downscale(img, 320), imageArg(rotated.bytes, rotated.type));
    expect(turned).toMatchObject({ unchanged: false, type: 'image/jpeg', width: 240, height: 320 });

    // Formats the shared decoder refuses but the browser decodes are converted to JPEG.
    const webp = await page.evaluate((img) => window.tannerin.reencode(img, 'image/webp'), imageArg(scene.bytes, scene.type));
    expect(webp.type).toBe('image/webp');
    const fromWebp = await page.evaluate((img) => window.tannerin.downscale(img), webp);
    expect(fromWebp).toMatchObject({ unchanged: false, type: 'image/jpeg', width: 640, height: 480 });

    const big = makeJpeg(2000, 1500, 85);
    const fit = await page.evaluate((img) => window.tannerin.downscale(img), imageArg(big, 'image/jpeg'));
    expect(fit).toMatchObject({ unchanged: false, type: 'image/jpeg', width: 1024, height: 768 });
  });
});
