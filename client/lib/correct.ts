/**
 * Correct in one tap (issue 18): the person says what a photo the model got wrong really is, and
 * the model learns from it.
 *
 * `correct()`:
 * 1. stores the photo as an example of that class (a new class if asked) at once, as `addExample`
 *    does (its 299-px copy, its own embedding; its augmented views follow in the background),
 *    reusing the embedding `predict()` computed for it (no second backbone pass) when the
 *    prediction gives one on the loaded backbone (a fine-tuned model's does not: it is computed
 *    then);
 * 2. remembers the photo by its key (client/lib/corrections.ts), in the same transaction: the same
 *    photo is predicted as corrected from then on, whatever the retrained model says. A photo
 *    corrected before is not stored twice: its example moves to the new class. The photo leaves
 *    the unlabeled pool if it was there, and Predict's photos are not kept there again;
 * 3. retrains the model in the background (client/lib/retrain.ts): the current head from its own
 *    weights (shared/learn/warm-start.ts), judged by the guard as Train is, stored and synced as
 *    Train's heads are (only the head syncs; photos and labels stay on the device). One training at
 *    a time: a correction made while another training runs is stored at once, waits, and takes
 *    part in the next one; corrections made meanwhile share it. `retrained` settles when that is
 *    done.
 *
 * Nothing here uses the network: corrections work offline.
 *
 * A crop head (a head with a `crop`, kept by Train when finding the object first helped) keeps its
 * crop: its head retrains, from its own weights, on every stored photo's crop embedding
 * (client/lib/retrain-crop.ts), the corrected photo's included: it is cut at the box the prediction
 * used, from the original photo as any example's, and its embedding is the prediction's
 * (`PredictResult.cropEmbedding`: no second pass for the crop); the report's `cropRetraining` says so, or why
 * the model was retrained as a whole-frame head instead (e.g. kNN beat it on the crops). A
 * detector-crop head's prediction gives the photo its detector crop the same way
 * (client/lib/detector-crop-make.ts `storePredictedDetectorCrop`).
 *
 * A fine-tuned model (a head with a `backboneTail`, made by `improve()`) keeps its tail: only its
 * head retrains, from its own weights, on the embeddings the tail gives every stored photo's views
 * (client/lib/retrain-tail.ts; kept in memory per tail by client/lib/tail-embeddings.ts, so a
 * second correction passes only the photos new since the first). The guard judges it on those
 * embeddings; when it prefers kNN, which a fine-tuned model does not predict with, the model is
 * retrained as Train retrains it, a plain head on the frozen embeddings, and the report's
 * `fineTuned` says so (and why).
 */
import type { ClassRecord } from './db.ts';
import { currentBackbone } from './current-backbone.ts';
import { correctedExample } from './corrections.ts';
import type { EmbedSource } from './embed.ts';
import { addClass, addExampleWith, listClasses, moveExample, type TeachExtras } from './examples.ts';
import { cropSettingOf } from './example-crops.ts';
import { storePredictedDetectorCrop } from './detector-crop-make.ts';
import { getHead } from './heads.ts';
import { sameHeadCrop } from '../../shared/head/crop.ts';
import type { Backbone } from '../../shared/model/backbone.ts';
import { photoKeyOf } from './photo-key.ts';
import type { PredictResult } from './predict.ts';
import { retrainSoon } from './retrain.ts';
import { forgetUnlabeledPhoto } from './unlabeled.ts';
import type { TrainReport } from './train.ts';

/** What a photo really is: a class that exists, or a new class by name (an existing class of that name, ignoring case, is used). */
export type CorrectLabel = { classId: string } | { newClassName: string };

/** Options of {@link correct}. */
export interface CorrectOptions {
  /** The photo's prediction: its embedding and key are reused (the source must be the photo it predicted). */
  prediction?: PredictResult;
  /** The personal model to retrain (default: the active one when the retraining starts). */
  headId?: string;
}

/** What {@link correct} and `labelUnlabeled` did. */
export interface Correction {
  /** The example the photo is now. */
  exampleId: string;
  classId: string;
  /** The photo's key, by which it is remembered (`PredictResult.photoKey`). */
  photoKey: string;
  /**
   * Settles when the retrained model is stored and in use, or the guard kept the previous one
   * (the report says which: `outcome`, `saved`). Rejects only on failure (e.g. fewer than two
   * classes with photos). Ignoring it is safe.
   */
  retrained: Promise<TrainReport>;
}

/**
 * Teaches that `source` is of class `label` and retrains the model in the background (module
 * comment). Resolves once the photo is stored and remembered. Throws a RangeError for an unknown
 * class or an empty name, a `StorageError` when the device is full (nothing stored then).
 */
export async function correct(source: EmbedSource, label: CorrectLabel, options: CorrectOptions = {}): Promise<Correction> {
  const { prediction } = options;
  const [photoKey, classId] = await Promise.all([prediction?.photoKey ?? photoKeyOf(source), classOf(label)]);
  const earlier = await correctedExample(photoKey);
  let exampleId: string;
  if (earlier) {
    // The same photo again: its example changes class (one example per photo).
    if (earlier.classId !== classId) await moveExample(earlier.exampleId, classId);
    exampleId = earlier.exampleId;
  } else {
    // Reused only if it is on the backbone examples are stored for (a head may run on another).
    const backbone = currentBackbone();
    const embedding = prediction?.embedding && prediction.head.backbone === backbone.ref ? prediction.embedding : undefined;
    const crop = prediction && (await predictedCrop(prediction, backbone));
    exampleId = (await addExampleWith(classId, source, {}, { rememberAs: photoKey, ...(embedding ? { embedding } : {}), ...(crop ? { crop } : {}) })).id;
    // A detector-crop head's prediction found the photo's detector crop: kept, not computed again.
    if (prediction) await storePredictedDetectorCrop(exampleId, prediction, backbone);
  }
  // Labelled now: no longer a photo to ask about (kept in the pool from Predict, say).
  await forgetUnlabeledPhoto(photoKey);
  return { exampleId, classId, photoKey, retrained: retrainSoon(options.headId) };
}

/**
 * The crop a crop head's prediction found and embedded, when it is the crop the photo's example
 * gets: a personal head on `backbone`, whose crop setting is the one examples' crops are cut with.
 */
async function predictedCrop(prediction: PredictResult, backbone: Backbone): Promise<TeachExtras['crop']> {
  const { crop, cropEmbedding, head } = prediction;
  if (!crop || !cropEmbedding || head.kind !== 'personal' || head.backbone !== backbone.ref) return undefined;
  const setting = (await getHead(head.id))?.crop;
  const made = cropSettingOf(backbone);
  return setting && made && sameHeadCrop(setting, made) ? { box: crop.box, embedding: cropEmbedding } : undefined;
}

/** The class id `label` names, adding the class when it is new (module comment of {@link CorrectLabel}). */
export async function classOf(label: CorrectLabel): Promise<string> {
  if ('classId' in label) return label.classId;
  const name = label.newClassName.trim();
  const same = (c: ClassRecord): boolean => c.name.toLocaleLowerCase() === name.toLocaleLowerCase();
  const existing = name ? (await listClasses()).find(same) : undefined;
  return (existing ?? (await addClass(name))).id;
}
