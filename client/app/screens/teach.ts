/**
 * Teach: the classes with their photos (thumbnails and counts); add photos from the camera (tap
 * for one, hold for a burst) or from files (multi-select or drag and drop); rename and delete
 * classes and photos. Photos are embedded and stored on the device by the library.
 */
import {
  addClass,
  addExample,
  deleteClass,
  deleteExample,
  detectorStatus,
  isQuotaError,
  listClasses,
  listExamples,
  onChange,
  renameClass,
  type ClassRecord,
  type EmbedSource,
} from '../../lib/index.ts';
import { Camera, CameraError } from '../camera.ts';
import { cropOverlay } from '../crop-box.ts';
import { CropBoxEdits } from '../crop-box-edit.ts';
import type { AppContext, Screen } from '../context.ts';
import { errorText, h, renameButton, replace, UrlPool } from '../dom.ts';
import { askPersistenceOnce } from '../persistence.ts';

/** Burst rate while the shutter is held. */
const BURST_INTERVAL_MS = 300;
/** Most thumbnails drawn per class (the count shows all). */
const MAX_THUMBS = 48;

/** Photos waiting to be embedded, one queue for the whole screen so the order is kept. */
class AddQueue {
  private chain: Promise<void> = Promise.resolve();
  private waiting = 0;
  constructor(
    private readonly ctx: AppContext,
    private readonly onState: (classId: string, text: string, error?: boolean) => void,
  ) {}

  /** Queues photos for a class; `name` labels errors (a file name). */
  add(classId: string, items: Array<{ source: EmbedSource | Promise<EmbedSource>; name: string; close?: () => void }>): Promise<void> {
    this.waiting += items.length;
    const total = items.length;
    let done = 0;
    const errors: string[] = [];
    const done_ = this.ctx.busy('adding photos');
    const run = async (): Promise<void> => {
      for (const item of items) {
        this.onState(classId, `Adding photo ${done + 1} of ${total}…`);
        try {
          await addExample(classId, await item.source);
          // The first photo stored in this visit: something to lose, so ask the browser to keep it.
          void askPersistenceOnce((text, tone) => this.ctx.notify(text, tone));
        } catch (err) {
          if (isQuotaError(err) || (err instanceof Error && err.name === 'StorageError')) {
            errors.push(errorText(err));
            this.waiting -= total - done;
            this.onState(classId, `Stopped: ${errorText(err)} Photos added before are kept.`, true);
            return;
          }
          if (err instanceof RangeError && /no class/.test(err.message)) return; // class deleted meanwhile
          errors.push(`${item.name}: ${readableError(err)}`);
        } finally {
          item.close?.();
        }
        done++;
        this.waiting--;
      }
      const added = total - errors.length;
      this.onState(
        classId,
        errors.length ? `Added ${added} of ${total}. Not added — ${errors.join('; ')}` : `Added ${added} photo${added === 1 ? '' : 's'}.`,
        errors.length > 0,
      );
    };
    this.chain = this.chain.then(run, run).finally(done_);
    return this.chain;
  }

  get pending(): number {
    return this.waiting;
  }
}

function readableError(err: unknown): string {
  const text = errorText(err);
  if (/unsupported|not a (jpeg|png)|unknown image|signature/i.test(text)) return 'not a JPEG or PNG image this app can read';
  return text;
}

function teach(root: HTMLElement, ctx: AppContext): () => void {
  const statuses = new Map<string, { text: string; error: boolean }>();
  const list = h('div', { class: 'classes', 'data-testid': 'class-list' });
  const queue = new AddQueue(ctx, (classId, text, error = false) => {
    statuses.set(classId, { text, error });
    const el = list.querySelector<HTMLElement>(`[data-class-id="${classId}"] .status`);
    if (el) {
      el.textContent = text;
      el.classList.toggle('error', error);
    }
  });
  const newName = h('input', { type: 'text', id: 'new-class', name: 'class', maxlength: 100, autocomplete: 'off', placeholder: 'e.g. ripe, unripe' });
  const formError = h('p', { class: 'status error', 'aria-live': 'polite' });
  const form = h(
    'form',
    {
      class: 'card',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const name = newName.value.trim();
        if (!name) {
          formError.textContent = 'Type a name for the class first.';
          newName.focus();
          return;
        }
        addClass(name).then(
          () => {
            newName.value = '';
            formError.textContent = '';
          },
          (err: unknown) => (formError.textContent = errorText(err)),
        );
      },
    },
    h('label', { for: 'new-class' }, 'New class'),
    h('div', { class: 'row' }, newName, h('button', { type: 'submit', class: 'primary' }, 'Add class')),
    formError,
  );

  // The camera sheet, shared by all classes.
  const video = h('video', { 'aria-label': 'Camera preview' });
  const camera = new Camera(video);
  const camStatus = h('p', { class: 'status', 'aria-live': 'polite' });
  const camTitle = h('h2', { id: 'camera-title' }, 'Camera');
  const shutter = h('button', { type: 'button', class: 'shutter primary', 'aria-describedby': 'shutter-help' }, 'Capture');
  const dialog = h(
    'dialog',
    { 'aria-labelledby': 'camera-title', class: 'camera-dialog' },
    camTitle,
    h('div', { class: 'camera' }, video),
    h('p', { id: 'shutter-help', class: 'muted' }, 'Tap to take one photo; hold to take a burst (about 3 a second). Keys: Space or Enter.'),
    shutter,
    camStatus,
    h('div', { class: 'row spread' }, h('span', {}), h('button', { type: 'button', onclick: () => dialog.close() }, 'Done')),
  );
  let cameraClass: ClassRecord | null = null;
  let captured = 0;
  const captureOne = (): void => {
    if (!cameraClass || !camera.running) return;
    const classId = cameraClass.id;
    captured++;
    camStatus.textContent = `${captured} captured`;
    const grabbing = camera.grab();
    void queue.add(classId, [{ source: grabbing, name: `camera photo ${captured}`, close: () => void grabbing.then((b) => b.close(), () => undefined) }]);
  };
  let burst: ReturnType<typeof setInterval> | undefined;
  let holdTimer: ReturnType<typeof setTimeout> | undefined;
  const press = (): void => {
    if (holdTimer || burst) return;
    captureOne();
    holdTimer = setTimeout(() => {
      shutter.classList.add('holding');
      shutter.textContent = 'Capturing…';
      burst = setInterval(captureOne, BURST_INTERVAL_MS);
    }, 350);
  };
  const release = (): void => {
    clearTimeout(holdTimer);
    clearInterval(burst);
    holdTimer = undefined;
    burst = undefined;
    shutter.classList.remove('holding');
    shutter.textContent = 'Capture';
  };
  shutter.addEventListener('pointerdown', (e) => {
    e.preventDefault();
    shutter.setPointerCapture(e.pointerId);
    press();
  });
  shutter.addEventListener('pointerup', release);
  shutter.addEventListener('pointercancel', release);
  shutter.addEventListener('keydown', (e) => {
    if ((e.key === ' ' || e.key === 'Enter') && !e.repeat) {
      e.preventDefault();
      press();
    }
  });
  shutter.addEventListener('keyup', (e) => {
    if (e.key === ' ' || e.key === 'Enter') release();
  });
  shutter.addEventListener('contextmenu', (e) => e.preventDefault());
  dialog.addEventListener('close', () => {
    release();
    camera.stop();
    cameraClass = null;
  });
  const openCamera = async (cls: ClassRecord): Promise<void> => {
    cameraClass = cls;
    captured = 0;
    camTitle.textContent = `Camera: “${cls.name}”`;
    camStatus.textContent = 'Starting the camera…';
    camStatus.classList.remove('error');
    shutter.disabled = true;
    dialog.showModal();
    try {
      await camera.start();
      camStatus.textContent = 'Point at an example and capture.';
      shutter.disabled = false;
      shutter.focus();
    } catch (err) {
      camStatus.textContent = err instanceof CameraError ? err.message : errorText(err);
      camStatus.classList.add('error');
    }
  };

  const addFiles = (cls: ClassRecord, files: Iterable<File>): void => {
    const items = [...files].map((file) => ({ source: file as EmbedSource, name: file.name }));
    const images = items.filter((i) => (i.source as File).type.startsWith('image/') || /\.(jpe?g|png)$/i.test(i.name));
    const skipped = items.length - images.length;
    if (skipped) ctx.notify(`${skipped} file${skipped === 1 ? ' is' : 's are'} not an image and ${skipped === 1 ? 'was' : 'were'} skipped.`, 'warn');
    if (images.length) void queue.add(cls.id, images);
  };

  const card = async (cls: ClassRecord, urls: UrlPool): Promise<HTMLElement> => {
    const examples = await listExamples(cls.id);
    const status = statuses.get(cls.id);
    const fileInput = h('input', {
      type: 'file',
      multiple: true,
      accept: 'image/jpeg,image/png,.jpg,.jpeg,.png',
      class: 'visually-hidden',
      id: `files-${cls.id}`,
      'aria-label': `Add photos of ${cls.name} from files`,
    });
    fileInput.addEventListener('change', () => {
      if (fileInput.files) addFiles(cls, fileInput.files);
      fileInput.value = '';
    });
    const title = h('h3', {}, cls.name);
    const el = h(
      'article',
      { class: 'card class-card', 'data-class-id': cls.id, 'data-class': cls.name, 'aria-label': `Class ${cls.name}` },
      h('header', {}, title, h('span', { class: 'count', 'data-testid': 'count' }, `${examples.length} photo${examples.length === 1 ? '' : 's'}`)),
      h(
        'div',
        { class: 'thumbs' },
        ...examples.slice(-MAX_THUMBS).flatMap((ex, i) => {
          const box = cropOverlay(ex, `${cls.name} photo ${i + 1}`, boxEdits, (message) => ctx.notify(message, 'error'), detectorOn);
          const thumbClass = `thumb${ex.pendingViews ? ' pending' : ''}${box.adjusting ? ' adjusting' : ''}`;
          return [
            h(
              'div',
              // Added and counting already; a small dot while its augmented views are still being
              // embedded in the background (the card is drawn again when they are stored).
              ex.pendingViews
                ? { class: thumbClass, 'data-pending-views': ex.pendingViews, title: 'Added. Preparing extra views of it for training…' }
                : { class: thumbClass },
              h('img', { src: urls.url(ex.photo), alt: `${cls.name} photo ${i + 1}`, loading: 'lazy' }),
              ...box.inThumb,
              h(
                'button',
                {
                  type: 'button',
                  'aria-label': `Delete ${cls.name} photo ${i + 1}`,
                  onclick: () => void deleteExample(ex.id),
                },
                '×',
              ),
            ),
            // While its box is adjusted: Smaller, Bigger, Found box, Done (client/app/crop-box.ts).
            box.row,
          ];
        }),
        examples.length > MAX_THUMBS ? h('p', { class: 'muted' }, `+${examples.length - MAX_THUMBS} more`) : null,
      ),
      examples.length === 0 ? h('p', { class: 'muted' }, 'No photos yet. Add at least 5; more varied photos teach better.') : null,
      h(
        'div',
        { class: 'row' },
        h('button', { type: 'button', class: 'primary', onclick: () => void openCamera(cls) }, 'Camera'),
        h('label', { class: 'button', for: `files-${cls.id}` }, 'Files'),
        fileInput,
        renameButton(cls.name, (name) => renameClass(cls.id, name), (message) => ctx.notify(message, 'error')),
        h(
          'button',
          {
            type: 'button',
            class: 'danger',
            onclick: () => {
              if (confirm(`Delete “${cls.name}” and its ${examples.length} photos? Trained models keep working.`)) {
                deleteClass(cls.id).catch((err: unknown) => ctx.notify(errorText(err), 'error'));
              }
            },
          },
          'Delete',
        ),
      ),
      h('p', { class: `status${status?.error ? ' error' : ''}`, 'aria-live': 'polite' }, status?.text ?? ''),
    );
    el.addEventListener('dragover', (e) => {
      e.preventDefault();
      el.classList.add('dragover');
    });
    el.addEventListener('dragleave', () => el.classList.remove('dragover'));
    el.addEventListener('drop', (e) => {
      e.preventDefault();
      el.classList.remove('dragover');
      if (e.dataTransfer?.files.length) addFiles(cls, e.dataTransfer.files);
    });
    return el;
  };

  // Each card owns the object URLs of its thumbnails; they are revoked when the card is replaced.
  const pools = new Map<string, UrlPool>();
  const swapPool = (classId: string, pool: UrlPool | undefined): void => {
    pools.get(classId)?.revokeAll();
    if (pool) pools.set(classId, pool);
    else pools.delete(classId);
  };
  let renderSeq = 0;
  // The crop boxes' moves not stored yet, the one being adjusted, and their live region: kept across cards drawn again.
  const boxEdits = new CropBoxEdits((classId) => void renderClass(classId), (message) => ctx.notify(message, 'error'));
  // While the object detector is on, thumbnails show its box too, and the legend says which is which.
  let detectorOn = false;
  const legend = h(
    'p',
    { class: 'muted', 'data-testid': 'box-legend', hidden: true },
    'Solid box: where the object was found in the photo, or where you put it (move it to put it on the object). Dashed box: found by the object detector. Your box counts for both.',
  );
  /** Re-renders every card (classes added, renamed, deleted or reordered; the detector turned on or off). */
  const render = async (): Promise<void> => {
    const seq = ++renderSeq;
    detectorOn = !!(await detectorStatus().catch(() => null))?.on;
    legend.hidden = !detectorOn;
    const classes = await listClasses();
    const built = await Promise.all(
      classes.map(async (cls) => {
        const pool = new UrlPool();
        return { cls, pool, el: await card(cls, pool) };
      }),
    );
    if (seq !== renderSeq) {
      for (const b of built) b.pool.revokeAll();
      return;
    }
    replace(
      list,
      ...(classes.length ? built.map((b) => b.el) : [h('p', { class: 'card muted' }, 'Start with a class: a name for one kind of thing you want recognised, e.g. “ripe”. Then add another.')]),
    );
    for (const id of [...pools.keys()]) swapPool(id, undefined);
    for (const b of built) pools.set(b.cls.id, b.pool);
  };
  /**
   * Re-renders one class's card (its photos changed): only that class's examples are read again,
   * so adding a burst of photos does not re-read every class's photos and embeddings each time.
   */
  const renderClass = async (classId: string): Promise<void> => {
    const seq = renderSeq;
    const cls = (await listClasses()).find((c) => c.id === classId);
    const old = list.querySelector(`[data-class-id="${classId}"]`);
    if (!cls || !old) return render();
    // Not under a finger dragging a crop box: drawn once it is let go.
    if (old.querySelector('.crop-box.dragging')) {
      setTimeout(() => void renderClass(classId), 250);
      return;
    }
    const pool = new UrlPool();
    const el = await card(cls, pool);
    // A full render started meanwhile has (or will have) the fresh card.
    if (seq !== renderSeq || !old.isConnected) {
      pool.revokeAll();
      return;
    }
    // A crop box being moved with the keys (or its Reset) keeps the focus in the new card.
    const focused = old.contains(document.activeElement) ? document.activeElement?.getAttribute('data-focus-key') : null;
    old.replaceWith(el);
    if (focused) el.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(focused)}"]`)?.focus({ preventScroll: true });
    swapPool(classId, pool);
  };

  replace(
    root,
    h('h1', {}, 'Teach'),
    h('p', { class: 'muted' }, 'Make a class for each kind of thing, and add photos of it. Photos stay on this device.'),
    form,
    legend,
    list,
    dialog,
    boxEdits.live,
  );
  void render();
  // Changes arriving together are rendered once: every card, or only the cards whose photos changed.
  let timer: ReturnType<typeof setTimeout> | undefined;
  let all = false;
  const changed = new Set<string>();
  const off = onChange((msg) => {
    // The detector turned on or off (here or in another tab): its boxes and the legend come or go.
    if (msg.type === 'models-updated') {
      void detectorStatus().then((s) => !!s?.on !== detectorOn && void render(), () => undefined);
      return;
    }
    if (msg.type === 'classes-changed' || (msg.type === 'examples-changed' && msg.classId === null)) all = true;
    else if (msg.type === 'examples-changed' && msg.classId !== null) changed.add(msg.classId);
    else return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      const ids = [...changed];
      changed.clear();
      if (all) void render();
      else for (const id of ids) void renderClass(id);
      all = false;
    }, 50);
  });
  return () => {
    off();
    clearTimeout(timer);
    boxEdits.dispose();
    release();
    camera.stop();
    for (const id of [...pools.keys()]) swapPool(id, undefined);
  };
}

export const teachScreen: Screen = { id: 'teach', title: 'Teach', mount: teach };
