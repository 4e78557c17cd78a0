/**
 * Entity tags of stored heads and the conditional headers that carry them. A head's ETag is the
 * hex SHA-256 of its stored bytes, quoted: `"9f86d0..."`, so a client can compute it from the
 * document it uploaded.
 */

import { TannerinError } from '../../shared/errors.ts';

/** The header form of a digest. */
export const quoteEtag = (hex: string): string => `"${hex}"`;

/** `*`, or the entity tags listed in an `If-Match` / `If-None-Match` header; null if absent. */
export type EtagCondition = '*' | string[];

/** etagc (RFC 9110 §8.8.3): %x21 / %x23-7E / obs-text (%x80-FF, a Latin-1 character in a header string). */
const isEtagc = (code: number): boolean => code === 0x21 || (code >= 0x23 && code <= 0x7e) || (code >= 0x80 && code <= 0xff);
const isOws = (code: number): boolean => code === 0x20 || code === 0x09;

/**
 * Parses a conditional header as RFC 9110 §13.1.1-2 says: `*`, or a comma-separated list of
 * entity tags (`"..."` or `W/"..."`, with optional whitespace and empty elements between them).
 * Anything else, such as `"<etag>"x`, `junk"<etag>"`, an unquoted tag or `*` inside a list, is
 * refused as a 400 `invalid_request` naming the header, so a malformed condition never matches.
 */
export function parseEtagCondition(header: string | null, name = 'If-Match'): EtagCondition | null {
  if (header === null) return null;
  const malformed = () =>
    new TannerinError('invalid_request', `${name} is malformed: send * or entity tags in double quotes, e.g. ${name}: "9f86d08...", separated by commas.`);
  let i = 0;
  const n = header.length;
  const skipOws = () => {
    while (i < n && isOws(header.charCodeAt(i))) i++;
  };
  skipOws();
  if (header.slice(i).replace(/[ \t]+$/, '') === '*') return '*';
  const tags: string[] = [];
  for (;;) {
    skipOws();
    if (i >= n) break;
    if (header[i] === ',') {
      i++; // an empty list element
      continue;
    }
    const start = i;
    if (header.startsWith('W/', i)) i += 2;
    if (header[i] !== '"') throw malformed();
    i++;
    while (i < n && isEtagc(header.charCodeAt(i))) i++;
    if (header[i] !== '"') throw malformed();
    i++;
    tags.push(header.slice(start, i));
    skipOws();
    if (i < n && header[i] !== ',') throw malformed();
    i++;
  }
  return tags;
}

/**
 * Strong comparison (If-Match): only an unweakened tag equal to the head's matches. `*` is left to
 * the caller, which refuses it for writes.
 */
export function matchesStrong(condition: string[], hex: string): boolean {
  return condition.includes(quoteEtag(hex));
}

/** Weak comparison (If-None-Match): `W/` prefixes are ignored. */
export function matchesWeak(condition: EtagCondition, hex: string): boolean {
  return condition === '*' || condition.some((tag) => tag.replace(/^W\//, '') === quoteEtag(hex));
}
