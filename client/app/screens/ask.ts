/**
 * The Train screen's "Help me with these 5": the unlabeled photos whose labels would teach the
 * model most (the library's `photosToAsk`: the least certain, spread out, no near-duplicates), each
 * with the model's guess, one tap to label it (the guess, another class, or a new one) or skip it.
 * A label makes the photo an example (`labelUnlabeled`); the model retrains in the background and
 * the card says when that is done. Hidden without a personal model or without photos to ask about.
 */
import { activeHeadId, labelUnlabeled, listClasses, onChange, photosToAsk, skipAsked, type ClassRecord } from '../../lib/index.ts';
import type { AppContext } from '../context.ts';
import { errorText, h, pct, replace, UrlPool } from '../dom.ts';
import { labelPicker, libraryLabel, type LabelChoice } from '../label-picker.ts';
import { learnedSentence, learningSentence } from '../words.ts';

/** How many photos are asked about at a time. */
const ASK_COUNT = 5;

type Asked = Awaited<ReturnType<typeof photosToAsk>>[number];

/** Renders the card into `root` (hidden when there is nothing to ask); returns the cleanup. */
export function askPanel(root: HTMLElement, ctx: AppContext): () => void {
  let mounted = true;
  let urls = new UrlPool();
  /** Photos on the card still unanswered. */
  let open = 0;
  /** Whether the person has answered (or started to answer) a photo on the card. */
  let touched = false;
  /** Labels whose training has not settled yet. */
  let learning = 0;
  /** The personal model whose guesses are shown. */
  let shownHead: string | null = null;
  const status = h('p', { class: 'status', 'aria-live': 'polite', 'data-testid': 'ask-status' });
  const list = h('ol', { class: 'asked-list' });
  const title = h('h2', { id: 'ask-title' }, `Help me with these ${ASK_COUNT}`);
  const more = h('button', { type: 'button', 'data-testid': 'ask-more', hidden: true, onclick: () => void render(true).catch((err: unknown) => (status.textContent = errorText(err))) }, 'Ask me about more');
  const card = h(
    'section',
    { class: 'card', id: 'ask', 'aria-labelledby': 'ask-title', 'data-testid': 'ask' },
    title,
    h('p', { class: 'muted' }, 'Photos your model is least sure about. Telling it what each one shows teaches it the most; one tap each.'),
    list,
    status,
    h('div', { class: 'row' }, more),
  );
  root.hidden = true;

  const item = (asked: Asked, index: number, classes: readonly ClassRecord[]): HTMLElement => {
    const guess = asked.guess[0];
    const note = h('p', { class: 'status', 'aria-live': 'polite', 'data-testid': 'asked-note' });
    const done = (text: string): void => {
      open--;
      note.textContent = text;
      el.classList.add('answered');
      if (open === 0) more.hidden = false;
    };
    const skip = h('button', { type: 'button', 'data-testid': 'ask-skip' }, 'Skip');
    const picker = labelPicker({
      classes,
      first: guess?.label,
      idPrefix: `ask-${index}`,
      buttonText: (name) => `It is ${name}`,
      newClassText: 'It is a new class',
      onPick: (choice: LabelChoice) => {
        touched = true;
        skip.disabled = true;
        note.textContent = learningSentence(choice.className);
        status.textContent = 'Learning from your answers…';
        learning++;
        const finished = ctx.busy('learning');
        labelUnlabeled(asked.id, libraryLabel(choice))
          .then(async (correction) => {
            done(learningSentence(choice.className));
            const outcome = await correction.retrained.then(
              (r) => r.outcome,
              (err: unknown) => ({ failed: errorText(err) }),
            );
            note.textContent = learnedSentence(outcome, choice.className, 'labelled');
            note.classList.toggle('error', typeof outcome === 'object');
          })
          .catch((err: unknown) => {
            note.textContent = `Could not label it: ${errorText(err)}`;
            note.classList.add('error');
            picker.enable();
            skip.disabled = false;
          })
          .finally(() => {
            finished();
            learning--;
            if (mounted && learning === 0) status.textContent = open === 0 ? 'Done: your model has learned from your answers.' : '';
          });
      },
    });
    skip.addEventListener('click', () => {
      touched = true;
      picker.disable();
      skip.disabled = true;
      skipAsked(asked.id).then(
        () => done('Skipped.'),
        (err: unknown) => {
          note.textContent = `Could not skip it: ${errorText(err)}`;
          picker.enable();
          skip.disabled = false;
        },
      );
    });
    const el = h(
      'li',
      { class: 'asked', 'data-testid': 'asked', 'data-guess': guess?.label ?? '' },
      h('img', { src: urls.url(asked.photo), alt: `Photo ${index + 1} to label` }),
      h(
        'div',
        { class: 'asked-body' },
        h('p', {}, guess ? `My guess: ${guess.label} (${pct(guess.score)})` : 'No guess yet.'),
        picker.el,
        h('div', { class: 'row' }, skip),
        note,
      ),
    );
    return el;
  };

  /**
   * Asks the library again. Unless `force` (the person asked for more), a card the person has
   * started to answer stays as it is, so the outcomes stay readable; a change elsewhere (more photos
   * kept) refills only a card not yet answered and not yet full.
   */
  const renderNow = async (force: boolean): Promise<void> => {
    const busy = (): boolean => !force && list.childElementCount > 0 && (touched || list.childElementCount >= ASK_COUNT);
    if (busy()) return;
    const headId = await activeHeadId();
    const [asked, classes] = headId ? await Promise.all([photosToAsk(ASK_COUNT, { headId }), listClasses()]) : [[], []];
    if (!mounted || busy()) return;
    shownHead = headId;
    touched = false;
    const next = new UrlPool();
    const old = urls;
    urls = next;
    open = asked.length;
    more.hidden = true;
    title.textContent = asked.length === 0 ? 'Nothing more to ask about' : `Help me with ${asked.length === 1 ? 'this photo' : `these ${asked.length}`}`;
    replace(list, ...asked.map((a, i) => item(a, i, classes)));
    old.revokeAll();
    // Kept on screen while answers are still being learned from (their status is shown).
    root.hidden = asked.length === 0 && learning === 0;
  };
  // One at a time (choosing photos can mean embedding the pool): changes meanwhile ask once more
  // after. The card is aria-busy until the last of them is done.
  let rendering: Promise<void> | null = null;
  let again: { force: boolean } | null = null;
  const render = (force = false): Promise<void> => {
    card.setAttribute('aria-busy', 'true');
    if (rendering) {
      again = { force: force || (again?.force ?? false) };
      return rendering;
    }
    rendering = renderNow(force).finally(() => {
      rendering = null;
      const next = again;
      again = null;
      if (next && mounted) void render(next.force).catch(() => undefined);
      else card.setAttribute('aria-busy', 'false');
    });
    return rendering;
  };

  replace(root, card);
  void render().catch((err: unknown) => {
    root.hidden = false;
    status.textContent = `Could not find photos to ask about: ${errorText(err)}`;
  });
  const off = onChange((msg) => {
    // Another model in use: its own guesses (or none without a model). Each training makes its
    // model active again (the same id), which is no change. Else only an empty card fills.
    const otherModel = (msg.type === 'active-head-changed' && msg.id !== shownHead) || (msg.type === 'head-deleted' && msg.id === shownHead);
    if (otherModel) void render(true).catch(() => undefined);
    else if (msg.type === 'unlabeled-changed' || msg.type === 'head-saved' || msg.type === 'classes-changed') void render().catch(() => undefined);
  });
  return () => {
    mounted = false;
    off();
    urls.revokeAll();
  };
}
