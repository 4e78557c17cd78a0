/**
 * The Models screen's "Image model" card: the backbones the server serves, each with its download
 * size (from the manifest's file sizes) and whether it is on this device, the rule's advice for this
 * device, and switching (download, then the photos re-embedded, with progress and Cancel).
 */
import { backboneChoice, backboneStatuses, onChange, useBackbone, type BackboneChoice, type BackboneStatus } from '../lib/index.ts';
import type { AppContext } from './context.ts';
import { errorText, formatBytes, h, isAbort, progressBar, replace } from './dom.ts';

/** What people call each backbone, and what it is like. */
const BACKBONE_WORDS: Record<string, { name: string; about: string }> = {
  mobilenet_v2: { name: 'MobileNetV2', about: 'small and fast; runs well on phones' },
  inception_v3: { name: 'InceptionV3', about: 'larger and about 12 times slower; for fast computers' },
  // The pair (shared/model/backbone-pair.ts): both run on every photo.
  'mobilenet_v2+inception_v3': {
    name: 'MobileNetV2 + InceptionV3',
    about: 'both models together on every photo: the most accurate here, about 13 times slower than MobileNetV2 alone; for fast computers',
  },
};

/** A backbone's name for people. */
export function backboneName(idOrRef: string): string {
  const id = idOrRef.split('@')[0] as string;
  return BACKBONE_WORDS[id]?.name ?? id;
}

/** The card; returns its element and a cleanup. */
export function imageModelCard(ctx: AppContext, currentRef: () => string): { el: HTMLElement; unmount(): void } {
  const body = h('div', { 'data-testid': 'image-model' });
  const el = h('section', { class: 'card', id: 'image-model' }, h('h2', {}, 'Image model'), body);
  let switching: AbortController | null = null;

  const row = (b: BackboneStatus, choice: BackboneChoice | null, statuses: readonly BackboneStatus[]): HTMLElement => {
    const inUse = b.ref === currentRef();
    const words = BACKBONE_WORDS[b.id];
    // A pair downloads what is missing of both models; its input is each member's own.
    const members = statuses.filter((s) => b.members?.includes(s.ref));
    const whole = members.length ? ` of ${formatBytes(b.totalBytes)} for both` : '';
    const size = b.downloadBytes > 0 ? `${formatBytes(b.downloadBytes)} to download${whole}` : `on this device (${formatBytes(b.totalBytes)})`;
    const input = members.length ? members.map((m) => m.inputSize[0]).join(' + ') : String(b.inputSize[0]);
    const advised = choice?.backbone === b.id && !inUse ? ' Recommended for this device.' : '';
    const button = inUse
      ? null
      : h(
          'button',
          { type: 'button', disabled: switching !== null || (b.downloadBytes > 0 && !ctx.online()), onclick: () => void switchTo(b) },
          b.downloadBytes > 0 ? `Download ${formatBytes(b.downloadBytes)} and use` : 'Use',
        );
    return h(
      'div',
      { class: 'model', 'data-backbone': b.id },
      h('p', {}, h('strong', {}, words?.name ?? b.id), inUse ? ' (in use)' : '', ` — ${words?.about ?? ''}`),
      h('p', { class: 'meta' }, `${input} px input · ${size}.${advised}`),
      button ? h('div', { class: 'row' }, button) : null,
    );
  };

  const render = async (): Promise<void> => {
    if (switching) return;
    const [statuses, choice] = await Promise.all([backboneStatuses(), backboneChoice({ measure: false }).catch(() => null)]);
    replace(
      body,
      ...statuses.map((b) => row(b, choice, statuses)),
      statuses.length > 1 && choice ? h('p', { class: 'muted', 'data-testid': 'backbone-rule' }, `How it is chosen: ${choice.reason}.`) : null,
      statuses.length > 1
        ? h('p', { class: 'muted' }, 'Switching embeds your photos again with the other model; your trained models keep the one they were made with.')
        : null,
    );
  };

  const switchTo = async (b: BackboneStatus): Promise<void> => {
    const controller = new AbortController();
    switching = controller;
    const done = ctx.busy('switch-backbone');
    const bar = progressBar('Switching image model');
    const stage = h('p', { 'aria-live': 'polite' }, `Getting ${backboneName(b.id)} ready…`);
    replace(
      body,
      stage,
      bar.el,
      h('div', { class: 'row' }, h('button', { type: 'button', 'data-testid': 'cancel-switch', onclick: () => controller.abort() }, 'Cancel')),
    );
    try {
      const report = await useBackbone(b.id, {
        signal: controller.signal,
        onDownloadProgress: (got, total) => {
          stage.textContent = `Downloading ${backboneName(b.id)}…`;
          bar.set(total ? got / total : null, `${formatBytes(got)} of ${formatBytes(total)}`);
        },
        onReembedProgress: (n, total) => {
          stage.textContent = 'Embedding your photos with the new model…';
          bar.set(total ? n / total : null, `${n} of ${total} photos`);
        },
      });
      ctx.notify(`Now using ${backboneName(report.backbone)}${report.reembedded ? ` (${report.reembedded} photos embedded again)` : ''}.`, 'good');
    } catch (err) {
      ctx.notify(isAbort(err) ? `Stayed with ${backboneName(currentRef())}.` : `Could not switch: ${errorText(err)}`, isAbort(err) ? 'info' : 'error');
    } finally {
      switching = null;
      done();
      await render();
    }
  };

  void render();
  const offChange = onChange((msg) => {
    if (msg.type === 'models-updated') void render();
  });
  const offNet = ctx.onOnlineChange(() => void render());
  return {
    el,
    // A switch under way goes on when the screen changes (its end is announced with `notify`).
    unmount() {
      offChange();
      offNet();
    },
  };
}
