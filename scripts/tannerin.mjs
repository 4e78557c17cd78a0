#!/usr/bin/env node
// `npx tannerin`: the package's bin. Whatever Node runs this launcher (the machine's may be 20),
// it starts scripts/cli/main.ts under the project's own Node 22 (the `node` dev dependency at
// node_modules/.bin/node, which the rest of the project runs on), passing the arguments, the
// working directory and stdio (a TTY stays a TTY) through, and exits with its code.
// Node 22 runs main.ts by its own type stripping (main.ts is erasable TypeScript) and main.ts
// registers tsx's loader only before a command's modules load, so `--help` and bad usage do not
// wait for tsx and esbuild to start. A Node without type stripping gets tsx's loader from the start.
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
const stripsTypes = node === node22 || Boolean(process.features.typescript);
const typescript = stripsTypes ? [] : ['--import', pathToFileURL(tsxLoader).href];
const result = spawnSync(node, [...typescript, join(root, 'scripts', 'cli', 'main.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
});
if (result.error) {
  console.error(`tannerin: could not start ${node}: ${result.error.message}`);
  process.exit(1);
}
if (result.signal) process.kill(process.pid, result.signal);
process.exit(result.status ?? 1);
