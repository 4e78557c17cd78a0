/**
 * tannerin's browser library, the part an app is built on: start the TF.js backend, load (and
 * keep) the models, teach classes from photos, train a personal model on the device, predict
 * offline, manage and move models, improve them further, and (opt-in) sync them between a
 * person's devices. Framework-free; it never imports an app. Nothing here sends photos or
 * embeddings anywhere; model weights leave the device only through an export or, once the user
 * turns it on, sync.
 *
 * This file is the public API: each export is here on purpose and documented. The README's
 * "Using the library" shows it at work (a test typechecks that example against this file).
 * Everything else the library has (storage records, codecs, caches, test hooks) is in
 * client/lib/internal.ts, for tannerin's own app and tests only.
 *
 * ```ts
 * await startBackend();
 * await loadModels('https://api.example', { onProgress: (done, total) => bar(done / total) });
 * const cats = await addClass('cats');
 * await addExample(cats.id, photoFile);          // embeds and stores the photo; augmented views follow
 * // ... more classes and examples ...
 * const report = await train({ onProgress: (e) => chart(e), signal: abort.signal });
 * const { predictions } = await predict(cameraFrame);
 * ```
 */

// Start ----------------------------------------------------------------------------------------

/** Starts TF.js on the fastest backend this browser offers (threaded WASM SIMD, SIMD, or CPU); call first. */
export { startBackend } from './backend.ts';
/** Which backend and build runs, and why a slower one was chosen. */
export type { BackendInfo } from './backend.ts';
/** Options of {@link startBackend}. */
export type { BackendOptions } from './backend.ts';
/** Loads the image model from IndexedDB, or downloads, verifies and stores it on the first visit. */
export { loadModels } from './model-store.ts';
/** Options of {@link loadModels} (download progress). */
export type { LoadModelsOptions } from './model-store.ts';
/** What {@link loadModels} loaded: the backbone, its manifest, the default heads, and where they came from. */
export type { LoadedModels } from './model-store.ts';
/** Every backbone the server serves, with its download size and whether this device has it. */
export { backboneStatuses } from './model-store.ts';
/** One served backbone as {@link backboneStatuses} lists it. */
export type { BackboneStatus } from './model-store.ts';
/** Downloads (with progress) and loads another served backbone, without switching to it. */
export { loadServedBackbone } from './model-store.ts';
/** Options of {@link loadServedBackbone} (download progress, cancellation). */
export type { LoadBackboneOptions } from './model-store.ts';
/** Which backbone this device should use, by the stated rule (measures the base backbone's speed once). */
export { backboneChoice } from './backbones.ts';
/** What {@link backboneChoice} decided, and why. */
export type { BackboneChoice } from './backbone-choice.ts';
/** The rule {@link backboneChoice} applies: base and larger backbone, speed threshold, default on fast devices. */
export { BACKBONE_RULE } from './backbone-choice.ts';
/** Switches backbone: downloads it if needed, re-embeds the photos (progress, cancel), then uses it. */
export { useBackbone } from './backbones.ts';
/** Options of {@link useBackbone}: progress of the download and the re-embedding, cancellation. */
export type { UseBackboneOptions } from './backbones.ts';
/** What {@link useBackbone} did: the backbone now in use, the previous one, photos re-embedded. */
export type { UseBackboneReport } from './backbones.ts';
/** A head's backbone is not on this device yet: which one, and how many bytes to download. */
export { BackboneNeededError } from './backbones.ts';
/** Frees the loaded backbones nothing uses (not current, not the active head's); a switch does it too. */
export { releaseUnusedBackbones } from './backbones.ts';
/** The embedding of one image (what every head classifies), computed on the device. */
export { embed } from './embed.ts';
/** Anything {@link embed}, {@link addExample} and {@link predict} take: a Blob or File, an image, a video frame, a canvas, pixels. */
export type { EmbedSource } from './embed.ts';
/** Options of {@link embed}: which backbone, decoder limits. */
export type { EmbedOptions } from './embed.ts';

// Teach ----------------------------------------------------------------------------------------

/** The classes taught so far, oldest first. */
export { listClasses } from './examples.ts';
/** Adds a class (a name the personal model will learn to tell apart). */
export { addClass } from './examples.ts';
/** Renames a class. */
export { renameClass } from './examples.ts';
/** Deletes a class and its example photos. */
export { deleteClass } from './examples.ts';
/** A stored class. */
export type { ClassRecord } from './db.ts';
/** Adds a photo to a class: stores a small copy and its embedding at once; its augmented views' embeddings follow in the background. */
export { addExample } from './examples.ts';
/** Options of {@link addExample}. */
export type { AddExampleOptions } from './examples.ts';
/** The example photos, of one class or of all. */
export { listExamples } from './examples.ts';
/** Deletes one example photo. */
export { deleteExample } from './examples.ts';
/** Turns one example photo's crop off (Train then uses its whole frame as its crop) or on again; false when it has none stored. */
export { setCropOff } from './example-crops.ts';
/** Moves one example photo's crop box where the person puts it (the crop is cut again and embedded in the background), or back to the box that was found. */
export { setCropBox } from './pending-crops.ts';
/** An example photo's crop as stored (database version 9): its setting, box, JPEG and the backbone whose map found it. */
export type { ExampleCrop } from './example-crops.ts';
/** "Find the object first" (opt-in): downloads the object detector once (progress, Cancel) and loads it; Train then tries its crops too. */
export { turnDetectorOn } from './detector.ts';
/** Turns "find the object first" off: frees the detector's memory and, if asked, deletes its stored weights. */
export { turnDetectorOff } from './detector.ts';
/** The detector as this device has it (size, stored bytes, on or off, loaded), or null when the server serves none. */
export { detectorStatus } from './detector.ts';
/** The detector's best box of any class in a photo's pixels (it must be on). */
export { detectBox } from './detector.ts';
/** The detector as this device has it: size, stored bytes, on or off, loaded. */
export type { DetectorStatus } from './detector.ts';
/** Options of turning the detector on: progress, Cancel. */
export type { TurnDetectorOnOptions } from './detector.ts';
/** The detector crops made in the background while it is on: photos done of those queued (0 of 0: idle), the last failure. */
export { detectorCropsProgress } from './detector-crops.ts';
/** Calls a listener (done, total) whenever the detector crops' background progress changes; returns the unsubscribe function. */
export { onDetectorCropsProgress } from './detector-crops.ts';
/** A stored example photo: its class, photo bytes and views (its embeddings live in per-backbone packs). */
export type { ExampleRecord } from './db.ts';
/** An example with its embeddings on one backbone, as `addExample` returns it. */
export type { ExampleWithEmbeddings } from './examples.ts';
/** Example photos per class, and how many were embedded for another backbone version (stale). */
export { exampleCounts } from './examples.ts';
/** What {@link exampleCounts} returns. */
export type { ExampleCounts } from './examples.ts';
/** After a new backbone version: embeds the stored photos again, so training uses them all. */
export { reembedAll } from './reembed.ts';
/** Embeds every stored photo for a given backbone (switching backbones), with progress and cancel; resumable. */
export { reembedExamples } from './reembed.ts';
/** Options of {@link reembedAll} and {@link reembedExamples} (progress, cancellation). */
export type { ReembedOptions } from './reembed.ts';
/** What {@link reembedExamples} did: examples embedded, of how many. */
export type { ReembedReport } from './reembed.ts';

// Train and predict ----------------------------------------------------------------------------

/** Trains a personal model on the examples, on the device, keeping it only if it beats the alternatives on held-out photos. */
export { train } from './train.ts';
/** Options of {@link train}: progress, cancellation, a name. */
export type { TrainOptions } from './train.ts';
/** What {@link train} did: the model kept, held-out accuracy, and the guard's comparison. */
export type { TrainReport } from './train.ts';
/** One epoch's figures, as {@link train} reports them while it runs. */
export type { EpochProgress } from '../../shared/learn/train-head.ts';
/** Classifies an image with the personal model in use (or another head), offline. */
export { predict } from './predict.ts';
/** Options of {@link predict}: which head, how many classes. */
export type { PredictOptions } from './predict.ts';
/** What {@link predict} returns: the head used, the scores, the photo's key and embedding, and whether it was corrected before. */
export type { PredictResult } from './predict.ts';
/** Which head answered a {@link predict}: a personal model or a default head. */
export type { PredictingHead } from './predict.ts';
/** One class and its score. */
export type { Prediction } from '../../shared/api/types.ts';
/** The box a head with a crop cut the photo to before predicting it (`PredictResult.crop`), and its method. */
export type { CropUsed } from '../../shared/head/crop.ts';

// Learn from mistakes ---------------------------------------------------------------------------

/**
 * Corrects a prediction: the photo becomes an example of the class named (a new class if asked),
 * is remembered so that the same photo predicts as that class, and the model retrains in the
 * background from its current weights (one training at a time; offline too).
 */
export { correct } from './correct.ts';
/** Options of {@link correct}: the prediction to reuse (its embedding and photo key), the model to retrain. */
export type { CorrectOptions } from './correct.ts';
/** What a photo really is: `{ classId }` or `{ newClassName }`. */
export type { CorrectLabel } from './correct.ts';
/** What {@link correct} and {@link labelUnlabeled} did: the example, its class, the photo's key, and the background retraining. */
export type { Correction } from './correct.ts';
/**
 * Computes in the background what the first correction of the active fine-tuned model would compute
 * (its tail's embeddings of every stored photo), so it is as fast as a second one; nothing for a plain head.
 */
export { warmCorrections } from './warm-corrections.ts';
/** Options of {@link warmCorrections}: the model (default the active one) and an abort signal. */
export type { WarmCorrectionsOptions } from './warm-corrections.ts';
/** What {@link warmCorrections} did: views computed, whether it stopped early, how long it took. */
export type { WarmCorrectionsReport } from './warm-corrections.ts';
/** The few unlabeled photos whose labels would help the current model most (least certain, spread out, no near-duplicates). */
export { photosToAsk } from './asking.ts';
/** A photo {@link photosToAsk} offers: its id, copy, the model's best three guesses and how unsure it is. */
export type { AskedPhoto } from './asking.ts';
/** Labels an unlabeled photo: it moves to the examples, and the model retrains in the background (as after {@link correct}). */
export { labelUnlabeled } from './asking.ts';
/** Never asks about an unlabeled photo again (it stays in the pool for self-training). */
export { skipAsked } from './asking.ts';
/** Whether photos from Predict are kept in the unlabeled pool, and the pool's cap (default: kept, 200). */
export { unlabeledPolicy } from './unlabeled.ts';
/** Changes {@link unlabeledPolicy}; lowering the cap drops the oldest photos (those from Predict first). */
export { setUnlabeledPolicy } from './unlabeled.ts';
/** What {@link unlabeledPolicy} returns. */
export type { UnlabeledPolicy } from './unlabeled.ts';

// Models ---------------------------------------------------------------------------------------

/** The personal models stored on this device, with the one in use marked. */
export { listHeads } from './heads.ts';
/** One personal model as {@link listHeads} lists it. */
export type { HeadSummary } from './heads.ts';
/** The id of the personal model in use, or null. */
export { activeHeadId } from './heads.ts';
/** Chooses the personal model {@link predict} uses. */
export { setActiveHead } from './heads.ts';
/** Renames a personal model. */
export { renameHead } from './heads.ts';
/** Deletes a personal model (the photos stay). */
export { deleteHead } from './heads.ts';
/** A personal model as standard TF.js files (`model.json` and its weights), to save or share. */
export { exportHeadBlobs } from './heads.ts';
/** Stores a model from TF.js files made by {@link exportHeadBlobs}, after checking it fits this backbone. */
export { importHead } from './heads.ts';
/** Options of {@link importHead}. */
export type { ImportHeadOptions } from './heads.ts';
/** A personal model's document: classes, backbone version, metrics, weights. */
export type { HeadDocument } from '../../shared/head/document.ts';

// Improve further ------------------------------------------------------------------------------

/** Fine-tunes the backbone's top layers and self-trains on unlabeled photos; keeps the best method on the same held-out photos. */
export { improve } from './improve.ts';
/** Options of {@link improve}: which methods, progress, cancellation. */
export type { ImproveOptions } from './improve.ts';
/** A step of {@link improve} as it runs. */
export type { ImproveProgress } from './improve.ts';
/** What {@link improve} compared and kept. */
export type { ImproveReport } from './improve.ts';
/** Whether {@link improve} can run now, and how large the model it makes would be. */
export { improveEstimate } from './improve-estimate.ts';
/** Keeps an unlabeled photo (self-training, and the photos the app asks about), within {@link unlabeledPolicy}. */
export { addUnlabeled } from './unlabeled.ts';
/** Options of {@link addUnlabeled}: where the photo comes from (`predict` or `person`), its prediction. */
export type { AddUnlabeledOptions } from './unlabeled.ts';
/** The unlabeled photos kept, oldest first. */
export { listUnlabeled } from './unlabeled.ts';
/** An unlabeled photo as {@link listUnlabeled} lists it. */
export type { UnlabeledPhoto } from './unlabeled.ts';
/** Deletes an unlabeled photo. */
export { deleteUnlabeled } from './unlabeled.ts';

// Changes --------------------------------------------------------------------------------------

/** Calls a handler for every change to the stored classes, photos and models, made in this page or another tab. */
export { onChange } from './changes.ts';
/** What {@link onChange} reports. */
export type { TannerinMessage } from './changes.ts';
/** Whether a change came from this page or another tab. */
export type { ChangeOrigin } from './changes.ts';

// Sync (opt-in) --------------------------------------------------------------------------------

/** Turns sync on with a new account, and pushes the models stored here. */
export { enableSync } from './sync/account.ts';
/** Options of {@link enableSync} and {@link restoreWithPairingCode}: the API's address, this device's name. */
export type { EnableSyncOptions } from './sync/account.ts';
/** Joins the account of another device with the pairing code it shows, and pulls its models. */
export { restoreWithPairingCode } from './sync/account.ts';
/** A one-time pairing code for adding another device. */
export { createPairingCode } from './sync/account.ts';
/** Turns sync off on this device, optionally deleting the account and its models on the server. */
export { disableSync } from './sync/account.ts';
/** Call on app start, after the models are loaded: resumes sync when it is on. */
export { startSync } from './sync/loop.ts';
/** Pulls and pushes now. */
export { syncNow } from './sync/loop.ts';
/** Ends a conflict (two devices changed one model) by keeping one version. */
export { resolveConflict } from './sync/conflicts.ts';
/** The sync status, overall and per model. */
export { getSyncStatus } from './sync/status.ts';
/** Calls a handler after every sync status change. */
export { onSyncStatus } from './sync/status.ts';
/** What {@link getSyncStatus} and {@link onSyncStatus} report. */
export type { SyncStatus } from './sync/status.ts';
/** A short name for this device's sync token ("Chrome on Android"), from its user agent. */
export { defaultDeviceLabel } from './device-label.ts';

// Storage --------------------------------------------------------------------------------------

/** Asks the browser to keep this origin's storage (photos, models) when space runs low. */
export { requestPersistence } from './storage.ts';
/** What {@link requestPersistence} got. */
export type { PersistenceResult } from './storage.ts';
/** Storage used and available. */
export { storageEstimate } from './storage.ts';
/** What {@link storageEstimate} returns. */
export type { StorageEstimate } from './storage.ts';
/** Whether an error means the device's storage is full. */
export { isQuotaError } from './storage.ts';
