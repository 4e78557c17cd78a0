/**
 * The Models screen's "Find the object first" card (issue 17): the opt-in object detector
 * (client/lib/detector.ts). Off by default, nothing downloaded; the switch shows the download size,
 * turning it on downloads it once with progress and Cancel, and its state says whether it is on
 * this device. Turning it off frees its memory and offers to delete its weights. While it is on,
 * Train also tries the detector's crops (and keeps them only when they help on the practice photos);
 * each photo's is made in the background, the card showing how far ("Finding the object in each
 * photo: 3 of 40"); turning it off cancels that.
 */
import { detectorCropsProgress, detectorStatus, onChange, onDetectorCropsProgress, turnDetectorOff, turnDetectorOn, type DetectorStatus } from '../lib/index.ts';
import type { AppContext } from './context.ts';
import { errorText, formatBytes, h, isAbort, progressBar, replace } from './dom.ts';

/** The card; returns its element (hidden when the server serves no detector) and a cleanup. */
export function detectorCard(ctx: AppContext): { el: HTMLElement; unmount(): void } {
  const body = h('div', { 'data-testid': 'detector' });
  // The photos' detector crops coming in the background (client/lib/detector-crops.ts): kept out
  // of `body`, which each render replaces, and shown only while some are queued and it is on.
  const crops = progressBar('Finding the object in each photo');
  crops.el.setAttribute('data-testid', 'detector-crops');
  crops.el.setAttribute('role', 'status');
  crops.el.hidden = true;
  let on = false;
  const showCrops = (done: number, total: number): void => {
    crops.el.hidden = !on || total === 0;
    crops.set(total ? done / total : null, `Finding the object in each photo: ${done} of ${total}`);
  };
  const el = h('section', { class: 'card', id: 'find-the-object' }, h('h2', {}, 'Find the object first'), body, crops.el);
  el.hidden = true;
  let downloading: AbortController | null = null;

  const render = async (): Promise<void> => {
    let status: DetectorStatus | null;
    try {
      status = await detectorStatus();
    } catch {
      status = null;
    }
    el.hidden = status === null;
    on = !!status?.on;
    const now = detectorCropsProgress();
    showCrops(now.done, now.total);
    if (!status || downloading) return;
    const s = status;
    const stored = s.storedBytes >= s.bytes;
    const toggle = h('input', { type: 'checkbox', id: 'detector-on', checked: s.on, disabled: !s.on && !stored && !ctx.online() });
    const bar = progressBar('Downloading the object detector');
    bar.el.hidden = true;
    const cancel = h('button', { type: 'button', hidden: true }, 'Cancel');
    const state = h(
      'p',
      { class: 'meta', 'data-testid': 'detector-state' },
      s.on ? `On: downloaded (${formatBytes(s.bytes)} on this device).` : stored ? `Off; downloaded (${formatBytes(s.bytes)} on this device).` : 'Off; not downloaded.',
    );
    toggle.addEventListener('change', () => {
      if (toggle.checked) {
        const controller = new AbortController();
        downloading = controller;
        toggle.disabled = true;
        bar.el.hidden = false;
        cancel.hidden = false;
        cancel.onclick = () => controller.abort();
        const done = ctx.busy('download-detector');
        turnDetectorOn({ signal: controller.signal, onProgress: (got, total) => bar.set(total ? got / total : null, `${formatBytes(got)} of ${formatBytes(total)}`) })
          .then(
            () => ctx.notify('Find the object first is on: Train will also try the object detector.', 'good'),
            (err: unknown) => ctx.notify(isAbort(err) ? 'Download cancelled: find the object first stays off.' : `Download failed: ${errorText(err)}`, isAbort(err) ? undefined : 'error'),
          )
          .finally(() => {
            done();
            downloading = null;
            void render();
          });
        return;
      }
      // Off: the memory is freed at once; the weights stay unless the person says to delete them.
      const deleteWeights = confirm(`Also delete the object detector (${formatBytes(s.bytes)}) from this device? Turning it on again would download it again.`);
      turnDetectorOff({ deleteWeights }).then(
        () => void render(),
        (err: unknown) => ctx.notify(`Could not turn it off: ${errorText(err)}`, 'error'),
      );
    });
    replace(
      body,
      h(
        'p',
        {},
        `Before naming a photo, an object detector (${s.name}) finds where the object is, and Train also tries a model on those crops. It keeps it only when it gets more practice photos right than the whole photo. Off until you turn it on: nothing is downloaded before.`,
      ),
      h('label', { class: 'choice', for: 'detector-on' }, toggle, ` Find the object first${stored ? '' : ` (download ${formatBytes(s.bytes)})`}`),
      state,
      h('div', { class: 'row' }, bar.el, cancel),
    );
  };

  void render();
  const off = onChange((msg) => {
    if (msg.type === 'models-updated') void render();
  });
  const offNet = ctx.onOnlineChange(() => void render());
  const offCrops = onDetectorCropsProgress(showCrops);
  return {
    el,
    unmount() {
      off();
      offNet();
      offCrops();
    },
  };
}
