/**
 * The backbone choice rule (client/lib/backbone-choice.ts): the base backbone unless the measured
 * base forward time says the device is fast, then the larger one offered, and made the default only
 * when the policy says fast devices default to it; the person's choice wins; unserved choices fall
 * back.
 */
import { describe, expect, it } from 'vitest';
import { BACKBONE_RULE, chooseBackbone, type BackboneRule } from '../../client/lib/backbone-choice.ts';

const both = ['mobilenet_v2', 'inception_v3'];
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
    expect(chooseBackbone(both, { forwardMs: edgeMs * 0.9 }, null, largerByDefault)).toMatchObject({ backbone: 'inception_v3', ruleBackbone: 'inception_v3', by: 'rule' });
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
