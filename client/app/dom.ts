/**
 * The few DOM helpers the app needs instead of a framework: `h` builds elements, `replace` swaps
 * a container's children. Screens re-render their own parts on data changes.
 */
import type { PhotoBytes } from '../lib/internal.ts';

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

/**
 * Creates an element. Attributes: `on<event>` functions become listeners, `true` booleans become
 * empty attributes, `false`/null/undefined are left out, everything else is set as a string.
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, ...children);
  return el;
}

/** Appends children, skipping empty ones. */
export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

/** Replaces all children of `parent`. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

export { pct } from './words.ts';

/** Bytes in the unit a person reads ("2.4 MB"). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(0)} kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e9).toFixed(2)} GB`;
}

/** A message for an error of any kind. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Whether an error is an abort (a cancelled action, not a failure). */
export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError';
}

/** Object URLs for stored photos, revoked together when a view is re-rendered. */
export class UrlPool {
  private urls: string[] = [];
  /**
   * An object URL showing a stored photo (bytes, client/lib/db.ts `PhotoBytes`), kept until
   * {@link UrlPool.revokeAll}. The Blob behind it is made here and lives only as long as the URL.
   */
  url(photo: PhotoBytes): string {
    const url = URL.createObjectURL(new Blob([photo.bytes], { type: photo.type }));
    this.urls.push(url);
    return url;
  }
  revokeAll(): void {
    for (const url of this.urls) URL.revokeObjectURL(url);
    this.urls = [];
  }
}

/** A progress bar with a label; `set(null)` makes it indeterminate. */
export function progressBar(label: string): { el: HTMLElement; set(fraction: number | null, text?: string): void } {
  const bar = h('progress', { max: 1, 'aria-label': label });
  const text = h('span', { class: 'progress-text' });
  const el = h('div', { class: 'progress' }, bar, text);
  return {
    el,
    set(fraction, message) {
      if (fraction === null) bar.removeAttribute('value');
      else bar.value = Math.max(0, Math.min(1, fraction));
      text.textContent = message ?? '';
    },
  };
}

/**
 * A "Rename" button: asks for the new name (prefilled), and calls `rename` when it changed;
 * failures go to `onError`.
 */
export function renameButton(current: string, rename: (name: string) => Promise<unknown>, onError: (message: string) => void): HTMLButtonElement {
  return h(
    'button',
    {
      type: 'button',
      onclick: () => {
        const name = prompt(`New name for “${current}”`, current)?.trim();
        if (name && name !== current) rename(name).catch((err: unknown) => onError(errorText(err)));
      },
    },
    'Rename',
  );
}
