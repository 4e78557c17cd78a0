/** `npm start`'s local operator token in `.dev.vars`: written once, random, kept, other lines untouched. */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureOperatorToken } from '../../scripts/dev-vars.ts';
import { MIN_OPERATOR_TOKEN_LENGTH } from '../../shared/api/types.ts';

const dir = mkdtempSync(join(tmpdir(), 'tannerin-devvars-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ensureOperatorToken', () => {
  it('writes a random token long enough for the Worker, owner-only, and keeps it on the next start', () => {
    const path = join(dir, 'a.vars');
    const first = ensureOperatorToken(path);
    expect(first.created).toBe(true);
    expect(first.token.length).toBeGreaterThanOrEqual(MIN_OPERATOR_TOKEN_LENGTH);
    expect(statSync(path).mode & 0o077).toBe(0);
    expect(ensureOperatorToken(path)).toEqual({ token: first.token, created: false });
    expect(ensureOperatorToken(join(dir, 'b.vars')).token).not.toBe(first.token);
  });

  it('adds the token to an existing file without touching its other lines; an empty one is replaced', () => {
    const path = join(dir, 'c.vars');
    writeFileSync(path, 'FOO="bar"\nOPERATOR_TOKEN=""\nBAZ=1');
    const { token, created } = ensureOperatorToken(path);
    expect(created).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe(`FOO="bar"\nBAZ=1\nOPERATOR_TOKEN="${token}"\n`);
    writeFileSync(path, 'OPERATOR_TOKEN="mine-kept-as-is"\n');
    expect(ensureOperatorToken(path)).toEqual({ token: 'mine-kept-as-is', created: false });
  });
});
