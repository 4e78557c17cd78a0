/**
 * Builds everything the Worker serves into dist/public: the model files (byte-identical on every
 * run, ~0.2 s), the page, and the `_headers` rules for static assets.
 */
import { cpSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PUBLIC_DIR, prepareModels } from './prepare-models.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Static asset headers: model files are content-addressed, so they are cached forever. */
const HEADERS = `/models/*
  Cache-Control: public, max-age=31536000, immutable
  Access-Control-Allow-Origin: *
  Cross-Origin-Resource-Policy: cross-origin
  X-Content-Type-Options: nosniff
/models.json
  Cache-Control: no-cache
  Access-Control-Allow-Origin: *
`;

/** Builds dist/public. */
export function build(): void {
  prepareModels();
  cpSync(join(ROOT, 'client', 'public'), PUBLIC_DIR, { recursive: true });
  writeFileSync(join(PUBLIC_DIR, '_headers'), HEADERS);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  build();
  console.log(`tannerin: built ${PUBLIC_DIR}`);
}
