/**
 * The negative-transfer guard: before a newly trained head replaces anything, it is compared on
 * the same held-out photos with the kNN baseline and with the head it would replace, and it only
 * loses to one of them when the evidence is significant.
 */
import type { Prediction } from '../api/types.ts';
import type { Example } from './examples.ts';
import { mcnemarExact, wilsonInterval } from './metrics.ts';

/**
 * Anything that ranks classes for an embedding: a loaded head, a kNN classifier. It must list every
 * class it knows (as both do without `top`): that is how the guard tells which labels it lacks.
 */
export interface Classifier {
  predict(embedding: Float32Array): Prediction[] | Promise<Prediction[]>;
  /** Optional: `predict` for many embeddings at once, with the same answers (kNN's matrix product). */
  predictMany?(embeddings: readonly Float32Array[]): Promise<Prediction[][]>;
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
    const rankings: Prediction[][] = [];
    if (classifier.predictMany) rankings.push(...(await classifier.predictMany(items.map((item) => item.embedding))));
    else for (const item of items) rankings.push(await classifier.predict(item.embedding));
    items.forEach((item, i) => {
      const ranked = rankings[i] as Prediction[];
      right.push(ranked[0]?.label === item.label);
      if (!ranked.some((p) => p.label === item.label)) unknown.add(item.label);
    });
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

// ---------------------------------------------------------------------------------------------
// The guard over training recipes ("improve further")

/** The recipes "improve further" compares, simplest first (the order breaks ties). */
export const RECIPE_ORDER = ['head', 'knn', 'selftrain', 'finetune'] as const;
export type RecipeName = (typeof RECIPE_ORDER)[number];

/** What one recipe predicted for each held-out photo (same photos, same order, for every recipe). */
export interface RecipeOutcome {
  recipe: RecipeName;
  /** Predicted label per held-out photo. */
  predicted: readonly string[];
  /** Size of the model this recipe stores (JSON bytes of its head document), when known. */
  sizeBytes?: number;
}

/** One recipe's held-out result, in a form an app can show. */
export interface RecipeCandidate {
  recipe: RecipeName;
  correct: number;
  n: number;
  accuracy: number;
  /** 95% Wilson score interval of the accuracy. */
  low: number;
  high: number;
  sizeBytes?: number;
  /** Against the kept recipe (absent for the kept one): photos only this one / only the kept one got right, exact McNemar p. */
  versusKept?: { onlyThis: number; onlyKept: number; p: number };
  /** One sentence, e.g. "Fine-tuned model: 14 of 18 held-out photos right (78%, likely 55% to 91%)." */
  text: string;
}

export interface RecipeComparison {
  kept: RecipeName;
  /** In {@link RECIPE_ORDER} order. */
  candidates: RecipeCandidate[];
  /** Plain words: what was kept and how sure that is. */
  verdict: string;
}

const RECIPE_WORDS: Record<RecipeName, string> = {
  head: 'Retrained head',
  knn: 'Nearest neighbours',
  selftrain: 'Head with your unlabeled photos',
  finetune: 'Fine-tuned model',
};

/**
 * Compares recipes on the same held-out photos, none of which any of them trained on, and keeps
 * the best: the most accurate, ties going to the simpler recipe ({@link RECIPE_ORDER}: a retrained
 * head before kNN, self-training and fine-tuning, which cost more to store and run). Each
 * candidate gets its Wilson interval and its exact McNemar test against the kept one, and the
 * verdict says in plain words whether the lead could be chance: with 10-20 held-out photos it
 * usually could, and the verdict says so rather than claiming an improvement.
 *
 * With `requireSignificance`, a recipe other than `head` is kept only when it beats the head
 * significantly (p < {@link SIGNIFICANCE}); otherwise the head is kept.
 */
export function compareRecipes(input: {
  labels: readonly string[];
  outcomes: readonly RecipeOutcome[];
  requireSignificance?: boolean;
}): RecipeComparison {
  const { labels } = input;
  if (input.outcomes.length === 0) throw new RangeError('no recipe to compare');
  const seen = new Set<RecipeName>();
  for (const o of input.outcomes) {
    if (seen.has(o.recipe)) throw new RangeError(`recipe ${o.recipe} given twice`);
    seen.add(o.recipe);
    if (o.predicted.length !== labels.length) throw new RangeError(`recipe ${o.recipe} predicted ${o.predicted.length} photos, ${labels.length} held out`);
  }
  const outcomes = [...input.outcomes].sort((a, b) => RECIPE_ORDER.indexOf(a.recipe) - RECIPE_ORDER.indexOf(b.recipe));
  const right = new Map(outcomes.map((o) => [o.recipe, o.predicted.map((p, i) => p === labels[i])]));
  const correctOf = (r: RecipeName): number => (right.get(r) as boolean[]).filter(Boolean).length;

  // Most accurate; on ties the earlier (simpler) one, since the sort is stable and `>` is strict.
  let kept = (outcomes[0] as RecipeOutcome).recipe;
  for (const o of outcomes) if (correctOf(o.recipe) > correctOf(kept)) kept = o.recipe;
  let fallback = '';
  if (input.requireSignificance && kept !== 'head' && right.has('head')) {
    const { onlyA, onlyB, p } = mcnemarExact(right.get(kept) as boolean[], right.get('head') as boolean[]);
    if (!(onlyA > onlyB && p < SIGNIFICANCE)) {
      fallback = ` ${RECIPE_WORDS[kept]} did best, but not clearly better than the retrained head (p = ${p.toPrecision(2)}), so the head is kept.`;
      kept = 'head';
    }
  }

  const n = labels.length;
  const candidates: RecipeCandidate[] = outcomes.map((o) => {
    const correct = correctOf(o.recipe);
    const accuracy = n ? correct / n : 0;
    const interval = wilsonInterval(correct, n);
    // All right (or all wrong) is exactly at the bound; the formula's rounding can land a hair inside.
    const low = correct === 0 ? 0 : Math.min(interval.low, accuracy);
    const high = correct === n ? 1 : Math.max(interval.high, accuracy);
    const candidate: RecipeCandidate = {
      recipe: o.recipe,
      correct,
      n,
      accuracy,
      low,
      high,
      ...(o.sizeBytes === undefined ? {} : { sizeBytes: o.sizeBytes }),
      text: `${RECIPE_WORDS[o.recipe]}: ${correct} of ${n} held-out photos right (${pct(accuracy)}, likely ${pct(low)} to ${pct(high)}).`,
    };
    if (o.recipe !== kept) {
      const { onlyA, onlyB, p } = mcnemarExact(right.get(o.recipe) as boolean[], right.get(kept) as boolean[]);
      candidate.versusKept = { onlyThis: onlyA, onlyKept: onlyB, p };
    }
    return candidate;
  });

  const best = candidates.find((c) => c.recipe === kept) as RecipeCandidate;
  const others = candidates.filter((c) => c.recipe !== kept);
  let verdict: string;
  if (n === 0) {
    verdict = `No held-out photos to compare on; keeping the ${RECIPE_WORDS[kept].toLowerCase()}.`;
  } else if (others.length === 0) {
    verdict = `Only one recipe ran: ${best.text}`;
  } else if (fallback) {
    verdict = `Kept: ${RECIPE_WORDS[kept].toLowerCase()}, ${best.correct} of ${n} right.${fallback}`;
  } else {
    const runnerUp = [...others].sort((a, b) => b.correct - a.correct)[0] as RecipeCandidate;
    const margin = best.correct - runnerUp.correct;
    const p = runnerUp.versusKept?.p ?? 1;
    const sure = p < SIGNIFICANCE ? 'a clear difference' : 'a difference this small could be chance on so few photos';
    verdict =
      margin > 0
        ? `Kept: ${RECIPE_WORDS[kept].toLowerCase()}, ${best.correct} of ${n} right, ${margin} more than the next best (${RECIPE_WORDS[runnerUp.recipe].toLowerCase()}); ${sure} (p = ${p.toPrecision(2)}).`
        : `Kept: ${RECIPE_WORDS[kept].toLowerCase()}, ${best.correct} of ${n} right; no recipe did better, so the simplest of the best is kept.`;
  }
  return { kept, candidates, verdict };
}
