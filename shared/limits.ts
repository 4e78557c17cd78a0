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
} as const;

/** Longest side clients resize photos to before sending them to the edge. */
export const UPLOAD_MAX_SIDE = 1024;
