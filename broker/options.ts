/**
 * The broker's options, events, roles and counters, with their defaults.
 *
 * @module
 */
import { InvalidError } from "../errors.ts";
import type { ObjectStore } from "../storage/types.ts";
import type { BrokerIdentity } from "../core/state.ts";

import { type Clock, withTimers } from "../clock.ts";
import type { QueueLimits } from "../protocol/operations.ts";

/** What a broker accepts as its clock: at least `now`; missing timers are the platform's. */
export type BrokerClock = Pick<Clock, "now"> & Partial<Clock>;

/** What the broker reports to its `log` option. */
export interface BrokerEvent {
  /**
   * What happened, e.g. `commit` (with `epoch`, `seq`, `requests`, `operations`,
   * `bytes`, `ms`), `conflict`, `ambiguous-write`, `takeover`, `step-down`,
   * `checkpoint`, `gc`, `storage-error`.
   */
  event: string;
  /** Detail fields. */
  [field: string]: unknown;
}

/** Options of `Broker`. */
export interface BrokerOptions {
  /** Where the state and archives live. */
  store: ObjectStore;
  /** Key prefix for everything this queue writes (default ``; e.g. `queues/emails/`). */
  prefix?: string;
  /** The head object's key under the prefix (default `queue.json`). */
  stateKey?: string;
  /** This broker's id and advertised URL (default: a random id, no URL). */
  identity?: BrokerIdentity;
  /** Clock and timers (default `Date.now` and the platform's timers). */
  clock?: BrokerClock;
  /** Lease tokens (default `crypto.randomUUID`). */
  newToken?: () => string;
  /** Randomness for backoff jitter (default `Math.random`). */
  random?: () => number;
  /** A fresh unique string per log write attempt (default `crypto.randomUUID`). */
  newNonce?: () => string;
  /** A lease not heartbeated for this long expires (default 30 s); also the default lease. */
  heartbeatTimeoutMs?: number;
  /** How often expired leases are looked for (default 5 s). */
  heartbeatCheckMs?: number;
  /** Minimum time between two commits, to cap the write rate (default 0). */
  minCommitIntervalMs?: number;
  /**
   * Group-commit linger: when fewer than ¾ of the expected requests are
   * queued (those the last commit answered plus those already queued when
   * its replies went out, at least 4), wait up to this long for the rest
   * before writing (default 0: off).
   * Requests still unread in the sockets are always read before a write.
   * On a local directory a timed wait on top cost throughput (a commit takes
   * a fraction of a millisecond; Deno's timers fire after about 2 ms at the
   * soonest). On S3, where a commit is a PUT of a few milliseconds, 2 ms cut
   * W2's p99 on radosgw from 29 to 19–23 ms (the CLI's default there).
   */
  maxLingerMs?: number;
  /** A standby takes over when the log has not grown for this long, by its own clock (default 15 s). */
  takeoverTimeoutMs?: number;
  /** An idle leader commits at least this often to show it is alive (default takeoverTimeoutMs / 3). */
  renewIntervalMs?: number;
  /** How often a standby reads the head and the log (default 1 s). */
  standbyPollMs?: number;
  /** Most requests queued in the mailbox; more get `overloaded` (default 10 000). */
  mailboxCapacity?: number;
  /** Most long-poll claims parked at once; more get `overloaded` (default 10 000). */
  maxParkedClaims?: number;
  /** Finished jobs are archived once this many are pending (default 1000). */
  archiveMaxJobs?: number;
  /** …or once the oldest finished job is this old (default 5 s). */
  archiveMaxAgeMs?: number;
  /** Re-applies after log conflicts before a batch fails with `unavailable` (default 8). */
  maxConflictRetries?: number;
  /** Fewest log records between two checkpoints (default 32). */
  checkpointMinRecords?: number;
  /** Most log records between two checkpoints: bounds what a restart reads (default 4096). */
  checkpointMaxRecords?: number;
  /** Least time between two checkpoints (default 1 s). */
  checkpointMinIntervalMs?: number;
  /** How long a request sent while the broker starts waits for it before `not_leader` (default 10 s). */
  startWaitMs?: number;
  /** The longest any single step of `stop()` may take (default 10 s). */
  stopTimeoutMs?: number;
  /** Capacity limits: a push over them is refused whole with `overloaded` (default none). */
  limits?: QueueLimits;
  /** Receives structured events (commits, conflicts, leadership changes, errors). */
  log?: (event: BrokerEvent) => void;
}

/** The broker's role. */
export type BrokerRole = "starting" | "leader" | "standby" | "stopped";

/** Counters for tests, benchmarks and `/metrics`. */
export interface BrokerMetrics {
  /** Log records written (commits, including renewals and takeovers). */
  commits: number;
  /** Client requests carried by those writes (housekeeping and re-applied parked claims not counted). */
  committedRequests: number;
  /** Batches answered without a write. */
  readOnlyBatches: number;
  /** Log conflicts seen (another writer took the sequence number). */
  conflicts: number;
  /** Ambiguous writes resolved by reading back. */
  ambiguousWrites: number;
  /** Archive objects written. */
  archiveWrites: number;
  /** Bytes of the last log record written. */
  stateBytes: number;
  /** Bytes of every log record written. */
  logBytes: number;
  /** Checkpoints installed. */
  checkpoints: number;
  /** Bytes of checkpoint segments and manifests written. */
  checkpointBytes: number;
  /** Bytes of archive objects written. */
  archiveBytes: number;
  /** Objects deleted by garbage collection. */
  gcDeleted: number;
  /** Long-poll claims parked now. */
  parkedClaims: number;
}

/** Defaults of the options. */
export const DEFAULTS = {
  prefix: "",
  stateKey: "queue.json",
  heartbeatTimeoutMs: 30_000,
  heartbeatCheckMs: 5_000,
  minCommitIntervalMs: 0,
  maxLingerMs: 0,
  takeoverTimeoutMs: 15_000,
  standbyPollMs: 1_000,
  mailboxCapacity: 10_000,
  maxParkedClaims: 10_000,
  archiveMaxJobs: 1_000,
  archiveMaxAgeMs: 5_000,
  maxConflictRetries: 8,
  checkpointMinRecords: 32,
  checkpointMaxRecords: 4096,
  checkpointMinIntervalMs: 1_000,
  startWaitMs: 10_000,
  stopTimeoutMs: 10_000,
} as const;

/** Every option with its default applied (what the broker runs with). */
export type ResolvedBrokerOptions =
  & Required<Omit<BrokerOptions, "log" | "clock" | "limits" | "newNonce">>
  & {
    log: (event: BrokerEvent) => void;
    clock: Clock;
    limits: QueueLimits | undefined;
    newNonce?: () => string;
  };

/** Applies the defaults and checks the values; throws an `InvalidError` for a bad one. */
export function resolveOptions(options: BrokerOptions): ResolvedBrokerOptions {
  const prefix = options.prefix ?? DEFAULTS.prefix;
  if (prefix !== "" && !prefix.endsWith("/")) {
    throw new InvalidError(`prefix must be empty or end with "/", got ${JSON.stringify(prefix)}`);
  }
  const ms = (name: keyof typeof DEFAULTS & keyof BrokerOptions) =>
    positive(name, options[name] as number | undefined) ?? DEFAULTS[name] as number;
  const takeoverTimeoutMs = ms("takeoverTimeoutMs");
  return {
    store: options.store,
    prefix,
    stateKey: options.stateKey ?? DEFAULTS.stateKey,
    identity: options.identity ?? { id: `broker-${crypto.randomUUID().slice(0, 8)}` },
    clock: withTimers(options.clock),
    newToken: options.newToken ?? (() => crypto.randomUUID()),
    random: options.random ?? Math.random,
    newNonce: options.newNonce,
    heartbeatTimeoutMs: ms("heartbeatTimeoutMs"),
    heartbeatCheckMs: ms("heartbeatCheckMs"),
    minCommitIntervalMs: options.minCommitIntervalMs ?? DEFAULTS.minCommitIntervalMs,
    maxLingerMs: options.maxLingerMs ?? DEFAULTS.maxLingerMs,
    takeoverTimeoutMs,
    renewIntervalMs: positive("renewIntervalMs", options.renewIntervalMs) ??
      Math.max(1, Math.floor(takeoverTimeoutMs / 3)),
    standbyPollMs: ms("standbyPollMs"),
    mailboxCapacity: options.mailboxCapacity ?? DEFAULTS.mailboxCapacity,
    maxParkedClaims: options.maxParkedClaims ?? DEFAULTS.maxParkedClaims,
    archiveMaxJobs: ms("archiveMaxJobs"),
    archiveMaxAgeMs: options.archiveMaxAgeMs ?? DEFAULTS.archiveMaxAgeMs,
    maxConflictRetries: options.maxConflictRetries ?? DEFAULTS.maxConflictRetries,
    checkpointMinRecords: options.checkpointMinRecords ?? DEFAULTS.checkpointMinRecords,
    checkpointMaxRecords: options.checkpointMaxRecords ?? DEFAULTS.checkpointMaxRecords,
    checkpointMinIntervalMs: options.checkpointMinIntervalMs ?? DEFAULTS.checkpointMinIntervalMs,
    startWaitMs: options.startWaitMs ?? DEFAULTS.startWaitMs,
    stopTimeoutMs: ms("stopTimeoutMs"),
    limits: options.limits,
    log: options.log ?? (() => {}),
  };
}

/** `value` if it is a positive finite number; undefined when absent; else an InvalidError. */
export function positive(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new InvalidError(`${name} must be a positive number of milliseconds, got ${value}`);
  }
  return value;
}

/** Counters of a broker that has done nothing yet. */
export function emptyMetrics(): BrokerMetrics {
  return {
    commits: 0,
    committedRequests: 0,
    readOnlyBatches: 0,
    conflicts: 0,
    ambiguousWrites: 0,
    archiveWrites: 0,
    stateBytes: 0,
    logBytes: 0,
    checkpoints: 0,
    checkpointBytes: 0,
    archiveBytes: 0,
    gcDeleted: 0,
    parkedClaims: 0,
  };
}
