/**
 * Edge figures, measured over HTTP from outside the Worker against `wrangler dev` on 127.0.0.1
 * (timers do not advance during CPU work in production Workers, so time is taken from outside).
 */
import { readFileSync } from 'node:fs';
import type { DiagnosticsResponse } from '../shared/api/types.ts';
import { LIMITS } from '../shared/limits.ts';
import { makeJpeg, makePng } from '../tests/helpers/images.ts';
import { benchEdgeStorage } from './edge-storage.ts';
import { benchJpeg } from './node-forward.ts';
import { median, quantile, startDevServer, type Results } from './lib.ts';

async function predict(url: string, body: Uint8Array, type: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/predict`, { method: 'POST', body, headers: { 'content-type': type } });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`predict answered ${res.status}`);
  return performance.now() - t0;
}

/** Resident memory of a process and its children (workerd runs under wrangler), in bytes. */
function rssOfTree(pid: number): number {
  let total = 0;
  const visit = (p: number) => {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      total += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
      const children = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim();
      for (const c of children ? children.split(/\s+/) : []) visit(Number(c));
    } catch {
      /* process gone */
    }
  };
  visit(pid);
  return total;
}

export async function benchEdge(coldRuns = 3, warmRuns = 60): Promise<Results> {
  const jpeg = benchJpeg();
  const cold: number[] = [];
  for (let i = 0; i < coldRuns; i++) {
    const server = await startDevServer();
    try {
      cold.push(await predict(server.url, jpeg, 'image/jpeg'));
    } finally {
      await server.stop();
    }
  }

  const server = await startDevServer();
  try {
    for (let i = 0; i < 5; i++) await predict(server.url, jpeg, 'image/jpeg');
    const warm: number[] = [];
    for (let i = 0; i < warmRuns; i++) warm.push(await predict(server.url, jpeg, 'image/jpeg'));
    // Where the time beyond the forward pass goes: a bare HTTP round trip through wrangler dev's
    // proxy, and a prediction from a client-computed embedding (HTTP + head, no decode or backbone).
    const healthz: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      await (await fetch(`${server.url}/healthz`)).arrayBuffer();
      healthz.push(performance.now() - t0);
    }
    const embeddingBody = new Uint8Array(await (await fetch(`${server.url}/v1/embed`, { method: 'POST', body: jpeg, headers: { 'content-type': 'image/jpeg' } })).arrayBuffer());
    const fromEmbedding: number[] = [];
    for (let i = 0; i < 30; i++) fromEmbedding.push(await predict(server.url, embeddingBody, 'application/octet-stream'));
    // Storage per anonymous prediction once warm (goal: none).
    const storage = await benchEdgeStorage(server.url);
    const diag = (await (await fetch(`${server.url}/_diag/memory`)).json()) as DiagnosticsResponse;
    // Forward pass alone, timed inside the isolate, between the warm HTTP runs.
    const inside = ((await (await fetch(`${server.url}/_diag/forward?n=30`)).json()) as { ms: number[] }).ms;

    // The largest images the limits allow: RSS growth of the runtime while decoding them.
    const side = Math.floor(Math.sqrt(LIMITS.maxPixels));
    const noise = new Uint8Array(side * side * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 2654435761) >>> 24));
    const bigJpeg = makeJpeg(side, side, 95, noise);
    const bigPng = makePng(side, side, noise);
    const pid = server.process.pid as number;
    const baseline = rssOfTree(pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOfTree(pid))), 5);
    for (const [body, type] of [[bigJpeg, 'image/jpeg'], [bigPng, 'image/png']] as const) {
      if (body.length <= LIMITS.maxBodyBytes) await predict(server.url, body, type);
    }
    clearInterval(sampler);
    // Last, because building the unfolded model grows the isolate's WASM heap: the folded forward
    // against the layers model as shipped, alternated in rounds inside the isolate.
    const foldedMs: number[] = [];
    const unfoldedMs: number[] = [];
    for (let round = 0; round < 3; round++) {
      foldedMs.push(...((await (await fetch(`${server.url}/_diag/forward?n=10`)).json()) as { ms: number[] }).ms);
      unfoldedMs.push(...((await (await fetch(`${server.url}/_diag/forward?n=10&unfolded=1`)).json()) as { ms: number[] }).ms.slice(round === 0 ? 1 : 0));
    }
    const heapMb = diag.peakWasmHeapBytes / 1048576;
    const imageMb = (peak - baseline) / 1048576;
    return {
      ...storage,
      'edge.cold_start_ms': { value: median(cold), unit: 'ms', note: `median of ${coldRuns} fresh wrangler dev isolates, first /v1/predict incl. model load` },
      'edge.predict_warm_p50_ms': { value: median(warm), unit: 'ms', note: `${warmRuns} sequential 640x480 JPEG predictions over HTTP` },
      'edge.predict_warm_p95_ms': { value: quantile(warm, 0.95), unit: 'ms', note: 'same requests' },
      'edge.http_roundtrip_p50_ms': { value: median(healthz), unit: 'ms', note: 'GET /healthz through wrangler dev (the HTTP floor)' },
      'edge.predict_embedding_p50_ms': { value: median(fromEmbedding), unit: 'ms', note: 'POST /v1/predict with a client-computed embedding: HTTP + head only' },
      'edge.forward_p50_ms': { value: median(inside), unit: 'ms', note: 'forward pass alone, timed inside the isolate (local workerd clock advances during CPU work)' },
      'edge.forward_unfolded_ms': { value: median(unfoldedMs), unit: 'ms', note: `the layers model as shipped, inside the isolate, median of ${unfoldedMs.length} alternated with ${foldedMs.length} folded (${median(foldedMs).toFixed(1)} ms)` },
      'edge.folded_over_unfolded': { value: median(foldedMs) / median(unfoldedMs), unit: 'x', note: 'folded / unfolded forward inside the isolate, alternated (goal <= 0.55)' },
      'edge.peak_wasm_heap_mb': { value: heapMb, unit: 'MiB', note: 'WASM linear memory after warm requests (/_diag/memory)' },
      'edge.max_image_extra_mb': { value: imageMb, unit: 'MiB', note: `workerd RSS growth decoding ${side}x${side} JPEG + PNG (the pixel limit)` },
      'edge.peak_request_memory_mb': { value: heapMb + imageMb, unit: 'MiB', note: 'WASM heap + largest-image growth; isolate limit is 128 MiB' },
      'edge.tensors_after_warm': { value: diag.numTensors, unit: 'tensors', note: 'must equal the model tensors' },
    };
  } finally {
    await server.stop();
  }
}
