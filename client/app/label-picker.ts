/**
 * One tap to label a photo: a button per class, and a new class by name. The Predict screen's
 * correction ("Wrong: it is …", screens/correct-panel.ts) and the Train screen's asked photos
 * ("It is …", screens/ask.ts) both use it, so a label is given the same way everywhere.
 */
import type { ClassRecord } from '../lib/index.ts';
import { h } from './dom.ts';

/** What the person chose: a class they have, or a new one by name (`className` is for the words). */
export type LabelChoice = { classId: string; className: string } | { newClassName: string; className: string };

/** The label as the library takes it (`correct`, `labelUnlabeled`). */
export function libraryLabel(choice: LabelChoice): { classId: string } | { newClassName: string } {
  return 'classId' in choice ? { classId: choice.classId } : { newClassName: choice.newClassName };
}

/** Options of {@link labelPicker}. */
export interface LabelPickerOptions {
  classes: readonly ClassRecord[];
  /** A button's text for a class ("Wrong: it is heart"). */
  buttonText(name: string): string;
  /** A class name left out (what the model said, when the person says it is wrong). */
  exclude?: string;
  /** A class name shown first, as the main button (the model's guess). */
  first?: string;
  /** Makes the new-class field's id unique on the page. */
  idPrefix: string;
  /** What opens the new-class field, and its label ("Wrong: it is a new class"). */
  newClassText: string;
  onPick(choice: LabelChoice): void;
}

/**
 * The buttons and the new-class field (folded under its summary). A name typed that matches a class (ignoring case) is that
 * class. After a pick every control is disabled (the caller says what happens next); `enable`
 * gives them back (after a failure), `disable` takes them (a label given another way).
 */
export function labelPicker(options: LabelPickerOptions): { el: HTMLElement; enable(): void; disable(): void } {
  const byName = new Map(options.classes.map((c) => [c.name.toLowerCase(), c]));
  const ordered = [...options.classes]
    .filter((c) => c.name !== options.exclude)
    .sort((a, b) => Number(b.name === options.first) - Number(a.name === options.first));
  const controls: Array<HTMLButtonElement | HTMLInputElement> = [];
  const setDisabled = (disabled: boolean): void => {
    for (const c of controls) c.disabled = disabled;
  };
  const pick = (choice: LabelChoice): void => {
    setDisabled(true);
    options.onPick(choice);
  };
  const buttons = ordered.map((c) =>
    h(
      'button',
      { type: 'button', class: c.name === options.first ? 'primary' : '', 'data-label': c.name, onclick: () => pick({ classId: c.id, className: c.name }) },
      options.buttonText(c.name),
    ),
  );
  const inputId = `${options.idPrefix}-new-class`;
  const input = h('input', { type: 'text', id: inputId, maxlength: 100, autocomplete: 'off', placeholder: 'Class name', 'data-testid': 'new-class-name' });
  const add = h('button', { type: 'submit' }, 'Add');
  const hint = h('p', { class: 'status error', 'aria-live': 'polite' });
  const form = h(
    'form',
    {
      onsubmit: (e: Event) => {
        e.preventDefault();
        const name = input.value.trim();
        if (!name) {
          hint.textContent = 'Type the name of the class first.';
          input.focus();
          return;
        }
        hint.textContent = '';
        const existing = byName.get(name.toLowerCase());
        pick(existing ? { classId: existing.id, className: existing.name } : { newClassName: name, className: name });
      },
    },
    h('label', { for: inputId }, 'Name of the class'),
    h('div', { class: 'row' }, input, add),
    hint,
  );
  // Folded: one line until needed, so a photo's choices stay short with many classes.
  const newClass = h('details', { class: 'new-label' }, h('summary', {}, options.newClassText), form);
  controls.push(...buttons, input, add);
  return {
    el: h('div', { class: 'label-picker' }, buttons.length ? h('div', { class: 'row' }, ...buttons) : null, newClass),
    enable: () => setDisabled(false),
    disable: () => setDisabled(true),
  };
}
