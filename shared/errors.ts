/**
 * The one error type for client mistakes, shared by every runtime. The Worker turns it into
 * `{"error": {"code", "message"}}` with `status`; the browser and the CLI show `message`.
 */
export type ErrorCode =
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'image_too_large'
  | 'image_too_complex'
  | 'json_too_complex'
  | 'invalid_image'
  | 'invalid_embedding'
  | 'invalid_request'
  | 'invalid_head'
  | 'invalid_pairing_code'
  | 'unauthorized'
  | 'quota_exceeded'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'backbone_mismatch'
  | 'precondition_failed'
  | 'precondition_required'
  | 'rate_limited'
  | 'model_unavailable'
  | 'not_implemented'
  | 'internal_error';

/** HTTP status that each code is answered with. */
export const ERROR_STATUS: Record<ErrorCode, 400 | 401 | 403 | 404 | 405 | 409 | 412 | 413 | 415 | 422 | 428 | 429 | 500 | 501 | 503> = {
  unsupported_media_type: 415,
  payload_too_large: 413,
  image_too_large: 413,
  /** An image whose decoding work is out of proportion to its size (e.g. a JPEG of thousands of scans). */
  image_too_complex: 413,
  /** A JSON body nested too deep, with too many values, or too large once parsed (shared/util/json-guard.ts). */
  json_too_complex: 413,
  invalid_image: 422,
  invalid_embedding: 422,
  invalid_request: 400,
  /** A head document that is malformed, inconsistent or over a limit. */
  invalid_head: 422,
  /** A pairing code that is wrong, expired or already used (deliberately indistinguishable). */
  invalid_pairing_code: 400,
  /** No bearer token, or one that is unknown or revoked. */
  unauthorized: 401,
  /** The account holds as many heads as it may. */
  quota_exceeded: 403,
  not_found: 404,
  method_not_allowed: 405,
  /** The request contradicts the resource's state (e.g. revoking an account's last token). */
  conflict: 409,
  /** A head made for another backbone version than the one this server runs. */
  backbone_mismatch: 409,
  /** `If-Match` / `If-None-Match` did not hold; the current ETag is in the `ETag` header. */
  precondition_failed: 412,
  /** A head write without `If-Match` or `If-None-Match: *`. */
  precondition_required: 428,
  /** Over a rate limit; `Retry-After` says when to try again. */
  rate_limited: 429,
  model_unavailable: 503,
  /** The server cannot do this yet (e.g. run a fine-tuned model at the edge). */
  not_implemented: 501,
  internal_error: 500,
};

/** A failure caused by the caller's input (or a missing resource), with a stable code. */
export class TannerinError extends Error {
  readonly code: ErrorCode;
  /** Response headers that belong to this error (`Retry-After`, `ETag`, `WWW-Authenticate`). */
  readonly headers: Readonly<Record<string, string>>;
  constructor(code: ErrorCode, message: string, options: { headers?: Record<string, string> } = {}) {
    super(message);
    this.name = 'TannerinError';
    this.code = code;
    this.headers = options.headers ?? {};
  }
  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}
