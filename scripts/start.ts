/**
 * `npm start`: builds dist/public and runs `wrangler dev` on 127.0.0.1:8787 with local bindings
 * and diagnostics on. PORT overrides the port.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from './build.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
build();
const port = process.env.PORT ?? '8787';
const child = spawn(
  process.execPath,
  [join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js'), 'dev', '--ip', '127.0.0.1', '--port', port, '--var', 'TANNERIN_DIAGNOSTICS:1', '--persist-to', join(ROOT, '.wrangler', 'state'), ...process.argv.slice(2)],
  { stdio: 'inherit', cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
child.on('exit', (code) => process.exit(code ?? 0));
