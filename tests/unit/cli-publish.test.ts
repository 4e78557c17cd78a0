/**
 * `tannerin publish` against a real `wrangler dev` (local D1/R2 in a fresh state folder, an
 * operator token given as a variable): publishes a head written by `writeHeadDir`, which then
 * predicts at `/v1/predict?head=<name>` and is listed in `/v1/models`, also after a restart; a taken name needs
 * --replace; bad input (no token, wrong token, bad name, bad folder, fine-tuned model, no server)
 * gets a clear message and a non-zero exit, never a stack trace.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startDevServer, type DevServer } from '../../bench/lib.ts';
import type { ModelsResponse, PredictResponse } from '../../shared/api/types.ts';
import { writeHeadDir } from '../../scripts/cli/head-dir.ts';
import { readManifest } from '../../scripts/node-models.ts';
import { expectNoStack, runCli, type CliRun } from '../helpers/cli.ts';
import { makeTestHead } from '../helpers/heads.ts';

const TOKEN = `op_${'k'.repeat(40)}`;

/** Runs the CLI with the operator token in its environment (overridable per run). */
function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  return runCli(args, { env: { TANNERIN_OPERATOR_TOKEN: TOKEN, ...env } });
}

let server: DevServer;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tannerin-publish-'));
  // A state folder of its own: nothing published by an earlier run is there.
  server = await startDevServer(['--var', `OPERATOR_TOKEN:${TOKEN}`], '/models.json', join(dir, 'state'));
  const backbone = readManifest().backbone;
  writeHeadDir(join(dir, 'birds'), makeTestHead(backbone, { id: crypto.randomUUID(), seed: 5, classes: ['robin', 'crow'], name: 'birds' }));
  writeHeadDir(join(dir, 'fish'), makeTestHead(backbone, { id: crypto.randomUUID(), seed: 6, classes: ['cod', 'eel', 'ray'], name: 'fish' }));
  const fineTuned = { ...makeTestHead(backbone, { id: crypto.randomUUID(), seed: 7 }), backboneTail: { cut: 'x', cutShape: [1], parts: ['flatten_1'], modelTopology: {}, weightSpecs: [], weightData: '' } };
  writeHeadDir(join(dir, 'tuned'), fineTuned);
}, 300_000);

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const embeddingBody = (size: number) => {
  const values = new Float32Array(size).map((_, i) => ((i * 7919) % 97) / 97);
  return new Uint8Array(values.buffer);
};

describe('tannerin publish', () => {
  it('publishes a head that then predicts at the edge and is listed; a taken name needs --replace', async () => {
    const run = await cli(['publish', '--head', join(dir, 'birds'), '--as', 'birds', '--url', server.url, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    const result = JSON.parse(lines[lines.length - 1] as string) as Record<string, unknown>;
    expect(result).toMatchObject({ name: 'birds', version: 1, classes: ['robin', 'crow'], replaced: false });

    const models = (await (await fetch(`${server.url}/v1/models`)).json()) as ModelsResponse;
    expect(models.heads.map((h) => h.id)).toEqual(expect.arrayContaining(['content-safety', 'birds']));
    const res = await fetch(`${server.url}/v1/predict?head=birds`, { method: 'POST', body: embeddingBody(models.backbone.embedding.size), headers: { 'content-type': 'application/octet-stream' } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as PredictResponse).predictions.map((p) => p.label).sort()).toEqual(['crow', 'robin']);

    const taken = await cli(['publish', '--head', join(dir, 'fish'), '--as', 'birds', '--url', server.url]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/HTTP 409.*already published.*--replace/);
    const shipped = await cli(['publish', '--head', join(dir, 'fish'), '--as', 'content-safety', '--url', server.url]);
    expect(shipped.code).toBe(1);
    expect(shipped.stderr).toMatch(/HTTP 409.*shipped/);

    const replaced = await cli(['publish', '--head', join(dir, 'fish'), '--as', 'birds', '--url', server.url, '--replace']);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(replaced.stdout).toMatch(/published "birds" version 2 \(replaced version 1\)/);
    const after = await fetch(`${server.url}/v1/predict?head=birds`, { method: 'POST', body: embeddingBody(models.backbone.embedding.size), headers: { 'content-type': 'application/octet-stream' } });
    expect(((await after.json()) as PredictResponse).predictions.map((p) => p.label).sort()).toEqual(['cod', 'eel', 'ray']);
    for (const r of [taken, shipped]) expectNoStack(r);

    // A restart (a redeploy, locally) keeps it: it lives in D1 + R2, not in the deployed files.
    await server.stop();
    server = await startDevServer(['--var', `OPERATOR_TOKEN:${TOKEN}`], '/models.json', join(dir, 'state'));
    const restarted = (await (await fetch(`${server.url}/v1/models`)).json()) as ModelsResponse;
    expect(restarted.heads.find((h) => h.id === 'birds')?.classes).toEqual(['cod', 'eel', 'ray']);
  }, 300_000);

  it('bad input: clear messages, non-zero exits, nothing published', async () => {
    const [noToken, wrongToken, badName, badDir, tuned, noServer, badUrl] = await Promise.all([
      cli(['publish', '--head', join(dir, 'fish'), '--as', 'fish', '--url', server.url], { TANNERIN_OPERATOR_TOKEN: '' }),
      cli(['publish', '--head', join(dir, 'fish'), '--as', 'fish', '--url', server.url], { TANNERIN_OPERATOR_TOKEN: `${TOKEN}x` }),
      cli(['publish', '--head', join(dir, 'fish'), '--as', 'Fish_Head', '--url', server.url]),
      cli(['publish', '--head', join(dir, 'nowhere'), '--as', 'fish', '--url', server.url]),
      cli(['publish', '--head', join(dir, 'tuned'), '--as', 'fish', '--url', server.url]),
      cli(['publish', '--head', join(dir, 'fish'), '--as', 'fish', '--url', `http://127.0.0.1:${await freePort()}`]),
      cli(['publish', '--head', join(dir, 'fish'), '--as', 'fish', '--url', 'ftp://example']),
    ]);
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toMatch(/set TANNERIN_OPERATOR_TOKEN/);
    expect(wrongToken.code).toBe(1);
    expect(wrongToken.stderr).toMatch(/HTTP 401.*not valid.*check TANNERIN_OPERATOR_TOKEN/);
    expect(badName.code).toBe(1);
    expect(badName.stderr).toMatch(/--as must be lowercase words/);
    expect(badDir.code).toBe(1);
    expect(badDir.stderr).toMatch(/is not a folder/);
    expect(tuned.code).toBe(1);
    expect(tuned.stderr).toMatch(/HTTP 422.*fine-tuned/);
    expect(noServer.code).toBe(1);
    expect(noServer.stderr).toMatch(/cannot reach/);
    expect(badUrl.code).toBe(1);
    expect(badUrl.stderr).toMatch(/--url must be an http\(s\) URL/);
    for (const r of [noToken, wrongToken, badName, badDir, tuned, noServer, badUrl]) expectNoStack(r);
    const models = (await (await fetch(`${server.url}/v1/models`)).json()) as ModelsResponse;
    expect(models.heads.map((h) => h.id)).not.toContain('fish');
  }, 300_000);
});
