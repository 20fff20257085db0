/**
 * The network edge: WebSocket RPC with push delivery, REST, scoped
 * bearer-token auth and origin rules, served by `Deno.serve` over any `QueueBackend` (a `Broker`).
 *
 * @module
 */
export * from "./server.ts";
export { type DispatcherClock, systemClock } from "./dispatcher.ts";
export { httpStatusForCode } from "./rest.ts";
export {
  type Grant,
  parseTokensFile,
  TOKEN_ROLES,
  type TokenGrant,
  type TokenRole,
} from "./auth.ts";
