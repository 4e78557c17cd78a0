/**
 * Reads a request body without ever holding more than the limit: a declared Content-Length over
 * the limit is refused before reading, and a streamed body is cut off as soon as it exceeds it.
 */
import { TannerinError } from '../../shared/errors.ts';
import { LIMITS } from '../../shared/limits.ts';

/** The media type without parameters, lowercased. */
export function mediaType(req: Request): string {
  return (req.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** 415 unless the request's media type is one of `accepted`; then its body (413 over the limit). */
export async function readAccepted(req: Request, accepted: readonly string[], refusal: (type: string) => string): Promise<{ type: string; bytes: Uint8Array }> {
  const type = mediaType(req);
  if (!accepted.includes(type)) throw new TannerinError('unsupported_media_type', refusal(type ? `"${type}"` : '(missing)'));
  return { type, bytes: await readBody(req, LIMITS.maxBodyBytes) };
}

/** The body's bytes, or a 413 `payload_too_large` naming the limit. */
export async function readBody(req: Request, maxBytes: number): Promise<Uint8Array> {
  const unit = maxBytes >= 1048576 ? `${(maxBytes / 1048576).toFixed(0)} MiB` : `${(maxBytes / 1024).toFixed(0)} KiB`;
  const tooLarge = () => new TannerinError('payload_too_large', `Request body is larger than the limit of ${maxBytes} bytes (${unit}).`);
  const declared = Number(req.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      // Read the rest without keeping it: cancelling mid-upload resets the client's connection
      // before it can see this 413 (worker/http/drain-body.ts).
      try {
        while (!(await reader.read()).done);
      } catch {
        /* the client went away */
      }
      throw tooLarge();
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(size);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}
