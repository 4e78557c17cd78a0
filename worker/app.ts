/**
 * The Hono app: API routes, CORS, and the one error shape. Static files (the page, the model files)
 * are served by Workers static assets, before this code runs for every path outside
 * `run_worker_first`.
 */
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { authenticate } from './http/auth.ts';
import type { AppEnv } from './env.ts';
import { edgeRateLimit } from './rate-limit/edge.ts';
import { errorResponse, onError, onNotFound } from './http/error.ts';
import { PublishedIndex } from './inference/published-index.ts';
import { rateLimit } from './rate-limit/d1.ts';
import { accountRoute, createAccountRoute, deleteAccountRoute, rotateTokenRoute } from './routes/accounts.ts';
import { diagnosticsRoute, forwardTimingRoute, storageCountsRoute } from './routes/diagnostics.ts';
import { embedRoute } from './routes/embed.ts';
import { putHeadRoute } from './routes/head-put.ts';
import { deleteHeadRoute, getHeadRoute, listHeadsRoute } from './routes/heads.ts';
import { healthRoute } from './routes/health.ts';
import { modelsRoute } from './routes/models.ts';
import { openApiRoute } from './routes/openapi.ts';
import { listPublishedRoute, publishedFileRoute, publishRoute, unpublishRoute } from './routes/operator.ts';
import { operatorOnly } from './http/operator-auth.ts';
import { createPairingCodeRoute, redeemPairingCodeRoute } from './routes/pairing.ts';
import { predictRoute } from './routes/predict.ts';
import { listTokensRoute, revokeTokenRoute } from './routes/tokens.ts';

export interface AppOptions {
  /** The clock, in ms since the epoch; tests pass their own to control expiry and rate windows. */
  now?: () => number;
}

/** Paths whose every request meets the per-address limit of the rate limiting binding first. */
const EDGE_LIMITED = ['/v1/*', '/healthz'];

/**
 * Each routed path of `app` (Hono's `:param` syntax) and its methods, in the order they were
 * registered, read from Hono's own route table: middleware and catch-alls (`ALL`, `*`) left out.
 * The 405 answers and the OpenAPI test (tests/worker/openapi.test.ts) both use it.
 */
export function routeMethods(app: Hono<AppEnv>): Map<string, string[]> {
  const table = new Map<string, string[]>();
  for (const { method, path } of app.routes) {
    if (method === 'ALL' || path.includes('*')) continue;
    const methods = table.get(path) ?? [];
    if (!methods.includes(method)) methods.push(method);
    table.set(path, methods);
  }
  return table;
}

/**
 * Builds the app. One app per isolate (worker/index.ts), so what it holds, such as the
 * published-head index, is the isolate's.
 */
export function createApp(options: AppOptions = {}): Hono<AppEnv> {
  const now = options.now ?? Date.now;
  const published = new PublishedIndex(now);
  const app = new Hono<AppEnv>();
  app.use('*', async (c, next) => {
    c.set('now', now);
    c.set('caller', null);
    await next();
  });
  app.use(
    '/v1/*',
    cors({
      origin: '*',
      allowMethods: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
      // Bearer tokens, not cookies: no credentialed CORS is needed, so `*` stays safe.
      exposeHeaders: ['etag', 'location', 'retry-after', 'www-authenticate', 'x-tannerin-backbone', 'x-tannerin-embedding-size', 'x-tannerin-head-etag'],
      maxAge: 86400,
    }),
  );
  // Before authentication, body reads and any storage access: an unknown token or a wrong
  // operator token is counted too (CORS preflights are answered above without counting).
  for (const path of EDGE_LIMITED) app.use(path, edgeRateLimit());
  const signedIn = authenticate({ required: true });
  const optionalSignIn = authenticate({ required: false });

  app.get('/healthz', healthRoute());
  app.get('/v1/models', modelsRoute(published));
  app.get('/v1/openapi.json', openApiRoute());
  app.post('/v1/predict', optionalSignIn, rateLimit('inference'), predictRoute(published));
  app.post('/v1/embed', optionalSignIn, rateLimit('inference'), embedRoute());

  app.post('/v1/accounts', rateLimit('accountCreate'), createAccountRoute());
  app.get('/v1/accounts/me', signedIn, accountRoute());
  app.delete('/v1/accounts/me', authenticate({ required: true, allowDeleting: true }), rateLimit('writes'), deleteAccountRoute());
  app.post('/v1/accounts/me/token', signedIn, rateLimit('writes'), rotateTokenRoute());
  app.get('/v1/tokens', signedIn, listTokensRoute());
  app.delete('/v1/tokens/:id', signedIn, rateLimit('writes'), revokeTokenRoute());
  app.post('/v1/pairing-codes', signedIn, rateLimit('writes'), createPairingCodeRoute());
  app.post('/v1/pairing-codes/redeem', rateLimit('pairingRedeem'), redeemPairingCodeRoute());

  app.get('/v1/heads', signedIn, listHeadsRoute());
  app.get('/v1/heads/:id', signedIn, getHeadRoute());
  app.put('/v1/heads/:id', signedIn, rateLimit('writes'), putHeadRoute());
  app.delete('/v1/heads/:id', signedIn, rateLimit('writes'), deleteHeadRoute());

  // The operator API: one secret (OPERATOR_TOKEN), off without it.
  const operator = operatorOnly();
  app.get('/v1/operator/heads', operator, listPublishedRoute());
  app.put('/v1/operator/heads/:name', operator, publishRoute(published));
  app.delete('/v1/operator/heads/:name', operator, unpublishRoute(published));
  app.get('/v1/published-heads/:name/:write/:file', publishedFileRoute());

  app.get('/_diag/memory', diagnosticsRoute());
  app.get('/_diag/forward', forwardTimingRoute());
  app.get('/_diag/storage', storageCountsRoute());
  // A known path with the wrong method is a 405, not a 404: registered after every route, so a
  // request reaches it only when no route of its path took its method.
  for (const [path, methods] of routeMethods(app)) {
    const allow = methods.join(', ');
    app.all(path, (c) => errorResponse('method_not_allowed', `${c.req.method} is not allowed on ${c.req.path}; use ${allow}.`, 405, { allow }));
  }
  app.all('/v1/*', onNotFound);
  // Static assets answer before the Worker in production; this serves them when the Worker is
  // called directly (service bindings, tests) and gives unknown paths the assets' own 404.
  app.get('*', (c) => c.env.ASSETS.fetch(c.req.raw));
  app.notFound(onNotFound);
  app.onError(onError);
  return app;
}
