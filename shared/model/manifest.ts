/**
 * The model manifest: what backbone the server runs, how its input is prepared, what its embedding
 * is made of, and which heads it serves. Written once at install time (scripts/prepare-models.ts),
 * served by `GET /v1/models`, read by the Worker, the browser and the CLI.
 */

/** How a part of the embedding is reduced from a feature map to a vector. */
export type Pooling = 'none' | 'global-max' | 'global-average';

/** One slice of the embedding vector, taken from one backbone layer. */
export interface EmbeddingPart {
  /** Stable name heads refer to, e.g. `flatten_1`. */
  name: string;
  /** The backbone layer it is read from. */
  layer: string;
  pooling: Pooling;
  /** Number of floats. */
  size: number;
  /** Where the part starts in the embedding vector. */
  offset: number;
}

/** The input the backbone was trained on: `x = pixel * scale + offset` after resizing. */
export interface InputSpec {
  width: number;
  height: number;
  channels: 3;
  /** Transparent pixels are composited onto this RGB colour first. */
  background: [number, number, number];
  resize: 'bilinear';
  alignCorners: boolean;
  scale: number;
  offset: number;
}

/** A file served as a static asset under a content-hashed path. */
export interface ManifestFile {
  /** Path relative to the site root, e.g. `models/mobilenet_v2-1a2b.../model.json`. */
  path: string;
  bytes: number;
  sha256: string;
}

export interface BackboneManifest {
  id: string;
  /** Content hash (hex prefix of SHA-256 over the model files). */
  version: string;
  inputSize: [number, number];
  normalization: InputSpec;
  embedding: { size: number; parts: EmbeddingPart[] };
  /** The TF.js layers artifacts: `model.json` first, then weight files (none for a pair: its members' are downloaded). */
  files: ManifestFile[];
  /**
   * A pair's members (`<id>@<version>` each, in embedding order; shared/model/backbone-pair.ts):
   * its embedding is theirs concatenated. Absent for a single backbone (and in manifests older than pairs).
   */
  members?: string[];
}

/**
 * How a head's input is derived from the embedding, applied by the one shared head runner so that
 * exported `model.json` files stay standard TF.js.
 */
export interface InputTransform {
  /** Embedding part names, concatenated in this order. */
  parts: string[];
  /**
   * Optional per-dimension mean (over all training examples, never per-photo data), subtracted
   * from the concatenated parts before normalisation. Length = sum of the parts' sizes.
   */
  mean: number[] | null;
  /** Per-part normalisation after the mean is removed. */
  normalize: 'none' | 'l2';
  /** Multiplier applied after normalisation. */
  scale: number;
}

export interface HeadManifest {
  id: string;
  /** Human-readable name. */
  name: string;
  classes: string[];
  /** `<backbone id>@<backbone version>` the head was trained on. */
  backbone: string;
  input: InputTransform;
  /** Path of the head document (shared/head/document.ts); the same as `document.path`. */
  url: string;
  /** The head document, with its size and hash, so clients can verify and cache it. */
  document: ManifestFile;
  /** The head as standard TF.js layers artifacts. */
  files: ManifestFile[];
}

/**
 * An object detector served for the browser's "find the object first" (issue 17): a TF.js graph
 * model the app downloads only when the person turns detector crops on (client/lib/detector.ts).
 * Never run at the edge (a detector crop there is a 409).
 */
export interface DetectorManifest {
  /** The name head documents give it (`crop.detector` of a detector crop, shared/head/crop.ts), e.g. `centernet-mobilenetv3`. */
  id: string;
  /** Content hash (hex prefix of SHA-256 over its files). */
  version: string;
  /** Human-readable name and where the weights come from. */
  name: string;
  /** Its input side in pixels (the photo is squashed to it, RGB 0-255). */
  inputSize: [number, number];
  /** Bytes of all its files: what turning it on downloads. */
  bytes: number;
  /** The TF.js graph-model artifacts: `model.json` first, then `weights.bin`. */
  files: ManifestFile[];
}

export interface Manifest {
  /** The default backbone: the one the Worker runs and apps use unless they pick another. */
  backbone: BackboneManifest;
  /**
   * Every backbone this server serves files for and stores heads of, the default first (equal to
   * `backbone`). Manifests written before there were several lack it: read it with {@link servedBackbones}.
   */
  backbones?: BackboneManifest[];
  heads: HeadManifest[];
  /** Object detectors the app may download on opt-in ({@link DetectorManifest}); absent in manifests older than detectors. */
  detectors?: DetectorManifest[];
}

/** `<id>@<version>`, the way heads and API answers name a backbone. */
export function backboneRef(backbone: Pick<BackboneManifest, 'id' | 'version'>): string {
  return `${backbone.id}@${backbone.version}`;
}

/** Every backbone the manifest serves, the default first (just the default in a manifest older than `backbones`). */
export function servedBackbones(manifest: Pick<Manifest, 'backbone' | 'backbones'>): BackboneManifest[] {
  return manifest.backbones?.length ? manifest.backbones : [manifest.backbone];
}

/** The served backbone a head's `backbone` (`<id>@<version>`) names, or undefined if none is. */
export function servedBackbone(manifest: Pick<Manifest, 'backbone' | 'backbones'>, ref: string): BackboneManifest | undefined {
  return servedBackbones(manifest).find((b) => backboneRef(b) === ref);
}

/** Finds a part by name or throws with the names that exist. */
export function embeddingPart(backbone: BackboneManifest, name: string): EmbeddingPart {
  const part = backbone.embedding.parts.find((p) => p.name === name);
  if (!part) {
    const known = backbone.embedding.parts.map((p) => p.name).join(', ');
    throw new Error(`embedding part "${name}" is not in backbone ${backbone.id} (parts: ${known})`);
  }
  return part;
}
