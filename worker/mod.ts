/**
 * The worker side of osqueue: a WebSocket {@linkcode OsqueueClient}, a typed
 * job registry with producers ({@linkcode defineJobs}, {@linkcode createProducer})
 * and the {@linkcode Worker} runtime. Web-standard APIs only: runs in browsers,
 * Deno, Deno Deploy, Node and Bun. The typed errors and the protocol types
 * the client uses are re-exported, so this entry point is self-sufficient.
 *
 * @example A typed producer and worker (zod here; any Standard Schema works)
 * ```ts
 * import { z } from "zod";
 * import { connectClient, createProducer, defineJobs, Worker } from "@osqueue/osqueue/worker";
 *
 * const jobs = defineJobs({ "email:send": z.object({ to: z.email() }) });
 * const client = connectClient({ url: "http://127.0.0.1:8080", token: "secret" });
 * await createProducer(client, jobs).submit("email:send", { to: "a@example.com" });
 * const worker = new Worker({
 *   client,
 *   workerId: "w1",
 *   registry: jobs,
 *   handlers: { "email:send": (job) => ({ sentTo: job.payload.to }) },
 * });
 * await worker.start();
 * ```
 *
 * @module
 */
export { connectClient, OsqueueClient } from "./client.ts";
export type {
  ClaimOptions,
  ClientOptions,
  DeliveryHandler,
  FailOptions,
  ReconnectOptions,
  Timers,
  WebSocketConstructor,
} from "./client_options.ts";
export type { HeartbeatLoopOptions } from "./heartbeat_loop.ts";
export * from "./job_handle.ts";
export * from "./registry.ts";
export * from "./worker.ts";
export type {
  HandlersFor,
  JobContext,
  JobHandler,
  LogLevel,
  UntypedSchemas,
  WorkerClient,
  WorkerHooks,
  WorkerLog,
  WorkerOptions,
  WorkerState,
  WorkerStopOptions,
} from "./worker_options.ts";
export * from "./shutdown_handler.ts";
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
export type { SubscribeParams, WatchParams } from "../protocol/wire.ts";
export type { JobEvent } from "../protocol/backend.ts";
