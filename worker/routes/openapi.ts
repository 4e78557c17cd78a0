/** `GET /v1/openapi.json`: the OpenAPI 3.1 description of the API (routes/openapi-document.ts), with ETag and 304. */
import type { Context } from 'hono';
import { API_VERSION } from '../../shared/api/types.ts';
import type { AppEnv } from '../env.ts';
import { conditionalJson } from '../http/conditional.ts';
import { openApiDocument, type OpenApiDocument } from './openapi-document.ts';

/** Handler factory for the description's route; the document is built once per isolate. */
export function openApiRoute() {
  let document: OpenApiDocument | null = null;
  return (c: Context<AppEnv>) => {
    document ??= openApiDocument(API_VERSION);
    // Changes only with a deploy: revalidate, like the manifest.
    return conditionalJson(c, document, { 'cache-control': 'no-cache' });
  };
}
