/**
 * The operations, replies and wire messages shared by brokers and clients,
 * and the payload schema contract ({@link https://standardschema.dev | Standard Schema}).
 * The zod schemas that validate incoming operations and frames are internal
 * to the broker and the server.
 *
 * @example Build an operation and its typed reply
 * ```ts
 * import type { OperationResult, PushOperation } from "@osqueue/osqueue/protocol";
 * import { LIMITS } from "@osqueue/osqueue/protocol";
 *
 * const push: PushOperation = { op: "push", jobs: [{ type: "email:send", payload: { to: "a@b.c" } }] };
 * type PushReply = OperationResult<PushOperation>; // { jobs: { id, duplicate }[] }
 * console.log(push.jobs.length <= LIMITS.maxPushBatch);
 * ```
 *
 * @module
 */
export {
  type BackoffPolicy,
  type CancelOperation,
  type ClaimedJob,
  type ClaimOperation,
  type CompleteOperation,
  type DeleteOperation,
  type FailOperation,
  type GetOperation,
  type HeartbeatOperation,
  type Job,
  type JobState,
  type JobView,
  type JsonValue,
  type Lease,
  LIMITS,
  type ListOperation,
  type Operation,
  type OperationResult,
  type OperationResults,
  type PromoteOperation,
  type PushJob,
  type PushOperation,
  type QueueLimits,
  type QueueLimitsStats,
  type QueueStats,
  type QueueTotals,
  type ReleaseOperation,
  type RetryOperation,
  type StatsOperation,
} from "./operations.ts";
export * from "./wire.ts";
export * from "./backend.ts";
export * from "./json_value.ts";
export * from "./payload_schema.ts";
