/**
 * Progress reporting for the CLI and the evaluation: a redrawn bar on a terminal, a few plain lines
 * otherwise (logs, CI, a test's pipe), always on stderr so that stdout stays machine-readable.
 */

/** Where progress goes: the parts of a stream this needs (process.stderr by default). */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

export interface Progress {
  /** Sets the count done so far (and optionally a short note, e.g. the current file). */
  update(done: number, note?: string): void;
  /** Marks the task finished and prints its duration. */
  done(note?: string): void;
}

const BAR_WIDTH = 24;
/** Plain mode prints at most one line per this many milliseconds (plus the first and last). */
const PLAIN_INTERVAL_MS = 5000;
/** Plain mode's first line comes after this long (a task that finishes sooner prints one line). */
const PLAIN_FIRST_MS = 2000;
/** TTY mode redraws at most this often. */
const TTY_INTERVAL_MS = 100;

function seconds(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/**
 * A progress reporter for `total` steps of `label`. With `quiet`, nothing is written. On a TTY the
 * line is redrawn in place (`\r`) with a bar and an ETA; elsewhere a line is printed after 2 s,
 * then at most every 5 s, and at the end.
 */
export function createProgress(
  label: string,
  total: number,
  options: { stream?: ProgressStream; quiet?: boolean } = {},
): Progress {
  const stream = options.stream ?? process.stderr;
  const tty = Boolean(stream.isTTY);
  const start = performance.now();
  // A terminal shows the bar at once; plain output stays silent for quick tasks (only `done`).
  let last = tty ? -Infinity : start - PLAIN_INTERVAL_MS + PLAIN_FIRST_MS;
  let finished = false;

  const line = (done: number, note: string | undefined): string => {
    const elapsed = performance.now() - start;
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const eta = done > 0 && done < total ? `, ~${seconds((elapsed / done) * (total - done))} left` : '';
    const count = `${done}/${total}`;
    if (!tty) return `${label}: ${count}${eta}${note ? ` (${note})` : ''}`;
    const filled = Math.round(fraction * BAR_WIDTH);
    const text = `${label} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${count}${eta}${note ? ` ${note}` : ''}`;
    const width = (stream.columns ?? 100) - 1;
    return text.length > width ? text.slice(0, width) : text;
  };

  return {
    update(done, note) {
      if (options.quiet || finished) return;
      const now = performance.now();
      const interval = tty ? TTY_INTERVAL_MS : PLAIN_INTERVAL_MS;
      if (now - last < interval) return;
      last = now;
      stream.write(tty ? `\r\x1b[2K${line(done, note)}` : `${line(done, note)}\n`);
    },
    done(note) {
      if (options.quiet || finished) return;
      finished = true;
      const text = `${label}: done in ${seconds(performance.now() - start)}${note ? ` (${note})` : ''}`;
      stream.write(tty ? `\r\x1b[2K${text}\n` : `${text}\n`);
    },
  };
}
