/**
 * Models: the personal models on this device (choose the one in use, rename, export as TF.js
 * files, import, delete), storage used, sync (off until the person turns it on; only model
 * weights leave the device), and what runs the model; "find the object first" (the opt-in detector, ../detector-card.ts).
 */
import {
  createPairingCode,
  defaultDeviceLabel,
  deleteHead,
  disableSync,
  enableSync,
  exportHeadBlobs,
  getSyncStatus,
  importHead,
  listHeads,
  loadServedBackbone,
  onChange,
  onSyncStatus,
  renameHead,
  requestPersistence,
  resolveConflict,
  restoreWithPairingCode,
  setActiveHead,
  storageEstimate,
  syncNow,
  type HeadSummary,
  type SyncStatus,
} from '../../lib/index.ts';
import { cleanDeviceLabel, currentBackbone, MAX_DEVICE_LABEL_LENGTH } from '../../lib/internal.ts';
import type { AppContext, Screen } from '../context.ts';
import { errorText, formatBytes, h, pct, progressBar, renameButton, replace } from '../dom.ts';
import { backboneName, imageModelCard } from '../image-model.ts';
import { detectorCard } from '../detector-card.ts';
import { appleDeviceName, browserNeedsHomeScreen } from '../platform.ts';
import { SYNC_ENDED_SHORT, SYNC_ENDED_WORDS } from '../sync-ended.ts';

function download(file: File): void {
  const url = URL.createObjectURL(file);
  const a = h('a', { href: url, download: file.name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function modelsView(root: HTMLElement, ctx: AppContext): () => void {
  const list = h('div', { 'data-testid': 'model-list' });
  const storage = h('div', { 'data-testid': 'storage' });
  const sync = h('div', { 'data-testid': 'sync' });
  // The name this device's token gets on the server (never the full user agent); made once, so an
  // edit survives the sync section's re-renders.
  const deviceLabelInput = h('input', {
    type: 'text',
    id: 'device-label',
    autocomplete: 'off',
    maxlength: MAX_DEVICE_LABEL_LENGTH,
    value: defaultDeviceLabel(navigator.userAgent, navigator),
  });
  const deviceLabel = (): string => cleanDeviceLabel(deviceLabelInput.value) ?? defaultDeviceLabel(navigator.userAgent, navigator);
  const importStatus = h('p', { class: 'status', 'aria-live': 'polite' });
  const importInput = h('input', { type: 'file', multiple: true, accept: '.json,.bin,application/json,application/octet-stream', id: 'import-files', class: 'visually-hidden' });

  importInput.addEventListener('change', () => {
    const files = [...(importInput.files ?? [])];
    importInput.value = '';
    const json = files.find((f) => f.name.endsWith('.json'));
    const weights = files.find((f) => f.name.endsWith('.bin'));
    if (!json || !weights) {
      importStatus.textContent = 'Pick both files of a model: the .json file and its .weights.bin file (select them together).';
      importStatus.classList.add('error');
      return;
    }
    importStatus.classList.remove('error');
    importStatus.textContent = 'Importing…';
    importHead(json, weights).then(
      (doc) => (importStatus.textContent = `Imported “${doc.name}” (${doc.classes.join(', ')}).`),
      (err: unknown) => {
        importStatus.textContent = `Could not import: ${errorText(err)}`;
        importStatus.classList.add('error');
      },
    );
  });

  /** A head whose image model is not on this device: what it needs, and its download. */
  const needsRow = (head: HeadSummary, needs: NonNullable<HeadSummary['needs']>): HTMLElement => {
    const bar = progressBar(`Downloading ${backboneName(needs.backbone)}`);
    bar.el.hidden = true;
    const button = h('button', { type: 'button', disabled: !ctx.online() }, `Download ${backboneName(needs.backbone)} (${formatBytes(needs.downloadBytes)})`);
    button.addEventListener('click', () => {
      button.disabled = true;
      bar.el.hidden = false;
      const done = ctx.busy('download-backbone');
      loadServedBackbone(needs.backbone, { onProgress: (got, total) => bar.set(total ? got / total : null, `${formatBytes(got)} of ${formatBytes(total)}`) })
        .then(
          () => ctx.notify(`${backboneName(needs.backbone)} is on this device: “${head.name}” can predict.`, 'good'),
          (err: unknown) => ctx.notify(`Download failed: ${errorText(err)}`, 'error'),
        )
        .finally(() => {
          done();
          void renderList();
        });
    });
    return h(
      'div',
      { class: 'needs', 'data-testid': 'head-needs' },
      h('p', {}, `Needs the image model ${backboneName(needs.backbone)} (${needs.backbone}), ${formatBytes(needs.downloadBytes)} to download.`),
      h('div', { class: 'row' }, button),
      bar.el,
    );
  };

  const modelRow = (head: HeadSummary): HTMLElement => {
    const radio = h('input', { type: 'radio', name: 'active-model', id: `use-${head.id}`, checked: head.active, disabled: !head.usable });
    radio.addEventListener('change', () => void setActiveHead(head.id));
    return h(
      'div',
      { class: 'model', 'data-head-id': head.id },
      h('label', { class: 'choice', for: `use-${head.id}` }, radio, h('strong', {}, head.name), head.active ? ' (in use)' : ''),
      h(
        'p',
        { class: 'meta' },
        `${head.classes.length} classes: ${head.classes.join(', ')}. `,
        head.metrics ? `Right on ${pct(head.metrics.accuracy)} of ${head.metrics.n} practice photos. ` : head.imported ? 'Imported. ' : '',
        head.predictWith === 'knn' ? 'Uses most-similar-photo matching. ' : '',
        `${formatBytes(head.sizeBytes)} · ${new Date(head.created).toLocaleDateString()}`,
        head.usable || head.needs ? '' : ' · made for another model version: retrain it',
      ),
      head.needs ? needsRow(head, head.needs) : null,
      h(
        'div',
        { class: 'row' },
        renameButton(head.name, (name) => renameHead(head.id, name), (message) => ctx.notify(message, 'error')),
        h(
          'button',
          {
            type: 'button',
            onclick: () => {
              exportHeadBlobs(head.id).then(
                ({ modelJson, weights }) => {
                  download(modelJson);
                  download(weights);
                  ctx.notify('Exported as two files (TF.js format): keep them together.', 'good');
                },
                (err: unknown) => ctx.notify(`Export failed: ${errorText(err)}`, 'error'),
              );
            },
          },
          'Export',
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'danger',
            onclick: () => {
              if (confirm(`Delete the model “${head.name}”? Your photos stay.`)) void deleteHead(head.id);
            },
          },
          'Delete',
        ),
      ),
    );
  };

  const renderList = async (): Promise<void> => {
    const heads = await listHeads();
    const rows = heads.map(modelRow);
    replace(list, ...(rows.length ? rows : [h('p', { class: 'muted' }, 'No models yet. Train one on the Train screen, or import one.')]));
  };

  const renderStorage = async (): Promise<void> => {
    const est = await storageEstimate();
    const persisted = (await navigator.storage?.persisted?.().catch(() => false)) ?? false;
    replace(
      storage,
      est.supported
        ? h('p', {}, `Using ${formatBytes(est.usage)}${est.quota ? ` of ${formatBytes(est.quota)} available to this app (${pct(est.usedShare)})` : ''}.`)
        : h('p', {}, 'This browser does not report storage use.'),
      persisted
        ? h('p', { class: 'muted' }, 'Stored permanently: the browser will not clear it to free space.')
        : h(
            'div',
            { class: 'row' },
            h('p', { class: 'muted' }, 'The browser may clear this data when the device runs low on space.'),
            h(
              'button',
              {
                type: 'button',
                onclick: () =>
                  void requestPersistence().then((r) => {
                    ctx.notify(r.persisted ? 'Storage is now permanent.' : 'The browser did not grant permanent storage (installing the app usually helps).', r.persisted ? 'good' : 'warn');
                    void renderStorage();
                  }),
              },
              'Keep permanently',
            ),
          ),
      browserNeedsHomeScreen()
        ? h(
            'p',
            { 'data-testid': 'home-screen-storage' },
            `On this ${appleDeviceName(navigator.userAgent)}, Safari deletes all of it if tannerin is not opened for 7 days, unless tannerin is added to the Home Screen (Share, then Add to Home Screen). Export your models or turn on sync to keep a copy.`,
          )
        : null,
    );
  };

  const syncBusy = async (what: () => Promise<unknown>, ok: string): Promise<void> => {
    try {
      await what();
      // A sync that found the account gone turned sync off: say that, not `ok`.
      if ((await getSyncStatus()).ended) ctx.notify(SYNC_ENDED_SHORT, 'warn');
      else ctx.notify(ok, 'good');
    } catch (err) {
      ctx.notify(errorText(err), 'error');
    }
    await renderSync(await getSyncStatus());
  };

  /** Sync panel renders started so far: only the newest one draws (see renderSync). */
  let syncRenders = 0;
  const renderSync = async (status: SyncStatus): Promise<void> => {
    // Renders overlap (status events, the buttons, the network). Only the newest draws, so an older
    // one still reading the head list never paints its stale status over a newer one (the chip
    // said "Synced" while this said "Waiting to sync"); and the list is read only when a head's
    // row needs its name, so a status event draws here in the same task as the chip.
    const render = ++syncRenders;
    const troubled = status.heads.filter((x) => x.status === 'conflict' || x.status === 'error');
    const heads = troubled.length > 0 ? await listHeads() : [];
    if (render !== syncRenders) return;
    const name = (id: string | null): string => heads.find((x) => x.id === id)?.name ?? 'a model';
    if (status.status === 'off') {
      const codeInput = h('input', { type: 'text', id: 'pair-code', autocomplete: 'one-time-code', placeholder: 'XXXX-XXXX', maxlength: 12 });
      replace(
        sync,
        status.ended ? h('p', { class: 'sync-ended', role: 'status', 'data-testid': 'sync-ended' }, SYNC_ENDED_WORDS) : null,
        h('p', {}, 'Sync is off. Turned on, your trained model weights (never photos) are copied to the tannerin server so your other devices get them.'),
        h('label', { for: 'device-label' }, 'This device’s name (how your other devices list it)'),
        h('div', { class: 'row' }, deviceLabelInput),
        h('div', { class: 'row' }, h('button', { type: 'button', class: 'primary', disabled: !ctx.online(), onclick: () => void syncBusy(() => enableSync({ label: deviceLabel() }), 'Sync is on.') }, 'Turn on sync')),
        h('label', { for: 'pair-code' }, 'Or join another device with its pairing code'),
        h(
          'div',
          { class: 'row' },
          codeInput,
          h('button', { type: 'button', disabled: !ctx.online(), onclick: () => void syncBusy(() => restoreWithPairingCode(codeInput.value, { label: deviceLabel() }), 'Joined: models from your other device are arriving.') }, 'Join'),
        ),
        ctx.online() ? null : h('p', { class: 'muted' }, 'Connect to the network to turn sync on.'),
      );
      return;
    }
    const code = h('p', { class: 'code', 'aria-live': 'polite' });
    const words: Record<string, string> = { synced: 'All models are synced.', pending: 'Waiting to sync (it continues when online).', conflict: 'Two devices changed the same model.', error: 'Sync has a problem.' };
    replace(
      sync,
      h('p', { 'data-testid': 'sync-status' }, words[status.status] ?? status.status, status.message ? ` ${status.message}` : ''),
      ...troubled.map((x) =>
        h(
          'div',
          { class: 'card' },
          h('p', {}, `“${name(x.id)}”: ${x.message ?? x.status}`),
          x.status === 'conflict'
            ? h(
                'div',
                { class: 'row' },
                h('button', { type: 'button', onclick: () => void syncBusy(() => resolveConflict(x.id, 'keep-local'), 'Kept this device’s version.') }, 'Keep this device’s'),
                h('button', { type: 'button', onclick: () => void syncBusy(() => resolveConflict(x.id, 'keep-remote'), 'Kept the other device’s version.') }, 'Keep the other’s'),
              )
            : null,
        ),
      ),
      h(
        'div',
        { class: 'row' },
        h('button', { type: 'button', disabled: !ctx.online(), onclick: () => void syncBusy(() => syncNow(), 'Synced.') }, 'Sync now'),
        h(
          'button',
          {
            type: 'button',
            disabled: !ctx.online(),
            onclick: () =>
              void createPairingCode().then(
                (c) => (code.textContent = `${c.code} (valid ${Math.round(c.expiresInSeconds / 60)} min)`),
                (err: unknown) => ctx.notify(errorText(err), 'error'),
              ),
          },
          'Add a device',
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'danger',
            onclick: () => {
              const all = confirm('Turn sync off on this device? OK: also delete your models from the server (all devices lose the copy there). Cancel: choose again.');
              if (all) void syncBusy(() => disableSync({ deleteAccount: true }), 'Sync is off and the server copy is deleted.');
              else if (confirm('Turn sync off on this device only (the server copy stays)?')) void syncBusy(() => disableSync(), 'Sync is off on this device.');
            },
          },
          'Turn off',
        ),
      ),
      code,
    );
  };

  const b = ctx.backend;
  const engine = h('p', { class: 'muted', 'data-testid': 'engine' });
  const renderEngine = (): void => {
    engine.textContent = `Image model: ${currentBackbone().ref}. Engine: TF.js ${b.backend === 'wasm' ? `WebAssembly (${b.build}, ${b.threads} thread${b.threads === 1 ? '' : 's'})` : 'plain JavaScript (slow)'}${b.fallbackReason ? ` — ${b.fallbackReason}` : ''}.`;
  };
  renderEngine();
  const imageModel = imageModelCard(ctx, () => currentBackbone().ref);
  const detector = detectorCard(ctx);
  replace(
    root,
    h('h1', {}, 'Models'),
    h(
      'section',
      { class: 'card', id: 'my-models' },
      h('h2', {}, 'My models'),
      list,
      h('div', { class: 'row' }, h('label', { class: 'button', for: 'import-files' }, 'Import model files'), importInput),
      importStatus,
    ),
    imageModel.el,
    detector.el,
    h('section', { class: 'card', id: 'sync' }, h('h2', {}, 'Sync'), sync),
    h('section', { class: 'card' }, h('h2', {}, 'Storage'), storage),
    h(
      'section',
      { class: 'card' },
      h('h2', {}, 'About'),
      engine,
      h('p', {}, h('a', { class: 'button', href: '/api.html' }, 'The edge API'), ' — default predictions for developers.'),
    ),
  );
  void renderList();
  void renderStorage();
  void getSyncStatus().then(renderSync);
  const offSync = onSyncStatus((s) => void renderSync(s));
  const offChange = onChange((msg) => {
    if (msg.type === 'models-updated') renderEngine();
    if (msg.type === 'head-saved' || msg.type === 'head-deleted' || msg.type === 'active-head-changed' || msg.type === 'models-updated') {
      void renderList();
      void renderStorage();
    }
  });
  const offNet = ctx.onOnlineChange(() => void getSyncStatus().then(renderSync));
  return () => {
    imageModel.unmount();
    detector.unmount();
    offSync();
    offChange();
    offNet();
  };
}

export const modelsScreen: Screen = { id: 'models', title: 'Models', mount: modelsView };
