/**
 * Load: `autocannon` clients posting the bench's 640x480 JPEG to `/v1/predict` on a `wrangler dev`
 * on 127.0.0.1 for a fixed time, after a warm-up. Every response's latency is recorded (autocannon's
 * own summary has no p95), and `/_diag/memory` is sampled before, every second during, and after,
 * so the WASM heap and the tensor count can be seen to stay flat.
 *
 * Records `load.rps`, `load.p50_ms`, `load.p95_ms`, `load.p99_ms`, `load.errors` (non-2xx answers,
 * socket errors and timeouts), `load.requests`, `load.peak_wasm_heap_mb`, `load.wasm_heap_growth_mb`
 * and `load.tensor_growth`. Standalone: `npx tsx bench/load.ts [seconds] [connections]`.
 */
import autocannon from 'autocannon';
import { fileURLToPath } from 'node:url';
import type { DiagnosticsResponse } from '../shared/api/types.ts';
import { freezeWorker, median, printTable, quantile, startDevServer, type DevServer, type Results } from './lib.ts';
import { benchJpeg } from './node-forward.ts';

const MIB = 1024 * 1024;

interface AutocannonResult {
  requests: { total: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  duration: number;
}
interface AutocannonInstance {
  on(event: 'response', fn: (client: unknown, status: number, bytes: number, ms: number) => void): void;
}
type Autocannon = ((options: Record<string, unknown>) => AutocannonInstance & Promise<AutocannonResult>) & {
  track?: unknown;
};

/** Runs the load against a server that is already up (the model is loaded by the warm-up). */
export async function benchLoad(server: DevServer, seconds = 20, connections = 8): Promise<Results> {
  const jpeg = benchJpeg();
  const memory = async (): Promise<DiagnosticsResponse> => {
    const res = await fetch(`${server.url}/_diag/memory`);
    const text = await res.text();
    if (!res.ok) throw new Error(`/_diag/memory answered ${res.status}: ${text.slice(0, 300)}\nwrangler: ${server.output().slice(-3000)}`);
    return JSON.parse(text) as DiagnosticsResponse;
  };
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${server.url}/v1/predict`, { method: 'POST', body: jpeg, headers: { 'content-type': 'image/jpeg' } });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`warm-up predict answered ${res.status}`);
  }
  const before = await memory();
  const samples: DiagnosticsResponse[] = [before];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      await new Promise((r) => setTimeout(r, 1000));
      if (sampling) samples.push(await memory());
    }
  })();

  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  const instance = (autocannon as unknown as Autocannon)({
    url: `${server.url}/v1/predict`,
    method: 'POST',
    headers: { 'content-type': 'image/jpeg' },
    body: Buffer.from(jpeg),
    connections,
    duration: seconds,
    timeout: 30,
  });
  instance.on('response', (_client, status, _bytes, ms) => {
    latencies.push(ms);
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  });
  const result = await instance;
  sampling = false;
  await sampler;
  const after = await memory();
  samples.push(after);

  const ok = statuses.get(200) ?? 0;
  const errors = result.non2xx + result.errors + result.timeouts;
  const heaps = samples.map((s) => s.wasmHeapBytes);
  const tensors = samples.map((s) => s.numTensors);
  const peakHeap = Math.max(after.peakWasmHeapBytes, ...heaps);
  const statusText = [...statuses].map(([s, n]) => `${s}: ${n}`).join(', ');
  console.log(`load: ${result.requests.total} requests in ${result.duration.toFixed(1)} s (${statusText}); non2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}`);
  if (result.non2xx || result.errors) {
    const lines = server.output().split('\n').filter((l) => /\b[45]\d\d\b|error|restart/i.test(l) && !/ 200 /.test(l));
    console.log(`load: wrangler said:\n${lines.slice(-20).join('\n')}`);
  }
  console.log(`load: WASM heap MiB ${heaps.map((h) => (h / MIB).toFixed(1)).join(' ')}; tensors ${tensors.join(' ')}`);
  return {
    'load.rps': { value: ok / result.duration, unit: 'req/s', note: `${connections} concurrent clients, ${seconds} s, POST /v1/predict 640x480 JPEG, successful answers per second` },
    'load.requests': { value: result.requests.total, unit: 'requests', note: statusText },
    'load.p50_ms': { value: median(latencies), unit: 'ms', note: `latency under load (queueing included: one isolate, ${connections} clients)` },
    'load.p95_ms': { value: quantile(latencies, 0.95), unit: 'ms', note: 'same requests' },
    'load.p99_ms': { value: quantile(latencies, 0.99), unit: 'ms', note: 'same requests' },
    'load.errors': { value: errors, unit: 'requests', note: `non-2xx ${result.non2xx} + socket errors ${result.errors} + timeouts ${result.timeouts}` },
    'load.peak_wasm_heap_mb': { value: peakHeap / MIB, unit: 'MiB', note: `peak TF.js WASM heap, ${samples.length} samples of /_diag/memory (isolate limit 128 MiB)` },
    'load.wasm_heap_growth_mb': { value: (after.wasmHeapBytes - before.wasmHeapBytes) / MIB, unit: 'MiB', note: `WASM heap after minus before the load (${(before.wasmHeapBytes / MIB).toFixed(1)} MiB before)` },
    'load.tensor_growth': { value: after.numTensors - before.numTensors, unit: 'tensors', note: `tensors after minus before (${before.numTensors}); range during ${Math.min(...tensors)}-${Math.max(...tensors)}` },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  freezeWorker();
  const server = await startDevServer();
  try {
    printTable(await benchLoad(server, Number(process.argv[2] ?? 20), Number(process.argv[3] ?? 8)));
  } finally {
    await server.stop();
  }
  process.exit(0);
}
