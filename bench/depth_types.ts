/**
 * The vocabulary of the depth suite: its options and what one run measured.
 *
 * @module
 */
import type { S3Settings } from "./backends.ts";
import type { ProgressLog } from "./report.ts";
import type { Summary } from "./stats.ts";

/** The stores the depth suite runs on (the CLI broker has no memory store). */
export type DepthBackend = "directory" | "s3";

/** Options of {@linkcode runDepthSuite}. */
export interface DepthOptions {
  /** Pending jobs to preload (default 1k, 10k, 100k, 1M). */
  depths?: number[];
  /** Stores (default directory). */
  backends?: DepthBackend[];
  /** S3 settings, for `s3`. */
  s3?: S3Settings;
  /** Length of each load phase, seconds (default 10). */
  seconds?: number;
  /** Clients of the concurrent phase (default 64). */
  clients?: number;
  /** Bulk pushes in flight while preloading (default 16). */
  preloadInFlight?: number;
  /** The broker is killed (and the run reported as failed) above this RSS, MB (default 75 % of RAM). */
  maxRssMb?: number;
  /** Progress lines. */
  log?: ProgressLog;
}

/** Latencies of the single-client loop, ms. */
export interface SingleClientResult {
  /** Loops done. */
  cycles: number;
  /** Measured time, s. */
  seconds: number;
  /** push → its reply. */
  push: Summary;
  /** claim → its reply. */
  claim: Summary;
  /** complete → its reply. */
  complete: Summary;
}

/** Throughput of the concurrent phase. */
export interface ManyClientsResult {
  /** Clients. */
  clients: number;
  /** Loops done within the measured time. */
  cycles: number;
  /** Measured time, s. */
  seconds: number;
  /** Requests answered per second (3 per loop). */
  requestsPerSecond: number;
  /** Commits per second. */
  commitsPerSecond: number;
  /** Requests per commit. */
  requestsPerCommit: number;
  /** Latency of every request, ms. */
  request: Summary;
  /** Requests that failed. */
  errors: number;
}

/** Bytes written per acknowledged operation over the load phases. */
export interface WriteCost {
  /** Requests answered in the load phases. */
  operations: number;
  /** Mean JSON-encoded size of those operations, bytes. */
  operationBytes: number;
  /** Bodies of successful store puts, bytes. */
  storeBytes: number;
  /** Successful store puts. */
  storePuts: number;
  /** Store deletes. */
  storeDeletes: number;
  /** `storeBytes / operations`. */
  storeBytesPerOperation: number;
  /** `storeBytesPerOperation / operationBytes`. */
  amplification: number;
  /** `write_bytes` of `/proc/<pid>/io` per operation (directory store only). */
  diskBytesPerOperation?: number;
}

/** One measured (depth, store). */
export interface DepthResult {
  /** Pending jobs. */
  depth: number;
  /** Store. */
  backend: DepthBackend;
  /** Preloading: seconds, jobs/s, commits, store bytes per job (its background work included). */
  preload?: { seconds: number; jobsPerSecond: number; commits: number; storeBytesPerJob: number };
  /** The single-client loop. */
  single?: SingleClientResult;
  /** The concurrent phase. */
  many?: ManyClientsResult;
  /** Broker memory after preloading and at the end, bytes. */
  memory?: { afterPreload: number; end: number; peak: number };
  /** Store writes per operation. */
  writes?: WriteCost;
  /**
   * How long the broker kept writing after the preload and after the load
   * phases (waited for, so that background work lands in the right phase), ms.
   */
  settleMs?: { afterPreload: number; afterLoad?: number };
  /** Restarts, ms. */
  restart?: {
    /** SIGTERM → the old process exited, ms. */
    termExitMs: number;
    /** Spawn → first answer after a SIGTERM, ms. */
    afterTermMs: number;
    /** Spawn → first answer after a SIGKILL, ms. */
    afterKillMs: number;
    /** `VmRSS` of the broker restarted after SIGKILL, just after its first answer, bytes. */
    rssAfterRestart: number;
    /** Bytes that broker read from the store until its first answer. */
    readBytesAtRestart: number;
  };
  /** What went wrong, when the run failed. */
  error?: string;
}
