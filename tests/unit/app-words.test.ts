/** The app's plain-words training summary (client/app/words.ts). */
import { describe, expect, it } from 'vitest';
import type { CandidateResult, GuardResult } from '../../shared/learn/guard.ts';
import type { HeadMetrics } from '../../shared/head/document.ts';
import { advice, explainTraining, guardSentence, headline, learnedSentence, learningSentence, mostConfused, youSaidSentence } from '../../client/app/words.ts';

const classes = ['ripe', 'unripe', 'rotten'];

function candidate(name: CandidateResult['name'], correct: number, n: number): CandidateResult {
  return { name, correct, n, accuracy: correct / n, interval: { low: 0, high: 1 }, unknownLabels: [] };
}

function guard(choice: GuardResult['choice'], candidates: CandidateResult[], p = 0.5): GuardResult {
  return { candidates, comparisons: [{ a: 'head', b: 'knn', onlyA: 1, onlyB: 0, p }], choice, reasons: [] };
}

const metrics: HeadMetrics = {
  accuracy: 7 / 10,
  n: 10,
  perClass: { ripe: 1, unripe: 0.5, rotten: 0.75 },
  // Rows: actual; columns: predicted.
  confusion: [
    [3, 0, 0],
    [2, 2, 0],
    [0, 1, 2],
  ],
};

describe('training in words', () => {
  it('says how many unseen photos were right', () => {
    expect(headline(metrics)).toEqual({ tone: 'advice', text: 'Right on 7 of 10 practice photos it had not seen during training (70%).' });
    expect(headline({ ...metrics, accuracy: 0.9 }).tone).toBe('good');
  });

  it('names the method in use and the alternatives, and whether the gap may be chance', () => {
    const head = guardSentence(guard('head', [candidate('head', 9, 10), candidate('knn', 8, 10)]));
    expect(head.text).toContain('In use: the model just trained (90%)');
    expect(head.text).toContain('matching each photo to its most similar taught photos got 80%');
    expect(head.text).toContain('may be chance');
    expect(guardSentence(guard('head', [candidate('head', 9, 10), candidate('knn', 2, 10)], 0.01)).text).not.toContain('chance');
    const knn = guardSentence(guard('knn', [candidate('head', 2, 10), candidate('knn', 9, 10)], 0.01));
    expect(knn.text).toMatch(/^In use: matching each photo .* \(90%\)/);
    expect(knn.text).toContain('the model just trained got 20%');
    const previous = guardSentence(guard('previous', [candidate('head', 8, 10), candidate('previous', 9, 10)]));
    expect(previous.text).toMatch(/^Kept your previous model \(90%\)/);
  });

  it('advises more examples for weak classes, more photos for small ones, and names the worst mix-up', () => {
    const lines = advice({ classes, metrics, guard: guard('head', []), photos: { ripe: 3, unripe: 8, rotten: 8 } }).map((s) => s.text);
    // Weakest first.
    expect(lines[0]).toBe('Needs more examples of “unripe”: right on 2 of its 4 practice photos.');
    expect(lines[1]).toBe('Needs more examples of “rotten”: right on 2 of its 3 practice photos.');
    expect(lines[2]).toMatch(/^“ripe” has only 3 photos/);
    expect(lines[3]).toBe('It mixed up “unripe” as “ripe” 2 times: add photos that show how they differ.');
    expect(mostConfused(metrics, classes)).toEqual({ actual: 'unripe', predicted: 'ripe', count: 2 });
  });

  it('praises when nothing needs doing', () => {
    const perfect: HeadMetrics = { accuracy: 1, n: 4, perClass: { a: 1, b: 1 }, confusion: [[2, 0], [0, 2]] };
    const all = explainTraining({ classes: ['a', 'b'], metrics: perfect, guard: guard('head', [candidate('head', 4, 4)]), photos: { a: 6, b: 6 } });
    expect(all).toHaveLength(3);
    expect(all[2]?.text).toMatch(/^Every class was recognised well/);
    expect(mostConfused(perfect, ['a', 'b'])).toBeNull();
  });

  it('does not say the new model is in use when a stored crop head stays', () => {
    const perfect: HeadMetrics = { accuracy: 1, n: 4, perClass: { a: 1, b: 1 }, confusion: [[2, 0], [0, 2]] };
    const facts = { classes: ['a', 'b'], metrics: perfect, guard: guard('head', [candidate('head', 4, 4)]), photos: { a: 6, b: 6 } };
    const stays = { kept: false, words: 'Your previous model (it finds the object first) stays.', previous: { kept: true } };
    const replaced = { ...stays, words: 'Your previous model was replaced.', previous: { kept: false } };
    const texts = (crop: typeof stays) => explainTraining({ ...facts, crop }).map((s) => s.text);
    expect(texts(stays).some((t) => t.startsWith('In use: the model just trained'))).toBe(false);
    expect(texts(stays)).toContain(stays.words);
    expect(texts(replaced).some((t) => t.startsWith('In use: the model just trained'))).toBe(true);
  });
});

describe('a label in words', () => {
  it('says the photo was added, then that the corrected model is in use', () => {
    expect(learningSentence('ripe')).toBe('Added to “ripe”. Learning from it…');
    expect(learnedSentence('new-head', 'ripe', 'corrected')).toBe('Your corrected model is in use.');
    expect(learnedSentence('knn', 'ripe', 'corrected')).toBe('Your corrected model is in use.');
    expect(learnedSentence('new-head', 'ripe', 'labelled')).toBe('Your updated model is in use.');
  });

  it('says plainly when the previous model was kept, and that the label is not lost', () => {
    const corrected = learnedSentence('kept-previous', 'ripe', 'corrected');
    expect(corrected).toMatch(/^Your previous model stays in use/);
    expect(corrected).toContain('This photo itself is remembered: it will be named “ripe”.');
    expect(learnedSentence('kept-previous', 'ripe', 'labelled')).toContain('The photo stays in “ripe”');
  });

  it('says when a corrected fine-tuned model lost its fine-tuned layers, and why', () => {
    const reason = 'the fine-tuned model runs on inception_v3@1, not on the loaded mobilenet_v2@2: retrained as a plain head on the frozen embeddings';
    expect(learnedSentence('new-head', 'ripe', 'corrected', { kept: false, reason })).toBe(`Your corrected model is in use. It is no longer fine-tuned: ${reason}.`);
    // Kept, or nothing to say: the plain sentence.
    expect(learnedSentence('new-head', 'ripe', 'corrected', { kept: true })).toBe('Your corrected model is in use.');
    expect(learnedSentence('kept-previous', 'ripe', 'corrected', { kept: false, reason })).not.toContain('no longer fine-tuned');
  });

  it('says why the model could not learn, and what to do', () => {
    expect(learnedSentence({ failed: 'needs two classes' }, 'ripe', 'corrected')).toBe(
      'The photo is in “ripe”, but the model could not learn from it now (needs two classes). Train on the Train screen to try again.',
    );
    expect(youSaidSentence('ripe')).toBe('You said this is “ripe”.');
  });
});
