/**
 * Turns any thrown error into the one error shape. Client mistakes (TannerinError) keep their code
 * and status; anything else is logged and answered as a generic 500 without internals.
 */
import type { Context } from 'hono';
import { TannerinError, type ErrorBody, type ErrorCode } from '../../shared/errors.ts';

/** A JSON error response `{"error": {"code", "message"}}`. */
export function errorResponse(code: ErrorCode, message: string, status: number, headers?: HeadersInit): Response {
  const body: ErrorBody = { error: { code, message } };
  const h = new Headers(headers);
  h.set('content-type', 'application/json; charset=utf-8');
  return new Response(JSON.stringify(body), { status, headers: h });
}

/** Hono `onError` handler. */
export function onError(err: Error, c: Context): Response {
  if (err instanceof TannerinError) return errorResponse(err.code, err.message, err.status, err.headers);
  console.error(`tannerin: unhandled error on ${c.req.method} ${c.req.path}:`, err);
  return errorResponse('internal_error', 'Internal error; the request was not processed.', 500);
}

/** Hono `notFound` handler. */
export function onNotFound(c: Context): Response {
  return errorResponse('not_found', `No route for ${c.req.method} ${c.req.path}.`, 404);
}
