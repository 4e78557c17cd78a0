/**
 * `tannerin train --recipe finetune` and `tannerin eval` of fine-tuned models: both run the
 * backbone split at the cut (shared/model/backbone-split.ts), the frozen part once per image.
 */
import { fineTune, type FineTuneEpoch } from '../../shared/learn/fine-tune.ts';
import { splitBackbone } from '../../shared/model/backbone-split.ts';
import { argMax, loadPredictor, type FrozenActivations } from '../../shared/predict/predictor.ts';
import type { HeadDocument } from '../../shared/head/document.ts';
import { registerWasmGradientKernels } from '../../shared/model/wasm-grad-kernels.ts';
import type { ImageFolder } from '../image-folder.ts';
import type { TrainArgs } from './command-args.ts';
import type { Output } from './output.ts';
import { writeHeadDir } from './head-dir.ts';
import { createProgress, type Progress } from './progress.ts';
import { formatMetrics, pct } from './report.ts';
import { mapImages, openBackbone, startRuntime, withHeadBackbone } from './runtime.ts';

/** Fine-tunes the top block(s) + head on an ImageFolder and writes the personal model. */
export async function fineTuneCommand(args: TrainArgs, data: ImageFolder, out: Output): Promise<void> {
  await startRuntime();
  registerWasmGradientKernels();
  const backbone = await openBackbone();
  try {
    const split = splitBackbone(backbone, { unfreeze: args.unfreeze });
    const examples = await mapImages(
      data.images,
      backbone.manifest.normalization,
      'backbone (frozen part, once per image)',
      async (input, image) => {
        const frozen = await split.forward(input);
        return { photoId: image.path, label: image.label, embedding: frozen.embedding, cut: frozen.cut, augmented: false };
      },
      out.quiet,
    );
    let bar: Progress | null = null;
    let phase: FineTuneEpoch['phase'] | null = null;
    const onEpoch = (e: FineTuneEpoch): void => {
      if (e.phase !== phase) {
        bar?.done();
        phase = e.phase;
        bar = createProgress(e.phase === 'measure' ? 'fine-tuning (measured on held-out photos)' : 'fine-tuning (final model, all photos)', e.epochs, { quiet: out.quiet });
      }
      bar?.update(e.epoch, e.valAccuracy === null ? (e.loss === null ? '' : `loss ${e.loss.toFixed(3)}`) : `held-out ${pct(e.valAccuracy)}`);
    };
    out.info(`fine-tuning ${split.tailLayers.length} layers above ${split.cut} (recomputing ${split.tailParts.join(', ')}) with the head`);
    const result = await fineTune(split, examples, {
      backbone: backbone.manifest,
      seed: args.seed,
      onEpoch,
      ...(args.epochs === undefined ? {} : { epochs: args.epochs }),
      ...(args.name === undefined ? {} : { head: { name: args.name } }),
    });
    (bar as Progress | null)?.done();
    if (result.measured) {
      const n = result.metrics.n;
      out.info(
        `held-out (${n} photos, not trained on while measuring): fine-tuned ${pct(result.metrics.accuracy)}, ` +
          `plain head ${pct(result.baseline.accuracy)}; the written model was then trained on all photos for ${result.bestEpoch} epochs`,
      );
    } else {
      out.info('too few photos to hold any out (a class has one): trained on all photos, unmeasured; the figures below are the plain head’s own estimate');
    }
    const files = writeHeadDir(args.out, result.doc);
    for (const line of formatMetrics(result.doc.classes, result.metrics)) out.info(line);
    out.info(`wrote ${files.map((f) => `${f.path} (${(f.bytes / 1024).toFixed(0)} KiB)`).join(', ')}; head document ${(result.documentBytes / 1e6).toFixed(1)} MB`);
    out.result({
      ...result.metrics,
      classes: result.doc.classes,
      out: args.out,
      id: result.doc.id,
      backbone: backbone.ref,
      recipe: 'finetune',
      baselineAccuracy: result.baseline.accuracy,
      measured: result.measured,
      epochs: result.bestEpoch,
      cut: split.cut,
      documentBytes: result.documentBytes,
    });
  } finally {
    backbone.dispose();
  }
}

/** Predicted labels of a fine-tuned model (a head document with a backbone tail) for an ImageFolder. */
export async function predictWithPersonalModel(doc: HeadDocument, data: ImageFolder, out: Output): Promise<string[]> {
  const tail = doc.backboneTail;
  if (!tail) throw new Error('not a fine-tuned model');
  return withHeadBackbone(doc, async (backbone) => {
    const predictor = await loadPredictor(doc, backbone);
    try {
      // The frozen pass per image, then the model's own layers and head over all of them, batched.
      const frozen = await mapImages<FrozenActivations>(data.images, backbone.manifest.normalization, 'backbone', (input) => predictor.frozenPass(input), out.quiet);
      const probabilities = await predictor.probabilities(frozen);
      return probabilities.map((p) => doc.classes[argMax(p)] as string);
    } finally {
      predictor.dispose();
    }
  });
}
