/**
 * The API fuzzer (tests/helpers/fuzz.ts) at full count against `wrangler dev` on 127.0.0.1, with
 * state of its own (`.wrangler/fuzz-state`, emptied first, so no other local run can change the
 * storage it compares). Storage snapshots read the local D1 database and the R2 bucket's object
 * index straight from their SQLite files (read-only) before and after every write.
 *
 * Records `fuzz.requests`, `fuzz.status_5xx`, `fuzz.findings` (5xx, bad error shapes, refused
 * writes that changed storage, failed health checks), `fuzz.rejected_writes_checked` and
 * `fuzz.tensor_growth` (tensors in the isolate after the run minus before: error paths must not
 * leak). Standalone: `npx tsx bench/fuzz.ts [count] [seed]`.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import type { DiagnosticsResponse } from '../shared/api/types.ts';
import { startNodeWasmBackend } from '../scripts/node-backend.ts';
import { loadLocalModels } from '../scripts/node-models.ts';
import { makeFineTunedDoc } from '../tests/helpers/fine-tuned.ts';
import { fixtures } from '../tests/helpers/fixtures.ts';
import { runFuzz, setupFuzz, SNAPSHOT_QUERIES, summarizeFindings, type FuzzReport } from '../tests/helpers/fuzz.ts';
import { freezeWorker, printTable, ROOT, startDevServer, type Results } from './lib.ts';

export const FUZZ_STATE = join(ROOT, '.wrangler', 'fuzz-state');

/** The one `*.sqlite` (not `metadata.sqlite`) of a miniflare object directory. */
function objectDb(dir: string): DatabaseSync {
  const file = readdirSync(dir).find((f) => f.endsWith('.sqlite') && f !== 'metadata.sqlite');
  if (!file) throw new Error(`no database in ${dir}`);
  return new DatabaseSync(join(dir, file), { readOnly: true });
}

/** Reads D1 and R2 of a local persistence directory, as one text (see SNAPSHOT_QUERIES). */
export function localSnapshot(persistTo: string): () => Promise<string> {
  let d1: DatabaseSync | null = null;
  let r2: DatabaseSync | null = null;
  return async () => {
    d1 ??= objectDb(join(persistTo, 'v3', 'd1', 'miniflare-D1DatabaseObject'));
    r2 ??= objectDb(join(persistTo, 'v3', 'r2', 'miniflare-R2BucketObject'));
    const parts: unknown[] = SNAPSHOT_QUERIES.map((sql) => d1?.prepare(sql).all());
    parts.push(r2.prepare('SELECT key, version, size, etag, custom_metadata FROM _mf_objects ORDER BY key').all());
    parts.push(r2.prepare('SELECT upload_id, key, state FROM _mf_multipart_uploads ORDER BY upload_id').all());
    return JSON.stringify(parts);
  };
}

/** A fine-tuned model (the backbone's top block, perturbed) as the fuzz account stores it. */
async function fineTunedJson(): Promise<string> {
  await startNodeWasmBackend();
  const models = await loadLocalModels();
  const doc = await makeFineTunedDoc(models.backbone, { id: crypto.randomUUID(), seed: 5 });
  models.backbone.dispose();
  return JSON.stringify(doc);
}

/** Runs `count` fuzz requests against a fresh `wrangler dev`. */
export async function benchFuzz(count = 2000, seed = 20261129): Promise<Results> {
  rmSync(FUZZ_STATE, { recursive: true, force: true });
  const tuned = await fineTunedJson();
  // The operator API on (a fixed local secret), so its cases get past the token check too.
  const operatorToken = 'fuzz-operator-token-0123456789abcdef';
  const server = await startDevServer(['--var', `OPERATOR_TOKEN:${operatorToken}`], '/models.json', FUZZ_STATE);
  try {
    const fetcher = (path: string, init?: RequestInit) => fetch(`${server.url}${path}`, init);
    const images = (await fixtures()).map((f) => ({ type: f.type, bytes: f.bytes }));
    const ctx = await setupFuzz(fetcher, images, operatorToken, tuned);
    // Warm (model loaded, the stored personal head and fine-tuned model in the isolate's head
    // cache, as the run's own predictions with them would leave it), then count tensors before
    // and after.
    await (await fetcher('/v1/predict', { method: 'POST', body: images[0]?.bytes, headers: { 'content-type': 'image/png' } })).arrayBuffer();
    const warmHead = await fetcher(`/v1/predict?head=${ctx.headId}`, { method: 'POST', body: images[0]?.bytes, headers: { 'content-type': 'image/png', authorization: `Bearer ${ctx.token}` } });
    if (warmHead.status !== 200) throw new Error(`personal-head prediction answered ${warmHead.status}: ${await warmHead.text()}`);
    if (ctx.fineTuned) {
      const warmTuned = await fetcher(`/v1/predict?head=${ctx.fineTuned.id}`, { method: 'POST', body: images[0]?.bytes, headers: { 'content-type': 'image/png', authorization: `Bearer ${ctx.token}` } });
      if (warmTuned.status !== 200) throw new Error(`fine-tuned prediction answered ${warmTuned.status}: ${await warmTuned.text()}`);
    }
    const diag = async () => (await (await fetcher('/_diag/memory')).json()) as DiagnosticsResponse;
    const before = await diag();
    const t0 = performance.now();
    const report: FuzzReport = await runFuzz({ fetch: fetcher, ctx, count, seed, snapshot: localSnapshot(FUZZ_STATE), healthEvery: 100 });
    const seconds = (performance.now() - t0) / 1000;
    const after = await diag();
    if (report.findings.length) console.error(`fuzz findings:\n${summarizeFindings(report)}`);
    const statuses = Object.entries(report.byStatus).map(([s, n]) => `${s}: ${n}`).join(', ');
    console.log(`fuzz: ${report.requests} requests in ${seconds.toFixed(1)} s; statuses ${statuses}; ${report.rejectedWritesChecked} refused writes checked, ${report.acceptedWrites} accepted; ${report.healthChecks} health checks`);
    if (report.accepted.length) console.log(`fuzz: accepted writes: ${report.accepted.join('; ')}`);
    console.log(`fuzz: families ${Object.entries(report.byKind).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    return {
      'fuzz.requests': { value: report.requests, unit: 'requests', note: `seed ${seed}, sequential, against wrangler dev; statuses ${statuses}; ${seconds.toFixed(0)} s` },
      'fuzz.status_5xx': { value: report.status5xx, unit: 'responses', note: 'must be 0' },
      'fuzz.findings': { value: report.findings.length, unit: 'findings', note: '5xx, error without the error shape, refused write that changed D1/R2, failed health check or real prediction (must be 0)' },
      'fuzz.rejected_writes_checked': { value: report.rejectedWritesChecked, unit: 'writes', note: 'refused writes whose D1 rows and R2 objects were compared before/after' },
      'fuzz.health_checks': { value: report.healthChecks, unit: 'checks', note: '/healthz + a real prediction every 100 requests and at the end' },
      'fuzz.tensor_growth': {
        value: after.numTensors - before.numTensors,
        unit: 'tensors',
        note: `tensors after the run minus before (${before.numTensors}); personal heads cached ${before.headCache?.entries ?? '?'} before, ${after.headCache?.entries ?? '?'} after: heads that accepted writes stored (a valid random mutation, an operator publish) and predictions then loaded stay cached; the load test checks flatness`,
      },
    };
  } finally {
    await server.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  freezeWorker();
  const results = await benchFuzz(Number(process.argv[2] ?? 2000), Number(process.argv[3] ?? 20261129));
  printTable(results);
  process.exit(0);
}
