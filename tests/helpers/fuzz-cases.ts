/** The fuzzer's case makers (tests/helpers/fuzz.ts), by family, and the seeded request stream. */
import { mulberry32 } from '../../shared/util/random.ts';
import type { CaseMaker, FuzzContext, FuzzRequest } from './fuzz-types.ts';
import { auth, int, pick, randomBytes, utf8, uuid } from './fuzz-random.ts';
import { badAuth, breakHead, breakTail, mangleImage, oddHeadId, oddPublishedName, oversizedBody, validHead } from './fuzz-values.ts';
import { headBytes } from './heads.ts';
import { makePngWithHeader, patchJpegSof, progressiveJpeg, withExtraScans } from './images.ts';

const IMAGE_ROUTES = ['/v1/predict', '/v1/embed'] as const;
const IMAGE_TYPES = ['image/jpeg', 'image/png'] as const;
const ODD_TYPES = [
  '', 'text/plain', 'image/webp', 'image/gif', 'image/jpg', 'IMAGE/JPEG', 'image/png; charset=utf-8', 'image/jpeg;;;',
  'application/json', 'application/octet-stream', 'multipart/form-data; boundary=----x', 'application/x-www-form-urlencoded',
  'image/*', '*/*', 'image/png, image/jpeg', ' image/png ', 'image/svg+xml', 'application/octet-stream; foo="bar"',
];
const FLOATS = [NaN, Infinity, -Infinity, 3.4e38, -3.4e38, 1e-45, 0, -0];

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
