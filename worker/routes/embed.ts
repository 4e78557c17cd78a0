/** `POST /v1/embed`: an image in, the backbone's embedding out as little-endian float32. */
import type { Context } from 'hono';
import type { AppEnv } from '../env.ts';
import { embeddingFromRequest } from '../inference/embedding-input.ts';
import { getRuntime } from '../inference/model-runtime.ts';

/** Little-endian bytes of a Float32Array, whatever the platform's byte order. */
function float32LE(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return out;
}

/** Handler factory for the embed route. */
export function embedRoute() {
  return async (c: Context<AppEnv>) => {
    const runtime = await getRuntime(c.env);
    const embedding = await embeddingFromRequest(c.req.raw, runtime);
    return new Response(float32LE(embedding), {
      headers: {
        'content-type': 'application/octet-stream',
        'x-tannerin-backbone': runtime.backbone.ref,
        'x-tannerin-embedding-size': String(embedding.length),
      },
    });
  };
}
