/**
 * Schedules: named recurring pushes (`cron` with an optional IANA
 * `timezone`, or `everyMs`), kept in the state's `extra` under
 * {@linkcode SCHEDULES_KEY} with each schedule's next run time. The broker
 * applies a `schedules` housekeeping operation in its tick when one is due
 * ({@linkcode nextScheduleAt}); that operation pushes the jobs and advances
 * the schedules in the same batch, so one commit holds both: exactly one job
 * per due time, even across a failover or a restart.
 *
 * Runs missed while no broker ran (or while the queue refused pushes) follow
 * the schedule's `missed` policy:
 * - `skip` (default): only a run due at most {@linkcode SKIP_GRACE_MS} ago
 *   is pushed; older ones are dropped.
 * - `runOnce`: one job for all the missed runs (the latest).
 * - `catchUp`: one job per missed run, at most `maxCatchUp` (default 100,
 *   the latest ones).
 *
 * Cron expressions are parsed by `croner` (npm, zero dependencies, 5 to 7
 * fields, IANA time zones via `Intl`): evaluating one is a pure function of
 * the expression, the zone and a time.
 *
 * @module
 */
import { Cron } from "croner";
import { ValidationError } from "../errors.ts";
import type {
  JsonValue,
  OperationResults,
  PushJob,
  ScheduleOperation,
  ScheduleView,
} from "../protocol/operations.ts";
import { isObject } from "./job_codec.ts";
import type { StateDraft } from "./state_draft.ts";

/** `extra` key of the schedules (`{[name]: StoredSchedule}`). */
export const SCHEDULES_KEY = "schedules";
/** With `missed: "skip"`, a run due longer ago than this is dropped, ms. */
export const SKIP_GRACE_MS = 60_000;
/** Default cap of the runs a `catchUp` schedule pushes at once. */
export const DEFAULT_MAX_CATCH_UP = 100;
/**
 * Most schedules a queue holds. The schedules live in the state's `extra`,
 * which a log record carries whole whenever it changes (each run): both
 * limits keep that small (at most 64 × 4 KB).
 */
export const MAX_SCHEDULES = 64;
/** Largest schedule (with its job's payload) as JSON, bytes. */
export const MAX_SCHEDULE_BYTES = 4 * 1024;

/** The next time after `after` (exclusive) a schedule runs; `undefined` when never again. */
export function nextRunAfter(
  spec: Pick<ScheduleView, "cron" | "everyMs" | "timezone">,
  after: number,
): number | undefined {
  if (spec.everyMs !== undefined) return after + spec.everyMs;
  const cron = new Cron(spec.cron!, spec.timezone === undefined ? {} : { timezone: spec.timezone });
  return cron.nextRun(new Date(after))?.getTime();
}

/** The schedules the state holds, by name. */
export function readSchedules(
  extra: (key: string) => JsonValue | undefined,
): Record<string, ScheduleView> {
  const raw = extra(SCHEDULES_KEY);
  return isObject(raw) ? raw as unknown as Record<string, ScheduleView> : {};
}

/** The earliest `nextRunAt` among the schedules; `undefined` when none. */
export function nextScheduleAt(extra: (key: string) => JsonValue | undefined): number | undefined {
  let best: number | undefined;
  for (const schedule of Object.values(readSchedules(extra))) {
    const at = schedule.nextRunAt;
    if (at !== undefined && (best === undefined || at < best)) best = at;
  }
  return best;
}

/** Creates or replaces the schedule `operation.name`; its first run is the next due time after `now`. */
export function setSchedule(
  draft: StateDraft,
  operation: ScheduleOperation,
  now: number,
): OperationResults["schedule"] {
  const { name, cron, everyMs, timezone, job, missed, maxCatchUp } = operation;
  const bad = (what: string): never => {
    throw new ValidationError(`schedule ${JSON.stringify(name)}: ${what}`);
  };
  if (typeof name !== "string" || name === "") bad("name must be a non-empty string");
  if ((cron === undefined) === (everyMs === undefined)) bad("give exactly one of cron and everyMs");
  if (everyMs !== undefined && !(Number.isSafeInteger(everyMs) && everyMs >= 1000)) {
    bad("everyMs must be an integer >= 1000");
  }
  if (timezone !== undefined && cron === undefined) bad("timezone needs cron");
  if (!isObject(job) || typeof job.type !== "string" || job.type === "") {
    bad("job must be a push job with a type");
  }
  if (job.dependsOn !== undefined || job.delayMs !== undefined || job.runAt !== undefined) {
    bad("the job cannot have dependsOn, delayMs or runAt");
  }
  if (missed !== undefined && !["skip", "runOnce", "catchUp"].includes(missed)) {
    bad("missed must be skip, runOnce or catchUp");
  }
  if (maxCatchUp !== undefined && !(Number.isSafeInteger(maxCatchUp) && maxCatchUp >= 1)) {
    bad("maxCatchUp must be an integer >= 1");
  }
  const view: ScheduleView = { name, job };
  if (cron !== undefined) view.cron = cron;
  if (everyMs !== undefined) view.everyMs = everyMs;
  if (timezone !== undefined) view.timezone = timezone;
  if (missed !== undefined) view.missed = missed;
  if (maxCatchUp !== undefined) view.maxCatchUp = maxCatchUp;
  let next: number | undefined;
  try {
    next = nextRunAfter(view, now);
  } catch (error) {
    bad(`bad cron or timezone: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (next === undefined) bad("the cron expression never runs");
  view.nextRunAt = next;
  const all = { ...readSchedules((key) => draft.extra(key)) };
  if (!(name in all) && Object.keys(all).length >= MAX_SCHEDULES) {
    bad(`a queue holds at most ${MAX_SCHEDULES} schedules`);
  }
  if (new TextEncoder().encode(JSON.stringify(view)).length > MAX_SCHEDULE_BYTES) {
    bad(`larger than ${MAX_SCHEDULE_BYTES} bytes as JSON (keep the payload small)`);
  }
  all[name] = view;
  draft.setExtra(SCHEDULES_KEY, all as unknown as JsonValue);
  return { schedule: view };
}

/** Removes the schedule `name` and replies with it as it was; `removed: false` when there was none. */
export function removeSchedule(draft: StateDraft, name: string): OperationResults["unschedule"] {
  const all = { ...readSchedules((key) => draft.extra(key)) };
  if (!(name in all)) return { removed: false };
  const schedule = all[name];
  delete all[name];
  draft.setExtra(
    SCHEDULES_KEY,
    Object.keys(all).length === 0 ? undefined : all as unknown as JsonValue,
  );
  return { removed: true, schedule };
}

/** Every schedule, by name. */
export function listSchedules(draft: StateDraft): OperationResults["schedules"] {
  const all = readSchedules((key) => draft.extra(key));
  return { schedules: Object.keys(all).sort().map((name) => all[name]) };
}

/**
 * Runs every schedule due at `now`: pushes its jobs (as its `missed` policy
 * says) through `push`, and advances its `nextRunAt` past `now`, in the same
 * draft. A push refused (e.g. `overloaded`) loses those runs and is recorded
 * in the schedule's `lastError`. Replies with the ids pushed.
 */
export function runSchedules(
  draft: StateDraft,
  now: number,
  push: (jobs: PushJob[]) => { jobs: { id: string }[] },
): { pushed: string[] } {
  const all = readSchedules((key) => draft.extra(key));
  const pushed: string[] = [];
  let next: Record<string, ScheduleView> | undefined;
  for (const name of Object.keys(all).sort()) {
    const schedule = all[name];
    if (schedule.nextRunAt === undefined || schedule.nextRunAt > now) continue;
    const due = dueTimes(schedule, now);
    const updated: ScheduleView = { ...schedule };
    const runs = pick(schedule, due.times, now);
    if (runs.length > 0) {
      try {
        const reply = push(runs.map(() => ({ ...schedule.job })));
        for (const job of reply.jobs) pushed.push(job.id);
        updated.lastRunAt = runs[runs.length - 1];
        delete updated.lastError;
      } catch (error) {
        updated.lastError = `runs at ${runs.map((t) => new Date(t).toISOString()).join(", ")}: ${
          error instanceof Error ? error.message : String(error)
        }`.slice(0, 1000);
      }
    }
    if (due.next === undefined) delete updated.nextRunAt;
    else updated.nextRunAt = due.next;
    next ??= { ...all };
    next[name] = updated;
  }
  if (next !== undefined) draft.setExtra(SCHEDULES_KEY, next as unknown as JsonValue);
  return { pushed };
}

/** The due times of `schedule` up to `now` (the latest `limit` of them), and the next one after `now`. */
function dueTimes(schedule: ScheduleView, now: number): { times: number[]; next?: number } {
  const limit = schedule.missed === "catchUp" ? schedule.maxCatchUp ?? DEFAULT_MAX_CATCH_UP : 1;
  if (schedule.everyMs !== undefined) {
    // Arithmetic, not a walk: a long outage with a short interval stays cheap.
    const first = schedule.nextRunAt!;
    const count = Math.floor((now - first) / schedule.everyMs) + 1;
    const latest = first + (count - 1) * schedule.everyMs;
    const times: number[] = [];
    for (let k = Math.max(0, count - limit); k < count; k++) {
      times.push(first + k * schedule.everyMs);
    }
    return { times, next: latest + schedule.everyMs };
  }
  const times: number[] = [];
  let t: number | undefined = schedule.nextRunAt!;
  // A cron walk, bounded: past 10 000 missed runs only the latest `limit` are kept anyway.
  for (let steps = 0; t !== undefined && t <= now && steps < 10_000; steps++) {
    times.push(t);
    if (times.length > limit) times.shift();
    t = nextRunAfter(schedule, t);
  }
  if (t !== undefined && t <= now) t = nextRunAfter(schedule, now);
  return t === undefined ? { times } : { times, next: t };
}

/** The runs to push among the due `times` (oldest first), per the schedule's `missed` policy. */
function pick(schedule: ScheduleView, times: number[], now: number): number[] {
  if (times.length === 0) return [];
  switch (schedule.missed ?? "skip") {
    case "catchUp":
      return times;
    case "runOnce":
      return [times[times.length - 1]];
    default: {
      const latest = times[times.length - 1];
      return now - latest <= SKIP_GRACE_MS ? [latest] : [];
    }
  }
}
