/**
 * The operations only the broker sends to `applyBatch` (lease expiry,
 * archived jobs, due schedules), and the union of every operation it
 * accepts with their replies.
 *
 * @module
 */
import type { Operation, OperationResults } from "../protocol/operations.ts";

/** Broker-internal: move every job whose lease ran out back to ready, or to dead after its last attempt. */
export interface ExpireOperation {
  /** The operation tag. */
  op: "expire";
}

/** Broker-internal: drop finished jobs that were archived (and free their idempotency keys). */
export interface ArchivedOperation {
  /** The operation tag. */
  op: "archived";
  /** Ids of archived jobs; ids of unknown or unfinished jobs are ignored. */
  ids: string[];
}

/** Broker-internal: push the jobs of every schedule due now and advance them (see `schedules.ts`). */
export interface RunSchedulesOperation {
  /** The operation tag. */
  op: "run-schedules";
}

/** Every operation `applyBatch` accepts: the clients' and the broker's own. */
export type BrokerOperation =
  | Operation
  | ExpireOperation
  | ArchivedOperation
  | RunSchedulesOperation;

/** The reply value of each {@linkcode BrokerOperation}, by `op`. */
export interface BrokerOperationResults extends OperationResults {
  /** How many leases ran out. */
  expire: { expired: number };
  /** How many jobs were dropped. */
  archived: { removed: number };
  /** The ids of the jobs the due schedules pushed. */
  "run-schedules": { pushed: string[] };
}
