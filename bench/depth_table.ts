/**
 * Depths as text (`1k`, `10k`, `1M`) and the markdown table of the depth
 * suite's results.
 *
 * @module
 */
import { PUSH_BATCH } from "./depth_phases.ts";
import type { DepthOptions, DepthResult } from "./depth_types.ts";
import type { Section } from "./report.ts";
import { formatNumber } from "./stats.ts";

/** The default depths: 1k, 10k, 100k, 1M. */
export const DEFAULT_DEPTHS: readonly number[] = [1_000, 10_000, 100_000, 1_000_000];

/** Parses `1000`, `10k`, `1M`, `2.5k` (case-insensitive); throws on anything else. */
export function parseDepth(text: string): number {
  const match = text.trim().match(/^(\d+(?:\.\d+)?)([kKmM]?)$/);
  const value = match
    ? Number(match[1]) * ({ "": 1, k: 1e3, m: 1e6 }[match[2].toLowerCase()] ?? NaN)
    : NaN;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new Error(`a depth must be a positive whole number like 1000, 10k or 1M, got "${text}"`);
  }
  return value;
}

/** Formats a depth like `1k`, `100k`, `1M`. */
export function formatDepth(depth: number): string {
  if (depth >= 1e6 && depth % 1e5 === 0) return `${depth / 1e6}M`;
  if (depth >= 1e3 && depth % 100 === 0) return `${depth / 1e3}k`;
  return String(depth);
}

/** The load average (1/5/15 min) as text, or `unknown`. */
export function loadAverage(): string {
  try {
    return Deno.loadavg().map((value) => value.toFixed(2)).join(" ");
  } catch {
    return "unknown";
  }
}

/** The markdown table of the results, one row per depth and store. */
export function depthSection(
  results: DepthResult[],
  options: DepthOptions,
  loadStart: string,
): Section {
  const cell = (value: number | undefined, digits = 2) =>
    value === undefined ? "—" : formatNumber(value, digits);
  const mb = (bytes: number | undefined) => (bytes === undefined ? "—" : formatNumber(bytes / 1e6));
  const rows = results.map((r) => [
    formatDepth(r.depth),
    r.backend,
    cell(r.preload?.jobsPerSecond),
    cell(r.single?.push.p50),
    cell(r.single?.push.p99),
    cell(r.many?.requestsPerSecond),
    cell(r.many?.commitsPerSecond),
    cell(r.many?.requestsPerCommit),
    mb(r.memory?.end),
    mb(r.memory?.peak),
    cell(r.writes?.storeBytesPerOperation),
    cell(r.writes?.amplification),
    cell(r.writes?.diskBytesPerOperation),
    cell(r.restart?.afterTermMs),
    cell(r.restart?.afterKillMs),
    r.error === undefined ? "" : r.error.split("\n")[0].slice(0, 120),
  ]);
  const clients = options.clients ?? 64;
  return {
    title: "Depth: commit cost vs pending jobs (CLI broker as its own process)",
    headers: [
      "pending",
      "store",
      "preload jobs/s",
      "push→ack p50 ms",
      "push→ack p99 ms",
      `${clients} clients req/s`,
      "commits/s",
      "req/commit",
      "RSS MB",
      "peak RSS MB",
      "store B/op",
      "× op size",
      "disk B/op",
      "restart ms (TERM)",
      "restart ms (KILL)",
      "error",
    ],
    rows,
    notes: [
      `Per row: a fresh store and a fresh \`cli/main.ts broker\` process; \`pending\` jobs ` +
      `(100-byte message) preloaded by bulk pushes of ${PUSH_BATCH}; then 1 client and then ` +
      `${clients} clients, each a closed loop push → claim → complete for ` +
      `${options.seconds ?? 10} s (the depth stays constant).`,
      "push→ack: one client's push request to its reply. commits/s from the `commit` counter " +
      "of `stats`; req/commit = requests answered / commits.",
      "RSS: `VmRSS` at the end; peak: `VmHWM` (from `/proc/<pid>/status`).",
      "store B/op: bytes of the bodies the broker's store put (counted inside the broker " +
      "process by `bench/counting_broker.ts`, background writes included) during the two " +
      "load phases ÷ requests answered; × op size: that ÷ the mean JSON size of those " +
      "requests. disk B/op (directory store): the kernel's `write_bytes` of the broker " +
      "process (`/proc/<pid>/io`, whole pages, so at least 4 KiB per file written) ÷ requests.",
      "Before the load phases and before the final count the suite waits until the broker " +
      "has written nothing for 1 s, so background work (checkpoints) started by the preload " +
      "is not counted and that started by the load is.",
      "restart: a new broker on the same store after SIGTERM (resp. SIGKILL) of the old one: " +
      "process spawn → first `GET /v1/stats` answered 200; every pending job checked present.",
      `Load average (1/5/15 min) at the start ${loadStart}, at the end ${loadAverage()}.`,
    ],
  };
}
