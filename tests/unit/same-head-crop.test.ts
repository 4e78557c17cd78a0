/**
 * shared/head/crop.ts `sameHeadCrop`: two crop settings are the same exactly when they have the
 * same method and fields (what a correction checks before it reuses a crop head's prediction or
 * retrains the head on the photos' crops, client/lib/correct.ts and retrain-crop.ts).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_FEATURE_MAP_CROP, sameHeadCrop, type HeadCrop } from '../../shared/head/crop.ts';

describe('sameHeadCrop', () => {
  it('is true for equal settings, in any key order, and false for any other field, method or an extra field', () => {
    const copy: HeadCrop = { pad: 0.15, threshold: 0.5, layer: 'out_relu', method: 'featuremap' };
    expect(sameHeadCrop(DEFAULT_FEATURE_MAP_CROP, copy)).toBe(true);
    expect(sameHeadCrop(DEFAULT_FEATURE_MAP_CROP, { ...copy, threshold: 0.4 })).toBe(false);
    expect(sameHeadCrop(DEFAULT_FEATURE_MAP_CROP, { ...copy, layer: 'block_16_project' })).toBe(false);
    expect(sameHeadCrop(DEFAULT_FEATURE_MAP_CROP, { method: 'detector', detector: 'centernet-mobilenetv3', minScore: 0.3, pad: 0.15 })).toBe(false);
    const extra = { ...copy, more: 1 } as unknown as HeadCrop;
    expect(sameHeadCrop(DEFAULT_FEATURE_MAP_CROP, extra)).toBe(false);
    expect(sameHeadCrop(extra, DEFAULT_FEATURE_MAP_CROP)).toBe(false);
  });
});
