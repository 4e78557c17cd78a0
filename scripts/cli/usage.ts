/**
 * Bad command-line usage, one way for the CLI (scripts/cli/main.ts) and the evaluation
 * (scripts/eval/main.ts): the message, then the usage, on stderr, and exit code 2. Node built-ins
 * only and erasable TypeScript, like main.ts, which loads it before anything heavy.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Bad usage: `message`, then `usage` (a command's own, when known). */
export class UsageError extends Error {
  readonly usage: string;

  constructor(message: string, usage: string) {
    super(message);
    this.usage = usage;
  }
}

/** node:util `parseArgs`, its errors (an unknown option, a missing value) as {@link UsageError}s with `usage`. */
export function parseArgsOrUsage<T extends ParseArgsConfig>(config: T, usage: string): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    throw new UsageError((error as Error).message, usage);
  }
}

/** Writes `<program>: <message>`, a blank line and the usage to stderr; returns the exit code, 2. */
export function reportUsageError(program: string, error: UsageError): number {
  process.stderr.write(`${program}: ${error.message}\n\n${error.usage}\n`);
  return 2;
}
