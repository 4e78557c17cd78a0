/**
 * The rate limiting bindings: wrangler.toml's `[[ratelimits]]` entries and the rules the Worker
 * states in its 429 answers (worker/rate-limit/edge.ts) must agree, one binding per bucket, with a
 * period the binding accepts (10 or 60 s) and namespace ids that do not collide.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EDGE_RATE_RULES } from '../../worker/rate-limit/edge-config.ts';

interface TomlLimiter {
  name: string;
  namespaceId: string;
  limit: number;
  period: number;
}

/** The `[[ratelimits]]` tables of wrangler.toml (the simple inline form the file uses). */
function wranglerLimiters(): TomlLimiter[] {
  const toml = readFileSync(new URL('../../wrangler.toml', import.meta.url), 'utf8');
  const active = toml
    .split('\n')
    .filter((line) => !line.trim().startsWith('#'))
    .join('\n');
  return active
    .split('[[ratelimits]]')
    .slice(1)
    .map((block) => {
      const table = block.split(/^\[/m)[0] as string;
      const name = /^name\s*=\s*"([^"]+)"/m.exec(table)?.[1];
      const namespaceId = /^namespace_id\s*=\s*"(\d+)"/m.exec(table)?.[1];
      const simple = /^simple\s*=\s*\{\s*limit\s*=\s*(\d+)\s*,\s*period\s*=\s*(\d+)\s*\}/m.exec(table);
      if (!name || !namespaceId || !simple) throw new Error(`unreadable [[ratelimits]] table:\n${table}`);
      return { name, namespaceId, limit: Number(simple[1]), period: Number(simple[2]) };
    });
}

describe('rate limiting bindings', () => {
  it('wrangler.toml binds exactly the rules the Worker states, with the same limits and periods', () => {
    const limiters = wranglerLimiters();
    const rules = Object.values(EDGE_RATE_RULES);
    expect(limiters.map((l) => l.name).sort()).toEqual(rules.map((r) => r.binding).sort());
    for (const rule of rules) {
      const bound = limiters.find((l) => l.name === rule.binding);
      expect(bound, rule.binding).toMatchObject({ limit: rule.limit, period: rule.periodSeconds });
      expect([10, 60]).toContain(bound?.period);
    }
    expect(new Set(limiters.map((l) => l.namespaceId)).size).toBe(limiters.length);
  });
});
