/**
 * The clutter protocol's table (issue 17, scripts/eval/clutter-protocol.ts) for BENCHMARKS.md's
 * evaluation section (scripts/eval/report.ts), from bench/eval.json: per dataset (and on the
 * confirmation data when measured), `app` at k = 10 on the clean protocol, on the whole cluttered
 * scene and on each crop, the gap (clean - whole scene), each crop's paired gain over the whole
 * scene and the fraction of the gap it recovers, the true box as a yardstick, and the time to find a box.
 */
import { pairedBySeed, type SeededFigure } from './stats.ts';

/** A figure of bench/eval.json, as the table reads it. */
interface Figure extends SeededFigure {
  value: number;
  ci?: [number, number];
}

const pct = (x: number): string => (100 * x).toFixed(1);
const signed = (x: number): string => `${x >= 0 ? '+' : ''}${pct(x)}`;
const accuracy = (e: Figure | undefined): string => (e ? (e.ci ? `${pct(e.value)} [${pct(e.ci[0])}, ${pct(e.ci[1])}]` : pct(e.value)) : '-');

/** The table's rows and a line on what they mean; empty without the protocol's figures. */
export function clutterTable(evaluation: Record<string, Figure | undefined>): string[] {
  const rows: string[] = [];
  for (const suffix of ['', '.confirm']) {
    for (const d of ['emoji', 'fashion']) {
      const at = (name: string): Figure | undefined => evaluation[`eval.${d}${name}.k10${suffix}`];
      const none = at('-clutter.app+none');
      if (!none) continue;
      const clean = at('.app');
      const paired = (a: Figure | undefined, b: Figure | undefined): { mean: number; cell: string } | null => {
        const p = pairedBySeed(a, b);
        return p ? { mean: p.diff.mean, cell: `${signed(p.diff.mean)} [${signed(p.diff.ci.low)}, ${signed(p.diff.ci.high)}]` } : null;
      };
      const gap = paired(clean, none);
      const crops = ['featuremap', 'detector', 'oracle'].map((m) => {
        const gain = paired(at(`-clutter.app+${m}`), none);
        const ms = evaluation[`eval.${d}-clutter.${m}.box_ms${suffix}`] ?? evaluation[`eval.${d}-clutter.${m}.box_ms`];
        return {
          accuracy: accuracy(at(`-clutter.app+${m}`)),
          gain: gain?.cell ?? '-',
          recovered: gain && gap && gap.mean > 0 ? `${Math.round((100 * gain.mean) / gap.mean)}%` : '-',
          ms: ms ? `${ms.value.toFixed(0)}` : '-',
        };
      });
      const [f, t, o] = crops as [(typeof crops)[0], (typeof crops)[0], (typeof crops)[0]];
      const name = `${d === 'emoji' ? 'emoji' : 'Fashion-MNIST'}, ${suffix ? (d === 'emoji' ? 'seeds 5-9' : 't10k 100-199') : 'seeds 0-4'}`;
      rows.push(`| ${name} | ${accuracy(clean)} | ${accuracy(none)} | ${gap?.cell ?? '-'} | ${f.accuracy} | ${f.gain} | ${f.recovered} | ${t.accuracy} | ${t.gain} | ${t.recovered} | ${o.accuracy} | ${o.recovered} | ${f.ms} / ${t.ms} |`);
    }
  }
  if (!rows.length) return [];
  return [
    '| data | clean | whole scene | gap (clean - whole) | feature-map crop | - whole | recovered | detector crop | - whole | recovered | true box (yardstick) | recovered | ms a box (feature map / detector) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ];
}
