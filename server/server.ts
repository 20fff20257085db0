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
import { type Clock, systemClock } from "../clock.ts";
import { OsqueueError } from "../errors.ts";
import type { QueueBackend } from "../protocol/backend.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "../protocol/wire.ts";
import { createAccessPolicy, isLoopbackAddress } from "./access.ts";
import { type Authenticator, bearerToken, createAuthenticator, type TokenGrant } from "./auth.ts";
import { createRestHandler, errorResponse } from "./rest.ts";
import { createOperatorRoutes, type OperatorOptions } from "./operator.ts";
import { RpcSession } from "./rpc_session.ts";

/** Port {@linkcode serveBroker} listens on when none is given. */
export const DEFAULT_BROKER_PORT = 7420;

/** WebSocket close code sent to clients when the server shuts down. */
export const CLOSE_GOING_AWAY = 1001;

/** Default longest wait for in-flight requests at shutdown, ms. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

/** How long shutdown waits for sockets to close, and for the listener to stop, ms. */
const CLOSE_GRACE_MS = 2_000;

/**
 * Waits for `promise` at most `ms`; resolves `true` when it settled in time,
 * `false` (after logging what was given up on) when the deadline passed.
 */
async function withDeadline(
  promise: Promise<unknown>,
  ms: number,
  what: string,
  clock: Clock,
  log: (line: string) => void,
): Promise<boolean> {
  let timer: unknown;
  const deadline = new Promise<false>((
    resolve,
  ) => (timer = clock.setTimeout(() => resolve(false), ms)));
  try {
    const settled = promise.then(() => true, (error) => {
      log(`${what} failed: ${error instanceof Error ? error.message : error}`);
      return true;
    });
    const inTime = await Promise.race([settled, deadline]);
    if (!inTime) log(`shutdown: gave up waiting for ${what} after ${ms} ms`);
    return inTime;
  } finally {
    clock.clearTimeout(timer);
  }
}

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

interface Connection {
  label: string;
  socket: WebSocket;
  session: RpcSession;
  closed: Promise<void>;
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
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return errorResponse(
        new OsqueueError("bad_request", "expected a WebSocket upgrade on /ws"),
      );
    }
    let grant;
    if (authenticate !== undefined) {
      const token = bearerToken(request.headers);
      if (token !== undefined) {
        grant = authenticate(token);
        if (grant === undefined) {
          return errorResponse(new OsqueueError("unauthorized", "invalid bearer token"));
        }
      }
    }
    const { socket, response } = Deno.upgradeWebSocket(
      request,
      options.idleTimeoutSeconds === undefined ? {} : { idleTimeout: options.idleTimeoutSeconds },
    );
    socket.binaryType = "arraybuffer";
    const label = `ws#${nextId++}`;
    let resolveClosed!: () => void;
    const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
    const closeSocket = (code: number, reason: string) => {
      try {
        socket.close(code, reason);
      } catch (error) {
        log(`${label}: close failed: ${error instanceof Error ? error.message : error}`);
      }
    };
    const session = new RpcSession({
      backend,
      send: (frame) => {
        if (socket.readyState !== WebSocket.OPEN) return false;
        socket.send(frame);
        return true;
      },
      close: (code, reason) => {
        if (socket.readyState === WebSocket.CONNECTING) {
          socket.addEventListener("open", () => closeSocket(code, reason), { once: true });
        } else {
          closeSocket(code, reason);
        }
      },
      ...(authenticate === undefined ? {} : { authenticate }),
      ...(grant === undefined ? {} : { grant }),
      maxFrameBytes,
      ...(options.maxPendingPerConnection === undefined
        ? {}
        : { maxPending: options.maxPendingPerConnection }),
      ...(options.authTimeoutMs === undefined ? {} : { authTimeoutMs: options.authTimeoutMs }),
      ...(options.maxAuthFailures === undefined
        ? {}
        : { maxAuthFailures: options.maxAuthFailures }),
      ...(options.claimWaitMs === undefined ? {} : { claimWaitMs: options.claimWaitMs }),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      bufferedAmount: () => socket.bufferedAmount,
      ...(options.pauseDeliveryBytes === undefined
        ? {}
        : { pauseDeliveryBytes: options.pauseDeliveryBytes }),
      ...(options.maxBufferedBytes === undefined
        ? {}
        : { maxBufferedBytes: options.maxBufferedBytes }),
      log,
      label,
    });
    const connection: Connection = { label, socket, session, closed };
    connections.add(connection);
    socket.onmessage = (event) => session.handleFrame(event.data);
    socket.onerror = (event) => {
      const message = event instanceof ErrorEvent ? event.message : event.type;
      log(`${label}: socket error: ${message}`);
    };
    socket.onopen = () => log(`${label}: open`);
    socket.onclose = (event) => {
      log(`${label}: closed (${event.code}${event.reason ? ` ${event.reason}` : ""})`);
      session.close();
      connections.delete(connection);
      resolveClosed();
    };
    return response;
  }

  async function fetch(request: Request): Promise<Response> {
    if (draining !== undefined) {
      return errorResponse(new OsqueueError("shutting_down", "the server is shutting down"));
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
          new OsqueueError("method_not_allowed", "method not allowed; use GET"),
          { allow: "GET" },
        );
      }
      try {
        return upgrade(request);
      } catch (error) {
        log(`ws upgrade failed: ${error instanceof Error ? error.message : error}`);
        return errorResponse(new OsqueueError("bad_request", "WebSocket upgrade failed"));
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
