/**
 * Counting wrappers for the storage bindings: how many D1 queries and R2 operations requests make.
 * The Worker tests wrap the bindings they pass to an app of their own; with diagnostics on
 * (`TANNERIN_DIAGNOSTICS`, never in a deploy) worker/index.ts wraps them for every request and
 * `GET /_diag/storage` reports the isolate's totals, which the bench reads through `wrangler dev`.
 */
import type { StorageCounts } from '../../shared/api/types.ts';

export type { StorageCounts };

/** Fresh counts at zero. */
export const newStorageCounts = (): StorageCounts => ({ d1Queries: 0, r2Operations: 0 });

/** The isolate's totals, kept only with diagnostics on (worker/index.ts). */
export const isolateStorageCounts: StorageCounts = newStorageCounts();

/**
 * `env` with its D1 and R2 bindings counting into `counts` (the other bindings as they are).
 * Made once per `env` object: workerd passes the same one to every request of an isolate.
 */
export function countedEnv<E extends { DB: D1Database; HEADS: R2Bucket }>(env: E, counts: StorageCounts): E {
  return { ...env, DB: countedD1(env.DB, counts), HEADS: countedR2(env.HEADS, counts) };
}

const STATEMENT_RUNS = new Set<PropertyKey>(['first', 'run', 'all', 'raw']);
const R2_CALLS = new Set<PropertyKey>(['get', 'head', 'put', 'delete', 'list', 'createMultipartUpload', 'resumeMultipartUpload']);

/** A method of `target`, bound to it (bindings' methods need their own `this`). */
function method(target: object, key: PropertyKey): unknown {
  const value: unknown = Reflect.get(target, key);
  return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
}

/** The key under which a counted statement gives its own statement (for `batch`). */
const UNWRAPPED = Symbol('unwrapped statement');

/** The statement D1 made, under a counted one (or the statement itself). */
function unwrap(statement: D1PreparedStatement): D1PreparedStatement {
  return (statement as unknown as Record<symbol, D1PreparedStatement | undefined>)[UNWRAPPED] ?? statement;
}

/** A prepared statement whose executions are counted; `bind` keeps counting. */
function countedStatement(statement: D1PreparedStatement, counts: StorageCounts): D1PreparedStatement {
  return new Proxy(statement, {
    get(target, key) {
      if (key === UNWRAPPED) return target;
      const value = method(target, key);
      if (key === 'bind') return (...args: unknown[]) => countedStatement(target.bind(...args), counts);
      if (STATEMENT_RUNS.has(key) && typeof value === 'function') {
        return (...args: unknown[]) => {
          counts.d1Queries++;
          return (value as (...a: unknown[]) => unknown)(...args);
        };
      }
      return value;
    },
  });
}

/**
 * `db`, counting every statement it runs into `counts`. Statements given to `batch` are unwrapped
 * first (D1 accepts only its own statement objects) and counted one each.
 */
export function countedD1(db: D1Database, counts: StorageCounts): D1Database {
  return new Proxy(db, {
    get(target, key) {
      if (key === 'prepare') return (sql: string) => countedStatement(target.prepare(sql), counts);
      if (key === 'batch') {
        return (statements: D1PreparedStatement[]) => {
          counts.d1Queries += statements.length;
          return target.batch(statements.map(unwrap));
        };
      }
      if (key === 'exec') {
        return (sql: string) => {
          counts.d1Queries++;
          return target.exec(sql);
        };
      }
      return method(target, key);
    },
  });
}

/** `bucket`, counting every call into `counts`. */
export function countedR2(bucket: R2Bucket, counts: StorageCounts): R2Bucket {
  return new Proxy(bucket, {
    get(target, key) {
      const value = method(target, key);
      if (!R2_CALLS.has(key) || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        counts.r2Operations++;
        return (value as (...a: unknown[]) => unknown)(...args);
      };
    },
  });
}
