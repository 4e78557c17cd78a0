/**
 * The client address rate limits are counted against: `CF-Connecting-IP`, which Cloudflare sets
 * on every request (clients cannot forge it in production; locally, wrangler sets it too). An
 * IPv6 client is counted by its /64 network, because one subscriber is usually given a whole /64
 * and could otherwise rotate through 2^64 addresses.
 */

/** The rate-limit identity of the request's client address. */
export function clientAddress(req: Request): string {
  const raw = req.headers.get('cf-connecting-ip')?.trim() ?? '';
  if (!raw) return 'unknown';
  if (!raw.includes(':')) return raw;
  const groups = expandIPv6(raw);
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : raw;
}

/** The eight 16-bit groups of an IPv6 address (lowercase, unpadded), or null if malformed. */
function expandIPv6(address: string): string[] | null {
  const [head = '', tail, ...rest] = address.toLowerCase().split('::');
  if (rest.length) return null;
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  // An embedded IPv4 tail (::ffff:1.2.3.4) takes two groups; its /64 is all zeros anyway.
  const count = (parts: string[]) => parts.reduce((a, p) => a + (p.includes('.') ? 2 : 1), 0);
  const missing = 8 - count(left) - count(right);
  if (tail === undefined ? missing !== 0 : missing < 1) return null;
  const groups = [...left, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...right];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g) || /^\d+\.\d+\.\d+\.\d+$/.test(g))) return null;
  return groups.map((g) => (g.includes('.') ? g : g.replace(/^0+(?=.)/, '')));
}
