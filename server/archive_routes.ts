/**
 * The archive's operator routes: a job looked up in the state or else the
 * archive, a page of archived jobs, and an archived dead or cancelled job
 * pushed again as a new job.
 *
 * @module
 */
import { jobView } from "../core/admin.ts";
import { JobNotFoundError, NotFoundError, OsqueueError, ValidationError } from "../errors.ts";
import type { QueueBackend } from "../protocol/backend.ts";
import type { Job, JobView } from "../protocol/operations.ts";
import type { ArchiveSource } from "./operator_types.ts";
import { jsonResponse } from "./rest.ts";

/** Where the archive routes read jobs from. */
export interface ArchiveRouteSource {
  /** The broker. */
  backend: QueueBackend;
  /** The archive, when the broker has a reader for it. */
  archive: ArchiveSource | undefined;
  /** The time, epoch ms. */
  now: () => number;
}

/** A job by id: from the state, or else from the archive (`archived: true`). */
export async function findJob(
  source: ArchiveRouteSource,
  id: string,
): Promise<{ job: JobView; archived: boolean }> {
  const { backend, archive, now } = source;
  try {
    const { job, archived } = await backend.request({ op: "get", jobId: id });
    return { job: jobView(job, now()), archived: archived === true };
  } catch (error) {
    if (!(error instanceof OsqueueError) || error.code !== "job_not_found" || !archive) {
      throw error;
    }
    const found = await archive.find(id);
    if (found === undefined) throw error;
    return { job: jobView(found, now()), archived: true };
  }
}

/**
 * Pushes a copy of an archived dead or cancelled job (same type, payload,
 * priority, attempts and backoff) as a new job. The idempotency key
 * `requeue:<id>` keeps a double click from pushing it twice while the copy
 * is in the queue.
 */
export async function requeueArchived(
  source: ArchiveRouteSource,
  id: string,
): Promise<{ id: string; duplicate: boolean; from: string }> {
  const { backend, archive } = source;
  if (archive === undefined) {
    throw new NotFoundError("this broker has no archive reader");
  }
  const found = await archive.find(id);
  if (found === undefined) {
    throw new JobNotFoundError(`job ${JSON.stringify(id)} is not in the archive`);
  }
  if (found.state === "completed") {
    throw new ValidationError(
      `job ${JSON.stringify(id)} completed; only dead or cancelled jobs are requeued`,
    );
  }
  const { jobs } = await backend.request({
    op: "push",
    jobs: [{
      type: found.type,
      payload: found.payload,
      priority: found.priority,
      maxAttempts: found.maxAttempts,
      backoff: found.backoff,
      idempotencyKey: `requeue:${found.id}`,
    }],
  });
  return { ...jobs[0], from: found.id };
}

/** `GET /v1/archive?state=&type=&from=&to=&cursor=&limit=`: one page of archived jobs, newest first. */
export async function listArchived(source: ArchiveRouteSource, url: URL): Promise<Response> {
  const { archive, now } = source;
  if (archive === undefined) {
    throw new NotFoundError("this broker has no archive reader");
  }
  const params = url.searchParams;
  const text = (name: string) => {
    const value = params.get(name);
    return value === null || value === "" ? undefined : value;
  };
  const number = (name: string) => {
    const value = text(name);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isFinite(n)) throw new ValidationError(`${name} must be a number`);
    return n;
  };
  const state = text("state");
  if (state !== undefined && !["completed", "dead", "cancelled"].includes(state)) {
    throw new ValidationError("state must be completed, dead or cancelled");
  }
  const page = await archive.list({
    state: state as Job["state"] | undefined,
    type: text("type"),
    from: number("from"),
    to: number("to"),
    cursor: text("cursor"),
    limit: number("limit"),
  });
  return jsonResponse({ ...page, jobs: page.jobs.map((j) => jobView(j, now())) });
}
