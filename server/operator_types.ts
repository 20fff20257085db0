/**
 * The shapes of the operator routes (see `operator.ts`): what they read from
 * the broker and the archive, their options, and the overview the dashboard
 * shows.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { JobSummary } from "../core/admin.ts";
import type { QueueState } from "../core/state.ts";
import type { LeaderInfo } from "../protocol/backend.ts";
import type { Job, QueueStats } from "../protocol/operations.ts";
import type { MetricsCollector } from "./metrics.ts";
import type { MetricsSample } from "./metrics_history.ts";

/** What the operator routes read from the broker (a `Broker` fits). */
export interface ObservedBroker {
  /** The last committed (or read) state. */
  readonly state: QueueState;
  /** The broker's counters (`Broker.metrics`); every numeric field is exported. */
  readonly metrics: object;
  /** The broker's role, e.g. `leader` or `standby`. */
  readonly role?: string;
  /** Leadership as the broker sees it. */
  leaderInfo(): LeaderInfo;
}

/** Reads archived jobs (an `ArchiveReader` fits). */
export interface ArchiveSource {
  /** One page of archived jobs, newest first. */
  list(query: {
    state?: Job["state"];
    type?: string;
    from?: number;
    to?: number;
    cursor?: string;
    limit?: number;
  }): Promise<{ jobs: Job[]; next?: string }>;
  /** An archived job by id. */
  find(id: string): Promise<Job | undefined>;
}

/** Options of the operator routes (the `operator` option of `createBrokerHandler`). */
export interface OperatorOptions {
  /** The broker to observe. */
  broker: ObservedBroker;
  /** Commit and store metrics (fed by the broker's `log` and an `InstrumentedStore`). */
  collector: MetricsCollector;
  /** Archived jobs, for lists of finished jobs and job lookups. */
  archive?: ArchiveSource;
  /** How often a history sample is taken and pushed to dashboards, ms (default 1000). */
  sampleIntervalMs?: number;
  /** Samples kept (default 900). */
  historySize?: number;
  /** The time and the sampler's timer (default: the system clock). */
  clock?: Clock;
}

/** A WebSocket connection as the dashboard shows it. */
export interface ConnectionInfo {
  /** The server's label, e.g. `ws#3`. */
  label: string;
  /** The worker id of its push-delivery subscription, if any. */
  workerId?: string;
  /** The types it subscribed to (all when absent). */
  types?: readonly string[];
  /** Credits granted and not yet used. */
  credits: number;
  /** Claims waiting in the broker for it. */
  outstandingClaims: number;
  /** Requests in flight. */
  pending: number;
}

/** The dashboard's overview. */
export interface Overview {
  /** Epoch ms. */
  time: number;
  /** Leadership and identity. */
  broker: LeaderInfo & { role?: string; epoch: number; commit: number };
  /** The queue's counters. */
  stats: QueueStats;
  /** Jobs by state and type. */
  byStateAndType: JobSummary["byStateAndType"];
  /** The broker's counters. */
  counters: Record<string, number>;
  /** Open connections, with running jobs of their worker. */
  connections: (ConnectionInfo & { running: number })[];
  /** Latency percentiles (ms, bucket upper bounds) of commits and store PUTs. */
  latency: Record<"commit" | "put", { p50?: number; p95?: number; p99?: number; count: number }>;
  /** History samples, oldest first (only in `/ui/api/overview` and the first event). */
  history?: MetricsSample[];
}

/** The mounted routes. */
export interface OperatorRoutes {
  /** Whether `path` is one of these routes. */
  matches(path: string): boolean;
  /** Handles a request for a path that {@linkcode OperatorRoutes.matches}. */
  handle(request: Request): Promise<Response>;
  /** Stops the sampler and ends event streams. */
  close(): void;
}
