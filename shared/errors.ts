/**
 * The one error type for client mistakes, shared by every runtime. The Worker turns it into
 * `{"error": {"code", "message"}}` with `status`; the browser and the CLI show `message`.
 */
export type ErrorCode =
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'image_too_large'
  | 'invalid_image'
  | 'invalid_embedding'
  | 'invalid_request'
  | 'not_found'
  | 'method_not_allowed'
  | 'model_unavailable'
  | 'internal_error';

/** HTTP status that each code is answered with. */
export const ERROR_STATUS: Record<ErrorCode, 400 | 404 | 405 | 413 | 415 | 422 | 500 | 503> = {
  unsupported_media_type: 415,
  payload_too_large: 413,
  image_too_large: 413,
  invalid_image: 422,
  invalid_embedding: 422,
  invalid_request: 400,
  not_found: 404,
  method_not_allowed: 405,
  model_unavailable: 503,
  internal_error: 500,
};

/** A failure caused by the caller's input (or a missing resource), with a stable code. */
export class TannerinError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'TannerinError';
    this.code = code;
  }
  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}
