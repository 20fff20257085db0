/**
 * The options of `OsqueueClient` and of its requests, the defaults
 * they fall back to, and the injectable {@linkcode Timers}.
 *
 * @module
 */
import { systemClock } from "../clock.ts";
import type { OsqueueError } from "../errors.ts";
import type { ClaimedJob } from "../protocol/operations.ts";

/** Timer functions, injectable so tests (or odd runtimes) control time. */
export interface Timers {
  /** Calls `fn` once after `ms` milliseconds; returns a handle for {@linkcode Timers.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer started with {@linkcode Timers.setTimeout}. */
  clearTimeout(handle: unknown): void;
}

/**
 * The platform's timers, as the system clock runs them: a zero-delay timer
 * runs as an immediate where there is one, since Deno's timers fire after
 * about 2 ms at the soonest.
 */
export const defaultTimers: Timers = systemClock;

/** How the client spaces reconnect attempts: exponential backoff with jitter. */
export interface ReconnectOptions {
  /** Delay before the first retry, ms (default 100). Doubles per consecutive failure. */
  minDelayMs?: number;
  /** Largest delay between attempts, ms (default 5000). */
  maxDelayMs?: number;
  /** Random source in [0, 1) for the jitter (default `Math.random`). */
  random?: () => number;
}

/** A `WebSocket` constructor (the global one by default). */
export type WebSocketConstructor = new (url: string) => WebSocket;

/** Options of `OsqueueClient`: give `url` or `urls` (or both). */
export interface ClientOptions {
  /** Base URL of a broker, `http(s)://` or `ws(s)://`; the client connects to `${url}/ws`. */
  url?: string;
  /**
   * Base URLs of every broker of the queue (leader and standbys). The client
   * starts with the first (after `url`, when both are given) and, when a
   * broker cannot be reached or stops answering, tries the next in turn.
   */
  urls?: string[];
  /** Bearer token sent in `hello`. */
  token?: string;
  /** Free-form name sent in `hello`, shown in broker logs. */
  clientId?: string;
  /** How long a request may wait for its reply (and for a connection), ms (default 30 000). */
  requestTimeoutMs?: number;
  /**
   * How long opening a WebSocket and its `hello` may take before the client
   * gives up on that broker and tries the next URL, ms (default
   * {@linkcode DEFAULT_CONNECT_TIMEOUT_MS}, at most `requestTimeoutMs`).
   */
  connectTimeoutMs?: number;
  /**
   * Keepalive: when nothing has arrived on the connection for this long, the
   * client sends a `ping` request, ms (default {@linkcode DEFAULT_KEEPALIVE_MS};
   * 0 turns keepalive off). Browsers cannot send WebSocket ping frames, so
   * this is an application-level ping.
   */
  keepaliveMs?: number;
  /**
   * A `ping` not answered within this long — or any request timing out while
   * nothing has arrived for this long — drops the connection: requests waiting
   * on it fail with `disconnected` and the client reconnects, trying the next
   * URL, ms (default {@linkcode DEFAULT_KEEPALIVE_TIMEOUT_MS}).
   */
  keepaliveTimeoutMs?: number;
  /** Reconnect backoff. */
  reconnect?: ReconnectOptions;
  /** Most `leaderUrl` hops followed while connecting (default 3). */
  maxRedirects?: number;
  /** `WebSocket` constructor to use (default `globalThis.WebSocket`). */
  WebSocket?: WebSocketConstructor;
  /** Timer functions (default the platform's). */
  timers?: Timers;
  /** Current time in epoch ms (default `Date.now`); used to tell when a lease ran out. */
  clock?: () => number;
  /**
   * Called with errors nobody awaits: failed background reconnects and
   * re-subscribes, deliveries nobody handles.
   */
  onError?: (error: OsqueueError) => void;
}

/** Options of `OsqueueClient.fail`. */
export interface FailOptions {
  /** `false` dead-letters the job at once, whatever attempts remain (default true). */
  retry?: boolean;
}

/** Options of `OsqueueClient.claim`. */
export interface ClaimOptions {
  /** The lease holder's name. */
  workerId: string;
  /** Only these job types (all when absent). */
  types?: string[];
  /** At most this many jobs (default 1). */
  max?: number;
  /** Lease duration, ms. */
  leaseMs?: number;
  /** Long-poll up to this many ms when no job is ready; extends the request timeout. */
  waitMs?: number;
}

/** Receives jobs pushed to a subscription. */
export type DeliveryHandler = (jobs: ClaimedJob[]) => void;

/** Default {@linkcode ClientOptions.requestTimeoutMs}, ms. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Default {@linkcode ClientOptions.connectTimeoutMs}, ms. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/** Default {@linkcode ClientOptions.keepaliveMs}, ms. */
export const DEFAULT_KEEPALIVE_MS = 2_000;

/** Default {@linkcode ClientOptions.keepaliveTimeoutMs}, ms. */
export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 3_000;

/** Default {@linkcode ReconnectOptions.minDelayMs}, ms. */
export const DEFAULT_MIN_DELAY_MS = 100;

/** Default {@linkcode ReconnectOptions.maxDelayMs}, ms. */
export const DEFAULT_MAX_DELAY_MS = 5_000;
