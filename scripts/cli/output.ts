/**
 * Where a CLI command's results go, in a module of its own so that the commands and the
 * dispatcher (scripts/cli/main.ts) share it without importing each other.
 */

/**
 * Where a command's results go. Human-readable lines go to stdout, or to stderr with `--json`, so
 * that stdout's last line is then exactly one JSON object.
 */
export class Output {
  readonly json: boolean;
  readonly quiet: boolean;

  constructor(json: boolean, quiet: boolean) {
    this.json = json;
    this.quiet = quiet;
  }

  info(line = ''): void {
    if (this.json) {
      if (!this.quiet) process.stderr.write(`${line}\n`);
    } else process.stdout.write(`${line}\n`);
  }

  warn(line: string): void {
    process.stderr.write(`tannerin: warning: ${line}\n`);
  }

  result(value: unknown): void {
    if (this.json) process.stdout.write(`${JSON.stringify(value)}\n`);
  }
}
