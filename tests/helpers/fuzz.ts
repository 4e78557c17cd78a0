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
 *
 * This file holds the setup, the run and its checks; the requests are made in fuzz-cases.ts (the case
 * makers) from fuzz-values.ts (hostile values) and fuzz-random.ts; the types are in fuzz-types.ts.
 */
import type { BackboneManifest } from '../../shared/model/manifest.ts';
import { mulberry32 } from '../../shared/util/random.ts';
import { fuzzRequests } from './fuzz-cases.ts';
import { auth, utf8, uuid } from './fuzz-random.ts';
import type { Fetcher, FuzzContext, FuzzImage, FuzzOptions, FuzzReport, FuzzRequest } from './fuzz-types.ts';
import { headBytes, makeTestHead } from './heads.ts';

export type { CaseMaker, Fetcher, FuzzContext, FuzzFinding, FuzzImage, FuzzOptions, FuzzReport, FuzzRequest } from './fuzz-types.ts';
export { caseMakers, fuzzRequests } from './fuzz-cases.ts';
export { validishHead } from './fuzz-values.ts';

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
