/** `POST /v1/predict`: an image or an embedding in, ranked labels out. */
import type { Context } from 'hono';
import type { PredictResponse } from '../../shared/api.ts';
import { TannerinError } from '../../shared/errors.ts';
import type { AppEnv } from '../env.ts';
import { embeddingFromRequest } from '../embedding-input.ts';
import { getRuntime } from '../model-runtime.ts';

export const DEFAULT_HEAD = 'content-safety';

/** Parses `top`: absent means every class; otherwise a whole number from 1. */
function parseTop(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new TannerinError('invalid_request', `Query "top" must be a whole number of at least 1; got "${raw}".`);
  return n;
}

/** Handler factory for the predict route. */
export function predictRoute() {
  return async (c: Context<AppEnv>) => {
    const top = parseTop(c.req.query('top'));
    const headId = c.req.query('head') || DEFAULT_HEAD;
    const runtime = await getRuntime(c.env);
    const head = await runtime.head(headId); // unknown head: 404 before the body is read
    const embedding = await embeddingFromRequest(c.req.raw, runtime, true);
    const body: PredictResponse = {
      backbone: runtime.backbone.ref,
      head: head.doc.id,
      predictions: await head.predict(embedding, top),
    };
    return c.json(body);
  };
}
