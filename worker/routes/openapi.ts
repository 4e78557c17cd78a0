/** `GET /v1/openapi.json`: the OpenAPI 3.1 description of the API (routes/openapi-document.ts), with ETag and 304. */
import type { Context } from 'hono';
import { API_VERSION } from '../../shared/api/types.ts';
import type { AppEnv } from '../env.ts';
import { conditionalJson, jsonEntity, type JsonEntity } from '../http/conditional.ts';
import { openApiDocument } from './openapi-document.ts';

/** Handler factory for the description's route; the document is built, serialized and hashed once per isolate. */
export function openApiRoute() {
  let entity: JsonEntity | null = null;
  return async (c: Context<AppEnv>) => {
    entity ??= await jsonEntity(openApiDocument(API_VERSION));
    // Changes only with a deploy: revalidate, like the manifest.
    return conditionalJson(c, entity, { 'cache-control': 'no-cache' });
  };
}
