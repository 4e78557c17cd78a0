/**
 * Reads a request body without ever holding more than the limit: a declared Content-Length over
 * the limit is refused before reading, and a streamed body is cut off as soon as it exceeds it.
 */
import { TannerinError } from '../../shared/errors.ts';

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
