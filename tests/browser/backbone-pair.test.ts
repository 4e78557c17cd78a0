/**
 * The pair MobileNetV2 + InceptionV3 as the backbone in use (issue 15; shared/model/backbone-pair.ts),
 * in Chromium against the real Worker:
 * - switching to it downloads only what is missing of its members (InceptionV3: MobileNetV2 is
 *   stored and loaded, and the loaded one is reused, not loaded twice), with one byte-level
 *   progress over both, then re-embeds the photos with progress;
 * - its embedding of a photo is MobileNetV2's then InceptionV3's, concatenated, exactly;
 * - Train on it makes a head on the pair's ref that predicts (loading both members), with the
 *   tensor count flat over predictions; the head syncs and exports with that ref;
 * - Improve further refuses to fine-tune on it and says why;
 * - the release rule: back on MobileNetV2 with the active head on the pair, the pair and both
 *   members stay loaded; once the active head is on MobileNetV2, the pair and InceptionV3 are
 *   released and the tensor count is MobileNetV2's alone again;
 * - a relaunch with the pair chosen loads it at start from both members' stored files;
 * - a device that synced the head without InceptionV3 lists what it needs (the pair, InceptionV3's
 *   bytes), and predicts once the pair is downloaded.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { HeadsResponse, ServedBackbone } from '../../shared/api/types.ts';
import { launchChromium, openHarness, watchModelTraffic, type Browser } from './chrome.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';
import { refOf, servedBackbonePair } from './util.ts';
import { isLoaded, memory, relaunchLoaded, released } from './backbone-steps.ts';

const baseUrl = inject('baseUrl');

const CLASSES = ['heart', 'animal-mammal'];
const split = emojiSplit(CLASSES, 3, 1, 11);
const taught = CLASSES.map((name) => ({ name, images: (split.train[name] as EmojiImage[]).map((e) => e.image) }));
const testImage = (split.test[CLASSES[0] as string] as EmojiImage[])[0]?.image as EmojiImage['image'];
const photos = taught.reduce((a, c) => a + c.images.length, 0);
const bytesOf = (b: ServedBackbone): number => b.files.reduce((a, f) => a + f.bytes, 0);

describe('the pair MobileNetV2 + InceptionV3 in use', () => {
  let mobilenet: ServedBackbone;
  let inception: ServedBackbone;
  let pair: ServedBackbone;
  let browser: Browser;
  let page: Page;
  let pairHead = '';
  let mobilenetOnlyTensors = 0;

  beforeAll(async () => {
    const served = await servedBackbonePair(baseUrl);
    ({ mobilenet, inception } = served);
    const found = served.manifest.backbones.find((b) => b.members?.length);
    if (!found) throw new Error('the Worker serves no pair: run with TANNERIN_BACKBONES unset');
    pair = found;
    browser = await launchChromium();
    page = await openHarness(browser, baseUrl);
    await page.evaluate(() => window.tannerin.startBackend());
    await page.evaluate(() => window.tannerin.load());
  });
  afterAll(async () => {
    await browser?.dispose();
  });

  it('is listed after its members, with what is missing of both to download', async () => {
    expect(pair.id).toBe('mobilenet_v2+inception_v3');
    expect(pair.members).toEqual([refOf(mobilenet), refOf(inception)]);
    const statuses = await page.evaluate(() => window.tannerin.backboneStatuses());
    expect(statuses.map((s) => s.ref)).toEqual([refOf(mobilenet), refOf(inception), refOf(pair)]);
    expect(statuses[2]).toMatchObject({
      members: pair.members,
      embeddingSize: 2816 + 768,
      isDefault: false,
      totalBytes: bytesOf(mobilenet) + bytesOf(inception),
      storedBytes: bytesOf(mobilenet),
      downloadBytes: bytesOf(inception),
      loaded: false,
    });
    mobilenetOnlyTensors = (await memory(page)).tensors;
  });

  it('switching to it downloads InceptionV3 only, with one progress, reuses the loaded MobileNetV2, and re-embeds the photos', async () => {
    await page.evaluate((classes) => window.tannerin.teach(classes, { augment: false }), taught);
    const traffic = watchModelTraffic(browser.context);
    const switched = await page.evaluate(() => window.tannerin.switchBackbone('mobilenet_v2+inception_v3'));
    await traffic.settled();
    if (!switched.ok) throw new Error(`switch failed: ${switched.error.message}`);
    expect(switched.current).toBe(refOf(pair));
    expect(switched.report).toEqual({ backbone: refOf(pair), previous: refOf(mobilenet), reembedded: photos });
    // One progress over both members' files: MobileNetV2's count at once (stored), InceptionV3's as they arrive.
    const total = bytesOf(mobilenet) + bytesOf(inception);
    expect(switched.download.at(-1)).toEqual([total, total]);
    expect(switched.download.every(([, t]) => t === total)).toBe(true);
    expect(switched.download.length).toBeGreaterThan(inception.files.length);
    expect(traffic.bytes).toBe(bytesOf(inception));
    expect(traffic.requests).toHaveLength(inception.files.length);
    expect(switched.reembed[0]).toEqual([0, photos]);
    expect(switched.reembed.at(-1)).toEqual([photos, photos]);
    // The pair's MobileNetV2 is the one that was loaded: not a second copy.
    const reuse = await page.evaluate(
      ([p, m, i]) => {
        const t = window.tannerin;
        const members = t.loadedBackbone(p)?.members ?? [];
        return { sameMobilenet: members[0] === t.loadedBackbone(m), sameInception: members[1] === t.loadedBackbone(i), count: members.length };
      },
      [refOf(pair), refOf(mobilenet), refOf(inception)] as const,
    );
    expect(reuse).toEqual({ sameMobilenet: true, sameInception: true, count: 2 });
    expect(await page.evaluate(() => window.tannerin.storedBackboneChoice().personChoice)).toBe('mobilenet_v2+inception_v3');
  });

  it("embeds a photo as MobileNetV2's embedding then InceptionV3's, concatenated", async () => {
    const onPair = await page.evaluate((img) => window.tannerin.embedImage(img), testImage);
    const [m, i] = await page.evaluate(([img, refs]) => window.tannerin.embedOn(img, refs), [testImage, [refOf(mobilenet), refOf(inception)]] as const);
    expect(onPair).toHaveLength(2816 + 768);
    const joined = [...(m as number[]), ...(i as number[])];
    const maxDiff = onPair.reduce((a, v, k) => Math.max(a, Math.abs(v - (joined[k] as number))), 0);
    expect(maxDiff).toBeLessThanOrEqual(1e-6);
    // The stored examples have their embeddings on the pair (the backbone in use): 3,584 floats each.
    const stored = Object.values(await page.evaluate(() => window.tannerin.storedEmbeddings()));
    expect(stored).toHaveLength(photos);
    for (const views of stored) expect(views.map((b64) => Buffer.from(b64, 'base64').length)).toEqual([(2816 + 768) * 4]);
  });

  it('Train makes a head on the pair, which predicts with the tensor count flat', async () => {
    const trained = await page.evaluate(() => window.tannerin.trainNow({ name: 'on the pair' }));
    if (!trained.ok) throw new Error(`training failed: ${trained.error.message}`);
    pairHead = trained.report.headId;
    expect(trained.report.doc.backbone).toBe(refOf(pair));
    const predictOnce = async () => {
      const result = await page.evaluate(([img, id]) => window.tannerin.tryPredict(img, { headId: id }), [testImage, pairHead] as const);
      if (!result.ok) throw new Error(`predict failed: ${result.error.message}`);
      return result.result;
    };
    const first = await predictOnce();
    expect(first.head.backbone).toBe(refOf(pair));
    expect(first.predictions.map((p) => p.label).sort()).toEqual([...CLASSES].sort());
    const before = (await page.evaluate(() => window.tannerin.memory())).numTensors;
    for (let k = 0; k < 3; k++) await predictOnce();
    await page.evaluate((img) => window.tannerin.embedImage(img), testImage);
    expect((await page.evaluate(() => window.tannerin.memory())).numTensors).toBe(before);
  });

  it('Improve further does not fine-tune on the pair, and says why', async () => {
    const estimate = await page.evaluate(() => window.tannerin.improveEstimate());
    expect(estimate.fineTuneRefusal).toContain('MobileNetV2 image model only');
    expect(estimate.fineTuneRefusal).toContain('pair of two networks');
  });

  it('the head exports and syncs with the pair as its backbone', async () => {
    const exported = await page.evaluate((id) => window.tannerin.exportData(id), pairHead);
    expect(JSON.stringify(exported.modelJson)).toContain(refOf(pair));
    const enabled = await page.evaluate(() => window.tannerin.trySync('enable'));
    if (!enabled.ok) throw new Error(`enableSync failed: ${enabled.error.message}`);
    expect((await page.evaluate(() => window.tannerin.waitForSync('synced'))).status).toBe('synced');
    const token = await page.evaluate(() => window.tannerin.syncToken());
    const listed = (await (await fetch(`${baseUrl}/v1/heads`, { headers: { authorization: `Bearer ${token ?? ''}` } })).json()) as HeadsResponse;
    expect(listed.heads.map((h) => [h.id, h.backbone])).toEqual([[pairHead, refOf(pair)]]);
  });

  it('keeps both members while the active head is on the pair, and releases the pair and InceptionV3 once it is not', async () => {
    const back = await page.evaluate(() => window.tannerin.switchBackbone('mobilenet_v2'));
    if (!back.ok) throw new Error(`switch failed: ${back.error.message}`);
    expect(back.current).toBe(refOf(mobilenet));
    // The active head runs on the pair: the pair and both members stay.
    for (const ref of [refOf(pair), refOf(inception), refOf(mobilenet)]) expect(await isLoaded(page, ref)).toBe(true);
    const predicted = await page.evaluate((img) => window.tannerin.tryPredict(img), testImage);
    if (!predicted.ok) throw new Error(`predict failed: ${predicted.error.message}`);
    expect(predicted.result.head.backbone).toBe(refOf(pair));

    // A head on MobileNetV2 becomes the active one: the pair goes, and InceptionV3 with it.
    const onMobilenet = await page.evaluate(() => window.tannerin.trainNow({ name: 'on MobileNetV2' }));
    if (!onMobilenet.ok) throw new Error(`training failed: ${onMobilenet.error.message}`);
    await released(page, refOf(pair));
    await released(page, refOf(inception));
    expect(await isLoaded(page, refOf(mobilenet))).toBe(true);
    expect((await memory(page)).tensors).toBe(mobilenetOnlyTensors);

    // The head on the pair, named: both members load again from their stored files, no download.
    const traffic = watchModelTraffic(browser.context);
    const named = await page.evaluate(([img, id]) => window.tannerin.tryPredict(img, { headId: id }), [testImage, pairHead] as const);
    await traffic.settled();
    if (!named.ok) throw new Error(`predict failed: ${named.error.message}`);
    expect(named.result.head.backbone).toBe(refOf(pair));
    expect(traffic.requests).toEqual([]);
    for (const ref of [refOf(pair), refOf(inception)]) expect(await isLoaded(page, ref)).toBe(true);
  });

  it('a relaunch with the pair chosen loads it from the stored files of both members, no download, and its head predicts', async () => {
    await page.evaluate(() => window.tannerin.updateStoredBackboneChoice({ personChoice: 'mobilenet_v2+inception_v3' }));
    await browser.close();
    const again = await relaunchLoaded(browser.profileDir, baseUrl);
    browser = again.browser;
    page = again.page;
    expect(again.loaded.backbone).toBe(refOf(pair));
    expect(again.loaded.bytesDownloaded).toBe(0);
    expect(again.traffic.requests).toEqual([]);
    for (const ref of [refOf(mobilenet), refOf(inception)]) expect(await isLoaded(page, ref)).toBe(true);
    const result = await page.evaluate(([img, id]) => window.tannerin.tryPredict(img, { headId: id }), [testImage, pairHead] as const);
    if (!result.ok) throw new Error(`predict failed: ${result.error.message}`);
    expect(result.result.head.backbone).toBe(refOf(pair));
  });

  it('a device that synced the head without InceptionV3 lists what it needs, and predicts after downloading the pair', async () => {
    const code = await page.evaluate(() => window.tannerin.createPairingCode());
    const b = await launchChromium();
    try {
      const pageB = await openHarness(b, baseUrl);
      await pageB.evaluate(() => window.tannerin.startBackend());
      await pageB.evaluate(() => window.tannerin.load());
      const paired = await pageB.evaluate((c) => window.tannerin.trySync('pair', c), code.code);
      if (!paired.ok) throw new Error(`pairing failed: ${paired.error.message}`);
      expect((await pageB.evaluate(() => window.tannerin.waitForSync('synced'))).status).toBe('synced');
      const listed = (await pageB.evaluate(() => window.tannerin.listHeads())).find((x) => x.id === pairHead);
      expect(listed).toMatchObject({ backbone: refOf(pair), usable: false, needs: { backbone: refOf(pair), downloadBytes: bytesOf(inception) } });
      const refused = await pageB.evaluate(([img, id]) => window.tannerin.tryPredict(img, { headId: id }), [testImage, pairHead] as const);
      expect(refused.ok ? null : refused.needed).toEqual({ backbone: refOf(pair), downloadBytes: bytesOf(inception) });
      const downloaded = await pageB.evaluate((ref) => window.tannerin.downloadBackbone(ref), refOf(pair));
      if (!downloaded.ok) throw new Error(`download failed: ${downloaded.error.message}`);
      const total = bytesOf(mobilenet) + bytesOf(inception);
      expect(downloaded.download.at(-1)).toEqual([total, total]);
      const result = await pageB.evaluate(([img, id]) => window.tannerin.tryPredict(img, { headId: id }), [testImage, pairHead] as const);
      if (!result.ok) throw new Error(`predict failed: ${result.error.message}`);
      expect(result.result.head.backbone).toBe(refOf(pair));
      // Device B keeps MobileNetV2 in use: the head predicts on its own backbone.
      expect(await pageB.evaluate(() => window.tannerin.currentBackbone().ref)).toBe(refOf(mobilenet));
    } finally {
      await b.dispose();
    }
  });
});
