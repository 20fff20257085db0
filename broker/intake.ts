/**
 * What every broker kind (the leader-elected `Broker`, the `ServerlessBroker`)
 * does the same way around a tick: check an operation once, queue it as a
 * pending request that its caller may abandon, gather the housekeeping
 * operations that are due, and turn a failed tick into an error for everyone.
 *
 * @module
 */
import { InternalError, OsqueueError } from "../errors.ts";
import type { Mailbox } from "../actors/mailbox.ts";
import { parseOperation } from "../protocol/operation_schema.ts";
import type { Operation } from "../protocol/operations.ts";
import type { RequestOptions } from "../protocol/backend.ts";
import type { BrokerOperation } from "../core/apply.ts";
import { nextScheduleAt } from "../core/schedules.ts";
import type { QueueState } from "../core/state.ts";
import type { Archiver } from "./archiver.ts";
import type { ParkedClaims, Pending } from "./parked_claims.ts";

/**
 * `operation` as it is when the edge says it already parsed it
 * (`options.validated`), else parsed here by the edge's own
 * {@linkcode parseOperation} (a fresh copy, or a `ValidationError` in the one
 * issue format).
 */
export function trustedOperation(operation: Operation, options: RequestOptions): Operation {
  return options.validated === true ? operation : parseOperation(operation);
}

/**
 * Posts `operation` to the mailbox and resolves with its reply. A caller
 * whose signal aborts while the request is still queued or parked gets the
 * signal's reason (a request already in a commit completes).
 */
export function enqueue(
  options: {
    mailbox: Mailbox<Pending>;
    parked: ParkedClaims;
    operation: Operation;
    signal?: AbortSignal;
  },
): Promise<unknown> {
  const { mailbox, parked, operation, signal } = options;
  return new Promise<unknown>((resolve, reject) => {
    const pending: Pending = { operation, resolve, reject };
    if (signal !== undefined) {
      if (signal.aborted) return reject(signal.reason);
      pending.signal = signal;
      signal.addEventListener("abort", () => {
        if (!parked.remove(pending) && !mailbox.remove(pending)) return; // in a batch: it completes
        pending.reject(signal.reason);
      }, { once: true });
    }
    mailbox.post(pending);
  });
}

/**
 * The broker's own operations due at `now`: lease expiry (when `expireDue`),
 * archiving of finished jobs, schedules that came due.
 */
export function housekeeping(
  options: { state: QueueState; now: number; expireDue: boolean; archiver: Archiver },
): { operations: BrokerOperation[]; archiveIds: string[] } {
  const { state, now } = options;
  const operations: BrokerOperation[] = [];
  if (options.expireDue) operations.push({ op: "expire" });
  const archiveIds = options.archiver.select(state, now);
  if (archiveIds.length > 0) operations.push({ op: "archived", ids: archiveIds });
  const scheduleAt = nextScheduleAt((key) => state.extra[key]);
  if (scheduleAt !== undefined && scheduleAt <= now) operations.push({ op: "run-schedules" });
  return { operations, archiveIds };
}

/** What a tick that threw answers to everyone in it: the error itself, or `internal`. */
export function tickError(thrown: unknown): OsqueueError {
  return thrown instanceof OsqueueError
    ? thrown
    : new InternalError(`broker tick failed: ${String(thrown)}`, { cause: thrown });
}
