/**
 * tannerin's browser library: start the TF.js backend, load (and keep) the models, embed images.
 * Framework-free; the app builds on it and it never imports the app.
 *
 * ```ts
 * const backend = await startBackend();
 * const models = await loadModels('https://api.example', { onProgress: (done, total) => bar(done / total) });
 * const embedding = await embed(file);
 * ```
 */
export { startBackend, activeBackend, type BackendInfo, type BackendOptions, type BackendBuild } from './backend.ts';
export { loadModels, type LoadModelsOptions, type LoadedModels } from './model-store.ts';
export { embed, pixelsOf, initDecoder, downscaleForUpload, type EmbedSource, type EmbedOptions } from './embed.ts';
export { currentBackbone, setCurrentBackbone } from './current-backbone.ts';
export {
  openTannerinDb,
  closeTannerinDb,
  broadcast,
  onBroadcast,
  DB_NAME,
  DB_VERSION,
  CHANNEL_NAME,
  type TannerinDb,
  type TannerinSchema,
  type TannerinMessage,
  type ModelFileRecord,
  type ManifestRecord,
  type ClassRecord,
  type ExampleRecord,
  type SettingRecord,
  type OpenOptions,
} from './db.ts';
