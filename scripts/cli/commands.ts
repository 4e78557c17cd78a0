/**
 * The CLI's commands: `embed`, `train`, `eval`. Each takes parsed options and an {@link Output};
 * argument parsing and error-to-exit-code mapping live in scripts/cli/main.ts.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Example } from '../../shared/learn/examples.ts';
import { withHeadCrop, type HeadDocument, type HeadMetrics } from '../../shared/head/document.ts';
import { fitKnn } from '../../shared/learn/knn.ts';
import { argMax, loadPredictor } from '../../shared/predict/predictor.ts';
import { backboneRef, type BackboneManifest } from '../../shared/model/manifest.ts';
import { computeMetrics } from '../../shared/learn/metrics.ts';
import { predictProbabilities, selfTrain, type UnlabeledExample } from '../../shared/learn/self-train.ts';
import { foldExamples, type Split } from '../../shared/learn/split.ts';
import { trainHead, type EpochProgress } from '../../shared/learn/train-head.ts';
import { DataError, readFolderImage, scanImageFolder, type ImageFolder } from '../image-folder.ts';
import { readHeadDir, writeHeadDir } from './head-dir.ts';
import { createProgress, type Progress } from './progress.ts';
import { formatMetrics, pct } from './report.ts';
import { embedImages, mapImages, openBackbone, startRuntime, withHeadBackbone } from './runtime.ts';
import type { EmbedArgs, EvalArgs, TrainArgs } from './command-args.ts';
import type { Output } from './output.ts';

function describeFolder(folder: ImageFolder, out: Output): void {
  const counts = new Map<string, number>();
  for (const image of folder.images) counts.set(image.label, (counts.get(image.label) ?? 0) + 1);
  out.info(`${folder.images.length} images in ${folder.classes.length} classes: ${folder.classes.map((c) => `${c} (${counts.get(c)})`).join(', ')}`);
  if (folder.skipped.length) {
    out.warn(`skipped ${folder.skipped.length} file(s) that are not .png/.jpg/.jpeg images in class folders, e.g. ${folder.skipped.slice(0, 3).join(', ')}`);
  }
}

/** JSON for one float32 value: 9 significant digits, enough to read back the same float32. */
function float32Json(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(9))) : 'null';
}

/** `tannerin embed`: one JSON line per image, `{"path", "label", "embedding"}`. */
export async function embedCommand(args: EmbedArgs, out: Output): Promise<void> {
  const folder = scanImageFolder(args.data, { role: '--data' });
  describeFolder(folder, out);
  const file = resolve(args.out);
  await startRuntime();
  const backbone = await openBackbone();
  let fd: number;
  try {
    mkdirSync(dirname(file), { recursive: true });
    fd = openSync(file, 'w');
  } catch (error) {
    throw new DataError(`--out: cannot write ${args.out}: ${(error as Error).message}`);
  }
  try {
    // Embedded and written one image at a time: the output can be far larger than memory needs to be.
    await mapImages(
      folder.images,
      backbone.manifest.normalization,
      'embedding',
      async (input, image) => {
        const embedding = await backbone.embedPreprocessed(input);
        writeSync(fd, `{"path":${JSON.stringify(image.path)},"label":${JSON.stringify(image.label)},"embedding":[${Array.from(embedding, float32Json).join(',')}]}\n`);
      },
      out.quiet,
    );
  } finally {
    closeSync(fd);
    backbone.dispose();
  }
  out.info(`wrote ${folder.images.length} embeddings (${backbone.manifest.embedding.size} floats each, backbone ${backbone.ref}) to ${args.out}`);
  out.result({ out: args.out, n: folder.images.length, size: backbone.manifest.embedding.size, backbone: backbone.ref });
}

/** Reports trainHead's epochs as one progress bar per phase. */
function epochReporter(out: Output): { onProgress: (e: EpochProgress) => void; finish: () => void } {
  let phase: string | null = null;
  let bar: Progress | null = null;
  let last: EpochProgress | null = null;
  const finish = (): void => {
    if (bar && last) bar.done(`${last.epoch} epochs${last.valAccuracy === null ? '' : `, held-out ${pct(last.valAccuracy)}`}`);
    bar = null;
  };
  return {
    onProgress(e) {
      if (e.phase !== phase) {
        finish();
        phase = e.phase;
        bar = createProgress(`training (${e.phase})`, e.epochs, { quiet: out.quiet });
      }
      last = e;
      bar?.update(e.epoch, e.valAccuracy === null ? `loss ${e.loss.toFixed(3)}` : `held-out ${pct(e.valAccuracy)}`);
    },
    finish,
  };
}

/** kNN (k=3, cosine) on the same split as the head: the baseline the guard compares against. */
function knnOnSplit(examples: readonly Example[], split: Split, backbone: BackboneManifest): { accuracy: number; n: number } {
  let correct = 0;
  let n = 0;
  for (const fold of split.folds) {
    const { train, validation } = foldExamples(examples, fold);
    if (!train.length) continue;
    const knn = fitKnn(train, backbone);
    for (const e of validation) {
      n++;
      if (knn.predict(e.embedding, 1)[0]?.label === e.label) correct++;
    }
  }
  return { accuracy: n ? correct / n : 0, n };
}

/** `tannerin train`: embeds the ImageFolder, trains a head (or self-trains, or fine-tunes), writes it. */
export async function trainCommand(args: TrainArgs, out: Output): Promise<void> {
  const data = scanImageFolder(args.data, { minClasses: 2, role: '--data' });
  describeFolder(data, out);
  if (args.recipe === 'finetune') {
    const { fineTuneCommand } = await import('./finetune-command.ts');
    await fineTuneCommand(args, data, out);
    return;
  }
  const unlabeledFolder = args.unlabeled ? scanImageFolder(args.unlabeled, { unlabeled: true, role: '--unlabeled' }) : null;
  if (unlabeledFolder) out.info(`${unlabeledFolder.images.length} unlabeled images`);
  await startRuntime();
  const backbone = await openBackbone();
  const manifest = backbone.manifest;
  let labeled: Example[];
  let unlabeled: UnlabeledExample[] = [];
  try {
    labeled = await embedImages(backbone, data.images, 'embedding --data', out.quiet, args.crop);
    if (unlabeledFolder) {
      const dataFiles = new Set(data.images.map((i) => i.file));
      const extra = unlabeledFolder.images.filter((i) => !dataFiles.has(i.file));
      if (extra.length < unlabeledFolder.images.length) out.warn(`${unlabeledFolder.images.length - extra.length} --unlabeled image(s) are also in --data; ignoring them as unlabeled`);
      unlabeled = (await embedImages(backbone, extra, 'embedding --unlabeled', out.quiet, args.crop)).map((e) => ({
        photoId: `unlabeled:${e.photoId}`,
        embedding: e.embedding,
        augmented: false,
      }));
    }
  } finally {
    backbone.dispose();
  }

  const reporter = epochReporter(out);
  const common = {
    backbone: manifest,
    seed: args.seed,
    onProgress: reporter.onProgress,
    ...(args.epochs === undefined ? {} : { epochs: args.epochs }),
    ...(args.name === undefined ? {} : { name: args.name }),
  };
  let doc: HeadDocument;
  let metrics: HeadMetrics;
  let summary: Record<string, unknown>;
  if (unlabeledFolder) {
    const result = await selfTrain(labeled, unlabeled, {
      ...common,
      ...(args.threshold === undefined ? {} : { threshold: args.threshold }),
      ...(args.rounds === undefined ? {} : { rounds: args.rounds }),
      onRound: (r) => {
        reporter.finish();
        out.info(
          `self-training round ${r.round}: ${r.pseudoLabeled} pseudo-labels` +
            (r.heldOutAccuracy === null ? ' (no labeled held-out photos at one photo per class)' : `, held-out ${pct(r.heldOutAccuracy)} of ${r.heldOutN}`),
        );
      },
    });
    reporter.finish();
    ({ doc, metrics } = result);
    out.info(
      result.validation === 'none'
        ? `kept round ${result.bestRound} (${result.pseudoLabels.length} pseudo-labels); with one photo in some class nothing could be held out, so the figures below are not a measurement`
        : `kept round ${result.bestRound} (${result.pseudoLabels.length} pseudo-labels), chosen on labeled held-out photos (${result.validation})`,
    );
    summary = { recipe: 'head', selfTraining: { bestRound: result.bestRound, pseudoLabels: result.pseudoLabels.length, validation: result.validation, rounds: result.rounds } };
  } else {
    const result = await trainHead(labeled, common);
    reporter.finish();
    ({ doc, metrics } = result);
    const knn = knnOnSplit(labeled, result.split, manifest);
    out.info(
      `held-out (${result.split.method === 'holdout' ? 'holdout split' : `${result.split.folds.length}-fold cross-validation`}): head ${pct(metrics.accuracy)}, ` +
        `kNN (k=3, cosine) ${pct(knn.accuracy)} on the same ${knn.n} photos; best epoch ${result.bestEpoch}`,
    );
    summary = { recipe: 'head', knnAccuracy: knn.accuracy, split: result.split.method, bestEpoch: result.bestEpoch };
  }
  // Trained on crops: the head says so, and every runtime cuts a photo the same way before predicting it.
  if (args.crop) {
    doc = withHeadCrop(doc, args.crop);
    summary = { ...summary, crop: args.crop };
    out.info(`trained on feature-map crops (${args.crop.layer}, threshold ${args.crop.threshold}, pad ${args.crop.pad}): the head crops every photo it predicts`);
  }
  const files = writeHeadDir(args.out, doc);
  for (const line of formatMetrics(doc.classes, metrics)) out.info(line);
  out.info(`wrote ${files.map((f) => `${f.path} (${(f.bytes / 1024).toFixed(0)} KiB)`).join(', ')}`);
  out.result({ ...metrics, classes: doc.classes, out: args.out, id: doc.id, backbone: backboneRef(manifest), ...summary });
}

/**
 * Each photo's best class through the prediction layer from its pixels (`predictPixels`), as the
 * app and the edge predict: a head that records test-time augmentation averages over the photo
 * and its views (one backbone pass each), a head with a crop predicts the photo's crop (one more
 * pass finds the box), a fine-tuned model runs its own layers.
 */
async function predictPhotos(doc: HeadDocument, data: ImageFolder, out: Output): Promise<string[]> {
  return withHeadBackbone(doc, async (backbone) => {
    const predictor = await loadPredictor(doc, backbone);
    try {
      const views = doc.testTimeAugmentation?.views ?? 0;
      const what = [doc.crop ? `${doc.crop.method} crop` : '', views ? `each photo and ${views} views` : ''].filter(Boolean).join(', ');
      const progress = createProgress(what ? `backbone (${what})` : 'backbone', data.images.length, { quiet: out.quiet });
      const predicted: string[] = [];
      for (const [i, image] of data.images.entries()) {
        progress.update(i, image.path);
        predicted.push((await predictor.predictPixels(await readFolderImage(image), 1))[0]?.label as string);
      }
      progress.done();
      return predicted;
    } finally {
      predictor.dispose();
    }
  });
}

/** `tannerin eval`: accuracy, per-class accuracy and confusion of a head on a labeled ImageFolder. */
export async function evalCommand(args: EvalArgs, out: Output): Promise<void> {
  const doc = readHeadDir(args.head);
  const data = scanImageFolder(args.data, { role: '--data' });
  describeFolder(data, out);
  const unknown = data.classes.filter((c) => !doc.classes.includes(c));
  if (unknown.length) {
    throw new DataError(`--data has class folder(s) ${unknown.map((c) => `"${c}"`).join(', ')} that the head does not know (its classes: ${doc.classes.join(', ')})`);
  }
  let predicted: string[];
  // A head that averages views or crops each photo predicts from the photo's pixels, as the app and the edge do.
  if (doc.testTimeAugmentation || doc.crop) {
    predicted = await predictPhotos(doc, data, out);
  } else if (doc.backboneTail) {
    const { predictWithPersonalModel } = await import('./finetune-command.ts');
    predicted = await predictWithPersonalModel(doc, data, out);
  } else {
    predicted = await withHeadBackbone(doc, async (backbone) => {
      const examples = await embedImages(backbone, data.images, 'embedding', out.quiet);
      const probabilities = await predictProbabilities(doc, backbone.manifest, examples.map((e) => e.embedding));
      return probabilities.map((p) => doc.classes[argMax(p)] as string);
    });
  }
  const metrics = computeMetrics(doc.classes, data.images.map((i) => i.label), predicted);
  out.info(`head "${doc.name}" (${doc.classes.length} classes) on ${args.data}:`);
  if (doc.crop) out.info(`crop: each photo cut to the box its ${doc.crop.method === 'featuremap' ? `${doc.crop.layer} feature map` : 'detector'} gives before it is predicted (as the app and the edge predict)`);
  if (doc.testTimeAugmentation) out.info(`test-time augmentation: each photo's scores averaged with its ${doc.testTimeAugmentation.views} augmented views (as the app and the edge predict)`);
  for (const line of formatMetrics(doc.classes, metrics)) out.info(line);
  out.result({ accuracy: metrics.accuracy, perClass: metrics.perClass, confusion: metrics.confusion, n: metrics.n, classes: doc.classes });
}
