/**
 * `osqueue schedules ls | set | rm`: named recurring pushes (cron or a fixed
 * interval) through a broker's REST API (admin token).
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { JsonValue, PushJob, ScheduleView } from "@osqueue/osqueue/protocol";
import { InvalidError } from "@osqueue/osqueue/worker";
import { parseCount, parseDuration } from "./args.ts";
import { formatTime, table } from "./format.ts";
import { CONNECTION_OPTIONS, connectionFlags, restCall } from "./rest_client.ts";

/** Help of `osqueue schedules`. */
export const SCHEDULES_HELP = `osqueue schedules — recurring jobs (cron or every N)

Usage:
  osqueue schedules ls
  osqueue schedules set NAME (--cron EXPR [--timezone TZ] | --every DUR) --type TYPE [--payload JSON]
                         [--missed skip|runOnce|catchUp] [--max-catch-up N]
                         [--priority N] [--max-attempts N]
  osqueue schedules rm NAME

  set creates or replaces a schedule; its first run is the next due time from now.
  --cron "*/5 * * * *" (5 fields, or 6 with seconds), in --timezone (IANA, default UTC);
  --every 1h runs every hour from now. --missed: what to push for runs missed while no
  broker ran: skip (default; only a run at most 1 minute late), runOnce (one job), catchUp
  (one per missed run, at most --max-catch-up, default 100).

Options:
  --json             print JSON instead of text
  --url URL          broker URL (default http://127.0.0.1:8080); env OSQUEUE_URL
  --token-file PATH  bearer token read from a file (admin); env OSQUEUE_TOKEN
  --token TOKEN      bearer token (visible in ps: prefer --token-file)`;

/** Runs `osqueue schedules …`; resolves with the exit code. */
export async function schedulesCommand(
  args: string[],
  now: () => number = Date.now,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      cron: { type: "string" },
      every: { type: "string" },
      timezone: { type: "string" },
      type: { type: "string" },
      payload: { type: "string" },
      missed: { type: "string" },
      "max-catch-up": { type: "string" },
      priority: { type: "string" },
      "max-attempts": { type: "string" },
      json: { type: "boolean" },
      ...CONNECTION_OPTIONS,
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  const [action, name, ...extra] = positionals;
  if (values.help || action === undefined) {
    console.log(SCHEDULES_HELP);
    return values.help ? 0 : 2;
  }
  if (extra.length > 0) throw usage(`unexpected argument "${extra[0]}"`);
  const flags = connectionFlags(values);
  const print = (value: unknown, human: () => string) =>
    console.log(values.json ? JSON.stringify(value, null, 2) : human());
  const needName = () => {
    if (name === undefined) throw usage(`schedules ${action} needs a name`);
    return encodeURIComponent(name);
  };
  switch (action) {
    case "ls":
    case "list": {
      const reply = await restCall(flags, "GET", "/v1/schedules") as { schedules: ScheduleView[] };
      print(reply, () => formatSchedules(reply.schedules, now()));
      return 0;
    }
    case "set": {
      const path = `/v1/schedules/${needName()}`;
      if ((values.cron === undefined) === (values.every === undefined)) {
        throw usage("schedules set needs --cron EXPR or --every DUR (one of them)");
      }
      if (values.type === undefined) throw usage("schedules set needs --type TYPE");
      if (values.timezone !== undefined && values.cron === undefined) {
        throw usage("--timezone needs --cron");
      }
      let payload: JsonValue = null;
      if (values.payload !== undefined) {
        try {
          payload = JSON.parse(values.payload);
        } catch {
          throw usage(`--payload must be JSON, got ${values.payload}`);
        }
      }
      const job: PushJob = { type: values.type, payload };
      if (values.priority !== undefined) {
        const priority = Number(values.priority);
        if (!Number.isSafeInteger(priority)) throw usage("--priority must be an integer");
        job.priority = priority;
      }
      if (values["max-attempts"] !== undefined) {
        job.maxAttempts = parseCount(values["max-attempts"], "--max-attempts");
      }
      const body: Record<string, unknown> = { job };
      if (values.cron !== undefined) body.cron = values.cron;
      if (values.every !== undefined) body.everyMs = parseDuration(values.every, "--every");
      if (values.timezone !== undefined) body.timezone = values.timezone;
      if (values.missed !== undefined) {
        if (!["skip", "runOnce", "catchUp"].includes(values.missed)) {
          throw usage(`--missed must be skip, runOnce or catchUp, got "${values.missed}"`);
        }
        body.missed = values.missed;
      }
      if (values["max-catch-up"] !== undefined) {
        body.maxCatchUp = parseCount(values["max-catch-up"], "--max-catch-up");
      }
      const reply = await restCall(flags, "PUT", path, body) as { schedule: ScheduleView };
      print(
        reply,
        () => `schedule ${name} set; next run ${formatTime(reply.schedule.nextRunAt, now())}`,
      );
      return 0;
    }
    case "rm":
    case "remove": {
      const reply = await restCall(flags, "DELETE", `/v1/schedules/${needName()}`) as {
        removed: boolean;
      };
      print(reply, () => reply.removed ? `schedule ${name} removed` : `no schedule ${name}`);
      return 0;
    }
    default:
      throw usage(`unknown schedules action "${action}" (ls, set, rm)`);
  }
}

/** The `schedules ls` table. */
export function formatSchedules(schedules: readonly ScheduleView[], now: number): string {
  if (schedules.length === 0) return "no schedules";
  return table(
    ["NAME", "WHEN", "TYPE", "MISSED", "NEXT RUN", "LAST RUN", "LAST ERROR"],
    schedules.map((s) => [
      s.name,
      s.cron === undefined
        ? `every ${s.everyMs}ms`
        : `${s.cron}${s.timezone === undefined ? "" : ` (${s.timezone})`}`,
      s.job.type,
      s.missed ?? "skip",
      formatTime(s.nextRunAt, now),
      formatTime(s.lastRunAt, now),
      s.lastError ?? "",
    ]),
  );
}

function usage(message: string): Error {
  return Object.assign(new InvalidError(message), { usage: true });
}
