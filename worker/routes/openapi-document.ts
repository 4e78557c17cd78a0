/**
 * The OpenAPI 3.1 description of the whole HTTP API, written by hand as a typed object: the
 * bodies' schemas come from shared/api/schemas.ts (written against shared/api/types.ts), the error codes
 * and their statuses from the error table (shared/errors.ts), the limits and quotas from their
 * own homes. Served by `GET /v1/openapi.json` (routes/openapi.ts). tests/worker/openapi.test.ts
 * checks that its paths and methods are the app's routes, that its codes are the table's, and
 * validates real answers against it.
 */
import { API_SCHEMAS, errorSchema, ref, type ApiSchemaName, type JsonSchema } from '../../shared/api/schemas.ts';
import { EMBEDDING_TYPE, HEAD_TYPE, IMAGE_TYPES } from '../../shared/api/types.ts';
import { ERROR_STATUS, type ErrorCode } from '../../shared/errors.ts';
import { HEAD_JSON_LIMITS, LIMITS } from '../../shared/limits.ts';
import { EDGE_RATE_RULES } from '../rate-limit/edge-config.ts';
import { DEFAULT_MAX_ACCOUNT_BYTES, DEFAULT_MAX_HEADS, DEFAULT_MAX_PUBLISHED_HEAD_BYTES, DEFAULT_MAX_PUBLISHED_HEADS } from '../store/quotas.ts';

/** A reference to a component (`#/components/...`). */
export interface Reference {
  $ref: string;
}

/** A header of a response. */
export interface HeaderObject {
  description: string;
  required?: boolean;
  schema: JsonSchema;
}

/** A query, path or header parameter. */
export interface ParameterObject {
  name: string;
  in: 'query' | 'path' | 'header';
  description: string;
  required?: boolean;
  schema: JsonSchema;
}

/** One media type of a body. */
export interface MediaTypeObject {
  schema: JsonSchema;
}

/** A response of an operation. */
export interface ResponseObject {
  description: string;
  headers?: Record<string, HeaderObject | Reference>;
  content?: Record<string, MediaTypeObject>;
}

/** An operation (a method on a path). */
export interface OperationObject {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  /** `[{}]` alone: anonymous; `[{}, {bearer: []}]`: a token is optional. */
  security: Record<string, string[]>[];
  parameters?: (ParameterObject | Reference)[];
  requestBody?: { description?: string; required: boolean; content: Record<string, MediaTypeObject> };
  responses: Record<string, ResponseObject | Reference>;
}

/** The methods the API routes. */
export type HttpMethod = 'get' | 'put' | 'post' | 'delete';

/** The description's root object. */
export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  servers: { url: string }[];
  tags: { name: string; description: string }[];
  paths: Record<string, Partial<Record<HttpMethod, OperationObject>>>;
  components: {
    schemas: Record<ApiSchemaName, JsonSchema>;
    responses: Record<string, ResponseObject>;
    parameters: Record<string, ParameterObject>;
    headers: Record<string, HeaderObject>;
    securitySchemes: Record<string, { type: 'http'; scheme: 'bearer'; description: string }>;
  };
}

const MiB = 1024 * 1024;
const header = (name: string): Reference => ({ $ref: `#/components/headers/${name}` });
const parameter = (name: string): Reference => ({ $ref: `#/components/parameters/${name}` });
const json = (schema: JsonSchema): Record<string, MediaTypeObject> => ({ 'application/json': { schema } });
const binary = (type: string): MediaTypeObject => ({ schema: { contentMediaType: type } });

/** The response headers the description refers to. */
const componentsHeaders = {
  ETag: { description: 'A strong entity tag: the quoted hex SHA-256 of the body (of the stored document for heads).', schema: { type: 'string', pattern: '^"[^"]*"$' } },
  'Retry-After': { description: 'Seconds to wait before retrying.', required: true, schema: { type: 'string', pattern: '^[0-9]+$' } },
  'WWW-Authenticate': { description: 'The Bearer challenge (RFC 6750), with `error="invalid_token"` when a token was sent.', schema: { type: 'string', pattern: '^Bearer ' } },
  Location: { description: 'The created resource.', required: true, schema: { type: 'string' } },
  'x-tannerin-head-etag': { description: 'The ETag of the personal or published head that ran.', schema: { type: 'string' } },
} satisfies Record<string, HeaderObject>;

/** The `ETag` of an answer that always carries one. */
const etagHeader: HeaderObject = { ...componentsHeaders.ETag, required: true };

const allowHeader: HeaderObject = {
  description: 'The methods the path allows, e.g. `GET, PUT, DELETE`.',
  required: true,
  schema: { type: 'string', pattern: '^[A-Z]+(, [A-Z]+)*$' },
};

/** Headers that error answers of some statuses carry. */
const ERROR_HEADERS: Partial<Record<number, Record<string, HeaderObject | Reference>>> = {
  401: { 'WWW-Authenticate': header('WWW-Authenticate') },
  405: { Allow: allowHeader },
  412: { ETag: { description: "The head's current ETag.", required: true, schema: { type: 'string', pattern: '^"[0-9a-f]{64}"$' } } },
  429: { 'Retry-After': header('Retry-After') },
  // Sent when the head cache is full; a model that failed to load has no time to name.
  503: { 'Retry-After': { ...componentsHeaders['Retry-After'], required: false } },
};

/** What each status means here, for the error answers' descriptions. */
const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request',
  401: 'No valid token: absent where one is needed, or unknown, revoked or malformed',
  403: 'Over a quota',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict',
  412: 'Precondition failed',
  413: 'Too large or too complex',
  415: 'Unsupported media type',
  422: 'Well-formed but invalid content',
  428: 'Precondition required',
  429: 'Rate limited: retry after `Retry-After` seconds',
  500: 'Internal error',
  501: 'Not implemented',
  503: 'Model unavailable: retry (after `Retry-After` seconds when it is sent)',
};

/**
 * The error answers of an operation: `codes` grouped by their status in the error table, each
 * status one response whose `error.code` is one of its codes. `internal_error` is added to every
 * operation.
 */
function errors(...codes: ErrorCode[]): Record<string, ResponseObject> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of [...codes, 'internal_error' as const]) {
    const status = ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, ResponseObject> = {};
  for (const [status, group] of [...byStatus].sort(([a], [b]) => a - b)) {
    const headers = ERROR_HEADERS[status];
    out[String(status)] = {
      description: `${STATUS_TEXT[status] ?? 'Error'}: ${group.map((c) => `\`${c}\``).join(', ')}.`,
      ...(headers ? { headers } : {}),
      content: json(errorSchema(group)),
    };
  }
  return out;
}

/** Codes every API route (`/v1/*`, `/healthz`) may answer: the per-address rate limit first. */
const API: ErrorCode[] = ['rate_limited'];
/** Codes of a route behind a token (required or optional). */
const SIGNED_IN: ErrorCode[] = [...API, 'unauthorized'];
/** Codes of a small JSON body (account creation, pairing). */
const SMALL_JSON: ErrorCode[] = ['invalid_request', 'payload_too_large', 'json_too_complex', 'unsupported_media_type'];
/** Codes of an uploaded head document. */
const HEAD_UPLOAD: ErrorCode[] = ['invalid_request', 'payload_too_large', 'json_too_complex', 'unsupported_media_type', 'invalid_head', 'backbone_mismatch'];
/** Codes of an image or embedding body. */
const IMAGE_INPUT: ErrorCode[] = ['payload_too_large', 'image_too_large', 'image_too_complex', 'unsupported_media_type', 'invalid_image', 'model_unavailable'];

type Security = Record<string, string[]>[];
const anonymous: Security = [{}];
const optionalToken: Security = [{}, { bearer: [] }];
const token: Security = [{ bearer: [] }];
const operatorToken: Security = [{ operator: [] }];

const ok = (description: string, schema: ApiSchemaName, headers?: Record<string, HeaderObject | Reference>): ResponseObject => ({
  description,
  ...(headers ? { headers } : {}),
  content: json(ref(schema)),
});
const noContent: ResponseObject = { description: 'Done; no body.' };
const notModified: ResponseObject = { description: 'Not modified: `If-None-Match` named the current ETag.', headers: { ETag: header('ETag') } };

const rules = Object.values(EDGE_RATE_RULES)
  .map((r) => `${r.what}: about ${r.limit} per ${r.periodSeconds} s`)
  .join('; ');

const imageBody = Object.fromEntries(IMAGE_TYPES.map((t) => [t, binary(t)]));

/** The description, built once per isolate (routes/openapi.ts). */
export function openApiDocument(version: string): OpenApiDocument {
  return {
    openapi: '3.1.0',
    info: {
      title: 'tannerin edge API',
      version,
      description: [
        'Image classification at the edge: a frozen MobileNetV2 backbone, default heads, personal heads synced between devices.',
        '',
        'Every error is `{"error": {"code", "message"}}` with the status of its code in the error table (`components.schemas.Error` lists every code).',
        'A known path with another method is a 405 `method_not_allowed` with `Allow` (`components.responses.MethodNotAllowed`); an unknown path under `/v1/` is a 404 `not_found`.',
        'CORS: `Access-Control-Allow-Origin: *`; preflights (`OPTIONS`) are answered with 204 before any limit.',
        '',
        `Rate limits, per client address, before authentication and before any body is read (a 429 \`rate_limited\` with \`Retry-After\` = the period): ${rules}. ` +
          'Signed-in calls are also counted per token, and account creation and pairing per address over hours (Retry-After: seconds until the window ends).',
        `Limits: bodies of images and embeddings at most ${LIMITS.maxBodyBytes / MiB} MiB, images at most ${LIMITS.maxPixels.toLocaleString('en-US')} pixels, JPEGs at most ${LIMITS.maxJpegScans} scans and ${LIMITS.maxJpegScanPixels.toLocaleString('en-US')} pixel-scans (413).`,
        `Head documents: JSON nested at most ${HEAD_JSON_LIMITS.maxDepth} deep with at most ${HEAD_JSON_LIMITS.maxTokens.toLocaleString('en-US')} values (413 \`json_too_complex\`).`,
        `Quotas (defaults; configurable): ${DEFAULT_MAX_HEADS} heads and ${DEFAULT_MAX_ACCOUNT_BYTES / MiB} MiB of head documents per account, ${DEFAULT_MAX_PUBLISHED_HEADS} published heads of at most ${DEFAULT_MAX_PUBLISHED_HEAD_BYTES / MiB} MiB each (403 \`quota_exceeded\`; 413 for a document over the size).`,
        'When the loaded heads fill the isolate\'s memory budget, a prediction waits briefly, then gets a 503 `model_unavailable` with `Retry-After`.',
        '',
        '`/_diag/*` answer only where `TANNERIN_DIAGNOSTICS` is "1" (local development and tests), and 404 elsewhere.',
      ].join('\n'),
    },
    servers: [{ url: '/' }],
    tags: [
      { name: 'inference', description: 'Models, predictions and embeddings; anonymous.' },
      { name: 'accounts', description: 'Accounts, tokens and pairing (only to sync personal heads).' },
      { name: 'heads', description: "The caller's personal heads, versioned by ETag." },
      { name: 'operator', description: 'Publishing default heads (the OPERATOR_TOKEN secret; 404 when it is not set).' },
      { name: 'diagnostics', description: 'Local development only.' },
    ],
    paths: {
      '/healthz': {
        get: {
          operationId: 'health',
          summary: 'The Worker is up and its manifest is readable',
          tags: ['inference'],
          security: anonymous,
          responses: { 200: ok('Up.', 'HealthResponse'), ...errors(...API) },
        },
      },
      '/v1/models': {
        get: {
          operationId: 'listModels',
          summary: 'The manifest: the default backbone, every backbone served (`backbones`; a pair of them, e.g. `mobilenet_v2+inception_v3`, lists its `members` and no files), their files, the heads served and the object detectors the app downloads on opt-in (`detectors`), with absolute URLs',
          description: 'Revalidate with `If-None-Match` (the answer is `Cache-Control: no-cache`): a 304 when nothing changed.',
          tags: ['inference'],
          security: anonymous,
          parameters: [parameter('If-None-Match')],
          responses: {
            200: ok('The manifest.', 'ModelsResponse', { ETag: etagHeader }),
            304: notModified,
            ...errors(...API, 'invalid_request'),
          },
        },
      },
      '/v1/openapi.json': {
        get: {
          operationId: 'openApi',
          summary: 'This description',
          tags: ['inference'],
          security: anonymous,
          parameters: [parameter('If-None-Match')],
          responses: {
            200: {
              description: 'The OpenAPI 3.1 description.',
              headers: { ETag: etagHeader },
              content: json({ type: 'object', required: ['openapi', 'info', 'paths', 'components'] }),
            },
            304: notModified,
            ...errors(...API, 'invalid_request'),
          },
        },
      },
      '/v1/predict': {
        post: {
          operationId: 'predict',
          summary: 'Class scores for a photo or an embedding',
          description:
            'A default head by name, or one of the caller\'s own heads by id (needs its token). A fine-tuned head needs the photo: an embedding is a 422 `invalid_embedding`. Only the default backbone (`backbone` of `/v1/models`) runs here: a head on another backbone, served or not, is a 409 `backbone_mismatch`. A head with a feature-map `crop` cuts the photo to the box the backbone\'s feature map finds (one more backbone pass) and predicts the crop; the answer\'s `crop` gives the box. It needs the photo (an embedding is a 422 `invalid_embedding`); a head with a detector crop runs only in the app: a 409 `conflict`.',
          tags: ['inference'],
          security: optionalToken,
          parameters: [
            { name: 'head', in: 'query', description: 'A default head name (default `content-safety`), or a personal head id (UUID).', schema: { type: 'string' } },
            { name: 'top', in: 'query', description: 'How many classes to return, best first (default: all).', schema: { type: 'integer', minimum: 1 } },
          ],
          requestBody: {
            description: `A JPEG or PNG, or the embedding computed on the client as little-endian float32 (\`embedding.size\` values of \`/v1/models\`); at most ${LIMITS.maxBodyBytes / MiB} MiB.`,
            required: true,
            content: { ...imageBody, [EMBEDDING_TYPE]: binary(EMBEDDING_TYPE) },
          },
          responses: {
            200: ok('The scores.', 'PredictResponse', { 'x-tannerin-head-etag': header('x-tannerin-head-etag') }),
            ...errors(...SIGNED_IN, ...IMAGE_INPUT, 'invalid_request', 'not_found', 'backbone_mismatch', 'conflict', 'invalid_embedding', 'invalid_head'),
          },
        },
      },
      '/v1/embed': {
        post: {
          operationId: 'embed',
          summary: "The backbone's embedding of a photo",
          tags: ['inference'],
          security: optionalToken,
          requestBody: { description: `A JPEG or PNG of at most ${LIMITS.maxBodyBytes / MiB} MiB.`, required: true, content: imageBody },
          responses: {
            200: {
              description: 'The embedding as little-endian float32.',
              headers: {
                'x-tannerin-backbone': { description: '`<backbone id>@<version>`.', required: true, schema: { type: 'string' } },
                'x-tannerin-embedding-size': { description: 'Number of float32 values.', required: true, schema: { type: 'string', pattern: '^[1-9][0-9]*$' } },
              },
              content: { [EMBEDDING_TYPE]: binary(EMBEDDING_TYPE) },
            },
            ...errors(...SIGNED_IN, ...IMAGE_INPUT),
          },
        },
      },
      '/v1/accounts': {
        post: {
          operationId: 'createAccount',
          summary: 'A new account and its first token',
          tags: ['accounts'],
          security: anonymous,
          requestBody: { description: 'Optional.', required: false, content: json(ref('CreateAccountRequest')) },
          responses: { 201: ok('Created; the token is shown this once.', 'TokenResponse'), ...errors(...API, ...SMALL_JSON) },
        },
      },
      '/v1/accounts/me': {
        get: {
          operationId: 'getAccount',
          summary: "The token's account",
          tags: ['accounts'],
          security: token,
          responses: { 200: ok('The account.', 'AccountResponse'), ...errors(...SIGNED_IN) },
        },
        delete: {
          operationId: 'deleteAccount',
          summary: 'Deletes the account, its tokens and its heads',
          description: 'Marked `deleting` first: if it fails half-way, the same request with the same token resumes it.',
          tags: ['accounts'],
          security: token,
          responses: { 204: noContent, ...errors(...SIGNED_IN) },
        },
      },
      '/v1/accounts/me/token': {
        post: {
          operationId: 'rotateToken',
          summary: 'A new token replaces the one this request was made with',
          tags: ['accounts'],
          security: token,
          responses: { 201: ok('The new token.', 'TokenResponse'), ...errors(...SIGNED_IN) },
        },
      },
      '/v1/tokens': {
        get: {
          operationId: 'listTokens',
          summary: "The account's tokens (never the secrets)",
          tags: ['accounts'],
          security: token,
          responses: { 200: ok('The tokens.', 'TokensResponse'), ...errors(...SIGNED_IN) },
        },
      },
      '/v1/tokens/{id}': {
        delete: {
          operationId: 'revokeToken',
          summary: 'Revokes a token (`current`: the one this request was made with)',
          tags: ['accounts'],
          security: token,
          parameters: [{ name: 'id', in: 'path', required: true, description: 'A token id, or `current`.', schema: { type: 'string' } }],
          responses: { 204: noContent, ...errors(...SIGNED_IN, 'not_found', 'conflict') },
        },
      },
      '/v1/pairing-codes': {
        post: {
          operationId: 'createPairingCode',
          summary: 'A short code a new device redeems for its own token',
          tags: ['accounts'],
          security: token,
          responses: { 201: ok('The code (it replaces the account\'s earlier one).', 'PairingCodeResponse'), ...errors(...SIGNED_IN) },
        },
      },
      '/v1/pairing-codes/redeem': {
        post: {
          operationId: 'redeemPairingCode',
          summary: "A pairing code in, the new device's token out",
          tags: ['accounts'],
          security: anonymous,
          requestBody: { required: true, content: json(ref('RedeemRequest')) },
          responses: { 201: ok('The new token.', 'TokenResponse'), ...errors(...API, ...SMALL_JSON, 'invalid_pairing_code') },
        },
      },
      '/v1/heads': {
        get: {
          operationId: 'listHeads',
          summary: "The caller's heads (index entries, no weights)",
          tags: ['heads'],
          security: token,
          responses: { 200: ok('The heads.', 'HeadsResponse'), ...errors(...SIGNED_IN) },
        },
      },
      '/v1/heads/{id}': {
        get: {
          operationId: 'getHead',
          summary: 'A stored head document',
          tags: ['heads'],
          security: token,
          parameters: [parameter('headId'), parameter('If-None-Match')],
          responses: {
            200: ok('The document.', 'HeadDocument', { ETag: etagHeader }),
            304: notModified,
            ...errors(...SIGNED_IN, 'invalid_request', 'not_found'),
          },
        },
        put: {
          operationId: 'putHead',
          summary: 'Creates (`If-None-Match: *`) or replaces (`If-Match: "<etag>"`) a head',
          description: `Validated completely, against the backbone it names (any of \`backbones\` in \`/v1/models\`; another is a 409 \`backbone_mismatch\`), before anything is stored. Without a precondition (or with \`If-Match: *\`): 428. At most ${DEFAULT_MAX_HEADS} heads and ${DEFAULT_MAX_ACCOUNT_BYTES / MiB} MiB per account by default (403 \`quota_exceeded\`).`,
          tags: ['heads'],
          security: token,
          parameters: [parameter('headId'), parameter('If-Match'), parameter('If-None-Match')],
          requestBody: { description: `The head document (${HEAD_TYPE}), at most ${LIMITS.maxBodyBytes / MiB} MiB.`, required: true, content: json(ref('HeadDocument')) },
          responses: {
            200: ok('Replaced.', 'HeadSummary', { ETag: etagHeader }),
            201: ok('Created.', 'HeadSummary', { ETag: etagHeader, Location: header('Location') }),
            ...errors(...SIGNED_IN, ...HEAD_UPLOAD, 'quota_exceeded', 'not_found', 'precondition_failed', 'precondition_required'),
          },
        },
        delete: {
          operationId: 'deleteHead',
          summary: 'Deletes a head (`If-Match` optional, honoured)',
          tags: ['heads'],
          security: token,
          parameters: [parameter('headId'), parameter('If-Match')],
          responses: { 204: noContent, ...errors(...SIGNED_IN, 'invalid_request', 'not_found', 'precondition_failed') },
        },
      },
      '/v1/operator/heads': {
        get: {
          operationId: 'listPublished',
          summary: 'The published default heads',
          tags: ['operator'],
          security: operatorToken,
          responses: { 200: ok('The published heads.', 'PublishedHeadsResponse'), ...errors(...SIGNED_IN, 'not_found') },
        },
      },
      '/v1/operator/heads/{name}': {
        put: {
          operationId: 'publishHead',
          summary: 'Publishes a plain head as default head `name`',
          description: `A name already published, or shipped with the deploy, is a 409 unless \`replace=1\`. At most ${DEFAULT_MAX_PUBLISHED_HEADS} published heads (403 \`quota_exceeded\`), each at most ${DEFAULT_MAX_PUBLISHED_HEAD_BYTES / MiB} MiB (413), by default.`,
          tags: ['operator'],
          security: operatorToken,
          parameters: [
            parameter('publishedName'),
            { name: 'replace', in: 'query', description: '`1` to replace a published head or shadow a shipped one.', schema: { enum: ['0', '1', 'true', 'false', ''] } },
          ],
          requestBody: { required: true, content: json(ref('HeadDocument')) },
          responses: {
            200: ok('Replaced.', 'PublishedHeadSummary', { ETag: etagHeader }),
            201: ok('Published.', 'PublishedHeadSummary', { ETag: etagHeader, Location: header('Location') }),
            ...errors(...SIGNED_IN, ...HEAD_UPLOAD, 'not_found', 'conflict', 'quota_exceeded'),
          },
        },
        delete: {
          operationId: 'unpublishHead',
          summary: 'Unpublishes a head (a shipped head of that name is served again)',
          tags: ['operator'],
          security: operatorToken,
          parameters: [parameter('publishedName')],
          responses: { 204: noContent, ...errors(...SIGNED_IN, 'invalid_request', 'not_found', 'conflict') },
        },
      },
      '/v1/published-heads/{name}/{write}/{file}': {
        get: {
          operationId: 'publishedHeadFile',
          summary: "A published head version's file (immutable)",
          tags: ['inference'],
          security: anonymous,
          parameters: [
            { name: 'name', in: 'path', required: true, description: 'The published name.', schema: { type: 'string' } },
            { name: 'write', in: 'path', required: true, description: 'The version\'s write id (from `/v1/models`).', schema: { type: 'string' } },
            { name: 'file', in: 'path', required: true, description: 'The file.', schema: { enum: ['head.json', 'model.json', 'weights.bin'] } },
          ],
          responses: {
            200: {
              description: '`head.json` (the head document) and `model.json` (TF.js) as JSON, `weights.bin` as bytes.',
              headers: { ETag: header('ETag'), 'Cache-Control': { description: '`public, max-age=31536000, immutable`.', required: true, schema: { const: 'public, max-age=31536000, immutable' } } },
              content: { 'application/json': { schema: { type: 'object' } }, 'application/octet-stream': binary('application/octet-stream') },
            },
            ...errors(...API, 'not_found'),
          },
        },
      },
      '/_diag/memory': {
        get: {
          operationId: 'diagnosticsMemory',
          summary: 'Tensors, WASM heap and the head cache',
          tags: ['diagnostics'],
          security: anonymous,
          responses: { 200: ok('The figures.', 'DiagnosticsResponse'), ...errors('not_found') },
        },
      },
      '/_diag/forward': {
        get: {
          operationId: 'diagnosticsForward',
          summary: 'Times n forward passes inside the isolate',
          tags: ['diagnostics'],
          security: anonymous,
          parameters: [
            { name: 'n', in: 'query', description: 'Passes, 1 to 200 (default 20).', schema: { type: 'integer', minimum: 1, maximum: 200 } },
            { name: 'unfolded', in: 'query', description: '1: time the layers model as shipped instead of the folded backbone (builds a second copy of the weights).', schema: { type: 'string', enum: ['1'] } },
          ],
          responses: { 200: ok('One time per pass, in ms.', 'ForwardTimingResponse'), ...errors('not_found', 'model_unavailable') },
        },
      },
      '/_diag/storage': {
        get: {
          operationId: 'diagnosticsStorage',
          summary: "The isolate's D1 queries and R2 operations so far",
          tags: ['diagnostics'],
          security: anonymous,
          responses: { 200: ok('The counts.', 'StorageCounts'), ...errors('not_found') },
        },
      },
    },
    components: {
      schemas: API_SCHEMAS,
      responses: {
        MethodNotAllowed: {
          description: 'A known path with a method it does not allow (`method_not_allowed`).',
          headers: { Allow: allowHeader },
          content: json(errorSchema(['method_not_allowed'])),
        },
      },
      parameters: {
        'If-None-Match': {
          name: 'If-None-Match',
          in: 'header',
          description: 'Entity tags (RFC 9110, parsed strictly: a malformed list is a 400) or `*`; a match is a 304 on GET. On PUT only `*` (create).',
          schema: { type: 'string' },
        },
        'If-Match': {
          name: 'If-Match',
          in: 'header',
          description: 'The ETag of the version being replaced or deleted (strong comparison); no match is a 412 with the current `ETag`.',
          schema: { type: 'string' },
        },
        headId: { name: 'id', in: 'path', required: true, description: 'A head id: a lowercase UUID.', schema: { type: 'string' } },
        publishedName: { name: 'name', in: 'path', required: true, description: 'Lowercase words joined by hyphens, at most 64 characters.', schema: { type: 'string' } },
      },
      headers: componentsHeaders,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An account token (`tnr_...`). A header with an unknown, revoked or malformed token is a 401, never anonymous.' },
        operator: { type: 'http', scheme: 'bearer', description: 'The OPERATOR_TOKEN secret.' },
      },
    },
  };
}
