/**
 * The backbone choice kept in IndexedDB, and backbones released when nothing uses them (issue 15
 * pt 2), in Chromium against the real Worker:
 * - a choice an older version kept in localStorage moves into the IndexedDB `settings` store at the
 *   first load (and is used: InceptionV3 loads), then is gone from localStorage; a relaunch reads it
 *   from IndexedDB with no download; the first-run measurement is kept there too; clearing the
 *   site's IndexedDB forgets the choice with everything else;
 * - switching releases the previous backbone unless the active head runs on it (then both stay);
 *   once the active head is on the new one, the previous one is released and `tf.memory()`'s tensor
 *   count drops back to what it was before that backbone was loaded. The WASM heap does not shrink,
 *   but loading the released backbone again reuses the memory it freed.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { ServedBackbone } from '../../shared/api/types.ts';
import { launchChromium, openHarness, watchModelTraffic, type Browser } from './chrome.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';
import { refOf, report, servedBackbonePair } from './util.ts';
import { isLoaded, memory, relaunchLoaded, released } from './backbone-steps.ts';

const baseUrl = inject('baseUrl');

const CLASSES = ['heart', 'animal-mammal'];
const split = emojiSplit(CLASSES, 3, 1, 7);
const taught = CLASSES.map((name) => ({ name, images: (split.train[name] as EmojiImage[]).map((e) => e.image) }));
const testImage = (split.test[CLASSES[0] as string] as EmojiImage[])[0]?.image as EmojiImage['image'];
/** The localStorage key an older version kept the choice under. */
const LEGACY_KEY = 'tannerin.backbone';


/** The `settings` record `backboneChoice`, read straight from IndexedDB. */
function settingsRecord(page: Page): Promise<unknown> {
  return page.evaluate(async () => {
    const db = await window.tannerin.openTannerinDb();
    return (await db.get('settings', 'backboneChoice')) ?? null;
  });
}

describe('the kept backbone choice and released backbones', () => {
  let mobilenet: ServedBackbone;
  let inception: ServedBackbone;
  const browsers: Browser[] = [];
  let page: Page;
  let profile: string;

  beforeAll(async () => {
    ({ mobilenet, inception } = await servedBackbonePair(baseUrl));
  });
  afterAll(async () => {
    for (const b of browsers) await b.dispose();
  });

  it('a choice kept in localStorage by an older version moves into IndexedDB once, and is used', async () => {
    const a = await launchChromium();
    browsers.push(a);
    profile = a.profileDir;
    page = await openHarness(a, baseUrl);
    const measurement = { backbone: refOf(mobilenet), forwardMs: 42, measured: '2026-12-01T00:00:00.000Z' };
    await page.evaluate(([key, value]) => localStorage.setItem(key, value), [LEGACY_KEY, JSON.stringify({ personChoice: 'inception_v3', measurement })] as const);
    await page.evaluate(() => window.tannerin.startBackend());
    const loaded = await page.evaluate(() => window.tannerin.load());
    expect(loaded.backbone).toBe(refOf(inception));
    expect(await settingsRecord(page)).toEqual({ key: 'backboneChoice', personChoice: 'inception_v3', measurement });
    expect(await page.evaluate((key) => localStorage.getItem(key), LEGACY_KEY)).toBeNull();
    expect(await page.evaluate(() => window.tannerin.storedBackboneChoice())).toEqual({ personChoice: 'inception_v3', measurement });
    // Only the chosen backbone is loaded.
    expect(await isLoaded(page, refOf(mobilenet))).toBe(false);
  });

  it('a relaunch reads the choice from IndexedDB, with no download; a new choice is kept there', async () => {
    await (browsers.at(-1) as Browser).close();
    const again = await relaunchLoaded(profile, baseUrl);
    browsers.push(again.browser);
    page = again.page;
    const { loaded, traffic } = again;
    expect(loaded.backbone).toBe(refOf(inception));
    expect(loaded.bytesDownloaded).toBe(0);
    expect(traffic.requests).toEqual([]);
    // A choice written now lands in IndexedDB, merged with the measurement.
    await page.evaluate(() => window.tannerin.updateStoredBackboneChoice({ personChoice: 'mobilenet_v2' }));
    expect(await settingsRecord(page)).toMatchObject({ personChoice: 'mobilenet_v2', measurement: { forwardMs: 42 } });
    await page.evaluate(() => window.tannerin.updateStoredBackboneChoice({ personChoice: 'inception_v3' }));
    expect(await page.evaluate((key) => localStorage.getItem(key), LEGACY_KEY)).toBeNull();
  });

  it('switching keeps the previous backbone while the active head runs on it, and releases it once the active head does not', async () => {
    await page.evaluate((classes) => window.tannerin.teach(classes, { augment: false }), taught);
    const onInception = await page.evaluate(() => window.tannerin.trainNow({ name: 'on InceptionV3' }));
    if (!onInception.ok) throw new Error(`training failed: ${onInception.error.message}`);
    expect(onInception.report.doc.backbone).toBe(refOf(inception));
    const inceptionOnly = await memory(page);

    // To MobileNetV2: the active head is on InceptionV3, so both stay loaded.
    const toMobilenet = await page.evaluate(() => window.tannerin.switchBackbone('mobilenet_v2'));
    if (!toMobilenet.ok) throw new Error(`switch failed: ${toMobilenet.error.message}`);
    expect(toMobilenet.current).toBe(refOf(mobilenet));
    expect(await isLoaded(page, refOf(inception))).toBe(true);
    const both = await memory(page);
    expect(both.tensors).toBeGreaterThan(inceptionOnly.tensors);
    const predicted = await page.evaluate((img) => window.tannerin.tryPredict(img), testImage);
    if (!predicted.ok) throw new Error(`predict failed: ${predicted.error.message}`);
    expect(predicted.result.head.backbone).toBe(refOf(inception));

    // A head trained on MobileNetV2 becomes the active head: InceptionV3 is released.
    const onMobilenet = await page.evaluate(() => window.tannerin.trainNow({ name: 'on MobileNetV2' }));
    if (!onMobilenet.ok) throw new Error(`training failed: ${onMobilenet.error.message}`);
    await released(page, refOf(inception));
    const mobilenetOnly = await memory(page);
    expect(mobilenetOnly.tensors).toBeLessThan(both.tensors);
    const statuses = await page.evaluate(() => window.tannerin.backboneStatuses());
    expect(statuses.map((s) => [s.ref, s.loaded])).toEqual([
      [refOf(mobilenet), true],
      [refOf(inception), false],
      [`mobilenet_v2+inception_v3@${mobilenet.version}${inception.version}`, false],
    ]);

    // The InceptionV3 head active again (nothing loads until it predicts), then back to InceptionV3
    // (loaded again from its stored files, no download): the switch itself releases MobileNetV2,
    // and the tensor count drops back to what it was with InceptionV3 alone.
    await page.evaluate((id) => window.tannerin.setActiveHead(id), onInception.report.headId);
    const traffic = watchModelTraffic((browsers.at(-1) as Browser).context);
    const toInception = await page.evaluate(() => window.tannerin.switchBackbone('inception_v3'));
    await traffic.settled();
    if (!toInception.ok) throw new Error(`switch failed: ${toInception.error.message}`);
    expect(traffic.requests).toEqual([]);
    expect(await isLoaded(page, refOf(mobilenet))).toBe(false);
    const afterSwitch = await memory(page);
    expect(afterSwitch.tensors).toBe(inceptionOnly.tensors);
    expect(afterSwitch.bytes).toBe(inceptionOnly.bytes);

    const mb = (n: number): string => (n / 2 ** 20).toFixed(1);
    report('browser.backbone_release.tensors', both.tensors - afterSwitch.tensors, 'tensors', `MobileNetV2 released: ${both.tensors} -> ${afterSwitch.tensors} tensors (InceptionV3 alone ${inceptionOnly.tensors})`);
    report(
      'browser.backbone_release.tensor_mb',
      (both.bytes - afterSwitch.bytes) / 2 ** 20,
      'MiB',
      `tensor bytes with both loaded ${mb(both.bytes)} MiB, InceptionV3 alone ${mb(afterSwitch.bytes)}, MobileNetV2 alone ${mb(mobilenetOnly.bytes)}; WASM heap ${mb(inceptionOnly.heap)} (InceptionV3) -> ${mb(both.heap)} (both) -> ${mb(mobilenetOnly.heap)} (MobileNetV2, after training) -> ${mb(afterSwitch.heap)} MiB (InceptionV3 loaded again)`,
    );
    // The heap never shrinks, but InceptionV3 loaded again fits in the memory the releases freed.
    expect(afterSwitch.heap).toBe(mobilenetOnly.heap);
  });

  it('clearing the site’s IndexedDB forgets the choice with everything else', async () => {
    await (browsers.at(-1) as Browser).close();
    const fresh = await launchChromium(profile);
    browsers.push(fresh);
    const p = await openHarness(fresh, baseUrl);
    await p.evaluate(async () => {
      const db = await window.tannerin.openTannerinDb();
      await db.clear('settings');
    });
    await p.evaluate(() => window.tannerin.startBackend());
    expect((await p.evaluate(() => window.tannerin.load())).backbone).toBe(refOf(mobilenet));
    expect(await p.evaluate(() => window.tannerin.storedBackboneChoice())).toEqual({ personChoice: null, measurement: null });
  });
});
