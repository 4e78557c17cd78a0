/**
 * The backbone choice rule (client/lib/backbone-choice.ts): the base backbone unless the measured
 * base forward time says the device is fast, then the larger one offered, and made the default only
 * when the policy says fast devices default to it; the person's choice wins; unserved choices fall
 * back.
 */
import { describe, expect, it } from 'vitest';
import { BACKBONE_RULE, chooseBackbone, type BackboneRule } from '../../client/lib/backbone-choice.ts';

const PAIR = 'mobilenet_v2+inception_v3';
// What a server of both backbones lists: each, then their pair.
const both = ['mobilenet_v2', 'inception_v3', PAIR];
const largerByDefault: BackboneRule = { ...BACKBONE_RULE, fastDeviceDefault: 'larger' };
const baseByDefault: BackboneRule = { ...BACKBONE_RULE, fastDeviceDefault: 'base' };
// The threshold in base milliseconds: the larger backbone's estimate is base x ratio.
const edgeMs = BACKBONE_RULE.fastDeviceMaxLargerForwardMs / BACKBONE_RULE.largerCostRatio;

describe('chooseBackbone', () => {
  it('keeps the base backbone until the base forward time is measured, offering nothing', () => {
    const choice = chooseBackbone(both, null, null);
    expect(choice).toMatchObject({ backbone: 'mobilenet_v2', by: 'rule', fastDevice: null, offerLarger: false, estimatedLargerForwardMs: null });
  });

  it('offers the larger backbone on a fast device, and keeps the base one when that is the fast-device default', () => {
    // The policy given explicitly, so the test checks the rule whichever way the lead sets the switch.
    const choice = chooseBackbone(both, { forwardMs: edgeMs * 0.9 }, null, baseByDefault);
    expect(choice.fastDevice).toBe(true);
    expect(choice.offerLarger).toBe(true);
    expect(choice.backbone).toBe('mobilenet_v2');
    expect(choice.estimatedLargerForwardMs).toBeCloseTo(edgeMs * 0.9 * BACKBONE_RULE.largerCostRatio);
  });

  it('picks the larger backbone on a fast device when the policy makes it the fast-device default', () => {
    expect(chooseBackbone(both, { forwardMs: edgeMs * 0.9 }, null, largerByDefault)).toMatchObject({ backbone: PAIR, ruleBackbone: PAIR, by: 'rule' });
  });

  it('is the pair MobileNetV2 + InceptionV3, the default on fast devices, at both networks\' cost (12 + 1)', () => {
    expect(BACKBONE_RULE).toMatchObject({ base: 'mobilenet_v2', larger: PAIR, largerCostRatio: 13, fastDeviceDefault: 'larger' });
    // With the policy as shipped: a fast device (desktop-class) gets the pair, a phone keeps MobileNetV2.
    expect(chooseBackbone(both, { forwardMs: 15 }, null)).toMatchObject({ backbone: PAIR, by: 'rule', fastDevice: true, offerLarger: true });
    expect(chooseBackbone(both, { forwardMs: 15 }, null).reason).toContain(`~195 ms`);
    expect(chooseBackbone(both, { forwardMs: 91 }, null)).toMatchObject({ backbone: 'mobilenet_v2', fastDevice: false, offerLarger: false });
    // A server without the pair (an old manifest, or the operator left it out): MobileNetV2, and InceptionV3 only if chosen.
    expect(chooseBackbone(['mobilenet_v2', 'inception_v3'], { forwardMs: 15 }, null)).toMatchObject({ backbone: 'mobilenet_v2', offerLarger: false });
    expect(chooseBackbone(['mobilenet_v2', 'inception_v3'], { forwardMs: 15 }, null).reason).toBe(`${PAIR} is not served: mobilenet_v2`);
  });

  it('keeps InceptionV3 alone choosable by a person, on a fast device too', () => {
    expect(chooseBackbone(both, { forwardMs: 15 }, 'inception_v3')).toMatchObject({ backbone: 'inception_v3', by: 'person', ruleBackbone: PAIR });
  });

  it('keeps the base backbone on a slow (phone-class) device, without offering the larger', () => {
    const choice = chooseBackbone(both, { forwardMs: 91 }, null, largerByDefault);
    expect(choice).toMatchObject({ backbone: 'mobilenet_v2', fastDevice: false, offerLarger: false });
    expect(choice.reason).toContain('not fast enough');
  });

  it('decides at the threshold exactly: an estimate equal to it counts as fast', () => {
    expect(chooseBackbone(both, { forwardMs: edgeMs }, null).fastDevice).toBe(true);
    expect(chooseBackbone(both, { forwardMs: edgeMs * 1.01 }, null).fastDevice).toBe(false);
  });

  it("follows the person's choice over the rule, when it is served", () => {
    expect(chooseBackbone(both, { forwardMs: 91 }, 'inception_v3')).toMatchObject({ backbone: 'inception_v3', by: 'person', ruleBackbone: 'mobilenet_v2' });
    expect(chooseBackbone(['mobilenet_v2'], { forwardMs: 5 }, 'inception_v3', largerByDefault)).toMatchObject({ backbone: 'mobilenet_v2', by: 'rule', offerLarger: false });
  });
});
