/**
 * `osqueue stats [--watch]` and `osqueue top`: the queue's counters as text
 * for people (or JSON), refreshed in place on a terminal, with rates computed
 * between refreshes.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { QueueStats } from "@osqueue/osqueue/protocol";
import { InvalidError, OsqueueError } from "@osqueue/osqueue/worker";
import { parseDuration } from "./args.ts";
import { formatCount, formatDuration, table } from "./format.ts";
import { CONNECTION_OPTIONS, connectionFlags, restCall } from "./rest_client.ts";

/** Help of `osqueue stats`. */
export const STATS_HELP = `osqueue stats — print a broker's queue counters

Options:
  --watch            refresh until Ctrl-C (like "osqueue top", but only the counters)
  --interval DUR     refresh interval with --watch (default 2s)
  --json             print the raw JSON counters
  --url URL          broker URL (default http://127.0.0.1:8080); env OSQUEUE_URL
  --token-file PATH  bearer token read from a file; env OSQUEUE_TOKEN
  --token TOKEN      bearer token (visible in ps: prefer --token-file)`;

/** Help of `osqueue top`. */
export const TOP_HELP =
  `osqueue top — a live view of a broker: counts, rates, types, workers, latency

Options:
  --interval DUR     refresh interval (default 2s)
  --iterations N     stop after N refreshes (default: until Ctrl-C)
  --url URL          broker URL (default http://127.0.0.1:8080); env OSQUEUE_URL
  --token-file PATH  bearer token read from a file; env OSQUEUE_TOKEN
  --token TOKEN      bearer token (visible in ps: prefer --token-file)`;

/** What `top` shows: the dashboard's overview (`/ui/api/overview`), or only stats from older brokers. */
export interface TopData {
  /** Epoch ms. */
  time: number;
  /** The queue's counters. */
  stats: QueueStats;
  /** Leadership. */
  broker?: { brokerId: string; leader: boolean; role?: string; leaderUrl?: string };
  /** Jobs by state then type. */
  byStateAndType?: Record<string, Record<string, number>>;
  /** Open connections. */
  connections?: {
    label: string;
    workerId?: string;
    types?: string[];
    credits: number;
    outstandingClaims: number;
    running: number;
  }[];
  /** Latency percentiles, ms. */
  latency?: Record<string, { p50?: number; p95?: number; p99?: number; count: number }>;
  /** The broker's counters. */
  counters?: Record<string, number>;
}

const CLEAR = "\x1b[2J\x1b[H";

/** Runs `osqueue stats`. */
export async function statsCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      watch: { type: "boolean" },
      interval: { type: "string", default: "2s" },
      iterations: { type: "string" },
      json: { type: "boolean" },
      ...CONNECTION_OPTIONS,
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(STATS_HELP);
    return 0;
  }
  const flags = connectionFlags(values);
  const fetchStats = async (): Promise<TopData> => ({
    time: Date.now(),
    stats: await restCall(flags, "GET", "/v1/stats") as QueueStats,
  });
  if (!values.watch) {
    const data = await fetchStats();
    console.log(values.json ? JSON.stringify(data.stats, null, 2) : renderStats(data));
    return 0;
  }
  return await watch({
    intervalMs: parseDuration(values.interval, "--interval"),
    iterations: parseIterations(values.iterations),
    load: fetchStats,
    render: (data, previous) =>
      values.json ? JSON.stringify(data.stats) : renderStats(data, previous),
  });
}

/** Runs `osqueue top`. */
export async function topCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      interval: { type: "string", default: "2s" },
      iterations: { type: "string" },
      ...CONNECTION_OPTIONS,
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(TOP_HELP);
    return 0;
  }
  const flags = connectionFlags(values);
  let overviewMissing = false;
  const load = async (): Promise<TopData> => {
    if (!overviewMissing) {
      try {
        return await restCall(flags, "GET", "/ui/api/overview") as TopData;
      } catch (error) {
        if (!(error instanceof OsqueueError && error.code === "not_found")) throw error;
        overviewMissing = true;
      }
    }
    return { time: Date.now(), stats: await restCall(flags, "GET", "/v1/stats") as QueueStats };
  };
  return await watch({
    intervalMs: parseDuration(values.interval, "--interval"),
    iterations: parseIterations(values.iterations),
    load,
    render: renderTop,
  });
}

function parseIterations(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new InvalidError(`--iterations must be a whole number >= 1, got "${text}"`);
  }
  return n;
}

/** Loads and prints a frame every `intervalMs` until Ctrl-C or `iterations` frames. */
async function watch(options: {
  intervalMs: number;
  iterations?: number;
  load: () => Promise<TopData>;
  render: (data: TopData, previous?: TopData) => string;
}): Promise<number> {
  const interactive = Deno.stdout.isTerminal();
  const stop = Promise.withResolvers<void>();
  let stopped = false;
  const onSignal = () => {
    stopped = true;
    stop.resolve();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    let previous: TopData | undefined;
    for (
      let frame = 0;
      !stopped && (options.iterations === undefined || frame < options.iterations);
      frame++
    ) {
      if (frame > 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          new Promise((resolve) => (timer = setTimeout(resolve, options.intervalMs))),
          stop.promise,
        ]);
        clearTimeout(timer);
        if (stopped) break;
      }
      const data = await options.load();
      const text = options.render(data, previous);
      console.log(interactive ? CLEAR + text : (frame > 0 ? "\n" : "") + text);
      previous = data;
    }
    return 0;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
}

/** Rates per second between two frames: pushed, completed, failed. */
function rates(data: TopData, previous?: TopData): string {
  if (previous === undefined || data.time <= previous.time) return "";
  const seconds = (data.time - previous.time) / 1000;
  const rate = (key: "pushed" | "completed" | "failed") =>
    Math.max(0, (data.stats.totals[key] - previous.stats.totals[key]) / seconds);
  const fmt = (n: number) => (n >= 100 ? Math.round(n) : Math.round(n * 10) / 10).toString();
  return `rates        pushed ${fmt(rate("pushed"))}/s  completed ${
    fmt(rate("completed"))
  }/s  failed ${fmt(rate("failed"))}/s\n`;
}

/** The counters as text (see `osqueue stats`). */
export function renderStats(data: TopData, previous?: TopData): string {
  const s = data.stats;
  const t = s.totals;
  const lines = [
    `jobs         ready ${formatCount(s.ready)}  delayed ${formatCount(s.delayed)}  active ${
      formatCount(s.active)
    }  finished awaiting archive ${formatCount(s.finishedPending)}`,
    `totals       pushed ${formatCount(t.pushed)}  completed ${formatCount(t.completed)}  failed ${
      formatCount(t.failed)
    }  retried ${formatCount(t.retried)}  dead ${formatCount(t.dead)}  expired ${
      formatCount(t.expired)
    }  cancelled ${formatCount(t.cancelled)}`,
  ];
  const rateLine = rates(data, previous);
  if (rateLine) lines.push(rateLine.trimEnd());
  lines.push(`state        epoch ${s.epoch}, commit ${formatCount(s.commit)}`);
  const types = Object.entries(s.byType).sort(([a], [b]) => a.localeCompare(b));
  if (types.length > 0) {
    lines.push(
      "",
      table(
        ["type", { header: "unfinished jobs", right: true }],
        types.map(([type, n]) => [type, formatCount(n)]),
      ),
    );
  }
  return lines.join("\n");
}

/** A `top` frame: leadership, counters, rates, jobs by type and state, connections, latency. */
export function renderTop(data: TopData, previous?: TopData): string {
  const lines: string[] = [];
  const time = new Date(data.time).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  if (data.broker !== undefined) {
    const role = data.broker.leader ? "leader" : data.broker.role ?? "standby";
    lines.push(`osqueue top — broker ${data.broker.brokerId} (${role}), ${time}`);
  } else {
    lines.push(`osqueue top — ${time}`);
  }
  lines.push("", renderStats(data, previous));
  const byState = data.byStateAndType;
  if (byState !== undefined) {
    const states = ["ready", "delayed", "active", "dead", "completed", "cancelled"];
    const types = [...new Set(states.flatMap((state) => Object.keys(byState[state] ?? {})))].sort();
    if (types.length > 0) {
      lines.push(
        "",
        table(
          ["type", ...states.map((header) => ({ header, right: true }))],
          types.map((
            type,
          ) => [type, ...states.map((state) => formatCount(byState[state]?.[type] ?? 0))]),
        ),
      );
    }
  }
  if (data.connections !== undefined) {
    lines.push("", `connections  ${data.connections.length}`);
    if (data.connections.length > 0) {
      lines.push(table(
        [
          "connection",
          "worker",
          "types",
          { header: "credits", right: true },
          { header: "claims", right: true },
          { header: "running", right: true },
        ],
        data.connections.map((c) => [
          c.label,
          c.workerId,
          c.types?.join(",") ?? (c.workerId ? "all" : undefined),
          c.credits,
          c.outstandingClaims,
          c.running,
        ]),
      ));
    }
  }
  if (data.latency !== undefined) {
    const fmt = (l?: { p50?: number; p95?: number; p99?: number; count: number }) =>
      l === undefined || l.count === 0
        ? "-"
        : `p50 ${ms(l.p50)}  p95 ${ms(l.p95)}  p99 ${ms(l.p99)}  (${formatCount(l.count)})`;
    lines.push(
      "",
      `commit       ${fmt(data.latency.commit)}`,
      `store PUT    ${fmt(data.latency.put)}`,
    );
  }
  if (data.counters !== undefined) {
    const c = data.counters;
    lines.push(
      `broker       commits ${formatCount(c.commits ?? 0)}  conflicts ${
        formatCount(c.conflicts ?? 0)
      }  ambiguous ${formatCount(c.ambiguousWrites ?? 0)}  archive writes ${
        formatCount(c.archiveWrites ?? 0)
      }`,
    );
  }
  return lines.join("\n");
}

function ms(value: number | undefined | null): string {
  if (value === undefined || value === null) return "-";
  if (!Number.isFinite(value)) return ">10s";
  return value < 1 ? `${value}ms` : formatDuration(value);
}
