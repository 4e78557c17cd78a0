/**
 * What the app says when the server ended sync on this device (a 401: its account was deleted, or
 * this device was signed out elsewhere; client/lib/sync/status.ts `SyncStatus.ended`): what happened,
 * that the models here stay, and what to do. The short form is the banner (every screen, until
 * dismissed, with a link to the sync settings) and the toast; the full one is the notice in the
 * Models screen's Sync part, next to the buttons that turn sync on again.
 */
export const SYNC_ENDED_SHORT = 'Sync is off: your sync account is gone from the server. Your models on this device are untouched.';

export const SYNC_ENDED_WORDS =
  'Sync is off: the server no longer knows this device, because your sync account was deleted (from another device, or after 13 months without use) or this device was signed out. Your models on this device are untouched. To back them up again, turn on sync, or join another device of yours with a pairing code.';
