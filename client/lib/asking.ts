/**
 * The app asks (issue 18 pt 2): of the unlabeled photos (client/lib/unlabeled.ts), the few whose
 * labels would teach the current model most, chosen by shared/learn/ask.ts `chooseToAsk` (from
 * the classes with the fewest labels by the model's guess, the least certain, spread across what
 * the model sees, in dense regions, no near-duplicates); one tap
 * each labels one ({@link labelUnlabeled}: it moves to the examples and the model retrains in the
 * background, as after a correction) or skips it ({@link skipAsked}).
 *
 * What `chooseToAsk` is given, through shared/learn/ask-space.ts `askAbout` (as the evaluation
 * gives it): each photo's embedding on the head's backbone and the stored examples of the model's
 * classes (kNN's space is fitted on them), and the current model's probabilities for the photo
 * (head, kNN or fine-tuned model, as `predict` answers, without test-time augmentation).
 *
 * Embeddings of the pool are cached in each unlabeled record (`UnlabeledRecord.embedding`, one
 * backbone at a time): a photo kept from Predict brings the one its prediction computed; the others
 * are computed from their stored copy the first time they are considered, and recomputed only
 * after a switch to another backbone. The backbone is leased while they are computed; every tensor
 * is disposed by `Backbone.embed` and the predictions (the tensor count stays flat).
 */
import { askAbout } from '../../shared/learn/ask-space.ts';
import { rankPredictions } from '../../shared/predict/predictor.ts';
import type { Prediction } from '../../shared/api/types.ts';
import { yieldToEventLoop } from '../../shared/util/yield.ts';
import { sha256Hex } from '../../shared/util/hash.ts';
import { backboneForHead } from './backbones.ts';
import { notifyChange } from './changes.ts';
import { currentBackbone, withBackboneLease } from './current-backbone.ts';
import { openTannerinDb, readPhotoBytes, type PhotoBytes, type StoredUnlabeledRecord } from './db.ts';
import { pixelsOfBytes } from './embed.ts';
import { addExampleWith, trainingSet } from './examples.ts';
import { activeHeadId } from './heads.ts';
import { classOf, type CorrectLabel, type Correction } from './correct.ts';
import { predict, predictEmbedding } from './predict.ts';
import { retrainSoon } from './retrain.ts';

/** A photo the app asks about. */
export interface AskedPhoto {
  /** The unlabeled photo's id (for {@link labelUnlabeled} and {@link skipAsked}). */
  id: string;
  /** Its stored copy. */
  photo: PhotoBytes;
  /** The model's best three classes for it. */
  guess: Prediction[];
  /** 0..1, higher = the model is less sure (1 - the margin between its two best classes). */
  uncertainty: number;
}

/**
 * Up to `count` unlabeled photos to ask about, best first (module comment), for the personal model
 * `options.headId` (default: the active one). Skipped photos are never offered. Empty when there is
 * no personal model, no photo to ask about, or no stored example of the model's classes on its
 * backbone (the space photos are compared in is fitted on them). The first call after photos were
 * added embeds them (one backbone pass each, from the stored copies); a model on a backbone not on
 * the device throws `BackboneNeededError`.
 */
export async function photosToAsk(count = 5, options: { headId?: string } = {}): Promise<AskedPhoto[]> {
  const headId = options.headId ?? (await activeHeadId());
  if (headId === null) return [];
  const db = await openTannerinDb();
  const doc = await db.get('heads', headId);
  if (!doc) return [];
  const records = (await db.getAllFromIndex('unlabeled', 'by-created')).filter((r) => r.skipped !== true);
  if (records.length === 0 || count <= 0) return [];
  // chooseToAsk fed as the evaluation feeds it (shared/learn/ask-space.ts): kNN's space, fitted on
  // the stored examples of the model's classes (every view). Read first: without any, nothing can
  // be asked, and embedding and predicting the whole pool would be wasted.
  const examples = (await trainingSet(doc.backbone)).examples.filter((e) => doc.classes.includes(e.label));
  if (examples.length === 0) return [];
  const backbone = await backboneForHead(doc.backbone, doc.name);
  const embeddings = await withBackboneLease(backbone, () => poolEmbeddings(records, backbone.ref, (pixels) => backbone.embed(pixels)));

  const fineTuned = doc.backboneTail !== undefined;
  const probabilities: Float32Array[] = [];
  for (const r of records) {
    // A fine-tuned model reads its own top layers: it needs the photo, not the frozen embedding.
    const { predictions } = fineTuned
      ? await predict(await copyBlob(r), { headId, testTimeAugmentation: false })
      : await predictEmbedding(embeddings.get(r.id) as Float32Array, { headId });
    probabilities.push(Float32Array.from(doc.classes, (c) => predictions.find((p) => p.label === c)?.score ?? 0));
  }

  const chosen = askAbout(
    records.map((r, i) => ({ id: r.id, embedding: embeddings.get(r.id) as Float32Array, probabilities: probabilities[i] as Float32Array })),
    { examples, backbone: backbone.manifest, classes: doc.classes, count },
  );
  const byId = new Map(records.map((r, i) => [r.id, { record: r, p: probabilities[i] as Float32Array }]));
  return Promise.all(
    chosen.map(async (c) => {
      const { record, p } = byId.get(c.id) as { record: StoredUnlabeledRecord; p: Float32Array };
      return { id: c.id, photo: await readPhotoBytes(record.photo), guess: rankPredictions(doc.classes, p, 3), uncertainty: c.uncertainty };
    }),
  );
}

/**
 * Labels an unlabeled photo (one the app asked about, or any): it moves from the pool to the
 * examples of that class (a new class if asked), in one transaction, is remembered as corrected
 * (client/lib/corrections.ts), and the active model retrains in the
 * background (client/lib/retrain.ts, the same queue as corrections). Throws a RangeError for an
 * unknown photo or class.
 */
export async function labelUnlabeled(id: string, label: CorrectLabel): Promise<Correction> {
  const db = await openTannerinDb();
  const record = await db.get('unlabeled', id);
  if (!record) throw new RangeError(`no unlabeled photo ${id}`);
  const classId = await classOf(label);
  const photo = await readPhotoBytes(record.photo);
  // Kept from Predict: the key of the photo predicted; else the stored copy's (client/lib/photo-key.ts).
  const photoKey = record.photoKey ?? (await sha256Hex(photo.bytes));
  // Its cached embedding is the copy's, exactly what addExample would compute from it.
  const cached = record.embedding?.backbone === currentBackbone().ref ? record.embedding.data : undefined;
  const example = await addExampleWith(classId, new Blob([photo.bytes], { type: photo.type }), {}, {
    copy: { photo, width: record.width, height: record.height },
    fromUnlabeled: id,
    rememberAs: photoKey,
    ...(cached ? { embedding: cached } : {}),
  });
  return { exampleId: example.id, classId, photoKey, retrained: retrainSoon() };
}

/** Never asks about this photo again; it stays in the pool (self-training still uses it). Nothing happens for an unknown id. */
export async function skipAsked(id: string): Promise<void> {
  const db = await openTannerinDb();
  const tx = db.transaction('unlabeled', 'readwrite');
  const record = await tx.store.get(id);
  if (record) await tx.store.put({ ...record, skipped: true });
  await tx.done;
  if (record) notifyChange({ type: 'unlabeled-changed' });
}

/** A record's stored copy as a Blob (for `predict`). */
async function copyBlob(record: StoredUnlabeledRecord): Promise<Blob> {
  const { bytes, type } = await readPhotoBytes(record.photo);
  return new Blob([bytes], { type });
}

/**
 * Every record's embedding on backbone `ref`: its cached one, or computed from its copy by `embed`
 * and cached in the record (written only if the record is still there).
 */
async function poolEmbeddings(
  records: readonly StoredUnlabeledRecord[],
  ref: string,
  embed: (pixels: Awaited<ReturnType<typeof pixelsOfBytes>>) => Promise<Float32Array>,
): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  const computed: { id: string; data: Float32Array<ArrayBuffer> }[] = [];
  for (const r of records) {
    if (r.embedding?.backbone === ref) {
      out.set(r.id, r.embedding.data);
      continue;
    }
    const { bytes, type } = await readPhotoBytes(r.photo);
    const data = Float32Array.from(await embed(await pixelsOfBytes(bytes, type)));
    out.set(r.id, data);
    computed.push({ id: r.id, data });
    await yieldToEventLoop();
  }
  if (computed.length) {
    const tx = (await openTannerinDb()).transaction('unlabeled', 'readwrite');
    for (const { id, data } of computed) {
      const now = await tx.store.get(id);
      if (now) await tx.store.put({ ...now, embedding: { backbone: ref, data } });
    }
    await tx.done;
  }
  return out;
}
