/**
 * Storage quotas and lifecycle periods, each configurable with a variable (wrangler.toml `[vars]`,
 * `.dev.vars`, or the test configuration) and a documented default (README "Heads", "Operator
 * API", "Accounts and tokens"). Values may be numbers or their text; anything else is a
 * configuration error, thrown rather than guessed around.
 */
import { HEAD_LIMITS } from '../../shared/limits.ts';
import type { Env } from '../env.ts';

/** Heads one account may hold (`MAX_HEADS_PER_ACCOUNT`). */
export const DEFAULT_MAX_HEADS = 100;
/** Bytes of stored head documents one account may hold (`MAX_ACCOUNT_BYTES`): 64 MiB. */
export const DEFAULT_MAX_ACCOUNT_BYTES = 64 * 1024 * 1024;
/** Heads the operator may publish (`MAX_PUBLISHED_HEADS`). */
export const DEFAULT_MAX_PUBLISHED_HEADS = 20;
/** Largest published head document, in bytes (`MAX_PUBLISHED_HEAD_BYTES`): any head document's limit, 8 MiB. */
export const DEFAULT_MAX_PUBLISHED_HEAD_BYTES = HEAD_LIMITS.maxDocumentBytes;
/** Months without any use of any of its tokens after which an account is removed (`IDLE_ACCOUNT_MONTHS`). */
export const DEFAULT_IDLE_ACCOUNT_MONTHS = 13;
/**
 * Age an R2 object under `heads/` or `published/` must reach before the sweep may delete it as
 * unreferenced (`ORPHAN_GRACE_SECONDS`): a write puts its object before the D1 row that points at
 * it, so a younger object may belong to a write still under way. One day.
 */
export const DEFAULT_ORPHAN_GRACE_SECONDS = 86_400;

/** The quota and lifecycle variables of {@link Env}. */
export type QuotaVars = Pick<
  Env,
  'MAX_HEADS_PER_ACCOUNT' | 'MAX_ACCOUNT_BYTES' | 'MAX_PUBLISHED_HEADS' | 'MAX_PUBLISHED_HEAD_BYTES' | 'IDLE_ACCOUNT_MONTHS' | 'ORPHAN_GRACE_SECONDS'
>;

/** The configured quotas and periods. */
export interface Quotas {
  maxHeadsPerAccount: number;
  maxAccountBytes: number;
  maxPublishedHeads: number;
  maxPublishedHeadBytes: number;
  idleAccountMonths: number;
  orphanGraceMs: number;
}

/** A whole number >= `min` from a variable, or `fallback` when it is unset. */
function wholeNumber(name: keyof QuotaVars, value: unknown, fallback: number, min: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name} must be a whole number >= ${min}; got ${JSON.stringify(value)}`);
  return n;
}

/** The quotas and periods `env` configures, defaults filled in. */
export function quotas(env: QuotaVars): Quotas {
  return {
    maxHeadsPerAccount: wholeNumber('MAX_HEADS_PER_ACCOUNT', env.MAX_HEADS_PER_ACCOUNT, DEFAULT_MAX_HEADS, 0),
    maxAccountBytes: wholeNumber('MAX_ACCOUNT_BYTES', env.MAX_ACCOUNT_BYTES, DEFAULT_MAX_ACCOUNT_BYTES, 0),
    maxPublishedHeads: wholeNumber('MAX_PUBLISHED_HEADS', env.MAX_PUBLISHED_HEADS, DEFAULT_MAX_PUBLISHED_HEADS, 0),
    maxPublishedHeadBytes: wholeNumber('MAX_PUBLISHED_HEAD_BYTES', env.MAX_PUBLISHED_HEAD_BYTES, DEFAULT_MAX_PUBLISHED_HEAD_BYTES, 1),
    idleAccountMonths: wholeNumber('IDLE_ACCOUNT_MONTHS', env.IDLE_ACCOUNT_MONTHS, DEFAULT_IDLE_ACCOUNT_MONTHS, 1),
    orphanGraceMs: wholeNumber('ORPHAN_GRACE_SECONDS', env.ORPHAN_GRACE_SECONDS, DEFAULT_ORPHAN_GRACE_SECONDS, 0) * 1000,
  };
}

/** `n` bytes for a message: exact, with MiB alongside. */
export function formatBytes(n: number): string {
  return `${n.toLocaleString('en-US')} bytes (${(n / 1048576).toFixed(1)} MiB)`;
}
