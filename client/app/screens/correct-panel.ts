/**
 * The Predict screen's "Right" / "Wrong: it is …" for a photo (picked, or a frozen camera frame)
 * that a personal model classified on this device. A tap makes the photo an example of that class
 * through the library's `correct` (which reuses the embedding the prediction computed); the model
 * then retrains in the background, and the status says when the corrected model is in use, or that
 * the previous one was kept (the photo itself is remembered either way).
 */
import { correct, deleteUnlabeled, listClasses, type PredictResult } from '../../lib/index.ts';
import type { AppContext } from '../context.ts';
import { errorText, h } from '../dom.ts';
import { labelPicker, libraryLabel, type LabelChoice } from '../label-picker.ts';
import { learnedSentence, learningSentence, type LabelKind } from '../words.ts';

/** What the panel corrects: the photo, its prediction, and the head that made it. */
export interface Classified {
  photo: Blob;
  result: PredictResult;
  headId: string;
  /** The photo's id in the unlabeled pool when it was kept there (dropped once it has a label). */
  pooled: Promise<string | null>;
  /** Called once the photo is stored with its label (it has left the pool). */
  onLabelled?(): void;
}

/**
 * Renders the panel into `root` (replacing what was there). `isCurrent` says whether this photo is
 * still the one on screen (a label settles after the person may have moved on).
 */
export async function correctionPanel(root: HTMLElement, ctx: AppContext, item: Classified, isCurrent: () => boolean): Promise<void> {
  const classes = await listClasses();
  if (!isCurrent()) return;
  const top = item.result.predictions[0]?.label;
  const status = h('p', { class: 'status', 'aria-live': 'polite', 'data-testid': 'correct-status' });

  const give = (choice: LabelChoice, kind: LabelKind): void => {
    status.classList.remove('error');
    status.textContent = learningSentence(choice.className);
    const learning = ctx.busy('learning');
    correct(item.photo, libraryLabel(choice), { prediction: item.result, headId: item.headId })
      .then(async (correction) => {
        // Answered: the choices go (the status says what happens), and the photo, labelled now, no
        // longer waits in the pool of photos to ask about.
        section.classList.add('answered');
        const pooled = await item.pooled.catch(() => null);
        if (pooled) void deleteUnlabeled(pooled).catch(() => undefined);
        item.onLabelled?.();
        const report = await correction.retrained.then(
          (r) => ({ outcome: r.outcome, fineTuned: r.fineTuned }),
          (err: unknown) => ({ outcome: { failed: errorText(err) }, fineTuned: undefined }),
        );
        status.textContent = learnedSentence(report.outcome, choice.className, kind, report.fineTuned);
        status.classList.toggle('error', typeof report.outcome === 'object');
      })
      .catch((err: unknown) => {
        status.textContent = `Could not add the photo: ${errorText(err)}`;
        status.classList.add('error');
        picker.enable();
        right.disabled = false;
      })
      .finally(learning);
  };

  const topClass = classes.find((c) => c.name === top);
  const right = h(
    'button',
    {
      type: 'button',
      class: 'primary',
      'data-testid': 'correct-right',
      disabled: !top,
      onclick: () => {
        right.disabled = true;
        picker.disable();
        // A class the model knows but that was deleted since comes back by name.
        give(topClass ? { classId: topClass.id, className: topClass.name } : { newClassName: top ?? '', className: top ?? '' }, 'confirmed');
      },
    },
    'Right',
  );
  const picker = labelPicker({
    classes,
    exclude: top,
    idPrefix: 'correct',
    buttonText: (name) => `Wrong: it is ${name}`,
    newClassText: 'Wrong: it is a new class',
    onPick: (choice) => {
      right.disabled = true;
      give(choice, 'corrected');
    },
  });
  const section = h(
    'section',
    { class: 'correct', 'aria-labelledby': 'correct-title', 'data-testid': 'correct' },
    h('h2', { id: 'correct-title' }, 'Is it right?'),
    h('p', { class: 'muted' }, 'Your answer teaches your model: the photo is added to the class you tap, and the model learns from it on this device.'),
    h('div', { class: 'row' }, right),
    picker.el,
    status,
  );
  root.replaceChildren(section);
}
