/**
 * Which eval recipes are levers on the Train button as it is: recipes.ts runs them with `app`'s
 * standardisation and report.ts pairs them with `app`. Its own module so that the recipes do not
 * import the report (that import closed a cycle recipes -> report -> clutter-report ->
 * clutter-protocol -> clutter-grid -> recipes, which loaded only when entered through main.ts).
 */

/**
 * Levers that change the Train button as it is (its standardisation kept; scripts/eval/recipes.ts:
 * more augmented views, TTA, one head per embedding part): paired with `app` on the same backbone.
 */
export const ON_APP_LEVERS: readonly string[] = ['app-t3', 'app-t7', 'app-v7', 'app-v7-t7', 'app-parts', 'app-parts-t3', 'app-wd01', 'app-wd03', 'app-wd1', 'app-self', 'app-ncm', 'app-ncm-mix', 'app-lda', 'app-lda-mix', 'app-lda-v7'];
