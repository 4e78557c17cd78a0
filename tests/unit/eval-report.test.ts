import { describe, expect, it } from 'vitest';
import { EVAL_HEADING, README_END, README_START, evalSection, goalsTable, leversTable, pairedCell, replaceEvalSection, replaceReadmeTable, type EvalEntry } from '../../scripts/eval/report.ts';

/** A k = 10 figure over seeds 0-4 with these accuracies. */
const entry = (perSeed: number[], seeds = [0, 1, 2, 3, 4]): EvalEntry => ({
  value: perSeed.reduce((a, b) => a + b, 0) / perSeed.length,
  ci: [0, 1],
  seeds,
  perSeed,
});

const evaluation: Record<string, EvalEntry> = {
  'eval.emoji.app.k10': entry([0.4, 0.5, 0.45, 0.4, 0.5]),
  'eval.emoji.app-tta.k10': entry([0.45, 0.55, 0.5, 0.45, 0.55]),
  'eval.emoji.app@inception_v3.k10': entry([0.5, 0.6, 0.5, 0.5, 0.6]),
  'eval.fashion.app.k10': entry([0.74, 0.74, 0.74, 0.74, 0.74]),
  'eval.fashion.app.k10.confirm': entry([0.7, 0.72, 0.71, 0.73, 0.74], [5, 6, 7, 8, 9]),
  'eval.emoji.app-vs-app-tta.k10.diff': { value: -0.05 },
};

describe('eval report (scripts/eval/report.ts)', () => {
  it('pairs a lever with app by seed: +5 points on every seed is +5.0 with a zero-width interval', () => {
    expect(pairedCell(evaluation, 'emoji', 'app-tta', '')).toBe('+5.0 [+5.0, +5.0]');
    expect(pairedCell(evaluation, 'emoji', 'app@inception_v3', '')).toMatch(/^\+9\.0 \[/);
    // No confirmation figure for the lever: no pair.
    expect(pairedCell(evaluation, 'fashion', 'app-tta', '.confirm')).toBe('-');
  });

  it('pairs only common seeds and needs two of them', () => {
    const partial = { ...evaluation, 'eval.emoji.app-pow.k10': entry([0.9], [3]) };
    expect(pairedCell(partial, 'emoji', 'app-pow', '')).toBe('-');
  });

  it('the goals table has the goals and a row per backbone of app, with the confirmation columns', () => {
    const table = goalsTable(evaluation);
    expect(table[2]).toContain('**>= 55.0**');
    expect(table[2]).toContain('**>= 75.0**');
    const rows = table.slice(3);
    expect(rows.map((r) => r.split(' | ')[1])).toEqual(['MobileNetV2', 'InceptionV3 (mixed7)']);
    expect(rows[0]).toContain('72.0 [0.0, 100.0]');
  });

  it('the levers table lists every app variant but app itself, and no paired-difference keys', () => {
    const rows = leversTable(evaluation).slice(2);
    expect(rows.map((r) => r.split(' | ')[0])).toEqual(['| app-tta', '| app']);
    expect(rows.join('\n')).not.toContain('-vs-');
  });

  it('with app-l2 in the file, levers pair with it and app itself is a row', () => {
    const withBase = { ...evaluation, 'eval.emoji.app-l2.k10': entry([0.3, 0.4, 0.35, 0.3, 0.4]) };
    const rows = leversTable(withBase);
    expect(rows[0]).toContain('- app-l2');
    const body = rows.slice(2);
    expect(body.map((r) => r.split(' | ')[0])).toEqual(['| app', '| app-tta', '| app']);
    // app is 0.10 above app-l2 on every seed.
    expect(body[0]).toContain('+10.0 [+10.0, +10.0]');
  });

  it('levers on the Train button as it is pair with app on their own backbone, in their own table', () => {
    const withOnApp = {
      ...evaluation,
      'eval.emoji.app-l2.k10': entry([0.3, 0.4, 0.35, 0.3, 0.4]),
      'eval.emoji.app-t3.k10': entry([0.42, 0.52, 0.47, 0.42, 0.52]),
      'eval.emoji.app-t3@inception_v3.k10': entry([0.51, 0.61, 0.51, 0.51, 0.61]),
    };
    const onApp = leversTable(withOnApp, true);
    expect(onApp[0]).toContain('- app |');
    const body = onApp.slice(2);
    expect(body.map((r) => r.split(' | ').slice(0, 2).join(' | '))).toEqual(['| app-t3 | MobileNetV2', '| app-t3 | InceptionV3 (mixed7)']);
    // +2 points over app on MobileNetV2, +1 over app@inception_v3 (not +11 over app on MobileNetV2).
    expect(body[0]).toContain('+2.0 [+2.0, +2.0]');
    expect(body[1]).toContain('+1.0 [+1.0, +1.0]');
    expect(leversTable(withOnApp).join('\n')).not.toContain('app-t3');
  });

  it('says which goal is not met and by how much', () => {
    const text = evalSection(evaluation).join('\n');
    expect(text).toContain('reaches 45.0% (goal 55.0%: **not met**, 10.0 points short)');
    expect(evalSection(null).join('\n')).toContain('run `npm run eval`');
  });

  it('lists an app variant as worse only when its paired interval is below 0', () => {
    const withWorse = {
      ...evaluation,
      'eval.emoji.app-pow.k10': entry([0.35, 0.45, 0.4, 0.35, 0.45]),
      'eval.emoji.app-std.k10': entry([0.3, 0.6, 0.45, 0.4, 0.45]),
    };
    const text = evalSection(withWorse).join('\n');
    expect(text).toContain('variants of `app` worse than it (interval below 0): `app-pow` -5.0 [-5.0, -5.0].');
    expect(text).not.toContain('`app-std` -');
    expect(evalSection(evaluation).join('\n')).toContain('no variant of `app` is significantly worse than it');
  });

  it('replaces only its own section of BENCHMARKS.md and the text between the README markers', () => {
    const benchmarks = `# Benchmarks\n\n## Before\n\nkeep\n\n${EVAL_HEADING}\n\nold\n\n### sub\n\nold too\n\n## After\n\nkeep too\n`;
    const replaced = replaceEvalSection(benchmarks, [EVAL_HEADING, '', 'new']);
    expect(replaced).toBe(`# Benchmarks\n\n## Before\n\nkeep\n\n${EVAL_HEADING}\n\nnew\n\n## After\n\nkeep too\n`);
    const readme = `intro\n\n${README_START}\nstale\n${README_END}\n\nrest\n`;
    const updated = replaceReadmeTable(readme, evaluation);
    expect(updated.startsWith(`intro\n\n${README_START}\n\n| recipe (k = 10)`)).toBe(true);
    expect(updated).not.toContain('stale');
    expect(updated.endsWith(`${README_END}\n\nrest\n`)).toBe(true);
    expect(replaceReadmeTable('no markers', evaluation)).toBe('no markers');
  });

  it('shows the default run\'s time only when a default run recorded it', () => {
    expect(evalSection(evaluation).join('\n')).not.toContain('Run time');
    const timed = { ...evaluation, 'eval.run.default_cold_minutes': { value: 42, unit: 'min', note: 'load 3.0' } };
    const text = evalSection(timed).join('\n');
    expect(text).toContain('- Cold embedding cache: **42.0 min** (goal: under 60 with a cold cache). load 3.0');
    expect(text).not.toContain('Warm embedding cache');
  });
});
