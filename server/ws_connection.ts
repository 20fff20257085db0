/**
 * One WebSocket connection of the broker server: the upgrade (with an
 * optional bearer token), and the {@linkcode RpcSession} that serves it,
 * wired to the socket's events.
 *
 * @module
 */
import { BadRequestError, UnauthorizedError } from "../errors.ts";
import type { QueueBackend } from "../protocol/backend.ts";
import { type Authenticator, bearerToken } from "./auth.ts";
import { errorResponse } from "./rest.ts";
import { RpcSession } from "./rpc_session.ts";
import type { Clock } from "../clock.ts";

/** An open WebSocket connection and its session. */
export interface Connection {
  /** The connection's label in logs, e.g. `ws#3`. */
  label: string;
  /** The socket. */
  socket: WebSocket;
  /** The session serving it. */
  session: RpcSession;
  /** Resolves once the socket closed. */
  closed: Promise<void>;
}

/** What {@linkcode upgradeToRpc} needs: the handler's options, resolved. */
export interface UpgradeOptions {
  /** The broker. */
  backend: QueueBackend;
  /** Finds a token's grant, when the server requires tokens. */
  authenticate: Authenticator | undefined;
  /** Largest WebSocket frame accepted, bytes. */
  maxFrameBytes: number;
  /** Log sink. */
  log: (line: string) => void;
  /** Names the new connection in logs (called once the upgrade is accepted). */
  nextLabel: () => string;
  /** The open connections: the new one is added, and removed once it closed. */
  connections: Set<Connection>;
  /** See `BrokerHandlerOptions`. */
  idleTimeoutSeconds?: number;
  /** See `BrokerHandlerOptions`. */
  maxPendingPerConnection?: number;
  /** See `BrokerHandlerOptions`. */
  authTimeoutMs?: number;
  /** See `BrokerHandlerOptions`. */
  maxAuthFailures?: number;
  /** See `BrokerHandlerOptions`. */
  claimWaitMs?: number;
  /** See `BrokerHandlerOptions`. */
  clock?: Clock;
  /** See `BrokerHandlerOptions`. */
  pauseDeliveryBytes?: number;
  /** See `BrokerHandlerOptions`. */
  maxBufferedBytes?: number;
}

/**
 * Upgrades `request` to a WebSocket served by a new {@linkcode RpcSession};
 * a bad bearer token is refused (401) before the upgrade.
 */
export function upgradeToRpc(request: Request, options: UpgradeOptions): Response {
  const { backend, authenticate, maxFrameBytes, log, connections } = options;
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return errorResponse(
      new BadRequestError("expected a WebSocket upgrade on /ws"),
    );
  }
  let grant;
  if (authenticate !== undefined) {
    const token = bearerToken(request.headers);
    if (token !== undefined) {
      grant = authenticate(token);
      if (grant === undefined) {
        return errorResponse(new UnauthorizedError("invalid bearer token"));
      }
    }
  }
  const { socket, response } = Deno.upgradeWebSocket(
    request,
    options.idleTimeoutSeconds === undefined ? {} : { idleTimeout: options.idleTimeoutSeconds },
  );
  socket.binaryType = "arraybuffer";
  const label = options.nextLabel();
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
    ...(options.maxAuthFailures === undefined ? {} : { maxAuthFailures: options.maxAuthFailures }),
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
