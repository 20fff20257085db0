/**
 * The broker's request handler, without listening: routes `/ws` upgrades to
 * an `RpcSession` per socket (see `ws_connection.ts`), the operator
 * routes (see `operator.ts`) and the REST API (see `rest.ts`), under the
 * origin, host and CORS rules of `access.ts`; and drains and closes them all
 * at shutdown, every wait bounded.
 *
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";
import { BadRequestError, MethodNotAllowedError, ShuttingDownError } from "../errors.ts";
import type { QueueBackend } from "../protocol/backend.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "../protocol/wire.ts";
import { createAccessPolicy } from "./access.ts";
import { type Authenticator, createAuthenticator, type TokenGrant } from "./auth.ts";
import { CLOSE_GRACE_MS, withDeadline } from "./deadline.ts";
import { createRestHandler, errorResponse } from "./rest.ts";
import { createOperatorRoutes, type OperatorOptions } from "./operator.ts";
import { type Connection, upgradeToRpc } from "./ws_connection.ts";

/** WebSocket close code sent to clients when the server shuts down. */
export const CLOSE_GOING_AWAY = 1001;

/** Default longest wait for in-flight requests at shutdown, ms. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

/** Options of {@linkcode createBrokerHandler}. */
export interface BrokerHandlerOptions {
  /** The broker the server talks to. */
  backend: QueueBackend;
  /**
   * An `admin` token (shorthand for one `tokens` entry). When any token is
   * set, WebSocket clients authenticate with `Authorization: Bearer <token>`
   * on the upgrade or a first `hello {token}`, and REST calls under `/v1`
   * need the bearer header.
   */
  token?: string;
  /** Scoped tokens: `producer`, `worker` (optionally limited to job types) or `admin` (see `auth.ts`). */
  tokens?: readonly TokenGrant[];
  /**
   * Origins of web pages allowed to use the broker besides its own (WebSocket
   * upgrades and CORS for REST), e.g. `https://app.example.com`; `"*"` allows
   * any. Default none: requests carrying a foreign `Origin` get 403.
   */
  allowOrigins?: readonly string[];
  /**
   * Accepted `Host` names (no port); `"loopback"` stands for `localhost`,
   * `127.x.x.x` and `[::1]`, `"*"` for any. Others get 403 (DNS rebinding).
   * Default: any host, except that {@linkcode serveBroker} listening on a
   * loopback address adds `"loopback"` to the list (so a proxy's public name
   * must be listed to be accepted).
   */
  allowHosts?: readonly string[];
  /** Largest WebSocket frame accepted, bytes (default `DEFAULT_MAX_FRAME_BYTES`). */
  maxFrameBytes?: number;
  /** Largest REST body accepted, bytes (default: `maxFrameBytes`). */
  maxBodyBytes?: number;
  /**
   * Outbound bytes a WebSocket may have unread (`bufferedAmount`) before jobs
   * stop being pushed to it (default 1 MiB): deliveries go only to consumers
   * that keep up.
   */
  pauseDeliveryBytes?: number;
  /**
   * Outbound bytes a WebSocket may have unread before it is closed (1013)
   * instead of being sent more (default 16 MiB). Its leased jobs come back by
   * release or lease expiry.
   */
  maxBufferedBytes?: number;
  /** Most requests in flight per WebSocket connection; more get `overloaded` (default 1000). */
  maxPendingPerConnection?: number;
  /** Time an unauthenticated WebSocket may stay open, ms (default 10 000). */
  authTimeoutMs?: number;
  /** Rejected requests before an unauthenticated WebSocket is closed with 1008 (default 3). */
  maxAuthFailures?: number;
  /** How long push-delivery claims park in the broker, ms (default 25 000). */
  claimWaitMs?: number;
  /** Seconds without a pong before Deno drops a WebSocket (Deno's `idleTimeout`, default Deno's). */
  idleTimeoutSeconds?: number;
  /**
   * Longest wait, at shutdown, for requests already taken to be answered (and
   * for aborted claims to settle), ms (default {@linkcode DEFAULT_DRAIN_TIMEOUT_MS}).
   */
  drainTimeoutMs?: number;
  /** Clock and timers for push delivery, auth timeouts and the shutdown grace period (tests). */
  clock?: Clock;
  /** Log sink for connection events and unexpected errors (default: silent). */
  log?: (line: string) => void;
  /** Serve the dashboard (`/ui`), `/metrics` and `/v1/archive` for this broker (see `operator.ts`). */
  operator?: OperatorOptions;
}

/** A mountable request handler for `Deno.serve` (or any router that hands over Deno `Request`s). */
export interface BrokerHandler {
  /** Handles one request: `/ws` upgrades, REST routes, 404 otherwise. */
  fetch(request: Request): Promise<Response>;
  /** WebSocket connections open now. */
  readonly connections: number;
  /**
   * First step of a graceful shutdown: new requests (HTTP, and on open
   * WebSockets) get `shutting_down`, parked claims are aborted, and requests
   * already taken run on until answered; resolves once they were (or after
   * `drainTimeoutMs`). Sockets stay open so the replies reach the clients;
   * stop the broker after this, then {@linkcode BrokerHandler.close}. Idempotent.
   */
  drain(): Promise<void>;
  /**
   * Stops the handler: drains (see {@linkcode BrokerHandler.drain}), then
   * closes open WebSockets (1001); resolves once the sockets closed (or after
   * a short grace period). Every wait has a deadline. Idempotent.
   */
  close(): Promise<void>;
}

/** Builds the broker's request handler without listening, e.g. to mount it in another app. */
export function createBrokerHandler(options: BrokerHandlerOptions): BrokerHandler {
  const { backend } = options;
  const clock = options.clock ?? systemClock;
  const log = options.log ?? (() => {});
  const grants: TokenGrant[] = [
    ...(options.token === undefined ? [] : [{ token: options.token, role: "admin" as const }]),
    ...(options.tokens ?? []),
  ];
  const authenticate: Authenticator | undefined = grants.length === 0
    ? undefined
    : createAuthenticator(grants);
  const access = createAccessPolicy({
    ...(options.allowOrigins === undefined ? {} : { allowOrigins: options.allowOrigins }),
    ...(options.allowHosts === undefined ? {} : { allowHosts: options.allowHosts }),
  });
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const rest = createRestHandler({
    backend,
    ...(authenticate === undefined ? {} : { authenticate }),
    maxBodyBytes: options.maxBodyBytes ?? maxFrameBytes,
    log,
  });
  const connections = new Set<Connection>();
  const operator = options.operator === undefined ? undefined : createOperatorRoutes({
    ...options.operator,
    backend,
    ...(authenticate === undefined ? {} : { authenticate }),
    connections: () =>
      [...connections].map(({ label, session }) => {
        const dispatcher = session.dispatcher;
        const subscription = dispatcher.subscription;
        return {
          label,
          ...(subscription === undefined ? {} : subscription),
          credits: dispatcher.credits,
          outstandingClaims: dispatcher.outstandingClaims,
          pending: session.pending,
        };
      }),
  });
  const drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  let draining: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  let restInFlight = 0;
  let restIdle: (() => void)[] = [];
  let nextId = 1;

  function upgrade(request: Request): Response {
    const nextLabel = () => `ws#${nextId++}`;
    return upgradeToRpc(request, {
      ...options,
      authenticate,
      maxFrameBytes,
      log,
      nextLabel,
      connections,
    });
  }

  async function fetch(request: Request): Promise<Response> {
    if (draining !== undefined) {
      return errorResponse(new ShuttingDownError("the server is shutting down"));
    }
    try {
      access.check(request);
    } catch (error) {
      return errorResponse(error);
    }
    const path = new URL(request.url).pathname;
    if (request.method === "OPTIONS") return access.preflight(request);
    if (path === "/ws") {
      if (request.method !== "GET") {
        return errorResponse(
          new MethodNotAllowedError("method not allowed; use GET"),
          { allow: "GET" },
        );
      }
      try {
        return upgrade(request);
      } catch (error) {
        log(`ws upgrade failed: ${error instanceof Error ? error.message : error}`);
        return errorResponse(new BadRequestError("WebSocket upgrade failed"));
      }
    }
    restInFlight++;
    try {
      const response = operator?.matches(path)
        ? await operator.handle(request)
        : await rest(request);
      for (const [name, value] of access.corsHeaders(request)) response.headers.set(name, value);
      return response;
    } finally {
      if (--restInFlight === 0) { for (const wake of restIdle.splice(0)) wake(); }
    }
  }

  function drain(): Promise<void> {
    draining ??= (async () => {
      const all = [...connections];
      const restDone = restInFlight === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => restIdle.push(resolve));
      const sessions = all.map(({ session }) => Promise.all([session.drain(), session.settled()]));
      await withDeadline(
        Promise.all([...sessions, restDone]),
        drainTimeoutMs,
        "in-flight requests",
        clock,
        log,
      );
      restIdle = [];
    })();
    return draining;
  }

  function close(): Promise<void> {
    closing ??= (async () => {
      operator?.close();
      await drain();
      const all = [...connections];
      for (const { socket, session } of all) {
        session.close();
        if (socket.readyState === WebSocket.CONNECTING) {
          socket.addEventListener(
            "open",
            () => socket.close(CLOSE_GOING_AWAY, "server shutting down"),
            { once: true },
          );
        } else if (socket.readyState === WebSocket.OPEN) {
          socket.close(CLOSE_GOING_AWAY, "server shutting down");
        }
      }
      await withDeadline(
        Promise.all(all.map((c) => c.closed)),
        CLOSE_GRACE_MS,
        "sockets to close",
        clock,
        log,
      );
    })();
    return closing;
  }

  return {
    fetch,
    get connections(): number {
      return connections.size;
    },
    drain,
    close,
  };
}
