/**
 * The negative-transfer guard: before a newly trained head replaces anything, it is compared on
 * the same held-out photos with the kNN baseline and with the head it would replace, and it only
 * loses to one of them when the evidence is significant.
 */
import type { Prediction } from './api.ts';
import type { Example } from './examples.ts';
import { mcnemarExact, wilsonInterval } from './metrics.ts';

/**
 * Anything that ranks classes for an embedding: a loaded head, a kNN classifier. It must list every
 * class it knows (as both do without `top`): that is how the guard tells which labels it lacks.
 */
export interface Classifier {
  predict(embedding: Float32Array): Prediction[] | Promise<Prediction[]>;
}

export type CandidateName = 'head' | 'knn' | 'previous';

export interface CandidateResult {
  name: CandidateName;
  correct: number;
  n: number;
  accuracy: number;
  /** 95% Wilson score interval of the accuracy. */
  interval: { low: number; high: number };
  /** Held-out labels it has no class for (a head trained before those classes existed). */
  unknownLabels: string[];
}

export interface Comparison {
  a: CandidateName;
  b: CandidateName;
  /** Items only `a` got right / only `b` got right. */
  onlyA: number;
  onlyB: number;
  /** Exact McNemar two-sided p-value. */
  p: number;
}

export interface GuardResult {
  candidates: CandidateResult[];
  comparisons: Comparison[];
  choice: CandidateName;
  reasons: string[];
}

/** Below this McNemar p-value a difference counts as real. */
export const SIGNIFICANCE = 0.05;

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/**
 * Evaluates the new head, the kNN baseline and (if given) the previous head on the same held-out
 * items (original views only; augmented views are skipped) and chooses one.
 *
 * The rule: there is an incumbent, which is kept unless a challenger is significantly better.
 * The incumbent is the previous head when there is one and it has a class for every held-out
 * label (replacing a working head needs evidence); otherwise it is the new head (a previous head
 * that cannot name a class the user now has is not an option at all). A challenger replaces the
 * incumbent only if it got more items right and the exact McNemar test on the items where the two
 * disagree gives p < 0.05. If several challengers qualify, the most accurate wins (the new head
 * on a tie). Small held-out sets therefore rarely switch: that needs at least 6 discordant items,
 * all in the challenger's favour.
 *
 * The held-out photos should be ones no candidate trained on. The new head's held-out set was used
 * for its early stopping, which flatters it slightly; the guard errs towards it by that much.
 */
export async function compareOnHeldOut(input: {
  heldOut: readonly Example[];
  head: Classifier;
  knn: Classifier;
  previousHead?: Classifier;
}): Promise<GuardResult> {
  const items = input.heldOut.filter((e) => !e.augmented);
  const entries: [CandidateName, Classifier][] = [['head', input.head]];
  if (input.previousHead) entries.push(['previous', input.previousHead]);
  entries.push(['knn', input.knn]);

  const correctness = new Map<CandidateName, boolean[]>();
  const candidates: CandidateResult[] = [];
  for (const [name, classifier] of entries) {
    const right: boolean[] = [];
    const unknown = new Set<string>();
    for (const item of items) {
      const ranked = await classifier.predict(item.embedding);
      right.push(ranked[0]?.label === item.label);
      if (!ranked.some((p) => p.label === item.label)) unknown.add(item.label);
    }
    const correct = right.filter(Boolean).length;
    correctness.set(name, right);
    candidates.push({
      name,
      correct,
      n: items.length,
      accuracy: items.length ? correct / items.length : 0,
      interval: wilsonInterval(correct, items.length),
      unknownLabels: [...unknown].sort(),
    });
  }

  const comparisons: Comparison[] = [];
  for (let i = 0; i < entries.length; i++) {
    for (let j = i + 1; j < entries.length; j++) {
      const a = (entries[i] as [CandidateName, Classifier])[0];
      const b = (entries[j] as [CandidateName, Classifier])[0];
      comparisons.push({ a, b, ...mcnemarExact(correctness.get(a) as boolean[], correctness.get(b) as boolean[]) });
    }
  }
  const result = (name: CandidateName): CandidateResult => candidates.find((c) => c.name === name) as CandidateResult;
  /** `challenger` vs `incumbent`: discordant counts oriented that way round, and p. */
  const versus = (challenger: CandidateName, incumbent: CandidateName): { wins: number; losses: number; p: number } => {
    const c = comparisons.find((x) => (x.a === challenger && x.b === incumbent) || (x.a === incumbent && x.b === challenger)) as Comparison;
    return c.a === challenger ? { wins: c.onlyA, losses: c.onlyB, p: c.p } : { wins: c.onlyB, losses: c.onlyA, p: c.p };
  };

  const reasons: string[] = [];
  if (items.length === 0) reasons.push('No held-out original views to compare on; keeping the default.');
  for (const c of candidates) {
    reasons.push(
      `${c.name}: ${c.correct}/${c.n} right (${pct(c.accuracy)}, 95% CI ${pct(c.interval.low)}-${pct(c.interval.high)}).`,
    );
  }
  const previous = input.previousHead ? result('previous') : undefined;
  let incumbent: CandidateName = 'head';
  if (previous && previous.unknownLabels.length === 0) {
    incumbent = 'previous';
    reasons.push('The previous head is the incumbent: the new head replaces it only if significantly better.');
  } else if (previous) {
    reasons.push(`The previous head has no class for ${previous.unknownLabels.join(', ')}: not an option.`);
  }
  const eligible = candidates.filter((c) => c.name !== incumbent && c.unknownLabels.length === 0);
  let choice: CandidateName = incumbent;
  for (const c of eligible) {
    const { wins, losses, p } = versus(c.name, incumbent);
    const significant = wins > losses && p < SIGNIFICANCE;
    reasons.push(
      `${c.name} vs ${incumbent}: ${wins} items only ${c.name} got right, ${losses} only ${incumbent}; ` +
        `McNemar p = ${p.toPrecision(2)} (${significant ? 'significant' : 'not significant'} at ${SIGNIFICANCE}).`,
    );
    if (significant && c.correct > result(choice).correct) choice = c.name;
  }
  reasons.push(choice === incumbent ? `Keeping ${incumbent}.` : `Switching from ${incumbent} to ${choice}.`);
  return { candidates, comparisons, choice, reasons };
}
