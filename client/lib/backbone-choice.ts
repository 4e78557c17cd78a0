/**
 * Which backbone this device uses: the stated rule ({@link BACKBONE_RULE}, {@link chooseBackbone}),
 * the forward time it is measured on, and the choice kept on the device.
 *
 * The rule: every device starts on the base backbone (MobileNetV2: 2.4 MB, the one the edge runs).
 * At first run its forward pass is timed ({@link measureForwardMs}, median of 5 passes after 2
 * warm-up passes). The larger backbone (the pair MobileNetV2 + InceptionV3, shared/model/backbone-pair.ts:
 * both networks run on each photo, 2.4 + 9.1 MB to download) costs about `largerCostRatio` times as
 * much; when that estimate is within `fastDeviceMaxLargerForwardMs` the device counts as fast
 * (desktop-class): the larger backbone is offered there, and becomes its default if
 * `fastDeviceDefault` says `larger` (it does). A slow device keeps the base one and is not offered
 * the larger (a person can still pick it, or InceptionV3 alone). A person's own choice always wins
 * over the rule.
 *
 * The choice and the measurement kept on the device: client/lib/backbone-choice-store.ts.
 */
import type { Backbone } from '../../shared/model/backbone.ts';

/**
 * The rule's policy, in one place. `fastDeviceDefault` is the lead's switch: which backbone a fast
 * (desktop-class) device uses by default, set from the accuracy measurements (`npm run eval`,
 * keys `eval.<dataset>.app.k10`, `eval.<dataset>.app@inception_v3.k10` and
 * `eval.<dataset>.app@mobilenet_v2+inception_v3.k10`).
 */
export const BACKBONE_RULE: Readonly<BackboneRule> = {
  /** Every device's backbone unless the rule or the person picks another. */
  base: 'mobilenet_v2',
  /**
   * The larger backbone a fast device is offered: the pair MobileNetV2 + InceptionV3, the one
   * configuration whose Train head meets both accuracy goals (k = 10, seeds 0-4, 2026-12-05).
   */
  larger: 'mobilenet_v2+inception_v3',
  /**
   * Its forward pass costs about this many of the base one's: both networks run, MobileNetV2 (1x)
   * and InceptionV3, which in Chromium (WASM SIMD, folded graphs) took 12.9x MobileNetV2's side by
   * side on a 2-core machine (tests/browser/backbones.test.ts, `browser.backbone_forward_ratio`;
   * in Node ~7-8x, FIELD-NOTES): 12 + 1.
   */
  largerCostRatio: 13,
  /**
   * A device is fast when the larger backbone's estimated forward pass (base forward time x ratio)
   * is at most this many milliseconds: a photo then still becomes an example in about the 250 ms
   * the app aims for. A phone-class device (base ~90 ms) is far from it.
   */
  fastDeviceMaxLargerForwardMs: 250,
  /**
   * What a fast device uses by default: the pair. Train's head at k = 10 (bench/eval.json, seeds
   * 0-4): on the pair emoji 55.2 [45.3, 65.1] and Fashion-MNIST 78.3 [76.6, 80.1], both goals met
   * (55, 75); on MobileNetV2 53.8 and 76.8, on InceptionV3 alone 51.4 and 75.7. Paired, pair -
   * MobileNetV2: emoji +1.4 [-2.6, +5.4], Fashion +1.5 [+0.2, +2.9]; on the confirmation data
   * (emoji seeds 5-9, Fashion t10k 100-199) 56.2 and 76.7, +2.2 [-2.2, +6.6] and +0.7 [-0.2, +1.6].
   * So: better on Fashion, not shown better on emoji, at 13x the forward time and 11.5 MB more.
   */
  fastDeviceDefault: 'larger',
};

/** The shape of {@link BACKBONE_RULE} (tests pass variants). */
export interface BackboneRule {
  base: string;
  larger: string;
  largerCostRatio: number;
  fastDeviceMaxLargerForwardMs: number;
  fastDeviceDefault: 'base' | 'larger';
}

/** The base backbone's forward time as measured on this device. */
export interface ForwardMeasurement {
  /** `<id>@<version>` measured. */
  backbone: string;
  /** Median forward time of one image, ms. */
  forwardMs: number;
  /** ISO 8601. */
  measured: string;
}

/** What {@link chooseBackbone} decided, and why. */
export interface BackboneChoice {
  /** The backbone id to use: the person's choice, else the rule's. */
  backbone: string;
  /** `person`: chosen by the person; `rule`: by the rule. */
  by: 'person' | 'rule';
  /** The rule's own pick (the same as `backbone` unless the person chose). */
  ruleBackbone: string;
  /** Whether the device counts as fast; null before the base backbone was measured. */
  fastDevice: boolean | null;
  /** Whether the larger backbone is offered (fast device, and served). */
  offerLarger: boolean;
  /** The larger backbone's estimated forward time here, ms (null before measuring). */
  estimatedLargerForwardMs: number | null;
  /** The rule's reasoning in one sentence, for the app and logs. */
  reason: string;
}

/**
 * The rule (see the module comment), pure: from the served backbone ids, the base backbone's
 * measured forward time (null if not measured yet) and the person's choice (null if none).
 */
export function chooseBackbone(
  served: readonly string[],
  measurement: Pick<ForwardMeasurement, 'forwardMs'> | null,
  personChoice: string | null,
  rule: BackboneRule = BACKBONE_RULE,
): BackboneChoice {
  const base = served.includes(rule.base) ? rule.base : (served[0] ?? rule.base);
  const largerServed = served.includes(rule.larger);
  const estimate = measurement ? measurement.forwardMs * rule.largerCostRatio : null;
  const fastDevice = estimate === null ? null : estimate <= rule.fastDeviceMaxLargerForwardMs;
  const offerLarger = largerServed && fastDevice === true;
  const ruleBackbone = offerLarger && rule.fastDeviceDefault === 'larger' ? rule.larger : base;
  let reason: string;
  if (!largerServed) reason = `${rule.larger} is not served: ${base}`;
  else if (estimate === null || measurement === null) reason = `${base} until its forward time is measured`;
  else {
    const figures = `${rule.base} ${measurement.forwardMs.toFixed(0)} ms a photo, so ${rule.larger} ~${estimate.toFixed(0)} ms (fast device: <= ${rule.fastDeviceMaxLargerForwardMs} ms)`;
    reason = fastDevice
      ? `${figures}: fast device, ${rule.larger} offered; default on fast devices: ${ruleBackbone}`
      : `${figures}: not fast enough for ${rule.larger}, ${base} kept`;
  }
  const personServed = personChoice !== null && served.includes(personChoice);
  return {
    backbone: personServed ? personChoice : ruleBackbone,
    by: personServed ? 'person' : 'rule',
    ruleBackbone,
    fastDevice,
    offerLarger,
    estimatedLargerForwardMs: estimate,
    reason,
  };
}

/**
 * Median forward time (ms) of one image through `backbone`, after `warmup` passes (the first pass
 * pays for kernel setup), over `runs` passes of a fixed input.
 */
export async function measureForwardMs(backbone: Backbone, runs = 5, warmup = 2): Promise<number> {
  const times = (await forwardTimesMs(backbone, runs, warmup)).sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

/** The forward time (ms) of each of `runs` passes of a fixed input through `backbone`, after `warmup` passes. */
export async function forwardTimesMs(backbone: Backbone, runs: number, warmup: number): Promise<number[]> {
  const { width, height } = backbone.manifest.normalization;
  const input = new Float32Array(width * height * 3).map((_, i) => ((i % 251) / 250) * 2 - 1);
  for (let i = 0; i < warmup; i++) await backbone.embedPreprocessed(input);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await backbone.embedPreprocessed(input);
    times.push(performance.now() - t0);
  }
  return times;
}
