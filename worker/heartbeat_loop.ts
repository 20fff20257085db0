/**
 * The heartbeat loop, a worker policy kept out of the transports: while a
 * handler runs, extend its lease at a third of the time the granted lease has
 * left (or every `intervalMs`), and call the lease lost — once — on a
 * `lease_lost`/`job_not_found` reply or when heartbeats kept failing until
 * the lease ran out. A transport supplies only one heartbeat request
 * ({@linkcode HeartbeatLoopRun.beat}).
 *
 * @module
 */
import {
  InvalidError,
  JobNotFoundError,
  LeaseLostError,
  type OsqueueError,
  toOsqueueError,
} from "../errors.ts";
import type { Timers } from "./client_options.ts";

/** Options of a heartbeat loop (`OsqueueClient.startHeartbeat`, the Worker). */
export interface HeartbeatLoopOptions {
  /**
   * Time between heartbeats, ms. When absent, a third of the time the lease
   * has left by the broker's `leaseExpiresAt` — the first from
   * {@linkcode HeartbeatLoopOptions.leaseExpiresAt}, then from each heartbeat
   * reply — so the loop follows the lease the broker actually granted
   * (at least {@linkcode MIN_HEARTBEAT_INTERVAL_MS}; assumes clocks roughly in sync).
   */
  intervalMs?: number;
  /**
   * When the lease runs out, epoch ms (`leaseExpiresAt` of the claimed job).
   * Needed when `intervalMs` is absent; with no `leaseMs`, the lease counts as
   * lost once this passes without a successful heartbeat.
   */
  leaseExpiresAt?: number;
  /** Lease duration each heartbeat asks for, ms (the broker's default when absent). */
  leaseMs?: number;
  /**
   * Called once when the lease is lost (a `lease_lost` or `job_not_found`
   * reply, or no successful heartbeat for `leaseMs`); the loop then stops.
   */
  onLost: (error: OsqueueError) => void;
  /** Called with transient heartbeat failures (the loop keeps going). */
  onError?: (error: OsqueueError) => void;
}

/** Shortest time between heartbeats when the interval follows the granted lease, ms. */
export const MIN_HEARTBEAT_INTERVAL_MS = 100;

/** One heartbeat loop: the job, its policy, and the transport's one heartbeat. */
export interface HeartbeatLoopRun {
  /** The job whose lease is extended (named in lease-lost errors). */
  jobId: string;
  /** The loop's policy. */
  loop: HeartbeatLoopOptions;
  /**
   * Sends one heartbeat (with `loop.leaseMs`) and resolves with its reply;
   * `timeoutMs` is how long the loop would like to wait for it.
   */
  beat: (timeoutMs: number) => Promise<unknown>;
  /** Current time, epoch ms. */
  clock: () => number;
  /** Timer functions. */
  timers: Timers;
  /**
   * Whether the transport closed: the loop then does not start, and stops
   * quietly on a `disconnected` failure. Default: never.
   */
  closed?: () => boolean;
  /** Called once when the loop stops, whoever stopped it. */
  onStop?: () => void;
}

/**
 * Starts a heartbeat loop; returns the function that stops it. Throws
 * `InvalidError` when neither `intervalMs` nor `leaseExpiresAt` is given.
 */
export function startHeartbeatLoop(run: HeartbeatLoopRun): () => void {
  const { jobId, loop, clock, timers } = run;
  const { leaseMs, onLost, onError } = loop;
  const closed = run.closed ?? (() => false);
  if (loop.intervalMs === undefined && loop.leaseExpiresAt === undefined) {
    throw new InvalidError("startHeartbeat needs intervalMs or leaseExpiresAt");
  }
  let expiresAt = loop.leaseExpiresAt;
  const nextInterval = (): number =>
    loop.intervalMs ??
      Math.max(MIN_HEARTBEAT_INTERVAL_MS, Math.floor((expiresAt! - clock()) / 3));
  let intervalMs = nextInterval();
  let stopped = false;
  let handle: unknown;
  let lastOk = clock();
  const stop = () => {
    if (stopped) return;
    stopped = true;
    if (handle !== undefined) timers.clearTimeout(handle);
    handle = undefined;
    run.onStop?.();
  };
  const lost = (error: OsqueueError) => {
    stop();
    onLost(error);
  };
  const tick = async () => {
    handle = undefined;
    if (stopped) return;
    try {
      const reply = await run.beat(Math.max(intervalMs, 1)) as
        | { leaseExpiresAt?: unknown }
        | null;
      lastOk = clock();
      if (typeof reply?.leaseExpiresAt === "number") expiresAt = reply.leaseExpiresAt;
    } catch (caught) {
      if (stopped) return;
      const error = toOsqueueError(caught);
      if (error instanceof LeaseLostError || error instanceof JobNotFoundError) {
        return lost(error);
      }
      if (error.code === "disconnected" && closed()) return stop();
      if (leaseMs !== undefined && clock() - lastOk >= leaseMs) {
        return lost(
          new LeaseLostError(
            `lease of job ${jobId} ran out: no successful heartbeat for ${leaseMs} ms`,
            { cause: error },
          ),
        );
      }
      if (leaseMs === undefined && expiresAt !== undefined && clock() >= expiresAt) {
        return lost(
          new LeaseLostError(`lease of job ${jobId} ran out at ${expiresAt}`, { cause: error }),
        );
      }
      onError?.(error);
    }
    intervalMs = nextInterval();
    if (!stopped) handle = timers.setTimeout(tick, intervalMs);
  };
  if (closed()) {
    stopped = true;
    return stop;
  }
  handle = timers.setTimeout(tick, intervalMs);
  return stop;
}
