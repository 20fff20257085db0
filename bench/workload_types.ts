/**
 * The vocabulary of the workload suite (W1 backlog drain, W2 latency): its
 * options and what one run measured.
 *
 * @module
 */
import type { BrokerOptions } from "../broker/broker.ts";
import type { BackendName, S3Settings } from "./backends.ts";
import type { ProgressLog } from "./report.ts";

/** Options shared by W1 and W2. */
export interface WorkloadOptions {
  /** The stores to run on. */
  backends: BackendName[];
  /** S3 settings, for the `s3` backend. */
  s3?: S3Settings;
  /** Worker instances (default 4). */
  workers?: number;
  /** Handlers per worker (default 16). */
  concurrency?: number;
  /** Repetitions; the tables show medians (default 1). */
  runs?: number;
  /** Extra broker options for experiments, e.g. `{minCommitIntervalMs: 2}` (default none). */
  broker?: Omit<BrokerOptions, "store" | "stateKey">;
  /** Progress lines. */
  log?: ProgressLog;
}

/** Options of {@linkcode runW1}. */
export interface W1Options extends WorkloadOptions {
  /** Jobs to enqueue and drain (default 20 000). */
  jobs?: number;
  /** Most push calls in flight (default 64). */
  inFlight?: number;
}

/** Options of {@linkcode runW2}. */
export interface W2Options extends WorkloadOptions {
  /** Jobs per second sent (default 500). */
  rate?: number;
  /** How long to send, ms (default 15 000). */
  durationMs?: number;
}

/** What one W1 run measured. */
export interface W1Result {
  /** The store. */
  backend: BackendName;
  /** Jobs enqueued and drained. */
  jobs: number;
  /** Push calls answered per second. */
  enqueuePerSecond: number;
  /** Jobs confirmed completed per second, from the workers' start. */
  drainPerSecond: number;
  /** Store PUTs per 1000 jobs while enqueuing. */
  enqueueWritesPer1000: number;
  /** Store PUTs per 1000 jobs while draining. */
  drainWritesPer1000: number;
  /** Mean operations per state commit while enqueuing (the broker's `committedRequests`). */
  enqueueOpsPerCommit: number;
  /** Mean operations per state commit while draining. */
  drainOpsPerCommit: number;
  /** Client requests (not `stats`) per state commit while enqueuing. */
  enqueueRequestsPerCommit: number;
  /** Client requests (not `stats`) per state commit while draining. */
  drainRequestsPerCommit: number;
  /** Size of the state after the enqueue, bytes. */
  peakStateBytes: number;
  /** Requests that failed (push errors, worker warnings). */
  errors: number;
}

/** What one W2 run measured. */
export interface W2Result {
  /** The store. */
  backend: BackendName;
  /** Jobs sent. */
  jobs: number;
  /** Jobs whose handler started. */
  handled: number;
  /** Jobs sent per second, as achieved. */
  sendPerSecond: number;
  /** Median latency, handler start − push call, ms. */
  p50: number;
  /** 99th percentile latency, ms. */
  p99: number;
  /** Largest latency, ms. */
  max: number;
  /** Store PUTs per 1000 jobs. */
  writesPer1000: number;
  /** Mean operations per state commit (the broker's `committedRequests`). */
  opsPerCommit: number;
  /** Client requests (not `stats`) per state commit. */
  requestsPerCommit: number;
  /** Requests that failed (push errors, worker warnings). */
  errors: number;
}
