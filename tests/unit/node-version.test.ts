/**
 * `npm start` checks the Node it runs on: wrangler needs >= 22.12, and the machines have Node 20.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MIN_NODE, nodeAtLeast, nodeVersionProblem } from '../../scripts/node-version.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The first `node` on PATH outside node_modules: the machine's own, which npm scripts shadow. */
function machineNode(): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir.includes('node_modules')) continue;
    const candidate = join(dir, 'node');
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

describe('the project Node check', () => {
  it('compares versions part by part', () => {
    expect(nodeAtLeast('v22.12.0')).toBe(true);
    expect(nodeAtLeast('v22.23.3')).toBe(true);
    expect(nodeAtLeast('v23.0.0')).toBe(true);
    expect(nodeAtLeast('v22.11.9')).toBe(false);
    expect(nodeAtLeast('v20.20.2')).toBe(false);
    expect(nodeAtLeast('v9.99.99', '10.0.0')).toBe(false);
    expect(nodeVersionProblem('v22.23.3', '/x/node')).toBeNull();
    const problem = nodeVersionProblem('v20.20.2', '/usr/bin/node');
    expect(problem).toContain('Node v20.20.2');
    expect(problem).toContain(`>= ${MIN_NODE}`);
    expect(problem).toContain('npm install');
  });

  it('the Node that npm scripts run is the project Node 22', () => {
    expect(nodeAtLeast(process.version), process.version).toBe(true);
    const projectNode = join(ROOT, 'node_modules', '.bin', 'node');
    expect(existsSync(projectNode), 'node_modules/.bin/node (the `node` package) is installed').toBe(true);
    const r = spawnSync(projectNode, ['--version'], { encoding: 'utf8' });
    expect(nodeAtLeast(r.stdout.trim())).toBe(true);
  });

  const machine = machineNode();
  const machineVersion = machine ? spawnSync(machine, ['--version'], { encoding: 'utf8' }).stdout.trim() : '';
  it.skipIf(!machine || nodeAtLeast(machineVersion))(`npm start under the machine's old Node (${machineVersion || 'none'}) stops with the message`, () => {
    const r = spawnSync(machine ?? 'node', [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'scripts', 'start.ts')], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`needs Node >= ${MIN_NODE}`);
    expect(r.stdout).not.toContain('D1 migrations applied');
  });
});
