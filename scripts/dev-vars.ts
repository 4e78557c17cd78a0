/**
 * The local operator token for `npm start`: wrangler dev reads secrets from `.dev.vars` (gitignored),
 * so a random `OPERATOR_TOKEN` is written there once if the file has none, and kept after that.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** Returns the `OPERATOR_TOKEN` in `path` (a dotenv file), adding a random one if it has none. */
export function ensureOperatorToken(path: string): { token: string; created: boolean } {
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const match = /^OPERATOR_TOKEN\s*=\s*"?([^"\n]*)"?\s*$/m.exec(text);
  if (match && (match[1] ?? '').length > 0) return { token: match[1] as string, created: false };
  const token = `op_${randomBytes(32).toString('base64url')}`;
  const kept = text.replace(/^OPERATOR_TOKEN\s*=.*\n?/m, '');
  writeFileSync(path, `${kept}${kept === '' || kept.endsWith('\n') ? '' : '\n'}OPERATOR_TOKEN="${token}"\n`, { mode: 0o600 });
  return { token, created: true };
}
