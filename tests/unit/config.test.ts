/**
 * Deployment configuration guards: diagnostics never ship on, and `npm start` and the Worker
 * tests run the same wrangler (hence the same workerd).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** A package.json by path from the root, or a dependency's by name (read from node_modules: exports maps may hide it). */
const readJson = (path: string) =>
  JSON.parse(readFileSync(path.startsWith('../') ? join(ROOT, 'package.json') : join(ROOT, 'node_modules', path), 'utf8')) as Record<string, unknown>;

describe('deploy configuration', () => {
  it('wrangler.toml does not switch diagnostics on', () => {
    const toml = readFileSync(new URL('../../wrangler.toml', import.meta.url), 'utf8');
    const active = toml.split('\n').filter((line) => !line.trim().startsWith('#'));
    expect(active.join('\n')).not.toMatch(/TANNERIN_DIAGNOSTICS/);
  });

  it('npm start and the Worker tests use one wrangler version', () => {
    const root = readJson('../../package.json') as { devDependencies: Record<string, string> };
    const plugin = readJson('@cloudflare/vitest-plugin/package.json') as { dependencies: Record<string, string> };
    const installed = readJson('wrangler/package.json') as { version: string };
    expect(root.devDependencies.wrangler).toBe(plugin.dependencies.wrangler);
    expect(installed.version).toBe(plugin.dependencies.wrangler);
  });

  it('pins every TF.js package to 4.22.0 (the Worker backend touches package internals)', () => {
    const root = readJson('../../package.json') as { dependencies: Record<string, string> };
    const tfjs = Object.entries(root.dependencies).filter(([name]) => name.startsWith('@tensorflow/'));
    expect(tfjs.length).toBeGreaterThanOrEqual(4);
    for (const [name, version] of tfjs) {
      expect(version, name).toBe('4.22.0');
      expect((readJson(`${name}/package.json`) as { version: string }).version, name).toBe('4.22.0');
    }
  });
});
