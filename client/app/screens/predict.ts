/**
 * Predict: a live camera view with the top classes as bars, or a picked photo; "my model" (a
 * personal head, on the device) or the default model (on the device, or the edge API when online:
 * only then does a photo leave the device, and the screen says so).
 */
import { activeHeadId, listHeads, onChange, predict, type EmbedSource, type HeadSummary, type Prediction } from '../../lib/index.ts';
import { defaultHeads, downscaleForUpload } from '../../lib/internal.ts';
import type { PredictResponse } from '../../../shared/api/types.ts';
import { Camera, CameraError } from '../camera.ts';
import type { AppContext, Screen } from '../context.ts';
import { errorText, h, replace } from '../dom.ts';
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

/** A frame as a JPEG blob (for the edge). */
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
  const fileInput = h('input', { type: 'file', accept: 'image/jpeg,image/png,.jpg,.jpeg,.png', id: 'predict-file', class: 'visually-hidden' });
  const preview = h('img', { class: 'preview', alt: 'The photo being classified', hidden: true });
  let previewUrl: string | null = null;
  /** The picked photo, re-classified when the model choice changes. */
  let currentFile: File | null = null;
  let live = false;
  let stopped = false;

  const show = (predictions: Prediction[], label: string): void => {
    replace(
      results,
      h('p', { class: 'muted' }, label),
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

  /** `live`: a camera frame, predicted from the frame alone (no test-time augmentation: 4x the passes would cut the frame rate). */
  const classify = async (source: EmbedSource, blob: () => Promise<Blob>, live = false): Promise<void> => {
    const choice = headChoice();
    if (!choice) {
      status.textContent = which.model === 'mine' ? 'You have no model yet: teach classes and train one first, or use the default model.' : 'No default model is available.';
      return;
    }
    const t0 = performance.now();
    let views = 0;
    let predictions;
    if (choice.where === 'edge' && choice.headId) predictions = await edgePredict(await blob(), choice.headId);
    else ({ predictions, testTimeViews: views } = await predict(source, { headId: choice.headId, top: TOP, testTimeAugmentation: !live }));
    const ms = performance.now() - t0;
    const how = views ? ` · averaged over the photo and ${views} flipped or cropped copies` : live ? ' · live: each frame alone' : '';
    show(predictions, `${choice.name}, ${choice.where === 'edge' ? 'edge API' : 'on this device'} · ${Math.round(ms)} ms${how}`);
    status.textContent = '';
  };

  const loop = async (): Promise<void> => {
    while (live && !stopped) {
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

  const stopLive = (): void => {
    live = false;
    camera.stop();
    camWrap.hidden = true;
    camButton.textContent = 'Live camera';
  };

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
      camWrap.hidden = false;
      live = true;
      camButton.textContent = 'Stop camera';
      void loop();
    })();
  });

  fileInput.addEventListener('change', () => {
    const file = fileInput.files?.[0];
    fileInput.value = '';
    if (!file) return;
    if (live) stopLive();
    currentFile = file;
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(file);
    preview.src = previewUrl;
    preview.hidden = false;
    classifyPicked();
  });

  /** Classifies the picked photo with the current choice (results of another model are cleared first). */
  const classifyPicked = (): void => {
    const file = currentFile;
    replace(results);
    if (!file || live) return;
    status.classList.remove('error');
    status.textContent = 'Classifying…';
    classify(file, () => Promise.resolve(file)).catch((err: unknown) => {
      status.textContent = `Could not classify this photo: ${errorText(err)}`;
      status.classList.add('error');
    });
  };

  for (const radio of [mineRadio, defaultRadio]) {
    radio.addEventListener('change', () => {
      which.model = defaultRadio.checked ? 'default' : 'mine';
      renderWhere();
      classifyPicked();
    });
  }
  for (const radio of [deviceRadio, edgeRadio]) {
    radio.addEventListener('change', () => {
      which.where = edgeRadio.checked ? 'edge' : 'device';
      renderWhere();
      classifyPicked();
    });
  }
  headSelect.addEventListener('change', () => {
    mineRadio.checked = true;
    which.model = 'mine';
    renderWhere();
    classifyPicked();
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
      h('div', { class: 'row' }, camButton, h('label', { class: 'button', for: 'predict-file' }, 'Pick a photo'), fileInput),
      camWrap,
      preview,
      status,
      results,
    ),
  );
  void loadHeads();
  const offChange = onChange((msg) => {
    if (msg.type === 'head-saved' || msg.type === 'head-deleted' || msg.type === 'active-head-changed') void loadHeads();
  });
  const offNet = ctx.onOnlineChange(renderWhere);
  return () => {
    stopped = true;
    stopLive();
    offChange();
    offNet();
    if (previewUrl) URL.revokeObjectURL(previewUrl);
  };
}

export const predictScreen: Screen = { id: 'predict', title: 'Predict', mount: predictView };
