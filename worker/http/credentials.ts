/**
 * Secrets the API hands out: bearer tokens and pairing codes. Only their SHA-256 digests are
 * stored. Tokens carry 256 random bits, so an unsalted digest is as strong as the token, and the
 * digest itself is the lookup key: a timing difference in the database lookup can reveal at most
 * a prefix of a digest, which does not help anyone find a token. Pairing codes are short enough to
 * type, so they are split into a lookup half and a secret half: the row is found by the lookup
 * half and the digest of the whole code is compared in constant time, which lets attempts be
 * counted per code.
 */
import { sha256Hex } from '../../shared/util/hash.ts';

/** Every token starts with this, so leaked tokens are recognisable (secret scanners, logs). */
export const TOKEN_PREFIX = 'tnr_';
/** `tnr_` + 32 random bytes in base64url (43 characters). */
const TOKEN_PATTERN = /^tnr_[A-Za-z0-9_-]{43}$/;

/** Crockford's base32: no I, L, O or U, so codes survive being read aloud and retyped. */
const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** Characters in a pairing code; the first `CODE_LOOKUP_LENGTH` find its row. */
export const CODE_LENGTH = 8;
const CODE_LOOKUP_LENGTH = 4;

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A new bearer token and the digest to store. */
export async function newToken(): Promise<{ token: string; hash: string }> {
  const token = TOKEN_PREFIX + base64url(crypto.getRandomValues(new Uint8Array(32)));
  return { token, hash: await sha256Hex(token) };
}

/** The digest a presented token is looked up by, or null if it cannot be a token at all. */
export async function tokenHash(token: string): Promise<string | null> {
  return TOKEN_PATTERN.test(token) ? sha256Hex(token) : null;
}

/** A new pairing code as shown to the user (`K7QM-2XPD`), with its lookup half and digest. */
export async function newPairingCode(): Promise<{ code: string; lookup: string; hash: string }> {
  // 256 is a multiple of 32, so `byte & 31` picks every character with equal probability.
  const chars = Array.from(crypto.getRandomValues(new Uint8Array(CODE_LENGTH)), (b) => CODE_ALPHABET[b & 31] as string).join('');
  return {
    code: `${chars.slice(0, CODE_LOOKUP_LENGTH)}-${chars.slice(CODE_LOOKUP_LENGTH)}`,
    lookup: chars.slice(0, CODE_LOOKUP_LENGTH),
    hash: await sha256Hex(chars),
  };
}

/**
 * Reads a code as a person typed it: any case, spaces and hyphens ignored, O read as 0 and I/L as
 * 1 (Crockford's rules). Null if it cannot be a code.
 */
export async function parsePairingCode(input: string): Promise<{ lookup: string; hash: string } | null> {
  const chars = input.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (chars.length !== CODE_LENGTH || [...chars].some((c) => !CODE_ALPHABET.includes(c))) return null;
  return { lookup: chars.slice(0, CODE_LOOKUP_LENGTH), hash: await sha256Hex(chars) };
}

/** Compares two hex digests in constant time (equal lengths assumed; unequal lengths never match). */
export function digestsEqual(a: string, b: string): boolean {
  const enc = new TextEncoder();
  const x = enc.encode(a);
  const y = enc.encode(b);
  return x.byteLength === y.byteLength && crypto.subtle.timingSafeEqual(x, y);
}
