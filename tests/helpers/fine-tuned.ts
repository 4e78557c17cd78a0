/**
 * A fine-tuned model for tests, without training: the backbone's own top block (cut where
 * shared/model/backbone-split.ts cuts for `unfreeze: 1`) with its weights perturbed by a seeded few per cent,
 * so the personal embedding really differs from the frozen one, plus a seeded test head. Needs
 * TF.js on the active backend (Node side of the tests).
 */
import type { Backbone } from '../../shared/model/backbone.ts';
import { splitBackbone } from '../../shared/model/backbone-split.ts';
import { bytesToBase64 } from '../../shared/util/base64.ts';
import type { HeadDocument } from '../../shared/head/document.ts';
import { mulberry32 } from '../../shared/util/random.ts';
import { makeTestHead, type TestHeadOptions } from './heads.ts';

/** A fine-tuned head document on the loaded backbone with tail weights perturbed by up to `jitter`. */
export async function makeFineTunedDoc(
  backbone: Backbone,
  options: TestHeadOptions & { jitter?: number } = {},
): Promise<HeadDocument> {
  const manifest = backbone.manifest;
  const split = splitBackbone(backbone, { unfreeze: 1 });
  const tail = await split.initialTail();
  const values = new Float32Array(tail.weightData.buffer.slice(tail.weightData.byteOffset, tail.weightData.byteOffset + tail.weightData.byteLength));
  const random = mulberry32((options.seed ?? 1) + 1000);
  const jitter = options.jitter ?? 0.05;
  for (let i = 0; i < values.length; i++) values[i] = (values[i] as number) * (1 + jitter * (random() * 2 - 1));
  const head = makeTestHead(manifest, { classes: ['circle', 'square', 'other'], name: 'fine-tuned test model', ...options });
  return {
    ...head,
    backboneTail: {
      cut: split.cut,
      cutShape: split.cutShape,
      parts: split.tailParts,
      modelTopology: tail.modelTopology,
      weightSpecs: tail.weightSpecs,
      weightData: bytesToBase64(new Uint8Array(values.buffer)),
    },
  };
}
