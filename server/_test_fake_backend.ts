/**
 * A transport test double for {@linkcode QueueBackend}: records requests,
 * answers from scripted handlers, and parks claims until the test fills them.
 *
 * @module
 */
import { DisconnectedError, InternalError } from "../errors.ts";
import type { LeaderInfo, QueueBackend, RequestOptions } from "../protocol/backend.ts";
import type {
  ClaimedJob,
  ClaimOperation,
  Operation,
  OperationResult,
} from "../protocol/operations.ts";

/** One recorded request. */
export interface RecordedRequest {
  op: Operation;
  signal?: AbortSignal;
}

/** A claim parked in the fake until the test fills it or it is aborted. */
export interface ParkedClaim {
  op: ClaimOperation;
  signal?: AbortSignal;
  /** Resolves the claim with these jobs. */
  fill(jobs: ClaimedJob[]): void;
  /** Rejects the claim. */
  reject(error: unknown): void;
  /** Whether the claim was filled, rejected or aborted. */
  readonly settled: boolean;
}

type Handler = (op: Operation, options: RequestOptions) => unknown;

/** Builds a claimed job for tests. */
export function fakeJob(id: string): ClaimedJob {
  return {
    id,
    type: "t",
    payload: { n: id },
    attempt: 1,
    maxAttempts: 3,
    priority: 0,
    createdAt: 1,
    leaseToken: `lease-${id}`,
    leaseExpiresAt: 2,
  };
}

/** The fake backend. */
export class FakeBackend implements QueueBackend {
  /** Every request, in arrival order. */
  readonly requests: RecordedRequest[] = [];
  /** Claims currently parked. */
  readonly parked: ParkedClaim[] = [];
  /** What `leaderInfo()` returns. */
  info: LeaderInfo = { leader: true, brokerId: "broker-1" };
  /** Scripted handlers by op name; a claim without a handler parks. */
  readonly handlers: Partial<Record<Operation["op"], Handler>> = {};
  /**
   * What an aborted parked claim does: `"reject"` (default) or `"fill"` with
   * these jobs (as if the abort came while the commit was already in flight).
   */
  onAbort: "reject" | { fill: ClaimedJob[] } = "reject";
  #waiters: { check: () => boolean; resolve: () => void }[] = [];

  /** Leadership as scripted. */
  leaderInfo(): LeaderInfo {
    return this.info;
  }

  /** Records the request and answers it from the handlers (claims park by default). */
  request<O extends Operation>(op: O, options: RequestOptions = {}): Promise<OperationResult<O>> {
    this.requests.push({ op, ...(options.signal ? { signal: options.signal } : {}) });
    let promise: Promise<unknown>;
    const handler = this.handlers[op.op];
    if (handler !== undefined) {
      promise = (async () => await handler(op, options))();
    } else if (op.op === "claim") {
      promise = this.#park(op, options.signal);
    } else if (op.op === "release") {
      promise = Promise.resolve({ ok: true });
    } else {
      promise = Promise.reject(new InternalError(`no handler for ${op.op}`));
    }
    queueMicrotask(() => this.#notify());
    return promise as Promise<OperationResult<O>>;
  }

  /** Parked claims not yet settled. */
  get openClaims(): ParkedClaim[] {
    return this.parked.filter((c) => !c.settled);
  }

  /** Requests of one op. */
  ops<K extends Operation["op"]>(name: K): Extract<Operation, { op: K }>[] {
    return this.requests.map((r) => r.op).filter((o): o is Extract<Operation, { op: K }> =>
      o.op === name
    );
  }

  /** Resolves once `check()` holds (re-checked after every request and settle). */
  until(check: () => boolean, what = "condition", timeoutMs = 5000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.#waiters.push(waiter);
    });
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) {
      if (waiter.check()) {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        waiter.resolve();
      }
    }
  }

  #park(op: ClaimOperation, signal?: AbortSignal): Promise<{ jobs: ClaimedJob[] }> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        fn();
        queueMicrotask(() => this.#notify());
      };
      const onAbort = () => {
        const mode = this.onAbort;
        if (mode === "reject") {
          settle(() => reject(new DisconnectedError("claim aborted")));
        } else settle(() => resolve({ jobs: mode.fill }));
      };
      const claim: ParkedClaim = {
        op,
        ...(signal ? { signal } : {}),
        fill: (jobs) => settle(() => resolve({ jobs })),
        reject: (error) => settle(() => reject(error)),
        get settled() {
          return settled;
        },
      };
      this.parked.push(claim);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

/** A promise with its resolvers exposed. */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
