/**
 * A head with a feature-map crop (shared/head/crop.ts, issue 17 point 2) in Chromium: `predict()`
 * cuts the photo to the box the backbone's feature map finds and predicts the crop, exactly as the
 * edge does for the same file (the same box to 1e-6, the same ranking, scores to 1e-4), for a PNG
 * and for a JPEG photo; the tensor count stays flat over crop predictions; `predictEmbedding`
 * refuses such a head (it needs the photo). Reports the cost: the predict time of a 640x480 JPEG
 * with the crop head and the same head without the crop, alternated in one page (medians; no
 * assertion on time).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { ModelsResponse, PredictResponse, TokenResponse } from '../../shared/api/types.ts';
import { DEFAULT_FEATURE_MAP_CROP } from '../../shared/head/crop.ts';
import type { HeadDocument } from '../../shared/head/document.ts';
import { cropScenePng } from '../helpers/crop-scene.ts';
import { scenePixels } from '../helpers/fixtures.ts';
import { makeTestHead } from '../helpers/heads.ts';
import { makeJpeg } from '../helpers/images.ts';
import { launchChromium, openHarness, type Browser } from './chrome.ts';
import { imageArg, maxAbsDiff, report } from './util.ts';

const baseUrl = inject('baseUrl');
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;

describe('a feature-map crop head in the browser', () => {
  let browser: Browser;
  let page: Page;
  let token: string;
  let cropHead: HeadDocument;
  let plain: HeadDocument;

  beforeAll(async () => {
    const manifest = (await (await fetch(`${baseUrl}/v1/models`)).json()) as ModelsResponse;
    const base = makeTestHead(manifest.backbone, { seed: 21, id: crypto.randomUUID(), classes: ['dog', 'apple', 'car', 'other'] });
    plain = base;
    cropHead = { ...base, id: crypto.randomUUID(), formatVersion: 2, crop: DEFAULT_FEATURE_MAP_CROP };
    token = ((await (await fetch(`${baseUrl}/v1/accounts`, { method: 'POST' })).json()) as TokenResponse).token;
    const put = await fetch(`${baseUrl}/v1/heads/${cropHead.id}`, {
      method: 'PUT',
      body: JSON.stringify(cropHead),
      headers: { 'content-type': 'application/json', 'if-none-match': '*', authorization: `Bearer ${token}` },
    });
    expect(put.status, await put.text()).toBe(201);

    browser = await launchChromium();
    page = await openHarness(browser, baseUrl, 'plain');
    await page.evaluate(() => window.tannerin.startBackend());
    await page.evaluate(() => window.tannerin.load());
    for (const doc of [plain, cropHead]) {
      const stored = await page.evaluate((json) => window.tannerin.storeDocument(json), JSON.stringify(doc));
      expect(stored.ok, JSON.stringify(stored)).toBe(true);
    }
  });
  afterAll(async () => {
    await browser?.dispose();
  });

  const photo = async () => makeJpeg(640, 480, 90, await scenePixels(640, 480, ['1f436']));

  it('predicts the same box and scores as the edge for the same file (PNG and JPEG)', async () => {
    for (const [bytes, type] of [[cropScenePng(), 'image/png'], [await photo(), 'image/jpeg']] as const) {
      const res = await fetch(`${baseUrl}/v1/predict?head=${cropHead.id}`, { method: 'POST', body: new Uint8Array(bytes), headers: { 'content-type': type, authorization: `Bearer ${token}` } });
      expect(res.status, await res.clone().text()).toBe(200);
      const edge = (await res.json()) as PredictResponse;
      const [local] = await page.evaluate(([img, id]) => window.tannerin.predictImages([img], { headId: id }), [imageArg(bytes, type), cropHead.id] as const);
      expect(local?.crop?.method).toBe('featuremap');
      expect(edge.crop?.method).toBe('featuremap');
      const box = local?.crop?.box ?? { x: 0, y: 0, width: 1, height: 1 };
      expect(maxAbsDiff(Object.values(box), Object.values(edge.crop?.box ?? {}))).toBeLessThanOrEqual(1e-6);
      expect(box.width).toBeLessThan(1);
      expect(local?.predictions.map((p) => p.label)).toEqual(edge.predictions.map((p) => p.label));
      expect(maxAbsDiff(local?.predictions.map((p) => p.score) ?? [], edge.predictions.map((p) => p.score))).toBeLessThanOrEqual(1e-4);
      // Its embedding would be the crop's, not the photo's: none is returned.
      expect(local?.embedding).toBeUndefined();
    }
  });

  it('keeps the tensor count flat, and refuses an embedding', async () => {
    await page.evaluate((json) => window.tannerin.storeDocument(json, true), JSON.stringify({ ...cropHead, id: crypto.randomUUID() }));
    const flat = await page.evaluate((img) => window.tannerin.predictRepeatedly(img, 4), imageArg(cropScenePng(), 'image/png'));
    expect(flat.after).toBe(flat.before);
    const refused = await page.evaluate((id) => window.tannerin.tryPredictEmbedding(new Array<number>(2816).fill(0.1), { headId: id }), cropHead.id);
    expect(refused.ok).toBe(false);
    expect(JSON.stringify(refused)).toMatch(/crops each photo before it embeds it \(featuremap\)/);
  });

  it('reports the extra time of a crop head over the same head without it (browser.crop_ms)', async () => {
    const img = imageArg(await photo(), 'image/jpeg');
    const times = await page.evaluate(
      async ([image, p, c]) => {
        const out: { plain: number[]; crop: number[] } = { plain: [], crop: [] };
        for (let i = 0; i < 12; i++) {
          for (const [id, list] of [[p, out.plain], [c, out.crop]] as const) {
            const t0 = performance.now();
            await window.tannerin.predictImages([image], { headId: id });
            list.push(performance.now() - t0);
          }
        }
        return out;
      },
      [img, plain.id, cropHead.id] as const,
    );
    const [plainMs, cropMs] = [median(times.plain.slice(2)), median(times.crop.slice(2))];
    report('browser.crop_ms', cropMs - plainMs, 'ms', `median of 10 predictions of a 640x480 JPEG with a feature-map crop head (${cropMs.toFixed(1)} ms) minus the same head without the crop (${plainMs.toFixed(1)} ms), alternated`);
  });
});
