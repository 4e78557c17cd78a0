/**
 * Model files in the browser: the first visit downloads them (bytes counted on the wire and by the
 * library, against the manifest), a relaunch of the browser with the same profile loads them from
 * IndexedDB with zero model-file requests and the same embedding, and a new backbone version is
 * downloaded once, after which the old version's files are gone. Also: the tensor count stays
 * flat over 200 embeddings.
 */
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import type { ModelsResponse } from '../../shared/api/types.ts';
import { emojiPng } from '../helpers/fixtures.ts';
import { launchChromium, openHarness, watchModelTraffic, type Browser } from './chrome.ts';
import { imageArg, report } from './util.ts';

const baseUrl = inject('baseUrl');
const dog = imageArg(emojiPng('1f436'), 'image/png');

const browsers: Browser[] = [];
// Close after each test even when it fails: a relaunch on the same profile needs it closed.
afterEach(async () => {
  for (const b of browsers) await b.close();
});
afterAll(async () => {
  for (const b of browsers) await b.dispose();
});

async function manifest(): Promise<ModelsResponse> {
  const res = await fetch(`${baseUrl}/v1/models`);
  return (await res.json()) as ModelsResponse;
}

describe('model files in IndexedDB', () => {
  let profileDir = '';
  let firstEmbedding: number[] = [];

  it('first visit downloads every model file once, with progress, and stores it', async () => {
    const m = await manifest();
    const allFiles = [...m.backbone.files, ...m.heads.flatMap((h) => h.files)];
    const total = allFiles.reduce((a, f) => a + f.bytes, 0);
    const backboneBytes = m.backbone.files.reduce((a, f) => a + f.bytes, 0);

    const browser = await launchChromium();
    browsers.push(browser);
    profileDir = browser.profileDir;
    const traffic = watchModelTraffic(browser.context);
    const page = await openHarness(browser, baseUrl);
    await page.evaluate(() => window.tannerin.startBackend());
    const loaded = await page.evaluate(() => window.tannerin.load());
    await traffic.settled();

    expect(loaded.manifestSource).toBe('network');
    expect(loaded.bytesDownloaded).toBe(total);
    expect(loaded.bytesFromStore).toBe(0);
    expect(loaded.storageError).toBeNull();
    expect(loaded.progress.last).toEqual([total, total]);
    expect(loaded.progress.monotonic).toBe(true);
    expect(loaded.progress.calls).toBeGreaterThan(allFiles.length); // byte-level, not per file
    expect(traffic.requests.length).toBe(allFiles.length);
    expect(traffic.bytes).toBe(total);
    expect(loaded.defaultHeads.map((h) => h.id)).toEqual(m.heads.map((h) => h.id));

    const stored = await page.evaluate(() => window.tannerin.storedModelFiles());
    expect(stored.map((f) => f.sha256).sort()).toEqual(allFiles.map((f) => f.sha256).sort());

    firstEmbedding = await page.evaluate((img) => window.tannerin.embedImage(img), dog);
    expect(firstEmbedding).toHaveLength(m.backbone.embedding.size);
    report('browser.backbone_bytes_first', backboneBytes, 'bytes', `backbone files on the wire (all model files: ${total})`);
    report('browser.models_load_first_ms', loaded.ms, 'ms', 'manifest + download + verify + store + build');
    await browser.close();
  });

  it('a relaunch with the same profile makes zero model-file requests and embeds the same', async () => {
    const browser = await launchChromium(profileDir);
    browsers.push(browser);
    const traffic = watchModelTraffic(browser.context);
    const page = await openHarness(browser, baseUrl);
    await page.evaluate(() => window.tannerin.startBackend());
    const loaded = await page.evaluate(() => window.tannerin.load());
    await traffic.settled();

    expect(traffic.requests).toEqual([]);
    expect(traffic.bytes).toBe(0);
    expect(loaded.bytesDownloaded).toBe(0);
    expect(loaded.bytesFromStore).toBe(loaded.manifestBytes);
    expect(loaded.filesRemoved).toBe(0);
    const embedding = await page.evaluate((img) => window.tannerin.embedImage(img), dog);
    expect(embedding).toEqual(firstEmbedding);
    report('browser.backbone_bytes_repeat', traffic.bytes, 'bytes', 'relaunch, same profile');
    report('browser.models_load_repeat_ms', loaded.ms, 'ms', 'manifest + IndexedDB + verify + build');
    await browser.close();
  });

  it('offline, the stored manifest and files are used', async () => {
    const browser = await launchChromium(profileDir);
    browsers.push(browser);
    const page = await openHarness(browser, baseUrl);
    await browser.context.route('**/v1/models', (route) => route.abort('internetdisconnected'));
    await page.evaluate(() => window.tannerin.startBackend());
    const loaded = await page.evaluate(() => window.tannerin.load());
    expect(loaded.manifestSource).toBe('stored');
    expect(loaded.bytesDownloaded).toBe(0);
    expect(await page.evaluate((img) => window.tannerin.embedImage(img), dog)).toEqual(firstEmbedding);
    await browser.close();
  });

  it('a new backbone version is downloaded once and the old files are deleted', async () => {
    // A "new version": the same network with a different model.json (content, hash and path),
    // served through request interception. The weights are unchanged, so content addressing keeps
    // them: only the new model.json is downloaded.
    const m = await manifest();
    const [modelJson, ...weights] = m.backbone.files;
    if (!modelJson) throw new Error('manifest lists no backbone files');
    const oldBytes = new Uint8Array(await (await fetch(modelJson.url)).arrayBuffer());
    const newBytes = new Uint8Array([...oldBytes, 0x20, 0x0a]);
    const { createHash } = await import('node:crypto');
    const newSha = createHash('sha256').update(newBytes).digest('hex');
    const newVersion = newSha.slice(0, 16);
    const newPath = `models/${m.backbone.id}-${newVersion}/model.json`;
    const next: ModelsResponse = {
      ...m,
      backbone: {
        ...m.backbone,
        version: newVersion,
        files: [{ path: newPath, bytes: newBytes.length, sha256: newSha, url: `${baseUrl}/${newPath}` }, ...weights],
      },
    };

    const browser = await launchChromium(profileDir);
    browsers.push(browser);
    await browser.context.route('**/v1/models', (route) => route.fulfill({ json: next }));
    await browser.context.route(`**/${newPath}`, (route) => route.fulfill({ body: Buffer.from(newBytes), contentType: 'application/json' }));
    const traffic = watchModelTraffic(browser.context);
    const page = await openHarness(browser, baseUrl);
    await page.evaluate(() => window.tannerin.startBackend());
    const loaded = await page.evaluate(() => window.tannerin.load());
    await traffic.settled();

    expect(loaded.backbone).toBe(`${m.backbone.id}@${newVersion}`);
    expect(traffic.requests.map((u) => new URL(u).pathname)).toEqual([`/${newPath}`]);
    expect(loaded.bytesDownloaded).toBe(newBytes.length);
    expect(loaded.filesRemoved).toBe(1);
    const stored = await page.evaluate(() => window.tannerin.storedModelFiles());
    expect(stored.map((f) => f.sha256)).not.toContain(modelJson.sha256);
    expect(stored.map((f) => f.sha256)).toContain(newSha);
    expect(stored.find((f) => f.sha256 === newSha)?.backbone).toBe(loaded.backbone);
    expect(await page.evaluate((img) => window.tannerin.embedImage(img), dog)).toEqual(firstEmbedding);

    // Loaded again: nothing more to download.
    await page.reload();
    await page.waitForFunction(() => typeof window.tannerin === 'object');
    const before = traffic.requests.length;
    await page.evaluate(() => window.tannerin.startBackend());
    const again = await page.evaluate(() => window.tannerin.load());
    expect(again.bytesDownloaded).toBe(0);
    expect(traffic.requests.length).toBe(before);
    await browser.close();
  });
});

describe('memory', () => {
  it('the tensor count stays flat over 200 embeddings', async () => {
    const browser = await launchChromium();
    browsers.push(browser);
    const page = await openHarness(browser, baseUrl);
    await page.evaluate(() => window.tannerin.startBackend());
    await page.evaluate(() => window.tannerin.load());
    const t0 = performance.now();
    const mem = await page.evaluate((img) => window.tannerin.embedRepeatedly(img, 200), dog);
    report('browser.embed_200_ms', performance.now() - t0, 'ms', '64x64 PNG blob / ImageData alternately, decode + preprocess + forward');
    expect(mem.afterFirst).toBe(mem.before);
    expect(mem.after).toBe(mem.before);
    expect(mem.bytesAfter).toBe(mem.bytesBefore);
    expect(browser.errors).toEqual([]);
  });
});
