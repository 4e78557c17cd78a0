/** Worker entry point. */
import { createApp } from './app.ts';
import { drainUnreadBody } from './drain-body.ts';
import type { Env } from './env.ts';

const app = createApp();

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const response = await app.fetch(request, env, ctx);
    // An early answer (413 from the declared size, 405, 401, ...) reaches a client still uploading
    // only if the body is read to its end first.
    await drainUnreadBody(request);
    return response;
  },
} satisfies ExportedHandler<Env>;
