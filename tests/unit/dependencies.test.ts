/**
 * Install reproducibility: a clean clone must `npm ci` on any day. A dist-tag (`latest`) or a
 * partial version (`22`) in package.json stops matching the committed lockfile the day a new version
 * is published, and `npm ci` then refuses to install anything.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface PackageJson {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}
interface PackageLock {
  lockfileVersion: number;
  packages: Record<string, { version?: string } & PackageJson>;
}

/** An exact version, or a caret or tilde range over a full version (`^22.19.0`, never `22` or `latest`). */
const PINNED = /^[~^]?(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

/** Whether `version` satisfies a spec accepted by {@link PINNED} (npm's semantics for `^` and `~`). */
function satisfiesPinned(spec: string, version: string): boolean {
  const s = PINNED.exec(spec);
  const v = /^(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?/.exec(version);
  if (!s || !v) return false;
  const [sMaj, sMin, sPat] = [Number(s[1]), Number(s[2]), Number(s[3])];
  const [vMaj, vMin, vPat] = [Number(v[1]), Number(v[2]), Number(v[3])];
  const cmp = vMaj - sMaj || vMin - sMin || vPat - sPat;
  const op = spec[0];
  if (op !== '^' && op !== '~') return spec === version;
  if (cmp < 0) return false;
  if (op === '~') return vMaj === sMaj && vMin === sMin;
  // Caret: the left-most non-zero part stays.
  if (sMaj !== 0) return vMaj === sMaj;
  if (sMin !== 0) return vMaj === 0 && vMin === sMin;
  return vMaj === 0 && vMin === 0 && vPat === sPat;
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as PackageLock;
const sections = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'] as const;
const declared = sections.flatMap((section) => Object.entries(pkg[section] ?? {}).map(([name, spec]) => ({ section, name, spec })));

describe('dependencies', () => {
  it('the pinning rule itself tells pinned specs from floating ones', () => {
    for (const spec of ['1.2.3', '^22.19.0', '~0.8.3', '1.0.0-rc.1']) expect(PINNED.test(spec), spec).toBe(true);
    for (const spec of ['latest', 'next', '*', 'x', '22', '^22', '22.x', '>=1.0.0', '1.2.x', '']) expect(PINNED.test(spec), spec).toBe(false);
    expect(satisfiesPinned('^10.15.0', '10.16.0')).toBe(true);
    expect(satisfiesPinned('10.16.0', '10.15.0')).toBe(false);
    expect(satisfiesPinned('^10.16.0', '10.15.0')).toBe(false);
    expect(satisfiesPinned('^0.8.3', '0.9.0')).toBe(false);
    expect(satisfiesPinned('~1.2.3', '1.3.0')).toBe(false);
  });

  it('names every dependency by an exact version or a caret/tilde range over a full version', () => {
    expect(declared.length).toBeGreaterThan(10);
    const floating = declared.filter(({ spec }) => !PINNED.test(spec)).map(({ name, spec }) => `${name}@${spec}`);
    expect(floating, 'pin these (no dist-tags, no partial versions)').toEqual([]);
  });

  it('the committed lockfile records the same specs and installs versions that satisfy them', () => {
    const root = lock.packages[''];
    expect(root).toBeDefined();
    for (const { section, name, spec } of declared) {
      expect(root?.[section]?.[name], `package-lock.json's ${section}.${name}: run npm install and commit package-lock.json`).toBe(spec);
      const locked = lock.packages[`node_modules/${name}`]?.version;
      expect(locked, `${name} missing from package-lock.json`).toBeDefined();
      expect(satisfiesPinned(spec, locked ?? ''), `${name}: lockfile has ${locked}, package.json asks ${spec}`).toBe(true);
    }
  });
});
