/**
 * Job events: what happened to jobs in one commit, derived purely from the
 * state before and after it and the jobs it changed. A job that completed,
 * failed an attempt (to be retried), died, was cancelled or reported
 * progress yields one event; the broker hands them to watchers (the
 * WebSocket `watch` method) after the commit has landed.
 *
 * @module
 */
import type { Job } from "../protocol/operations.ts";
import type { JobEvent } from "../protocol/backend.ts";
import type { QueueState } from "./state.ts";
import { stateData } from "./state_data.ts";
import type { JobChange } from "./state_draft.ts";

/** What happened to a job. */
export type JobEventKind = JobEvent["event"];

export type { JobEvent };

/** The events of one commit, given the state before and after it and the jobs it changed. */
export function jobEvents(
  before: QueueState,
  after: QueueState,
  changes: ReadonlyMap<number, JobChange>,
): JobEvent[] {
  const old = stateData(before).jobs;
  const now = stateData(after).jobs;
  const out: JobEvent[] = [];
  for (const seq of changes.keys()) {
    const previous = old.get(seq);
    const job = now.get(seq);
    if (previous === undefined || job === undefined) continue;
    const event = eventOf(previous, job);
    if (event !== undefined) out.push(event);
  }
  return out;
}

function eventOf(previous: Job, job: Job): JobEvent | undefined {
  const base = { id: job.id, type: job.type, at: job.updatedAt, attempt: job.attempts };
  if (job.state !== previous.state) {
    switch (job.state) {
      case "completed":
        return job.result === undefined
          ? { ...base, event: "completed" }
          : { ...base, event: "completed", result: job.result };
      case "dead":
        return { ...base, event: "dead", error: job.lastError ?? "dead" };
      case "cancelled":
        return { ...base, event: "cancelled" };
    }
    const failed = previous.state === "active" &&
      (job.state === "ready" || job.state === "delayed") &&
      job.attempts === previous.attempts && job.lastError !== previous.lastError;
    if (failed) {
      return { ...base, event: "failed", error: job.lastError ?? "failed", runAt: job.runAt };
    }
  }
  if (job.progress !== previous.progress && job.progress !== undefined) {
    return { ...base, event: "progress", progress: job.progress };
  }
  return undefined;
}
