/**
 * `POST /v1/predict`: an image or an embedding in, ranked labels out. `?head=` names a default head
 * (lowercase words, e.g. `content-safety`) or one of the caller's own heads by its UUID; the two
 * kinds of name never collide (shared/head/validate.ts). A personal head needs its owner's token:
 * 401 without a token, 404 for a head the token's account does not have. A default head name is
 * first looked up among the heads the operator published (routes/operator.ts), which may shadow a
 * shipped head of the same name, then among the shipped ones. That lookup reads the isolate's
 * copy of the published-head index (worker/inference/published-index.ts), so an anonymous prediction with
 * a shipped head makes no D1 query and no R2 read once the isolate is warm.
 */
import type { Context } from 'hono';
import { TannerinError } from '../../shared/errors.ts';
import type { AppEnv } from '../env.ts';
import { quoteEtag } from '../http/etag.ts';
import { predict } from '../inference/model-runtime.ts';
import type { PublishedIndex } from '../inference/published-index.ts';

export const DEFAULT_HEAD = 'content-safety';

/** Parses `top`: absent means every class; otherwise a whole number from 1. */
function parseTop(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new TannerinError('invalid_request', `Query "top" must be a whole number of at least 1; got "${raw}".`);
  return n;
}

/** Handler factory for the predict route; `published` is the isolate's published-head index. */
export function predictRoute(published: PublishedIndex) {
  return async (c: Context<AppEnv>) => {
    const top = parseTop(c.req.query('top'));
    const { body, etag, personal } = await predict(c, published, c.req.query('head') || DEFAULT_HEAD, top);
    if (etag !== null) c.header('x-tannerin-head-etag', quoteEtag(etag));
    if (personal) c.header('cache-control', 'no-store');
    return c.json(body);
  };
}
