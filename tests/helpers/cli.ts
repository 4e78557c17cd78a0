/** Running the `tannerin` CLI as a child process in tests, through the package's bin launcher. */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const LAUNCHER = join(ROOT, 'scripts', 'tannerin.mjs');

/** What one run of the CLI printed, and its exit code. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI (stdio piped: not a TTY) with `node` (default: this test's Node) in `cwd`
 * (default: the repository), with `env` over this process's environment.
 */
export function runCli(args: string[], options: { node?: string; cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<CliRun> {
  return runProcess(options.node ?? process.execPath, [LAUNCHER, ...args], options);
}

/** Runs `command` with `args` (stdio piped) in `cwd` (default: the repository); its exit code and output. */
export function runProcess(command: string, args: string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** No JavaScript stack frame in the output: errors are for people. */
export function expectNoStack(run: CliRun): void {
  expect(run.stderr + run.stdout).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
}
