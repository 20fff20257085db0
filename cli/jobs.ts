/**
 * `osqueue jobs ls | get | retry | cancel | promote | delete`: operating on
 * jobs through a broker's REST API, with tables for people and `--json` for
 * scripts. Lists of finished states continue from the state into the
 * archive (`/v1/archive`), newest first.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { JobState, JobView } from "@osqueue/osqueue/protocol";
import { InvalidError, OsqueueError } from "@osqueue/osqueue/worker";
import { formatAgo, formatDuration, formatTime, table } from "./format.ts";
import {
  CONNECTION_OPTIONS,
  type ConnectionFlags,
  connectionFlags,
  restCall,
} from "./rest_client.ts";

/** Help of `osqueue jobs`. */
export const JOBS_HELP = `osqueue jobs — list, inspect and operate on jobs

Usage:
  osqueue jobs ls [--state STATE] [--type TYPE] [--limit N] [--cursor C]
  osqueue jobs get ID
  osqueue jobs retry ID | --type TYPE     a dead job (or every dead job of TYPE) → ready, attempts reset;
                                          an archived dead job is pushed again as a new job
  osqueue jobs cancel ID                  cancel a ready, delayed or active job
  osqueue jobs promote ID                 run a delayed job now
  osqueue jobs delete ID [--force]        remove a job for good (an active one only with --force)

Options:
  --state STATE      ready (default), delayed, active, dead, completed, cancelled;
                     finished states continue into the archive
  --type TYPE        only jobs of this type
  --limit N          jobs per page (default 20, at most 1000)
  --cursor C         the page after the one that printed "next page: --cursor C"
  --json             print JSON (one object) instead of a table
  --url URL          broker URL (default http://127.0.0.1:8080); env OSQUEUE_URL
  --token-file PATH  bearer token read from a file; env OSQUEUE_TOKEN
  --token TOKEN      bearer token (visible in ps: prefer --token-file)`;

const STATES: readonly JobState[] = [
  "ready",
  "delayed",
  "active",
  "dead",
  "completed",
  "cancelled",
];
const FINISHED = new Set<JobState>(["dead", "completed", "cancelled"]);
const ARCHIVE_CURSOR = "archive:";

/** A job as listed, with where it was read from. */
export type ListedJob = JobView & { archived?: boolean };

/** One page of `jobs ls`. */
export interface JobPage {
  /** The jobs, newest first. */
  jobs: ListedJob[];
  /** Jobs in this state still in the queue state (archived ones not counted). */
  total?: number;
  /** Cursor of the next page. */
  next?: string;
}

/** Runs `osqueue jobs …`; resolves with the exit code. */
export async function jobsCommand(args: string[], now: () => number = Date.now): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      state: { type: "string" },
      type: { type: "string" },
      limit: { type: "string" },
      cursor: { type: "string" },
      force: { type: "boolean" },
      json: { type: "boolean" },
      ...CONNECTION_OPTIONS,
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  const [action, id, ...extra] = positionals;
  if (values.help || action === undefined) {
    console.log(JOBS_HELP);
    return values.help ? 0 : 2;
  }
  if (extra.length > 0) throw usage(`unexpected argument "${extra[0]}"`);
  const flags = connectionFlags(values);
  const print = (value: unknown, human: () => string) =>
    console.log(values.json ? JSON.stringify(value, null, 2) : human());
  const needId = () => {
    if (id === undefined) throw usage(`jobs ${action} needs a job id`);
    return encodeURIComponent(id);
  };
  switch (action) {
    case "ls":
    case "list": {
      const state = (values.state ?? "ready") as JobState;
      if (!STATES.includes(state)) {
        throw usage(`--state must be one of ${STATES.join(", ")}, got "${values.state}"`);
      }
      const limit = values.limit === undefined ? 20 : Number(values.limit);
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) {
        throw usage(`--limit must be a whole number from 1 to 1000, got "${values.limit}"`);
      }
      const page = await listJobs(flags, {
        state,
        type: values.type,
        limit,
        cursor: values.cursor,
      });
      print(page, () => formatJobPage(page, state, now()));
      return 0;
    }
    case "get": {
      const job = await getJob(flags, needId());
      print(job, () => formatJob(job, now()));
      return 0;
    }
    case "retry": {
      if ((id === undefined) === (values.type === undefined)) {
        throw usage("jobs retry needs a job id or --type TYPE (not both)");
      }
      const path = id === undefined
        ? `/v1/retry?type=${encodeURIComponent(values.type!)}`
        : `/v1/jobs/${needId()}/retry`;
      let reply: { retried: string[] };
      try {
        reply = await restCall(flags, "POST", path) as { retried: string[] };
      } catch (error) {
        // Archived already: push a copy of it (the archive is never rewritten).
        if (
          !(id !== undefined && error instanceof OsqueueError && error.code === "job_not_found")
        ) {
          throw error;
        }
        const copy = await restCall(flags, "POST", `/v1/archive/${needId()}/requeue`) as {
          id: string;
          duplicate: boolean;
        };
        print(
          copy,
          () =>
            `job ${id} was archived; pushed again as job ${copy.id}${
              copy.duplicate ? " (it had been requeued already)" : ""
            }`,
        );
        return 0;
      }
      print(
        reply,
        () =>
          id !== undefined
            ? `job ${id} is ready again (attempts reset)`
            : `${reply.retried.length} dead job(s) of type ${values.type} ready again${
              reply.retried.length ? ": " + reply.retried.join(", ") : ""
            }`,
      );
      return 0;
    }
    case "cancel": {
      const reply = await restCall(flags, "POST", `/v1/jobs/${needId()}/cancel`) as {
        cancelled: boolean;
      };
      print(
        reply,
        () => reply.cancelled ? `job ${id} cancelled` : `job ${id} had already finished`,
      );
      return reply.cancelled ? 0 : 1;
    }
    case "promote": {
      const reply = await restCall(flags, "POST", `/v1/jobs/${needId()}/promote`) as {
        promoted: boolean;
      };
      print(reply, () => reply.promoted ? `job ${id} is ready now` : `job ${id} was ready already`);
      return 0;
    }
    case "delete": {
      const reply = await restCall(
        flags,
        "POST",
        `/v1/jobs/${needId()}/delete${values.force ? "?force=true" : ""}`,
      );
      print(reply, () => `job ${id} deleted`);
      return 0;
    }
    default:
      throw usage(`unknown jobs action "${action}" (ls, get, retry, cancel, promote, delete)`);
  }
}

function usage(message: string): Error {
  return Object.assign(new InvalidError(message), { usage: true });
}

/** One page of jobs in `query.state`: from the queue state, then (finished states) from the archive. */
export async function listJobs(
  flags: ConnectionFlags,
  query: { state: JobState; type?: string; limit: number; cursor?: string },
): Promise<JobPage> {
  const params = (extra: Record<string, string | undefined>) => {
    const search = new URLSearchParams({ state: query.state, limit: String(query.limit) });
    if (query.type !== undefined) search.set("type", query.type);
    for (const [k, v] of Object.entries(extra)) if (v !== undefined && v !== "") search.set(k, v);
    return search.toString();
  };
  const jobs: ListedJob[] = [];
  let total: number | undefined;
  let archiveCursor: string | undefined;
  if (query.cursor === undefined || !query.cursor.startsWith(ARCHIVE_CURSOR)) {
    const page = await restCall(flags, "GET", `/v1/jobs?${params({ cursor: query.cursor })}`) as {
      jobs: JobView[];
      total: number;
      next?: string;
    };
    jobs.push(...page.jobs);
    total = page.total;
    if (page.next !== undefined) return { jobs, total, next: page.next };
    if (!FINISHED.has(query.state)) return { jobs, total };
    if (jobs.length >= query.limit) return { jobs, total, next: ARCHIVE_CURSOR };
  } else {
    archiveCursor = query.cursor.slice(ARCHIVE_CURSOR.length) || undefined;
  }
  const limit = query.limit - jobs.length;
  let archived: { jobs: JobView[]; next?: string };
  try {
    archived = await restCall(
      flags,
      "GET",
      `/v1/archive?${params({ cursor: archiveCursor, limit: String(limit) })}`,
    ) as { jobs: JobView[]; next?: string };
  } catch (error) {
    // A broker without an archive reader: only the state's jobs.
    if (error instanceof OsqueueError && error.code === "not_found") return { jobs, total };
    throw error;
  }
  jobs.push(...archived.jobs.map((job) => ({ ...job, archived: true })));
  const page: JobPage = { jobs };
  if (total !== undefined) page.total = total;
  if (archived.next !== undefined) page.next = ARCHIVE_CURSOR + archived.next;
  return page;
}

/** A job by id (from the state or the archive), without its lease token. */
export async function getJob(flags: ConnectionFlags, encodedId: string): Promise<ListedJob> {
  try {
    const reply = await restCall(flags, "GET", `/ui/api/jobs/${encodedId}`) as {
      job: JobView;
      archived: boolean;
    };
    return reply.archived ? { ...reply.job, archived: true } : reply.job;
  } catch (error) {
    if (!(error instanceof OsqueueError && error.code === "not_found")) throw error;
    // A broker without the operator routes: the REST record, minus the token.
    const job = await restCall(flags, "GET", `/v1/jobs/${encodedId}`) as JobView & {
      lease?: { token?: string };
    };
    if (job.lease !== undefined) delete job.lease.token;
    return job;
  }
}

/** A page of jobs as a table, with the paging hint. */
export function formatJobPage(page: JobPage, state: JobState, now: number): string {
  if (page.jobs.length === 0) {
    return `no ${state} jobs${page.next ? ` here; next page: --cursor ${page.next}` : ""}`;
  }
  const when = state === "delayed"
    ? "runs"
    : FINISHED.has(state)
    ? "finished"
    : state === "active"
    ? "started"
    : "created";
  const rows = page.jobs.map((job) => [
    job.id,
    job.type,
    job.state + (job.archived ? " (archived)" : ""),
    `${job.attempts}/${job.maxAttempts}`,
    job.priority,
    formatAgo(
      state === "delayed"
        ? job.runAt
        : FINISHED.has(state)
        ? job.finishedAt ?? job.updatedAt
        : state === "active"
        ? job.updatedAt
        : job.createdAt,
      now,
    ),
    state === "active"
      ? job.lease ? `${job.lease.workerId} (lease ${formatAgo(job.lease.expiresAt, now)})` : "-"
      : truncate(job.lastError ?? "", 60),
  ]);
  const lines = [
    table(
      [
        "id",
        "type",
        "state",
        { header: "attempts", right: true },
        { header: "priority", right: true },
        when,
        state === "active" ? "held by" : "last error",
      ],
      rows,
    ),
  ];
  const shown = `${page.jobs.length} shown${
    page.total === undefined ? "" : `, ${page.total} ${state} in the queue state`
  }`;
  lines.push(page.next === undefined ? shown : `${shown}; next page: --cursor ${page.next}`);
  return lines.join("\n");
}

/** One job, field by field, then its payload, error and result. */
export function formatJob(job: ListedJob, now: number): string {
  const fields: [string, string][] = [
    ["id", job.id],
    ["type", job.type],
    ["state", job.state + (job.archived ? " (archived)" : "")],
    ["attempts", `${job.attempts} of ${job.maxAttempts}`],
    ["priority", String(job.priority)],
    ["created", formatTime(job.createdAt, now)],
    ["runs at", formatTime(job.runAt, now)],
    ["updated", formatTime(job.updatedAt, now)],
  ];
  if (job.finishedAt !== undefined) fields.push(["finished", formatTime(job.finishedAt, now)]);
  if (job.lease !== undefined) {
    fields.push([
      "held by",
      `${job.lease.workerId}, lease expires ${formatTime(job.lease.expiresAt, now)}`,
    ]);
  }
  if (job.idempotencyKey !== undefined) fields.push(["idempotency key", job.idempotencyKey]);
  if (job.progress !== undefined) fields.push(["progress", JSON.stringify(job.progress)]);
  if (job.dependsOn !== undefined) fields.push(["depends on", job.dependsOn.join(", ")]);
  if (job.children !== undefined) fields.push(["children", job.children.join(", ")]);
  fields.push([
    "backoff",
    `${job.backoff.type} from ${formatDuration(job.backoff.delayMs)}`,
  ]);
  const width = Math.max(...fields.map(([k]) => k.length));
  const out = fields.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  if (job.lastError !== undefined) out.push("", "last error:", indent(job.lastError));
  out.push("", "payload:", indent(JSON.stringify(job.payload, null, 2)));
  if (job.result !== undefined) {
    out.push("", "result:", indent(JSON.stringify(job.result, null, 2)));
  }
  return out.join("\n");
}

function indent(text: string): string {
  return text.split("\n").map((line) => `  ${line}`).join("\n");
}

function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length <= max ? flat : flat.slice(0, max - 1) + "…";
}
