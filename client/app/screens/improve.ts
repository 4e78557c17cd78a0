/**
 * "Improve further": after a head training, offer to retrain the top layers of the image model
 * too (fine-tuning) and to learn from unlabeled photos (self-training). It says what it costs
 * first (the model's size, the photos it needs), shows progress, and afterwards the comparison of
 * every method on the same held-out photos, with the one kept. The unlabeled photos it learns
 * from are managed in "Photos to teach later" (screens/pool.ts).
 */
import { improve, improveEstimate, onChange, type ImproveProgress, type ImproveReport } from '../../lib/index.ts';
import type { AppContext } from '../context.ts';
import { errorText, formatBytes, h, isAbort, pct, progressBar, replace } from '../dom.ts';

const RECIPE_WORDS: Record<string, string> = {
  knn: 'Most similar photos (kNN)',
  head: 'Your model (last layer trained)',
  finetune: 'Fine-tuned (top layers retrained too)',
  selftrain: 'Self-trained (also learned from unlabeled photos)',
};

const STAGE_WORDS: Record<ImproveProgress['stage'], string> = {
  preparing: 'Preparing the photos',
  finetune: 'Retraining the top layers',
  selftrain: 'Learning from unlabeled photos',
  comparing: 'Comparing the methods',
};

/** An improve run in progress; it survives leaving the screen (like a training). */
interface ImproveRun {
  controller: AbortController;
  last: ImproveProgress | null;
  listeners: Set<(p: ImproveProgress) => void>;
  done: Promise<ImproveReport>;
}
let running: ImproveRun | null = null;

function reportCard(report: ImproveReport): HTMLElement {
  return h(
    'div',
    { 'data-testid': 'improve-result' },
    h('p', {}, report.summary),
    h(
      'div',
      { class: 'scroll', tabindex: 0, role: 'region', 'aria-label': 'Comparison of methods' },
      h(
        'table',
        { class: 'candidates' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Method'), h('th', { scope: 'col' }, 'Right'), h('th', { scope: 'col' }, 'Likely range'), h('th', { scope: 'col' }, 'Size'))),
        h(
          'tbody',
          {},
          ...report.candidates.map((c) =>
            h(
              'tr',
              { 'data-recipe': c.recipe },
              h('td', {}, RECIPE_WORDS[c.recipe] ?? c.recipe, c.recipe === report.kept ? h('strong', {}, ' (kept)') : null),
              h('td', {}, `${c.correct ?? Math.round(c.accuracy * c.n)}/${c.n} (${pct(c.accuracy)})`),
              h('td', {}, `${pct(c.low)}–${pct(c.high)}`),
              h('td', {}, c.sizeBytes === undefined ? 'photos' : formatBytes(c.sizeBytes)),
            ),
          ),
        ),
      ),
    ),
    report.skipped.length ? h('ul', { class: 'muted' }, ...report.skipped.map((s) => h('li', {}, `${RECIPE_WORDS[s.recipe] ?? s.recipe}: ${s.reason}`))) : null,
    h('p', { class: 'muted' }, `Stored model: ${formatBytes(report.sizeBytes)}. Took ${(report.ms / 1000).toFixed(0)} s.`),
  );
}

/** Renders the improve panel into `root`; returns the cleanup. */
export function improvePanel(root: HTMLElement, ctx: AppContext): () => void {
  let mounted = true;
  const estimate = h('p', { 'data-testid': 'improve-estimate' });
  const finetune = h('input', { type: 'checkbox', id: 'recipe-finetune', checked: true });
  const selftrain = h('input', { type: 'checkbox', id: 'recipe-selftrain' });
  const fineTuneNote = h('p', { class: 'muted', 'data-testid': 'finetune-refusal', hidden: true });
  // Disabled until the estimate says there are enough photos.
  const start = h('button', { type: 'button', class: 'primary', 'data-testid': 'improve-button', disabled: true }, 'Improve further');
  const cancel = h('button', { type: 'button', hidden: true, 'data-testid': 'improve-cancel' }, 'Cancel');
  const bar = progressBar('Improve progress');
  bar.el.hidden = true;
  const status = h('p', { class: 'status', 'aria-live': 'polite', 'data-testid': 'improve-status' });
  const result = h('div');
  const selftrainNote = h('p', { class: 'muted', hidden: true }, 'Learning from unlabeled photos needs some: add them under “Photos to teach later”, or keep the photos you classify.');

  const renderEstimate = async (): Promise<void> => {
    const e = await improveEstimate();
    if (!mounted) return;
    estimate.textContent = e.ready
      ? `Takes about a minute on a phone; the improved model is about ${formatBytes(e.sizeBytes)} (the plain one is a few hundred kB). The best method on photos held out is kept, so it never gets worse.`
      : (e.reason ?? 'Not ready yet.');
    selftrain.disabled = e.unlabeled === 0;
    if (e.unlabeled === 0) selftrain.checked = false;
    selftrainNote.hidden = e.unlabeled > 0;
    // Fine-tuning runs on MobileNetV2 only: on another image model the box is off, and says why.
    const couldFineTune = !finetune.disabled;
    finetune.disabled = e.fineTuneRefusal !== undefined;
    if (finetune.disabled) finetune.checked = false;
    else if (!couldFineTune) finetune.checked = true;
    fineTuneNote.textContent = e.fineTuneRefusal ?? '';
    fineTuneNote.hidden = e.fineTuneRefusal === undefined;
    if (!running) start.disabled = !e.ready;
  };

  const refresh = (): void => void renderEstimate();

  const follow = (run: ImproveRun): void => {
    start.disabled = true;
    cancel.hidden = false;
    bar.el.hidden = false;
    status.classList.remove('error');
    replace(result);
    const show = (p: ImproveProgress): void => {
      const epoch = p.epoch && p.epochs ? `, epoch ${p.epoch} of ${p.epochs}` : '';
      const step = p.step === 'final' ? ' (final model, all photos)' : '';
      bar.set(p.fraction, `${STAGE_WORDS[p.stage]}${step}${epoch}${p.accuracy === undefined ? '' : `, ${pct(p.accuracy)} right on practice photos`}`);
    };
    if (run.last) show(run.last);
    run.listeners.add(show);
    run.done
      .then(
        (report) => {
          if (!mounted) return;
          bar.set(1, 'Done.');
          status.textContent = '';
          replace(result, reportCard(report));
        },
        (err: unknown) => {
          if (!mounted) return;
          bar.el.hidden = true;
          if (isAbort(err)) status.textContent = 'Cancelled. Your model is unchanged.';
          else {
            status.textContent = `Could not improve: ${errorText(err)}`;
            status.classList.add('error');
          }
        },
      )
      .finally(() => {
        run.listeners.delete(show);
        if (!mounted) return;
        cancel.hidden = true;
        refresh();
      });
  };

  start.addEventListener('click', () => {
    if (running) return;
    if (ctx.isBusy('training')) {
      status.textContent = 'A training is still running: improve when it has finished.';
      return;
    }
    const recipes = [...(finetune.checked ? (['finetune'] as const) : []), ...(selftrain.checked ? (['selftrain'] as const) : [])];
    if (recipes.length === 0) {
      status.textContent = 'Choose at least one way to improve.';
      return;
    }
    const controller = new AbortController();
    const finished = ctx.busy('improving');
    const listeners = new Set<(p: ImproveProgress) => void>();
    const run: ImproveRun = {
      controller,
      last: null,
      listeners,
      done: improve({
        recipes,
        signal: controller.signal,
        onProgress: (p) => {
          run.last = p;
          for (const l of listeners) l(p);
        },
      }),
    };
    running = run;
    run.done
      .then(
        (r) => ctx.notify(`Improving finished: kept ${RECIPE_WORDS[r.kept]?.toLowerCase() ?? r.kept}.`, 'good'),
        () => undefined,
      )
      .finally(() => {
        if (running === run) running = null;
        finished();
      });
    follow(run);
  });
  cancel.addEventListener('click', () => running?.controller.abort());

  replace(
    root,
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'improve-title', 'data-testid': 'improve' },
      h('h2', { id: 'improve-title' }, 'Improve further'),
      h('p', {}, 'When the result is not good enough: retrain the top layers of the image model as well, and learn from photos you have not sorted.'),
      estimate,
      h(
        'fieldset',
        {},
        h('legend', {}, 'Methods to try'),
        h('label', { class: 'choice', for: 'recipe-finetune' }, finetune, 'Fine-tune the top layers'),
        fineTuneNote,
        h('label', { class: 'choice', for: 'recipe-selftrain' }, selftrain, 'Learn from unlabeled photos'),
        selftrainNote,
      ),
      h('div', { class: 'row' }, start, cancel),
      bar.el,
      status,
      result,
    ),
  );
  if (running) follow(running);
  refresh();
  const off = onChange((msg) => {
    // models-updated: another image model may be in use (fine-tuning is offered on MobileNetV2 only).
    if (msg.type === 'examples-changed' || msg.type === 'classes-changed' || msg.type === 'models-updated' || msg.type === 'unlabeled-changed') void renderEstimate();
  });
  return () => {
    mounted = false;
    off();
  };
}
