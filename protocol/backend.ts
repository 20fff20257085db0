/**
 * What a transport (the broker server, the embedded `Queue<T>`) needs from a
 * broker: send one operation, get its reply. The broker actor implements it.
 *
 * @module
 */
import type { JsonValue, Operation, OperationResult } from "./operations.ts";

/** What happened to a job in a commit, as `watch` reports it (derived in `core/job_events.ts`). */
export interface JobEvent {
  /** What happened: `completed`, `failed`, `dead`, `cancelled` or `progress`. */
  event: "completed" | "failed" | "dead" | "cancelled" | "progress";
  /** The job's id. */
  id: string;
  /** The job's type. */
  type: string;
  /** When, epoch ms. */
  at: number;
  /** The attempt it concerns. */
  attempt: number;
  /** `completed`: the result, if any. */
  result?: JsonValue;
  /** `failed` / `dead`: the error. */
  error?: string;
  /** `failed`: when the retry runs. */
  runAt?: number;
  /** `progress`: the value reported. */
  progress?: JsonValue;
}

/** Options of {@linkcode QueueBackend.request}. */
export interface RequestOptions {
  /**
   * Aborts a request that has not been committed yet (e.g. a parked long-poll
   * claim). A request already in a commit in flight still completes: its
   * result is returned and the caller must handle it (e.g. release claimed jobs).
   */
  signal?: AbortSignal;
  /**
   * The operation was parsed with `operationSchema` already (the server's
   * edge does this once per request) and is a fresh object nobody else holds:
   * the backend trusts it and does not validate or copy it again.
   */
  validated?: boolean;
}

/** Leadership as a broker sees it. */
export interface LeaderInfo {
  /** Whether this broker is the leader now. */
  leader: boolean;
  /** This broker's id. */
  brokerId: string;
  /** The leader's advertised URL, when known. */
  leaderUrl?: string;
}

/** A broker as seen by transports. */
export interface QueueBackend {
  /**
   * Applies one operation and resolves with its reply once the commit that
   * contains it has landed (reads resolve without a write). Rejects with an
   * `OsqueueError` (`lease_lost`, `job_not_found`, `not_leader` with
   * `data.leaderUrl`, `overloaded`, `shutting_down`, `unavailable`, …).
   */
  request<O extends Operation>(op: O, options?: RequestOptions): Promise<OperationResult<O>>;
  /** Current leadership. */
  leaderInfo(): LeaderInfo;
  /**
   * Calls `listener` with the job events (completed, failed, dead,
   * cancelled, progress) of every commit that lands, until the returned
   * function is called. Optional: a backend without it cannot serve `watch`.
   */
  watch?(listener: (events: JobEvent[]) => void): () => void;
}
