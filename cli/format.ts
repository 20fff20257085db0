/**
 * Output for people: aligned tables, readable durations (`1.5s`, `3m 20s`)
 * and times (`2026-11-30 19:40:00Z (3m ago)`).
 *
 * @module
 */

/** A column of {@linkcode table}: its header and whether it aligns right. */
export interface Column {
  /** Header text. */
  header: string;
  /** Align right (numbers). */
  right?: boolean;
}

/** Renders rows under headers, columns padded to their widest cell, two spaces apart. */
export function table(
  columns: readonly (Column | string)[],
  rows: readonly (readonly unknown[])[],
): string {
  const cols = columns.map((c) => typeof c === "string" ? { header: c } : c);
  const cells = rows.map((row) => cols.map((_, i) => cellText(row[i])));
  const widths = cols.map((c, i) =>
    Math.max(c.header.length, ...cells.map((row) => row[i].length))
  );
  const line = (values: string[]) =>
    values.map((v, i) => cols[i].right ? v.padStart(widths[i]) : v.padEnd(widths[i])).join("  ")
      .trimEnd();
  return [line(cols.map((c) => c.header.toUpperCase())), ...cells.map(line)].join("\n");
}

function cellText(value: unknown): string {
  if (value === undefined || value === null) return "-";
  const text = typeof value === "string" ? value : String(value);
  return text.replace(/\s+/g, " ");
}

/** A duration in ms for people: `850ms`, `1.5s`, `3m 20s`, `2h 5m`, `3d 4h`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const sign = ms < 0 ? "-" : "";
  ms = Math.abs(ms);
  if (ms < 1000) return `${sign}${Math.round(ms)}ms`;
  if (ms < 60_000) return `${sign}${Number((ms / 1000).toFixed(ms < 10_000 ? 1 : 0))}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${sign}${Math.floor(s / 60)}m${s % 60 ? ` ${s % 60}s` : ""}`;
  if (s < 86_400) {
    const m = Math.floor(s / 60) % 60;
    return `${sign}${Math.floor(s / 3600)}h${m ? ` ${m}m` : ""}`;
  }
  const h = Math.floor(s / 3600) % 24;
  return `${sign}${Math.floor(s / 86_400)}d${h ? ` ${h}h` : ""}`;
}

/** How long ago (or until) `time` is from `now`: `3m 20s ago`, `in 5s`, `now`. */
export function formatAgo(time: number, now: number): string {
  const delta = now - time;
  if (Math.abs(delta) < 1000) return "now";
  return delta > 0 ? `${formatDuration(delta)} ago` : `in ${formatDuration(-delta)}`;
}

/** A UTC time for people, with how long ago it was: `2026-11-30 19:40:00Z (3m ago)`. */
export function formatTime(time: number | undefined, now: number): string {
  if (time === undefined) return "-";
  const iso = new Date(time).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  return `${iso} (${formatAgo(time, now)})`;
}

/** A count with thousands separators. */
export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}
