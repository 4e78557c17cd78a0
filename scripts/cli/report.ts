/** Human-readable accuracy, per-class accuracy and confusion matrix for the CLI. */
import type { HeadMetrics } from '../../shared/head/document.ts';
import { wilsonInterval } from '../../shared/learn/metrics.ts';

export const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** Class names longer than this are shown as numbers in the matrix, with a legend. */
const MAX_HEADER = 10;

/**
 * Lines describing metrics: overall accuracy with its 95% Wilson interval, each class's accuracy
 * (classes without items are listed as such), and the confusion matrix (rows: actual class,
 * columns: predicted class).
 */
export function formatMetrics(classes: readonly string[], metrics: HeadMetrics): string[] {
  const correct = Math.round(metrics.accuracy * metrics.n);
  const ci = wilsonInterval(correct, metrics.n);
  const lines = [`accuracy ${pct(metrics.accuracy)} (${correct}/${metrics.n}; 95% CI ${pct(ci.low)}-${pct(ci.high)})`, 'per class:'];
  const nameWidth = Math.max(...classes.map((c) => c.length));
  classes.forEach((c, i) => {
    const row = metrics.confusion[i] ?? [];
    const total = row.reduce((a, b) => a + b, 0);
    const value = metrics.perClass[c];
    lines.push(`  ${c.padEnd(nameWidth)}  ${value === undefined ? '   no items' : `${pct(value).padStart(6)} (${row[i] ?? 0}/${total})`}`);
  });

  const numbered = classes.some((c) => c.length > MAX_HEADER);
  const headers = classes.map((c, i) => (numbered ? String(i + 1) : c));
  const rowNames = classes.map((c, i) => (numbered ? `${i + 1} ${c}` : c));
  const rowWidth = Math.max(...rowNames.map((r) => r.length), 'actual \\ predicted'.length);
  const cellWidth = Math.max(...headers.map((h) => h.length), ...metrics.confusion.flat().map((v) => String(v).length), 3);
  lines.push('confusion (rows: actual, columns: predicted):');
  lines.push(`  ${'actual \\ predicted'.padEnd(rowWidth)}  ${headers.map((h) => h.padStart(cellWidth)).join(' ')}`);
  metrics.confusion.forEach((row, i) => {
    lines.push(`  ${(rowNames[i] as string).padEnd(rowWidth)}  ${row.map((v) => String(v).padStart(cellWidth)).join(' ')}`);
  });
  return lines;
}
