import type { JsonLimits } from './util/json-guard.ts';

/**
 * Input limits of the edge API. Chosen so one request's peak memory — request bytes, decoder
 * memory, decoded RGBA, plus the ~69 MiB WASM heap of a batch-1 forward pass — stays under the
 * 128 MiB a Worker isolate may use (measured in `npm run bench` and `bench/decode-memory.ts`).
 * Clients downscale photos to `UPLOAD_MAX_SIDE` before uploading, which stays within them.
 */
export const LIMITS = {
  /** Largest request body, in bytes (images and embeddings). */
  maxBodyBytes: 8 * 1024 * 1024,
  /**
   * Largest decoded image, in pixels (width x height), read from the header before decoding:
   * 1024 x 1024 = 2^20, the largest image the clients upload (`UPLOAD_MAX_SIDE` on the long side).
   *
   * Budget (MiB): 69 (TF.js WASM heap after warm requests) + ~15 (JS baseline) + the decoder's
   * peak + the request body must stay under 128. Decoder peaks measured with
   * `npx tsx bench/decode-memory.ts <maxPixels>` (fresh Node process per decode, RSS peak growth,
   * MozJPEG's heap included; JPEGs are 4:4:4 q95 noise with EXIF orientation 6):
   *
   *   pixels                   JPEG baseline  JPEG progressive  PNG (RGBA)  MozJPEG heap after
   *   4,194,304 (old limit)        62.9            92.4            44.0          55.1
   *   3,145,728 (2048x1536)        50.6            65.2            42.9          42.2
   *   2,097,152                    33.9            44.1            38.9          28.2
   *   1,572,864 (1536x1024)        25.4            33.4            34.2          21.2
   *   1,048,576 (1024x1024)        17.0            22.3            34.4          16.1
   *
   * (jpeg-js, before MozJPEG: +115 MiB for a 2048x1536 baseline JPEG.) MozJPEG copies its whole
   * input into its heap, so the progressive file padded to the 8 MiB body limit is worse: +30.9
   * at 1 MP (heap 16 -> 28 MiB), +38.9 at 1.5 MP. Worst cases at 1 MP: 69 + 15 + 30.9 + 8 (body)
   * = 123 for that JPEG; 69 + 15 + 34.4 + 3 = 121 for the PNG, whose figure is mostly inflate
   * garbage not yet collected. At 1.5 MP the padded JPEG would reach 131. MozJPEG's heap never
   * shrinks: after such a JPEG it stays at ~28 MiB (16 MiB initially) for the isolate's life.
   */
  maxPixels: 1_048_576,
  /**
   * Most scans (SOS segments) a JPEG may have. A progressive decoder passes over every block once
   * per scan, and a scan can be ~12 bytes: 10,000 empty scans over 1024x1024 (122 KB) took 1.7 s
   * to decode, and an 8 MiB body holds ~690,000 of them. Encoders write far fewer: libjpeg's
   * standard progression has 10 scans for colour (6 for greyscale), MozJPEG's optimised scans a
   * few more, Photoshop 3-5. libjpeg-turbo advises refusing more than a few hundred.
   */
  maxJpegScans: 100,
  /**
   * Most pixels x scans a JPEG may ask of the decoder: 32 passes over the largest image, more
   * passes over smaller ones up to `maxJpegScans`. An empty scan over 1 MP costs ~0.4-0.5 ms of
   * decoding here (1,000 of them: 0.37-0.65 s on a loaded 2-core machine), so the worst JPEG
   * allowed costs ~15 ms more than a baseline one: the order of the forward pass, not minutes.
   */
  maxJpegScanPixels: 32 * 1_048_576,
} as const;

/**
 * Structure of a head document's JSON (PUT /v1/heads/:id, the operator API), checked in one linear
 * pass before `JSON.parse` (shared/util/json-guard.ts). A real document is far below: the whole
 * backbone's topology is 13,060 tokens at depth 10; a head with metrics has ~k^2 tokens for k
 * classes (its confusion matrix), so 300,000 allows ~500 classes with metrics. At the limits a
 * parsed document takes at most ~24 MiB (the 8 MiB body's strings as two-byte strings plus 64
 * bytes per token), against ~171 MiB for 8 MiB of `[{},{},...]` unchecked.
 */
export const HEAD_JSON_LIMITS: JsonLimits = Object.freeze({ maxDepth: 32, maxTokens: 300_000, maxParsedBytes: 24 * 1024 * 1024 });

/** Limits on a head document (shared/head/validate.ts checks them; storage, sync and training keep to them). */
export const HEAD_LIMITS = {
  /**
   * Largest document, in bytes: a document is sent whole in one request, so it is the body limit
   * (a fine-tuned top block is ~3.5 MB of float32, ~4.8 MB as a document).
   */
  maxDocumentBytes: LIMITS.maxBodyBytes,
  maxClasses: 1000,
  /** Per label, in characters (code points). */
  maxLabelLength: 100,
  /** The head's display name, in characters. */
  maxNameLength: 1000,
  maxLayers: 32,
  /**
   * Weights after dequantization. Every weight becomes a float32 tensor in the Worker's WASM heap
   * when a head is loaded; 2M floats = 8 MB, within the isolate's memory budget (`LIMITS` above).
   */
  maxParameters: 2_000_000,
} as const;

/** Limits of the same shape as {@link HEAD_LIMITS}, e.g. lower ones for a test. */
export type HeadLimits = { [K in keyof typeof HEAD_LIMITS]: number };

/** Structure of the small JSON bodies (account creation, pairing: a few fields). */
export const SMALL_JSON_LIMITS: JsonLimits = Object.freeze({ maxDepth: 4, maxTokens: 64, maxParsedBytes: 64 * 1024 });

/** Longest side clients resize photos to before sending them to the edge. */
export const UPLOAD_MAX_SIDE = 1024;
