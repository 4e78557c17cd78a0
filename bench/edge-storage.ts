/**
 * Storage on the anonymous hot path, measured through `wrangler dev`: D1 queries and R2 operations
 * per anonymous default-head prediction once the isolate is warm, read from the isolate's own
 * counters (`GET /_diag/storage`, diagnostics on; worker/store/storage-counts.ts). Part of the edge
 * section of `npm run bench`; `npx tsx bench/edge-storage.ts` runs it alone (a dev server of its
 * own) and merges its figures into bench/results.json.
 */
import { pathToFileURL } from 'node:url';
import type { StorageCounts } from '../shared/api/types.ts';
import { benchJpeg } from './node-forward.ts';
import { printTable, saveResults, startDevServer, type Results } from './lib.ts';

async function storageCounts(url: string): Promise<StorageCounts> {
  const res = await fetch(`${url}/_diag/storage`);
  if (!res.ok) throw new Error(`/_diag/storage answered ${res.status}`);
  return (await res.json()) as StorageCounts;
}

/** Runs `n` anonymous JPEG predictions with the default head on a warm server; returns per-request counts. */
export async function benchEdgeStorage(url: string, n = 20): Promise<Results> {
  const jpeg = benchJpeg();
  const predict = async () => {
    const res = await fetch(`${url}/v1/predict`, { method: 'POST', body: jpeg, headers: { 'content-type': 'image/jpeg' } });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`predict answered ${res.status}`);
  };
  // Warm: the model is loaded and the isolate's published-head index read.
  for (let i = 0; i < 3; i++) await predict();
  const before = await storageCounts(url);
  for (let i = 0; i < n; i++) await predict();
  const after = await storageCounts(url);
  const d1 = (after.d1Queries - before.d1Queries) / n;
  const r2 = (after.r2Operations - before.r2Operations) / n;
  return {
    'edge.d1_queries_per_anonymous_predict': {
      value: d1,
      unit: 'queries',
      note: `D1 statements per warm anonymous default-head /v1/predict, ${n} JPEGs (/_diag/storage); R2 operations: ${r2}`,
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const server = await startDevServer();
  try {
    const results = await benchEdgeStorage(server.url);
    saveResults(results);
    printTable(results);
  } finally {
    await server.stop();
  }
  process.exit(0);
}
