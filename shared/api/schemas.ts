/**
 * JSON Schemas (draft 2020-12, the dialect of OpenAPI 3.1) of the HTTP API's JSON bodies, each
 * written against its TypeScript type in shared/api/types.ts (or shared/errors.ts, shared/model/,
 * shared/head/): {@link objectSchema} makes `properties` name exactly the type's keys, so a field
 * added to a type without a schema, or a schema for a field that does not exist, fails the
 * typecheck. The OpenAPI description (worker/routes/openapi-document.ts) refers to them by name,
 * and the Worker tests validate real answers against them (tests/worker/openapi.test.ts).
 */
import type {
  AccountResponse,
  CreateAccountRequest,
  DiagnosticsResponse,
  ForwardTimingResponse,
  HeadsResponse,
  HeadSummary,
  HealthResponse,
  ModelsResponse,
  PairingCodeResponse,
  Prediction,
  PredictResponse,
  PublishedHeadsResponse,
  PublishedHeadSummary,
  RedeemRequest,
  ServedBackbone,
  ServedDetector,
  ServedFile,
  StorageCounts,
  TokenInfo,
  TokenResponse,
  TokensResponse,
} from './types.ts';
import { ERROR_STATUS, type ErrorBody, type ErrorCode } from '../errors.ts';
import type { BackboneTail, HeadDocument, HeadMetrics, HeadWeightSpec } from '../head/document.ts';
import { MAX_TEST_TIME_VIEWS, type TestTimeAugmentation } from '../head/tta.ts';
import { CROP_FORMAT_VERSION, MAX_CROP_PAD, type CropUsed, type DetectorCrop, type FeatureMapCrop } from '../head/crop.ts';
import type { EmbeddingPart, InputSpec, InputTransform } from '../model/manifest.ts';

/** A JSON Schema, as far as this API's description uses the vocabulary. */
export interface JsonSchema {
  $ref?: string;
  type?: JsonType | readonly JsonType[];
  description?: string;
  properties?: Readonly<Record<string, JsonSchema>>;
  required?: readonly string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  prefixItems?: readonly JsonSchema[];
  minItems?: number;
  maxItems?: number;
  enum?: readonly (string | number | boolean | null)[];
  const?: string | number | boolean | null;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  oneOf?: readonly JsonSchema[];
  /** Binary bodies (OpenAPI 3.1): the media type the bytes are in. */
  contentMediaType?: string;
}

/** JSON Schema's value types. */
export type JsonType = 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null';

/** The keys of `T` that may be absent. */
type OptionalKeys<T> = { [K in keyof T]-?: Record<never, never> extends Pick<T, K> ? K : never }[keyof T];

/**
 * The schema of object type `T`: `properties` must name every key of `T` and no other; every key
 * is required except those listed in `optional` (which must be optional in `T`). Closed
 * (`additionalProperties: false`) unless `open`, so an answer carrying an undescribed field fails
 * validation.
 */
export function objectSchema<T extends object>(spec: {
  description?: string;
  properties: { [K in keyof T]-?: JsonSchema };
  optional?: readonly OptionalKeys<T>[];
  open?: boolean;
}): JsonSchema {
  const optional: readonly PropertyKey[] = spec.optional ?? [];
  return {
    type: 'object',
    ...(spec.description ? { description: spec.description } : {}),
    properties: spec.properties,
    required: Object.keys(spec.properties).filter((k) => !optional.includes(k)),
    additionalProperties: spec.open ?? false,
  };
}

/** The names of the schemas of {@link API_SCHEMAS} (`components.schemas`); listed, since schemas refer to each other. */
export type ApiSchemaName =
  | 'Error'
  | 'ModelsResponse'
  | 'ServedFile'
  | 'InputSpec'
  | 'EmbeddingPart'
  | 'InputTransform'
  | 'Prediction'
  | 'PredictResponse'
  | 'HealthResponse'
  | 'CreateAccountRequest'
  | 'TokenResponse'
  | 'AccountResponse'
  | 'TokenInfo'
  | 'TokensResponse'
  | 'PairingCodeResponse'
  | 'RedeemRequest'
  | 'HeadSummary'
  | 'HeadsResponse'
  | 'HeadDocument'
  | 'HeadWeightSpec'
  | 'PublishedHeadSummary'
  | 'PublishedHeadsResponse'
  | 'DiagnosticsResponse'
  | 'ForwardTimingResponse'
  | 'StorageCounts';

/** A reference to a schema of {@link API_SCHEMAS}, as the OpenAPI description names it. */
export const ref = (name: ApiSchemaName): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

const string: JsonSchema = { type: 'string' };
const integer = (minimum = 0): JsonSchema => ({ type: 'integer', minimum });
const number: JsonSchema = { type: 'number' };
const boolean: JsonSchema = { type: 'boolean' };
const dateTime: JsonSchema = { type: 'string', format: 'date-time' };
const uuid: JsonSchema = { type: 'string', format: 'uuid' };
const strings: JsonSchema = { type: 'array', items: string };
const numbers: JsonSchema = { type: 'array', items: number };
/** `<backbone id>@<version>`. */
const backboneRef: JsonSchema = { type: 'string', pattern: '^[^@]+@[0-9a-f]+$', description: '`<backbone id>@<version>`.' };
/** A quoted hex SHA-256, as the `ETag` header carries it. */
const quotedSha256: JsonSchema = { type: 'string', pattern: '^"[0-9a-f]{64}"$' };
/** A default head's name: lowercase words joined by hyphens. */
const defaultHeadName: JsonSchema = { type: 'string', pattern: '^[a-z]+(-[a-z]+)*$' };

const servedFile = objectSchema<ServedFile>({
  description: 'A model file, served as a static asset under a content-hashed path (immutable).',
  properties: {
    path: { type: 'string', description: 'Relative to the site root.' },
    bytes: integer(),
    sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    url: { type: 'string', format: 'uri' },
  },
});

const inputSpec = objectSchema<InputSpec>({
  description: 'The input the backbone expects: `x = pixel * scale + offset` after resizing.',
  properties: {
    width: integer(1),
    height: integer(1),
    channels: { const: 3 },
    background: { type: 'array', items: integer(), minItems: 3, maxItems: 3 },
    resize: { const: 'bilinear' },
    alignCorners: boolean,
    scale: number,
    offset: number,
  },
});

const embeddingPart = objectSchema<EmbeddingPart>({
  properties: {
    name: string,
    layer: string,
    pooling: { enum: ['none', 'global-max', 'global-average'] },
    size: integer(1),
    offset: integer(),
  },
});

const inputTransform = objectSchema<InputTransform>({
  description: "How a head's input is derived from the embedding.",
  properties: {
    parts: strings,
    mean: { oneOf: [numbers, { type: 'null' }] },
    normalize: { enum: ['none', 'l2'] },
    scale: number,
  },
});

type ServedHead = ModelsResponse['heads'][number];

/** A served backbone's schema; `pairs`: a pair (`members`, no files of its own) may be described too. */
const servedBackbone = (description: string, pairs: boolean): JsonSchema =>
  objectSchema<ServedBackbone>({
    description,
    properties: {
      id: string,
      version: { type: 'string', pattern: '^[0-9a-f]+$' },
      inputSize: { type: 'array', items: integer(1), minItems: 2, maxItems: 2 },
      normalization: ref('InputSpec'),
      embedding: objectSchema<ServedBackbone['embedding']>({ properties: { size: integer(1), parts: { type: 'array', items: ref('EmbeddingPart') } } }),
      files: pairs
        ? { type: 'array', items: ref('ServedFile'), description: '`model.json` first, then weight files; empty for a pair (its members\' files are the ones downloaded).' }
        : { type: 'array', items: ref('ServedFile'), minItems: 1, description: '`model.json` first, then weight files.' },
      members: {
        type: 'array',
        items: backboneRef,
        minItems: 2,
        description:
          'Only for a pair (e.g. `mobilenet_v2+inception_v3`): the served backbones (`<id>@<version>`, listed before it) whose embeddings, concatenated in this order, are its embedding; `embedding.parts` are theirs, offsets shifted. Its version is the members\' versions concatenated; its input fields are the first member\'s (each member prepares the photo its own way).',
      },
    },
    optional: ['members'],
  });

const modelsResponse = objectSchema<ModelsResponse>({
  properties: {
    backbone: servedBackbone('The default backbone: the one the edge runs (`/v1/predict`, `/v1/embed`).', false),
    backbones: {
      type: 'array',
      minItems: 1,
      description:
        'Every backbone served, the default first (equal to `backbone`), then any pair of them after its members (`members`). Heads for any of them are stored and synced; `/v1/predict` runs only the default, and answers 409 `backbone_mismatch` for a head on another (a pair included). Manifests older than pairs have no pair entry.',
      items: servedBackbone('A served backbone, or a pair of served backbones (`members`).', true),
    },
    heads: {
      type: 'array',
      items: objectSchema<ServedHead>({
        properties: {
          id: { type: 'string', description: 'A default head name (`?head=` of `/v1/predict`).' },
          name: string,
          classes: strings,
          backbone: backboneRef,
          input: ref('InputTransform'),
          url: { type: 'string', format: 'uri', description: "The head document's URL (the same as `document.url`)." },
          document: ref('ServedFile'),
          files: { type: 'array', items: ref('ServedFile'), description: 'The head as standard TF.js layers files.' },
        },
      }),
    },
    detectors: {
      type: 'array',
      description:
        'Object detectors the app downloads only when the person turns "find the object first" on (a head whose `crop.method` is `detector` names one by `id`); never run here: `/v1/predict` answers 409 for such a head. Empty when none is served.',
      items: objectSchema<ServedDetector>({
        properties: {
          id: { type: 'string', description: 'The name a detector crop gives (`crop.detector`), e.g. `centernet-mobilenetv3`.' },
          version: { type: 'string', pattern: '^[0-9a-f]+$' },
          name: string,
          inputSize: { type: 'array', items: integer(1), minItems: 2, maxItems: 2 },
          bytes: { ...integer(1), description: 'Bytes of all its files: what turning it on downloads.' },
          files: { type: 'array', items: ref('ServedFile'), minItems: 1, description: 'A TF.js graph model: `model.json` first, then `weights.bin`.' },
        },
      }),
    },
  },
  optional: ['detectors'],
});

const prediction = objectSchema<Prediction>({ properties: { label: string, score: { type: 'number', minimum: 0, maximum: 1 } } });

/** A fraction of the photo's width or height. */
const fraction: JsonSchema = { type: 'number', minimum: 0, maximum: 1 };

const predictResponse = objectSchema<PredictResponse>({
  properties: {
    backbone: backboneRef,
    head: { type: 'string', description: 'The head that ran: a default head name or a personal head id.' },
    predictions: { type: 'array', items: ref('Prediction'), minItems: 1, description: 'Scores descending; they sum to 1 over all classes.' },
    crop: objectSchema<CropUsed>({
      description: 'Only for a head with a crop (its document\'s `crop`): the box the photo was cut to before it was embedded, and the method that found it.',
      properties: {
        method: { enum: ['featuremap', 'detector'] },
        box: objectSchema<CropUsed['box']>({
          description: 'Fractions of the photo: `x` and `width` of its width, `y` and `height` of its height (EXIF orientation applied).',
          properties: { x: fraction, y: fraction, width: fraction, height: fraction },
        }),
      },
    }),
  },
  optional: ['crop'],
});

const healthResponse = objectSchema<HealthResponse>({ properties: { ok: { const: true }, backbone: backboneRef } });

const tokenResponse = objectSchema<TokenResponse>({
  description: 'A new token, shown this once (the server keeps only its hash).',
  properties: {
    accountId: uuid,
    tokenId: uuid,
    token: { type: 'string', pattern: '^tnr_[A-Za-z0-9_-]{43}$', description: 'Send as `Authorization: Bearer <token>`.' },
  },
});

const accountResponse = objectSchema<AccountResponse>({
  properties: { accountId: uuid, tokenId: uuid, created: dateTime, heads: integer() },
});

const tokenInfo = objectSchema<TokenInfo>({
  properties: {
    id: uuid,
    label: { type: ['string', 'null'] },
    created: dateTime,
    lastUsed: { oneOf: [dateTime, { type: 'null' }], description: 'To the hour; null if never used after issue.' },
    current: boolean,
  },
});

const pairingCodeResponse = objectSchema<PairingCodeResponse>({
  properties: {
    code: { type: 'string', pattern: '^[0-9A-Z]{4}-[0-9A-Z]{4}$', description: 'Eight characters as `XXXX-XXXX`; case, spaces and hyphens are ignored when typed.' },
    expiresAt: dateTime,
    expiresInSeconds: integer(1),
  },
});

const label: JsonSchema = { type: ['string', 'null'], maxLength: 100, description: "A name for the new token's device (at most 100 characters)." };

const headSummary = objectSchema<HeadSummary>({
  properties: {
    id: uuid,
    name: string,
    etag: { ...quotedSha256, description: 'As in the `ETag` header: send it back in `If-Match`.' },
    version: integer(1),
    backbone: backboneRef,
    classes: strings,
    bytes: integer(1),
    fineTuned: boolean,
    created: dateTime,
    updated: dateTime,
  },
});

const publishedHeadSummary = objectSchema<PublishedHeadSummary>({
  properties: {
    name: defaultHeadName,
    displayName: string,
    sourceId: uuid,
    etag: quotedSha256,
    version: integer(1),
    backbone: backboneRef,
    classes: strings,
    bytes: integer(1),
    shadowsShipped: boolean,
    created: dateTime,
    updated: dateTime,
  },
});

const weightSpec = objectSchema<HeadWeightSpec>({
  properties: {
    name: string,
    shape: { type: 'array', items: integer() },
    dtype: { enum: ['float32', 'int32'] },
    quantization: objectSchema<NonNullable<HeadWeightSpec['quantization']>>({
      properties: { dtype: { enum: ['uint8', 'uint16', 'float16'] }, min: number, scale: number },
      optional: ['min', 'scale'],
    }),
  },
  optional: ['quantization'],
});

const headDocument = objectSchema<HeadDocument>({
  description: 'A head document (shared/head/document.ts): the classes, the input transform and the TF.js layers model with its weights inline. The server validates it completely (shared/head/validate.ts); this schema gives its shape.',
  properties: {
    format: { const: 'tannerin-head' },
    formatVersion: { enum: [1, CROP_FORMAT_VERSION], description: `${CROP_FORMAT_VERSION} for a head with a \`crop\`, else 1.` },
    id: string,
    name: string,
    classes: strings,
    backbone: backboneRef,
    input: ref('InputTransform'),
    metrics: {
      oneOf: [
        objectSchema<HeadMetrics>({
          properties: { accuracy: number, perClass: { type: 'object', additionalProperties: number }, confusion: { type: 'array', items: numbers }, n: integer() },
          open: true,
        }),
        { type: 'null' },
      ],
    },
    created: dateTime,
    modelTopology: { type: 'object' },
    weightSpecs: { type: 'array', items: ref('HeadWeightSpec') },
    weightData: { type: 'string', description: 'The weights, base64.' },
    backboneTail: objectSchema<BackboneTail>({
      description: 'A fine-tuned model: its own copies of the backbone layers above `cut`.',
      properties: {
        cut: string,
        cutShape: { type: 'array', items: integer(1) },
        parts: strings,
        modelTopology: { type: 'object' },
        weightSpecs: { type: 'array', items: ref('HeadWeightSpec') },
        weightData: string,
      },
      open: true,
    }),
    testTimeAugmentation: objectSchema<TestTimeAugmentation>({
      description:
        'Test-time augmentation: a prediction from a photo averages the class probabilities of the photo and its first `views` augmented views (shared/image/augment.ts, seeded by `seed`; each view is one more backbone pass). Absent: off. Train records it unless it was significantly worse on the held-out photos. A prediction from an embedding runs the head once.',
      properties: { views: { ...integer(1), maximum: MAX_TEST_TIME_VIEWS }, seed: { ...integer(0), maximum: 4294967295 } },
    }),
    crop: {
      description:
        'The head was trained on crops: a prediction from a photo cuts the photo first. `featuremap`: the box around the most active cells of the backbone layer `layer` (cells at or above `threshold` x the strongest), grown by `pad` and made square; it runs everywhere, one more backbone pass. `detector`: browser only (the edge answers 409). Absent: the whole frame. A prediction from an embedding is refused (422): the crop needs the photo.',
      oneOf: [
        objectSchema<FeatureMapCrop>({
          properties: {
            method: { const: 'featuremap' },
            layer: string,
            threshold: { type: 'number', minimum: 0, maximum: 1, description: 'Greater than 0.' },
            pad: { type: 'number', minimum: 0, maximum: MAX_CROP_PAD },
          },
        }),
        objectSchema<DetectorCrop>({
          properties: { method: { const: 'detector' }, detector: string, minScore: fraction, pad: { type: 'number', minimum: 0, maximum: MAX_CROP_PAD } },
        }),
      ],
    },
  },
  optional: ['backboneTail', 'testTimeAugmentation', 'crop'],
  open: true,
});

const headCache = objectSchema<NonNullable<DiagnosticsResponse['headCache']>>({
  properties: { entries: integer(), bytes: integer(), maxBytes: integer(), peakBytes: integer(), refused: integer() },
});

/** Every error code, from the error table (shared/errors.ts). */
const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

/** The one error shape; `codes` narrows `error.code` (by default every code of the table). */
export function errorSchema(codes: readonly ErrorCode[] = ERROR_CODES): JsonSchema {
  return objectSchema<ErrorBody>({
    properties: {
      error: objectSchema<ErrorBody['error']>({
        properties: { code: { enum: codes }, message: { type: 'string', minLength: 1, description: 'For people; states the limit where one applies.' } },
      }),
    },
  });
}

/** The named schemas of the API, as `components.schemas` of the OpenAPI description. */
export const API_SCHEMAS: Record<ApiSchemaName, JsonSchema> = {
  Error: errorSchema(),
  ModelsResponse: modelsResponse,
  ServedFile: servedFile,
  InputSpec: inputSpec,
  EmbeddingPart: embeddingPart,
  InputTransform: inputTransform,
  Prediction: prediction,
  PredictResponse: predictResponse,
  HealthResponse: healthResponse,
  CreateAccountRequest: objectSchema<CreateAccountRequest>({ properties: { label }, optional: ['label'] }),
  TokenResponse: tokenResponse,
  AccountResponse: accountResponse,
  TokenInfo: tokenInfo,
  TokensResponse: objectSchema<TokensResponse>({ properties: { tokens: { type: 'array', items: ref('TokenInfo'), minItems: 1 } } }),
  PairingCodeResponse: pairingCodeResponse,
  RedeemRequest: objectSchema<RedeemRequest>({ properties: { code: string, label }, optional: ['label'] }),
  HeadSummary: headSummary,
  HeadsResponse: objectSchema<HeadsResponse>({ properties: { heads: { type: 'array', items: ref('HeadSummary') } } }),
  HeadDocument: headDocument,
  HeadWeightSpec: weightSpec,
  PublishedHeadSummary: publishedHeadSummary,
  PublishedHeadsResponse: objectSchema<PublishedHeadsResponse>({ properties: { heads: { type: 'array', items: ref('PublishedHeadSummary') } } }),
  DiagnosticsResponse: objectSchema<DiagnosticsResponse>({
    properties: {
      backend: string,
      numTensors: integer(),
      numBytes: integer(),
      wasmHeapBytes: integer(),
      peakWasmHeapBytes: integer(),
      modelLoads: integer(),
      headCache,
    },
    optional: ['headCache'],
  }),
  ForwardTimingResponse: objectSchema<ForwardTimingResponse>({ properties: { ms: { type: 'array', items: { type: 'number', minimum: 0 }, minItems: 1 } } }),
  StorageCounts: objectSchema<StorageCounts>({ properties: { d1Queries: integer(), r2Operations: integer() } }),
};

