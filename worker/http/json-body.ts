/**
 * Small JSON request bodies (account creation, pairing): optional where the route allows none,
 * capped in size, and an object at the top.
 */
import { TannerinError } from '../../shared/errors.ts';
import { parseBoundedJson } from '../../shared/util/json-guard.ts';
import { SMALL_JSON_LIMITS } from '../../shared/limits.ts';
import { mediaType, readBody } from './read-body.ts';

/** Bodies of these routes are a few fields. */
const MAX_JSON_BYTES = 4096;

/** The body as a JSON object; `{}` for an empty body. */
export async function readJsonObject(req: Request): Promise<Record<string, unknown>> {
  const bytes = await readBody(req, MAX_JSON_BYTES);
  if (bytes.byteLength === 0) return {};
  if (mediaType(req) !== 'application/json') {
    throw new TannerinError('unsupported_media_type', 'Send the body as application/json.');
  }
  const value = parseBoundedJson(new TextDecoder().decode(bytes), SMALL_JSON_LIMITS, 'json_too_complex', 'The body', () =>
    new TannerinError('invalid_request', 'The body is not valid JSON.'),
  );
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TannerinError('invalid_request', 'The body must be a JSON object.');
  return value as Record<string, unknown>;
}

/** Longest device label. */
export const MAX_LABEL_LENGTH = 100;

/** The optional `label` field: a device name for a token. */
export function optionalLabel(body: Record<string, unknown>): string | null {
  const { label } = body;
  if (label === undefined || label === null) return null;
  if (typeof label !== 'string' || [...label].length > MAX_LABEL_LENGTH) {
    throw new TannerinError('invalid_request', `"label" must be a string of at most ${MAX_LABEL_LENGTH} characters.`);
  }
  return label.trim() || null;
}
