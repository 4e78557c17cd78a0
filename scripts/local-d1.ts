/**
 * Applies the D1 migrations (migrations/) to a local persistence directory, the one `wrangler dev`
 * is then started with, so `npm start`, the bench and the browser tests serve an up-to-date
 * schema. Idempotent: wrangler applies only migrations not yet recorded in the database.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Runs `wrangler d1 migrations apply DB --local --persist-to <persistTo>`; throws if it fails. */
export function applyLocalMigrations(persistTo: string): void {
  const result = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js'), 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persistTo],
    // No stdin: wrangler then takes its non-interactive default ("yes") instead of prompting.
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', CI: '1' } },
  );
  if (result.status !== 0) {
    throw new Error(`D1 migrations failed (exit ${String(result.status)}):\n${result.stdout}\n${result.stderr}`);
  }
}
