/**
 * A backbone is never disposed while a job uses it (issue 15 pt 2), in Chromium against the real
 * Worker. Each job here reads its photo from a Blob whose bytes are held back until the test lets
 * them through, so the release happens while the job is under way, whatever the machine's speed:
 * - a photo being embedded on InceptionV3 when a switch to MobileNetV2 releases InceptionV3;
 * - a prediction with a head named on MobileNetV2 when the active head changes (InceptionV3 is
 *   current and the active head's) and the release rule lets MobileNetV2 go.
 * The job finishes with the same answer it gives undisturbed, the backbone is released when it
 * ends, and `tf.memory()`'s tensor count is back to what it is without that backbone.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { ServedBackbone } from '../../shared/api/types.ts';
import type { PredictResult } from '../../client/lib/index.ts';
import { launchChromium, openHarness, type Browser } from './chrome.ts';
import { emojiSplit, type EmojiImage } from './emoji.ts';
import { servedBackbonePair, refOf } from './util.ts';
import { isLoaded, memory, released } from './backbone-steps.ts';

const baseUrl = inject('baseUrl');

const CLASSES = ['heart', 'animal-mammal'];
const split = emojiSplit(CLASSES, 3, 1, 7);
const taught = CLASSES.map((name) => ({ name, images: (split.train[name] as EmojiImage[]).map((e) => e.image) }));
const testImage = (split.test[CLASSES[0] as string] as EmojiImage[])[0]?.image as EmojiImage['image'];


/** How a held-back job ended, as data. */
type JobOutcome = { ok: true; embedding?: number[]; result?: PredictResult } | { ok: false; error: string };

/** The page's job in flight: its outcome, and the function that lets its photo's bytes through. */
interface HeldJob {
  open(): void;
  outcome: Promise<JobOutcome>;
}
type WindowWithJob = Window & { heldJob?: HeldJob };

/**
 * Starts, in the page, an `embed` of `img` on the current backbone (`headId` undefined) or a
 * `predict` with head `headId`, from a Blob whose `arrayBuffer()` waits until {@link letThrough};
 * resolves once the job has asked for the bytes (it holds its backbone by then).
 */
function startHeldJob(page: Page, img: EmojiImage['image'], headId?: string): Promise<void> {
  return page.evaluate(
    ([image, head]) =>
      new Promise<void>((asked) => {
        let open = (): void => undefined;
        const gate = new Promise<void>((resolve) => (open = resolve));
        const photo = new Blob([Uint8Array.from(atob(image.base64), (c) => c.charCodeAt(0))], { type: image.type });
        const read = photo.arrayBuffer.bind(photo);
        Object.defineProperty(photo, 'arrayBuffer', {
          value: async () => {
            asked();
            await gate;
            return read();
          },
        });
        const t = window.tannerin;
        const job: Promise<JobOutcome> = head === null ? t.embed(photo).then((e) => ({ ok: true, embedding: Array.from(e) })) : t.predict(photo, { headId: head }).then((result) => ({ ok: true, result }));
        (window as WindowWithJob).heldJob = { open, outcome: job.catch((err: unknown) => ({ ok: false, error: String(err) })) };
      }),
    [img, headId ?? null] as const,
  );
}

/** Lets the held job's photo through; resolves with how the job ended. */
function letThrough(page: Page): Promise<JobOutcome> {
  return page.evaluate(() => {
    const job = (window as WindowWithJob).heldJob as HeldJob;
    job.open();
    return job.outcome;
  });
}

describe('a backbone in use is released only when the job using it ends', () => {
  let mobilenet: ServedBackbone;
  let inception: ServedBackbone;
  let browser: Browser;
  let page: Page;
  /** Tensors with MobileNetV2 alone loaded. */
  let mobilenetOnly: number;

  beforeAll(async () => {
    ({ mobilenet, inception } = await servedBackbonePair(baseUrl));
    browser = await launchChromium();
    page = await openHarness(browser, baseUrl);
    await page.evaluate(() => window.tannerin.startBackend());
    expect((await page.evaluate(() => window.tannerin.load())).backbone).toBe(refOf(mobilenet));
    mobilenetOnly = (await memory(page)).tensors;
  });
  afterAll(async () => {
    await browser?.dispose();
  });

  it('a switch while a photo is embedded on the previous backbone: the embedding is right, then that backbone goes', async () => {
    // To InceptionV3 (no photos yet); the default head runs on MobileNetV2, so both stay loaded.
    const toInception = await page.evaluate(() => window.tannerin.switchBackbone('inception_v3'));
    if (!toInception.ok) throw new Error(`switch failed: ${toInception.error.message}`);
    expect(await isLoaded(page, refOf(mobilenet))).toBe(true);
    const undisturbed = await page.evaluate((img) => window.tannerin.embedImage(img), testImage);

    await startHeldJob(page, testImage);
    // Back to MobileNetV2: nothing else keeps InceptionV3, but the embedding under way does.
    const toMobilenet = await page.evaluate(() => window.tannerin.switchBackbone('mobilenet_v2'));
    if (!toMobilenet.ok) throw new Error(`switch failed: ${toMobilenet.error.message}`);
    expect(toMobilenet.current).toBe(refOf(mobilenet));
    expect(await isLoaded(page, refOf(inception))).toBe(true);

    const outcome = await letThrough(page);
    if (!outcome.ok) throw new Error(`the embedding failed: ${outcome.error}`);
    expect(outcome.embedding).toEqual(undisturbed);
    // Released as the job ended, with its tensors.
    expect(await isLoaded(page, refOf(inception))).toBe(false);
    expect((await memory(page)).tensors).toBe(mobilenetOnly);
  });

  it('a change of the active head while a head named on another backbone predicts: the prediction is right, then that backbone goes', async () => {
    await page.evaluate((classes) => window.tannerin.teach(classes, { augment: false }), taught);
    const onMobilenet = await page.evaluate(() => window.tannerin.trainNow({ name: 'on MobileNetV2' }));
    if (!onMobilenet.ok) throw new Error(`training failed: ${onMobilenet.error.message}`);
    const toInception = await page.evaluate(() => window.tannerin.switchBackbone('inception_v3'));
    if (!toInception.ok) throw new Error(`switch failed: ${toInception.error.message}`);
    const onInception = await page.evaluate(() => window.tannerin.trainNow({ name: 'on InceptionV3' }));
    if (!onInception.ok) throw new Error(`training failed: ${onInception.error.message}`);
    // The active head is on InceptionV3 now: MobileNetV2 goes (in the background).
    await released(page, refOf(mobilenet));
    const inceptionOnly = (await memory(page)).tensors;

    // The MobileNetV2 head, named: MobileNetV2 loads again for it.
    const headId = onMobilenet.report.headId;
    const undisturbed = await page.evaluate(([img, id]) => window.tannerin.tryPredict(img, { headId: id }), [testImage, headId] as const);
    if (!undisturbed.ok) throw new Error(`predict failed: ${undisturbed.error.message}`);
    expect(undisturbed.result.head.backbone).toBe(refOf(mobilenet));

    await startHeldJob(page, testImage, headId);
    // The active head changes (to the InceptionV3 head again): the release it starts, and one
    // more, find nothing but the prediction under way keeping MobileNetV2.
    await page.evaluate(async (id) => {
      await window.tannerin.setActiveHead(id);
      await window.tannerin.releaseUnusedBackbones();
    }, onInception.report.headId);
    expect(await isLoaded(page, refOf(mobilenet))).toBe(true);

    const outcome = await letThrough(page);
    if (!outcome.ok) throw new Error(`the prediction failed: ${outcome.error}`);
    expect(outcome.result).toEqual(undisturbed.result);
    expect(await isLoaded(page, refOf(mobilenet))).toBe(false);
    expect((await memory(page)).tensors).toBe(inceptionOnly);
  });
});
