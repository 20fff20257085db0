/**
 * The client's keepalive: pings a connection whenever nothing arrived on it
 * for `keepaliveMs`, and drops it when a ping goes unanswered for
 * `keepaliveTimeoutMs`. Browsers cannot send WebSocket ping frames, so this is
 * an application-level `ping` request.
 *
 * @module
 */
import { TimeoutError } from "../errors.ts";
import type { Timers } from "./client_options.ts";

/** The side of a connection the keepalive looks at. */
export interface KeptAliveConnection {
  /** Whether the connection closed. */
  readonly closed: boolean;
  /** When a frame last arrived, epoch ms. */
  readonly lastReceived: number;
}

/** Options of {@linkcode startKeepalive}. */
export interface KeepaliveOptions {
  /** The connection to keep alive. */
  conn: KeptAliveConnection;
  /** Idle time before a ping, ms; 0 or less turns the keepalive off. */
  keepaliveMs: number;
  /** How long a ping may go unanswered, ms (only named in the drop reason). */
  keepaliveTimeoutMs: number;
  /** Current time, epoch ms. */
  clock: () => number;
  /** Timer functions. */
  timers: Timers;
  /** Whether the whole client stopped (no more pings then). */
  stopped: () => boolean;
  /** Sends a `ping` that times out with `TimeoutError` after `keepaliveTimeoutMs`. */
  ping: () => Promise<unknown>;
  /** Gives up on the connection. */
  drop: (reason: string) => void;
}

/** Starts the keepalive of one connection; returns the function that stops it. */
export function startKeepalive(options: KeepaliveOptions): () => void {
  const { conn, keepaliveMs, clock, timers, stopped } = options;
  let handle: unknown;
  if (keepaliveMs <= 0) return () => {};
  const schedule = (ms: number) => {
    if (conn.closed || stopped()) return;
    handle = timers.setTimeout(tick, Math.max(1, ms));
  };
  const tick = () => {
    handle = undefined;
    if (conn.closed || stopped()) return;
    const idle = clock() - conn.lastReceived;
    if (idle < keepaliveMs) return schedule(keepaliveMs - idle);
    options.ping().then(
      () => schedule(keepaliveMs),
      (error) => {
        if (error instanceof TimeoutError) {
          options.drop(`no reply to ping within ${options.keepaliveTimeoutMs} ms`);
        } else {
          // Any reply (e.g. method_not_found from an older broker) shows it is alive.
          schedule(keepaliveMs);
        }
      },
    );
  };
  schedule(keepaliveMs);
  return () => {
    if (handle === undefined) return;
    timers.clearTimeout(handle);
    handle = undefined;
  };
}
