/**
 * Input limits of the edge API. Chosen so one request's peak memory — request bytes, decoder
 * buffers, decoded RGBA, plus the ~58 MB WASM heap of a batch-1 forward pass — stays under the
 * 128 MB a Worker isolate may use (measured in `npm run bench`, documented in the README).
 * Clients downscale photos to `UPLOAD_MAX_SIDE` before uploading, far below these limits.
 */
export const LIMITS = {
  /** Largest request body, in bytes (images and embeddings). */
  maxBodyBytes: 8 * 1024 * 1024,
  /** Largest decoded image, in pixels (width x height), read from the header before decoding. */
  maxPixels: 4_194_304,
} as const;

/** Longest side clients resize photos to before sending them to the edge. */
export const UPLOAD_MAX_SIDE = 1024;
