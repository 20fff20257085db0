/**
 * The network edge: WebSocket RPC with push delivery, REST, scoped
 * bearer-token auth and origin rules, served by `Deno.serve` over any `QueueBackend` (a `Broker`).
 *
 * @example Serve a broker to remote workers
 * ```ts
 * import { Broker } from "@osqueue/osqueue/broker";
 * import { serveBroker } from "@osqueue/osqueue/server";
 * import { DirectoryStore } from "@osqueue/osqueue/storage";
 *
 * const broker = new Broker({ store: new DirectoryStore({ root: "./data" }) });
 * await broker.start();
 * const server = serveBroker({ backend: broker, port: 8080, token: Deno.env.get("OSQUEUE_TOKEN") });
 * console.log(`workers connect to ${server.url}`);
 * ```
 *
 * @module
 */
export * from "./server.ts";
export * from "./in_process_client.ts";
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
export {
  type Grant,
  parseTokensFile,
  TOKEN_ROLES,
  type TokenGrant,
  type TokenRole,
} from "./auth.ts";
