/**
 * {@linkcode prepareJob}: what a delivered job needs before its handler runs —
 * the handler for its type, and its payload checked by the job registry —
 * or why it fails at once.
 *
 * @module
 */
import { InvalidError } from "../errors.ts";
import type { ClaimedJob } from "../protocol/operations.ts";
import type { JobRegistry, JobSchemas, JobType } from "./registry.ts";
import { messageOf } from "./settler.ts";
import type { AnyHandler } from "./worker_options.ts";

/** A job ready to run, or the failure it gets instead. */
export type PreparedJob =
  | { ok: true; handler: AnyHandler; payload: unknown }
  | {
    ok: false;
    /** What went wrong (for the `onJobFail` hook). */
    error: unknown;
    /** The failure message sent to the broker. */
    message: string;
    /** Whether the failure may be retried (an invalid payload may not). */
    retry: boolean;
  };

/** Options of {@linkcode prepareJob}. */
export interface PrepareJobOptions<S extends JobSchemas> {
  /** The worker's handlers by job type. */
  handlers: Map<string, AnyHandler>;
  /** Payload schemas, when the worker has them. */
  registry?: JobRegistry<S>;
  /** The worker's name, for the message of a job without a handler. */
  workerId: string;
}

/** Finds `job`'s handler and parses its payload with the registry (when there is one). */
export function prepareJob<S extends JobSchemas>(
  job: ClaimedJob,
  options: PrepareJobOptions<S>,
): PreparedJob {
  const handler = options.handlers.get(job.type);
  if (handler === undefined) {
    const message = `worker ${options.workerId} has no handler for job type "${job.type}"`;
    return { ok: false, error: new InvalidError(message), message, retry: true };
  }
  if (options.registry === undefined) return { ok: true, handler, payload: job.payload };
  try {
    return {
      ok: true,
      handler,
      payload: options.registry.parse(job.type as JobType<S>, job.payload),
    };
  } catch (error) {
    return { ok: false, error, message: messageOf(error), retry: false };
  }
}
