/**
 * The broker's network server on `Deno.serve`: WebSocket JSON-RPC on `/ws`
 * (request/reply plus credit-based push delivery, see `protocol/wire.ts`),
 * the REST API under `/v1` and `/healthz` (see `rest.ts`), optional scoped
 * bearer tokens (see `auth.ts`), and origin, host and CORS rules for browsers
 * (see `access.ts`). It talks to the broker only through a `QueueBackend`.
 *
 * ```ts ignore
 * const server = serveBroker({ backend, port: 0, token: Deno.env.get("OSQUEUE_TOKEN") });
 * console.log(`listening on ${server.url}`);
 * await server.shutdown();
 * ```
 *
 * @module
 */
import { systemClock } from "../clock.ts";
import { isLoopbackAddress } from "./access.ts";
import { type BrokerHandlerOptions, createBrokerHandler } from "./broker_handler.ts";
import { CLOSE_GRACE_MS, withDeadline } from "./deadline.ts";

export * from "./broker_handler.ts";

/** Port {@linkcode serveBroker} listens on when none is given. */
export const DEFAULT_BROKER_PORT = 7420;

/** Options of {@linkcode serveBroker}. */
export interface ServeBrokerOptions extends BrokerHandlerOptions {
  /** Interface to listen on (default `127.0.0.1`; use `0.0.0.0` to listen on all). */
  hostname?: string;
  /** Port to listen on; 0 picks a free one (default {@linkcode DEFAULT_BROKER_PORT}). */
  port?: number;
  /** Called once the server listens. */
  onListen?: (info: { url: string; addr: Deno.NetAddr }) => void;
  /** Aborting it shuts the server down (like {@linkcode BrokerServer.shutdown}). */
  signal?: AbortSignal;
}

/** A running broker server. */
export interface BrokerServer {
  /** Base URL clients use, e.g. `http://127.0.0.1:7420` (WebSocket endpoint: `${url}/ws` with `ws:`). */
  readonly url: string;
  /** The address it listens on. */
  readonly addr: Deno.NetAddr;
  /** WebSocket connections open now. */
  readonly connections: number;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
  /**
   * Stops taking requests and waits (bounded) for those in flight to be
   * answered, sockets left open; see {@linkcode BrokerHandler.drain}. Stop the
   * broker after this, then call {@linkcode BrokerServer.shutdown}. Idempotent.
   */
  drain(): Promise<void>;
  /**
   * Drains, closes every socket and stops listening; resolves when done.
   * Every wait has a deadline. Idempotent.
   */
  shutdown(): Promise<void>;
}

/** The `http://host:port` URL for a listening address (wildcards become loopback). */
export function urlForAddr(addr: Deno.NetAddr): string {
  let host = addr.hostname;
  if (host === "0.0.0.0") host = "127.0.0.1";
  else if (host === "::") host = "::1";
  if (host.includes(":")) host = `[${host}]`;
  return `http://${host}:${addr.port}`;
}

/** Starts the broker server on `Deno.serve` (see the module doc for the routes). */
export function serveBroker(options: ServeBrokerOptions): BrokerServer {
  const hostname = options.hostname ?? "127.0.0.1";
  const handler = createBrokerHandler({
    ...options,
    ...(isLoopbackAddress(hostname)
      ? { allowHosts: ["loopback", ...(options.allowHosts ?? [])] }
      : {}),
  });
  const server = Deno.serve({
    hostname,
    port: options.port ?? DEFAULT_BROKER_PORT,
    onListen: (addr) => options.onListen?.({ url: urlForAddr(addr), addr }),
  }, (request) => handler.fetch(request));
  const addr = server.addr;
  const url = urlForAddr(addr);
  options.log?.(`broker server listening on ${url}`);

  const clock = options.clock ?? systemClock;
  const log = options.log ?? (() => {});
  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      await handler.close();
      // Deno's graceful shutdown waits for HTTP requests in flight: bounded.
      await withDeadline(server.shutdown(), CLOSE_GRACE_MS, "the listener to stop", clock, log);
    })();
    return stopping;
  };
  const onAbort = () => void shutdown();
  if (options.signal !== undefined) {
    if (options.signal.aborted) onAbort();
    else options.signal.addEventListener("abort", onAbort, { once: true });
  }
  const finished = server.finished.finally(() => {
    options.signal?.removeEventListener("abort", onAbort);
  });

  return {
    url,
    addr,
    get connections(): number {
      return handler.connections;
    },
    finished,
    drain: () => handler.drain(),
    shutdown: async () => {
      await shutdown();
      await withDeadline(finished, CLOSE_GRACE_MS, "the server to finish", clock, log);
    },
  };
}
