/**
 * The network edge: WebSocket RPC with push delivery, REST, and bearer-token
 * auth, served by `Deno.serve` over any `QueueBackend` (a `Broker`).
 *
 * @module
 */
export * from "./server.ts";
export { type DispatcherClock, systemClock } from "./dispatcher.ts";
export { httpStatusForCode } from "./rest.ts";
export * from "./metrics.ts";
export * from "./metrics_history.ts";
export type {
  ArchiveSource,
  ConnectionInfo,
  ObservedBroker,
  OperatorOptions,
  Overview,
} from "./operator.ts";
export * from "./otel.ts";
