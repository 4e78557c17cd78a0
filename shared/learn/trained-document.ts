/**
 * The head document a training assembles for a head it fitted: the one place trainHead
 * (./train-head.ts, softmax) and trainLdaHead (./train-lda.ts, LDA) turn a fitted head into the
 * shared document (shared/head/document.ts), so both record the same metadata the same way: the
 * id, the name (default: the class names), the classes, the backbone's ref, the input transform
 * the head was fitted with, the held-out metrics and the time it was made.
 */
import { makeHeadDocument, type HeadDocument, type HeadMetrics, type SavedArtifacts } from '../head/document.ts';
import { backboneRef, type BackboneManifest, type InputTransform } from '../model/manifest.ts';

/** What one training records in every document it makes (its judged twin's and the final head's alike). */
export interface TrainedHeadInfo {
  id: string;
  /** Default: the class names, comma-separated. */
  name: string | undefined;
  classes: readonly string[];
  backbone: BackboneManifest;
  /** The held-out metrics (pooled over folds with cross-validation). */
  metrics: HeadMetrics;
}

/**
 * The document of a head fitted with `input` (its transform), its weights `artifacts` (read after
 * the time is taken, as each trainer did).
 */
export async function trainedHeadDocument(info: TrainedHeadInfo, input: InputTransform, artifacts: () => Promise<SavedArtifacts>): Promise<HeadDocument> {
  const meta = {
    id: info.id,
    name: info.name ?? info.classes.join(', '),
    classes: info.classes.slice(),
    backbone: backboneRef(info.backbone),
    input,
    metrics: info.metrics,
    created: new Date().toISOString(),
  };
  return makeHeadDocument(meta, await artifacts());
}
