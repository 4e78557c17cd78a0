/**
 * The fixed-budget protocol's constants (issue 18 pt 3), apart from its run (scripts/eval/asked.ts)
 * so that the report (scripts/eval/report.ts, also read by `npm run bench`) knows its keys without
 * loading the training code.
 */

/** Labels asked for in each round. */
export const ASK_ROUND = 5;
/** The two ways of spending the labels, as they are keyed: `eval.<dataset>.<strategy>.k<k>`. */
export const ASK_STRATEGIES = ['asked', 'random'] as const;
export type AskStrategy = (typeof ASK_STRATEGIES)[number];
/** The ks the protocol runs per dataset (emoji: k = 5 only, some subcategories have 20 emoji). */
export const ASK_KS: Record<'emoji' | 'fashion', readonly number[]> = { emoji: [5], fashion: [5, 10] };
