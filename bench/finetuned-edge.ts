/**
 * A fine-tuned personal model at the edge, measured from outside `wrangler dev` (run on its own:
 * `npx tsx bench/finetuned-edge.ts`; prints JSON). Uploads a fine-tuned model (the backbone's top
 * block, weights perturbed: tests/helpers/fine-tuned.ts) to a fresh account and reports: the first
 * fine-tuned prediction (R2 read, document parse, tail load, frozen view built), warm latency next
 * to the default head's on the same 640x480 JPEG, the WASM heap, and the workerd process tree's
 * RSS while 1024x1024 JPEGs (the pixel limit) run through the fine-tuned model.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DiagnosticsResponse, TokenResponse } from '../shared/api/types.ts';
import { startNodeWasmBackend } from '../scripts/node-backend.ts';
import { loadLocalModels } from '../scripts/node-models.ts';
import { makeFineTunedDoc } from '../tests/helpers/fine-tuned.ts';
import { scenePixels } from '../tests/helpers/fixtures.ts';
import { makeJpeg } from '../tests/helpers/images.ts';
import { median, quantile, startDevServer, type Results } from './lib.ts';

function rssOfTree(pid: number): number {
  let total = 0;
  const visit = (p: number) => {
    try {
      total += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0) * 1024;
      const children = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim();
      for (const c of children ? children.split(/\s+/) : []) visit(Number(c));
    } catch {
      /* gone */
    }
  };
  visit(pid);
  return total;
}

async function timed(url: string, body: Uint8Array, headers: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(url, { method: 'POST', body, headers });
  const text = await res.text();
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${text}`);
  return performance.now() - t0;
}

export async function benchFineTunedEdge(warmRuns = 30): Promise<Results> {
  await startNodeWasmBackend();
  const models = await loadLocalModels();
  const doc = await makeFineTunedDoc(models.backbone, { id: crypto.randomUUID(), seed: 3 });
  models.backbone.dispose();
  const docBytes = new TextEncoder().encode(JSON.stringify(doc));
  const photo = makeJpeg(640, 480, 90, await scenePixels(640, 480, ['1f436', '1f34e', '1f697']));
  const big = makeJpeg(1024, 1024, 95, await scenePixels(1024, 1024, ['1f436', '1f34e', '1f697', '1f680']));

  const dir = mkdtempSync(join(tmpdir(), 'tannerin-ft-bench-'));
  const server = await startDevServer([], '/models.json', join(dir, 'state'));
  try {
    const account = (await (await fetch(`${server.url}/v1/accounts`, { method: 'POST' })).json()) as TokenResponse;
    const auth = { authorization: `Bearer ${account.token}` };
    const put = await fetch(`${server.url}/v1/heads/${doc.id}`, { method: 'PUT', body: docBytes, headers: { 'content-type': 'application/json', 'if-none-match': '*', ...auth } });
    if (put.status !== 201) throw new Error(`upload answered ${put.status}: ${await put.text()}`);
    const fineTuned = `${server.url}/v1/predict?head=${doc.id}`;
    const plain = `${server.url}/v1/predict`;
    const jpeg = { 'content-type': 'image/jpeg' };
    // Backbone loaded first, so the first fine-tuned call measures what the model itself costs.
    const heap = async () => ((await (await fetch(`${server.url}/_diag/memory`)).json()) as DiagnosticsResponse).wasmHeapBytes / 1048576;
    for (let i = 0; i < 3; i++) await timed(plain, photo, jpeg);
    const heapPlain = await heap();
    const first = await timed(fineTuned, photo, { ...jpeg, ...auth });
    const heapFirst = await heap();
    const warmTuned: number[] = [];
    const warmPlain: number[] = [];
    for (let i = 0; i < warmRuns; i++) warmTuned.push(await timed(fineTuned, photo, { ...jpeg, ...auth }));
    const heapTuned = await heap();
    for (let i = 0; i < warmRuns; i++) warmPlain.push(await timed(plain, photo, jpeg));
    const heapWarm = await heap();
    const pid = server.process.pid as number;
    const baseline = rssOfTree(pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOfTree(pid))), 5);
    for (let i = 0; i < 3; i++) await timed(fineTuned, big, { ...jpeg, ...auth });
    clearInterval(sampler);
    const diag = (await (await fetch(`${server.url}/_diag/memory`)).json()) as DiagnosticsResponse;
    const mib = (n: number) => n / 1048576;
    return {
      'edge.finetuned.document_mb': { value: docBytes.byteLength / 1e6, unit: 'MB', note: 'head document with the top block (float32 base64)' },
      'edge.finetuned.first_predict_ms': { value: first, unit: 'ms', note: 'first fine-tuned prediction, backbone already loaded: R2 read + parse + tail load + frozen view' },
      'edge.finetuned.predict_warm_p50_ms': { value: median(warmTuned), unit: 'ms', note: `${warmRuns} 640x480 JPEGs through the fine-tuned model` },
      'edge.finetuned.predict_warm_p95_ms': { value: quantile(warmTuned, 0.95), unit: 'ms', note: 'same requests' },
      'edge.finetuned.plain_warm_p50_ms': { value: median(warmPlain), unit: 'ms', note: 'the default head on the same JPEG, after them' },
      'edge.finetuned.heap_after_plain_mb': { value: heapPlain, unit: 'MiB', note: 'WASM heap after 3 default-head predictions' },
      'edge.finetuned.heap_after_first_mb': { value: heapFirst, unit: 'MiB', note: 'WASM heap after the first fine-tuned prediction (tail loaded)' },
      'edge.finetuned.heap_after_tuned_mb': { value: heapTuned, unit: 'MiB', note: 'WASM heap after the warm fine-tuned runs' },
      'edge.finetuned.heap_after_warm_mb': { value: heapWarm, unit: 'MiB', note: 'WASM heap after the warm default-head runs that followed' },
      'edge.finetuned.peak_wasm_heap_mb': { value: mib(diag.peakWasmHeapBytes), unit: 'MiB', note: '/_diag/memory after everything' },
      'edge.finetuned.head_cache_mb': { value: mib(diag.headCache?.bytes ?? 0), unit: 'MiB', note: 'what the head cache counts for the fine-tuned model' },
      'edge.finetuned.rss_baseline_mb': { value: mib(baseline), unit: 'MiB', note: 'wrangler + workerd process tree RSS, warm, before the 1 MP requests' },
      'edge.finetuned.max_image_extra_mb': { value: mib(peak - baseline), unit: 'MiB', note: 'RSS growth while three 1024x1024 JPEGs ran through the fine-tuned model' },
      'edge.finetuned.peak_request_memory_mb': { value: mib(diag.peakWasmHeapBytes) + mib(peak - baseline), unit: 'MiB', note: 'WASM heap + 1 MP growth (the figure the README budgets against 128 MiB)' },
    };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await benchFineTunedEdge();
  console.log(JSON.stringify(results, null, 2));
}
