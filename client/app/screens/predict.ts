/**
 * Predict: a live camera view with the top classes as bars (Freeze holds a frame and classifies it
 * like a photo), or a picked photo; "my model" (a personal head, on the device) or the default
 * model (on the device, or the edge API when online: only then does a photo leave the device, and
 * the screen says so). A photo or frozen frame that a personal model classified on the device can
 * be corrected in one tap (screens/correct-panel.ts), and, while keeping is on, it is kept in the
 * pool of photos the Train screen asks about (screens/pool.ts).
 */
import {
  activeHeadId,
  addUnlabeled,
  listHeads,
  onChange,
  predict,
  type EmbedSource,
  type HeadSummary,
  type Prediction,
  type PredictResult,
  warmCorrections,
} from '../../lib/index.ts';
import { defaultHeads, downscaleForUpload } from '../../lib/internal.ts';
import type { PredictResponse } from '../../../shared/api/types.ts';
import { Camera, CameraError } from '../camera.ts';
import type { AppContext, Screen } from '../context.ts';
import { errorText, h, replace } from '../dom.ts';
import { youSaidSentence } from '../words.ts';
import { correctionPanel } from './correct-panel.ts';
import { bars } from './train.ts';

const TOP = 5;

type Where = 'device' | 'edge';

async function edgePredict(photo: Blob, head: string): Promise<Prediction[]> {
  const body = await downscaleForUpload(photo);
  const res = await fetch(`/v1/predict?head=${encodeURIComponent(head)}&top=${TOP}`, { method: 'POST', headers: { 'content-type': body.type }, body });
  const json = (await res.json().catch(() => null)) as (PredictResponse & { error?: { message: string } }) | null;
  if (!res.ok || !json || !Array.isArray(json.predictions)) throw new Error(json?.error?.message ?? `the edge API answered ${res.status}`);
  return json.predictions;
}

/** A frame as a JPEG blob (for the edge, and a frozen frame as a photo). */
async function frameBlob(bitmap: ImageBitmap): Promise<Blob> {
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  canvas.getContext('2d')?.drawImage(bitmap, 0, 0);
  return canvas.convertToBlob({ type: 'image/jpeg', quality: 0.9 });
}

function predictView(root: HTMLElement, ctx: AppContext): () => void {
  let heads: HeadSummary[] = [];
  let mine: string | null = null;
  const defaults = defaultHeads();
  const defaultHead = defaults[0];
  const which = { model: 'mine' as 'mine' | 'default', where: 'device' as Where };

  const headSelect = h('select', { id: 'head-select', 'aria-label': 'Which of my models' });
  const mineRadio = h('input', { type: 'radio', name: 'model', value: 'mine', id: 'model-mine', checked: true });
  const defaultRadio = h('input', { type: 'radio', name: 'model', value: 'default', id: 'model-default' });
  const deviceRadio = h('input', { type: 'radio', name: 'where', value: 'device', id: 'where-device', checked: true });
  const edgeRadio = h('input', { type: 'radio', name: 'where', value: 'edge', id: 'where-edge' });
  const whereNote = h('p', { class: 'muted' });
  const whereSet = h(
    'fieldset',
    {},
    h('legend', {}, 'Run the default model'),
    h('label', { class: 'choice', for: 'where-device' }, deviceRadio, 'On this device'),
    h('label', { class: 'choice', for: 'where-edge' }, edgeRadio, 'Edge API'),
    whereNote,
  );
  const modelSet = h(
    'fieldset',
    {},
    h('legend', {}, 'Model'),
    h('label', { class: 'choice', for: 'model-mine' }, mineRadio, 'My model'),
    headSelect,
    h('label', { class: 'choice', for: 'model-default' }, defaultRadio, `Default model${defaultHead ? ` (${defaultHead.name})` : ''}`),
  );

  const results = h('div', { 'aria-live': 'polite', 'data-testid': 'predictions' });
  const status = h('p', { class: 'status', 'aria-live': 'polite', 'data-testid': 'predict-status' });
  const video = h('video', { 'aria-label': 'Camera preview' });
  const camWrap = h('div', { class: 'camera', hidden: true }, video);
  const camera = new Camera(video);
  const camButton = h('button', { type: 'button', class: 'primary', 'data-testid': 'live-camera' }, 'Live camera');
  const freezeButton = h('button', { type: 'button', 'data-testid': 'freeze', hidden: true }, 'Freeze');
  const correctArea = h('div', { 'data-testid': 'correct-area' });
  const keptNote = h('p', { class: 'muted', 'data-testid': 'kept-note' });
  const fileInput = h('input', { type: 'file', accept: 'image/jpeg,image/png,.jpg,.jpeg,.png', id: 'predict-file', class: 'visually-hidden' });
  const preview = h('img', { class: 'preview', alt: 'The photo being classified', hidden: true });
  let previewUrl: string | null = null;
  /**
   * The picked photo or frozen frame, re-classified when the model choice changes; `result` is its
   * last prediction on the device; `pooled` is its id in the unlabeled pool once kept there (null
   * when keeping is off or it failed).
   */
  let still: { photo: Blob; result?: PredictResult; pooled: Promise<string | null> } | null = null;
  let live = false;
  /** The live camera is held on one frame (`still`); the loop waits. */
  let frozen = false;
  let stopped = false;
  /** Bumped whenever what is on screen changes, so an answer that comes back late is dropped. */
  let generation = 0;
  let loopId = 0;

  const show = (predictions: Prediction[], label: string, corrected?: PredictResult['corrected']): void => {
    replace(
      results,
      h('p', { class: 'muted' }, label),
      corrected ? h('p', { class: 'you-said', 'data-testid': 'you-said' }, youSaidSentence(corrected.className)) : null,
      bars(
        predictions.slice(0, TOP).map((p) => ({ label: p.label, value: p.score })),
        'prediction-bars',
      ),
    );
  };

  const renderWhere = (): void => {
    whereSet.hidden = which.model !== 'default';
    edgeRadio.disabled = !ctx.online();
    if (!ctx.online() && which.where === 'edge') {
      which.where = 'device';
      deviceRadio.checked = true;
    }
    whereNote.textContent = ctx.online()
      ? which.where === 'edge'
        ? 'Edge API: each photo is sent to the tannerin server, classified there, and not kept.'
        : 'On this device: nothing leaves the phone.'
      : 'Offline: the edge API needs a connection; the device runs it offline.';
  };

  const headChoice = (): { headId?: string; where: Where; name: string } | null => {
    if (which.model === 'default') {
      if (!defaultHead) return null;
      return { headId: defaultHead.id, where: which.where, name: defaultHead.name };
    }
    const id = headSelect.value || mine;
    if (!id) return null;
    const head = heads.find((x) => x.id === id);
    return { headId: id, where: 'device', name: head?.name ?? 'my model' };
  };

  /** The fine-tuned model whose first correction is being warmed up (client/lib/warm-corrections.ts), and its stop. */
  let warming: { headId: string; stop: AbortController } | null = null;
  /**
   * Once a fine-tuned model has predicted here, computes in the background what its first
   * correction would (its tail's embeddings of the stored photos), so a correction takes about 1 s,
   * not 6-9. Stopped when another model predicts (`null`) or the screen goes.
   */
  const warmUp = (headId: string | null): void => {
    if (warming?.headId === headId) return;
    warming?.stop.abort();
    warming = null;
    if (headId === null) return;
    const stop = new AbortController();
    warming = { headId, stop };
    // Only a head start: a failure here costs nothing the correction would not redo.
    warmCorrections({ headId, signal: stop.signal }).catch(() => undefined);
  };

  /**
   * `live`: a camera frame, predicted from the frame alone (no test-time augmentation: 4x the
   * passes would cut the frame rate). A still (a picked photo or frozen frame) classified by a
   * personal model on this device gets the Right / Wrong panel.
   */
  const classify = async (source: EmbedSource, blob: () => Promise<Blob>, live = false): Promise<void> => {
    const gen = generation;
    const choice = headChoice();
    if (!choice) {
      status.textContent = which.model === 'mine' ? 'You have no model yet: teach classes and train one first, or use the default model.' : 'No default model is available.';
      return;
    }
    const t0 = performance.now();
    let views = 0;
    let predictions;
    let result: PredictResult | null = null;
    if (choice.where === 'edge' && choice.headId) predictions = await edgePredict(await blob(), choice.headId);
    else ({ predictions, testTimeViews: views } = result = await predict(source, { headId: choice.headId, top: TOP, testTimeAugmentation: !live }));
    if (gen !== generation) return;
    const ms = performance.now() - t0;
    const how = views ? ` · averaged over the photo and ${views} flipped or cropped copies` : live ? ' · live: each frame alone' : '';
    show(predictions, `${choice.name}, ${choice.where === 'edge' ? 'edge API' : 'on this device'} · ${Math.round(ms)} ms${how}`, result?.corrected);
    status.textContent = '';
    // Edge and default-model answers are not corrected: only a personal model learns from a label.
    const item = still;
    if (!live && item && result) item.result = result;
    if (result) warmUp(result.head.kind === 'personal' && result.head.fineTuned ? result.head.id : null);
    if (!live && item && result?.head.kind === 'personal') {
      const onLabelled = (): void => {
        if (still === item) keptNote.textContent = '';
      };
      await correctionPanel(correctArea, ctx, { photo: item.photo, result, headId: result.head.id, pooled: item.pooled, onLabelled }, () => gen === generation && still === item);
    }
  };

  /**
   * Keeps a picked photo or frozen frame in the pool of photos to ask about later, when keeping is
   * on (the library checks, and keeps the pool under its cap); resolves to its id there, or null.
   * Its prediction on the device, if any, lends its key and embedding.
   */
  const keepForLater = async (photo: Blob, prediction: PredictResult | undefined): Promise<string | null> => {
    try {
      const { id } = await addUnlabeled(photo, { from: 'predict', ...(prediction ? { prediction } : {}) });
      if (id !== null && still?.photo === photo) keptNote.textContent = 'Kept on this device to help teach later (Train screen, “Photos to teach later”).';
      return id;
    } catch {
      // Storage full or the like: the prediction stands; the photo is just not kept.
      return null;
    }
  };

  const loop = async (): Promise<void> => {
    const id = ++loopId;
    while (live && !frozen && !stopped && id === loopId) {
      const bitmap = await camera.grab().catch(() => null);
      if (!bitmap) break;
      try {
        await classify(bitmap, () => frameBlob(bitmap), true);
      } catch (err) {
        status.textContent = errorText(err);
      } finally {
        bitmap.close();
      }
      // The edge is asked at most about once a second; on the device, as fast as it runs.
      await new Promise((r) => setTimeout(r, which.model === 'default' && which.where === 'edge' ? 1000 : 30));
    }
  };

  /** Shows a new still (a picked photo or frozen frame), classifies it, then keeps it for later. */
  const setStill = (photo: Blob): void => {
    let kept: (value: string | null) => void = () => undefined;
    const item: NonNullable<typeof still> = { photo, pooled: new Promise((resolve) => (kept = resolve)) };
    still = item;
    // After the prediction, so keeping the photo does not slow the answer. A photo labelled before
    // is an example already: nothing to ask about.
    void classifyStill().finally(() => void (item.result?.corrected ? Promise.resolve(null) : keepForLater(photo, item.result)).then(kept));
  };

  const stopLive = (): void => {
    live = false;
    if (frozen) {
      frozen = false;
      still = null;
      replace(results);
      replace(correctArea);
      keptNote.textContent = '';
    }
    generation++;
    camera.stop();
    camWrap.hidden = true;
    freezeButton.hidden = true;
    freezeButton.textContent = 'Freeze';
    camButton.textContent = 'Live camera';
  };

  freezeButton.addEventListener('click', () => {
    if (!live) return;
    if (frozen) {
      frozen = false;
      still = null;
      generation++;
      replace(correctArea);
      keptNote.textContent = '';
      freezeButton.textContent = 'Freeze';
      void video.play().catch(() => undefined);
      void loop();
      return;
    }
    frozen = true;
    generation++;
    freezeButton.textContent = 'Resume';
    video.pause();
    void (async () => {
      const bitmap = await camera.grab().catch(() => null);
      if (!bitmap || !frozen) {
        bitmap?.close();
        return;
      }
      try {
        setStill(await frameBlob(bitmap));
      } finally {
        bitmap.close();
      }
    })();
  });

  camButton.addEventListener('click', () => {
    if (live) {
      stopLive();
      return;
    }
    void (async () => {
      status.textContent = 'Starting the camera…';
      try {
        await camera.start();
      } catch (err) {
        status.textContent = err instanceof CameraError ? err.message : errorText(err);
        status.classList.add('error');
        return;
      }
      status.classList.remove('error');
      status.textContent = '';
      preview.hidden = true;
      still = null;
      generation++;
      replace(correctArea);
      keptNote.textContent = '';
      camWrap.hidden = false;
      live = true;
      freezeButton.hidden = false;
      camButton.textContent = 'Stop camera';
      void loop();
    })();
  });

  fileInput.addEventListener('change', () => {
    const file = fileInput.files?.[0];
    fileInput.value = '';
    if (!file) return;
    if (live) stopLive();
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(file);
    preview.src = previewUrl;
    preview.hidden = false;
    keptNote.textContent = '';
    setStill(file);
  });

  /** Classifies the still with the current choice (results of another model are cleared first). */
  const classifyStill = async (): Promise<void> => {
    const item = still;
    generation++;
    replace(results);
    replace(correctArea);
    if (!item || (live && !frozen)) return;
    status.classList.remove('error');
    status.textContent = 'Classifying…';
    await classify(item.photo, () => Promise.resolve(item.photo)).catch((err: unknown) => {
      status.textContent = `Could not classify this photo: ${errorText(err)}`;
      status.classList.add('error');
    });
  };

  for (const radio of [mineRadio, defaultRadio]) {
    radio.addEventListener('change', () => {
      which.model = defaultRadio.checked ? 'default' : 'mine';
      renderWhere();
      void classifyStill();
    });
  }
  for (const radio of [deviceRadio, edgeRadio]) {
    radio.addEventListener('change', () => {
      which.where = edgeRadio.checked ? 'edge' : 'device';
      renderWhere();
      void classifyStill();
    });
  }
  headSelect.addEventListener('change', () => {
    mineRadio.checked = true;
    which.model = 'mine';
    renderWhere();
    void classifyStill();
  });

  const loadHeads = async (): Promise<void> => {
    heads = (await listHeads()).filter((x) => x.usable);
    mine = await activeHeadId();
    const selected = headSelect.value || mine;
    replace(headSelect, ...heads.map((x) => h('option', { value: x.id, selected: x.id === selected }, x.name)));
    headSelect.hidden = heads.length < 2;
    if (heads.length === 0 && which.model === 'mine') {
      status.textContent = 'No personal model yet: the default model is selected. Teach and train to make your own.';
      defaultRadio.checked = true;
      which.model = 'default';
    }
    renderWhere();
  };

  replace(
    root,
    h('h1', {}, 'Predict'),
    h('section', { class: 'card' }, modelSet, whereSet),
    h(
      'section',
      { class: 'card' },
      h('div', { class: 'row' }, camButton, freezeButton, h('label', { class: 'button', for: 'predict-file' }, 'Pick a photo'), fileInput),
      camWrap,
      preview,
      status,
      results,
      keptNote,
      correctArea,
    ),
  );
  void loadHeads();
  const offChange = onChange((msg) => {
    if (msg.type === 'head-saved' || msg.type === 'head-deleted' || msg.type === 'active-head-changed') void loadHeads();
  });
  const offNet = ctx.onOnlineChange(renderWhere);
  return () => {
    stopped = true;
    warming?.stop.abort();
    stopLive();
    offChange();
    offNet();
    if (previewUrl) URL.revokeObjectURL(previewUrl);
  };
}

export const predictScreen: Screen = { id: 'predict', title: 'Predict', mount: predictView };
