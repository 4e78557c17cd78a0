/**
 * The app's entry: checks the browser, registers the service worker, starts the TF.js backend
 * while it loads the models (first visit: a download with a progress bar; later: from IndexedDB,
 * also offline), then shows the screens (Teach, Train, Predict, Models) behind a hash router.
 */
import './style.css';
import {
  backboneChoice,
  getSyncStatus,
  isQuotaError,
  loadModels,
  onSyncStatus,
  startBackend,
  startSync,
  useBackbone,
  type BackboneChoice,
  type BackendInfo,
  type LoadedModels,
  type SyncStatus,
} from '../lib/index.ts';
import { currentBackbone, storedBackboneChoice } from '../lib/internal.ts';
import type { AppContext, Screen, Tone } from './context.ts';
import { errorText, formatBytes, h, progressBar, replace } from './dom.ts';
import { homeScreenNotice, homeScreenNoticeDismissed } from './home-screen.ts';
import { backboneName } from './image-model.ts';
import { browserNeedsHomeScreen } from './platform.ts';
import { registerServiceWorker } from './pwa.ts';
import { SYNC_ENDED_SHORT } from './sync-ended.ts';
import { modelsScreen } from './screens/models.ts';
import { predictScreen } from './screens/predict.ts';
import { teachScreen } from './screens/teach.ts';
import { trainScreen } from './screens/train.ts';

const SCREENS: Screen[] = [teachScreen, trainScreen, predictScreen, modelsScreen];

const main = document.getElementById('main') as HTMLElement;
const banners = document.getElementById('banners') as HTMLElement;
const toast = document.getElementById('toast') as HTMLElement;
const netChip = document.getElementById('net') as HTMLElement;
const syncChip = document.getElementById('sync-chip') as HTMLAnchorElement;
const nav = document.getElementById('tabs') as HTMLElement;

const busyWork = new Set<string>();
let pendingUpdate: (() => Promise<void>) | null = null;

/** A banner that stays until dismissed (or replaced by one with the same key). */
function banner(key: string, message: string, tone: Tone, action?: { label: string; run: () => void }): void {
  banners.querySelector(`[data-key="${key}"]`)?.remove();
  const el = h(
    'div',
    { class: `banner ${tone}`, 'data-key': key, role: tone === 'error' ? 'alert' : 'status' },
    h('span', {}, message),
    action ? h('button', { type: 'button', onclick: () => action.run() }, action.label) : null,
    h('button', { type: 'button', class: 'ghost', 'aria-label': 'Dismiss', onclick: () => el.remove() }, '×'),
  );
  banners.append(el);
}

let toastTimer: ReturnType<typeof setTimeout> | undefined;
function notify(message: string, tone: Tone = 'info'): void {
  toast.textContent = message;
  toast.className = `toast ${tone} show`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => toast.classList.remove('show'), 5000);
}

function showUpdate(): void {
  if (!pendingUpdate) return;
  const apply = pendingUpdate;
  banner('update', busyWork.size ? 'A new version of tannerin is ready; reload when the current work has finished.' : 'A new version of tannerin is ready.', 'info', {
    label: 'Reload now',
    run: () => void apply(),
  });
}

function renderNet(): void {
  const online = navigator.onLine;
  netChip.textContent = online ? 'Online' : 'Offline';
  netChip.className = `chip ${online ? 'ok' : 'off'}`;
  netChip.title = online ? 'Connected' : 'No network: everything on this device still works; the edge API and sync wait.';
}

let syncEndedShown = false;

function renderSync(status: SyncStatus): void {
  // Sync ended by the server: a banner (on every screen, until dismissed) says so once.
  if (status.ended && !syncEndedShown) {
    banner('sync-ended', SYNC_ENDED_SHORT, 'warn', { label: 'Sync settings', run: () => (location.hash = '#models/sync') });
  }
  if (!status.ended) banners.querySelector('[data-key="sync-ended"]')?.remove();
  syncEndedShown = status.ended;

  const words: Record<SyncStatus['status'], string> = {
    off: 'Sync off',
    synced: 'Synced',
    pending: 'Sync pending',
    conflict: 'Sync conflict',
    error: 'Sync problem',
  };
  syncChip.textContent = words[status.status];
  syncChip.className = `chip sync-${status.status}`;
  syncChip.title = status.message ?? words[status.status];
}

function unsupportedReason(): string | null {
  if (typeof WebAssembly !== 'object') return 'This browser cannot run WebAssembly, which tannerin needs to run the model.';
  if (typeof indexedDB === 'undefined') return 'This browser gives the page no IndexedDB storage (private browsing often blocks it), so models and photos cannot be kept.';
  if (typeof createImageBitmap !== 'function') return 'This browser is too old for tannerin (no createImageBitmap).';
  return null;
}

function fatal(title: string, message: string): void {
  replace(main, h('section', { class: 'panel fatal', role: 'alert' }, h('h1', {}, title), h('p', {}, message)));
  nav.hidden = true;
}

/**
 * Scrolls to the element with id `id` (a link such as `#models/sync`), and again while the
 * screen fills in (its parts render after reading storage, growing the page) for up to a second,
 * unless the person scrolls first.
 */
function scrollToPart(id: string): void {
  const go = (): void => document.getElementById(id)?.scrollIntoView({ block: 'start' });
  go();
  const observer = new ResizeObserver(go);
  observer.observe(main);
  const stop = (): void => {
    observer.disconnect();
    removeEventListener('touchstart', stop);
    removeEventListener('wheel', stop);
  };
  setTimeout(stop, 1000);
  addEventListener('touchstart', stop, { passive: true });
  addEventListener('wheel', stop, { passive: true });
}

/**
 * The backbone rule (client/lib/backbone-choice.ts) at start: the first run times MobileNetV2 once;
 * when the rule picks another backbone for this device (the person's choice, or the larger one on a
 * fast device if that is the policy), it is downloaded and used now, with progress. When the larger
 * one is only offered, a banner says so once. A failure keeps the backbone loaded.
 */
async function applyBackboneRule(stage: HTMLElement, bar: ReturnType<typeof progressBar>): Promise<void> {
  const firstMeasurement = storedBackboneChoice().measurement === null;
  let choice: BackboneChoice;
  try {
    if (firstMeasurement) stage.textContent = 'Checking how fast this device runs the model…';
    choice = await backboneChoice();
  } catch {
    return;
  }
  const loaded = currentBackbone().manifest.id;
  if (choice.backbone !== loaded) {
    try {
      await useBackbone(choice.backbone, {
        by: choice.by,
        onDownloadProgress: (done, total) => {
          stage.textContent = `Downloading ${backboneName(choice.backbone)}, the image model chosen for this device…`;
          bar.set(total ? done / total : null, `${formatBytes(done)} of ${formatBytes(total)}`);
        },
        onReembedProgress: (done, total) => {
          stage.textContent = 'Embedding your photos with the new image model…';
          bar.set(total ? done / total : null, `${done} of ${total} photos`);
        },
      });
    } catch (err) {
      banner('backbone', `${backboneName(choice.backbone)} could not be prepared (${errorText(err)}); using ${backboneName(loaded)}.`, 'warn');
    }
  } else if (firstMeasurement && choice.offerLarger) {
    banner('backbone', `This device is fast enough for a larger image model. See “Image model” on the Models screen.`, 'info', {
      label: 'Show',
      run: () => (location.hash = '#models/image-model'),
    });
  }
}

async function boot(): Promise<void> {
  renderNet();
  const reason = unsupportedReason();
  if (reason) {
    fatal('This browser is not supported', `${reason} Try a recent Chrome, Edge, Firefox or Safari.`);
    return;
  }
  registerServiceWorker({
    onUpdate(apply) {
      pendingUpdate = apply;
      showUpdate();
    },
    onOfflineReady: () => notify('Ready to work offline.', 'good'),
    onError: (message) => banner('sw', message, 'warn'),
  });

  const bar = progressBar('Model download');
  const stage = h('p', { class: 'muted' }, 'Starting…');
  replace(main, h('section', { class: 'panel first-run', 'aria-busy': 'true' }, h('h1', {}, 'Getting the model ready'), stage, bar.el));
  bar.set(null);
  let backend: BackendInfo;
  let models: LoadedModels;
  try {
    // The engine starts while the model downloads (loadModels waits for it only to build the model).
    const starting = startBackend();
    starting.catch(() => undefined);
    stage.textContent = 'Starting the engine and loading the image model (it is stored on this device after the first time)…';
    models = await loadModels(location.origin, {
      onProgress: (done, total) => bar.set(total ? done / total : null, total ? `${formatBytes(done)} of ${formatBytes(total)}` : ''),
    });
    backend = await starting;
  } catch (err) {
    if (isQuotaError(err)) {
      fatal('This device is out of storage', 'There is not enough free space to keep the model. Free some space (or leave private browsing) and reload.');
    } else if (!navigator.onLine) {
      fatal('You are offline', 'The model has not been downloaded to this device yet. Connect once (about 2.4 MB); after that tannerin works offline.');
    } else {
      fatal('The model could not be loaded', `${errorText(err)} Reload to try again.`);
    }
    return;
  }
  await applyBackboneRule(stage, bar);
  if (models.storageError) banner('storage', `${models.storageError} The model works for now, but will be downloaded again next time.`, 'warn');
  if (models.manifestSource === 'stored' && navigator.onLine && models.manifestError) {
    banner('manifest', `Using the model stored on this device: the server did not answer (${models.manifestError}).`, 'info');
  }

  const listeners = new Set<(online: boolean) => void>();
  const onNet = (): void => {
    renderNet();
    for (const l of listeners) l(navigator.onLine);
  };
  addEventListener('online', onNet);
  addEventListener('offline', onNet);

  const ctx: AppContext = {
    models,
    backend,
    online: () => navigator.onLine,
    onOnlineChange(handler) {
      listeners.add(handler);
      return () => listeners.delete(handler);
    },
    notify,
    busy(what) {
      const token = `${what}#${Math.random()}`;
      busyWork.add(token);
      return () => {
        busyWork.delete(token);
        if (!busyWork.size && pendingUpdate) showUpdate();
      };
    },
    isBusy: (what) => (what === undefined ? busyWork.size > 0 : [...busyWork].some((t) => t.startsWith(`${what}#`))),
    go: (id) => {
      location.hash = `#${id}`;
    },
  };

  renderSync(await getSyncStatus());
  onSyncStatus(renderSync);
  startSync().catch((err: unknown) => banner('sync', `Sync could not start: ${errorText(err)}`, 'warn'));

  let unmount: (() => void) | null = null;
  // `#models/sync` opens the Models screen at its element with id `sync`.
  const route = (): void => {
    const [first, part] = location.hash.replace(/^#\/?/, '').split('/');
    const id = first || 'teach';
    const screen = SCREENS.find((s) => s.id === id) ?? (SCREENS[0] as Screen);
    unmount?.();
    for (const link of nav.querySelectorAll('a')) {
      if (link.getAttribute('href') === `#${screen.id}`) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    document.title = `${screen.title} · tannerin`;
    main.replaceChildren();
    main.dataset.screen = screen.id;
    unmount = screen.mount(main, ctx);
    if (part) scrollToPart(part);
  };
  nav.hidden = false;
  addEventListener('hashchange', route);
  route();
  // iPhone/iPad in a Safari tab: storage is deleted after 7 days without a visit; said once.
  if (browserNeedsHomeScreen() && !homeScreenNoticeDismissed()) banners.prepend(homeScreenNotice(navigator.userAgent));
  document.body.dataset.ready = 'true';
}

void boot();
