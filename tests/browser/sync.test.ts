/**
 * Opt-in head sync between two devices (two Chromium profiles) against the real Worker: sync is
 * off by default (no account or head requests after training); turning it on creates an account
 * and pushes the trained head (the server stores the very bytes); a second device paired with a
 * code pulls the head and predicts with it offline exactly like the first; both devices change the
 * same head, the second push gets 412 and both versions stay (status `conflict`) until the user
 * picks; a training made offline is pushed when the page is back online; a head for another
 * backbone is refused (409) and marked `error` with the server's reason; a 429 is retried after
 * its `Retry-After`; a crop head whose layer the device's folded graph does not compute is
 * refused when pulled (marked `error` with the reason), not stored to fail at its first
 * prediction. Every request body the
 * pages send is a head document or a small account request: never photos or embeddings.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page, Request } from 'playwright-core';
import { launchChromium, openHarness, type Browser } from './chrome.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';

const baseUrl = inject('baseUrl');

const CLASSES = ['heart', 'animal-mammal'];
const split = emojiSplit(CLASSES, 4, 2, 11);
const taught = CLASSES.map((name) => ({ name, images: (split.train[name] as EmojiImage[]).map((e) => e.image) }));
const testImages = CLASSES.flatMap((name) => (split.test[name] as EmojiImage[]).map((e) => e.image));

/** Keys a head document may have (shared/head/document.ts). */
const HEAD_KEYS = new Set(['format', 'formatVersion', 'id', 'name', 'classes', 'backbone', 'input', 'metrics', 'created', 'modelTopology', 'weightSpecs', 'weightData', 'backboneTail']);

interface Captured {
  method: string;
  path: string;
  body: string | null;
}

function capture(browser: Browser, into: Captured[]): void {
  browser.context.on('request', (req: Request) => {
    const url = new URL(req.url());
    into.push({ method: req.method(), path: url.pathname, body: req.postData() });
  });
}

const syncRequests = (reqs: Captured[]): Captured[] => reqs.filter((r) => /^\/v1\/(accounts|heads|pairing-codes|tokens)/.test(r.path));

async function openReady(browser: Browser): Promise<Page> {
  const page = await openHarness(browser, baseUrl);
  await page.evaluate(() => window.tannerin.startBackend());
  await page.evaluate(() => window.tannerin.load());
  return page;
}

describe('head sync between two devices', () => {
  let a: Browser;
  let b: Browser;
  let pageA: Page;
  let pageB: Page;
  let headId = '';
  let token = '';
  const requests: Captured[] = [];

  beforeAll(async () => {
    [a, b] = await Promise.all([launchChromium(), launchChromium()]);
    capture(a, requests);
    capture(b, requests);
    [pageA, pageB] = await Promise.all([openReady(a), openReady(b)]);
  });
  afterAll(async () => {
    await Promise.all([a?.dispose(), b?.dispose()]);
  });

  it('is off by default: training sends no account or head requests', async () => {
    await pageA.evaluate(() => window.tannerin.startSync());
    await pageA.evaluate((c) => window.tannerin.teach(c), taught);
    const trained = await pageA.evaluate(() => window.tannerin.trainNow({ name: 'emoji' }));
    if (!trained.ok) throw new Error(`training failed: ${trained.error.message}`);
    headId = trained.report.headId;
    expect(trained.report.saved).toBe(true);
    expect(syncRequests(requests)).toEqual([]);
    expect(await pageA.evaluate(() => window.tannerin.getSyncStatus())).toMatchObject({ status: 'off', heads: [] });
  });

  it('turning sync on creates an account and pushes the head: the server holds the same bytes', async () => {
    const enabled = await pageA.evaluate(() => window.tannerin.trySync('enable'));
    if (!enabled.ok) throw new Error(`enableSync failed: ${enabled.error.message}`);
    const status = await pageA.evaluate(() => window.tannerin.waitForSync('synced'));
    expect(status).toMatchObject({ status: 'synced', accountId: enabled.value, heads: [{ id: headId, status: 'synced' }] });
    token = (await pageA.evaluate(() => window.tannerin.syncToken())) ?? '';
    expect(token).toMatch(/^tnr_/);

    const res = await fetch(`${baseUrl}/v1/heads/${headId}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const served = await res.text();
    expect(served).toBe(await pageA.evaluate((id) => window.tannerin.headJson(id), headId));
    const [state] = await pageA.evaluate(() => window.tannerin.syncStates());
    expect(state?.etag).toBe(res.headers.get('etag'));
    const creates = syncRequests(requests).filter((r) => r.method === 'PUT');
    expect(creates.map((r) => r.path)).toEqual([`/v1/heads/${headId}`]);
  });

  it('a second device paired with a code pulls the head and predicts offline like the first', async () => {
    const code = await pageA.evaluate(() => window.tannerin.createPairingCode());
    const paired = await pageB.evaluate((c) => window.tannerin.trySync('pair', c), code.code);
    if (!paired.ok) throw new Error(`pairing failed: ${paired.error.message}`);
    const status = await pageB.evaluate(() => window.tannerin.waitForSync('synced'));
    expect(status).toMatchObject({ status: 'synced', heads: [{ id: headId, status: 'synced' }] });
    expect(await pageB.evaluate((id) => window.tannerin.headJson(id), headId)).toBe(await pageA.evaluate((id) => window.tannerin.headJson(id), headId));

    // Device A predicts with the head itself (not kNN), as device B (which has no examples) does.
    await pageA.evaluate((id) => window.tannerin.setPredictWith(id, 'head'), headId);
    const onA = await pageA.evaluate(([imgs, id]) => window.tannerin.predictImages(imgs, { headId: id }), [testImages, headId] as const);
    // The page's first prediction fetches what embedding lazily needs (with the default head, not
    // the pulled one): an app that was used before has it.
    await pageB.evaluate((imgs) => window.tannerin.predictImages(imgs.slice(0, 1)), testImages);
    const before = requests.length;
    await b.context.setOffline(true);
    try {
      const onB = await pageB.evaluate(([imgs, id]) => window.tannerin.predictImages(imgs, { headId: id }), [testImages, headId] as const);
      expect(onB.map((r) => r.head.id)).toEqual(testImages.map(() => headId));
      expect(onB.map((r) => r.predictions.map((p) => p.label))).toEqual(onA.map((r) => r.predictions.map((p) => p.label)));
      onB.forEach((r, i) => r.predictions.forEach((p, j) => expect(p.score).toBeCloseTo(onA[i]?.predictions[j]?.score ?? NaN, 6)));
    } finally {
      await b.context.setOffline(false);
    }
    // Predicting sent nothing (A's predictions are local too).
    expect(requests.slice(before).filter((r) => r.path.startsWith('/v1/'))).toEqual([]);
  });

  it('two devices change the same head: the second push gets 412, both versions are kept, the user picks', async () => {
    await pageA.evaluate((id) => window.tannerin.renameHead(id, 'emoji (A)'), headId);
    await pageA.evaluate((id) => window.tannerin.queueHeadPush(id), headId);
    expect(await pageA.evaluate(() => window.tannerin.waitForSync('synced'))).toMatchObject({ status: 'synced' });

    const putsBefore = requests.length;
    await pageB.evaluate((id) => window.tannerin.renameHead(id, 'emoji (B)'), headId);
    await pageB.evaluate((id) => window.tannerin.queueHeadPush(id), headId);
    const status = await pageB.evaluate(() => window.tannerin.waitForSync('conflict'));
    expect(status.status).toBe('conflict');
    expect(requests.slice(putsBefore).some((r) => r.method === 'PUT' && r.path === `/v1/heads/${headId}`)).toBe(true);

    // Both versions are stored on device B.
    const heads = await pageB.evaluate(() => window.tannerin.listHeads());
    const names = heads.map((h) => h.name).sort();
    expect(names).toEqual(['emoji (A) (from other device)', 'emoji (B)']);
    const copy = heads.find((h) => h.name === 'emoji (A) (from other device)');
    expect(copy?.id).not.toBe(headId);
    const infos = status.heads.filter((h) => h.status === 'conflict').map((h) => h.id).sort();
    expect(infos).toEqual([headId, copy?.id].sort());
    // The server still has device A's version.
    const server = (await (await fetch(`${baseUrl}/v1/heads/${headId}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { name: string };
    expect(server.name).toBe('emoji (A)');

    // The user keeps device B's version: it is pushed over A's, and A pulls it.
    await pageB.evaluate((id) => window.tannerin.resolveConflict(id, 'keep-local'), headId);
    expect(await pageB.evaluate(() => window.tannerin.waitForSync('synced'))).toMatchObject({ status: 'synced', heads: [{ id: headId, status: 'synced' }] });
    expect((await pageB.evaluate(() => window.tannerin.listHeads())).map((h) => h.name)).toEqual(['emoji (B)']);
    await pageA.evaluate(() => window.tannerin.syncNow());
    expect(await pageA.evaluate((id) => window.tannerin.headJson(id), headId)).toBe(await pageB.evaluate((id) => window.tannerin.headJson(id), headId));
  });

  it('a training made offline is queued and pushed when the page is back online', async () => {
    await a.context.setOffline(true);
    let newId = '';
    try {
      const trained = await pageA.evaluate(() => window.tannerin.trainNow({ name: 'offline emoji' }));
      if (!trained.ok) throw new Error(`training failed: ${trained.error.message}`);
      newId = trained.report.headId;
      const pending = await pageA.evaluate(() => window.tannerin.waitForSync('pending'));
      expect(pending.heads.find((h) => h.id === newId)?.status).toBe('pending');
      expect((await pageA.evaluate(() => window.tannerin.syncStates())).find((s) => s.id === newId)).toMatchObject({ pending: true, etag: null });
    } finally {
      await a.context.setOffline(false);
    }
    const synced = await pageA.evaluate(() => window.tannerin.waitForSync('synced'));
    expect(synced.heads.find((h) => h.id === newId)?.status).toBe('synced');
    const res = await fetch(`${baseUrl}/v1/heads/${newId}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(await pageA.evaluate((id) => window.tannerin.headJson(id), newId));
  });

  it('a rate-limited push (429) is retried after Retry-After', async () => {
    let limited = 0;
    await pageA.route(`${baseUrl}/v1/heads/${headId}`, async (route) => {
      if (route.request().method() === 'PUT' && limited === 0) {
        limited++;
        await route.fulfill({
          status: 429,
          headers: { 'retry-after': '0', 'content-type': 'application/json' },
          body: JSON.stringify({ error: { code: 'rate_limited', message: 'slow down' } }),
        });
        return;
      }
      await route.fallback();
    });
    try {
      await pageA.evaluate((id) => window.tannerin.renameHead(id, 'emoji (A again)'), headId);
      await pageA.evaluate((id) => window.tannerin.queueHeadPush(id), headId);
      const status = await pageA.evaluate(() => window.tannerin.waitForSync('synced'));
      expect(status.heads.find((h) => h.id === headId)?.status).toBe('synced');
    } finally {
      await pageA.unroute(`${baseUrl}/v1/heads/${headId}`);
    }
    expect(limited).toBe(1);
    const server = (await (await fetch(`${baseUrl}/v1/heads/${headId}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { name: string };
    expect(server.name).toBe('emoji (A again)');
  });

  it('a head for another backbone is refused with 409: marked error with the reason, nothing dropped', async () => {
    const other = 'mobilenet_v2@0000000000000000';
    const oldId = await pageA.evaluate(([id, bb]) => window.tannerin.storeHeadForBackbone(id, bb), [headId, other] as const);
    await pageA.evaluate((id) => window.tannerin.queueHeadPush(id), oldId);
    const status = await pageA.evaluate(() => window.tannerin.waitForSync('error'));
    const info = status.heads.find((h) => h.id === oldId);
    expect(info?.status).toBe('error');
    expect(info?.message).toContain(other);
    expect(await pageA.evaluate((id) => window.tannerin.headJson(id), oldId)).not.toBeNull();
    const res = await fetch(`${baseUrl}/v1/heads/${oldId}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(404);
  });

  it('a crop head whose layer this device does not compute is refused when pulled: listed as error with the reason, not stored', async () => {
    // The Worker checks a crop's layer against model.json: bn_Conv1 is there (so the upload
    // passes) but the folded graph never computes it (folded into Conv1's node).
    const base = JSON.parse((await pageA.evaluate((id) => window.tannerin.headJson(id), headId)) as string) as Record<string, unknown>;
    const cropHead = (layer: string): Record<string, unknown> => ({ ...base, id: crypto.randomUUID(), name: `crop ${layer}`, formatVersion: 2, crop: { method: 'featuremap', layer, threshold: 0.5, pad: 0.15 } });
    const [folded, fine] = [cropHead('bn_Conv1'), cropHead('out_relu')];
    for (const doc of [folded, fine]) {
      const res = await fetch(`${baseUrl}/v1/heads/${doc.id as string}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'if-none-match': '*' }, body: JSON.stringify(doc) });
      expect(res.status).toBe(201);
    }
    await pageB.evaluate(() => window.tannerin.syncNow());
    const status = await pageB.evaluate(() => window.tannerin.getSyncStatus());
    const refused = status.heads.find((h) => h.id === folded.id);
    expect(refused?.status).toBe('error');
    expect(refused?.message).toMatch(/crop\.layer "bn_Conv1" is folded into/);
    expect(status.heads.find((h) => h.id === fine.id)?.status).toBe('synced');
    const stored = (await pageB.evaluate(() => window.tannerin.listHeads())).map((h) => h.id);
    expect(stored).toContain(fine.id);
    expect(stored).not.toContain(folded.id);
    // The head pulled with its crop predicts with it (the refused one could not have).
    const [onB] = await pageB.evaluate(([imgs, id]) => window.tannerin.predictImages(imgs, { headId: id }), [testImages.slice(0, 1), fine.id as string] as const);
    expect(onB?.crop?.method).toBe('featuremap');
  });

  it('sends nothing but head documents (and small account requests): no photos, no embeddings', () => {
    const api = requests.filter((r) => r.path.startsWith('/v1/'));
    expect(api.some((r) => /^\/v1\/(embed|predict)/.test(r.path))).toBe(false);
    for (const r of api) {
      if (r.body === null || r.body === '') continue;
      if (r.method === 'PUT' && /^\/v1\/heads\/[0-9a-f-]{36}$/.test(r.path)) {
        const doc = JSON.parse(r.body) as Record<string, unknown>;
        expect(doc.format).toBe('tannerin-head');
        for (const key of Object.keys(doc)) expect(HEAD_KEYS.has(key)).toBe(true);
        continue;
      }
      expect(['/v1/accounts', '/v1/pairing-codes/redeem']).toContain(r.path);
      const body = JSON.parse(r.body) as Record<string, unknown>;
      for (const key of Object.keys(body)) expect(['label', 'code']).toContain(key);
    }
    // Offline fetches and the expected 409, 412 and 429 are logged by the browser; nothing else may be.
    const unexpected = (errors: string[]): string[] => errors.filter((e) => !/ERR_INTERNET_DISCONNECTED|Failed to fetch|status of (409|412|429)/.test(e));
    expect(unexpected(a.errors)).toEqual([]);
    expect(unexpected(b.errors)).toEqual([]);
  });
});
