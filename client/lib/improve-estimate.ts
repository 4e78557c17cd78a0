/**
 * Before "Improve further" runs (client/lib/improve.ts): whether it can run (enough fresh photos a
 * class), whether it can fine-tune on the loaded backbone, and how large the kept model may be.
 * improve() reads the same checks, so the estimate and the run agree.
 */
import { splitBackbone, type BackboneSplit } from '../../shared/model/backbone-split.ts';
import type { Backbone } from '../../shared/model/backbone.ts';
import { currentBackbone, withBackboneLease } from './current-backbone.ts';
import { openTannerinDb, type ClassRecord, type StoredExampleRecord } from './db.ts';
import { embeddedIds } from './embedding-packs.ts';

/** Each class needs this many fresh photos: two to train on and one to hold out. */
export const MIN_PHOTOS_PER_CLASS = 3;
/** At most this many unlabeled photos (the newest) join self-training. */
export const MAX_UNLABELED = 500;

/**
 * Backbones "Improve further" cannot fine-tune, and why. InceptionV3 (cut at mixed7) has no smaller
 * trainable block than mixed7 itself (cut at mixed6: its branches all read mixed6): 2,143,872
 * weights, 11.4 MB as a head document (measured with splitBackbone and initialTail), over
 * `HEAD_LIMITS.maxDocumentBytes` (8 MiB), so fineTune would refuse it before training.
 */
const NOT_FINE_TUNABLE: Readonly<Record<string, string>> = {
  inception_v3: 'the last block of InceptionV3 (2.1 million weights) would make an 11.4 MB model, over the 8 MB a model can be stored and synced with',
};

/**
 * Why a pair (shared/model/backbone-pair.ts) is not fine-tuned: its embedding is two networks'
 * outputs side by side, with no one top block to retrain. Retraining MobileNetV2's inside it would
 * change a third of the embedding and keep InceptionV3's, a model no runtime here could run as one
 * (fine-tuned models carry one backbone's tail), and InceptionV3's own block is refused above.
 */
const PAIR_REFUSAL = 'the image model in use is a pair of two networks (their outputs side by side), with no single top block to retrain; switch to MobileNetV2 alone to fine-tune';

/**
 * Why "Improve further" cannot fine-tune on `backbone` (a sentence for the person), or null when it
 * can: fine-tuning runs on MobileNetV2 only (see {@link NOT_FINE_TUNABLE}, {@link PAIR_REFUSAL}).
 */
export function fineTuneRefusal(backbone: Backbone): string | null {
  if (backbone.members) return `Fine-tuning runs on the MobileNetV2 image model only: ${PAIR_REFUSAL}.`;
  const known = NOT_FINE_TUNABLE[backbone.manifest.id];
  if (known) return `Fine-tuning runs on the MobileNetV2 image model only: ${known}.`;
  try {
    backboneSplit(backbone);
    return null;
  } catch {
    return `Fine-tuning runs on the MobileNetV2 image model only: ${backbone.manifest.id} has no top block it can retrain.`;
  }
}

const splits = new WeakMap<Backbone, BackboneSplit>();
const tailBytes = new WeakMap<Backbone, number>();

/** The loaded backbone split at its top block (one per backbone; holds no tensors of its own). */
export function backboneSplit(backbone: Backbone): BackboneSplit {
  let split = splits.get(backbone);
  if (!split) {
    split = splitBackbone(backbone, { unfreeze: 1 });
    splits.set(backbone, split);
  }
  return split;
}

/** Examples fresh on backbone `ref` (embedded on it), per class, in display order. */
export async function freshExamples(ref: string): Promise<{ classes: ClassRecord[]; records: Map<string, StoredExampleRecord[]> }> {
  const db = await openTannerinDb();
  const tx = db.transaction(['classes', 'examples', 'embeddingPacks']);
  const [classes, examples, embedded] = await Promise.all([
    tx.objectStore('classes').index('by-order').getAll(),
    tx.objectStore('examples').getAll(),
    embeddedIds(tx.objectStore('embeddingPacks')),
  ]);
  const fresh = embedded.get(ref) ?? new Set<string>();
  const records = new Map<string, StoredExampleRecord[]>();
  for (const r of examples) {
    if (!fresh.has(r.id)) continue;
    const list = records.get(r.classId) ?? [];
    list.push(r);
    records.set(r.classId, list);
  }
  return { classes: classes.filter((c) => records.has(c.id)), records };
}

/**
 * Before running: the expected size of a fine-tuned model (its tail's weights as base64 plus a
 * head for the current classes), whether there are enough photos (two classes, each with
 * {@link MIN_PHOTOS_PER_CLASS}), and how many unlabeled photos there are.
 */
export async function improveEstimate(): Promise<{ sizeBytes: number; ready: boolean; reason?: string; unlabeled: number; fineTuneRefusal?: string }> {
  const backbone = currentBackbone();
  const refusal = fineTuneRefusal(backbone);
  // Without fine-tuning, the largest model a run can keep is a head.
  let tail = refusal ? 0 : tailBytes.get(backbone);
  if (tail === undefined) {
    const initial = await withBackboneLease(backbone, () => backboneSplit(backbone).initialTail());
    tail = Math.ceil(initial.weightData.length / 3) * 4 + JSON.stringify(initial.modelTopology).length + 200;
    tailBytes.set(backbone, tail);
  }
  const { classes, records } = await freshExamples(backbone.ref);
  const dim = backbone.manifest.embedding.size;
  const classCount = Math.max(2, classes.length);
  // Head weights (float32 as base64), its topology, and the input transform's mean as JSON numbers (~20 characters each).
  const head = Math.ceil(((dim + 1) * classCount * 4) / 3) * 4 + 2_000 + dim * 20;
  const db = await openTannerinDb();
  const unlabeled = await db.count('unlabeled');
  const short = classes.filter((c) => (records.get(c.id)?.length ?? 0) < MIN_PHOTOS_PER_CLASS);
  let reason: string | undefined;
  if (classes.length < 2) reason = 'Teach at least two classes first.';
  else if (short.length) reason = `Each class needs at least ${MIN_PHOTOS_PER_CLASS} photos; add more to ${short.map((c) => `"${c.name}"`).join(', ')}.`;
  return { sizeBytes: tail + head, ready: reason === undefined, ...(reason ? { reason } : {}), unlabeled, ...(refusal ? { fineTuneRefusal: refusal } : {}) };
}
