/**
 * The options of an `RpcSession` and their defaults, and the
 * WebSocket close codes a session closes its socket with.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { QueueBackend } from "../protocol/backend.ts";
import type { Authenticator, Grant } from "./auth.ts";

/** Default cap of requests in flight on one connection. */
export const DEFAULT_MAX_PENDING_PER_CONNECTION = 1000;

/** Default time a connection may stay unauthenticated before it is closed, ms. */
export const DEFAULT_AUTH_TIMEOUT_MS = 10_000;

/** Default number of rejected requests before an unauthenticated connection is closed. */
export const DEFAULT_MAX_AUTH_FAILURES = 3;

/** WebSocket close code for policy violations (authentication failures). */
export const CLOSE_POLICY_VIOLATION = 1008;

/** WebSocket close code for a consumer that does not read what it is sent ("try again later"). */
export const CLOSE_TRY_AGAIN_LATER = 1013;

/** Default outbound buffer above which no jobs are pushed to a connection, bytes. */
export const DEFAULT_PAUSE_DELIVERY_BYTES = 1024 * 1024;

/** Default outbound buffer above which a connection is closed instead of sent more, bytes. */
export const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/** WebSocket close code sent when this broker cannot serve the connection any more (not leader, stopping). */
export const CLOSE_SERVICE_RESTART = 1012;

/** Options of `RpcSession`. */
export interface RpcSessionOptions {
  /** The broker. */
  backend: QueueBackend;
  /** Sends one text frame; returns `false` when the socket is no longer open. */
  send: (frame: string) => boolean;
  /** Closes the socket with a code and a reason. */
  close: (code: number, reason: string) => void;
  /** Finds a token's grant when the server requires tokens; absent = no authentication, all allowed. */
  authenticate?: Authenticator;
  /** The grant of a token already presented (e.g. a bearer header on the upgrade). */
  grant?: Grant;
  /** Largest accepted frame, bytes (default `DEFAULT_MAX_FRAME_BYTES`). */
  maxFrameBytes?: number;
  /** Most requests in flight at once (default {@linkcode DEFAULT_MAX_PENDING_PER_CONNECTION}). */
  maxPending?: number;
  /** Close an unauthenticated connection after this many ms (default {@linkcode DEFAULT_AUTH_TIMEOUT_MS}). */
  authTimeoutMs?: number;
  /** Close an unauthenticated connection after this many rejected requests (default {@linkcode DEFAULT_MAX_AUTH_FAILURES}). */
  maxAuthFailures?: number;
  /** How long push-delivery claims park in the broker, ms. */
  claimWaitMs?: number;
  /** Clock and timers for push delivery and the auth timeout. */
  clock?: Clock;
  /** Log sink. */
  log?: (line: string) => void;
  /** A short name of the peer for logs. */
  label?: string;
  /** Bytes sent but not yet written to the network (the socket's `bufferedAmount`); default 0. */
  bufferedAmount?: () => number;
  /**
   * Above this many buffered bytes, jobs are no longer pushed to the
   * connection (default {@linkcode DEFAULT_PAUSE_DELIVERY_BYTES}).
   */
  pauseDeliveryBytes?: number;
  /**
   * Above this many buffered bytes, the next frame is not sent: the
   * connection is closed with 1013 instead (default {@linkcode DEFAULT_MAX_BUFFERED_BYTES}).
   */
  maxBufferedBytes?: number;
}
