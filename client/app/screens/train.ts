/**
 * Train: one button; a progress bar and a live loss/accuracy chart while it runs; cancel; then
 * per-class accuracy, the confusion matrix, and the guard's comparison with kNN (and the previous
 * model) in words. The last result of the active model is shown again on later visits. Below:
 * "Help me with these 5" (screens/ask.ts), "Improve further" (screens/improve.ts) and the photos
 * kept to teach later (screens/pool.ts).
 */
import { activeHeadId, exampleCounts, listClasses, onChange, train, type EpochProgress, type TrainReport } from '../../lib/index.ts';
import { getHead, getHeadState, type GuardResult, type HeadMetrics } from '../../lib/internal.ts';
import { TrainingChart } from '../chart.ts';
import type { AppContext, Screen } from '../context.ts';
import { errorText, h, isAbort, pct, progressBar, replace } from '../dom.ts';
import { explainTraining } from '../words.ts';
import { askPanel } from './ask.ts';
import { improvePanel } from './improve.ts';
import { poolPanel } from './pool.ts';

/**
 * A bar's filled part, `value` of its width. Set through `element.style` (CSSOM), not a `style`
 * attribute, which a Content-Security-Policy without `'unsafe-inline'` in `style-src` blocks.
 */
function fill(value: number): HTMLElement {
  const el = h('span', { class: 'fill' });
  el.style.width = `${(value * 100).toFixed(1)}%`;
  return el;
}

/** Horizontal bars of values in [0, 1]. */
export function bars(items: Array<{ label: string; value: number }>, testId: string): HTMLElement {
  return h(
    'ul',
    { class: 'bars', 'data-testid': testId },
    ...items.map((item) =>
      h(
        'li',
        {},
        h('span', { class: 'label', title: item.label }, item.label),
        h(
          'span',
          { class: 'track', role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': Math.round(item.value * 100), 'aria-label': item.label },
          fill(item.value),
        ),
        h('span', { class: 'value' }, pct(item.value)),
      ),
    ),
  );
}

/** The confusion matrix as a table: rows are the true class, columns what the model said. */
export function confusionTable(classes: readonly string[], confusion: number[][]): HTMLElement {
  return h(
    'div',
    // Focusable, so a keyboard can scroll it on a narrow screen.
    { class: 'scroll', tabindex: 0, role: 'region', 'aria-label': 'Confusion matrix' },
    h(
      'table',
      { class: 'confusion', 'data-testid': 'confusion-matrix' },
      h('caption', { class: 'muted' }, 'Rows: what the photo showed. Columns: what the model said.'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, ''), ...classes.map((c) => h('th', { scope: 'col' }, c)))),
      h(
        'tbody',
        {},
        ...classes.map((c, i) =>
          h('tr', {}, h('th', { scope: 'row' }, c), ...(confusion[i] ?? []).map((n, j) => h('td', { class: i === j ? 'diag' : n ? 'off' : '' }, String(n)))),
        ),
      ),
    ),
  );
}

const CANDIDATE_LABEL: Record<string, string> = { head: 'New model', knn: 'Most similar photos (kNN)', previous: 'Previous model' };

function candidatesTable(guard: GuardResult): HTMLElement {
  return h(
    'table',
    { class: 'candidates', 'data-testid': 'guard-table' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Method'), h('th', { scope: 'col' }, 'Right'), h('th', { scope: 'col' }, 'Likely range'))),
    h(
      'tbody',
      {},
      ...guard.candidates.map((c) =>
        h(
          'tr',
          {},
          h('td', {}, CANDIDATE_LABEL[c.name] ?? c.name, c.name === guard.choice ? h('strong', {}, ' (in use)') : null),
          h('td', {}, `${c.correct}/${c.n} (${pct(c.accuracy)})`),
          h('td', {}, `${pct(c.interval.low)}–${pct(c.interval.high)}`),
        ),
      ),
    ),
  );
}

/** The result of a training (fresh or stored) as a card. */
function resultCard(result: { classes: string[]; metrics: HeadMetrics; guard: GuardResult; photos: Record<string, number>; when: string; crop?: { kept: boolean; words: string } | undefined }): HTMLElement {
  const sentences = explainTraining({ classes: result.classes, metrics: result.metrics, guard: result.guard, photos: result.photos, ...(result.crop ? { crop: result.crop } : {}) });
  return h(
    'section',
    { class: 'card', 'data-testid': 'train-result', 'aria-labelledby': 'result-title' },
    h('h2', { id: 'result-title' }, 'How well it learned'),
    h('p', { class: 'muted' }, `Trained ${new Date(result.when).toLocaleString()}.`),
    h('ul', { class: 'sentences' }, ...sentences.map((s) => h('li', { class: s.tone }, s.text))),
    h('h3', {}, 'Right per class'),
    bars(
      result.classes.map((c) => ({ label: c, value: result.metrics.perClass[c] ?? 0 })),
      'per-class',
    ),
    h('h3', {}, 'Mix-ups'),
    confusionTable(result.classes, result.metrics.confusion),
    h('details', {}, h('summary', {}, 'Compared methods'), candidatesTable(result.guard), h('ul', { class: 'muted' }, ...result.guard.reasons.map((r) => h('li', {}, r)))),
  );
}

/**
 * A training in progress. It lives outside the screen, so leaving the Train screen neither cancels
 * it nor loses its progress: coming back replays the epochs so far and follows the rest.
 */
interface Session {
  controller: AbortController;
  events: EpochProgress[];
  listeners: Set<(event: EpochProgress) => void>;
  /** What Train finishes before it trains (client/lib/train.ts): the photos' augmented views, then their crops; done, of total. */
  views: Preparing | null;
  viewListeners: Set<(views: Preparing) => void>;
  done: Promise<TrainReport>;
}
let session: Session | null = null;

/** Photos Train prepares before it trains: their augmented views, their crops or (opted in) the detector's boxes, done of total. */
interface Preparing {
  what: 'views' | 'crops' | 'objects';
  done: number;
  total: number;
}

function startTraining(ctx: AppContext, headId: string | undefined): Session {
  const controller = new AbortController();
  const events: EpochProgress[] = [];
  const listeners = new Set<(event: EpochProgress) => void>();
  const viewListeners = new Set<(views: Preparing) => void>();
  const views: Session['views'] = null;
  const preparing = (p: Preparing): void => {
    current.views = p;
    for (const l of viewListeners) l(p);
  };
  const finished = ctx.busy('training');
  const done = train({
    ...(headId ? { headId } : {}),
    signal: controller.signal,
    onProgress: (e) => {
      events.push(e);
      for (const l of listeners) l(e);
    },
    onViewsProgress: (d, total) => preparing({ what: 'views', done: d, total }),
    // Every older photo's crop at the first Train after the upgrade to database version 9.
    onCropsProgress: (d, total) => preparing({ what: 'crops', done: d, total }),
    // "Find the object first" on: each photo's detector box, once.
    onDetectorProgress: (d, total) => preparing({ what: 'objects', done: d, total }),
  });
  const current: Session = { controller, events, listeners, views, viewListeners, done };
  session = current;
  done.then(
    () => ctx.notify('Training finished.', 'good'),
    () => undefined,
  ).finally(() => {
    if (session === current) session = null;
    finished();
  });
  return current;
}

function trainView(root: HTMLElement, ctx: AppContext): () => void {
  const summary = h('div', { 'data-testid': 'train-summary' });
  const trainButton = h('button', { type: 'button', class: 'primary', 'data-testid': 'train-button' }, 'Train');
  const cancelButton = h('button', { type: 'button', hidden: true }, 'Cancel');
  const asNew = h('input', { type: 'checkbox', id: 'as-new' });
  const asNewLabel = h('label', { class: 'choice', for: 'as-new' }, asNew, 'Save as a new model');
  const bar = progressBar('Training progress');
  bar.el.hidden = true;
  const chart = new TrainingChart();
  chart.el.hidden = true;
  const status = h('p', { class: 'status', 'aria-live': 'polite', 'data-testid': 'train-status' });
  const result = h('div');
  const improve = h('div');
  const ask = h('div');
  const pool = h('div');
  let activeId: string | null = null;
  let mounted = true;

  const photosByName = async (): Promise<Record<string, number>> => {
    const [classes, counts] = await Promise.all([listClasses(), exampleCounts()]);
    return Object.fromEntries(classes.map((c) => [c.name, (counts.byClass[c.id]?.total ?? 0) - (counts.byClass[c.id]?.stale ?? 0)]));
  };

  const renderSummary = async (): Promise<void> => {
    const photos = await photosByName();
    const ready = Object.values(photos).filter((n) => n > 0).length;
    activeId = await activeHeadId();
    const active = activeId ? await getHead(activeId) : undefined;
    asNewLabel.hidden = !active;
    const total = Object.values(photos).reduce((a, b) => a + b, 0);
    replace(
      summary,
      h(
        'p',
        {},
        Object.keys(photos).length
          ? `${Object.keys(photos).length} classes, ${total} photos: ${Object.entries(photos)
              .map(([n, c]) => `${n} (${c})`)
              .join(', ')}.`
          : 'No classes yet.',
      ),
      active ? h('p', { class: 'muted' }, `Training updates “${active.name}” unless you save as a new model.`) : null,
    );
    if (!session) {
      trainButton.disabled = ready < 2;
      trainButton.title = ready < 2 ? 'Needs photos in at least two classes' : '';
      if (ready < 2) status.textContent = 'Add photos to at least two classes on the Teach screen first.';
      else if (/at least two classes/.test(status.textContent ?? '')) status.textContent = '';
    }
    if (!session && !result.hasChildNodes() && active && activeId) {
      const state = await getHeadState(activeId);
      if (state?.training && mounted) {
        replace(result, resultCard({ classes: active.classes, metrics: state.training.metrics, guard: state.training.guard, photos, when: state.training.finished, crop: state.training.crop }));
      }
    }
  };

  /** Shows a session's progress (epochs so far, then live) and its outcome. */
  const follow = (current: Session): void => {
    trainButton.disabled = true;
    cancelButton.hidden = false;
    bar.el.hidden = false;
    chart.el.hidden = false;
    bar.set(0, 'Preparing…');
    status.textContent = 'Training on this device…';
    status.classList.remove('error');
    replace(result);
    let phaseOffset = 0;
    let lastPhase: EpochProgress['phase'] | null = null;
    const show = (e: EpochProgress): void => {
      if (e.phase !== lastPhase) {
        if (lastPhase === null) chart.reset(e.epochs);
        else phaseOffset = chart.points;
        lastPhase = e.phase;
      }
      const phaseName = e.phase === 'final' ? 'Final pass on all photos' : e.phase === 'cross-validation' ? 'Checking on practice photos' : 'Training';
      bar.set(e.epoch / e.epochs, `${phaseName}: epoch ${e.epoch} of at most ${e.epochs}`);
      chart.add(phaseOffset + e.epoch, { loss: e.loss, accuracy: e.accuracy, valAccuracy: e.valAccuracy });
    };
    // Photos added moments ago: their augmented views are finished first; then crops still to cut.
    const showViews = ({ what, done, total }: Preparing): void => {
      const label = what === 'objects' ? `Finding the object in each photo: ${done} of ${total}` : what === 'crops' ? `Preparing crops ${done} of ${total}` : `Preparing the newest photos: ${done} of ${total}`;
      if (lastPhase === null) bar.set(total ? done / total : 1, label);
    };
    if (current.views) showViews(current.views);
    current.viewListeners.add(showViews);
    current.events.forEach(show);
    current.listeners.add(show);
    current.done
      .then(
        async (report) => {
          if (!mounted) return;
          bar.set(1, `Done in ${(report.ms / 1000).toFixed(1)} s (${report.epochsRun} epochs).`);
          status.textContent =
            report.outcome === 'kept-previous'
              ? report.crop?.previous?.correct === null
                ? 'Finished: the previous model stays in use (why: below).'
                : 'Finished: the previous model stays in use (the new one was not clearly better).'
              : `Finished: “${report.doc.name}” is ready on the Predict screen.`;
          replace(
            result,
            resultCard({ classes: report.trained.classes, metrics: report.metrics, guard: report.guard, photos: await photosByName(), when: new Date().toISOString(), crop: report.crop }),
          );
          asNew.checked = false;
        },
        (err: unknown) => {
          if (!mounted) return;
          if (isAbort(err)) {
            status.textContent = 'Cancelled. The model you had before is unchanged.';
            bar.set(0, '');
          } else {
            status.textContent = `Training failed: ${errorText(err)}`;
            status.classList.add('error');
          }
        },
      )
      .finally(() => {
        current.listeners.delete(show);
        current.viewListeners.delete(showViews);
        if (!mounted) return;
        cancelButton.hidden = true;
        void renderSummary();
      });
  };

  trainButton.addEventListener('click', () => {
    if (session) return;
    // Both store the model: one at a time.
    if (ctx.isBusy('improving')) {
      status.textContent = 'Improving is still running: train again when it has finished.';
      return;
    }
    follow(startTraining(ctx, activeId && !asNew.checked ? activeId : undefined));
  });
  cancelButton.addEventListener('click', () => session?.controller.abort());

  replace(
    root,
    h('h1', {}, 'Train'),
    h('p', { class: 'muted' }, 'Trains your model on this device from the photos you taught. It takes a few seconds.'),
    h('section', { class: 'card' }, summary, h('div', { class: 'row' }, trainButton, cancelButton, asNewLabel), bar.el, status, chart.el),
    ask,
    result,
    improve,
    pool,
  );
  if (session) follow(session);
  void renderSummary();
  const stopImprove = improvePanel(improve, ctx);
  const stopAsk = askPanel(ask, ctx);
  const stopPool = poolPanel(pool);
  const off = onChange((msg) => {
    if (msg.type !== 'models-updated') void renderSummary();
  });
  return () => {
    mounted = false;
    off();
    stopImprove();
    stopAsk();
    stopPool();
  };
}

export const trainScreen: Screen = { id: 'train', title: 'Train', mount: trainView };
