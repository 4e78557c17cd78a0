// Install step: prepares the model files from the nsfwjs package (see scripts/prepare-models.ts).
// Runs under whatever Node npm uses; the TypeScript runs under the project's own Node 22 via tsx.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
if (!existsSync(bin('tsx'))) {
  // A production install without dev dependencies: nothing to prepare here.
  console.log('tannerin: tsx not installed, skipping model preparation');
  process.exit(0);
}
const node = existsSync(bin('node')) ? bin('node') : process.execPath;
const r = spawnSync(node, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'scripts', 'build.ts')], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
