/**
 * A seeded, bounded fuzzer for the HTTP API. Pure (no fs, no Node globals): the Worker tests run it
 * inside workerd through `SELF.fetch` (tests/worker/fuzz.test.ts, a few hundred requests) and the
 * bench runs it against `wrangler dev` on 127.0.0.1 (bench/fuzz.ts, thousands).
 *
 * Every request is hostile or odd: random bytes as images, truncated and corrupted real JPEG/PNG
 * files, tiny files declaring huge dimensions, wrong or missing content types, bodies over the
 * limit, NaN/Inf and wrong-length embeddings, malformed, oversized and huge-class-count head
 * documents, odd head ids (path traversal, unicode, very long, bad percent-encoding), missing,
 * forged, malformed and revoked tokens, another account's token, odd methods, paths, query values
 * and conditional headers. The same seed gives the same requests.
 *
 * {@link runFuzz} sends them and checks, for every one: no 5xx; an API error is the one JSON error
 * shape; a write (PUT, POST, DELETE) that is refused leaves storage exactly as it was (the caller's
 * `snapshot` reads D1 and R2 before and after); and every `healthEvery` requests, and at the end,
 * `/healthz` and a real prediction still answer (no crashed isolate).
 */
import type { BackboneManifest } from '../../shared/model/manifest.ts';
import { mulberry32, type Random } from '../../shared/util/random.ts';
import { headBytes, makeTestHead } from './heads.ts';
import { makePngWithHeader, patchJpegSof, progressiveJpeg, withExtraScans } from './images.ts';

/** Sends one request to the Worker: `path` includes the query. */
export type Fetcher = (path: string, init?: RequestInit) => Promise<Response>;

/** A real image to corrupt (fixtures: emoji PNGs, a photo-like JPEG). */
export interface FuzzImage {
  type: 'image/png' | 'image/jpeg';
  bytes: Uint8Array;
}

/** What the cases need to know about the server's state (made by {@link setupFuzz}). */
export interface FuzzContext {
  backbone: BackboneManifest;
  images: FuzzImage[];
  /** A valid token of account A, which stores {@link headId}. */
  token: string;
  accountId: string;
  /** A token of account A that was rotated away (revoked). */
  revokedToken: string;
  /** A valid token of account B, which stores nothing. */
  otherToken: string;
  /** A head stored for account A, and its ETag. */
  headId: string;
  headEtag: string;
  /** A fine-tuned model (head document with a `backboneTail`) stored for account A, if set up. */
  fineTuned?: { id: string; doc: Record<string, unknown> };
  /** The server's `OPERATOR_TOKEN`, when the operator API is on (more of its cases get past auth). */
  operatorToken?: string;
  /** Extra case makers (e.g. for routes added later), picked like the built-in ones. */
  extraCases?: CaseMaker[];
}

export interface FuzzRequest {
  /** The case family, for the report. */
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array | null;
  /** Statuses this case must get (besides the general checks), e.g. 413 for an amplification. */
  expect?: number[];
}

/** Makes one request from the seeded random source. */
export type CaseMaker = (r: Random, ctx: FuzzContext) => FuzzRequest;

export interface FuzzFinding {
  kind: string;
  method: string;
  path: string;
  status: number;
  problem: string;
  detail?: string;
}

export interface FuzzReport {
  requests: number;
  /** Count per status code. */
  byStatus: Record<number, number>;
  /** Count per case family. */
  byKind: Record<string, number>;
  status5xx: number;
  /** Writes that were refused (4xx) and whose storage snapshot was compared. */
  rejectedWritesChecked: number;
  /** Writes the server accepted (a random mutation that happened to be valid); not findings. */
  acceptedWrites: number;
  accepted: string[];
  healthChecks: number;
  findings: FuzzFinding[];
}

export interface FuzzOptions {
  fetch: Fetcher;
  ctx: FuzzContext;
  count: number;
  seed: number;
  /** A canonical text of everything stored (D1 rows, R2 objects) that a write could change. */
  snapshot: () => Promise<string>;
  /** Health check and real prediction every this many requests (default 50). */
  healthEvery?: number;
  /** Requests in flight at once (default 1); snapshots are only compared when 1. */
  concurrency?: number;
}

// ---------------------------------------------------------------------------------------------
// Random helpers

const pick = <T>(r: Random, items: readonly T[]): T => items[Math.floor(r() * items.length)] as T;
const int = (r: Random, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

function randomBytes(r: Random, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256);
  return out;
}

/** A random lowercase UUID (v4 layout), from the seeded source. */
function uuid(r: Random): string {
  const hex = Array.from(randomBytes(r, 16), (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const utf8 = (s: string): Uint8Array<ArrayBuffer> => new Uint8Array(new TextEncoder().encode(s));

let oversized: Uint8Array | null = null;
/** One body just over the 8 MiB request limit (made once; starts with a real JPEG header). */
function oversizedBody(ctx: FuzzContext): Uint8Array {
  if (!oversized) {
    oversized = new Uint8Array(8 * 1024 * 1024 + 1 + 4096);
    const jpeg = ctx.images.find((i) => i.type === 'image/jpeg') ?? ctx.images[0];
    if (jpeg) oversized.set(jpeg.bytes.subarray(0, Math.min(jpeg.bytes.length, oversized.length)));
  }
  return oversized;
}

const IMAGE_ROUTES = ['/v1/predict', '/v1/embed'] as const;
const IMAGE_TYPES = ['image/jpeg', 'image/png'] as const;
const ODD_TYPES = [
  '', 'text/plain', 'image/webp', 'image/gif', 'image/jpg', 'IMAGE/JPEG', 'image/png; charset=utf-8', 'image/jpeg;;;',
  'application/json', 'application/octet-stream', 'multipart/form-data; boundary=----x', 'application/x-www-form-urlencoded',
  'image/*', '*/*', 'image/png, image/jpeg', ' image/png ', 'image/svg+xml', 'application/octet-stream; foo="bar"',
];
const FLOATS = [NaN, Infinity, -Infinity, 3.4e38, -3.4e38, 1e-45, 0, -0];

/** Signs a request in with the right token (or leaves it anonymous). */
const auth = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** A valid head document of account A's shape with a new id, as an object to break. */
function validHead(r: Random, ctx: FuzzContext, id = uuid(r)): Record<string, unknown> {
  return makeTestHead(ctx.backbone, { id, seed: int(r, 1, 1000), hidden: 0, parts: ['flatten_1'], classes: ['yes', 'no'] }) as unknown as Record<string, unknown>;
}

/**
 * A head document that may or may not be valid: a real one (plain, or the fine-tuned model when set
 * up) with seeded changes the validator has to judge: odd but legal labels, input parts and
 * transforms, hidden layers, quantization, activations, extreme finite weights, `trainable` flags,
 * tail cuts and shapes, metrics. Whatever the validator accepts, the runtime must run (200).
 */
export function validishHead(r: Random, ctx: FuzzContext): { what: string; id: string; fineTuned: boolean; bytes: Uint8Array } {
  const id = uuid(r);
  const changes: string[] = [];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let d: Record<string, any>;
  const fineTuned = ctx.fineTuned !== undefined && r() < 0.35;
  if (fineTuned && ctx.fineTuned) {
    d = JSON.parse(JSON.stringify(ctx.fineTuned.doc)) as Record<string, unknown>;
    d['id'] = id;
    const tail = d['backboneTail'];
    const layers = tail.modelTopology.config?.layers ?? tail.modelTopology.model_config?.config?.layers ?? [];
    if (r() < 0.4) {
      for (const l of layers) if (l.config && r() < 0.5) l.config.trainable = r() < 0.5;
      changes.push('trainable flags');
    }
    if (r() < 0.3) {
      const shape = pick(r, [[7, 7, 160], [14, 14, 160], [7, 7, 161], [7, 7, 960]]);
      tail.cutShape = shape;
      if (r() < 0.7 && layers[0]?.config) layers[0].config.batch_input_shape = [null, ...shape];
      changes.push(`cutShape ${shape.join('x')}`);
    }
    if (r() < 0.2 && layers[0]?.config) {
      layers[0].config.dtype = pick(r, ['int32', 'float32', 'bool', 'float16']);
      changes.push(`input dtype ${String(layers[0].config.dtype)}`);
    }
  } else {
    const parts = ctx.backbone.embedding.parts.map((p) => p.name).filter(() => r() < 0.6);
    const classes = Array.from({ length: int(r, 2, 12) }, (_, i) => pick(r, [`c${i}`, `ü${i} ☃`, `${'x'.repeat(int(r, 1, 100))}${i}`, ` label ${i} `, `\u200b${i}`]));
    d = makeTestHead(ctx.backbone, { id, seed: int(r, 1, 1000), hidden: pick(r, [0, 0, 4, 16]), parts: parts.length ? parts : ['flatten_1'], classes, quantize: r() < 0.3, mean: r() < 0.5 }) as unknown as Record<string, unknown>;
    changes.push(`${classes.length} classes`);
  }
  const topLayers = d['modelTopology']?.config?.layers ?? d['modelTopology']?.model_config?.config?.layers ?? [];
  const last = topLayers[topLayers.length - 1];
  if (last?.config && r() < 0.3) {
    last.config.activation = pick(r, ['linear', 'relu', 'sigmoid', 'softmax', 'tanh', 'swish', 'mish', 'elu', 'selu', 'softplus', 'hardSigmoid']);
    changes.push(`activation ${String(last.config.activation)}`);
  }
  if (r() < 0.2) {
    // Extreme but finite weights: scores may overflow, and must still be answered.
    const length = atob(d['weightData'] as string).length;
    const floats = new Float32Array(Math.ceil(length / 4)).map((_, i) => (i % 2 ? 3.4e38 : -3.4e38));
    const bytes = new Uint8Array(floats.buffer, 0, length);
    let text = '';
    for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
    d['weightData'] = btoa(text);
    changes.push('extreme weights');
  }
  if (r() < 0.3) {
    d['metrics'] = pick(r, [null, { accuracy: 0.5, perClass: {}, confusion: [], n: 0 }, { anything: [1, { deep: [2] }] }]);
    changes.push('metrics');
  }
  return { what: changes.join(', ') || 'unchanged', id, fineTuned, bytes: utf8(JSON.stringify(d)) };
}

/** Breaks a head document in one of many ways (each one invalid by construction). */
function breakHead(r: Random, ctx: FuzzContext, doc: Record<string, unknown>): { what: string; bytes: Uint8Array } {
  const d = JSON.parse(JSON.stringify(doc)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const keys = Object.keys(d);
  const choice = int(r, 0, 17);
  switch (choice) {
    case 0: {
      const k = pick(r, keys);
      delete d[k];
      return { what: `missing ${k}`, bytes: headBytes(d) };
    }
    case 1: {
      const k = pick(r, keys);
      d[k] = pick(r, [null, 42, 'x', [], {}, true, -1, 1e308]);
      return { what: `wrong type for ${k}`, bytes: headBytes(d) };
    }
    case 2:
      d['extraField'] = { nested: [1, 2, 3] };
      return { what: 'unknown field', bytes: headBytes(d) };
    case 3: {
      // Huge class counts, with or without a model that matches.
      const n = pick(r, [1, 1001, 5000, 100_000]);
      d['classes'] = Array.from({ length: n }, (_, i) => `c${i}`);
      return { what: `${n} classes`, bytes: headBytes(d) };
    }
    case 4:
      d['classes'] = pick(r, [['a', 'a'], ['', 'b'], ['x'.repeat(101), 'y'], [1, 2], ['a', null]]);
      return { what: 'bad labels', bytes: headBytes(d) };
    case 5:
      d['backbone'] = pick(r, ['mobilenet_v2@0000000000000000', '', 'other@1', `${ctx.backbone.id}@${'f'.repeat(64)}`]);
      return { what: 'other backbone', bytes: headBytes(d) };
    case 6:
      // Weights that do not decode to the stated length, or are not base64.
      d['weightData'] = pick(r, ['', '!!!!', 'AAAA', base64url(randomBytes(r, 64)), 'A'.repeat(4 * 1000)]);
      return { what: 'bad weights', bytes: headBytes(d) };
    case 7: {
      // Finite-looking bytes with a NaN in the first kernel value (float32 0x7fc00000, little-endian).
      const w = d['weightData'] as string;
      const bin = atob(w.replace(/-/g, '+').replace(/_/g, '/'));
      const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
      bytes.set(pick(r, [[0, 0, 0xc0, 0x7f], [0, 0, 0x80, 0x7f], [0, 0, 0x80, 0xff]]), 4 * int(r, 0, 100));
      let s = '';
      for (const b of bytes) s += String.fromCharCode(b);
      d['weightData'] = /[-_]/.test(w) ? base64url(bytes) : btoa(s);
      return { what: 'non-finite weight', bytes: headBytes(d) };
    }
    case 8:
      return { what: 'not JSON', bytes: randomBytes(r, int(r, 0, 2000)) };
    case 9: {
      const depth = pick(r, [1000, 100_000, 1_000_000]);
      return { what: `nested ${depth} deep`, bytes: utf8('['.repeat(depth) + ']'.repeat(depth)) };
    }
    case 10:
      return { what: 'JSON of another shape', bytes: utf8(pick(r, ['null', '[]', '"head"', '1e999', '{}', '{"id":{"$ne":null}}', '{"__proto__":{"x":1}}'])) };
    case 11: {
      const full = headBytes(d);
      return { what: 'truncated', bytes: full.subarray(0, int(r, 1, full.length - 1)) };
    }
    case 12: {
      // Oversized: padded past the 8 MiB document limit (whitespace keeps it valid JSON).
      const text = JSON.stringify(d);
      const pad = new Uint8Array(8 * 1024 * 1024 + 10).fill(0x20);
      const out = new Uint8Array(pad.length + text.length);
      out.set(utf8(text.slice(0, -1)));
      out.set(pad, text.length - 1);
      out.set(utf8('}'), out.length - 1);
      return { what: 'over 8 MiB', bytes: out };
    }
    case 13: {
      // The model's first layer takes the wrong number of features / units do not match.
      const text = JSON.stringify(d).replace(/"units":\d+/, `"units":${pick(r, [0, 3, 99999, -1])}`).replace(/\[null,\d+\]/, `[null,${pick(r, [1, 2815, 2817, 0])}]`);
      return { what: 'layer sizes', bytes: utf8(text) };
    }
    case 14: {
      const text = JSON.stringify(d).replace(/"activation":"\w+"/, `"activation":"${pick(r, ['evil', 'Function', 'constructor', '__proto__'])}"`);
      return { what: 'unknown activation', bytes: utf8(text) };
    }
    case 15:
      if (r() < 0.5) {
        const spec = (d['weightSpecs'] as { shape: number[] }[])[0];
        if (spec) spec.shape = pick(r, [[1, 1], [], [2816, 2], [-1, 2], [1e9, 1e9]]);
        return { what: 'weight shapes', bytes: headBytes(d) };
      }
      d['backboneTail'] = pick(r, [{}, { cut: 'block_15_add' }, { cut: 'x', cutShape: [7, 7, 160], parts: [], modelTopology: {}, weightSpecs: [], weightData: '' }, null]);
      return { what: 'bogus backboneTail', bytes: headBytes(d) };
    case 16: {
      const text = JSON.stringify(d).replace(/"class_name":"Dense"/, `"class_name":"${pick(r, ['Conv2D', 'Lambda', 'Dens', ''])}"`);
      return { what: 'layer type', bytes: utf8(text) };
    }
    default: {
      // Flip a few bytes outside the weights: usually invalid JSON or an invalid field.
      const full = headBytes(d).slice();
      const wStart = new TextDecoder().decode(full).indexOf('"weightData"');
      for (let i = 0; i < int(r, 1, 4); i++) {
        const at = int(r, 0, Math.max(0, (wStart > 0 ? wStart : full.length) - 1));
        full[at] = pick(r, [0x22, 0x7b, 0x7d, 0x00, 0xff, 0x5c, 0x2c]);
      }
      return { what: 'corrupted bytes', bytes: full };
    }
  }
}

/** Odd head ids, as path segments (some already percent-encoded, some not). */
function oddHeadId(r: Random, ctx: FuzzContext): string {
  return pick(r, [
    '..', '../..', '..%2F..%2Fv1%2Fmodels', '%2e%2e%2f%2e%2e%2fheads', '.%00.', '%00', '%', '%E0%A4%A', '%ff%fe', '%C0%AE%C0%AE',
    encodeURIComponent('ünïcødé-😀'), encodeURIComponent('\u202e' + ctx.headId), encodeURIComponent('𝔥𝔢𝔞𝔡'),
    ctx.headId.toUpperCase(), ` ${ctx.headId}`, `${ctx.headId}%20`, `${ctx.headId}/extra`, `${ctx.headId}/`, `${ctx.headId}%0d%0aX-Evil:1`,
    'a'.repeat(int(r, 200, 8000)), uuid(r).replace(/-/g, ''), `${uuid(r)}0`, 'content-safety', 'null', 'undefined', '__proto__', 'constructor',
    `heads%2F${ctx.accountId}%2F${ctx.headId}`, encodeURIComponent(`heads/${ctx.accountId}/${ctx.headId}`),
  ]);
}

/** Authorization headers that must never work. */
function badAuth(r: Random, ctx: FuzzContext): Record<string, string> {
  const forged = `tnr_${base64url(randomBytes(r, 32))}`;
  return pick(r, [
    {},
    auth(ctx.revokedToken),
    auth(forged),
    auth(ctx.token.slice(0, -1)),
    auth(ctx.token + 'A'),
    auth(ctx.token.toUpperCase()),
    { authorization: 'Bearer' },
    { authorization: 'Bearer ' },
    { authorization: `Basic ${btoa('user:pass')}` },
    { authorization: `Bearer ${ctx.token} ${ctx.token}` },
    { authorization: `bearer\t${forged}` },
    { authorization: `Bearer ${'x'.repeat(int(r, 100, 6000))}` },
    { authorization: `Bearer tnr_${'%00'.repeat(8)}` },
    { authorization: 'Bearer \u00ff\u00fe' },
    { authorization: `Token ${ctx.token}` },
  ]);
}

/** A mangled copy of a real image: truncated, bytes flipped, or both. */
function mangleImage(r: Random, img: FuzzImage): { what: string; bytes: Uint8Array } {
  const b = img.bytes;
  const mode = int(r, 0, 4);
  if (mode === 0) return { what: 'truncated', bytes: b.slice(0, int(r, 0, b.length - 1)) };
  const out = b.slice();
  if (mode === 1 || mode === 2) {
    // Flip bytes in the headers (first 1 KiB) or anywhere.
    const span = mode === 1 ? Math.min(1024, out.length) : out.length;
    for (let i = 0, n = int(r, 1, 32); i < n; i++) out[int(r, 0, span - 1)] = Math.floor(r() * 256);
    return { what: mode === 1 ? 'header bytes flipped' : 'bytes flipped', bytes: out };
  }
  if (mode === 3) {
    // A run of zeros or 0xff in the middle (JPEG markers, PNG chunk lengths).
    const at = int(r, 0, out.length - 1);
    out.fill(pick(r, [0, 0xff]), at, Math.min(out.length, at + int(r, 1, 64)));
    return { what: 'run overwritten', bytes: out };
  }
  // Two files glued, or a file repeated.
  const glued = new Uint8Array(b.length * 2);
  glued.set(b);
  glued.set(b.slice().reverse(), b.length);
  return { what: 'glued', bytes: glued };
}

// ---------------------------------------------------------------------------------------------
// Case makers

const imageCases: CaseMaker[] = [
  (r) => {
    const type = pick(r, IMAGE_TYPES);
    return { kind: 'random bytes as image', method: 'POST', path: pick(r, IMAGE_ROUTES), headers: { 'content-type': type }, body: randomBytes(r, int(r, 0, 20_000)) };
  },
  (r, ctx) => {
    const img = pick(r, ctx.images);
    const { bytes } = mangleImage(r, img);
    // Sometimes a PNG labelled as JPEG and vice versa.
    const type = r() < 0.2 ? pick(r, IMAGE_TYPES) : img.type;
    return { kind: 'corrupted real image', method: 'POST', path: pick(r, IMAGE_ROUTES), headers: { 'content-type': type }, body: bytes };
  },
  (r, ctx) => {
    // Tiny files declaring huge (or zero, or odd) dimensions.
    const w = pick(r, [0, 1, 1025, 30000, 65535, 0x7fffffff, 0xffffffff, int(r, 1, 100_000)]);
    const h = pick(r, [0, 1, 1025, 30000, 65535, 0x7fffffff, 0xffffffff, int(r, 1, 100_000)]);
    if (r() < 0.5) {
      return { kind: 'huge declared size', method: 'POST', path: pick(r, IMAGE_ROUTES), headers: { 'content-type': 'image/png' }, body: makePngWithHeader(w, h, pick(r, [0, 2, 3, 4, 6] as const), pick(r, [1, 2, 4, 8, 16] as const)) };
    }
    const jpeg = ctx.images.find((i) => i.type === 'image/jpeg');
    if (!jpeg) throw new Error('fuzz needs a JPEG image');
    return { kind: 'huge declared size', method: 'POST', path: pick(r, IMAGE_ROUTES), headers: { 'content-type': 'image/jpeg' }, body: patchJpegSof(jpeg.bytes, { width: w & 0xffff, height: h & 0xffff }) };
  },
  (r, ctx) => {
    const img = pick(r, ctx.images);
    const type = pick(r, ODD_TYPES);
    const headers: Record<string, string> = type ? { 'content-type': type } : {};
    return { kind: 'wrong content type', method: 'POST', path: pick(r, IMAGE_ROUTES), headers, body: img.bytes };
  },
  (r, ctx) => ({ kind: 'oversized body', method: 'POST', path: pick(r, [...IMAGE_ROUTES, '/v1/accounts', `/v1/heads/${ctx.headId}`]), headers: { 'content-type': pick(r, [...IMAGE_TYPES, 'application/octet-stream']) }, body: oversizedBody(ctx) }),
  (r, ctx) => {
    // Embeddings: wrong length, NaN/Inf anywhere, random bits.
    const size = ctx.backbone.embedding.size;
    const mode = int(r, 0, 3);
    let values: Float32Array;
    if (mode === 0) values = new Float32Array(pick(r, [0, 1, size - 1, size + 1, size * 2, int(r, 0, 5000)]));
    else if (mode === 1) {
      values = new Float32Array(size).fill(0.1);
      for (let i = 0, n = int(r, 1, 5); i < n; i++) values[int(r, 0, size - 1)] = pick(r, FLOATS);
    } else if (mode === 2) values = new Float32Array(randomBytes(r, size * 4).buffer);
    else values = new Float32Array(size).fill(pick(r, FLOATS));
    let body = new Uint8Array(values.buffer);
    if (r() < 0.1) body = body.subarray(0, Math.max(0, body.length - int(r, 1, 3)));
    return { kind: 'bad embedding', method: 'POST', path: `/v1/predict${r() < 0.3 ? `?head=${ctx.headId}` : ''}`, headers: { 'content-type': 'application/octet-stream', ...(r() < 0.3 ? auth(ctx.token) : {}) }, body };
  },
];

const queryCases: CaseMaker[] = [
  (r, ctx) => {
    const img = pick(r, ctx.images);
    const q = pick(r, [
      'top=0', 'top=-1', 'top=1.5', 'top=abc', 'top=1e309', 'top=99999999999999999999', 'top=', 'top=%00', 'top=1&top=2', 'top=%E0%A4%A',
      'head=', 'head=%', 'head=..%2F..%2Fmodels', 'head=CONTENT-SAFETY', 'head=content-safety%00', `head=${'x'.repeat(5000)}`, 'head=__proto__',
      'head=constructor', `head=${encodeURIComponent('😀')}`, `head=${ctx.headId}`, `head=${uuid(r)}`, `head=${ctx.headId}&head=content-safety`,
      'top=3', 'top=5', 'top=6', '%=%', '&&&', '?', 'head[]=x', 'top=0x10',
    ]);
    // A head id with or without the right token: 401 (no token), 404 (other account) or 200 (own).
    const headers: Record<string, string> = { 'content-type': img.type, ...(r() < 0.3 ? pick(r, [auth(ctx.token), auth(ctx.otherToken)]) : {}) };
    return { kind: 'odd query', method: 'POST', path: `${pick(r, IMAGE_ROUTES)}?${q}`, headers, body: img.bytes };
  },
  (r, ctx) => {
    const method = pick(r, ['GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'POST', 'PROPFIND']);
    const path = pick(r, [
      '/v1/predict', '/v1/embed', '/v1/models', '/healthz', '/v1/heads', `/v1/heads/${ctx.headId}`, '/v1/tokens', '/v1/accounts/me', '/v1/pairing-codes',
      '//v1//predict', '/v1/predict/', '/v1/', '/v1', '/V1/PREDICT', '/v1/heads/', '/v1/heads//', '/v1/../v1/models', '/v1/%2e%2e/healthz', '/_diag', '/_diag/',
      '/v1/heads/%E0%A4%A', '/v1/models?x=%', `/v1/${'a/'.repeat(500)}`, '/v1/predict;x=1', '/v1/tokens/%00', '/v2/predict', '/models/../wrangler.toml',
      '/v1/operator/heads/content-safety', '/v1/operator/heads/%2e%2e',
    ]);
    // Only non-writing or anonymous calls: a write here must be refused.
    const body = method === 'GET' || method === 'HEAD' ? null : pick(r, [null, randomBytes(r, 64), utf8('{}')]);
    return { kind: 'odd method or path', method, path, headers: r() < 0.5 ? {} : badAuth(r, ctx), body };
  },
];

const headCases: CaseMaker[] = [
  (r, ctx) => {
    // A malformed head upload, signed in, as a create (new id) or as an update of the stored head.
    const update = r() < 0.4;
    const id = update ? ctx.headId : uuid(r);
    const { bytes } = breakHead(r, ctx, validHead(r, ctx, id));
    const headers = { 'content-type': 'application/json', ...auth(ctx.token), ...(update ? { 'if-match': ctx.headEtag } : { 'if-none-match': '*' }) };
    return { kind: 'malformed head upload', method: 'PUT', path: `/v1/heads/${id}`, headers, body: bytes };
  },
  (r, ctx) => {
    // A valid head document with everything else wrong: id, preconditions, content type.
    const id = uuid(r);
    const doc = validHead(r, ctx, id);
    const mode = int(r, 0, 7);
    const base = { 'content-type': 'application/json', ...auth(ctx.token) };
    const req = (what: string, path: string, headers: Record<string, string>, body: Uint8Array = headBytes(doc)): FuzzRequest => ({ kind: `head write: ${what}`, method: 'PUT', path, headers, body });
    switch (mode) {
      case 0: return req('id not the URL', `/v1/heads/${uuid(r)}`, { ...base, 'if-none-match': '*' });
      case 1: return req('no precondition', `/v1/heads/${id}`, base);
      case 2: return req('If-Match *', `/v1/heads/${id}`, { ...base, 'if-match': '*' });
      case 3: return req('both preconditions', `/v1/heads/${id}`, { ...base, 'if-match': ctx.headEtag, 'if-none-match': '*' });
      case 4: return req('odd If-Match', `/v1/heads/${ctx.headId}`, { ...base, 'if-match': pick(r, ['"', '""', 'W/' + ctx.headEtag, ctx.headEtag.slice(1, -1), `${'"x", '.repeat(500)}"y"`, '"\u00ff"', ',,,', ctx.headEtag + 'x']) }, headBytes(validHead(r, ctx, ctx.headId)));
      case 5: return req('odd If-None-Match', `/v1/heads/${id}`, { ...base, 'if-none-match': pick(r, ['"abc"', 'W/*', '**', ' ', ctx.headEtag]) });
      case 6: return req('wrong content type', `/v1/heads/${id}`, { ...base, 'if-none-match': '*', 'content-type': pick(r, ['text/plain', 'application/octet-stream', 'application/jsonx', 'multipart/form-data']) });
      default: return req('create over the stored head', `/v1/heads/${ctx.headId}`, { ...base, 'if-none-match': '*' }, headBytes(validHead(r, ctx, ctx.headId)));
    }
  },
  (r, ctx) => {
    // Odd head ids on every verb, signed in.
    const method = pick(r, ['GET', 'PUT', 'DELETE']);
    const id = oddHeadId(r, ctx);
    const headers: Record<string, string> = { ...auth(ctx.token), ...(method === 'PUT' ? { 'content-type': 'application/json', 'if-none-match': '*' } : {}) };
    if (method === 'DELETE') headers['if-match'] = '"stale"';
    return { kind: 'odd head id', method, path: `/v1/heads/${id}`, headers, body: method === 'PUT' ? headBytes(validHead(r, ctx)) : null };
  },
  (r, ctx) => {
    // Another account's head: must not exist for account B (reads, deletes, updates).
    const method = pick(r, ['GET', 'DELETE', 'PUT']);
    const headers: Record<string, string> = { ...auth(ctx.otherToken) };
    if (method === 'PUT') Object.assign(headers, { 'content-type': 'application/json', 'if-match': ctx.headEtag });
    return { kind: "another account's head", method, path: `/v1/heads/${ctx.headId}`, headers, body: method === 'PUT' ? headBytes(validHead(r, ctx, ctx.headId)) : null };
  },
  (r, ctx) => {
    // The stored head with a stale If-Match: 412, and nothing deleted.
    return { kind: 'stale delete', method: 'DELETE', path: `/v1/heads/${ctx.headId}`, headers: { ...auth(ctx.token), 'if-match': pick(r, ['"0"', `"${'0'.repeat(64)}"`, 'W/' + ctx.headEtag]) } };
  },
];

const tokenCases: CaseMaker[] = [
  (r, ctx) => {
    // Missing, forged, malformed and revoked tokens on every signed-in route, including writes.
    const target = pick(r, [
      ['GET', '/v1/heads'], ['GET', `/v1/heads/${ctx.headId}`], ['DELETE', `/v1/heads/${ctx.headId}`], ['PUT', `/v1/heads/${ctx.headId}`],
      ['GET', '/v1/accounts/me'], ['DELETE', '/v1/accounts/me'], ['POST', '/v1/accounts/me/token'], ['GET', '/v1/tokens'],
      ['DELETE', '/v1/tokens/current'], ['POST', '/v1/pairing-codes'], ['POST', '/v1/predict?head=' + ctx.headId],
      ['DELETE', `/v1/tokens/${uuid(r)}`],
    ] as const);
    const [method, path] = target;
    const headers: Record<string, string> = { ...badAuth(r, ctx) };
    let body: Uint8Array | null = null;
    if (method === 'PUT') {
      Object.assign(headers, { 'content-type': 'application/json', 'if-match': ctx.headEtag });
      body = headBytes(validHead(r, ctx, ctx.headId));
    } else if (path.startsWith('/v1/predict')) {
      headers['content-type'] = 'application/octet-stream';
      body = new Uint8Array(ctx.backbone.embedding.size * 4);
    }
    return { kind: 'bad token', method, path, headers, body };
  },
  (r, ctx) => {
    // Signed in, but revoking a token that is not one of ours, or junk ids.
    const id = pick(r, [uuid(r), '..', '%00', 'x'.repeat(3000), encodeURIComponent('😀'), '%E0%A4%A', "1' OR '1'='1"]);
    return { kind: 'revoke unknown token', method: 'DELETE', path: `/v1/tokens/${id}`, headers: auth(ctx.otherToken) };
  },
  (r) => {
    // Account creation and pairing redemption with bodies that must be refused.
    const body = pick(r, [
      utf8('{'), utf8('[]'), utf8('null'), utf8('"x"'), utf8(`{"label":"${'x'.repeat(101)}"}`), utf8('{"label":42}'), utf8('{"label":["a"]}'),
      randomBytes(r, int(r, 1, 5000)), utf8(`{"label":"${'y'.repeat(5000)}"}`), new Uint8Array([0xef, 0xbb, 0xbf, 0x7b]),
    ]);
    const path = pick(r, ['/v1/accounts', '/v1/pairing-codes/redeem']);
    const type = pick(r, ['application/json', 'text/plain', 'application/json; charset=utf-16']);
    return { kind: 'malformed JSON body', method: 'POST', path, headers: { 'content-type': type }, body };
  },
  (r) => {
    const code = pick(r, ['', '0000-0000', 'ILOU-ILOU', '😀😀😀😀', 'x'.repeat(2000), "' OR 1=1 --", 'K7QM-2XP', 'K7QM-2XPD-EXTRA', '%%%%']);
    return { kind: 'junk pairing code', method: 'POST', path: '/v1/pairing-codes/redeem', headers: { 'content-type': 'application/json' }, body: utf8(JSON.stringify({ code, label: r() < 0.5 ? 'phone' : 42 })) };
  },
];

/** Published (operator) head names that are odd, taken, or not names at all. */
function oddPublishedName(r: Random): string {
  return pick(r, [
    'content-safety', 'CONTENT-SAFETY', 'a', '-', 'a--b', '-lead', 'trail-', 'emoji kinds', 'emoji_kinds', '..', '%2e%2e', '%2e%2e%2fheads', 'x'.repeat(int(r, 60, 3000)),
    encodeURIComponent('ëmoji'), encodeURIComponent('😀'), '%00', '%E0%A4%A', 'null', '__proto__', 'constructor', uuid(r), 'fuzz-no-such-head',
  ]);
}

const operatorCases: CaseMaker[] = [
  (r, ctx) => {
    // The operator API without the operator's token: user tokens, forged, truncated, none.
    const method = pick(r, ['PUT', 'DELETE', 'GET']);
    const path = method === 'GET' ? '/v1/operator/heads' : `/v1/operator/heads/${pick(r, ['fuzz-head', oddPublishedName(r)])}`;
    const op = ctx.operatorToken ?? 'no-operator-token-configured-000000000';
    const headers: Record<string, string> = pick(r, [{}, auth(ctx.token), auth(op.slice(0, -1)), auth(op + 'x'), auth(op.toUpperCase()), { authorization: `Basic ${btoa(op)}` }, badAuth(r, ctx)]);
    if (method === 'PUT') headers['content-type'] = 'application/json';
    return { kind: 'operator without its token', method, path, headers, body: method === 'PUT' ? headBytes(validHead(r, ctx)) : null };
  },
  (r, ctx) => {
    // With the operator's token: broken documents, odd names, odd query values; deletes of
    // names that are not published (never of one that is).
    const headers: Record<string, string> = { ...auth(ctx.operatorToken ?? 'none'), 'content-type': pick(r, ['application/json', 'application/json', 'text/plain']) };
    const mode = int(r, 0, 3);
    if (mode === 0) return { kind: 'operator: broken document', method: 'PUT', path: `/v1/operator/heads/fuzz-head${r() < 0.3 ? `?replace=${pick(r, ['1', '0', '2', '', 'yes', '%00'])}` : ''}`, headers, body: breakHead(r, ctx, validHead(r, ctx)).bytes };
    if (mode === 1) return { kind: 'operator: odd name', method: 'PUT', path: `/v1/operator/heads/${oddPublishedName(r)}`, headers, body: headBytes(validHead(r, ctx)) };
    if (mode === 2) return { kind: 'operator: odd replace', method: 'PUT', path: `/v1/operator/heads/content-safety?replace=${pick(r, ['2', 'yes', '', '%00', '-1', 'on'])}`, headers, body: headBytes(validHead(r, ctx)) };
    return { kind: 'operator: delete unpublished', method: 'DELETE', path: `/v1/operator/heads/${oddPublishedName(r)}`, headers: auth(ctx.operatorToken ?? 'none') };
  },
  (r) => {
    // The public files of published heads: odd names, write ids and file names.
    const seg = () => pick(r, ['content-safety', '..', '%2e%2e', '%00', 'head.json', 'model.json', 'weights.bin', '%E0%A4%A', 'x'.repeat(500), uuid(r)]);
    return { kind: 'published file', method: 'GET', path: `/v1/published-heads/${seg()}/${seg()}/${seg()}`, headers: {} };
  },
];

/** Breaks a fine-tuned model's `backboneTail` in one of several ways (each invalid). */
function breakTail(r: Random, doc: Record<string, unknown>): { what: string; bytes: Uint8Array } {
  const d = JSON.parse(JSON.stringify(doc)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const tail = d['backboneTail'] as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const choice = int(r, 0, 7);
  if (choice === 0) {
    const k = pick(r, Object.keys(tail));
    delete tail[k];
    return { what: `tail without ${k}`, bytes: headBytes(d) };
  }
  if (choice === 1) tail['cut'] = pick(r, ['no_such_layer', 'block_1_expand', 'input_1', '', 'dense_3']);
  else if (choice === 2) tail['cutShape'] = pick(r, [[], [1, 1, 1], [7, 7, 160, 1], [-7, 7, 160], [1e9, 1e9, 1e9]]);
  else if (choice === 3) tail['parts'] = pick(r, [[], ['nope'], ['flatten_1', 'flatten_1'], [42]]);
  else if (choice === 4) {
    const w = tail['weightData'] as string;
    tail['weightData'] = pick(r, ['', w.slice(0, Math.floor(w.length / 2)), w.slice(0, -8) + 'AADAfw==', 'A'.repeat(64)]);
  } else if (choice === 5) {
    const spec = (tail['weightSpecs'] as { shape: number[] }[])[int(r, 0, (tail['weightSpecs'] as unknown[]).length - 1)];
    if (spec) spec.shape = pick(r, [[1], [...spec.shape, 1], spec.shape.map((n) => n + 1)]);
  } else if (choice === 6) {
    // A layer of the tail that is not the backbone's: another type or another configuration.
    const text = JSON.stringify(d)
      .replace(/"class_name":"Conv2D"/, `"class_name":"${pick(r, ['Dense', 'Lambda', 'Conv3D'])}"`)
      .replace(/"kernel_size":\[1,1\]/, `"kernel_size":[${pick(r, ['3,3', '0,0', '1e9,1'])}]`);
    return { what: 'tail layer changed', bytes: utf8(text) };
  } else {
    d['classes'] = ['only-one'];
  }
  return { what: `tail field ${choice}`, bytes: headBytes(d) };
}

const fineTunedCases: CaseMaker[] = [
  (r, ctx) => {
    // Predictions with the fine-tuned model: an embedding body (it needs photos), hostile or real
    // images, the owner's, another account's or no token.
    const ft = ctx.fineTuned;
    if (!ft) return { kind: 'fine-tuned (not set up)', method: 'GET', path: '/healthz', headers: {} };
    const img = pick(r, ctx.images);
    const body = pick(r, [new Uint8Array(ctx.backbone.embedding.size * 4), img.bytes, mangleImage(r, img).bytes, randomBytes(r, 3000)]);
    const type = body.length === ctx.backbone.embedding.size * 4 ? 'application/octet-stream' : img.type;
    const headers: Record<string, string> = { 'content-type': type, ...(r() < 0.8 ? auth(ctx.token) : pick(r, [auth(ctx.otherToken), {}, auth(ctx.revokedToken)])) };
    return { kind: 'fine-tuned predict', method: 'POST', path: `/v1/predict?head=${ft.id}${r() < 0.3 ? `&top=${pick(r, ['1', '0', 'x', '99'])}` : ''}`, headers, body };
  },
  (r, ctx) => {
    // Broken fine-tuned models uploaded as new heads, or as an update of the stored one.
    const ft = ctx.fineTuned;
    if (!ft) return { kind: 'fine-tuned (not set up)', method: 'GET', path: '/healthz', headers: {} };
    const update = r() < 0.3;
    const id = update ? ft.id : uuid(r);
    const { bytes } = breakTail(r, { ...ft.doc, id });
    return { kind: 'broken fine-tuned upload', method: 'PUT', path: `/v1/heads/${id}`, headers: { 'content-type': 'application/json', ...auth(ctx.token), ...(update ? { 'if-match': '"0000"' } : { 'if-none-match': '*' }) }, body: bytes };
  },
];

/**
 * Requests whose cost would be out of proportion to their size: JPEGs of many tiny scans, and JSON
 * bodies that are wide, deep or value-heavy. Each must get a 4xx (`image_too_complex`,
 * `json_too_complex`) before the expensive step.
 */
const amplificationCases: CaseMaker[] = [
  (r) => {
    const scans = pick(r, [101, 500, int(r, 101, 5_000), int(r, 5_000, 50_000)]);
    let bytes = withExtraScans(progressiveJpeg(), scans);
    if (r() < 0.6) bytes = patchJpegSof(bytes, { width: int(r, 256, 1024), height: int(r, 256, 1024) });
    return { kind: 'many-scan JPEG', method: 'POST', path: pick(r, IMAGE_ROUTES), headers: { 'content-type': 'image/jpeg' }, body: bytes, expect: [413, 429] };
  },
  (r, ctx) => {
    const shape = int(r, 0, 3);
    let text: string;
    if (shape === 0) text = `[${'{},'.repeat(int(r, 100_001, 700_000))}{}]`; // wide: many values
    else if (shape === 1) {
      const levels = pick(r, [33, 1_000, int(r, 33, 400_000)]); // deep
      text = `${'['.repeat(levels)}${']'.repeat(levels)}`;
    } else if (shape === 2) {
      const doc = validHead(r, ctx, ctx.headId);
      text = `${'{"a":'.repeat(40)}${new TextDecoder().decode(headBytes(doc))}${'}'.repeat(40)}`; // a head, wrapped deep
    } else {
      // A valid head whose free-form metrics carry 400,000 values.
      const doc = { ...validHead(r, ctx, ctx.headId), metrics: { accuracy: 1, perClass: {}, confusion: [new Array(400_000).fill(0)], n: 1 } };
      text = JSON.stringify(doc);
    }
    const target = int(r, 0, 2);
    const body = utf8(text);
    if (target === 0) return { kind: 'JSON bomb: head', method: 'PUT', path: `/v1/heads/${ctx.headId}`, headers: { 'content-type': 'application/json', ...auth(ctx.token), 'if-match': ctx.headEtag }, body, expect: [413, 429] };
    if (target === 1) {
      const headers = { 'content-type': 'application/json', ...auth(ctx.operatorToken ?? 'none') };
      return { kind: 'JSON bomb: operator', method: 'PUT', path: '/v1/operator/heads/fuzz-head', headers, body, ...(ctx.operatorToken ? { expect: [413, 429] } : {}) };
    }
    // Cut to the small bodies' 4 KiB: still too wide or too deep, or (a cut head) not JSON.
    return { kind: 'JSON bomb: small body', method: 'POST', path: pick(r, ['/v1/accounts', '/v1/pairing-codes/redeem']), headers: { 'content-type': 'application/json' }, body: utf8(text.slice(0, 4000)), expect: shape === 3 ? [400, 413, 429] : [413, 429] };
  },
];

/** The families and their weights. */
export function caseMakers(ctx: FuzzContext): CaseMaker[] {
  return [...imageCases, ...imageCases, ...queryCases, ...headCases, ...headCases, ...tokenCases, ...operatorCases, ...amplificationCases, ...(ctx.fineTuned ? fineTunedCases : []), ...(ctx.extraCases ?? [])];
}

/** The `count` requests of a seed. */
export function* fuzzRequests(ctx: FuzzContext, count: number, seed: number): Generator<FuzzRequest> {
  const r = mulberry32(seed);
  const makers = caseMakers(ctx);
  for (let i = 0; i < count; i++) yield pick(r, makers)(r, ctx);
}

// ---------------------------------------------------------------------------------------------
// Setup and the run

/** Throws unless the response has the expected status; returns its JSON. */
async function expectStatus<T>(res: Response, status: number, what: string): Promise<T> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`fuzz setup: ${what} answered ${res.status}: ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : null) as T;
}

/**
 * Makes the state the cases target, through the API: account A with a stored head and a token
 * rotated away (revoked), and account B. `address` goes in `CF-Connecting-IP`.
 */
export async function setupFuzz(fetcher: Fetcher, images: FuzzImage[], operatorToken?: string, fineTunedJson?: string, address = '2001:db8:f022::1'): Promise<FuzzContext> {
  const backbone = ((await expectStatus<{ backbone: BackboneManifest }>(await fetcher('/v1/models'), 200, 'GET /v1/models')).backbone);
  const signUp = async () => expectStatus<{ accountId: string; token: string }>(await fetcher('/v1/accounts', { method: 'POST', headers: { 'cf-connecting-ip': address } }), 201, 'POST /v1/accounts');
  const a = await signUp();
  const b = await signUp();
  const rotated = await expectStatus<{ token: string }>(await fetcher('/v1/accounts/me/token', { method: 'POST', headers: auth(a.token) }), 201, 'token rotation');
  const headId = uuid(mulberry32(Date.now() >>> 0));
  const doc = makeTestHead(backbone, { id: headId, seed: 3, hidden: 0, parts: ['flatten_1'], classes: ['yes', 'no'] });
  const put = await fetcher(`/v1/heads/${headId}`, { method: 'PUT', body: headBytes(doc), headers: { 'content-type': 'application/json', 'if-none-match': '*', ...auth(rotated.token) } });
  const headEtag = put.headers.get('etag') ?? '';
  await expectStatus(put, 201, 'PUT head');
  let fineTuned: FuzzContext['fineTuned'];
  if (fineTunedJson) {
    const doc = JSON.parse(fineTunedJson) as Record<string, unknown>;
    const id = String(doc['id']);
    const ft = await fetcher(`/v1/heads/${id}`, { method: 'PUT', body: utf8(fineTunedJson), headers: { 'content-type': 'application/json', 'if-none-match': '*', ...auth(rotated.token) } });
    await expectStatus(ft, 201, 'PUT fine-tuned model');
    fineTuned = { id, doc };
  }
  return {
    backbone, images, token: rotated.token, accountId: a.accountId, revokedToken: a.token, otherToken: b.token, headId, headEtag,
    ...(operatorToken ? { operatorToken } : {}),
    ...(fineTuned ? { fineTuned } : {}),
  };
}

const isWrite = (method: string): boolean => method === 'PUT' || method === 'POST' || method === 'DELETE' || method === 'PATCH';

/** True for a POST that reads only (predictions and embeddings write nothing but counters). */
const isInference = (path: string): boolean => path.startsWith('/v1/predict') || path.startsWith('/v1/embed');

/** Checks that the Worker still answers health and a real prediction. */
async function healthy(fetcher: Fetcher, ctx: FuzzContext): Promise<string | null> {
  try {
    const h = await fetcher('/healthz');
    const hb = (await h.json()) as { ok?: boolean };
    if (h.status !== 200 || hb.ok !== true) return `/healthz answered ${h.status}`;
    const img = ctx.images[0] as FuzzImage;
    const p = await fetcher('/v1/predict', { method: 'POST', body: new Uint8Array(img.bytes), headers: { 'content-type': img.type } });
    const pb = (await p.json()) as { predictions?: unknown[] };
    if (p.status !== 200 || !pb.predictions?.length) return `a real prediction answered ${p.status}`;
    return null;
  } catch (err) {
    return `health check threw: ${String(err)}`;
  }
}

/** Sends the requests of a seed and checks every answer (see the module comment). */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const { fetch: fetcher, ctx, count, seed, snapshot } = options;
  const healthEvery = options.healthEvery ?? 50;
  const concurrency = options.concurrency ?? 1;
  const report: FuzzReport = { requests: 0, byStatus: {}, byKind: {}, status5xx: 0, rejectedWritesChecked: 0, acceptedWrites: 0, accepted: [], healthChecks: 0, findings: [] };
  let state = await snapshot();
  const queue = fuzzRequests(ctx, count, seed);

  const sendOne = async (req: FuzzRequest): Promise<void> => {
    const init: RequestInit = { method: req.method, headers: req.headers };
    if (req.body && req.method !== 'GET' && req.method !== 'HEAD') init.body = new Uint8Array(req.body);
    const finding = (status: number, problem: string, detail?: string) => report.findings.push({ kind: req.kind, method: req.method, path: req.path.slice(0, 200), status, problem, detail: detail?.slice(0, 500) });
    let res: Response;
    try {
      res = await fetcher(req.path, init);
    } catch (err) {
      report.requests++;
      finding(0, 'request failed (connection reset or isolate crash)', String(err));
      return;
    }
    const text = req.method === 'HEAD' ? '' : await res.text().catch((err: unknown) => `<<body failed: ${String(err)}>>`);
    report.requests++;
    report.byStatus[res.status] = (report.byStatus[res.status] ?? 0) + 1;
    report.byKind[req.kind] = (report.byKind[req.kind] ?? 0) + 1;
    if (res.status >= 500) {
      report.status5xx++;
      finding(res.status, '5xx', text);
    }
    if (req.expect && !req.expect.includes(res.status)) finding(res.status, `expected ${req.expect.join(' or ')}`, text);
    // The path as the server sees it (clients resolve dot segments: `/v1/heads/../..` is `/`).
    const served = new URL(req.path, 'http://fuzz.invalid').pathname;
    const api = served.startsWith('/v1/') || served === '/healthz';
    if (api && res.status >= 400 && req.method !== 'HEAD') {
      try {
        const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
        if (typeof body.error?.code !== 'string' || typeof body.error.message !== 'string') finding(res.status, 'error without the error shape', text);
      } catch {
        finding(res.status, 'error body is not JSON', text);
      }
    }
    if (concurrency === 1 && isWrite(req.method) && !isInference(req.path)) {
      const after = await snapshot();
      if (res.status >= 200 && res.status < 300) {
        report.acceptedWrites++;
        report.accepted.push(`${req.method} ${req.path.slice(0, 120)} (${req.kind}) -> ${res.status}`);
        state = after;
      } else {
        report.rejectedWritesChecked++;
        if (after !== state) {
          finding(res.status, 'a refused write changed storage', firstDifference(state, after));
          state = after;
        }
      }
    }
  };

  let sent = 0;
  for (;;) {
    const batch: FuzzRequest[] = [];
    for (let i = 0; i < concurrency; i++) {
      const next = queue.next();
      if (next.done) break;
      batch.push(next.value);
    }
    if (!batch.length) break;
    await Promise.all(batch.map(sendOne));
    const before = sent;
    sent += batch.length;
    if (Math.floor(sent / healthEvery) !== Math.floor(before / healthEvery)) {
      report.healthChecks++;
      const problem = await healthy(fetcher, ctx);
      if (problem) report.findings.push({ kind: 'health', method: 'GET', path: '/healthz', status: 0, problem, detail: `after request ${sent}` });
    }
  }
  report.healthChecks++;
  const problem = await healthy(fetcher, ctx);
  if (problem) report.findings.push({ kind: 'health', method: 'GET', path: '/healthz', status: 0, problem, detail: 'at the end' });
  return report;
}

/** Where two snapshot texts first differ, with some context. */
function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return `at ${i}: before …${a.slice(Math.max(0, i - 80), i + 120)}… after …${b.slice(Math.max(0, i - 80), i + 120)}…`;
}

/**
 * The D1 reads a storage snapshot is made of: every table a write could change, in a fixed order.
 * Left out: `rate_limits` (every request counts) and `tokens.last_used_at` (refreshed hourly by
 * reads, by design).
 */
export const SNAPSHOT_QUERIES = [
  'SELECT id, created_at FROM accounts ORDER BY id',
  'SELECT id, hash, account_id, label, created_at FROM tokens ORDER BY id',
  'SELECT lookup, hash, account_id, attempts, created_at, expires_at FROM pairing_codes ORDER BY lookup',
  'SELECT * FROM heads ORDER BY account_id, id',
  'SELECT * FROM published_heads ORDER BY name',
] as const;

/** One line per finding kind, for failure messages and the bench log. */
export function summarizeFindings(report: FuzzReport): string {
  return report.findings.map((f) => `${f.problem}: ${f.method} ${f.path} (${f.kind}) -> ${f.status} ${f.detail ?? ''}`).join('\n');
}
