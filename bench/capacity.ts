/**
 * Capacity and cost, measured through `wrangler dev` (run alone: `npx tsx bench/capacity.ts`; part
 * of `npm run bench`):
 *
 * - CPU per default-head prediction, from the workerd process's own CPU time (utime + stime in
 *   /proc/<pid>/stat, every workerd under the `wrangler dev` process) read before and after N
 *   sequential warm JPEG predictions, minus an idle baseline over the same wall time. Not from
 *   timers inside the Worker: production timers do not advance during CPU work.
 * - Requests per second one isolate serves, sequentially and with 4 clients (medians of rounds).
 * - Dollars per million predictions at Workers Standard (paid) pricing, next to Workers AI image
 *   classification.
 * - D1 queries and R2 operations per sync action (`GET /_diag/storage`, diagnostics on;
 *   worker/store/storage-counts.ts).
 *
 * Merges its figures into bench/results.json and rewrites the "Capacity and cost" section of
 * BENCHMARKS.md (bench/report.ts `capacitySection`).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PairingCodeResponse, StorageCounts, TokenResponse } from '../shared/api/types.ts';
import { median, type Results } from './lib.ts';

/** Workers Standard usage model (Workers Paid), beyond the monthly inclusions. */
export const WORKERS_PRICES = {
  /** USD per million requests beyond the 10 million included per month. */
  requestsUsdPerMillion: 0.3,
  /** USD per million CPU milliseconds beyond the 30 million included per month. */
  cpuUsdPerMillionMs: 0.02,
  source:
    'developers.cloudflare.com/workers/platform/pricing (Standard: 10 M requests + 30 M CPU-ms included per month, then $0.30 per million requests and $0.02 per million CPU-ms); page source cloudflare-docs src/content/docs/workers/platform/pricing.mdx at commit 07acbb6, as stored by the search tool, the same figures as a transcription read on 2026-08-03',
} as const;

/** Workers AI image classification: the one such model in its catalogue. */
export const WORKERS_AI_PRICES = {
  model: '@cf/microsoft/resnet-50',
  usdPer1000Neurons: 0.011,
  neuronsPerMillionImages: 228_055,
  source:
    'developers.cloudflare.com/workers-ai/platform/pricing: $0.011 per 1,000 Neurons beyond 10,000 free per day (a transcription of the page read on 2026-09-20); @cf/microsoft/resnet-50 at 228,055 Neurons per million images ("$2.51 per M images", cloudflare-docs PR #20180, February 2025)',
} as const;

/** Dollars per million predictions at Workers paid pricing: the requests price plus the CPU price times CPU-ms per request. */
export function usdPerMillionPredictions(cpuMsPerPredict: number, prices: { requestsUsdPerMillion: number; cpuUsdPerMillionMs: number } = WORKERS_PRICES): number {
  // A million requests of c ms each is c million CPU-ms.
  return prices.requestsUsdPerMillion + prices.cpuUsdPerMillionMs * cpuMsPerPredict;
}

/** Dollars per million Workers AI classifications (beyond the free daily Neurons). */
export function workersAiUsdPerMillion(prices: { usdPer1000Neurons: number; neuronsPerMillionImages: number } = WORKERS_AI_PRICES): number {
  return (prices.neuronsPerMillionImages / 1000) * prices.usdPer1000Neurons;
}

/** CPU milliseconds per request: busy ticks minus idle ticks over the same wall time, over `n` requests. */
export function cpuMsPerRequest(busyTicks: number, idleTicks: number, ticksPerSecond: number, n: number): number {
  return ((busyTicks - idleTicks) * 1000) / ticksPerSecond / n;
}

/** utime + stime (clock ticks) from the text of /proc/<pid>/stat. */
export function statTicks(stat: string): number {
  // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  return Number(fields[11]) + Number(fields[12]);
}

/** Every descendant process id of `pid` (children of all its threads). */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number) => {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      return;
    }
    for (const t of tasks) {
      let children: string;
      try {
        children = readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim();
      } catch {
        continue;
      }
      for (const c of children ? children.split(/\s+/).map(Number) : []) {
        out.push(c);
        visit(c);
      }
    }
  };
  visit(pid);
  return out;
}

const comm = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};

/** The workerd processes `wrangler dev` (process `pid`) started. */
export function workerdPids(pid: number): number[] {
  return descendants(pid).filter((p) => comm(p) === 'workerd');
}

interface Sample {
  /** The workerd process ids, sorted: a change means workerd was restarted. */
  pids: string;
  /** utime + stime (clock ticks) of the workerd running the Worker. */
  runtime: number;
  /** utime + stime of the workerd that proxies the public port to it (wrangler's, not billed in production). */
  proxy: number;
}

const cmdline = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
};

/** The workerd processes under `pid`, their CPU ticks split into the proxy on `port` and the rest. */
function sample(pid: number, port: string): Sample {
  const pids = workerdPids(pid).sort((a, b) => a - b);
  if (!pids.length) throw new Error('no workerd process under wrangler dev');
  let runtime = 0;
  let proxy = 0;
  for (const p of pids) {
    const t = statTicks(readFileSync(`/proc/${p}/stat`, 'utf8'));
    if (cmdline(p).includes(`entry=127.0.0.1:${port} `)) proxy += t;
    else runtime += t;
  }
  return { pids: pids.join(','), runtime, proxy };
}

/** Ticks between two samples; throws if workerd was restarted in between (a new process set). */
function elapsedTicks(from: Sample, to: Sample): { runtime: number; proxy: number } {
  if (from.pids !== to.pids) throw new Error(`workerd restarted (processes ${from.pids} -> ${to.pids})`);
  return { runtime: to.runtime - from.runtime, proxy: to.proxy - from.proxy };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function storageCounts(url: string): Promise<StorageCounts> {
  const res = await fetch(`${url}/_diag/storage`);
  if (!res.ok) throw new Error(`/_diag/storage answered ${res.status}`);
  return (await res.json()) as StorageCounts;
}

async function call(url: string, init: RequestInit, expect: number[]): Promise<Response> {
  const res = await fetch(url, init);
  if (!expect.includes(res.status)) throw new Error(`${init.method ?? 'GET'} ${url} answered ${res.status}: ${await res.text()}`);
  return res;
}

/** The sync actions whose storage operations are counted, in the order they run. */
export const SYNC_ACTIONS = [
  ['anonymous_predict', 'anonymous `/v1/predict`, default head, warm'],
  ['create_account', '`POST /v1/accounts`'],
  ['create_head', '`PUT /v1/heads/<id>` with `If-None-Match: *` (201)'],
  ['update_head', '`PUT /v1/heads/<id>` with `If-Match` (200)'],
  ['list_heads', '`GET /v1/heads`'],
  ['get_head', '`GET /v1/heads/<id>` (200, the document)'],
  ['get_head_not_modified', '`GET /v1/heads/<id>` with a matching `If-None-Match` (304)'],
  ['predict_personal_first', '`/v1/predict?head=<id>`, signed in, first (head not cached in the isolate)'],
  ['predict_personal_warm', '`/v1/predict?head=<id>`, signed in, head cached (mean of 5)'],
  ['create_pairing_code', '`POST /v1/pairing-codes`'],
  ['redeem_pairing_code', '`POST /v1/pairing-codes/redeem`'],
  ['delete_head', '`DELETE /v1/heads/<id>`'],
] as const;
export type SyncAction = (typeof SYNC_ACTIONS)[number][0];

/** D1 queries and R2 operations of each sync action, one after another on a warm isolate. */
async function syncStorage(url: string, photo: Uint8Array<ArrayBuffer>): Promise<Record<SyncAction, StorageCounts>> {
  const { readManifest } = await import('../scripts/node-models.ts');
  const { makeTestHead, headBytes } = await import('../tests/helpers/heads.ts');
  const backbone = readManifest().backbone;
  const id = crypto.randomUUID();
  // A realistic personal head: 5 classes, 64 hidden units, float32 weights.
  const classes = ['mug', 'plant', 'keys', 'shoe', 'other'];
  const v1 = headBytes(makeTestHead(backbone, { id, classes, hidden: 64, seed: 1 }));
  const v2 = headBytes(makeTestHead(backbone, { id, classes, hidden: 64, seed: 2 }));
  const jpeg = { 'content-type': 'image/jpeg' };
  const out: Partial<Record<SyncAction, StorageCounts>> = {};
  let token = '';
  let etag = '';
  const auth = () => ({ authorization: `Bearer ${token}` });
  const measure = async (action: SyncAction, fn: () => Promise<void>, times = 1) => {
    const before = await storageCounts(url);
    for (let i = 0; i < times; i++) await fn();
    const after = await storageCounts(url);
    out[action] = { d1Queries: (after.d1Queries - before.d1Queries) / times, r2Operations: (after.r2Operations - before.r2Operations) / times };
  };
  const body = async (res: Response) => void (await res.arrayBuffer());
  for (let i = 0; i < 3; i++) await body(await call(`${url}/v1/predict`, { method: 'POST', body: photo, headers: jpeg }, [200]));
  await measure('anonymous_predict', async () => body(await call(`${url}/v1/predict`, { method: 'POST', body: photo, headers: jpeg }, [200])), 5);
  await measure('create_account', async () => {
    token = ((await (await call(`${url}/v1/accounts`, { method: 'POST' }, [201])).json()) as TokenResponse).token;
  });
  const head = { 'content-type': 'application/json' };
  await measure('create_head', async () => {
    const res = await call(`${url}/v1/heads/${id}`, { method: 'PUT', body: v1, headers: { ...head, 'if-none-match': '*', ...auth() } }, [201]);
    etag = res.headers.get('etag') ?? '';
    await body(res);
  });
  await measure('update_head', async () => {
    const res = await call(`${url}/v1/heads/${id}`, { method: 'PUT', body: v2, headers: { ...head, 'if-match': etag, ...auth() } }, [200]);
    etag = res.headers.get('etag') ?? '';
    await body(res);
  });
  await measure('list_heads', async () => body(await call(`${url}/v1/heads`, { headers: auth() }, [200])));
  await measure('get_head', async () => body(await call(`${url}/v1/heads/${id}`, { headers: auth() }, [200])));
  await measure('get_head_not_modified', async () => body(await call(`${url}/v1/heads/${id}`, { headers: { 'if-none-match': etag, ...auth() } }, [304])));
  const personal = async () => body(await call(`${url}/v1/predict?head=${id}`, { method: 'POST', body: photo, headers: { ...jpeg, ...auth() } }, [200]));
  await measure('predict_personal_first', personal);
  await measure('predict_personal_warm', personal, 5);
  let code = '';
  await measure('create_pairing_code', async () => {
    code = ((await (await call(`${url}/v1/pairing-codes`, { method: 'POST', headers: auth() }, [201])).json()) as PairingCodeResponse).code;
  });
  await measure('redeem_pairing_code', async () =>
    body(await call(`${url}/v1/pairing-codes/redeem`, { method: 'POST', body: JSON.stringify({ code, label: 'bench' }), headers: { 'content-type': 'application/json' } }, [201])),
  );
  await measure('delete_head', async () => body(await call(`${url}/v1/heads/${id}`, { method: 'DELETE', headers: auth() }, [204])));
  return out as Record<SyncAction, StorageCounts>;
}

export interface CapacityOptions {
  /** Sequential predictions per CPU round. */
  n?: number;
  /** CPU and throughput rounds (the median is reported). */
  rounds?: number;
  /** Clients of the concurrent throughput rounds. */
  concurrency?: number;
}

/** Runs the capacity figures against a `wrangler dev` of its own (fresh local storage). */
export async function benchCapacity(options: CapacityOptions = {}): Promise<Results> {
  const { n = 100, rounds = 3, concurrency = 4 } = options;
  const { benchJpeg } = await import('./node-forward.ts');
  const { makeJpeg } = await import('../tests/helpers/images.ts');
  const { scenePixels } = await import('../tests/helpers/fixtures.ts');
  const { startDevServer } = await import('./lib.ts');
  const photo = benchJpeg() as Uint8Array<ArrayBuffer>;
  const big = makeJpeg(1024, 1024, 92, await scenePixels(1024, 1024, ['1f436', '1f34e', '1f697', '1f680'])) as Uint8Array<ArrayBuffer>;
  const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

  const dir = mkdtempSync(join(tmpdir(), 'tannerin-capacity-'));
  const server = await startDevServer([], '/models.json', join(dir, 'state'));
  try {
    /** A default-head prediction, or with `personal` the caller's own head (edge.cpu_ms_per_predict_tta). */
    const predict = async (body: Uint8Array<ArrayBuffer>, personal?: { id: string; token: string }) => {
      const res = await fetch(`${server.url}/v1/predict${personal ? `?head=${personal.id}` : ''}`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'image/jpeg', ...(personal ? { authorization: `Bearer ${personal.token}` } : {}) },
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`predict answered ${res.status}`);
    };
    const warm = async () => {
      // Warm: script evaluated, model loaded, published-head index read, the JIT settled.
      for (let i = 0; i < 10; i++) await predict(photo);
    };
    await warm();
    const pid = server.process.pid as number;
    const port = new URL(server.url).port;
    const processes = sample(pid, port).pids.split(',').length;
    let restarts = 0;
    /**
     * Runs `fn` until it completes without workerd restarting under it: `wrangler dev` restarts
     * workerd when its configuration file is rewritten (bench/lib.ts `raisedLimitsConfig`, which
     * other dev servers started from this tree also call). A restarted isolate is warmed again.
     */
    const stable = async <T>(fn: () => Promise<T>): Promise<T> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await fn();
        } catch (error) {
          if (attempt >= 5) throw error;
          restarts++;
          console.error(`capacity: round repeated (${error instanceof Error ? error.message : String(error)})`);
          await sleep(3000);
          await warm();
        }
      }
    };

    /** CPU ms per request of `count` sequential predictions of `body`, minus idle over the same wall time; and the wall time. */
    const cpuRound = (body: Uint8Array<ArrayBuffer>, count: number, personal?: { id: string; token: string }) =>
      stable(async () => {
        const t0 = performance.now();
        const busy0 = sample(pid, port);
        for (let i = 0; i < count; i++) await predict(body, personal);
        const busy1 = sample(pid, port);
        const busy = elapsedTicks(busy0, busy1);
        const wall = performance.now() - t0;
        await sleep(wall);
        const idle = elapsedTicks(busy1, sample(pid, port));
        return {
          cpuMs: cpuMsPerRequest(busy.runtime, idle.runtime, ticksPerSecond, count),
          proxyMs: cpuMsPerRequest(busy.proxy, idle.proxy, ticksPerSecond, count),
          idleMsPerSecond: (idle.runtime * 1000) / ticksPerSecond / (wall / 1000),
          rps: count / (wall / 1000),
        };
      });
    const concurrentRound = (count: number) =>
      stable(async () => {
        let next = 0;
        const t0 = performance.now();
        const busy0 = sample(pid, port);
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (next++ < count) await predict(photo);
          }),
        );
        const wall = performance.now() - t0;
        return { rps: count / (wall / 1000), cpuMs: (elapsedTicks(busy0, sample(pid, port)).runtime * 1000) / ticksPerSecond / count };
      });

    const seq: { cpuMs: number; proxyMs: number; idleMsPerSecond: number; rps: number }[] = [];
    const conc: { rps: number; cpuMs: number }[] = [];
    for (let r = 0; r < rounds; r++) {
      console.error(`capacity: round ${r + 1}/${rounds}`);
      seq.push(await cpuRound(photo, n));
      conc.push(await concurrentRound(n));
    }
    /** CPU ms of the backbone forward pass alone: `/_diag/forward?n=<count>` (one request, `count` passes), idle subtracted. */
    const forwardRound = (count: number) =>
      stable(async () => {
        const t0 = performance.now();
        const busy0 = sample(pid, port);
        const res = await fetch(`${server.url}/_diag/forward?n=${count}`);
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`/_diag/forward answered ${res.status}`);
        const busy1 = sample(pid, port);
        const wall = performance.now() - t0;
        await sleep(wall);
        return cpuMsPerRequest(elapsedTicks(busy0, busy1).runtime, elapsedTicks(busy1, sample(pid, port)).runtime, ticksPerSecond, count);
      });
    const forwardRounds: number[] = [];
    for (let r = 0; r < rounds; r++) forwardRounds.push(await forwardRound(50));
    const bigRounds: number[] = [];
    for (let r = 0; r < rounds; r++) bigRounds.push((await cpuRound(big, Math.max(10, Math.round(n / 4)))).cpuMs);
    // Test-time augmentation (shared/head/tta.ts): the shipped head as a personal head, with and
    // without `testTimeAugmentation: { views: 3 }`, alternated (the same D1/R2 path for both).
    const tta = await personalHeadPair(server.url);
    const plainRounds: number[] = [];
    const ttaRounds: number[] = [];
    const ttaCount = Math.max(10, Math.round(n / 4));
    for (const id of [tta.plainId, tta.ttaId]) await predict(photo, { id, token: tta.token });
    for (let r = 0; r < rounds; r++) {
      plainRounds.push((await cpuRound(photo, ttaCount, { id: tta.plainId, token: tta.token })).cpuMs);
      ttaRounds.push((await cpuRound(photo, ttaCount, { id: tta.ttaId, token: tta.token })).cpuMs);
    }
    const load = loadavg()[0] ?? 0;
    const storage = await syncStorage(server.url, photo);

    const cpuMs = median(seq.map((s) => s.cpuMs));
    const bigCpuMs = median(bigRounds);
    const fmt = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');
    const results: Results = {
      'edge.cpu_ms_per_predict': {
        value: cpuMs,
        unit: 'ms',
        note: `CPU time of the workerd running the Worker (/proc/<pid>/stat utime+stime; not the one of the ${processes} workerd processes that proxies the public port, ${fmt(seq.map((s) => s.proxyMs))} ms per request more) over ${n} sequential warm /v1/predict of the ${photo.byteLength}-byte 640x480 JPEG, minus idle over the same wall time; median of ${rounds} rounds (${fmt(seq.map((s) => s.cpuMs))}); idle ${fmt(seq.map((s) => s.idleMsPerSecond))} CPU-ms/s; 1-min load average ${load.toFixed(1)} on ${cpus().length} cores at the end; ${restarts} round(s) repeated after a workerd restart`,
      },
      'edge.cpu_ms_per_forward': {
        value: median(forwardRounds),
        unit: 'ms',
        note: `CPU time of the Worker's workerd over GET /_diag/forward?n=50 (the backbone forward pass alone on a fixed 224x224 input, 50 passes in one request), minus idle over the same wall time, per pass; median of ${rounds} rounds (${fmt(forwardRounds)})`,
      },
      'edge.cpu_ms_per_predict_1024': {
        value: bigCpuMs,
        unit: 'ms',
        note: `as edge.cpu_ms_per_predict, ${Math.max(10, Math.round(n / 4))} predictions of a ${big.byteLength}-byte 1024x1024 JPEG (the largest allowed); median of ${rounds} rounds (${fmt(bigRounds)})`,
      },
      'edge.cpu_ms_per_predict_tta': {
        value: median(ttaRounds),
        unit: 'ms',
        note: `as edge.cpu_ms_per_predict, ${ttaCount} predictions of the 640x480 JPEG with a personal head recording test-time augmentation over 3 views (4 backbone passes); median of ${rounds} rounds (${fmt(ttaRounds)}), alternated with the same head without it: ${median(plainRounds).toFixed(1)} ms (${fmt(plainRounds)})`,
      },
      'edge.rps_sequential': {
        value: median(seq.map((s) => s.rps)),
        unit: 'req/s',
        note: `one isolate, one client, ${n} sequential 640x480 JPEG predictions; median of ${rounds} rounds (${fmt(seq.map((s) => s.rps))})`,
      },
      [`edge.rps_concurrent${concurrency}`]: {
        value: median(conc.map((s) => s.rps)),
        unit: 'req/s',
        note: `one isolate, ${concurrency} clients, ${n} 640x480 JPEG predictions; median of ${rounds} rounds (${fmt(conc.map((s) => s.rps))}); Worker workerd CPU-ms per request without idle subtraction: ${fmt(conc.map((s) => s.cpuMs))}`,
      },
      'cost.usd_per_million_predictions': {
        value: usdPerMillionPredictions(cpuMs),
        unit: 'USD',
        note: `$${WORKERS_PRICES.requestsUsdPerMillion.toFixed(2)} per million requests + $${WORKERS_PRICES.cpuUsdPerMillionMs.toFixed(2)} per million CPU-ms x ${cpuMs.toFixed(1)} ms (edge.cpu_ms_per_predict), beyond the plan's inclusions (goal <= $1.00)`,
      },
      'cost.usd_per_million_predictions_1024': {
        value: usdPerMillionPredictions(bigCpuMs),
        unit: 'USD',
        note: `as cost.usd_per_million_predictions with edge.cpu_ms_per_predict_1024 (${bigCpuMs.toFixed(1)} ms)`,
      },
      'cost.workers_ai_usd_per_million': {
        value: workersAiUsdPerMillion(),
        unit: 'USD',
        note: `${WORKERS_AI_PRICES.model}: ${WORKERS_AI_PRICES.neuronsPerMillionImages.toLocaleString('en-US')} Neurons per million images x $${WORKERS_AI_PRICES.usdPer1000Neurons} per 1,000 Neurons (plus the calling Worker's own request)`,
      },
    };
    for (const [action, what] of SYNC_ACTIONS) {
      const counts = storage[action];
      results[`storage.${action}.d1_queries`] = { value: counts.d1Queries, unit: 'queries', note: `D1 statements per ${what} (/_diag/storage)` };
      results[`storage.${action}.r2_operations`] = { value: counts.r2Operations, unit: 'ops', note: `R2 calls per ${what} (/_diag/storage)` };
    }
    return results;
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Signs up on `url` and stores the shipped default head twice as a personal head: as it is, and
 * recording test-time augmentation over 3 views.
 */
async function personalHeadPair(url: string): Promise<{ token: string; plainId: string; ttaId: string }> {
  const { PUBLIC_DIR } = await import('../scripts/prepare-models.ts');
  const account = await call(`${url}/v1/accounts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ label: 'capacity bench' }) }, [201]);
  const { token } = (await account.json()) as TokenResponse;
  const manifest = JSON.parse(readFileSync(join(PUBLIC_DIR, 'models.json'), 'utf8')) as { heads: { document: { path: string } }[] };
  const shipped = JSON.parse(readFileSync(join(PUBLIC_DIR, manifest.heads[0]?.document.path ?? ''), 'utf8')) as Record<string, unknown>;
  const ids = { plainId: crypto.randomUUID(), ttaId: crypto.randomUUID() };
  for (const [kind, id] of Object.entries(ids)) {
    const doc = { ...shipped, id, ...(kind === 'ttaId' ? { testTimeAugmentation: { views: 3, seed: 0 } } : {}) };
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'if-none-match': '*' };
    await call(`${url}/v1/heads/${id}`, { method: 'PUT', body: JSON.stringify(doc), headers }, [201]);
  }
  return { token, ...ids };
}

/** Run alone: measure, merge into bench/results.json, rewrite the section of BENCHMARKS.md. */
async function main(): Promise<void> {
  const { runSectionAlone } = await import('./lib.ts');
  // report.ts imports this module: imported once this module has finished evaluating (no top-level await here).
  await runSectionAlone(benchCapacity, async () => (await import('./report.ts')).replaceCapacitySection);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
