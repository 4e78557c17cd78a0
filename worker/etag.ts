/**
 * Entity tags of stored heads and the conditional headers that carry them. A head's ETag is the
 * hex SHA-256 of its stored bytes, quoted: `"9f86d0..."`, so a client can compute it from the
 * document it uploaded.
 */

/** The header form of a digest. */
export const quoteEtag = (hex: string): string => `"${hex}"`;

/** `*`, or the entity tags listed in an `If-Match` / `If-None-Match` header; null if absent. */
export type EtagCondition = '*' | string[];

/** Parses a conditional header (a comma-separated list of entity tags, or `*`). */
export function parseEtagCondition(header: string | null): EtagCondition | null {
  if (header === null) return null;
  const value = header.trim();
  if (value === '*') return '*';
  return value.match(/(W\/)?"[^"]*"/g) ?? [];
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
