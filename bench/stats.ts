/**
 * Small helpers the benchmark suites share: percentiles, number formatting
 * and markdown tables.
 *
 * @module
 */

/** p50/p99/mean (and count) of a set of samples, in the samples' unit. */
export interface Summary {
  /** How many samples. */
  count: number;
  /** Median. */
  p50: number;
  /** 99th percentile. */
  p99: number;
  /** Arithmetic mean. */
  mean: number;
  /** Largest sample. */
  max: number;
}

/**
 * The `q` quantile (0..1) of ascending-sorted `sorted`, nearest-rank method;
 * `NaN` when empty.
 */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Summarises `samples` (not modified); every field is `NaN` when there are none. */
export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  let sum = 0;
  for (const sample of sorted) sum += sample;
  return {
    count: sorted.length,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    mean: sorted.length === 0 ? NaN : sum / sorted.length,
    max: sorted.length === 0 ? NaN : sorted[sorted.length - 1],
  };
}

/** The median of `values` (the mean of the middle two for an even count); `NaN` when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Formats a number for a table: thousands separators for large values,
 * `digits` significant decimals for small ones, `—` for `NaN`/infinite.
 */
export function formatNumber(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return "—";
  const abs = Math.abs(value);
  if (abs >= 100) return Math.round(value).toLocaleString("en-US");
  if (abs >= 10) return value.toFixed(Math.max(0, digits - 1));
  if (abs === 0) return "0";
  return value.toFixed(digits);
}

/** Formats a byte count as B, KB or MB (powers of 1000). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "—";
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(2)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} KB`;
  return `${bytes} B`;
}

/** A markdown table: a header row, a separator, then one line per row (cells are escaped for `|`). */
export function markdownTable(headers: readonly string[], rows: readonly string[][]): string {
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell) => cell.replaceAll("|", "\\|")).join(" | ")} |`;
  return [line(headers), line(headers.map(() => "---")), ...rows.map(line)].join("\n");
}
