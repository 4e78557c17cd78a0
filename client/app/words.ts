/**
 * Training results in words a non-expert understands: how often the model was right on photos it
 * had not seen, what the negative-transfer guard decided and why, and what to do next ("needs
 * more examples of X"). Pure functions of plain data, so they are unit-tested in Node.
 */
import type { GuardResult, CandidateName } from '../../shared/learn/guard.ts';
import type { HeadMetrics } from '../../shared/head/document.ts';
import type { TrainOutcome } from '../../shared/learn/train-app.ts';

/** Percent with no decimals ("94%"). */
export function pct(x: number): string {
  return `${Math.round(100 * x)}%`;
}

/** Below this per-class held-out accuracy a class "needs more examples". */
export const WEAK_CLASS_ACCURACY = 0.8;
/** Fewer photos than this in a class earns a "add more photos" hint. */
export const FEW_PHOTOS = 5;

/** What the sentences are built from. */
export interface TrainingFacts {
  /** Class names in the model's order (the confusion matrix's). */
  classes: string[];
  metrics: HeadMetrics;
  guard: GuardResult;
  /** Photos per class name (not counting augmented views). */
  photos: Record<string, number>;
  /** When Train tried the photos' crops: whether it kept them and its sentence (shared/learn/crop-choice.ts). */
  crop?: { kept: boolean; words: string; previous?: { kept: boolean } };
}

/** One sentence, with a tone the app can style. */
export interface Sentence {
  tone: 'good' | 'info' | 'advice';
  text: string;
}


const CANDIDATE_WORDS: Record<CandidateName, string> = {
  head: 'the model just trained',
  knn: 'matching each photo to its most similar taught photos',
  previous: 'your previous model',
};

/** The held-out result as a sentence ("Right on 17 of 18 photos it had not seen (94%)."). */
export function headline(metrics: HeadMetrics): Sentence {
  const right = Math.round(metrics.accuracy * metrics.n);
  const tone = metrics.accuracy >= WEAK_CLASS_ACCURACY ? 'good' : 'advice';
  return { tone, text: `Right on ${right} of ${metrics.n} practice photos it had not seen during training (${pct(metrics.accuracy)}).` };
}

/** What the guard chose, compared with the alternatives, in words. */
export function guardSentence(guard: GuardResult): Sentence {
  const byName = new Map(guard.candidates.map((c) => [c.name, c]));
  const chosen = byName.get(guard.choice);
  const others = guard.candidates.filter((c) => c.name !== guard.choice && c.unknownLabels.length === 0);
  const comparison = others.map((c) => `${CANDIDATE_WORDS[c.name]} got ${pct(c.accuracy)}`).join('; ');
  const chosenPct = chosen ? pct(chosen.accuracy) : '?';
  if (guard.choice === 'head') {
    const significant = guard.comparisons.some((c) => (c.a === 'head' || c.b === 'head') && c.p < 0.05);
    return {
      tone: 'good',
      text:
        `In use: the model just trained (${chosenPct}).` +
        (comparison ? ` For comparison, ${comparison}${significant ? '.' : ' — with this few practice photos the difference may be chance.'}` : ''),
    };
  }
  if (guard.choice === 'knn') {
    return {
      tone: 'info',
      text:
        `In use: matching each photo to its most similar taught photos (${chosenPct}), because it did clearly better than the trained model` +
        `${comparison ? ` (${comparison})` : ''}. Adding more examples usually lets the trained model take over.`,
    };
  }
  return {
    tone: 'info',
    text: `Kept your previous model (${chosenPct}): the new one was not clearly better${comparison ? ` (${comparison})` : ''}.`,
  };
}

/** Per-class and confusion advice: which classes need more examples, which two get mixed up. */
export function advice(facts: TrainingFacts): Sentence[] {
  const out: Sentence[] = [];
  const { classes } = facts;
  const weak = classes
    .map((name, i) => {
      const row = facts.metrics.confusion[i] ?? [];
      return { name, acc: facts.metrics.perClass[name] ?? 0, right: row[i] ?? 0, n: row.reduce((a, b) => a + b, 0) };
    })
    .filter((c) => c.n > 0 && c.acc < WEAK_CLASS_ACCURACY)
    .sort((a, b) => a.acc - b.acc);
  for (const c of weak) {
    // The counts say how much to trust it: one practice photo is a hint, not a verdict.
    out.push({ tone: 'advice', text: `Needs more examples of “${c.name}”: right on ${c.right} of its ${c.n} practice photo${c.n === 1 ? '' : 's'}.` });
  }
  for (const [name, count] of Object.entries(facts.photos)) {
    if (count < FEW_PHOTOS && !weak.some((w) => w.name === name)) {
      out.push({ tone: 'advice', text: `“${name}” has only ${count} photo${count === 1 ? '' : 's'}; ${FEW_PHOTOS} or more make the result more reliable.` });
    }
  }
  const mix = mostConfused(facts.metrics, classes);
  if (mix) {
    out.push({
      tone: 'advice',
      text: `It mixed up “${mix.actual}” as “${mix.predicted}” ${mix.count} time${mix.count === 1 ? '' : 's'}: add photos that show how they differ.`,
    });
  }
  if (out.length === 0) out.push({ tone: 'good', text: 'Every class was recognised well. More varied photos (light, angle, background) keep it that way.' });
  return out;
}

/** The largest off-diagonal cell of the confusion matrix, if any. */
export function mostConfused(metrics: HeadMetrics, classes: readonly string[]): { actual: string; predicted: string; count: number } | null {
  let best: { actual: string; predicted: string; count: number } | null = null;
  metrics.confusion.forEach((row, i) =>
    row.forEach((count, j) => {
      if (i !== j && count > 0 && (!best || count > best.count)) best = { actual: classes[i] ?? '?', predicted: classes[j] ?? '?', count };
    }),
  );
  return best;
}

/** Everything to say after a training, in display order. */
export function explainTraining(facts: TrainingFacts): Sentence[] {
  const crop: Sentence[] = facts.crop ? [{ tone: facts.crop.kept ? 'good' : 'info', text: facts.crop.words }] : [];
  // A stored crop head that stays is what is in use: its words say so, and the guard's sentence
  // ("In use: the model just trained") would contradict them.
  const inUse = facts.crop?.previous?.kept ? [] : [guardSentence(facts.guard)];
  return [headline(facts.metrics), ...inUse, ...crop, ...advice(facts)];
}

/** How a photo got its label: a wrong prediction corrected, a right one confirmed, an asked photo labelled. */
export type LabelKind = 'corrected' | 'confirmed' | 'labelled';

/** Said at once when a label is given: the photo is stored, the model learns in the background. */
export function learningSentence(className: string): string {
  return `Added to “${className}”. Learning from it…`;
}

/**
 * Said when the training a label started has settled: its outcome, or `failed` with the reason.
 * When the guard kept the previous model it says so plainly, and that the label is not lost.
 * `fineTuned` (a correction of a fine-tuned model, `TrainReport.fineTuned`): when the model in use
 * no longer keeps its fine-tuned layers, the sentence says so and why, since its accuracy may change.
 */
export function learnedSentence(outcome: TrainOutcome | { failed: string }, className: string, kind: LabelKind, fineTuned?: { kept: boolean; reason?: string }): string {
  if (typeof outcome === 'object') {
    return `The photo is in “${className}”, but the model could not learn from it now (${outcome.failed}). Train on the Train screen to try again.`;
  }
  const tail = fineTuned && !fineTuned.kept && fineTuned.reason ? ` It is no longer fine-tuned: ${fineTuned.reason}.` : '';
  if (outcome !== 'kept-previous') return (kind === 'corrected' ? 'Your corrected model is in use.' : 'Your updated model is in use.') + tail;
  const kept = 'Your previous model stays in use: the one trained with this photo was not clearly better.';
  return kind === 'labelled'
    ? `${kept} The photo stays in “${className}” and counts in every later training.`
    : `${kept} This photo itself is remembered: it will be named “${className}”.`;
}

/** The line shown over a prediction of a photo the person labelled before. */
export function youSaidSentence(className: string): string {
  return `You said this is “${className}”.`;
}
