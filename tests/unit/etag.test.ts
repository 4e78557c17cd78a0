/** Conditional headers parsed as RFC 9110 says: a malformed one is refused, never loosely matched. */
import { describe, expect, it } from 'vitest';
import { TannerinError } from '../../shared/errors.ts';
import { matchesStrong, matchesWeak, parseEtagCondition } from '../../worker/http/etag.ts';

const TAG = 'a'.repeat(64);

function refused(header: string): boolean {
  try {
    parseEtagCondition(header);
    return false;
  } catch (error) {
    if (error instanceof TannerinError && error.code === 'invalid_request' && /If-Match is malformed/.test(error.message)) return true;
    throw error;
  }
}

describe('parseEtagCondition', () => {
  it('reads *, single and listed tags with optional whitespace and empty elements', () => {
    expect(parseEtagCondition(null)).toBeNull();
    expect(parseEtagCondition('*')).toBe('*');
    expect(parseEtagCondition(' \t* ')).toBe('*');
    expect(parseEtagCondition(`"${TAG}"`)).toEqual([`"${TAG}"`]);
    expect(parseEtagCondition(`W/"x", "${TAG}" ,, "y,z"`)).toEqual(['W/"x"', `"${TAG}"`, '"y,z"']);
    expect(parseEtagCondition('""')).toEqual(['""']);
    expect(parseEtagCondition(' , ')).toEqual([]);
    expect(parseEtagCondition('"\u00e9"')).toEqual(['"\u00e9"']); // obs-text
  });

  it('refuses what RFC 9110 does not allow, so it cannot match by accident', () => {
    for (const bad of [`"${TAG}"x`, `junk"${TAG}"`, TAG, `"${TAG}`, `w/"${TAG}"`, `W/ "${TAG}"`, `"a b"`, `"${TAG}" "${TAG}"`, `*, "${TAG}"`, `"${TAG}", *`, '"\u0100"', '"a\\"b"']) {
      expect(refused(bad), bad).toBe(true);
    }
  });

  it('compares strongly for If-Match and weakly for If-None-Match', () => {
    const tags = parseEtagCondition(`W/"${TAG}", "other"`) as string[];
    expect(matchesStrong(tags, TAG)).toBe(false);
    expect(matchesWeak(tags, TAG)).toBe(true);
    expect(matchesStrong(parseEtagCondition(`"x", "${TAG}"`) as string[], TAG)).toBe(true);
  });
});
