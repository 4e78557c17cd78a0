/**
 * The Hono app: API routes, CORS, and the one error shape. Static files (the page, the model files)
 * are served by Workers static assets, before this code runs for every path outside
 * `run_worker_first`.
 */
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import type { AppEnv } from './env.ts';
import { errorResponse, onError, onNotFound } from './http-error.ts';
import { diagnosticsRoute, forwardTimingRoute } from './routes/diagnostics.ts';
import { embedRoute } from './routes/embed.ts';
import { healthRoute } from './routes/health.ts';
import { modelsRoute } from './routes/models.ts';
import { predictRoute } from './routes/predict.ts';

/** Builds the app. */
export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('/v1/*', cors({ origin: '*', allowMethods: ['GET', 'POST', 'OPTIONS'], exposeHeaders: ['x-tannerin-backbone', 'x-tannerin-embedding-size'], maxAge: 86400 }));
  app.get('/healthz', healthRoute());
  app.get('/v1/models', modelsRoute());
  app.post('/v1/predict', predictRoute());
  app.post('/v1/embed', embedRoute());
  app.get('/_diag/memory', diagnosticsRoute());
  app.get('/_diag/forward', forwardTimingRoute());
  // A known path with the wrong method is a 405, not a 404.
  for (const [path, allow] of [['/v1/predict', 'POST'], ['/v1/embed', 'POST'], ['/v1/models', 'GET'], ['/healthz', 'GET']] as const) {
    app.all(path, (c) => errorResponse('method_not_allowed', `${c.req.method} is not allowed on ${path}; use ${allow}.`, 405, { allow }));
  }
  app.all('/v1/*', onNotFound);
  // Static assets answer before the Worker in production; this serves them when the Worker is
  // called directly (service bindings, tests) and gives unknown paths the assets' own 404.
  app.get('*', (c) => c.env.ASSETS.fetch(c.req.raw));
  app.notFound(onNotFound);
  app.onError(onError);
  return app;
}
