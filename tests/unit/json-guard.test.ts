/**
 * JSON bodies are measured in one linear pass and refused over their limits before `JSON.parse`
 * runs: depth, token count and the parsed size.
 */
import { describe, expect, it } from 'vitest';
import { TannerinError } from '../../shared/errors.ts';
import { parseHeadDocument } from '../../shared/head/validate.ts';
import { estimateParsedBytes, measureJson, parseBoundedJson, parseBoundedJsonShape, type JsonLimits } from '../../shared/util/json-guard.ts';
import { HEAD_JSON_LIMITS, SMALL_JSON_LIMITS } from '../../shared/limits.ts';

const LIMITS: JsonLimits = { maxDepth: 4, maxTokens: 10, maxParsedBytes: 1_000 };

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof TannerinError) return `${error.code} ${error.message}`;
    throw error;
  }
  return 'ok';
}

describe('measureJson', () => {
  it('counts depth, structural tokens and string characters, ignoring brackets and commas inside strings', () => {
    expect(measureJson('{"a":[1,2,{"b":null}],"c":"x,[]{}:\\"y"}')).toEqual({ depth: 3, tokens: 9, stringChars: 3 + 10 });
    expect(measureJson('42')).toEqual({ depth: 0, tokens: 0, stringChars: 0 });
    expect(measureJson('"\\\\"')).toEqual({ depth: 0, tokens: 0, stringChars: 2 });
    expect(measureJson('[[[[[[]]]]]]').depth).toBe(6);
  });

  it('estimates the parsed size from tokens and string characters', () => {
    expect(estimateParsedBytes({ depth: 1, tokens: 10, stringChars: 100 })).toBe(10 * 64 + 200);
  });

  it('stops early on a limit, so a huge text costs no more than the limit', () => {
    const deep = '['.repeat(1_000_000);
    expect(measureJson(deep, LIMITS).depth).toBe(LIMITS.maxDepth + 1);
    const wide = `[${'{},'.repeat(1_000_000)}{}]`;
    expect(measureJson(wide, LIMITS).tokens).toBe(LIMITS.maxTokens + 1);
  });
});

describe('parseBoundedJson', () => {
  it('parses what is within the limits', () => {
    expect(parseBoundedJson('{"a":[1,{"b":2}]}', LIMITS, 'json_too_complex', 'The body')).toEqual({ a: [1, { b: 2 }] });
    // The shape it measured on the way, for callers that size the value (one pass, not two).
    expect(parseBoundedJsonShape('{"a":[1,{"b":2}]}', LIMITS, 'json_too_complex', 'The body').shape).toEqual(measureJson('{"a":[1,{"b":2}]}'));
  });

  it('refuses depth, tokens and parsed size over the limits with json_too_complex (413), naming the limit', () => {
    expect(codeOf(() => parseBoundedJson('[[[[[1]]]]]', LIMITS, 'json_too_complex', 'The body'))).toMatch(/^json_too_complex The body is nested more than 4 levels/);
    expect(codeOf(() => parseBoundedJson('[[[[1]]]]', LIMITS, 'json_too_complex', 'The body'))).toBe('ok');
    expect(codeOf(() => parseBoundedJson(`[${'1,'.repeat(10)}1]`, LIMITS, 'json_too_complex', 'The body'))).toMatch(/more than 10 values/);
    expect(codeOf(() => parseBoundedJson(`["${'x'.repeat(600)}"]`, LIMITS, 'json_too_complex', 'The body'))).toMatch(/about 0\.0 MiB once parsed/);
    const error = (() => {
      try {
        parseBoundedJson('[[[[[1]]]]]', LIMITS, 'json_too_complex', 'The body');
      } catch (e) {
        return e as TannerinError;
      }
      return null;
    })();
    expect(error?.status).toBe(413);
  });

  it('refuses text that is not JSON with the caller\'s error', () => {
    expect(codeOf(() => parseBoundedJson('{"a":', LIMITS, 'json_too_complex', 'The body'))).toMatch(/^json_too_complex The body is not JSON/);
    expect(codeOf(() => parseBoundedJson('{"a":', LIMITS, 'json_too_complex', 'The body', () => new TannerinError('invalid_request', 'bad')))).toBe('invalid_request bad');
  });
});

describe('the head and small-body limits', () => {
  const bytes = (text: string) => new TextEncoder().encode(text);

  it('refuses 8 MiB of [{},{},...] and a document nested 200,000 deep before parsing', () => {
    const wide = `[${'{},'.repeat((8 * 1024 * 1024) / 3 - 1)}{}]`;
    expect(codeOf(() => parseHeadDocument(bytes(wide)))).toMatch(/^json_too_complex The head document has more than 300000 values/);
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    expect(codeOf(() => parseHeadDocument(bytes(deep)))).toMatch(/^json_too_complex The head document is nested more than 32 levels/);
  });

  it('still says "not JSON" for broken heads, and the limits leave room for a real topology', () => {
    expect(codeOf(() => parseHeadDocument(bytes('{"format":')))).toMatch(/^invalid_head Invalid head document: the body is not JSON/);
    // The whole backbone's topology is 13,060 tokens at depth 10 (shared/limits.ts).
    expect(HEAD_JSON_LIMITS.maxTokens).toBeGreaterThan(13_060 * 10);
    expect(HEAD_JSON_LIMITS.maxDepth).toBeGreaterThan(10 * 2);
    expect(SMALL_JSON_LIMITS.maxDepth).toBeLessThan(HEAD_JSON_LIMITS.maxDepth);
  });
});
