/**
 * tannerin's browser library: start the TF.js backend, load (and keep) the models, embed images,
 * teach classes from photos, train personal heads on the device, predict offline, and move heads
 * in and out as standard TF.js files. Framework-free; the app builds on it and it never imports
 * the app. Nothing here sends photos or embeddings anywhere; head documents leave the device only
 * through an export or, once the user turns it on, sync (client/lib/sync.ts).
 *
 * ```ts
 * await startBackend();
 * await loadModels('https://api.example', { onProgress: (done, total) => bar(done / total) });
 * const cats = await addClass('cats');
 * const dogs = await addClass('dogs');
 * await addExample(cats.id, photoFile);          // embeds the photo and 3 augmented views, stores it
 * // ... more examples ...
 * const report = await train({ onProgress: (e) => chart(e), signal: abort.signal });
 * const { head, predictions } = await predict(cameraFrame);
 * ```
 */
export { startBackend, activeBackend, type BackendInfo, type BackendOptions, type BackendBuild } from './backend.ts';
export { loadModels, type LoadModelsOptions, type LoadedModels } from './model-store.ts';
export { embed, pixelsOf, pixelsOfBytes, initDecoder, downscaleForUpload, encodeJpeg, type EmbedSource, type EmbedOptions } from './embed.ts';
export { currentBackbone, setCurrentBackbone, defaultHeads } from './current-backbone.ts';
export {
  listClasses,
  addClass,
  renameClass,
  deleteClass,
  addExample,
  listExamples,
  getExample,
  deleteExample,
  moveExample,
  exampleCounts,
  trainingSet,
  reembedAll,
  PHOTO_COPY_SIDE,
  DEFAULT_AUGMENTED_VIEWS,
  type AddExampleOptions,
  type ExampleCounts,
  type TrainingSet,
  type ReembedOptions,
} from './examples.ts';
export { train, type TrainOptions, type TrainReport } from './train.ts';
export {
  listHeads,
  getHead,
  getHeadState,
  activeHeadId,
  setActiveHead,
  renameHead,
  deleteHead,
  exportHead,
  exportHeadBlobs,
  headDocumentBytes,
  importHead,
  storeHead,
  checkHead,
  onHeadsChanged,
  type HeadSummary,
  type ExportedHead,
  type ImportHeadOptions,
  type HeadChange,
} from './heads.ts';
export {
  enableSync,
  restoreWithToken,
  restoreWithPairingCode,
  createPairingCode,
  disableSync,
  isSyncEnabled,
  startSync,
  syncNow,
  queueHeadPush,
  resolveConflict,
  getSyncStatus,
  onSyncStatus,
  CONFLICT_SUFFIX,
  type SyncStatus,
  type OverallSyncStatus,
  type HeadSyncInfo,
  type EnableSyncOptions,
} from './sync.ts';
export { defaultDeviceLabel, cleanDeviceLabel, MAX_DEVICE_LABEL_LENGTH, type DeviceLabelFacts } from './device-label.ts';
export { predict, predictEmbedding, clearPredictCache, type PredictOptions, type PredictResult, type PredictingHead } from './predict.ts';
export {
  requestPersistence,
  storageEstimate,
  isQuotaError,
  storageErrorMessage,
  StorageError,
  type PersistenceResult,
  type StorageEstimate,
} from './storage.ts';
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
  type ClassRecord,
  type ExampleRecord,
  type ExampleRecordWithBlobPhoto,
  type StoredExampleRecord,
  type UnlabeledRecord,
  type UnlabeledRecordWithBlobPhoto,
  type StoredUnlabeledRecord,
  type PhotoBytes,
  type StoredPhoto,
  type PhotoConversionReport,
  type PendingMigrationRecord,
  type ExampleView,
  type HeadStateRecord,
  type TrainingSummary,
  type SettingRecord,
  type SyncAccountRecord,
  type SyncStateRecord,
  type HeadSyncStatus,
  type OpenOptions,
} from './db.ts';
export { broadcast, onBroadcast, notifyChange, onChange, CHANNEL_NAME, type TannerinMessage, type ChangeOrigin } from './changes.ts';
export { augmentedViews, type AugmentedView, type AugmentOptions, type AugmentOp } from '../../shared/image/augment.ts';
export type { EpochProgress } from '../../shared/learn/train-head.ts';
export type { GuardResult, CandidateResult, Comparison } from '../../shared/learn/guard.ts';
export type { HeadDocument, HeadMetrics } from '../../shared/head/document.ts';
export type { Prediction } from '../../shared/api.ts';
export {
  improve,
  improveEstimate,
  addUnlabeled,
  listUnlabeled,
  deleteUnlabeled,
  MIN_PHOTOS_PER_CLASS,
  type ImproveRecipe,
  type ImproveProgress,
  type ImproveCandidate,
  type ImproveReport,
  type ImproveOptions,
} from './improve.ts';
export type { RecipeComparison, RecipeCandidate, RecipeName } from '../../shared/learn/guard.ts';
