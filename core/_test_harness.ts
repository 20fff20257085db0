/**
 * Test helper for the per-operation tests of `applyBatch` (`push_test.ts`,
 * `leases_test.ts`, `settle_test.ts`, `reads_test.ts`, `apply_test.ts`): a
 * state with a settable clock, deterministic tokens and randomness.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { OsqueueError } from "../errors.ts";
import type { ClaimedJob, JobView, PushJob, QueueStats } from "../protocol/operations.ts";
import {
  applyBatch,
  type ApplyContext,
  type BatchResult,
  type BrokerOperation,
  type OperationReply,
} from "./apply.ts";
import { createState, type QueueState } from "./state.ts";

/** The clock at the start of each test. */
export const T0 = 1_700_000_000_000;
/** The default lease, ms. */
export const LEASE = 30_000;

/** A queue under test: a state, a clock, deterministic tokens and randomness. */
export class Harness {
  state: QueueState = createState();
  now = T0;
  tokens = 0;
  randomValue = 0.5;

  context(): ApplyContext {
    return {
      now: this.now,
      defaultLeaseMs: LEASE,
      newToken: () => `token-${++this.tokens}`,
      random: () => this.randomValue,
    };
  }

  /** Applies a batch and keeps its state. */
  batch(operations: BrokerOperation[]): BatchResult {
    const result = applyBatch(this.state, operations, this.context());
    assert.equal(result.replies.length, operations.length);
    this.state = result.state;
    return result;
  }

  /** Applies one operation and returns its value (asserting success). */
  ok<T = unknown>(operation: BrokerOperation): T {
    return value<T>(this.batch([operation]).replies[0]);
  }

  /** Applies one operation and returns its error (asserting failure). */
  fails(operation: BrokerOperation): OsqueueError {
    return failure(this.batch([operation]).replies[0]);
  }

  push(...jobs: PushJob[]): string[] {
    return this.ok<{ jobs: { id: string }[] }>({ op: "push", jobs }).jobs.map((j) => j.id);
  }

  claim(options: { types?: string[]; max?: number; leaseMs?: number } = {}): ClaimedJob[] {
    return this.ok<{ jobs: ClaimedJob[] }>({ op: "claim", workerId: "w1", ...options }).jobs;
  }

  claimIds(options: { types?: string[]; max?: number } = {}): string[] {
    return this.claim(options).map((job) => job.id);
  }

  get(id: string): JobView {
    return this.ok<{ job: JobView }>({ op: "get", jobId: id }).job;
  }

  stats(): QueueStats {
    return this.ok<QueueStats>({ op: "stats" });
  }
}

/** The value of a reply that must be a success. */
export function value<T>(reply: OperationReply): T {
  if (!reply.ok) {
    throw new Error(`expected success, got ${reply.error.code}: ${reply.error.message}`);
  }
  return reply.value as T;
}

/** The error of a reply that must be a failure. */
export function failure(reply: OperationReply): OsqueueError {
  if (reply.ok) throw new Error(`expected an error, got ${JSON.stringify(reply.value)}`);
  return reply.error;
}

/** A push spec of `type` with a null payload. */
export const job = (type = "t", extra: Partial<PushJob> = {}): PushJob => ({
  type,
  payload: null,
  ...extra,
});
