/**
 * Pairing codes in D1: a signed-in device asks for a code, the new device types it and gets its
 * own token for the same account. A code expires after `PAIRING.ttlMs`, works once, and is burnt
 * after `PAIRING.maxAttempts` tries (each redemption whose lookup half finds it counts, counted in
 * one atomic update before the rest is compared, so concurrent guesses cannot exceed it). A burnt,
 * expired, used or unknown code all get the same answer. Every redemption also counts against the
 * client address's rate limits (worker/rate-limit/edge.ts, worker/rate-limit/d1.ts).
 */
import { TannerinError } from '../../shared/errors.ts';
import { digestsEqual, newPairingCode, newToken, parsePairingCode } from '../http/credentials.ts';
import type { IssuedToken } from './accounts.ts';

export const PAIRING = {
  /** Minutes, not hours: the code is typed right after it is shown. */
  ttlMs: 10 * 60_000,
  /** Tries a code allows (the right one included; the code is gone once it works). */
  maxAttempts: 5,
} as const;

const invalidCode = () =>
  new TannerinError('invalid_pairing_code', 'The pairing code is wrong, expired or already used. Ask the signed-in device for a new one.');

/**
 * A new code for the account. It replaces the account's earlier codes (one live code per
 * account), and expired codes of every account are swept in the same transaction.
 */
export async function createPairingCode(db: D1Database, accountId: string, now: number): Promise<{ code: string; expiresAt: number }> {
  // The lookup half is only 20 bits; on the rare clash with another live code, draw again.
  for (let attempt = 0; ; attempt++) {
    const { code, lookup, hash } = await newPairingCode();
    try {
      await db.batch([
        db.prepare('DELETE FROM pairing_codes WHERE account_id = ?1 OR expires_at <= ?2').bind(accountId, now),
        db
          .prepare('INSERT INTO pairing_codes (lookup, hash, account_id, attempts, created_at, expires_at) VALUES (?1, ?2, ?3, 0, ?4, ?5)')
          .bind(lookup, hash, accountId, now, now + PAIRING.ttlMs),
      ]);
      return { code, expiresAt: now + PAIRING.ttlMs };
    } catch (err) {
      if (attempt >= 4 || !String(err).includes('UNIQUE')) throw err;
    }
  }
}

/**
 * Redeems a code for a new token (with `label`) on the code's account. The try is counted first,
 * by one `UPDATE ... WHERE attempts < max ... RETURNING` (atomic: of concurrent guesses at most
 * `maxAttempts` get past it), and only then is the code compared. The token is created and the
 * code deleted in one transaction whose insert re-checks the code, so of two concurrent
 * redemptions exactly one gets a token.
 */
export async function redeemPairingCode(db: D1Database, input: string, label: string | null, now: number): Promise<IssuedToken> {
  const parsed = await parsePairingCode(input);
  if (!parsed) throw invalidCode();
  const row = await db
    .prepare(
      `UPDATE pairing_codes SET attempts = attempts + 1
       WHERE lookup = ?1 AND expires_at > ?2 AND attempts < ?3
       RETURNING hash, account_id`,
    )
    .bind(parsed.lookup, now, PAIRING.maxAttempts)
    .first<{ hash: string; account_id: string }>();
  // Unknown, expired, burnt (no tries left) or wrong: one answer, so a guesser learns nothing.
  if (!row || !digestsEqual(row.hash, parsed.hash)) throw invalidCode();
  const tokenId = crypto.randomUUID();
  const { token, hash } = await newToken();
  const [inserted] = await db.batch([
    db
      .prepare(
        `INSERT INTO tokens (id, hash, account_id, label, created_at)
         SELECT ?1, ?2, account_id, ?3, ?4 FROM pairing_codes
         WHERE lookup = ?5 AND hash = ?6 AND expires_at > ?4 AND attempts <= ?7`,
      )
      .bind(tokenId, hash, label, now, parsed.lookup, parsed.hash, PAIRING.maxAttempts),
    db.prepare('DELETE FROM pairing_codes WHERE lookup = ?1 AND hash = ?2').bind(parsed.lookup, parsed.hash),
  ]);
  if (inserted?.meta.changes !== 1) throw invalidCode();
  return { accountId: row.account_id, tokenId, token };
}
