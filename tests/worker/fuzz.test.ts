/**
 * The API under a seeded fuzzer (tests/helpers/fuzz.ts), inside workerd with real local D1 and R2:
 * a few hundred hostile requests, no 5xx, the one error shape on every API error, storage
 * unchanged by every refused write (D1 rows and the R2 listing, read before and after each one),
 * and the Worker still answering health checks and real predictions throughout. The bench runs
 * the same fuzzer with thousands of requests against `wrangler dev` (bench/fuzz.ts).
 */
import { createExecutionContext, env } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { runFuzz, setupFuzz, SNAPSHOT_QUERIES, summarizeFindings, validishHead, type FuzzImage } from '../helpers/fuzz.ts';
import { mulberry32 } from '../../shared/util/random.ts';
import worker from '../../worker/index.ts';
import { LIMITS } from '../../shared/limits.ts';
import { call, testEnv } from './helpers.ts';

/** Every row a write could change, and every R2 object, as one text. */
async function snapshot(): Promise<string> {
  const bindings = testEnv(env);
  const parts: unknown[] = [];
  for (const sql of SNAPSHOT_QUERIES) parts.push((await bindings.DB.prepare(sql).all()).results);
  const objects: unknown[] = [];
  let cursor: string | undefined;
  do {
    const listed = await bindings.HEADS.list({ include: ['customMetadata'], cursor });
    for (const o of listed.objects) objects.push([o.key, o.size, o.etag, o.customMetadata]);
    cursor = listed.truncated ? listed.cursor : undefined;
  } while (cursor);
  parts.push(objects);
  return JSON.stringify(parts);
}

/** A fine-tuned model (top block + head) made by the global setup (tests/worker/fine-tuned-setup.ts). */
const fineTunedJson = inject('fineTuned').document;

/** The real fixture images (emoji PNGs, a photo-like JPEG) the global setup made. */
const images: FuzzImage[] = inject('reference').cases.map((c) => ({ type: c.type, bytes: Uint8Array.from(c.bytes) }));

describe('fuzzing the API', () => {
  it('the snapshot sees a write (so an unchanged snapshot means something)', async () => {
    const before = await snapshot();
    await setupFuzz(call, images, testEnv(env).OPERATOR_TOKEN);
    expect(await snapshot()).not.toBe(before);
  });

  it('the checker itself: a 5xx, a refused write that changed storage and a dead health check are all reported', async () => {
    const ctx = await setupFuzz(call, images, testEnv(env).OPERATOR_TOKEN);
    let n = 0;
    const broken = async (path: string, init?: RequestInit): Promise<Response> => {
      n++;
      const method = init?.method ?? 'GET';
      if (path === '/healthz') return new Response('{}', { status: 503 });
      if (n === 3) return new Response('{"error":{"code":"internal_error","message":"boom"}}', { status: 500 });
      if (method === 'PUT' || method === 'DELETE') {
        // Refuses the write but leaves a row behind.
        await testEnv(env).DB.prepare('INSERT INTO accounts (id, created_at) VALUES (?1, 0)').bind(crypto.randomUUID()).run();
        return new Response('{"error":{"code":"invalid_request","message":"refused"}}', { status: 400 });
      }
      return call(path, init);
    };
    const report = await runFuzz({ fetch: broken, ctx, count: 30, seed: 9, snapshot, healthEvery: 10 });
    const problems = new Set(report.findings.map((f) => f.problem));
    expect(report.status5xx).toBeGreaterThan(0);
    expect(problems).toContain('5xx');
    expect(problems).toContain('a refused write changed storage');
    expect(report.findings.filter((f) => f.kind === 'health')).toHaveLength(4);
  });

  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: 100 hostile requests, no 5xx, refused writes change nothing, the Worker keeps answering`, { timeout: 120_000 }, async () => {
      const ctx = await setupFuzz(call, images, testEnv(env).OPERATOR_TOKEN, fineTunedJson);
      const report = await runFuzz({ fetch: call, ctx, count: 100, seed, snapshot, healthEvery: 25 });
      expect(summarizeFindings(report)).toBe('');
      expect(report.requests).toBe(100);
      expect(report.status5xx).toBe(0);
      // The run reached the server's checks, not just one early refusal.
      expect(report.rejectedWritesChecked).toBeGreaterThan(20);
      expect(Object.keys(report.byStatus).length).toBeGreaterThan(5);
      expect(report.healthChecks).toBe(5);
    });
  }
});

/**
 * Found by the fuzzer through `wrangler dev`: refusing a large upload early (413 from the declared
 * size, 405, 401) without reading the body reset the client's connection (ECONNRESET, or the dev
 * proxy's 500 "Network connection lost") before it read the answer. The Worker now reads such a
 * body to its end first (worker/http/drain-body.ts, worker/http/read-body.ts).
 */
describe('an early refusal reads the rest of the upload, so the client gets the answer', () => {
  /** A body of `total` bytes in 64 KiB chunks that records how much of it was read. */
  function countingBody(total: number) {
    const seen = { pulled: 0 };
    const chunk = new Uint8Array(65536);
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const n = Math.min(chunk.length, total - seen.pulled);
        if (n <= 0) return controller.close();
        seen.pulled += n;
        controller.enqueue(chunk.slice(0, n));
      },
    }, { highWaterMark: 0 });
    return { stream, seen };
  }
  const over = LIMITS.maxBodyBytes + 3 * 65536;
  const send = (path: string, body: ReadableStream<Uint8Array>, headers: Record<string, string>) =>
    worker.fetch(new Request(`https://tannerin.test${path}`, { method: 'POST', body, headers }), testEnv(env), createExecutionContext());

  it('a streamed body over the limit: 413, and every byte was read', async () => {
    const { stream, seen } = countingBody(over);
    const res = await send('/v1/predict', stream, { 'content-type': 'image/jpeg' });
    expect(res.status).toBe(413);
    expect(seen.pulled).toBe(over);
  });

  it('a declared size over the limit: 413 before reading, then the body is drained', async () => {
    const { stream, seen } = countingBody(over);
    const fixed = new FixedLengthStream(over);
    const piped = stream.pipeTo(fixed.writable);
    const res = await send('/v1/embed', fixed.readable, { 'content-type': 'image/jpeg' });
    expect(res.status).toBe(413);
    await piped;
    expect(seen.pulled).toBe(over);
  });

  for (const [path, status, headers] of [
    ['/v1/models', 405, {}],
    ['/v1/pairing-codes', 401, { 'content-type': 'application/json' }],
    ['/v1/nothing-here', 404, {}],
  ] as const) {
    it(`${status} on POST ${path}: the 1 MiB body is read`, async () => {
      const { stream, seen } = countingBody(1 << 20);
      const res = await send(path, stream, headers);
      expect(res.status).toBe(status);
      expect(seen.pulled).toBe(1 << 20);
    });
  }
});

describe('what the validator accepts, the runtime runs', () => {
  it('seeded head documents near the edge of validity: each one stored is then predicted with a 200', async () => {
    const ctx = await setupFuzz(call, images, testEnv(env).OPERATOR_TOKEN, fineTunedJson, '2001:db8:f023::1');
    const r = mulberry32(4242);
    const image = images[0] as FuzzImage;
    let accepted = 0;
    let refused = 0;
    const failures: string[] = [];
    for (let i = 0; i < 40; i++) {
      const { what, id, fineTuned, bytes } = validishHead(r, ctx);
      const put = await call(`/v1/heads/${id}`, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/json', 'if-none-match': '*', authorization: `Bearer ${ctx.token}` } });
      const text = await put.text();
      expect(put.status, `${what}: ${text}`).toBeLessThan(500);
      if (put.status !== 201) {
        expect([409, 413, 422], `${what}: ${text}`).toContain(put.status);
        refused++;
        continue;
      }
      accepted++;
      const res = await call(`/v1/predict?head=${id}`, { method: 'POST', body: new Uint8Array(image.bytes), headers: { 'content-type': image.type, authorization: `Bearer ${ctx.token}` } });
      const body = await res.text();
      if (res.status !== 200) failures.push(`${fineTuned ? 'fine-tuned' : 'plain'} (${what}): ${res.status} ${body.slice(0, 200)}`);
      // Keep the account under its byte quota (fine-tuned documents are ~5 MB).
      const etag = put.headers.get('etag') ?? '';
      const del = await call(`/v1/heads/${id}`, { method: 'DELETE', headers: { 'if-match': etag, authorization: `Bearer ${ctx.token}` } });
      expect(del.status, await del.text()).toBeLessThan(300);
    }
    console.log(`validator vs runtime: ${accepted} accepted (each predicted), ${refused} refused`);
    expect(failures).toEqual([]);
    expect(accepted).toBeGreaterThan(10);
    expect(refused).toBeGreaterThan(0);
  }, 300_000);
});
