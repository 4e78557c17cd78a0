/**
 * Applies the D1 migrations (read from migrations/ in vitest.config.ts) before each test file.
 * Setup files may run more than once; `applyD1Migrations` skips migrations already applied.
 */
import { applyD1Migrations, env } from 'cloudflare:test';
import { testEnv } from './helpers.ts';

await applyD1Migrations(testEnv(env).DB, testEnv(env).TEST_MIGRATIONS);
