/** The fuzzer's seeded random helpers (tests/helpers/fuzz.ts): picks, integers, bytes, ids, encodings. */
import type { Random } from '../../shared/util/random.ts';

/** One of `items`, uniformly. */
export const pick = <T>(r: Random, items: readonly T[]): T => items[Math.floor(r() * items.length)] as T;
/** An integer in [lo, hi], both included. */
export const int = (r: Random, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

/** `n` random bytes. */
export function randomBytes(r: Random, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256);
  return out;
}

/** A random lowercase UUID (v4 layout), from the seeded source. */
export function uuid(r: Random): string {
  const hex = Array.from(randomBytes(r, 16), (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Base64url without padding (the token alphabet). */
export function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The UTF-8 bytes of `s`, on their own ArrayBuffer. */
export const utf8 = (s: string): Uint8Array<ArrayBuffer> => new Uint8Array(new TextEncoder().encode(s));

/** Signs a request in with the right token (or leaves it anonymous). */
export const auth = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
