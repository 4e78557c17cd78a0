/**
 * The Train screen's "Photos to teach later": the unlabeled photos the app may ask about ("Help me
 * with these 5", screens/ask.ts) and self-training learns from ("Improve further"). Photos picked or
 * frozen on Predict are kept here while "Keep photos I classify" is on, up to a number the person
 * sets (the library keeps the pool under it); photos can also be added by hand, and deleted one by
 * one or all at once. They never leave the device.
 */
import { addUnlabeled, deleteUnlabeled, listUnlabeled, onChange, setUnlabeledPolicy, unlabeledPolicy } from '../../lib/index.ts';
import { errorText, h, replace, UrlPool } from '../dom.ts';

/** Most thumbnails drawn (the count says how many there are). */
const MAX_THUMBS = 24;

/** Renders the card into `root`; returns the cleanup. */
export function poolPanel(root: HTMLElement): () => void {
  let mounted = true;
  let urls = new UrlPool();
  const keep = h('input', { type: 'checkbox', id: 'pool-keep', 'data-testid': 'pool-keep' });
  const cap = h('input', { type: 'number', id: 'pool-cap', min: 1, max: 10000, step: 1, inputmode: 'numeric', 'data-testid': 'pool-cap' });
  const count = h('p', { 'data-testid': 'pool-count' });
  const status = h('p', { class: 'status', 'aria-live': 'polite', 'data-testid': 'pool-status' });
  const thumbs = h('div', { class: 'thumbs', 'data-testid': 'unlabeled' });
  const fileInput = h('input', { type: 'file', multiple: true, accept: 'image/jpeg,image/png,.jpg,.jpeg,.png', id: 'unlabeled-files', class: 'visually-hidden' });
  const deleteAll = h('button', { type: 'button', class: 'danger', 'data-testid': 'pool-delete-all' }, 'Delete all');

  const renderNow = async (): Promise<void> => {
    const [items, policy] = await Promise.all([listUnlabeled(), unlabeledPolicy()]);
    if (!mounted) return;
    keep.checked = policy.keep;
    if (document.activeElement !== cap) cap.value = String(policy.cap);
    const next = new UrlPool();
    replace(
      thumbs,
      ...items.slice(-MAX_THUMBS).map((item, i) =>
        h(
          'div',
          { class: 'thumb' },
          h('img', { src: next.url(item.photo), alt: `Photo to teach later ${i + 1}` }),
          h('button', { type: 'button', 'aria-label': `Delete photo to teach later ${i + 1}`, onclick: () => void remove([item.id]) }, '×'),
        ),
      ),
    );
    urls.revokeAll();
    urls = next;
    count.textContent = items.length
      ? `${items.length} of at most ${policy.cap} photos kept${items.length > MAX_THUMBS ? ` (the newest ${MAX_THUMBS} shown)` : ''}. They stay on this device.`
      : 'No photos kept yet.';
    deleteAll.hidden = items.length === 0;
  };
  // One render at a time: deleting many photos sends many changes, and each render reads them all.
  let rendering: Promise<void> | null = null;
  let again = false;
  const render = (): void => {
    if (rendering) {
      again = true;
      return;
    }
    rendering = renderNow()
      .catch((err: unknown) => {
        status.textContent = `Could not read the photos: ${errorText(err)}`;
      })
      .finally(() => {
        rendering = null;
        if (again && mounted) {
          again = false;
          render();
        }
      });
  };

  const remove = async (ids: string[]): Promise<void> => {
    try {
      for (const id of ids) await deleteUnlabeled(id);
      if (ids.length > 1) status.textContent = `Deleted ${ids.length} photos.`;
    } catch (err) {
      status.textContent = `Could not delete: ${errorText(err)}`;
    }
  };

  const savePolicy = (policy: { keep?: boolean; cap?: number }): void => {
    setUnlabeledPolicy(policy).then(
      () => {
        status.textContent =
          policy.keep === false
            ? 'Photos you classify are no longer kept. The ones kept so far stay until you delete them.'
            : policy.keep === true
              ? 'Photos you classify on Predict are kept here.'
              : `Keeping at most ${policy.cap ?? ''} photos; the oldest go first.`;
        render();
      },
      (err: unknown) => {
        status.textContent = `Could not save the setting: ${errorText(err)}`;
        render();
      },
    );
  };

  keep.addEventListener('change', () => savePolicy({ keep: keep.checked }));
  cap.addEventListener('change', () => {
    const value = Math.round(Number(cap.value));
    if (!Number.isFinite(value) || value < 1) {
      status.textContent = 'Type how many photos to keep at most (1 or more).';
      return;
    }
    savePolicy({ cap: value });
  });
  deleteAll.addEventListener('click', () => {
    void (async () => {
      const items = await listUnlabeled();
      if (!items.length || !confirm(`Delete all ${items.length} photos kept to teach later? Your classes and models stay.`)) return;
      await remove(items.map((i) => i.id));
    })();
  });
  fileInput.addEventListener('change', () => {
    const files = [...(fileInput.files ?? [])];
    fileInput.value = '';
    void (async () => {
      let added = 0;
      const failed: string[] = [];
      for (const file of files) {
        status.textContent = `Adding photo ${added + failed.length + 1} of ${files.length}…`;
        try {
          await addUnlabeled(file, { from: 'person' });
          added++;
        } catch (err) {
          failed.push(`${file.name}: ${errorText(err)}`);
        }
      }
      status.textContent = failed.length ? `Added ${added}. Not added — ${failed.join('; ')}` : `Added ${added} photo${added === 1 ? '' : 's'}.`;
    })();
  });

  replace(
    root,
    h(
      'section',
      { class: 'card', id: 'pool', 'aria-labelledby': 'pool-title', 'data-testid': 'pool' },
      h('h2', { id: 'pool-title' }, 'Photos to teach later'),
      h('p', { class: 'muted' }, 'Photos without a class. The app asks you about the ones that would teach your model most, and “Improve further” can learn from all of them.'),
      h('label', { class: 'choice', for: 'pool-keep' }, keep, 'Keep photos I classify to help teach later'),
      h('div', { class: 'row' }, h('label', { for: 'pool-cap' }, 'Keep at most'), cap, h('span', {}, 'photos')),
      count,
      thumbs,
      h('div', { class: 'row' }, h('label', { class: 'button', for: 'unlabeled-files' }, 'Add photos'), fileInput, deleteAll),
      status,
    ),
  );
  render();
  const off = onChange((msg) => {
    if (msg.type === 'unlabeled-changed') render();
  });
  return () => {
    mounted = false;
    off();
    urls.revokeAll();
  };
}
