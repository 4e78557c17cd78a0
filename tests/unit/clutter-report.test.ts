/**
 * The clutter protocol's figures (issue 17): paired differences, the gap and the share of it a
 * crop recovers (scripts/eval/clutter-protocol.ts clutterDiffs), and BENCHMARKS.md's table
 * (scripts/eval/clutter-report.ts).
 */
import { describe, expect, it } from 'vitest';
import { clutterDiffs, methodsFor } from '../../scripts/eval/clutter-protocol.ts';
import { clutterDescription, clutterTable } from '../../scripts/eval/clutter-report.ts';
import { CROP_DEFAULTS } from '../../scripts/eval/clutter-protocol.ts';

const figure = (perSeed: number[]) => ({ value: perSeed.reduce((a, b) => a + b, 0) / perSeed.length, seeds: perSeed.map((_, i) => i), perSeed });

const known = {
  'eval.emoji.app.k10': figure([0.5, 0.6, 0.55]),
  'eval.emoji-clutter.app+none.k10': figure([0.2, 0.3, 0.25]),
  'eval.emoji-clutter.app+featuremap.k10': figure([0.35, 0.45, 0.4]),
  'eval.emoji-clutter.app+detector.k10': figure([0.2, 0.35, 0.2]),
};

describe('clutterDiffs', () => {
  it('pairs each crop with the whole scene, the clean protocol with it (the gap), and divides', () => {
    const out = clutterDiffs(known, ['emoji', 'fashion'], '');
    expect(out['eval.emoji-clutter.gap.k10.diff']?.value).toBeCloseTo(0.3);
    expect(out['eval.emoji-clutter.app+featuremap-vs-app+none.k10.diff']?.value).toBeCloseTo(0.15);
    expect(out['eval.emoji-clutter.app+featuremap.recovered.k10']?.value).toBeCloseTo(0.5);
    expect(out['eval.emoji-clutter.app+detector.recovered.k10']?.value).toBeCloseTo(0);
    // Nothing for a dataset without figures, nor for a method not measured.
    expect(Object.keys(out).some((k) => k.includes('fashion') || k.includes('oracle'))).toBe(false);
  });
  it('takes the gap from the clean images of the same run when it has them', () => {
    const out = clutterDiffs({ ...known, 'eval.emoji-clutter.app+clean.k10': figure([0.6, 0.7, 0.65]) }, ['emoji'], '');
    expect(out['eval.emoji-clutter.gap.k10.diff']?.value).toBeCloseTo(0.4);
    expect(out['eval.emoji-clutter.app+featuremap.recovered.k10']?.value).toBeCloseTo(0.375);
    expect(Object.keys(out).some((k) => k.includes('clean'))).toBe(false);
  });
  it('keys the confirmation data with .confirm', () => {
    const confirm = Object.fromEntries(Object.entries(known).map(([k, v]) => [`${k}.confirm`, v]));
    expect(Object.keys(clutterDiffs(confirm, ['emoji'], '.confirm')).every((k) => k.endsWith('.confirm'))).toBe(true);
  });
});

describe('methodsFor', () => {
  it('runs every method by default, and with other box settings only the crops they change', () => {
    expect(methodsFor(undefined)).toEqual(['clean', 'none', 'featuremap', 'detector', 'oracle']);
    expect(methodsFor({ threshold: 0.7 })).toEqual(['featuremap']);
    expect(methodsFor({ layer: 'block_6_expand_relu' })).toEqual(['featuremap']);
    expect(methodsFor({ minScore: 0.1 })).toEqual(['detector']);
    expect(methodsFor({ pad: 0 })).toEqual(['featuremap', 'detector', 'oracle']);
  });
});

describe('clutterTable', () => {
  it('has a row per dataset measured, with the gap and the share recovered', () => {
    const rows = clutterTable({ ...known, 'eval.emoji-clutter.featuremap.box_ms': { value: 31 } });
    expect(rows).toHaveLength(3);
    expect(rows[2]).toContain('| emoji, seeds 0-4 |');
    expect(rows[2]).toContain('+30.0');
    expect(rows[2]).toContain('50%');
    expect(rows[2]).toContain('| 31 / - |');
    expect(clutterTable({})).toEqual([]);
  });
});

describe('clutterDescription', () => {
  it('says how the published set and its crops are made, from the constants that make them', () => {
    const text = clutterDescription();
    expect(text).toContain(`\`${CROP_DEFAULTS.layer}\``);
    expect(text).toContain(`padded by ${Math.round(100 * CROP_DEFAULTS.pad)}%`);
    expect(text).toContain('at 30% of that contrast');
    expect(text).toContain('448 px');
  });
});
