/**
 * The worker side of osqueue: a WebSocket {@linkcode OsqueueClient}, a typed
 * job registry with producers ({@linkcode defineJobs}, {@linkcode createProducer})
 * and the {@linkcode Worker} runtime. Web-standard APIs only: runs in browsers,
 * Deno, Deno Deploy, Node and Bun. The typed errors and the protocol types
 * the client uses are re-exported, so this entry point is self-sufficient.
 *
 * @module
 */
export * from "./client.ts";
export * from "./registry.ts";
export * from "./worker.ts";
export * from "../errors.ts";
export type {
  BackoffPolicy,
  CancelOperation,
  ClaimedJob,
  ClaimOperation,
  CompleteOperation,
  FailOperation,
  GetOperation,
  HeartbeatOperation,
  Job,
  JobState,
  JsonValue,
  Lease,
  Operation,
  OperationResult,
  OperationResults,
  PushJob,
  PushOperation,
  QueueStats,
  ReleaseOperation,
  StatsOperation,
} from "../protocol/operations.ts";
export type { SubscribeParams } from "../protocol/wire.ts";
