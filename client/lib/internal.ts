/**
 * The library's internals, for tannerin's own app (client/app/) and test harness
 * (client/test-pages/, tests/browser/) only: the public API (client/lib/index.ts) plus storage
 * records and the database, codecs, caches, sync internals and test hooks. An app built on the
 * library uses client/lib/index.ts; nothing here is promised to stay.
 */
export * from './index.ts';
export { activeBackend, type BackendBuild } from './backend.ts';
export { wasmBackendInfo } from '../../shared/model/wasm-backend.ts';
export { splitBackbone } from '../../shared/model/backbone-split.ts';
export { pixelsOf, pixelsOfBytes, initDecoder, downscaleForUpload, encodeJpeg } from './embed.ts';
export { currentBackbone, setCurrentBackbone, defaultHeads, loadedBackbone } from './current-backbone.ts';
export { chooseBackbone, measureForwardMs, type BackboneRule } from './backbone-choice.ts';
export {
  storedBackboneChoice,
  loadStoredBackboneChoice,
  updateStoredBackboneChoice,
  chosenBackboneId,
  type StoredBackboneChoice,
} from './backbone-choice-store.ts';
export { backboneForHead } from './backbones.ts';
export { loadedManifest } from './model-store.ts';
export {
  getExample,
  moveExample,
  trainingSet,
  storedEmbeddings,
  PHOTO_COPY_SIDE,
  DEFAULT_AUGMENTED_VIEWS,
  type TrainingSet,
} from './examples.ts';
export {
  getHead,
  getHeadState,
  exportHead,
  headDocumentBytes,
  storeHead,
  checkHead,
  onHeadsChanged,
  type ExportedHead,
  type HeadChange,
} from './heads.ts';
export { restoreWithToken, isSyncEnabled } from './sync/account.ts';
export { queueHeadPush } from './sync/loop.ts';
export { CONFLICT_SUFFIX, SYNC_ENDED_MESSAGE, type OverallSyncStatus, type HeadSyncInfo } from './sync/status.ts';
export { cleanDeviceLabel, MAX_DEVICE_LABEL_LENGTH, type DeviceLabelFacts } from './device-label.ts';
export { predictEmbedding, clearPredictCache, type EmbeddingPredictResult } from './predict.ts';
export { correctedClass, type CorrectionRecord } from './corrections.ts';
export { photoKeyOf } from './photo-key.ts';
export { retrainingsStarted } from './retrain.ts';
export { clearTailEmbeddings, tailEmbeddingsCached, tailIdentity } from './tail-embeddings.ts';
export { TRAINING_LOCK } from './training-lock.ts';
export { DEFAULT_UNLABELED_POLICY } from './unlabeled.ts';
export {
  completePendingViews,
  pendingViewsSettled,
  pendingViewsState,
  resumePendingViews,
  VIEWS_LOCK,
  type PendingViewsState,
  type ViewsOutcome,
} from './pending-views.ts';
export { completePendingCrops, pendingCropsSettled, pendingCropsState, type CropOutcome } from './pending-crops.ts';
export { cropExamples, cropPackRef, cropSettingOf, embedWithBox } from './example-crops.ts';
export { storageErrorMessage, StorageError } from './storage.ts';
export {
  appendToPacks,
  putEmbeddings,
  deleteEmbeddings,
  readEmbeddings,
  readExampleEmbeddings,
  embeddedIds,
  packEntries,
  PACK_MAX_EXAMPLES,
  PACK_MAX_FLOATS,
  type EmbeddingEntry,
} from './embedding-packs.ts';
export {
  openTannerinDb,
  closeTannerinDb,
  photoConversion,
  readPhotoBytes,
  DB_NAME,
  DB_VERSION,
  type TannerinDb,
  type TannerinSchema,
  type ModelFileRecord,
  type ManifestRecord,
  type ExampleRecordWithBlobPhoto,
  type StoredExampleRecord,
  type UnlabeledRecord,
  type UnlabeledRecordWithBlobPhoto,
  type StoredUnlabeledRecord,
  type PhotoBytes,
  type StoredPhoto,
  type PhotoConversionReport,
  type PendingMigrationRecord,
  type EmbeddingPackRecord,
  type ExampleView,
  type HeadStateRecord,
  type TrainingSummary,
  type SettingRecord,
  type SyncAccountRecord,
  type SyncStateRecord,
  type HeadSyncStatus,
  type OpenOptions,
} from './db.ts';
export { broadcast, onBroadcast, notifyChange, CHANNEL_NAME } from './changes.ts';
export { augmentedViews, type AugmentedView, type AugmentOptions, type AugmentOp } from '../../shared/image/augment.ts';
export type { GuardResult, CandidateResult, Comparison, RecipeComparison, RecipeCandidate, RecipeName } from '../../shared/learn/guard.ts';
export type { HeadMetrics } from '../../shared/head/document.ts';
export { type ImproveRecipe, type ImproveCandidate } from './improve.ts';
export { MIN_PHOTOS_PER_CLASS } from './improve-estimate.ts';
