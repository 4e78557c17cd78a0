/**
 * Accounts and their tokens in D1. An account has one token per signed-in device (made at account
 * creation or by redeeming a pairing code); each can be rotated or revoked on its own, and the
 * account's last token cannot be revoked (that would lock the account's heads away for good;
 * delete the account instead).
 */
import { TannerinError } from '../../shared/errors.ts';
import { newToken } from '../http/credentials.ts';
import type { Caller } from '../env.ts';

/** A token as issued: the secret is in `token`, shown once. */
export interface IssuedToken {
  accountId: string;
  tokenId: string;
  token: string;
}

/** A token as listed: never the secret. */
export interface TokenRow {
  id: string;
  label: string | null;
  created_at: number;
  last_used_at: number | null;
}

/** Creates an account and its first token, in one transaction. */
export async function createAccount(db: D1Database, label: string | null, now: number): Promise<IssuedToken> {
  const accountId = crypto.randomUUID();
  const tokenId = crypto.randomUUID();
  const { token, hash } = await newToken();
  await db.batch([
    db.prepare('INSERT INTO accounts (id, created_at) VALUES (?1, ?2)').bind(accountId, now),
    db.prepare('INSERT INTO tokens (id, hash, account_id, label, created_at) VALUES (?1, ?2, ?3, ?4, ?5)').bind(tokenId, hash, accountId, label, now),
  ]);
  return { accountId, tokenId, token };
}

/** The account's creation time and head count. */
export async function accountInfo(db: D1Database, accountId: string): Promise<{ created_at: number; heads: number } | null> {
  return db
    .prepare('SELECT created_at, (SELECT COUNT(*) FROM heads WHERE account_id = ?1) AS heads FROM accounts WHERE id = ?1')
    .bind(accountId)
    .first<{ created_at: number; heads: number }>();
}

/**
 * Replaces the caller's token with a new one (same label) in one transaction: the old token stops
 * working the moment the new one exists.
 */
export async function rotateToken(db: D1Database, caller: Caller, now: number): Promise<IssuedToken> {
  const tokenId = crypto.randomUUID();
  const { token, hash } = await newToken();
  const [inserted] = await db.batch([
    db
      .prepare('INSERT INTO tokens (id, hash, account_id, label, created_at) SELECT ?1, ?2, account_id, label, ?3 FROM tokens WHERE id = ?4')
      .bind(tokenId, hash, now, caller.tokenId),
    db.prepare('DELETE FROM tokens WHERE id = ?1').bind(caller.tokenId),
  ]);
  // Revoked by another request between authentication and now.
  if (inserted?.meta.changes !== 1) throw new TannerinError('unauthorized', 'The token was revoked while it was being rotated.');
  return { accountId: caller.accountId, tokenId, token };
}

/** The account's tokens, oldest first. */
export async function listTokens(db: D1Database, accountId: string): Promise<TokenRow[]> {
  const { results } = await db
    .prepare('SELECT id, label, created_at, last_used_at FROM tokens WHERE account_id = ?1 ORDER BY created_at, id')
    .bind(accountId)
    .all<TokenRow>();
  return results;
}

/**
 * Revokes one of the account's tokens. The count check is in the same statement, so two devices
 * revoking each other at once cannot leave the account with none.
 */
export async function revokeToken(db: D1Database, accountId: string, tokenId: string): Promise<void> {
  const { meta } = await db
    .prepare('DELETE FROM tokens WHERE id = ?1 AND account_id = ?2 AND (SELECT COUNT(*) FROM tokens WHERE account_id = ?2) > 1')
    .bind(tokenId, accountId)
    .run();
  if (meta.changes === 1) return;
  const exists = await db.prepare('SELECT 1 FROM tokens WHERE id = ?1 AND account_id = ?2').bind(tokenId, accountId).first();
  if (!exists) throw new TannerinError('not_found', `The account has no token ${tokenId}.`);
  throw new TannerinError(
    'conflict',
    'This is the account’s last token; revoking it would lock the account for good. Pair another device first, or delete the account (DELETE /v1/accounts/me).',
  );
}

/** The R2 prefix of an account's head documents. */
export const headPrefix = (accountId: string): string => `heads/${accountId}/`;

