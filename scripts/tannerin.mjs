#!/usr/bin/env node
// `npx tannerin`: the package's bin. Whatever Node runs this launcher (the machine's may be 20),
// it starts scripts/cli/main.ts under the project's own Node 22 (the `node` dev dependency at
// node_modules/.bin/node, which the rest of the project runs on) with tsx's loader, passing the
// arguments, the working directory and stdio (a TTY stays a TTY) through, and exits with its code.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const node22 = join(root, 'node_modules', '.bin', 'node');
const tsxLoader = join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs');
if (!existsSync(tsxLoader)) {
  console.error('tannerin: tsx is not installed; run `npm install` in the checkout first.');
  process.exit(1);
}
const node = existsSync(node22) ? node22 : process.execPath;
const result = spawnSync(node, ['--import', pathToFileURL(tsxLoader).href, join(root, 'scripts', 'cli', 'main.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
});
if (result.error) {
  console.error(`tannerin: could not start ${node}: ${result.error.message}`);
  process.exit(1);
}
if (result.signal) process.kill(process.pid, result.signal);
process.exit(result.status ?? 1);
