/**
 * `osqueue types ls | pause | resume | limit`: per-type claim controls
 * through a broker's REST API (admin token): pause and resume the handing
 * out of a type's jobs, set or clear its rate and concurrency limits, and
 * list what is in force with its usage.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { QueueStats, TypeLimit } from "@osqueue/osqueue/protocol";
import { InvalidError } from "@osqueue/osqueue/worker";
import { parseCount, parseDuration } from "./args.ts";
import { formatTime, table } from "./format.ts";
import { CONNECTION_OPTIONS, connectionFlags, restCall } from "./rest_client.ts";

/** Help of `osqueue types`. */
export const TYPES_HELP = `osqueue types — pause, resume and limit job types

Usage:
  osqueue types ls                          paused types and limits in force, with their usage
  osqueue types pause TYPE...               claims get no jobs of these types (pushes still accepted)
  osqueue types resume TYPE...              hand them out again
  osqueue types limit TYPE [--max-per-window N [--window DUR]] [--max-active M]
                                            at most N started per window (default 1s), at most M
                                            active at once across all workers; replaces the type's
                                            limits; with neither option, removes them

Options:
  --json             print JSON instead of text
  --url URL          broker URL (default http://127.0.0.1:8080); env OSQUEUE_URL
  --token-file PATH  bearer token read from a file (admin); env OSQUEUE_TOKEN
  --token TOKEN      bearer token (visible in ps: prefer --token-file)`;

/** Runs `osqueue types …`; resolves with the exit code. */
export async function typesCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      "max-per-window": { type: "string" },
      window: { type: "string" },
      "max-active": { type: "string" },
      json: { type: "boolean" },
      ...CONNECTION_OPTIONS,
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  const [action, ...types] = positionals;
  if (values.help || action === undefined) {
    console.log(TYPES_HELP);
    return values.help ? 0 : 2;
  }
  const flags = connectionFlags(values);
  const print = (value: unknown, human: () => string) =>
    console.log(values.json ? JSON.stringify(value, null, 2) : human());
  switch (action) {
    case "ls":
    case "list": {
      if (types.length > 0) throw usage(`unexpected argument "${types[0]}"`);
      const stats = await restCall(flags, "GET", "/v1/stats") as QueueStats;
      const shown = { paused: stats.paused ?? [], typeLimits: stats.typeLimits ?? {} };
      print(shown, () => formatControls(shown));
      return 0;
    }
    case "pause":
    case "resume": {
      if (types.length === 0) throw usage(`types ${action} needs at least one type`);
      const reply = await restCall(flags, "POST", `/v1/types/${action}`, { types }) as {
        paused: string[];
      };
      print(
        reply,
        () => `paused: ${reply.paused.length === 0 ? "(none)" : reply.paused.join(", ")}`,
      );
      return 0;
    }
    case "limit": {
      if (types.length !== 1) throw usage("types limit needs exactly one type");
      const limit: TypeLimit = {};
      if (values["max-per-window"] !== undefined) {
        limit.maxPerWindow = parseCount(values["max-per-window"], "--max-per-window");
      }
      if (values.window !== undefined) {
        if (limit.maxPerWindow === undefined) throw usage("--window needs --max-per-window");
        limit.windowMs = parseDuration(values.window, "--window");
      }
      if (values["max-active"] !== undefined) {
        limit.maxActive = parseCount(values["max-active"], "--max-active");
      }
      const reply = await restCall(flags, "POST", "/v1/types/limit", {
        type: types[0],
        ...limit,
      }) as { limits: Record<string, TypeLimit> };
      print(reply, () => {
        const set = reply.limits[types[0]];
        return set === undefined ? `${types[0]}: no limits` : `${types[0]}: ${describeLimit(set)}`;
      });
      return 0;
    }
    default:
      throw usage(`unknown types action "${action}" (ls, pause, resume, limit)`);
  }
}

/** A limit in words, e.g. `at most 10 per 1000ms, at most 4 active`. */
export function describeLimit(limit: TypeLimit): string {
  const parts: string[] = [];
  if (limit.maxPerWindow !== undefined) {
    parts.push(`at most ${limit.maxPerWindow} started per ${limit.windowMs ?? 1000}ms`);
  }
  if (limit.maxActive !== undefined) parts.push(`at most ${limit.maxActive} active`);
  return parts.join(", ");
}

/** The `types ls` text: paused types, then a table of limits and usage. */
export function formatControls(
  shown: { paused: string[]; typeLimits: NonNullable<QueueStats["typeLimits"]> },
  now: number = Date.now(),
): string {
  const lines = [`paused: ${shown.paused.length === 0 ? "(none)" : shown.paused.join(", ")}`];
  const entries = Object.entries(shown.typeLimits);
  if (entries.length === 0) {
    lines.push("limits: (none)");
    return lines.join("\n");
  }
  lines.push(table(
    ["TYPE", "LIMIT", "ACTIVE", "STARTED IN WINDOW", "WINDOW ENDS"],
    entries.map(([type, s]) => [
      type,
      describeLimit(s),
      s.maxActive === undefined ? String(s.active) : `${s.active}/${s.maxActive}`,
      s.maxPerWindow === undefined ? "-" : `${s.startedInWindow ?? 0}/${s.maxPerWindow}`,
      s.windowEndsAt === undefined ? "-" : formatTime(s.windowEndsAt, now),
    ]),
  ));
  return lines.join("\n");
}

function usage(message: string): Error {
  return Object.assign(new InvalidError(message), { usage: true });
}
