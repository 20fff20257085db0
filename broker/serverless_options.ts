/**
 * The options of the serverless broker, their defaults and its counters.
 *
 * @module
 */
import { InvalidError } from "../errors.ts";
import {
  type BrokerOptions,
  positive,
  type ResolvedBrokerOptions,
  resolveOptions,
} from "./options.ts";
import type { JanitorMetrics } from "./serverless_janitor.ts";

/** Options of `ServerlessBroker`: the broker's options minus leadership, plus the polling. */
export interface ServerlessBrokerOptions extends
  Omit<
    BrokerOptions,
    "takeoverTimeoutMs" | "renewIntervalMs" | "standbyPollMs" | "startWaitMs" | "maxLingerMs"
  > {
  /**
   * How often an instance reads the records other instances wrote (default
   * 1 s). A job pushed through another instance reaches a claim parked here
   * within this interval plus one write. Must be at most `gcGraceMs / 2`.
   */
  pollIntervalMs?: number;
  /** How long a superseded checkpoint and its log stay readable (default 60 s). */
  gcGraceMs?: number;
  /** How long a janitor lease lasts (default 30 s). */
  janitorLeaseMs?: number;
}

/** Counters of a serverless instance. */
export interface ServerlessMetrics {
  /** Log records this instance wrote. */
  commits: number;
  /** Client requests carried by them. */
  committedRequests: number;
  /** Batches answered without a write. */
  readOnlyBatches: number;
  /** Conflicts: another instance took the sequence number first (the batch was re-applied). */
  conflicts: number;
  /** Batches that failed after `maxConflictRetries` conflicts. */
  gaveUp: number;
  /** Polls of the log. */
  polls: number;
  /** Records written by other instances that this one read. */
  recordsRead: number;
  /** Janitor work. */
  janitor: JanitorMetrics;
}

/** The options a serverless instance runs with. */
export interface ResolvedServerlessOptions {
  /** The shared broker options, with defaults (`maxConflictRetries` 64). */
  broker: ResolvedBrokerOptions;
  /** See {@linkcode ServerlessBrokerOptions.pollIntervalMs}. */
  pollIntervalMs: number;
  /** See {@linkcode ServerlessBrokerOptions.gcGraceMs}. */
  gcGraceMs: number;
  /** See {@linkcode ServerlessBrokerOptions.janitorLeaseMs}. */
  janitorLeaseMs: number;
}

/** Applies the defaults and checks the values; throws an `InvalidError` for a bad one. */
export function resolveServerlessOptions(
  options: ServerlessBrokerOptions,
): ResolvedServerlessOptions {
  const broker = resolveOptions({ maxConflictRetries: 64, ...options });
  const gcGraceMs = positive("gcGraceMs", options.gcGraceMs) ?? 60_000;
  const pollIntervalMs = positive("pollIntervalMs", options.pollIntervalMs) ?? 1000;
  if (pollIntervalMs > gcGraceMs / 2) {
    throw new InvalidError(
      `pollIntervalMs (${pollIntervalMs}) must be at most gcGraceMs / 2 (${gcGraceMs / 2})`,
    );
  }
  const janitorLeaseMs = positive("janitorLeaseMs", options.janitorLeaseMs) ?? 30_000;
  return { broker, pollIntervalMs, gcGraceMs, janitorLeaseMs };
}
