/**
 * `npm start`: builds dist/public, applies the D1 migrations to the local database, and runs
 * `wrangler dev` on 127.0.0.1:8787 with local bindings (D1, R2 and the rest persisted under
 * .wrangler/state) and diagnostics on. PORT overrides the port. The app is served from dist/public
 * with the same `_headers` a deploy applies (cross-origin isolation, the Content-Security-Policy). The operator API's secret comes
 * from `.dev.vars` (gitignored), where a random OPERATOR_TOKEN is written on first start.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from './build.ts';
import { applyLocalMigrations } from './local-d1.ts';
import { ensureOperatorToken } from './dev-vars.ts';
import { requireProjectNode } from './node-version.ts';

requireProjectNode();

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Where wrangler keeps local D1 and R2 data; the migrations must go to the same place. */
const PERSIST_TO = join(ROOT, '.wrangler', 'state');
build();
applyLocalMigrations(PERSIST_TO);
console.log('tannerin: D1 migrations applied to .wrangler/state');
const port = process.env.PORT ?? '8787';
const operator = ensureOperatorToken(join(ROOT, '.dev.vars'));
console.log(
  `tannerin: operator token ${operator.created ? 'written to' : 'read from'} .dev.vars; to publish a head:\n` +
    `  TANNERIN_OPERATOR_TOKEN=$(sed -n 's/^OPERATOR_TOKEN="\\(.*\\)"$/\\1/p' .dev.vars) npx tannerin publish --head HEAD_DIR --as NAME --url http://127.0.0.1:${port}`,
);
const child = spawn(
  process.execPath,
  [join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js'), 'dev', '--ip', '127.0.0.1', '--port', port, '--var', 'TANNERIN_DIAGNOSTICS:1', '--persist-to', PERSIST_TO, ...process.argv.slice(2)],
  { stdio: 'inherit', cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' } },
);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
child.on('exit', (code) => process.exit(code ?? 0));
